//go:build !goexperiment.simd || !amd64 || purego

package kernels

func selectImpl() {
	gemmImpl, dwImpl, binImpl, path = gemmScalar, dwScalar, binScalar, "purego"
}
