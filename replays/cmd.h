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

#include "agent/trainer.h"
#include "agent/config.h"
#include "agent/train.h"

// cpcrl watch CKPT|RUN_DIR [flags] — the agent acting live in a window;
// with a run directory, model.ckpt is reloaded whenever the trainer replaces it.
// Flags come parsed (agent/config.c's table, G_WATCH | G_WINDOW); pos/np are
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

// `cpcrl eval CKPT --record DIR`: a recorder and the eval hook (train.h) that,
// passed to eval_main, writes each episode eval counts as DIR/ep<i>.rpl (i =
// the episode's index among eval's N; same envs, actions and returns as
// eval's figures). DIR is created. NULL with a message on failure.
typedef struct EvalRecorder EvalRecorder;
EvalRecorder *replay_eval_recorder_begin(const char *ckpt_path, const char *dir, int greedy, EvalHook *hook,
                                         char *err, size_t errlen);
// Free the recorder (NULL: nothing); returns the number of files written.
int replay_eval_recorder_end(EvalRecorder *er);
// Both around one eval_main of `episodes` episodes seeded `seed` (1 thread).
// Returns the number of files written, or -1 with a message.
int replay_record_eval(const char *ckpt_path, const char *dir, int episodes, uint64_t seed,
                       int greedy, char *err, size_t errlen);
// `cpcrl train --record-every N`: set hook's after_update (ctx = rec) so
// that, every N frames, it plays one episode with the current parameters
// (its own env, LSTM state, activations and RNG: the trainer's state is not
// touched) and writes RUN_DIR/replays/frames_<frames>.rpl. rec must outlive
// the training.
typedef struct {
    double every, next;
    int count;
} TrainRecorder;
void replay_train_recorder(TrainRecorder *rec, double every_frames, TrainHook *hook);
// What that hook does once: one episode (sampled actions) with tr's current
// parameters in an env seeded `seed`, written to path. Reads tr, never writes it.
int replay_record_trainer(Trainer *tr, const char *path, uint64_t seed, char *err, size_t errlen);

#endif
