// norm.c — RMSNorm (with the residual add fused in), softmax helpers and small elementwise loops.
#include "MambaKernels.h"
#include "mk_math.h"
#include <math.h>

// MARK: - RMSNorm
//   x[r,:] += add[r,:]                     (if add != NULL: the residual stream update)
//   out[r,:] = x[r,:] * rsqrt(mean(x[r,:]^2) + eps) * w
// x, add, out: (rows, D) contiguous; w: (D).
MK_INLINE void rmsnorm_body(float *x, const float *add, const float *w, float *out, int rows, int D, float eps) {
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * D;
        if (add) {
            const float *ar = add + (size_t)r * D;
            for (int i = 0; i < D; i++) xr[i] += ar[i];
        }
        float ss = mk_sum_squares(xr, D);
        const float scale = 1.0f / sqrtf(ss / (float)D + eps);
        float *orow = out + (size_t)r * D;
        for (int i = 0; i < D; i++) orow[i] = xr[i] * scale * w[i];
    }
}

// MARK: - log-sum-exp of each row: lse[r] = max + log(sum_v exp(logits[r,v] - max))
MK_INLINE void lse_body(const float *logits, int rows, int V, int ld, float *lse) {
    for (int r = 0; r < rows; r++) {
        const float *row = logits + (size_t)r * ld;
        float mp[16], sp[16];
        for (int j = 0; j < 16; j++) { mp[j] = -INFINITY; sp[j] = 0.0f; }
        const int V16 = V / 16 * 16;
        for (int v = 0; v < V16; v += 16)
            for (int j = 0; j < 16; j++) mp[j] = row[v + j] > mp[j] ? row[v + j] : mp[j];
        float m = -INFINITY;
        for (int j = 0; j < 16; j++) m = mp[j] > m ? mp[j] : m;
        for (int v = V16; v < V; v++) m = row[v] > m ? row[v] : m;
        for (int v = 0; v < V16; v += 16)
            for (int j = 0; j < 16; j++) sp[j] += mk_expf(row[v + j] - m);
        float s = 0.0f;
        for (int j = 0; j < 16; j++) s += sp[j];
        for (int v = V16; v < V; v++) s += mk_expf(row[v] - m);
        lse[r] = m + logf(s);
    }
}

#if defined(__x86_64__)
#define TARGET512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define TARGET2 __attribute__((target("avx2,fma")))
TARGET512 static void rmsnorm_avx512(float *x, const float *a, const float *w, float *o, int rows, int D, float eps) { rmsnorm_body(x, a, w, o, rows, D, eps); }
TARGET2 static void rmsnorm_avx2(float *x, const float *a, const float *w, float *o, int rows, int D, float eps) { rmsnorm_body(x, a, w, o, rows, D, eps); }
TARGET512 static void lse_avx512(const float *l, int rows, int V, int ld, float *lse) { lse_body(l, rows, V, ld, lse); }
TARGET2 static void lse_avx2(const float *l, int rows, int V, int ld, float *lse) { lse_body(l, rows, V, ld, lse); }
#endif
static void rmsnorm_portable(float *x, const float *a, const float *w, float *o, int rows, int D, float eps) { rmsnorm_body(x, a, w, o, rows, D, eps); }
static void lse_portable(const float *l, int rows, int V, int ld, float *lse) { lse_body(l, rows, V, ld, lse); }

void mk_rmsnorm_fwd(float *x, const float *add, const float *w, float *out, int rows, int D, float eps) {
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: rmsnorm_avx512(x, add, w, out, rows, D, eps); return;
    case MK_ISA_AVX2: rmsnorm_avx2(x, add, w, out, rows, D, eps); return;
    default: break;
    }
#endif
    rmsnorm_portable(x, add, w, out, rows, D, eps);
}

void mk_logsumexp_rows(const float *logits, int rows, int V, int ld, float *lse) {
#if defined(__x86_64__)
    switch (mk_cpu_isa()) {
    case MK_ISA_AVX512: lse_avx512(logits, rows, V, ld, lse); return;
    case MK_ISA_AVX2: lse_avx2(logits, rows, V, ld, lse); return;
    default: break;
    }
#endif
    lse_portable(logits, rows, V, ld, lse);
}

// MARK: - Small loops (not hot enough to dispatch)

void mk_neg_exp(const float *a_log, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = -expf(a_log[i]);
}

void mk_add_inplace(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
