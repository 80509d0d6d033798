// mpi.c — Open MPI loaded at run time, for data-parallel training (Docs/Distributed.md).
//
// Why dlopen: MPI is needed only by a run that mpirun started. Linking libmpi would make every program
// that uses MambaKit need Open MPI installed (and would initialise it in processes that never train), so
// the package does not link it: mk_mpi_init() opens libmpi with RTLD_GLOBAL (Open MPI's own components
// are plugins that resolve libmpi's symbols globally), looks up the MPI functions and Open MPI's
// predefined handles (MPI_COMM_WORLD is &ompi_mpi_comm_world, MPI_FLOAT &ompi_mpi_float, ...: in Open
// MPI's ABI every handle is the address of an exported object), and initialises MPI.
//
// Failures: every call runs with MPI_ERRORS_RETURN, so an MPI error comes back as a code that the Swift
// side turns into a typed error. A rank that dies makes Open MPI's mpirun end the whole job; a rank that
// is alive but never joins a collective (stuck, or the ranks disagree about the call sequence) is caught
// by the watchdog: a thread that, when a collective has run longer than the timeout, prints one line
// naming the call and exits the process with status 1, which again makes mpirun end the job.
#include "MambaMPI.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void *mpi_handle;   // MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler: pointers in Open MPI's ABI

typedef int (*init_thread_fn)(int *, char ***, int, int *);
typedef int (*flag_fn)(int *);
typedef int (*comm_int_fn)(mpi_handle, int *);
typedef int (*allreduce_fn)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle);
typedef int (*bcast_fn)(void *, int, mpi_handle, int, mpi_handle);
typedef int (*barrier_fn)(mpi_handle);
typedef int (*abort_fn)(mpi_handle, int);
typedef int (*finalize_fn)(void);
typedef int (*set_errhandler_fn)(mpi_handle, mpi_handle);
typedef int (*error_string_fn)(int, char *, int *);

enum { MK_MPI_SUCCESS = 0, MK_MPI_THREAD_FUNNELED = 1, MK_MPI_MAX_ERROR_STRING = 256 };
#define MK_MPI_IN_PLACE ((void *)1)   // Open MPI's MPI_IN_PLACE

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_lib;
static int g_active, g_finalized, g_rank, g_size = 1;
static char g_library[512];
static init_thread_fn p_init_thread;
static flag_fn p_initialized, p_finalized;
static comm_int_fn p_comm_rank, p_comm_size;
static allreduce_fn p_allreduce;
static bcast_fn p_bcast;
static barrier_fn p_barrier;
static abort_fn p_abort;
static finalize_fn p_finalize;
static set_errhandler_fn p_set_errhandler;
static error_string_fn p_error_string;
static mpi_handle h_comm_world, h_float, h_double, h_byte, h_sum, h_max, h_min, h_errors_return;

static void set_err(char *err, size_t n, const char *fmt, const char *a, const char *b) {
    if (err && n) snprintf(err, n, fmt, a ? a : "", b ? b : "");
}

