//go:build !goexperiment.simd || !amd64 || purego

package kernels

func selectImpl() {
	gemmImpl, dwImpl, binImpl, clipImpl, axpyImpl, path = gemmScalar, dwScalar, binScalar, clipScalar, axpyScalar, "purego"
}
