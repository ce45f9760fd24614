// options.c — the options of the commands that are not settings of a run
// (see options.h): one table in the form of agent/config.c's, its entries in
// the order `cpcrl help CMD` lists them.
#include "cli/options.h"

#include <stddef.h>
#include <string.h>

#include "env/env.h"

#define C(f) offsetof(CmdOpts, f), sizeof(((CmdOpts *)0)->f)
#define CMP(f) C(compare.f)
#define PRB(f) C(probe.f)
#define VW(f) C(view.f)
#define BIG CONFIG_BIG

// every entry is OF_CMD; arg and shown are optional
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const Opt CMD_OPTS[] = {
    // train (its --record-every, --lock-stale and --trace-every are in Config)
    {"config", T_STR, C(config), "", 0, 0, NULL, G_TRAIN, "load settings from a config.txt first (flags override it)",
     OF_CMD | OF_NONEMPTY, "FILE", "none"},
    {"resume", T_STR, C(resume), "", 0, 0, NULL, G_TRAIN,
     "continue the run in DIR from its model.ckpt (--frames may extend it)", OF_CMD | OF_NONEMPTY, "DIR", "none"},
    // compare
    {"tasks", T_STR, CMP(tasks), "all", 0, 0, NULL, G_CMP,
     "comma-separated tasks, or all (valid: " ENV_TASK_VALID ")", OF_CMD, "LIST"},
    {"seeds", T_INT, CMP(seeds), "3", 1, 1000, NULL, G_CMP, "seeds per arm", OF_CMD, "N"},
    {"first-seed", T_U64, CMP(first_seed), "1", 0, 0, NULL, G_CMP, "seeds are S, S+1, ..., S+N-1", OF_CMD, "S"},
    {"frames", T_DOUBLE, CMP(frames), "1e6", 1, BIG, NULL, G_CMP, "env frames per run", OF_CMD, "N"},
    {"out", T_STR, CMP(out), "runs/compare", 0, 0, NULL, G_CMP,
     "experiment directory: DIR/runs/<task>-<arm>-s<seed>/, results.csv, summary.md, curves_<task>.png", OF_CMD,
     "DIR"},
    {"cpc-weight", T_DOUBLE, CMP(cpc_weight), "1", 0, 1e6, NULL, G_CMP_ARMS,
     "CPC loss weight of the cpc arm", OF_CMD, "W", "1, as train"},
    {"cpc-weights", T_STR, CMP(cpc_weights), "", 0, 0, NULL, G_CMP_ARMS,
     "one arm per weight, e.g. 0.5,1,2 (arms w0.5, w1, w2)", OF_CMD, "LIST"},
    {"cpc-ks", T_STR, CMP(cpc_ks), "", 0, 0, NULL, G_CMP_ARMS,
     "one arm per prediction horizon K, e.g. 1,10,19 (arms k1, ...; combined with --cpc-weights: w0.5-k10, ...)",
     OF_CMD, "LIST"},
    {"arms", T_STR, CMP(arms), "", 0, 0, NULL, G_CMP_ARMS,
     "arms by training flags, 'NAME=FLAGS;NAME=FLAGS', e.g. 'cpc=;paper=--unroll 100 --cpc-k 30' (each run gets the "
     "passed flags, then its arm's; an empty FLAGS is the train defaults); replaces --cpc-weight(s) and --cpc-ks",
     OF_CMD, "SPEC"},
    {"jobs", T_INT, CMP(jobs), "0", 1, 256, NULL, G_CMP_SCHED, "runs at once, each a child process", OF_CMD, "J",
     "number of cores"},
    {"threads", T_INT, CMP(threads), "0", 0, 256, NULL, G_CMP_SCHED,
     "OpenBLAS threads per run (0 = cores / jobs; jobs x threads must not exceed the cores)", OF_CMD, "N"},
    {"lock-stale", T_DOUBLE, CMP(lock_stale), "600", 120, BIG, NULL, G_CMP_SCHED,
     "a run's lock held on another host is stale (taken over) after S seconds without a heartbeat (at least "
     "120: 4 heartbeats); on this host, once its processes are gone", OF_CMD, "S"},
    {"only-run", T_STR, CMP(only_run), "", 0, 0, NULL, G_CMP_SCHED,
     "carry out only the run NAME of the plan (train or resume, probe; skipped when done or in use), no "
     "aggregation: what a Slurm array task runs", OF_CMD | OF_NONEMPTY, "NAME", "none"},
    {"emit-slurm", T_STR, CMP(emit_slurm), "", 0, 0, NULL, G_CMP_SCHED,
     "train nothing; write DIR/runs.txt (one command per run), DIR/array.sbatch (a Slurm job array over "
     "them) and DIR/aggregate.sh", OF_CMD | OF_NONEMPTY, "DIR", "none"},
    {"slurm-limit", T_INT, CMP(slurm_limit), "0", 0, 1e6, NULL, G_CMP_SCHED,
     "with --emit-slurm: array tasks running at once (the %N of #SBATCH --array; 0 = no limit)", OF_CMD, "N"},
    {"dry-run", T_BOOL, CMP(dry_run), "0", 0, 1, NULL, G_CMP_SCHED,
     "print the plan (state of every run, the commands) and stop", OF_CMD},
    {"probe", T_INT, CMP(probe), "1", 0, 1, NULL, G_CMP_AGG,
     "probe every final checkpoint (and evaluate its model.ckpt and best.ckpt once more on the same fresh "
     "episodes: recheck.csv, the collapse test)", OF_CMD, "0|1"},
    {"probe-episodes", T_INT, CMP(probe_episodes), "100", 1, 1e6, NULL, G_CMP_AGG,
     "probe episodes per split, train and held-out (and the re-evaluation's episodes)", OF_CMD, "N"},
    {"bootstrap", T_INT, CMP(bootstrap), "10000", 1, 1e7, NULL, G_CMP_AGG, "bootstrap resamples for the 95% CIs",
     OF_CMD, "R"},
    {"plot", T_INT, CMP(plot), "1", 0, 1, NULL, G_CMP_AGG, "draw curves_<task>.png with scripts/plot_compare.sh",
     OF_CMD, "0|1"},
    {"smooth", T_DOUBLE, CMP(smooth), "0.05", 0, 1, NULL, G_CMP_AGG,
     "curves only: each run's series averaged over a trailing window of F x its frames before the mean over "
     "seeds (0 = raw)", OF_CMD, "F"},
    {"aggregate-only", T_BOOL, CMP(aggregate_only), "0", 0, 1, NULL, G_CMP_AGG,
     "only re-aggregate the runs already in DIR/runs (no training)", OF_CMD},
    {"baseline", T_STR, CMP(baseline), "", 0, 0, NULL, G_CMP_AGG,
     "the arm every other arm is compared against in summary.md (verdicts, differences, P(>), frames to "
     "the mark)", OF_CMD, "ARM", "nocpc, else the first arm with CPC weight 0"},
    {"include-unfinished", T_BOOL, CMP(include_unfinished), "0", 0, 1, NULL, G_CMP_AGG,
     "also aggregate runs whose log.csv stops before their frames (by default they are left out of every "
     "table and verdict, and listed)", OF_CMD},
    // bench
    {"repeat", T_INT, C(bench_repeat), "0", 0, 100, NULL, G_BENCH,
     "train: then N rounds of four arms in turn, 2 s each (the settings given, the same with plain CPC, "
     "4 x 4 sample reuse, and it with --aux-epochs 1): each arm's median frames/s and the per-round ratios, "
     "which hold on a shared machine whose speed drifts (0 = off)", OF_CMD, "N"},
    // probe
    {"episodes", T_INT, PRB(episodes), "100", 1, 1e6, NULL, G_PROBE,
     "episodes per split: N to fit on, N held out", OF_CMD, "N"},
    {"envs", T_INT, PRB(envs), "16", 1, 4096, NULL, G_PROBE, "envs rolled out at once", OF_CMD, "B"},
    {"seed", T_U64, PRB(seed), "1000", 0, 0, NULL, G_PROBE,
     "env seed of the training split; the held-out split uses S + 1000003", OF_CMD, "S"},
    {"greedy", T_BOOL, PRB(greedy), "0", 0, 1, NULL, G_PROBE, "act greedily (argmax) instead of sampling", OF_CMD},
    {"lambda", T_DOUBLE, PRB(lambda), "0.01", 1e-12, 1e12, NULL, G_PROBE,
     "ridge strength per sample on standardized features", OF_CMD, "L"},
    {"threads", T_INT, PRB(threads), "0", 0, 256, NULL, G_PROBE, "OpenBLAS threads (0 = all cores)", OF_CMD, "N"},
    {"out", T_STR, PRB(out), "", 0, 0, NULL, G_PROBE,
     "also write the table as CSV to FILE (and, as compare's probe step, memory.csv on goal/watermaze and "
     "recheck.csv for a run with a best.ckpt beside it)", OF_CMD, "FILE",
     "\"\": none"},
    {"save", T_BOOL, PRB(save), "0", 0, 1, NULL, G_PROBE,
     "also fit softmax read-outs (what watch and replay draw) and save them with the ridge ones as readout.bin "
     "beside the checkpoint", OF_CMD},
    // watch
    {"seed", T_U64, VW(seed), "1", 0, 0, NULL, G_WATCH, "seed of the env the agent acts in", OF_CMD, "N"},
    {"greedy", T_BOOL, VW(greedy), "0", 0, 1, NULL, G_WATCH, "start with greedy actions (argmax; G toggles)", OF_CMD},
    {"speed", T_DOUBLE, VW(speed), "8", 0.25, 1000, NULL, G_WATCH,
     "steps per second (Up/Down change it)", OF_CMD, "N"},
    {"paused", T_BOOL, VW(paused), "0", 0, 1, NULL, G_WATCH | G_REPLAY, "start paused", OF_CMD},
    {"reload-every", T_DOUBLE, VW(reload_every), "1", 0.05, 3600, NULL, G_WATCH,
     "seconds between checks for a newer model.ckpt", OF_CMD, "S"},
    {"record", T_STR, VW(record), "", 0, 0, NULL, G_WATCH, "also save every finished episode as DIR/watch-*.rpl",
     OF_CMD | OF_NONEMPTY, "DIR"},
    // play
    {"seed", T_U64, VW(seed), "1", 0, 0, NULL, G_PLAY, "env seed", OF_CMD, "N"},
    {"size", T_INT, VW(size), "0", 0, ENV_MAX_SIZE, NULL, G_PLAY, "grid side incl. walls (0 = the task's default)",
     OF_CMD, "N"},
    {"view", T_INT, VW(view), "7", 3, ENV_MAX_VIEW, NULL, G_PLAY, "agent view side V (odd)", OF_CMD, "N"},
    {"max-steps", T_INT, VW(max_steps), "0", 0, 1e6, NULL, G_PLAY, "episode time limit (0 = the task's default)",
     OF_CMD, "N"},
    {"items", T_INT, VW(items), "-1", -1, 1000, NULL, G_PLAY,
     ENV_ITEMS_HELP " (-1 = default)", OF_CMD, "N"},
    {"out", T_STR, VW(out), ".", 0, 0, NULL, G_PLAY, "directory the replays are saved into (play-TASK-sSEED-eN.rpl)",
     OF_CMD | OF_NONEMPTY, "DIR"},
    {"save", T_INT, VW(save), "1", 0, 1, NULL, G_PLAY, "save each finished episode, and the current one on quit",
     OF_CMD, "0|1"},
    // replay
    {"info", T_BOOL, VW(info), "0", 0, 1, NULL, G_REPLAY, "print the episode's stats, no window", OF_CMD},
    {"verify", T_BOOL, VW(verify), "0", 0, 1, NULL, G_REPLAY,
     "re-simulate from the seed and actions, check the state hashes (exit 1 on mismatch)", OF_CMD},
    {"export", T_STR, VW(export_path), "", 0, 0, NULL, G_REPLAY,
     "write a video: FILE.gif (built in) or FILE.mp4 (needs ffmpeg)", OF_CMD | OF_NONEMPTY, "FILE"},
    {"frames", T_STR, VW(frames), "", 0, 0, NULL, G_REPLAY, "write every frame as DIR/frame_00000.png ...",
     OF_CMD | OF_NONEMPTY, "DIR"},
    {"fps", T_DOUBLE, VW(fps), "8", 0.5, 100, NULL, G_REPLAY, "frames per second of --export", OF_CMD, "N"},
    {"speed", T_DOUBLE, VW(speed), "8", 0.25, 1000, NULL, G_REPLAY, "playback steps per second in the window", OF_CMD,
     "N"},
    {"start", T_INT, VW(start), "0", 0, 1e9, NULL, G_REPLAY, "first frame shown", OF_CMD, "T"},
    {"loop", T_BOOL, VW(loop), "0", 0, 1, NULL, G_REPLAY, "start over at the end (L toggles)", OF_CMD},
    {"ckpt", T_STR, VW(ckpt), "", 0, 0, NULL, G_REPLAY,
     "checkpoint that recomputes the agent's c_t for the belief overlay (default: model.ckpt in the replay's "
     "directory or the one above, when a readout.bin is there)", OF_CMD | OF_NONEMPTY, "CKPT|RUN",
     "model.ckpt near the replay"},
    // watch and replay
    {"overlay", T_INT, VW(overlay), "1", 0, 1, NULL, G_WATCH | G_REPLAY,
     "draw the belief overlay (position and goal decoded from c_t) when read-outs are found; B and T toggle "
     "its layers", OF_CMD, "0|1"},
    {"readout", T_STR, VW(readout), "", 0, 0, NULL, G_WATCH | G_REPLAY,
     "read-outs for the overlay (cpcrl probe RUN --save)", OF_CMD | OF_NONEMPTY, "FILE",
     "readout.bin beside the checkpoint"},
    // every window
    {"window", T_WXH, VW(win_w), "1280x720", 64, 8192, NULL, G_WINDOW,
     "window size (also the size of exported frames)", OF_CMD, "WxH"},
    {"keys", T_STR, VW(keys), "", 0, 0, NULL, G_WINDOW,
     "scripted keys, e.g. \"Up,Up,Left,q\" (SDL key names; WAIT = none), one every 3 frames", OF_CMD, "LIST"},
    {"auto-quit", T_INT, VW(auto_quit), "0", 0, 1e9, NULL, G_WINDOW,
     "quit after N frames (0 = never); for tests and screenshots", OF_CMD, "N"},
    {"screenshot", T_STR, VW(screenshot), "", 0, 0, NULL, G_WINDOW, "write the last frame shown as a PNG on exit",
     OF_CMD | OF_NONEMPTY, "FILE"},
};
#pragma GCC diagnostic pop
#define NCMD_OPTS ((int)(sizeof(CMD_OPTS) / sizeof(CMD_OPTS[0])))

void cmdopts_defaults(CmdOpts *o) {
    memset(o, 0, sizeof *o);
    config_table_defaults(o, CMD_OPTS, NCMD_OPTS);
}

CmdTable cmdopts_table(CmdOpts *o) {
    return (CmdTable){CMD_OPTS, NCMD_OPTS, o};
}
