// complex_scan.c — the complex-valued selective scan (the Mamba paper's §3.6 parameterisation for audio),
// forward and backward, each with a scalar reference (the literal formula) beside the fast version.
//
// Per batch row b, channel e, complex state n, step t (A_n = A_re[e,n] + i A_im[e,n], complex B, C; u, dt, y real):
//   dt_t   = softplus(delta_t + delta_bias)            (softplus(x) = x > 20 ? x : log1p(exp(x)))
//   a_t,n  = exp(dt_t A_n) = exp(dt_t A_re) (cos(dt_t A_im) + i sin(dt_t A_im))
//   h_t,n  = a_t,n h_t-1,n + dt_t B_t,n u_t            (h_-1 = h0)
//   y_t    = 2 Re(Σ_n C_t,n h_t,n) + D u_t             (selective_scan_ref: y = y.real * 2 for complex)
//   out_t  = y_t silu(z_t)
// Backward, with complex adjoints G = ∂L/∂Re + i ∂L/∂Im (for w = k·v, k complex: ∂v = conj(k) ∂w):
//   dyp_t   = dy_t silu(z_t);   dz_t = dy_t y_t silu'(z_t)
//   G_t,n   = 2 dyp_t conj(C_t,n) + conj(a_t+1,n) G_t+1,n        (G_L = 0)
//   dC_t,n += 2 dyp_t conj(h_t,n);  dB_t,n += dt_t u_t G_t,n       (summed over the channels)
//   du_t    = dyp_t D + dt_t Σ_n Re(conj(G_t,n) B_t,n);  dD += Σ_t dyp_t u_t
//   ddt_t   = Σ_n Re(conj(G_t,n) (A_n a_t,n h_t-1,n + B_t,n u_t))
//   dA_n   += Σ_t conj(dt_t a_t,n h_t-1,n) G_t,n   (as dA_re + i dA_im; the caller applies dA_log = dA_re · A_re)
//   ddelta_t = ddt_t sigmoid(delta_t + bias) (1 above 20; ddt_t without softplus); dbias += Σ_t ddelta_t
//   dh0_n   = conj(a_0,n) G_0,n
//
// Layouts (floats; complex numbers are (re, im) pairs, as PyTorch's view_as_real / selective_scan_ref's "(n two)"):
//   u, delta, z, y, dy, du, ddelta, dz  (Bsz, L, E) row strides ld_*
//   A_re, A_im, dA_re, dA_im            (E, N)
//   Bm, Cm, dBm, dCm                    (Bsz, L, 2N) row stride ld_bc / ld_dbc: (re_0, im_0, re_1, im_1, …)
//   h0, h_last, dh0                     (Bsz, E, N, 2) = (Bsz, E, 2N)
//
// Fast versions: channels go W = 16 at a time, vectorised ACROSS channels as plain C lane loops (the
// compiler vectorises them; compiled three times, AVX-512 / AVX2+FMA / baseline, and dispatched by
// mk_cpu_isa(), see MK_MULTIVERSION_VOID in mk_math.h). The state of a block, (2N, W), stays in a small
// stack buffer (L1). exp by mk_expf, sin/cos of dt A_im by cs_sincos below (|error| < 2e-7 for |x| < 1e4).
// The backward recomputes the states chunk by chunk like scan_bwd.c (Docs/ScanBackward.md): a forward sweep
// keeps the states at chunk starts (every MK_CSCAN_BWD_CHUNK steps), then chunks in reverse order: recompute
// the chunk (storing h_t-1 and a_t), then the reverse sweep. The blocks of a call walk each chunk together so
// that the per-lane dB, dC partials of all blocks are summed into one (T, 4N, W) buffer and reduced across
// lanes once per chunk. Never (L, E, N) floats; memory O(nBlocks · L/T · 2N · W + T · 2N · W).
#include "MambaKernels.h"
#include "mk_math.h"
#include "scan_math.h"
#include <complex.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Reference forward (the spec, literally, in float complex)

