// aggregate.c — compare's aggregation (see aggregate.h).
#include "lab/aggregate.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/progress.h"
#include "base/runlock.h"
#include "lab/probe.h"
#include "lab/stats.h"

static int write_text(const char *path, const char *text, size_t len) {
    char err[512];
    if (file_write_atomic(path, text, len, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl compare: %s\n", err);
        return -1;
    }
    return 0;
}

// Aggregation

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
} AggRun;

typedef struct {
    char name[48];
    double weight;
    int k;
} AggArm;

// "<task>-<arm>-s<seed>": task is the longest task name followed by '-'.
static int parse_run_name(const char *name, int *task, char *arm, size_t armlen, uint64_t *seed) {
    int best = -1;
    size_t bl = 0;
    for (int t = 0; t < ENV_NTASKS; t++) {
        size_t l = strlen(ENV_TASK_NAMES[t]);
        if (!strncmp(name, ENV_TASK_NAMES[t], l) && name[l] == '-' && l > bl) best = t, bl = l;
    }
    if (best < 0) return -1;
    const char *s = strrchr(name, '-');
    if (!s || s <= name + bl || s[1] != 's' || !s[2]) return -1;
    char *end;
    unsigned long long v = strtoull(s + 2, &end, 10);
    if (*end) return -1;
    size_t al = (size_t)(s - (name + bl + 1));
    if (al == 0 || al >= armlen) return -1;
    memcpy(arm, name + bl + 1, al);
    arm[al] = 0;
    *task = best, *seed = v;
    return 0;
}

static int cmp_aggrun(const void *pa, const void *pb) {
    const AggRun *a = pa, *b = pb;
    if (a->task != b->task) return a->task - b->task;
    if (a->arm != b->arm) return a->arm - b->arm;
    return (a->seed > b->seed) - (a->seed < b->seed);
}

static int cmp_aggarm(const void *pa, const void *pb) {
    const AggArm *a = pa, *b = pb;
    int na = !strcmp(a->name, "nocpc"), nb = !strcmp(b->name, "nocpc");
    if (na != nb) return nb - na; // the baseline first, also beside other weight-0 arms (--arms)
    if (a->weight != b->weight) return a->weight < b->weight ? -1 : 1;
    if (a->k != b->k) return a->k - b->k;
    return strcmp(a->name, b->name);
}

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
    fprintf(f, "\nTarget: the first logged return of %s plus %.0f%% of its gain to its final return "
               "(means over seeds). A run that never reaches it counts with its last row's frames (a lower "
               "bound, marked ≥); unfinished runs are left out. Δ < 0: the arm gets there in fewer "
               "frames.\n\n", arms[base].name, 100 * EFFICIENCY_FRAC);
}

static void results_header(FILE *f) {
    fprintf(f, "task,arm,seed,cpc_weight,cpc_k,frames,final_return,auc,success");
    for (int l = 0; l < PROBE_NLABELS; l++)
        fprintf(f, ",probe_%s_c,probe_%s_z,probe_%s_chance", PROBE_LABEL_NAMES[l],
                PROBE_LABEL_NAMES[l], PROBE_LABEL_NAMES[l]);
    fprintf(f, ",eval_final,eval_best,eval_last,collapsed,memory_use,wait_later,wait_later_wiped\n");
}

static void results_row(FILE *f, const AggRun *r, const AggArm *arms) {
    fprintf(f, "%s,%s,%llu,%g,%d,%.0f,%.6g,%.6g,%.6g", ENV_TASK_NAMES[r->task], arms[r->arm].name,
            (unsigned long long)r->seed, r->weight, r->weight > 0 ? r->k : 0, r->frames, r->final,
            r->auc, r->success);
    for (int l = 0; l < PROBE_NLABELS; l++) {
        int h = r->has_probe && r->pr.has[l];
        fprintf(f, ",%.6g,%.6g,%.6g", h ? r->pr.acc_c[l] : NAN, h ? r->pr.acc_z[l] : NAN,
                h ? r->pr.chance[l] : NAN);
    }
    if (r->has_eval) fprintf(f, ",%.6g,%.6g,%.6g,%d", r->eval_final, r->eval_best, r->eval_last, r->collapsed);
    else fprintf(f, ",nan,nan,nan,nan");
    if (r->has_mem) fprintf(f, ",%.6g,%.6g,%.6g\n", r->mem_use, r->wait_later, r->wait_later_wiped);
    else fprintf(f, ",nan,nan,nan\n");
}

