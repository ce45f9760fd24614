// runner.c — carrying out compare's plan (see runner.h).
#include "lab/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/gemm.h"
#include "base/file.h"
#include "base/progress.h"
#include "base/runlock.h"
#include "base/stop.h"
#include "lab/probe.h"
#include "lab/stats.h"

// ----------------------------------------------------------------------------
// Child processes

// A child's argument vector, as long as the flags passed through make it
// (allocated; oom: a word could not be added, and the list is not used).
typedef struct {
    char **argv; // argc words and a NULL
    int argc, cap, oom;
} ArgList;

static void args_free(ArgList *a) {
    for (int i = 0; i < a->argc; i++) free(a->argv[i]);
    free(a->argv);
    memset(a, 0, sizeof *a);
}

static void args_add(ArgList *a, const char *s) {
    if (a->oom) return;
    if (a->argc + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 64;
        char **p = realloc(a->argv, (size_t)cap * sizeof *p);
        if (!p) { a->oom = 1; return; }
        a->argv = p, a->cap = cap;
    }
    if (!(a->argv[a->argc] = strdup(s))) { a->oom = 1; return; }
    a->argv[++a->argc] = NULL;
}

static void args_addf(ArgList *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void args_addf(ArgList *a, const char *fmt, ...) {
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&buf, fmt, ap);
    va_end(ap);
    if (n < 0) { a->oom = 1; return; }
    args_add(a, buf);
    free(buf);
}

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
    if (arm->custom) { // then the arm's flags: the arm decides
        for (int i = 0; i < arm->nflags; i++) args_add(a, arm->flags[i]);
    } else {
        char ws[32];
        compare_fmt_num(ws, sizeof ws, arm->weight);
        args_addf(a, "--cpc-weight=%s", ws);
        if (arm->weight > 0) args_addf(a, "--cpc-k=%d", arm->k);
    }
    // --precision auto resolved for the arm (plan.h), after everything that could say auto again
    if (arm->inject_precision) args_addf(a, "--precision=%s", arm->precision == GEMM_BF16 ? "bf16" : "fp32");
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

void runner_print_next(FILE *f, const Plan *pl, const Run *r) {
    ArgList a = {0};
    if (r->state == RUN_TODO) train_args(pl, r, &a);
    else if (r->state == RUN_TRAINED) probe_args(pl, r, &a);
    if (a.oom) fprintf(f, "(out of memory)\n");
    else if (a.argc) print_args(f, &a);
    else fprintf(f, "-\n");
    args_free(&a);
}

// ----------------------------------------------------------------------------
// Running the plan

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
    char who[32] = "";
    if (pl->rank >= 0) snprintf(who, sizeof who, " (rank %d)", pl->rank);
    fprintf(stderr, "%scompare%s: runs %d/%d done, %d running, %d left%s | %s/%s frames %3.0f%% | %s frames/s | ETA %s%s",
            tty ? "\r\033[K" : "", who, done, pl->nruns, running, left, failed ? " (some failed)" : "",
            h, tot, 100.0 * have / total, fr, eta, tty ? "" : "\n");
}

// What the loop of runner_run keeps.
typedef struct {
    int tty;            // stderr is a terminal: the progress line redrawn in place
    int running, nfail; // children alive; runs failed
    int event;          // a child ended since the last progress line
} RunnerLoop;

