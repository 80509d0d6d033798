// scan_math.h — vector math shared by the selective-scan kernels (scan.c forward, scan_bwd.c backward).
// Internal to _MambaKernels; not part of the public header. Every function is static inline, lanes
// independent; the accuracy of each is documented in scan.c's header comment ("Vector math").
//
//   exp(x)        scan_exp512 / scan_exp256 / mk_expf (mk_math.h)    Cephes, x clamped to [-87.3, 88.3]
//   2^t           scan_exp2_512 / scan_exp2_256 / scan_exp2          the decay factors exp(dt A) = 2^(dt A log2 e)
//   log1p(w)      scan_log1p01_512 / _256 / scan_log1p01             for w in [0, 1]
//   softplus(x)   scan_softplus512 / _256 / scan_softplus            x if x > 20 (PyTorch's threshold)
//   silu(z)       scan_silu512 / _256 / mk_silu (mk_math.h)
#ifndef MK_SCAN_MATH_H
#define MK_SCAN_MATH_H
#include "mk_math.h"
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SCAN_TARGET512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx2")))
#define SCAN_TARGET2 __attribute__((target("avx2,fma")))
#endif

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

#if defined(__x86_64__)

// MARK: - AVX-512

// e^x (Cephes); scalef does the 2^k scaling.
SCAN_TARGET512 MK_INLINE __m512 scan_exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(SCAN_EXP_MAX)), _mm512_set1_ps(SCAN_EXP_MIN));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(SCAN_LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(SCAN_LN2_HI), x);       // x - k HI (exact)
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(SCAN_LN2_LO), r);              // ... - k LO
    __m512 p = _mm512_set1_ps(SCAN_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));                       // e^r
    return _mm512_scalef_ps(p, k);                                         // e^r 2^k
}

// 2^t for the decay factors: f = t - floor(t) (vreduceps), 2^f polynomial, scalef by floor(t).
// Exact 0 / inf for very negative / positive t; NaN only for t = +-inf or NaN.
SCAN_TARGET512 MK_INLINE __m512 scan_exp2_512(__m512 t) {
    const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_set1_ps(SCAN_EXP2_Q6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, t);                                         // 2^f 2^floor(t)
}

// log1p(w) for w in [0, 1].
SCAN_TARGET512 MK_INLINE __m512 scan_log1p01_512(__m512 w) {
    const __m512 s = _mm512_div_ps(w, _mm512_add_ps(w, _mm512_set1_ps(2.0f)));
    const __m512 s2 = _mm512_mul_ps(s, s);
    __m512 p = _mm512_set1_ps(2.0f / 15.0f);
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 13.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 11.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 9.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 7.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 5.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 3.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f));
    return _mm512_mul_ps(p, s);
}

SCAN_TARGET512 MK_INLINE __m512 scan_softplus512(__m512 x) {
    const __m512 negAbs = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x));
    const __m512 sp = _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), scan_log1p01_512(scan_exp512(negAbs)));
    const __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(SCAN_SOFTPLUS_THRESHOLD), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(big, sp, x);
}

// z * sigmoid(z) = z / (1 + e^-z)
SCAN_TARGET512 MK_INLINE __m512 scan_silu512(__m512 z) {
    const __m512 e = scan_exp512(_mm512_sub_ps(_mm512_setzero_ps(), z));
    return _mm512_div_ps(z, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

// MARK: - AVX2 + FMA

// e^x (Cephes); 2^k built in the exponent field (k in [-126, 127] after the clamp).
SCAN_TARGET2 MK_INLINE __m256 scan_exp256(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(SCAN_EXP_MAX)), _mm256_set1_ps(SCAN_EXP_MIN));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(SCAN_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(SCAN_LN2_HI), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(SCAN_LN2_LO), r);
    __m256 p = _mm256_set1_ps(SCAN_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SCAN_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SCAN_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SCAN_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SCAN_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SCAN_EXP_P5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// 2^t for the decay factors, t clamped to [-126, 127] so 2^floor(t) is a normal number that
// can be added into the exponent field of 2^f (in [1, 2)).
SCAN_TARGET2 MK_INLINE __m256 scan_exp2_256(__m256 t) {
    t = _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(127.0f)), _mm256_set1_ps(-126.0f));
    const __m256 k = _mm256_floor_ps(t);
    const __m256 f = _mm256_sub_ps(t, k);
    __m256 p = _mm256_set1_ps(SCAN_EXP2_Q6);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(SCAN_EXP2_Q5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(SCAN_EXP2_Q4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(SCAN_EXP2_Q3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(SCAN_EXP2_Q2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(SCAN_EXP2_Q1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    const __m256i kbits = _mm256_slli_epi32(_mm256_cvtps_epi32(k), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), kbits));
}

SCAN_TARGET2 MK_INLINE __m256 scan_log1p01_256(__m256 w) {
    const __m256 s = _mm256_div_ps(w, _mm256_add_ps(w, _mm256_set1_ps(2.0f)));
    const __m256 s2 = _mm256_mul_ps(s, s);
    __m256 p = _mm256_set1_ps(2.0f / 15.0f);
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 13.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 11.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 9.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 7.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 5.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 3.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f));
    return _mm256_mul_ps(p, s);
}

SCAN_TARGET2 MK_INLINE __m256 scan_softplus256(__m256 x) {
    const __m256 absx = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 sp = _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()),
                                    scan_log1p01_256(scan_exp256(_mm256_sub_ps(_mm256_setzero_ps(), absx))));
    const __m256 big = _mm256_cmp_ps(x, _mm256_set1_ps(SCAN_SOFTPLUS_THRESHOLD), _CMP_GT_OQ);
    return _mm256_blendv_ps(sp, x, big);
}

SCAN_TARGET2 MK_INLINE __m256 scan_silu256(__m256 z) {
    const __m256 e = scan_exp256(_mm256_sub_ps(_mm256_setzero_ps(), z));
    return _mm256_div_ps(z, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}

#endif // __x86_64__

#endif
