// main.c — the `cpcrl` entry point: subcommand dispatch and flag parsing.
// Everything else lives in base/, env/, agent/, cpc/, lab/, replays/, cli/
// (docs/design.md, "Layout"). Exit codes: 0 ok, 1 runtime error (message on stderr), 2 usage
// error (bad flag or value).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "lab/bench.h"
#include "lab/compare.h"
#include "lab/readout.h"
#include "nn/blas.h"
#include "agent/config.h"
#include "agent/dist.h"
#include "nn/gemm.h"
#include "agent/train.h"
#include "cli/options.h"
#include "env/env.h"
#include "replays/cmd.h"
#include "replays/record.h"

// Every command's flags are options of agent/config.c's table of run
// settings or of cli/options.c's of the commands' own (the groups say
// which); main parses them all the same way, and `cpcrl help CMD` prints
// them from the two tables.
typedef struct {
    const char *name;
    const char *args;   // positional synopsis
    const char *summary;
    int groups;         // option groups accepted (G_* of config.h)
    int (*run)(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv);
    const char *about;  // help: a longer description than the summary (NULL: the summary)
    const char *notes;  // help: text after the flags (NULL: none)
} Command;

static const Command *find_cmd(const char *name);
static void usage(FILE *f);

static int usage_error(const char *cmd, const char *msg) {
    fprintf(stderr, "cpcrl %s: %s\n", cmd, msg);
    fprintf(stderr, "see 'cpcrl help %s'\n", cmd);
    return 2;
}

static int task_arg(Config *c, const char *cmd, char **pos, int npos) {
    if (npos < 1) return 0;
    if (npos > 1) {
        char msg[300];
        snprintf(msg, sizeof msg, "unexpected argument '%.200s' (one task only)", pos[1]);
        return usage_error(cmd, msg);
    }
    int t = env_task_from_name(pos[0]);
    if (t < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown task '%.100s' (valid: " ENV_TASK_VALID ")", pos[0]);
        return usage_error(cmd, msg);
    }
    c->task = t;
    return 0;
}

static int check_env(const Config *c, const char *cmd, EnvConfig *e) {
    char err[300];
    config_env(c, e);
    if (env_config_check(e, err, sizeof err) < 0) return usage_error(cmd, err);
    return 0;
}

// ----------------------------------------------------------------------------
// Subcommands

static int cmd_show(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    int rc = task_arg(c, "show", pos, npos);
    if (rc) return rc;
    EnvConfig e;
    if ((rc = check_env(c, "show", &e))) return rc;
    Env env;
    env_init(&env, &e, c->seed);
    static char map[(ENV_MAX_SIZE + 1) * ENV_MAX_SIZE + 1], view[(ENV_MAX_VIEW + 1) * ENV_MAX_VIEW + 1];
    static uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    env_render_map(&env, map);
    env_observe(&env, obs);
    env_render_obs(obs, e.view, view);
    printf("task %s, seed %llu, grid %dx%d, view %d, time limit %d\n", ENV_TASK_NAMES[e.task],
           (unsigned long long)c->seed, env.w, env.h, e.view, e.max_steps);
    printf("map (agent ^>v<):\n%s\nagent view (agent at bottom centre, facing up; ? unseen):\n%s\n",
           map, view);
    printf("legend: # wall  . floor  G goal  a apple  l lemon  k/K key  d/D door  0-3 cue\n");
    return 0;
}

static int cmd_baseline(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    int rc = task_arg(c, "baseline", pos, npos);
    if (rc) return rc;
    EnvConfig e;
    if ((rc = check_env(c, "baseline", &e))) return rc;
    BaselineResult r;
    if (env_baseline(&e, c->policy, c->episodes, c->seed, &r) < 0) {
        fprintf(stderr, "cpcrl baseline: failed\n");
        return 1;
    }
    printf("%s %s: %d episodes, return %.3f ± %.3f (95%% CI), success %.1f%%, length %.1f\n",
           ENV_TASK_NAMES[e.task], c->policy == POLICY_ORACLE ? "oracle" : "random", r.episodes,
           r.mean_return, r.ci95, 100.0 * r.success_rate, r.mean_length);
    if (isfinite(r.find_tau))
        printf("time to find the goal, restricted mean over %.0f steps (Kaplan-Meier, censored at episode end): "
               "first find %.2f steps, later finds %.2f\n", r.find_tau, r.find_first, r.find_later);
    return 0;
}

