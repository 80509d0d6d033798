// scan.c — the fused selective scan (S6) forward pass: discretise + recur + output + D skip + gate.
//
//   dt[t,e] = softplus(delta[t,e] + delta_bias[e])        (softplus(x) = x > 20 ? x : log1p(exp(x)))
//   h[e,n]  = exp(dt[t,e] * A[e,n]) * h[e,n] + dt[t,e] * Bm[t,n] * u[t,e]
//   y[t,e]  = (sum_n Cm[t,n] * h[e,n] + D[e] * u[t,e]) * silu(z[t,e])
//
// Shapes (per batch row b; row strides ld in floats):
//   u, delta, z, y   (Bsz, L, E)     A (E, N)     Bm, Cm (Bsz, L, N) ld_bc
//   D, delta_bias    (E)             h0, h_last (Bsz, E, N)
//
// The CPU analogue of the Mamba paper's hardware-aware scan: the (L, E, N) state tensor is never
// stored. Channels go W at a time (W = 16 for AVX-512, 8 for AVX2, 16 plain-C lanes for the
// portable build), vectorised ACROSS channels, so no horizontal reductions: the state h[:, n] of
// those W channels is one vector per n (for N = 16 under AVX-512, 16 registers; otherwise a small
// stack array), and time runs inside. Per (t, n): one exp, two FMAs for the state, one FMA for y.
//
// Tiling (see scan_internal.h): blocks of W channels are grouped (G blocks) and time is cut into
// chunks of SCAN_TC steps, so the blocks of a group walk the same rows (pages) of u/delta/z/y and
// Bm/Cm; inside a chunk, tiles of SCAN_TT steps run in two phases: first the elementwise part
// (softplus, dt*u, D*u, silu(z)) for the whole tile, then the recurrence, while the next tile's
// rows are prefetched. Channel tails use masked loads/stores (AVX-512; AVX2 only for partial blocks)
// or short copies (portable).
//
// Files: this one holds the reference, the portable kernel and the dispatch; the SIMD chunk kernel is
// written once in scan_fwd_body.h over the vector layer vf.h and compiled per ISA by scan_avx2.c and
// scan_avx512.c (scan_internal.h declares what they share).
//
// Vector math (scan_math.h scalar, vf.h vector; shared with the backward scan_bwd.c; lanes independent):
//   exp(x):       x = k ln2 + r (ln2 split hi/lo so k*HI is exact, |r| <= ln2/2),
//                 e^r = 1 + r (1 + r P5(r)) (Cephes coefficients), times 2^k; x clamped to
//                 [-87.3, 88.3]; relative error < 1e-7 (measured 7.4e-8). Used for softplus and silu.
//   decay 2^t:    the fast paths compute dA = exp(dt A) as 2^(dt * (A log2 e)), log2 e folded into
//                 the transposed A: t = k + f (AVX-512/AVX2: k = floor(t), f in [0, 1); portable:
//                 k = round(t), f in [-1/2, 1/2]), 2^f by a degree-6 polynomial (Chebyshev fit,
//                 2.5e-9), times 2^k. The rounding of t costs a relative error ~|x| 1e-7 on e^x,
//                 harmless since the factor is e^x <= 1: the absolute error stays below 1e-7 (an
//                 ulp of 1; measured 7.4e-8 over x in [-60, 0]). 4 fewer instructions per (t, n).
//   log1p(w):     for w in [0, 1]: s = w / (2 + w), log1p(w) = 2 atanh(s) = 2s (1 + s^2/3 + ... + s^14/15);
//                 s <= 1/3, truncation < 2e-9 relative, full relative accuracy for small w.
//   softplus(x):  max(x, 0) + log1p(exp(-|x|))  (= log1p(exp(x)) in real arithmetic), x if x > 20;
//                 relative error < 3e-7 (measured 2.5e-7 over [-40, 40]).
//   silu(z):      z / (1 + exp(-z)).
#include "scan_internal.h"
#include "mk_math.h"
#include "scan_math.h"
#include <math.h>
#include <stddef.h>

// MARK: - Reference (the spec, literally)

