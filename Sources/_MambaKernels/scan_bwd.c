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
// Vector math: scan_math.h (the same exp / 2^t / log1p / softplus as the forward). sigmoid(x) comes with
// softplus: w = exp(-|x|), softplus = max(x, 0) + log1p(w), sigmoid = (x >= 0 ? 1 : w) / (1 + w).
#include "MambaKernels.h"
#include "mk_math.h"
#include "scan_math.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BWD_T MK_SCAN_BWD_CHUNK         // time steps per chunk
#define BWD_GROUP_BYTES (1 << 20)       // Hb + block state budget of a group of channel blocks
#define BWD_GROUP_MAX 64                // blocks per group at most
#define BWD_PF 8                        // prefetch distance in rows (prep)
#define BWD_KB 4                        // blocks per elementwise pass (prep, finish): fewer TLB misses

// The arguments of one call, with strides widened once.
typedef struct {
    const float *u; ptrdiff_t ld_u;                   // (Bsz, L, E)
    const float *delta; ptrdiff_t ld_delta;           // (Bsz, L, E)
    const float *A;                                   // (E, N)
    const float *Bm, *Cm; ptrdiff_t ld_bc;            // (Bsz, L, N)
    const float *D, *delta_bias;                      // (E) or NULL
    int softplus;
    const float *z; ptrdiff_t ld_z;                   // (Bsz, L, E) or NULL
    const float *h0;                                  // (Bsz, E, N) or NULL
    const float *dy; ptrdiff_t ld_dy;                 // (Bsz, L, E)
    float *du; ptrdiff_t ld_du;                       // (Bsz, L, E)
    float *ddelta; ptrdiff_t ld_ddelta;               // (Bsz, L, E)
    float *dz; ptrdiff_t ld_dz;                       // (Bsz, L, E) or NULL
    float *dA, *dD, *ddelta_bias;                     // (E, N), (E), (E); the last two may be NULL
    float *dBm, *dCm; ptrdiff_t ld_dbc;               // (Bsz, L, N)
    float *dh0;                                       // (Bsz, E, N) or NULL
    int L, E, N;
} bwd_args;

// Per-chunk work buffers, reused by every block in turn (64-byte aligned). What one step or one (t, n)
// needs is contiguous (one set of cache lines, no 4 KiB aliasing between separate arrays).
enum { BWD_DT, BWD_DTU, BWD_U, BWD_SIG, BWD_DYP, BWD_DYD, BWD_Y, BWD_SB, BWD_QA, BWD_NSTEP };
#define BWD_STEP(k, i, f, W) ((k)->step + ((ptrdiff_t)(i) * BWD_NSTEP + (f)) * (W))   // step vector f of step i of block k
// step vectors: dt_t, dt_t u_t, u_t, d dt / d delta (sigmoid or 1), dy silu(z), dy silu'(z) (only with z),
// y = sum_n C h (pre-gate, without D u; only with z), sum_n g B, sum_n A g a h_t-1
typedef struct {
    float *step;            // (BWD_KB, T, BWD_NSTEP, W) (+ a line each): the step vectors above, per block of a pass
    float *ha;              // (T, N, 2, W): a_t h_t-1 and a_t of the chunk being differentiated
    float *pbc;             // (T, N, 2, W) + 32 zero vectors: per-lane partial dB and dC, summed over the group
    float *sums;            // (T N + 16): reduced dB or dC of the chunk
} bwd_work;

// One block of W channels [e0, e0 + cnt): the state that lives across chunks (64-byte aligned).
typedef struct {
    int e0, cnt;
    float *At2, *Av;        // (N, W): log2(e) A^T (for 2^t) and A^T; 0 beyond cnt
    float *g;               // (N, W): a_t g_t of the last step done (the carry into step t - 1)
    float *dA;              // (N, W): accumulated dA of these channels
    float *dD, *dbias;      // (W)
    float *Hb;              // (nC, N, W): states h at chunk starts (h_-1 for chunk 0)
    float *step;            // (T, BWD_NSTEP, W): its step vectors in the current pass (a slice of bwd_work.step)
} bwd_block;

enum { BWD_BOUNDARY = 0, BWD_RECOMPUTE = 1, BWD_RECOMPUTE_Y = 2 };

// The five phases of one ISA. r0 = b L + t0 is the chunk's first row, nt its length.
typedef struct {
    int W;
    // elementwise over the chunk for kb <= BWD_KB consecutive blocks, row by row (one pass over each row's
    // pages for all of them): dt, dtu (full = 0); also uu, sig, dyp, dyd, dD, zeroes y, sB, qA (full = 1)
    void (*prep)(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full);
    // forward over the chunk from Hin (N, W): BOUNDARY writes the final state to Hout; RECOMPUTE stores ah, a
    void (*sweep)(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt,
                  const float *Hin, float *Hout, int mode);
    // reverse over the chunk: g, dA of the block, pB, pC, sB, qA
    void (*rev)(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt);
    // du, ddelta, dz rows of kb consecutive blocks, row by row; dbias
    void (*finish)(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt);
    // dBm, dCm rows of the chunk += lane sums of pB, pC; pB, pC back to zero
    void (*reduce)(const bwd_args *a, const bwd_work *w, ptrdiff_t r0, int nt);
} bwd_isa;

// MARK: - Reference (the spec, in Double; stores the L + 1 states of one channel)

MK_INLINE double bwd_softplus_d(double x) { return x > 20.0 ? x : log1p(exp(x)); }
MK_INLINE double bwd_sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

