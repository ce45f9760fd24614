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

#include "agent/ckpt.h"
#include "agent/config.h"
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
    fprintf(f, ",eval_final,eval_best,eval_last,collapsed,memory_use,wait_later,wait_later_wiped,recheck_final,"
               "recheck_best\n");
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
    if (r->has_mem) fprintf(f, ",%.6g,%.6g,%.6g", r->mem_use, r->wait_later, r->wait_later_wiped);
    else fprintf(f, ",nan,nan,nan");
    if (r->has_recheck) fprintf(f, ",%.6g,%.6g\n", r->recheck_final, r->recheck_best);
    else fprintf(f, ",nan,nan\n");
}

// memory.csv, recheck.csv: a header line and one row; the values of the
// columns named in cols (NAN where absent) into vals, taken only when the row
// names the checkpoint id (frames, CRC-32) of the run's model.ckpt now, or
// when there is no model.ckpt (an experiment directory kept without its
// checkpoints, as results/ holds them; probe.csv is taken likewise):
// 0, or -1 (no such file, another checkpoint's).
static int read_ckpt_row(const char *path, const ProbeCkptId *id, const char *const *cols, double *vals, int n) {
    for (int i = 0; i < n; i++) vals[i] = NAN;
    FILE *f = file_open_regular(path, NULL);
    if (!f) return -1;
    char head[1024], row[1024];
    const int ok = fgets(head, sizeof head, f) && fgets(row, sizeof row, f);
    fclose(f);
    if (!ok) return -1;
    double frames = NAN;
    unsigned crc = 0;
    int have_crc = 0;
    char *hs, *rs;
    char *h = strtok_r(head, ",\r\n", &hs), *v = strtok_r(row, ",\r\n", &rs);
    for (; h && v; h = strtok_r(NULL, ",\r\n", &hs), v = strtok_r(NULL, ",\r\n", &rs)) {
        for (int i = 0; i < n; i++)
            if (!strcmp(h, cols[i])) vals[i] = strtod(v, NULL);
        if (!strcmp(h, "ckpt_frames")) frames = strtod(v, NULL);
        else if (!strcmp(h, "ckpt_crc32")) have_crc = sscanf(v, "%x", &crc) == 1;
    }
    if (!id) return 0; // no checkpoint to tie it to
    return have_crc && frames == id->frames && crc == id->crc ? 0 : -1;
}

static void read_memory(AggRun *r, const char *path, const ProbeCkptId *id) {
    static const char *const cols[] = {"memory_use", "wait_later", "wait_later_wiped"};
    double v[3];
    r->has_mem = read_ckpt_row(path, id, cols, v, 3) == 0 && isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]);
    r->mem_use = v[0], r->wait_later = v[1], r->wait_later_wiped = v[2];
}

