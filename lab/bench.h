// bench.h — training-throughput benchmark (`cpcrl bench train`).
#ifndef CPCRL_BENCH_H
#define CPCRL_BENCH_H

#include <stdio.h>

#include "agent/config.h"

// Training frames/s of the real trainer at the configured sizes (and at the
// CPC paper's T = 100, K = 30), CPC on and off, with the time split by phase
// and the GFLOP/s reached, next to the same network and update in PyTorch
// (scripts/bench_torch.py, same threads and OpenBLAS kernel) and the ratio.
// Uses the BLAS thread count already set. Returns 0, or -1 with a message
// printed (PyTorch missing is not an error: the table says so). repeat > 0:
// then `repeat` rounds of four arms in turn (base; base with plain CPC, i.e.
// --cpc-trunk-ratio 0; 4 x 4 sample reuse with base's settings; and it with
// --aux-epochs 1), each arm's trainer kept between its slices of
// BENCH_SLICE seconds: medians, and the medians of the per-round ratios.
int bench_train(const Config *base, int repeat, FILE *out);
// The settings bench_train would run, checked before anything runs (the CPC
// arm with weight 1 when base has none). 0, or -1 with a message.
int bench_train_check(const Config *base, char *err, size_t errlen);

// Env steps per second of vec_step on one thread with B envs (random actions
// generated beforehand, observations written), measured over ~`seconds` of
// the thread's CPU time (so: per core, whatever else runs on the machine).
// Returns -1 on a bad config or out of memory.
double bench_env(const EnvConfig *cfg, int B, double seconds, uint64_t seed);

#endif
