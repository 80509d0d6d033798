// scan_bwd_body.h — the five SIMD phases of mk_scan_bwd, written once over the vector layer vf.h (VF_W channels
// per vector) and compiled once per ISA: included only by scan_avx2.c and scan_avx512.c, after vf.h and the
// per-ISA tuning below. The algorithm and the scalar spec of every phase: scan_bwd.c (the portable versions).
//
// Tuning an ISA defines before including this (register budget: 32 zmm vs 16 ymm):
//   BWD_SWEEP_AT_REGS   1: the group's A^T log2(e) vectors stay in registers in the sweep; 0: loaded per use
//   BWD_SWEEP_YACC      accumulators of y in the recompute sweep (1 or 2; alternating states)
//   BWD_REV_MAXG        states per group of the reverse sweep (g and dA in registers: 2 per state)

#define BWD_W VF_W                                                       // channels per block
#define BWD_2W (2 * VF_W)                                                // floats per (t, n) item of ha, pbc

// Rows of u, delta (, dy, z) are usually pages apart: the kb blocks' lines of a row are read together
// (one TLB walk per row and stream instead of kb) and prefetched BWD_PF rows ahead. Spec: bwd_prep_row_portable.
VF_TARGET static void bwd_prep(const mk_scan_bwd_params *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt, int full) {
    const mk_scan_params *f = &a->fwd;
    const VF one = vf_set1(1.0f), zero = vf_zero();
    const ptrdiff_t ld_u = f->ld_u, ld_d = f->ld_delta, ld_z = f->ld_z, ld_dy = a->ld_dy;
    const int e0 = ks[0].e0;                                              // blocks q at e0 + W q
    const float *ur = f->u + r0 * ld_u + e0;                              // (nt, W kb) stride ld_u
    const float *dr = f->delta + r0 * ld_d + e0;                          // (nt, W kb) stride ld_d
    const float *zr = f->z ? f->z + r0 * ld_z + e0 : NULL;               // (nt, W kb) stride ld_z
    const float *dyr = a->dy + r0 * ld_dy + e0;                           // (nt, W kb) stride ld_dy
    for (int i = 0; i < nt; i++) {
        if (i + BWD_PF < nt)
            for (int q = 0; q < kb; q += VF_PER_LINE) {                   // one prefetch per 64-byte line
                vf_prefetch(ur + (i + BWD_PF) * ld_u + q * BWD_W);
                vf_prefetch(dr + (i + BWD_PF) * ld_d + q * BWD_W);
                if (full) {
                    vf_prefetch(dyr + (i + BWD_PF) * ld_dy + q * BWD_W);
                    if (zr) vf_prefetch(zr + (i + BWD_PF) * ld_z + q * BWD_W);
                }
            }
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const int cnt = k->cnt;
            const VL m = vf_lanes(cnt);
            const VF bias = f->delta_bias ? vf_load_n(f->delta_bias + k->e0, cnt, m) : zero;
            const VF uv = vf_load_n(ur + i * ld_u + q * BWD_W, cnt, m);
            const VF x = vf_add(vf_load_n(dr + i * ld_d + q * BWD_W, cnt, m), bias);
            VF dt = x, sig = one;
            if (f->delta_softplus) {
                VF e;                                                     // exp(-|x|)
                dt = vf_softplus_w(x, &e);
                if (full) {
                    const VM big = vf_gt(x, vf_set1(SCAN_SOFTPLUS_THRESHOLD));
                    sig = vf_div(vf_select(vf_ge(x, zero), e, one), vf_add(one, e));
                    sig = vf_select(big, sig, one);
                }
            }
            vf_store(BWD_STEP(k, i, BWD_DT, BWD_W), dt);
            vf_store(BWD_STEP(k, i, BWD_DTU, BWD_W), vf_mul(dt, uv));
            if (!full) continue;
            vf_store(BWD_STEP(k, i, BWD_U, BWD_W), uv);
            vf_store(BWD_STEP(k, i, BWD_SIG, BWD_W), sig);
            const VF dyv = vf_load_n(dyr + i * ld_dy + q * BWD_W, cnt, m);
            VF dyp = dyv;
            if (zr) {
                const VF zv = vf_load_n(zr + i * ld_z + q * BWD_W, cnt, m);
                const VF s = vf_div(one, vf_add(one, vf_exp(vf_sub(zero, zv))));
                dyp = vf_mul(dyv, vf_mul(zv, s));                                  // dy silu(z)
                const VF ds = vf_mul(s, vf_fma(zv, vf_sub(one, s), one));          // silu'(z)
                vf_store(BWD_STEP(k, i, BWD_DYD, BWD_W), vf_mul(dyv, ds));
            }
            vf_store(BWD_STEP(k, i, BWD_DYP, BWD_W), dyp);
            vf_store(k->dD, vf_fma(dyp, uv, vf_load(k->dD)));
            vf_store(BWD_STEP(k, i, BWD_Y, BWD_W), zero);
            vf_store(BWD_STEP(k, i, BWD_SB, BWD_W), zero);
            vf_store(BWD_STEP(k, i, BWD_QA, BWD_W), zero);
        }
    }
}

