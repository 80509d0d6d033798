// adamw.c — the AdamW update over a contiguous block (PyTorch semantics), and gradient norms.
//
//   g ← grad_scale · g
//   p ← p − lr · wd · p                       (decoupled weight decay)
//   m ← β1 m + (1 − β1) g ;  v ← β2 v + (1 − β2) g²
//   p ← p − lr · (m / bc1) / (sqrt(v / bc2) + eps),   bc1 = 1 − β1^t, bc2 = 1 − β2^t
#include "MambaKernels.h"
#include "mk_math.h"
#include <math.h>

MK_INLINE void adamw_body(const mk_adamw_params *prm, size_t i_begin, size_t i_end) {
    float *p = prm->p + i_begin, *m = prm->m + i_begin, *v = prm->v + i_begin;
    const float *g = prm->g + i_begin;
    const size_t n = i_end > i_begin ? i_end - i_begin : 0;
    const float lr = prm->lr, beta1 = prm->beta1, beta2 = prm->beta2, eps = prm->eps, wd = prm->wd;
    const float bc1 = prm->bc1, bc2 = prm->bc2, grad_scale = prm->grad_scale;
    const float decay = 1.0f - lr * wd, step = lr / bc1, inv_bc2 = 1.0f / bc2;
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] * grad_scale;
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi * inv_bc2) + eps);
    }
}
MK_MULTIVERSION_VOID(mk_adamw, adamw_body, (const mk_adamw_params *prm, size_t i_begin, size_t i_end),
                     (prm, i_begin, i_end))

MK_INLINE double sumsq64_body(const float *x, size_t n) {
    double acc[8] = {0};
    const size_t n8 = n / 8 * 8;
    for (size_t i = 0; i < n8; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j] * (double)x[i + j];
    double s = 0.0;
    for (int j = 0; j < 8; j++) s += acc[j];
    for (size_t i = n8; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}
MK_MULTIVERSION(double, mk_sum_squares_f64, sumsq64_body, (const float *x, size_t n), (x, n))
