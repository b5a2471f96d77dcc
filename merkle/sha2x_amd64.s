//go:build amd64 && !purego

#include "textflag.h"

// block2 runs SHA-256 compressions on two independent messages at once with
// the SHA extensions. One message alone is bound by the latency of the
// SHA256RNDS2 chain; interleaving a second one fills the gaps, so two
// compressions cost about as much as one. The result is plain SHA-256: the
// caller pads the messages, and the tests compare with crypto/sha256.
//
// Registers: X1/X2 = ABEF/CDGH of stream 0, X7/X8 of stream 1; X3-X6 and
// X9-X12 the message quads; X0 the round input (implicit operand of
// SHA256RNDS2); X13, X14 temporaries; X15 the byte-swap mask.

// QROUND2 runs four rounds of both streams with message quads ma, mb and
// round constants at koff.
#define QROUND2(ma, mb, koff) \
	MOVOU koff(R8), X13; \
	MOVO X13, X0; \
	PADDL ma, X0; \
	SHA256RNDS2 X0, X1, X2; \
	PSHUFD $0x0e, X0, X0; \
	SHA256RNDS2 X0, X2, X1; \
	MOVO X13, X0; \
	PADDL mb, X0; \
	SHA256RNDS2 X0, X7, X8; \
	PSHUFD $0x0e, X0, X0; \
	SHA256RNDS2 X0, X8, X7

// SCHED replaces w0 = W[t-16..t-13] with W[t..t+3], given w1 = W[t-12..t-9],
// w2 = W[t-8..t-5], w3 = W[t-4..t-1].
#define SCHED(w0, w1, w2, w3) \
	MOVO w3, X14; \
	PALIGNR $4, w2, X14; \
	SHA256MSG1 w1, w0; \
	PADDL X14, w0; \
	SHA256MSG2 w3, w0

#define LOADMSG(ptr, off, m) \
	MOVOU off(ptr), m; \
	PSHUFB X15, m

// STATEIN loads h0..h7 from ptr into abef/cdgh.
#define STATEIN(ptr, abef, cdgh) \
	MOVOU (ptr), abef; \
	MOVOU 16(ptr), cdgh; \
	PSHUFD $0xb1, abef, abef; \
	PSHUFD $0x1b, cdgh, cdgh; \
	MOVO abef, X14; \
	PALIGNR $8, cdgh, abef; \
	PBLENDW $0xf0, X14, cdgh

// STATEOUT stores abef/cdgh back as h0..h7.
#define STATEOUT(ptr, abef, cdgh) \
	PSHUFD $0x1b, abef, abef; \
	PSHUFD $0xb1, cdgh, cdgh; \
	MOVO abef, X14; \
	PBLENDW $0xf0, cdgh, abef; \
	PALIGNR $8, X14, cdgh; \
	MOVOU abef, (ptr); \
	MOVOU cdgh, 16(ptr)

// func block2(s0, s1 *[8]uint32, p0, p1 *byte, n int)
TEXT ·block2(SB), NOSPLIT, $64-40
	MOVQ s0+0(FP), AX
	MOVQ s1+8(FP), BX
	MOVQ p0+16(FP), CX
	MOVQ p1+24(FP), DX
	MOVQ n+32(FP), SI
	LEAQ shaK<>(SB), R8
	MOVOU shaFlip<>(SB), X15
	STATEIN(AX, X1, X2)
	STATEIN(BX, X7, X8)
	TESTQ SI, SI
	JEQ done