void mk_scan_fwd_ref(const mk_scan_params *p, int e_begin, int e_end) {
    const float *u = p->u, *delta = p->delta, *A = p->A, *Bm = p->Bm, *Cm = p->Cm;
    const float *D = p->D, *delta_bias = p->delta_bias, *z = p->z, *h0 = p->h0;
    float *y = p->y, *h_last = p->h_last;
    const ptrdiff_t ld_u = p->ld_u, ld_delta = p->ld_delta, ld_bc = p->ld_bc, ld_z = p->ld_z, ld_y = p->ld_y;
    const int delta_softplus = p->delta_softplus, Bsz = p->Bsz, L = p->L, E = p->E, N = p->N;
    const int Nh = N > 0 ? N : 1;
    float h[Nh];                                                            // (N): state of one channel
    for (int b = 0; b < Bsz; b++) {
        const ptrdiff_t row0 = (ptrdiff_t)b * L;                            // first time row of batch b
        for (int e = e_begin; e < e_end; e++) {
            const ptrdiff_t he = ((ptrdiff_t)b * E + e) * N;                // h0/h_last offset of (b, e, 0)
            for (int n = 0; n < N; n++) h[n] = h0 ? h0[he + n] : 0.0f;
            for (int t = 0; t < L; t++) {
                const ptrdiff_t r = row0 + t;
                float dt = delta[r * ld_delta + e] + (delta_bias ? delta_bias[e] : 0.0f);
                if (delta_softplus) dt = dt > SCAN_SOFTPLUS_THRESHOLD ? dt : log1pf(expf(dt));
                const float ut = u[r * ld_u + e];
                float acc = 0.0f;
                for (int n = 0; n < N; n++) {
                    h[n] = expf(dt * A[(ptrdiff_t)e * N + n]) * h[n] + dt * Bm[r * ld_bc + n] * ut;
                    acc += Cm[r * ld_bc + n] * h[n];
                }
                if (D) acc += D[e] * ut;
                if (z) {
                    const float zt = z[r * ld_z + e];
                    acc *= zt * (1.0f / (1.0f + expf(-zt)));
                }
                y[r * ld_y + e] = acc;
            }
            if (h_last)
                for (int n = 0; n < N; n++) h_last[he + n] = h[n];
        }
    }
}

// MARK: - Tiling (constants in scan_internal.h)

// At2 (N, W) = log2(e) A[e0 + j, n] for j < cnt (every version computes the decay as 2^(dt At2)),
// 0 beyond (padded lanes decay by 2^0 = 1 and stay finite). H (N, W) = h0[b, e0 + j, n], or 0.
static void scan_gather(const mk_scan_params *a, int b, int e0, int cnt, int W, float *At2, float *H) {
    const int N = a->N;
    const float *hb = a->h0 ? a->h0 + ((ptrdiff_t)b * a->E + e0) * N : NULL;   // (cnt, N)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < W; j++) {
            At2[n * W + j] = j < cnt ? a->A[(ptrdiff_t)(e0 + j) * N + n] * SCAN_LOG2E : 0.0f;
            H[n * W + j] = (j < cnt && hb) ? hb[(ptrdiff_t)j * N + n] : 0.0f;
        }
}

// h_last[b, e0 + j, n] = H[n, j] for j < cnt.
static void scan_scatter(const mk_scan_params *a, int b, int e0, int cnt, int W, const float *H) {
    if (!a->h_last) return;
    const int N = a->N;
    float *hb = a->h_last + ((ptrdiff_t)b * a->E + e0) * N;                     // (cnt, N)
    for (int j = 0; j < cnt; j++)
        for (int n = 0; n < N; n++) hb[(ptrdiff_t)j * N + n] = H[n * W + j];
}

// MARK: - Portable (plain C over 16 lanes; the compiler vectorises the lane loops)

#define SCAN_W_PORTABLE 16

