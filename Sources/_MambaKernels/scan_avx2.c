// scan_avx2.c — the SIMD scan kernels (scan_fwd_body.h, scan_bwd_body.h) compiled for AVX2 + FMA: 8 channels
// per ymm. Exports scan_fwd_avx2 and scan_bwd_avx2 (scan_internal.h), chosen at run time by mk_cpu_isa().
#if defined(__x86_64__)
#include "scan_internal.h"
#define VF_AVX2 1
#include "vf.h"

#define BWD_SWEEP_AT_REGS 0     // 16 ymm: A^T is loaded per use in the sweep
#define BWD_SWEEP_YACC 1
#define BWD_REV_MAXG 4          // g, dA of 4 states: 8 of the 16 registers

#include "scan_fwd_body.h"
#include "scan_bwd_body.h"
#endif
