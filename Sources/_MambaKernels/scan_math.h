// scan_math.h — scalar math and coefficients of the selective-scan kernels (scan.c forward, scan_bwd.c backward).
// Internal to _MambaKernels; not part of the public header. Every function is static inline; the accuracy of
// each is documented in scan.c's header comment ("Vector math"). The vector versions, written once for every
// SIMD width, are in vf.h and use the same coefficients.
//
//   exp(x)        mk_expf (mk_math.h)      vf_exp (vf.h)       Cephes, x clamped to [-87.3, 88.3]
//   2^t           scan_exp2                vf_exp2             the decay factors exp(dt A) = 2^(dt A log2 e)
//   log1p(w)      scan_log1p01             vf_log1p01          for w in [0, 1]
//   softplus(x)   scan_softplus            vf_softplus         x if x > 20 (PyTorch's threshold)
//   silu(z)       mk_silu (mk_math.h)      vf_silu
#ifndef MK_SCAN_MATH_H
#define MK_SCAN_MATH_H
#include "mk_math.h"
#include <math.h>
#include <stddef.h>

// Full unrolling of the n loop when N is a compile-time constant (N = 16 call sites), so the
// states become registers; at the generic call sites the request cannot be met, which is fine.
#if defined(__clang__)
#define SCAN_UNROLL _Pragma("clang loop unroll(full)")
#pragma clang diagnostic ignored "-Wpass-failed"
#else
#define SCAN_UNROLL
#endif

// Coefficients shared by every version.
#define SCAN_LOG2E 1.44269504088896341f
#define SCAN_LN2_HI 0.693359375f            // ln2 = HI + LO; HI has 9 significant bits, so k*HI is exact
#define SCAN_LN2_LO -2.12194440e-4f
#define SCAN_EXP_MIN -87.3f
#define SCAN_EXP_MAX 88.3f
#define SCAN_EXP_P0 1.9875691500e-4f        // e^r = 1 + r (1 + r (P5 + r (P4 + r (P3 + r (P2 + r (P1 + r P0))))))
#define SCAN_EXP_P1 1.3981999507e-3f
#define SCAN_EXP_P2 8.3334519073e-3f
#define SCAN_EXP_P3 4.1665795894e-2f
#define SCAN_EXP_P4 1.6666665459e-1f
#define SCAN_EXP_P5 5.0000001201e-1f
#define SCAN_EXP2_Q1 6.931469440e-01f       // 2^f = 1 + f (Q1 + f (Q2 + f (Q3 + f (Q4 + f (Q5 + f Q6))))), f in [0, 1)
#define SCAN_EXP2_Q2 2.402304560e-01f
#define SCAN_EXP2_Q3 5.548062921e-02f
#define SCAN_EXP2_Q4 9.684186429e-03f
#define SCAN_EXP2_Q5 1.239133184e-03f
#define SCAN_EXP2_Q6 2.186578495e-04f
#define SCAN_EXP2_R1 6.931471825e-01f       // 2^f = 1 + f (R1 + f (R2 + ... + f R6)), f in [-1/2, 1/2]
#define SCAN_EXP2_R2 2.402265072e-01f
#define SCAN_EXP2_R3 5.550327152e-02f
#define SCAN_EXP2_R4 9.618056938e-03f
#define SCAN_EXP2_R5 1.340042800e-03f
#define SCAN_EXP2_R6 1.546144485e-04f
#define SCAN_SOFTPLUS_THRESHOLD 20.0f       // as PyTorch's F.softplus(x, beta=1, threshold=20)

// MARK: - Portable (scalar; the callers' lane loops vectorise)

// log1p(w) for w in [0, 1] (see scan.c's header comment).
MK_INLINE float scan_log1p01(float w) {
    const float s = w / (2.0f + w);
    const float s2 = s * s;
    float p = 2.0f / 15.0f;
    p = p * s2 + 2.0f / 13.0f;
    p = p * s2 + 2.0f / 11.0f;
    p = p * s2 + 2.0f / 9.0f;
    p = p * s2 + 2.0f / 7.0f;
    p = p * s2 + 2.0f / 5.0f;
    p = p * s2 + 2.0f / 3.0f;
    p = p * s2 + 2.0f;
    return p * s;
}

// 2^t for the decay factors (portable): k = round(t) by the 1.5*2^23 trick (no libm call, so the
// lane loops vectorise on any target), f = t - k in [-1/2, 1/2], 2^f by a degree-6 polynomial
// (Chebyshev fit, 2.5e-9), times 2^k built in the exponent field; t clamped to [-126, 127].
MK_INLINE float scan_exp2(float t) {
    t = t > -126.0f ? t : -126.0f;                   // (NaN goes to -126: no undefined int conversion)
    t = t < 127.0f ? t : 127.0f;
    const float magic = 12582912.0f;
    const float k = (t + magic) - magic;
    const float f = t - k;
    float p = SCAN_EXP2_R6;
    p = p * f + SCAN_EXP2_R5;
    p = p * f + SCAN_EXP2_R4;
    p = p * f + SCAN_EXP2_R3;
    p = p * f + SCAN_EXP2_R2;
    p = p * f + SCAN_EXP2_R1;
    p = p * f + 1.0f;
    return p * mk_bits_to_float((uint32_t)((int32_t)k + 127) << 23);
}

MK_INLINE float scan_softplus(float x) {
    const float sp = (x > 0.0f ? x : 0.0f) + scan_log1p01(mk_expf(-fabsf(x)));
    return x > SCAN_SOFTPLUS_THRESHOLD ? x : sp;
}


#endif
