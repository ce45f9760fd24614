// summary.c — compare's summary.md: the verdict tables, held-out evaluation,
// memory, sample efficiency and probe tables, and the curves (aggrun.h).
#include "lab/aggrun.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/progress.h"

// ----------------------------------------------------------------------------
// The prose of summary.md: the notes under the tables and the definitions,
// each a format (its arguments named above it).

// At the top: the number of runs, OUT twice.
#define SUMMARY_INTRO \
    "# With and without CPC: summary\n\n" \
    "%d runs in `%s/runs/` (per run: `log.csv`, `config.txt`, `metrics.csv`, `probe.csv`; " \
    "all of them in `results.csv`). Commands: `%s/command.txt`.\n\n"

// Then, when runs were left out: their list.
#define SUMMARY_UNFINISHED \
    "Left out, unfinished (their log.csv stops before their frames; `--aggregate-only " \
    "--include-unfinished` counts them): %s.\n\n"

// After the sample efficiency table: the baseline's name, EFFICIENCY_FRAC in %.
#define SUMMARY_EFFICIENCY_NOTE \
    "\nTarget: the first logged return of %s plus %.0f%% of its gain to its final return " \
    "(means over seeds). A run that never reaches it counts with its last row's frames (a lower " \
    "bound, marked ≥); unfinished runs are left out. Δ < 0: the arm gets there in fewer " \
    "frames.\n\n"

// After the memory table.
#define SUMMARY_MEMORY_NOTE \
    "\nPer run (compare's probe step, `memory.csv`; `cpcrl eval` prints the same): the restricted mean " \
    "wait (Kaplan-Meier over half the time limit, a wait cut by the episode's end censored) from a " \
    "respawn to the next find, with the agent's memory intact and with it wiped at every find (the " \
    "model sees an episode start). Memory use = wiped - intact: above 0 the agent finds the goal " \
    "again sooner because it remembers; an agent without memory scores 0. The CI is over seeds.\n\n"

// After the held-out evaluation table: EVAL_LAST.
#define SUMMARY_EVAL_NOTE \
    "\nEach run is evaluated during training (`train --eval-every`) on env seeds 1000000 + seed, " \
    "never trained on. Final evaluation = the mean return of a run's last %d evaluations. A run " \
    "collapsed when its final checkpoint returns less than half of what its best one (`best.ckpt`) " \
    "returns, both evaluated once more on the same fresh episodes (env seeds 2000000 + seed, " \
    "`recheck.csv`, written by the probe step), and by more than the two evaluations' 95%% CIs allow " \
    "(the gap above sqrt(ci_final^2 + ci_best^2)); a run without `recheck.csv` collapsed when its last " \
    "evaluation is below half of its best. Runs without `eval.csv` " \
    "(trained before evaluations existed) are left out of this table.\n\n"

// The last section: the bootstrap resamples (twice), the curves' window in %.
#define SUMMARY_DEFINITIONS \
    "## Definitions\n\n" \
    "- **final return**: per run, the mean of log.csv's `return_mean` over the rows in the last 10%% " \
    "of the run's frames (rows with frames > 0.9 × the last row's frames; rows without a finished " \
    "episode skipped). **success**: the same over `success_rate`.\n" \
    "- **AUC**: per run, the mean return over the whole run: trapezoid rule over (frames, return_mean), " \
    "the first value held from frame 0, divided by the last row's frames.\n" \
    "- **[95%% CI]**: percentile bootstrap over seeds, %d resamples, fixed RNG seed; percentiles " \
    "interpolated linearly (numpy's default). With 3 seeds such intervals are narrow and optimistic; " \
    "read them with the P(>) column.\n" \
    "- **IQM**: interquartile mean over seeds with fractional weighting at the quartiles (the mean of " \
    "the middle 50%% of the sorted values; a value cut by a quartile counts with the fraction inside). " \
    "It equals rliable's `scipy.stats.trim_mean(x, 0.25)` when the number of seeds is a multiple of 4.\n" \
    "- **P(arm > baseline)**: rliable's probability of improvement on final return: over all pairs of " \
    "seeds, P(X > Y) + ½ P(X = Y) (Mann-Whitney U / (n m)).\n" \
    "- **verdict**: *better* when the 95%% bootstrap CI of mean(arm) − mean(baseline) of the final " \
    "return (seeds resampled independently in each arm, %d resamples) lies above 0, *worse* when below, " \
    "otherwise *no significant difference*. **final or AUC**: the same on the final return's and the " \
    "AUC's CIs together: *better* when either lies above 0 and neither below, *worse* when either lies " \
    "below and neither above, *mixed* when one lies above and the other below.\n" \
    "- **probe**: `cpcrl probe` on the final checkpoint: linear read-out (ridge on one-hot targets, " \
    "standardized features) of the agent's cell, heading, and goal cell (tmaze: the rewarded arm) from " \
    "c_t (LSTM output) and z_t (encoder latent), fit on the training episodes, accuracy on as many " \
    "held-out episodes of other mazes (other env seeds); means over seeds, shown as c_t / z_t.\n" \
    "- **curves**: each run's return and CPC accuracy averaged over a trailing window of %g%% of its " \
    "frames, then mean and 95%% bootstrap CI over seeds at every logged frame; the tables use no " \
    "smoothing.\n"

