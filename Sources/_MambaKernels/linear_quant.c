// linear_quant.c — y = x·Wᵀ (+ bias) with W stored in 16 or 8 bits: the matrix products of generation
// (few rows) from f16, bf16 or int8 weights, and the conversions around them.
//
//   out[b, j] = bias[j] + sum_{k<K} W[j, k] * x[b, k]      b < B, j in [j_begin, j_end)
//
// Formats (the weight only; x, out, bias and the accumulation are f32):
//   MK_WF_F16    W (M, K) IEEE binary16, widened to f32 in registers (vcvtph2ps: F16C / AVX-512F)
//   MK_WF_BF16   W (M, K) bfloat16, widened by a 16-bit shift (exact)
//   MK_WF_Q8     per-block int8 as llama.cpp's q8_0: each row padded with zeros to Kp = ceil(K/64)·64 and cut
//                into blocks of 32; block (j, c) holds qs[j, 32c .. 32c+31] (int8, |q| ≤ 127) and one binary16
//                scale d[j, c]; the weight is d·q. The activations are quantised the same way, per row and
//                block, on the fly (mk_quantize_rows_q8: f32 scale e[b, c], |q| ≤ 127), and
//                  out[b, j] = Σ_c d[j, c]·e[b, c] · Σ_{i<32} qw[j, 32c+i] · qx[b, 32c+i]
//                with the inner sums exact in int32 (AVX2: vpmaddubsw + vpmaddwd on |w| and sign(x, w);
//                AVX-512 VNNI: vpdpbusd on x + 128 as unsigned bytes, minus 128·Σw).
// With a few rows the product is bound by reading W from memory, so halving or quartering its bytes is
// what makes decoding faster; each weight row is read once and applied to every row of x (held in L1).
// Threads split the output features j. The portable loops are the spec; the SIMD versions differ from
// them only in the order of the f32 additions (f16/bf16, and the block sums of q8).
#include "MambaKernels.h"
#include "mk_math.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include "linear_avx2_body.h"
#include "linear_avx512_row1.h"
#endif

// MARK: - f32 → binary16 (bit-exact; the same as HalfConversion.swift; widening is mk_math.h's)

/// Round to nearest even; |x| ≥ 65520 → ±inf (only finite, small scales reach here).
static inline uint16_t f32_to_f16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t mag = x & 0x7FFFFFFFu;
    if (mag >= 0x7F800000u) return sign | (mag == 0x7F800000u ? 0x7C00 : 0x7E00);
    if (mag >= 0x477FF000u) return sign | 0x7C00;
    if (mag < 0x38800000u) {                       // subnormal half: let the FPU round at ulp 2^-24
        const float s = mk_bits_to_float(mag) + 0.5f;
        uint32_t u; memcpy(&u, &s, 4);
        return sign | (uint16_t)(u - 0x3F000000u);
    }
    const uint32_t odd = (mag >> 13) & 1u;
    return sign | (uint16_t)((mag + 0xC8000FFFu + odd) >> 13);
}

int mk_q8_padded(int K) { return (K + 63) / 64 * 64; }

// MARK: - Quantisation

/// One block of n ≤ 32 values → 32 int8 (zero-padded) with scale `d` given (q = round(v / d), |q| ≤ 127).
static inline void q8_block(const float *v, int n, float d, int8_t *q) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; i++) {
        float r = i < n ? nearbyintf(v[i] * id) : 0.0f;
        r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
        q[i] = (int8_t)r;
    }
}

static inline float amax(const float *v, int n) {
    float a = 0.0f;
    for (int i = 0; i < n; i++) { const float t = fabsf(v[i]); a = t > a ? t : a; }
    return a;
}