void mk_scan_bwd_ref(const float *u, int ld_u, const float *delta, int ld_delta,
                     const float *A, const float *Bm, const float *Cm, int ld_bc,
                     const float *D, const float *delta_bias, int delta_softplus,
                     const float *z, int ld_z, const float *h0,
                     const float *dy, int ld_dy,
                     float *du, int ld_du, float *ddelta, int ld_ddelta, float *dz, int ld_dz,
                     float *dA, float *dD, float *ddelta_bias, float *dBm, float *dCm, int ld_dbc, float *dh0,
                     int Bsz, int L, int E, int N, int e_begin, int e_end) {
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
static void bwd_prep_row_portable(const bwd_args *a, const bwd_block *k, ptrdiff_t r, int i, int full) {
    enum { W = BWD_W_PORTABLE };
    const int e0 = k->e0, cnt = k->cnt;
    float uu[W], x[W], dyv[W], zz[W];                                     // (W)
    for (int j = 0; j < W; j++) {
        uu[j] = 0.0f; dyv[j] = 0.0f; zz[j] = 0.0f;
        x[j] = (a->delta_bias && j < cnt) ? a->delta_bias[e0 + j] : 0.0f;
    }
    for (int j = 0; j < cnt; j++) {
        uu[j] = a->u[r * a->ld_u + e0 + j];
        x[j] += a->delta[r * a->ld_delta + e0 + j];
    }
    float *dt = BWD_STEP(k, i, BWD_DT, W), *dtu = BWD_STEP(k, i, BWD_DTU, W), *sig = BWD_STEP(k, i, BWD_SIG, W);  // (W)
    for (int j = 0; j < W; j++) {
        const float xb = x[j];
        float d = xb, s = 1.0f;                                           // dt and d dt / d delta
        if (a->softplus) {
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
        if (a->z) zz[j] = a->z[r * a->ld_z + e0 + j];
    }
    float *dyp = BWD_STEP(k, i, BWD_DYP, W), *dyd = BWD_STEP(k, i, BWD_DYD, W);                          // (W)
    for (int j = 0; j < W; j++) {
        float p = dyv[j];
        if (a->z) {
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

static void bwd_prep_portable(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full) {
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) bwd_prep_row_portable(a, ks + q, r0 + i, i, full);
}

// Spec per lane j, step t (the forward of the reference): a = 2^(dt At2[n]) = exp(dt A[n]);
// ah = a h[n]; h[n] = ah + dt u B[t,n]; y += C[t,n] h[n].
static void bwd_sweep_portable(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt,
                               const float *Hin, float *Hout, int mode) {
    enum { W = BWD_W_PORTABLE };
    const int N = a->N;
    float *H = Hout;                                                      // (N, W) running state
    float Hbuf[mode == BWD_BOUNDARY ? 1 : (N > 0 ? N : 1) * W];           // (N, W) when Hout is not used
    if (mode != BWD_BOUNDARY) H = Hbuf;
    memcpy(H, Hin, sizeof(float) * (size_t)N * W);
    for (int i = 0; i < nt; i++) {
        const float *Bt = a->Bm + (r0 + i) * a->ld_bc, *Ct = a->Cm + (r0 + i) * a->ld_bc;   // (N)
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
static void bwd_rev_portable(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt) {
    enum { W = BWD_W_PORTABLE };
    const int N = a->N;
    for (int i = nt - 1; i >= 0; i--) {
        const float *Bt = a->Bm + (r0 + i) * a->ld_bc, *Ct = a->Cm + (r0 + i) * a->ld_bc;   // (N)
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

static void bwd_finish_portable(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt) {
    enum { W = BWD_W_PORTABLE };
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const ptrdiff_t r = r0 + i;
            const float *st = BWD_STEP(k, i, 0, W);                       // (BWD_NSTEP, W)
            for (int j = 0; j < k->cnt; j++) {
                const int e = k->e0 + j;
                const float Dv = a->D ? a->D[e] : 0.0f;
                const float sB = st[BWD_SB * W + j], uu = st[BWD_U * W + j];
                const float ddt = uu * sB + st[BWD_QA * W + j];
                const float dd = a->softplus ? ddt * st[BWD_SIG * W + j] : ddt;
                a->du[r * a->ld_du + e] = st[BWD_DYP * W + j] * Dv + st[BWD_DT * W + j] * sB;
                a->ddelta[r * a->ld_ddelta + e] = dd;
                k->dbias[j] += dd;
                if (a->z && a->dz) a->dz[r * a->ld_dz + e] = st[BWD_DYD * W + j] * (st[BWD_Y * W + j] + Dv * uu);
            }
        }
}

// Flat over the nt N (t, n) items of the chunk: sums[f] = sum_j p[f, j] (p: pB or pC, items 2 W floats
// apart in pbc); p back to zero; out rows += sums.
static void bwd_reduce_one_portable(const bwd_args *a, const bwd_work *w, float *p, float *out, ptrdiff_t r0, int nt) {
    enum { W = BWD_W_PORTABLE };
    const int N = a->N, items = nt * N;
    for (int f = 0; f < items; f++) {
        float s = 0.0f;
        for (int j = 0; j < W; j++) { s += p[(ptrdiff_t)f * 2 * W + j]; p[(ptrdiff_t)f * 2 * W + j] = 0.0f; }
        w->sums[f] = s;
    }
    for (int i = 0; i < nt; i++)
        for (int n = 0; n < N; n++) out[(r0 + i) * a->ld_dbc + n] += w->sums[i * N + n];
}

static void bwd_reduce_portable(const bwd_args *a, const bwd_work *w, ptrdiff_t r0, int nt) {
    bwd_reduce_one_portable(a, w, w->pbc, a->dBm, r0, nt);
    bwd_reduce_one_portable(a, w, w->pbc + BWD_W_PORTABLE, a->dCm, r0, nt);
}

static const bwd_isa bwd_isa_portable = {
    BWD_W_PORTABLE, bwd_prep_portable, bwd_sweep_portable, bwd_rev_portable, bwd_finish_portable,
    bwd_reduce_portable,
};

#if defined(__x86_64__)

// MARK: - AVX-512 (16 channels per zmm)

#define BWD_W512 16

SCAN_TARGET512 MK_INLINE __mmask16 bwd_mask512(int cnt) {
    return cnt >= BWD_W512 ? (__mmask16)0xFFFF : (__mmask16)((1u << cnt) - 1u);
}

// Rows of u, delta (, dy, z) are usually pages apart: the kb blocks' lines of a row are read together
// (one TLB walk per row and stream instead of kb) and prefetched BWD_PF rows ahead. Spec: bwd_prep_row_portable.
SCAN_TARGET512 static void bwd_prep512(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const ptrdiff_t ld_u = a->ld_u, ld_d = a->ld_delta, ld_z = a->ld_z, ld_dy = a->ld_dy;
    const int e0 = ks[0].e0;                                              // blocks q at e0 + 16 q
    const float *ur = a->u + r0 * ld_u + e0;                              // (nt, 16 kb) stride ld_u
    const float *dr = a->delta + r0 * ld_d + e0;                          // (nt, 16 kb) stride ld_d
    const float *zr = a->z ? a->z + r0 * ld_z + e0 : NULL;               // (nt, 16 kb) stride ld_z
    const float *dyr = a->dy + r0 * ld_dy + e0;                           // (nt, 16 kb) stride ld_dy
    for (int i = 0; i < nt; i++) {
        if (i + BWD_PF < nt)
            for (int q = 0; q < kb; q++) {
                _mm_prefetch((const char *)(ur + (i + BWD_PF) * ld_u + q * 16), _MM_HINT_T0);
                _mm_prefetch((const char *)(dr + (i + BWD_PF) * ld_d + q * 16), _MM_HINT_T0);
                if (full) {
                    _mm_prefetch((const char *)(dyr + (i + BWD_PF) * ld_dy + q * 16), _MM_HINT_T0);
                    if (zr) _mm_prefetch((const char *)(zr + (i + BWD_PF) * ld_z + q * 16), _MM_HINT_T0);
                }
            }
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const __mmask16 m = bwd_mask512(k->cnt);
            const __m512 bias = a->delta_bias ? _mm512_maskz_loadu_ps(m, a->delta_bias + k->e0) : zero;
            const __m512 uv = _mm512_maskz_loadu_ps(m, ur + i * ld_u + q * 16);
            const __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dr + i * ld_d + q * 16), bias);
            __m512 dt = x, sig = one;
            if (a->softplus) {
                const __m512 e = scan_exp512(_mm512_sub_ps(zero, _mm512_abs_ps(x)));   // exp(-|x|)
                const __m512 sp = _mm512_add_ps(_mm512_max_ps(x, zero), scan_log1p01_512(e));
                const __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(SCAN_SOFTPLUS_THRESHOLD), _CMP_GT_OQ);
                dt = _mm512_mask_blend_ps(big, sp, x);
                if (full) {
                    const __mmask16 pos = _mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ);
                    sig = _mm512_div_ps(_mm512_mask_blend_ps(pos, e, one), _mm512_add_ps(one, e));
                    sig = _mm512_mask_blend_ps(big, sig, one);
                }
            }
            _mm512_store_ps(BWD_STEP(k, i, BWD_DT, 16), dt);
            _mm512_store_ps(BWD_STEP(k, i, BWD_DTU, 16), _mm512_mul_ps(dt, uv));
            if (!full) continue;
            _mm512_store_ps(BWD_STEP(k, i, BWD_U, 16), uv);
            _mm512_store_ps(BWD_STEP(k, i, BWD_SIG, 16), sig);
            const __m512 dyv = _mm512_maskz_loadu_ps(m, dyr + i * ld_dy + q * 16);
            __m512 dyp = dyv;
            if (zr) {
                const __m512 zv = _mm512_maskz_loadu_ps(m, zr + i * ld_z + q * 16);
                const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, scan_exp512(_mm512_sub_ps(zero, zv))));
                dyp = _mm512_mul_ps(dyv, _mm512_mul_ps(zv, s));                              // dy silu(z)
                const __m512 ds = _mm512_mul_ps(s, _mm512_fmadd_ps(zv, _mm512_sub_ps(one, s), one));  // silu'(z)
                _mm512_store_ps(BWD_STEP(k, i, BWD_DYD, 16), _mm512_mul_ps(dyv, ds));
            }
            _mm512_store_ps(BWD_STEP(k, i, BWD_DYP, 16), dyp);
            _mm512_store_ps(k->dD, _mm512_fmadd_ps(dyp, uv, _mm512_load_ps(k->dD)));
            _mm512_store_ps(BWD_STEP(k, i, BWD_Y, 16), zero);
            _mm512_store_ps(BWD_STEP(k, i, BWD_SB, 16), zero);
            _mm512_store_ps(BWD_STEP(k, i, BWD_QA, 16), zero);
        }
    }
}

