//go:build !goexperiment.simd || !amd64 || purego

package kernels

func selectImpl() {
	gemmImpl, gemmPImpl, dwImpl, dwRowImpl, binImpl, clipImpl, expImpl, sigImpl, path = gemmScalar, gemmPackedScalar, dwScalar, dwRowScalar, binScalar, clipScalar, expScalar, sigScalar, "purego"
	gemmPanelsImpl = gemmPanelsScalar
}
