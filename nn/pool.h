// pool.h — the worker threads the kernels' callers split their per-row and
// per-frame loops over (the model's acting step, BPTT step and conv
// backward; CPC's score pairs). The big products are left to OpenBLAS's own
// threads. Part of the kernel layer (hence the nn_ prefix): cpc/ may include
// it beside nn.h.
//
// nn_parallel runs fn(ctx, part, nparts) for part = 0..nparts-1, part 0 on
// the calling thread, the others on a pool started on first use; it returns
// when all are done. nparts is capped at NN_MAX_THREADS (and at what could
// be started). Call it from one thread only (the trainer's). nn_threads() =
// OpenBLAS's thread count, capped: the one "threads" setting of the program
// sizes both. nn_pool_start(n) starts the workers for n threads now (at
// set-up, so that no forward or backward creates threads; nn_parallel still
// starts missing ones itself) and returns how many threads there are.
#ifndef CPCRL_POOL_H
#define CPCRL_POOL_H

#define NN_MAX_THREADS 8
int nn_threads(void);
int nn_pool_start(int nthreads);
void nn_parallel(int nparts, void (*fn)(void *ctx, int part, int nparts), void *ctx);
// nn_parallel for parts whose products are small: OpenBLAS is held at one
// thread while they run (so no product of a part forks again), then
// restored. nparts <= 1 runs fn(ctx, 0, 1) on the caller, OpenBLAS untouched.
void nn_run_parts(int nparts, void (*fn)(void *ctx, int part, int nparts), void *ctx);
// [*lo, *hi): part `part` of n items split into nparts near-equal ranges.
static inline void nn_part_range(int n, int part, int nparts, int *lo, int *hi) {
    *lo = (int)((long long)n * part / nparts);
    *hi = (int)((long long)n * (part + 1) / nparts);
}

#endif