// Forward over the chunk for states [n0, n0 + NG) (NG a compile-time constant at each call site: h, At2
// in registers). Spec: bwd_sweep_portable.
SCAN_TARGET512 MK_INLINE void bwd_sweep512_group(const bwd_args *a, const bwd_work *w, const bwd_block *k,
                                                  ptrdiff_t r0, int nt, const float *Hin, float *Hout,
                                                  int n0, const int NG, const int mode) {
    const int N = a->N;
    const ptrdiff_t ld_bc = a->ld_bc;
    __m512 h[NG], At[NG];                                                 // registers
    for (int j = 0; j < NG; j++) {
        h[j] = _mm512_load_ps(Hin + (n0 + j) * 16);
        At[j] = _mm512_load_ps(k->At2 + (n0 + j) * 16);
    }
    const float *Bt = a->Bm + r0 * ld_bc + n0, *Ct = a->Cm + r0 * ld_bc + n0;   // (NG) per row
    for (int i = 0; i < nt; i++, Bt += ld_bc, Ct += ld_bc) {
        const __m512 dt = _mm512_load_ps(BWD_STEP(k, i, BWD_DT, 16)), dtu = _mm512_load_ps(BWD_STEP(k, i, BWD_DTU, 16));
        float *hap = w->ha + ((ptrdiff_t)i * N + n0) * 32;               // (NG, 2, 16): ah, a
        __m512 y0 = _mm512_setzero_ps(), y1 = _mm512_setzero_ps();
        SCAN_UNROLL
        for (int j = 0; j < NG; j++) {
            const __m512 av = scan_exp2_512(_mm512_mul_ps(dt, At[j]));
            const __m512 ah = _mm512_mul_ps(av, h[j]);
            h[j] = _mm512_fmadd_ps(dtu, _mm512_set1_ps(Bt[j]), ah);
            if (mode != BWD_BOUNDARY) {
                _mm512_store_ps(hap + j * 32, ah);
                _mm512_store_ps(hap + j * 32 + 16, av);
            }
            if (mode == BWD_RECOMPUTE_Y) {
                if (j & 1) y1 = _mm512_fmadd_ps(_mm512_set1_ps(Ct[j]), h[j], y1);
                else y0 = _mm512_fmadd_ps(_mm512_set1_ps(Ct[j]), h[j], y0);
            }
        }
        if (mode == BWD_RECOMPUTE_Y)
            _mm512_store_ps(BWD_STEP(k, i, BWD_Y, 16), _mm512_add_ps(_mm512_load_ps(BWD_STEP(k, i, BWD_Y, 16)), _mm512_add_ps(y0, y1)));
    }
    if (mode == BWD_BOUNDARY)
        for (int j = 0; j < NG; j++) _mm512_store_ps(Hout + (n0 + j) * 16, h[j]);
}

// Calls BODY(ng) over the states in groups of 8, then one of 4, 2, 1 (N = 17: 8, 8, 1).
#define BWD_FOR_GROUPS(N, MAXG, BODY)                                    \
    for (int n0 = 0; n0 < (N);) {                                        \
        const int rest = (N) - n0;                                       \
        if (rest >= 8 && (MAXG) >= 8) { BODY(8); n0 += 8; }              \
        else if (rest >= 4) { BODY(4); n0 += 4; }                        \
        else if (rest >= 2) { BODY(2); n0 += 2; }                        \
        else { BODY(1); n0 += 1; }                                       \
    }

