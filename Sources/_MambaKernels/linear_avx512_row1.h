// linear_avx512_row1.h — the AVX-512 batch-1 row kernel, written once for f32 (linear_small.c) and for
// f16 / bf16 weights (linear_quant.c). Internal to _MambaKernels.
//
//   out[j] = bias[j] + sum_k W[j, k] x[k] for one row j: a single sequential stream through the row, four
//   accumulators (the FMA latency), 64 weights a step, the K tail in scalar code. FMT (a compile-time constant
//   at each call) is 0 for f32 weights, MK_WF_F16 or MK_WF_BF16 for 16-bit ones, widened in registers.
//   At batch 1 this reads memory faster than interleaving rows (Zen 4, 2 threads, a 245 MB matrix of K = 768
//   rows: f16 31.7 GB/s against 20.4 with 8 rows at a time; f32 31.3–31.8 against 27–30 with 16-row blocks).
#ifndef MK_LINEAR_AVX512_ROW1_H
#define MK_LINEAR_AVX512_ROW1_H
#include "MambaKernels.h"
#include "mk_math.h"
#include "linear_avx2_body.h"   // lin_weight: the scalar spec of the widening
#include <immintrin.h>

// the features every caller has (linear_small.c adds avx512dq, linear_quant.c f16c)
#define LIN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

/// 16 weights k … k+15 of a row widened to f32.
LIN_AVX512 MK_INLINE __m512 lin512_load16(const int FMT, const void *row, int k) {
    if (FMT == 0) return _mm512_loadu_ps((const float *)row + k);
    const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k));
    if (FMT == MK_WF_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

LIN_AVX512 MK_INLINE
void lin512_row1(const int FMT, const float *x, const void *W, int K, const float *bias, float *out, int j) {
    const int K64 = K / 64 * 64, K16 = K / 16 * 16;
    const void *w = (const char *)W + (size_t)j * K * (FMT == 0 ? 4 : 2);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k < K64; k += 64) {
        a0 = _mm512_fmadd_ps(lin512_load16(FMT, w, k), _mm512_loadu_ps(x + k), a0);
        a1 = _mm512_fmadd_ps(lin512_load16(FMT, w, k + 16), _mm512_loadu_ps(x + k + 16), a1);
        a2 = _mm512_fmadd_ps(lin512_load16(FMT, w, k + 32), _mm512_loadu_ps(x + k + 32), a2);
        a3 = _mm512_fmadd_ps(lin512_load16(FMT, w, k + 48), _mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k < K16; k += 16) a0 = _mm512_fmadd_ps(lin512_load16(FMT, w, k), _mm512_loadu_ps(x + k), a0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; k < K; k++) s += lin_weight(FMT, w, k) * x[k];
    out[j] = s + (bias ? bias[j] : 0.0f);
}
#endif
