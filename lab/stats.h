// stats.h — the statistics of the with/without-CPC comparison: per-run
// metrics read from log.csv and the aggregates over seeds (as in rliable,
// Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice").
//
// Per run (log.csv rows: frames f_i, return_mean r_i; rows whose r_i is NaN —
// no episode finished in that interval — are skipped):
//   final return  = mean of r_i over the rows with f_i > 0.9 * f_last (the
//                   last 10% of frames; the last row always counts). Each row
//                   is the mean return of the episodes that ended in its
//                   interval; rows are weighted equally.
//   AUC           = (1 / f_last) * integral_0^{f_last} r(f) df, r piecewise
//                   linear between rows (trapezoid) and held at r_1 on
//                   [0, f_1]: the mean return over the whole run.
//   success       = mean of success_rate over the same rows as final return.
// Over seeds (n values of one metric, one per seed):
//   mean and its 95% CI: percentile bootstrap, R resamples of n values drawn
//                   with replacement (splitmix64 RNG from a fixed seed); the
//                   CI is the 2.5th and 97.5th percentile of the R resampled
//                   means, percentiles interpolated linearly between order
//                   statistics (numpy's default, index q (R - 1)).
//   IQM           = interquartile mean with fractional weighting: sort the
//                   values, give value i the interval [i, i+1), keep
//                   [n/4, 3n/4] and average with the overlap as weight. It
//                   equals scipy.stats.trim_mean(x, 0.25) (what rliable calls
//                   IQM) when n is a multiple of 4; for other n trim_mean
//                   drops floor(n/4) whole values from each end (so it is the
//                   plain mean for n < 4), see stats_trim_mean.
//   P(X > Y)      = probability of improvement (rliable): over all pairs,
//                   mean of [x > y] + 1/2 [x == y] (the Mann-Whitney U
//                   statistic divided by n_x n_y).
//   verdict       = percentile-bootstrap 95% CI of mean(X) - mean(Y), X and
//                   Y resampled independently (unpaired): "better" when the
//                   CI lies above 0, "worse" when below, otherwise "no
//                   significant difference".
// Nothing here prints or exits; functions that allocate return -1 when out
// of memory.
#ifndef CPCRL_STATS_H
#define CPCRL_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_SEED 0x5EED5EEDull   // fixed bootstrap seed: same data, same CI
#define STATS_RESAMPLES 10000
#define STATS_FINAL_FRAC 0.1       // final return: the last 10% of frames

double stats_mean(const double *x, int n);
// q-quantile (0 <= q <= 1) of sorted[n], linear between order statistics.
double stats_percentile(const double *sorted, int n, double q);
// Percentile-bootstrap 95% CI of the mean of x[n]. n == 1 gives [x0, x0].
// Returns 0, or -1 (n < 1 or out of memory).
int stats_bootstrap_ci(const double *x, int n, int resamples, uint64_t seed, double *lo,
                       double *hi);
// Same for mean(x) - mean(y), x and y resampled independently.
int stats_bootstrap_diff_ci(const double *x, int nx, const double *y, int ny, int resamples,
                            uint64_t seed, double *lo, double *hi);
// Interquartile mean with fractional weighting (see above). NaN for n < 1.
double stats_iqm(const double *x, int n);
// scipy.stats.trim_mean(x, cut): drop floor(cut n) values from each end.
double stats_trim_mean(const double *x, int n, double cut);
// P(X > Y) with ties counted 1/2. NaN when either is empty.
double stats_prob_improvement(const double *x, int nx, const double *y, int ny);

enum { VERDICT_NSD = 0, VERDICT_BETTER = 1, VERDICT_WORSE = -1, VERDICT_MIXED = 2 };
int stats_verdict(double diff_lo, double diff_hi);
const char *stats_verdict_name(int v);
// Two CIs of differences (final return, AUC): better when one lies above 0 and
// none below, worse when one lies below and none above, mixed when one lies
// above and the other below, else no significant difference (issue #16's
// "final-return or AUC" criterion). NaN bounds count as not significant.
int stats_verdict_either(double lo1, double hi1, double lo2, double hi2);

// Per-run metrics over log rows (frames ascending; NaN returns skipped).
// NaN when no row has a finite return.
double stats_final_return(const double *frames, const double *ret, int n, double frac);
double stats_auc(const double *frames, const double *ret, int n);
// Sample efficiency: the frames of the first row whose return is >= target
// (NaN rows skipped). Never reached: the frames of the last row, and
// *reached = 0 (the figure is then a lower bound). NaN when n == 0.
double stats_frames_to(const double *frames, const double *ret, int n, double target, int *reached);

// ----------------------------------------------------------------------------
// log.csv of a run, the columns the comparison needs.

typedef struct {
    int n;          // rows
    int K;          // CPC steps logged (0: no cpc_acc_* columns)
    double *frames, *ret, *success;
    double *acc1, *accK; // cpc_acc_1 and cpc_acc_K (NULL when K == 0)
} RunLog;

// Read path; returns 0, or -1 with a message naming the file and the problem
// (missing column, unreadable line). An empty log (header only) is n = 0.
int runlog_read(RunLog *lg, const char *path, char *err, size_t errlen);
void runlog_free(RunLog *lg);
// Frames of the last row, or -1 when the file is missing/unreadable/empty.
double runlog_last_frames(const char *path);
// Value of series y at frame f: linear between rows (NaN values skipped),
// held at the first value before the first row; NaN after the last row or
// when no value is finite.
double runlog_interp(const double *frames, const double *y, int n, double f);

#endif
