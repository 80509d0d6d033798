// linear_small.c — y = x·Wᵀ (+ bias) for a few rows of x: the matrix products of generation.
//
//   out[b, j] = bias[j] + sum_{k<K} W[j, k] * x[b, k]      b < Bsz, j in [j_begin, j_end)
//
// x (Bsz, K) ld_x, W (M, K) row-major (a PyTorch Linear weight), out (Bsz, M) ld_out.
// With one to a few rows the product is bound by reading W from memory. BLAS GEMM packs W
// into a buffer first, which doubles that traffic; this kernel streams each weight row once
// and applies it to all rows of x (held in L1), so batch 8 costs about what batch 1 costs.
// Threads split the output features j.
#include "MambaKernels.h"
#include "mk_math.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// MARK: - Portable (the spec)

static void linear_small_portable(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                                  float *out, int ld_out, int j_begin, int j_end) {
    for (int j = j_begin; j < j_end; j++) {
        const float *w = W + (size_t)j * K;
        for (int b = 0; b < Bsz; b++) {
            const float *xb = x + (size_t)b * ld_x;
            float acc[8] = {0};
            const int K8 = K / 8 * 8;
            for (int k = 0; k < K8; k += 8)
                for (int i = 0; i < 8; i++) acc[i] += w[k + i] * xb[k + i];
            float s = 0.0f;
            for (int i = 0; i < 8; i++) s += acc[i];
            for (int k = K8; k < K; k++) s += w[k] * xb[k];
            out[(size_t)b * ld_out + j] = s + (bias ? bias[j] : 0.0f);
        }
    }
}

#if defined(__x86_64__)
// MARK: - AVX-512: RJ weight rows × NB batch rows per pass, RJ·NB accumulators in registers
// (RJ, NB are compile-time constants at each call, so the loops below unroll fully.)

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) MK_INLINE
void lin512_block(const int RJ, const int NB, const float *xg, int ld_x, const float *W, int K,
                  const float *bias, float *out, int ld_out, int j) {
    const int K16 = K / 16 * 16;
    const __mmask16 tail = (__mmask16)((1u << (K - K16)) - 1u);
    __m512 acc[8][8];
    for (int r = 0; r < RJ; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_ps();
    for (int k = 0; k < K16; k += 16) {
        __m512 xv[8];
        for (int b = 0; b < NB; b++) xv[b] = _mm512_loadu_ps(xg + (size_t)b * ld_x + k);
        for (int r = 0; r < RJ; r++) {
            const __m512 w = _mm512_loadu_ps(W + (size_t)(j + r) * K + k);
            for (int b = 0; b < NB; b++) acc[r][b] = _mm512_fmadd_ps(w, xv[b], acc[r][b]);
        }
    }
    if (tail) {
        __m512 xv[8];
        for (int b = 0; b < NB; b++) xv[b] = _mm512_maskz_loadu_ps(tail, xg + (size_t)b * ld_x + K16);
        for (int r = 0; r < RJ; r++) {
            const __m512 w = _mm512_maskz_loadu_ps(tail, W + (size_t)(j + r) * K + K16);
            for (int b = 0; b < NB; b++) acc[r][b] = _mm512_fmadd_ps(w, xv[b], acc[r][b]);
        }
    }
    for (int r = 0; r < RJ; r++) {
        const float c = bias ? bias[j + r] : 0.0f;
        for (int b = 0; b < NB; b++) out[(size_t)b * ld_out + j + r] = _mm512_reduce_add_ps(acc[r][b]) + c;
    }
}

/// All output features [j_begin, j_end) for NB batch rows: blocks of RJ rows, then single rows.
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) MK_INLINE
void lin512_rows(const int RJ, const int NB, const float *xg, int ld_x, const float *W, int K,
                 const float *bias, float *out, int ld_out, int j_begin, int j_end) {
    int j = j_begin;
    for (; j + RJ <= j_end; j += RJ) lin512_block(RJ, NB, xg, ld_x, W, K, bias, out, ld_out, j);
    for (; j < j_end; j++) lin512_block(1, NB, xg, ld_x, W, K, bias, out, ld_out, j);
}

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
static void linear_small_avx512(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                                float *out, int ld_out, int j_begin, int j_end) {
    int b0 = 0;
    for (; b0 + 8 <= Bsz; b0 += 8)
        lin512_rows(2, 8, x + (size_t)b0 * ld_x, ld_x, W, K, bias, out + (size_t)b0 * ld_out, ld_out, j_begin, j_end);
    const int rest = Bsz - b0;
    const float *xg = x + (size_t)b0 * ld_x;
    float *og = out + (size_t)b0 * ld_out;
    switch (rest) {
    case 0: break;
    case 1: lin512_rows(8, 1, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    case 2: lin512_rows(4, 2, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    case 3: lin512_rows(4, 3, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    case 4: lin512_rows(4, 4, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    case 5: lin512_rows(2, 5, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    case 6: lin512_rows(2, 6, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    default: lin512_rows(2, 7, xg, ld_x, W, K, bias, og, ld_out, j_begin, j_end); break;
    }
}

// MARK: - AVX2: two weight rows × up to 4 batch rows per pass (8 accumulators)

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void linear_small_avx2(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                              float *out, int ld_out, int j_begin, int j_end) {
    const int K8 = K / 8 * 8;
    for (int b0 = 0; b0 < Bsz; b0 += 4) {
        const int nb = Bsz - b0 < 4 ? Bsz - b0 : 4;
        const float *xg = x + (size_t)b0 * ld_x;
        int j = j_begin;
        for (; j + 1 < j_end; j += 2) {
            const float *w0 = W + (size_t)j * K, *w1 = w0 + K;
            __m256 a0[4], a1[4];
            for (int b = 0; b < 4; b++) { a0[b] = _mm256_setzero_ps(); a1[b] = _mm256_setzero_ps(); }
            for (int k = 0; k < K8; k += 8) {
                const __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k);
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
                float s0 = hsum256(a0[b]), s1 = hsum256(a1[b]);
                for (int k = K8; k < K; k++) { s0 += w0[k] * xb[k]; s1 += w1[k] * xb[k]; }
                float *o = out + (size_t)(b0 + b) * ld_out;
                o[j] = s0 + (bias ? bias[j] : 0.0f);
                o[j + 1] = s1 + (bias ? bias[j + 1] : 0.0f);
            }
        }
        if (j < j_end) linear_small_portable(xg, ld_x, nb, W, K, bias, out + (size_t)b0 * ld_out, ld_out, j, j_end);
    }
}
#endif

void mk_linear_small(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                     float *out, int ld_out, int j_begin, int j_end) {
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: linear_small_avx512(x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end); return;
    case MK_ISA_AVX2: linear_small_avx2(x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end); return;
    default: break;
    }
#endif
    linear_small_portable(x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end);
}