SCAN_TARGET512 static void bwd_sweep512(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0,
                                        int nt, const float *Hin, float *Hout, int mode) {
#define BWD_SWEEP512(ng)                                                                                  \
    switch (mode) {                                                                                       \
    case BWD_BOUNDARY: bwd_sweep512_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_BOUNDARY); break;       \
    case BWD_RECOMPUTE: bwd_sweep512_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_RECOMPUTE); break;     \
    default: bwd_sweep512_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_RECOMPUTE_Y); break;              \
    }
    BWD_FOR_GROUPS(a->N, 8, BWD_SWEEP512)
#undef BWD_SWEEP512
}

// Reverse over the chunk for states [n0, n0 + NG): g, dA in registers. Spec: bwd_rev_portable.
SCAN_TARGET512 MK_INLINE void bwd_rev512_group(const bwd_args *a, const bwd_work *w, const bwd_block *k,
                                                ptrdiff_t r0, int nt, int n0, const int NG) {
    const int N = a->N;
    const ptrdiff_t ld_bc = a->ld_bc;
    __m512 g[NG], dA[NG];                                                 // registers
    for (int j = 0; j < NG; j++) {
        g[j] = _mm512_load_ps(k->g + (n0 + j) * 16);
        dA[j] = _mm512_load_ps(k->dA + (n0 + j) * 16);
    }
    const float *An = k->Av + n0 * 16;                                    // (NG, 16)
    const float *Bt = a->Bm + (r0 + nt - 1) * ld_bc + n0, *Ct = a->Cm + (r0 + nt - 1) * ld_bc + n0;  // (NG)
    for (int i = nt - 1; i >= 0; i--, Bt -= ld_bc, Ct -= ld_bc) {
        const __m512 dyp = _mm512_load_ps(BWD_STEP(k, i, BWD_DYP, 16)), dt = _mm512_load_ps(BWD_STEP(k, i, BWD_DT, 16));
        const __m512 dtu = _mm512_load_ps(BWD_STEP(k, i, BWD_DTU, 16));
        const ptrdiff_t off = ((ptrdiff_t)i * N + n0) * 32;
        const float *hap = w->ha + off;                                   // (NG, 2, 16): ah, a
        float *pp = w->pbc + off;                                         // (NG, 2, 16): pB, pC
        __m512 sB = _mm512_setzero_ps(), qA = _mm512_setzero_ps();
        SCAN_UNROLL
        for (int j = 0; j < NG; j++) {
            const __m512 Bn = _mm512_set1_ps(Bt[j]);
            const __m512 ah = _mm512_load_ps(hap + j * 32);
            const __m512 gn = _mm512_fmadd_ps(dyp, _mm512_set1_ps(Ct[j]), g[j]);      // g_t
            const __m512 h = _mm512_fmadd_ps(dtu, Bn, ah);                           // h_t
            _mm512_store_ps(pp + j * 32 + 16, _mm512_fmadd_ps(dyp, h, _mm512_load_ps(pp + j * 32 + 16)));
            _mm512_store_ps(pp + j * 32, _mm512_fmadd_ps(gn, dtu, _mm512_load_ps(pp + j * 32)));
            sB = _mm512_fmadd_ps(gn, Bn, sB);
            const __m512 q = _mm512_mul_ps(gn, ah);
            qA = _mm512_fmadd_ps(q, _mm512_load_ps(An + j * 16), qA);
            dA[j] = _mm512_fmadd_ps(dt, q, dA[j]);
            g[j] = _mm512_mul_ps(_mm512_load_ps(hap + j * 32 + 16), gn);              // a_t g_t
        }
        _mm512_store_ps(BWD_STEP(k, i, BWD_SB, 16), _mm512_add_ps(_mm512_load_ps(BWD_STEP(k, i, BWD_SB, 16)), sB));
        _mm512_store_ps(BWD_STEP(k, i, BWD_QA, 16), _mm512_add_ps(_mm512_load_ps(BWD_STEP(k, i, BWD_QA, 16)), qA));
    }
    for (int j = 0; j < NG; j++) {
        _mm512_store_ps(k->g + (n0 + j) * 16, g[j]);
        _mm512_store_ps(k->dA + (n0 + j) * 16, dA[j]);
    }
}

SCAN_TARGET512 static void bwd_rev512(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt) {
#define BWD_REV512(ng) bwd_rev512_group(a, w, k, r0, nt, n0, ng)
    BWD_FOR_GROUPS(a->N, 8, BWD_REV512)
#undef BWD_REV512
}

SCAN_TARGET512 static void bwd_finish512(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt) {
    const int e0 = ks[0].e0;                                              // blocks q at e0 + 16 q
    float *dur = a->du + r0 * a->ld_du + e0;                              // (nt, 16 kb) stride ld_du
    float *ddr = a->ddelta + r0 * a->ld_ddelta + e0;                      // (nt, 16 kb) stride ld_ddelta
    float *dzr = (a->z && a->dz) ? a->dz + r0 * a->ld_dz + e0 : NULL;    // (nt, 16 kb) stride ld_dz
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const __mmask16 m = bwd_mask512(k->cnt);
            const __m512 Dv = a->D ? _mm512_maskz_loadu_ps(m, a->D + k->e0) : _mm512_setzero_ps();
            const __m512 sB = _mm512_load_ps(BWD_STEP(k, i, BWD_SB, 16)), uu = _mm512_load_ps(BWD_STEP(k, i, BWD_U, 16));
            const __m512 dyp = _mm512_load_ps(BWD_STEP(k, i, BWD_DYP, 16));
            const __m512 du = _mm512_fmadd_ps(dyp, Dv, _mm512_mul_ps(_mm512_load_ps(BWD_STEP(k, i, BWD_DT, 16)), sB));
            __m512 dd = _mm512_fmadd_ps(uu, sB, _mm512_load_ps(BWD_STEP(k, i, BWD_QA, 16)));    // d dt
            if (a->softplus) dd = _mm512_mul_ps(dd, _mm512_load_ps(BWD_STEP(k, i, BWD_SIG, 16)));
            _mm512_store_ps(k->dbias, _mm512_add_ps(_mm512_load_ps(k->dbias), dd));
            _mm512_mask_storeu_ps(dur + i * a->ld_du + q * 16, m, du);
            _mm512_mask_storeu_ps(ddr + i * a->ld_ddelta + q * 16, m, dd);
            if (dzr) {
                const __m512 y = _mm512_fmadd_ps(Dv, uu, _mm512_load_ps(BWD_STEP(k, i, BWD_Y, 16)));   // pre-gate y
                _mm512_mask_storeu_ps(dzr + i * a->ld_dz + q * 16, m,
                                      _mm512_mul_ps(_mm512_load_ps(BWD_STEP(k, i, BWD_DYD, 16)), y));
            }
        }
}

