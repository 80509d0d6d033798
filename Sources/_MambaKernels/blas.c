// blas.c — OpenBLAS, loaded at run time with the right kernels for this CPU.
//
// Why dlopen: OpenBLAS chooses its kernels ("core type") once, when the library is
// initialised, from cpuid or from the OPENBLAS_CORETYPE environment variable. Debian's
// OpenBLAS 0.3.21 does not recognise some newer CPUs and falls back to its Prescott
// (SSE3) kernels, 5-6x slower than its AVX-512 ones. A library that links OpenBLAS
// normally cannot fix that: by the time any of its code runs, the choice is made.
// So MambaKit does not link OpenBLAS; a constructor (run before main, in the CLI, in
// tests and in any program linking MambaKit) loads it and checks its choice:
//   1. OPENBLAS_CORETYPE already set by the user -> load as is, respect it.
//   2. Otherwise load it and ask openblas_get_corename(). If it picked a core without
//      AVX2 on a CPU that has AVX2/AVX-512 (mk_blas_better_coretype), unload it, set
//      OPENBLAS_CORETYPE for the best matching kernels, load again and verify.
//   3. No OpenBLAS at all -> a portable C sgemm (slow, announced in mk_blas_note()).
#include "MambaKernels.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef char *(*corename_fn)(void);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void *g_handle;
static sgemm_fn g_sgemm;
static sgemv_fn g_sgemv;
static corename_fn g_corename;
static set_threads_fn g_set_threads;
static get_threads_fn g_get_threads;
static char g_note[512];
static char g_library[256];
static int g_portable_threads = 1;

// MARK: - Decision

static const char *const k_pre_avx2_cores[] = {
    "Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Atom", "Core2", "Penryn",
    "Dunnington", "Nehalem", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Nano",
    "Athlon", "Sandybridge", "Bulldozer", "Piledriver", "Unknown", NULL};

const char *mk_blas_better_coretype(const char *picked, int isa) {
    if (isa < MK_ISA_AVX2) return NULL;            // nothing better to offer
    if (picked == NULL || picked[0] == 0) picked = "Unknown";
    for (int i = 0; k_pre_avx2_cores[i]; i++) {
        if (strcasecmp(picked, k_pre_avx2_cores[i]) == 0)
            return isa >= MK_ISA_AVX512 ? "SkylakeX" : "Haswell";
    }
    return NULL;                                    // OpenBLAS chose AVX2+ kernels itself
}

// MARK: - Loading

static int try_open(const char *name) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) return 0;
    sgemm_fn s = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!s) { dlclose(h); return 0; }
    g_handle = h;
    g_sgemm = s;
    g_sgemv = (sgemv_fn)dlsym(h, "cblas_sgemv");
    g_corename = (corename_fn)dlsym(h, "openblas_get_corename");
    g_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    g_get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    snprintf(g_library, sizeof g_library, "%s", name);
    return 1;
}

static int open_any(void) {
    const char *override = getenv("MAMBAKIT_BLAS");   // a path or soname, for unusual installs
    if (override && *override && try_open(override)) return 1;
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0",
                                        "libopenblaso.so.0", NULL};
    for (int i = 0; names[i]; i++)
        if (try_open(names[i])) return 1;
    return 0;
}