// Forward over the chunk for states [n0, n0 + NG) (NG a compile-time constant at each call site: h (and At2)
// in registers). Spec: bwd_sweep_portable.
VF_INLINE void bwd_sweep_group(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k,
                               ptrdiff_t r0, int nt, const float *Hin, float *Hout,
                               int n0, const int NG, const int mode) {
    const int N = a->fwd.N;
    const ptrdiff_t ld_bc = a->fwd.ld_bc;
    VF h[NG];                                                             // registers
    const float *Atm = k->At2 + n0 * BWD_W;                               // (NG, W)
#if BWD_SWEEP_AT_REGS
    VF At[NG];
    for (int j = 0; j < NG; j++) { h[j] = vf_load(Hin + (n0 + j) * BWD_W); At[j] = vf_load(Atm + j * BWD_W); }
#define BWD_AT(j) At[j]
#else
    for (int j = 0; j < NG; j++) h[j] = vf_load(Hin + (n0 + j) * BWD_W);
#define BWD_AT(j) vf_load(Atm + (j) * BWD_W)
#endif
    const float *Bt = a->fwd.Bm + r0 * ld_bc + n0, *Ct = a->fwd.Cm + r0 * ld_bc + n0;   // (NG) per row
    for (int i = 0; i < nt; i++, Bt += ld_bc, Ct += ld_bc) {
        const VF dt = vf_load(BWD_STEP(k, i, BWD_DT, BWD_W)), dtu = vf_load(BWD_STEP(k, i, BWD_DTU, BWD_W));
        float *hap = w->ha + ((ptrdiff_t)i * N + n0) * BWD_2W;           // (NG, 2, W): ah, a
        VF y0 = vf_zero(), y1 = vf_zero();
        SCAN_UNROLL
        for (int j = 0; j < NG; j++) {
            const VF av = vf_exp2(vf_mul(dt, BWD_AT(j)));
            const VF ah = vf_mul(av, h[j]);
            h[j] = vf_fma(dtu, vf_set1(Bt[j]), ah);
            if (mode != BWD_BOUNDARY) {
                vf_store(hap + j * BWD_2W, ah);
                vf_store(hap + j * BWD_2W + BWD_W, av);
            }
            if (mode == BWD_RECOMPUTE_Y) {
                if (BWD_SWEEP_YACC == 2 && (j & 1)) y1 = vf_fma(vf_set1(Ct[j]), h[j], y1);
                else y0 = vf_fma(vf_set1(Ct[j]), h[j], y0);
            }
        }
        if (mode == BWD_RECOMPUTE_Y) {
            float *yp = BWD_STEP(k, i, BWD_Y, BWD_W);
            vf_store(yp, vf_add(vf_load(yp), BWD_SWEEP_YACC == 2 ? vf_add(y0, y1) : y0));
        }
    }
#undef BWD_AT
    if (mode == BWD_BOUNDARY)
        for (int j = 0; j < NG; j++) vf_store(Hout + (n0 + j) * BWD_W, h[j]);
}

// Calls BODY(ng) over the states in groups of 8, then one of 4, 2, 1 (N = 17: 8, 8, 1).
#define BWD_FOR_GROUPS(N, MAXG, BODY)                                    \
    for (int n0 = 0; n0 < (N);) {                                        \
        const int rest = (N) - n0;                                       \
        if (rest >= 8 && (MAXG) >= 8) { BODY(8); n0 += 8; }              \
        else if (rest >= 4) { BODY(4); n0 += 4; }                        \
        else if (rest >= 2) { BODY(2); n0 += 2; }                        \
        else { BODY(1); n0 += 1; }                                       \
    }

