// aggrun.h — what compare's aggregation knows of each run and arm, shared by
// aggregate.c (reading the runs, results.csv, the lock) and summary.c
// (summary.md's tables and the curves). Internal to lab/.
#ifndef CPCRL_AGGRUN_H
#define CPCRL_AGGRUN_H

#include <stdint.h>
#include <stdio.h>

#include "env/env.h"
#include "lab/probe.h"
#include "lab/stats.h"

typedef struct {
    char name[256];
    int task, arm;
    uint64_t seed;
    double weight;
    int k, envs;
    RunLog log;
    double frames, final, auc, success;
    double budget; // the frames its config.txt asks for
    ProbeResult pr;
    int has_probe;
    // its eval.csv (train --eval-every: held-out env seeds), when there
    int has_eval, collapsed;
    double eval_final, eval_best, eval_last;
    // its memory.csv (compare's probe step on goal and watermaze), when there
    // and of the checkpoint there now
    int has_mem;
    double mem_use, wait_later, wait_later_wiped;
    // its recheck.csv (compare's probe step: model.ckpt and best.ckpt on the same
    // fresh episodes), when there and of the checkpoint there now; it sets collapsed
    int has_recheck;
    double recheck_final, recheck_best;
} AggRun;

typedef struct {
    char name[48];
    double weight;
    int k;
} AggArm;

// A run's final evaluation is the mean return of its last EVAL_LAST evaluations.
#define EVAL_LAST 3

// path := text atomically (base/file.h); a failure printed: 0 or -1.
int agg_write_text(const char *path, const char *text, size_t len);

// summary.md of the runs (sorted by task, arm, seed); base: the baseline arm
// (-1: none); unfinished: the runs left out, or NULL.
void summary_write(FILE *f, const char *out, const AggRun *runs, int nruns, const AggArm *arms, int narms,
                   int base, int resamples, double smooth, const char *unfinished);
// OUT/results/curve_TASK_ARM.csv: mean and CI bands of (task, arm) over its seeds.
int summary_curve(const char *out, const AggRun *runs, int nruns, int task, int arm, const AggArm *arms,
                  int resamples, double smooth);
// the curves' PNGs by scripts/plot_compare.sh (gnuplot), when it is there.
int summary_plot(const char *out);

#endif
