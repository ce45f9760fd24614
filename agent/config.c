// config.c — the run settings' option table, and everything that walks option
// tables: flag parsing, help, defaults, config.txt (see config.h).
#include "agent/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm.h"
#include "base/errs.h"
#include "base/file.h"

// ----------------------------------------------------------------------------
// The table

#define O(f) offsetof(Config, f)
#define CONFIG_HEADER "# cpcrl config:" // config_write's first line begins so
#define BIG CONFIG_BIG
// flags, arg and shown are optional: a run setting's line ends at its help
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const Opt OPTS[] = {
    // env
    {"task", T_CHOICE, O(task), 0, "goal", 0, 0, ENV_TASK_CHOICES, G_ENV,
     "task to run"},
    {"size", T_INT, O(size), 0, "0", 0, ENV_MAX_SIZE, NULL, G_ENV,
     "grid side incl. walls (0 = the task's default)"},
    {"view", T_INT, O(view), 0, "7", 3, ENV_MAX_VIEW, NULL, G_ENV, "egocentric view side V (odd)"},
    {"max-steps", T_INT, O(max_steps), 0, "0", 0, 1e6, NULL, G_ENV,
     "episode time limit (0 = the task's default)"},
    {"items", T_INT, O(items), 0, "-1", -1, 1000, NULL, G_ENV,
     ENV_ITEMS_HELP " (-1 = default)"},
    // run
    {"name", T_STR, O(name), sizeof(((Config *)0)->name), "", 0, 0, NULL, G_RUN,
     "run name: writes runs/NAME/ (default TASK-sSEED)"},
    {"runs-dir", T_STR, O(runs_dir), sizeof(((Config *)0)->runs_dir), "runs", 0, 0, NULL, G_RUN,
     "directory holding run directories"},
    {"seed", T_U64, O(seed), 0, "1", 0, 0, NULL, G_RUN | G_EVAL | G_BASE, "random seed"},
    {"frames", T_DOUBLE, O(frames), 0, "2e6", 1, BIG, NULL, G_RUN, "env frames to train for"},
    {"envs", T_INT, O(envs), 0, "32", 1, 4096, NULL, G_RUN, "parallel envs B"},
    {"unroll", T_INT, O(unroll), 0, "20", 1, 1000, NULL, G_RUN, "unroll length T (BPTT window)"},
    {"log-every", T_DOUBLE, O(log_every), 0, "2e4", 1, BIG, NULL, G_RUN,
     "frames between log.csv rows"},
    {"ckpt-every", T_DOUBLE, O(ckpt_every), 0, "2.5e5", 1, BIG, NULL, G_RUN,
     "frames between checkpoints"},
    {"threads", T_INT, O(threads), 0, "0", 0, 256, NULL, G_RUN | G_EVAL,
     "OpenBLAS threads (0 = all cores)"},
    {"progress", T_INT, O(progress), 0, "1", 0, 1, NULL, G_RUN, "progress output (0 = quiet)"},
    {"eval-every", T_DOUBLE, O(eval_every), 0, "1e5", 0, BIG, NULL, G_RUN,
     "every N frames and at the end, evaluate on held-out env seeds (1000000 + seed): a row of "
     "runs/NAME/eval.csv; the best evaluation's checkpoint is kept as best.ckpt", 0, NULL, "1e5; 0 = off"},
    {"eval-episodes", T_INT, O(eval_episodes), 0, "32", 1, 100000, NULL, G_RUN,
     "episodes per evaluation (--eval-every)"},
    {"eval-greedy", T_BOOL, O(eval_greedy), 0, "0", 0, 1, NULL, G_RUN,
     "evaluate acting greedily (argmax) instead of sampling (--eval-every)"},
    {"precision", T_CHOICE, O(precision), 0, "fp32", 0, 0, "fp32|bf16|auto", G_RUN,
     "the learner's big matrix products: fp32, or bf16 operands with fp32 accumulation (needs AVX512-BF16 or "
     "AMX-BF16); auto = bf16 where this machine has it, else fp32 (config.txt records which)",
     0, NULL, NULL, "fp32"},
    // model
    {"conv1", T_INT, O(conv1), 0, "16", 1, 1024, NULL, G_MODEL, "conv1 output channels"},
    {"conv2", T_INT, O(conv2), 0, "32", 1, 1024, NULL, G_MODEL, "conv2 output channels"},
    {"latent", T_INT, O(latent), 0, "256", 1, 8192, NULL, G_MODEL, "latent size D of z_t"},
    {"hidden", T_INT, O(hidden), 0, "256", 1, 8192, NULL, G_MODEL, "LSTM size H of c_t"},
    {"init", T_CHOICE, O(init), 0, "orthogonal", 0, 0, "torch|orthogonal", G_MODEL,
     "weight init: PyTorch defaults or orthogonal"},
    {"forget-bias", T_FLOAT, O(forget_bias), 0, "0", -10, 10, NULL, G_MODEL,
     "added to the LSTM forget-gate bias at init"},
    // a2c
    {"gamma", T_FLOAT, O(gamma), 0, "0.99", 0, 1, NULL, G_A2C, "discount"},
    {"gae-lambda", T_FLOAT, O(gae_lambda), 0, "1", 0, 1, NULL, G_A2C,
     "GAE lambda (1 = plain n-step returns)"},
    {"value-coef", T_FLOAT, O(value_coef), 0, "0.5", 0, 1e6, NULL, G_A2C, "value loss weight"},
    {"entropy-coef", T_FLOAT, O(entropy_coef), 0, "0.003", 0, 1e6, NULL, G_A2C,
     "entropy bonus weight beta"},
    {"bootstrap-trunc", T_INT, O(bootstrap_trunc), 0, "0", 0, 1, NULL, G_A2C,
     "1 = a time-limit truncation bootstraps from V(final observation); 0 = scored as termination"},
    {"reward-clip", T_FLOAT, O(reward_clip), 0, "1", 0, 1e9, NULL, G_A2C,
     "clip rewards to [-x, x] in the loss (0 = no clipping)"},
    {"epochs", T_INT, O(epochs), 0, "1", 1, 1000, NULL, G_A2C,
     "passes over each unroll (> 1 = sample reuse, recomputing the forward each pass)"},
    {"minibatches", T_INT, O(minibatches), 0, "1", 1, 4096, NULL, G_A2C,
     "groups of env sequences per pass, one optimizer step each (must divide --envs)"},
    {"clip", T_FLOAT, O(clip), 0, "0", 0, 10, NULL, G_A2C,
     "PPO ratio clip epsilon, e.g. 0.2 (0 = plain -log pi * A; 1/1/0 = A2C)"},
    {"aux-epochs", T_INT, O(aux_epochs), 0, "0", 0, 1000, NULL, G_A2C,
     "with sample reuse: the auxiliary losses (CPC, reward prediction) on the first N passes over each unroll "
     "only, the A2C loss alone on the others (0 = every pass)", OF_QUIET},
    // optimizer
    {"optim", T_CHOICE, O(optim), 0, "rmsprop", 0, 0, "rmsprop|adam", G_OPT, "optimizer"},
    {"lr", T_FLOAT, O(lr), 0, "2e-3", 0, 10, NULL, G_OPT, "learning rate"},
    {"alpha", T_FLOAT, O(alpha), 0, "0.99", 0, 1, NULL, G_OPT, "RMSProp decay"},
    {"eps", T_FLOAT, O(eps), 0, "1e-5", 0, 10, NULL, G_OPT, "RMSProp/Adam epsilon"},
    {"beta1", T_FLOAT, O(beta1), 0, "0.9", 0, 1, NULL, G_OPT, "Adam beta1"},
    {"beta2", T_FLOAT, O(beta2), 0, "0.999", 0, 1, NULL, G_OPT, "Adam beta2"},
    {"max-grad-norm", T_FLOAT, O(max_grad_norm), 0, "0.5", 0, 1e9, NULL, G_OPT,
     "global gradient-norm clip (0 = off)"},
    {"lr-decay", T_INT, O(lr_decay), 0, "0", 0, 1, NULL, G_OPT,
     "1 = decay lr linearly to 0 over --frames"},
    {"update-clip", T_FLOAT, O(update_clip), 0, "0", 0, 1e6, NULL, G_OPT,
     "d > 0: per tensor, cap the RMS of the optimizer's normalized step g / (sqrt(v) + eps) at d (Adafactor's "
     "update clipping: no step many times the usual size after a quiet stretch); 0 = off"},
    // cpc
    {"cpc-weight", T_FLOAT, O(cpc_weight), 0, "1", 0, 1e6, NULL, G_CPC,
     "weight of the CPC loss (0 = baseline arm, no CPC work)"},
    {"cpc-k", T_INT, O(cpc_k), 0, "10", 1, CPC_MAX_K, NULL, G_CPC, "CPC predicts z_{t+1..t+K}"},
    {"cpc-negatives", T_CHOICE, O(cpc_negatives), 0, "batch", 0, 0, "batch|all", G_CPC,
     "negatives: other envs at the same step, or every latent of the unroll"},
    {"cpc-stop-target", T_INT, O(cpc_stop_target), 0, "0", 0, 1, NULL, G_CPC,
     "1 = no CPC gradient into the target latents z_{t+k}"},
    {"cpc-k-weighting", T_CHOICE, O(cpc_k_weighting), 0, "pooled", 0, 0, "pooled|per-k", G_CPC,
     "InfoNCE mean: pooled over all (t,k,b), or per k then over k (each k weighs the same)"},
    {"cpc-trunk-ratio", T_FLOAT, O(cpc_trunk_ratio), 0, "0.5", 0, 1e6, NULL, G_CPC,
     "rho > 0: scale CPC's gradient entering encoder+LSTM to rho x the A2C one's norm (W_k "
     "unscaled; two backward passes); 0 = off", 0, NULL, NULL, "0"},
    {"cpc-balance-every", T_INT, O(cpc_balance_every), 0, "1", 1, 1e6, NULL, G_CPC,
     "with --cpc-trunk-ratio: measure the two trunk norms (two backward passes) every N optimizer steps and "
     "hold the scale s in between (one backward pass with CPC's incoming gradient times s)", 0, NULL, NULL,
     "1"},
    {"cpc-mode", T_CHOICE, O(cpc_mode), 0, "linear", 0, 0, "linear|action", G_CPC,
     "predict z_{t+k} by W_k c_t, or by a GRU rolled from c_t over a_t..a_{t+k-1} (CPC|A)"},
    {"cpc-action-hidden", T_INT, O(cpc_action_hidden), 0, "64", 1, 8192, NULL, G_CPC,
     "size of CPC|A's GRU (--cpc-mode action)"},
    {"rp-weight", T_FLOAT, O(rp_weight), 0, "0", 0, 1e6, NULL, G_CPC,
     "reward prediction's loss weight (an auxiliary head: the sign of r_t from z_{t-2..t}; 0 = off)",
     OF_QUIET},
    // command extras
    {"episodes", T_INT, O(episodes), 0, "100", 1, 1e8, NULL, G_EVAL | G_BASE, "episodes to run"},
    {"policy", T_CHOICE, O(policy), 0, "random", 0, 0, "random|oracle", G_BASE, "baseline policy"},
    {"greedy", T_BOOL, O(greedy), 0, "0", 0, 1, NULL, G_EVAL, "act greedily (argmax)"},
    {"record", T_STR, O(record), sizeof(((Config *)0)->record), "", 0, 0, NULL, G_EVAL,
     "directory to write .rpl replays into"},

    // train's own, in Config but not in config.txt (its --config and --resume: cli/options.c)
    {"record-every", T_DOUBLE, O(record_every), 0, "0", 1, BIG, NULL, G_TRAIN,
     "every N frames, write one episode as runs/NAME/replays/frames_*.rpl", 0, "N", "0 = off"},
    {"lock-stale", T_DOUBLE, O(lock_stale), 0, "600", 120, BIG, NULL, G_TRAIN,
     "a run directory's lock whose holder runs on another host is stale (taken over) after S seconds "
     "without a heartbeat (at least 120: 4 heartbeats); on this host, when its process is gone", 0, "S"},
    {"trace-every", T_INT, O(trace_every), 0, "0", 0, 1e9, NULL, G_TRAIN,
     "every U updates, a diagnostic row in runs/NAME/trace.csv: per tensor group the gradient, the "
     "optimizer's step and its denominator; advantage scale, losses, entropy", 0, "U", "0 = off"},
};
#pragma GCC diagnostic pop
#define NOPTS ((int)(sizeof(OPTS) / sizeof(OPTS[0])))
#undef O