void mk_cscan_fwd_ref(const mk_cscan_params *p, int e_begin, int e_end) {
    const int Bsz = p->Bsz, L = p->L, E = p->E, N = p->N;
    const int Nh = N > 0 ? N : 1;
    float complex h[Nh];                                                    // (N): state of one channel
    for (int b = 0; b < Bsz; b++)
        for (int e = e_begin; e < e_end; e++) {
            const ptrdiff_t he = ((ptrdiff_t)b * E + e) * 2 * N;            // h0/h_last offset of (b, e, 0, re)
            for (int n = 0; n < N; n++) h[n] = p->h0 ? p->h0[he + 2 * n] + p->h0[he + 2 * n + 1] * I : 0.0f;
            for (int t = 0; t < L; t++) {
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                float dt = p->delta[r * p->ld_delta + e] + (p->delta_bias ? p->delta_bias[e] : 0.0f);
                if (p->delta_softplus) dt = dt > SCAN_SOFTPLUS_THRESHOLD ? dt : log1pf(expf(dt));
                const float ut = p->u[r * p->ld_u + e];
                const float *Bt = p->Bm + r * p->ld_bc, *Ct = p->Cm + r * p->ld_bc;
                float complex acc = 0.0f;
                for (int n = 0; n < N; n++) {
                    const float complex A = p->A_re[(ptrdiff_t)e * N + n] + p->A_im[(ptrdiff_t)e * N + n] * I;
                    const float complex Bn = Bt[2 * n] + Bt[2 * n + 1] * I, Cn = Ct[2 * n] + Ct[2 * n + 1] * I;
                    h[n] = cexpf(dt * A) * h[n] + dt * Bn * ut;
                    acc += Cn * h[n];
                }
                float y = 2.0f * crealf(acc) + (p->D ? p->D[e] * ut : 0.0f);
                if (p->z) {
                    const float zt = p->z[r * p->ld_z + e];
                    y *= zt / (1.0f + expf(-zt));
                }
                p->y[r * p->ld_y + e] = y;
            }
            if (p->h_last)
                for (int n = 0; n < N; n++) { p->h_last[he + 2 * n] = crealf(h[n]); p->h_last[he + 2 * n + 1] = cimagf(h[n]); }
        }
}

// MARK: - Reference backward (the spec, in double complex; stores the L + 1 states of one channel)