// ----------------------------------------------------------------------------
// The tables

static void fmt_ci(char *out, size_t n, double m, double lo, double hi) {
    if (!isfinite(m)) snprintf(out, n, "—");
    else snprintf(out, n, "%.3f [%.3f, %.3f]", m, lo, hi);
}

static void fmt_pair(char *out, size_t n, double a, double b) {
    if (!isfinite(a) && !isfinite(b)) snprintf(out, n, "—");
    else snprintf(out, n, "%.3f / %.3f", a, b);
}

// A per-run figure collect_metric gathers: the three of the training log, or a
// probe accuracy (label l read from c_t or from z_t: METRIC_PROBE_C(l), _Z(l)).
enum { METRIC_FINAL, METRIC_AUC, METRIC_SUCCESS, METRIC_PROBE0 };
#define METRIC_PROBE_C(l) (METRIC_PROBE0 + 2 * (l))
#define METRIC_PROBE_Z(l) (METRIC_PROBE0 + 2 * (l) + 1)

// Values of one metric for (task, arm) over seeds, finite ones only.
static int collect_metric(const AggRun *runs, int nruns, int task, int arm, int metric, double *out) {
    int n = 0;
    for (int i = 0; i < nruns; i++) {
        const AggRun *r = &runs[i];
        if (r->task != task || r->arm != arm) continue;
        double v = NAN;
        switch (metric) {
        case METRIC_FINAL: v = r->final; break;
        case METRIC_AUC: v = r->auc; break;
        case METRIC_SUCCESS: v = r->success; break;
        default: { // a probe: label l, from c_t or z_t
            const int l = (metric - METRIC_PROBE0) / 2, z = (metric - METRIC_PROBE0) % 2;
            if (r->has_probe && r->pr.has[l]) v = z ? r->pr.acc_z[l] : r->pr.acc_c[l];
        }
        }
        if (isfinite(v)) out[n++] = v;
    }
    return n;
}

// Sample efficiency (issue #16): the target of a task is 90% of the way from
// the baseline arm's first logged return to its final return (means over its
// seeds); per run the frames of its first log row at or above the target (a
// run that never gets there counts with its last row's frames: a lower
// bound); per arm the mean over seeds and its difference from the baseline
// with the bootstrap CI of the verdicts. Unfinished runs (--include-unfinished)
// are left out: their last row is no budget. x, y: scratch of nruns doubles.
#define EFFICIENCY_FRAC 0.9
static int efficiency_runs(const AggRun *runs, int nruns, int task, int arm, double target, double *out,
                           int *reached) {
    int n = 0;
    *reached = 0;
    for (int i = 0; i < nruns; i++) {
        const AggRun *r = &runs[i];
        if (r->task != task || r->arm != arm || r->frames < r->budget) continue;
        int hit;
        double v = stats_frames_to(r->log.frames, r->log.ret, r->log.n, target, &hit);
        if (!isfinite(v)) continue;
        out[n++] = v;
        *reached += hit;
    }
    return n;
}