// ----------------------------------------------------------------------------
// Helpers

// "cpc_weight" and "cpc-weight" name the same option.
static int key_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

// The option named key among those of `groups` (names repeat across
// commands: compare's --frames is not train's), a run setting or one of cmd's
// (NULL: none), and where its value lives: *base is c or cmd->values.
static const Opt *find_opt(const char *key, int groups, Config *c, const CmdTable *cmd, char **base) {
    for (int i = 0; i < NOPTS; i++)
        if ((OPTS[i].group & groups) && key_eq(OPTS[i].name, key)) {
            *base = (char *)c;
            return &OPTS[i];
        }
    for (int i = 0; cmd && i < cmd->n; i++)
        if ((cmd->opts[i].group & groups) && key_eq(cmd->opts[i].name, key)) {
            assert((cmd->opts[i].flags & OF_CMD) && cmd->values && "a CmdTable entry without OF_CMD, or no values");
            *base = cmd->values;
            return &cmd->opts[i];
        }
    return NULL;
}

static int choice_index(const char *choices, const char *val) {
    size_t vl = strlen(val);
    int idx = 0;
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && strncmp(p, val, l) == 0) return idx;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static void choice_name(const char *choices, int idx, char *out, size_t n) {
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) { snprintf(out, n, "?"); return; }
    const char *bar = strchr(p, '|');
    size_t l = bar ? (size_t)(bar - p) : strlen(p);
    snprintf(out, n, "%.*s", (int)l, p);
}

