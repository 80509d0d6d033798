// MambaKernels.h — the few hot loops of MambaKit, in C, with runtime CPU dispatch.
//
// Every kernel has a portable scalar version (the spec) and, where it pays, AVX2 and
// AVX-512 versions compiled with __attribute__((target(...))) and chosen at run time
// (mk_cpu_isa); the SIMD scan bodies are written once over a vector layer (vf.h) and
// compiled per ISA. Nothing here starts threads: callers split channels across threads
// by passing a channel range [e_begin, e_end). The large kernels take one parameter
// struct (mk_scan_params, ...) whose fields carry their shapes, plus that range.
//
// Letters (Docs/Glossary.md): B batch, L length, D d_model, E d_inner, N d_state,
// R dt_rank, K d_conv, V vocab. Matrices are row-major; "ld" is a row stride in floats.
#ifndef MAMBA_KERNELS_H
#define MAMBA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - CPU dispatch

/// Instruction-set levels a kernel can be dispatched to.
enum { MK_ISA_PORTABLE = 0, MK_ISA_AVX2 = 1, MK_ISA_AVX512 = 2 };

/// The best level this CPU and OS support (cpuid + xgetbv), or the forced level.
int mk_cpu_isa(void);
/// The best level the hardware supports, ignoring any forcing.
int mk_cpu_isa_detected(void);
/// Force a level (clamped to what the CPU supports); -1 restores detection. For tests and benchmarks.
/// Also honoured from the environment: MAMBAKIT_ISA=portable|avx2|avx512.
void mk_force_isa(int isa);
const char *mk_isa_name(int isa);

// MARK: - Threads (pool.c)

/// One part of a parallel section: fn(ctx, part).
typedef void (*mk_pool_task)(void *ctx, int part);
/// Runs fn(ctx, p) for every p < parts, exactly once each, on the caller and parts − 1 persistent workers
/// (which spin briefly between sections, then sleep); returns when all are done. Nested or concurrent calls
/// run their parts inline.
void mk_pool_run(int parts, mk_pool_task fn, void *ctx);
/// *p += v atomically (sequentially consistent); returns the old value. For tests of the pool.
int mk_atomic_add_i32(int32_t *p, int32_t v);

// MARK: - BLAS (OpenBLAS loaded at run time, see Docs/BLAS.md)

/// Loads OpenBLAS once (also done by a constructor before main). Returns 1 when a BLAS was found.
int mk_blas_init(void);
/// OpenBLAS's own name for its kernels, e.g. "SkylakeX", or "portable" when no BLAS was found.
const char *mk_blas_corename(void);
/// One line saying how the core type was chosen (for `mambakit bench gemm` and `info`).
const char *mk_blas_note(void);
/// Path/soname of the loaded library, or "" when none.
const char *mk_blas_library(void);
void mk_blas_set_threads(int n);
int mk_blas_get_threads(void);

/// Pure decision function (tested): given the core name OpenBLAS picked on its own and the CPU's ISA
/// level, returns the OPENBLAS_CORETYPE to force, or NULL to keep OpenBLAS's choice.
const char *mk_blas_better_coretype(const char *picked, int isa);

/// C = alpha * op(A) * op(B) + beta * C, row-major. op(X) = X^T when transX != 0.
/// op(A) is (M, K), op(B) is (K, N), C is (M, N).
void mk_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/// y = alpha * op(A) x + beta * y, A is (M, N) row-major.
void mk_sgemv(int transA, int M, int N, float alpha, const float *A, int lda,
              const float *x, float beta, float *y);

/// Arguments of mk_linear_small (M, the output features, is implied by the range and out).
typedef struct {
    const float *x;             // (B, K) row stride ld_x: the input rows (few: generation)
    int ld_x;
    const float *W;             // (M, K) contiguous: a PyTorch Linear weight
    const float *bias;          // (M) or NULL
    float *out;                 // (B, M) row stride ld_out
    int ld_out;
    int Bsz, K;                 // B (rows of x), K (in-features)
} mk_linear_small_params;

