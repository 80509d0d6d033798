// scan_bwd.c — backward of the fused selective scan (mk_scan_fwd), recomputing the states.
//
// Forward, per channel e, state n, step t (scan.c; softplus and bias optional, D and z optional):
//   dt_t  = softplus(delta_t + bias)           (softplus(x) = x > 20 ? x : log1p(exp(x)))
//   a_t,n = exp(dt_t A_n)
//   h_t,n = a_t,n h_t-1,n + dt_t B_t,n u_t     (h_-1 = h0)
//   y_t   = sum_n C_t,n h_t,n + D u_t          (pre-gate)
//   out_t = y_t silu(z_t)
// Backward, given dy_t = dLoss/d out_t (derivation in Docs/ScanBackward.md):
//   dyp_t   = dy_t silu(z_t);   dz_t = dy_t y_t silu'(z_t),  silu'(z) = s (1 + z (1 - s)), s = sigmoid(z)
//   g_t,n   = dyp_t C_t,n + a_t+1,n g_t+1,n    (adjoint of h_t,n; g_L,n = 0)
//   dC_t,n += dyp_t h_t,n;   dB_t,n += g_t,n dt_t u_t        (summed over the channels)
//   du_t    = dyp_t D + dt_t sum_n g_t,n B_t,n;   dD += sum_t dyp_t u_t
//   ddt_t   = sum_n g_t,n (A_n a_t,n h_t-1,n + B_t,n u_t);   dA_n += sum_t g_t,n dt_t a_t,n h_t-1,n
//   ddelta_t = ddt_t sigmoid(delta_t + bias) (softplus' = sigmoid; 1 above the threshold 20; ddt_t without softplus)
//   dbias  += sum_t ddelta_t;   dh0_n = a_0,n g_0,n
//
// Shapes (per batch row b; row strides ld in floats):
//   u, delta, z, dy, du, ddelta, dz  (Bsz, L, E)     A, dA (E, N)     D, dD, delta_bias, ddelta_bias (E)
//   Bm, Cm (Bsz, L, N) ld_bc         dBm, dCm (Bsz, L, N) ld_dbc       h0, dh0 (Bsz, E, N)
//
// Algorithm (hardware-aware: the (Bsz, L, E, N) states are never stored). Channels go in blocks of W
// lanes (16 AVX-512, 8 AVX2, 16 portable), vectorised ACROSS channels as in the forward; blocks are
// grouped (G blocks share the per-chunk dB/dC reduction), time is cut in chunks of T = MK_SCAN_BWD_CHUNK
// steps. Per batch row and group:
//   1. boundary sweep: forward over chunks 0 .. nC-2, keeping only the states at chunk starts, Hb (nC, N, W)
//      per block;
//   2. chunks in reverse order, for each pass of BWD_KB blocks: prep (elementwise: dt, dt u, sigmoid, silu
//      gate -> dyp, dD), then per block recompute (forward from Hb[c]: stores a_t h_t-1 and a_t (T, N, 2, W),
//      accumulates y if gated) and reverse sweep (g and dA carried in registers, n in groups of <= 8;
//      per-lane partial dB, dC added to a (T, N, 2, W) buffer), then finish (du, ddelta, dz); after all the
//      group's blocks, one horizontal reduction of the partial dB, dC (a transpose-add tree, 16 (t, n) sums
//      per vector) added into dBm, dCm.
// Cost: two forward sweeps (one exp2 per (t, n) each) and one reverse sweep (no exp: a_t is kept from the
// recompute). Memory, one heap block per call: Hb, (nC, N, W) floats per block of the group (G blocks,
// budget BWD_GROUP_BYTES), the chunk buffers 2 (T, N, 2, W) and the step vectors BWD_KB (T, 9, W).
// The elementwise passes read and write rows that are E floats apart (usually a page or more): they
// take BWD_KB blocks per row (one TLB miss per row and stream instead of BWD_KB) and prefetch ahead.
//
// Files: this one holds the reference, the portable phases and the driver; the SIMD phases are written once in
// scan_bwd_body.h over the vector layer vf.h and compiled per ISA by scan_avx2.c and scan_avx512.c (the shared
// types and constants are in scan_internal.h).
//
// Vector math: scan_math.h / vf.h (the same exp / 2^t / log1p / softplus as the forward). sigmoid(x) comes with
// softplus: w = exp(-|x|), softplus = max(x, 0) + log1p(w), sigmoid = (x >= 0 ? 1 : w) / (1 + w).
#include "scan_internal.h"
#include "mk_math.h"
#include "scan_math.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Reference (the spec, in Double; stores the L + 1 states of one channel)