loop:
	MOVOU X1, 0(SP)
	MOVOU X2, 16(SP)
	MOVOU X7, 32(SP)
	MOVOU X8, 48(SP)
	LOADMSG(CX, 0, X3)
	LOADMSG(CX, 16, X4)
	LOADMSG(CX, 32, X5)
	LOADMSG(CX, 48, X6)
	LOADMSG(DX, 0, X9)
	LOADMSG(DX, 16, X10)
	LOADMSG(DX, 32, X11)
	LOADMSG(DX, 48, X12)
	QROUND2(X3, X9, 0)
	QROUND2(X4, X10, 16)
	QROUND2(X5, X11, 32)
	QROUND2(X6, X12, 48)
	SCHED(X3, X4, X5, X6)
	SCHED(X9, X10, X11, X12)
	QROUND2(X3, X9, 64)
	SCHED(X4, X5, X6, X3)
	SCHED(X10, X11, X12, X9)
	QROUND2(X4, X10, 80)
	SCHED(X5, X6, X3, X4)
	SCHED(X11, X12, X9, X10)
	QROUND2(X5, X11, 96)
	SCHED(X6, X3, X4, X5)
	SCHED(X12, X9, X10, X11)
	QROUND2(X6, X12, 112)
	SCHED(X3, X4, X5, X6)
	SCHED(X9, X10, X11, X12)
	QROUND2(X3, X9, 128)
	SCHED(X4, X5, X6, X3)
	SCHED(X10, X11, X12, X9)
	QROUND2(X4, X10, 144)
	SCHED(X5, X6, X3, X4)
	SCHED(X11, X12, X9, X10)
	QROUND2(X5, X11, 160)
	SCHED(X6, X3, X4, X5)
	SCHED(X12, X9, X10, X11)
	QROUND2(X6, X12, 176)
	SCHED(X3, X4, X5, X6)
	SCHED(X9, X10, X11, X12)
	QROUND2(X3, X9, 192)
	SCHED(X4, X5, X6, X3)
	SCHED(X10, X11, X12, X9)
	QROUND2(X4, X10, 208)
	SCHED(X5, X6, X3, X4)
	SCHED(X11, X12, X9, X10)
	QROUND2(X5, X11, 224)
	SCHED(X6, X3, X4, X5)
	SCHED(X12, X9, X10, X11)
	QROUND2(X6, X12, 240)
	MOVOU 0(SP), X13
	PADDL X13, X1
	MOVOU 16(SP), X13
	PADDL X13, X2
	MOVOU 32(SP), X13
	PADDL X13, X7
	MOVOU 48(SP), X13
	PADDL X13, X8
	ADDQ $64, CX
	ADDQ $64, DX
	DECQ SI
	JNE loop

done:
	STATEOUT(AX, X1, X2)
	STATEOUT(BX, X7, X8)
	RET

// func cpuidSHA() bool: the SHA extensions (CPUID.7.0:EBX bit 29) with
// SSSE3 and SSE4.1 (PSHUFB, PALIGNR, PBLENDW).
TEXT ·cpuidSHA(SB), NOSPLIT, $0-1
	MOVL $0, AX
	CPUID
	CMPL AX, $7
	JLT no
	MOVL $1, AX
	MOVL $0, CX
	CPUID
	MOVL CX, R9
	ANDL $0x80200, R9
	CMPL R9, $0x80200
	JNE no
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	BTL $29, BX
	JCC no
	MOVB $1, ret+0(FP)
	RET
no:
	MOVB $0, ret+0(FP)
	RET

// Byte swap of each 32-bit word (SHA-256 reads big-endian words).
DATA shaFlip<>+0(SB)/8, $0x0405060700010203
DATA shaFlip<>+8(SB)/8, $0x0c0d0e0f08090a0b
GLOBL shaFlip<>(SB), RODATA|NOPTR, $16

