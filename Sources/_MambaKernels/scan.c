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
// Tiling (see "Tiling" below): blocks of W channels are grouped (G blocks) and time is cut into
// chunks of SCAN_TC steps, so the blocks of a group walk the same rows (pages) of u/delta/z/y and
// Bm/Cm; inside a chunk, tiles of SCAN_TT steps run in two phases: first the elementwise part
// (softplus, dt*u, D*u, silu(z)) for the whole tile, then the recurrence, while the next tile's
// rows are prefetched. Channel tails use masked loads/stores (AVX-512, AVX2) or short copies.
//
// Vector math (in scan_math.h, shared with the backward scan_bwd.c; lanes independent):
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
#include "MambaKernels.h"
#include "mk_math.h"
#include "scan_math.h"
#include <math.h>
#include <stddef.h>

// The arguments of one call, with strides widened once.
typedef struct {
    const float *u; ptrdiff_t ld_u;                   // (Bsz, L, E)
    const float *delta; ptrdiff_t ld_delta;           // (Bsz, L, E)
    const float *A;                                   // (E, N)
    const float *Bm, *Cm; ptrdiff_t ld_bc;            // (Bsz, L, N)
    const float *D, *delta_bias;                      // (E) or NULL
    int softplus;
    const float *z; ptrdiff_t ld_z;                   // (Bsz, L, E) or NULL
    float *y; ptrdiff_t ld_y;                         // (Bsz, L, E)
    const float *h0; float *h_last;                   // (Bsz, E, N) or NULL
    int L, E, N;
} scan_args;

// MARK: - Reference (the spec, literally)

void mk_scan_fwd_ref(const float *u, int ld_u, const float *delta, int ld_delta,
                     const float *A, const float *Bm, const float *Cm, int ld_bc,
                     const float *D, const float *delta_bias, int delta_softplus,
                     const float *z, int ld_z, float *y, int ld_y,
                     const float *h0, float *h_last,
                     int Bsz, int L, int E, int N, int e_begin, int e_end) {
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

// MARK: - Tiling: channel blocks of W, groups of G blocks, time chunks of SCAN_TC steps
//
// A group's states and A^T live in a small stack buffer (At2, H: (G, N, W) each). Rows of u, delta,
// z, y are ld*4 bytes apart (often more than a page), so one block walking all of L alone touches
// a new page per row per stream; the blocks of a group instead share the rows of a chunk, and
// Bm/Cm rows of the chunk stay in L1/L2 across the group.

#define SCAN_TC 128                 // time steps per chunk
#define SCAN_GROUP_BYTES 32768      // At2 + H budget of a group
#define SCAN_GROUP_MAX 16           // blocks per group at most
#define SCAN_TT 8                   // steps per two-phase tile (elementwise, then recurrence); also
                                    // the prefetch distance in rows

// At2 (N, W) = log2(e) A[e0 + j, n] for j < cnt (every version computes the decay as 2^(dt At2)),
// 0 beyond (padded lanes decay by 2^0 = 1 and stay finite). H (N, W) = h0[b, e0 + j, n], or 0.
static void scan_gather(const scan_args *a, int b, int e0, int cnt, int W, float *At2, float *H) {
    const int N = a->N;
    const float *hb = a->h0 ? a->h0 + ((ptrdiff_t)b * a->E + e0) * N : NULL;   // (cnt, N)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < W; j++) {
            At2[n * W + j] = j < cnt ? a->A[(ptrdiff_t)(e0 + j) * N + n] * SCAN_LOG2E : 0.0f;
            H[n * W + j] = (j < cnt && hb) ? hb[(ptrdiff_t)j * N + n] : 0.0f;
        }
}

// h_last[b, e0 + j, n] = H[n, j] for j < cnt.
static void scan_scatter(const scan_args *a, int b, int e0, int cnt, int W, const float *H) {
    if (!a->h_last) return;
    const int N = a->N;
    float *hb = a->h_last + ((ptrdiff_t)b * a->E + e0) * N;                     // (cnt, N)
    for (int j = 0; j < cnt; j++)
        for (int n = 0; n < N; n++) hb[(ptrdiff_t)j * N + n] = H[n * W + j];
}

// Advances the cnt <= W channels [e0, e0 + cnt) of batch row b over steps [t0, t1), writing y and
// updating the state H (N, W); At2 (N, W) is the block's A^T log2(e).
typedef void (*scan_chunk_fn)(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                              float *H, const float *At2);

// MARK: - Portable (plain C over 16 lanes; the compiler vectorises the lane loops)

#define SCAN_W_PORTABLE 16