MK_INLINE double bwd_softplus_d(double x) { return x > 20.0 ? x : log1p(exp(x)); }
MK_INLINE double bwd_sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

void mk_scan_bwd_ref(const mk_scan_bwd_params *p, int e_begin, int e_end) {
    const mk_scan_params *f = &p->fwd;
    const float *u = f->u, *delta = f->delta, *A = f->A, *Bm = f->Bm, *Cm = f->Cm;
    const float *D = f->D, *delta_bias = f->delta_bias, *z = f->z, *h0 = f->h0, *dy = p->dy;
    const ptrdiff_t ld_u = f->ld_u, ld_delta = f->ld_delta, ld_bc = f->ld_bc, ld_z = f->ld_z, ld_dy = p->ld_dy;
    const int delta_softplus = f->delta_softplus, Bsz = f->Bsz, L = f->L, E = f->E, N = f->N;
    float *du = p->du, *ddelta = p->ddelta, *dz = p->dz, *dA = p->dA, *dD = p->dD, *ddelta_bias = p->ddelta_bias;
    float *dBm = p->dBm, *dCm = p->dCm, *dh0 = p->dh0;
    const ptrdiff_t ld_du = p->ld_du, ld_ddelta = p->ld_ddelta, ld_dz = p->ld_dz, ld_dbc = p->ld_dbc;
    if (Bsz <= 0 || e_end <= e_begin || N < 0) return;
    const int Lp = L > 0 ? L : 0;
    const size_t rows = (size_t)Bsz * Lp;                                   // (b, t) rows
    double *hs = malloc(sizeof(double) * ((size_t)(Lp + 1) * N + 1));      // (L + 1, N): h_-1 .. h_L-1
    double *g = malloc(sizeof(double) * ((size_t)N + 1));                   // (N): a_t+1 g_t+1
    double *dAe = malloc(sizeof(double) * ((size_t)N + 1));                 // (N)
    double *dBC = calloc(2 * rows * (size_t)N + 1, sizeof(double));         // (2, Bsz, L, N): dB then dC
    if (!hs || !g || !dAe || !dBC) {
        fprintf(stderr, "mk_scan_bwd_ref: out of memory\n");
        abort();
    }
    double *dBd = dBC, *dCd = dBC + rows * N;
    for (int b = 0; b < Bsz; b++) {
        const ptrdiff_t row0 = (ptrdiff_t)b * Lp;
        for (int e = e_begin; e < e_end; e++) {
            const ptrdiff_t he = ((ptrdiff_t)b * E + e) * N;                // offset of (b, e, 0) in h0 / dh0
            const double bias = delta_bias ? delta_bias[e] : 0.0, De = D ? D[e] : 0.0;
            for (int n = 0; n < N; n++) hs[n] = h0 ? h0[he + n] : 0.0;
            for (int t = 0; t < Lp; t++) {                                  // forward, every state kept
                const ptrdiff_t r = row0 + t;
                const double x = delta[r * ld_delta + e] + bias;
                const double dt = delta_softplus ? bwd_softplus_d(x) : x, ut = u[r * ld_u + e];
                for (int n = 0; n < N; n++)
                    hs[(t + 1) * N + n] = exp(dt * A[(ptrdiff_t)e * N + n]) * hs[t * N + n]
                                        + dt * Bm[r * ld_bc + n] * ut;
            }
            for (int n = 0; n < N; n++) { g[n] = 0.0; dAe[n] = 0.0; }
            double dDe = 0.0, dbe = 0.0;
            for (int t = Lp - 1; t >= 0; t--) {                             // reverse
                const ptrdiff_t r = row0 + t;
                const double x = delta[r * ld_delta + e] + bias;
                const double dt = delta_softplus ? bwd_softplus_d(x) : x, ut = u[r * ld_u + e];
                const double *ht = hs + (t + 1) * N, *hp = hs + t * N;      // h_t, h_t-1
                double yt = De * ut;
                for (int n = 0; n < N; n++) yt += Cm[r * ld_bc + n] * ht[n];
                const double dyt = dy[r * ld_dy + e];
                double dyp = dyt;
                if (z) {
                    const double zt = z[r * ld_z + e], s = bwd_sigmoid_d(zt);
                    dyp = dyt * zt * s;
                    if (dz) dz[r * ld_dz + e] = (float)(dyt * yt * s * (1.0 + zt * (1.0 - s)));
                }
                dDe += dyp * ut;
                double sB = 0.0, ddt = 0.0;
                for (int n = 0; n < N; n++) {
                    const double An = A[(ptrdiff_t)e * N + n], at = exp(dt * An);
                    const double Bn = Bm[r * ld_bc + n], Cn = Cm[r * ld_bc + n];
                    const double gn = dyp * Cn + g[n];                      // g_t,n
                    dCd[r * N + n] += dyp * ht[n];
                    dBd[r * N + n] += gn * dt * ut;
                    sB += gn * Bn;
                    ddt += gn * (An * at * hp[n] + Bn * ut);
                    dAe[n] += gn * dt * at * hp[n];
                    g[n] = at * gn;                                         // a_t g_t, used at step t - 1
                }
                du[r * ld_du + e] = (float)(dyp * De + dt * sB);
                const double dd = !delta_softplus ? ddt : x > 20.0 ? ddt : ddt * bwd_sigmoid_d(x);
                ddelta[r * ld_ddelta + e] = (float)dd;
                dbe += dd;
            }
            for (int n = 0; n < N; n++) {
                dA[(ptrdiff_t)e * N + n] += (float)dAe[n];
                if (dh0) dh0[he + n] = (float)g[n];
            }
            if (D && dD) dD[e] += (float)dDe;
            if (delta_bias && ddelta_bias) ddelta_bias[e] += (float)dbe;
        }
    }
    for (size_t r = 0; r < rows; r++)
        for (int n = 0; n < N; n++) {
            dBm[(ptrdiff_t)r * ld_dbc + n] += (float)dBd[r * N + n];
            dCm[(ptrdiff_t)r * ld_dbc + n] += (float)dCd[r * N + n];
        }
    free(hs); free(g); free(dAe); free(dBC);
}

