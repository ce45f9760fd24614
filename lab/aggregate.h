// aggregate.h — compare's last step: every run in OUT/runs/ (log.csv,
// probe.csv) into results.csv, summary.md (means with bootstrap CIs, the
// CPC-minus-nocpc differences) and learning curves (stats.h for the numbers).
#ifndef CPCRL_AGGREGATE_H
#define CPCRL_AGGREGATE_H

#include <stddef.h>

#include "lab/compare_opts.h"

// The aggregation step alone (compare --aggregate-only): reads every run in
// OUT/runs/ and writes results.csv, summary.md, results/curve_*.csv (each
// run's series averaged over a trailing window of smooth x its frames) and,
// when plot is set and gnuplot is there, curves_<task>.png. A run whose
// log.csv stops before the frames of its config.txt is unfinished: left out
// and listed (stderr, summary.md) unless include_unfinished. Every arm is
// compared against the baseline: o->baseline when set (an arm with no run
// there is an error), else nocpc, else the first arm of CPC weight 0. A run
// whose model.ckpt is short of its frames (its last checkpoint never
// written) is unfinished too; a probe.csv that names another checkpoint
// than the model.ckpt there is left out (nan, said on stderr). The whole
// step, from reading the runs to the last file written, holds
// OUT/aggregate.lock (base/runlock.h; waiting for another aggregation's), so
// the files of the aggregation that writes last are of the runs it read last.
// Uses o's out, bootstrap, smooth, plot, include_unfinished, baseline and
// lock_stale. Returns 0 or -1 with a message.
int compare_aggregate(const CompareOpts *o, char *err, size_t errlen);

#endif