static void efficiency_table(FILE *f, const AggRun *runs, int nruns, const AggArm *arms, int narms,
                             int base, const int *tasks, int ntasks, int resamples, double *x, double *y) {
    fprintf(f, "## Sample efficiency (frames to %.0f%% of %s's improvement)\n\n", 100 * EFFICIENCY_FRAC,
            arms[base].name);
    fprintf(f, "| task | target | arm | reached | frames, mean [95%% CI] | Δ frames vs %s [95%% CI] |\n",
            arms[base].name);
    fprintf(f, "|---|---|---|---|---|---|\n");
    for (int t = 0; t < ntasks; t++) {
        double first = 0, final = 0;
        int nb = 0;
        for (int i = 0; i < nruns; i++) { // the baseline's finished runs: first and final return
            const AggRun *r = &runs[i];
            if (r->task != tasks[t] || r->arm != base || r->frames < r->budget || !isfinite(r->final)) continue;
            int j = 0;
            while (j < r->log.n && !isfinite(r->log.ret[j])) j++;
            if (j == r->log.n) continue;
            first += r->log.ret[j], final += r->final, nb++;
        }
        if (nb == 0) continue;
        first /= nb, final /= nb;
        if (!(final > first)) {
            fprintf(f, "| %s | n/a | | | %s ends at %.3f, not above its first logged return %.3f | |\n",
                    ENV_TASK_NAMES[tasks[t]], arms[base].name, final, first);
            continue;
        }
        const double target = first + EFFICIENCY_FRAC * (final - first);
        int rb;
        const int nbase = efficiency_runs(runs, nruns, tasks[t], base, target, y, &rb);
        for (int a = 0; a < narms; a++) {
            int reached;
            const int n = efficiency_runs(runs, nruns, tasks[t], a, target, x, &reached);
            if (n == 0) continue;
            double lo, hi;
            char m[96], d[96] = "—";
            stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
            snprintf(m, sizeof m, "%s%.0f [%.0f, %.0f]", reached < n ? "≥ " : "", stats_mean(x, n), lo, hi);
            if (a != base && nbase > 0) {
                stats_bootstrap_diff_ci(x, n, y, nbase, resamples, STATS_SEED, &lo, &hi);
                snprintf(d, sizeof d, "%.0f [%.0f, %.0f]", stats_mean(x, n) - stats_mean(y, nbase), lo, hi);
            }
            fprintf(f, "| %s | %.3f | %s | %d of %d | %s | %s |\n", ENV_TASK_NAMES[tasks[t]], target,
                    arms[a].name, reached, n, m, d);
        }
    }
    fprintf(f, SUMMARY_EFFICIENCY_NOTE, arms[base].name, 100 * EFFICIENCY_FRAC);
}

static void memory_table(FILE *f, const AggRun *runs, int nruns, const AggArm *arms, int narms, int base,
                         const int *tasks, int ntasks, int resamples, double *x, double *y) {
    int any = 0;
    for (int i = 0; i < nruns; i++) any |= runs[i].has_mem;
    if (!any) return;
    fprintf(f, "## Memory: finding the goal again (goal, watermaze)\n\n");
    fprintf(f, "| task | arm | runs | wait for a later find: intact / wiped (steps) | memory use, mean [95%% CI] | Δ vs %s [95%% CI] |\n",
            base >= 0 ? arms[base].name : "baseline");
    fprintf(f, "|---|---|---|---|---|---|\n");
    for (int t = 0; t < ntasks; t++) {
        int nb = 0;
        for (int i = 0; i < nruns; i++)
            if (base >= 0 && runs[i].task == tasks[t] && runs[i].arm == base && runs[i].has_mem)
                y[nb++] = runs[i].mem_use;
        for (int a = 0; a < narms; a++) {
            int n = 0;
            double wl = 0, ww = 0;
            for (int i = 0; i < nruns; i++) {
                const AggRun *r = &runs[i];
                if (r->task != tasks[t] || r->arm != a || !r->has_mem) continue;
                x[n++] = r->mem_use, wl += r->wait_later, ww += r->wait_later_wiped;
            }
            if (n == 0) continue;
            double lo, hi;
            char d[96] = "—";
            stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
            const double m = stats_mean(x, n);
            if (a != base && nb > 0) {
                double dlo, dhi;
                stats_bootstrap_diff_ci(x, n, y, nb, resamples, STATS_SEED, &dlo, &dhi);
                snprintf(d, sizeof d, "%+.2f [%.2f, %.2f]", m - stats_mean(y, nb), dlo, dhi);
            }
            fprintf(f, "| %s | %s | %d | %.2f / %.2f | %+.2f [%.2f, %.2f] | %s |\n", ENV_TASK_NAMES[tasks[t]],
                    arms[a].name, n, wl / n, ww / n, m, lo, hi, d);
        }
    }
    fputs(SUMMARY_MEMORY_NOTE, f);
}

