// scan_step.c — the selective scan for L = 1 (one generation step): mk_scan_fwd's formula without its tiling.
//
//   dt_e = softplus(delta[b, e] + delta_bias[e]);  h[b, e, n] = 2^(dt_e A[e, n] log2 e) h0[b, e, n] + dt_e B[b, n] u[b, e]
//   y[b, e] = (Σ_n C[b, n] h[b, e, n] + D[e] u[b, e]) · SiLU(z[b, e])
//
// The blocked scan (scan.c) transposes each block of states into (N, W) tiles and back, which is its cost
// when there is one time step; here the states stay in their (B, E, N) layout and the n loop (N = 16: one
// AVX-512 vector, two AVX2 vectors) is the vector loop. dt is computed first for a run of channels, so its
// softplus vectorises across channels. The math is scan_math.h's (the blocked kernels' coefficients).
#include "MambaKernels.h"
#include "mk_math.h"
#include "scan_math.h"

enum { STEP_RUN = 64 };   // channels whose dt are computed together

MK_INLINE void scan_step_body(const mk_scan_params *p, int e_begin, int e_end) {
    const int N = p->N;
    float dt[STEP_RUN] = {0};
    float hv[N > 0 ? N : 1];                                               // (N) the new states of one channel
    for (int b = 0; b < p->Bsz; b++) {
        const ptrdiff_t r = (ptrdiff_t)b;                                  // the one time row of batch b (L = 1)
        const float *u = p->u + r * p->ld_u, *dl = p->delta + r * p->ld_delta;
        const float *Bv = p->Bm + r * p->ld_bc, *Cv = p->Cm + r * p->ld_bc; // (N) each
        for (int e0 = e_begin; e0 < e_end; e0 += STEP_RUN) {
            const int cnt = e_end - e0 < STEP_RUN ? e_end - e0 : STEP_RUN;
            const float *bias = p->delta_bias ? p->delta_bias + e0 : NULL, *dle = dl + e0;
            if (bias) for (int j = 0; j < cnt; j++) dt[j] = dle[j] + bias[j];
            else for (int j = 0; j < cnt; j++) dt[j] = dle[j];
            if (p->delta_softplus)
                for (int j = 0; j < STEP_RUN; j++) dt[j] = scan_softplus(dt[j]);   // vectorised over channels (all 64)
            for (int j = 0; j < cnt; j++) {
                const int e = e0 + j;
                const ptrdiff_t he = ((ptrdiff_t)b * p->E + e) * N;         // (N) states of (b, e)
                const float *A = p->A + (ptrdiff_t)e * N;
                const float d = dt[j], du = d * u[e];
                const float *h0 = p->h0 ? p->h0 + he : NULL;
                for (int n = 0; n < N; n++)                                // the vector loop
                    hv[n] = scan_exp2(d * A[n] * SCAN_LOG2E) * (h0 ? h0[n] : 0.0f) + du * Bv[n];
                float acc = mk_dot_partial(Cv, hv, N, 16);                 // 16 partial sums, then their total
                if (p->h_last) for (int n = 0; n < N; n++) p->h_last[he + n] = hv[n];
                if (p->D) acc += p->D[e] * u[e];
                if (p->z) acc *= mk_silu(p->z[r * p->ld_z + e]);
                p->y[r * p->ld_y + e] = acc;
            }
        }
    }
}

MK_MULTIVERSION_VOID(mk_scan_step, scan_step_body, (const mk_scan_params *p, int e_begin, int e_end), (p, e_begin, e_end))
