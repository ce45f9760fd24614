// record.h — episodes recorded as replays while eval or training runs: the
// hooks of `eval --record DIR` and `train --record-every N` (train.h's
// EvalHook and TrainHook), for main.c to install.
#ifndef CPCRL_RECORD_H
#define CPCRL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/train.h"
#include "agent/trainer.h"

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
