// rundir.c — a training run's directory (run.h): paths, start or resume,
// the lock, config.txt, and the files the loop appends to.
//
// Run directory runs/NAME/: config.txt (every setting; --config loads it;
// rewritten from each checkpoint), log.csv (a row per --log-every frames,
// every write checked), model.ckpt (latest checkpoint: at update 0, then
// replaced atomically every --ckpt-every frames, at the end and on a signal),
// train.lock (one trainer per directory, also across hosts: base/runlock.h),
// eval.csv and best.ckpt (--eval-every: agent/evaluate.c), trace.csv
// (--trace-every: agent/trace.h). The CSV rows: agent/trainlog.h.
#include "agent/run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/dist.h"
#include "agent/trace.h"
#include "base/errs.h"
#include "base/file.h"

// The loop's state a checkpoint keeps beside the trainer's (ckpt.h:
// state/extra, state/log, state/logk): extra[0..2] the next log row,
// checkpoint and evaluation (0: no evaluations), extra[3], extra[4] the best
// evaluation's mean return and 1 once there is one (best.ckpt), extra[5] the
// held CPC trunk scale (--cpc-balance-every); then the log row being
// accumulated.
void run_pack(Run *r, double next_ckpt) {
    double *extra = r->extra;
    extra[0] = r->next_log, extra[1] = next_ckpt, extra[2] = r->evaluate ? r->next_eval : 0;
    extra[3] = r->best_eval > -INFINITY ? r->best_eval : 0, extra[4] = r->best_eval > -INFINITY;
    extra[5] = r->tr.bal_scale;
    logacc_pack(&r->acc, extra + CKPT_EXTRA_SCHED);
}

int run_paths(Run *r, const char *resume_dir) {
    r->resume_dir = resume_dir;
    if (resume_dir) {
        if (snprintf(r->dir, sizeof r->dir, "%s", resume_dir) >= (int)sizeof r->dir) {
            fprintf(stderr, "cpcrl train --resume: %s%s: path longer than %zu characters\n",
                    ERR_PATH(resume_dir), sizeof r->dir - 1);
            return 1;
        }
        size_t l = strlen(r->dir);
        while (l > 1 && r->dir[l - 1] == '/') r->dir[--l] = 0;
    } else {
        Config *cfg = &r->cfg;
        if (!cfg->name[0])
            snprintf(cfg->name, sizeof cfg->name, "%s%s-s%llu", ENV_TASK_NAMES[cfg->task],
                     cfg->cpc_weight > 0 ? "" : "-nocpc", (unsigned long long)cfg->seed);
        snprintf(r->dir, sizeof r->dir, "%s/%s", cfg->runs_dir, cfg->name);
    }
    snprintf(r->logpath, sizeof r->logpath, "%s/log.csv", r->dir);
    snprintf(r->cfgpath, sizeof r->cfgpath, "%s/config.txt", r->dir);
    snprintf(r->evalpath, sizeof r->evalpath, "%s/eval.csv", r->dir);
    snprintf(r->bestpath, sizeof r->bestpath, "%s/best.ckpt", r->dir);
    // rank 0 owns model.ckpt; other ranks keep their own env state beside it
    if (r->lead) snprintf(r->ckpath, sizeof r->ckpath, "%s/model.ckpt", r->dir);
    else snprintf(r->ckpath, sizeof r->ckpath, "%s/model.rank%d.ckpt", r->dir, r->rank);
    return 0;
}