void mk_cscan_bwd_ref(const mk_cscan_bwd_params *p, int e_begin, int e_end) {
    const mk_cscan_params *f = &p->fwd;
    const int Bsz = f->Bsz, L = f->L, E = f->E, N = f->N;
    if (Bsz <= 0 || e_end <= e_begin || N < 0 || L < 0) return;
    const size_t rows = (size_t)Bsz * L;
    double complex *hs = malloc(sizeof(double complex) * ((size_t)(L + 1) * N + 1));   // (L + 1, N): h_-1 .. h_L-1
    double complex *G = malloc(sizeof(double complex) * ((size_t)N + 1));             // (N): conj(a_t+1) G_t+1
    double complex *dAe = malloc(sizeof(double complex) * ((size_t)N + 1));           // (N)
    double complex *dBC = calloc(2 * rows * (size_t)N + 1, sizeof(double complex));   // (2, Bsz, L, N)
    if (!hs || !G || !dAe || !dBC) { fprintf(stderr, "mk_cscan_bwd_ref: out of memory\n"); abort(); }
    double complex *dBd = dBC, *dCd = dBC + rows * N;
    for (int b = 0; b < Bsz; b++)
        for (int e = e_begin; e < e_end; e++) {
            const ptrdiff_t he = ((ptrdiff_t)b * E + e) * 2 * N;
            const double bias = f->delta_bias ? f->delta_bias[e] : 0.0, De = f->D ? f->D[e] : 0.0;
            for (int n = 0; n < N; n++) hs[n] = f->h0 ? f->h0[he + 2 * n] + f->h0[he + 2 * n + 1] * I : 0.0;
            for (int t = 0; t < L; t++) {                                   // forward, every state kept
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                const double x = f->delta[r * f->ld_delta + e] + bias;
                const double dt = f->delta_softplus ? (x > 20.0 ? x : log1p(exp(x))) : x, ut = f->u[r * f->ld_u + e];
                const float *Bt = f->Bm + r * f->ld_bc;
                for (int n = 0; n < N; n++) {
                    const double complex A = f->A_re[(ptrdiff_t)e * N + n] + f->A_im[(ptrdiff_t)e * N + n] * I;
                    hs[(t + 1) * N + n] = cexp(dt * A) * hs[t * N + n] + dt * (Bt[2 * n] + Bt[2 * n + 1] * I) * ut;
                }
            }
            for (int n = 0; n < N; n++) { G[n] = 0.0; dAe[n] = 0.0; }
            double dDe = 0.0, dbe = 0.0;
            for (int t = L - 1; t >= 0; t--) {                              // reverse
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                const double x = f->delta[r * f->ld_delta + e] + bias;
                const double dt = f->delta_softplus ? (x > 20.0 ? x : log1p(exp(x))) : x, ut = f->u[r * f->ld_u + e];
                const float *Bt = f->Bm + r * f->ld_bc, *Ct = f->Cm + r * f->ld_bc;
                const double complex *ht = hs + (t + 1) * N, *hp = hs + t * N;
                double complex acc = 0.0;
                for (int n = 0; n < N; n++) acc += (Ct[2 * n] + Ct[2 * n + 1] * I) * ht[n];
                const double yt = 2.0 * creal(acc) + De * ut, dyt = p->dy[r * p->ld_dy + e];
                double dyp = dyt;
                if (f->z) {
                    const double zt = f->z[r * f->ld_z + e], s = 1.0 / (1.0 + exp(-zt));
                    dyp = dyt * zt * s;
                    if (p->dz) p->dz[r * p->ld_dz + e] = (float)(dyt * yt * s * (1.0 + zt * (1.0 - s)));
                }
                dDe += dyp * ut;
                double sB = 0.0, ddt = 0.0;
                for (int n = 0; n < N; n++) {
                    const double complex A = f->A_re[(ptrdiff_t)e * N + n] + f->A_im[(ptrdiff_t)e * N + n] * I;
                    const double complex Bn = Bt[2 * n] + Bt[2 * n + 1] * I, Cn = Ct[2 * n] + Ct[2 * n + 1] * I;
                    const double complex at = cexp(dt * A);
                    const double complex Gn = 2.0 * dyp * conj(Cn) + G[n];   // G_t,n
                    dCd[r * N + n] += 2.0 * dyp * conj(ht[n]);
                    dBd[r * N + n] += dt * ut * Gn;
                    sB += creal(conj(Gn) * Bn);
                    ddt += creal(conj(Gn) * (A * at * hp[n] + Bn * ut));
                    dAe[n] += conj(dt * at * hp[n]) * Gn;
                    G[n] = conj(at) * Gn;                                    // carried into step t - 1
                }
                p->du[r * p->ld_du + e] = (float)(dyp * De + dt * sB);
                const double dd = !f->delta_softplus || x > 20.0 ? ddt : ddt / (1.0 + exp(-x));
                p->ddelta[r * p->ld_ddelta + e] = (float)dd;
                dbe += dd;
            }
            for (int n = 0; n < N; n++) {
                p->dA_re[(ptrdiff_t)e * N + n] += (float)creal(dAe[n]);
                p->dA_im[(ptrdiff_t)e * N + n] += (float)cimag(dAe[n]);
                if (p->dh0) { p->dh0[he + 2 * n] = (float)creal(G[n]); p->dh0[he + 2 * n + 1] = (float)cimag(G[n]); }
            }
            if (f->D && p->dD) p->dD[e] += (float)dDe;
            if (f->delta_bias && p->ddelta_bias) p->ddelta_bias[e] += (float)dbe;
        }
    for (size_t r = 0; r < rows; r++)
        for (int n = 0; n < N; n++) {
            p->dBm[(ptrdiff_t)r * p->ld_dbc + 2 * n] += (float)creal(dBd[r * N + n]);
            p->dBm[(ptrdiff_t)r * p->ld_dbc + 2 * n + 1] += (float)cimag(dBd[r * N + n]);
            p->dCm[(ptrdiff_t)r * p->ld_dbc + 2 * n] += (float)creal(dCd[r * N + n]);
            p->dCm[(ptrdiff_t)r * p->ld_dbc + 2 * n + 1] += (float)cimag(dCd[r * N + n]);
        }
    free(hs); free(G); free(dAe); free(dBC);
}

// MARK: - Lane math (scalar, written so the lane loops vectorise)

enum { CS_W = 16 };                         // channels per block

