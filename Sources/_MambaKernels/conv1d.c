// conv1d.c — depthwise causal convolution over time, fused with SiLU.
//
//   out[t,e] = act( bias[e] + sum_{k<K} w[e,k] * x[t-(K-1)+k, e] )
//
// x (Bsz, L, E) ld_x, inputs before t = 0 from state_in (Bsz, K-1, E), w (E, K), bias (E),
// out (Bsz, L, E) ld_out. Vectorised across channels e (contiguous in memory); the same
// body is compiled for AVX-512, AVX2 and the baseline, picked by mk_cpu_isa().
#include "MambaKernels.h"
#include "mk_math.h"
#include <stdlib.h>

MK_INLINE void conv1d_body(const float *x, int ld_x, const float *w, const float *bias,
                           const float *state_in, float *state_out, float *out, int ld_out,
                           int Bsz, int L, int E, int K, int act, int e_begin, int e_end) {
    const int n = e_end - e_begin;            // channels handled here
    const int S = K - 1;                       // rows of carried state
    if (n <= 0) return;
    float *wt = (float *)malloc(sizeof(float) * (size_t)K * (size_t)n);   // (K, n): w transposed
    for (int k = 0; k < K; k++)
        for (int e = 0; e < n; e++) wt[(size_t)k * n + e] = w[(size_t)(e_begin + e) * K + k];

    for (int b = 0; b < Bsz; b++) {
        const float *xb = x + (size_t)b * L * ld_x + e_begin;                 // (L, n) stride ld_x
        const float *sb = state_in ? state_in + (size_t)b * S * E + e_begin : NULL;   // (S, n) stride E
        float *ob = out + (size_t)b * L * ld_out + e_begin;                    // (L, n) stride ld_out
        for (int t = 0; t < L; t++) {
            float *o = ob + (size_t)t * ld_out;
            if (bias) for (int e = 0; e < n; e++) o[e] = bias[e_begin + e];
            else for (int e = 0; e < n; e++) o[e] = 0.0f;
            for (int k = 0; k < K; k++) {
                const int row = t - S + k;                                     // input time index
                const float *src = row >= 0 ? xb + (size_t)row * ld_x : (sb ? sb + (size_t)(S + row) * E : NULL);
                if (!src) continue;                                            // zero padding
                const float *wk = wt + (size_t)k * n;
                for (int e = 0; e < n; e++) o[e] += wk[e] * src[e];
            }
            if (act == 1)
                for (int e = 0; e < n; e++) o[e] = mk_silu(o[e]);
        }
        if (state_out) {
            // Last S inputs of [state_in ; x]. Ascending j reads row j+L >= j, so state_out may alias state_in.
            float *so = state_out + (size_t)b * S * E + e_begin;
            for (int j = 0; j < S; j++) {
                const int row = L - S + j;
                const float *src = row >= 0 ? xb + (size_t)row * ld_x : (sb ? sb + (size_t)(S + row) * E : NULL);
                float *dst = so + (size_t)j * E;
                if (src) for (int e = 0; e < n; e++) dst[e] = src[e];
                else for (int e = 0; e < n; e++) dst[e] = 0.0f;
            }
        }
    }
    free(wt);
}

#define CONV_ARGS const float *x, int ld_x, const float *w, const float *bias, const float *state_in, \
    float *state_out, float *out, int ld_out, int Bsz, int L, int E, int K, int act, int e_begin, int e_end
#define CONV_PASS x, ld_x, w, bias, state_in, state_out, out, ld_out, Bsz, L, E, K, act, e_begin, e_end

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
static void conv1d_avx512(CONV_ARGS) { conv1d_body(CONV_PASS); }
__attribute__((target("avx2,fma")))
static void conv1d_avx2(CONV_ARGS) { conv1d_body(CONV_PASS); }
#endif
static void conv1d_portable(CONV_ARGS) { conv1d_body(CONV_PASS); }

void mk_conv1d_fwd(CONV_ARGS) {
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: conv1d_avx512(CONV_PASS); return;
    case MK_ISA_AVX2: conv1d_avx2(CONV_PASS); return;
    default: break;
    }
#endif
    conv1d_portable(CONV_PASS);
}
