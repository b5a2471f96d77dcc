//go:build !goexperiment.simd || !amd64 || purego

package kernels

func selectImpl() {
	gemmImpl, dwImpl, path = gemmScalar, dwScalar, "purego"
}
