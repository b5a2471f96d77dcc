//go:build !goexperiment.simd || !amd64 || purego

package kernels

func selectImpl() {
	gemmImpl, dwImpl, binImpl, clipImpl, path = gemmScalar, dwScalar, binScalar, clipScalar, "purego"
}
