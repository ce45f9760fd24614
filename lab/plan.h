// plan.h — compare's plan: the arms (nocpc, cpc, or one per weight x K) and
// one run per task x arm x seed, each with its directory under OUT/runs/ and
// what is there already (to train, to resume, to probe, done). Built from the
// flags and the run directories alone, so re-running a command carries on.
// runner.h carries a plan out; compare.c wires the two.
#ifndef CPCRL_PLAN_H
#define CPCRL_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/config.h"
#include "base/runlock.h"
#include "env/env.h"
#include "lab/compare_opts.h"

// RUN_BUSY: its lock is held by another process (another compare, rank or
// array task, or a trainer started by hand); left to it.
enum { RUN_TODO, RUN_TRAINING, RUN_TRAINED, RUN_PROBING, RUN_DONE, RUN_FAILED, RUN_BUSY, RUN_NSTATES };

typedef struct {
    char name[48];
    double weight;
    int k;
    // --arms: the arm's own training flags (custom = 1), split into words
    // (pointers into flagbuf), applied after the passed flags
    int custom, nflags;
    char flagbuf[512];
    char *flags[64];
    // --precision auto left by the flags: the arm's precision is that of its
    // runs already in OUT/runs (an experiment keeps one precision), else this
    // machine's (-1: the flags set it); inject: given to its new runs as
    // their last flag, --precision=fp32|bf16. machine_err: its runs' precision
    // cannot run here (refused when one of them is to be trained)
    int precision, inject_precision;
    char machine_err[1600];
} Arm;

typedef struct {
    int task, arm;
    uint64_t seed;
    char name[128];
    char dir[1024];
    int state, resume;
    pid_t pid;
    double frames0, frames; // at the start of this session, latest seen
    RunLock lock;           // held from before its child starts until it is reaped
} Run;

#define MAX_ARMS 64
#define MAX_LIST 32

// The plan: options, the training config every run starts from, arms, runs.
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
    int quiet_busy; // MPI ranks: runs in use by another rank are no news
    int rank;       // MPI rank, in the progress line (-1: not under MPI)
} Plan;

// Names of the RUN_* states, for the dry run and the progress line.
extern const char *const RUN_STATE_NAMES[];

// "cpcrl CMD: <message>\nsee 'cpcrl help CMD'" on stderr; returns 2 (usage error).
int compare_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// A CPC weight as the shortest %g text that reads back as the same float
// (a run's cpc_weight is one): 0.5, not 0.5000000001; 0.1234567, not
// 0.123457 (another weight). Arm names and flags.
void compare_fmt_num(char *out, size_t n, double v);

// Build the plan from the options and what OUT/runs/ holds (every run scanned,
// nothing changed: runs are changed only under their lock, see plan_rescan).
// 0, 2 on a usage error, 1 on another (message on stderr); pl->runs is to be
// freed by the caller in every case.
int plan_build(Plan *pl, const CompareOpts *opts, char **pass, int npass);
// Scan r's directory again (compare holds its lock): its state now, a log
// without a checkpoint moved aside (it starts over). 0, or -1 (message on
// stderr: a run trained with other settings, an unreadable config.txt).
int plan_rescan(Plan *pl, Run *r);
// OUT/command.txt: every distinct command line that worked on OUT.
void plan_record_command(const char *out, int argc, char **argv);

#endif