// MARK: - Portable (plain C over 16 lanes; the compiler vectorises the lane loops)

#define BWD_W_PORTABLE 16

// One row (step i, row r) of block k; the spec of every prep.
static void bwd_prep_row_portable(const mk_scan_bwd_params *a, const bwd_block *k, ptrdiff_t r, int i, int full) {
    enum { W = BWD_W_PORTABLE };
    const int e0 = k->e0, cnt = k->cnt;
    float uu[W], x[W], dyv[W], zz[W];                                     // (W)
    for (int j = 0; j < W; j++) {
        uu[j] = 0.0f; dyv[j] = 0.0f; zz[j] = 0.0f;
        x[j] = (a->fwd.delta_bias && j < cnt) ? a->fwd.delta_bias[e0 + j] : 0.0f;
    }
    for (int j = 0; j < cnt; j++) {
        uu[j] = a->fwd.u[r * a->fwd.ld_u + e0 + j];
        x[j] += a->fwd.delta[r * a->fwd.ld_delta + e0 + j];
    }
    float *dt = BWD_STEP(k, i, BWD_DT, W), *dtu = BWD_STEP(k, i, BWD_DTU, W), *sig = BWD_STEP(k, i, BWD_SIG, W);  // (W)
    for (int j = 0; j < W; j++) {
        const float xb = x[j];
        float d = xb, s = 1.0f;                                           // dt and d dt / d delta
        if (a->fwd.delta_softplus) {
            const float e = mk_expf(-fabsf(xb));
            d = (xb > 0.0f ? xb : 0.0f) + scan_log1p01(e);
            s = (xb >= 0.0f ? 1.0f : e) / (1.0f + e);
            if (xb > SCAN_SOFTPLUS_THRESHOLD) { d = xb; s = 1.0f; }
        }
        dt[j] = d;
        dtu[j] = d * uu[j];
        sig[j] = s;
    }
    if (!full) return;
    for (int j = 0; j < cnt; j++) {
        dyv[j] = a->dy[r * a->ld_dy + e0 + j];
        if (a->fwd.z) zz[j] = a->fwd.z[r * a->fwd.ld_z + e0 + j];
    }
    float *dyp = BWD_STEP(k, i, BWD_DYP, W), *dyd = BWD_STEP(k, i, BWD_DYD, W);                          // (W)
    for (int j = 0; j < W; j++) {
        float p = dyv[j];
        if (a->fwd.z) {
            const float s = 1.0f / (1.0f + mk_expf(-zz[j]));
            p = dyv[j] * zz[j] * s;                                       // dy silu(z)
            dyd[j] = dyv[j] * s * (1.0f + zz[j] * (1.0f - s));            // dy silu'(z)
        }
        dyp[j] = p;
        k->dD[j] += p * uu[j];
        BWD_STEP(k, i, BWD_U, W)[j] = uu[j];
        BWD_STEP(k, i, BWD_Y, W)[j] = 0.0f;
        BWD_STEP(k, i, BWD_SB, W)[j] = 0.0f;
        BWD_STEP(k, i, BWD_QA, W)[j] = 0.0f;
    }
}