// memory.csv: a header line and one row; the columns by name. Taken only when
// it names the checkpoint id (frames, CRC-32) of the run's model.ckpt now.
static void read_memory(AggRun *r, const char *path, const ProbeCkptId *id) {
    r->has_mem = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char head[1024], row[1024];
    const int ok = fgets(head, sizeof head, f) && fgets(row, sizeof row, f);
    fclose(f);
    if (!ok) return;
    double use = NAN, wl = NAN, ww = NAN, frames = NAN;
    unsigned crc = 0;
    int have_crc = 0;
    char *hs, *rs;
    char *h = strtok_r(head, ",\r\n", &hs), *v = strtok_r(row, ",\r\n", &rs);
    for (; h && v; h = strtok_r(NULL, ",\r\n", &hs), v = strtok_r(NULL, ",\r\n", &rs)) {
        if (!strcmp(h, "memory_use")) use = strtod(v, NULL);
        else if (!strcmp(h, "wait_later")) wl = strtod(v, NULL);
        else if (!strcmp(h, "wait_later_wiped")) ww = strtod(v, NULL);
        else if (!strcmp(h, "ckpt_frames")) frames = strtod(v, NULL);
        else if (!strcmp(h, "ckpt_crc32")) have_crc = sscanf(v, "%x", &crc) == 1;
    }
    if (!have_crc || frames != id->frames || crc != id->crc) return; // another checkpoint's
    r->has_mem = isfinite(use) && isfinite(wl) && isfinite(ww);
    r->mem_use = use, r->wait_later = wl, r->wait_later_wiped = ww;
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
    fprintf(f, "\nPer run (compare's probe step, `memory.csv`; `cpcrl eval` prints the same): the restricted mean "
               "wait (Kaplan-Meier over half the time limit, a wait cut by the episode's end censored) from a "
               "respawn to the next find, with the agent's memory intact and with it wiped at every find (the "
               "model sees an episode start). Memory use = wiped - intact: above 0 the agent finds the goal "
               "again sooner because it remembers; an agent without memory scores 0. The CI is over seeds.\n\n");
}

// ----------------------------------------------------------------------------
// Held-out evaluation (eval.csv): a run's final evaluation is the mean return of
// its last EVAL_LAST evaluations (one evaluation is a lottery over where
// training stopped); it collapsed when its last evaluation is below half of
// its best one (best > 0).
#define EVAL_LAST 3

