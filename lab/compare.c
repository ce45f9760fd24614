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
//
// The parts: plan.c (arms, runs, what each run directory holds), runner.c
// (the child processes and the progress line), aggregate.c (results.csv,
// summary.md, curves); this file wires them and prints the dry run.
#include "lab/compare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/progress.h"
#include "base/stop.h"
#include "lab/plan.h"
#include "lab/probe.h"
#include "lab/runner.h"

int cmd_compare(const CompareOpts *opts, char **pass, int npass, int argc, char **argv) {
    Plan pl;
    int rc = plan_build(&pl, opts, pass, npass);
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
            printf("%-28s %-9s %8.0f frames%s | ", r->name, RUN_STATE_NAMES[r->state], r->frames,
                   r->resume ? " (resume)" : "");
            runner_print_next(stdout, &pl, r);
        }
        free(pl.runs);
        return 0;
    }
    if (file_mkdir_p(o->out) < 0) {
        fprintf(stderr, "cpcrl compare: cannot create %s: %s\n", o->out, strerror(errno));
        free(pl.runs);
        return 1;
    }
    plan_record_command(o->out, argc, argv);
    rc = runner_run(&pl);
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
// cmd_probe

int cmd_probe(const ProbeCli *o, char **pos, int npos) {
    struct { ProbeOptions p; const char *out; } cli;
    probe_defaults(&cli.p);
    cli.p.episodes = o->episodes, cli.p.envs = o->envs, cli.p.seed = o->seed, cli.p.greedy = o->greedy;
    cli.p.lambda = o->lambda, cli.p.threads = o->threads;
    cli.out = o->out;
    if (npos != 1) return compare_usage("probe", "expected one checkpoint file or run directory");
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