int mk_mpi_launched(void) {
    const char *off = getenv("MAMBAKIT_MPI");
    if (off && strcmp(off, "0") == 0) return 0;
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

int mk_mpi_local_size_from_environment(void) {
    const char *s = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int n = s ? atoi(s) : 0;
    return n > 0 ? n : 1;
}

int mk_mpi_active(void) { return g_active && !g_finalized; }
const char *mk_mpi_library(void) { return g_library; }
int mk_mpi_rank(void) { return g_rank; }
int mk_mpi_size(void) { return g_size; }

static void *sym(const char *name, int *missing, const char **first) {
    void *p = dlsym(g_lib, name);
    if (!p && !*missing) { *missing = 1; *first = name; }
    return p;
}

static int open_library(char *err, size_t n) {
    const char *override = getenv("MAMBAKIT_MPI_LIBRARY");
    if (override && *override) {   // an explicit choice: that library or an error naming it
        g_lib = dlopen(override, RTLD_NOW | RTLD_GLOBAL);
        if (g_lib) { snprintf(g_library, sizeof g_library, "%s", override); return 0; }
        const char *why = dlerror();
        set_err(err, n, "mpi error: cannot load MAMBAKIT_MPI_LIBRARY=%s (%s) — this process was started by an MPI launcher; point MAMBAKIT_MPI_LIBRARY at Open MPI's libmpi.so.40, or unset it and apt-get install libopenmpi-dev openmpi-bin",
                override, why ? why : "not found");
        return 1;
    }
    const char *names[] = {"libmpi.so.40", "libmpi.so"};
    const char *why = NULL;
    for (int i = 0; i < 2; i++) {
        g_lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (g_lib) { snprintf(g_library, sizeof g_library, "%s", names[i]); return 0; }
        why = dlerror();
    }
    set_err(err, n, "mpi error: cannot load Open MPI's libmpi (libmpi.so.40): %s — this process was started by an MPI launcher; apt-get install libopenmpi-dev openmpi-bin (or point MAMBAKIT_MPI_LIBRARY at libmpi.so.40)%s",
            why ? why : "not found", "");
    return 1;
}

static void error_text(int code, const char *call, char *err, size_t n) {
    char text[MK_MPI_MAX_ERROR_STRING] = "unknown error";
    int len = 0;
    if (p_error_string) p_error_string(code, text, &len);
    if (err && n) snprintf(err, n, "mpi error: rank %d of %d: %s failed: %s", g_rank, g_size, call, text);
}

int mk_mpi_init(char *err, size_t n) {
    pthread_mutex_lock(&g_lock);
    if (g_active) { pthread_mutex_unlock(&g_lock); return 0; }
    if (g_finalized) {
        set_err(err, n, "mpi error: MPI was already finalised in this process; it cannot be initialised again%s%s", NULL, NULL);
        pthread_mutex_unlock(&g_lock); return 1;
    }
    if (!g_lib && open_library(err, n)) { pthread_mutex_unlock(&g_lock); return 1; }
    int missing = 0; const char *first = NULL;
    p_init_thread = (init_thread_fn)sym("MPI_Init_thread", &missing, &first);
    p_initialized = (flag_fn)sym("MPI_Initialized", &missing, &first);
    p_finalized = (flag_fn)sym("MPI_Finalized", &missing, &first);
    p_comm_rank = (comm_int_fn)sym("MPI_Comm_rank", &missing, &first);
    p_comm_size = (comm_int_fn)sym("MPI_Comm_size", &missing, &first);
    p_allreduce = (allreduce_fn)sym("MPI_Allreduce", &missing, &first);
    p_bcast = (bcast_fn)sym("MPI_Bcast", &missing, &first);
    p_barrier = (barrier_fn)sym("MPI_Barrier", &missing, &first);
    p_abort = (abort_fn)sym("MPI_Abort", &missing, &first);
    p_finalize = (finalize_fn)sym("MPI_Finalize", &missing, &first);
    p_set_errhandler = (set_errhandler_fn)sym("MPI_Comm_set_errhandler", &missing, &first);
    p_error_string = (error_string_fn)sym("MPI_Error_string", &missing, &first);
    h_comm_world = sym("ompi_mpi_comm_world", &missing, &first);
    h_float = sym("ompi_mpi_float", &missing, &first);
    h_double = sym("ompi_mpi_double", &missing, &first);
    h_byte = sym("ompi_mpi_byte", &missing, &first);
    h_sum = sym("ompi_mpi_op_sum", &missing, &first);
    h_max = sym("ompi_mpi_op_max", &missing, &first);
    h_min = sym("ompi_mpi_op_min", &missing, &first);
    h_errors_return = sym("ompi_mpi_errors_return", &missing, &first);
    if (missing) {
        set_err(err, n, "mpi error: %s has no symbol %s — MambaKit needs Open MPI (apt-get install libopenmpi-dev openmpi-bin); MPICH and others have another ABI",
                g_library, first);
        pthread_mutex_unlock(&g_lock); return 1;
    }
    int already = 0;
    p_initialized(&already);
    if (!already) {
        int provided = 0;
        int rc = p_init_thread(NULL, NULL, MK_MPI_THREAD_FUNNELED, &provided);
        if (rc != MK_MPI_SUCCESS) { error_text(rc, "MPI_Init_thread", err, n); pthread_mutex_unlock(&g_lock); return 1; }
    }
    p_set_errhandler(h_comm_world, h_errors_return);
    p_comm_rank(h_comm_world, &g_rank);
    p_comm_size(h_comm_world, &g_size);
    g_active = 1;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

// MARK: - Watchdog

static _Atomic double g_timeout;            // seconds; 0 = off
static _Atomic double g_call_started;       // monotonic seconds; 0 = no collective in progress
static const char *_Atomic g_call_name;
static pthread_once_t g_watchdog_once = PTHREAD_ONCE_INIT;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *watchdog(void *unused) {
    (void)unused;
    for (;;) {
        usleep(200 * 1000);
        double limit = atomic_load(&g_timeout), started = atomic_load(&g_call_started);
        if (limit > 0 && started > 0 && now_seconds() - started > limit) {
            char line[512];
            int len = snprintf(line, sizeof line,
                "error: mpi error: rank %d of %d: %s has not completed after %.0f s — another rank died, is stuck, or the ranks disagree about the call; ending this rank (raise --collective-timeout if a rank legitimately works that long alone, e.g. saving a large checkpoint)\n",
                g_rank, g_size, atomic_load(&g_call_name), limit);
            if (write(2, line, (size_t)len) < 0) { /* nothing more to do */ }
            _exit(1);
        }
    }
    return NULL;
}

static void start_watchdog(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, watchdog, NULL) == 0) pthread_detach(t);
}

