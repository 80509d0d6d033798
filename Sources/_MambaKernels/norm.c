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

MK_MULTIVERSION_VOID(mk_rmsnorm_fwd, rmsnorm_body,
                     (float *x, const float *add, const float *w, float *out, int rows, int D, float eps),
                     (x, add, w, out, rows, D, eps))
MK_MULTIVERSION_VOID(mk_logsumexp_rows, lse_body, (const float *logits, int rows, int V, int ld, float *lse),
                     (logits, rows, V, ld, lse))

// MARK: - RMSNorm backward
//   dx += r (w ⊙ dout) − x r³/D Σ_i w_i dout_i x_i;   dw += Σ_rows dout ⊙ x r
MK_INLINE void rmsnorm_bwd_body(const float *x, const float *w, const float *dout, float *dx, float *dw,
                                int rows, int D, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * D, *gr = dout + (size_t)r * D;
        float *dxr = dx + (size_t)r * D;
        const float rs = 1.0f / sqrtf(mk_sum_squares(xr, D) / (float)D + eps);
        float acc[16] = {0};
        const int D16 = D / 16 * 16;
        for (int i = 0; i < D16; i += 16)
            for (int j = 0; j < 16; j++) acc[j] += w[i + j] * gr[i + j] * xr[i + j];
        float dot = 0.0f;
        for (int j = 0; j < 16; j++) dot += acc[j];
        for (int i = D16; i < D; i++) dot += w[i] * gr[i] * xr[i];
        const float c = dot * rs * rs * rs / (float)D;
        for (int i = 0; i < D; i++) {
            dxr[i] += rs * w[i] * gr[i] - c * xr[i];
            dw[i] += gr[i] * xr[i] * rs;
        }
    }
}
MK_MULTIVERSION_VOID(mk_rmsnorm_bwd, rmsnorm_bwd_body,
                     (const float *x, const float *w, const float *dout, float *dx, float *dw, int rows, int D, float eps),
                     (x, w, dout, dx, dw, rows, D, eps))

// MARK: - Cross-entropy (forward + gradient w.r.t. the logits, in place)
MK_INLINE double xent_body(float *logits, int rows, int V, int ld, const int32_t *targets, float scale) {
    double total = 0.0;
    for (int r = 0; r < rows; r++) {
        float *row = logits + (size_t)r * ld;
        const int t = targets[r];
        if (t < 0) { for (int v = 0; v < V; v++) row[v] = 0.0f; continue; }
        float lse;
        lse_body(row, 1, V, ld, &lse);
        total += (double)lse - (double)row[t];
        for (int v = 0; v < V; v++) row[v] = scale * mk_expf(row[v] - lse);
        row[t] -= scale;
    }
    return total;
}
MK_MULTIVERSION(double, mk_xent_fwd_bwd, xent_body,
                (float *logits, int rows, int V, int ld, const int32_t *targets, float scale),
                (logits, rows, V, ld, targets, scale))

// MARK: - Column sums (bias gradients)
MK_INLINE void colsum_body(const float *x, int rows, int n, int ld, float *col) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ld;
        for (int j = 0; j < n; j++) col[j] += xr[j];
    }
}
MK_MULTIVERSION_VOID(mk_colsum_add, colsum_body, (const float *x, int rows, int n, int ld, float *col), (x, rows, n, ld, col))

// MARK: - Small loops (not hot enough to dispatch)

void mk_neg_exp(const float *a_log, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = -expf(a_log[i]);
}

void mk_add_inplace(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
