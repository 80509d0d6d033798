// cpu.c — which instruction set the kernels may use (cpuid + xgetbv), with a test override.
#include "MambaKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long mk_xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static int mk_detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return MK_ISA_PORTABLE;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return MK_ISA_PORTABLE;
    unsigned long long xcr0 = mk_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return MK_ISA_PORTABLE;            // XMM + YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return MK_ISA_PORTABLE;
    int avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512cd = (b >> 28) & 1;
    int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    if (!(avx2 && fma && f16c)) return MK_ISA_PORTABLE;
    if (avx512f && avx512dq && avx512cd && avx512bw && avx512vl && (xcr0 & 0xE6) == 0xE6)
        return MK_ISA_AVX512;                                     // + opmask, ZMM_Hi256, Hi16_ZMM state
    return MK_ISA_AVX2;
}
#else
static int mk_detect(void) { return MK_ISA_PORTABLE; }
#endif

static int g_detected = -1;
static int g_forced = -2;   // -2: not read from the environment yet; -1: none

int mk_cpu_isa_detected(void) {
    if (g_detected < 0) g_detected = mk_detect();
    return g_detected;
}

void mk_force_isa(int isa) {
    g_forced = isa < 0 ? -1 : isa;
}

int mk_cpu_isa(void) {
    int hw = mk_cpu_isa_detected();
    if (g_forced == -2) {
        const char *e = getenv("MAMBAKIT_ISA");
        g_forced = -1;
        if (e) {
            if (!strcmp(e, "portable")) g_forced = MK_ISA_PORTABLE;
            else if (!strcmp(e, "avx2")) g_forced = MK_ISA_AVX2;
            else if (!strcmp(e, "avx512")) g_forced = MK_ISA_AVX512;
        }
    }
    if (g_forced >= 0) return g_forced < hw ? g_forced : hw;
    return hw;
}

const char *mk_isa_name(int isa) {
    switch (isa) {
    case MK_ISA_AVX512: return "avx512";
    case MK_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}