static void to_key(char *out, size_t n, const char *name) {
    size_t i = 0;
    for (; name[i] && i + 1 < n; i++) out[i] = name[i] == '-' ? '_' : name[i];
    out[i] = 0;
}

// The one number syntax of every numeric flag and key: optional sign, decimal
// digits with an optional fraction and exponent (7, -1, 0.5, 2e6, 7e-4). No
// blanks, hex, inf or nan. Integer options take the same syntax and must be
// whole (--max-steps 1e3 works like --frames 1e3); the seed takes digits only
// (every 64-bit value, which a double cannot hold exactly).
static int decimal_number(const char *s) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    return *p == 0;
}

// Set one option from text. check = 0 for the table's own defaults (which
// may lie outside the range a user may give: --jobs 0 means "all cores").
static int set_opt(char *p, const Opt *o, const char *val, int check, char *err, size_t n) {
    char *end = NULL;
    char choices[160];
    errno = 0;
    switch (o->type) {
    case T_INT: {
        double v = decimal_number(val) ? strtod(val, &end) : NAN;
        if (!isfinite(v) || v != floor(v))
            return err_fail(err, n, "--%s: expected a whole number (e.g. 32 or 1e3), got '%.80s'", o->name, val);
        if (check && (v < o->lo || v > o->hi))
            return err_fail(err, n, "--%s: expected %g..%g, got %g", o->name, o->lo, o->hi, v);
        *(int *)p = (int)v;
        return 0;
    }
    case T_U64: {
        size_t l = strspn(val, "0123456789");
        unsigned long long v = l && !val[l] ? strtoull(val, &end, 10) : 0;
        if (!l || val[l] || errno)
            return err_fail(err, n, "--%s: expected a non-negative integer (digits only, at most 18446744073709551615), got '%.80s'",
                            o->name, val);
        *(uint64_t *)p = (uint64_t)v;
        return 0;
    }
    case T_FLOAT:
    case T_DOUBLE: {
        double v = decimal_number(val) ? strtod(val, &end) : NAN;
        if (!isfinite(v))
            return err_fail(err, n, "--%s: expected a number (e.g. 0.5 or 7e-4), got '%.80s'", o->name, val);
        if (check && (v < o->lo || v > o->hi))
            return err_fail(err, n, "--%s: expected %g..%g, got %g", o->name, o->lo, o->hi, v);
        if (o->type == T_FLOAT) *(float *)p = (float)v;
        else *(double *)p = v;
        return 0;
    }
    case T_BOOL: {
        int v = -1;
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes")) v = 1;
        if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no")) v = 0;
        if (v < 0) return err_fail(err, n, "--%s: expected 0 or 1, got '%s'", o->name, val);
        *(int *)p = v;
        return 0;
    }
    case T_STR: {
        size_t l = strlen(val);
        if (!l && (o->flags & OF_NONEMPTY) && check)
            return err_fail(err, n, "--%s: expected a %s name, got an empty string", o->name,
                            o->arg && !strcmp(o->arg, "DIR") ? "directory" : "file");
        if (o->flags & OF_CMD) { // not a run setting: no config.txt to give it back
            if (l >= o->len)
                return err_fail(err, n, "--%s: longer than %zu characters", o->name, o->len - 1);
            memcpy(p, val, l + 1);
            return 0;
        }
        if (l && (isspace((unsigned char)val[0]) || isspace((unsigned char)val[l - 1])))
            return err_fail(err, n, "--%s: must not start or end with a blank (config.txt could not "
                        "give it back)", o->name);
        if (l >= o->len)
            return err_fail(err, n, "--%s: longer than %zu characters", o->name, o->len - 1);
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)val[i] < 32)
                return err_fail(err, n, "--%s: control character in value", o->name);
        memcpy(p, val, l + 1);
        return 0;
    }
    case T_CHOICE: {
        int v = choice_index(o->choices, val);
        if (v < 0) {
            snprintf(choices, sizeof choices, "%s", o->choices);
            for (char *q = choices; *q; q++)
                if (*q == '|') *q = ',';
            return err_fail(err, n, "--%s: unknown value '%s' (valid: %s)", o->name, val, choices);
        }
        *(int *)p = v;
        return 0;
    }
    case T_WXH: {
        int w, h;
        char extra;
        if (sscanf(val, "%dx%d%c", &w, &h, &extra) != 2 || w < o->lo || h < o->lo || w > o->hi || h > o->hi)
            return err_fail(err, n, "--%s: expected WIDTHxHEIGHT with sides %g..%g, got '%.80s'", o->name, o->lo,
                            o->hi, val);
        ((int *)p)[0] = w, ((int *)p)[1] = h;
        return 0;
    }
    }
    return err_fail(err, n, "--%s: internal error", o->name);
}

