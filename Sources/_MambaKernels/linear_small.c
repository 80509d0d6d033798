// linear_small.c — y = x·Wᵀ (+ bias) for a few rows of x: the matrix products of generation.
//
//   out[b, j] = bias[j] + sum_{k<K} W[j, k] * x[b, k]      b < Bsz, j in [j_begin, j_end)
//
// x (B, K) ld_x, W (M, K) row-major (a PyTorch Linear weight), out (B, M) ld_out: mk_linear_small_params.
// With one to a few rows the product is bound by reading W from memory. BLAS GEMM packs W
// into a buffer first, which doubles that traffic; this kernel streams each weight row once
// and applies it to all rows of x (held in L1), so batch 8 costs about what batch 1 costs.
// Threads split the output features j.
#include "MambaKernels.h"
#include "mk_math.h"
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#include "linear_avx2_body.h"
#include "linear_avx512_row1.h"
#endif

// MARK: - Portable (the spec)

static void linear_small_portable(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                                  float *out, int ld_out, int j_begin, int j_end) {
    for (int j = j_begin; j < j_end; j++) {
        const float *w = W + (size_t)j * K;
        for (int b = 0; b < Bsz; b++) {
            const float *xb = x + (size_t)b * ld_x;
            out[(size_t)b * ld_out + j] = mk_dot_partial(w, xb, K, 8) + (bias ? bias[j] : 0.0f);   // 8 partial sums
        }
    }
}

#if defined(__x86_64__)
// MARK: - AVX-512: RJ weight rows × NB batch rows per pass, RJ·NB accumulators in registers (batch 1: lin512_row1)
// x is first packed as xp (ceil(K/16), NB, 16), zero-padded, so that every x load in the inner loop
// is one base register plus a constant offset (no address arithmetic to spill). RJ and NB are
// compile-time constants at each call, so the loops unroll fully.

/// Sums of 16 vectors at once: result[i] = sum of the 16 lanes of v[i] (a transpose-and-add tree,
/// ~40 instructions instead of 16 separate horizontal reductions).
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) MK_INLINE
__m512 reduce16x16(const __m512 *v) {
    __m512 u[8], w[4];
    for (int i = 0; i < 8; i++)   // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] for a = v[2i], b = v[2i+1]
        u[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) { // per 128-bit lane: partial sums of v[4i], v[4i+1], v[4i+2], v[4i+3]
        const __m512d a = _mm512_castps_pd(u[2 * i]), b = _mm512_castps_pd(u[2 * i + 1]);
        w[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    const __m512 y01 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 y23 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(w[2], w[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(y01, y23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(y01, y23, _MM_SHUFFLE(3, 1, 3, 1)));
}

/// One block: output features j..j+RJ-1 for NB packed batch rows; accumulator r·NB + b (RJ·NB ≤ 16).
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) MK_INLINE
void lin512_block(const int RJ, const int NB, const float *xp, const float *W, int K,
                  const float *bias, float *out, int ld_out, int j) {
    const int K16 = K / 16 * 16;
    const __mmask16 tail = (__mmask16)((1u << (K - K16)) - 1u);
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    const float *w0 = W + (size_t)j * K;
    for (int k = 0; k < K16; k += 16) {
        const float *xk = xp + (size_t)k * NB;                       // (NB, 16) block for this k
        for (int r = 0; r < RJ; r++) {
            const __m512 w = _mm512_loadu_ps(w0 + (size_t)r * K + k);
            for (int b = 0; b < NB; b++) acc[r * NB + b] = _mm512_fmadd_ps(w, _mm512_load_ps(xk + 16 * b), acc[r * NB + b]);
        }
    }
    if (tail) {
        const float *xk = xp + (size_t)K16 * NB;
        for (int r = 0; r < RJ; r++) {
            const __m512 w = _mm512_maskz_loadu_ps(tail, w0 + (size_t)r * K + K16);
            for (int b = 0; b < NB; b++) acc[r * NB + b] = _mm512_fmadd_ps(w, _mm512_load_ps(xk + 16 * b), acc[r * NB + b]);
        }
    }
    float sums[16];
    if (RJ * NB == 16) {
        _mm512_storeu_ps(sums, reduce16x16(acc));
    } else {
        for (int i = 0; i < RJ * NB; i++) sums[i] = _mm512_reduce_add_ps(acc[i]);
    }
    for (int r = 0; r < RJ; r++) {
        const float c = bias ? bias[j + r] : 0.0f;
        for (int b = 0; b < NB; b++) out[(size_t)b * ld_out + j + r] = sums[r * NB + b] + c;
    }
}

/// All output features [j_begin, j_end) for NB packed batch rows: blocks of RJ rows, then single rows.
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) MK_INLINE
void lin512_rows(const int RJ, const int NB, const float *xp, const float *W, int K,
                 const float *bias, float *out, int ld_out, int j_begin, int j_end) {
    int j = j_begin;
    for (; j + RJ <= j_end; j += RJ) lin512_block(RJ, NB, xp, W, K, bias, out, ld_out, j);
    for (; j < j_end; j++) lin512_block(1, NB, xp, W, K, bias, out, ld_out, j);
}

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
static void linear_small_avx512(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                                float *out, int ld_out, int j_begin, int j_end) {
    if (Bsz == 1) { for (int j = j_begin; j < j_end; j++) lin512_row1(0, x, W, K, bias, out, j); return; }
    const int Kp = (K + 15) / 16 * 16;
    float *xp = (float *)aligned_alloc(64, sizeof(float) * (size_t)Kp * 8);   // (Kp/16, NB, 16)
    for (int b0 = 0; b0 < Bsz; b0 += 8) {
        const int nb = Bsz - b0 < 8 ? Bsz - b0 : 8;
        for (int k0 = 0; k0 < Kp; k0 += 16)
            for (int b = 0; b < nb; b++)
                for (int i = 0; i < 16; i++) {
                    const int k = k0 + i;
                    xp[(size_t)k0 * nb + 16 * b + i] = k < K ? x[(size_t)(b0 + b) * ld_x + k] : 0.0f;
                }
        float *og = out + (size_t)b0 * ld_out;
        switch (nb) {
        case 1: lin512_rows(16, 1, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        case 2: lin512_rows(8, 2, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        case 3: lin512_rows(4, 3, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        case 4: lin512_rows(4, 4, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        case 5: lin512_rows(3, 5, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        case 6: lin512_rows(2, 6, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        case 7: lin512_rows(2, 7, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        default: lin512_rows(2, 8, xp, W, K, bias, og, ld_out, j_begin, j_end); break;
        }
    }
    free(xp);
}

// MARK: - AVX2: two weight rows × up to 4 batch rows per pass (8 accumulators): linear_avx2_body.h, f32

__attribute__((target("avx2,fma,f16c")))
static void linear_small_avx2(const float *x, int ld_x, int Bsz, const float *W, int K, const float *bias,
                              float *out, int ld_out, int j_begin, int j_end) {
    lin_rows_avx2(0, x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end);
}
#endif

void mk_linear_small(const mk_linear_small_params *p, int j_begin, int j_end) {
    const float *x = p->x, *W = p->W, *bias = p->bias;
    float *out = p->out;
    const int ld_x = p->ld_x, ld_out = p->ld_out, Bsz = p->Bsz, K = p->K;
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: linear_small_avx512(x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end); return;
    case MK_ISA_AVX2: linear_small_avx2(x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end); return;
    default: break;
    }
#endif
    linear_small_portable(x, ld_x, Bsz, W, K, bias, out, ld_out, j_begin, j_end);
}