void mk_quantize_q8_weights(const float *W, int M, int K, int8_t *qs, uint16_t *scales) {
    const int Kp = mk_q8_padded(K), nb = Kp / 32;
    for (int j = 0; j < M; j++) {
        const float *w = W + (size_t)j * K;
        for (int c = 0; c < nb; c++) {
            const int k0 = 32 * c, n = K - k0 < 0 ? 0 : (K - k0 > 32 ? 32 : K - k0);
            const uint16_t d16 = f32_to_f16(amax(w + k0, n) / 127.0f);
            scales[(size_t)j * nb + c] = d16;
            q8_block(w + k0, n, mk_f16_to_f32(d16), qs + (size_t)j * Kp + k0);   // the stored scale is the one used
        }
    }
}

void mk_quantize_rows_q8(const float *x, int ld_x, int rows, int K, int8_t *xq, float *xd) {
    const int Kp = mk_q8_padded(K), nb = Kp / 32;
    for (int b = 0; b < rows; b++) {
        const float *v = x + (size_t)b * ld_x;
        for (int c = 0; c < nb; c++) {
            const int k0 = 32 * c, n = K - k0 < 0 ? 0 : (K - k0 > 32 ? 32 : K - k0);
            const float d = amax(v + k0, n) / 127.0f;
            xd[(size_t)b * nb + c] = d;
            q8_block(v + k0, n, d, xq + (size_t)b * Kp + k0);
        }
    }
}

void mk_q8_round_rows(const float *x, int ld_x, int rows, int K, float *out, int ld_out) {
    int8_t q[32];
    for (int b = 0; b < rows; b++) {
        const float *v = x + (size_t)b * ld_x;
        float *o = out + (size_t)b * ld_out;
        for (int k0 = 0; k0 < K; k0 += 32) {
            const int n = K - k0 > 32 ? 32 : K - k0;
            const float d = amax(v + k0, n) / 127.0f;
            q8_block(v + k0, n, d, q);
            for (int i = 0; i < n; i++) o[k0 + i] = d * (float)q[i];
        }
    }
}

// MARK: - Dequantisation (the prefill path: tiles of W widened to f32 for sgemm)

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c")))
static void dequant_f16_avx2(const uint16_t *w, size_t n, float *out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))));
    for (; i < n; i++) out[i] = mk_f16_to_f32(w[i]);
}

/// q8 rows [j_begin, j_end) widened: 8 weights per step (vpmovsxbd, vcvtdq2ps, times the block scale).
__attribute__((target("avx2,fma,f16c")))
static void dequant_q8_avx2(const int8_t *W, const uint16_t *scales, int K, int j_begin, int j_end, float *out) {
    const int Kp = mk_q8_padded(K), nb = Kp / 32;
    for (int j = j_begin; j < j_end; j++) {
        const int8_t *q = W + (size_t)j * Kp;
        float *o = out + (size_t)(j - j_begin) * K;
        for (int c = 0; c < nb && 32 * c < K; c++) {
            const float d = mk_f16_to_f32(scales[(size_t)j * nb + c]);
            const __m256 dv = _mm256_set1_ps(d);
            int k = 32 * c;
            const int k1 = 32 * c + 32 < K ? 32 * c + 32 : K;
            for (; k + 8 <= k1; k += 8)
                _mm256_storeu_ps(o + k, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + k))))));
            for (; k < k1; k++) o[k] = d * (float)q[k];
        }
    }
}
#endif

void mk_dequantize_rows(int format, const void *W, const uint16_t *scales, int K, int j_begin, int j_end, float *out) {
    const size_t rows = (size_t)(j_end - j_begin);
    switch (format) {
    case MK_WF_F16: {
        const uint16_t *w = (const uint16_t *)W + (size_t)j_begin * K;
#if defined(__x86_64__)
        if (mk_cpu_isa() >= MK_ISA_AVX2) { dequant_f16_avx2(w, rows * K, out); return; }
#endif
        for (size_t i = 0; i < rows * K; i++) out[i] = mk_f16_to_f32(w[i]);
        return;
    }
    case MK_WF_BF16: {
        const uint16_t *w = (const uint16_t *)W + (size_t)j_begin * K;
        for (size_t i = 0; i < rows * K; i++) out[i] = mk_bf16_to_f32(w[i]);   // a shift: vectorised by the compiler
        return;
    }
    case MK_WF_Q8: {
#if defined(__x86_64__)
        if (mk_cpu_isa() >= MK_ISA_AVX2) { dequant_q8_avx2((const int8_t *)W, scales, K, j_begin, j_end, out); return; }
#endif
        const int Kp = mk_q8_padded(K), nb = Kp / 32;
        for (size_t r = 0; r < rows; r++) {
            const size_t j = (size_t)j_begin + r;
            const int8_t *q = (const int8_t *)W + j * Kp;
            float *o = out + r * K;
            for (int c = 0; c < nb; c++) {
                const float d = mk_f16_to_f32(scales[j * nb + c]);
                const int k1 = 32 * c + 32 < K ? 32 * c + 32 : K;
                for (int k = 32 * c; k < k1; k++) o[k] = d * (float)q[k];
            }
        }
        return;
    }
    default: return;
    }
}