VF_TARGET static void bwd_sweep(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0,
                                int nt, const float *Hin, float *Hout, int mode) {
#define BWD_SWEEP_NG(ng)                                                                                  \
    switch (mode) {                                                                                       \
    case BWD_BOUNDARY: bwd_sweep_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_BOUNDARY); break;          \
    case BWD_RECOMPUTE: bwd_sweep_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_RECOMPUTE); break;        \
    default: bwd_sweep_group(a, w, k, r0, nt, Hin, Hout, n0, ng, BWD_RECOMPUTE_Y); break;                 \
    }
    BWD_FOR_GROUPS(a->fwd.N, 8, BWD_SWEEP_NG)
#undef BWD_SWEEP_NG
}

// Reverse over the chunk for states [n0, n0 + NG): g, dA in registers. Spec: bwd_rev_portable.
VF_INLINE void bwd_rev_group(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k,
                             ptrdiff_t r0, int nt, int n0, const int NG) {
    const int N = a->fwd.N;
    const ptrdiff_t ld_bc = a->fwd.ld_bc;
    VF g[NG], dA[NG];                                                     // registers
    for (int j = 0; j < NG; j++) {
        g[j] = vf_load(k->g + (n0 + j) * BWD_W);
        dA[j] = vf_load(k->dA + (n0 + j) * BWD_W);
    }
    const float *An = k->Av + n0 * BWD_W;                                 // (NG, W)
    const float *Bt = a->fwd.Bm + (r0 + nt - 1) * ld_bc + n0, *Ct = a->fwd.Cm + (r0 + nt - 1) * ld_bc + n0;  // (NG)
    for (int i = nt - 1; i >= 0; i--, Bt -= ld_bc, Ct -= ld_bc) {
        const VF dyp = vf_load(BWD_STEP(k, i, BWD_DYP, BWD_W)), dt = vf_load(BWD_STEP(k, i, BWD_DT, BWD_W));
        const VF dtu = vf_load(BWD_STEP(k, i, BWD_DTU, BWD_W));
        const ptrdiff_t off = ((ptrdiff_t)i * N + n0) * BWD_2W;
        const float *hap = w->ha + off;                                   // (NG, 2, W): ah, a
        float *pp = w->pbc + off;                                         // (NG, 2, W): pB, pC
        VF sB = vf_zero(), qA = vf_zero();
        SCAN_UNROLL
        for (int j = 0; j < NG; j++) {
            const VF Bn = vf_set1(Bt[j]);
            const VF ah = vf_load(hap + j * BWD_2W);
            const VF gn = vf_fma(dyp, vf_set1(Ct[j]), g[j]);                       // g_t
            const VF h = vf_fma(dtu, Bn, ah);                                      // h_t
            float *pB = pp + j * BWD_2W, *pC = pB + BWD_W;
            vf_store(pC, vf_fma(dyp, h, vf_load(pC)));
            vf_store(pB, vf_fma(gn, dtu, vf_load(pB)));
            sB = vf_fma(gn, Bn, sB);
            const VF q = vf_mul(gn, ah);
            qA = vf_fma(q, vf_load(An + j * BWD_W), qA);
            dA[j] = vf_fma(dt, q, dA[j]);
            g[j] = vf_mul(vf_load(hap + j * BWD_2W + BWD_W), gn);                  // a_t g_t
        }
        float *sBp = BWD_STEP(k, i, BWD_SB, BWD_W), *qAp = BWD_STEP(k, i, BWD_QA, BWD_W);
        vf_store(sBp, vf_add(vf_load(sBp), sB));
        vf_store(qAp, vf_add(vf_load(qAp), qA));
    }
    for (int j = 0; j < NG; j++) {
        vf_store(k->g + (n0 + j) * BWD_W, g[j]);
        vf_store(k->dA + (n0 + j) * BWD_W, dA[j]);
    }
}

VF_TARGET static void bwd_rev(const mk_scan_bwd_params *a, const bwd_work *w, const bwd_block *k, ptrdiff_t r0, int nt) {
#define BWD_REV_NG(ng) bwd_rev_group(a, w, k, r0, nt, n0, ng)
    BWD_FOR_GROUPS(a->fwd.N, BWD_REV_MAXG, BWD_REV_NG)
#undef BWD_REV_NG
}