static void format_opt(const char *p, const Opt *o, char *out, size_t n) {
    switch (o->type) {
    case T_INT:
    case T_BOOL: snprintf(out, n, "%d", *(const int *)p); break;
    case T_U64: snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case T_FLOAT: snprintf(out, n, "%.9g", (double)*(const float *)p); break;
    case T_DOUBLE: snprintf(out, n, "%.17g", *(const double *)p); break;
    case T_STR: snprintf(out, n, "%s", p); break;
    case T_CHOICE: choice_name(o->choices, *(const int *)p, out, n); break;
    case T_WXH: snprintf(out, n, "%dx%d", ((const int *)p)[0], ((const int *)p)[1]); break;
    }
}

// A run setting's value in c (format_opt of Config options only).
static void format_cfg(const Config *c, const Opt *o, char *out, size_t n) {
    assert(!(o->flags & OF_CMD));
    format_opt((const char *)c + o->off, o, out, n);
}

// ----------------------------------------------------------------------------
// Public API

void config_table_defaults(void *values, const Opt *t, int n) {
    for (int i = 0; i < n; i++) {
        int rc = set_opt((char *)values + t[i].off, &t[i], t[i].def, 0, NULL, 0);
        assert(rc == 0 && "a default of an option table does not parse");
        (void)rc;
    }
}

