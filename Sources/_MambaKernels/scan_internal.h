// scan_internal.h — what the scan drivers (scan.c, scan_bwd.c: reference, portable kernels, dispatch) share
// with the SIMD kernels. Those are written once, in scan_fwd_body.h and scan_bwd_body.h over the vector layer
// vf.h, and compiled once per ISA by scan_avx2.c and scan_avx512.c, each exporting one descriptor per kernel.
// Internal to _MambaKernels; not part of the public header.
#ifndef MK_SCAN_INTERNAL_H
#define MK_SCAN_INTERNAL_H
#include "MambaKernels.h"
#include "scan_math.h"
#include <stddef.h>

#define MK_HIDDEN __attribute__((visibility("hidden")))

// MARK: - Forward (scan.c)
//
// Tiling: channel blocks of W, groups of G blocks, time chunks of SCAN_TC steps. A group's states and
// A^T live in a small stack buffer (At2, H: (G, N, W) each). Rows of u, delta, z, y are ld*4 bytes apart
// (often more than a page), so one block walking all of L alone touches a new page per row per stream;
// the blocks of a group instead share the rows of a chunk, and Bm/Cm rows of the chunk stay in L1/L2
// across the group.

#define SCAN_TC 128                 // time steps per chunk
#define SCAN_GROUP_BYTES 32768      // At2 + H budget of a group
#define SCAN_GROUP_MAX 16           // blocks per group at most
#define SCAN_TT 8                   // steps per two-phase tile (elementwise, then recurrence); also
                                    // the prefetch distance in rows

// Advances the cnt <= W channels [e0, e0 + cnt) of batch row b over steps [t0, t1), writing y and
// updating the state H (N, W); At2 (N, W) is the block's A^T log2(e).
typedef void (*scan_chunk_fn)(const mk_scan_params *a, int b, int e0, int cnt, int t0, int t1,
                              float *H, const float *At2);

// The forward kernel of one ISA: W channels per block; chunk_n16 is chunk specialised for N = 16.
typedef struct {
    int W;
    scan_chunk_fn chunk, chunk_n16;
} scan_fwd_isa;

// MARK: - Backward (scan_bwd.c)

#define BWD_T MK_SCAN_BWD_CHUNK         // time steps per chunk
#define BWD_GROUP_BYTES (1 << 20)       // Hb + block state budget of a group of channel blocks
#define BWD_GROUP_MAX 64                // blocks per group at most
#define BWD_PF 8                        // prefetch distance in rows (prep)
#define BWD_KB 4                        // blocks per elementwise pass (prep, finish): fewer TLB misses

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
    void (*prep)(const mk_scan_bwd_params *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full);
    // forward over the chunk from Hin (N, W): BOUNDARY writes the final state to Hout; RECOMPUTE stores ah, a
    void (*sweep)(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt,
                  const float *Hin, float *Hout, int mode);
    // reverse over the chunk: g, dA of the block, pB, pC, sB, qA
    void (*rev)(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt);
    // du, ddelta, dz rows of kb consecutive blocks, row by row; dbias
    void (*finish)(const mk_scan_bwd_params *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt);
    // dBm, dCm rows of the chunk += lane sums of pB, pC; pB, pC back to zero
    void (*reduce)(const mk_scan_bwd_params *a, const bwd_work *w, ptrdiff_t r0, int nt);
} bwd_isa;

// MARK: - Dispatch

// SCAN_ISA(scan_fwd) is &scan_fwd_portable, &scan_fwd_avx2 or &scan_fwd_avx512, as mk_cpu_isa() says.
#if defined(__x86_64__)
MK_HIDDEN extern const scan_fwd_isa scan_fwd_avx2, scan_fwd_avx512;   // scan_avx2.c, scan_avx512.c
MK_HIDDEN extern const bwd_isa scan_bwd_avx2, scan_bwd_avx512;
MK_INLINE const void *scan_pick_isa(const void *portable, const void *avx2, const void *avx512) {
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: return avx512;
    case MK_ISA_AVX2: return avx2;
    default: return portable;
    }
}
#define SCAN_ISA(name) scan_pick_isa(&name##_portable, &name##_avx2, &name##_avx512)
#else
#define SCAN_ISA(name) ((const void *)&name##_portable)
#endif

#endif
