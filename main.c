// main.c — the `cpcrl` entry point: subcommand dispatch and flag parsing.
// Everything else lives in env/, agent/, cpc/, replays/. Exit codes: 0 ok,
// 1 runtime error (message on stderr), 2 usage error (bad flag or value).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "agent/bench.h"
#include "agent/compare.h"
#include "agent/blas.h"
#include "agent/config.h"
#include "agent/dist.h"
#include "agent/train.h"
#include "env/env.h"
#include "replays/cmd.h"

typedef struct {
    const char *name;
    const char *args;   // positional synopsis
    const char *summary;
    int groups;         // option groups accepted
    int (*run)(Config *c, char **pos, int npos, int argc, char **argv);
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
        snprintf(msg, sizeof msg, "unknown task '%.100s' (valid: goal, watermaze, keys_doors, seekavoid, tmaze)",
                 pos[0]);
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

static int cmd_show(Config *c, char **pos, int npos, int argc, char **argv) {
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

static int cmd_baseline(Config *c, char **pos, int npos, int argc, char **argv) {
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
    return 0;
}

static int cmd_train(Config *c, char **pos, int npos, int argc, char **argv) {
    // --config FILE and --resume DIR are handled here, before the other flags
    // so that flags given on the command line override the file.
    const char *resume = NULL;
    int frames_given = 0;
    double record_every = 0;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "--frames", 8)) frames_given = 1;
    }
    (void)pos, (void)npos;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--record-every")) { // replays/cmd.h: a replay every N frames
            char *end = NULL;
            double n = i + 1 < argc ? strtod(argv[i + 1], &end) : 0;
            if (i + 1 >= argc || !end || *end || !(n > 0) || !isfinite(n))
                return usage_error("train", "--record-every: expected a number of frames > 0 (e.g. 1e5)");
            record_every = n; // checked against the run's episode length below
            continue;
        }
        int isc = !strcmp(argv[i], "--config"), isr = !strcmp(argv[i], "--resume");
        if (!isc && !isr) continue;
        if (i + 1 >= argc) return usage_error("train", isc ? "--config: missing file" : "--resume: missing run directory");
        if (isr) resume = argv[i + 1];
        if (isc) {
            char err[2048];
            if (config_load(c, argv[i + 1], err, sizeof err) < 0) return usage_error("train", err);
        }
    }
    // the remaining flags (without --config/--resume pairs)
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!rest) return 1;
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--resume") ||
            !strcmp(argv[i], "--record-every")) { i++; continue; }
        rest[nrest++] = argv[i];
    }
    char err[512];
    char *p[1];
    int np = config_parse_args(c, nrest, rest, G_TRAIN_ALL, p, 0, err, sizeof err);
    free(rest);
    if (np < 0) return usage_error("train", err);
    if (resume) { // the run's own config.txt rules; only these may change
        static const char *const OK[] = {"--frames", "--threads", "--progress", "--record-every"};
        for (int i = 0; i < argc; i++) {
            if (strncmp(argv[i], "--", 2) || !strcmp(argv[i], "--resume")) continue;
            int ok = 0;
            for (int j = 0; j < 4; j++)
                ok |= !strncmp(argv[i], OK[j], strlen(OK[j])) &&
                      (argv[i][strlen(OK[j])] == 0 || argv[i][strlen(OK[j])] == '=');
            if (!ok) {
                char msg[300];
                snprintf(msg, sizeof msg,
                         "%.60s cannot be changed when resuming (the run keeps the settings stored in "
                         "its model.ckpt); only --frames, --threads, --progress and --record-every can",
                         argv[i]);
                return usage_error("train", msg);
            }
        }
    }
    if (!resume && config_check(c, err, sizeof err) < 0) return usage_error("train", err);
    if (record_every > 0) { // one recorded episode takes up to the time limit: fewer frames apart is no schedule
        Config run = *c;
        if (resume) { // the run's own settings
            char path[1100];
            snprintf(path, sizeof path, "%s/config.txt", resume);
            config_defaults(&run);
            if (config_load(&run, path, err, sizeof err) < 0) run = *c; // train_main reports a bad run
        }
        EnvConfig e;
        config_env(&run, &e);
        if (record_every < e.max_steps) {
            char msg[300];
            snprintf(msg, sizeof msg, "--record-every %g: expected at least one episode's frames (%d, the time "
                     "limit of task %s)", record_every, e.max_steps, ENV_TASK_NAMES[e.task]);
            return usage_error("train", msg);
        }
        if (dist_rank() == 0) replay_install_train_recorder(record_every); // rank 0 records
    }
    return train_main(c, resume, frames_given);
}

static int cmd_eval(Config *c, char **pos, int npos, int argc, char **argv) {
    if (npos != 1) return usage_error("eval", "expected one checkpoint file or run directory");
    char ckpath[1100];
    struct stat st;
    ckpt_path_for(pos[0], ckpath, sizeof ckpath);
    if (stat(ckpath, &st) == 0 && !S_ISREG(st.st_mode)) { // a FIFO would block the read forever
        fprintf(stderr, "cpcrl eval: %s: not a regular file, expected a checkpoint\n", ckpath);
        return 1;
    }
    if (c->record[0]) { // replays/cmd.h: the evaluated episodes as DIR/ep0000.rpl, ...
        char err[700];
        if (replay_eval_recorder_begin(pos[0], c->record, c->greedy, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl eval --record: %s\n", err);
            return 1;
        }
    }
    EvalResult r;
    int rc = eval_main(pos[0], c, &r);
    int nrec = c->record[0] ? replay_eval_recorder_end() : 0;
    if (rc) return rc;
    if (c->record[0])
        printf("wrote %d replays to %s (play one: cpcrl replay %s/ep0000.rpl)\n", nrec, c->record, c->record);
    printf("%s: %d episodes (%s, seed %llu), return %.3f ± %.3f (95%% CI), success %.1f%%, length %.1f\n",
           pos[0], r.episodes, c->greedy ? "greedy" : "sampled", (unsigned long long)c->seed,
           r.mean_return, r.ci95, 100.0 * r.success, r.mean_length);
    if (r.K > 0) {
        printf("CPC accuracy per k (chance 1/B):");
        for (int k = 0; k < r.K; k++) printf(" k%d %.3f", k + 1, r.cpc_acc[k]);
        printf("\n");
    }
    return 0;
}

static int cmd_bench(Config *c, char **pos, int npos, int argc, char **argv) {
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
        if (bench_train(c, stdout) < 0) return 1;
    }
    return 0;
}