static void scan_chunk_portable(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
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
            if (a->softplus) x = scan_softplus(x);
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

#if defined(__x86_64__)

// MARK: - AVX-512 (16 channels per zmm)

#define SCAN_W512 16

// The chunk body. N is a compile-time constant at the N = 16 call site (then h[] lives in 16
// registers and the n loop is fully unrolled); h (N) is the state, At2 (N, 16) = A^T log2(e).
//   scalar spec per lane j (channel e = e0 + j), as mk_scan_fwd_ref:
//     dt = softplus(delta[t,e] + bias[e]); for n: h[n] = exp(dt A[e,n]) h[n] + dt u[t,e] B[t,n];
//     y[t,e] = (sum_n C[t,n] h[n] + D[e] u[t,e]) * silu(z[t,e])
SCAN_TARGET512 MK_INLINE void scan_chunk512_body(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                                  const int N, __m512 *h, const float *At2) {
    const __mmask16 m = cnt >= SCAN_W512 ? (__mmask16)0xFFFF : (__mmask16)((1u << cnt) - 1u);
    const __m512 bias = a->delta_bias ? _mm512_maskz_loadu_ps(m, a->delta_bias + e0) : _mm512_setzero_ps();
    const __m512 Dv = a->D ? _mm512_maskz_loadu_ps(m, a->D + e0) : _mm512_setzero_ps();
    const ptrdiff_t r0 = (ptrdiff_t)b * a->L + t0;                      // first row of the chunk
    const ptrdiff_t ld_u = a->ld_u, ld_d = a->ld_delta, ld_z = a->ld_z, ld_y = a->ld_y, ld_bc = a->ld_bc;
    const float *ur = a->u + r0 * ld_u + e0;                             // (t1 - t0, 16) stride ld_u
    const float *dr = a->delta + r0 * ld_d + e0;                         // (t1 - t0, 16) stride ld_d
    const float *zr = a->z ? a->z + r0 * ld_z + e0 : NULL;              // (t1 - t0, 16) stride ld_z
    float *yr = a->y + r0 * ld_y + e0;                                   // (t1 - t0, 16) stride ld_y
    const float *Br = a->Bm + r0 * ld_bc, *Cr = a->Cm + r0 * ld_bc;     // (t1 - t0, N) stride ld_bc
    for (int tt = t0; tt < t1; tt += SCAN_TT) {
        const int nt = t1 - tt < SCAN_TT ? t1 - tt : SCAN_TT;           // steps in this tile
        __m512 dtb[SCAN_TT], dtub[SCAN_TT], skipb[SCAN_TT], gateb[SCAN_TT];   // (nt) each
        // Phase 1, elementwise over the tile (independent across t, so it runs at full throughput
        // instead of sitting as a long dependency chain in front of every step's recurrence).
        for (int i = 0; i < nt; i++) {
            const __m512 uv = _mm512_maskz_loadu_ps(m, ur + i * ld_u);
            __m512 dt = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dr + i * ld_d), bias);
            if (a->softplus) dt = scan_softplus512(dt);
            dtb[i] = dt;
            dtub[i] = _mm512_mul_ps(dt, uv);
            skipb[i] = _mm512_mul_ps(Dv, uv);
        }
        if (zr)
            for (int i = 0; i < nt; i++) gateb[i] = scan_silu512(_mm512_maskz_loadu_ps(m, zr + i * ld_z));
        // Phase 2, the recurrence over the tile; meanwhile the next tile's rows are prefetched.
        for (int i = 0; i < nt; i++) {
            if (tt + i + SCAN_TT < t1) {
                const ptrdiff_t ahead = i + SCAN_TT;
                _mm_prefetch((const char *)(ur + ahead * ld_u), _MM_HINT_T0);
                _mm_prefetch((const char *)(dr + ahead * ld_d), _MM_HINT_T0);
                if (zr) _mm_prefetch((const char *)(zr + ahead * ld_z), _MM_HINT_T0);
                _mm_prefetch((const char *)(yr + ahead * ld_y), _MM_HINT_T0);
            }
            const __m512 dt = dtb[i], dtu = dtub[i];
            const float *Bt = Br + i * ld_bc, *Ct = Cr + i * ld_bc;      // (N)
            __m512 y0 = skipb[i], y1 = _mm512_setzero_ps(), y2 = _mm512_setzero_ps(), y3 = _mm512_setzero_ps();
            int n = 0;
#define SCAN_STEP512(k, acc)                                                                            \
            {                                                                                           \
                const __m512 dA = scan_exp2_512(_mm512_mul_ps(dt, _mm512_load_ps(At2 + (n + k) * SCAN_W512))); \
                h[n + k] = _mm512_fmadd_ps(dA, h[n + k], _mm512_mul_ps(dtu, _mm512_set1_ps(Bt[n + k]))); \
                acc = _mm512_fmadd_ps(_mm512_set1_ps(Ct[n + k]), h[n + k], acc);                        \
            }
            SCAN_UNROLL
            for (; n + 4 <= N; n += 4) { SCAN_STEP512(0, y0) SCAN_STEP512(1, y1) SCAN_STEP512(2, y2) SCAN_STEP512(3, y3) }
            for (; n < N; n++) SCAN_STEP512(0, y0)
#undef SCAN_STEP512
            __m512 yv = _mm512_add_ps(_mm512_add_ps(y0, y1), _mm512_add_ps(y2, y3));
            if (zr) yv = _mm512_mul_ps(yv, gateb[i]);
            _mm512_mask_storeu_ps(yr + i * ld_y, m, yv);
        }
        ur += nt * ld_u; dr += nt * ld_d; yr += nt * ld_y; Br += nt * ld_bc; Cr += nt * ld_bc;
        if (zr) zr += nt * ld_z;
    }
}