/// out[b, j] = bias[j] + sum_k W[j, k] * x[b, k] for b < B, j in [j_begin, j_end).
/// For few rows (generation): streams W once.
void mk_linear_small(const mk_linear_small_params *p, int j_begin, int j_end);

// MARK: - Linear layers from 16- and 8-bit weights (linear_quant.c; inference only)

/// Weight formats of mk_linear_quant: IEEE binary16, bfloat16, and per-block int8 (llama.cpp's q8_0:
/// blocks of 32 weights with one binary16 scale, rows zero-padded to mk_q8_padded(K) = ceil(K/64)·64).
enum { MK_WF_F16 = 1, MK_WF_BF16 = 2, MK_WF_Q8 = 3 };

/// Row length of a q8 weight or activation row of K values (a multiple of 64: two blocks per 512-bit vector).
int mk_q8_padded(int K);

/// Arguments of mk_linear_quant (M, the output features, is implied by the range and out).
typedef struct {
    const float *x;             // (B, K) row stride ld_x: f16/bf16 formats read it directly
    int ld_x;
    const int8_t *xq;           // (B, Kp) q8 only: x quantised by mk_quantize_rows_q8, Kp = mk_q8_padded(K)
    const float *xd;            // (B, Kp/32) q8 only: the activation block scales
    int format;                 // MK_WF_*
    const void *W;              // f16/bf16: (M, K) uint16; q8: (M, Kp) int8
    const uint16_t *scales;     // q8: (M, Kp/32) binary16 block scales; NULL otherwise
    const float *bias;          // (M) or NULL
    float *out;                 // (B, M) row stride ld_out
    int ld_out;
    int Bsz, K;
} mk_linear_quant_params;

/// out[b, j] = bias[j] + sum_k W[j, k] x[b, k] (q8: the block formula in linear_quant.c), b < B, j in [j_begin, j_end).
void mk_linear_quant(const mk_linear_quant_params *p, int j_begin, int j_end);
/// Which kernel mk_linear_quant runs for `format` at the current ISA: "avx512", "avx2", "avx512-vnni", "portable".
const char *mk_linear_quant_kernel(int format);
/// Whether the CPU has AVX-512 VNNI (vpdpbusd), used by the q8 kernel at the avx512 level.
int mk_cpu_has_avx512vnni(void);
/// W (M, K) f32 → qs (M, Kp) int8 and scales (M, Kp/32) binary16: d = f16(max|w| / 127), q = round(w / d), |q| ≤ 127.
void mk_quantize_q8_weights(const float *W, int M, int K, int8_t *qs, uint16_t *scales);
/// x (rows, K) row stride ld_x → xq (rows, Kp) int8 and xd (rows, Kp/32) f32 scales, the same rule with an f32 scale.
void mk_quantize_rows_q8(const float *x, int ld_x, int rows, int K, int8_t *xq, float *xd);
/// x̂ = the activations the int8 kernels multiply, widened back: out (rows, K) row stride ld_out, each block of 32
/// of each row of x (rows, K) rounded as mk_quantize_rows_q8 rounds it (the many-row path's activations).
void mk_q8_round_rows(const float *x, int ld_x, int rows, int K, float *out, int ld_out);
/// Rows [j_begin, j_end) of a stored matrix widened to f32: out (j_end − j_begin, K).
void mk_dequantize_rows(int format, const void *W, const uint16_t *scales, int K, int j_begin, int j_end, float *out);

// MARK: - Selective scan (S6), fused: discretise + recur + output (+ D skip, + gate)