// Tests: CPCRL_FAULT_NAN_AT=U makes update U's loss NaN (reliability tests
// of the non-finite stop), through the training loop's before_update hook.
static void fault_nan(void *ctx, Trainer *tr) {
    if (tr->updates + 1 == *(const long long *)ctx) tr->acts.value[0] = NAN;
}

static int cmd_train(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    char err[2048];
    if (npos > 0) {
        snprintf(err, sizeof err, "unexpected argument '%.200s'", pos[0]);
        return usage_error("train", err);
    }
    const char *resume = o->resume[0] ? o->resume : NULL;
    int frames_given = 0;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "--frames", 8)) frames_given = 1;
    }
    if (o->config[0]) { // the file first, then the command line's flags over it
        config_defaults(c);
        if (config_load(c, o->config, err, sizeof err) < 0) return usage_error("train", err);
        char *p[1];
        CmdTable t = cmdopts_table(o);
        if (config_parse_args(c, &t, argc, argv, G_TRAIN_ALL | G_TRAIN, p, 0, NULL, NULL, err, sizeof err) < 0)
            return usage_error("train", err);
    }
    if (resume) { // the run's own config.txt rules; only these may change
        static const char *const OK[] = {"--frames", "--threads", "--progress", "--record-every", "--lock-stale",
                                           "--trace-every"};
        for (int i = 0; i < argc; i++) {
            if (strncmp(argv[i], "--", 2) || !strcmp(argv[i], "--resume")) continue;
            if (!strncmp(argv[i], "--resume=", 9)) continue;
            int ok = 0;
            for (int j = 0; j < (int)(sizeof OK / sizeof OK[0]); j++)
                ok |= !strncmp(argv[i], OK[j], strlen(OK[j])) &&
                      (argv[i][strlen(OK[j])] == 0 || argv[i][strlen(OK[j])] == '=');
            if (!ok) {
                char msg[300];
                snprintf(msg, sizeof msg,
                         "%.60s cannot be changed when resuming (the run keeps the settings stored in "
                         "its model.ckpt); only --frames, --threads, --progress, --record-every, --lock-stale and --trace-every can",
                         argv[i]);
                return usage_error("train", msg);
            }
        }
    }
    // --precision auto over MPI ranks: bf16 only if every rank runs it (one precision per run)
    if (c->precision == CONFIG_PRECISION_AUTO && dist_allreduce_max_i(!gemm_bf16_available()))
        c->precision = GEMM_FP32;
    if (!resume && (config_check(c, err, sizeof err) < 0 || config_for_machine(c, err, sizeof err) < 0))
        return usage_error("train", err);
    TrainHook hook = {0};
    TrainRecorder rec;
    if (c->record_every > 0) { // one recorded episode takes up to the time limit: fewer frames apart is no schedule
        Config run = *c;
        if (resume) { // the run's own settings
            char path[1100];
            snprintf(path, sizeof path, "%s/config.txt", resume);
            config_defaults(&run);
            if (config_load(&run, path, err, sizeof err) < 0) run = *c; // train_main reports a bad run
        }
        EnvConfig e;
        config_env(&run, &e);
        if (c->record_every < e.max_steps) {
            char msg[300];
            snprintf(msg, sizeof msg, "--record-every %g: expected at least one episode's frames (%d, the time "
                     "limit of task %s)", c->record_every, e.max_steps, ENV_TASK_NAMES[e.task]);
            return usage_error("train", msg);
        }
        if (dist_rank() == 0) replay_train_recorder(&rec, c->record_every, &hook); // rank 0 records
    }
    const char *nan_at = getenv("CPCRL_FAULT_NAN_AT");
    long long fault_update = nan_at ? atoll(nan_at) : -1;
    if (nan_at) hook.before_update = fault_nan, hook.before_ctx = &fault_update;
    return train_main(c, resume, frames_given, &hook);
}

