// ssd.c — Mamba-2's SSD (state-space duality) layer: the recurrent scan and its backward, the intra-chunk
// mask of the chunked algorithm, Δ = clamp(softplus(dt + dt_bias)) and the gated RMSNorm.
//
// Per batch row b, head h (group g = h / (H/G)), step t, p < P (head_dim), n < N (d_state):
//   a_t       = exp(Δ_t,h A_h)                                  (A_h = −exp(A_log_h): one scalar per head)
//   S_t[p,n]  = a_t S_t−1[p,n] + Δ_t,h x_t[h,p] B_t[g,n]       (S_−1 = the state passed in)
//   y_t[h,p]  = Σ_n C_t[g,n] S_t[p,n] + D_h x_t[h,p]
// The chunked form (Swift, SSDMixer.swift) computes the same y through matrix products; mk_ssd_mask builds rows
// [i0, i1) of its intra-chunk matrix M[i,j] = (C_i·B_j) exp(Σ_{j<k≤i} Δ_k A) Δ_j for j ≤ i, columns 0 ..< i1
// (0 above the diagonal; the columns from i1 on are all 0 and not written), from a contiguous Δ (Q) of the head.
//
// Backward (given dy_t, with dS the gradient w.r.t. S_t, carried backwards through a_t+1):
//   dS      += dy_t ⊗ C_t
//   dC_t[n]  = Σ_p S_t[p,n] dy_t[p]          dB_t[n] = Δ_t Σ_p dS[p,n] x_t[p]
//   dx_t[p]  = Δ_t Σ_n dS[p,n] B_t[n] + D dy_t[p]
//   dΔ_t     = Σ_p x_t[p] Σ_n dS[p,n] B_t[n] + A a_t Σ dS ∘ S_t−1
//   dA      += Δ_t a_t Σ dS ∘ S_t−1          dD += Σ_p dy_t[p] x_t[p]
//   dS      *= a_t                             (now the gradient w.r.t. S_t−1)
// The states are recomputed, never stored for every step: a forward sweep keeps S at every MK_SSD_BWD_CHUNK-th
// step, then each chunk (last first) is recomputed into a (chunk, P, N) buffer and swept in reverse.
// dB and dC are per head ((T, H, N) partials, the caller sums a group's heads), dA and dD per (b, h).
//
// Layouts (floats): x, y, dy, dx (Bsz·L, H·P) at row strides; B, C, dB, dC at stride ld_bc (group g at g·N);
// Δ (Bsz·L, H) at stride ld_dt; state (Bsz, H, P, N).
// One body per kernel, compiled for AVX-512, AVX2+FMA and the baseline (MK_MULTIVERSION_VOID) and vectorised
// across n by the compiler (`#pragma clang fp reassociate(on)` lets it split the sums over n).
#include "MambaKernels.h"
#include "mk_math.h"
#include "scan_math.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MK_SSD_BWD_CHUNK 16

// MARK: - Recurrent scan (generation, short chunks, and the spec of the chunked form)

MK_INLINE void ssd_scan_body(const mk_ssd_params *p, int item_begin, int item_end) {
#pragma clang fp reassociate(on)
    const int L = p->L, H = p->H, P = p->P, N = p->N, Hg = p->H / p->G;
    for (int item = item_begin; item < item_end; item++) {
        const int b = item / H, h = item % H, g = h / Hg;
        float *S = p->state + (ptrdiff_t)item * P * N;                          // (P, N)
        const float A = p->A[h], Dh = p->D ? p->D[h] : 0.0f;
        for (int t = 0; t < L; t++) {
            const ptrdiff_t r = (ptrdiff_t)b * L + t;
            const float dt = p->dt[r * p->ld_dt + h];
            const float a = mk_expf(dt * A);
            const float *x = p->x + r * p->ld_x + (ptrdiff_t)h * P;
            const float *Bt = p->Bm + r * p->ld_bc + (ptrdiff_t)g * N, *Ct = p->Cm + r * p->ld_bc + (ptrdiff_t)g * N;
            float *y = p->y + r * p->ld_y + (ptrdiff_t)h * P;
            for (int i = 0; i < P; i++) {
                float *s = S + (ptrdiff_t)i * N;
                const float xd = dt * x[i];
                float acc = 0.0f;
                for (int n = 0; n < N; n++) {
                    s[n] = a * s[n] + xd * Bt[n];
                    acc += Ct[n] * s[n];
                }
                y[i] = acc + Dh * x[i];
            }
        }
    }
}
MK_MULTIVERSION_VOID(mk_ssd_scan, ssd_scan_body, (const mk_ssd_params *p, int item_begin, int item_end),
                     (p, item_begin, item_end))