static int collect_eval(const AggRun *runs, int nruns, int task, int arm, double *out, int *collapses) {
    int n = 0;
    *collapses = 0;
    for (int i = 0; i < nruns; i++) {
        const AggRun *r = &runs[i];
        if (r->task != task || r->arm != arm || !r->has_eval) continue;
        out[n++] = r->eval_final;
        *collapses += r->collapsed;
    }
    return n;
}

static void eval_table(FILE *f, const AggRun *runs, int nruns, const AggArm *arms, int narms, int base,
                       const int *tasks, int ntasks, int resamples, double *x, double *y) {
    int any = 0;
    for (int i = 0; i < nruns; i++) any |= runs[i].has_eval;
    if (!any) return; // runs trained before evaluations existed: no section
    fprintf(f, "## Held-out evaluation (eval.csv)\n\n");
    fprintf(f, "| task | arm | runs | final evaluation, mean [95%% CI] | Δ vs %s [95%% CI] | verdict | collapses |\n",
            base >= 0 ? arms[base].name : "baseline");
    fprintf(f, "|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < ntasks; t++) {
        int cb = 0;
        const int nb = base >= 0 ? collect_eval(runs, nruns, tasks[t], base, y, &cb) : 0;
        for (int a = 0; a < narms; a++) {
            int col;
            const int n = collect_eval(runs, nruns, tasks[t], a, x, &col);
            if (n == 0) continue;
            double lo, hi;
            char m[96], d[96] = "—";
            const char *v = "—";
            stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
            snprintf(m, sizeof m, "%.3f [%.3f, %.3f]", stats_mean(x, n), lo, hi);
            if (a != base && nb > 0) {
                stats_bootstrap_diff_ci(x, n, y, nb, resamples, STATS_SEED, &lo, &hi);
                snprintf(d, sizeof d, "%+.3f [%.3f, %.3f]", stats_mean(x, n) - stats_mean(y, nb), lo, hi);
                v = stats_verdict_name(stats_verdict(lo, hi));
            }
            fprintf(f, "| %s | %s | %d | %s | %s | %s | %d of %d |\n", ENV_TASK_NAMES[tasks[t]], arms[a].name, n,
                    m, d, v, col, n);
        }
    }
    fprintf(f, SUMMARY_EVAL_NOTE, EVAL_LAST);
}

// Trailing-window mean of y (NaN skipped): out_i = mean of y_j over the rows
// with f_i - w < f_j <= f_i (NaN when none is finite). w <= 0 copies y.
static void smooth_series(const double *f, const double *y, int n, double w, double *out) {
    int j0 = 0;
    for (int i = 0; i < n; i++) {
        if (w <= 0) { out[i] = y[i]; continue; }
        while (f[j0] <= f[i] - w) j0++;
        double s = 0;
        int m = 0;
        for (int j = j0; j <= i; j++)
            if (isfinite(y[j])) s += y[j], m++;
        out[i] = m ? s / m : NAN;
    }
}

