// trainlog.h — the training loop's CSV files: log.csv (a row per --log-every
// frames) and eval.csv (a row per evaluation), and the log row being
// accumulated as it is kept in a checkpoint ("state/log", "state/logk").
#ifndef CPCRL_TRAINLOG_H
#define CPCRL_TRAINLOG_H

#include <stddef.h>

#include "agent/ckpt.h"
#include "agent/train.h"

typedef struct {
    double n, pl, vl, ent, cpc, gn, lr;
    double acc[CPC_MAX_K];
    double accn[CPC_MAX_K];
    double lossk[CPC_MAX_K]; // per-k CPC loss x counted triples (the bound log N - L_k)
    EnvLog ep;
    double clipfrac, kl; // sample reuse only
    double gta, gtc, gtn; // trunk gradient norms (A2C, CPC) x steps measured, steps measured
    // the auxiliary heads' losses and log figures (Trainer.aux's order; the CPC
    // heads' stay 0: their figures are the cpc_* ones above)
    double aux[AUX_MAX_HEADS][1 + AUX_MAX_COLS];
} LogAcc;

// Rows are formatted whole into a buffer and written with write(2) on an fd
// (no stdio buffer that could hold half a row across a failure): a failed
// write stops the run (see train_main), and a row cut short by a full disk is
// dropped by log_truncate on resume.
typedef struct {
    char buf[8192];
    size_t len;
} Row;

void row_add(Row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// write(2) until done: 0, or -1 with errno set
int write_all(int fd, const char *p, size_t n);
// log.csv's header for a run with K CPC steps (0: none), sample reuse or not,
// and the auxiliary heads aux (their NAME_loss, NAME_<figure> columns; the CPC
// heads' are the cpc_* ones)
void log_header_text(Row *r, int K, int reuse, const AuxSet *aux);
int log_header(int fd, int K, int reuse, const AuxSet *aux);
// the figures of one update into the row being accumulated
void logacc_add(LogAcc *a, const Trainer *tr, const UpdateStats *st);
// one log.csv row of the accumulated updates a (sps: frames per second of the row)
int log_row(int fd, const Trainer *tr, const LogAcc *a, double sps, int K);
// the row being accumulated, into / out of a checkpoint's extra doubles
// (CKPT_EXTRA_LOG + CKPT_EXTRA_LOGK of them)
void logacc_pack(const LogAcc *a, double *x);
void logacc_unpack(LogAcc *a, const double *x);
// On resume: drop the rows past `frames` and a cut last line; an older header
// that `want` extends gets it, its rows "nan" in the new columns. 0, 1 when
// there is no log to continue (missing, or no whole header), or -1 with a message.
int log_truncate(const char *path, double frames, const char *want, char *err, size_t errlen);

#define EVAL_HEADER "frames,updates,episodes,return_mean,return_ci95,success_rate,episode_length,best\n"
// one eval.csv row (best: 1 when the return beats best_before)
int eval_row(int fd, const Trainer *tr, const EvalResult *e, double best_before);

#endif
