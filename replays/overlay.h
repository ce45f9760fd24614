// overlay.h — the belief overlay of `watch` and `replay` (and so of their
// F12 screenshots and replay's --export/--frames): the read-outs of `cpcrl
// probe RUN --save` (lab/readout.h) applied to the agent's LSTM output c_t
// at the frame shown, handed to the renderer as a DrawBelief (draw.h).
//
// watch: c_t is the actor's, computed anyway to pick the action.
// replay: a replay holds no c_t. It is recomputed: the checkpoint's network
// is run over the replay's own frames (observation, previous action and
// reward, zero state at the episode start) — the inputs the agent had, so
// the same c_t when this checkpoint played the episode (checked: the policy
// it gives must match the recorded one; when it does not, the overlay says
// the belief is this checkpoint's reading of someone else's episode). This
// works for any replay, a person's too, and keeps the file format as it is.
#ifndef CPCRL_OVERLAY_H
#define CPCRL_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "lab/readout.h"
#include "replays/actor.h"
#include "replays/draw.h"
#include "replays/replay.h"
#include "replays/window.h"

typedef struct {
    Readout ro;
    int loaded;
    ReadoutBelief *bel;        // decoded at the last c_t (heap: ~100 KB)
    float *last_c;             // that c_t (F), so a frame shown again is not decoded again
    int have_last;
    DrawBelief db;
    int show_pos, show_goal;   // layers on (B, T)
    char path[1100];
    char note[96], warn[96];
    int fitted_here;           // the episode shown was among the fitting ones
    char extra[96];            // overlay_warn's text ("": none)
    double frames;             // training frames of the checkpoint shown
} Overlay;

// Load the read-outs at path for the checkpoint ckpt (its task, LSTM size and
// training frames); layers on when `on`. 0, or -1 with a message (a missing,
// bad or mismatched file: readout_check's message).
int overlay_load(Overlay *ov, const char *path, const char *ckpt, int task, int hidden, double ckpt_frames, int on,
                 char *err, size_t errlen);
void overlay_free(Overlay *ov);
// The checkpoint was replaced (watch following a run): note when the
// read-outs were fitted at other frames.
void overlay_set_frames(Overlay *ov, double ckpt_frames);
// The env seed of the episode shown: warns on screen when the read-outs were
// fitted on it.
void overlay_set_seed(Overlay *ov, uint64_t env_seed);
// A warning of the caller's (e.g. a replay this checkpoint did not play),
// shown unless the episode was fitted on (that warning stays). NULL clears it.
void overlay_warn(Overlay *ov, const char *text);
// Decode c (ov->ro.F floats; NULL: nothing to show) into the DrawBelief for
// the frame, or NULL when nothing is drawn (not loaded, both layers off).
const DrawBelief *overlay_frame(Overlay *ov, const float *c);
// B toggles the position layer, T the goal layer: 1 when sym was one of them
// (a message says what happened, also when no read-outs are loaded), else 0.
int overlay_key(Overlay *ov, SDL_Keycode sym, Message *msg);

// The read-outs beside a checkpoint or run (readout_path_for), when there.
int overlay_find(const char *ckpt_or_run, char *out, size_t n);
// A replay's run: the replay's directory or the one above it holding both
// model.ckpt and readout.bin (train --record-every writes RUN/replays/).
// 0 with both paths, -1 when none.
int overlay_find_for_replay(const char *rpl, char *ckpt, size_t nc, char *ro, size_t nr);
// c_t of every frame 0..n of r by ac's network over the replay's inputs:
// *out (n+1, H) malloc'd. *maxdp: the largest |p - recorded p| over the
// steps with a recorded policy (-1 when none). 0, or -1 with a message (an
// env the checkpoint cannot act in, out of memory).
int overlay_replay_states(Actor *ac, const Replay *r, float **out, double *maxdp, char *err, size_t errlen);

#endif