// Learning curve of (task, arm) on the frames of the longest run of the task:
// mean and bootstrap CI over seeds of return, cpc_acc_1 and cpc_acc_K, each
// run's series first smoothed over a trailing window of smooth x its frames.
int summary_curve(const char *out, const AggRun *runs, int nruns, int task, int arm,
                       const AggArm *arms, int resamples, double smooth) {
    const AggRun *grid = NULL;
    for (int i = 0; i < nruns; i++)
        if (runs[i].task == task && (!grid || runs[i].log.n > grid->log.n)) grid = &runs[i];
    int nr = 0, K = 0;
    for (int i = 0; i < nruns; i++)
        if (runs[i].task == task && runs[i].arm == arm) {
            nr++;
            if (runs[i].log.K > K) K = runs[i].log.K;
        }
    if (!grid || nr == 0) return 0;
    char path[1200];
    if (snprintf(path, sizeof path, "%s/results/curve_%s_%s.csv", out, ENV_TASK_NAMES[task],
                 arms[arm].name) >= (int)sizeof path)
        return -1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    double *v = malloc((size_t)nr * sizeof(double));
    int maxn = 1;
    for (int i = 0; i < nruns; i++) maxn = runs[i].log.n > maxn ? runs[i].log.n : maxn;
    double *sm = malloc((size_t)maxn * sizeof(double));
    if (!f || !v || !sm) {
        if (f) fclose(f);
        free(text), free(v), free(sm);
        return -1;
    }
    int B = 0;
    for (int i = 0; i < nruns; i++)
        if (runs[i].task == task && runs[i].arm == arm) B = runs[i].envs;
    fprintf(f, "# task=%s arm=%s seeds=%d K=%d weight=%g envs=%d smooth=%g\n",
            ENV_TASK_NAMES[task], arms[arm].name, nr, K, arms[arm].weight, B, smooth);
    fprintf(f, "# frames,n,return_mean,return_lo,return_hi,acc1_mean,acc1_lo,acc1_hi,accK_mean,accK_lo,accK_hi\n");
    for (int g = 0; g < grid->log.n; g++) {
        double fr = grid->log.frames[g];
        fprintf(f, "%.0f", fr);
        for (int s = 0; s < 3; s++) {
            int n = 0;
            for (int i = 0; i < nruns; i++) {
                const AggRun *r = &runs[i];
                if (r->task != task || r->arm != arm) continue;
                const double *y = s == 0 ? r->log.ret : s == 1 ? r->log.acc1 : r->log.accK;
                if (!y) continue;
                const double flast = r->log.frames[r->log.n - 1];
                smooth_series(r->log.frames, y, r->log.n, smooth * flast, sm);
                double x = runlog_interp(r->log.frames, sm, r->log.n, fr);
                if (isfinite(x)) v[n++] = x;
            }
            if (s == 0) fprintf(f, ",%d", n);
            double lo = NAN, hi = NAN, m = stats_mean(v, n);
            if (n > 0) stats_bootstrap_ci(v, n, resamples, STATS_SEED, &lo, &hi);
            fprintf(f, ",%.6g,%.6g,%.6g", m, lo, hi);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    free(v), free(sm);
    int rc = agg_write_text(path, text, len);
    free(text);
    return rc;
}

// scripts/plot_compare.sh beside the binary or in the working directory.
int summary_plot(const char *out) {
    char exe[1024], script[1200];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    script[0] = 0;
    if (file_exists("scripts/plot_compare.sh")) {
        snprintf(script, sizeof script, "scripts/plot_compare.sh");
    } else if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(script, sizeof script, "%s/scripts/plot_compare.sh", exe);
        if (!file_exists(script)) script[0] = 0;
    }
    if (!script[0]) {
        fprintf(stderr, "compare: scripts/plot_compare.sh not found; no PNG curves\n");
        return -1;
    }
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *argv[] = {"sh", script, (char *)out, NULL};
        execvp("sh", argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "compare: %s %s failed; no PNG curves\n", script, out);
        return -1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// summary.md

// The title, the runs, the ones left out and OUT/command.txt (when there).
static void summary_head(FILE *f, const char *out, int nruns, const char *unfinished) {
    fprintf(f, SUMMARY_INTRO, nruns, out, out);
    if (unfinished) fprintf(f, SUMMARY_UNFINISHED, unfinished);
    char cmdpath[1200], line[2048];
    snprintf(cmdpath, sizeof cmdpath, "%s/command.txt", out);
    FILE *cf = file_open_regular(cmdpath, NULL);
    if (cf) {
        fprintf(f, "```\n");
        while (fgets(line, sizeof line, cf)) fputs(line, f);
        fprintf(f, "```\n\n");
        fclose(cf);
    }
}

// Each arm against the baseline base (>= 0) on every task: the difference of
// the final returns and of the AUCs with their CIs, and the verdicts.
static void verdict_table(FILE *f, const AggRun *runs, int nruns, const AggArm *arms, int narms, int base,
                          const int *tasks, int ntasks, int resamples, double *x, double *y) {
    fprintf(f, "## Verdicts (each arm against %s: final return, and final return or AUC)\n\n", arms[base].name);
    fprintf(f, "| task | arm | seeds | Δ final return [95%% CI] | Δ AUC [95%% CI] | P(arm > %s) | verdict | "
               "final or AUC |\n", arms[base].name);
    fprintf(f, "|---|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < ntasks; t++)
        for (int a = 0; a < narms; a++) {
            if (a == base) continue;
            int nx = collect_metric(runs, nruns, tasks[t], a, METRIC_FINAL, x);
            int ny = collect_metric(runs, nruns, tasks[t], base, METRIC_FINAL, y);
            if (nx == 0) continue;
            double lo = NAN, hi = NAN, alo = NAN, ahi = NAN;
            char d[96], da[96];
            const char *verdict = "—";
            int judged = 0; // 2+ seeds per arm
            double p = stats_prob_improvement(x, nx, y, ny);
            if (ny > 0) {
                stats_bootstrap_diff_ci(x, nx, y, ny, resamples, STATS_SEED, &lo, &hi);
                fmt_ci(d, sizeof d, stats_mean(x, nx) - stats_mean(y, ny), lo, hi);
                judged = nx >= 2 && ny >= 2;
                verdict = judged ? stats_verdict_name(stats_verdict(lo, hi)) : "— (needs 2+ seeds per arm)";
            } else {
                snprintf(d, sizeof d, "—");
            }
            nx = collect_metric(runs, nruns, tasks[t], a, METRIC_AUC, x);
            ny = collect_metric(runs, nruns, tasks[t], base, METRIC_AUC, y);
            if (nx > 0 && ny > 0) {
                stats_bootstrap_diff_ci(x, nx, y, ny, resamples, STATS_SEED, &alo, &ahi);
                fmt_ci(da, sizeof da, stats_mean(x, nx) - stats_mean(y, ny), alo, ahi);
            } else {
                snprintf(da, sizeof da, "—");
            }
            const char *either = "—";
            if (judged) either = stats_verdict_name(stats_verdict_either(lo, hi, alo, ahi));
            fprintf(f, "| %s | %s | %d vs %d | %s | %s | %.2f | %s | %s |\n", ENV_TASK_NAMES[tasks[t]],
                    arms[a].name, nx, ny, d, da, p, verdict, either);
        }
    fprintf(f, "\n");
}

// One arm's row of a task's table: nseeds runs of mean frames fr.
static void task_row(FILE *f, const AggRun *runs, int nruns, const AggArm *arms, int base, int task, int a,
                     int nseeds, double fr, int resamples, double *x, double *y) {
    char fin[96], auc[96], frs[32], pi[16], probe[PROBE_NLABELS][48];
    int n = collect_metric(runs, nruns, task, a, METRIC_FINAL, x);
    double lo = NAN, hi = NAN, m = stats_mean(x, n), iqm = stats_iqm(x, n);
    if (n > 0) stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
    fmt_ci(fin, sizeof fin, m, lo, hi);
    snprintf(pi, sizeof pi, "—");
    if (base >= 0 && a != base) {
        int ny = collect_metric(runs, nruns, task, base, METRIC_FINAL, y);
        double p = stats_prob_improvement(x, n, y, ny);
        if (isfinite(p)) snprintf(pi, sizeof pi, "%.2f", p);
    }
    n = collect_metric(runs, nruns, task, a, METRIC_AUC, x);
    lo = hi = NAN;
    if (n > 0) stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
    fmt_ci(auc, sizeof auc, stats_mean(x, n), lo, hi);
    n = collect_metric(runs, nruns, task, a, METRIC_SUCCESS, x);
    double succ = stats_mean(x, n);
    for (int l = 0; l < PROBE_NLABELS; l++) {
        int nc = collect_metric(runs, nruns, task, a, METRIC_PROBE_C(l), x);
        int nz = collect_metric(runs, nruns, task, a, METRIC_PROBE_Z(l), y);
        fmt_pair(probe[l], sizeof probe[l], stats_mean(x, nc), stats_mean(y, nz));
    }
    progress_count(frs, sizeof frs, fr);
    char iqms[32];
    if (isfinite(iqm)) snprintf(iqms, sizeof iqms, "%.3f", iqm);
    else snprintf(iqms, sizeof iqms, "—");
    fprintf(f, "| %s | %d | %s | %s | %s | %s | %.2f | %s | %s | %s | %s |\n", arms[a].name, nseeds, frs, fin,
            iqms, auc, succ, pi, probe[0], probe[1], probe[2]);
}

// A task's section: a row per arm, the probe's size and chance levels, the
// frames its runs stopped at when they differ, its curves.
static void task_table(FILE *f, const AggRun *runs, int nruns, const AggArm *arms, int narms, int base, int task,
                       int resamples, double *x, double *y) {
    fprintf(f, "## %s\n\n", ENV_TASK_NAMES[task]);
    fprintf(f, "| arm | seeds | frames | final return [95%% CI] | IQM | AUC [95%% CI] | success | "
               "P(> %s) | probe position c / z | heading c / z | goal c / z |\n",
            base >= 0 ? arms[base].name : "baseline");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|\n");
    double chance[PROBE_NLABELS] = {0, 0, 0}, nchance[PROBE_NLABELS] = {0, 0, 0};
    double fmin_ = INFINITY, fmax_ = 0, probe_steps = 0;
    int probe_eps = 0, nprobe = 0;
    for (int a = 0; a < narms; a++) {
        double fr = 0;
        int nseeds = 0;
        for (int i = 0; i < nruns; i++)
            if (runs[i].task == task && runs[i].arm == a) {
                nseeds++;
                fr += runs[i].frames;
                fmin_ = fmin(fmin_, runs[i].frames), fmax_ = fmax(fmax_, runs[i].frames);
                if (!runs[i].has_probe) continue;
                probe_eps = runs[i].pr.episodes, probe_steps += runs[i].pr.n_train, nprobe++;
                for (int l = 0; l < PROBE_NLABELS; l++)
                    if (runs[i].pr.has[l] && isfinite(runs[i].pr.chance[l]))
                        chance[l] += runs[i].pr.chance[l], nchance[l]++;
            }
        if (nseeds == 0) continue;
        task_row(f, runs, nruns, arms, base, task, a, nseeds, fr / nseeds, resamples, x, y);
    }
    for (int l = 0; l < PROBE_NLABELS; l++) chance[l] = nchance[l] > 0 ? chance[l] / nchance[l] : NAN;
    char gch[48];
    if (isfinite(chance[2])) snprintf(gch, sizeof gch, "%.3f", chance[2]);
    else snprintf(gch, sizeof gch, "— (no goal in this task)");
    if (nprobe > 0)
        fprintf(f, "\nProbe: %d training + %d held-out episodes per run (≈%.0f steps each); chance "
                   "(most frequent training class, mean over runs): position %.3f, heading %.3f, goal %s.\n",
                probe_eps, probe_eps, probe_steps / nprobe, chance[0], chance[1], gch);
    if (fmax_ > fmin_)
        fprintf(f, "\n**Note:** runs of this task stopped at different frames (%.0f to %.0f).\n", fmin_, fmax_);
    fprintf(f, "\n![%s learning curves](curves_%s.png)\n\n", ENV_TASK_NAMES[task], ENV_TASK_NAMES[task]);
}

void summary_write(FILE *f, const char *out, const AggRun *runs, int nruns, const AggArm *arms, int narms,
                   int base, int resamples, double smooth, const char *unfinished) {
    int tasks[ENV_NTASKS], ntasks = 0;
    for (int i = 0; i < nruns; i++)
        if (ntasks == 0 || tasks[ntasks - 1] != runs[i].task) tasks[ntasks++] = runs[i].task;
    double *x = malloc((size_t)nruns * sizeof(double)), *y = malloc((size_t)nruns * sizeof(double));
    if (!x || !y) { free(x), free(y); return; }
    summary_head(f, out, nruns, unfinished);
    if (base >= 0) verdict_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    eval_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    memory_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    if (base >= 0) efficiency_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    for (int t = 0; t < ntasks; t++) task_table(f, runs, nruns, arms, narms, base, tasks[t], resamples, x, y);
    fprintf(f, SUMMARY_DEFINITIONS, resamples, resamples, 100 * smooth);
    free(x), free(y);
}
