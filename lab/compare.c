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
// log.csv and model.ckpt both reach --frames is trained, one with a
// checkpoint short of them is resumed (--resume) from it, one with neither
// starts over. After training, each final checkpoint is probed (cpcrl probe,
// OUT/runs/NAME/probe.csv, which names the checkpoint it measured: a probe of
// another checkpoint is done again), and a run is done once probed; a probe
// that fails fails compare (exit 1, the run named). Then everything is
// aggregated (stats.h; under OUT/aggregate.lock) and plotted
// (scripts/plot_compare.sh).
//
// The parts: plan.c (arms, runs, what each run directory holds), runner.c
// (the child processes and the progress line), aggregate.c (results.csv,
// summary.md, curves); this file wires them and prints the dry run.
#include "lab/compare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ckpt.h"
#include "agent/dist.h"
#include "agent/train.h"
#include "env/findtime.h"
#include "base/file.h"
#include "base/progress.h"
#include "base/stop.h"
#include "lab/plan.h"
#include "lab/probe.h"
#include "lab/runner.h"
#include "lab/slurm.h"

// After the runs (every rank's, under MPI): the runs whose training or
// probe is not finished, listed on stderr. Returns how many (-1: the plan
// cannot be read).
static int unfinished_runs(const CompareOpts *opts, char **pass, int npass) {
    Plan pl;
    int rc = plan_build(&pl, opts, pass, npass), n = 0;
    if (rc) {
        free(pl.runs);
        return -1;
    }
    for (int i = 0; i < pl.nruns; i++) {
        const Run *r = &pl.runs[i];
        if (r->state != RUN_TODO && r->state != RUN_TRAINED) continue;
        if (!n++) fprintf(stderr, "compare: runs not finished (failed, stopped, or in use by another process; "
                                  "run the same command again to carry on):\n");
        if (r->state == RUN_TODO) fprintf(stderr, "  %s at %.0f of %.0f frames\n", r->name, r->frames, pl.o.frames);
        else fprintf(stderr, "  %s trained, not probed (see %s/train.out)\n", r->name, r->dir);
    }
    free(pl.runs);
    return n;
}

