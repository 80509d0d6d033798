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
// The CPU analogue of the Mamba paper's hardware-aware scan: the (L, E, N) state tensor is
// never stored. Channels are processed W at a time (W = 16 for AVX-512, 8 for AVX2, 16 lanes of
// plain C for the portable build) with the state h[:, n] of those W channels held in N vector
// registers (N = 16 is specialised so they really stay in registers; other N keep h in a small
// stack array), and time runs inside: per (t, channel block) one load of u, delta, z and one
// store of y; per (t, n) one exp, two FMAs for the state and one FMA for the output. No
// horizontal reductions. Channel tails use masked loads/stores (AVX-512, AVX2) or short copies.
//
// Vector math (local to this file, all lanes independent):
//   exp(x):      x = k ln2 + r (ln2 split hi/lo, |r| <= ln2/2), e^r = 1 + r(1 + r P5(r)) (Cephes
//                coefficients), times 2^k; x clamped to [-87.3, 88.3]; rel. error ~1.5e-7.
//   log1p(w):    for w in [0, 1]: s = w / (2 + w), log1p(w) = 2 atanh(s) = 2s (1 + s^2/3 + ... + s^14/15),
//                s <= 1/3 so the truncation is < 2e-9 relative, and small w keep full relative accuracy.
//   softplus(x): max(x, 0) + log1p(exp(-|x|))  (= log1p(exp(x)) exactly in real arithmetic), x if x > 20.
//   silu(z):     z / (1 + exp(-z)).
#include "MambaKernels.h"
#include "mk_math.h"
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SCAN_TARGET512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx2")))
#define SCAN_TARGET2 __attribute__((target("avx2,fma")))
#endif

#if defined(__clang__)
#define SCAN_UNROLL _Pragma("clang loop unroll(full)")
#else
#define SCAN_UNROLL
#endif

// Coefficients shared by every version.
#define SCAN_LOG2E 1.44269504088896341f
#define SCAN_LN2_HI 0.693359375f            // ln2 = HI + LO; HI has 9 significant bits, so k*HI is exact
#define SCAN_LN2_LO -2.12194440e-4f
#define SCAN_EXP_MIN -87.3f
#define SCAN_EXP_MAX 88.3f
#define SCAN_EXP_P0 1.9875691500e-4f        // e^r = 1 + r (1 + r (P5 + r (P4 + r (P3 + r (P2 + r (P1 + r P0))))))
#define SCAN_EXP_P1 1.3981999507e-3f
#define SCAN_EXP_P2 8.3334519073e-3f
#define SCAN_EXP_P3 4.1665795894e-2f
#define SCAN_EXP_P4 1.6666665459e-1f
#define SCAN_EXP_P5 5.0000001201e-1f
#define SCAN_EXP2_Q1 6.931469440e-01f      // 2^f ~ 1 + f (Q1 + f (Q2 + ... + f Q6)) on [0, 1)
#define SCAN_EXP2_Q2 2.402304560e-01f
#define SCAN_EXP2_Q3 5.548062921e-02f
#define SCAN_EXP2_Q4 9.684186429e-03f
#define SCAN_EXP2_Q5 1.239133184e-03f
#define SCAN_EXP2_Q6 2.186578495e-04f
#define SCAN_SOFTPLUS_THRESHOLD 20.0f       // as PyTorch's F.softplus(x, beta=1, threshold=20)

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
// A group's states and A^T live in a small stack buffer (At, H: (G, N, W) each). Time is cut
// into chunks so that all G blocks of a group walk the same rows of u/delta/z/y (same pages:
// rows are ld*4 bytes apart, often more than a page, so one block alone would touch a new page
// every step and thrash the TLB for long L) and the same rows of Bm/Cm (kept in L1/L2).

