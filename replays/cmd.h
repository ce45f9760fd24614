// cmd.h — the `watch`, `play` and `replay` subcommands and the recording
// hooks of `eval --record DIR` and `train --record-every N`, for main.c to
// dispatch to. Each cmd_* takes the arguments after its name and returns
// the process exit code: 0 ok, 1 runtime error, 2 usage error (message on
// stderr naming the flag, the value and the valid choices).
#ifndef CPCRL_CMD_H
#define CPCRL_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/a2c.h"

// cpcrl watch CKPT|RUN_DIR [flags] — the agent acting live in a window;
// with a run directory, model.ckpt is reloaded whenever the trainer replaces it.
int cmd_watch(int argc, char **argv);
// cpcrl play TASK [--seed N] [flags] — a person plays with the arrow keys;
// episodes are saved as replays.
int cmd_play(int argc, char **argv);
// cpcrl replay FILE.rpl [--info] [--verify] [--export OUT.gif|OUT.mp4]
// [--frames DIR] [flags] — the player, or headless stats/verify/export.
int cmd_replay(int argc, char **argv);

// Usage, every flag with its default, and the keys of "watch", "play" or
// "replay" (NULL for another name). Static text.
const char *cmd_help_text(const char *cmd);
// One-line summary and positional synopsis (for the command list).
const char *cmd_summary(const char *cmd);
const char *cmd_synopsis(const char *cmd);

// `cpcrl eval CKPT --record DIR`: install an eval hook (train.h) so that
// the next eval_main writes each episode it counts as DIR/ep<i>.rpl (i = the
// episode's index among eval's N; same envs, actions and returns as eval's
// figures). DIR is created. 0, or -1 with a message.
int replay_eval_recorder_begin(const char *ckpt_path, const char *dir, int greedy, char *err, size_t errlen);
// Remove the hook; returns the number of files written.
int replay_eval_recorder_end(void);
// Both around one eval_main of `episodes` episodes seeded `seed` (1 thread).
// Returns the number of files written, or -1 with a message.
int replay_record_eval(const char *ckpt_path, const char *dir, int episodes, uint64_t seed,
                       int greedy, char *err, size_t errlen);
// `cpcrl train --record-every N`: install a TrainHook that, every N frames,
// plays one episode with the current parameters (its own env, LSTM state,
// activations and RNG: the trainer's state is not touched) and writes
// RUN_DIR/replays/frames_<frames>.rpl. every_frames <= 0 removes it.
void replay_install_train_recorder(double every_frames);
// What that hook does once: one episode (sampled actions) with tr's current
// parameters in an env seeded `seed`, written to path. Reads tr, never writes it.
int replay_record_trainer(Trainer *tr, const char *path, uint64_t seed, char *err, size_t errlen);

#endif