// config.txt is the checkpoint's config as text, rewritten (atomically, when
// it changed) after every checkpoint, so it always matches model.ckpt.
int run_write_config_txt(Run *r) {
    const char *path = r->cfgpath;
    char *text = NULL, *err = r->err;
    const size_t errlen = sizeof r->err;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    if (!mf) return err_fail(err, errlen, "%s: out of memory", path);
    int bad = config_write(&r->tr.cfg, mf) < 0;
    if (fclose(mf) != 0 || bad) { free(text); return err_fail(err, errlen, "%s: out of memory", path); }
    if (r->cfgtext && !strcmp(r->cfgtext, text)) { free(text); return 0; }
    if (file_write_atomic(path, text, len, err, errlen) < 0) { free(text); return -1; }
    free(r->cfgtext);
    r->cfgtext = text;
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

int run_open_resume(Run *r, int cfg_frames_given) {
    char *err = r->err;
    const size_t errlen = sizeof r->err;
    struct stat st;
    if (stat(r->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cpcrl train --resume: %s%s: %s\n", ERR_PATH(r->dir),
                stat(r->dir, &st) < 0 ? strerror(errno) : "not a directory");
        return 1;
    }
    if (r->lead && runlock_acquire(&r->lock, r->dir, r->stale, "cpcrl train", err, errlen) != RUNLOCK_HELD) {
        fprintf(stderr, "cpcrl train --resume: %s\n", err);
        return 1;
    }
    if (access(r->ckpath, F_OK) < 0 && errno == ENOENT) {
        fprintf(stderr, "cpcrl train --resume: %s: cannot open: %s: the run stopped before its "
                "first checkpoint, so there is no checkpoint to resume from; start it again with "
                "'cpcrl train --config %s' (a fresh start reuses a directory without model.ckpt)\n",
                r->ckpath, strerror(ENOENT), r->cfgpath);
        return 1;
    }
    if (ckpt_read(&r->ck, r->ckpath, err, errlen) < 0) {
        fprintf(stderr, "cpcrl train --resume: %s\n", err);
        return 1;
    }
    if (r->lead && check_config_txt(&r->ck.cfg, r->cfgpath, r->ckpath, err, errlen) < 0) {
        fprintf(stderr, "cpcrl train --resume: %s\n", err);
        return 2;
    }
    double frames = r->cfg.frames;
    int threads = r->cfg.threads, progress = r->cfg.progress;
    r->cfg = r->ck.cfg;
    if (cfg_frames_given) r->cfg.frames = frames; // allow extending a run
    r->cfg.threads = threads, r->cfg.progress = progress;
    return 0;
}

int run_load_state(Run *r) {
    char *err = r->err;
    const size_t errlen = sizeof r->err;
    Trainer *tr = &r->tr;
    // validate everything before touching the run directory
    int rc = ckpt_load_trainer(&r->ck, tr, r->extra, err, errlen);
    ckpt_free(&r->ck);
    tr->bal_scale = (float)r->extra[5]; // --cpc-balance-every's held scale
    if (rc == 0) log_header_text(&r->want_header, tr->use_cpc ? tr->model.K : 0, tr->reuse, &tr->aux);
    // MPI: every rank's checkpoint must hold the same update (a crash
    // between two ranks' checkpoint writes leaves them apart, and ranks
    // resumed from different updates would pair different collective
    // calls): checked before anything in the directory is touched
    if (r->world > 1 && !dist_allreduce_max_i(rc < 0)) {
        uint64_t fbits;
        memcpy(&fbits, &tr->frames, sizeof fbits);
        const int same_u = dist_all_equal_u64((uint64_t)tr->updates), same_f = dist_all_equal_u64(fbits);
        if (!same_u || !same_f) {
            fprintf(stderr, "cpcrl train --resume: rank %d's checkpoint %s is at update %lld (%.0f frames), "
                    "and another rank's is not: the ranks' checkpoints are of different updates (a run "
                    "stopped between two ranks' checkpoint writes); nothing was changed; start the run "
                    "again, or put back checkpoints of one update\n",
                    r->rank, r->ckpath, (long long)tr->updates, tr->frames);
            return 1;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "cpcrl train --resume: %s: %s\n", r->ckpath, err);
        return 1;
    }
    if (r->lead && (rc = log_truncate(r->logpath, tr->frames, r->want_header.buf, err, errlen)) < 0) {
        fprintf(stderr, "cpcrl train --resume: %s\n", err);
        return 1;
    }
    if (r->lead && rc == 1) {
        fprintf(stderr, "cpcrl train --resume: %s is missing or has no header: starting a new "
                "one (rows before %.0f frames are not in it)\n", r->logpath, tr->frames);
        r->newlog = 1;
    }
    if (r->lead && r->evaluate) { // eval.csv: rows past the checkpoint are done again
        rc = log_truncate(r->evalpath, tr->frames, EVAL_HEADER, err, errlen);
        if (rc < 0) {
            fprintf(stderr, "cpcrl train --resume: %s\n", err);
            return 1;
        }
        r->neweval = rc == 1;
    }
    return 0;
}

int run_claim(Run *r) {
    char *err = r->err;
    const size_t errlen = sizeof r->err;
    const char *dir = r->dir;
    if (file_mkdir_p(dir) < 0) {
        fprintf(stderr, "cpcrl train: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (access(r->ckpath, F_OK) == 0) {
        // a run is there: never take another host's lock over for it (no stale limit);
        // a live holder is named, else the run is pointed at
        const char *who = "";
        if (runlock_acquire(&r->lock, dir, INFINITY, "cpcrl train", err, errlen) != RUNLOCK_HELD) {
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
        return 1;
    }
    if (runlock_acquire(&r->lock, dir, r->stale, "cpcrl train", err, errlen) != RUNLOCK_HELD) {
        fprintf(stderr, "cpcrl train: %s\n", err);
        return 1;
    }
    if (access(r->ckpath, F_OK) == 0) { // written meanwhile by the holder we found stale
        fprintf(stderr,
                "cpcrl train: %s already holds a run; continue it with --resume %s, or pick "
                "another --name\n", dir, dir);
        return 1;
    }
    if (access(r->logpath, F_OK) == 0 || access(r->cfgpath, F_OK) == 0)
        fprintf(stderr, "cpcrl train: %s holds a run stopped before its first checkpoint; "
                "starting it again\n", dir);
    return 0;
}

int run_first_checkpoint(Run *r) {
    run_pack(r, r->next_ckpt);
    if (r->lead && run_write_config_txt(r) < 0) {
        fprintf(stderr, "cpcrl train: %s\n", r->err);
        return 1;
    }
    if (ckpt_save(&r->tr, r->extra, r->ckpath, r->err, sizeof r->err) < 0) {
        fprintf(stderr, "cpcrl train: first checkpoint failed: %s\n", r->err);
        return 1;
    }
    return 0;
}

int run_open_files(Run *r) {
    if (r->cfg.trace_every > 0) {
        char tpath[1100];
        snprintf(tpath, sizeof tpath, "%s/trace.csv", r->dir);
        r->tracefd = open(tpath, O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND, 0644);
        struct stat tst;
        if (r->tracefd < 0 || fstat(r->tracefd, &tst) < 0 ||
            (tst.st_size == 0 && write_all(r->tracefd, trace_header(), strlen(trace_header())) < 0)) {
            fprintf(stderr, "cpcrl train: %s: %s\n", tpath, strerror(errno));
            return 1;
        }
    }
    if (r->evaluate) {
        r->evalfd = open(r->evalpath, O_WRONLY | O_CREAT | O_CLOEXEC | (r->neweval ? O_TRUNC : O_APPEND), 0644);
        if (r->evalfd < 0) {
            fprintf(stderr, "cpcrl train: cannot open %s: %s\n", r->evalpath, strerror(errno));
            return 1;
        }
        if (r->neweval && write_all(r->evalfd, EVAL_HEADER, strlen(EVAL_HEADER)) < 0) {
            fprintf(stderr, "cpcrl train: writing %s failed: %s\n", r->evalpath, strerror(errno));
            return 1;
        }
    }
    r->logfd = open(r->logpath, O_WRONLY | O_CREAT | O_CLOEXEC | (r->newlog ? O_TRUNC : O_APPEND), 0644);
    if (r->logfd < 0) {
        fprintf(stderr, "cpcrl train: cannot open %s: %s\n", r->logpath, strerror(errno));
        return 1;
    }
    if (r->newlog && log_header(r->logfd, r->K, r->tr.reuse, &r->tr.aux) < 0) {
        fprintf(stderr, "cpcrl train: writing %s failed: %s\n", r->logpath, strerror(errno));
        return 1;
    }
    return 0;
}

int run_close_files(Run *r, int status) {
    if (r->logfd >= 0 && close(r->logfd) != 0 && status == 0) {
        fprintf(stderr, "cpcrl train: writing %s failed: %s\n", r->logpath, strerror(errno));
        status = 1;
    }
    if (r->tracefd >= 0) close(r->tracefd);
    if (r->evalfd >= 0 && close(r->evalfd) != 0 && status == 0) {
        fprintf(stderr, "cpcrl train: writing %s failed: %s\n", r->evalpath, strerror(errno));
        status = 1;
    }
    r->logfd = r->tracefd = r->evalfd = -1;
    return status;
}

void run_release(Run *r) {
    runlock_release(&r->lock);
    free(r->cfgtext);
    r->cfgtext = NULL;
    evaluator_free(&r->ev);
    trainer_free(&r->tr);
}