/// Arguments of mk_scan_fwd / mk_scan_fwd_ref. Shapes per field; "row stride ld_x" is in floats and batch b's
/// rows start at b*L*ld_x. Optional fields are NULL when absent.
typedef struct {
    const float *u;             // (B, L, E) row stride ld_u: the input (conv1d + SiLU output)
    int ld_u;
    const float *delta;         // (B, L, E) row stride ld_delta: dt before bias and softplus
    int ld_delta;
    const float *A;             // (E, N) contiguous: A = -exp(A_log), precomputed by the caller
    const float *Bm;            // (B, L, N) row stride ld_bc (usually columns of the x_proj output)
    const float *Cm;            // (B, L, N) row stride ld_bc
    int ld_bc;
    const float *D;             // (E) or NULL: the skip D[e] * u[t,e]
    const float *delta_bias;    // (E) or NULL: added to delta
    int delta_softplus;         // nonzero: dt = softplus(delta + delta_bias)
    const float *z;             // (B, L, E) row stride ld_z, or NULL: the gate silu(z)
    int ld_z;
    float *y;                   // (B, L, E) row stride ld_y: the output (after the gate)
    int ld_y;
    const float *h0;            // (B, E, N) initial state, or NULL for zeros
    float *h_last;              // (B, E, N) final state written, or NULL (may alias h0)
    int Bsz, L, E, N;           // B, L, E, N
} mk_scan_params;

/// Forward selective scan for channels [e_begin, e_end), every batch row.
///
///   dt[t,e]  = softplus(delta[t,e] + delta_bias[e])     (softplus only if delta_softplus; bias optional)
///   h[e,n]   = exp(dt[t,e] * A[e,n]) * h[e,n] + dt[t,e] * Bm[t,n] * u[t,e]
///   y[t,e]   = sum_n Cm[t,n] * h[e,n] + D[e] * u[t,e]          (D optional)
///   y[t,e]  *= z[t,e] * sigmoid(z[t,e])                        (only if z != NULL)
///
/// The (B, L, E, N) state tensor is never stored. Writes y (and h_last) for these channels only.
void mk_scan_fwd(const mk_scan_params *p, int e_begin, int e_end);

/// mk_scan_fwd for L = 1 (one generation step; mk_scan_fwd calls it): the states stay in their (B, E, N) layout,
/// the n loop is the vector loop. Same contract; h0 and h_last may be the same array.
void mk_scan_step(const mk_scan_params *p, int e_begin, int e_end);
/// The plain reference scan (scalar: the literal formula in float). Same contract as mk_scan_fwd; used by tests.
void mk_scan_fwd_ref(const mk_scan_params *p, int e_begin, int e_end);

// MARK: - Selective scan backward

/// Time steps per recomputation chunk of mk_scan_bwd: the forward states are kept only at multiples of it.
#define MK_SCAN_BWD_CHUNK 64

/// Arguments of mk_scan_bwd / mk_scan_bwd_ref: the forward call's arguments plus the gradients. Shapes as in
/// mk_scan_params; "=" written for the channels [e_begin, e_end), "+=" accumulated.
typedef struct {
    mk_scan_params fwd;         // the forward's inputs (its y and h_last are not read: may be NULL)
    const float *dy;            // (B, L, E) row stride ld_dy: dLoss/d y (y after the z gate)
    int ld_dy;
    float *du;                  // (B, L, E) row stride ld_du, =: through the B u term and the D skip
    int ld_du;
    float *ddelta;              // (B, L, E) row stride ld_ddelta, =: through softplus and the bias (dLoss/d dt without softplus)
    int ld_ddelta;
    float *dz;                  // (B, L, E) row stride ld_dz, = if fwd.z != NULL (may be NULL then too)
    int ld_dz;
    float *dA;                  // (E, N) +=: w.r.t. A, NOT A_log (the caller applies dA_log = dA * A)
    float *dD;                  // (E) += if fwd.D != NULL (or NULL)
    float *ddelta_bias;         // (E) += if fwd.delta_bias != NULL (or NULL)
    float *dBm;                 // (B, L, N) row stride ld_dbc, +=: B and C are shared by all channels, so
    float *dCm;                 // (B, L, N) row stride ld_dbc, +=   with threads splitting channels each thread
    int ld_dbc;                 //                                     needs its own dBm/dCm, summed by the caller
    float *dh0;                 // (B, E, N) or NULL, =: w.r.t. fwd.h0 (zeros for h0 == NULL)
} mk_scan_bwd_params;