static int cmd_eval(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    if (npos != 1) return usage_error("eval", "expected one checkpoint file or run directory");
    EvalHook hook = {0};
    EvalRecorder *rec = NULL;
    if (c->record[0]) { // replays/cmd.h: the evaluated episodes as DIR/ep0000.rpl, ...
        char err[700];
        if (!(rec = replay_eval_recorder_begin(pos[0], c->record, c->greedy, &hook, err, sizeof err))) {
            fprintf(stderr, "cpcrl eval --record: %s\n", err);
            return 1;
        }
    }
    EvalResult r;
    int rc = eval_main(pos[0], c, &hook, &r);
    int nrec = replay_eval_recorder_end(rec);
    if (rc) return rc;
    if (c->record[0])
        printf("wrote %d replays to %s (play one: cpcrl replay %s/ep0000.rpl)\n", nrec, c->record, c->record);
    printf("%s: %d episodes (%s, seed %llu), return %.3f ± %.3f (95%% CI), success %.1f%%, length %.1f\n",
           pos[0], r.episodes, c->greedy ? "greedy" : "sampled", (unsigned long long)c->seed,
           r.mean_return, r.ci95, 100.0 * r.success, r.mean_length);
    if (r.K > 0) {
        printf("CPC accuracy per k (chance 1/B):");
        for (int k = 0; k < r.K; k++) printf(" k%d %.3f", k + 1, r.cpc_acc[k]);
        printf("\nCPC bound log N - L per k (nats):");
        for (int k = 0; k < r.K; k++) printf(" k%d %.3f", k + 1, r.cpc_bound[k]);
        printf("\nCPC InfoNCE loss per k (nats):");
        for (int k = 0; k < r.K; k++) printf(" k%d %.3f", k + 1, r.cpc_loss_k[k]);
        printf("\ntrunk gradient norms on eval's unrolls (T = K+1): A2C %.4g, CPC %.4g\n",
               r.trunk_a2c, r.trunk_cpc);
    }
    const EvalMemory *m = &r.memory;
    if (m->valid) {
        printf("time to find the goal, restricted mean over %.0f steps (Kaplan-Meier, censored at episode end):\n"
               "  first find %.2f steps (%d waits), later finds %.2f (%d waits), later finds with the memory "
               "wiped at each find %.2f (%d waits)\n",
               m->tau, m->rmst_first, m->n_first, m->rmst_later, m->n_later, m->rmst_later_wiped,
               m->n_later_wiped);
        printf("memory use (wiped - intact, later finds): %+.2f steps [%.2f, %.2f] (95%% bootstrap CI over "
               "episodes; > 0: memory helps); return with the memory wiped %.3f\n",
               m->use, m->use_lo, m->use_hi, m->return_wiped);
    }
    return 0;
}

static int cmd_bench(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    const char *what = npos ? pos[0] : "all";
    if (npos > 1) return usage_error("bench", "expected one benchmark name (env, blas, train or all)");
    int all = !strcmp(what, "all");
    if (!all && strcmp(what, "env") && strcmp(what, "blas") && strcmp(what, "train"))
        return usage_error("bench", "unknown benchmark (valid: env, blas, train, all)");
    char err[512];
    for (int t = 0; t < ENV_NTASKS && (all || !strcmp(what, "env")); t++) { // every setting checked first
        Config cc = *c;
        cc.task = t;
        EnvConfig e;
        config_env(&cc, &e);
        if (env_config_check(&e, err, sizeof err) < 0) {
            char msg[700];
            snprintf(msg, sizeof msg, "task %s: %s", ENV_TASK_NAMES[t], err);
            return usage_error("bench", msg);
        }
    }
    if ((all || !strcmp(what, "train")) && bench_train_check(c, err, sizeof err) < 0) return usage_error("bench", err);
    if (all || !strcmp(what, "env")) {
        printf("env steps/s on one thread, B=32, observations written (view %d):\n", c->view);
        for (int t = 0; t < ENV_NTASKS; t++) {
            Config cc = *c;
            cc.task = t;
            EnvConfig e;
            config_env(&cc, &e);
            double sps = bench_env(&e, 32, 1.0, 1);
            if (sps < 0) {
                fprintf(stderr, "cpcrl bench: env %s: out of memory\n", ENV_TASK_NAMES[t]);
                return 1;
            }
            printf("  %-11s %8.2f M steps/s\n", ENV_TASK_NAMES[t], sps / 1e6);
        }
    }
    if (all || !strcmp(what, "blas")) {
        blas_set_threads(c->threads);
        printf("OpenBLAS sgemm, kernel %s, %d threads:\n", blas_kernel_name(), blas_threads());
        blas_bench(stdout);
    }
    if (all || !strcmp(what, "train")) {
        blas_set_threads(c->threads);
        if (bench_train(c, o->bench_repeat, stdout) < 0) return 1;
    }
    return 0;
}