static void load_once(void) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    // Test hook: make OpenBLAS start on its Prescott fallback, as it does on CPUs it does not
    // recognise, so the unload-and-reload path can be exercised on any AVX2 machine.
    const char *simulate = getenv("MAMBAKIT_BLAS_SIMULATE_FALLBACK");
    int simulating = simulate && *simulate && *simulate != '0' && !(user && *user);
    if (simulating) setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    int opened = open_any();
    if (simulating) { unsetenv("OPENBLAS_CORETYPE"); user = NULL; }
    if (!opened) {
        snprintf(g_note, sizeof g_note,
                 "no OpenBLAS found (tried libopenblas.so.0); using MambaKit's portable sgemm, "
                 "which is slow - install libopenblas-dev (Debian) or set MAMBAKIT_BLAS=/path/libopenblas.so");
        return;
    }
    const char *picked = g_corename ? g_corename() : "unknown";
    if (user && *user) {
        snprintf(g_note, sizeof g_note, "OPENBLAS_CORETYPE=%s set by the user; OpenBLAS uses %s", user, picked);
        return;
    }
    const char *better = g_corename ? mk_blas_better_coretype(picked, mk_cpu_isa_detected()) : NULL;
    if (!better) {
        snprintf(g_note, sizeof g_note, "OpenBLAS chose %s for this CPU (%s); kept", picked,
                 mk_isa_name(mk_cpu_isa_detected()));
        return;
    }
    // OpenBLAS fell back to kernels without AVX2: reload it with a better core type.
    char first[64];
    snprintf(first, sizeof first, "%s", picked);
    char lib[256];
    snprintf(lib, sizeof lib, "%s", g_library);
    dlclose(g_handle);
    g_handle = NULL;
    void *still = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    if (still) {
        // Someone else (the program itself) linked OpenBLAS: it cannot be re-initialised.
        dlclose(still);
        try_open(lib);
        snprintf(g_note, sizeof g_note,
                 "OpenBLAS chose %s (no AVX2) and was already loaded by the program, so it cannot be "
                 "reloaded; set OPENBLAS_CORETYPE=%s before starting for ~5x faster matrix products",
                 first, better);
        return;
    }
    setenv("OPENBLAS_CORETYPE", better, 0);
    int reloaded = try_open(lib);
    // OpenBLAS read the variable while it initialised; take it out of the environment again, so that
    // programs this process starts make their own choice (and do not report it as the user's).
    unsetenv("OPENBLAS_CORETYPE");
    if (!reloaded) open_any();
    const char *now = g_corename ? g_corename() : "unknown";
    snprintf(g_note, sizeof g_note, "OpenBLAS chose %s (no AVX2) on an %s CPU; reloaded with OPENBLAS_CORETYPE=%s -> %s",
             first, mk_isa_name(mk_cpu_isa_detected()), better, now);
}

__attribute__((constructor)) static void mk_blas_constructor(void) { mk_blas_init(); }

int mk_blas_init(void) {
    pthread_once(&g_once, load_once);
    return g_sgemm != NULL;
}

const char *mk_blas_corename(void) {
    mk_blas_init();
    if (g_corename) return g_corename();
    return g_sgemm ? "unknown" : "portable";
}

const char *mk_blas_note(void) { mk_blas_init(); return g_note; }
const char *mk_blas_library(void) { mk_blas_init(); return g_library; }

void mk_blas_set_threads(int n) {
    mk_blas_init();
    if (n < 1) n = 1;
    if (g_set_threads) g_set_threads(n);
    g_portable_threads = n;
}

int mk_blas_get_threads(void) {
    mk_blas_init();
    if (g_get_threads) return g_get_threads();
    return g_portable_threads;
}

// MARK: - Portable fallback (the spec: C = alpha op(A) op(B) + beta C)

static void portable_sgemm(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                           const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int k = 0; k < K; k++) {
            float a = alpha * (tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
            if (a == 0.0f) continue;
            if (!tB) {
                const float *b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * ldb + k];
            }
        }
    }
}

// MARK: - Entry points

void mk_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    mk_blas_init();
    if (g_sgemm)
        g_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        portable_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void mk_sgemv(int transA, int M, int N, float alpha, const float *A, int lda, const float *x,
              float beta, float *y) {
    mk_blas_init();
    if (g_sgemv) {
        g_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, M, N, alpha, A, lda, x, 1, beta, y, 1);
        return;
    }
    // y = alpha op(A) x + beta y  as a GEMM with one column.
    if (!transA) portable_sgemm(0, 0, M, 1, N, alpha, A, lda, x, 1, beta, y, 1);
    else portable_sgemm(1, 0, N, 1, M, alpha, A, lda, x, 1, beta, y, 1);
}
