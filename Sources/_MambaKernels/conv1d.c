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

MK_MULTIVERSION_VOID(mk_conv1d_fwd, conv1d_body, (CONV_ARGS), (CONV_PASS))

// MARK: - Backward
//   pre[t,e] = bias[e] + Σ_k w[e,k] · x[t-(K-1)+k, e];   out = act(pre)
//   dpre = dout · act'(pre);   dx[t-(K-1)+k] += w[e,k] · dpre[t];   dw[e,k] += Σ_t dpre[t] · x[t-(K-1)+k];   dbias += Σ_t dpre
// Inputs before t = 0 (from state_in) are constants: their gradient is dropped (truncated backprop).

MK_INLINE void conv1d_bwd_body(const float *x, int ld_x, const float *w, const float *bias, const float *state_in,
                               const float *dout, int ld_dout, float *dx, int ld_dx, float *dw, float *dbias,
                               int Bsz, int L, int E, int K, int act, int e_begin, int e_end) {
    const int n = e_end - e_begin, S = K - 1;
    if (n <= 0) return;
    float *wt = (float *)malloc(sizeof(float) * (size_t)K * n);      // (K, n) w transposed
    float *dwt = (float *)calloc((size_t)K * n, sizeof(float));      // (K, n) dw accumulator
    float *db = (float *)calloc((size_t)n, sizeof(float));           // (n)
    float *dpre = (float *)malloc(sizeof(float) * (size_t)n);        // (n) one time step
    for (int k = 0; k < K; k++)
        for (int e = 0; e < n; e++) wt[(size_t)k * n + e] = w[(size_t)(e_begin + e) * K + k];
    for (int b = 0; b < Bsz; b++) {
        const float *xb = x + (size_t)b * L * ld_x + e_begin;
        const float *sb = state_in ? state_in + (size_t)b * S * E + e_begin : NULL;
        const float *gb = dout + (size_t)b * L * ld_dout + e_begin;
        float *dxb = dx + (size_t)b * L * ld_dx + e_begin;
        for (int t = 0; t < L; t++) {
            float *d = dxb + (size_t)t * ld_dx;
            for (int e = 0; e < n; e++) d[e] = 0.0f;
        }
        for (int t = 0; t < L; t++) {
            const float *g = gb + (size_t)t * ld_dout;
            if (act == 1) {
                for (int e = 0; e < n; e++) dpre[e] = bias ? bias[e_begin + e] : 0.0f;
                for (int k = 0; k < K; k++) {
                    const int row = t - S + k;
                    const float *src = row >= 0 ? xb + (size_t)row * ld_x : (sb ? sb + (size_t)(S + row) * E : NULL);
                    if (!src) continue;
                    const float *wk = wt + (size_t)k * n;
                    for (int e = 0; e < n; e++) dpre[e] += wk[e] * src[e];
                }
                for (int e = 0; e < n; e++) {   // silu'(p) = σ(p)(1 + p(1 − σ(p)))
                    const float p = dpre[e], sg = 1.0f / (1.0f + mk_expf(-p));
                    dpre[e] = g[e] * sg * (1.0f + p * (1.0f - sg));
                }
            } else {
                for (int e = 0; e < n; e++) dpre[e] = g[e];
            }
            for (int e = 0; e < n; e++) db[e] += dpre[e];
            for (int k = 0; k < K; k++) {
                const int row = t - S + k;
                const float *src = row >= 0 ? xb + (size_t)row * ld_x : (sb ? sb + (size_t)(S + row) * E : NULL);
                if (!src) continue;
                const float *wk = wt + (size_t)k * n;
                float *dwk = dwt + (size_t)k * n;
                for (int e = 0; e < n; e++) dwk[e] += dpre[e] * src[e];
                if (row >= 0) {
                    float *d = dxb + (size_t)row * ld_dx;
                    for (int e = 0; e < n; e++) d[e] += wk[e] * dpre[e];
                }
            }
        }
    }
    for (int k = 0; k < K; k++)
        for (int e = 0; e < n; e++) dw[(size_t)(e_begin + e) * K + k] += dwt[(size_t)k * n + e];
    if (dbias) for (int e = 0; e < n; e++) dbias[e_begin + e] += db[e];
    free(wt); free(dwt); free(db); free(dpre);
}

#define CONVB_ARGS const float *x, int ld_x, const float *w, const float *bias, const float *state_in, \
    const float *dout, int ld_dout, float *dx, int ld_dx, float *dw, float *dbias, int Bsz, int L, int E, int K, int act, \
    int e_begin, int e_end
#define CONVB_PASS x, ld_x, w, bias, state_in, dout, ld_dout, dx, ld_dx, dw, dbias, Bsz, L, E, K, act, e_begin, e_end

MK_MULTIVERSION_VOID(mk_conv1d_bwd, conv1d_bwd_body, (CONVB_ARGS), (CONVB_PASS))