static int cmd_help(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    if (npos == 0) { usage(stdout); return 0; }
    if (npos > 1) {
        fprintf(stderr, "cpcrl help: expected one command name\n");
        return 2;
    }
    const Command *cmd = find_cmd(pos[0]);
    if (!cmd) {
        fprintf(stderr, "cpcrl help: unknown command '%s'\n", pos[0]);
        usage(stderr);
        return 2;
    }
    printf("usage: cpcrl %s %s\n  %s\n\n", cmd->name, cmd->args, cmd->about ? cmd->about : cmd->summary);
    CmdTable t = cmdopts_table(NULL);
    config_print_help(stdout, cmd->groups, &t);
    if (cmd->notes) fputs(cmd->notes, stdout);
    cmd_print_keys(stdout, cmd->name);
    return 0;
}

static int cmd_watch_main(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    return cmd_watch(&o->view, pos, npos);
}
static int cmd_play_main(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    return cmd_play(&o->view, pos, npos);
}
static int cmd_replay_main(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    return cmd_replay(&o->view, pos, npos);
}

// compare: pos holds the training flags it passes on to every run
static int cmd_compare_main(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    return cmd_compare(&o->compare, pos, npos, argc, argv);
}

static int cmd_probe_main(Config *c, CmdOpts *o, char **pos, int npos, int argc, char **argv) {
    if (o->probe.save) return readout_cmd_probe(&o->probe, pos, npos); // lab/readout.h: the table, then readout.bin
    return cmd_probe(&o->probe, pos, npos);
}

static const char COMPARE_NOTES[] =
    "  every other flag is a training flag passed to every run of every arm (see 'cpcrl help\n"
    "  train'), e.g. --envs 16 --hidden 128 --cpc-k 5; --log-every defaults to frames / 100.\n"
    "  --task, --seed, --name, --runs-dir and --progress are set per run by compare.\n"
    "  several machines sharing DIR: mpirun -np R ./cpcrl-mpi compare ... (each rank takes the runs nobody\n"
    "  holds; rank 0 aggregates), or --emit-slurm for a Slurm job array (docs/usage.md: Running the experiment on\n"
    "  a cluster).\n";

