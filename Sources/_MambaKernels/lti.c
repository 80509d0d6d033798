// lti.c — the time-invariant (S4D-Real) SSM: its convolution kernel, its recurrence, the epilogue after
// the FFT convolution, and the backward pieces that are not convolutions. Formulas in MambaKernels.h.
//
// These loops run once per channel and state (kernel, parameter gradients) or once per step in
// generation; the long convolution itself is FFTW's (LTISSM.swift). Written plainly in C: the compiler
// vectorises the inner n loops at the baseline ISA, and each function is its own reference.
#include "MambaKernels.h"
#include "mk_math.h"
#include <math.h>
#include <stdlib.h>

MK_INLINE double lti_delta(const mk_lti_ssm *s, int e) { return exp((double)s->log_dt[e]); }

void mk_lti_kernel(const mk_lti_ssm *s, float *K, int ld_k, int L, int e_begin, int e_end) {
    const int N = s->N;
    double *a = malloc(sizeof(double) * (size_t)N), *p = malloc(sizeof(double) * (size_t)N);
    for (int e = e_begin; e < e_end; e++) {
        const double dt = lti_delta(s, e);
        for (int n = 0; n < N; n++) {
            a[n] = exp(dt * (double)s->negA[(size_t)e * N + n]);
            p[n] = (double)s->Cv[(size_t)e * N + n] * dt * (double)s->Bv[(size_t)e * N + n];   // c_n a^0
        }
        float *Ke = K + (size_t)e * ld_k;
        for (int k = 0; k < L; k++) {
            double acc = 0;
            for (int n = 0; n < N; n++) { acc += p[n]; p[n] *= a[n]; }
            Ke[k] = (float)acc;
        }
    }
    free(a); free(p);
}

/// a_n (float) and Δ·B_n for channel e.
MK_INLINE void lti_discretise(const mk_lti_ssm *s, int e, float *a, float *dB) {
    const double dt = lti_delta(s, e);
    for (int n = 0; n < s->N; n++) {
        a[n] = (float)exp(dt * (double)s->negA[(size_t)e * s->N + n]);
        dB[n] = (float)(dt * (double)s->Bv[(size_t)e * s->N + n]);
    }
}

/// The recurrence (`convolved` 0) or the epilogue after the FFT convolution (`convolved` 1: s holds K̄ ∗ u,
/// the initial-state response a^(t+1)·h0 is added, and the state is advanced only when h_last is wanted).
static void lti_run(const mk_lti_scan_params *p, int e_begin, int e_end, int convolved) {
    const int N = p->ssm.N, E = p->ssm.E, L = p->L;
    float *a = malloc(sizeof(float) * (size_t)N), *dB = malloc(sizeof(float) * (size_t)N);
    float *h = malloc(sizeof(float) * (size_t)N), *r = malloc(sizeof(float) * (size_t)N);
    for (int e = e_begin; e < e_end; e++) {
        lti_discretise(&p->ssm, e, a, dB);
        const float *C = p->ssm.Cv + (size_t)e * N;
        const float D = p->D ? p->D[e] : 0.0f;
        for (int b = 0; b < p->Bsz; b++) {
            const size_t st = ((size_t)b * E + e) * N;
            int nonzero = 0;
            for (int n = 0; n < N; n++) {
                h[n] = p->h0 ? p->h0[st + n] : 0.0f;       // h: the state, advanced over the chunk
                r[n] = h[n];                                // r: a^(t+1) h0, the initial-state response
                nonzero |= h[n] != 0.0f;
            }
            for (int t = 0; t < L; t++) {
                const size_t row = (size_t)b * L + t;
                const float u = p->u[row * p->ld_u + e];
                float sv = D * u, acc = 0.0f;
                if (!convolved) {
                    for (int n = 0; n < N; n++) { h[n] = a[n] * h[n] + dB[n] * u; acc += C[n] * h[n]; }
                } else {
                    sv += p->s[row * p->ld_s + e];
                    if (nonzero) for (int n = 0; n < N; n++) { r[n] *= a[n]; acc += C[n] * r[n]; }
                    if (p->h_last) for (int n = 0; n < N; n++) h[n] = a[n] * h[n] + dB[n] * u;
                }
                sv += acc;
                if (p->s) p->s[row * p->ld_s + e] = sv;
                if (p->y) p->y[row * p->ld_y + e] = p->z ? sv * mk_silu(p->z[row * p->ld_z + e]) : sv;
            }
            if (p->h_last) for (int n = 0; n < N; n++) p->h_last[st + n] = h[n];
        }
    }
    free(a); free(dB); free(h); free(r);
}

