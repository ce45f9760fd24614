// replay.h — episode files (*.rpl): record, save, load, verify by re-simulation.
//
// A replay holds one episode: enough to draw every frame without the
// checkpoint (the map at every step, pose, action, reward, value and action
// probabilities) and enough to re-simulate it (env config, seed, episode
// index and the env's rng state at the episode start), with periodic
// env_hash() state hashes that `cpcrl replay --verify` checks.
//
// File layout (version 1, little-endian)
//   offset  size  field
//   0       8     magic "CPCRLRPL"
//   8       4     u32 version (REPLAY_VERSION; a newer one is refused with a
//                 message naming both versions)
//   12      4     u32 body_len: bytes of the body once inflated (<= 1 GiB)
//   16      4     u32 zlen: bytes of the zlib stream that follows
//   20      zlen  zlib (deflate) stream of the body
//   20+zlen 4     u32 CRC32 (zlib crc32) of every byte before it
// Body (inflated):
//   u32 task, size, view, max_steps; i32 items       EnvConfig (defaults filled)
//   u64 seed, episode, episode_rng                   env_init seed, episode index,
//                                                    env rng at the episode start
//   u32 w, h, A                                      map size, number of actions
//   i32 tx, ty, cue                                  target cell, tmaze cue
//   u32 source                                       0 person, 1 agent (greedy),
//                                                    2 agent (sampled)
//   u32 has_policy                                   1: value/probs are meaningful
//   f64 train_frames                                 training frames of the checkpoint
//   char label[64]                                   NUL-padded free text
//   u32 n                                            steps in the episode
//   u32 end                                          0 cut short, 1 terminated, 2 truncated
//   f32 ret; u32 success                             episode return and success (0/1/count)
//   u32 hash_every                                   hash period (steps)
//   u8  grid0[w*h]                                   map before step 0
//   n+1 frames, frame t = the state before action t (frame n: after the
//   last action; for an episode that ended it is drawn from the last state,
//   since the env resets itself when an episode ends):
//       u8 ax, ay, dir, carrying; u16 ndiff; ndiff x (u16 cell, u8 kind)
//       (map changes since frame t-1; none for frame 0)
//   n steps:  u8 action; f32 reward, value, probs[A]
//   u32 nhash; nhash x (u32 step, u64 env_hash)      hash of the state before
//       each step t with t % hash_every == 0, and of the state after the last
//       step (step = n, the next episode's start when the episode ended)
// Limits: n <= REPLAY_MAX_STEPS (2^22), map <= ENV_MAX_SIZE per side, body
// <= 1 GiB, all frames in memory <= 1 GiB.
// Files are written to NAME.tmp, fsync'd and renamed over NAME.
// Verify re-creates the env (env_init(seed), rng = episode_rng, episode
// index), checks the start hash, then replays the actions and checks every
// frame's pose and map, every reward, the end flags and every stored hash,
// and that the header's summary (return, success, steps, how it ended) is
// what the re-simulated steps give: a forged header does not verify.
#ifndef CPCRL_REPLAY_H
#define CPCRL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "env/env.h"

#define REPLAY_MAGIC "CPCRLRPL"
#define REPLAY_VERSION 1
#define REPLAY_HASH_EVERY 16
#define REPLAY_MAX_STEPS (1 << 22)

enum { REPLAY_PERSON = 0, REPLAY_AGENT_GREEDY = 1, REPLAY_AGENT_SAMPLED = 2 };
enum { REPLAY_CUT = 0, REPLAY_TERMINATED = 1, REPLAY_TRUNCATED = 2 };

typedef struct {
    uint8_t ax, ay, dir, carrying; // pose before the step
    uint8_t action;
    float reward, value;
    float probs[ENV_A];
} ReplayStep;

typedef struct {
    EnvConfig cfg;
    uint64_t seed, episode, episode_rng;
    int w, h, tx, ty, cue;
    int source, has_policy;
    double train_frames;
    char label[64];
    int n;                 // steps recorded
    int end;               // REPLAY_CUT / _TERMINATED / _TRUNCATED
    float ret;
    int success;
    int hash_every;
    ReplayStep *steps;     // n + 1 (steps[n]: final pose, no action)
    uint8_t *grids;        // (n + 1) * w * h: map of each frame
    int nhash;
    uint32_t *hash_step;
    uint64_t *hash;
    int cap, hcap;         // capacities (recording)
    Env last;              // recording: state before the pending step
} Replay;

// ---- recording: begin, then for every step push_state (before acting) and
// push_action (after env_step); an episode that ends is finished by
// push_action; replay_finish closes one cut short (e.g. a person quits).
int replay_begin(Replay *r, const Env *e, int source, const char *label, double train_frames,
                 char *err, size_t errlen);
int replay_push_state(Replay *r, const Env *e, char *err, size_t errlen);
// `after` is the env after env_step (the next episode when it ended).
// probs may be NULL (a person plays).
int replay_push_action(Replay *r, int action, float reward, float value, const float *probs,
                       uint8_t terminated, uint8_t truncated, const Env *after, char *err,
                       size_t errlen);
int replay_finish(Replay *r, const Env *now, char *err, size_t errlen);
int replay_ended(const Replay *r);
// A finished deep copy of an episode in progress (saving mid-episode); `now`
// is the current env. r is left untouched and recording may go on.
int replay_snapshot(const Replay *r, const Env *now, Replay *out, char *err, size_t errlen); // push_action saw the episode end, or finish was called
void replay_free(Replay *r);

// ---- files
// Serialize into a malloc'd buffer. Returns 0, or -1 (out of memory).
int replay_encode(const Replay *r, uint8_t **out, size_t *outlen, char *err, size_t errlen);
int replay_save(const Replay *r, const char *path, char *err, size_t errlen);
// Validate everything (magic, version, sizes, CRC, inflate, every field and
// index) before returning a replay; origin names the file in messages.
int replay_parse(Replay *r, const uint8_t *buf, size_t len, const char *origin, char *err,
                 size_t errlen);
int replay_load(Replay *r, const char *path, char *err, size_t errlen);

// ---- use
// Re-simulate and compare. Returns 0 when the file reproduces, else -1 with
// the first mismatch (step, what, recorded vs simulated).
int replay_verify(const Replay *r, char *err, size_t errlen);
// An Env holding frame t (0..n) for drawing and env_observe: map, pose,
// carrying, target. Not steppable (rng not restored).
void replay_frame_env(const Replay *r, int t, Env *out);
// Return accumulated before frame t, and the reward of step t-1.
float replay_return_at(const Replay *r, int t);

#endif
