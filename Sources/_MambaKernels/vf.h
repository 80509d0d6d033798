// vf.h — the width-generic vector layer of the SIMD scan kernels (in the spirit of ggml's SIMD mappings).
// Internal to _MambaKernels. A translation unit defines VF_AVX512 or VF_AVX2, includes this header and then
// the kernel bodies (scan_fwd_body.h, scan_bwd_body.h), which are written once in terms of:
//
//   VF, VF_W            the float vector and its lanes (16 for AVX-512, 8 for AVX2)
//   VL, vf_lanes(cnt)   a mask of the first cnt lanes (the channel tail of a block)
//   VM                  a comparison result: vf_gt(a, b), vf_ge(a, b); vf_select(m, a, b) = m ? b : a per lane
//   VF_MM               the intrinsics prefix (_mm512_, _mm256_): the operations named alike on both ISAs
//                       (VF_PS(add) = _mm512_add_ps / _mm256_add_ps) are defined once, the others per ISA
//   VF_TARGET           the target attribute of every function compiled for this ISA; VF_INLINE adds always_inline
//   VF_SFX(name)        name##_avx512 / name##_avx2: the few symbols a body exports
//   VF_PER_LINE         vectors per 64-byte cache line (the prefetch step)
//   vf_load, vf_store (64-byte aligned), vf_loadu, vf_storeu, vf_load_n / vf_store_n (the first cnt lanes of a
//   possibly partial block; the others read as 0 / left untouched), vf_set1, vf_zero, vf_prefetch
//   vf_add, vf_sub, vf_mul, vf_div, vf_fma(a, b, c) = a b + c, vf_fnma(a, b, c) = c - a b, vf_min, vf_max, vf_neg_abs(a) = -|a|
//   vf_hsum_w(p, stride)  lane v = the sum of the W lanes of the vector at p + v stride, v < W (a transpose-add tree)
//
// and, on top, the math of the scan written once (the accuracy of each is in scan.c's header comment):
//   vf_exp(x)           e^x (Cephes), x clamped to [-87.3, 88.3]
//   vf_exp2(t)          2^t, the decay factors exp(dt A) = 2^(dt A log2 e)
//   vf_log1p01(w)       log1p(w) for w in [0, 1]
//   vf_softplus(x)      x if x > 20 (PyTorch's threshold); vf_softplus_w also returns w = exp(-|x|)
//   vf_silu(z)          z / (1 + e^-z)
//   (polynomials by vf_horner(x, c, n): one FMA per coefficient, the coefficients in scan_math.h)
// The steps whose best instruction differs per ISA are primitives (vf_round, vf_mul_pow2, vf_exp2_clamp,
// vf_frac, vf_mul_pow2_floor), so each ISA keeps its own exact arithmetic:
//   AVX-512: 2^k by vscalefps; 2^t as 2^(t - floor t) (vreduceps) times 2^floor(t) (scalef), no clamp
//            (exact 0 / inf far out; NaN only for t = +-inf or NaN)
//   AVX2:    2^k built in the exponent field; t clamped to [-126, 127] so 2^floor(t) is a normal number
//            that can be added into the exponent field of 2^f (in [1, 2))
#ifndef MK_VF_H
#define MK_VF_H
#if !defined(__x86_64__)
#error "vf.h is for x86-64 translation units only"
#endif
#include "scan_math.h"
#include <immintrin.h>
#include <stddef.h>

#if defined(VF_AVX512)

// MARK: - AVX-512 (16 lanes)

#define VF __m512
#define VL __mmask16
#define VM __mmask16
#define VF_W 16
#define VF_MM _mm512_                 // the intrinsics prefix: VF_PS(add) is _mm512_add_ps
#define VF_PER_LINE 1
#define VF_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx2")))
#define VF_SFX(name) name##_avx512
#define VF_INLINE VF_TARGET MK_INLINE