/// Backward of mk_scan_fwd for channels [e_begin, e_end): the gradients described in mk_scan_bwd_params.
/// The states h_t are recomputed: a forward sweep keeps only the states at chunk boundaries (every
/// MK_SCAN_BWD_CHUNK steps), then chunks in reverse order: recompute the chunk's states from its boundary
/// state into a chunk-sized buffer, then the reverse-time sweep. Memory: one heap block per call,
/// O(L / MK_SCAN_BWD_CHUNK · N) floats per channel of a group plus O(MK_SCAN_BWD_CHUNK · N · 16); never (L, E, N).
/// Docs/ScanBackward.md has the derivation.
void mk_scan_bwd(const mk_scan_bwd_params *p, int e_begin, int e_end);

/// The plain scalar reference of mk_scan_bwd (Double internally; stores every state of one channel): the spec,
/// used by tests. Same contract.
void mk_scan_bwd_ref(const mk_scan_bwd_params *p, int e_begin, int e_end);

// MARK: - Complex selective scan (the Mamba paper's §3.6 complex parameterisation, selective_scan_ref's semantics)

/// Arguments of mk_cscan_fwd / mk_cscan_fwd_ref: as mk_scan_params, with a complex diagonal A and complex B, C.
/// Complex numbers are stored as (re, im) float pairs.
typedef struct {
    const float *u;             // (B, L, E) row stride ld_u: the input (conv1d + SiLU output)
    int ld_u;
    const float *delta;         // (B, L, E) row stride ld_delta: dt before bias and softplus
    int ld_delta;
    const float *A_re;          // (E, N): Re A = -exp(A_log), precomputed by the caller
    const float *A_im;          // (E, N): Im A (the parameter A_imag)
    const float *Bm;            // (B, L, 2N) row stride ld_bc: (re, im) of B_n, n = 0 … N-1
    const float *Cm;            // (B, L, 2N) row stride ld_bc: likewise C
    int ld_bc;
    const float *D;             // (E) or NULL: the skip D[e] * u[t,e]
    const float *delta_bias;    // (E) or NULL: added to delta
    int delta_softplus;         // nonzero: dt = softplus(delta + delta_bias)
    const float *z;             // (B, L, E) row stride ld_z, or NULL: the gate silu(z)
    int ld_z;
    float *y;                   // (B, L, E) row stride ld_y: the output (after the gate)
    int ld_y;
    const float *h0;            // (B, E, N, 2) initial state (re, im), or NULL for zeros
    float *h_last;              // (B, E, N, 2) final state written, or NULL (may alias h0)
    int Bsz, L, E, N;           // B, L, E, N (complex states per channel)
} mk_cscan_params;

/// Forward complex selective scan for channels [e_begin, e_end), every batch row:
///
///   dt      = softplus(delta[t,e] + delta_bias[e])
///   h[e,n]  = exp(dt * A[e,n]) * h[e,n] + dt * B[t,n] * u[t,e]        (complex A, B, h)
///   y[t,e]  = (2 Re(sum_n C[t,n] h[e,n]) + D[e] u[t,e]) * silu(z[t,e])
///
/// The state stays in cache (W = 16 channels at a time); writes y (and h_last) for these channels only.
void mk_cscan_fwd(const mk_cscan_params *p, int e_begin, int e_end);

/// The plain reference (scalar float complex, the literal formula). Same contract; used by tests.
void mk_cscan_fwd_ref(const mk_cscan_params *p, int e_begin, int e_end);

/// Time steps per recomputation chunk of mk_cscan_bwd.
#define MK_CSCAN_BWD_CHUNK 64