static void scan_chunk_portable(const mk_scan_params *a, int b, int e0, int cnt, int t0, int t1,
                                float *H, const float *At2) {
    enum { W = SCAN_W_PORTABLE };
    const int N = a->N;
    float bias[W], Dv[W];                                                 // (W)
    for (int j = 0; j < W; j++) {
        bias[j] = (a->delta_bias && j < cnt) ? a->delta_bias[e0 + j] : 0.0f;
        Dv[j] = (a->D && j < cnt) ? a->D[e0 + j] : 0.0f;
    }
    const ptrdiff_t row0 = (ptrdiff_t)b * a->L;
    for (int t = t0; t < t1; t++) {
        const ptrdiff_t r = row0 + t;
        const float *ur = a->u + r * a->ld_u + e0, *dr = a->delta + r * a->ld_delta + e0;   // (cnt)
        const float *Br = a->Bm + r * a->ld_bc, *Cr = a->Cm + r * a->ld_bc;                 // (N)
        float uu[W], dt[W], dtu[W], acc[W];                               // (W)
        for (int j = 0; j < W; j++) { uu[j] = 0.0f; dt[j] = 0.0f; }
        for (int j = 0; j < cnt; j++) { uu[j] = ur[j]; dt[j] = dr[j]; }
        for (int j = 0; j < W; j++) {
            float x = dt[j] + bias[j];
            if (a->delta_softplus) x = scan_softplus(x);
            dt[j] = x;
            dtu[j] = x * uu[j];
            acc[j] = Dv[j] * uu[j];
        }
        for (int n = 0; n < N; n++) {                                     // the spec, W lanes at a time
            const float Bn = Br[n], Cn = Cr[n];
            float *hn = H + n * W;
            const float *An = At2 + n * W;
            for (int j = 0; j < W; j++) {
                hn[j] = scan_exp2(dt[j] * An[j]) * hn[j] + dtu[j] * Bn;
                acc[j] += Cn * hn[j];
            }
        }
        if (a->z) {
            const float *zr = a->z + r * a->ld_z + e0;
            float zz[W];
            for (int j = 0; j < W; j++) zz[j] = 0.0f;
            for (int j = 0; j < cnt; j++) zz[j] = zr[j];
            for (int j = 0; j < W; j++) acc[j] *= mk_silu(zz[j]);
        }
        float *yr = a->y + r * a->ld_y + e0;
        for (int j = 0; j < cnt; j++) yr[j] = acc[j];
    }
}

// MARK: - Dispatch

typedef struct { float v[16]; } __attribute__((aligned(64))) scan_vec16;

static const scan_fwd_isa scan_fwd_portable = { SCAN_W_PORTABLE, scan_chunk_portable, scan_chunk_portable };

void mk_scan_fwd(const mk_scan_params *p, int e_begin, int e_end) {
    const int Bsz = p->Bsz, L = p->L, N = p->N;
    if (Bsz <= 0 || e_end <= e_begin || N < 0) return;
    if (L == 1) { mk_scan_step(p, e_begin, e_end); return; }          // one step: no tiles (scan_step.c)
    const scan_fwd_isa *isa = SCAN_ISA(scan_fwd);
    const scan_chunk_fn chunk = N == 16 ? isa->chunk_n16 : isa->chunk;
    const int W = isa->W;                                                // channels per block
    const int Nh = N > 0 ? N : 1;
    const int blockFloats = Nh * W;                                      // one (N, W) array
    int G = SCAN_GROUP_BYTES / (2 * blockFloats * (int)sizeof(float));   // blocks per group
    G = G < 1 ? 1 : (G > SCAN_GROUP_MAX ? SCAN_GROUP_MAX : G);
    const int nVec = (2 * G * blockFloats + 15) / 16;
    scan_vec16 buf[nVec];                                                // 64-byte aligned
    float *At2 = buf[0].v;                                               // (G, N, W)
    float *H = At2 + (ptrdiff_t)G * blockFloats;                         // (G, N, W)
    for (int b = 0; b < Bsz; b++)
        for (int g0 = e_begin; g0 < e_end; g0 += G * W) {
            const int blocksLeft = (e_end - g0 + W - 1) / W;
            const int nb = blocksLeft < G ? blocksLeft : G;              // blocks in this group
            for (int k = 0; k < nb; k++) {
                const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                scan_gather(p, b, e0, cnt, W, At2 + k * blockFloats, H + k * blockFloats);
            }
            for (int t0 = 0; t0 < L; t0 += SCAN_TC) {
                const int t1 = L - t0 < SCAN_TC ? L : t0 + SCAN_TC;
                for (int k = 0; k < nb; k++) {
                    const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                    chunk(p, b, e0, cnt, t0, t1, H + k * blockFloats, At2 + k * blockFloats);
                }
            }
            for (int k = 0; k < nb; k++) {
                const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                scan_scatter(p, b, e0, cnt, W, H + k * blockFloats);
            }
        }
}