// sin(x), cos(x): x = k π/2 + r (π/2 split in three parts, k·P1 exact for |k| < 2^16), |r| <= π/4,
// Cephes minimax polynomials for sin r and cos r, then the quadrant k mod 4 picks and signs them.
MK_INLINE void cs_sincos(float x, float *sp, float *cp) {
    const float magic = 12582912.0f;                                        // 1.5 * 2^23: rounds to an integer
    const float k = (x * 0.636619772367581343f + magic) - magic;
    float r = x - k * 1.5703125f;
    r = r - k * 4.837512969970703125e-4f;
    r = r - k * 7.54978995489188216e-8f;
    const float r2 = r * r;
    const float s = ((-1.9515295891e-4f * r2 + 8.3321608736e-3f) * r2 - 1.6666654611e-1f) * r2 * r + r;
    const float c = ((2.443315711809948e-5f * r2 - 1.388731625493765e-3f) * r2 + 4.166664568298827e-2f) * r2 * r2
                  - 0.5f * r2 + 1.0f;
    const int q = (int)k & 3;                                               // two's complement: k mod 4
    const float ss = (q & 1) ? c : s, cc = (q & 1) ? s : c;
    *sp = (q & 2) ? -ss : ss;
    *cp = ((q + 1) & 2) ? -cc : cc;
}

/// For tests: cs_sincos on n values.
void mk_cscan_sincos(const float *x, float *s, float *c, int n) {
    for (int i = 0; i < n; i++) cs_sincos(x[i], s + i, c + i);
}

// Block setup: Ar, Ai (N, W) = A_re/A_im of channels e0 + j (0 beyond cnt: no decay, no rotation);
// H (2N, W): rows 2n (re), 2n + 1 (im) = h0[b, e0 + j, n], or 0.
MK_INLINE void cs_gather(const mk_cscan_params *a, int b, int e0, int cnt, float *Ar, float *Ai, float *H) {
    const int N = a->N;
    const float *hb = a->h0 ? a->h0 + ((ptrdiff_t)b * a->E + e0) * 2 * N : NULL;     // (cnt, 2N)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < CS_W; j++) {
            const int in = j < cnt;
            Ar[n * CS_W + j] = in ? a->A_re[(ptrdiff_t)(e0 + j) * N + n] : 0.0f;
            Ai[n * CS_W + j] = in ? a->A_im[(ptrdiff_t)(e0 + j) * N + n] : 0.0f;
            H[2 * n * CS_W + j] = in && hb ? hb[(ptrdiff_t)j * 2 * N + 2 * n] : 0.0f;
            H[(2 * n + 1) * CS_W + j] = in && hb ? hb[(ptrdiff_t)j * 2 * N + 2 * n + 1] : 0.0f;
        }
}

// Per step, the elementwise part for the W lanes: dt (after bias and softplus), sig = d dt / d x, u.
MK_INLINE void cs_step_inputs(const mk_cscan_params *a, ptrdiff_t r, int e0, int cnt, const float *bias,
                              float *dt, float *sig, float *uu) {
    const float *ur = a->u + r * a->ld_u + e0, *dr = a->delta + r * a->ld_delta + e0;
    float x[CS_W];
    for (int j = 0; j < CS_W; j++) { x[j] = 0.0f; uu[j] = 0.0f; }
    for (int j = 0; j < cnt; j++) { x[j] = dr[j]; uu[j] = ur[j]; }
    for (int j = 0; j < CS_W; j++) {
        const float v = x[j] + bias[j];
        if (a->delta_softplus) {
            dt[j] = scan_softplus(v);
            sig[j] = v > SCAN_SOFTPLUS_THRESHOLD ? 1.0f : 1.0f / (1.0f + mk_expf(-v));
        } else { dt[j] = v; sig[j] = 1.0f; }
    }
}

// One step of the recurrence for W lanes: H ← a H + dtu B; optionally stores h_t-1 (HP) and a_t (AA),
// (2N, W) each; returns Σ_n Re(C_n h_n) per lane in acc (when Ct != NULL).
MK_INLINE void cs_step(int N, const float *dt, const float *dtu, const float *Ar, const float *Ai,
                       const float *Bt, const float *Ct, float *H, float *HP, float *AA, float *acc) {
    for (int j = 0; j < CS_W; j++) acc[j] = 0.0f;
    for (int n = 0; n < N; n++) {
        const float br = Bt[2 * n], bi = Bt[2 * n + 1];
        const float cr = Ct ? Ct[2 * n] : 0.0f, ci = Ct ? Ct[2 * n + 1] : 0.0f;
        float *restrict hr = H + 2 * n * CS_W, *restrict hi = hr + CS_W;
        const float *restrict arn = Ar + n * CS_W, *restrict ain = Ai + n * CS_W;
#if defined(__clang__)
#pragma clang loop vectorize(assume_safety)
#endif
        for (int j = 0; j < CS_W; j++) {                                    // the lanes: distinct rows, no aliasing
            float s, c;
            cs_sincos(dt[j] * ain[j], &s, &c);
            const float m = mk_expf(dt[j] * arn[j]);
            const float ar = m * c, ai = m * s, pr = hr[j], pi = hi[j];
            if (HP) { HP[2 * n * CS_W + j] = pr; HP[(2 * n + 1) * CS_W + j] = pi; }
            if (AA) { AA[2 * n * CS_W + j] = ar; AA[(2 * n + 1) * CS_W + j] = ai; }
            const float nr = ar * pr - ai * pi + dtu[j] * br;
            const float ni = ar * pi + ai * pr + dtu[j] * bi;
            hr[j] = nr; hi[j] = ni;
            acc[j] += cr * nr - ci * ni;
        }
    }
}