// Lane sums of 16 vectors p + v 32, v < 16 (16 floats each) as one vector: a transpose-add tree, 15 adds.
SCAN_TARGET512 MK_INLINE __m512 bwd_hsum16_512(const float *p) {
    __m512 s[8], x[4], y[2];
    for (int i = 0; i < 8; i++) {       // 128-bit lane L of s[i]: [v2i, v2i+1, v2i, v2i+1] partial sums
        const __m512 v0 = _mm512_load_ps(p + (2 * i) * 32), v1 = _mm512_load_ps(p + (2 * i + 1) * 32);
        s[i] = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
    }
    for (int i = 0; i < 4; i++) {       // lane L of x[i]: sums over lane L of v4i .. v4i+3
        const __m512d a0 = _mm512_castps_pd(s[2 * i]), a1 = _mm512_castps_pd(s[2 * i + 1]);
        x[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a0, a1)), _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a1)));
    }
    for (int i = 0; i < 2; i++)         // [x2i lanes 0+1, x2i lanes 2+3, x2i+1 lanes 0+1, x2i+1 lanes 2+3]
        y[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x88), _mm512_shuffle_f32x4(y[0], y[1], 0xDD));
}

SCAN_TARGET512 static void bwd_reduce_one512(const bwd_args *a, const bwd_work *w, float *p, float *out,
                                             ptrdiff_t r0, int nt) {
    const int N = a->N, items = nt * N;                                   // (t, n) items, flat f = i N + n
    for (int f = 0; f < items; f += 16) {                                 // pbc has 16 zero pairs past the end
        _mm512_store_ps(w->sums + f, bwd_hsum16_512(p + (ptrdiff_t)f * 32));
        for (int v = 0; v < 16; v++) _mm512_store_ps(p + ((ptrdiff_t)f + v) * 32, _mm512_setzero_ps());
    }
    for (int i = 0; i < nt; i++) {
        float *o = out + (r0 + i) * a->ld_dbc;                            // (N)
        const float *s = w->sums + i * N;
        int n = 0;
        for (; n + 16 <= N; n += 16)
            _mm512_storeu_ps(o + n, _mm512_add_ps(_mm512_loadu_ps(o + n), _mm512_loadu_ps(s + n)));
        for (; n < N; n++) o[n] += s[n];
    }
}

SCAN_TARGET512 static void bwd_reduce512(const bwd_args *a, const bwd_work *w, ptrdiff_t r0, int nt) {
    bwd_reduce_one512(a, w, w->pbc, a->dBm, r0, nt);
    bwd_reduce_one512(a, w, w->pbc + 16, a->dCm, r0, nt);
}

static const bwd_isa bwd_isa_avx512 = {
    BWD_W512, bwd_prep512, bwd_sweep512, bwd_rev512, bwd_finish512, bwd_reduce512,
};

// MARK: - AVX2 + FMA (8 channels per ymm)

#define BWD_W256 8

SCAN_TARGET2 MK_INLINE __m256i bwd_mask256(int cnt) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Loads / stores cnt <= 8 floats: whole vectors for full blocks (vmaskmovps is slow on AMD CPUs), masked otherwise.
SCAN_TARGET2 MK_INLINE __m256 bwd_load256(const float *p, int cnt, __m256i m) {
    return cnt == BWD_W256 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
SCAN_TARGET2 MK_INLINE void bwd_store256(float *p, int cnt, __m256i m, __m256 v) {
    if (cnt == BWD_W256) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, m, v);
}

SCAN_TARGET2 static void bwd_prep256(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), signbit = _mm256_set1_ps(-0.0f);
    const ptrdiff_t ld_u = a->ld_u, ld_d = a->ld_delta, ld_z = a->ld_z, ld_dy = a->ld_dy;
    const int e0 = ks[0].e0;                                              // blocks q at e0 + 8 q
    const float *ur = a->u + r0 * ld_u + e0;                              // (nt, 8 kb) stride ld_u
    const float *dr = a->delta + r0 * ld_d + e0;                          // (nt, 8 kb) stride ld_d
    const float *zr = a->z ? a->z + r0 * ld_z + e0 : NULL;               // (nt, 8 kb) stride ld_z
    const float *dyr = a->dy + r0 * ld_dy + e0;                           // (nt, 8 kb) stride ld_dy
    for (int i = 0; i < nt; i++) {
        if (i + BWD_PF < nt)
            for (int q = 0; q < kb; q += 2) {                             // 2 blocks per 64-byte line
                _mm_prefetch((const char *)(ur + (i + BWD_PF) * ld_u + q * 8), _MM_HINT_T0);
                _mm_prefetch((const char *)(dr + (i + BWD_PF) * ld_d + q * 8), _MM_HINT_T0);
                if (full) {
                    _mm_prefetch((const char *)(dyr + (i + BWD_PF) * ld_dy + q * 8), _MM_HINT_T0);
                    if (zr) _mm_prefetch((const char *)(zr + (i + BWD_PF) * ld_z + q * 8), _MM_HINT_T0);
                }
            }
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const __m256i m = bwd_mask256(k->cnt);
            const __m256 bias = a->delta_bias ? bwd_load256(a->delta_bias + k->e0, k->cnt, m) : zero;
            const __m256 uv = bwd_load256(ur + i * ld_u + q * 8, k->cnt, m);
            const __m256 x = _mm256_add_ps(bwd_load256(dr + i * ld_d + q * 8, k->cnt, m), bias);
            __m256 dt = x, sig = one;
            if (a->softplus) {
                const __m256 e = scan_exp256(_mm256_or_ps(x, signbit));                  // exp(-|x|)
                const __m256 sp = _mm256_add_ps(_mm256_max_ps(x, zero), scan_log1p01_256(e));
                const __m256 big = _mm256_cmp_ps(x, _mm256_set1_ps(SCAN_SOFTPLUS_THRESHOLD), _CMP_GT_OQ);
                dt = _mm256_blendv_ps(sp, x, big);
                if (full) {
                    const __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GE_OQ);
                    sig = _mm256_div_ps(_mm256_blendv_ps(e, one, pos), _mm256_add_ps(one, e));
                    sig = _mm256_blendv_ps(sig, one, big);
                }
            }
            _mm256_store_ps(BWD_STEP(k, i, BWD_DT, 8), dt);
            _mm256_store_ps(BWD_STEP(k, i, BWD_DTU, 8), _mm256_mul_ps(dt, uv));
            if (!full) continue;
            _mm256_store_ps(BWD_STEP(k, i, BWD_U, 8), uv);
            _mm256_store_ps(BWD_STEP(k, i, BWD_SIG, 8), sig);
            const __m256 dyv = bwd_load256(dyr + i * ld_dy + q * 8, k->cnt, m);
            __m256 dyp = dyv;
            if (zr) {
                const __m256 zv = bwd_load256(zr + i * ld_z + q * 8, k->cnt, m);
                const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, scan_exp256(_mm256_sub_ps(zero, zv))));
                dyp = _mm256_mul_ps(dyv, _mm256_mul_ps(zv, s));
                const __m256 ds = _mm256_mul_ps(s, _mm256_fmadd_ps(zv, _mm256_sub_ps(one, s), one));
                _mm256_store_ps(BWD_STEP(k, i, BWD_DYD, 8), _mm256_mul_ps(dyv, ds));
            }
            _mm256_store_ps(BWD_STEP(k, i, BWD_DYP, 8), dyp);
            _mm256_store_ps(k->dD, _mm256_fmadd_ps(dyp, uv, _mm256_load_ps(k->dD)));
            _mm256_store_ps(BWD_STEP(k, i, BWD_Y, 8), zero);
            _mm256_store_ps(BWD_STEP(k, i, BWD_SB, 8), zero);
            _mm256_store_ps(BWD_STEP(k, i, BWD_QA, 8), zero);
        }
    }
}