// MARK: - Portable (the spec)

static void lq_portable(const mk_linear_quant_params *p, int j_begin, int j_end) {
    const int K = p->K, B = p->Bsz;
    for (int j = j_begin; j < j_end; j++) {
        for (int b = 0; b < B; b++) {
            float s = 0.0f;
            if (p->format == MK_WF_Q8) {
                const int Kp = mk_q8_padded(K), nb = Kp / 32;
                const int8_t *qw = (const int8_t *)p->W + (size_t)j * Kp, *qx = p->xq + (size_t)b * Kp;
                for (int c = 0; c < nb; c++) {
                    int32_t acc = 0;
                    for (int i = 32 * c; i < 32 * c + 32; i++) acc += (int32_t)qw[i] * (int32_t)qx[i];
                    s += mk_f16_to_f32(p->scales[(size_t)j * nb + c]) * p->xd[(size_t)b * nb + c] * (float)acc;
                }
            } else {
                const uint16_t *w = (const uint16_t *)p->W + (size_t)j * K;
                const float *x = p->x + (size_t)b * p->ld_x;
                float part[8] = {0};      // 8 partial sums, as the f32 kernel's spec
                const int K8 = K / 8 * 8;
                for (int k = 0; k < K8; k += 8)
                    for (int i = 0; i < 8; i++)
                        part[i] += (p->format == MK_WF_F16 ? mk_f16_to_f32(w[k + i]) : mk_bf16_to_f32(w[k + i])) * x[k + i];
                for (int i = 0; i < 8; i++) s += part[i];
                for (int k = K8; k < K; k++) s += (p->format == MK_WF_F16 ? mk_f16_to_f32(w[k]) : mk_bf16_to_f32(w[k])) * x[k];
            }
            p->out[(size_t)b * p->ld_out + j] = s + (p->bias ? p->bias[j] : 0.0f);
        }
    }
}

#if defined(__x86_64__)

// MARK: - AVX2: f16 / bf16 — the f32 kernel's body (linear_avx2_body.h) with widening loads

__attribute__((target("avx2,fma,f16c"))) MK_INLINE
void lq16_avx2(const int FMT, const mk_linear_quant_params *p, int j_begin, int j_end) {
    lin_rows_avx2(FMT, p->x, p->ld_x, p->Bsz, p->W, p->K, p->bias, p->out, p->ld_out, j_begin, j_end);
}

// MARK: - AVX2: q8 (one weight block × up to 8 batch rows; |w|·sign(x, w) through vpmaddubsw)

