// probe.h — `cpcrl probe`: how much of the world an agent's representation
// holds, measured with linear read-outs (as in CPC|Action, Guo et al. 2018).
//
// A checkpoint is rolled out for E training episodes (env seed S) and E test
// episodes (env seed S + PROBE_TEST_SEED_OFFSET, so other mazes), B envs at a
// time, acting greedily or by sampling. At every step the LSTM output c_t and
// the latent z_t are stored with the true state the observation was taken
// in: the agent's cell (x, y), its heading (4-way) and, where the task has
// one, its goal (env_goal_label of env/tasks.h: the target cell, visible or
// hidden, or for a cue task the cue, i.e. the rewarded arm).
// Each label is a classification over the classes seen in training.
//
// Read-out: features standardized with the training mean and standard
// deviation; one-vs-rest ridge regression onto one-hot targets, closed form
//   W = (Xs^T Xs + lambda N I)^{-1} Xs^T (Y - mean Y)
// (N training rows, so lambda is per sample), solved with a Cholesky factor
// in double precision; Xs^T Xs and the test scores by OpenBLAS
// (cblas_dsyrk / cblas_dgemm). Prediction = argmax of Xs W + mean Y.
// Reported: held-out accuracy for c_t and z_t, and chance = the accuracy of
// always answering the most frequent training class.
#ifndef CPCRL_PROBE_H
#define CPCRL_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROBE_TEST_SEED_OFFSET 1000003ull

enum { PROBE_POS = 0, PROBE_HEADING = 1, PROBE_GOAL = 2, PROBE_NLABELS = 3 };
extern const char *const PROBE_LABEL_NAMES[PROBE_NLABELS];

typedef struct {
    int episodes;   // per split (train and test each)
    int envs;       // B
    uint64_t seed;  // training split env seed
    int greedy;
    double lambda;  // ridge strength per sample
    int threads;    // OpenBLAS threads (0 = all cores)
} ProbeOptions;

// `cpcrl probe`'s flags (cli/options.c's table): ProbeOptions, the CSV path
// and --save (cmd_probe of compare.h, readout_cmd_probe of readout.h).
typedef struct {
    int episodes, envs;
    uint64_t seed;
    int greedy;
    double lambda;
    int threads;
    char out[512];
    int save;           // --save: also write the read-outs beside the checkpoint (lab/readout.h)
} ProbeCli;

// Which checkpoint a probe measured: its frames (record state/frames) and
// its CRC32 (the file's last 4 bytes: zlib's CRC32 of every byte before
// them), so a probe.csv can be matched with the model.ckpt there now.
typedef struct {
    double frames;
    uint32_t crc;
} ProbeCkptId;

typedef struct {
    int task;
    int hidden;                        // H, the size of c_t
    int envs;                          // B actually rolled out (env b seeded rng_derive(seed, b))
    int has_ckpt;                      // ckpt known (probe.csv of older versions: not)
    ProbeCkptId ckpt;
    int episodes;                      // per split
    int n_train, n_test;               // samples (env steps)
    int has[PROBE_NLABELS];            // label exists for this task
    int classes[PROBE_NLABELS];        // classes seen in training
    double acc_c[PROBE_NLABELS], acc_z[PROBE_NLABELS], chance[PROBE_NLABELS];
} ProbeResult;

// The representations and labels of one split: row i is the step whose
// observation was taken in the state the labels describe.
typedef struct {
    int n, cap, H, D, envs;
    float *c, *z;               // (cap, H), (cap, D)
    int *lab[PROBE_NLABELS];    // (cap); -1 where the task has no such label
} ProbeSamples;

void probe_defaults(ProbeOptions *o);
// Run the probe on a checkpoint (file, or run directory holding model.ckpt).
// Returns 0, or -1 with a message naming the file and what failed.
int probe_run(const char *path, const ProbeOptions *o, ProbeResult *r, char *err, size_t errlen);
// probe_run that also hands back both splits' samples (the read-outs saved
// by `probe --save` are fitted on them, lab/readout.h); the caller frees
// them with probe_samples_free. On failure they are empty.
int probe_run_samples(const char *path, const ProbeOptions *o, ProbeResult *r, ProbeSamples *train,
                      ProbeSamples *test, char *err, size_t errlen);
void probe_samples_free(ProbeSamples *s);
// The accuracy table `cpcrl probe` prints.
void probe_print_table(FILE *f, const char *path, const ProbeOptions *o, const ProbeResult *r);
// probe.csv: label,has,classes,chance,acc_c,acc_z,n_train,n_test,task,episodes,
// ckpt_frames,ckpt_crc32 (one row per label; written atomically). The reader
// also takes the older file without the last two columns (has_ckpt 0).
int probe_write_csv(const ProbeResult *r, const char *path, char *err, size_t errlen);
int probe_read_csv(ProbeResult *r, const char *path, char *err, size_t errlen);
// The ProbeCkptId of a checkpoint file, from its record headers alone (a
// few small reads; neither its CRC nor its values are checked: loading it
// does that). 0, or -1 when it cannot be read as a checkpoint.
int probe_ckpt_id(const char *path, ProbeCkptId *id);

// ----------------------------------------------------------------------------
// The linear algebra (exposed for the tests). Row-major, double.

// In-place Cholesky A = L L^T of the symmetric positive definite A (n, n),
// reading the lower triangle; L is left in the lower triangle (the strict
// upper triangle is zeroed). Returns -1 when A is not positive definite.
int probe_cholesky(double *A, int n);
// Solve L L^T X = B for B (n, m) in place (m right-hand sides).
void probe_cholesky_solve(const double *L, int n, double *B, int m);
// Ridge regression without intercept: W (F, M) = (X^T X + lam I)^{-1} X^T Y
// for X (N, F), Y (N, M). G is an (F, F) workspace. Returns -1 when the
// system is singular (lam = 0 and X rank-deficient).
int probe_ridge(const double *X, int N, int F, const double *Y, int M, double lam, double *W,
                double *G);
// A fitted ridge read-out: standardization (mu, sc = 1/sd, 0 for a constant
// feature), the classes seen in training (cls[j] = the label of class j, in
// order of first appearance; map[label] = j or -1), W (F, M) and the class
// prior p = mean Y (M). Prediction: argmax_j (xs W)_j + p_j, xs = (x - mu) sc.
typedef struct {
    int F, M, maxlab, major;
    double *mu, *sc;
    int *cls, *map;
    double *W, *p;
} ProbeFit;
int probe_fit(ProbeFit *pf, const float *Xtr, const int *ytr, int Ntr, int F, double lambda);
// Held-out accuracy of pf on (Xte, yte), and chance (the majority training class).
int probe_fit_eval(const ProbeFit *pf, const float *Xte, const int *yte, int Nte, double *acc,
                   double *chance);
void probe_fit_free(ProbeFit *pf);
// Standardize, fit one-vs-rest ridge on (Xtr, ytr) and classify Xte:
// accuracy on yte and chance (majority training class). Labels are
// arbitrary non-negative ints. Returns -1 when out of memory or singular.
int probe_classify(const float *Xtr, const int *ytr, int Ntr, const float *Xte, const int *yte,
                   int Nte, int F, double lambda, double *acc, double *chance, int *classes);

#endif