static void bwd_prep_portable(const mk_scan_bwd_params *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full) {
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) bwd_prep_row_portable(a, ks + q, r0 + i, i, full);
}

// Spec per lane j, step t (the forward of the reference): a = 2^(dt At2[n]) = exp(dt A[n]);
// ah = a h[n]; h[n] = ah + dt u B[t,n]; y += C[t,n] h[n].
static void bwd_sweep_portable(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt,
                               const float *Hin, float *Hout, int mode) {
    enum { W = BWD_W_PORTABLE };
    const int N = a->fwd.N;
    float *H = Hout;                                                      // (N, W) running state
    float Hbuf[mode == BWD_BOUNDARY ? 1 : (N > 0 ? N : 1) * W];           // (N, W) when Hout is not used
    if (mode != BWD_BOUNDARY) H = Hbuf;
    memcpy(H, Hin, sizeof(float) * (size_t)N * W);
    for (int i = 0; i < nt; i++) {
        const float *Bt = a->fwd.Bm + (r0 + i) * a->fwd.ld_bc, *Ct = a->fwd.Cm + (r0 + i) * a->fwd.ld_bc;   // (N)
        const float *dt = BWD_STEP(k, i, BWD_DT, W), *dtu = BWD_STEP(k, i, BWD_DTU, W);           // (W)
        float yacc[W];                                                    // (W)
        for (int j = 0; j < W; j++) yacc[j] = 0.0f;
        for (int n = 0; n < N; n++) {
            float *hn = H + n * W;
            const float *At = k->At2 + n * W;
            float *ahp = w->ha + ((ptrdiff_t)i * N + n) * 2 * W, *ap = ahp + W;                     // (W) each
            for (int j = 0; j < W; j++) {
                const float av = scan_exp2(dt[j] * At[j]);
                const float ah = av * hn[j];
                hn[j] = ah + dtu[j] * Bt[n];
                if (mode != BWD_BOUNDARY) { ahp[j] = ah; ap[j] = av; }
                yacc[j] += Ct[n] * hn[j];
            }
        }
        if (mode == BWD_RECOMPUTE_Y)
            for (int j = 0; j < W; j++) BWD_STEP(k, i, BWD_Y, W)[j] += yacc[j];
    }
}