__attribute__((target("avx2,fma,f16c")))
static void lq8_avx2(const mk_linear_quant_params *p, int j_begin, int j_end) {
    const int Kp = mk_q8_padded(p->K), nb = Kp / 32, B = p->Bsz;
    const __m256i ones = _mm256_set1_epi16(1);
    float sc[8];
    for (int j = j_begin; j < j_end; j++) {
        const int8_t *qw = (const int8_t *)p->W + (size_t)j * Kp;
        const uint16_t *dw = p->scales + (size_t)j * nb;
        __m256 acc[8];
        for (int b = 0; b < 8; b++) acc[b] = _mm256_setzero_ps();
        for (int c = 0; c < nb; c++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(qw + 32 * c));
            const __m256i aw = _mm256_abs_epi8(w);
            const float d = mk_f16_to_f32(dw[c]);
            for (int b = 0; b < 8; b++) {
                if (b < B) {
                    const __m256i x = _mm256_loadu_si256((const __m256i *)(p->xq + (size_t)b * Kp + 32 * c));
                    // |w| (u8) · sign(x, w) (s8): pairs ≤ 2·127·127 < 2^15, so vpmaddubsw never saturates
                    const __m256i pr = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w)), ones);
                    sc[b] = d * p->xd[(size_t)b * nb + c];
                    acc[b] = _mm256_fmadd_ps(_mm256_set1_ps(sc[b]), _mm256_cvtepi32_ps(pr), acc[b]);
                }
            }
        }
        for (int b = 0; b < B; b++) p->out[(size_t)b * p->ld_out + j] = mk_hsum256(acc[b]) + (p->bias ? p->bias[j] : 0.0f);
    }
}

// MARK: - AVX-512: f16 / bf16 (batch 1: one row at a time; more batch rows: four weight rows × up to 4 batch rows per pass)

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))) MK_INLINE
void lq16_avx512_rows(const int FMT, const int RJ, const int NB, const mk_linear_quant_params *p,
                      const float *xg, float *og, int j) {
    const int K = p->K, K16 = K / 16 * 16, ld_x = p->ld_x;
    const uint16_t *w0 = (const uint16_t *)p->W + (size_t)j * K;
    __m512 acc[16];
    for (int i = 0; i < RJ * NB; i++) acc[i] = _mm512_setzero_ps();
    for (int k = 0; k < K16; k += 16) {
        for (int r = 0; r < RJ; r++) {
            const __m512 v = lin512_load16(FMT, w0 + (size_t)r * K, k);
            for (int b = 0; b < NB; b++) acc[r * NB + b] = _mm512_fmadd_ps(v, _mm512_loadu_ps(xg + (size_t)b * ld_x + k), acc[r * NB + b]);
        }
    }
    for (int r = 0; r < RJ; r++) {
        const uint16_t *w = w0 + (size_t)r * K;
        for (int b = 0; b < NB; b++) {
            const float *xb = xg + (size_t)b * ld_x;
            float s = _mm512_reduce_add_ps(acc[r * NB + b]);
            for (int k = K16; k < K; k++) s += (FMT == MK_WF_F16 ? mk_f16_to_f32(w[k]) : mk_bf16_to_f32(w[k])) * xb[k];
            og[(size_t)b * p->ld_out + j + r] = s + (p->bias ? p->bias[j + r] : 0.0f);
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))) MK_INLINE
void lq16_avx512(const int FMT, const mk_linear_quant_params *p, int j_begin, int j_end) {
    for (int b0 = 0; b0 < p->Bsz; b0 += 4) {
        const int nb = p->Bsz - b0 < 4 ? p->Bsz - b0 : 4;
        const float *xg = p->x + (size_t)b0 * p->ld_x;
        float *og = p->out + (size_t)b0 * p->ld_out;
        int j = j_begin;
        if (nb == 1) { for (; j < j_end; j++) lin512_row1(FMT, xg, p->W, p->K, p->bias, og, j); continue; }
        for (; j + 4 <= j_end; j += 4) {
            switch (nb) {
            case 1: lq16_avx512_rows(FMT, 4, 1, p, xg, og, j); break;
            case 2: lq16_avx512_rows(FMT, 4, 2, p, xg, og, j); break;
            case 3: lq16_avx512_rows(FMT, 4, 3, p, xg, og, j); break;
            default: lq16_avx512_rows(FMT, 4, 4, p, xg, og, j); break;
            }
        }
        for (; j < j_end; j++) {
            switch (nb) {
            case 1: lq16_avx512_rows(FMT, 1, 1, p, xg, og, j); break;
            case 2: lq16_avx512_rows(FMT, 1, 2, p, xg, og, j); break;
            case 3: lq16_avx512_rows(FMT, 1, 3, p, xg, og, j); break;
            default: lq16_avx512_rows(FMT, 1, 4, p, xg, og, j); break;
            }
        }
    }
}