SCAN_TARGET512 static void scan_chunk512_n16(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                             float *H, const float *At2) {
    enum { N = 16 };
    __m512 h[N];                                                         // registers
    for (int n = 0; n < N; n++) h[n] = _mm512_load_ps(H + n * SCAN_W512);
    scan_chunk512_body(a, b, e0, cnt, t0, t1, N, h, At2);
    for (int n = 0; n < N; n++) _mm512_store_ps(H + n * SCAN_W512, h[n]);
}

SCAN_TARGET512 static void scan_chunk512(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                         float *H, const float *At2) {
    scan_chunk512_body(a, b, e0, cnt, t0, t1, a->N, (__m512 *)H, At2);  // h stays in the stack buffer
}

// MARK: - AVX2 + FMA (8 channels per ymm)

#define SCAN_W256 8

// Same structure as scan_chunk512_body, 8 channels per vector. With only 16 ymm registers the
// 16 states of N = 16 cannot all stay in registers next to the exp constants; the compiler spills
// some (the N = 16 call site still unrolls the n loop); other N keep h in the stack buffer.
SCAN_TARGET2 MK_INLINE void scan_chunk256_body(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                                const int N, __m256 *h, const float *At2) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 bias = a->delta_bias ? _mm256_maskload_ps(a->delta_bias + e0, m) : _mm256_setzero_ps();
    const __m256 Dv = a->D ? _mm256_maskload_ps(a->D + e0, m) : _mm256_setzero_ps();
    const ptrdiff_t r0 = (ptrdiff_t)b * a->L + t0;
    const ptrdiff_t ld_u = a->ld_u, ld_d = a->ld_delta, ld_z = a->ld_z, ld_y = a->ld_y, ld_bc = a->ld_bc;
    const float *ur = a->u + r0 * ld_u + e0;                             // (t1 - t0, 8) stride ld_u
    const float *dr = a->delta + r0 * ld_d + e0;                         // (t1 - t0, 8) stride ld_d
    const float *zr = a->z ? a->z + r0 * ld_z + e0 : NULL;              // (t1 - t0, 8) stride ld_z
    float *yr = a->y + r0 * ld_y + e0;                                   // (t1 - t0, 8) stride ld_y
    const float *Br = a->Bm + r0 * ld_bc, *Cr = a->Cm + r0 * ld_bc;     // (t1 - t0, N) stride ld_bc
    for (int tt = t0; tt < t1; tt += SCAN_TT) {
        const int nt = t1 - tt < SCAN_TT ? t1 - tt : SCAN_TT;
        __m256 dtb[SCAN_TT], dtub[SCAN_TT], skipb[SCAN_TT], gateb[SCAN_TT];   // (nt) each
        for (int i = 0; i < nt; i++) {                                   // phase 1: elementwise
            const __m256 uv = _mm256_maskload_ps(ur + i * ld_u, m);
            __m256 dt = _mm256_add_ps(_mm256_maskload_ps(dr + i * ld_d, m), bias);
            if (a->softplus) dt = scan_softplus256(dt);
            dtb[i] = dt;
            dtub[i] = _mm256_mul_ps(dt, uv);
            skipb[i] = _mm256_mul_ps(Dv, uv);
        }
        if (zr)
            for (int i = 0; i < nt; i++) gateb[i] = scan_silu256(_mm256_maskload_ps(zr + i * ld_z, m));
        for (int i = 0; i < nt; i++) {                                   // phase 2: recurrence
            if (tt + i + SCAN_TT < t1) {
                const ptrdiff_t ahead = i + SCAN_TT;
                _mm_prefetch((const char *)(ur + ahead * ld_u), _MM_HINT_T0);
                _mm_prefetch((const char *)(dr + ahead * ld_d), _MM_HINT_T0);
                if (zr) _mm_prefetch((const char *)(zr + ahead * ld_z), _MM_HINT_T0);
                _mm_prefetch((const char *)(yr + ahead * ld_y), _MM_HINT_T0);
            }
            const __m256 dt = dtb[i], dtu = dtub[i];
            const float *Bt = Br + i * ld_bc, *Ct = Cr + i * ld_bc;      // (N)
            __m256 y0 = skipb[i], y1 = _mm256_setzero_ps(), y2 = _mm256_setzero_ps(), y3 = _mm256_setzero_ps();
            int n = 0;
#define SCAN_STEP256(k, acc)                                                                            \
            {                                                                                           \
                const __m256 dA = scan_exp2_256(_mm256_mul_ps(dt, _mm256_load_ps(At2 + (n + k) * SCAN_W256))); \
                const __m256 hn = _mm256_fmadd_ps(dA, h[n + k], _mm256_mul_ps(dtu, _mm256_set1_ps(Bt[n + k]))); \
                h[n + k] = hn;                                                                          \
                acc = _mm256_fmadd_ps(_mm256_set1_ps(Ct[n + k]), hn, acc);                              \
            }
            SCAN_UNROLL
            for (; n + 4 <= N; n += 4) { SCAN_STEP256(0, y0) SCAN_STEP256(1, y1) SCAN_STEP256(2, y2) SCAN_STEP256(3, y3) }
            for (; n < N; n++) SCAN_STEP256(0, y0)
#undef SCAN_STEP256
            __m256 yv = _mm256_add_ps(_mm256_add_ps(y0, y1), _mm256_add_ps(y2, y3));
            if (zr) yv = _mm256_mul_ps(yv, gateb[i]);
            _mm256_maskstore_ps(yr + i * ld_y, m, yv);
        }
        ur += nt * ld_u; dr += nt * ld_d; yr += nt * ld_y; Br += nt * ld_bc; Cr += nt * ld_bc;
        if (zr) zr += nt * ld_z;
    }
}