VF_INLINE VL vf_lanes(int cnt) { return cnt >= VF_W ? (VL)0xFFFF : (VL)((1u << cnt) - 1u); }
VF_INLINE VF vf_load_n(const float *p, int cnt, VL m) { (void)cnt; return _mm512_maskz_loadu_ps(m, p); }
VF_INLINE void vf_store_n(float *p, int cnt, VL m, VF v) { (void)cnt; _mm512_mask_storeu_ps(p, m, v); }
VF_INLINE VF vf_neg_abs(VF a) { return _mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(a)); }
#define vf_cmp(a, b, pred) _mm512_cmp_ps_mask(a, b, pred)
VF_INLINE VF vf_select(VM m, VF a, VF b) { return _mm512_mask_blend_ps(m, a, b); }
// round to nearest; p 2^k for integral k; t clamp for 2^t (none); t - floor(t); p 2^floor(t)
VF_INLINE VF vf_round(VF x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
VF_INLINE VF vf_mul_pow2(VF p, VF k) { return _mm512_scalef_ps(p, k); }
VF_INLINE VF vf_exp2_clamp(VF t) { return t; }
VF_INLINE VF vf_frac(VF t) { return _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
VF_INLINE VF vf_mul_pow2_floor(VF p, VF t) { return _mm512_scalef_ps(p, t); }

// Lane sums of 16 vectors p + v stride as one vector: a transpose-add tree, 15 adds.
VF_INLINE VF vf_hsum_w(const float *p, ptrdiff_t stride) {
    __m512 s[8], x[4], y[2];
    for (int i = 0; i < 8; i++) {       // 128-bit lane L of s[i]: [v2i, v2i+1, v2i, v2i+1] partial sums
        const __m512 v0 = _mm512_load_ps(p + (2 * i) * stride), v1 = _mm512_load_ps(p + (2 * i + 1) * stride);
        s[i] = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
    }
    for (int i = 0; i < 4; i++) {       // lane L of x[i]: sums over lane L of v4i .. v4i+3
        const __m512d a0 = _mm512_castps_pd(s[2 * i]), a1 = _mm512_castps_pd(s[2 * i + 1]);
        x[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a0, a1)), _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a1)));
    }
    for (int i = 0; i < 2; i++)         // [x2i lanes 0+1, x2i lanes 2+3, x2i+1 lanes 0+1, x2i+1 lanes 2+3]
        y[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x88), _mm512_shuffle_f32x4(y[0], y[1], 0xDD));
}

#elif defined(VF_AVX2)

// MARK: - AVX2 + FMA (8 lanes)

#define VF __m256
#define VL __m256i
#define VM __m256
#define VF_W 8
#define VF_MM _mm256_
#define VF_PER_LINE 2
#define VF_TARGET __attribute__((target("avx2,fma")))
#define VF_SFX(name) name##_avx2
#define VF_INLINE VF_TARGET MK_INLINE

VF_INLINE VL vf_lanes(int cnt) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
// Whole vectors for full blocks (vmaskmovps is slow on AMD CPUs), masked otherwise.
VF_INLINE VF vf_load_n(const float *p, int cnt, VL m) { return cnt == VF_W ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m); }
VF_INLINE void vf_store_n(float *p, int cnt, VL m, VF v) {
    if (cnt == VF_W) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, m, v);
}
VF_INLINE VF vf_neg_abs(VF a) { return _mm256_or_ps(a, _mm256_set1_ps(-0.0f)); }   // -|a| (sign bit set)
#define vf_cmp(a, b, pred) _mm256_cmp_ps(a, b, pred)
VF_INLINE VF vf_select(VM m, VF a, VF b) { return _mm256_blendv_ps(a, b, m); }
VF_INLINE VF vf_round(VF x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
VF_INLINE VF vf_mul_pow2(VF p, VF k) {              // k in [-126, 127]: 2^k is a normal number
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
VF_INLINE VF vf_exp2_clamp(VF t) { return _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(127.0f)), _mm256_set1_ps(-126.0f)); }
VF_INLINE VF vf_frac(VF t) { return _mm256_sub_ps(t, _mm256_floor_ps(t)); }
VF_INLINE VF vf_mul_pow2_floor(VF p, VF t) {        // p in [1, 2): floor(t) added into the exponent field
    const __m256i kbits = _mm256_slli_epi32(_mm256_cvtps_epi32(_mm256_floor_ps(t)), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), kbits));
}

// Lane sums of 8 vectors p + v stride as one vector: a transpose-add tree, 7 adds.
VF_INLINE VF vf_hsum_w(const float *p, ptrdiff_t stride) {
    __m256 s[4], x[2];
    for (int i = 0; i < 4; i++) {
        const __m256 v0 = _mm256_load_ps(p + (2 * i) * stride), v1 = _mm256_load_ps(p + (2 * i + 1) * stride);
        s[i] = _mm256_add_ps(_mm256_unpacklo_ps(v0, v1), _mm256_unpackhi_ps(v0, v1));
    }
    for (int i = 0; i < 2; i++) {
        const __m256d a0 = _mm256_castps_pd(s[2 * i]), a1 = _mm256_castps_pd(s[2 * i + 1]);
        x[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(a0, a1)), _mm256_castpd_ps(_mm256_unpackhi_pd(a0, a1)));
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(x[0], x[1], 0x20), _mm256_permute2f128_ps(x[0], x[1], 0x31));
}

#else
#error "define VF_AVX512 or VF_AVX2 before including vf.h"
#endif

// MARK: - The operations named alike on every ISA (_mm512_X_ps / _mm256_X_ps), defined once

#define VF_CAT_(a, b, c) a##b##c
#define VF_CAT(a, b, c) VF_CAT_(a, b, c)
#define VF_PS(op) VF_CAT(VF_MM, op, _ps)