#ifndef SCAN_TC
#define SCAN_TC 64                  // time steps per chunk
#endif
#ifndef SCAN_GROUP_BYTES
#define SCAN_GROUP_BYTES 16384      // At + H budget of a group
#endif
#define SCAN_GROUP_MAX 16           // blocks per group at most
#ifndef SCAN_TT
#define SCAN_TT 16                  // steps per tile of the two-phase loop (elementwise, then recurrence)
#endif
#ifndef SCAN_PF_MODE
#define SCAN_PF_MODE 1
#define SCAN_PF_HINT _MM_HINT_T0
#endif
#ifndef SCAN_PF_AHEAD
#define SCAN_PF_AHEAD SCAN_TT
#endif
#ifndef SCAN_PD
#define SCAN_PD 3                   // software prefetch distance in rows
#endif

// At (N, W) = A[e0 + j, n] for j < cnt, 0 beyond (exp(0) = 1 keeps padded lanes finite).
// H (N, W) = h0[b, e0 + j, n], or 0.
static void scan_gather(const scan_args *a, int b, int e0, int cnt, int W, float a_scale, float *At, float *H) {
    const int N = a->N;
    const float *hb = a->h0 ? a->h0 + ((ptrdiff_t)b * a->E + e0) * N : NULL;   // (cnt, N)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < W; j++) {
            At[n * W + j] = j < cnt ? a->A[(ptrdiff_t)(e0 + j) * N + n] * a_scale : 0.0f;
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

// Advances the cnt <= W channels [e0, e0 + cnt) of batch row b over steps [t0, t1), writing y
// and updating the state H (N, W); At (N, W) is A^T of the block.
typedef void (*scan_chunk_fn)(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                              float *H, const float *At);

// MARK: - Portable (plain C over 16 lanes; the compiler vectorises the lane loops)

#define SCAN_W_PORTABLE 16

// log1p(w) for w in [0, 1] (see the header comment).
MK_INLINE float scan_log1p01(float w) {
    const float s = w / (2.0f + w);
    const float s2 = s * s;
    float p = 2.0f / 15.0f;
    p = p * s2 + 2.0f / 13.0f;
    p = p * s2 + 2.0f / 11.0f;
    p = p * s2 + 2.0f / 9.0f;
    p = p * s2 + 2.0f / 7.0f;
    p = p * s2 + 2.0f / 5.0f;
    p = p * s2 + 2.0f / 3.0f;
    p = p * s2 + 2.0f;
    return p * s;
}

MK_INLINE float scan_softplus(float x) {
    const float sp = (x > 0.0f ? x : 0.0f) + scan_log1p01(mk_expf(-fabsf(x)));
    return x > SCAN_SOFTPLUS_THRESHOLD ? x : sp;
}

static void scan_chunk_portable(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                float *H, const float *At) {
    enum { W = SCAN_W_PORTABLE };
    const int N = a->N;
    float bias[W], Dv[W];
    for (int j = 0; j < W; j++) {
        bias[j] = (a->delta_bias && j < cnt) ? a->delta_bias[e0 + j] : 0.0f;
        Dv[j] = (a->D && j < cnt) ? a->D[e0 + j] : 0.0f;
    }
    const ptrdiff_t row0 = (ptrdiff_t)b * a->L;
    for (int t = t0; t < t1; t++) {
        const ptrdiff_t r = row0 + t;
        const float *ur = a->u + r * a->ld_u + e0, *dr = a->delta + r * a->ld_delta + e0;
        const float *Br = a->Bm + r * a->ld_bc, *Cr = a->Cm + r * a->ld_bc;
        float uu[W], dt[W], dtu[W], acc[W];
        for (int j = 0; j < W; j++) { uu[j] = 0.0f; dt[j] = 0.0f; }
        for (int j = 0; j < cnt; j++) { uu[j] = ur[j]; dt[j] = dr[j]; }
        for (int j = 0; j < W; j++) {
            float x = dt[j] + bias[j];
            if (a->softplus) x = scan_softplus(x);
            dt[j] = x;
            dtu[j] = x * uu[j];
            acc[j] = Dv[j] * uu[j];
        }
        for (int n = 0; n < N; n++) {                    // the spec, 16 lanes at a time
            const float Bn = Br[n], Cn = Cr[n];
            float *hn = H + n * W;
            const float *An = At + n * W;
            for (int j = 0; j < W; j++) {
                hn[j] = mk_expf(dt[j] * An[j]) * hn[j] + dtu[j] * Bn;
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

// MARK: - AVX-512 (16 channels per zmm)

#if defined(__x86_64__)
#define SCAN_W512 16

// e^x, lanes independent. scalef does the 2^k scaling (exact, and saturates correctly).
SCAN_TARGET512 MK_INLINE __m512 scan_exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(SCAN_EXP_MAX)), _mm512_set1_ps(SCAN_EXP_MIN));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(SCAN_LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(SCAN_LN2_HI), x);       // x - k HI (exact)
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(SCAN_LN2_LO), r);              // ... - k LO
    __m512 p = _mm512_set1_ps(SCAN_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SCAN_EXP_P5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));                       // e^r
    return _mm512_scalef_ps(p, k);                                         // e^r 2^k
}

