// runner.h — carrying out compare's plan: each run is a child process of this
// very binary (/proc/self/exe train ..., then probe ...) started while
// compare holds the run's lock (handed to the child), at most --jobs at
// once, output appended to OUT/runs/NAME/train.out, a progress line on
// stderr; SIGINT/SIGTERM stop the children (they save) and return.
#ifndef CPCRL_RUNNER_H
#define CPCRL_RUNNER_H

#include <stdio.h>

#include "lab/plan.h"

// Run every run that is not done and not in use by another process (each
// under its run lock, see base/runlock.h; those in use end as RUN_BUSY).
// *ran = the children started. 0, or 1 when a run failed or on a stop.
int runner_run(Plan *pl, int *ran);
// The dry run's line tail for r: the command it would run next, or "-".
void runner_print_next(FILE *f, const Plan *pl, const Run *r);

#endif