VF_INLINE VF vf_load(const float *p) { return VF_PS(load)(p); }
VF_INLINE void vf_store(float *p, VF v) { VF_PS(store)(p, v); }
VF_INLINE VF vf_loadu(const float *p) { return VF_PS(loadu)(p); }
VF_INLINE void vf_storeu(float *p, VF v) { VF_PS(storeu)(p, v); }
VF_INLINE VF vf_set1(float x) { return VF_PS(set1)(x); }
VF_INLINE VF vf_zero(void) { return VF_PS(setzero)(); }
VF_INLINE VF vf_add(VF a, VF b) { return VF_PS(add)(a, b); }
VF_INLINE VF vf_sub(VF a, VF b) { return VF_PS(sub)(a, b); }
VF_INLINE VF vf_mul(VF a, VF b) { return VF_PS(mul)(a, b); }
VF_INLINE VF vf_div(VF a, VF b) { return VF_PS(div)(a, b); }
VF_INLINE VF vf_fma(VF a, VF b, VF c) { return VF_PS(fmadd)(a, b, c); }
VF_INLINE VF vf_fnma(VF a, VF b, VF c) { return VF_PS(fnmadd)(a, b, c); }
VF_INLINE VF vf_min(VF a, VF b) { return VF_PS(min)(a, b); }
VF_INLINE VF vf_max(VF a, VF b) { return VF_PS(max)(a, b); }
VF_INLINE VM vf_gt(VF a, VF b) { return vf_cmp(a, b, _CMP_GT_OQ); }
VF_INLINE VM vf_ge(VF a, VF b) { return vf_cmp(a, b, _CMP_GE_OQ); }
VF_INLINE void vf_prefetch(const float *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }

// MARK: - Math, written once

// c[0] x^(n-1) + c[1] x^(n-2) + ... + c[n-1] by Horner's rule: one FMA per coefficient after the first.
VF_INLINE VF vf_horner(VF x, const float *c, int n) {
    VF p = vf_set1(c[0]);
    for (int i = 1; i < n; i++) p = vf_fma(p, x, vf_set1(c[i]));
    return p;
}

// e^x: x = k ln2 + r (ln2 split hi/lo so k HI is exact, |r| <= ln2/2), e^r by the Cephes polynomial
// 1 + r (1 + r (P5 + r (P4 + ... + r P0))), times 2^k.
static const float vf_exp_coef[8] = { SCAN_EXP_P0, SCAN_EXP_P1, SCAN_EXP_P2, SCAN_EXP_P3, SCAN_EXP_P4, SCAN_EXP_P5, 1.0f, 1.0f };
VF_INLINE VF vf_exp(VF x) {
    x = vf_max(vf_min(x, vf_set1(SCAN_EXP_MAX)), vf_set1(SCAN_EXP_MIN));
    const VF k = vf_round(vf_mul(x, vf_set1(SCAN_LOG2E)));
    VF r = vf_fnma(k, vf_set1(SCAN_LN2_HI), x);                           // x - k HI (exact)
    r = vf_fnma(k, vf_set1(SCAN_LN2_LO), r);                              // ... - k LO
    return vf_mul_pow2(vf_horner(r, vf_exp_coef, 8), k);                  // e^r 2^k
}

// 2^t for the decay factors: f = t - floor(t) in [0, 1), 2^f by a degree-6 polynomial, times 2^floor(t).
static const float vf_exp2_coef[7] = { SCAN_EXP2_Q6, SCAN_EXP2_Q5, SCAN_EXP2_Q4, SCAN_EXP2_Q3, SCAN_EXP2_Q2, SCAN_EXP2_Q1, 1.0f };
VF_INLINE VF vf_exp2(VF t) {
    t = vf_exp2_clamp(t);
    return vf_mul_pow2_floor(vf_horner(vf_frac(t), vf_exp2_coef, 7), t);   // 2^f 2^floor(t)
}

// log1p(w) for w in [0, 1]: s = w / (2 + w), 2 atanh(s) = 2s (1 + s^2/3 + ... + s^14/15).
static const float vf_log1p_coef[8] = { 2.0f / 15.0f, 2.0f / 13.0f, 2.0f / 11.0f, 2.0f / 9.0f, 2.0f / 7.0f, 2.0f / 5.0f,
                                        2.0f / 3.0f, 2.0f };
VF_INLINE VF vf_log1p01(VF w) {
    const VF s = vf_div(w, vf_add(w, vf_set1(2.0f)));
    return vf_mul(vf_horner(vf_mul(s, s), vf_log1p_coef, 8), s);
}

// softplus(x) = max(x, 0) + log1p(w), w = exp(-|x|); x above the threshold. *w_out = w (the backward's sigmoid).
VF_INLINE VF vf_softplus_w(VF x, VF *w_out) {
    const VF w = vf_exp(vf_neg_abs(x));
    const VF sp = vf_add(vf_max(x, vf_zero()), vf_log1p01(w));
    *w_out = w;
    return vf_select(vf_gt(x, vf_set1(SCAN_SOFTPLUS_THRESHOLD)), sp, x);
}

VF_INLINE VF vf_softplus(VF x) {
    VF w;
    return vf_softplus_w(x, &w);
}

// z sigmoid(z) = z / (1 + e^-z)
VF_INLINE VF vf_silu(VF z) {
    const VF e = vf_exp(vf_sub(vf_zero(), z));
    return vf_div(z, vf_add(e, vf_set1(1.0f)));
}

#endif