// 2^t for the decay factors: t = k + f with k = floor(t), f in [0, 1) (vreduceps), 2^f by a
// degree-6 polynomial (Chebyshev fit, rel. error 2.5e-9 + float rounding), times 2^k (vscalefps).
SCAN_TARGET512 MK_INLINE __m512 scan_exp2_512(__m512 t) {
#ifdef SCAN_EXP2_CLAMP
    t = _mm512_max_ps(t, _mm512_set1_ps(-150.0f));
#endif
    const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_set1_ps(SCAN_EXP2_Q6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SCAN_EXP2_Q1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, t);
}

// log1p(w) for w in [0, 1].
SCAN_TARGET512 MK_INLINE __m512 scan_log1p01_512(__m512 w) {
    const __m512 s = _mm512_div_ps(w, _mm512_add_ps(w, _mm512_set1_ps(2.0f)));
    const __m512 s2 = _mm512_mul_ps(s, s);
    __m512 p = _mm512_set1_ps(2.0f / 15.0f);
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 13.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 11.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 9.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 7.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 5.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 3.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f));
    return _mm512_mul_ps(p, s);
}

SCAN_TARGET512 MK_INLINE __m512 scan_softplus512(__m512 x) {
    const __m512 ax = _mm512_abs_ps(x);
    const __m512 sp = _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()),
                                    scan_log1p01_512(scan_exp512(_mm512_sub_ps(_mm512_setzero_ps(), ax))));
    const __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(SCAN_SOFTPLUS_THRESHOLD), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(big, sp, x);
}

