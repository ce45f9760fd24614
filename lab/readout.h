// readout.h — the linear read-outs `cpcrl probe RUN --save` keeps with a run
// (RUN/readout.bin), and what the viewer decodes from them: where the agent
// believes it is and where it believes the goal is, read from its LSTM
// output c_t.
//
// Fitted on the probe's training split (env seed S, B envs: env b seeded
// rng_derive(S, b)), on the probe's features: c_t standardized with the
// training mean and standard deviation, xs = (c - mu) * inv_sd. For every
// label the task has (position = the agent's cell, heading, goal = the goal
// cell / hidden platform, or tmaze's cue) two read-outs over the classes seen
// in training:
//   ridge    W, b = the probe's one-vs-rest ridge fit (probe.h), the one the
//            accuracy table reports; prediction argmax (xs W + b)
//   softmax  multinomial logistic regression, p = softmax(xs W + b), fitted
//            by READOUT_ITERS steps of full-batch Nesterov-accelerated
//            gradient descent on mean cross-entropy + lambda/2 ||W||^2 (the
//            probe's per-sample ridge strength), step 1/L with L = lambda_max
//            (Xs^T Xs / N, at least 1) / 2 + lambda (lambda_max by power
//            iteration), from W = 0, b = log prior: deterministic. This is
//            the distribution the viewer draws.
// Held-out (env seed S + PROBE_TEST_SEED_OFFSET) figures of both are stored:
// ridge accuracy and chance (as the table), softmax accuracy and the mean
// probability the softmax gives the true class.
//
// File (version 1, little-endian; written atomically, base/file.h):
//   "CPCRLRDO"                8-byte magic
//   u32 version               READOUT_VERSION (a newer one is refused naming both)
//   u32 task, F, nlabels      F = the LSTM size H; nlabels = PROBE_NLABELS (3)
//   u64 fit_seed              env seed S of the fitting split
//   u32 fit_envs, episodes, greedy, n_train, n_test
//   f64 lambda; u32 iters
//   f64 ckpt_frames; u32 ckpt_crc   the checkpoint fitted on (its frames, CRC32)
//   f32 mu[F], inv_sd[F]
//   per label (position, heading, goal):
//     u32 has, M              M classes (0 when the task has no such label)
//     f64 chance, acc_ridge, acc_soft, ptrue_soft   (held out)
//     i32 cls[M]              label of each class: cell y*ENV_MAX_SIZE+x,
//                             heading 0..3, tmaze cue 0/1
//     f32 ridge_w[F*M], ridge_b[M], soft_w[F*M], soft_b[M]   (F, M) row-major
//   u32 crc32                 zlib CRC-32 of every byte before it
// The loader validates all of it (sizes against the file's length before any
// allocation, every class in range and unique, every float finite, the labels
// the task has) before it returns a read-out.
#ifndef CPCRL_READOUT_H
#define CPCRL_READOUT_H

#include <stddef.h>
#include <stdint.h>

#include "env/env.h"
#include "lab/probe.h" // ProbeCli

#define READOUT_MAGIC "CPCRLRDO"
#define READOUT_VERSION 1
#define READOUT_FILE "readout.bin"
#define READOUT_CELLS (ENV_MAX_SIZE * ENV_MAX_SIZE) // every label value is below this
#define READOUT_MAX_F 8192                          // the largest --hidden
#define READOUT_ITERS 300

typedef struct {
    int has, M;
    int *cls;                      // (M)
    double chance, acc_ridge, acc_soft, ptrue_soft;
    float *ridge_w, *ridge_b;      // (F, M), (M)
    float *soft_w, *soft_b;        // (F, M), (M)
} ReadoutLabel;

typedef struct {
    int task, F;
    uint64_t fit_seed;
    int fit_envs, episodes, greedy, n_train, n_test, iters;
    double lambda;
    double ckpt_frames;
    uint32_t ckpt_crc;
    float *mu, *inv_sd;            // (F)
    ReadoutLabel lab[PROBE_NLABELS];
    float *fslab;                  // every float above, one allocation
    int *islab;                    // every cls, one allocation
} Readout;

// The decoded distributions of one c_t: p[l][v] is the softmax read-out's
// probability of label value v (0 for a value never seen in fitting).
// Scratch included, so decoding allocates nothing.
typedef struct {
    int has[PROBE_NLABELS];
    float p[PROBE_NLABELS][READOUT_CELLS];
    double xs[READOUT_MAX_F], s[READOUT_CELLS];
} ReadoutBelief;

// Fit every read-out from a probe's two splits (probe_run_samples), pr
// giving the task and the checkpoint's identity, o the seed, envs and lambda.
// 0, or -1 with a message (out of memory, a singular ridge system).
int readout_fit(Readout *r, const ProbeResult *pr, const ProbeSamples *train, const ProbeSamples *test,
                const ProbeOptions *o, char *err, size_t errlen);
void readout_free(Readout *r);

// Serialize into *out (malloc'd, *outlen bytes). 0, or -1 (out of memory).
int readout_encode(const Readout *r, uint8_t **out, size_t *outlen, char *err, size_t errlen);
int readout_save(const Readout *r, const char *path, char *err, size_t errlen);
// Validate and load from memory (origin names it in messages) or a file.
// On failure r is left empty (nothing to free).
int readout_parse(Readout *r, const uint8_t *buf, size_t len, const char *origin, char *err, size_t errlen);
int readout_load(Readout *r, const char *path, char *err, size_t errlen);
// Refuse read-outs fitted for another network or task: 0, or -1 with a
// message naming the file, what it was fitted for and what the checkpoint is.
int readout_check(const Readout *r, const char *path, int task, int hidden, const char *ckpt, char *err,
                  size_t errlen);
// 1 when env_seed is one of the fitting split's env seeds (an episode the
// read-outs were fitted on), else 0.
int readout_fitted_seed(const Readout *r, uint64_t env_seed);
// The directory path's file: DIR/readout.bin for a run directory, or beside
// a checkpoint file.
void readout_path_for(const char *ckpt_or_run, char *out, size_t n);

// Decode c (F floats) into b: in double precision, so that any finite
// weights give finite scores (a non-finite feature counts as 0).
void readout_apply(const Readout *r, const float *c, ReadoutBelief *b);

// `cpcrl probe CKPT|RUN --save`: the probe's table (and --out CSV) as
// without --save, then the read-outs fitted on the same training split and
// saved beside the checkpoint. Returns the exit code (0, 1, 2 usage).
int readout_cmd_probe(const ProbeCli *o, char **pos, int npos);

#endif
