// scan_avx512.c — the SIMD scan kernels (scan_fwd_body.h, scan_bwd_body.h) compiled for AVX-512: 16 channels
// per zmm. Exports scan_fwd_avx512 and scan_bwd_avx512 (scan_internal.h), chosen at run time by mk_cpu_isa().
#if defined(__x86_64__)
#include "scan_internal.h"
#define VF_AVX512 1
#include "vf.h"

#define BWD_SWEEP_AT_REGS 1     // 32 zmm: h and A^T of 8 states in registers
#define BWD_SWEEP_YACC 2
#define BWD_REV_MAXG 8

#include "scan_fwd_body.h"
#include "scan_bwd_body.h"
#endif