// MARK: - Fast forward

MK_INLINE void cscan_fwd_body(const mk_cscan_params *a, int e_begin, int e_end) {
    const int Bsz = a->Bsz, L = a->L, N = a->N;
    if (Bsz <= 0 || e_end <= e_begin || N < 0) return;
    const int Nh = N > 0 ? N : 1;
    float Ar[Nh * CS_W], Ai[Nh * CS_W], H[2 * Nh * CS_W];                  // (N, W), (N, W), (2N, W)
    for (int b = 0; b < Bsz; b++)
        for (int e0 = e_begin; e0 < e_end; e0 += CS_W) {
            const int cnt = e_end - e0 < CS_W ? e_end - e0 : CS_W;
            cs_gather(a, b, e0, cnt, Ar, Ai, H);
            float bias[CS_W], Dv[CS_W];
            for (int j = 0; j < CS_W; j++) {
                bias[j] = a->delta_bias && j < cnt ? a->delta_bias[e0 + j] : 0.0f;
                Dv[j] = a->D && j < cnt ? a->D[e0 + j] : 0.0f;
            }
            for (int t = 0; t < L; t++) {
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                float dt[CS_W], sig[CS_W], uu[CS_W], dtu[CS_W], acc[CS_W], yv[CS_W];
                cs_step_inputs(a, r, e0, cnt, bias, dt, sig, uu);
                for (int j = 0; j < CS_W; j++) dtu[j] = dt[j] * uu[j];
                cs_step(N, dt, dtu, Ar, Ai, a->Bm + r * a->ld_bc, a->Cm + r * a->ld_bc, H, NULL, NULL, acc);
                for (int j = 0; j < CS_W; j++) yv[j] = 2.0f * acc[j] + Dv[j] * uu[j];
                if (a->z) {
                    const float *zr = a->z + r * a->ld_z + e0;
                    float zz[CS_W];
                    for (int j = 0; j < CS_W; j++) zz[j] = 0.0f;
                    for (int j = 0; j < cnt; j++) zz[j] = zr[j];
                    for (int j = 0; j < CS_W; j++) yv[j] *= mk_silu(zz[j]);
                }
                float *yr = a->y + r * a->ld_y + e0;
                for (int j = 0; j < cnt; j++) yr[j] = yv[j];
            }
            if (a->h_last) {
                float *hb = a->h_last + ((ptrdiff_t)b * a->E + e0) * 2 * N;
                for (int j = 0; j < cnt; j++)
                    for (int m = 0; m < 2 * N; m++) hb[(ptrdiff_t)j * 2 * N + m] = H[m * CS_W + j];
            }
        }
}

MK_MULTIVERSION_VOID(mk_cscan_fwd, cscan_fwd_body, (const mk_cscan_params *a, int e_begin, int e_end), (a, e_begin, e_end))

// MARK: - Fast backward

// The state of one block of W channels across chunks.
typedef struct {
    int e0, cnt;
    float *Ar, *Ai;         // (N, W)
    float *Hb;              // (nC, 2N, W): states at chunk starts (h_-1 of the chunk's first step)
    float *G;               // (2N, W): conj(a_t+1) G_t+1, the carry into step t
    float *dA;              // (2N, W): rows 2n = dA_re, 2n + 1 = dA_im
    float *bias, *Dv, *dD, *dbias;   // (W)
} cs_block;