// r (RUN_TRAINED: its probe; RUN_TODO: its training) started under its
// lock, looked at again once held: 1, or 0 when it is busy, done meanwhile
// or failed to start (then RUN_FAILED, counted).
static int launch_run(Plan *pl, Run *r, RunnerLoop *L) {
    const CompareOpts *o = &pl->o;
    if (file_mkdir_p(r->dir) < 0) {
        fprintf(stderr, "cpcrl compare: cannot create %s: %s\n", r->dir, strerror(errno));
        r->state = RUN_FAILED, L->nfail++;
        return 0;
    }
    char err[2048];
    int lk = runlock_acquire(&r->lock, r->dir, o->lock_stale, "compare", err, sizeof err);
    if (lk == RUNLOCK_BUSY) {
        if (!pl->quiet_busy)
            fprintf(stderr, "%scompare: %s left to its holder: %s\n", L->tty ? "\n" : "", r->name, err);
        r->state = RUN_BUSY;
        return 0;
    }
    if (lk != RUNLOCK_HELD || plan_rescan(pl, r) < 0) {
        if (lk != RUNLOCK_HELD) fprintf(stderr, "cpcrl compare: %s\n", err);
        runlock_release(&r->lock);
        r->state = RUN_FAILED, L->nfail++;
        return 0;
    }
    if (r->state != RUN_TODO && r->state != RUN_TRAINED) { // done by another process meanwhile
        runlock_release(&r->lock);
        return 0;
    }
    int probe = r->state == RUN_TRAINED;
    ArgList a;
    if (probe) probe_args(pl, r, &a);
    else train_args(pl, r, &a);
    if (a.oom) fprintf(stderr, "cpcrl compare: %s: out of memory for its command line\n", r->name);
    r->pid = a.oom ? -1 : spawn(&a, r->dir);
    args_free(&a);
    if (r->pid < 0) {
        runlock_release(&r->lock);
        r->pid = 0, r->state = RUN_FAILED, L->nfail++;
        return 0;
    }
    r->state = probe ? RUN_PROBING : RUN_TRAINING;
    return 1;
}

// The last message the child printed to dir/train.out since its launch line
// ("== ..."; the file is appended to by every launch): its last line of a
// command's prefix, "cpcrl CMD: ", other than train's progress lines (start,
// resume, interruption, end), into buf; "" when none.
static void child_last_error(const char *dir, char *buf, size_t n) {
    char path[1200], tail[4096];
    buf[0] = 0;
    snprintf(path, sizeof path, "%s/train.out", dir);
    FILE *f = file_open_regular(path, NULL);
    if (!f) return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > (long)sizeof tail - 1) fseek(f, size - (long)sizeof tail + 1, SEEK_SET);
        else fseek(f, 0, SEEK_SET);
    }
    size_t got = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[got] = 0;
    char *save = NULL;
    static const char *const progress[] = {": starting ", ": resuming ", ": done at ", "interrupted"};
    for (char *line = strtok_r(tail, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        if (!strncmp(line, "== ", 3)) { // a later launch: what came before is not this child's
            buf[0] = 0;
            continue;
        }
        if (strncmp(line, "cpcrl ", 6) || !strchr(line + 6, ':')) continue;
        int skip = 0;
        for (size_t i = 0; i < sizeof progress / sizeof progress[0]; i++) skip |= strstr(line, progress[i]) != NULL;
        if (!skip) snprintf(buf, n, "%s", line);
    }
}

// A child of r ended with status (its lock released): r's next state.
static void child_ended(const Plan *pl, Run *r, int status, RunnerLoop *L) {
    const CompareOpts *o = &pl->o;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char log[1200], ck[1200];
    snprintf(log, sizeof log, "%s/log.csv", r->dir);
    snprintf(ck, sizeof ck, "%s/model.ckpt", r->dir);
    if (r->state == RUN_PROBING) {
        if (ok) {
            r->state = RUN_DONE;
        } else if (stop_requested()) {
            r->state = RUN_TRAINED;
        } else { // a failed measurement is a failed run: named, and compare exits 1
            r->state = RUN_FAILED, L->nfail++;
            char last[600];
            child_last_error(r->dir, last, sizeof last);
            fprintf(stderr, "%scompare: probe of %s failed (see %s/train.out)%s%s\n", L->tty ? "\n" : "", r->name,
                    r->dir, last[0] ? "; its last message: " : "", last);
        }
        return;
    }
    double f = runlog_last_frames(log);
    r->frames = f > 0 ? f : 0;
    // trained: exit 0, and both the log and the checkpoint at the frames
    ProbeCkptId id = {-1, 0};
    const int has_ck = file_exists(ck);
    if (has_ck && probe_ckpt_id(ck, &id) < 0) id.frames = -1;
    if (ok && r->frames >= o->frames && (!has_ck || id.frames >= o->frames)) {
        r->state = o->probe && has_ck ? RUN_TRAINED : RUN_DONE;
    } else if (stop_requested()) {
        r->state = RUN_TODO, r->resume = file_exists(ck);
    } else {
        r->state = RUN_FAILED, L->nfail++;
        char why[64];
        if (WIFSIGNALED(status)) snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
        else if (!ok) snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
        else if (r->frames < o->frames) snprintf(why, sizeof why, "exit 0 before its frames: stopped");
        else snprintf(why, sizeof why, "exit 0, but its checkpoint at %.0f frames", id.frames);
        char last[600];
        child_last_error(r->dir, last, sizeof last);
        fprintf(stderr, "%scompare: %s failed at %.0f frames (%s; see %s/train.out)%s%s\n", L->tty ? "\n" : "",
                r->name, r->frames, why, r->dir, last[0] ? "; its last message: " : "", last);
    }
}

