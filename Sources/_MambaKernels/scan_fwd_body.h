// scan_fwd_body.h — the SIMD chunk kernel of mk_scan_fwd, written once over the vector layer vf.h (VF_W
// channels per vector) and compiled once per ISA: included only by scan_avx2.c and scan_avx512.c, after vf.h.
// Tiling and the two-phase tiles: scan.c's header comment; scan_internal.h has the constants.

// The chunk body. N is a compile-time constant at the N = 16 call site (then h[] lives in registers and
// the n loop is fully unrolled; with AVX2's 16 ymm registers the compiler spills some of the 16 states,
// still ~5% faster than the stack buffer); h (N) is the state, At2 (N, VF_W) = A^T log2(e).
//   scalar spec per lane j (channel e = e0 + j), as mk_scan_fwd_ref:
//     dt = softplus(delta[t,e] + bias[e]); for n: h[n] = exp(dt A[e,n]) h[n] + dt u[t,e] B[t,n];
//     y[t,e] = (sum_n C[t,n] h[n] + D[e] u[t,e]) * silu(z[t,e])
VF_INLINE void scan_chunk_body(const mk_scan_params *a, int b, int e0, int cnt, int t0, int t1,
                               const int N, VF *h, const float *At2) {
    const VL m = vf_lanes(cnt);
    const VF bias = a->delta_bias ? vf_load_n(a->delta_bias + e0, cnt, m) : vf_zero();
    const VF Dv = a->D ? vf_load_n(a->D + e0, cnt, m) : vf_zero();
    const ptrdiff_t r0 = (ptrdiff_t)b * a->L + t0;                      // first row of the chunk
    const ptrdiff_t ld_u = a->ld_u, ld_d = a->ld_delta, ld_z = a->ld_z, ld_y = a->ld_y, ld_bc = a->ld_bc;
    const float *ur = a->u + r0 * ld_u + e0;                             // (t1 - t0, VF_W) stride ld_u
    const float *dr = a->delta + r0 * ld_d + e0;                         // (t1 - t0, VF_W) stride ld_d
    const float *zr = a->z ? a->z + r0 * ld_z + e0 : NULL;              // (t1 - t0, VF_W) stride ld_z
    float *yr = a->y + r0 * ld_y + e0;                                   // (t1 - t0, VF_W) stride ld_y
    const float *Br = a->Bm + r0 * ld_bc, *Cr = a->Cm + r0 * ld_bc;     // (t1 - t0, N) stride ld_bc
    for (int tt = t0; tt < t1; tt += SCAN_TT) {
        const int nt = t1 - tt < SCAN_TT ? t1 - tt : SCAN_TT;           // steps in this tile
        VF dtb[SCAN_TT], dtub[SCAN_TT], skipb[SCAN_TT], gateb[SCAN_TT];  // (nt) each
        // Phase 1, elementwise over the tile (independent across t, so it runs at full throughput
        // instead of sitting as a long dependency chain in front of every step's recurrence).
        for (int i = 0; i < nt; i++) {
            const VF uv = vf_load_n(ur + i * ld_u, cnt, m);
            VF dt = vf_add(vf_load_n(dr + i * ld_d, cnt, m), bias);
            if (a->delta_softplus) dt = vf_softplus(dt);
            dtb[i] = dt;
            dtub[i] = vf_mul(dt, uv);
            skipb[i] = vf_mul(Dv, uv);
        }
        if (zr)
            for (int i = 0; i < nt; i++) gateb[i] = vf_silu(vf_load_n(zr + i * ld_z, cnt, m));
        // Phase 2, the recurrence over the tile; meanwhile the next tile's rows are prefetched.
        for (int i = 0; i < nt; i++) {
            if (tt + i + SCAN_TT < t1) {
                const ptrdiff_t ahead = i + SCAN_TT;
                vf_prefetch(ur + ahead * ld_u);
                vf_prefetch(dr + ahead * ld_d);
                if (zr) vf_prefetch(zr + ahead * ld_z);
                vf_prefetch(yr + ahead * ld_y);
            }
            const VF dt = dtb[i], dtu = dtub[i];
            const float *Bt = Br + i * ld_bc, *Ct = Cr + i * ld_bc;      // (N)
            VF y0 = skipb[i], y1 = vf_zero(), y2 = vf_zero(), y3 = vf_zero();
            int n = 0;
#define SCAN_STEP(k, acc)                                                                               \
            {                                                                                           \
                const VF dA = vf_exp2(vf_mul(dt, vf_load(At2 + (n + k) * VF_W)));                       \
                h[n + k] = vf_fma(dA, h[n + k], vf_mul(dtu, vf_set1(Bt[n + k])));                       \
                acc = vf_fma(vf_set1(Ct[n + k]), h[n + k], acc);                                        \
            }
            SCAN_UNROLL
            for (; n + 4 <= N; n += 4) { SCAN_STEP(0, y0) SCAN_STEP(1, y1) SCAN_STEP(2, y2) SCAN_STEP(3, y3) }
            for (; n < N; n++) SCAN_STEP(0, y0)
#undef SCAN_STEP
            VF yv = vf_add(vf_add(y0, y1), vf_add(y2, y3));
            if (zr) yv = vf_mul(yv, gateb[i]);
            vf_store_n(yr + i * ld_y, cnt, m, yv);
        }
        ur += nt * ld_u; dr += nt * ld_d; yr += nt * ld_y; Br += nt * ld_bc; Cr += nt * ld_bc;
        if (zr) zr += nt * ld_z;
    }
}

VF_TARGET static void scan_chunk_n16(const mk_scan_params *a, int b, int e0, int cnt, int t0, int t1,
                                     float *H, const float *At2) {
    enum { N = 16 };
    VF h[N];                                                             // registers
    for (int n = 0; n < N; n++) h[n] = vf_load(H + n * VF_W);
    scan_chunk_body(a, b, e0, cnt, t0, t1, N, h, At2);
    for (int n = 0; n < N; n++) vf_store(H + n * VF_W, h[n]);
}

VF_TARGET static void scan_chunk(const mk_scan_params *a, int b, int e0, int cnt, int t0, int t1,
                                 float *H, const float *At2) {
    scan_chunk_body(a, b, e0, cnt, t0, t1, a->N, (VF *)H, At2);         // h stays in the stack buffer
}

MK_HIDDEN const scan_fwd_isa VF_SFX(scan_fwd) = { VF_W, scan_chunk, scan_chunk_n16 };
