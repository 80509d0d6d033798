// conv1d.c — depthwise causal convolution over time, fused with SiLU.
//
//   out[t,e] = act( bias[e] + sum_{k<K} w[e,k] * x[t-(K-1)+k, e] )
//
// x (B, L, E) ld_x, inputs before t = 0 from state_in (B, K-1, E), w (E, K), bias (E),
// out (B, L, E) ld_out: the fields of mk_conv1d_params. Vectorised across channels e (contiguous in memory); the same
// body is compiled for AVX-512, AVX2 and the baseline, picked by mk_cpu_isa().
#include "MambaKernels.h"
#include "mk_math.h"
#include <stdlib.h>

MK_INLINE void conv1d_body(const mk_conv1d_params *prm, int e_begin, int e_end) {
    const float *x = prm->x, *w = prm->w, *bias = prm->bias, *state_in = prm->state_in;
    float *state_out = prm->state_out, *out = prm->out;
    const int ld_x = prm->ld_x, ld_out = prm->ld_out, Bsz = prm->Bsz, L = prm->L, E = prm->E, K = prm->K, act = prm->act;
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

MK_MULTIVERSION_VOID(mk_conv1d_fwd, conv1d_body, (const mk_conv1d_params *prm, int e_begin, int e_end), (prm, e_begin, e_end))

// MARK: - Backward
//   pre[t,e] = bias[e] + Σ_k w[e,k] · x[t-(K-1)+k, e];   out = act(pre)
//   dpre = dout · act'(pre);   dx[t-(K-1)+k] += w[e,k] · dpre[t];   dw[e,k] += Σ_t dpre[t] · x[t-(K-1)+k];   dbias += Σ_t dpre
// Inputs before t = 0 (from state_in) are constants: their gradient is dropped (truncated backprop).

MK_INLINE void conv1d_bwd_body(const mk_conv1d_bwd_params *prm, int e_begin, int e_end) {
    const float *x = prm->fwd.x, *w = prm->fwd.w, *bias = prm->fwd.bias, *state_in = prm->fwd.state_in, *dout = prm->dout;
    float *dx = prm->dx, *dw = prm->dw, *dbias = prm->dbias;
    const int ld_x = prm->fwd.ld_x, ld_dout = prm->ld_dout, ld_dx = prm->ld_dx;
    const int Bsz = prm->fwd.Bsz, L = prm->fwd.L, E = prm->fwd.E, K = prm->fwd.K, act = prm->fwd.act;
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

MK_MULTIVERSION_VOID(mk_conv1d_bwd, conv1d_bwd_body, (const mk_conv1d_bwd_params *prm, int e_begin, int e_end),
                     (prm, e_begin, e_end))