void config_defaults(Config *c) {
    memset(c, 0, sizeof *c);
    config_table_defaults(c, OPTS, NOPTS);
}

int config_parse_args(Config *c, const CmdTable *cmd, int argc, char **argv, int groups, char **pos,
                      int max_pos, char **rest, int *nrest, char *err, size_t errlen) {
    int npos = 0;
    if (nrest) *nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-' || a[2] == 0) {
            if (a[0] == '-' && a[1] && !isdigit((unsigned char)a[1]))
                return err_fail(err, errlen, "unknown option '%s' (options are --name value)", a);
            if (npos >= max_pos)
                return err_fail(err, errlen, "unexpected argument '%s'", a);
            pos[npos++] = argv[i];
            continue;
        }
        char key[64];
        const char *eq = strchr(a + 2, '=');
        size_t kl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (kl >= sizeof key) return err_fail(err, errlen, "unknown option '%.40s...'", a);
        memcpy(key, a + 2, kl);
        key[kl] = 0;
        char *base;
        const Opt *o = find_opt(key, groups, c, cmd, &base);
        if (!o && rest) { // someone else's flag (compare passes training flags on)
            rest[(*nrest)++] = argv[i];
            if (!eq && i + 1 < argc) rest[(*nrest)++] = argv[++i];
            continue;
        }
        if (!o) return err_fail(err, errlen, "unknown option '--%s' for this command", key);
        const char *val;
        if (eq) val = eq + 1;
        else if (o->type == T_BOOL) val = "1";
        else if (i + 1 < argc) val = argv[++i];
        else return err_fail(err, errlen, "--%s: missing value", key);
        if (set_opt(base + o->off, o, val, 1, err, errlen) < 0) return -1;
    }
    return npos;
}