// Spec per lane j, step t (reverse): g = dyp C[t,n] + g; pC += dyp h_t; pB += g dt u; sB += g B[t,n];
// q = g a h_t-1; qA += A[n] q; dA[n] += dt q; g = a g.
static void bwd_rev_portable(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt) {
    enum { W = BWD_W_PORTABLE };
    const int N = a->fwd.N;
    for (int i = nt - 1; i >= 0; i--) {
        const float *Bt = a->fwd.Bm + (r0 + i) * a->fwd.ld_bc, *Ct = a->fwd.Cm + (r0 + i) * a->fwd.ld_bc;   // (N)
        const float *dyp = BWD_STEP(k, i, BWD_DYP, W), *dt = BWD_STEP(k, i, BWD_DT, W), *dtu = BWD_STEP(k, i, BWD_DTU, W);      // (W)
        float sB[W], qA[W];                                               // (W)
        for (int j = 0; j < W; j++) { sB[j] = 0.0f; qA[j] = 0.0f; }
        for (int n = 0; n < N; n++) {
            const ptrdiff_t off = ((ptrdiff_t)i * N + n) * 2 * W;
            const float *ah = w->ha + off, *av = ah + W, *An = k->Av + n * W;                      // (W) each
            float *pB = w->pbc + off, *pC = pB + W, *g = k->g + n * W, *dA = k->dA + n * W;        // (W) each
            const float Bn = Bt[n], Cn = Ct[n];
            for (int j = 0; j < W; j++) {
                const float gn = dyp[j] * Cn + g[j];
                pC[j] += dyp[j] * (ah[j] + dtu[j] * Bn);
                pB[j] += gn * dtu[j];
                sB[j] += gn * Bn;
                const float q = gn * ah[j];
                qA[j] += q * An[j];
                dA[j] += dt[j] * q;
                g[j] = av[j] * gn;
            }
        }
        for (int j = 0; j < W; j++) { BWD_STEP(k, i, BWD_SB, W)[j] += sB[j]; BWD_STEP(k, i, BWD_QA, W)[j] += qA[j]; }
    }
}

static void bwd_finish_portable(const mk_scan_bwd_params *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt) {
    enum { W = BWD_W_PORTABLE };
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const ptrdiff_t r = r0 + i;
            const float *st = BWD_STEP(k, i, 0, W);                       // (BWD_NSTEP, W)
            for (int j = 0; j < k->cnt; j++) {
                const int e = k->e0 + j;
                const float Dv = a->fwd.D ? a->fwd.D[e] : 0.0f;
                const float sB = st[BWD_SB * W + j], uu = st[BWD_U * W + j];
                const float ddt = uu * sB + st[BWD_QA * W + j];
                const float dd = a->fwd.delta_softplus ? ddt * st[BWD_SIG * W + j] : ddt;
                a->du[r * a->ld_du + e] = st[BWD_DYP * W + j] * Dv + st[BWD_DT * W + j] * sB;
                a->ddelta[r * a->ld_ddelta + e] = dd;
                k->dbias[j] += dd;
                if (a->fwd.z && a->dz) a->dz[r * a->ld_dz + e] = st[BWD_DYD * W + j] * (st[BWD_Y * W + j] + Dv * uu);
            }
        }
}

// Flat over the nt N (t, n) items of the chunk: sums[f] = sum_j p[f, j] (p: pB or pC, items 2 W floats
// apart in pbc); p back to zero; out rows += sums.
static void bwd_reduce_one_portable(const mk_scan_bwd_params *a, const bwd_work *w, float *p, float *out, ptrdiff_t r0, int nt) {
    enum { W = BWD_W_PORTABLE };
    const int N = a->fwd.N, items = nt * N;
    for (int f = 0; f < items; f++) {
        float s = 0.0f;
        for (int j = 0; j < W; j++) { s += p[(ptrdiff_t)f * 2 * W + j]; p[(ptrdiff_t)f * 2 * W + j] = 0.0f; }
        w->sums[f] = s;
    }
    for (int i = 0; i < nt; i++)
        for (int n = 0; n < N; n++) out[(r0 + i) * a->ld_dbc + n] += w->sums[i * N + n];
}

static void bwd_reduce_portable(const mk_scan_bwd_params *a, const bwd_work *w, ptrdiff_t r0, int nt) {
    bwd_reduce_one_portable(a, w, w->pbc, a->dBm, r0, nt);
    bwd_reduce_one_portable(a, w, w->pbc + BWD_W_PORTABLE, a->dCm, r0, nt);
}

static const bwd_isa scan_bwd_portable = {
    BWD_W_PORTABLE, bwd_prep_portable, bwd_sweep_portable, bwd_rev_portable, bwd_finish_portable,
    bwd_reduce_portable,
};