/// Arguments of mk_cscan_bwd / mk_cscan_bwd_ref ("=" written for the channels [e_begin, e_end), "+=" accumulated).
typedef struct {
    mk_cscan_params fwd;        // the forward's inputs (its y and h_last are not read: may be NULL)
    const float *dy;            // (B, L, E) row stride ld_dy: dLoss/d y (after the gate)
    int ld_dy;
    float *du;                  // (B, L, E) row stride ld_du, =
    int ld_du;
    float *ddelta;              // (B, L, E) row stride ld_ddelta, =: through softplus and the bias
    int ld_ddelta;
    float *dz;                  // (B, L, E) row stride ld_dz, = if fwd.z != NULL (may be NULL)
    int ld_dz;
    float *dA_re;               // (E, N) +=: w.r.t. Re A, NOT A_log (the caller applies dA_log = dA_re * A_re)
    float *dA_im;               // (E, N) +=: w.r.t. Im A (= A_imag)
    float *dD;                  // (E) += if fwd.D != NULL (or NULL)
    float *ddelta_bias;         // (E) += if fwd.delta_bias != NULL (or NULL)
    float *dBm;                 // (B, L, 2N) row stride ld_dbc, +=: shared by all channels (one buffer per thread)
    float *dCm;                 // (B, L, 2N) row stride ld_dbc, +=
    int ld_dbc;
    float *dh0;                 // (B, E, N, 2) or NULL, =: w.r.t. fwd.h0
} mk_cscan_bwd_params;

/// Backward of mk_cscan_fwd for channels [e_begin, e_end). The states are recomputed chunk by chunk
/// (MK_CSCAN_BWD_CHUNK steps) from the states kept at chunk starts; never (B, L, E, N) floats.
/// Formulas in complex_scan.c's header and Docs/ComplexSSM.md.
void mk_cscan_bwd(const mk_cscan_bwd_params *p, int e_begin, int e_end);

/// The plain reference of mk_cscan_bwd (double complex; stores every state of one channel). Same contract.
void mk_cscan_bwd_ref(const mk_cscan_bwd_params *p, int e_begin, int e_end);

/// sin and cos of n values by the fast kernels' polynomial (for tests).
void mk_cscan_sincos(const float *x, float *s, float *c, int n);

// MARK: - Depthwise causal conv1d (+ SiLU)

/// Arguments of mk_conv1d_fwd.
typedef struct {
    const float *x;             // (B, L, E) row stride ld_x: the input
    int ld_x;
    const float *w;             // (E, K) contiguous: the depthwise filters
    const float *bias;          // (E) or NULL
    const float *state_in;      // (B, K-1, E) contiguous, time-major (row j holds x[j-(K-1)]), or NULL for zeros
    float *state_out;           // (B, K-1, E) or NULL: receives the last K-1 inputs (may alias state_in)
    float *out;                 // (B, L, E) row stride ld_out
    int ld_out;
    int Bsz, L, E, K;           // B, L, E, K
    int act;                    // 0 none, 1 SiLU
} mk_conv1d_params;

/// out[t,e] = act( bias[e] + sum_{k<K} w[e,k] * x[t-(K-1)+k, e] ), channels [e_begin, e_end).
/// Inputs before t=0 come from state_in; state_out (state_in then x, the last K-1 rows) lets a sequence be continued.
void mk_conv1d_fwd(const mk_conv1d_params *p, int e_begin, int e_end);

/// Arguments of mk_conv1d_bwd: the forward's arguments plus the gradients.
typedef struct {
    mk_conv1d_params fwd;       // the forward's inputs (act 0 or 1; its state_out and out are not read: may be NULL)
    const float *dout;          // (B, L, E) row stride ld_dout: the gradient of out
    int ld_dout;
    float *dx;                  // (B, L, E) row stride ld_dx, =
    int ld_dx;
    float *dw;                  // (E, K) +=
    float *dbias;               // (E) += , or NULL
} mk_conv1d_bwd_params;