// Every child that has ended, without waiting.
static void reap(Plan *pl, RunnerLoop *L) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        Run *r = NULL;
        for (int i = 0; i < pl->nruns && !r; i++)
            if (pl->runs[i].pid == pid) r = &pl->runs[i];
        if (!r) continue;
        L->running--, L->event = 1;
        r->pid = 0;
        runlock_release(&r->lock);
        child_ended(pl, r, status, L);
    }
}

// Heartbeats of the locks held; a lock taken over means this host looked
// dead to another: its child stops at once, writing nothing more.
static void beat_locks(Plan *pl, const RunnerLoop *L) {
    for (int i = 0; i < pl->nruns; i++) {
        Run *r = &pl->runs[i];
        char err[2048];
        if (r->pid > 0 && runlock_beat(&r->lock, 0, err, sizeof err) < 0) {
            fprintf(stderr, "%scompare: %s: %s; stopping its process\n", L->tty ? "\n" : "", r->name, err);
            kill(r->pid, SIGKILL);
        }
    }
}

// The frames of the running runs, from their log.csv.
static void poll_frames(Plan *pl) {
    for (int i = 0; i < pl->nruns; i++) {
        Run *r = &pl->runs[i];
        if (r->state != RUN_TRAINING) continue;
        char log[1200];
        snprintf(log, sizeof log, "%s/log.csv", r->dir);
        double f = runlog_last_frames(log);
        if (f > r->frames) r->frames = f;
    }
}

int runner_run(Plan *pl, int *ran) {
    const CompareOpts *o = &pl->o;
    *ran = 0;
    // the children: a run's lock is handed to them (base/runlock.h), and a
    // child of an MPI rank runs as one process (main.c: no MPI_Init)
    setenv("CPCRL_COMPARE_CHILD", "1", 1);
    StopSaved saved;
    stop_catch(0, &saved);
    RunnerLoop L = {.tty = isatty(STDERR_FILENO)};
    int signalled = 0;
    double t0 = progress_now(), f0 = 0, last_poll = 0;
    for (int i = 0; i < pl->nruns; i++) f0 += fmin(pl->runs[i].frames, o->frames);
    for (;;) {
        if (stop_requested() && !signalled) {
            for (int i = 0; i < pl->nruns; i++)
                if (pl->runs[i].pid > 0) kill(pl->runs[i].pid, SIGTERM);
            signalled = 1;
            fprintf(stderr, "%scompare: stopping; the runs save a checkpoint\n", L.tty ? "\n" : "");
        }
        // launch: probes of finished runs first, then training in plan order
        for (int pass = 0; pass < 2 && !stop_requested(); pass++)
            for (int i = 0; i < pl->nruns && L.running < o->jobs; i++) {
                Run *r = &pl->runs[i];
                if (r->state != (pass == 0 ? RUN_TRAINED : RUN_TODO)) continue;
                if (launch_run(pl, r, &L)) {
                    (*ran)++;
                    L.running++;
                }
            }
        // the line after the launches, so that it counts the runs just started
        progress(pl, t0, f0, L.tty, L.event);
        L.event = 0;
        reap(pl, &L);
        if (L.running == 0) {
            int left = 0;
            for (int i = 0; i < pl->nruns; i++)
                left += pl->runs[i].state == RUN_TODO || pl->runs[i].state == RUN_TRAINED;
            if (stop_requested() || !left) break;
        }
        beat_locks(pl, &L);
        double t = progress_now();
        if (t - last_poll > 2.0) {
            last_poll = t;
            poll_frames(pl);
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    progress(pl, t0, f0, L.tty, 1);
    if (L.tty) fprintf(stderr, "\n");
    stop_restore(&saved);
    if (stop_requested()) {
        fprintf(stderr, "compare: interrupted; run the same command again to continue\n");
        return 1;
    }
    return L.nfail ? 1 : 0;
}
