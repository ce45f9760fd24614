// config.h — every setting of cpcrl in one struct, and the table that maps
// each to a command-line flag (--cpc-weight 0.5), a config.txt key
// (cpc_weight = 0.5), a default, a valid range and a help line.
//
// The table is the single source of truth: `cpcrl help CMD`, flag parsing,
// config.txt writing and reading, and validation all walk it. A command's own
// settings, never stored in a run (compare's, probe's, the window commands'),
// are a second table of the same entries kept beside main.c (cli/options.c),
// which the parser and the help printer are given. Errors are returned as -1
// with a message naming the flag/key, what was expected and what was given;
// nothing here prints or exits.
#ifndef CPCRL_CONFIG_H
#define CPCRL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/optim.h" // OPT_RMSPROP / OPT_ADAM (optim)
#include "cpc/cpc.h"     // CPC_NEG_BATCH / CPC_NEG_ALL (cpc_negatives), CPC_MAX_K (cpc_k)
#include "env/env.h"

enum { INIT_TORCH = 0, INIT_ORTHOGONAL = 1 };
enum { POLICY_RANDOM = 0, POLICY_ORACLE = 1 };
enum { CPC_MODE_LINEAR = 0, CPC_MODE_ACTION = 1 }; // cpc_mode: W_k c_t, or CPC|A (cpc/cpca.h)

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
    double eval_every; // frames between evaluations on held-out env seeds (0 = off)
    int eval_episodes, eval_greedy; // episodes per evaluation; 1 = act greedily in them
    int precision;     // GEMM_FP32 / GEMM_BF16 (nn/gemm.h) / CONFIG_PRECISION_AUTO: the big matrix products
    // model
    int conv1, conv2, latent, hidden; // channels, D, H
    int init;
    // a2c
    float gamma, gae_lambda, value_coef, entropy_coef, reward_clip;
    int bootstrap_trunc; // 1 = bootstrap time-limit truncations from V(final observation)
    float forget_bias;   // added to the LSTM forget gate's bias at init
    int epochs, minibatches; // sample reuse: passes over each unroll, env groups per pass
    float clip;              // PPO ratio clip epsilon (0 = the plain policy-gradient term)
    int aux_epochs;          // sample reuse: the auxiliary losses on the first N passes only (0 = every pass)
    // optimizer
    int optim;
    float lr, alpha, eps, beta1, beta2, max_grad_norm;
    int lr_decay;
    float update_clip; // > 0: per-tensor RMS of the optimizer's normalized step capped at this (nn/optim.h)
    // cpc
    float cpc_weight;
    int cpc_k, cpc_negatives, cpc_stop_target;
    int cpc_k_weighting;   // CPC_KW_POOLED / CPC_KW_PER_K
    float cpc_trunk_ratio; // > 0: CPC's trunk gradient scaled to this x the A2C one's norm
    int cpc_balance_every; // the ratio's scale measured every N optimizer steps (1 = every step), held in between
    int cpc_mode, cpc_action_hidden; // CPC_MODE_*; CPC|A's GRU size
    float rp_weight;       // reward prediction's loss weight (agent/aux_rp.h; 0 = off)
    // command extras (not written to config.txt)
    int episodes, policy, greedy;
    char record[256];
    double record_every; // train --record-every: frames between recorded episodes (0 = off)
    double lock_stale;   // train --lock-stale: seconds without a heartbeat before a lock is stale
    int trace_every;     // train --trace-every: updates between trace.csv rows (0 = off; agent/trace.h)
} Config;

// ----------------------------------------------------------------------------
// The option tables: Config's run settings (agent/config.c), and a command's
// own settings (a CmdTable, e.g. cli/options.c's)

typedef enum { T_INT, T_U64, T_FLOAT, T_DOUBLE, T_STR, T_CHOICE, T_BOOL, T_WXH } OptType;

// Opt.flags
enum {
    OF_CMD = 1,      // a command's own setting (every entry of a CmdTable): off is into the
                     // table's values, not Config; never in config.txt or a checkpoint
    OF_NONEMPTY = 2, // "" is refused (a file or directory name)
    OF_QUIET = 4,    // a run setting written to config.txt only when not at its default (one
                     // added with a new auxiliary head: runs without it keep their config.txt)
};

#define CONFIG_BIG 1e15 // the top of a range that has none