/// Backward of mk_conv1d_fwd for channels [e_begin, e_end). The pre-activation is recomputed from x and
/// fwd.state_in (the state the forward started from; NULL = zeros). The gradient w.r.t. state_in is not
/// computed (the state is treated as a constant: truncated backprop).
void mk_conv1d_bwd(const mk_conv1d_bwd_params *p, int e_begin, int e_end);

// MARK: - Time-invariant (LTI, S4D-Real) SSM
//
// Per channel e, with Δ_e = exp(log_dt[e]), a_en = exp(Δ_e A_en) (A = −exp(A_log) < 0):
//   h_t = a ⊙ h_{t−1} + Δ_e B_e u_t,   s_t = Σ_n C_en h_t,n + D_e u_t,   y_t = s_t · SiLU(z_t).
// Equivalently s = K̄ ∗ u + D u + (initial-state response), K̄_k = Σ_n C_en Δ_e B_en a_en^k (the long
// convolution kernel, applied with FFTW by the Swift layer). Channels [e_begin, e_end) per call.

/// The time-invariant parameters of one LTI SSM (one block's mixer).
typedef struct {
    const float *log_dt;        // (E): log Δ
    const float *negA;          // (E, N): A = −exp(A_log)
    const float *Bv;            // (E, N)
    const float *Cv;            // (E, N)
    int E, N;
} mk_lti_ssm;

/// K̄ (E, ld_k): K̄[e, k] = Σ_n C[e,n] Δ_e B[e,n] a_en^k for k < L (powers and sums in double).
void mk_lti_kernel(const mk_lti_ssm *s, float *K, int ld_k, int L, int e_begin, int e_end);

/// Arguments of mk_lti_scan and mk_lti_epilogue.
typedef struct {
    mk_lti_ssm ssm;
    const float *u;             // (B, L, E) row stride ld_u: the input (conv1d + SiLU output)
    int ld_u;
    const float *D;             // (E): skip
    const float *z;             // (B, L, E) row stride ld_z: the gate input, or NULL (no gate)
    int ld_z;
    float *s;                   // (B, L, E) row stride ld_s: the output before the gate, or NULL
    int ld_s;
    float *y;                   // (B, L, E) row stride ld_y: s · SiLU(z), or NULL
    int ld_y;
    const float *h0;            // (B, E, N): the initial state, or NULL for zeros
    float *h_last;              // (B, E, N): the final state, or NULL (may alias h0)
    int Bsz, L;
} mk_lti_scan_params;

/// The recurrence (the reference, and the recurrent mode): s, y and h_last from u and h0.
void mk_lti_scan(const mk_lti_scan_params *p, int e_begin, int e_end);

/// After the convolution: s already holds (K̄ ∗ u)_t; adds D u_t and the initial-state response
/// Σ_n C_en a_en^(t+1) h0_n, writes y = s · SiLU(z), and h_last (the state after the last step).
void mk_lti_epilogue(const mk_lti_scan_params *p, int e_begin, int e_end);

/// Gate and skip backward: ds = dy · SiLU(z) (into ds), dz = dy · s · SiLU'(z) (into dz, row stride ld_dz),
/// du = D · ds (into du: the convolution part is added by the caller), dD += Σ ds · u.
void mk_lti_gate_bwd(const mk_lti_scan_params *p, const float *dy, int ld_dy, float *ds, int ld_ds,
                     float *dz, int ld_dz, float *du, int ld_du, float *dD, int e_begin, int e_end);

/// Arguments of mk_lti_param_bwd.
typedef struct {
    mk_lti_ssm ssm;
    const float *dK;            // (E, ld_dk): dLoss/dK̄_k, k < L, summed over the batch
    int ld_dk, L;
    const float *h0;            // (B, E, N): the forward's initial state, or NULL (zeros: no term)
    const float *ds;            // (B, L, E) row stride ld_ds: dLoss/ds (needed only with h0)
    int ld_ds, Bsz;
    float *dlog_dt;             // (E) +=
    float *dA_log;              // (E, N) +=
    float *dB;                  // (E, N) +=
    float *dC;                  // (E, N) +=
} mk_lti_param_bwd_params;

