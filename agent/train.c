// train.c — the training loop around the Trainer (see train.h): a run's
// start (agent/rundir.c has its directory), then per update the rollout and
// update, the log row, the evaluation and the checkpoint when due.
#include "agent/train.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nn/blas.h"
#include "agent/ckpt.h"
#include "agent/run.h"
#include "agent/dist.h"
#include "nn/gemm.h"
#include "agent/trace.h"
#include "agent/trainlog.h"
#include "base/errs.h"
#include "base/file.h"
#include "base/progress.h"
#include "base/runlock.h"
#include "base/stop.h"
#include "base/rng.h"

void ckpt_path_for(const char *path, char *out, size_t n) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(out, n, "%s/model.ckpt", path);
    else snprintf(out, n, "%s", path);
}

// Checksum of the parameters (compared across MPI ranks).
static uint64_t param_checksum(const Model *m) {
    uint64_t h = 1469598103934665603ull;
    const uint8_t *p = (const uint8_t *)m->p.params;
    size_t n = m->p.total * sizeof(float);
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// Everything before the first update: the directory (fresh or resumed), the
// trainer and evaluator, the schedule, the files. 0, or the exit status (every
// rank agrees; what was built is freed).
static int run_start(Run *r, int cfg_frames_given) {
    int fail = 0;
    if (r->resume_dir) fail = run_open_resume(r, cfg_frames_given);
    if (!fail && config_check(&r->cfg, r->err, sizeof r->err) < 0) {
        fprintf(stderr, "cpcrl train: %s\n", r->err);
        fail = 1;
    }
    if ((fail = dist_allreduce_max_i(fail))) {
        ckpt_free(&r->ck);
        runlock_release(&r->lock);
        return fail;
    }
    blas_set_threads(r->cfg.threads);
    int init_bad = trainer_init(&r->tr, &r->cfg, r->err, sizeof r->err) < 0;
    if (init_bad) fprintf(stderr, "cpcrl train: %s\n", r->err);
    if (dist_allreduce_max_i(init_bad)) { // every rank stops together
        if (!init_bad) trainer_free(&r->tr);
        ckpt_free(&r->ck);
        runlock_release(&r->lock);
        return 1;
    }
    // the evaluator is built on every rank (trainer_init is collective under
    // MPI); rank 0 alone evaluates
    r->evaluate = r->cfg.eval_every > 0;
    int ev_bad = r->evaluate && evaluator_init(&r->ev, &r->tr.cfg, r->err, sizeof r->err) < 0;
    if (ev_bad) fprintf(stderr, "cpcrl train: %s\n", r->err);
    if (dist_allreduce_max_i(ev_bad)) {
        evaluator_free(&r->ev);
        trainer_free(&r->tr);
        ckpt_free(&r->ck);
        runlock_release(&r->lock);
        return 1;
    }
    r->newlog = r->neweval = !r->resume_dir;
    if (r->resume_dir) fail = run_load_state(r);
    else if (r->lead) fail = run_claim(r);
    // the schedule, and the row being accumulated (a checkpoint between rows)
    const Config *cfg = &r->cfg;
    const double *extra = r->extra;
    r->next_log = r->resume_dir ? extra[0] : cfg->log_every;
    r->next_ckpt = r->resume_dir ? extra[1] : cfg->ckpt_every;
    // (extra_pack's layout; a checkpoint from before evaluations has
    // extra[2] = 0: the next multiple of --eval-every)
    r->next_eval = r->resume_dir && extra[2] > 0 ? extra[2] : cfg->eval_every;
    if (r->evaluate && r->resume_dir && !(extra[2] > 0))
        r->next_eval = (floor(r->tr.frames / cfg->eval_every) + 1) * cfg->eval_every;
    r->best_eval = extra[4] > 0 ? extra[3] : -INFINITY;
    memset(&r->acc, 0, sizeof r->acc);
    if (r->resume_dir) logacc_unpack(&r->acc, extra + CKPT_EXTRA_SCHED);
    // a fresh run writes config.txt and its first checkpoint (update 0)
    // before log.csv: whatever exists can be resumed (every rank waits for
    // rank 0 to have made the directory)
    fail = dist_allreduce_max_i(fail);
    if (!fail && !r->resume_dir) fail = run_first_checkpoint(r);
    r->K = r->tr.use_cpc ? r->tr.model.K : 0;
    if (!fail && r->lead) fail = run_open_files(r);
    if (dist_allreduce_max_i(fail)) {
        run_close_files(r, 1);
        run_release(r);
        return 1;
    }
    return 0;
}

// A row of log.csv when due (the accumulated updates), and the progress
// line. 0, or 1 to stop.
static int log_due(Run *r, const UpdateStats *st, int done) {
    Trainer *tr = &r->tr;
    LogAcc *acc = &r->acc;
    const Config *cfg = &r->cfg;
    // an interrupt writes no row: the row being accumulated goes into the
    // checkpoint, so an interrupted-and-resumed run logs the same rows as
    // one that never stopped
    if (!(tr->frames >= r->next_log || done)) return 0;
    double epsum[4] = {acc->ep.episodes, acc->ep.ret, acc->ep.length, acc->ep.success};
    dist_allreduce_sum_d(epsum, 4); // episode stats of every rank
    acc->ep.episodes = (float)epsum[0], acc->ep.ret = (float)epsum[1];
    acc->ep.length = (float)epsum[2], acc->ep.success = (float)epsum[3];
    double t = progress_now();
    double sps = (tr->frames - r->f_row) / (t - r->t_row > 1e-9 ? t - r->t_row : 1e-9);
    // a row that cannot be written stops the run like a failed
    // checkpoint: no checkpoint past a row the log does not have
    int lfail = r->lead && log_row(r->logfd, tr, acc, sps, r->K) < 0;
    if (lfail)
        fprintf(stderr, "\ncpcrl train: writing %s failed: %s; stopping (the checkpoint at "
                "%.0f frames is kept; resume with --resume %s)\n", r->logpath, strerror(errno),
                r->ck_frames, r->dir);
    if (dist_allreduce_max_i(lfail)) return 1;
    if (acc->ep.episodes > 0) r->last_ret = acc->ep.ret / acc->ep.episodes;
    memset(acc, 0, sizeof *acc);
    r->t_row = t, r->f_row = tr->frames;
    while (r->next_log <= tr->frames) r->next_log += cfg->log_every;
    if (cfg->progress && r->lead) {
        double el = t - r->t_start, rate = (tr->frames - r->f_start) / (el > 1e-9 ? el : 1e-9);
        char fr[32], tot[32], eta[32];
        progress_count(fr, sizeof fr, tr->frames);
        progress_count(tot, sizeof tot, cfg->frames);
        progress_time(eta, sizeof eta, (cfg->frames - tr->frames) / rate);
        char cpcs[64] = "";
        const int K = r->K;
        if (K > 0 && st->cpc_count > 0)
            snprintf(cpcs, sizeof cpcs, " | cpc acc k1 %.2f k%d %.2f", st->cpc_acc[0], K,
                     st->cpc_acc[K - 1]);
        fprintf(stderr, "%s%s %s/%s frames %3.0f%% | %.0f SPS | return %.3g%s | ETA %s%s",
                r->tty ? "\r\033[K" : "", cfg->name, fr, tot, 100.0 * tr->frames / cfg->frames,
                rate, r->last_ret, cpcs, eta, r->tty ? "" : "\n");
    }
    return 0;
}

// Evaluations on their own schedule, and at the end (rank 0; the others go
// on to the next collective call); best.ckpt when one beats the best. 0, or 1 to stop.
static int eval_due(Run *r, int done) {
    Trainer *tr = &r->tr;
    const Config *cfg = &r->cfg;
    if (!(r->evaluate && (tr->frames >= r->next_eval || done))) return 0;
    while (r->next_eval <= tr->frames) r->next_eval += cfg->eval_every;
    int efail = 0;
    if (r->lead) {
        EvalResult er;
        evaluator_run(&r->ev, &tr->model, &er);
        efail = eval_row(r->evalfd, tr, &er, r->best_eval) < 0;
        if (efail)
            fprintf(stderr, "\ncpcrl train: writing %s failed: %s; stopping (the checkpoint at "
                    "%.0f frames is kept; resume with --resume %s)\n", r->evalpath, strerror(errno),
                    r->ck_frames, r->dir);
        const int better = er.mean_return > r->best_eval;
        if (!efail && better) {
            // best.ckpt: this state, written atomically like model.ckpt
            r->best_eval = er.mean_return;
            double nc = r->next_ckpt; // as the checkpoint below will store it
            while (nc <= tr->frames) nc += cfg->ckpt_every;
            run_pack(r, nc);
            if (ckpt_save(tr, r->extra, r->bestpath, r->err, sizeof r->err) < 0) {
                fprintf(stderr, "\ncpcrl train: best checkpoint failed: %s\n", r->err);
                efail = 1;
            }
        }
        if (cfg->progress && !efail)
            fprintf(stderr, "%s%s eval at %.0f frames: return %.3g ± %.2g, success %.2f%s%s",
                    r->tty ? "\r\033[K" : "", cfg->name, tr->frames, er.mean_return, er.ci95, er.success,
                    better ? ", best so far: best.ckpt" : "", "\n");
    }
    return dist_allreduce_max_i(efail);
}

// Checkpoints on their own schedule (also between log rows), at the end and
// on an interrupt. 0, or 1 to stop.
static int ckpt_due(Run *r, int done, int interrupted) {
    Trainer *tr = &r->tr;
    if (!(tr->frames >= r->next_ckpt || done || interrupted)) return 0;
    while (r->next_ckpt <= tr->frames) r->next_ckpt += r->cfg.ckpt_every;
    run_pack(r, r->next_ckpt);
    int ckfail = 0;
    char *err = r->err;
    // the rows the checkpoint covers are on disk before it is
    if (r->lead && fsync(r->logfd) < 0 && errno != EINVAL) {
        snprintf(err, sizeof r->err, "%s: fsync failed: %s", r->logpath, strerror(errno));
        ckfail = 1;
    }
    if (!ckfail && r->evalfd >= 0 && fsync(r->evalfd) < 0 && errno != EINVAL) {
        snprintf(err, sizeof r->err, "%s: fsync failed: %s", r->evalpath, strerror(errno));
        ckfail = 1;
    }
    if (!ckfail && ckpt_save(tr, r->extra, r->ckpath, err, sizeof r->err) < 0) ckfail = 1;
    if (!ckfail && r->lead && run_write_config_txt(r) < 0) ckfail = 1;
    if (ckfail) fprintf(stderr, "\ncpcrl train: checkpoint failed: %s\n", err);
    if (dist_allreduce_max_i(ckfail)) return 1;
    r->ck_frames = tr->frames;
    return 0;
}

// One update and what follows it. 0 to go on, 1 to stop with an error, 2 to
// stop after an interrupt (saved).
static int train_step(Run *r) {
    Trainer *tr = &r->tr;
    const Config *cfg = &r->cfg;
    const TrainHook *hook = r->hook;
    trainer_rollout(tr);
    UpdateStats st;
    if (hook && hook->before_update) hook->before_update(hook->before_ctx, tr);
    tr->measure_trunk = tr->frames >= r->next_log || tr->frames >= cfg->frames; // closes a row
    tr->measure_outputs = r->tracefd >= 0 && (tr->updates + 1) % cfg->trace_every == 0; // a traced update
    int bad = trainer_update(tr, &st, trainer_lr(tr)) < 0;
    if (dist_allreduce_max_i(bad)) {
        if (r->lead)
            fprintf(stderr,
                    "\ncpcrl train: non-finite %s at update %lld (loss %g: policy %g, value %g, "
                    "entropy %g, cpc %g; grad norm %g); stopping, last good checkpoint kept in %s "
                    "(%.0f frames)\n",
                    !isfinite(st.loss) ? "loss" : "gradient", (long long)tr->updates + 1, st.loss,
                    st.policy_loss, st.value_loss, st.entropy, st.cpc_loss, st.grad_norm, r->ckpath,
                    r->ck_frames);
        return 1;
    }
    if (r->tracefd >= 0 && tr->updates % cfg->trace_every == 0) {
        char trow[2048];
        size_t tl = trace_row(trow, sizeof trow, tr, &st, st.lr);
        if (tl > 0 && write_all(r->tracefd, trow, tl) < 0) {
            fprintf(stderr, "\ncpcrl train: writing trace.csv failed: %s; tracing stops\n", strerror(errno));
            close(r->tracefd);
            r->tracefd = -1;
        }
    }
    LogAcc *acc = &r->acc;
    logacc_add(acc, tr, &st);
    acc->ep.episodes += tr->ep.episodes, acc->ep.ret += tr->ep.ret;
    acc->ep.length += tr->ep.length, acc->ep.success += tr->ep.success;
    memset(&tr->ep, 0, sizeof tr->ep);
    if (hook && hook->after_update) hook->after_update(hook->ctx, tr, r->dir);
    // the lock's heartbeat; a lock taken over (this host looked dead) stops
    // the run at once: another process may be writing the directory
    int lost = r->lead && runlock_beat(&r->lock, 0, r->err, sizeof r->err) < 0;
    if (lost) fprintf(stderr, "\ncpcrl train: %s; stopping without a checkpoint\n", r->err);
    int halt = dist_allreduce_max_i(lost ? 2 : stop_requested() ? 1 : 0); // every rank stops together
    if (halt == 2) return 1;
    const int interrupted = halt != 0;
    if (r->world > 1 && tr->updates % 100 == 0 && !dist_all_equal_u64(param_checksum(&tr->model))) {
        if (r->lead)
            fprintf(stderr, "\ncpcrl train: parameters differ across MPI ranks at update %lld\n",
                    (long long)tr->updates);
        return 1;
    }
    const int done = tr->frames >= cfg->frames;
    if (log_due(r, &st, done) || eval_due(r, done) || ckpt_due(r, done, interrupted)) return 1;
    return interrupted ? 2 : 0;
}

int train_main(Config *cfg_in, const char *resume_dir, int cfg_frames_given, const TrainHook *hook) {
    Run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "cpcrl train: out of memory\n");
        return 1;
    }
    r->cfg = *cfg_in;
    r->hook = hook;
    r->rank = dist_rank(), r->world = dist_size(), r->lead = r->rank == 0;
    r->logfd = r->evalfd = r->tracefd = -1;
    runlock_init(&r->lock);
    r->stale = cfg_in->lock_stale > 0 ? cfg_in->lock_stale : RUNLOCK_STALE_DEFAULT;
    // from the start, so a stop while the run is being set up is a clean stop
    // at its first update too (SIGHUP too: a closed terminal or dropped ssh
    // saves and stops)
    stop_catch(1, NULL);
    int status = run_paths(r, resume_dir);
    if (!status) status = run_start(r, cfg_frames_given);
    if (status) {
        free(r);
        return status;
    }
    const Config *cfg = &r->cfg;
    Trainer *tr = &r->tr;
    r->tty = isatty(STDERR_FILENO) && cfg->progress && r->lead;
    if (r->lead)
        fprintf(stderr,
                "cpcrl train: %s %s in %s | task %s, B=%d%s T=%d, CPC %s, %s, %d params | %.0f/%.0f frames\n",
                resume_dir ? "resuming" : "starting", cfg->name, r->dir, ENV_TASK_NAMES[cfg->task],
                cfg->envs * r->world, r->world > 1 ? " (over MPI ranks)" : "", cfg->unroll,
                tr->use_cpc ? "on" : "off", tr->cfg.precision == GEMM_BF16 ? "bf16" : "fp32",
                (int)tr->model.p.total, tr->frames, cfg->frames);
    r->t_start = r->t_row = progress_now();
    r->f_start = r->f_row = tr->frames;
    r->last_ret = NAN, r->ck_frames = tr->frames; // frames of the last checkpoint
    int interrupted = 0;
    while (tr->frames < cfg->frames) {
        const int rc = train_step(r);
        if (rc == 1) status = 1;
        if (rc == 2) interrupted = 1;
        if (rc) break;
    }
    if (r->tty) fprintf(stderr, "\n");
    status = run_close_files(r, status);
    if (status == 0 && r->lead) {
        fprintf(stderr, "cpcrl train: %s at %.0f frames; checkpoint %s\n",
                interrupted ? "interrupted, saved" : "done", tr->frames, r->ckpath);
        if (interrupted) fprintf(stderr, "  continue with: cpcrl train --resume %s\n", r->dir);
    }
    run_release(r);
    free(r);
    return status;
}