// As bwd_sweep512_group, 8 channels per vector; At2 stays in memory (16 ymm registers).
SCAN_TARGET2 MK_INLINE void bwd_sweep256_group(const bwd_args *a, const bwd_work *w, const bwd_block *k,
                                                ptrdiff_t r0, int nt, const float *Hin, float *Hout,
                                                int n0, const int NG, const int mode) {
    const int N = a->N;
    const ptrdiff_t ld_bc = a->ld_bc;
    __m256 h[NG];
    for (int j = 0; j < NG; j++) h[j] = _mm256_load_ps(Hin + (n0 + j) * 8);
    const float *At = k->At2 + n0 * 8;                                    // (NG, 8)
    const float *Bt = a->Bm + r0 * ld_bc + n0, *Ct = a->Cm + r0 * ld_bc + n0;
    for (int i = 0; i < nt; i++, Bt += ld_bc, Ct += ld_bc) {
        const __m256 dt = _mm256_load_ps(BWD_STEP(k, i, BWD_DT, 8)), dtu = _mm256_load_ps(BWD_STEP(k, i, BWD_DTU, 8));
        float *hap = w->ha + ((ptrdiff_t)i * N + n0) * 16;               // (NG, 2, 8): ah, a
        __m256 y0 = _mm256_setzero_ps();
        SCAN_UNROLL
        for (int j = 0; j < NG; j++) {
            const __m256 av = scan_exp2_256(_mm256_mul_ps(dt, _mm256_load_ps(At + j * 8)));
            const __m256 ah = _mm256_mul_ps(av, h[j]);
            h[j] = _mm256_fmadd_ps(dtu, _mm256_set1_ps(Bt[j]), ah);
            if (mode != BWD_BOUNDARY) {
                _mm256_store_ps(hap + j * 16, ah);
                _mm256_store_ps(hap + j * 16 + 8, av);
            }
            if (mode == BWD_RECOMPUTE_Y) y0 = _mm256_fmadd_ps(_mm256_set1_ps(Ct[j]), h[j], y0);
        }
        if (mode == BWD_RECOMPUTE_Y)
            _mm256_store_ps(BWD_STEP(k, i, BWD_Y, 8), _mm256_add_ps(_mm256_load_ps(BWD_STEP(k, i, BWD_Y, 8)), y0));
    }
    if (mode == BWD_BOUNDARY)
        for (int j = 0; j < NG; j++) _mm256_store_ps(Hout + (n0 + j) * 8, h[j]);
}

SCAN_TARGET2 static void bwd_sweep256(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0,
                                      int nt, const float *Hin, float *Hout, int mode) {
#define BWD_SWEEP256(ng)                                                                                  \
    switch (mode) {                                                                                       \
    case BWD_BOUNDARY: bwd_sweep256_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_BOUNDARY); break;       \
    case BWD_RECOMPUTE: bwd_sweep256_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_RECOMPUTE); break;     \
    default: bwd_sweep256_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_RECOMPUTE_Y); break;              \
    }
    BWD_FOR_GROUPS(a->N, 8, BWD_SWEEP256)
#undef BWD_SWEEP256
}

// As bwd_rev512_group, 8 channels per vector, at most 4 states per group (g, dA: 8 of the 16 registers).
SCAN_TARGET2 MK_INLINE void bwd_rev256_group(const bwd_args *a, const bwd_work *w, const bwd_block *k,
                                              ptrdiff_t r0, int nt, int n0, const int NG) {
    const int N = a->N;
    const ptrdiff_t ld_bc = a->ld_bc;
    __m256 g[NG], dA[NG];
    for (int j = 0; j < NG; j++) {
        g[j] = _mm256_load_ps(k->g + (n0 + j) * 8);
        dA[j] = _mm256_load_ps(k->dA + (n0 + j) * 8);
    }
    const float *An = k->Av + n0 * 8;                                     // (NG, 8)
    const float *Bt = a->Bm + (r0 + nt - 1) * ld_bc + n0, *Ct = a->Cm + (r0 + nt - 1) * ld_bc + n0;
    for (int i = nt - 1; i >= 0; i--, Bt -= ld_bc, Ct -= ld_bc) {
        const __m256 dyp = _mm256_load_ps(BWD_STEP(k, i, BWD_DYP, 8)), dt = _mm256_load_ps(BWD_STEP(k, i, BWD_DT, 8));
        const __m256 dtu = _mm256_load_ps(BWD_STEP(k, i, BWD_DTU, 8));
        const ptrdiff_t off = ((ptrdiff_t)i * N + n0) * 16;
        const float *hap = w->ha + off;                                   // (NG, 2, 8): ah, a
        float *pp = w->pbc + off;                                         // (NG, 2, 8): pB, pC
        __m256 sB = _mm256_setzero_ps(), qA = _mm256_setzero_ps();
        SCAN_UNROLL
        for (int j = 0; j < NG; j++) {
            const __m256 Bn = _mm256_set1_ps(Bt[j]);
            const __m256 ah = _mm256_load_ps(hap + j * 16);
            const __m256 gn = _mm256_fmadd_ps(dyp, _mm256_set1_ps(Ct[j]), g[j]);
            const __m256 h = _mm256_fmadd_ps(dtu, Bn, ah);
            _mm256_store_ps(pp + j * 16 + 8, _mm256_fmadd_ps(dyp, h, _mm256_load_ps(pp + j * 16 + 8)));
            _mm256_store_ps(pp + j * 16, _mm256_fmadd_ps(gn, dtu, _mm256_load_ps(pp + j * 16)));
            sB = _mm256_fmadd_ps(gn, Bn, sB);
            const __m256 q = _mm256_mul_ps(gn, ah);
            qA = _mm256_fmadd_ps(q, _mm256_load_ps(An + j * 8), qA);
            dA[j] = _mm256_fmadd_ps(dt, q, dA[j]);
            g[j] = _mm256_mul_ps(_mm256_load_ps(hap + j * 16 + 8), gn);
        }
        _mm256_store_ps(BWD_STEP(k, i, BWD_SB, 8), _mm256_add_ps(_mm256_load_ps(BWD_STEP(k, i, BWD_SB, 8)), sB));
        _mm256_store_ps(BWD_STEP(k, i, BWD_QA, 8), _mm256_add_ps(_mm256_load_ps(BWD_STEP(k, i, BWD_QA, 8)), qA));
    }
    for (int j = 0; j < NG; j++) {
        _mm256_store_ps(k->g + (n0 + j) * 8, g[j]);
        _mm256_store_ps(k->dA + (n0 + j) * 8, dA[j]);
    }
}