// MARK: - Driver (ISA-independent): groups of blocks, boundary sweep, chunks in reverse

// Block state of block k at e0 (cnt channels): A^T, zero accumulators, Hb[0] = h0 (or 0). W floats per row.
static void bwd_block_init(const mk_scan_bwd_params *a, bwd_block *k, int b, int W) {
    const int N = a->fwd.N;
    const float *hb = a->fwd.h0 ? a->fwd.h0 + ((ptrdiff_t)b * a->fwd.E + k->e0) * N : NULL;   // (cnt, N)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < W; j++) {
            const float An = j < k->cnt ? a->fwd.A[(ptrdiff_t)(k->e0 + j) * N + n] : 0.0f;
            k->At2[n * W + j] = An * SCAN_LOG2E;
            k->Av[n * W + j] = An;
            k->g[n * W + j] = 0.0f;
            k->dA[n * W + j] = 0.0f;
            k->Hb[n * W + j] = (j < k->cnt && hb) ? hb[(ptrdiff_t)j * N + n] : 0.0f;
        }
    for (int j = 0; j < W; j++) { k->dD[j] = 0.0f; k->dbias[j] = 0.0f; }
}

// Adds the block's dA, dD, dbias into the outputs; writes dh0 = a_0 g_0.
static void bwd_block_flush(const mk_scan_bwd_params *a, const bwd_block *k, int b, int W) {
    const int N = a->fwd.N;
    for (int j = 0; j < k->cnt; j++) {
        const int e = k->e0 + j;
        for (int n = 0; n < N; n++) {
            a->dA[(ptrdiff_t)e * N + n] += k->dA[n * W + j];
            if (a->dh0) a->dh0[((ptrdiff_t)b * a->fwd.E + e) * N + n] = k->g[n * W + j];
        }
        if (a->fwd.D && a->dD) a->dD[e] += k->dD[j];
        if (a->fwd.delta_bias && a->ddelta_bias) a->ddelta_bias[e] += k->dbias[j];
    }
}

