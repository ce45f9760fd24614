// config.h — every setting of cpcrl in one struct, and the table that maps
// each to a command-line flag (--cpc-weight 0.5), a config.txt key
// (cpc_weight = 0.5), a default, a valid range and a help line.
//
// The table is the single source of truth: `cpcrl help CMD`, flag parsing,
// config.txt writing and reading, and validation all walk it. Errors are
// returned as -1 with a message naming the flag/key, what was expected and
// what was given; nothing here prints or exits.
#ifndef CPCRL_CONFIG_H
#define CPCRL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "env/env.h"

enum { OPTIM_RMSPROP = 0, OPTIM_ADAM = 1 };
enum { INIT_TORCH = 0, INIT_ORTHOGONAL = 1 };
enum { CPC_NEG_BATCH = 0, CPC_NEG_ALL = 1 };
enum { POLICY_RANDOM = 0, POLICY_ORACLE = 1 };

typedef struct {
    // env
    int task, size, view, max_steps, items;
    // run
    char name[64];
    char runs_dir[256];
    uint64_t seed;
    double frames;
    int envs;          // B
    int unroll;        // T
    double log_every;  // frames between log rows
    double ckpt_every; // frames between checkpoints
    int threads;       // OpenBLAS threads (0 = library default)
    int progress;      // 0 off, 1 auto (line on a tty, plain rows otherwise)
    // model
    int conv1, conv2, latent, hidden; // channels, D, H
    int init;
    // a2c
    float gamma, gae_lambda, value_coef, entropy_coef, reward_clip;
    int bootstrap_trunc;
    float forget_bias;   // added to the LSTM forget gate's bias at init // 1 = bootstrap time-limit truncations from V(final observation)
    // optimizer
    int optim;
    float lr, alpha, eps, beta1, beta2, max_grad_norm;
    int lr_decay;
    // cpc
    float cpc_weight;
    int cpc_k, cpc_negatives, cpc_stop_target;
    // command extras (not written to config.txt)
    int episodes, policy, greedy;
    char record[256];
} Config;

// Option groups: which subcommand accepts what.
enum {
    G_ENV = 1 << 0, G_RUN = 1 << 1, G_MODEL = 1 << 2, G_A2C = 1 << 3,
    G_OPT = 1 << 4, G_CPC = 1 << 5, G_EVAL = 1 << 6, G_BASE = 1 << 7,
    G_TRAIN_ALL = G_ENV | G_RUN | G_MODEL | G_A2C | G_OPT | G_CPC,
};

void config_defaults(Config *c);
// Set one setting by key ("cpc-weight" or "cpc_weight") from a string,
// accepting only options in `groups`. Returns 0, or -1 with a message.
int config_set(Config *c, const char *key, const char *val, int groups, char *err,
               size_t errlen);
// Parse argv flags (--key value, --key=value, --flag for booleans) in
// `groups`. Positional arguments are collected into pos[] (at most max_pos).
// Returns the number of positionals, or -1 with a message.
int config_parse_args(Config *c, int argc, char **argv, int groups, char **pos,
                      int max_pos, char *err, size_t errlen);
// Cross-field checks (env config valid, K < T, B >= 2 with CPC, ...).
int config_check(const Config *c, char *err, size_t errlen);
// config.txt: every training setting as `key = value`, readable back.
int config_write(const Config *c, FILE *f);
// The training settings that differ between a and b (keys in `skip`, a
// NULL-terminated list, aside): "lr (A 0.5, B 0.0007), ..." into out, with
// aname/bname naming the two sides. Returns how many differ.
int config_diff(const Config *a, const Config *b, const char *const *skip, const char *aname,
                const char *bname, char *out, size_t n);
int config_load(Config *c, const char *path, char *err, size_t errlen);
// Parse config.txt text from memory (used by config_load and the fuzzer).
int config_parse_text(Config *c, const char *text, size_t len, const char *origin,
                      char *err, size_t errlen);
// Print the options of `groups` with defaults and help, for `cpcrl help`.
void config_print_help(FILE *f, int groups);
void config_env(const Config *c, EnvConfig *e);

#endif