SCAN_TARGET2 static void bwd_rev256(const bwd_args *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt) {
#define BWD_REV256(ng) bwd_rev256_group(a, w, k, r0, nt, n0, ng)
    BWD_FOR_GROUPS(a->N, 4, BWD_REV256)
#undef BWD_REV256
}

SCAN_TARGET2 static void bwd_finish256(const bwd_args *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt) {
    const int e0 = ks[0].e0;                                              // blocks q at e0 + 8 q
    float *dur = a->du + r0 * a->ld_du + e0;                              // (nt, 8 kb) stride ld_du
    float *ddr = a->ddelta + r0 * a->ld_ddelta + e0;                      // (nt, 8 kb) stride ld_ddelta
    float *dzr = (a->z && a->dz) ? a->dz + r0 * a->ld_dz + e0 : NULL;    // (nt, 8 kb) stride ld_dz
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const __m256i m = bwd_mask256(k->cnt);
            const __m256 Dv = a->D ? bwd_load256(a->D + k->e0, k->cnt, m) : _mm256_setzero_ps();
            const __m256 sB = _mm256_load_ps(BWD_STEP(k, i, BWD_SB, 8)), uu = _mm256_load_ps(BWD_STEP(k, i, BWD_U, 8));
            const __m256 dyp = _mm256_load_ps(BWD_STEP(k, i, BWD_DYP, 8));
            const __m256 du = _mm256_fmadd_ps(dyp, Dv, _mm256_mul_ps(_mm256_load_ps(BWD_STEP(k, i, BWD_DT, 8)), sB));
            __m256 dd = _mm256_fmadd_ps(uu, sB, _mm256_load_ps(BWD_STEP(k, i, BWD_QA, 8)));
            if (a->softplus) dd = _mm256_mul_ps(dd, _mm256_load_ps(BWD_STEP(k, i, BWD_SIG, 8)));
            _mm256_store_ps(k->dbias, _mm256_add_ps(_mm256_load_ps(k->dbias), dd));
            bwd_store256(dur + i * a->ld_du + q * 8, k->cnt, m, du);
            bwd_store256(ddr + i * a->ld_ddelta + q * 8, k->cnt, m, dd);
            if (dzr) {
                const __m256 y = _mm256_fmadd_ps(Dv, uu, _mm256_load_ps(BWD_STEP(k, i, BWD_Y, 8)));
                bwd_store256(dzr + i * a->ld_dz + q * 8, k->cnt, m, _mm256_mul_ps(_mm256_load_ps(BWD_STEP(k, i, BWD_DYD, 8)), y));
            }
        }
}

// Lane sums of 8 vectors p + v 16, v < 8 (8 floats each) as one vector: a transpose-add tree, 7 adds.
SCAN_TARGET2 MK_INLINE __m256 bwd_hsum8_256(const float *p) {
    __m256 s[4], x[2];
    for (int i = 0; i < 4; i++) {
        const __m256 v0 = _mm256_load_ps(p + (2 * i) * 16), v1 = _mm256_load_ps(p + (2 * i + 1) * 16);
        s[i] = _mm256_add_ps(_mm256_unpacklo_ps(v0, v1), _mm256_unpackhi_ps(v0, v1));
    }
    for (int i = 0; i < 2; i++) {
        const __m256d a0 = _mm256_castps_pd(s[2 * i]), a1 = _mm256_castps_pd(s[2 * i + 1]);
        x[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(a0, a1)), _mm256_castpd_ps(_mm256_unpackhi_pd(a0, a1)));
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(x[0], x[1], 0x20), _mm256_permute2f128_ps(x[0], x[1], 0x31));
}

SCAN_TARGET2 static void bwd_reduce_one256(const bwd_args *a, const bwd_work *w, float *p, float *out,
                                           ptrdiff_t r0, int nt) {
    const int N = a->N, items = nt * N;
    for (int f = 0; f < items; f += 8) {
        _mm256_store_ps(w->sums + f, bwd_hsum8_256(p + (ptrdiff_t)f * 16));
        for (int v = 0; v < 8; v++) _mm256_store_ps(p + ((ptrdiff_t)f + v) * 16, _mm256_setzero_ps());
    }
    for (int i = 0; i < nt; i++) {
        float *o = out + (r0 + i) * a->ld_dbc;                            // (N)
        const float *s = w->sums + i * N;
        int n = 0;
        for (; n + 8 <= N; n += 8)
            _mm256_storeu_ps(o + n, _mm256_add_ps(_mm256_loadu_ps(o + n), _mm256_loadu_ps(s + n)));
        for (; n < N; n++) o[n] += s[n];
    }
}

SCAN_TARGET2 static void bwd_reduce256(const bwd_args *a, const bwd_work *w, ptrdiff_t r0, int nt) {
    bwd_reduce_one256(a, w, w->pbc, a->dBm, r0, nt);
    bwd_reduce_one256(a, w, w->pbc + 8, a->dCm, r0, nt);
}

static const bwd_isa bwd_isa_avx2 = {
    BWD_W256, bwd_prep256, bwd_sweep256, bwd_rev256, bwd_finish256, bwd_reduce256,
};

#endif // __x86_64__

