// run.h — one `cpcrl train` run as the training loop and its run directory
// share it (agent/train.c: the loop; agent/rundir.c: the directory: paths,
// start or resume, the lock, config.txt, the files the loop appends to).
// Internal to agent/: train.h is the interface.
#ifndef CPCRL_RUN_H
#define CPCRL_RUN_H

#include "agent/ckpt.h"
#include "agent/train.h"
#include "agent/trainer.h"
#include "agent/trainlog.h"
#include "base/runlock.h"

typedef struct {
    Config cfg;
    const char *resume_dir;   // NULL: a fresh start
    const TrainHook *hook;
    int rank, world, lead;    // MPI (rank 0 leads: it owns the directory's files)
    char dir[1024], logpath[1100], cfgpath[1100], ckpath[1100], evalpath[1100], bestpath[1100];
    RunLock lock;
    double stale;             // seconds without a heartbeat before another host's lock is stale
    char *cfgtext;            // config.txt as last written
    Ckpt ck;                  // the checkpoint resumed from (freed once loaded)
    double extra[CKPT_EXTRA]; // the loop's state in a checkpoint (extra_pack)
    Trainer tr;
    Evaluator ev;
    int evaluate;             // --eval-every > 0
    int newlog, neweval;      // log.csv / eval.csv start anew (else appended to)
    Row want_header;          // log.csv's header for this run
    int K;                    // CPC steps logged (0: none)
    int logfd, evalfd, tracefd;
    // the schedule, and the row being accumulated
    double next_log, next_ckpt, next_eval, best_eval;
    LogAcc acc;
    // the loop's clock and progress line
    int tty;
    double t_start, f_start, t_row, f_row, last_ret, ck_frames;
    char err[4096];
} Run;

// agent/rundir.c
// The run's directory and file paths, from cfg (a fresh start: runs_dir/name,
// the name made up when empty) or resume_dir. 0, or 1 with a message.
int run_paths(Run *r, const char *resume_dir);
// --resume: the directory, its lock, model.ckpt read, config.txt agreeing with
// it; r->cfg becomes the checkpoint's (--frames may extend it). 0, or the
// exit status (1, 2: config.txt disagrees) with a message.
int run_open_resume(Run *r, int cfg_frames_given);
// --resume, once the trainer is built: its state from the checkpoint (every
// MPI rank's of the same update), log.csv and eval.csv cut back to it.
// 0, or 1 with a message; nothing in the directory changed on failure.
int run_load_state(Run *r);
// a fresh start: the directory made and locked (refused where a run is). 0, or 1.
int run_claim(Run *r);
// a fresh start's config.txt and first checkpoint (update 0). 0, or 1.
int run_first_checkpoint(Run *r);
// trace.csv, eval.csv, log.csv opened for appending (headers written where new). 0, or 1.
int run_open_files(Run *r);
// config.txt rewritten (atomically, when it changed) to say what the checkpoint holds
int run_write_config_txt(Run *r);
// the loop's state packed for a checkpoint (extra_pack's layout)
void run_pack(Run *r, double next_ckpt);
// close the files: status, or 1 when closing one failed and status was 0
int run_close_files(Run *r, int status);
// release the lock, free the trainer, the evaluator and what else the run holds
void run_release(Run *r);

#endif