/// Gradients of the time-invariant parameters from dK̄ (and from the initial-state response when h0 is given).
void mk_lti_param_bwd(const mk_lti_param_bwd_params *p, int e_begin, int e_end);

// MARK: - Mamba-2 SSD (ssd.c)

/// Arguments of mk_ssd_scan: the SSD recurrence of Mamba-2 (one scalar A per head, B and C shared by the heads of
/// a group). Items are (b, h) pairs, item = b·H + h.
typedef struct {
    const float *x;             // (Bsz, L, H·P) row stride ld_x: the conv output's x part
    const float *Bm;            // (Bsz, L, G·N) row stride ld_bc
    const float *Cm;            // (Bsz, L, G·N) row stride ld_bc
    const float *dt;            // (Bsz, L, H) row stride ld_dt: Δ after softplus and clamp
    const float *A;             // (H) = −exp(A_log)
    const float *D;             // (H) skip, or NULL
    float *y;                   // (Bsz, L, H·P) row stride ld_y: Σ_n C S + D x
    float *state;               // (Bsz, H, P, N): read as the state before the chunk, left as the state after it
    int ld_x, ld_bc, ld_dt, ld_y;
    int Bsz, L, H, P, G, N;
} mk_ssd_params;

/// S_t = exp(Δ_t A) S_t−1 + Δ_t x_t ⊗ B_t;  y_t = S_t C_t + D x_t, for items [item_begin, item_end).
/// The plain loop is the spec of the chunked form (SSDMixer.swift); formulas in ssd.c.
void mk_ssd_scan(const mk_ssd_params *p, int item_begin, int item_end);

/// Arguments of mk_ssd_scan_bwd: the forward's (its y and state are not read) and the gradients.
typedef struct {
    mk_ssd_params fwd;
    const float *state_in;      // (Bsz, H, P, N) the state the forward started from
    const float *dy; int ld_dy; // (Bsz, L, H·P)
    float *dx; int ld_dx;       // (Bsz, L, H·P) written
    float *ddt; int ld_ddt;     // (Bsz, L, H) written: dL/dΔ
    float *dB_part, *dC_part;   // (Bsz·L, H, N) written: per-head parts (sum a group's heads)
    float *dA_part, *dD_part;   // (Bsz·H) written: dL/dA and dL/dD per item
} mk_ssd_bwd_params;

/// Backward of mk_ssd_scan for items [item_begin, item_end); recomputes the states (never (L, P, N) floats).
void mk_ssd_scan_bwd(const mk_ssd_bwd_params *p, int item_begin, int item_end);

/// Rows [row_begin, row_end) of M (Q, Q) = G ∘ exp(acum_i − acum_j) ∘ dt_j for j ≤ i, 0 above the diagonal: the
/// chunked SSD's intra-chunk matrix of one head (G = C·Bᵀ at row stride ldg, acum the within-chunk cumulative
/// Σ Δ A, dt the head's Δ, both contiguous (Q)). Writes columns 0 ..< row_end of each row (the rest are 0) to M at
/// row stride ldm, the first row at M.
void mk_ssd_mask(const float *G, int ldg, const float *acum, const float *dt, int row_begin, int row_end,
                 float *M, int ldm);

/// dt (rows, H) = clamp(softplus(raw + bias), lo, hi)  (softplus threshold 20, as PyTorch).
void mk_ssd_dt_fwd(const float *raw, int ld_raw, const float *bias, float lo, float hi, float *dt, int ld_dt,
                   int rows, int H);
/// Backward of mk_ssd_dt_fwd: draw written, dbias (H) accumulated.
void mk_ssd_dt_bwd(const float *raw, int ld_raw, const float *bias, float lo, float hi, const float *ddt, int ld_ddt,
                   float *draw, int ld_draw, float *dbias, int rows, int H);

