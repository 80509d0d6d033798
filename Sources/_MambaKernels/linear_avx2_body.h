// linear_avx2_body.h — the AVX2 few-row linear kernel, written once for f32 (linear_small.c) and for
// f16 / bf16 weights (linear_quant.c). Internal to _MambaKernels.
//
//   out[b, j] = bias[j] + sum_k W[j, k] x[b, k]: one row at a time at batch 1 (four accumulators), else two
//   weight rows × up to 4 rows of x per pass (8 accumulators), the K tail in scalar code. FMT (a compile-time constant at each call) is 0 for f32 weights, MK_WF_F16 or
//   MK_WF_BF16 for 16-bit ones, widened to f32 in registers.
#ifndef MK_LINEAR_AVX2_BODY_H
#define MK_LINEAR_AVX2_BODY_H
#include "MambaKernels.h"
#include "mk_math.h"
#include <immintrin.h>

#define LIN_AVX2 __attribute__((target("avx2,fma,f16c")))

LIN_AVX2 static inline float mk_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Weight k of a row (f32 or 16-bit) as f32: the scalar spec of the widening.
MK_INLINE float lin_weight(const int FMT, const void *row, int k) {
    if (FMT == 0) return ((const float *)row)[k];
    const uint16_t h = ((const uint16_t *)row)[k];
    return FMT == MK_WF_BF16 ? mk_bf16_to_f32(h) : mk_f16_to_f32(h);
}

/// 8 weights k … k+7 of a row widened to f32.
LIN_AVX2 MK_INLINE __m256 lin_load8(const int FMT, const void *row, int k) {
    if (FMT == 0) return _mm256_loadu_ps((const float *)row + k);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
    if (FMT == MK_WF_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/// Batch 1: one row at a time, a single sequential stream through it with four accumulators (32 weights a
/// step); reads memory faster than interleaving rows when nothing else reuses the weights.
LIN_AVX2 MK_INLINE
void lin_row1_avx2(const int FMT, const float *x, const void *W, int K, const float *bias, float *out, int j) {
    const int K32 = K / 32 * 32, K8 = K / 8 * 8;
    const void *w = (const char *)W + (size_t)j * K * (FMT == 0 ? 4 : 2);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k < K32; k += 32) {
        a0 = _mm256_fmadd_ps(lin_load8(FMT, w, k), _mm256_loadu_ps(x + k), a0);
        a1 = _mm256_fmadd_ps(lin_load8(FMT, w, k + 8), _mm256_loadu_ps(x + k + 8), a1);
        a2 = _mm256_fmadd_ps(lin_load8(FMT, w, k + 16), _mm256_loadu_ps(x + k + 16), a2);
        a3 = _mm256_fmadd_ps(lin_load8(FMT, w, k + 24), _mm256_loadu_ps(x + k + 24), a3);
    }
    for (; k < K8; k += 8) a0 = _mm256_fmadd_ps(lin_load8(FMT, w, k), _mm256_loadu_ps(x + k), a0);
    float s = mk_hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; k < K; k++) s += lin_weight(FMT, w, k) * x[k];
    out[j] = s + (bias ? bias[j] : 0.0f);
}

LIN_AVX2 MK_INLINE
void lin_rows_avx2(const int FMT, const float *x, int ld_x, int Bsz, const void *W, int K, const float *bias,
                   float *out, int ld_out, int j_begin, int j_end) {
    if (Bsz == 1) { for (int j = j_begin; j < j_end; j++) lin_row1_avx2(FMT, x, W, K, bias, out, j); return; }
    const int K8 = K / 8 * 8;
    const size_t rowBytes = (size_t)K * (FMT == 0 ? 4 : 2);
    for (int b0 = 0; b0 < Bsz; b0 += 4) {
        const int nb = Bsz - b0 < 4 ? Bsz - b0 : 4;
        const float *xg = x + (size_t)b0 * ld_x;
        for (int j = j_begin; j < j_end; j += 2) {
            const int two = j + 1 < j_end;                   // an odd last row runs as a pair with itself
            const void *w0 = (const char *)W + (size_t)j * rowBytes, *w1 = two ? (const char *)w0 + rowBytes : w0;
            __m256 a0[4], a1[4];
            for (int b = 0; b < 4; b++) { a0[b] = _mm256_setzero_ps(); a1[b] = _mm256_setzero_ps(); }
            for (int k = 0; k < K8; k += 8) {
                const __m256 v0 = lin_load8(FMT, w0, k), v1 = lin_load8(FMT, w1, k);
                for (int b = 0; b < 4; b++) {
                    if (b < nb) {
                        const __m256 xv = _mm256_loadu_ps(xg + (size_t)b * ld_x + k);
                        a0[b] = _mm256_fmadd_ps(v0, xv, a0[b]);
                        a1[b] = _mm256_fmadd_ps(v1, xv, a1[b]);
                    }
                }
            }
            for (int b = 0; b < nb; b++) {
                const float *xb = xg + (size_t)b * ld_x;
                float s0 = mk_hsum256(a0[b]), s1 = mk_hsum256(a1[b]);
                for (int k = K8; k < K; k++) { s0 += lin_weight(FMT, w0, k) * xb[k]; s1 += lin_weight(FMT, w1, k) * xb[k]; }
                float *o = out + (size_t)(b0 + b) * ld_out;
                o[j] = s0 + (bias ? bias[j] : 0.0f);
                if (two) o[j + 1] = s1 + (bias ? bias[j + 1] : 0.0f);
            }
        }
    }
}
#endif