int cmd_compare(const CompareOpts *opts, char **pass, int npass, int argc, char **argv) {
    const int rank = dist_rank(), world = dist_size();
    if (opts->emit_slurm[0] && (opts->only_run[0] || opts->dry_run || opts->aggregate_only))
        return compare_usage("compare", "--emit-slurm writes the job array and trains nothing: not with %s",
                             opts->only_run[0] ? "--only-run" : opts->dry_run ? "--dry-run" : "--aggregate-only");
    if (opts->slurm_limit && !opts->emit_slurm[0])
        return compare_usage("compare", "--slurm-limit %d: only with --emit-slurm DIR", opts->slurm_limit);
    if (opts->only_run[0] && opts->aggregate_only)
        return compare_usage("compare", "--only-run trains one run and --aggregate-only none: choose one");
    Plan pl;
    int rc = plan_build(&pl, opts, pass, npass);
    rc = dist_allreduce_max_i(rc); // every rank sees the same flags and files
    if (rc) {
        free(pl.runs);
        return rc;
    }
    const CompareOpts *o = &pl.o;
    if (o->aggregate_only) {
        free(pl.runs);
        char err[1024];
        if (rank == 0 && compare_aggregate(o, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl compare: %s\n", err);
            rc = 1;
        }
        return dist_allreduce_max_i(rc);
    }
    if (o->emit_slurm[0]) {
        if (rank == 0) rc = slurm_emit(&pl, argc, argv);
        free(pl.runs);
        return dist_allreduce_max_i(rc);
    }
    if (o->only_run[0]) { // one run of the plan (a Slurm array task)
        int k = -1;
        for (int i = 0; i < pl.nruns && k < 0; i++)
            if (!strcmp(pl.runs[i].name, o->only_run)) k = i;
        if (k < 0) {
            rc = compare_usage("compare", "--only-run %s: no such run in the plan (its runs are %s, ..., %s)",
                               o->only_run, pl.runs[0].name, pl.runs[pl.nruns - 1].name);
            free(pl.runs);
            return rc;
        }
        pl.runs[0] = pl.runs[k];
        pl.nruns = 1;
    }
    pl.quiet_busy = world > 1;
    pl.rank = world > 1 ? rank : -1;
    int counts[RUN_NSTATES] = {0}, resumed = 0;
    for (int i = 0; i < pl.nruns; i++) counts[pl.runs[i].state]++, resumed += pl.runs[i].resume;
    char fr[32];
    progress_count(fr, sizeof fr, o->frames);
    if (rank == 0)
        fprintf(stderr,
                "compare: %d tasks x %d arms x %d seeds = %d runs of %s frames in %s; %d jobs x %d "
                "threads | %d done, %d to probe, %d to train (%d resumed)\n",
                pl.ntasks, pl.narms, o->seeds, o->seeds * pl.ntasks * pl.narms, fr, o->out, o->jobs,
                pl.threads, counts[RUN_DONE], counts[RUN_TRAINED], counts[RUN_TODO], resumed);
    if (o->only_run[0]) fprintf(stderr, "compare: only run %s (%s)\n", o->only_run, RUN_STATE_NAMES[pl.runs[0].state]);
    if (world > 1 && rank == 0)
        fprintf(stderr, "compare: %d MPI ranks of %d jobs each take the runs (each under its lock); rank 0 "
                "aggregates\n", world, o->jobs);
    if (o->dry_run) {
        for (int i = 0; i < pl.nruns && rank == 0; i++) {
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
        return dist_allreduce_max_i(1);
    }
    if (rank == 0 && !o->only_run[0]) plan_record_command(o->out, argc, argv);
    int ran = 0;
    rc = runner_run(&pl, &ran);
    int stopped = stop_requested();
    if (o->only_run[0]) { // 0 when the run is done now (by this task or before), else 1
        free(pl.runs);
        if (stopped || rc) return 1;
        Plan now;
        int st = plan_build(&now, opts, pass, npass) ? RUN_FAILED : RUN_TODO;
        for (int i = 0; i < now.nruns; i++)
            if (!strcmp(now.runs[i].name, o->only_run)) st = now.runs[i].state;
        free(now.runs);
        if (st != RUN_DONE)
            fprintf(stderr, "compare: %s is not finished (%s; in use by another process?)\n", o->only_run,
                    RUN_STATE_NAMES[st]);
        return st == RUN_DONE ? 0 : 1;
    }
    if (world > 1)
        fprintf(stderr, "compare: rank %d of %d started %d run%s\n", rank, world, ran, ran == 1 ? "" : "s");
    free(pl.runs);
    // every rank's runs have ended (a collective call), or a stop reached them
    rc = dist_allreduce_max_i(rc);
    stopped = dist_allreduce_max_i(stopped);
    if (stopped) return rc;
    if (rank == 0) {
        int left = unfinished_runs(opts, pass, npass);
        if (left) rc = 1;
        char err[1024];
        if (compare_aggregate(o, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl compare: %s\n", err);
            rc = 1;
        }
    }
    return dist_allreduce_max_i(rc);
}

// ----------------------------------------------------------------------------
// cmd_probe

// dir := the directory part of path ("." when it has none)
static void parent_dir(const char *path, char *dir, size_t n) {
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, n, ".");
}

// With --out (compare's probe step): on goal and watermaze also eval's memory
// measure (agent/train.h EvalMemory: the waits until a find, intact and with
// the memory wiped at every find) on the probe's held-out seeds, into
// memory.csv beside the --out file, naming the checkpoint it measured.
static int probe_memory_csv(const char *run, int task, const ProbeOptions *p, const char *out) {
    if (!findtime_applies(task)) return 0;
    char path[1100], dir[1024], err[600];
    ckpt_path_for(run, path, sizeof path);
    Config o;
    config_defaults(&o);
    o.episodes = p->episodes, o.seed = p->seed + PROBE_TEST_SEED_OFFSET, o.greedy = p->greedy;
    o.threads = p->threads;
    EvalResult r;
    ProbeCkptId id;
    if (eval_main(path, &o, NULL, &r) != 0 || !r.memory.valid || probe_ckpt_id(path, &id) < 0) {
        fprintf(stderr, "cpcrl probe: %s: the memory measure failed\n", path);
        return -1;
    }
    const EvalMemory *m = &r.memory;
    parent_dir(out, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/memory.csv", dir);
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "episodes,seed,tau,wait_first,wait_later,wait_later_wiped,memory_use,memory_use_lo,"
                     "memory_use_hi,return,return_wiped,ckpt_frames,ckpt_crc32\n"
                     "%d,%llu,%g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.0f,%08x\n",
                     r.episodes, (unsigned long long)o.seed, m->tau, m->rmst_first, m->rmst_later,
                     m->rmst_later_wiped, m->use, m->use_lo, m->use_hi, r.mean_return, m->return_wiped,
                     id.frames, (unsigned)id.crc);
    if (file_write_atomic(path, text, (size_t)n, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return -1;
    }
    printf("memory (%s): later finds %.2f steps, with the memory wiped %.2f: memory use %+.2f [%.2f, %.2f]\n",
           path, m->rmst_later, m->rmst_later_wiped, m->use, m->use_lo, m->use_hi);
    return 0;
}

// With --out (compare's probe step), when the run has a best.ckpt: it and the
// final checkpoint evaluated on the same fresh episodes (env seed
// RECHECK_SEED_OFFSET + the run's seed: neither training's nor those of the
// evaluations that picked best.ckpt; greedy or sampled as those were), into
// recheck.csv beside the --out file, naming the final checkpoint. compare's
// collapse test reads it: best.ckpt won the largest of many short
// evaluations, so its own figure is lucky, and the last evaluation is one
// noisy draw; on the same fresh episodes both are fair. Only for a run
// directory or its model.ckpt; a best.ckpt that does not evaluate is skipped
// with a warning (the collapse test then falls back to eval.csv).
static int probe_recheck_csv(const char *run, const ProbeOptions *p, const char *out) {
    char model[1100], best[1100], dir[1024], err[1200];
    ckpt_path_for(run, model, sizeof model);
    const char *base = strrchr(model, '/');
    if (strcmp(base ? base + 1 : model, "model.ckpt") != 0) return 0; // e.g. best.ckpt itself
    parent_dir(model, dir, sizeof dir);
    snprintf(best, sizeof best, "%s/best.ckpt", dir);
    if (!file_exists(best)) return 0; // trained without --eval-every: nothing to recheck
    ProbeCkptId id;
    Ckpt ck;
    const int idok = probe_ckpt_id(model, &id) == 0;
    if (!idok) snprintf(err, sizeof err, "%s: cannot read it", model);
    if (!idok || ckpt_read(&ck, model, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return -1;
    }
    Config o;
    config_defaults(&o);
    o.episodes = p->episodes, o.seed = RECHECK_SEED_OFFSET + ck.cfg.seed, o.greedy = ck.cfg.eval_greedy;
    o.threads = p->threads;
    ckpt_free(&ck);
    EvalResult rf, rb;
    if (eval_main(model, &o, NULL, &rf) != 0) {
        fprintf(stderr, "cpcrl probe: %s: the re-evaluation failed\n", model);
        return -1;
    }
    if (eval_main(best, &o, NULL, &rb) != 0) {
        fprintf(stderr, "cpcrl probe: warning: %s does not evaluate; no recheck.csv (the collapse test uses "
                        "eval.csv)\n", best);
        return 0;
    }
    parent_dir(out, dir, sizeof dir);
    char path[1100], text[1024];
    snprintf(path, sizeof path, "%s/recheck.csv", dir);
    int n = snprintf(text, sizeof text,
                     "episodes,seed,greedy,return_final,return_final_ci95,return_best,return_best_ci95,"
                     "success_final,success_best,ckpt_frames,ckpt_crc32\n"
                     "%d,%llu,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.0f,%08x\n",
                     rf.episodes, (unsigned long long)o.seed, o.greedy, rf.mean_return, rf.ci95, rb.mean_return,
                     rb.ci95, rf.success, rb.success, id.frames, (unsigned)id.crc);
    if (file_write_atomic(path, text, (size_t)n, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return -1;
    }
    printf("recheck (%s): model.ckpt %.3f ± %.3f, best.ckpt %.3f ± %.3f on the same %d episodes (seed %llu)\n",
           path, rf.mean_return, rf.ci95, rb.mean_return, rb.ci95, rf.episodes, (unsigned long long)o.seed);
    return 0;
}

int cmd_probe(const ProbeCli *o, char **pos, int npos) {
    struct { ProbeOptions p; const char *out; } cli;
    probe_defaults(&cli.p);
    cli.p.episodes = o->episodes, cli.p.envs = o->envs, cli.p.seed = o->seed, cli.p.greedy = o->greedy;
    cli.p.lambda = o->lambda, cli.p.threads = o->threads;
    cli.out = o->out;
    if (npos != 1) return compare_usage("probe", "expected one checkpoint file or run directory");
    ProbeResult r;
    char err[1024];
    if (cli.out[0] && file_check_out(cli.out, 0, err, sizeof err) < 0) { // before the work, not after
        fprintf(stderr, "cpcrl probe: --out %s\n", err);
        return 1;
    }
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
    // memory.csv and recheck.csv before probe.csv: compare counts a run probed once its
    // probe.csv is there, so an interrupted probe step leaves neither counted
    if (cli.out[0] && probe_memory_csv(pos[0], r.task, &cli.p, cli.out) < 0) return 1;
    if (cli.out[0] && probe_recheck_csv(pos[0], &cli.p, cli.out) < 0) return 1;
    if (cli.out[0] && probe_write_csv(&r, cli.out, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return 1;
    }
    return 0;
}