MK_INLINE void cscan_bwd_body(const mk_cscan_bwd_params *p, int e_begin, int e_end) {
    const mk_cscan_params *a = &p->fwd;
    const int Bsz = a->Bsz, L = a->L, N = a->N;
    if (Bsz <= 0 || e_end <= e_begin || N <= 0 || L <= 0) {
        if (p->dh0 && N > 0)                                                 // L = 0: dh0 = 0
            for (int b = 0; b < Bsz; b++)
                for (int e = e_begin; e < e_end; e++)
                    memset(p->dh0 + ((ptrdiff_t)b * a->E + e) * 2 * N, 0, sizeof(float) * 2 * N);
        return;
    }
    enum { T = MK_CSCAN_BWD_CHUNK, W = CS_W };
    const int nC = (L + T - 1) / T, nb = (e_end - e_begin + W - 1) / W, S = 2 * N * W;   // S: one (2N, W) array
    // per block: Ar, Ai (N W each), Hb (nC S), G, dA (S each), bias, Dv, dD, dbias (W each)
    const size_t perBlock = (size_t)S + (size_t)nC * S + 2 * (size_t)S + 4 * W;
    // per chunk: HP, AA (T S each), per-lane partials PB (T, 4N, W): dB re/im, dC re/im; step vectors (T, 6, W)
    const size_t chunkFloats = 2 * (size_t)T * S + (size_t)T * 2 * S + (size_t)T * 6 * W;
    float *mem = aligned_alloc(64, sizeof(float) * (((size_t)nb * perBlock + chunkFloats + 15) / 16 * 16));
    cs_block *blocks = malloc(sizeof(cs_block) * (size_t)nb);
    if (!mem || !blocks) { fprintf(stderr, "mk_cscan_bwd: out of memory\n"); abort(); }
    for (int k = 0; k < nb; k++) {
        cs_block *q = blocks + k;
        float *m = mem + (size_t)k * perBlock;
        q->e0 = e_begin + k * W;
        q->cnt = e_end - q->e0 < W ? e_end - q->e0 : W;
        q->Ar = m; q->Ai = m + N * W; m += S;
        q->Hb = m; m += (size_t)nC * S;
        q->G = m; m += S;
        q->dA = m; m += S;
        q->bias = m; q->Dv = m + W; q->dD = m + 2 * W; q->dbias = m + 3 * W;
        for (int j = 0; j < W; j++) {
            const int in = j < q->cnt;
            q->bias[j] = a->delta_bias && in ? a->delta_bias[q->e0 + j] : 0.0f;
            q->Dv[j] = a->D && in ? a->D[q->e0 + j] : 0.0f;
            q->dD[j] = 0.0f; q->dbias[j] = 0.0f;
        }
        for (int i = 0; i < S; i++) q->dA[i] = 0.0f;
    }
    float *HP = mem + (size_t)nb * perBlock;                                 // (T, 2N, W): h_t-1
    float *AA = HP + (size_t)T * S;                                          // (T, 2N, W): a_t
    float *PB = AA + (size_t)T * S;                                          // (T, 4N, W): dB (2N), dC (2N) per lane
    float *SV = PB + (size_t)T * 2 * S;                                      // (T, 6, W): dt, sig, u, dyp, dzf, y
    enum { SV_DT, SV_SIG, SV_U, SV_DYP, SV_DZF, SV_Y, SV_N };
#define CS_SV(i, f) (SV + ((ptrdiff_t)(i) * SV_N + (f)) * W)

    for (int b = 0; b < Bsz; b++) {
        const ptrdiff_t row0 = (ptrdiff_t)b * L;
        // 1. boundary sweep per block: Hb[c] = the state before chunk c
        for (int k = 0; k < nb; k++) {
            cs_block *q = blocks + k;
            cs_gather(a, b, q->e0, q->cnt, q->Ar, q->Ai, q->Hb);
            for (int i = 0; i < S; i++) q->G[i] = 0.0f;
            float H[S];
            memcpy(H, q->Hb, sizeof(float) * S);
            for (int c = 0; c + 1 < nC; c++) {
                for (int t = c * T; t < (c + 1) * T; t++) {
                    float dt[W], sig[W], uu[W], dtu[W], acc[W];
                    cs_step_inputs(a, row0 + t, q->e0, q->cnt, q->bias, dt, sig, uu);
                    for (int j = 0; j < W; j++) dtu[j] = dt[j] * uu[j];
                    cs_step(N, dt, dtu, q->Ar, q->Ai, a->Bm + (row0 + t) * a->ld_bc, NULL, H, NULL, NULL, acc);
                }
                memcpy(q->Hb + (size_t)(c + 1) * S, H, sizeof(float) * S);
            }
        }
        // 2. chunks in reverse order
        for (int c = nC - 1; c >= 0; c--) {
            const int t0 = c * T, nt = L - t0 < T ? L - t0 : T;
            memset(PB, 0, sizeof(float) * (size_t)nt * 2 * S);
            for (int k = 0; k < nb; k++) {
                cs_block *q = blocks + k;
                const int e0 = q->e0, cnt = q->cnt;
                // recompute: HP, AA and the pre-gate y of every step of the chunk
                float H[S];
                memcpy(H, q->Hb + (size_t)c * S, sizeof(float) * S);
                for (int i = 0; i < nt; i++) {
                    const ptrdiff_t r = row0 + t0 + i;
                    float *dt = CS_SV(i, SV_DT), *sig = CS_SV(i, SV_SIG), *uu = CS_SV(i, SV_U), *yv = CS_SV(i, SV_Y);
                    float dtu[W], acc[W];
                    cs_step_inputs(a, r, e0, cnt, q->bias, dt, sig, uu);
                    for (int j = 0; j < W; j++) dtu[j] = dt[j] * uu[j];
                    cs_step(N, dt, dtu, q->Ar, q->Ai, a->Bm + r * a->ld_bc, a->Cm + r * a->ld_bc, H,
                            HP + (size_t)i * S, AA + (size_t)i * S, acc);
                    for (int j = 0; j < W; j++) yv[j] = 2.0f * acc[j] + q->Dv[j] * uu[j];
                    // gate: dyp = dy silu(z), dz = dy y silu'(z)
                    float dyv[W], zz[W];
                    for (int j = 0; j < W; j++) { dyv[j] = 0.0f; zz[j] = 0.0f; }
                    const float *dyr = p->dy + r * p->ld_dy + e0;
                    for (int j = 0; j < cnt; j++) dyv[j] = dyr[j];
                    float *dyp = CS_SV(i, SV_DYP), *dzf = CS_SV(i, SV_DZF);
                    if (a->z) {
                        const float *zr = a->z + r * a->ld_z + e0;
                        for (int j = 0; j < cnt; j++) zz[j] = zr[j];
                        for (int j = 0; j < W; j++) {
                            const float s = 1.0f / (1.0f + mk_expf(-zz[j]));
                            dyp[j] = dyv[j] * zz[j] * s;
                            dzf[j] = dyv[j] * yv[j] * s * (1.0f + zz[j] * (1.0f - s));
                        }
                    } else
                        for (int j = 0; j < W; j++) dyp[j] = dyv[j];
                    for (int j = 0; j < W; j++) q->dD[j] += dyp[j] * uu[j];
                }
                // reverse sweep over the chunk
                float *G = q->G, *dA = q->dA;
                for (int i = nt - 1; i >= 0; i--) {
                    const ptrdiff_t r = row0 + t0 + i;
                    const float *Bt = a->Bm + r * a->ld_bc, *Ct = a->Cm + r * a->ld_bc;
                    const float *dt = CS_SV(i, SV_DT), *uu = CS_SV(i, SV_U), *dyp = CS_SV(i, SV_DYP);
                    const float *hp = HP + (size_t)i * S, *aa = AA + (size_t)i * S;
                    float *pb = PB + (size_t)i * 2 * S;                      // (4N, W): dBre, dBim | dCre, dCim rows
                    float sB[W], ddt[W], dtu[W];
                    for (int j = 0; j < W; j++) { sB[j] = 0.0f; ddt[j] = 0.0f; dtu[j] = dt[j] * uu[j]; }
                    for (int n = 0; n < N; n++) {
                        const float br = Bt[2 * n], bi = Bt[2 * n + 1], cr = Ct[2 * n], ci = Ct[2 * n + 1];
                        // distinct (W)-rows of distinct arrays: restrict lets the lane loop vectorise
                        const float *restrict arn = q->Ar + n * W, *restrict ain = q->Ai + n * W;
                        const float *restrict hpr = hp + 2 * n * W, *restrict hpi = hpr + W;
                        const float *restrict atr = aa + 2 * n * W, *restrict ati = atr + W;
                        float *restrict gr = G + 2 * n * W, *restrict gi = gr + W;
                        float *restrict dar = dA + 2 * n * W, *restrict dai = dar + W;
                        float *restrict pBr = pb + 2 * n * W, *restrict pBi = pBr + W;
                        float *restrict pCr = pb + (2 * N + 2 * n) * W, *restrict pCi = pCr + W;
#if defined(__clang__)
#pragma clang loop vectorize(assume_safety)
#endif
                        for (int j = 0; j < W; j++) {
                            const float Gr = 2.0f * dyp[j] * cr + gr[j], Gi = -2.0f * dyp[j] * ci + gi[j];
                            const float ahr = atr[j] * hpr[j] - ati[j] * hpi[j];          // a_t h_t-1
                            const float ahi = atr[j] * hpi[j] + ati[j] * hpr[j];
                            const float htr = ahr + dtu[j] * br, hti = ahi + dtu[j] * bi;  // h_t
                            pCr[j] += 2.0f * dyp[j] * htr;
                            pCi[j] -= 2.0f * dyp[j] * hti;
                            pBr[j] += dtu[j] * Gr;
                            pBi[j] += dtu[j] * Gi;
                            const float gb = Gr * br + Gi * bi;                          // Re(conj(G) B)
                            sB[j] += gb;
                            const float xr = arn[j] * ahr - ain[j] * ahi, xi = arn[j] * ahi + ain[j] * ahr;   // A a h
                            ddt[j] += Gr * xr + Gi * xi;
                            dar[j] += dt[j] * (ahr * Gr + ahi * Gi);                      // conj(dt a h) G
                            dai[j] += dt[j] * (ahr * Gi - ahi * Gr);
                            gr[j] = atr[j] * Gr + ati[j] * Gi;                           // conj(a_t) G_t
                            gi[j] = atr[j] * Gi - ati[j] * Gr;
                        }
                    }
                    const float *sig = CS_SV(i, SV_SIG), *dzf = CS_SV(i, SV_DZF);
                    float du[W], dd[W];
                    for (int j = 0; j < W; j++) {
                        du[j] = dyp[j] * q->Dv[j] + dt[j] * sB[j];
                        dd[j] = (ddt[j] + uu[j] * sB[j]) * sig[j];
                        q->dbias[j] += dd[j];
                    }
                    float *dur = p->du + r * p->ld_du + e0, *ddr = p->ddelta + r * p->ld_ddelta + e0;
                    for (int j = 0; j < cnt; j++) { dur[j] = du[j]; ddr[j] = dd[j]; }
                    if (a->z && p->dz) {
                        float *dzr = p->dz + r * p->ld_dz + e0;
                        for (int j = 0; j < cnt; j++) dzr[j] = dzf[j];
                    }
                }
            }
            // lane sums of the partial dB, dC of the chunk (a fixed pairwise tree), added into dBm, dCm
            for (int i = 0; i < nt; i++) {
                const ptrdiff_t r = row0 + t0 + i;
                float *pb = PB + (size_t)i * 2 * S;
                for (int m = 0; m < 4 * N; m++) {
                    float *v = pb + (size_t)m * W;
                    for (int w = W / 2; w >= 1; w /= 2)
                        for (int j = 0; j < w; j++) v[j] += v[j + w];
                }
                float *dBr = p->dBm + r * p->ld_dbc, *dCr = p->dCm + r * p->ld_dbc;
                for (int m = 0; m < 2 * N; m++) { dBr[m] += pb[(size_t)m * W]; dCr[m] += pb[(size_t)(2 * N + m) * W]; }
            }
        }
        if (p->dh0)
            for (int k = 0; k < nb; k++) {
                const cs_block *q = blocks + k;
                float *hb = p->dh0 + ((ptrdiff_t)b * a->E + q->e0) * 2 * N;
                for (int j = 0; j < q->cnt; j++)
                    for (int m = 0; m < 2 * N; m++) hb[(ptrdiff_t)j * 2 * N + m] = q->G[m * W + j];
            }
    }
#undef CS_SV
    for (int k = 0; k < nb; k++) {
        const cs_block *q = blocks + k;
        for (int j = 0; j < q->cnt; j++) {
            const int e = q->e0 + j;
            for (int n = 0; n < N; n++) {
                p->dA_re[(ptrdiff_t)e * N + n] += q->dA[2 * n * W + j];
                p->dA_im[(ptrdiff_t)e * N + n] += q->dA[(2 * n + 1) * W + j];
            }
            if (a->D && p->dD) p->dD[e] += q->dD[j];
            if (a->delta_bias && p->ddelta_bias) p->ddelta_bias[e] += q->dbias[j];
        }
    }
    free(blocks);
    free(mem);
}

MK_MULTIVERSION_VOID(mk_cscan_bwd, cscan_bwd_body, (const mk_cscan_bwd_params *p, int e_begin, int e_end), (p, e_begin, e_end))
