// train.c — the training loop around the Trainer (see train.h).
//
// Run directory runs/NAME/: config.txt (every setting; --config loads it;
// rewritten from each checkpoint), log.csv (a row per --log-every frames,
// every write checked), model.ckpt (latest checkpoint: at update 0, then
// replaced atomically every --ckpt-every frames, at the end and on a signal),
// train.lock (one trainer per directory, also across hosts: base/runlock.h),
// eval.csv and best.ckpt (--eval-every: agent/evaluate.c), trace.csv
// (--trace-every: agent/trace.h). The CSV rows: agent/trainlog.h.
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

// The loop's state a checkpoint keeps beside the trainer's (ckpt.h:
// state/extra, state/log, state/logk): extra[0..2] the next log row,
// checkpoint and evaluation (0: no evaluations), extra[3], extra[4] the best
// evaluation's mean return and 1 once there is one (best.ckpt), extra[5] the
// held CPC trunk scale (--cpc-balance-every); then the log row being
// accumulated.
static void extra_pack(double *extra, const Trainer *tr, const LogAcc *acc, double next_log,
                       double next_ckpt, double next_eval, double best_eval) {
    extra[0] = next_log, extra[1] = next_ckpt, extra[2] = next_eval;
    extra[3] = best_eval > -INFINITY ? best_eval : 0, extra[4] = best_eval > -INFINITY;
    extra[5] = tr->bal_scale;
    logacc_pack(acc, extra + CKPT_EXTRA_SCHED);
}