// MARK: - Backward of the recurrent scan

MK_INLINE void ssd_scan_bwd_body(const mk_ssd_bwd_params *q, int item_begin, int item_end) {
#pragma clang fp reassociate(on)
    const mk_ssd_params *p = &q->fwd;
    const int L = p->L, H = p->H, P = p->P, N = p->N, Hg = p->H / p->G, PN = P * N;
    const int T = MK_SSD_BWD_CHUNK, chunks = (L + T - 1) / T;
    float *ckpt = malloc(sizeof(float) * (size_t)chunks * PN);                // state before each chunk
    float *hist = malloc(sizeof(float) * (size_t)T * PN);                     // S_t of the chunk being swept
    float *dS = malloc(sizeof(float) * (size_t)PN);
    float *dC = malloc(sizeof(float) * (size_t)N), *dB = malloc(sizeof(float) * (size_t)N);
    for (int item = item_begin; item < item_end; item++) {
        const int b = item / H, h = item % H, g = h / Hg;
        const float A = p->A[h], Dh = p->D ? p->D[h] : 0.0f;
        // forward sweep: the state at the start of every chunk
        memcpy(ckpt, q->state_in + (ptrdiff_t)item * PN, sizeof(float) * PN);
        for (int c = 0; c + 1 < chunks; c++) {
            float *s0 = ckpt + (ptrdiff_t)c * PN, *s1 = s0 + PN;
            memcpy(s1, s0, sizeof(float) * PN);
            for (int t = c * T; t < (c + 1) * T; t++) {
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                const float dt = p->dt[r * p->ld_dt + h], a = mk_expf(dt * A);
                const float *x = p->x + r * p->ld_x + (ptrdiff_t)h * P, *Bt = p->Bm + r * p->ld_bc + (ptrdiff_t)g * N;
                for (int i = 0; i < P; i++) {
                    float *s = s1 + (ptrdiff_t)i * N;
                    const float xd = dt * x[i];
                    for (int n = 0; n < N; n++) s[n] = a * s[n] + xd * Bt[n];
                }
            }
        }
        memset(dS, 0, sizeof(float) * PN);
        float dA = 0.0f, dD = 0.0f;
        for (int c = chunks - 1; c >= 0; c--) {
            const int t0 = c * T, t1 = t0 + T < L ? t0 + T : L;
            // recompute S_t for t in [t0, t1)
            for (int t = t0; t < t1; t++) {
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                const float dt = p->dt[r * p->ld_dt + h], a = mk_expf(dt * A);
                const float *x = p->x + r * p->ld_x + (ptrdiff_t)h * P, *Bt = p->Bm + r * p->ld_bc + (ptrdiff_t)g * N;
                const float *prev = t == t0 ? ckpt + (ptrdiff_t)c * PN : hist + (ptrdiff_t)(t - t0 - 1) * PN;
                float *cur = hist + (ptrdiff_t)(t - t0) * PN;
                for (int i = 0; i < P; i++) {
                    const float xd = dt * x[i];
                    for (int n = 0; n < N; n++) cur[i * N + n] = a * prev[i * N + n] + xd * Bt[n];
                }
            }
            // reverse sweep
            for (int t = t1 - 1; t >= t0; t--) {
                const ptrdiff_t r = (ptrdiff_t)b * L + t;
                const float dt = p->dt[r * p->ld_dt + h], a = mk_expf(dt * A);
                const float *x = p->x + r * p->ld_x + (ptrdiff_t)h * P;
                const float *Bt = p->Bm + r * p->ld_bc + (ptrdiff_t)g * N, *Ct = p->Cm + r * p->ld_bc + (ptrdiff_t)g * N;
                const float *dy = q->dy + r * q->ld_dy + (ptrdiff_t)h * P;
                const float *cur = hist + (ptrdiff_t)(t - t0) * PN;
                const float *prev = t == t0 ? ckpt + (ptrdiff_t)c * PN : hist + (ptrdiff_t)(t - t0 - 1) * PN;
                float *dx = q->dx + r * q->ld_dx + (ptrdiff_t)h * P;
                for (int n = 0; n < N; n++) { dC[n] = 0.0f; dB[n] = 0.0f; }
                float dtx = 0.0f, da = 0.0f;
                for (int i = 0; i < P; i++) {
                    float *ds = dS + (ptrdiff_t)i * N;
                    const float *s = cur + (ptrdiff_t)i * N, *sp = prev + (ptrdiff_t)i * N;
                    const float dyi = dy[i], xi = x[i];
                    float qb = 0.0f, qa = 0.0f;
                    for (int n = 0; n < N; n++) {
                        const float d = ds[n] + dyi * Ct[n];
                        dC[n] += dyi * s[n];
                        dB[n] += xi * d;
                        qb += d * Bt[n];
                        qa += d * sp[n];
                        ds[n] = a * d;
                    }
                    dx[i] = dt * qb + Dh * dyi;
                    dtx += xi * qb;
                    da += qa;
                    dD += dyi * xi;
                }
                q->ddt[r * q->ld_ddt + h] = dtx + A * a * da;
                dA += dt * a * da;
                float *dCo = q->dC_part + (r * H + h) * N, *dBo = q->dB_part + (r * H + h) * N;
                for (int n = 0; n < N; n++) { dCo[n] = dC[n]; dBo[n] = dt * dB[n]; }
            }
        }
        q->dA_part[item] = dA;
        q->dD_part[item] = dD;
    }
    free(ckpt); free(hist); free(dS); free(dC); free(dB);
}
MK_MULTIVERSION_VOID(mk_ssd_scan_bwd, ssd_scan_bwd_body, (const mk_ssd_bwd_params *q, int item_begin, int item_end),
                     (q, item_begin, item_end))

