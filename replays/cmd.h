// cmd.h — the window subcommands `watch` (watch.c), `play` (play.c) and
// `replay` (playback.c), for main.c to dispatch to (their shared parts:
// window.h; the recorders of eval and train: record.h). Each cmd_* takes the arguments after its name and returns
// the process exit code: 0 ok, 1 runtime error, 2 usage error (message on
// stderr naming the flag, the value and the valid choices).
#ifndef CPCRL_CMD_H
#define CPCRL_CMD_H

#include <stdint.h>
#include <stdio.h>

// The window commands' flags (cli/options.c's table, parsed by main.c).
typedef struct {
    uint64_t seed;
    int greedy, paused, loop, info, verify, save;
    double speed, reload_every, fps;
    int win_w, win_h;   // --window WxH
    int auto_quit, start;
    char keys[1024], screenshot[1024], record[1024], out[1024], export_path[1024], frames[1024];
    int size, view, max_steps, items; // play: env settings (0 / -1 = task default)
    int overlay;        // watch, replay: draw the belief overlay when read-outs are there
    char readout[1024]; // watch, replay: the read-outs (default: readout.bin beside the checkpoint)
    char ckpt[1024];    // replay: the checkpoint that recomputes c_t for the overlay
} ViewOpts;

// cpcrl watch CKPT|RUN_DIR [flags] — the agent acting live in a window;
// with a run directory, model.ckpt is reloaded whenever the trainer replaces it.
// Flags come parsed (cli/options.c's table, G_WATCH | G_WINDOW); pos/np are
// the positional arguments.
int cmd_watch(const ViewOpts *o, char **pos, int np);
// cpcrl play TASK [--seed N] [flags] — a person plays with the arrow keys;
// episodes are saved as replays.
int cmd_play(const ViewOpts *o, char **pos, int np);
// cpcrl replay FILE.rpl [--info] [--verify] [--export OUT.gif|OUT.mp4]
// [--frames DIR] [flags] — the player, or headless stats/verify/export.
int cmd_replay(const ViewOpts *o, char **pos, int np);
// The keys of "watch", "play" or "replay"'s window, for `cpcrl help CMD`
// (nothing for another name).
void cmd_print_keys(FILE *f, const char *cmd);

#endif