void config_env(const Config *c, EnvConfig *e) {
    memset(e, 0, sizeof *e);
    e->task = c->task;
    e->size = c->size;
    e->view = c->view;
    e->max_steps = c->max_steps;
    e->items = c->items;
    env_config_defaults(e);
}

void config_resolve_auto(Config *c) {
    if (c->precision == CONFIG_PRECISION_AUTO) c->precision = gemm_bf16_available() ? GEMM_BF16 : GEMM_FP32;
}

int config_for_machine(Config *c, char *err, size_t errlen) {
    config_resolve_auto(c);
    if (c->precision == GEMM_BF16 && !gemm_bf16_available())
        return err_fail(err, errlen, "--precision bf16: %s; use --precision fp32",
                        gemm_bf16_status());
    return 0;
}

int config_check(const Config *c, char *err, size_t errlen) {
    EnvConfig e;
    config_env(c, &e);
    char msg[200];
    if (env_config_check(&e, msg, sizeof msg) < 0) return err_fail(err, errlen, "%s", msg);
    if (c->frames != floor(c->frames))
        return err_fail(err, errlen, "--frames: expected a whole number, got %g", c->frames);
    if (c->cpc_weight > 0) {
        if (c->cpc_k >= c->unroll)
            return err_fail(err, errlen,
                        "--cpc-k %d must be smaller than --unroll %d (no target inside the unroll)",
                        c->cpc_k, c->unroll);
        if (c->cpc_negatives == CPC_NEG_BATCH && c->envs < 2)
            return err_fail(err, errlen,
                        "--envs %d: CPC with batch negatives needs at least 2 envs", c->envs);
    }
    if (c->minibatches > 1 && c->envs % c->minibatches != 0)
        return err_fail(err, errlen, "--minibatches %d must divide --envs %d (groups of whole envs)",
                        c->minibatches, c->envs);
    if (c->aux_epochs > 0 && c->epochs < 2)
        return err_fail(err, errlen, "--aux-epochs %d: needs sample reuse with --epochs above 1 "
                        "(with one pass there is no later pass to leave the auxiliary losses out of)",
                        c->aux_epochs);
    if (c->optim == OPT_ADAM && (c->beta1 >= 1 || c->beta2 >= 1))
        return err_fail(err, errlen, "--beta1/--beta2 must be below 1");
    if (!c->runs_dir[0])
        return err_fail(err, errlen, "--runs-dir: expected a directory, got an empty path "
                        "(an unset variable?)");
    size_t nl = strlen(c->name);
    if (nl && (isspace((unsigned char)c->name[0]) || isspace((unsigned char)c->name[nl - 1])))
        return err_fail(err, errlen, "--name '%s': must not start or end with a blank", c->name);
    for (const char *p = c->name; *p; p++)
        if (*p == '/' || (p == c->name && *p == '.'))
            return err_fail(err, errlen, "--name '%s': must not contain '/' or start with '.'",
                        c->name);
    return 0;
}