// MARK: - The chunked form's pieces

MK_INLINE void ssd_mask_body(const float *G, int ldg, const float *acum, const float *dt, int row_begin, int row_end,
                             float *M, int ldm) {
    for (int i = row_begin; i < row_end; i++) {
        const float ai = acum[i];
        float *m = M + (ptrdiff_t)(i - row_begin) * ldm;
        const float *gr = G + (ptrdiff_t)i * ldg;
        for (int j = 0; j <= i; j++) m[j] = gr[j] * mk_expf(ai - acum[j]) * dt[j];
        for (int j = i + 1; j < row_end; j++) m[j] = 0.0f;
    }
}
MK_MULTIVERSION_VOID(mk_ssd_mask, ssd_mask_body,
                     (const float *G, int ldg, const float *acum, const float *dt, int row_begin, int row_end,
                      float *M, int ldm),
                     (G, ldg, acum, dt, row_begin, row_end, M, ldm))

// MARK: - Δ = clamp(softplus(dt + dt_bias), lo, hi)

void mk_ssd_dt_fwd(const float *raw, int ld_raw, const float *bias, float lo, float hi, float *dt, int ld_dt,
                   int rows, int H) {
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < H; h++) {
            float v = scan_softplus(raw[(ptrdiff_t)r * ld_raw + h] + bias[h]);
            v = v < lo ? lo : (v > hi ? hi : v);
            dt[(ptrdiff_t)r * ld_dt + h] = v;
        }
}

void mk_ssd_dt_bwd(const float *raw, int ld_raw, const float *bias, float lo, float hi, const float *ddt, int ld_ddt,
                   float *draw, int ld_draw, float *dbias, int rows, int H) {
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < H; h++) {
            const float u = raw[(ptrdiff_t)r * ld_raw + h] + bias[h];
            const float v = scan_softplus(u);
            // torch.clamp passes the gradient where lo ≤ v ≤ hi; softplus'(u) = sigmoid(u) (1 above the threshold)
            const float pass = (v >= lo && v <= hi) ? 1.0f : 0.0f;
            const float sg = u > SCAN_SOFTPLUS_THRESHOLD ? 1.0f : 1.0f / (1.0f + mk_expf(-u));
            const float d = ddt[(ptrdiff_t)r * ld_ddt + h] * pass * sg;
            draw[(ptrdiff_t)r * ld_draw + h] = d;
            dbias[h] += d;
        }
}

// MARK: - Gated RMSNorm (MambaRMSNormGated), per group of S = E/G channels
//   norm_before_gate 0:  v = y silu(z);  out = w v / sqrt(mean_group(v²) + eps)
//   norm_before_gate 1:  out = w y / sqrt(mean_group(y²) + eps) silu(z)

