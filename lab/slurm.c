// slurm.c — compare's plan as a Slurm job array (see slurm.h).
#include "lab/slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"

// ----------------------------------------------------------------------------
// Shell words

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...) {
    if (t->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { t->oom = 1; return; }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) { t->oom = 1; return; }
        t->s = p, t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

// ' word' in single quotes (a ' inside as '\'')
static void text_word(Text *t, const char *w) {
    text_add(t, " '");
    for (const char *p = w; *p; p++) {
        if (*p == '\'') text_add(t, "'\\''");
        else text_add(t, "%c", *p);
    }
    text_add(t, "'");
}

// a double that reads back as the same double, as short as it goes
static void fmt_exact(char *out, size_t n, double v) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void flag_d(Text *t, const char *name, double v) {
    char num[64], w[128];
    fmt_exact(num, sizeof num, v);
    snprintf(w, sizeof w, "--%s=%s", name, num);
    text_word(t, w);
}

static void flag_s(Text *t, const char *name, const char *v) {
    char w[2400];
    snprintf(w, sizeof w, "--%s=%s", name, v);
    text_word(t, w);
}

static int write_file(const char *path, const Text *t, mode_t mode) {
    char err[1400];
    if (t->oom) {
        fprintf(stderr, "cpcrl compare: %s: out of memory\n", path);
        return 1;
    }
    if (file_write_atomic(path, t->s, t->len, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl compare: %s\n", err);
        return 1;
    }
    if (chmod(path, mode) < 0) {
        fprintf(stderr, "cpcrl compare: %s: chmod: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

// runs.txt is read a line per array task: a word with a line break in it
// would split its run's line, the rest run as a command of its own. 1 (and
// a message) when w holds one.
static int line_break(const char *what, const char *w) {
    if (!strpbrk(w, "\n\r")) return 0;
    fprintf(stderr, "cpcrl compare: --emit-slurm: %s holds a line break, which would split the lines of "
                    "runs.txt (one command per line): rename it; nothing written\n", what);
    return 1;
}

// ----------------------------------------------------------------------------
// The three files

// "cd CWD && EXE compare --out=OUT"
static void plan_command(Text *t, const char *cwd, const char *exe, const char *out) {
    text_add(t, "cd");
    text_word(t, cwd);
    text_add(t, " &&");
    text_word(t, exe);
    text_add(t, " compare");
    flag_s(t, "out", out);
}

// What the three files name: the working directory, this binary, DIR and
// OUT made absolute, DIR/logs, the threads of a task.
typedef struct {
    char cwd[PATH_MAX], exe[PATH_MAX], dir[PATH_MAX + 600], out[PATH_MAX + 600], logs[PATH_MAX + 700];
    int threads;
} SlurmPaths;

// The paths, every word of runs.txt checked and DIR/logs and OUT made
// before anything is written: 0, or the exit code (a message said).
static int slurm_paths(const Plan *pl, SlurmPaths *P) {
    const CompareOpts *o = &pl->o;
    if (!getcwd(P->cwd, sizeof P->cwd)) {
        fprintf(stderr, "cpcrl compare: getcwd: %s\n", strerror(errno));
        return 1;
    }
    if (!realpath("/proc/self/exe", P->exe)) {
        fprintf(stderr, "cpcrl compare: cannot resolve /proc/self/exe: %s\n", strerror(errno));
        return 1;
    }
    const char *cwd = P->cwd;
    snprintf(P->dir, sizeof P->dir, "%s%s%s", o->emit_slurm[0] == '/' ? "" : cwd,
             o->emit_slurm[0] == '/' ? "" : "/", o->emit_slurm);
    snprintf(P->out, sizeof P->out, "%s%s%s", o->out[0] == '/' ? "" : cwd, o->out[0] == '/' ? "" : "/", o->out);
    // the scripts name DIR in #SBATCH lines and shell words, which cannot quote
    if (strpbrk(P->dir, " \t\n'\"\\$`%")) {
        fprintf(stderr, "cpcrl compare: --emit-slurm %s: a directory whose path holds blanks, quotes, '\\', '$', "
                        "'`' or '%%' cannot be named in the job script's #SBATCH lines; pick another\n", P->dir);
        return 2;
    }
    // every word of runs.txt, checked before anything is written
    int nl = line_break("the working directory", cwd) + line_break("this binary's path", P->exe) +
             line_break("--out", P->out) + line_break("--tasks", o->tasks) +
             line_break("--cpc-weights", o->cpc_weights) + line_break("--cpc-ks", o->cpc_ks) +
             line_break("--arms", o->arms) + line_break("--baseline", o->baseline);
    for (int j = 0; j < pl->npass; j++) nl += line_break("a training flag", pl->pass[j]);
    for (int i = 0; i < pl->nruns; i++) nl += line_break("a run name", pl->runs[i].name);
    if (nl) return 2;
    snprintf(P->logs, sizeof P->logs, "%s/logs", P->dir);
    if (file_mkdir_p(P->logs) < 0 || file_mkdir_p(P->out) < 0) {
        fprintf(stderr, "cpcrl compare: cannot create %s: %s\n", file_mkdir_p(P->logs) < 0 ? P->logs : P->out,
                strerror(errno));
        return 1;
    }
    P->threads = o->threads ? o->threads : 1;
    return 0;
}

// runs.txt: one line per run, the plan's flags written out in full.
static int write_runs(const Plan *pl, const SlurmPaths *P) {
    const CompareOpts *o = &pl->o;
    Text runs = {0};
    for (int i = 0; i < pl->nruns; i++) {
        plan_command(&runs, P->cwd, P->exe, P->out);
        flag_s(&runs, "tasks", o->tasks);
        flag_d(&runs, "seeds", o->seeds);
        char fs[32];
        snprintf(fs, sizeof fs, "%llu", (unsigned long long)o->first_seed);
        flag_s(&runs, "first-seed", fs);
        flag_d(&runs, "frames", o->frames);
        flag_d(&runs, "cpc-weight", o->cpc_weight);
        if (o->cpc_weights[0]) flag_s(&runs, "cpc-weights", o->cpc_weights);
        if (o->cpc_ks[0]) flag_s(&runs, "cpc-ks", o->cpc_ks);
        if (o->arms[0]) flag_s(&runs, "arms", o->arms);
        flag_d(&runs, "probe", o->probe);
        flag_d(&runs, "probe-episodes", o->probe_episodes);
        flag_d(&runs, "lock-stale", o->lock_stale);
        flag_d(&runs, "jobs", 1);
        flag_d(&runs, "threads", P->threads);
        for (int j = 0; j < pl->npass; j++) text_word(&runs, pl->pass[j]);
        flag_s(&runs, "only-run", pl->runs[i].name);
        text_add(&runs, "\n");
    }
    char path[PATH_MAX + 700];
    snprintf(path, sizeof path, "%s/runs.txt", P->dir);
    int rc = write_file(path, &runs, 0644);
    free(runs.s);
    return rc;
}

// array.sbatch: task i runs line i+1 of runs.txt.
static int write_array(const Plan *pl, const SlurmPaths *P) {
    const char *dir = P->dir;
    const int threads = P->threads;
    Text sb = {0};
    text_add(&sb, "#!/bin/bash\n"
                  "# cpcrl compare as a Slurm job array (written by cpcrl compare --emit-slurm): task i runs\n"
                  "# line i+1 of runs.txt, one run of the plan: trained or resumed, then probed; a run that is\n"
                  "# done, or in use by another task (its train.lock), is left alone. Submit it again to carry\n"
                  "# on after a time limit. Extra sbatch options go on the command line, e.g.\n"
                  "#   sbatch --time=4:00:00 --partition=cpu %s/array.sbatch\n"
                  "# and once every task has ended: bash %s/aggregate.sh (or sbatch --dependency=afterany:JOBID).\n"
                  "# By hand, one task: SLURM_ARRAY_TASK_ID=0 bash %s/array.sbatch\n",
             dir, dir, dir);
    text_add(&sb, "#SBATCH --job-name=cpcrl-compare\n#SBATCH --array=0-%d", pl->nruns - 1);
    if (pl->o.slurm_limit > 0) text_add(&sb, "%%%d", pl->o.slurm_limit);
    text_add(&sb, "\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%d\n#SBATCH --output=%s/%%A_%%a.out\n", threads,
             P->logs);
    text_add(&sb, "set -eu\n"
                  "export OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d\n"
                  "runs='%s/runs.txt'\n"
                  "task=${SLURM_ARRAY_TASK_ID:?not set: submit with sbatch, or set it to run one task by hand}\n"
                  "line=$(sed -n \"$((task + 1))p\" \"$runs\")\n"
                  "[ -n \"$line\" ] || { echo \"array.sbatch: task $task: no line $((task + 1)) in $runs\" >&2; exit 2; }\n"
                  "echo \"array.sbatch: task $task on $(hostname): $line\" >&2\n"
                  "eval \"$line\"\n",
             threads, threads, dir);
    char path[PATH_MAX + 700];
    snprintf(path, sizeof path, "%s/array.sbatch", dir);
    int rc = write_file(path, &sb, 0755);
    free(sb.s);
    return rc;
}

// aggregate.sh: compare --aggregate-only with the plan's aggregation flags.
static int write_aggregate(const Plan *pl, const SlurmPaths *P) {
    const CompareOpts *o = &pl->o;
    Text ag = {0};
    text_add(&ag, "#!/bin/bash\n"
                  "# Aggregates the runs of the Slurm job array in array.sbatch (written by cpcrl compare\n"
                  "# --emit-slurm): results.csv, summary.md, curves. Runs not finished are left out and listed.\n"
                  "#SBATCH --job-name=cpcrl-aggregate\n#SBATCH --ntasks=1\n#SBATCH --output=%s/aggregate.out\n"
                  "set -eu\n",
             P->logs);
    plan_command(&ag, P->cwd, P->exe, P->out);
    text_add(&ag, " --aggregate-only");
    flag_d(&ag, "bootstrap", o->bootstrap);
    flag_d(&ag, "smooth", o->smooth);
    flag_d(&ag, "plot", o->plot);
    flag_d(&ag, "include-unfinished", o->include_unfinished);
    if (o->baseline[0]) flag_s(&ag, "baseline", o->baseline);
    text_add(&ag, "\n");
    char path[PATH_MAX + 700];
    snprintf(path, sizeof path, "%s/aggregate.sh", P->dir);
    int rc = write_file(path, &ag, 0755);
    free(ag.s);
    return rc;
}

int slurm_emit(const Plan *pl, int argc, char **argv) {
    SlurmPaths P;
    int rc = slurm_paths(pl, &P);
    if (rc || (rc = write_runs(pl, &P)) || (rc = write_array(pl, &P)) || (rc = write_aggregate(pl, &P))) return rc;
    plan_record_command(pl->o.out, argc, argv);
    const char *dir = P.dir;
    printf("wrote %s/runs.txt (%d runs), %s/array.sbatch, %s/aggregate.sh\n"
           "  submit:    sbatch %s/array.sbatch\n"
           "  then:      bash %s/aggregate.sh   (results in %s)\n",
           dir, pl->nruns, dir, dir, dir, dir, P.out);
    return 0;
}
