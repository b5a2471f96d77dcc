//go:build goexperiment.simd && amd64 && !purego

#include "textflag.h"

// func tile6x16asm(k int, a *float32, b *float32, ldb int, bias *float32, c *float32, ldc int)
//
// Six rows by sixteen columns of a GEMM: a is a packed block (k groups of
// the six rows' values), b a panel of k rows of 16 floats with row stride
// ldb, bias six floats. Every accumulator lane takes, for p in order, the
// product rounded (VMULPS) and then the add (VADDPS): the scalar
// reference's order, no fused multiply-add. In assembly because the Go
// compiler spills twelve accumulators to the stack inside the loop.
TEXT ·tile6x16asm(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ bias+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	SHLQ $2, R10
	VBROADCASTSS 0(R9), Y0
	VMOVAPS Y0, Y1
	VBROADCASTSS 4(R9), Y2
	VMOVAPS Y2, Y3
	VBROADCASTSS 8(R9), Y4
	VMOVAPS Y4, Y5
	VBROADCASTSS 12(R9), Y6
	VMOVAPS Y6, Y7
	VBROADCASTSS 16(R9), Y8
	VMOVAPS Y8, Y9
	VBROADCASTSS 20(R9), Y10
	VMOVAPS Y10, Y11
	TESTQ CX, CX
	JEQ store

loop:
	VMOVUPS 0(DI), Y12
	VMOVUPS 32(DI), Y13
	VBROADCASTSS 0(SI), Y14
	VMULPS Y12, Y14, Y15
	VADDPS Y15, Y0, Y0
	VMULPS Y13, Y14, Y15
	VADDPS Y15, Y1, Y1
	VBROADCASTSS 4(SI), Y14
	VMULPS Y12, Y14, Y15
	VADDPS Y15, Y2, Y2
	VMULPS Y13, Y14, Y15
	VADDPS Y15, Y3, Y3
	VBROADCASTSS 8(SI), Y14
	VMULPS Y12, Y14, Y15
	VADDPS Y15, Y4, Y4
	VMULPS Y13, Y14, Y15
	VADDPS Y15, Y5, Y5
	VBROADCASTSS 12(SI), Y14
	VMULPS Y12, Y14, Y15
	VADDPS Y15, Y6, Y6
	VMULPS Y13, Y14, Y15
	VADDPS Y15, Y7, Y7
	VBROADCASTSS 16(SI), Y14
	VMULPS Y12, Y14, Y15
	VADDPS Y15, Y8, Y8
	VMULPS Y13, Y14, Y15
	VADDPS Y15, Y9, Y9
	VBROADCASTSS 20(SI), Y14
	VMULPS Y12, Y14, Y15
	VADDPS Y15, Y10, Y10
	VMULPS Y13, Y14, Y15
	VADDPS Y15, Y11, Y11
	ADDQ $24, SI
	ADDQ R8, DI
	DECQ CX
	JNE loop

store:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R10, DX
	VMOVUPS Y2, 0(DX)
	VMOVUPS Y3, 32(DX)
	ADDQ R10, DX
	VMOVUPS Y4, 0(DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R10, DX
	VMOVUPS Y6, 0(DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R10, DX
	VMOVUPS Y8, 0(DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R10, DX
	VMOVUPS Y10, 0(DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET
