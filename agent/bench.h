// bench.h — training-throughput benchmark (`cpcrl bench train`).
#ifndef CPCRL_BENCH_H
#define CPCRL_BENCH_H

#include <stdio.h>

#include "agent/config.h"

// Training frames/s of the real trainer at the configured sizes, CPC on and
// off, with the time split by phase. Returns 0, or -1 with a message printed.
int bench_train(const Config *base, FILE *out);

#endif