int config_write(const Config *c, FILE *f) {
    char key[64], val[300];
    fprintf(f, "%s every training setting, `key = value`; load with --config\n", CONFIG_HEADER);
    for (int i = 0; i < NOPTS; i++) {
        const Opt *o = &OPTS[i];
        if (!(o->group & G_TRAIN_ALL)) continue;
        to_key(key, sizeof key, o->name);
        format_cfg(c, o, val, sizeof val);
        if (o->flags & OF_QUIET) {
            char def[300];
            Config d;
            config_defaults(&d);
            format_cfg(&d, o, def, sizeof def);
            if (!strcmp(val, def)) continue;
        }
        fprintf(f, "%s = %s\n", key, val);
    }
    return ferror(f) ? -1 : 0;
}

int config_diff(const Config *a, const Config *b, const char *const *skip, const char *aname,
                const char *bname, char *out, size_t n) {
    int nd = 0;
    size_t used = 0;
    if (n) out[0] = 0;
    for (int i = 0; i < NOPTS; i++) {
        const Opt *o = &OPTS[i];
        if (!(o->group & G_TRAIN_ALL)) continue;
        int skipped = 0;
        for (int k = 0; skip && skip[k]; k++) skipped |= key_eq(skip[k], o->name);
        char va[300], vb[300], key[64];
        format_cfg(a, o, va, sizeof va);
        format_cfg(b, o, vb, sizeof vb);
        if (skipped || !strcmp(va, vb)) continue;
        to_key(key, sizeof key, o->name);
        if (used < n)
            used += (size_t)snprintf(out + used, n - used, "%s%s (%s %s, %s %s)", nd ? ", " : "", key,
                                     aname, va, bname, vb);
        nd++;
    }
    return nd;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
    return s;
}

int config_parse_text(Config *c, const char *text, size_t len, const char *origin,
                      char *err, size_t errlen) {
    char line[512];
    size_t i = 0;
    int lineno = 0;
    int seen[NOPTS]; // line of each key so far (0 = not yet)
    memset(seen, 0, sizeof seen);
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) i = 3; // UTF-8 BOM (editors on Windows)
    const int written = len - i >= strlen(CONFIG_HEADER) && !memcmp(text + i, CONFIG_HEADER, strlen(CONFIG_HEADER));
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        lineno++;
        size_t l = j - i;
        if (l >= sizeof line)
            return err_fail(err, errlen, "%s:%d: line longer than %zu characters", origin, lineno,
                        sizeof line - 1);
        memcpy(line, text + i, l);
        line[l] = 0;
        i = j + 1;
        if (memchr(line, 0, l))
            return err_fail(err, errlen, "%s:%d: NUL byte in line", origin, lineno);
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) return err_fail(err, errlen, "%s:%d: expected 'key = value', got '%.60s'", origin, lineno, s);
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        char *base;
        const Opt *o = find_opt(key, G_TRAIN_ALL, c, NULL, &base);
        if (!o)
            return err_fail(err, errlen, "%s:%d: unknown key '%.60s'", origin, lineno, key);
        if (seen[o - OPTS])
            return err_fail(err, errlen, "%s:%d: key '%.60s' given twice (first on line %d)", origin,
                            lineno, key, seen[o - OPTS]);
        seen[o - OPTS] = lineno;
        char msg[200];
        if (set_opt(base + o->off, o, val, 1, msg, sizeof msg) < 0)
            return err_fail(err, errlen, "%s:%d: %s", origin, lineno, msg);
    }
    for (int k = 0; k < NOPTS && written; k++) // a key the writer's cpcrl did not have yet
        if (OPTS[k].before && !seen[k] && (OPTS[k].group & G_TRAIN_ALL)) {
            char msg[200];
            if (set_opt((char *)c + OPTS[k].off, &OPTS[k], OPTS[k].before, 1, msg, sizeof msg) < 0)
                return err_fail(err, errlen, "%s: %s", origin, msg);
        }
    return 0;
}