MK_INLINE void gated_norm_fwd_body(const float *y, int ld_y, const float *z, int ld_z, const float *w, float *out,
                                   int ld_out, int rows, int E, int G, float eps, int before) {
#pragma clang fp reassociate(on)
    const int S = E / G;
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < G; g++) {
            const float *yr = y + (ptrdiff_t)r * ld_y + g * S, *zr = z + (ptrdiff_t)r * ld_z + g * S;
            const float *wr = w + g * S;
            float *o = out + (ptrdiff_t)r * ld_out + g * S;
            float ss = 0.0f;
            if (before) {
                for (int i = 0; i < S; i++) ss += yr[i] * yr[i];
                const float inv = 1.0f / sqrtf(ss / (float)S + eps);
                for (int i = 0; i < S; i++) o[i] = wr[i] * (yr[i] * inv) * mk_silu(zr[i]);
            } else {
                for (int i = 0; i < S; i++) { const float v = yr[i] * mk_silu(zr[i]); o[i] = v; ss += v * v; }
                const float inv = 1.0f / sqrtf(ss / (float)S + eps);
                for (int i = 0; i < S; i++) o[i] = wr[i] * (o[i] * inv);
            }
        }
}
MK_MULTIVERSION_VOID(mk_gated_rmsnorm_fwd, gated_norm_fwd_body,
                     (const float *y, int ld_y, const float *z, int ld_z, const float *w, float *out, int ld_out,
                      int rows, int E, int G, float eps, int before),
                     (y, ld_y, z, ld_z, w, out, ld_out, rows, E, G, eps, before))

MK_INLINE void gated_norm_bwd_body(const float *y, int ld_y, const float *z, int ld_z, const float *w,
                                   const float *dout, int ld_dout, float *dy, int ld_dy, float *dz, int ld_dz,
                                   float *dw, int rows, int E, int G, float eps, int before) {
#pragma clang fp reassociate(on)
    const int S = E / G;
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < G; g++) {
            const float *yr = y + (ptrdiff_t)r * ld_y + g * S, *zr = z + (ptrdiff_t)r * ld_z + g * S;
            const float *wr = w + g * S, *dor = dout + (ptrdiff_t)r * ld_dout + g * S;
            float *dyr = dy + (ptrdiff_t)r * ld_dy + g * S, *dzr = dz + (ptrdiff_t)r * ld_dz + g * S, *dwr = dw + g * S;
            // u = the normalised quantity (v, or y when the norm comes first); k = what multiplies w·û
            float ss = 0.0f, dot = 0.0f;
            for (int i = 0; i < S; i++) {
                const float u = before ? yr[i] : yr[i] * mk_silu(zr[i]);
                ss += u * u;
            }
            const float inv = 1.0f / sqrtf(ss / (float)S + eps);
            for (int i = 0; i < S; i++) {
                const float sz = mk_silu(zr[i]);
                const float u = before ? yr[i] : yr[i] * sz;
                const float gu = before ? dor[i] * sz : dor[i];      // dL/d(w û)
                dot += gu * wr[i] * u;
            }
            const float c = dot * inv * inv * inv / (float)S;
            for (int i = 0; i < S; i++) {
                const float sig = 1.0f / (1.0f + mk_expf(-zr[i])), sz = zr[i] * sig;
                const float dsz = sig * (1.0f + zr[i] * (1.0f - sig));   // silu'(z)
                const float u = before ? yr[i] : yr[i] * sz;
                const float gu = before ? dor[i] * sz : dor[i];
                dwr[i] += gu * u * inv;
                const float du = gu * wr[i] * inv - u * c;
                if (before) {
                    dyr[i] = du;
                    dzr[i] = dor[i] * wr[i] * u * inv * dsz;
                } else {
                    dyr[i] = du * sz;
                    dzr[i] = du * yr[i] * dsz;
                }
            }
        }
}
MK_MULTIVERSION_VOID(mk_gated_rmsnorm_bwd, gated_norm_bwd_body,
                     (const float *y, int ld_y, const float *z, int ld_z, const float *w, const float *dout, int ld_dout,
                      float *dy, int ld_dy, float *dz, int ld_dz, float *dw, int rows, int E, int G, float eps, int before),
                     (y, ld_y, z, ld_z, w, dout, ld_dout, dy, ld_dy, dz, ld_dz, dw, rows, E, G, eps, before))