void mk_lti_scan(const mk_lti_scan_params *p, int e_begin, int e_end) { lti_run(p, e_begin, e_end, 0); }

void mk_lti_epilogue(const mk_lti_scan_params *p, int e_begin, int e_end) { lti_run(p, e_begin, e_end, 1); }

void mk_lti_gate_bwd(const mk_lti_scan_params *p, const float *dy, int ld_dy, float *ds, int ld_ds,
                     float *dz, int ld_dz, float *du, int ld_du, float *dD, int e_begin, int e_end) {
    const int L = p->L;
    for (int e = e_begin; e < e_end; e++) {
        const float D = p->D ? p->D[e] : 0.0f;
        double dDe = 0;
        for (int b = 0; b < p->Bsz; b++) {
            for (int t = 0; t < L; t++) {
                const size_t row = (size_t)b * L + t;
                const float g = dy[row * ld_dy + e];
                float dsv = g;
                if (p->z) {
                    const float z = p->z[row * p->ld_z + e];
                    const float sig = 1.0f / (1.0f + mk_expf(-z));
                    dsv = g * z * sig;
                    if (dz) dz[row * ld_dz + e] = g * p->s[row * p->ld_s + e] * sig * (1.0f + z * (1.0f - sig));
                }
                ds[row * ld_ds + e] = dsv;
                du[row * ld_du + e] = D * dsv;
                dDe += (double)dsv * (double)p->u[row * p->ld_u + e];
            }
        }
        if (dD) dD[e] += (float)dDe;
    }
}

void mk_lti_param_bwd(const mk_lti_param_bwd_params *p, int e_begin, int e_end) {
    const int N = p->ssm.N, E = p->ssm.E, L = p->L;
    for (int e = e_begin; e < e_end; e++) {
        const double dt = lti_delta(&p->ssm, e);
        const float *dK = p->dK + (size_t)e * p->ld_dk;
        double ddt = 0;
        for (int n = 0; n < N; n++) {
            const size_t i = (size_t)e * N + n;
            const double A = p->ssm.negA[i], Bn = p->ssm.Bv[i], Cn = p->ssm.Cv[i];
            const double a = exp(dt * A), c = Cn * dt * Bn;
            // G0 = Σ_k dK_k a^k, G1 = Σ_k k dK_k a^(k−1)  (dK/dc and dK/da contracted with dK)
            double G0 = 0, G1 = 0, pw = 1, pwPrev = 0;
            for (int k = 0; k < L; k++) {
                G0 += (double)dK[k] * pw;
                G1 += (double)k * (double)dK[k] * pwPrev;
                pwPrev = pw; pw *= a;
            }
            double dc = G0, da = c * G1, dCn = 0;
            if (p->h0) {   // s_t += C a^(t+1) h0:  dC += Σ_t ds_t a^(t+1) h0,  da += Σ_t ds_t C (t+1) a^t h0
                for (int b = 0; b < p->Bsz; b++) {
                    const double h0 = p->h0[((size_t)b * E + e) * N + n];
                    if (h0 == 0) continue;
                    double H0 = 0, H1 = 0, at = 1;   // at = a^t
                    for (int t = 0; t < L; t++) {
                        const double g = p->ds[((size_t)b * L + t) * p->ld_ds + e];
                        H1 += g * (double)(t + 1) * at;
                        at *= a;
                        H0 += g * at;
                    }
                    dCn += H0 * h0;
                    da += Cn * h0 * H1;
                }
            }
            p->dC[i] += (float)(dCn + dc * dt * Bn);
            p->dB[i] += (float)(dc * dt * Cn);
            ddt += dc * Cn * Bn + da * a * A;             // c = C Δ B,  a = exp(Δ A)
            p->dA_log[i] += (float)(da * a * dt * A);     // dA = da · a · Δ,  dA_log = dA · A (A = −exp(A_log))
        }
        p->dlog_dt[e] += (float)(ddt * dt);
    }
}