static void read_eval(AggRun *r, const char *path) {
    RunLog ev;
    char msg[600];
    r->has_eval = 0;
    if (!file_exists(path) || runlog_read(&ev, path, msg, sizeof msg) < 0) return;
    int n = 0;
    double best = -INFINITY, sum = 0;
    for (int i = 0; i < ev.n; i++)
        if (isfinite(ev.ret[i]) && ev.ret[i] > best) best = ev.ret[i];
    for (int i = ev.n - 1; i >= 0 && n < EVAL_LAST; i--)
        if (isfinite(ev.ret[i])) sum += ev.ret[i], n++;
    if (n > 0) {
        r->has_eval = 1;
        r->eval_final = sum / n, r->eval_best = best, r->eval_last = ev.ret[ev.n - 1];
        r->collapsed = best > 0 && r->eval_last < 0.5 * best;
    }
    runlog_free(&ev);
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
    fprintf(f, "\nEach run is evaluated during training (`train --eval-every`) on env seeds 1000000 + seed, "
               "never trained on. Final evaluation = the mean return of a run's last %d evaluations; a run "
               "collapsed when its last evaluation is below half of its best. Runs without `eval.csv` "
               "(trained before evaluations existed) are left out of this table.\n\n", EVAL_LAST);
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
static int write_curve(const char *out, const AggRun *runs, int nruns, int task, int arm,
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
    int rc = write_text(path, text, len);
    free(text);
    return rc;
}

// scripts/plot_compare.sh beside the binary or in the working directory.
static int run_plot(const char *out) {
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

static void write_summary(FILE *f, const char *out, const AggRun *runs, int nruns,
                          const AggArm *arms, int narms, int base, int resamples, double smooth,
                          const char *unfinished) {
    int tasks[ENV_NTASKS], ntasks = 0;
    for (int i = 0; i < nruns; i++)
        if (ntasks == 0 || tasks[ntasks - 1] != runs[i].task) tasks[ntasks++] = runs[i].task;
    double *x = malloc((size_t)nruns * sizeof(double)), *y = malloc((size_t)nruns * sizeof(double));
    if (!x || !y) { free(x), free(y); return; }
    fprintf(f, "# With and without CPC: summary\n\n");
    fprintf(f, "%d runs in `%s/runs/` (per run: `log.csv`, `config.txt`, `metrics.csv`, `probe.csv`; "
               "all of them in `results.csv`). Commands: `%s/command.txt`.\n\n", nruns, out, out);
    if (unfinished)
        fprintf(f, "Left out, unfinished (their log.csv stops before their frames; `--aggregate-only "
                   "--include-unfinished` counts them): %s.\n\n", unfinished);
    char cmdpath[1200], line[2048];
    snprintf(cmdpath, sizeof cmdpath, "%s/command.txt", out);
    FILE *cf = fopen(cmdpath, "r");
    if (cf) {
        fprintf(f, "```\n");
        while (fgets(line, sizeof line, cf)) fputs(line, f);
        fprintf(f, "```\n\n");
        fclose(cf);
    }
    // verdicts first
    if (base >= 0) {
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
                    verdict = judged ? stats_verdict_name(stats_verdict(lo, hi))
                                                 : "— (needs 2+ seeds per arm)";
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
    eval_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    memory_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    if (base >= 0) efficiency_table(f, runs, nruns, arms, narms, base, tasks, ntasks, resamples, x, y);
    for (int t = 0; t < ntasks; t++) {
        const int task = tasks[t];
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
            progress_count(frs, sizeof frs, fr / nseeds);
            char iqms[32];
            if (isfinite(iqm)) snprintf(iqms, sizeof iqms, "%.3f", iqm);
            else snprintf(iqms, sizeof iqms, "—");
            fprintf(f, "| %s | %d | %s | %s | %s | %s | %.2f | %s | %s | %s | %s |\n", arms[a].name,
                    nseeds, frs, fin, iqms, auc, succ, pi, probe[0], probe[1], probe[2]);
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
            fprintf(f, "\n**Note:** runs of this task stopped at different frames (%.0f to %.0f).\n",
                    fmin_, fmax_);
        fprintf(f, "\n![%s learning curves](curves_%s.png)\n\n", ENV_TASK_NAMES[task], ENV_TASK_NAMES[task]);
    }
    fprintf(f,
            "## Definitions\n\n"
            "- **final return**: per run, the mean of log.csv's `return_mean` over the rows in the last 10%% "
            "of the run's frames (rows with frames > 0.9 × the last row's frames; rows without a finished "
            "episode skipped). **success**: the same over `success_rate`.\n"
            "- **AUC**: per run, the mean return over the whole run: trapezoid rule over (frames, return_mean), "
            "the first value held from frame 0, divided by the last row's frames.\n"
            "- **[95%% CI]**: percentile bootstrap over seeds, %d resamples, fixed RNG seed; percentiles "
            "interpolated linearly (numpy's default). With 3 seeds such intervals are narrow and optimistic; "
            "read them with the P(>) column.\n"
            "- **IQM**: interquartile mean over seeds with fractional weighting at the quartiles (the mean of "
            "the middle 50%% of the sorted values; a value cut by a quartile counts with the fraction inside). "
            "It equals rliable's `scipy.stats.trim_mean(x, 0.25)` when the number of seeds is a multiple of 4.\n"
            "- **P(arm > baseline)**: rliable's probability of improvement on final return: over all pairs of "
            "seeds, P(X > Y) + ½ P(X = Y) (Mann-Whitney U / (n m)).\n"
            "- **verdict**: *better* when the 95%% bootstrap CI of mean(arm) − mean(baseline) of the final "
            "return (seeds resampled independently in each arm, %d resamples) lies above 0, *worse* when below, "
            "otherwise *no significant difference*. **final or AUC**: the same on the final return's and the "
            "AUC's CIs together: *better* when either lies above 0 and neither below, *worse* when either lies "
            "below and neither above, *mixed* when one lies above and the other below.\n"
            "- **probe**: `cpcrl probe` on the final checkpoint: linear read-out (ridge on one-hot targets, "
            "standardized features) of the agent's cell, heading, and goal cell (tmaze: the rewarded arm) from "
            "c_t (LSTM output) and z_t (encoder latent), fit on the training episodes, accuracy on as many "
            "held-out episodes of other mazes (other env seeds); means over seeds, shown as c_t / z_t.\n"
            "- **curves**: each run's return and CPC accuracy averaged over a trailing window of %g%% of its "
            "frames, then mean and 95%% bootstrap CI over seeds at every logged frame; the tables use no "
            "smoothing.\n",
            resamples, resamples, 100 * smooth);
    free(x), free(y);
}

// ----------------------------------------------------------------------------
// The aggregation lock: OUT/aggregate.lock (base/runlock.h's format and
// rules), held from before the runs are read until the last file is
// written, so that of two aggregations at once the later one reads the runs
// after the earlier one has written, and its files are the ones that stay.

static int agg_lock(const CompareOpts *o, RunLock *lk, char *err, size_t errlen) {
    const double stale = o->lock_stale > 0 ? o->lock_stale : RUNLOCK_STALE_DEFAULT;
    const double t0 = progress_now();
    int said = 0;
    for (;;) {
        char msg[2400];
        int rc = runlock_acquire_named(lk, o->out, "aggregate.lock", stale, "cpcrl compare", msg, sizeof msg);
        if (rc == RUNLOCK_HELD) return 0;
        if (rc < 0) {
            snprintf(err, errlen, "%s", msg);
            return -1;
        }
        const double waited = progress_now() - t0;
        if (waited > stale + 60) { // its holder lives and beats, but never ends
            snprintf(err, errlen, "%s; waited %.0f s", msg, waited);
            return -1;
        }
        if (!said++) fprintf(stderr, "compare: waiting for another aggregation of %s (%s)\n", o->out, msg);
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

// The lock still ours? (a heartbeat at most every RUNLOCK_BEAT s) 0, or -1
// with a message: then nothing more is written.
static int agg_beat(RunLock *lk, char *err, size_t errlen) {
    char msg[2400];
    if (runlock_beat(lk, 0, msg, sizeof msg) == 0) return 0;
    snprintf(err, errlen, "%s; stopping this aggregation", msg);
    return -1;
}

// Tests: CPCRL_AGG_TEST_WAIT_US holds the aggregation between reading the
// runs and writing (two aggregations overlap for sure).
static void agg_test_wait(void) {
    const char *e = getenv("CPCRL_AGG_TEST_WAIT_US");
    long us = e ? strtol(e, NULL, 10) : 0;
    if (us > 0 && us < 60000000) {
        struct timespec t = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&t, NULL);
    }
}

static int aggregate_locked(const CompareOpts *o, RunLock *lk, char *err, size_t errlen);

int compare_aggregate(const CompareOpts *o, char *err, size_t errlen) {
    char runsdir[1100];
    snprintf(runsdir, sizeof runsdir, "%s/runs", o->out);
    DIR *d = opendir(runsdir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open: %s", runsdir, strerror(errno));
        return -1;
    }
    closedir(d);
    RunLock lk;
    if (agg_lock(o, &lk, err, errlen) < 0) return -1;
    int rc = aggregate_locked(o, &lk, err, errlen);
    runlock_release(&lk);
    return rc;
}

static int aggregate_locked(const CompareOpts *o, RunLock *lk, char *err, size_t errlen) {
    const char *out = o->out;
    const int resamples = o->bootstrap;
    char runsdir[1100];
    snprintf(runsdir, sizeof runsdir, "%s/runs", out);
    DIR *d = opendir(runsdir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open: %s", runsdir, strerror(errno));
        return -1;
    }
    int cap = 16, nruns = 0, narms = 0, acap = 0, rc = -1, nleft = 0, base_left = 0;
    char left[2048] = ""; // unfinished runs left out
    size_t lleft = 0;
    AggRun *runs = calloc((size_t)cap, sizeof(AggRun));
    AggArm *arms = NULL, *sorted = NULL;
    int *order = NULL;
    char *names = NULL;
    struct dirent *de;
    if (!runs) { closedir(d); snprintf(err, errlen, "out of memory"); return -1; }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        AggRun r;
        memset(&r, 0, sizeof r);
        char arm[48], path[1400];
        if (parse_run_name(de->d_name, &r.task, arm, sizeof arm, &r.seed) < 0) continue;
        snprintf(r.name, sizeof r.name, "%s", de->d_name);
        snprintf(path, sizeof path, "%s/%s/log.csv", runsdir, de->d_name);
        char msg[600];
        if (!file_exists(path)) continue;
        if (runlog_read(&r.log, path, msg, sizeof msg) < 0) {
            fprintf(stderr, "compare: skipping %s: %s\n", de->d_name, msg);
            continue;
        }
        if (r.log.n == 0) { runlog_free(&r.log); continue; }
        Config c;
        config_defaults(&c);
        snprintf(path, sizeof path, "%s/%s/config.txt", runsdir, de->d_name);
        if (config_load(&c, path, msg, sizeof msg) < 0) {
            c.cpc_weight = r.log.K > 0 ? 1.0f : 0.0f; // no config: tell the arms apart by the log
            c.cpc_k = r.log.K;
        }
        r.weight = c.cpc_weight, r.k = c.cpc_weight > 0 ? c.cpc_k : 0, r.envs = c.envs;
        r.frames = r.log.frames[r.log.n - 1];
        r.budget = c.frames;
        // its checkpoint, when there: it must have reached the frames too (a
        // last checkpoint never written, e.g. on a full disk, leaves the run
        // to be resumed), and a probe.csv must have measured it
        ProbeCkptId id = {-1, 0};
        snprintf(path, sizeof path, "%s/%s/model.ckpt", runsdir, de->d_name);
        const int has_ck = file_exists(path);
        if (has_ck && probe_ckpt_id(path, &id) < 0) id.frames = -1;
        const int ck_behind = has_ck && id.frames < c.frames;
        if ((r.frames < c.frames || ck_behind) && !o->include_unfinished) { // still training, failed or killed
            if (lleft < sizeof left - 1 && r.frames < c.frames)
                lleft += (size_t)snprintf(left + lleft, sizeof left - lleft, "%s%s (%.0f of %.0f frames)",
                                          nleft ? ", " : "", de->d_name, r.frames, c.frames);
            else if (lleft < sizeof left - 1)
                lleft += (size_t)snprintf(left + lleft, sizeof left - lleft, "%s%s (its checkpoint at %.0f of "
                                          "%.0f frames)", nleft ? ", " : "", de->d_name, id.frames, c.frames);
            if (lleft > sizeof left - 1) lleft = sizeof left - 1;
            nleft++;
            base_left += o->baseline[0] && !strcmp(arm, o->baseline);
            runlog_free(&r.log);
            continue;
        }
        r.final = stats_final_return(r.log.frames, r.log.ret, r.log.n, STATS_FINAL_FRAC);
        r.auc = stats_auc(r.log.frames, r.log.ret, r.log.n);
        r.success = stats_final_return(r.log.frames, r.log.success, r.log.n, STATS_FINAL_FRAC);
        snprintf(path, sizeof path, "%s/%s/eval.csv", runsdir, de->d_name);
        read_eval(&r, path);
        snprintf(path, sizeof path, "%s/%s/memory.csv", runsdir, de->d_name);
        if (has_ck) read_memory(&r, path, &id);
        snprintf(path, sizeof path, "%s/%s/probe.csv", runsdir, de->d_name);
        r.has_probe = file_exists(path) && probe_read_csv(&r.pr, path, msg, sizeof msg) == 0;
        if (r.has_probe && r.pr.has_ckpt && has_ck &&
            (r.pr.ckpt.frames != id.frames || r.pr.ckpt.crc != id.crc)) { // an older checkpoint's
            fprintf(stderr, "compare: %s: probe.csv measured the checkpoint at %.0f frames (CRC %08x), not "
                    "the model.ckpt there now (%.0f frames, CRC %08x): left out (compare probes it again)\n",
                    de->d_name, r.pr.ckpt.frames, (unsigned)r.pr.ckpt.crc, id.frames, (unsigned)id.crc);
            r.has_probe = 0;
        }
        int a = -1;
        for (int i = 0; i < narms && a < 0; i++)
            if (!strcmp(arms[i].name, arm)) a = i;
        if (a < 0) {
            if (narms == acap) {
                int ncap = acap ? 2 * acap : 16;
                AggArm *q = realloc(arms, sizeof(AggArm) * (size_t)ncap);
                if (!q) { runlog_free(&r.log); snprintf(err, errlen, "out of memory"); goto done; }
                arms = q, acap = ncap;
            }
            a = narms++;
            snprintf(arms[a].name, sizeof arms[a].name, "%s", arm);
            arms[a].weight = r.weight, arms[a].k = r.k;
        }
        r.arm = a;
        if (nruns == cap) {
            AggRun *q = realloc(runs, sizeof(AggRun) * (size_t)cap * 2);
            if (!q) { runlog_free(&r.log); snprintf(err, errlen, "out of memory"); goto done; }
            runs = q, cap *= 2;
        }
        runs[nruns++] = r;
    }
    if (nleft)
        fprintf(stderr, "compare: left out %d unfinished run%s (--include-unfinished counts them): %s\n", nleft,
                nleft == 1 ? "" : "s", left);
    if (nruns == 0) {
        snprintf(err, errlen, "%s: no %sruns with a log.csv (names <task>-<arm>-s<seed>)", runsdir,
                 nleft ? "finished " : "");
        goto done;
    }
    agg_test_wait();
    // arms ordered by (weight, K), the baseline first: --baseline, else nocpc,
    // else the first arm of weight 0
    order = malloc(sizeof(int) * (size_t)narms);
    sorted = malloc(sizeof(AggArm) * (size_t)narms);
    names = malloc((size_t)narms * (sizeof arms[0].name + 2) + 1);
    if (!order || !sorted || !names) { snprintf(err, errlen, "out of memory"); goto done; }
    memcpy(sorted, arms, sizeof(AggArm) * (size_t)narms);
    qsort(sorted, (size_t)narms, sizeof(AggArm), cmp_aggarm);
    if (o->baseline[0]) {
        int b = -1;
        for (int a = 0; a < narms && b < 0; a++)
            if (!strcmp(sorted[a].name, o->baseline)) b = a;
        if (b < 0) {
            size_t ln = 0, nn = (size_t)narms * (sizeof arms[0].name + 2) + 1;
            names[0] = 0;
            for (int a = 0; a < narms && ln < nn; a++)
                ln += (size_t)snprintf(names + ln, nn - ln, "%s%s", a ? ", " : "", sorted[a].name);
            if (base_left)
                snprintf(err, errlen, "--baseline %s: no finished run of that arm in %s (%d unfinished, left "
                         "out: --include-unfinished counts them)", o->baseline, runsdir, base_left);
            else
                snprintf(err, errlen, "--baseline %s: no run of that arm in %s (its arms: %s)", o->baseline,
                         runsdir, names);
            goto done;
        }
        AggArm keep = sorted[b];
        memmove(sorted + 1, sorted, sizeof(AggArm) * (size_t)b);
        sorted[0] = keep;
    }
    for (int i = 0; i < narms; i++)
        for (int j = 0; j < narms; j++)
            if (!strcmp(arms[i].name, sorted[j].name)) order[i] = j;
    for (int i = 0; i < nruns; i++) runs[i].arm = order[runs[i].arm];
    memcpy(arms, sorted, sizeof(AggArm) * (size_t)narms);
    qsort(runs, (size_t)nruns, sizeof(AggRun), cmp_aggrun);
    int base = o->baseline[0] ? 0 : -1;
    for (int a = 0; a < narms && base < 0; a++)
        if (arms[a].weight == 0) base = a;

    char path[1300];
    if (agg_beat(lk, err, errlen) < 0) goto done;
    // per-run metrics.csv and results.csv
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) { snprintf(err, errlen, "out of memory"); goto done; }
    results_header(f);
    for (int i = 0; i < nruns; i++) {
        results_row(f, &runs[i], arms);
        char *t1 = NULL;
        size_t l1 = 0;
        FILE *f1 = open_memstream(&t1, &l1);
        if (!f1) continue;
        results_header(f1);
        results_row(f1, &runs[i], arms);
        fclose(f1);
        snprintf(path, sizeof path, "%s/%s/metrics.csv", runsdir, runs[i].name);
        write_text(path, t1, l1);
        free(t1);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/results.csv", out);
    int bad = write_text(path, text, len) < 0;
    free(text);
    if (bad) { snprintf(err, errlen, "%s: write failed", path); goto done; }
    // curves
    snprintf(path, sizeof path, "%s/results", out);
    if (file_mkdir_p(path) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    int curve_R = resamples < 2000 ? resamples : 2000; // per point: plenty for a band
    for (int t = 0; t < ENV_NTASKS; t++)
        for (int a = 0; a < narms; a++) {
            if (agg_beat(lk, err, errlen) < 0) goto done;
            if (write_curve(out, runs, nruns, t, a, arms, curve_R, o->smooth) < 0) {
                snprintf(err, errlen, "writing the curves of %s failed", ENV_TASK_NAMES[t]);
                goto done;
            }
        }
    // summary.md
    if (agg_beat(lk, err, errlen) < 0) goto done;
    text = NULL, len = 0;
    f = open_memstream(&text, &len);
    if (!f) { snprintf(err, errlen, "out of memory"); goto done; }
    write_summary(f, out, runs, nruns, arms, narms, base, resamples, o->smooth, nleft ? left : NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/summary.md", out);
    bad = write_text(path, text, len) < 0;
    free(text);
    if (bad) { snprintf(err, errlen, "%s: write failed", path); goto done; }
    fprintf(stderr, "compare: %d runs aggregated into %s/results.csv and %s/summary.md\n", nruns, out, out);
    if (o->plot) run_plot(out);
    rc = 0;
done:
    closedir(d);
    for (int i = 0; i < nruns; i++) runlog_free(&runs[i].log);
    free(runs), free(arms), free(sorted), free(order), free(names);
    return rc;
}
