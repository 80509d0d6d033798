// pool.c — a small persistent thread pool for the row and channel splits (Parallel.forParts).
//
// Generation runs ~150 parallel sections per token (4 linear layers, the conv and the scan per block), each a
// few microseconds of work. Waking sleeping threads for each (libdispatch: futex wake-ups) costs about as
// much as the work, so here workers spin for a while after a section before they sleep: a section that
// follows soon after the last one starts without a system call.
//
//   mk_pool_run(parts, fn, ctx): fn(ctx, p) for every p < parts, exactly once each, spread over the caller and
//   parts − 1 workers; returns when all are done. A call made while the pool is busy (from a worker, or from a
//   second thread of the program) runs its parts inline in the caller, in order.
#include "MambaKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define POOL_PAUSE() _mm_pause()
#else
#define POOL_PAUSE() ((void)0)
#endif

enum { POOL_MAX = 255, POOL_SPIN = 1 << 15 };   // spins (pause instructions, ~1 ms) before a worker sleeps

static struct {
    atomic_flag busy;                 // held by the caller of the running section
    _Atomic unsigned long gen;        // bumped once per section
    _Atomic int next, done;           // next part to take; parts finished
    int parts;
    mk_pool_task fn;
    void *ctx;
    int workers;                      // threads started
    _Atomic int sleepers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} P = { .busy = ATOMIC_FLAG_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void take_parts(void) {
    for (;;) {
        const int p = atomic_fetch_add(&P.next, 1);
        if (p >= P.parts) return;
        P.fn(P.ctx, p);
        atomic_fetch_add(&P.done, 1);
    }
}

static void *worker(void *arg) {
    (void)arg;
    unsigned long seen = atomic_load(&P.gen);
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load(&P.gen)) == seen && spins < POOL_SPIN) { POOL_PAUSE(); spins++; }
        if (g == seen) {                              // idle: sleep until the next section
            pthread_mutex_lock(&P.mu);
            atomic_fetch_add(&P.sleepers, 1);
            while ((g = atomic_load(&P.gen)) == seen) pthread_cond_wait(&P.cv, &P.mu);
            atomic_fetch_sub(&P.sleepers, 1);
            pthread_mutex_unlock(&P.mu);
        }
        seen = g;
        take_parts();
    }
    return NULL;
}

void mk_pool_run(int parts, mk_pool_task fn, void *ctx) {
    if (parts <= 0) return;
    if (parts == 1 || atomic_flag_test_and_set(&P.busy)) {   // one part, or the pool is in use: inline
        for (int p = 0; p < parts; p++) fn(ctx, p);
        return;
    }
    const int want = parts - 1 < POOL_MAX ? parts - 1 : POOL_MAX;
    while (P.workers < want) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        const int ok = pthread_create(&t, &a, worker, NULL) == 0;
        pthread_attr_destroy(&a);
        if (!ok) break;
        P.workers++;
    }
    P.fn = fn; P.ctx = ctx; P.parts = parts;
    atomic_store(&P.done, 0);
    atomic_store(&P.next, 0);
    atomic_fetch_add(&P.gen, 1);                        // publishes fn, ctx, parts (sequentially consistent)
    if (atomic_load(&P.sleepers) > 0) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_broadcast(&P.cv);
        pthread_mutex_unlock(&P.mu);
    }
    take_parts();
    while (atomic_load(&P.done) < parts) POOL_PAUSE();
    atomic_flag_clear(&P.busy);
}

int mk_atomic_add_i32(int32_t *p, int32_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