void mk_scan_bwd(const mk_scan_bwd_params *p, int e_begin, int e_end) {
    const int Bsz = p->fwd.Bsz, L = p->fwd.L, E = p->fwd.E, N = p->fwd.N;
    float *dh0 = p->dh0;
    if (Bsz <= 0 || e_end <= e_begin || N < 0) return;
    if (L <= 0) {                                                         // no steps: dh0 = 0, nothing else
        if (dh0)
            for (int b = 0; b < Bsz; b++)
                memset(dh0 + ((ptrdiff_t)b * E + e_begin) * N, 0, sizeof(float) * (size_t)(e_end - e_begin) * N);
        return;
    }
    const bwd_isa *isa = SCAN_ISA(scan_bwd);
    const int W = isa->W;                                                 // channels per block
    const int T = BWD_T;                                                  // steps per chunk
    const int nC = (L + T - 1) / T;                                       // chunks
    const size_t NW = (size_t)N * W;                                      // one (N, W) array
    const size_t blockFloats = 4 * NW + 2 * (size_t)W + (size_t)nC * NW;  // At2, Av, g, dA, dD, dbias, Hb
    const int blocksAll = (e_end - e_begin + W - 1) / W;
    size_t Gz = BWD_GROUP_BYTES / (blockFloats * sizeof(float));
    Gz = Gz < 1 ? 1 : Gz > BWD_GROUP_MAX ? BWD_GROUP_MAX : Gz;
    const int G = (int)Gz < blocksAll ? (int)Gz : blocksAll;              // blocks per group
    const size_t chunkNW = (size_t)T * NW * 2;                            // one (T, N, 2, W) array
    const size_t padNW = 32 * (size_t)W;                                  // zero tail of pbc for the reduction
    const size_t stepFloats = (size_t)T * BWD_NSTEP * W + 16;             // (T, BWD_NSTEP, W) + a line (staggers the slots)
    const size_t sumsFloats = ((size_t)T * N + 16 + 15) / 16 * 16;
    const size_t total = (size_t)G * blockFloats + BWD_KB * stepFloats + chunkNW + (chunkNW + padNW) + sumsFloats;
    float *mem = NULL;
    if (posix_memalign((void **)&mem, 64, total * sizeof(float)) != 0 || !mem) {
        fprintf(stderr, "mk_scan_bwd: cannot allocate %zu bytes\n", total * sizeof(float));
        abort();
    }
    float *cur = mem;
#define BWD_TAKE(n) (cur += (n), cur - (n))
    bwd_block blocks[BWD_GROUP_MAX];
    for (int k = 0; k < G; k++) {
        blocks[k].At2 = BWD_TAKE(NW);
        blocks[k].Av = BWD_TAKE(NW);
        blocks[k].g = BWD_TAKE(NW);
        blocks[k].dA = BWD_TAKE(NW);
        blocks[k].dD = BWD_TAKE((size_t)W);
        blocks[k].dbias = BWD_TAKE((size_t)W);
        blocks[k].Hb = BWD_TAKE((size_t)nC * NW);
    }
    bwd_work w;
    w.step = BWD_TAKE(BWD_KB * stepFloats);
    w.ha = BWD_TAKE(chunkNW);
    w.pbc = BWD_TAKE(chunkNW + padNW);
    w.sums = BWD_TAKE(sumsFloats);
#undef BWD_TAKE
    memset(w.step, 0, sizeof(float) * BWD_KB * stepFloats);
    memset(w.pbc, 0, sizeof(float) * (chunkNW + padNW));                  // invariant: zero between chunks
    const int recomputeMode = (p->fwd.z && p->dz) ? BWD_RECOMPUTE_Y : BWD_RECOMPUTE;

    for (int b = 0; b < Bsz; b++) {
        const ptrdiff_t row0 = (ptrdiff_t)b * L;                          // first time row of batch b
        for (int g0 = e_begin; g0 < e_end; g0 += G * W) {
            const int left = (e_end - g0 + W - 1) / W;
            const int nb = left < G ? left : G;                           // blocks in this group
            for (int k = 0; k < nb; k++) {
                blocks[k].e0 = g0 + k * W;
                blocks[k].cnt = e_end - blocks[k].e0 < W ? e_end - blocks[k].e0 : W;
                blocks[k].step = w.step + (size_t)(k % BWD_KB) * stepFloats;   // passes of BWD_KB blocks
                bwd_block_init(p, &blocks[k], b, W);
            }
            // 1. Boundary sweep: Hb[c + 1] = the state after chunk c (the last chunk is not needed).
            for (int c = 0; c + 1 < nC; c++) {
                const ptrdiff_t r0 = row0 + (ptrdiff_t)c * T;
                for (int k0 = 0; k0 < nb; k0 += BWD_KB) {
                    const int kb = nb - k0 < BWD_KB ? nb - k0 : BWD_KB;  // blocks in this pass
                    isa->prep(p, blocks + k0, kb, r0, T, 0);
                    for (int k = k0; k < k0 + kb; k++)
                        isa->sweep(p, &w, &blocks[k], r0, T, blocks[k].Hb + c * NW,
                                   blocks[k].Hb + (c + 1) * NW, BWD_BOUNDARY);
                }
            }
            // 2. Chunks in reverse: recompute the chunk's states from Hb[c], then the reverse sweep.
            for (int c = nC - 1; c >= 0; c--) {
                const int t0 = c * T, nt = L - t0 < T ? L - t0 : T;
                const ptrdiff_t r0 = row0 + t0;
                for (int k0 = 0; k0 < nb; k0 += BWD_KB) {
                    const int kb = nb - k0 < BWD_KB ? nb - k0 : BWD_KB;
                    isa->prep(p, blocks + k0, kb, r0, nt, 1);
                    for (int k = k0; k < k0 + kb; k++) {
                        isa->sweep(p, &w, &blocks[k], r0, nt, blocks[k].Hb + c * NW, NULL, recomputeMode);
                        isa->rev(p, &w, &blocks[k], r0, nt);
                    }
                    isa->finish(p, blocks + k0, kb, r0, nt);
                }
                isa->reduce(p, &w, r0, nt);
            }
            for (int k = 0; k < nb; k++) bwd_block_flush(p, &blocks[k], b, W);
        }
    }
    free(mem);
}