static int cmd_help(Config *c, char **pos, int npos, int argc, char **argv) {
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
    if (cmd_help_text(cmd->name)) { // watch, play, replay: usage, every flag, keys
        fputs(cmd_help_text(cmd->name), stdout);
        return 0;
    }
    printf("usage: cpcrl %s %s\n  %s\n\n", cmd->name, cmd->args, cmd->summary);
    if (!strcmp(cmd->name, "train"))
        printf("  --config FILE        load settings from a config.txt first (flags override it)\n"
               "  --resume DIR         continue the run in DIR from its model.ckpt (--frames may extend it)\n"
               "  --record-every N     every N frames, write one episode as runs/NAME/replays/frames_*.rpl\n");
    if (!strcmp(cmd->name, "compare")) fputs(COMPARE_HELP, stdout);
    if (!strcmp(cmd->name, "probe")) fputs(PROBE_HELP, stdout);
    if (cmd->groups) config_print_help(stdout, cmd->groups);
    return 0;
}

static int cmd_watch_main(Config *c, char **pos, int npos, int argc, char **argv) {
    return cmd_watch(argc, argv);
}
static int cmd_play_main(Config *c, char **pos, int npos, int argc, char **argv) {
    return cmd_play(argc, argv);
}
static int cmd_replay_main(Config *c, char **pos, int npos, int argc, char **argv) {
    return cmd_replay(argc, argv);
}

static int cmd_compare_main(Config *c, char **pos, int npos, int argc, char **argv) {
    return cmd_compare(argc, argv);
}

static int cmd_probe_main(Config *c, char **pos, int npos, int argc, char **argv) {
    return cmd_probe(argc, argv);
}

static const Command COMMANDS[] = {
    {"train", "[--config FILE] [--resume DIR] [flags]",
     "train an A2C(+CPC) agent headless into runs/NAME/ (config.txt, log.csv, model.ckpt)",
     G_TRAIN_ALL, cmd_train},
    {"eval", "CKPT|RUN_DIR [--episodes N] [--seed S] [--greedy]",
     "evaluate a checkpoint: mean return ± 95% CI, success rate, CPC accuracy", G_EVAL, cmd_eval},
    {"show", "TASK [--seed N] [env flags]", "print a task's map and the agent's view as text",
     G_ENV | G_BASE, cmd_show},
    {"baseline", "TASK --policy random|oracle [--episodes N] [--seed S]",
     "mean return ± 95% CI and success of a random or scripted-oracle policy", G_ENV | G_BASE,
     cmd_baseline},
    {"bench", "[env|blas|train|all]", "throughput benchmarks (env steps/s, BLAS GFLOP/s)",
     G_ENV | G_RUN, cmd_bench},
    {"compare", "[--tasks LIST] [--seeds N] [--frames N] [--jobs J] [--out DIR] [training flags]",
     "the with/without-CPC experiment over tasks x seeds (resumable): results.csv, summary.md, curves",
     0, cmd_compare_main},
    {"probe", "CKPT|RUN_DIR [--episodes N] [--greedy] [--out FILE]",
     "linear probe: held-out accuracy of position, heading, goal read from c_t and z_t", 0,
     cmd_probe_main},
    {"watch", "CKPT|RUN_DIR [flags]", "watch a checkpoint (or a training run) act live in a window", 0,
     cmd_watch_main},
    {"play", "TASK [--seed N] [flags]", "play a task yourself with the arrow keys; saves replays", 0,
     cmd_play_main},
    {"replay", "FILE.rpl [flags]", "replay player; --info, --verify, --export GIF/MP4, --frames PNG", 0,
     cmd_replay_main},
    {"help", "[COMMAND]", "list commands, or every flag of one command with its default", 0,
     cmd_help},
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
    config_defaults(&c);
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    for (int i = 0; i < sub_argc; i++)
        if (!strcmp(sub_argv[i], "--help") || !strcmp(sub_argv[i], "-h")) {
            char *p[1] = {(char *)cmd->name};
            return cmd_help(&c, p, 1, 0, NULL);
        }
    if (cmd->run == cmd_train) {
        dist_init(&argc, &argv); // MPI (make mpi); a no-op in the plain build
        int rc = cmd_train(&c, NULL, 0, sub_argc, sub_argv);
        dist_finalize();
        return rc;
    }
    if (cmd->run == cmd_compare_main || cmd->run == cmd_probe_main || cmd->run == cmd_watch_main ||
        cmd->run == cmd_play_main || cmd->run == cmd_replay_main) // own flag parsing
        return cmd->run(&c, NULL, 0, sub_argc, sub_argv);
    char *pos[4];
    char err[512];
    int npos = config_parse_args(&c, sub_argc, sub_argv, cmd->groups, pos, 2, err, sizeof err);
    if (npos < 0) return usage_error(cmd->name, err);
    return cmd->run(&c, pos, npos, sub_argc, sub_argv);
}