// MARK: - AVX-512 VNNI: q8 (two blocks per vpdpbusd; two weight rows × up to 8 batch rows)

#define LQ_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/// Rows j, j+1 (RJ of them) against the NB batch rows b0 … b0+NB−1 of the quantised x.
LQ_VNNI MK_INLINE
void lq8_vnni_rows(const int RJ, const int NB, const mk_linear_quant_params *p, int b0, int j) {
    const int Kp = mk_q8_padded(p->K), nb = Kp / 32;
    const __m512i ones = _mm512_set1_epi8(1), flip = _mm512_set1_epi8((char)0x80);   // x ^ 0x80 = x + 128 as u8
    const __m512i lanes = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);  // lane → block of the pair
    __m512 acc[16];
    for (int i = 0; i < RJ * NB; i++) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < nb; c += 2) {
        for (int r = 0; r < RJ; r++) {
            const size_t jr = (size_t)(j + r);
            const __m512i w = _mm512_loadu_si512((const void *)((const int8_t *)p->W + jr * Kp + 32 * c));
            // Σ (x + 128)·w = Σ x·w + 128 Σ w: start each sum at −128 Σ w (per 4-byte lane)
            const __m512i wsum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, w);
            const __m512i base = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(wsum, 7));
            int d2; memcpy(&d2, p->scales + jr * nb + c, 4);
            const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128(d2));   // d[c], d[c+1]
            for (int b = 0; b < NB; b++) {
                const __m512i x = _mm512_xor_si512(flip, _mm512_loadu_si512((const void *)(p->xq + (size_t)(b0 + b) * Kp + 32 * c)));
                const __m512i dot = _mm512_dpbusd_epi32(base, x, w);
                const float *e = p->xd + (size_t)(b0 + b) * nb + c;
                const __m128 s2 = _mm_mul_ps(dw, _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)e)));
                const __m512 s = _mm512_permutexvar_ps(lanes, _mm512_castps128_ps512(s2));
                acc[r * NB + b] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(dot), acc[r * NB + b]);
            }
        }
    }
    for (int r = 0; r < RJ; r++)
        for (int b = 0; b < NB; b++)
            p->out[(size_t)(b0 + b) * p->ld_out + j + r] = _mm512_reduce_add_ps(acc[r * NB + b]) + (p->bias ? p->bias[j + r] : 0.0f);
}

// Entry points per format (the inline bodies above instantiated with FMT a constant).
__attribute__((target("avx2,fma,f16c"))) static void lq_f16_avx2(const mk_linear_quant_params *p, int a, int b) { lq16_avx2(MK_WF_F16, p, a, b); }
__attribute__((target("avx2,fma,f16c"))) static void lq_bf16_avx2(const mk_linear_quant_params *p, int a, int b) { lq16_avx2(MK_WF_BF16, p, a, b); }
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))) static void lq_f16_avx512(const mk_linear_quant_params *p, int a, int b) { lq16_avx512(MK_WF_F16, p, a, b); }
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))) static void lq_bf16_avx512(const mk_linear_quant_params *p, int a, int b) { lq16_avx512(MK_WF_BF16, p, a, b); }