// Checksum of the parameters (compared across MPI ranks).
static uint64_t param_checksum(const Model *m) {
    uint64_t h = 1469598103934665603ull;
    const uint8_t *p = (const uint8_t *)m->p.params;
    size_t n = m->p.total * sizeof(float);
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// config.txt is the checkpoint's config as text, rewritten (atomically, when
// it changed) after every checkpoint, so it always matches model.ckpt.
static int write_config_txt(const Config *cfg, const char *path, char **last, char *err,
                            size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    if (!mf) return err_fail(err, errlen, "%s: out of memory", path);
    int bad = config_write(cfg, mf) < 0;
    if (fclose(mf) != 0 || bad) { free(text); return err_fail(err, errlen, "%s: out of memory", path); }
    if (*last && !strcmp(*last, text)) { free(text); return 0; }
    if (file_write_atomic(path, text, len, err, errlen) < 0) { free(text); return -1; }
    free(*last);
    *last = text;
    return 0;
}

// On resume, config.txt must say what model.ckpt holds (a setting edited in
// config.txt cannot take effect: the checkpoint's settings rule). Settings
// the resume command may change are not compared. 0 when it agrees or is
// missing (it is rewritten at the next checkpoint); else -1 and a message.
static int check_config_txt(const Config *ck_cfg, const char *path, const char *ckpath, char *err,
                            size_t errlen) {
    static const char *const RUNTIME[] = {"frames", "threads", "progress", NULL};
    if (access(path, F_OK) < 0 && errno == ENOENT) return 0;
    Config txt;
    config_defaults(&txt);
    char msg[1024];
    if (config_load(&txt, path, msg, sizeof msg) < 0)
        return err_fail(err, errlen, "%s; the run's settings are those stored in %s: undo the edit, "
                        "or delete config.txt to have it rewritten from them", msg, ckpath);
    char diff[1024];
    if (config_diff(&txt, ck_cfg, RUNTIME, "config.txt", "model.ckpt", diff, sizeof diff) > 0)
        return err_fail(err, errlen, "%s differs from the settings stored in %s: %s. A resumed run "
                        "keeps its settings: undo the edit (or delete config.txt to have it rewritten "
                        "from model.ckpt), or start a new run with --config %s --name NEW",
                        path, ckpath, diff, path);
    return 0;
}

int train_main(Config *cfg_in, const char *resume_dir, int cfg_frames_given, const TrainHook *hook) {
    char err[4096], dir[1024];
    Config cfg = *cfg_in;
    Ckpt ck = {0};
    double extra[CKPT_EXTRA] = {0};
    const int rank = dist_rank(), world = dist_size(), lead = rank == 0;
    char logpath[1100], cfgpath[1100], ckpath[1100], evalpath[1100], bestpath[1100];
    int fail = 0;
    RunLock lock;
    runlock_init(&lock);
    const double stale = cfg_in->lock_stale > 0 ? cfg_in->lock_stale : RUNLOCK_STALE_DEFAULT;
    char *cfgtext = NULL; // config.txt as last written

    if (resume_dir) {
        if (snprintf(dir, sizeof dir, "%s", resume_dir) >= (int)sizeof dir) {
            fprintf(stderr, "cpcrl train --resume: %s%s: path longer than %zu characters\n",
                    ERR_PATH(resume_dir), sizeof dir - 1);
            return 1;
        }
        size_t l = strlen(dir);
        while (l > 1 && dir[l - 1] == '/') dir[--l] = 0;
    } else {
        if (!cfg.name[0])
            snprintf(cfg.name, sizeof cfg.name, "%s%s-s%llu", ENV_TASK_NAMES[cfg.task],
                     cfg.cpc_weight > 0 ? "" : "-nocpc", (unsigned long long)cfg.seed);
        snprintf(dir, sizeof dir, "%s/%s", cfg.runs_dir, cfg.name);
    }
    snprintf(logpath, sizeof logpath, "%s/log.csv", dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/config.txt", dir);
    snprintf(evalpath, sizeof evalpath, "%s/eval.csv", dir);
    snprintf(bestpath, sizeof bestpath, "%s/best.ckpt", dir);
    // rank 0 owns model.ckpt; other ranks keep their own env state beside it
    if (lead) snprintf(ckpath, sizeof ckpath, "%s/model.ckpt", dir);
    else snprintf(ckpath, sizeof ckpath, "%s/model.rank%d.ckpt", dir, rank);

    if (resume_dir) {
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "cpcrl train --resume: %s%s: %s\n", ERR_PATH(dir),
                    stat(dir, &st) < 0 ? strerror(errno) : "not a directory");
            fail = 1;
        } else if (lead && runlock_acquire(&lock, dir, stale, "cpcrl train", err, sizeof err) != RUNLOCK_HELD) {
            fprintf(stderr, "cpcrl train --resume: %s\n", err);
            fail = 1;
        } else if (access(ckpath, F_OK) < 0 && errno == ENOENT) {
            fprintf(stderr, "cpcrl train --resume: %s: cannot open: %s: the run stopped before its "
                    "first checkpoint, so there is no checkpoint to resume from; start it again with "
                    "'cpcrl train --config %s' (a fresh start reuses a directory without model.ckpt)\n",
                    ckpath, strerror(ENOENT), cfgpath);
            fail = 1;
        } else if (ckpt_read(&ck, ckpath, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl train --resume: %s\n", err);
            fail = 1;
        } else if (lead && check_config_txt(&ck.cfg, cfgpath, ckpath, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl train --resume: %s\n", err);
            fail = 2;
        } else {
            double frames = cfg.frames;
            int threads = cfg.threads, progress = cfg.progress;
            cfg = ck.cfg;
            if (cfg_frames_given) cfg.frames = frames; // allow extending a run
            cfg.threads = threads, cfg.progress = progress;
        }
    }
    if (!fail && config_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl train: %s\n", err);
        fail = 1;
    }
    if ((fail = dist_allreduce_max_i(fail))) {
        ckpt_free(&ck);
        runlock_release(&lock);
        return fail;
    }

    blas_set_threads(cfg.threads);
    Trainer tr;
    int init_bad = trainer_init(&tr, &cfg, err, sizeof err) < 0;
    if (init_bad) fprintf(stderr, "cpcrl train: %s\n", err);
    if (dist_allreduce_max_i(init_bad)) { // every rank stops together
        if (!init_bad) trainer_free(&tr);
        ckpt_free(&ck);
        runlock_release(&lock);
        return 1;
    }
    // the evaluator is built on every rank (trainer_init is collective under
    // MPI); rank 0 alone evaluates
    Evaluator ev = {0};
    const int evaluate = cfg.eval_every > 0;
    int ev_bad = evaluate && evaluator_init(&ev, &tr.cfg, err, sizeof err) < 0;
    if (ev_bad) fprintf(stderr, "cpcrl train: %s\n", err);
    if (dist_allreduce_max_i(ev_bad)) {
        evaluator_free(&ev);
        trainer_free(&tr);
        ckpt_free(&ck);
        runlock_release(&lock);
        return 1;
    }
    int newlog = !resume_dir, neweval = !resume_dir;
    Row want_header = {.len = 0}; // log.csv's header for this run (set once the trainer is built)
    if (resume_dir) {
        // validate everything before touching the run directory
        int rc = ckpt_load_trainer(&ck, &tr, extra, err, sizeof err);
        ckpt_free(&ck);
        tr.bal_scale = (float)extra[5]; // --cpc-balance-every's held scale
        if (rc == 0) log_header_text(&want_header, tr.use_cpc ? tr.model.K : 0, tr.reuse, &tr.aux);
        // MPI: every rank's checkpoint must hold the same update (a crash
        // between two ranks' checkpoint writes leaves them apart, and ranks
        // resumed from different updates would pair different collective
        // calls): checked before anything in the directory is touched
        int apart = 0;
        if (world > 1 && !dist_allreduce_max_i(rc < 0)) {
            uint64_t fbits;
            memcpy(&fbits, &tr.frames, sizeof fbits);
            const int same_u = dist_all_equal_u64((uint64_t)tr.updates), same_f = dist_all_equal_u64(fbits);
            apart = !same_u || !same_f;
            if (apart)
                fprintf(stderr, "cpcrl train --resume: rank %d's checkpoint %s is at update %lld (%.0f frames), "
                        "and another rank's is not: the ranks' checkpoints are of different updates (a run "
                        "stopped between two ranks' checkpoint writes); nothing was changed; start the run "
                        "again, or put back checkpoints of one update\n",
                        rank, ckpath, (long long)tr.updates, tr.frames);
        }
        if (apart) {
            fail = 1;
        } else if (rc < 0) {
            fprintf(stderr, "cpcrl train --resume: %s: %s\n", ckpath, err);
            fail = 1;
        } else if (lead && (rc = log_truncate(logpath, tr.frames, want_header.buf, err, sizeof err)) < 0) {
            fprintf(stderr, "cpcrl train --resume: %s\n", err);
            fail = 1;
        } else if (lead && rc == 1) {
            fprintf(stderr, "cpcrl train --resume: %s is missing or has no header: starting a new "
                    "one (rows before %.0f frames are not in it)\n", logpath, tr.frames);
            newlog = 1;
        }
        if (!fail && lead && evaluate) { // eval.csv: rows past the checkpoint are done again
            rc = log_truncate(evalpath, tr.frames, EVAL_HEADER, err, sizeof err);
            if (rc < 0) {
                fprintf(stderr, "cpcrl train --resume: %s\n", err);
                fail = 1;
            }
            neweval = rc == 1;
        }
    } else if (lead) {
        if (file_mkdir_p(dir) < 0) {
            fprintf(stderr, "cpcrl train: cannot create %s: %s\n", dir, strerror(errno));
            fail = 1;
        } else if (access(ckpath, F_OK) == 0) {
            // a run is there: never take another host's lock over for it (no stale limit);
            // a live holder is named, else the run is pointed at
            const char *who = "";
            if (runlock_acquire(&lock, dir, INFINITY, "cpcrl train", err, sizeof err) != RUNLOCK_HELD) {
                char *p = strstr(err, "in use by another process (");
                if (p) {
                    p += strlen("in use by another process ");
                    char *q = strchr(p, ';');
                    if (q) *q++ = ')', *q = 0;
                    who = p;
                }
            }
            fprintf(stderr,
                    "cpcrl train: %s already holds a run%s%s; continue it with --resume %s, or pick "
                    "another --name\n", dir, who[0] ? ", in use by " : "", who, dir);
            fail = 1;
        } else if (runlock_acquire(&lock, dir, stale, "cpcrl train", err, sizeof err) != RUNLOCK_HELD) {
            fprintf(stderr, "cpcrl train: %s\n", err);
            fail = 1;
        } else if (access(ckpath, F_OK) == 0) { // written meanwhile by the holder we found stale
            fprintf(stderr,
                    "cpcrl train: %s already holds a run; continue it with --resume %s, or pick "
                    "another --name\n", dir, dir);
            fail = 1;
        } else if (access(logpath, F_OK) == 0 || access(cfgpath, F_OK) == 0) {
            fprintf(stderr, "cpcrl train: %s holds a run stopped before its first checkpoint; "
                    "starting it again\n", dir);
        }
    }
    // the schedule, and the row being accumulated (a checkpoint between rows)
    double next_log = resume_dir ? extra[0] : cfg.log_every;
    double next_ckpt = resume_dir ? extra[1] : cfg.ckpt_every;
    // (extra_pack's layout; a checkpoint from before evaluations has
    // extra[2] = 0: the next multiple of --eval-every)
    double next_eval = resume_dir && extra[2] > 0 ? extra[2] : cfg.eval_every;
    if (evaluate && resume_dir && !(extra[2] > 0))
        next_eval = (floor(tr.frames / cfg.eval_every) + 1) * cfg.eval_every;
    double best_eval = extra[4] > 0 ? extra[3] : -INFINITY;
    LogAcc acc;
    memset(&acc, 0, sizeof acc);
    if (resume_dir) logacc_unpack(&acc, extra + CKPT_EXTRA_SCHED);
    // a fresh run writes config.txt and its first checkpoint (update 0)
    // before log.csv: whatever exists can be resumed (every rank waits for
    // rank 0 to have made the directory)
    fail = dist_allreduce_max_i(fail);
    if (!fail && !resume_dir) {
        extra_pack(extra, &tr, &acc, next_log, next_ckpt, evaluate ? next_eval : 0, best_eval);
        if (lead && write_config_txt(&tr.cfg, cfgpath, &cfgtext, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl train: %s\n", err);
            fail = 1;
        } else if (ckpt_save(&tr, extra, ckpath, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl train: first checkpoint failed: %s\n", err);
            fail = 1;
        }
    }
    int logfd = -1, evalfd = -1, tracefd = -1;
    const int K = tr.use_cpc ? tr.model.K : 0;
    if (!fail && lead && cfg.trace_every > 0) {
        char tpath[1100];
        snprintf(tpath, sizeof tpath, "%s/trace.csv", dir);
        tracefd = open(tpath, O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND, 0644);
        struct stat tst;
        if (tracefd < 0 || fstat(tracefd, &tst) < 0 ||
            (tst.st_size == 0 && write_all(tracefd, trace_header(), strlen(trace_header())) < 0)) {
            fprintf(stderr, "cpcrl train: %s: %s\n", tpath, strerror(errno));
            fail = 1;
        }
    }
    if (!fail && lead && evaluate) {
        evalfd = open(evalpath, O_WRONLY | O_CREAT | O_CLOEXEC | (neweval ? O_TRUNC : O_APPEND), 0644);
        if (evalfd < 0) {
            fprintf(stderr, "cpcrl train: cannot open %s: %s\n", evalpath, strerror(errno));
            fail = 1;
        } else if (neweval && write_all(evalfd, EVAL_HEADER, strlen(EVAL_HEADER)) < 0) {
            fprintf(stderr, "cpcrl train: writing %s failed: %s\n", evalpath, strerror(errno));
            fail = 1;
        }
    }
    if (!fail && lead) {
        logfd = open(logpath, O_WRONLY | O_CREAT | O_CLOEXEC | (newlog ? O_TRUNC : O_APPEND), 0644);
        if (logfd < 0) {
            fprintf(stderr, "cpcrl train: cannot open %s: %s\n", logpath, strerror(errno));
            fail = 1;
        } else if (newlog && log_header(logfd, K, tr.reuse, &tr.aux) < 0) {
            fprintf(stderr, "cpcrl train: writing %s failed: %s\n", logpath, strerror(errno));
            fail = 1;
        }
    }
    if (dist_allreduce_max_i(fail)) {
        if (logfd >= 0) close(logfd);
        if (evalfd >= 0) close(evalfd);
        if (tracefd >= 0) close(tracefd);
        runlock_release(&lock);
        free(cfgtext);
        evaluator_free(&ev);
        trainer_free(&tr);
        return 1;
    }

    stop_catch(1, NULL); // SIGHUP too: a closed terminal or dropped ssh saves and stops

    int tty = isatty(STDERR_FILENO) && cfg.progress && lead;
    if (lead)
        fprintf(stderr,
                "cpcrl train: %s %s in %s | task %s, B=%d%s T=%d, CPC %s, %s, %d params | %.0f/%.0f frames\n",
                resume_dir ? "resuming" : "starting", cfg.name, dir, ENV_TASK_NAMES[cfg.task],
                cfg.envs * world, world > 1 ? " (over MPI ranks)" : "", cfg.unroll,
                tr.use_cpc ? "on" : "off", tr.cfg.precision == GEMM_BF16 ? "bf16" : "fp32",
                (int)tr.model.p.total, tr.frames, cfg.frames);

    double t_start = progress_now(), f_start = tr.frames, t_row = t_start, f_row = tr.frames;
    double last_ret = NAN, ck_frames = tr.frames; // frames of the last checkpoint
    int status = 0, interrupted = 0;
    while (tr.frames < cfg.frames) {
        trainer_rollout(&tr);
        UpdateStats st;
        if (hook && hook->before_update) hook->before_update(hook->before_ctx, &tr);
        tr.measure_trunk = tr.frames >= next_log || tr.frames >= cfg.frames; // closes a row
        int bad = trainer_update(&tr, &st, trainer_lr(&tr)) < 0;
        if (dist_allreduce_max_i(bad)) {
            if (lead)
                fprintf(stderr,
                        "\ncpcrl train: non-finite %s at update %lld (loss %g: policy %g, value %g, "
                        "entropy %g, cpc %g; grad norm %g); stopping, last good checkpoint kept in %s "
                        "(%.0f frames)\n",
                        !isfinite(st.loss) ? "loss" : "gradient", (long long)tr.updates + 1, st.loss,
                        st.policy_loss, st.value_loss, st.entropy, st.cpc_loss, st.grad_norm, ckpath,
                        ck_frames);
            status = 1;
            break;
        }
        if (tracefd >= 0 && tr.updates % cfg.trace_every == 0) {
            char trow[2048];
            size_t tl = trace_row(trow, sizeof trow, &tr, &st, st.lr);
            if (tl > 0 && write_all(tracefd, trow, tl) < 0) {
                fprintf(stderr, "\ncpcrl train: writing trace.csv failed: %s; tracing stops\n", strerror(errno));
                close(tracefd);
                tracefd = -1;
            }
        }
        logacc_add(&acc, &tr, &st);
        acc.ep.episodes += tr.ep.episodes, acc.ep.ret += tr.ep.ret;
        acc.ep.length += tr.ep.length, acc.ep.success += tr.ep.success;
        memset(&tr.ep, 0, sizeof tr.ep);
        if (hook && hook->after_update) hook->after_update(hook->ctx, &tr, dir);
        // the lock's heartbeat; a lock taken over (this host looked dead) stops
        // the run at once: another process may be writing the directory
        int lost = lead && runlock_beat(&lock, 0, err, sizeof err) < 0;
        if (lost) fprintf(stderr, "\ncpcrl train: %s; stopping without a checkpoint\n", err);
        int halt = dist_allreduce_max_i(lost ? 2 : stop_requested() ? 1 : 0); // every rank stops together
        if (halt == 2) {
            status = 1;
            break;
        }
        if (halt) interrupted = 1;
        if (world > 1 && tr.updates % 100 == 0 && !dist_all_equal_u64(param_checksum(&tr.model))) {
            if (lead)
                fprintf(stderr, "\ncpcrl train: parameters differ across MPI ranks at update %lld\n",
                        (long long)tr.updates);
            status = 1;
            break;
        }

        int done = tr.frames >= cfg.frames;
        // an interrupt writes no row: the row being accumulated goes into the
        // checkpoint, so an interrupted-and-resumed run logs the same rows as
        // one that never stopped
        if (tr.frames >= next_log || done) {
            double epsum[4] = {acc.ep.episodes, acc.ep.ret, acc.ep.length, acc.ep.success};
            dist_allreduce_sum_d(epsum, 4); // episode stats of every rank
            acc.ep.episodes = (float)epsum[0], acc.ep.ret = (float)epsum[1];
            acc.ep.length = (float)epsum[2], acc.ep.success = (float)epsum[3];
            double t = progress_now();
            double sps = (tr.frames - f_row) / (t - t_row > 1e-9 ? t - t_row : 1e-9);
            // a row that cannot be written stops the run like a failed
            // checkpoint: no checkpoint past a row the log does not have
            int lfail = lead && log_row(logfd, &tr, &acc, sps, K) < 0;
            if (lfail)
                fprintf(stderr, "\ncpcrl train: writing %s failed: %s; stopping (the checkpoint at "
                        "%.0f frames is kept; resume with --resume %s)\n", logpath, strerror(errno),
                        ck_frames, dir);
            if (dist_allreduce_max_i(lfail)) {
                status = 1;
                break;
            }
            if (acc.ep.episodes > 0) last_ret = acc.ep.ret / acc.ep.episodes;
            memset(&acc, 0, sizeof acc);
            t_row = t, f_row = tr.frames;
            while (next_log <= tr.frames) next_log += cfg.log_every;
            if (cfg.progress && lead) {
                double el = t - t_start, rate = (tr.frames - f_start) / (el > 1e-9 ? el : 1e-9);
                char fr[32], tot[32], eta[32];
                progress_count(fr, sizeof fr, tr.frames);
                progress_count(tot, sizeof tot, cfg.frames);
                progress_time(eta, sizeof eta, (cfg.frames - tr.frames) / rate);
                char cpcs[64] = "";
                if (K > 0 && st.cpc_count > 0)
                    snprintf(cpcs, sizeof cpcs, " | cpc acc k1 %.2f k%d %.2f", st.cpc_acc[0], K,
                             st.cpc_acc[K - 1]);
                fprintf(stderr, "%s%s %s/%s frames %3.0f%% | %.0f SPS | return %.3g%s | ETA %s%s",
                        tty ? "\r\033[K" : "", cfg.name, fr, tot, 100.0 * tr.frames / cfg.frames,
                        rate, last_ret, cpcs, eta, tty ? "" : "\n");
            }
        }
        // evaluations on their own schedule, and at the end (rank 0; the
        // others go on to the next collective call)
        if (evaluate && (tr.frames >= next_eval || done)) {
            while (next_eval <= tr.frames) next_eval += cfg.eval_every;
            int efail = 0;
            if (lead) {
                EvalResult er;
                evaluator_run(&ev, &tr.model, &er);
                efail = eval_row(evalfd, &tr, &er, best_eval) < 0;
                if (efail)
                    fprintf(stderr, "\ncpcrl train: writing %s failed: %s; stopping (the checkpoint at "
                            "%.0f frames is kept; resume with --resume %s)\n", evalpath, strerror(errno),
                            ck_frames, dir);
                const int better = er.mean_return > best_eval;
                if (!efail && better) {
                    // best.ckpt: this state, written atomically like model.ckpt
                    best_eval = er.mean_return;
                    double nc = next_ckpt; // as the checkpoint below will store it
                    while (nc <= tr.frames) nc += cfg.ckpt_every;
                    extra_pack(extra, &tr, &acc, next_log, nc, next_eval, best_eval);
                    if (ckpt_save(&tr, extra, bestpath, err, sizeof err) < 0) {
                        fprintf(stderr, "\ncpcrl train: best checkpoint failed: %s\n", err);
                        efail = 1;
                    }
                }
                if (cfg.progress && !efail)
                    fprintf(stderr, "%s%s eval at %.0f frames: return %.3g ± %.2g, success %.2f%s%s",
                            tty ? "\r\033[K" : "", cfg.name, tr.frames, er.mean_return, er.ci95, er.success,
                            better ? ", best so far: best.ckpt" : "", "\n");
            }
            if (dist_allreduce_max_i(efail)) {
                status = 1;
                break;
            }
        }
        // checkpoints on their own schedule (also between log rows)
        if (tr.frames >= next_ckpt || done || interrupted) {
            while (next_ckpt <= tr.frames) next_ckpt += cfg.ckpt_every;
            extra_pack(extra, &tr, &acc, next_log, next_ckpt, evaluate ? next_eval : 0, best_eval);
            int ckfail = 0;
            // the rows the checkpoint covers are on disk before it is
            if (lead && fsync(logfd) < 0 && errno != EINVAL) {
                snprintf(err, sizeof err, "%s: fsync failed: %s", logpath, strerror(errno));
                ckfail = 1;
            }
            if (!ckfail && evalfd >= 0 && fsync(evalfd) < 0 && errno != EINVAL) {
                snprintf(err, sizeof err, "%s: fsync failed: %s", evalpath, strerror(errno));
                ckfail = 1;
            }
            if (!ckfail && ckpt_save(&tr, extra, ckpath, err, sizeof err) < 0) ckfail = 1;
            if (!ckfail && lead && write_config_txt(&tr.cfg, cfgpath, &cfgtext, err, sizeof err) < 0)
                ckfail = 1;
            if (ckfail) fprintf(stderr, "\ncpcrl train: checkpoint failed: %s\n", err);
            if (dist_allreduce_max_i(ckfail)) {
                status = 1;
                break;
            }
            ck_frames = tr.frames;
        }
        if (interrupted) break;
    }
    if (tty) fprintf(stderr, "\n");
    if (logfd >= 0 && close(logfd) != 0 && status == 0) {
        fprintf(stderr, "cpcrl train: writing %s failed: %s\n", logpath, strerror(errno));
        status = 1;
    }
    if (tracefd >= 0) close(tracefd);
    if (evalfd >= 0 && close(evalfd) != 0 && status == 0) {
        fprintf(stderr, "cpcrl train: writing %s failed: %s\n", evalpath, strerror(errno));
        status = 1;
    }
    if (status == 0 && lead) {
        fprintf(stderr, "cpcrl train: %s at %.0f frames; checkpoint %s\n",
                interrupted ? "interrupted, saved" : "done", tr.frames, ckpath);
        if (interrupted) fprintf(stderr, "  continue with: cpcrl train --resume %s\n", dir);
    }
    runlock_release(&lock);
    free(cfgtext);
    evaluator_free(&ev);
    trainer_free(&tr);
    return status;
}
