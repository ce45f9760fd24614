// aggregate.c — compare's aggregation (see aggregate.h).
#include "lab/aggregate.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/progress.h"
#include "base/runlock.h"
#include "lab/aggrun.h"
#include "lab/probe.h"
#include "lab/stats.h"

int agg_write_text(const char *path, const char *text, size_t len) {
    char err[512];
    if (file_write_atomic(path, text, len, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl compare: %s\n", err);
        return -1;
    }
    return 0;
}

// Aggregation

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

// ----------------------------------------------------------------------------
// Held-out evaluation (eval.csv): a run's final evaluation is the mean return of
// its last EVAL_LAST evaluations (one evaluation is a lottery over where
// training stopped); it collapsed when its last evaluation is below half of
// its best one (best > 0).

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
        agg_write_text(path, t1, l1);
        free(t1);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/results.csv", out);
    int bad = agg_write_text(path, text, len) < 0;
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
            if (summary_curve(out, runs, nruns, t, a, arms, curve_R, o->smooth) < 0) {
                snprintf(err, errlen, "writing the curves of %s failed", ENV_TASK_NAMES[t]);
                goto done;
            }
        }
    // summary.md
    if (agg_beat(lk, err, errlen) < 0) goto done;
    text = NULL, len = 0;
    f = open_memstream(&text, &len);
    if (!f) { snprintf(err, errlen, "out of memory"); goto done; }
    summary_write(f, out, runs, nruns, arms, narms, base, resamples, o->smooth, nleft ? left : NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/summary.md", out);
    bad = agg_write_text(path, text, len) < 0;
    free(text);
    if (bad) { snprintf(err, errlen, "%s: write failed", path); goto done; }
    fprintf(stderr, "compare: %d runs aggregated into %s/results.csv and %s/summary.md\n", nruns, out, out);
    if (o->plot) summary_plot(out);
    rc = 0;
done:
    closedir(d);
    for (int i = 0; i < nruns; i++) runlog_free(&runs[i].log);
    free(runs), free(arms), free(sorted), free(order), free(names);
    return rc;
}