SCAN_TARGET2 static void scan_chunk256_n16(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                           float *H, const float *At2) {
    enum { N = 16 };
    __m256 h[N];                                 // the register allocator keeps what fits (~5% faster)
    for (int n = 0; n < N; n++) h[n] = _mm256_load_ps(H + n * SCAN_W256);
    scan_chunk256_body(a, b, e0, cnt, t0, t1, N, h, At2);
    for (int n = 0; n < N; n++) _mm256_store_ps(H + n * SCAN_W256, h[n]);
}

SCAN_TARGET2 static void scan_chunk256(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                       float *H, const float *At2) {
    scan_chunk256_body(a, b, e0, cnt, t0, t1, a->N, (__m256 *)H, At2);
}

#endif // __x86_64__

// MARK: - Dispatch

typedef struct { float v[16]; } __attribute__((aligned(64))) scan_vec16;

void mk_scan_fwd(const float *u, int ld_u, const float *delta, int ld_delta,
                 const float *A, const float *Bm, const float *Cm, int ld_bc,
                 const float *D, const float *delta_bias, int delta_softplus,
                 const float *z, int ld_z, float *y, int ld_y,
                 const float *h0, float *h_last,
                 int Bsz, int L, int E, int N, int e_begin, int e_end) {
    if (Bsz <= 0 || e_end <= e_begin || N < 0) return;
    const scan_args a = {
        .u = u, .ld_u = ld_u, .delta = delta, .ld_delta = ld_delta,
        .A = A, .Bm = Bm, .Cm = Cm, .ld_bc = ld_bc,
        .D = D, .delta_bias = delta_bias, .softplus = delta_softplus,
        .z = z, .ld_z = ld_z, .y = y, .ld_y = ld_y,
        .h0 = h0, .h_last = h_last, .L = L, .E = E, .N = N,
    };
    scan_chunk_fn chunk = scan_chunk_portable;
    int W = SCAN_W_PORTABLE;                                             // channels per block
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512:
        chunk = N == 16 ? scan_chunk512_n16 : scan_chunk512;
        W = SCAN_W512;
        break;
    case MK_ISA_AVX2:
        chunk = N == 16 ? scan_chunk256_n16 : scan_chunk256;
        W = SCAN_W256;
        break;
    default: break;
    }
#endif
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
                scan_gather(&a, b, e0, cnt, W, At2 + k * blockFloats, H + k * blockFloats);
            }
            for (int t0 = 0; t0 < L; t0 += SCAN_TC) {
                const int t1 = L - t0 < SCAN_TC ? L : t0 + SCAN_TC;
                for (int k = 0; k < nb; k++) {
                    const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                    chunk(&a, b, e0, cnt, t0, t1, H + k * blockFloats, At2 + k * blockFloats);
                }
            }
            for (int k = 0; k < nb; k++) {
                const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                scan_scatter(&a, b, e0, cnt, W, H + k * blockFloats);
            }
        }
}