void mk_mpi_set_timeout(double seconds) {
    atomic_store(&g_timeout, seconds > 0 ? seconds : 0);
    if (seconds > 0) pthread_once(&g_watchdog_once, start_watchdog);
}

static void begin_call(const char *name) {
    atomic_store(&g_call_name, name);
    atomic_store(&g_call_started, now_seconds());
}
static void end_call(void) { atomic_store(&g_call_started, 0.0); }

// MARK: - Collectives

static int require_active(char *err, size_t n) {
    if (g_active && !g_finalized) return 0;
    set_err(err, n, "mpi error: MPI is not initialised in this process (call mk_mpi_init first)%s%s", NULL, NULL);
    return 1;
}

int mk_mpi_allreduce_sum_float(float *buf, long count, long bucket, char *err, size_t n) {
    if (require_active(err, n)) return 1;
    if (bucket <= 0 || bucket > (1L << 30)) bucket = 1L << 24;
    begin_call("MPI_Allreduce (gradient sum)");
    for (long off = 0; off < count; off += bucket) {
        int c = (int)(count - off < bucket ? count - off : bucket);
        int rc = p_allreduce(MK_MPI_IN_PLACE, buf + off, c, h_float, h_sum, h_comm_world);
        if (rc != MK_MPI_SUCCESS) { end_call(); error_text(rc, "MPI_Allreduce", err, n); return 1; }
    }
    end_call();
    return 0;
}

int mk_mpi_allreduce_double(double *buf, long count, int op, char *err, size_t n) {
    if (require_active(err, n)) return 1;
    if (count > (1L << 30)) { set_err(err, n, "mpi error: too many doubles for one reduction%s%s", NULL, NULL); return 1; }
    mpi_handle h = op == 1 ? h_max : op == 2 ? h_min : h_sum;
    begin_call("MPI_Allreduce (double)");
    int rc = p_allreduce(MK_MPI_IN_PLACE, buf, (int)count, h_double, h, h_comm_world);
    end_call();
    if (rc != MK_MPI_SUCCESS) { error_text(rc, "MPI_Allreduce", err, n); return 1; }
    return 0;
}

int mk_mpi_bcast(void *buf, long bytes, int root, char *err, size_t n) {
    if (require_active(err, n)) return 1;
    const long bucket = 1L << 30;
    begin_call("MPI_Bcast");
    for (long off = 0; off < bytes; off += bucket) {
        int c = (int)(bytes - off < bucket ? bytes - off : bucket);
        int rc = p_bcast((char *)buf + off, c, h_byte, root, h_comm_world);
        if (rc != MK_MPI_SUCCESS) { end_call(); error_text(rc, "MPI_Bcast", err, n); return 1; }
    }
    end_call();
    return 0;
}

int mk_mpi_barrier(char *err, size_t n) {
    if (require_active(err, n)) return 1;
    begin_call("MPI_Barrier");
    int rc = p_barrier(h_comm_world);
    end_call();
    if (rc != MK_MPI_SUCCESS) { error_text(rc, "MPI_Barrier", err, n); return 1; }
    return 0;
}

void mk_mpi_abort(int code) {
    if (g_active && !g_finalized && p_abort) p_abort(h_comm_world, code);
    _exit(code);
}

void mk_mpi_finalize(void) {
    pthread_mutex_lock(&g_lock);
    if (g_active && !g_finalized) {
        atomic_store(&g_timeout, 0.0);
        p_finalize();
        g_finalized = 1;
        g_active = 0;
    }
    pthread_mutex_unlock(&g_lock);
}
