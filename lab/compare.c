// compare.c — `cpcrl compare` and `cpcrl probe` (see compare.h).
//
// compare plans one run per task x arm x seed, named <task>-<arm>-s<seed>,
// in OUT/runs/. Arms: "nocpc" (--cpc-weight 0) and "cpc" (the default CPC
// weight), or, with --cpc-weights / --cpc-ks, one arm per weight x K
// ("w0.5", "k30", "w0.5-k30"); every other setting is the same in every arm,
// and seed s means the same env seeds and the same initial encoder/LSTM/head
// weights in every arm. Runs are child processes of this very binary
// (/proc/self/exe train ...), at most --jobs at once with --threads OpenBLAS
// threads each, their output in OUT/runs/NAME/train.out. State lives only in
// the run directories, so re-running the same command carries on: a run whose
// log.csv reaches --frames is finished and skipped, one with a checkpoint is
// resumed (--resume), one with neither starts over. After training, each
// final checkpoint is probed (cpcrl probe, OUT/runs/NAME/probe.csv), then
// everything is aggregated (stats.h) and plotted (scripts/plot_compare.sh).
#include "lab/compare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/trainer.h"
#include "agent/ckpt.h"
#include "base/file.h"
#include "agent/config.h"
#include "lab/probe.h"
#include "base/progress.h"
#include "base/stop.h"
#include "lab/stats.h"
#include "env/env.h"

#define ALL_TASKS "goal,watermaze,keys_doors,seekavoid,tmaze"

static int usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cpcrl %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nsee 'cpcrl help %s'\n", cmd);
    va_end(ap);
    return 2;
}