/// Batch 1: one row at a time (a single sequential stream, as linear_avx512_row1.h's lin512_row1), four
/// accumulators over the block pairs.
LQ_VNNI MK_INLINE
void lq8_vnni_row1(const mk_linear_quant_params *p, int j) {
    const int Kp = mk_q8_padded(p->K), nb = Kp / 32;
    const __m512i ones = _mm512_set1_epi8(1), flip = _mm512_set1_epi8((char)0x80);
    const __m512i lanes = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int8_t *wr = (const int8_t *)p->W + (size_t)j * Kp;
    const uint16_t *dr = p->scales + (size_t)j * nb;
    for (int c = 0; c < nb; c += 2) {
        const __m512i w = _mm512_loadu_si512((const void *)(wr + 32 * c));
        const __m512i wsum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, w);
        const __m512i base = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(wsum, 7));
        int d2; memcpy(&d2, dr + c, 4);
        const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128(d2));
        const __m512i x = _mm512_xor_si512(flip, _mm512_loadu_si512((const void *)(p->xq + 32 * c)));
        const __m512i dot = _mm512_dpbusd_epi32(base, x, w);
        const __m128 s2 = _mm_mul_ps(dw, _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(p->xd + c))));
        const __m512 sc = _mm512_permutexvar_ps(lanes, _mm512_castps128_ps512(s2));
        acc[(c >> 1) & 3] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(dot), acc[(c >> 1) & 3]);
    }
    const __m512 t = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    p->out[j] = _mm512_reduce_add_ps(t) + (p->bias ? p->bias[j] : 0.0f);
}

LQ_VNNI
static void lq8_vnni(const mk_linear_quant_params *p, int j_begin, int j_end) {
    if (p->Bsz == 1) { for (int j = j_begin; j < j_end; j++) lq8_vnni_row1(p, j); return; }
    for (int b0 = 0; b0 < p->Bsz; b0 += 8) {
        const int nbr = p->Bsz - b0 < 8 ? p->Bsz - b0 : 8;
        for (int j = j_begin; j < j_end; j += 2) {
            const int two = j + 1 < j_end;
#define LQ_CASE(NBV) case NBV: if (two) lq8_vnni_rows(2, NBV, p, b0, j); else lq8_vnni_rows(1, NBV, p, b0, j); break;
            switch (nbr) { LQ_CASE(1) LQ_CASE(2) LQ_CASE(3) LQ_CASE(4) LQ_CASE(5) LQ_CASE(6) LQ_CASE(7) default: LQ_CASE(8) }
#undef LQ_CASE
        }
    }
}

static int g_vnni = -1;
int mk_cpu_has_avx512vnni(void) {
    if (g_vnni < 0) {
        unsigned a, b, c, d;
        g_vnni = mk_cpu_isa_detected() == MK_ISA_AVX512 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1);
    }
    return g_vnni;
}
#else
int mk_cpu_has_avx512vnni(void) { return 0; }
#endif

const char *mk_linear_quant_kernel(int format) {
#if defined(__x86_64__)
    const int isa = mk_cpu_isa();
    if (format == MK_WF_Q8) {
        if (isa == MK_ISA_AVX512 && mk_cpu_has_avx512vnni()) return "avx512-vnni";
        if (isa >= MK_ISA_AVX2) return "avx2";
        return "portable";
    }
    return mk_isa_name(isa);
#else
    (void)format;
    return "portable";
#endif
}

void mk_linear_quant(const mk_linear_quant_params *p, int j_begin, int j_end) {
    if (j_end <= j_begin || p->Bsz <= 0) return;
#if defined(__x86_64__)
    const int isa = mk_cpu_isa();
    switch (p->format) {
    case MK_WF_F16:
        if (isa == MK_ISA_AVX512) { lq_f16_avx512(p, j_begin, j_end); return; }
        if (isa == MK_ISA_AVX2) { lq_f16_avx2(p, j_begin, j_end); return; }
        break;
    case MK_WF_BF16:
        if (isa == MK_ISA_AVX512) { lq_bf16_avx512(p, j_begin, j_end); return; }
        if (isa == MK_ISA_AVX2) { lq_bf16_avx2(p, j_begin, j_end); return; }
        break;
    case MK_WF_Q8:
        if (isa == MK_ISA_AVX512 && mk_cpu_has_avx512vnni()) { lq8_vnni(p, j_begin, j_end); return; }
        if (isa >= MK_ISA_AVX2 && p->Bsz <= 8) { lq8_avx2(p, j_begin, j_end); return; }
        break;
    default: return;
    }
#endif
    lq_portable(p, j_begin, j_end);
}