int config_load(Config *c, const char *path_in, char *err, size_t errlen) {
    char path[ERR_PATH_MAX + 4]; // as shown in messages
    snprintf(path, sizeof path, "%s%s", ERR_PATH(path_in));
    const char *why = NULL;
    FILE *f = file_open_regular(path_in, &why);
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, why);
    char *buf = malloc(1 << 20);
    if (!buf) { fclose(f); return err_fail(err, errlen, "%s: out of memory", path); }
    size_t n = fread(buf, 1, 1 << 20, f);
    int bad = ferror(f), big = n == (1 << 20);
    fclose(f);
    if (bad || big) {
        free(buf);
        return err_fail(err, errlen, "%s: %s", path, bad ? "read error" : "larger than 1 MiB");
    }
    Config tmp = *c; // validate fully before touching the caller's config
    int rc = config_parse_text(&tmp, buf, n, path, err, errlen);
    free(buf);
    if (rc == 0) *c = tmp;
    return rc;
}

// `cpcrl help`'s sections, in order: an option is listed under the first
// that holds one of its groups among those of the command.
static const struct { int g; const char *title; } SECT[] = {
    {G_TRAIN, "this command (not stored in the run)"}, {G_BENCH, "this command"}, {G_ENV, "environment"}, {G_RUN, "run"}, {G_MODEL, "model"}, {G_A2C, "A2C loss"},
    {G_OPT, "optimizer"}, {G_CPC, "auxiliary losses (CPC, reward prediction)"}, {G_EVAL, "evaluation"}, {G_BASE, "baseline"},
    {G_CMP, "experiment"},
    {G_CMP_ARMS, "arms (always with the baseline arm nocpc = --cpc-weight 0)"}, {G_CMP_SCHED, "scheduling"},
    {G_CMP_AGG, "probe and aggregation"}, {G_PROBE, "probe"}, {G_WATCH, "watch"}, {G_PLAY, "play"},
    {G_REPLAY, "replay"}, {G_WINDOW, "window"},
};
#define NSECT ((int)(sizeof SECT / sizeof SECT[0]))

static int help_section(int groups) {
    for (int s = 0; s < NSECT; s++)
        if (SECT[s].g & groups) return s;
    return -1;
}

// One option's help line; d: the run settings at their defaults.
static void print_opt(FILE *f, const Opt *o, const Config *d) {
    char flag[64], val[300], def[320];
    snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    if (o->flags & OF_CMD) snprintf(val, sizeof val, "%s", o->def); // as written in the table
    else if (o->type == T_FLOAT) // short form for people; config.txt keeps 9 digits
        snprintf(val, sizeof val, "%g", (double)*(const float *)((const char *)d + o->off));
    else
        format_cfg(d, o, val, sizeof val);
    if (o->type == T_CHOICE)
        snprintf(def, sizeof def, "%s; default %s", o->choices, val);
    else if (o->type == T_BOOL)
        snprintf(def, sizeof def, "flag");
    else
        snprintf(def, sizeof def, "default %s", o->shown ? o->shown : *val ? val : "\"\"");
    fprintf(f, "    %-20s %s (%s)\n", flag, o->help, def);
}

// The options of t[n] listed under section s, after its title when none was yet.
static void print_section(FILE *f, int s, int groups, const Opt *t, int n, const Config *d, int *header) {
    for (int i = 0; i < n; i++) {
        if (help_section(t[i].group & groups) != s) continue;
        if (!*header) { fprintf(f, "  %s:\n", SECT[s].title); *header = 1; }
        print_opt(f, &t[i], d);
    }
}

void config_print_help(FILE *f, int groups, const CmdTable *cmd) {
    static Config d;
    config_defaults(&d);
    for (int s = 0; s < NSECT; s++) {
        if (!(SECT[s].g & groups)) continue;
        int header = 0;
        if (cmd) print_section(f, s, groups, cmd->opts, cmd->n, &d, &header);
        print_section(f, s, groups, OPTS, NOPTS, &d, &header);
    }
}