// MARK: - Driver (ISA-independent): groups of blocks, boundary sweep, chunks in reverse

// Block state of block k at e0 (cnt channels): A^T, zero accumulators, Hb[0] = h0 (or 0). W floats per row.
static void bwd_block_init(const bwd_args *a, bwd_block *k, int b, int W) {
    const int N = a->N;
    const float *hb = a->h0 ? a->h0 + ((ptrdiff_t)b * a->E + k->e0) * N : NULL;   // (cnt, N)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < W; j++) {
            const float An = j < k->cnt ? a->A[(ptrdiff_t)(k->e0 + j) * N + n] : 0.0f;
            k->At2[n * W + j] = An * SCAN_LOG2E;
            k->Av[n * W + j] = An;
            k->g[n * W + j] = 0.0f;
            k->dA[n * W + j] = 0.0f;
            k->Hb[n * W + j] = (j < k->cnt && hb) ? hb[(ptrdiff_t)j * N + n] : 0.0f;
        }
    for (int j = 0; j < W; j++) { k->dD[j] = 0.0f; k->dbias[j] = 0.0f; }
}

// Adds the block's dA, dD, dbias into the outputs; writes dh0 = a_0 g_0.
static void bwd_block_flush(const bwd_args *a, const bwd_block *k, int b, int W) {
    const int N = a->N;
    for (int j = 0; j < k->cnt; j++) {
        const int e = k->e0 + j;
        for (int n = 0; n < N; n++) {
            a->dA[(ptrdiff_t)e * N + n] += k->dA[n * W + j];
            if (a->dh0) a->dh0[((ptrdiff_t)b * a->E + e) * N + n] = k->g[n * W + j];
        }
        if (a->D && a->dD) a->dD[e] += k->dD[j];
        if (a->delta_bias && a->ddelta_bias) a->ddelta_bias[e] += k->dbias[j];
    }
}

void mk_scan_bwd(const float *u, int ld_u, const float *delta, int ld_delta,
                 const float *A, const float *Bm, const float *Cm, int ld_bc,
                 const float *D, const float *delta_bias, int delta_softplus,
                 const float *z, int ld_z, const float *h0,
                 const float *dy, int ld_dy,
                 float *du, int ld_du, float *ddelta, int ld_ddelta, float *dz, int ld_dz,
                 float *dA, float *dD, float *ddelta_bias, float *dBm, float *dCm, int ld_dbc, float *dh0,
                 int Bsz, int L, int E, int N, int e_begin, int e_end) {
    if (Bsz <= 0 || e_end <= e_begin || N < 0) return;
    if (L <= 0) {                                                         // no steps: dh0 = 0, nothing else
        if (dh0)
            for (int b = 0; b < Bsz; b++)
                memset(dh0 + ((ptrdiff_t)b * E + e_begin) * N, 0, sizeof(float) * (size_t)(e_end - e_begin) * N);
        return;
    }
    const bwd_args a = {
        .u = u, .ld_u = ld_u, .delta = delta, .ld_delta = ld_delta,
        .A = A, .Bm = Bm, .Cm = Cm, .ld_bc = ld_bc,
        .D = D, .delta_bias = delta_bias, .softplus = delta_softplus,
        .z = z, .ld_z = ld_z, .h0 = h0, .dy = dy, .ld_dy = ld_dy,
        .du = du, .ld_du = ld_du, .ddelta = ddelta, .ld_ddelta = ld_ddelta, .dz = dz, .ld_dz = ld_dz,
        .dA = dA, .dD = dD, .ddelta_bias = ddelta_bias, .dBm = dBm, .dCm = dCm, .ld_dbc = ld_dbc, .dh0 = dh0,
        .L = L, .E = E, .N = N,
    };
    const bwd_isa *isa = &bwd_isa_portable;
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: isa = &bwd_isa_avx512; break;
    case MK_ISA_AVX2: isa = &bwd_isa_avx2; break;
    default: break;
    }
#endif
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
    const int recomputeMode = (z && dz) ? BWD_RECOMPUTE_Y : BWD_RECOMPUTE;

    for (int b = 0; b < Bsz; b++) {
        const ptrdiff_t row0 = (ptrdiff_t)b * L;                          // first time row of batch b
        for (int g0 = e_begin; g0 < e_end; g0 += G * W) {
            const int left = (e_end - g0 + W - 1) / W;
            const int nb = left < G ? left : G;                           // blocks in this group
            for (int k = 0; k < nb; k++) {
                blocks[k].e0 = g0 + k * W;
                blocks[k].cnt = e_end - blocks[k].e0 < W ? e_end - blocks[k].e0 : W;
                blocks[k].step = w.step + (size_t)(k % BWD_KB) * stepFloats;   // passes of BWD_KB blocks
                bwd_block_init(&a, &blocks[k], b, W);
            }
            // 1. Boundary sweep: Hb[c + 1] = the state after chunk c (the last chunk is not needed).
            for (int c = 0; c + 1 < nC; c++) {
                const ptrdiff_t r0 = row0 + (ptrdiff_t)c * T;
                for (int k0 = 0; k0 < nb; k0 += BWD_KB) {
                    const int kb = nb - k0 < BWD_KB ? nb - k0 : BWD_KB;  // blocks in this pass
                    isa->prep(&a, blocks + k0, kb, r0, T, 0);
                    for (int k = k0; k < k0 + kb; k++)
                        isa->sweep(&a, &w, &blocks[k], r0, T, blocks[k].Hb + c * NW,
                                   blocks[k].Hb + (c + 1) * NW, BWD_BOUNDARY);
                }
            }
            // 2. Chunks in reverse: recompute the chunk's states from Hb[c], then the reverse sweep.
            for (int c = nC - 1; c >= 0; c--) {
                const int t0 = c * T, nt = L - t0 < T ? L - t0 : T;
                const ptrdiff_t r0 = row0 + t0;
                for (int k0 = 0; k0 < nb; k0 += BWD_KB) {
                    const int kb = nb - k0 < BWD_KB ? nb - k0 : BWD_KB;
                    isa->prep(&a, blocks + k0, kb, r0, nt, 1);
                    for (int k = k0; k < k0 + kb; k++) {
                        isa->sweep(&a, &w, &blocks[k], r0, nt, blocks[k].Hb + c * NW, NULL, recomputeMode);
                        isa->rev(&a, &w, &blocks[k], r0, nt);
                    }
                    isa->finish(&a, blocks + k0, kb, r0, nt);
                }
                isa->reduce(&a, &w, r0, nt);
            }
            for (int k = 0; k < nb; k++) bwd_block_flush(&a, &blocks[k], b, W);
        }
    }
    free(mem);
}