// z * sigmoid(z) = z / (1 + e^-z)
SCAN_TARGET512 MK_INLINE __m512 scan_silu512(__m512 z) {
    const __m512 e = scan_exp512(_mm512_sub_ps(_mm512_setzero_ps(), z));
    return _mm512_div_ps(z, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

#ifdef SCAN_FAST_EXP2
#define SCAN_DA512 scan_exp2_512
#define SCAN_A_SCALE512 SCAN_LOG2E
#else
#define SCAN_DA512 scan_exp512
#define SCAN_A_SCALE512 1.0f
#endif

// The chunk body. N is a compile-time constant at the N = 16 call site (then h[] lives in 16
// registers and the n loop is fully unrolled); h (N) is the state, At (N, 16) A^T.
//   scalar spec per lane j (channel e = e0 + j), as mk_scan_fwd_ref:
//     dt = softplus(delta[t,e] + bias[e]); for n: h[n] = exp(dt A[e,n]) h[n] + dt u[t,e] B[t,n];
//     y[t,e] = (sum_n C[t,n] h[n] + D[e] u[t,e]) * silu(z[t,e])
SCAN_TARGET512 MK_INLINE void scan_chunk512_body(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                                  const int N, __m512 *h, const float *At) {
    const __mmask16 m = cnt >= SCAN_W512 ? (__mmask16)0xFFFF : (__mmask16)((1u << cnt) - 1u);
    const __m512 bias = a->delta_bias ? _mm512_maskz_loadu_ps(m, a->delta_bias + e0) : _mm512_setzero_ps();
    const __m512 Dv = a->D ? _mm512_maskz_loadu_ps(m, a->D + e0) : _mm512_setzero_ps();
    const ptrdiff_t r0 = (ptrdiff_t)b * a->L + t0;                      // first row of the chunk
    const float *ur = a->u + r0 * a->ld_u + e0;                          // (t1 - t0, 16) stride ld_u
    const float *dr = a->delta + r0 * a->ld_delta + e0;                  // (t1 - t0, 16) stride ld_delta
    const float *zr = a->z ? a->z + r0 * a->ld_z + e0 : NULL;           // (t1 - t0, 16) stride ld_z
    float *yr = a->y + r0 * a->ld_y + e0;                                // (t1 - t0, 16) stride ld_y
    const float *Br = a->Bm + r0 * a->ld_bc, *Cr = a->Cm + r0 * a->ld_bc;   // (t1 - t0, N) stride ld_bc
    for (int tt = t0; tt < t1; tt += SCAN_TT) {
        const int nt = t1 - tt < SCAN_TT ? t1 - tt : SCAN_TT;           // steps in this tile
        __m512 dtb[SCAN_TT], dtub[SCAN_TT], skipb[SCAN_TT], gateb[SCAN_TT];   // (nt) each
        // Phase 1, elementwise (independent across t, so it runs at full throughput instead of
        // sitting in front of every step's recurrence): dt, dt*u, D*u and silu(z) for the tile.
        for (int i = 0; i < nt; i++) {
#if SCAN_PF_MODE == 0
            _mm_prefetch((const char *)(ur + SCAN_PD * a->ld_u), _MM_HINT_T0);
            _mm_prefetch((const char *)(dr + SCAN_PD * a->ld_delta), _MM_HINT_T0);
            _mm_prefetch((const char *)(yr + (i + SCAN_PD) * a->ld_y), _MM_HINT_T0);
#endif
            const __m512 uv = _mm512_maskz_loadu_ps(m, ur);
            __m512 dt = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dr), bias);
            if (a->softplus) dt = scan_softplus512(dt);
            dtb[i] = dt;
            dtub[i] = _mm512_mul_ps(dt, uv);
            skipb[i] = _mm512_mul_ps(Dv, uv);
            ur += a->ld_u; dr += a->ld_delta;
        }
        if (zr)
            for (int i = 0; i < nt; i++) {
#if SCAN_PF_MODE == 0
                _mm_prefetch((const char *)(zr + SCAN_PD * a->ld_z), _MM_HINT_T0);
#endif
                gateb[i] = scan_silu512(_mm512_maskz_loadu_ps(m, zr));
                zr += a->ld_z;
            }
        // Phase 2, the recurrence over the tile.
        for (int i = 0; i < nt; i++) {
            const __m512 dt = dtb[i], dtu = dtub[i];
#if SCAN_PF_MODE > 0
            if (tt + i + SCAN_PF_AHEAD < t1) {
                _mm_prefetch((const char *)(ur + (i + SCAN_PF_AHEAD - nt) * a->ld_u), SCAN_PF_HINT);
                _mm_prefetch((const char *)(dr + (i + SCAN_PF_AHEAD - nt) * a->ld_delta), SCAN_PF_HINT);
                if (zr) _mm_prefetch((const char *)(zr + (i + SCAN_PF_AHEAD - nt) * a->ld_z), SCAN_PF_HINT);
                _mm_prefetch((const char *)(yr + SCAN_PF_AHEAD * a->ld_y), SCAN_PF_HINT);
            }
#ifdef SCAN_PF_NEXT
            _mm_prefetch((const char *)(ur + (i - nt) * a->ld_u + 16), _MM_HINT_T1);
            _mm_prefetch((const char *)(dr + (i - nt) * a->ld_delta + 16), _MM_HINT_T1);
            if (zr) _mm_prefetch((const char *)(zr + (i - nt) * a->ld_z + 16), _MM_HINT_T1);
            _mm_prefetch((const char *)(yr + 16), _MM_HINT_T1);
#endif
#endif
            __m512 y0 = skipb[i], y1 = _mm512_setzero_ps(), y2 = _mm512_setzero_ps(), y3 = _mm512_setzero_ps();
            int n = 0;
#define SCAN_STEP512(k, acc)                                                                           \
            {                                                                                          \
                const __m512 dA = SCAN_DA512(_mm512_mul_ps(dt, _mm512_load_ps(At + (n + k) * SCAN_W512))); \
                h[n + k] = _mm512_fmadd_ps(dA, h[n + k], _mm512_mul_ps(dtu, _mm512_set1_ps(Br[n + k]))); \
                acc = _mm512_fmadd_ps(_mm512_set1_ps(Cr[n + k]), h[n + k], acc);                       \
            }
            SCAN_UNROLL
            for (; n + 4 <= N; n += 4) { SCAN_STEP512(0, y0) SCAN_STEP512(1, y1) SCAN_STEP512(2, y2) SCAN_STEP512(3, y3) }
            for (; n < N; n++) SCAN_STEP512(0, y0)
#undef SCAN_STEP512
            __m512 yv = _mm512_add_ps(_mm512_add_ps(y0, y1), _mm512_add_ps(y2, y3));
            if (zr) yv = _mm512_mul_ps(yv, gateb[i]);
            _mm512_mask_storeu_ps(yr, m, yv);
            yr += a->ld_y; Br += a->ld_bc; Cr += a->ld_bc;
        }
    }
}

