//go:build !goexperiment.simd || !amd64 || purego

package kernels

func selectImpl() {
	rowPanImpl, gemmImpl, gemmPImpl, gemmPanImpl, dwImpl, dwRowImpl, binImpl, clipImpl, path = rowToPanelsScalar, gemmScalar, gemmPackedScalar, gemmPanelsScalar, dwScalar, dwRowScalar, binScalar, clipScalar, "purego"
}