static const Command COMMANDS[] = {
    {"train", "[--config FILE] [--resume DIR] [flags]",
     "train an A2C(+CPC) agent headless into runs/NAME/ (config.txt, log.csv, model.ckpt)",
     G_TRAIN | G_TRAIN_ALL, cmd_train, NULL, NULL},
    {"eval", "CKPT|RUN_DIR [--episodes N] [--seed S] [--greedy]",
     "evaluate a checkpoint: mean return ± 95% CI, success rate, CPC accuracy", G_EVAL, cmd_eval, NULL, NULL},
    {"show", "TASK [--seed N] [env flags]", "print a task's map and the agent's view as text",
     G_ENV | G_BASE, cmd_show, NULL, NULL},
    {"baseline", "TASK --policy random|oracle [--episodes N] [--seed S]",
     "mean return ± 95% CI and success of a random or scripted-oracle policy", G_ENV | G_BASE,
     cmd_baseline, NULL, NULL},
    {"bench", "[env|blas|train|all]", "throughput benchmarks (env steps/s, BLAS GFLOP/s)",
     G_ENV | G_RUN | G_CPC | G_BENCH, cmd_bench, NULL, NULL},
    {"compare", "[--tasks LIST] [--seeds N] [--frames N] [--jobs J] [--out DIR] [training flags]",
     "the with/without-CPC experiment over tasks x seeds (resumable): results.csv, summary.md, curves",
     G_COMPARE, cmd_compare_main, NULL, COMPARE_NOTES},
    {"probe", "CKPT|RUN_DIR [--episodes N] [--greedy] [--out FILE] [--save]",
     "linear probe: held-out accuracy of position, heading, goal read from c_t and z_t", G_PROBE,
     cmd_probe_main, NULL, NULL},
    {"watch", "CKPT|RUN_DIR [CKPT2|RUN_DIR2] [flags]", "watch a checkpoint (or a training run) act live in a window",
     G_WATCH | G_WINDOW, cmd_watch_main,
     "watch a trained agent act live in a window (a checkpoint file, or a run directory whose model.ckpt is "
     "reloaded whenever the trainer writes a newer one), with the belief overlay when the run holds read-outs "
     "(probe --save); two checkpoints play the same seeded episodes side by side", NULL},
    {"play", "TASK [--seed N] [flags]", "play a task yourself with the arrow keys; saves replays",
     G_PLAY | G_WINDOW, cmd_play_main,
     "play a task yourself with the arrow keys (TASK: " ENV_TASK_VALID "); "
     "episodes are saved as replays", NULL},
    {"replay", "FILE.rpl [--info] [--verify] [--export OUT.gif|OUT.mp4] [--frames DIR] [flags]",
     "replay player; --info, --verify, --export GIF/MP4, --frames PNG", G_REPLAY | G_WINDOW, cmd_replay_main,
     "play back a recorded episode (.rpl): pause, step, seek, speed, loop; or headless: --info, --verify, "
     "--export, --frames; with the belief overlay when a checkpoint and its read-outs are given (--ckpt) or "
     "found around the replay", NULL},
    {"help", "[COMMAND]", "list commands, or every flag of one command with its default", 0,
     cmd_help, NULL, NULL},
};
#define NCOMMANDS ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

static const Command *find_cmd(const char *name) {
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(COMMANDS[i].name, name)) return &COMMANDS[i];
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f, "cpcrl — batched A2C with a CPC auxiliary loss in a built-in gridworld\n\n"
               "usage: cpcrl COMMAND [args] [--flag value ...]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n'cpcrl help COMMAND' lists every flag with its default.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { usage(stdout); return 0; }
    const Command *cmd = find_cmd(argv[1]);
    if (!cmd) {
        fprintf(stderr, "cpcrl: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    // BLAS-heavy commands run on the best OpenBLAS kernel (may re-exec once).
    if (!strcmp(cmd->name, "train") || !strcmp(cmd->name, "eval") || !strcmp(cmd->name, "bench") ||
        !strcmp(cmd->name, "probe"))
        blas_select_kernel(argc, argv, 1);

    Config c;
    static CmdOpts o; // 8 KB of paths: not on the stack
    config_defaults(&c);
    cmdopts_defaults(&o);
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    for (int i = 0; i < sub_argc; i++)
        if (!strcmp(sub_argv[i], "--help") || !strcmp(sub_argv[i], "-h")) {
            char *p[1] = {(char *)cmd->name};
            return cmd_help(&c, &o, p, 1, 0, NULL);
        }
    // compare passes the flags that are not its own on to every run
    int passes = cmd->run == cmd_compare_main, npos;
    char **pos = malloc(sizeof(char *) * (size_t)(sub_argc + 1));
    if (!pos) return 1;
    char err[512];
    CmdTable t = cmdopts_table(&o);
    int rc = config_parse_args(&c, &t, sub_argc, sub_argv, cmd->groups, pos, passes ? 0 : 2,
                               passes ? pos : NULL, passes ? &npos : NULL, err, sizeof err);
    if (rc < 0) {
        free(pos);
        return usage_error(cmd->name, err);
    }
    if (!passes) npos = rc;
    // MPI (make mpi; a no-op in the plain build): train over ranks, compare's
    // ranks sharing the runs; a run that compare started (CPCRL_COMPARE_CHILD)
    // is one process, even when its parent is an MPI rank
    if ((cmd->run == cmd_train || cmd->run == cmd_compare_main) && !getenv("CPCRL_COMPARE_CHILD")) {
        dist_init(&argc, &argv);
        rc = cmd->run(&c, &o, pos, npos, sub_argc, sub_argv);
        dist_finalize();
    } else {
        rc = cmd->run(&c, &o, pos, npos, sub_argc, sub_argv);
    }
    free(pos);
    return rc;
}