SCAN_TARGET512 static void scan_chunk512_n16(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                             float *H, const float *At) {
    enum { N = 16 };
    __m512 h[N];                                                         // registers
    for (int n = 0; n < N; n++) h[n] = _mm512_load_ps(H + n * SCAN_W512);
    scan_chunk512_body(a, b, e0, cnt, t0, t1, N, h, At);
    for (int n = 0; n < N; n++) _mm512_store_ps(H + n * SCAN_W512, h[n]);
}

SCAN_TARGET512 static void scan_chunk512(const scan_args *a, int b, int e0, int cnt, int t0, int t1,
                                         float *H, const float *At) {
    scan_chunk512_body(a, b, e0, cnt, t0, t1, a->N, (__m512 *)H, At);   // h stays in the stack buffer
}
#endif

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
    int W = SCAN_W_PORTABLE;
    float a_scale = 1.0f;
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512:
        chunk = N == 16 ? scan_chunk512_n16 : scan_chunk512;
        W = SCAN_W512;
        a_scale = SCAN_A_SCALE512;
        break;
    default: break;
    }
#endif
    const int Nh = N > 0 ? N : 1;
    const int blockFloats = Nh * W;                                      // one (N, W) array
    int G = SCAN_GROUP_BYTES / (2 * blockFloats * (int)sizeof(float));   // blocks per group
    G = G < 1 ? 1 : (G > SCAN_GROUP_MAX ? SCAN_GROUP_MAX : G);
    const int nVec = (2 * G * blockFloats + 15) / 16;
    scan_vec16 buf[nVec];
    float *At = buf[0].v;                                                // (G, N, W)
    float *H = At + (ptrdiff_t)G * blockFloats;                          // (G, N, W)
    for (int b = 0; b < Bsz; b++)
        for (int g0 = e_begin; g0 < e_end; g0 += G * W) {
            const int nb = (e_end - g0 + W - 1) / W < G ? (e_end - g0 + W - 1) / W : G;
            for (int k = 0; k < nb; k++) {
                const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                scan_gather(&a, b, e0, cnt, W, a_scale, At + k * blockFloats, H + k * blockFloats);
            }
            for (int t0 = 0; t0 < L; t0 += SCAN_TC) {
                const int t1 = L - t0 < SCAN_TC ? L : t0 + SCAN_TC;
                for (int k = 0; k < nb; k++) {
                    const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                    chunk(&a, b, e0, cnt, t0, t1, H + k * blockFloats, At + k * blockFloats);
                }
            }
            for (int k = 0; k < nb; k++) {
                const int e0 = g0 + k * W, cnt = e_end - e0 < W ? e_end - e0 : W;
                scan_scatter(&a, b, e0, cnt, W, H + k * blockFloats);
            }
        }
}