// Round constants.
DATA shaK<>+0(SB)/4, $0x428a2f98
DATA shaK<>+4(SB)/4, $0x71374491
DATA shaK<>+8(SB)/4, $0xb5c0fbcf
DATA shaK<>+12(SB)/4, $0xe9b5dba5
DATA shaK<>+16(SB)/4, $0x3956c25b
DATA shaK<>+20(SB)/4, $0x59f111f1
DATA shaK<>+24(SB)/4, $0x923f82a4
DATA shaK<>+28(SB)/4, $0xab1c5ed5
DATA shaK<>+32(SB)/4, $0xd807aa98
DATA shaK<>+36(SB)/4, $0x12835b01
DATA shaK<>+40(SB)/4, $0x243185be
DATA shaK<>+44(SB)/4, $0x550c7dc3
DATA shaK<>+48(SB)/4, $0x72be5d74
DATA shaK<>+52(SB)/4, $0x80deb1fe
DATA shaK<>+56(SB)/4, $0x9bdc06a7
DATA shaK<>+60(SB)/4, $0xc19bf174
DATA shaK<>+64(SB)/4, $0xe49b69c1
DATA shaK<>+68(SB)/4, $0xefbe4786
DATA shaK<>+72(SB)/4, $0x0fc19dc6
DATA shaK<>+76(SB)/4, $0x240ca1cc
DATA shaK<>+80(SB)/4, $0x2de92c6f
DATA shaK<>+84(SB)/4, $0x4a7484aa
DATA shaK<>+88(SB)/4, $0x5cb0a9dc
DATA shaK<>+92(SB)/4, $0x76f988da
DATA shaK<>+96(SB)/4, $0x983e5152
DATA shaK<>+100(SB)/4, $0xa831c66d
DATA shaK<>+104(SB)/4, $0xb00327c8
DATA shaK<>+108(SB)/4, $0xbf597fc7
DATA shaK<>+112(SB)/4, $0xc6e00bf3
DATA shaK<>+116(SB)/4, $0xd5a79147
DATA shaK<>+120(SB)/4, $0x06ca6351
DATA shaK<>+124(SB)/4, $0x14292967
DATA shaK<>+128(SB)/4, $0x27b70a85
DATA shaK<>+132(SB)/4, $0x2e1b2138
DATA shaK<>+136(SB)/4, $0x4d2c6dfc
DATA shaK<>+140(SB)/4, $0x53380d13
DATA shaK<>+144(SB)/4, $0x650a7354
DATA shaK<>+148(SB)/4, $0x766a0abb
DATA shaK<>+152(SB)/4, $0x81c2c92e
DATA shaK<>+156(SB)/4, $0x92722c85
DATA shaK<>+160(SB)/4, $0xa2bfe8a1
DATA shaK<>+164(SB)/4, $0xa81a664b
DATA shaK<>+168(SB)/4, $0xc24b8b70
DATA shaK<>+172(SB)/4, $0xc76c51a3
DATA shaK<>+176(SB)/4, $0xd192e819
DATA shaK<>+180(SB)/4, $0xd6990624
DATA shaK<>+184(SB)/4, $0xf40e3585
DATA shaK<>+188(SB)/4, $0x106aa070
DATA shaK<>+192(SB)/4, $0x19a4c116
DATA shaK<>+196(SB)/4, $0x1e376c08
DATA shaK<>+200(SB)/4, $0x2748774c
DATA shaK<>+204(SB)/4, $0x34b0bcb5
DATA shaK<>+208(SB)/4, $0x391c0cb3
DATA shaK<>+212(SB)/4, $0x4ed8aa4a
DATA shaK<>+216(SB)/4, $0x5b9cca4f
DATA shaK<>+220(SB)/4, $0x682e6ff3
DATA shaK<>+224(SB)/4, $0x748f82ee
DATA shaK<>+228(SB)/4, $0x78a5636f
DATA shaK<>+232(SB)/4, $0x84c87814
DATA shaK<>+236(SB)/4, $0x8cc70208
DATA shaK<>+240(SB)/4, $0x90befffa
DATA shaK<>+244(SB)/4, $0xa4506ceb
DATA shaK<>+248(SB)/4, $0xbef9a3f7
DATA shaK<>+252(SB)/4, $0xc67178f2
GLOBL shaK<>(SB), RODATA|NOPTR, $256