// ----------------------------------------------------------------------------
// Small helpers

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int write_text(const char *path, const char *text, size_t len) {
    char err[512];
    if (file_write_atomic(path, text, len, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl compare: %s\n", err);
        return -1;
    }
    return 0;
}

// %g of a weight without trailing noise (0.5, not 0.5000000001)
static void fmt_num(char *out, size_t n, double v) { snprintf(out, n, "%g", v); }

// ----------------------------------------------------------------------------
// The plan

enum { RUN_TODO, RUN_TRAINING, RUN_TRAINED, RUN_PROBING, RUN_DONE, RUN_FAILED };

typedef struct {
    char name[48];
    double weight;
    int k;
} Arm;

typedef struct {
    int task, arm;
    uint64_t seed;
    char name[128];
    char dir[1024];
    int state, resume, probe_failed;
    pid_t pid;
    double frames0, frames; // at the start of this session, latest seen
} Run;

#define MAX_ARMS 64
#define MAX_LIST 32

static int parse_list(const char *cmd, const char *flag, const char *s, double *out, int maxn,
                      int integer, double lo, double hi) {
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    size_t len = strlen(buf);
    if (len == 0 || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
        return -usage(cmd, "--%s: expected a comma-separated list of %s in %g..%g, got '%s' (an empty item)", flag,
                      integer ? "integers" : "numbers", lo, hi, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        errno = 0;
        double v = strtod(tok, &end);
        if (!*tok || *end || errno || !isfinite(v) || (integer && v != floor(v)) || v < lo || v > hi)
            return -usage(cmd, "--%s: expected a comma-separated list of %s in %g..%g, got '%s'",
                          flag, integer ? "integers" : "numbers", lo, hi, tok);
        if (n >= maxn) return -usage(cmd, "--%s: at most %d values", flag, maxn);
        out[n++] = v;
    }
    if (n == 0) return -usage(cmd, "--%s: empty list", flag);
    return n;
}

// Arms from the options: nocpc first, then every weight (> 0) x K.
static int plan_arms(const CompareOpts *o, int default_k, Arm *arms, int *narms) {
    double w[MAX_LIST], k[MAX_LIST];
    int nw = 1, nk = 1;
    w[0] = o->cpc_weight, k[0] = default_k;
    int by_w = o->cpc_weights[0] != 0, by_k = o->cpc_ks[0] != 0;
    if (by_w && (nw = parse_list("compare", "cpc-weights", o->cpc_weights, w, MAX_LIST, 0, 0, 1e6)) < 0)
        return -nw;
    if (by_k && (nk = parse_list("compare", "cpc-ks", o->cpc_ks, k, MAX_LIST, 1, 1, A2C_MAX_K)) < 0)
        return -nk;
    int n = 0;
    snprintf(arms[n].name, sizeof arms[n].name, "nocpc");
    arms[n].weight = 0, arms[n].k = default_k, n++;
    for (int i = 0; i < nw; i++) {
        if (w[i] <= 0) continue; // weight 0 is the nocpc arm
        for (int j = 0; j < nk; j++) {
            if (n >= MAX_ARMS) return usage("compare", "more than %d arms", MAX_ARMS);
            Arm *a = &arms[n];
            char ws[32];
            fmt_num(ws, sizeof ws, w[i]);
            if (by_w && by_k) snprintf(a->name, sizeof a->name, "w%s-k%d", ws, (int)k[j]);
            else if (by_w) snprintf(a->name, sizeof a->name, "w%s", ws);
            else if (by_k) snprintf(a->name, sizeof a->name, "k%d", (int)k[j]);
            else snprintf(a->name, sizeof a->name, "cpc");
            a->weight = w[i], a->k = (int)k[j];
            int dup = 0;
            for (int q = 0; q < n; q++) dup |= !strcmp(arms[q].name, a->name);
            if (!dup) n++;
        }
    }
    if (n < 2) return usage("compare", "--cpc-weights: no arm with a weight above 0");
    *narms = n;
    return 0;
}

static void arm_config(const Config *base, const Arm *a, int task, uint64_t seed, Config *c) {
    *c = *base;
    c->task = task;
    c->seed = seed;
    c->cpc_weight = (float)a->weight;
    if (a->weight > 0) c->cpc_k = a->k;
}

// The settings a run's config.txt must share with the plan; keys that only
// say how long / how loud a run is may differ.
static int config_differs(const Config *a, const Config *b, char *what, size_t n) {
    static const char *IGNORE[] = {"name", "runs_dir", "frames", "threads", "progress",
                                   "log_every", "ckpt_every"};
    char *ta = NULL, *tb = NULL;
    size_t la = 0, lb = 0;
    FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
    if (!fa || !fb) {
        if (fa) fclose(fa);
        if (fb) fclose(fb);
        free(ta), free(tb);
        return 0;
    }
    config_write(a, fa);
    config_write(b, fb);
    fclose(fa), fclose(fb);
    int differs = 0;
    char *sa = NULL, *sb = NULL;
    char *la_ = strtok_r(ta, "\n", &sa), *lb_ = strtok_r(tb, "\n", &sb);
    for (; la_ && lb_; la_ = strtok_r(NULL, "\n", &sa), lb_ = strtok_r(NULL, "\n", &sb)) {
        int skip = 0;
        for (size_t i = 0; i < sizeof IGNORE / sizeof IGNORE[0]; i++) {
            size_t l = strlen(IGNORE[i]);
            if (!strncmp(la_, IGNORE[i], l) && la_[l] == ' ') skip = 1;
        }
        if (!skip && strcmp(la_, lb_)) {
            snprintf(what, n, "'%s' in the run, '%s' planned", la_, lb_);
            differs = 1;
            break;
        }
    }
    free(ta), free(tb);
    return differs;
}

// What is there already: sets r->state, r->resume, r->frames.
static int scan_run(Run *r, const CompareOpts *o, const Config *planned) {
    char log[1200], ck[1200], pr[1200], cfgp[1200];
    snprintf(log, sizeof log, "%s/log.csv", r->dir);
    snprintf(ck, sizeof ck, "%s/model.ckpt", r->dir);
    snprintf(pr, sizeof pr, "%s/probe.csv", r->dir);
    snprintf(cfgp, sizeof cfgp, "%s/config.txt", r->dir);
    r->resume = 0;
    r->frames = 0;
    if (exists(cfgp) && exists(log)) {
        Config have;
        config_defaults(&have);
        char err[512], what[300];
        if (config_load(&have, cfgp, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl compare: %s\n", err);
            return -1;
        }
        if (config_differs(&have, planned, what, sizeof what)) {
            fprintf(stderr,
                    "cpcrl compare: %s was trained with other settings (%s); use another --out, "
                    "the same flags, or remove the run\n", r->dir, what);
            return -1;
        }
    }
    if (!exists(log)) {
        r->state = RUN_TODO;
        return 0;
    }
    double f = runlog_last_frames(log);
    r->frames = f > 0 ? f : 0;
    if (f >= o->frames) {
        if (o->probe && !exists(pr) && exists(ck)) r->state = RUN_TRAINED;
        else r->state = RUN_DONE;
        return 0;
    }
    r->state = RUN_TODO;
    if (exists(ck)) {
        r->resume = 1;
    } else {
        // killed before its first checkpoint: nothing to resume from
        char stale[1300];
        snprintf(stale, sizeof stale, "%s.stale", log);
        if (!o->dry_run) {
            if (rename(log, stale) < 0) {
                fprintf(stderr, "cpcrl compare: cannot move %s aside: %s\n", log, strerror(errno));
                return -1;
            }
            fprintf(stderr, "cpcrl compare: %s has a log but no checkpoint; starting it again (old log in %s)\n",
                    r->dir, stale);
        }
        r->frames = 0;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Child processes

typedef struct {
    char *argv[160];
    char store[8192];
    size_t used;
    int argc;
} ArgList;

static void args_add(ArgList *a, const char *s) {
    size_t l = strlen(s) + 1;
    if (a->argc >= (int)(sizeof a->argv / sizeof a->argv[0]) - 1 || a->used + l > sizeof a->store)
        return; // the plan's argument lists are far below both limits
    char *p = a->store + a->used;
    memcpy(p, s, l);
    a->used += l;
    a->argv[a->argc++] = p;
    a->argv[a->argc] = NULL;
}

static void args_addf(ArgList *a, const char *fmt, ...) {
    char buf[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    args_add(a, buf);
}

typedef struct {
    CompareOpts o;
    Config base;
    char **pass;  // training flags passed through (the caller's)
    int npass, inject_log_every, threads;
    Arm arms[MAX_ARMS];
    int narms;
    int tasks[ENV_NTASKS], ntasks;
    Run *runs;
    int nruns;
} Plan;

static void train_args(const Plan *pl, const Run *r, ArgList *a) {
    memset(a, 0, sizeof *a);
    args_add(a, "cpcrl");
    args_add(a, "train");
    if (r->resume) {
        args_add(a, "--resume");
        args_add(a, r->dir);
        args_addf(a, "--frames=%.0f", pl->o.frames);
        args_addf(a, "--threads=%d", pl->threads);
        args_add(a, "--progress=1");
        return;
    }
    const Arm *arm = &pl->arms[r->arm];
    args_addf(a, "--runs-dir=%s/runs", pl->o.out);
    args_addf(a, "--name=%s", r->name);
    args_addf(a, "--task=%s", ENV_TASK_NAMES[r->task]);
    args_addf(a, "--seed=%llu", (unsigned long long)r->seed);
    args_addf(a, "--frames=%.0f", pl->o.frames);
    args_addf(a, "--threads=%d", pl->threads);
    args_add(a, "--progress=1");
    if (pl->inject_log_every) args_addf(a, "--log-every=%.0f", fmax(1, floor(pl->o.frames / 100)));
    for (int i = 0; i < pl->npass; i++) args_add(a, pl->pass[i]);
    char ws[32];
    fmt_num(ws, sizeof ws, arm->weight);
    args_addf(a, "--cpc-weight=%s", ws); // last: the arm decides
    if (arm->weight > 0) args_addf(a, "--cpc-k=%d", arm->k);
}

static void probe_args(const Plan *pl, const Run *r, ArgList *a) {
    memset(a, 0, sizeof *a);
    args_add(a, "cpcrl");
    args_add(a, "probe");
    args_add(a, r->dir);
    args_addf(a, "--out=%s/probe.csv", r->dir);
    args_addf(a, "--episodes=%d", pl->o.probe_episodes);
    args_addf(a, "--threads=%d", pl->threads);
}

static void print_args(FILE *f, const ArgList *a) {
    for (int i = 0; i < a->argc; i++) fprintf(f, "%s%s", i ? " " : "", a->argv[i]);
    fprintf(f, "\n");
}

// fork + execv(/proc/self/exe); stdout and stderr appended to OUT/runs/NAME/train.out
static pid_t spawn(const ArgList *a, const char *dir) {
    char out[1200];
    snprintf(out, sizeof out, "%s/train.out", dir);
    FILE *f = fopen(out, "a");
    if (!f) {
        fprintf(stderr, "cpcrl compare: cannot open %s: %s\n", out, strerror(errno));
        return -1;
    }
    fprintf(f, "== ");
    print_args(f, a);
    if (fclose(f) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cpcrl compare: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) { // child: only async-signal-safe calls until exec
        // die with compare (SIGTERM: a trainer saves a checkpoint and exits),
        // so that a killed compare leaves no trainer behind to race a rerun;
        // the signal survives exec, and a parent already gone is caught here
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) _exit(127);
        int fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd < 0 || nul < 0) _exit(127);
        dup2(nul, 0), dup2(fd, 1), dup2(fd, 2);
        close(fd), close(nul);
        execv("/proc/self/exe", a->argv);
        static const char msg[] = "cpcrl compare: execv /proc/self/exe failed\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    return pid;
}

// ----------------------------------------------------------------------------
// Running the plan

static const char *STATE_NAMES[] = {"to train", "training", "to probe", "probing", "done", "failed"};

static void progress(const Plan *pl, double t0, double f0_total, int tty, int force) {
    static double last = 0;
    double t = progress_now();
    if (!force && t - last < (tty ? 1.0 : 30.0)) return;
    last = t;
    int done = 0, running = 0, left = 0, failed = 0;
    double have = 0, total = 0;
    for (int i = 0; i < pl->nruns; i++) {
        const Run *r = &pl->runs[i];
        done += r->state == RUN_DONE;
        failed += r->state == RUN_FAILED;
        running += r->state == RUN_TRAINING || r->state == RUN_PROBING;
        left += r->state == RUN_TODO || r->state == RUN_TRAINED;
        total += pl->o.frames;
        have += r->state == RUN_FAILED ? pl->o.frames : fmin(r->frames, pl->o.frames);
    }
    double el = t - t0, rate = (have - f0_total) / (el > 1e-9 ? el : 1e-9);
    char h[32], tot[32], eta[32], fr[32];
    progress_count(h, sizeof h, have);
    progress_count(tot, sizeof tot, total);
    progress_count(fr, sizeof fr, rate);
    progress_time(eta, sizeof eta, el > 5 && rate > 0 ? (total - have) / rate : NAN);
    fprintf(stderr, "%scompare: runs %d/%d done, %d running, %d left%s | %s/%s frames %3.0f%% | %s frames/s | ETA %s%s",
            tty ? "\r\033[K" : "", done, pl->nruns, running, left, failed ? " (some failed)" : "",
            h, tot, 100.0 * have / total, fr, eta, tty ? "" : "\n");
}

static int run_plan(Plan *pl) {
    const CompareOpts *o = &pl->o;
    StopSaved saved;
    stop_catch(0, &saved);
    int tty = isatty(STDERR_FILENO), signalled = 0, running = 0, nfail = 0, event = 0;
    double t0 = progress_now(), f0 = 0, last_poll = 0;
    for (int i = 0; i < pl->nruns; i++) f0 += fmin(pl->runs[i].frames, o->frames);
    for (;;) {
        if (stop_requested() && !signalled) {
            for (int i = 0; i < pl->nruns; i++)
                if (pl->runs[i].pid > 0) kill(pl->runs[i].pid, SIGTERM);
            signalled = 1;
            fprintf(stderr, "%scompare: stopping; the runs save a checkpoint\n", tty ? "\n" : "");
        }
        // launch: probes of finished runs first, then training in plan order
        for (int pass = 0; pass < 2 && !stop_requested(); pass++)
            for (int i = 0; i < pl->nruns && running < o->jobs; i++) {
                Run *r = &pl->runs[i];
                if (r->state != (pass == 0 ? RUN_TRAINED : RUN_TODO)) continue;
                ArgList a;
                if (pass == 0) probe_args(pl, r, &a);
                else train_args(pl, r, &a);
                if (file_mkdir_p(r->dir) < 0) {
                    fprintf(stderr, "cpcrl compare: cannot create %s: %s\n", r->dir, strerror(errno));
                    r->state = RUN_FAILED, nfail++;
                    continue;
                }
                r->pid = spawn(&a, r->dir);
                if (r->pid < 0) {
                    r->pid = 0, r->state = RUN_FAILED, nfail++;
                    continue;
                }
                r->state = pass == 0 ? RUN_PROBING : RUN_TRAINING;
                running++;
            }
        // the line after the launches, so that it counts the runs just started
        progress(pl, t0, f0, tty, event);
        event = 0;
        // reap
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            Run *r = NULL;
            for (int i = 0; i < pl->nruns && !r; i++)
                if (pl->runs[i].pid == pid) r = &pl->runs[i];
            if (!r) continue;
            running--, event = 1;
            r->pid = 0;
            int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            char log[1200], ck[1200];
            snprintf(log, sizeof log, "%s/log.csv", r->dir);
            snprintf(ck, sizeof ck, "%s/model.ckpt", r->dir);
            if (r->state == RUN_PROBING) {
                r->state = RUN_DONE;
                if (!ok && !stop_requested()) {
                    r->probe_failed = 1;
                    fprintf(stderr, "%scompare: probe of %s failed (see %s/train.out)\n",
                            tty ? "\n" : "", r->name, r->dir);
                }
                if (!ok && stop_requested()) r->state = RUN_TRAINED;
                continue;
            }
            double f = runlog_last_frames(log);
            r->frames = f > 0 ? f : 0;
            if (ok && r->frames >= o->frames) {
                r->state = o->probe && exists(ck) ? RUN_TRAINED : RUN_DONE;
            } else if (stop_requested()) {
                r->state = RUN_TODO, r->resume = exists(ck);
            } else {
                r->state = RUN_FAILED, nfail++;
                fprintf(stderr, "%scompare: %s failed at %.0f frames (%s; see %s/train.out)\n",
                        tty ? "\n" : "", r->name, r->frames,
                        WIFEXITED(status) ? "exit status" : "killed by a signal", r->dir);
            }
        }
        if (running == 0) {
            int left = 0;
            for (int i = 0; i < pl->nruns; i++)
                left += pl->runs[i].state == RUN_TODO || pl->runs[i].state == RUN_TRAINED;
            if (stop_requested() || !left) break;
        }
        double t = progress_now();
        if (t - last_poll > 2.0) { // frames of the running runs, from their log.csv
            last_poll = t;
            for (int i = 0; i < pl->nruns; i++) {
                Run *r = &pl->runs[i];
                if (r->state != RUN_TRAINING) continue;
                char log[1200];
                snprintf(log, sizeof log, "%s/log.csv", r->dir);
                double f = runlog_last_frames(log);
                if (f > r->frames) r->frames = f;
            }
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    progress(pl, t0, f0, tty, 1);
    if (tty) fprintf(stderr, "\n");
    stop_restore(&saved);
    if (stop_requested()) {
        fprintf(stderr, "compare: interrupted; run the same command again to continue\n");
        return 1;
    }
    return nfail ? 1 : 0;
}

// ----------------------------------------------------------------------------
// cmd_compare

static int build_plan(Plan *pl, const CompareOpts *opts, char **pass, int npass) {
    CompareOpts *o = &pl->o;
    memset(pl, 0, sizeof *pl);
    *o = *opts;
    config_defaults(&pl->base);
    pl->pass = pass, pl->npass = npass;
    char *pos[1];
    int rc;
    while (o->out[0] && strlen(o->out) > 1 && o->out[strlen(o->out) - 1] == '/')
        o->out[strlen(o->out) - 1] = 0;
    if (!o->out[0]) return usage("compare", "--out: empty directory name");
    if (o->aggregate_only) return 0;
    // training flags: reject the ones compare sets per run, check the rest
    static const char *OWN[] = {"task", "seed", "name", "runs-dir", "runs_dir", "progress"};
    for (int i = 0; i < pl->npass; i++) {
        const char *a = pl->pass[i];
        if (strncmp(a, "--", 2)) continue;
        for (size_t j = 0; j < sizeof OWN / sizeof OWN[0]; j++) {
            size_t l = strlen(OWN[j]);
            if (!strncmp(a + 2, OWN[j], l) && (a[2 + l] == 0 || a[2 + l] == '='))
                return usage("compare", "--%s is set per run by compare (use --tasks, --seeds, --first-seed, --out)",
                             OWN[j]);
        }
        if (!strncmp(a, "--log-every", 11) || !strncmp(a, "--log_every", 11)) pl->inject_log_every = -1;
    }
    pl->inject_log_every = pl->inject_log_every == 0;
    char err[512];
    if (config_parse_args(&pl->base, NULL, pl->npass, pl->pass, G_TRAIN_ALL, pos, 0, NULL, NULL, err, sizeof err) < 0)
        return usage("compare", "%s", err);
    pl->base.frames = o->frames;
    if (pl->inject_log_every) pl->base.log_every = fmax(1, floor(o->frames / 100));
    // tasks
    if (!strcmp(o->tasks, "all")) snprintf(o->tasks, sizeof o->tasks, "%s", ALL_TASKS);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o->tasks);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int t = env_task_from_name(tok);
        if (t < 0)
            return usage("compare", "--tasks: unknown task '%s' (valid: goal, watermaze, keys_doors, seekavoid, tmaze, all)",
                         tok);
        int dup = 0;
        for (int j = 0; j < pl->ntasks; j++) dup |= pl->tasks[j] == t;
        if (!dup) pl->tasks[pl->ntasks++] = t;
    }
    if (pl->ntasks == 0) return usage("compare", "--tasks: empty list");
    if (o->first_seed > UINT64_MAX - (uint64_t)(o->seeds - 1))
        return usage("compare", "--first-seed %llu with --seeds %d: the seeds would pass 2^64-1 and wrap around",
                     (unsigned long long)o->first_seed, o->seeds);
    if ((rc = plan_arms(o, pl->base.cpc_k, pl->arms, &pl->narms))) return rc;
    // jobs x threads <= cores
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (o->jobs == 0) o->jobs = (int)cores;
    pl->threads = o->threads ? o->threads : (int)(cores / o->jobs > 0 ? cores / o->jobs : 1);
    if (o->jobs > cores)
        return usage("compare", "--jobs %d exceeds the %ld cores (jobs x threads must fit the cores)",
                     o->jobs, cores);
    if ((long)o->jobs * pl->threads > cores)
        return usage("compare", "--jobs %d x --threads %d = %d threads exceeds the %ld cores",
                     o->jobs, pl->threads, o->jobs * pl->threads, cores);
    // every arm's config must be valid for every task
    for (int t = 0; t < pl->ntasks; t++)
        for (int a = 0; a < pl->narms; a++) {
            Config c;
            arm_config(&pl->base, &pl->arms[a], pl->tasks[t], o->first_seed, &c);
            if (config_check(&c, err, sizeof err) < 0)
                return usage("compare", "arm %s, task %s: %s", pl->arms[a].name,
                             ENV_TASK_NAMES[pl->tasks[t]], err);
        }
    // runs: seed outer, task, arm inner (a partial experiment stays balanced)
    pl->nruns = o->seeds * pl->ntasks * pl->narms;
    pl->runs = calloc((size_t)pl->nruns, sizeof(Run));
    if (!pl->runs) { fprintf(stderr, "cpcrl compare: out of memory\n"); return 1; }
    int n = 0;
    for (int s = 0; s < o->seeds; s++)
        for (int t = 0; t < pl->ntasks; t++)
            for (int a = 0; a < pl->narms; a++) {
                Run *r = &pl->runs[n++];
                r->task = pl->tasks[t], r->arm = a, r->seed = o->first_seed + (uint64_t)s;
                Config c;
                arm_config(&pl->base, &pl->arms[a], r->task, r->seed, &c);
                if (snprintf(r->name, sizeof r->name, "%s-%s-s%llu", ENV_TASK_NAMES[r->task],
                             pl->arms[a].name, (unsigned long long)r->seed) >= (int)sizeof c.name)
                    return usage("compare", "run name '%s' longer than %zu characters (shorter arm lists)",
                                 r->name, sizeof c.name - 1);
                memcpy(c.name, r->name, strlen(r->name) + 1);
                snprintf(r->dir, sizeof r->dir, "%s/runs/%s", o->out, r->name);
                if (scan_run(r, o, &c) < 0) return 1;
            }
    return 0;
}

// OUT/command.txt: every distinct command line that worked on OUT (a
// convenience for the summary; failures to write it are ignored).
static void record_command(const char *out, int argc, char **argv) {
    char path[1100], cmd[4096], line[4096];
    size_t n = (size_t)snprintf(cmd, sizeof cmd, "cpcrl compare");
    for (int i = 0; i < argc && n < sizeof cmd; i++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s", argv[i]);
    if (n + 2 >= sizeof cmd) return;
    cmd[n++] = '\n', cmd[n] = 0;
    snprintf(path, sizeof path, "%s/command.txt", out);
    FILE *f = fopen(path, "r");
    if (f) {
        int seen = 0;
        while (!seen && fgets(line, sizeof line, f)) seen = !strcmp(line, cmd);
        fclose(f);
        if (seen) return;
    }
    if (!(f = fopen(path, "a"))) return;
    fputs(cmd, f);
    fclose(f);
}

int cmd_compare(const CompareOpts *opts, char **pass, int npass, int argc, char **argv) {
    Plan pl;
    int rc = build_plan(&pl, opts, pass, npass);
    if (rc) {
        free(pl.runs);
        return rc;
    }
    const CompareOpts *o = &pl.o;
    if (o->aggregate_only) {
        char err[1024];
        if (compare_aggregate(o->out, o->bootstrap, o->smooth, o->plot, o->include_unfinished, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl compare: %s\n", err);
            return 1;
        }
        return 0;
    }
    int counts[6] = {0}, resumed = 0;
    for (int i = 0; i < pl.nruns; i++) counts[pl.runs[i].state]++, resumed += pl.runs[i].resume;
    char fr[32];
    progress_count(fr, sizeof fr, o->frames);
    fprintf(stderr,
            "compare: %d tasks x %d arms x %d seeds = %d runs of %s frames in %s; %d jobs x %d "
            "threads | %d done, %d to probe, %d to train (%d resumed)\n",
            pl.ntasks, pl.narms, o->seeds, pl.nruns, fr, o->out, o->jobs, pl.threads,
            counts[RUN_DONE], counts[RUN_TRAINED], counts[RUN_TODO], resumed);
    if (o->dry_run) {
        for (int i = 0; i < pl.nruns; i++) {
            Run *r = &pl.runs[i];
            ArgList a;
            printf("%-28s %-9s %8.0f frames%s | ", r->name, STATE_NAMES[r->state], r->frames,
                   r->resume ? " (resume)" : "");
            if (r->state == RUN_TODO) train_args(&pl, r, &a), print_args(stdout, &a);
            else if (r->state == RUN_TRAINED) probe_args(&pl, r, &a), print_args(stdout, &a);
            else printf("-\n");
        }
        free(pl.runs);
        return 0;
    }
    if (file_mkdir_p(o->out) < 0) {
        fprintf(stderr, "cpcrl compare: cannot create %s: %s\n", o->out, strerror(errno));
        free(pl.runs);
        return 1;
    }
    record_command(o->out, argc, argv);
    rc = run_plan(&pl);
    int stopped = stop_requested();
    free(pl.runs);
    if (stopped) return rc;
    char err[1024];
    if (compare_aggregate(o->out, o->bootstrap, o->smooth, o->plot, o->include_unfinished, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl compare: %s\n", err);
        return 1;
    }
    return rc;
}

// ----------------------------------------------------------------------------
// Aggregation

typedef struct {
    char name[256];
    int task, arm;
    uint64_t seed;
    double weight;
    int k, envs;
    RunLog log;
    double frames, final, auc, success;
    ProbeResult pr;
    int has_probe;
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

// Values of one metric for (task, arm) over seeds, finite ones only.
static int collect_metric(const AggRun *runs, int nruns, int task, int arm, int which, double *out) {
    int n = 0;
    for (int i = 0; i < nruns; i++) {
        const AggRun *r = &runs[i];
        if (r->task != task || r->arm != arm) continue;
        double v = NAN;
        switch (which) {
        case 0: v = r->final; break;
        case 1: v = r->auc; break;
        case 2: v = r->success; break;
        default: { // 3.. probe: label (which-3)/2, c or z
            int l = (which - 3) / 2, z = (which - 3) % 2;
            if (r->has_probe && r->pr.has[l]) v = z ? r->pr.acc_z[l] : r->pr.acc_c[l];
        }
        }
        if (isfinite(v)) out[n++] = v;
    }
    return n;
}

static void results_header(FILE *f) {
    fprintf(f, "task,arm,seed,cpc_weight,cpc_k,frames,final_return,auc,success");
    for (int l = 0; l < PROBE_NLABELS; l++)
        fprintf(f, ",probe_%s_c,probe_%s_z,probe_%s_chance", PROBE_LABEL_NAMES[l],
                PROBE_LABEL_NAMES[l], PROBE_LABEL_NAMES[l]);
    fprintf(f, "\n");
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
    fprintf(f, "\n");
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
    if (exists("scripts/plot_compare.sh")) {
        snprintf(script, sizeof script, "scripts/plot_compare.sh");
    } else if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(script, sizeof script, "%s/scripts/plot_compare.sh", exe);
        if (!exists(script)) script[0] = 0;
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
        fprintf(f, "## Verdicts (each arm against %s, final return)\n\n", arms[base].name);
        fprintf(f, "| task | arm | seeds | Δ final return [95%% CI] | Δ AUC [95%% CI] | P(arm > %s) | verdict |\n",
                arms[base].name);
        fprintf(f, "|---|---|---|---|---|---|---|\n");
        for (int t = 0; t < ntasks; t++)
            for (int a = 0; a < narms; a++) {
                if (a == base) continue;
                int nx = collect_metric(runs, nruns, tasks[t], a, 0, x);
                int ny = collect_metric(runs, nruns, tasks[t], base, 0, y);
                if (nx == 0) continue;
                double lo = NAN, hi = NAN, alo = NAN, ahi = NAN;
                char d[96], da[96];
                const char *verdict = "—";
                double p = stats_prob_improvement(x, nx, y, ny);
                if (ny > 0) {
                    stats_bootstrap_diff_ci(x, nx, y, ny, resamples, STATS_SEED, &lo, &hi);
                    fmt_ci(d, sizeof d, stats_mean(x, nx) - stats_mean(y, ny), lo, hi);
                    verdict = nx >= 2 && ny >= 2 ? stats_verdict_name(stats_verdict(lo, hi))
                                                 : "— (needs 2+ seeds per arm)";
                } else {
                    snprintf(d, sizeof d, "—");
                }
                nx = collect_metric(runs, nruns, tasks[t], a, 1, x);
                ny = collect_metric(runs, nruns, tasks[t], base, 1, y);
                if (nx > 0 && ny > 0) {
                    stats_bootstrap_diff_ci(x, nx, y, ny, resamples, STATS_SEED, &alo, &ahi);
                    fmt_ci(da, sizeof da, stats_mean(x, nx) - stats_mean(y, ny), alo, ahi);
                } else {
                    snprintf(da, sizeof da, "—");
                }
                fprintf(f, "| %s | %s | %d vs %d | %s | %s | %.2f | %s |\n", ENV_TASK_NAMES[tasks[t]],
                        arms[a].name, nx, ny, d, da, p, verdict);
            }
        fprintf(f, "\n");
    }
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
            int n = collect_metric(runs, nruns, task, a, 0, x);
            double lo = NAN, hi = NAN, m = stats_mean(x, n), iqm = stats_iqm(x, n);
            if (n > 0) stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
            fmt_ci(fin, sizeof fin, m, lo, hi);
            snprintf(pi, sizeof pi, "—");
            if (base >= 0 && a != base) {
                int ny = collect_metric(runs, nruns, task, base, 0, y);
                double p = stats_prob_improvement(x, n, y, ny);
                if (isfinite(p)) snprintf(pi, sizeof pi, "%.2f", p);
            }
            n = collect_metric(runs, nruns, task, a, 1, x);
            lo = hi = NAN;
            if (n > 0) stats_bootstrap_ci(x, n, resamples, STATS_SEED, &lo, &hi);
            fmt_ci(auc, sizeof auc, stats_mean(x, n), lo, hi);
            n = collect_metric(runs, nruns, task, a, 2, x);
            double succ = stats_mean(x, n);
            for (int l = 0; l < PROBE_NLABELS; l++) {
                int nc = collect_metric(runs, nruns, task, a, 3 + 2 * l, x);
                int nz = collect_metric(runs, nruns, task, a, 4 + 2 * l, y);
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
            "otherwise *no significant difference*.\n"
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

int compare_aggregate(const char *out, int resamples, double smooth, int plot, int include_unfinished, char *err,
                      size_t errlen) {
    char runsdir[1100];
    snprintf(runsdir, sizeof runsdir, "%s/runs", out);
    DIR *d = opendir(runsdir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open: %s", runsdir, strerror(errno));
        return -1;
    }
    int cap = 16, nruns = 0, narms = 0, rc = -1, nleft = 0;
    char left[2048] = ""; // unfinished runs left out
    size_t lleft = 0;
    AggRun *runs = calloc((size_t)cap, sizeof(AggRun));
    AggArm arms[MAX_ARMS];
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
        if (!exists(path)) continue;
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
        if (r.frames < c.frames && !include_unfinished) { // still training, failed or killed
            if (lleft < sizeof left - 1)
                lleft += (size_t)snprintf(left + lleft, sizeof left - lleft, "%s%s (%.0f of %.0f frames)",
                                          nleft ? ", " : "", de->d_name, r.frames, c.frames);
            if (lleft > sizeof left - 1) lleft = sizeof left - 1;
            nleft++;
            runlog_free(&r.log);
            continue;
        }
        r.final = stats_final_return(r.log.frames, r.log.ret, r.log.n, STATS_FINAL_FRAC);
        r.auc = stats_auc(r.log.frames, r.log.ret, r.log.n);
        r.success = stats_final_return(r.log.frames, r.log.success, r.log.n, STATS_FINAL_FRAC);
        snprintf(path, sizeof path, "%s/%s/probe.csv", runsdir, de->d_name);
        r.has_probe = exists(path) && probe_read_csv(&r.pr, path, msg, sizeof msg) == 0;
        int a = -1;
        for (int i = 0; i < narms && a < 0; i++)
            if (!strcmp(arms[i].name, arm)) a = i;
        if (a < 0) {
            if (narms >= MAX_ARMS) { runlog_free(&r.log); continue; }
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
    // arms ordered by (weight, K): the baseline (weight 0) first
    int order[MAX_ARMS];
    AggArm sorted[MAX_ARMS];
    memcpy(sorted, arms, sizeof(AggArm) * (size_t)narms);
    qsort(sorted, (size_t)narms, sizeof(AggArm), cmp_aggarm);
    for (int i = 0; i < narms; i++)
        for (int j = 0; j < narms; j++)
            if (!strcmp(arms[i].name, sorted[j].name)) order[i] = j;
    for (int i = 0; i < nruns; i++) runs[i].arm = order[runs[i].arm];
    memcpy(arms, sorted, sizeof(AggArm) * (size_t)narms);
    qsort(runs, (size_t)nruns, sizeof(AggRun), cmp_aggrun);
    int base = -1;
    for (int a = 0; a < narms && base < 0; a++)
        if (arms[a].weight == 0) base = a;

    char path[1300];
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
        for (int a = 0; a < narms; a++)
            if (write_curve(out, runs, nruns, t, a, arms, curve_R, smooth) < 0) {
                snprintf(err, errlen, "writing the curves of %s failed", ENV_TASK_NAMES[t]);
                goto done;
            }
    // summary.md
    text = NULL, len = 0;
    f = open_memstream(&text, &len);
    if (!f) { snprintf(err, errlen, "out of memory"); goto done; }
    write_summary(f, out, runs, nruns, arms, narms, base, resamples, smooth, nleft ? left : NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/summary.md", out);
    bad = write_text(path, text, len) < 0;
    free(text);
    if (bad) { snprintf(err, errlen, "%s: write failed", path); goto done; }
    fprintf(stderr, "compare: %d runs aggregated into %s/results.csv and %s/summary.md\n", nruns, out, out);
    if (plot) run_plot(out);
    rc = 0;
done:
    closedir(d);
    for (int i = 0; i < nruns; i++) runlog_free(&runs[i].log);
    free(runs);
    return rc;
}

// ----------------------------------------------------------------------------
// cmd_probe

int cmd_probe(const ProbeCli *o, char **pos, int npos) {
    struct { ProbeOptions p; const char *out; } cli;
    probe_defaults(&cli.p);
    cli.p.episodes = o->episodes, cli.p.envs = o->envs, cli.p.seed = o->seed, cli.p.greedy = o->greedy;
    cli.p.lambda = o->lambda, cli.p.threads = o->threads;
    cli.out = o->out;
    if (npos != 1) return usage("probe", "expected one checkpoint file or run directory");
    ProbeResult r;
    char err[1024];
    if (probe_run(pos[0], &cli.p, &r, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return 1;
    }
    printf("probe %s: task %s, %d + %d episodes (%s, seeds %llu / %llu), %d train / %d held-out steps, "
           "ridge lambda %g\n",
           pos[0], ENV_TASK_NAMES[r.task], cli.p.episodes, cli.p.episodes,
           cli.p.greedy ? "greedy" : "sampled", (unsigned long long)cli.p.seed,
           (unsigned long long)(cli.p.seed + PROBE_TEST_SEED_OFFSET), r.n_train, r.n_test, cli.p.lambda);
    printf("  %-9s %8s %8s %8s %8s\n", "label", "classes", "chance", "c_t", "z_t");
    for (int l = 0; l < PROBE_NLABELS; l++) {
        if (!r.has[l]) {
            printf("  %-9s %8s %8s %8s %8s\n", PROBE_LABEL_NAMES[l], "-", "-", "-", "-");
            continue;
        }
        printf("  %-9s %8d %8.3f %8.3f %8.3f\n", PROBE_LABEL_NAMES[l], r.classes[l], r.chance[l],
               r.acc_c[l], r.acc_z[l]);
    }
    if (cli.out[0] && probe_write_csv(&r, cli.out, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return 1;
    }
    return 0;
}