// recheck.csv (compare's probe step): model.ckpt and best.ckpt on the same
// fresh episodes. When there, it decides the collapse: the final checkpoint
// returns less than half of the best one, by more than chance (the gap larger
// than the half-width of its 95% CI, sqrt(ci_final^2 + ci_best^2), so a run
// that never learned and one lucky episode of best.ckpt is no collapse).
// read_eval's rule is the fallback for runs without it.
static void read_recheck(AggRun *r, const char *path, const ProbeCkptId *id) {
    static const char *const cols[] = {"return_final", "return_best", "return_final_ci95", "return_best_ci95"};
    double v[4];
    r->has_recheck = read_ckpt_row(path, id, cols, v, 4) == 0 && isfinite(v[0]) && isfinite(v[1]) &&
                     isfinite(v[2]) && isfinite(v[3]);
    if (!r->has_recheck) return;
    r->recheck_final = v[0], r->recheck_best = v[1];
    const double gap = v[1] - v[0], noise = sqrt(v[2] * v[2] + v[3] * v[3]);
    r->collapsed = v[1] > 0 && v[0] < 0.5 * v[1] && gap > noise;
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

// DIR/runs opened (its path in runsdir), or NULL with a message
static DIR *open_runs(const CompareOpts *o, char *runsdir, size_t n, char *err, size_t errlen) {
    snprintf(runsdir, n, "%s/runs", o->out);
    DIR *d = opendir(runsdir);
    if (!d) snprintf(err, errlen, "%s: cannot open: %s", runsdir, strerror(errno));
    return d;
}

int compare_aggregate(const CompareOpts *o, char *err, size_t errlen) {
    char runsdir[1100];
    DIR *d = open_runs(o, runsdir, sizeof runsdir, err, errlen);
    if (!d) return -1;
    closedir(d);
    RunLock lk;
    if (agg_lock(o, &lk, err, errlen) < 0) return -1;
    int rc = aggregate_locked(o, &lk, err, errlen);
    runlock_release(&lk);
    return rc;
}
// ----------------------------------------------------------------------------
// Reading the runs: every OUT/runs/<task>-<arm>-s<seed> with a log.csv, its
// arm found or added; the unfinished ones left out and listed.

typedef struct {
    AggRun *runs;
    int nruns, cap;
    AggArm *arms; // in the order first seen
    int narms, acap;
    char left[2048]; // the unfinished runs left out, as much of the list as fits
    size_t lleft;
    int nleft, base_left; // how many; how many of them of --baseline's arm
} AggSet;

static void left_out(AggSet *s, const char *name, double frames, double ck_frames, double budget) {
    char *p = s->left + s->lleft;
    const size_t room = sizeof s->left - s->lleft;
    const char *sep = s->nleft ? ", " : "";
    if (s->lleft < sizeof s->left - 1 && frames < budget)
        s->lleft += (size_t)snprintf(p, room, "%s%s (%.0f of %.0f frames)", sep, name, frames, budget);
    else if (s->lleft < sizeof s->left - 1 && ck_frames < 0)
        s->lleft += (size_t)snprintf(p, room, "%s%s (its model.ckpt does not read)", sep, name);
    else if (s->lleft < sizeof s->left - 1)
        s->lleft += (size_t)snprintf(p, room, "%s%s (its checkpoint at %.0f of %.0f frames)", sep, name,
                                     ck_frames, budget);
    if (s->lleft > sizeof s->left - 1) s->lleft = sizeof s->left - 1;
    s->nleft++;
}

// probe.csv, when there and of the checkpoint id there now (has_ck).
static void read_probe(AggRun *r, const char *path, int has_ck, const ProbeCkptId *id) {
    char msg[600];
    r->has_probe = file_exists(path) && probe_read_csv(&r->pr, path, msg, sizeof msg) == 0;
    if (r->has_probe && r->pr.has_ckpt && has_ck &&
        (r->pr.ckpt.frames != id->frames || r->pr.ckpt.crc != id->crc)) { // an older checkpoint's
        fprintf(stderr, "compare: %s: probe.csv measured the checkpoint at %.0f frames (CRC %08x), not "
                "the model.ckpt there now (%.0f frames, CRC %08x): left out (compare probes it again)\n",
                r->name, r->pr.ckpt.frames, (unsigned)r->pr.ckpt.crc, id->frames, (unsigned)id->crc);
        r->has_probe = 0;
    }
}

// The run in runsdir/name into r and its arm's name into arm: 1, or 0 when
// it is no run (a stray name, no or an empty log.csv, one that does not
// read) or an unfinished one (listed in s).
static int read_run(const CompareOpts *o, const char *runsdir, const char *name, AggSet *s, AggRun *r,
                    char *arm, size_t armlen) {
    memset(r, 0, sizeof *r);
    char path[1400], msg[600];
    if (parse_run_name(name, &r->task, arm, armlen, &r->seed) < 0) return 0;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s/log.csv", runsdir, name);
    if (!file_exists(path)) {
        fprintf(stderr, "compare: skipping %s: it has no log.csv (not started, or its log was removed)\n", name);
        return 0;
    }
    if (runlog_read(&r->log, path, msg, sizeof msg) < 0) {
        fprintf(stderr, "compare: skipping %s: %s\n", name, msg);
        return 0;
    }
    if (r->log.n == 0) {
        fprintf(stderr, "compare: skipping %s: its log.csv has no complete row\n", name);
        runlog_free(&r->log);
        return 0;
    }
    Config c;
    config_defaults(&c);
    snprintf(path, sizeof path, "%s/%s/config.txt", runsdir, name);
    if (config_load(&c, path, msg, sizeof msg) < 0) {
        // no config.txt: the settings stored in model.ckpt, else what the log tells
        char ckp[1400];
        snprintf(ckp, sizeof ckp, "%s/%s/model.ckpt", runsdir, name);
        Ckpt ck;
        char ckmsg[600];
        if (file_exists(ckp) && ckpt_read(&ck, ckp, ckmsg, sizeof ckmsg) == 0) {
            c = ck.cfg;
            ckpt_free(&ck);
            fprintf(stderr, "compare: %s: %s; its settings taken from model.ckpt\n", name, msg);
        } else if (!o->include_unfinished) { // its budget unknown: whether it finished is too
            fprintf(stderr, "compare: skipping %s: %s, and no readable model.ckpt to take its settings from "
                    "(--include-unfinished counts it, its arm told by log.csv)\n", name, msg);
            runlog_free(&r->log);
            return 0;
        } else {
            c.cpc_weight = r->log.K > 0 ? 1.0f : 0.0f; // tell the arms apart by the log
            c.cpc_k = r->log.K;
            c.frames = r->log.frames[r->log.n - 1];
            fprintf(stderr, "compare: %s: %s; no readable model.ckpt either: counted (--include-unfinished), its "
                    "arm told by log.csv\n", name, msg);
        }
    }
    r->weight = c.cpc_weight, r->k = c.cpc_weight > 0 ? c.cpc_k : 0, r->envs = c.envs;
    r->frames = r->log.frames[r->log.n - 1];
    r->budget = c.frames;
    // its checkpoint, when there: it must have reached the frames too (a
    // last checkpoint never written, e.g. on a full disk, leaves the run
    // to be resumed), and a probe.csv must have measured it
    ProbeCkptId id = {-1, 0};
    snprintf(path, sizeof path, "%s/%s/model.ckpt", runsdir, name);
    const int has_ck = file_exists(path);
    if (has_ck && probe_ckpt_id(path, &id) < 0) id.frames = -1;
    const int ck_behind = has_ck && id.frames < c.frames;
    if ((r->frames < c.frames || ck_behind) && !o->include_unfinished) { // still training, failed or killed
        left_out(s, name, r->frames, id.frames, c.frames);
        s->base_left += o->baseline[0] && !strcmp(arm, o->baseline);
        runlog_free(&r->log);
        return 0;
    }
    r->final = stats_final_return(r->log.frames, r->log.ret, r->log.n, STATS_FINAL_FRAC);
    r->auc = stats_auc(r->log.frames, r->log.ret, r->log.n);
    r->success = stats_final_return(r->log.frames, r->log.success, r->log.n, STATS_FINAL_FRAC);
    snprintf(path, sizeof path, "%s/%s/eval.csv", runsdir, name);
    read_eval(r, path);
    snprintf(path, sizeof path, "%s/%s/memory.csv", runsdir, name);
    read_memory(r, path, has_ck ? &id : NULL);
    snprintf(path, sizeof path, "%s/%s/recheck.csv", runsdir, name);
    read_recheck(r, path, has_ck ? &id : NULL);
    snprintf(path, sizeof path, "%s/%s/probe.csv", runsdir, name);
    read_probe(r, path, has_ck, &id);
    return 1;
}

// r into s, its arm (by name) found or added: 0, or -1 out of memory.
static int add_run(AggSet *s, AggRun *r, const char *arm) {
    int a = -1;
    for (int i = 0; i < s->narms && a < 0; i++)
        if (!strcmp(s->arms[i].name, arm)) a = i;
    if (a < 0) {
        if (s->narms == s->acap) {
            int ncap = s->acap ? 2 * s->acap : 16;
            AggArm *q = realloc(s->arms, sizeof(AggArm) * (size_t)ncap);
            if (!q) return -1;
            s->arms = q, s->acap = ncap;
        }
        a = s->narms++;
        snprintf(s->arms[a].name, sizeof s->arms[a].name, "%s", arm);
        s->arms[a].weight = r->weight, s->arms[a].k = r->k;
    }
    r->arm = a;
    if (s->nruns == s->cap) {
        AggRun *q = realloc(s->runs, sizeof(AggRun) * (size_t)s->cap * 2);
        if (!q) return -1;
        s->runs = q, s->cap *= 2;
    }
    s->runs[s->nruns++] = *r;
    return 0;
}

static int read_runs(const CompareOpts *o, const char *runsdir, DIR *d, AggSet *s, char *err, size_t errlen) {
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        AggRun r;
        char arm[48];
        if (!read_run(o, runsdir, de->d_name, s, &r, arm, sizeof arm)) continue;
        if (add_run(s, &r, arm) < 0) {
            runlog_free(&r.log);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

// The runs of OUT/results.csv as it is (the last aggregation's) that are
// not among s's, named on stderr: a run whose directory, log.csv or log rows
// went away (or that is unfinished now) never leaves the aggregate silently.
static void say_vanished(const char *out, const AggSet *s) {
    char path[1300], line[8192], list[2048];
    snprintf(path, sizeof path, "%s/results.csv", out);
    FILE *f = file_open_regular(path, NULL);
    if (!f) return;
    int n = 0;
    size_t len = 0;
    list[0] = 0;
    int start = 1; // at the start of a row (a row longer than line comes in pieces)
    for (int row = 0; fgets(line, sizeof line, f); row += start) {
        const int first = start;
        start = strchr(line, '\n') != NULL;
        char task[64], arm[64], name[200];
        unsigned long long seed;
        if (!first || row == 0 || sscanf(line, "%63[^,],%63[^,],%llu,", task, arm, &seed) != 3) continue;
        snprintf(name, sizeof name, "%s-%s-s%llu", task, arm, seed);
        int found = 0;
        for (int i = 0; i < s->nruns && !found; i++) found = !strcmp(s->runs[i].name, name);
        if (found) continue;
        if (len < sizeof list - 1)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", n ? ", " : "", name);
        n++;
    }
    fclose(f);
    if (len > sizeof list - 1) len = sizeof list - 1;
    if (n)
        fprintf(stderr, "compare: %d run%s of the last %s %s not in this aggregate (run directory, log.csv or "
                "its rows gone, or unfinished now): %s\n", n, n == 1 ? "" : "s", path, n == 1 ? "is" : "are", list);
}

// ----------------------------------------------------------------------------
// The order of the tables: arms by (weight, K), the baseline first
// (--baseline, else nocpc, else the first arm of weight 0); runs by (task,
// arm, seed).

// --baseline names no arm with a finished run: the message.
static void baseline_missing(const CompareOpts *o, const char *runsdir, const AggSet *s, const AggArm *sorted,
                             char *err, size_t errlen) {
    if (s->base_left) {
        snprintf(err, errlen, "--baseline %s: no finished run of that arm in %s (%d unfinished, left "
                 "out: --include-unfinished counts them)", o->baseline, runsdir, s->base_left);
        return;
    }
    const size_t nn = (size_t)s->narms * (sizeof s->arms[0].name + 2) + 1;
    char *names = malloc(nn);
    if (!names) { snprintf(err, errlen, "out of memory"); return; }
    size_t ln = 0;
    names[0] = 0;
    for (int a = 0; a < s->narms && ln < nn; a++)
        ln += (size_t)snprintf(names + ln, nn - ln, "%s%s", a ? ", " : "", sorted[a].name);
    snprintf(err, errlen, "--baseline %s: no run of that arm in %s (its arms: %s)", o->baseline, runsdir, names);
    free(names);
}

// s's arms and runs put in order; *base := the baseline arm (-1: none).
// 0, or -1 with a message.
static int order_arms(const CompareOpts *o, const char *runsdir, AggSet *s, int *base, char *err,
                      size_t errlen) {
    const int narms = s->narms;
    int *order = malloc(sizeof(int) * (size_t)narms);
    AggArm *sorted = malloc(sizeof(AggArm) * (size_t)narms);
    if (!order || !sorted) {
        free(order), free(sorted);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(sorted, s->arms, sizeof(AggArm) * (size_t)narms);
    qsort(sorted, (size_t)narms, sizeof(AggArm), cmp_aggarm);
    if (o->baseline[0]) {
        int b = -1;
        for (int a = 0; a < narms && b < 0; a++)
            if (!strcmp(sorted[a].name, o->baseline)) b = a;
        if (b < 0) {
            baseline_missing(o, runsdir, s, sorted, err, errlen);
            free(order), free(sorted);
            return -1;
        }
        AggArm keep = sorted[b];
        memmove(sorted + 1, sorted, sizeof(AggArm) * (size_t)b);
        sorted[0] = keep;
    }
    for (int i = 0; i < narms; i++)
        for (int j = 0; j < narms; j++)
            if (!strcmp(s->arms[i].name, sorted[j].name)) order[i] = j;
    for (int i = 0; i < s->nruns; i++) s->runs[i].arm = order[s->runs[i].arm];
    memcpy(s->arms, sorted, sizeof(AggArm) * (size_t)narms);
    qsort(s->runs, (size_t)s->nruns, sizeof(AggRun), cmp_aggrun);
    *base = o->baseline[0] ? 0 : -1;
    for (int a = 0; a < narms && *base < 0; a++)
        if (s->arms[a].weight == 0) *base = a;
    free(order), free(sorted);
    return 0;
}

// ----------------------------------------------------------------------------
// Writing: each run's metrics.csv and results.csv, the curves, summary.md.

static int write_results(const char *out, const char *runsdir, const AggSet *s, char *err, size_t errlen) {
    char path[1300];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) { snprintf(err, errlen, "out of memory"); return -1; }
    results_header(f);
    for (int i = 0; i < s->nruns; i++) {
        results_row(f, &s->runs[i], s->arms);
        char *t1 = NULL;
        size_t l1 = 0;
        FILE *f1 = open_memstream(&t1, &l1);
        if (!f1) continue;
        results_header(f1);
        results_row(f1, &s->runs[i], s->arms);
        fclose(f1);
        snprintf(path, sizeof path, "%s/%s/metrics.csv", runsdir, s->runs[i].name);
        agg_write_text(path, t1, l1); // said when it fails; results.csv has the row
        free(t1);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/results.csv", out);
    int bad = agg_write_text(path, text, len) < 0;
    free(text);
    if (bad) { snprintf(err, errlen, "%s: write failed", path); return -1; }
    return 0;
}

static int write_curves(const CompareOpts *o, RunLock *lk, const AggSet *s, char *err, size_t errlen) {
    char path[1300];
    snprintf(path, sizeof path, "%s/results", o->out);
    if (file_mkdir_p(path) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int curve_R = o->bootstrap < 2000 ? o->bootstrap : 2000; // per point: plenty for a band
    for (int t = 0; t < ENV_NTASKS; t++)
        for (int a = 0; a < s->narms; a++) {
            if (agg_beat(lk, err, errlen) < 0) return -1;
            if (summary_curve(o->out, s->runs, s->nruns, t, a, s->arms, curve_R, o->smooth) < 0) {
                snprintf(err, errlen, "writing the curves of %s failed", ENV_TASK_NAMES[t]);
                return -1;
            }
        }
    return 0;
}

static int write_summary_md(const CompareOpts *o, const AggSet *s, int base, char *err, size_t errlen) {
    char path[1300];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) { snprintf(err, errlen, "out of memory"); return -1; }
    summary_write(f, o->out, s->runs, s->nruns, s->arms, s->narms, base, o->bootstrap, o->smooth,
                  s->nleft ? s->left : NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/summary.md", o->out);
    int bad = agg_write_text(path, text, len) < 0;
    free(text);
    if (bad) { snprintf(err, errlen, "%s: write failed", path); return -1; }
    return 0;
}

// The whole step under the lock: read, order, write (a beat of the lock
// before each file or group of files).
static int aggregate_locked(const CompareOpts *o, RunLock *lk, char *err, size_t errlen) {
    char runsdir[1100];
    DIR *d = open_runs(o, runsdir, sizeof runsdir, err, errlen);
    if (!d) return -1;
    AggSet s;
    memset(&s, 0, sizeof s);
    int rc = -1, base = -1;
    s.cap = 16;
    s.runs = calloc((size_t)s.cap, sizeof(AggRun));
    if (!s.runs) { closedir(d); snprintf(err, errlen, "out of memory"); return -1; }
    const int read_ok = read_runs(o, runsdir, d, &s, err, errlen) == 0;
    closedir(d);
    if (!read_ok) goto done;
    if (s.nleft)
        fprintf(stderr, "compare: left out %d unfinished run%s (--include-unfinished counts them): %s\n", s.nleft,
                s.nleft == 1 ? "" : "s", s.left);
    say_vanished(o->out, &s);
    if (s.nruns == 0) {
        snprintf(err, errlen, "%s: no %sruns with a log.csv (names <task>-<arm>-s<seed>)", runsdir,
                 s.nleft ? "finished " : "");
        goto done;
    }
    agg_test_wait();
    if (order_arms(o, runsdir, &s, &base, err, errlen) < 0) goto done;
    if (agg_beat(lk, err, errlen) < 0 || write_results(o->out, runsdir, &s, err, errlen) < 0) goto done;
    if (write_curves(o, lk, &s, err, errlen) < 0) goto done;
    if (agg_beat(lk, err, errlen) < 0 || write_summary_md(o, &s, base, err, errlen) < 0) goto done;
    fprintf(stderr, "compare: %d runs aggregated into %s/results.csv and %s/summary.md\n", s.nruns, o->out,
            o->out);
    if (o->plot) summary_plot(o->out);
    rc = 0;
done:
    for (int i = 0; i < s.nruns; i++) runlog_free(&s.runs[i].log);
    free(s.runs), free(s.arms);
    return rc;
}
