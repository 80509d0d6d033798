// mk_math.h — scalar math written so compilers vectorise it (no libm calls in hot loops).
// Internal to _MambaKernels; not part of the public header.
#ifndef MK_MATH_H
#define MK_MATH_H
#include <stdint.h>
#include <string.h>

#define MK_INLINE static inline __attribute__((always_inline))

MK_INLINE float mk_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/// IEEE binary16 → f32, exact (subnormals, ±inf, NaN payloads); the same as HalfConversion.f16ToF32.
MK_INLINE float mk_f16_to_f32(uint16_t h) {
    const uint32_t sign = ((uint32_t)h & 0x8000u) << 16, e = ((uint32_t)h >> 10) & 0x1Fu, m = (uint32_t)h & 0x3FFu;
    if (e == 0x1F) return mk_bits_to_float(sign | 0x7F800000u | (m << 13));
    if (e == 0) { const float v = (float)m * 0x1p-24f; uint32_t u; memcpy(&u, &v, 4); return mk_bits_to_float(sign | u); }
    return mk_bits_to_float(sign | ((e + 112) << 23) | (m << 13));
}

/// bfloat16 → f32, exact (a 16-bit shift).
MK_INLINE float mk_bf16_to_f32(uint16_t b) { return mk_bits_to_float((uint32_t)b << 16); }

/// exp(x) for float, ~1 ulp on [-87.3, 88.3] (inputs are clamped to that range):
/// x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial (Cephes coefficients), times 2^n.
MK_INLINE float mk_expf(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    const float magic = 12582912.0f;                   // 1.5 * 2^23: adding it rounds to an integer
    float fn = (x * 1.44269504088896341f + magic) - magic;
    float r = x - fn * 0.693359375f;                   // ln2 split in a high part ...
    r = r - fn * -2.12194440e-4f;                      // ... and a low part
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t n = (int32_t)fn;
    return p * mk_bits_to_float((uint32_t)(n + 127) << 23);
}

/// SiLU(x) = x * sigmoid(x) = x / (1 + exp(-x)).
MK_INLINE float mk_silu(float x) { return x / (1.0f + mk_expf(-x)); }

/// sum_i a[i] b[i] with P <= 16 independent partial sums (P a compile-time constant at each call), then the
/// tail: a fixed summation order that the compiler vectorises without reassociating.
MK_INLINE float mk_dot_partial(const float *a, const float *b, int n, const int P) {
    float acc[16] = {0};
    const int nP = n / P * P;
    for (int i = 0; i < nP; i += P)
        for (int j = 0; j < P; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (int j = 0; j < P; j++) s += acc[j];
    for (int i = nP; i < n; i++) s += a[i] * b[i];
    return s;
}

/// sum_i x[i]^2 with 16 independent partial sums.
MK_INLINE float mk_sum_squares(const float *x, int n) { return mk_dot_partial(x, x, n, 16); }

// MARK: - Multiversioning
// MK_MULTIVERSION(ret, name, body, PARAMS, ARGS) defines `ret name PARAMS` that calls the always-inline
// `body ARGS`, compiled three times (AVX-512, AVX2+FMA, baseline) and chosen by mk_cpu_isa() on each call.
#include "MambaKernels.h"
#if defined(__x86_64__)
#define MK_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define MK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MK_MULTIVERSION(ret, name, body, PARAMS, ARGS)                                   \
    MK_TARGET_AVX512 static ret name##_avx512 PARAMS { return body ARGS; }              \
    MK_TARGET_AVX2 static ret name##_avx2 PARAMS { return body ARGS; }                  \
    static ret name##_portable PARAMS { return body ARGS; }                             \
    ret name PARAMS {                                                                    \
        switch (mk_cpu_isa()) {                                                          \
        case MK_ISA_AVX512: return name##_avx512 ARGS;                                   \
        case MK_ISA_AVX2: return name##_avx2 ARGS;                                       \
        default: return name##_portable ARGS;                                            \
        }                                                                                \
    }
#define MK_MULTIVERSION_VOID(name, body, PARAMS, ARGS)                                   \
    MK_TARGET_AVX512 static void name##_avx512 PARAMS { body ARGS; }                    \
    MK_TARGET_AVX2 static void name##_avx2 PARAMS { body ARGS; }                        \
    static void name##_portable PARAMS { body ARGS; }                                   \
    void name PARAMS {                                                                   \
        switch (mk_cpu_isa()) {                                                          \
        case MK_ISA_AVX512: name##_avx512 ARGS; return;                                  \
        case MK_ISA_AVX2: name##_avx2 ARGS; return;                                      \
        default: name##_portable ARGS; return;                                           \
        }                                                                                \
    }
#else
#define MK_MULTIVERSION(ret, name, body, PARAMS, ARGS) ret name PARAMS { return body ARGS; }
#define MK_MULTIVERSION_VOID(name, body, PARAMS, ARGS) void name PARAMS { body ARGS; }
#endif

#endif