typedef struct {
    const char *name;    // flag spelling without "--"; config.txt uses '_' for '-'
    OptType type;
    size_t off;
    size_t len;          // T_STR buffer size
    const char *def;     // default, as text (not range-checked: 0 may mean "none" or "automatic")
    double lo, hi;       // valid range (numbers; T_WXH: each side)
    const char *choices; // T_CHOICE: "a|b|c" -> 0,1,2
    int group;           // G_*: the commands that accept it, and its help section
    const char *help;
    int flags;           // OF_*
    const char *arg;     // help: what the value is ("N", "DIR"); NULL for run settings
    const char *shown;   // help: the default as shown, when not the value itself
    // A run setting whose default changed after cpcrl began writing config.txt:
    // the value a config.txt written by cpcrl (its first line is the header
    // config_write writes) means when it lacks the key, i.e. when it predates
    // the key. Such a file lists every setting of its time, so an absent key
    // had, in that run, the value it had before the key existed.
    const char *before;
} Opt;

// A command's own settings: n entries, each OF_CMD, whose offsets are into
// values (the struct that holds them; NULL when only printing help).
typedef struct {
    const Opt *opts;
    int n;
    void *values;
} CmdTable;

// Option groups: which subcommand accepts what.
enum {
    G_ENV = 1 << 0, G_RUN = 1 << 1, G_MODEL = 1 << 2, G_A2C = 1 << 3,
    G_OPT = 1 << 4, G_CPC = 1 << 5, G_EVAL = 1 << 6, G_BASE = 1 << 7,
    G_TRAIN_ALL = G_ENV | G_RUN | G_MODEL | G_A2C | G_OPT | G_CPC, // a run's settings: config.txt
    // command-only groups (never in config.txt or a checkpoint)
    G_TRAIN = 1 << 8,                                    // train's --config, --resume, --record-every
    G_CMP = 1 << 9, G_CMP_ARMS = 1 << 10, G_CMP_SCHED = 1 << 11, G_CMP_AGG = 1 << 12, // compare
    G_PROBE = 1 << 13,
    G_WATCH = 1 << 14, G_PLAY = 1 << 15, G_REPLAY = 1 << 16, G_WINDOW = 1 << 17,     // the window commands
    G_BENCH = 1 << 18,                                   // bench's --repeat
    G_COMPARE = G_CMP | G_CMP_ARMS | G_CMP_SCHED | G_CMP_AGG,
};

void config_defaults(Config *c);
// Every option of t[n] at its default, in values (the struct their offsets
// are into): what a CmdTable's owner starts from.
void config_table_defaults(void *values, const Opt *t, int n);
// Parse argv flags (--key value, --key=value, --flag for booleans) in
// `groups` into c (run settings) and cmd's values (the command's own
// settings; cmd may be NULL when `groups` holds none of them; a name in both
// tables is the run setting). Positional arguments are collected into pos[]
// (at most max_pos). With rest != NULL, a flag outside `groups` is not an
// error: it is copied to rest[] with its value (the next word unless it has
// '='), *nrest counting them (rest must hold argc entries). Returns the
// number of positionals, or -1 with a message.
int config_parse_args(Config *c, const CmdTable *cmd, int argc, char **argv, int groups, char **pos,
                      int max_pos, char **rest, int *nrest, char *err, size_t errlen);
// Cross-field checks (env config valid, K < T, B >= 2 with CPC, ...).
int config_check(const Config *c, char *err, size_t errlen);
// --precision auto: bf16 where this machine runs it (AVX512-BF16 or AMX-BF16,
// a build with oneDNN, CPCRL_NO_BF16 unset), else fp32. Resolved
// before a run starts (config_resolve_auto), so config.txt and checkpoints
// hold fp32 or bf16, never auto. A config.txt or checkpoint without the key
// predates bf16: fp32.
enum { CONFIG_PRECISION_AUTO = 2 };
// --precision auto made fp32 or bf16 for this machine; other values kept.
void config_resolve_auto(Config *c);
// What this machine runs of a valid config (training, bench, compare's arms):
// resolves --precision auto, then refuses bf16 where this machine lacks it.
// Not part of config_check, so a checkpoint trained elsewhere in bf16 still
// loads (eval, probe and the viewers fall back to fp32 products; trainer_init
// refuses to train it here). Returns 0, or -1 with a message.
int config_for_machine(Config *c, char *err, size_t errlen);
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
// Print the options of `groups` with defaults and help, by section, for
// `cpcrl help CMD`: within a section, cmd's options (NULL: none; its values
// are not read) before the run settings, each table in its order.
void config_print_help(FILE *f, int groups, const CmdTable *cmd);
void config_env(const Config *c, EnvConfig *e);

#endif