/// Gated RMSNorm over groups of E/G channels: out = w · norm(y · silu(z)) (before = 0, Mamba-2's default) or
/// w · norm(y) · silu(z) (before = 1, norm_before_gate).
void mk_gated_rmsnorm_fwd(const float *y, int ld_y, const float *z, int ld_z, const float *w, float *out, int ld_out,
                          int rows, int E, int G, float eps, int before);
/// Backward of mk_gated_rmsnorm_fwd: dy, dz written, dw (E) accumulated.
void mk_gated_rmsnorm_bwd(const float *y, int ld_y, const float *z, int ld_z, const float *w, const float *dout, int ld_dout,
                          float *dy, int ld_dy, float *dz, int ld_dz, float *dw, int rows, int E, int G, float eps, int before);

// MARK: - Norms, elementwise, softmax

/// RMSNorm of each row: out[r,:] = x[r,:] / sqrt(mean(x[r,:]^2) + eps) * w. (rows, D), contiguous rows of ld D.
/// If add != NULL, first x[r,:] += add[r,:] (the residual add, in place), then normalise.
void mk_rmsnorm_fwd(float *x, const float *add, const float *w, float *out, int rows, int D, float eps);

/// Backward of RMSNorm (without the add): out = x · r · w, r = (mean(x²) + eps)^(-1/2).
///   dx[r,:] (+=) = r·(w ⊙ dout) − x · r³/D · Σ_i w_i dout_i x_i ;  dw (+=) Σ_rows dout ⊙ x · r.
/// x, dout, dx: (rows, D). dx and dw are accumulated.
void mk_rmsnorm_bwd(const float *x, const float *w, const float *dout, float *dx, float *dw, int rows, int D, float eps);

/// Cross-entropy over rows of logits, in place: for each row r with target t = targets[r] (t < 0: ignored row, gradient 0),
/// loss_r = logsumexp(logits[r,:]) − logits[r,t]; the row is overwritten with scale · (softmax(logits[r,:]) − onehot(t)).
/// Returns Σ_r loss_r (as double). logits (rows, V) with row stride ld.
double mk_xent_fwd_bwd(float *logits, int rows, int V, int ld, const int32_t *targets, float scale);

/// col[j] (+=) Σ_r x[r, j] for x (rows, n) row stride ld.
void mk_colsum_add(const float *x, int rows, int n, int ld, float *col);

/// Arguments of mk_adamw: a block of n contiguous parameters and the step's hyperparameters.
typedef struct {
    float *p;                   // (n): the parameters, updated in place
    const float *g;             // (n): their gradients
    float *m;                   // (n): first moments, updated in place
    float *v;                   // (n): second moments, updated in place
    float lr, beta1, beta2, eps;
    float wd;                   // decoupled weight decay (0 for the parameters without)
    float bc1, bc2;             // bias corrections 1 − β1^t, 1 − β2^t
    float grad_scale;           // gradients are multiplied by it first (global-norm clipping, accumulation averaging)
} mk_adamw_params;

/// AdamW (PyTorch semantics) over the elements [i_begin, i_end) of the block (threads split the range):
///   p ← p − lr·wd·p;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
///   p ← p − lr · (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 − β1^t, bc2 = 1 − β2^t.
void mk_adamw(const mk_adamw_params *p, size_t i_begin, size_t i_end);

/// Σ x[i]² in double (for global gradient norms).
double mk_sum_squares_f64(const float *x, size_t n);

/// out[i] = -exp(a_log[i]) for i < n.
void mk_neg_exp(const float *a_log, float *out, size_t n);

/// For each row r of logits (rows, V): lse[r] = log(sum_v exp(logits[r,v])).
void mk_logsumexp_rows(const float *logits, int rows, int V, int ld, float *lse);

/// y[i] += x[i].
void mk_add_inplace(float *y, const float *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif
