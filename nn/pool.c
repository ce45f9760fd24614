// pool.c — the process's worker threads (see pool.h).
#include "nn/pool.h"

#define FORCE_OPENBLAS_COMPLEX_STRUCT // keep <complex.h>'s macro I out
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

// One pool for the process, started lazily: nn_parallel(n, fn, ctx) runs
// fn(ctx, 0, n) on the caller and fn(ctx, i, n) for i = 1..n-1 on workers.
// A job is published by bumping `gen`; workers spin a little (~20 us) on it
// before sleeping on the condition variable, so back-to-back jobs (one per
// acting step) hand over without a futex round trip, and idle workers do
// not keep spinning while OpenBLAS's own threads run the big products.
// Every started worker acknowledges every job (`pending`), so the caller
// never rewrites the job while a worker may still read it.

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nworkers;
    atomic_uint gen;
    atomic_int pending;
    void (*fn)(void *ctx, int part, int nparts);
    void *ctx;
    int nparts;
} Pool;

static Pool g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// The generation each worker was started at (it waits for the next one).
static unsigned g_pool_start[NN_MAX_THREADS];

static void *pool_worker(void *arg) {
    const int id = (int)(intptr_t)arg;
    unsigned seen = g_pool_start[id];
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&g_pool.gen)) == seen) {
            if (++spins < 512) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&g_pool.mu);
            while ((g = atomic_load(&g_pool.gen)) == seen)
                pthread_cond_wait(&g_pool.cv, &g_pool.mu);
            pthread_mutex_unlock(&g_pool.mu);
            break;
        }
        seen = g;
        if (id < g_pool.nparts) g_pool.fn(g_pool.ctx, id, g_pool.nparts);
        atomic_fetch_sub(&g_pool.pending, 1);
    }
    return NULL;
}

int nn_threads(void) {
    int n = openblas_get_num_threads();
    return n < 1 ? 1 : (n > NN_MAX_THREADS ? NN_MAX_THREADS : n);
}

int nn_pool_start(int nthreads) {
    if (nthreads > NN_MAX_THREADS) nthreads = NN_MAX_THREADS;
    while (g_pool.nworkers < nthreads - 1) {
        pthread_t th;
        pthread_attr_t at;
        g_pool_start[g_pool.nworkers + 1] = atomic_load(&g_pool.gen);
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, pool_worker, (void *)(intptr_t)(g_pool.nworkers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        g_pool.nworkers++;
    }
    return g_pool.nworkers + 1;
}

void nn_parallel(int nparts, void (*fn)(void *ctx, int part, int nparts), void *ctx) {
    if (nparts > NN_MAX_THREADS) nparts = NN_MAX_THREADS;
    if (nparts > g_pool.nworkers + 1) { // normally started already (nn_pool_start)
        int have = nn_pool_start(nparts);
        if (nparts > have) nparts = have;
    }
    if (nparts <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    g_pool.fn = fn, g_pool.ctx = ctx, g_pool.nparts = nparts;
    atomic_store(&g_pool.pending, g_pool.nworkers);
    pthread_mutex_lock(&g_pool.mu);
    atomic_fetch_add(&g_pool.gen, 1);
    pthread_cond_broadcast(&g_pool.cv);
    pthread_mutex_unlock(&g_pool.mu);
    fn(ctx, 0, nparts);
    for (int spins = 0; atomic_load(&g_pool.pending) > 0; spins++)
        if (spins < 4096) cpu_relax();
        else sched_yield();
}

void nn_run_parts(int nparts, void (*fn)(void *ctx, int part, int nparts), void *ctx) {
    if (nparts <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    nn_parallel(nparts, fn, ctx);
    openblas_set_num_threads(blas);
}