// Spec: bwd_finish_portable.
VF_TARGET static void bwd_finish(const mk_scan_bwd_params *a, const bwd_block *ks, int kb, ptrdiff_t r0, int nt) {
    const mk_scan_params *f = &a->fwd;
    const int e0 = ks[0].e0;                                              // blocks q at e0 + W q
    float *dur = a->du + r0 * a->ld_du + e0;                              // (nt, W kb) stride ld_du
    float *ddr = a->ddelta + r0 * a->ld_ddelta + e0;                      // (nt, W kb) stride ld_ddelta
    float *dzr = (f->z && a->dz) ? a->dz + r0 * a->ld_dz + e0 : NULL;    // (nt, W kb) stride ld_dz
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < kb; q++) {
            const bwd_block *k = ks + q;
            const int cnt = k->cnt;
            const VL m = vf_lanes(cnt);
            const VF Dv = f->D ? vf_load_n(f->D + k->e0, cnt, m) : vf_zero();
            const VF sB = vf_load(BWD_STEP(k, i, BWD_SB, BWD_W)), uu = vf_load(BWD_STEP(k, i, BWD_U, BWD_W));
            const VF dyp = vf_load(BWD_STEP(k, i, BWD_DYP, BWD_W));
            const VF du = vf_fma(dyp, Dv, vf_mul(vf_load(BWD_STEP(k, i, BWD_DT, BWD_W)), sB));
            VF dd = vf_fma(uu, sB, vf_load(BWD_STEP(k, i, BWD_QA, BWD_W)));     // d dt
            if (f->delta_softplus) dd = vf_mul(dd, vf_load(BWD_STEP(k, i, BWD_SIG, BWD_W)));
            vf_store(k->dbias, vf_add(vf_load(k->dbias), dd));
            vf_store_n(dur + i * a->ld_du + q * BWD_W, cnt, m, du);
            vf_store_n(ddr + i * a->ld_ddelta + q * BWD_W, cnt, m, dd);
            if (dzr) {
                const VF y = vf_fma(Dv, uu, vf_load(BWD_STEP(k, i, BWD_Y, BWD_W)));   // pre-gate y
                vf_store_n(dzr + i * a->ld_dz + q * BWD_W, cnt, m, vf_mul(vf_load(BWD_STEP(k, i, BWD_DYD, BWD_W)), y));
            }
        }
}

// Flat over the nt N (t, n) items of the chunk, W at a time: sums[f] = lane sum of item f of p (pB or pC,
// items 2 W floats apart in pbc, which has W zero items past the end); p back to zero; out rows += sums.
VF_TARGET static void bwd_reduce_one(const mk_scan_bwd_params *a, const bwd_work *w, float *p, float *out,
                                     ptrdiff_t r0, int nt) {
    const int N = a->fwd.N, items = nt * N;                               // (t, n) items, flat f = i N + n
    for (int f = 0; f < items; f += BWD_W) {
        vf_store(w->sums + f, vf_hsum_w(p + (ptrdiff_t)f * BWD_2W, BWD_2W));
        for (int v = 0; v < BWD_W; v++) vf_store(p + ((ptrdiff_t)f + v) * BWD_2W, vf_zero());
    }
    for (int i = 0; i < nt; i++) {
        float *o = out + (r0 + i) * a->ld_dbc;                            // (N)
        const float *s = w->sums + i * N;
        int n = 0;
        for (; n + BWD_W <= N; n += BWD_W) vf_storeu(o + n, vf_add(vf_loadu(o + n), vf_loadu(s + n)));
        for (; n < N; n++) o[n] += s[n];
    }
}

VF_TARGET static void bwd_reduce(const mk_scan_bwd_params *a, const bwd_work *w, ptrdiff_t r0, int nt) {
    bwd_reduce_one(a, w, w->pbc, a->dBm, r0, nt);
    bwd_reduce_one(a, w, w->pbc + BWD_W, a->dCm, r0, nt);
}

MK_HIDDEN const bwd_isa VF_SFX(scan_bwd) = { BWD_W, bwd_prep, bwd_sweep, bwd_rev, bwd_finish, bwd_reduce };
