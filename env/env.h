// env.h — the built-in gridworld: maze generation, five tasks, stepping and
// egocentric observations, plus a vectorized batch of envs.
//
// Owns: the world state of each env and its episode statistics. Knows nothing
// of learning, SDL or BLAS. The caller owns every observation/reward/done
// buffer; `env_step`/`vec_step` write into them and never allocate.
//
// Conventions
//   grid[y * w + x], x to the right, y downwards; heading 0 = north (up, -y),
//   1 = east, 2 = south, 3 = west. Turning left is dir = (dir + 3) % 4.
//   Observation: uint8 planes [ENV_C][V][V]; row 0 is the farthest row in front
//   of the agent, row V-1 the agent's own row; the agent sits at (V-1, V/2)
//   facing "up". Exactly one plane is 1 at every (row, col): the kind seen
//   there, or ENV_UNSEEN when it is occluded or off the map. The agent's own
//   cell shows what it carries (a key) or ENV_EMPTY.
//   Visibility follows MiniGrid's process_vis: light spreads from the agent
//   row upwards and sideways through see-through cells; walls, closed doors and
//   cue blocks stop it.
#ifndef CPCRL_ENV_H
#define CPCRL_ENV_H

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------
// Cell kinds (= observation planes)

enum {
    ENV_UNSEEN = 0, // not visible (occluded or outside the map)
    ENV_EMPTY,      // floor
    ENV_WALL,
    ENV_GOAL,       // goal (goal, keys_doors) — visible
    ENV_APPLE,      // seekavoid +1
    ENV_LEMON,      // seekavoid -1
    ENV_KEY0,       // keys of colour 0 / 1
    ENV_KEY1,
    ENV_DOOR0,      // closed doors of colour 0 / 1 (opaque); an opened door becomes floor
    ENV_DOOR1,
    ENV_CUE0,       // coloured wall blocks: watermaze wall cues, tmaze start cue
    ENV_CUE1,
    ENV_CUE2,
    ENV_CUE3,
    ENV_C           // number of kinds = observation channels
};

enum { ENV_LEFT = 0, ENV_RIGHT = 1, ENV_FORWARD = 2, ENV_INTERACT = 3, ENV_A = 4 };

enum { ENV_TASK_GOAL = 0, ENV_TASK_WATERMAZE, ENV_TASK_KEYS_DOORS, ENV_TASK_SEEKAVOID,
       ENV_TASK_TMAZE, ENV_NTASKS };

// The task names in ENV_TASK_* order, the one place they are written: X(name) per
// task, SEP between two, so the compiler can paste them into string constants.
// ENV_TASK_NAMES, the flag table's `task` choices and every "valid: ..." list are
// made from it (env_task_list at run time); each task's rules, defaults and looks
// are its entry in the table of env/tasks.h.
#define ENV_TASK_LIST(X, SEP) X(goal) SEP X(watermaze) SEP X(keys_doors) SEP X(seekavoid) SEP X(tmaze)
#define ENV_TASK_STR_(name) #name
// "goal|watermaze|keys_doors|seekavoid|tmaze" (a T_CHOICE's choices)
#define ENV_TASK_CHOICES ENV_TASK_LIST(ENV_TASK_STR_, "|")
// "goal, watermaze, keys_doors, seekavoid, tmaze" (messages and help)
#define ENV_TASK_VALID ENV_TASK_LIST(ENV_TASK_STR_, ", ")
// what --items means, per task that has items (help text)
#define ENV_ITEMS_HELP "seekavoid apples (= lemons) / keys_doors distractor keys"

#define ENV_MAX_SIZE 41 // largest grid side (cells, walls included)
#define ENV_MAX_VIEW 15 // largest observation window side

extern const char *const ENV_TASK_NAMES[ENV_NTASKS];
extern const char *const ENV_KIND_NAMES[ENV_C];
extern const char *const ENV_ACTION_NAMES[ENV_A];
// One step along heading d (0 north .. 3 west): x + ENV_DX[d], y + ENV_DY[d].
extern const int ENV_DX[4], ENV_DY[4];

// ---------------------------------------------------------------------------
// Configuration. 0 in size / max_steps / view means "the task's default"; for
// items, any negative value means the default, and so does 0 for seekavoid
// (which needs at least one apple). keys_doors takes items = 0 literally (no
// distractor key); goal, watermaze and tmaze use no items (must end up 0).

typedef struct {
    int task;      // ENV_TASK_*
    int size;      // grid side incl. outer walls (task-specific meaning, see docs/usage.md and `cpcrl show`)
    int view;      // observation window side V (odd, >= 3)
    int max_steps; // time limit per episode (truncation)
    int items;     // seekavoid: apples (= lemons); keys_doors: distractor keys (0/1)
} EnvConfig;

// Parse a task name; returns ENV_TASK_* or -1.
int env_task_from_name(const char *name);
// Every task name in ENV_TASK_* order, joined by sep, into out (n bytes, always
// terminated when n > 0). Returns the length of the whole list, as snprintf does.
int env_task_list(char *out, size_t n, const char *sep);
// Fill the task's defaults (view 7; the rest from the task's entry in
// env/tasks.h: sizes goal 9, watermaze 9, keys_doors 6, seekavoid 9, tmaze
// view + 4 = 11, so the cue is out of sight from the junction; max_steps 100
// everywhere; items seekavoid 6, keys_doors 1).
// Idempotent. Leaves an unknown task alone for env_config_check to report.
void env_config_defaults(EnvConfig *cfg);
// 0 when the (defaulted) config is valid; else -1 and a message in err.
int env_config_check(const EnvConfig *cfg, char *err, size_t errlen);

// ---------------------------------------------------------------------------
// Episode statistics: float-only, summed over finished episodes until taken.

typedef struct {
    float episodes; // number of finished episodes summed below
    float ret;      // sum of episode returns
    float length;   // sum of episode lengths
    float success;  // sum of per-episode success (0/1)
} EnvLog;

// ---------------------------------------------------------------------------
// One env. Public so that renderers, probes and the oracle can read the state.

typedef struct {
    EnvConfig cfg;
    uint64_t seed;        // seed this env was created with
    uint64_t rng;         // the env's own generator
    uint64_t episode;     // episodes started so far (0-based index of the current one)
    uint64_t episode_rng; // rng state at the start of the current episode (for replays)
    int w, h;
    uint8_t grid[ENV_MAX_SIZE * ENV_MAX_SIZE];
    int ax, ay, dir;      // agent pose
    int carrying;         // ENV_KEY0 / ENV_KEY1 / 0
    int tx, ty;           // target: goal cell, hidden platform, or rewarded tmaze arm end
    int cue;              // tmaze: 0 = left arm rewarded, 1 = right arm
    int picked;           // keys_doors: the door's key was picked up (its +0.1 is paid once)
    int steps;            // steps taken in this episode
    float ep_return;
    int ep_success;       // goal/watermaze: targets reached; others: 1 on success
    EnvLog log;
} Env;

// Initialise and start the first episode from the given seed.
void env_init(Env *e, const EnvConfig *cfg, uint64_t seed);
// Start a new episode (drawn from the env's rng).
void env_reset(Env *e);
// Write the egocentric observation [ENV_C][V][V] for the current state.
void env_observe(const Env *e, uint8_t *obs);
// Plain reference version of env_observe: a line-by-line port of MiniGrid's
// slice + rotate + process_vis. Slow; tests compare env_observe against it.
void env_observe_ref(const Env *e, uint8_t *obs);
// Apply one action. Returns the reward; sets *terminated / *truncated (never
// both: an episode that ends on its last allowed step counts as terminated).
// When either is set, the episode's stats go into e->log and the env resets itself,
// so the state (and any observation taken after) belongs to the new episode.
float env_step(Env *e, int action, uint8_t *terminated, uint8_t *truncated);
// env_step that also writes, when the episode ends and final_obs is not NULL,
// the episode's last observation (taken before the reset) into final_obs
// [ENV_C][V][V]: what a truncated episode is bootstrapped from. final_obs is
// left untouched when the episode goes on. env_step is this with NULL.
float env_step_final(Env *e, int action, uint8_t *terminated, uint8_t *truncated,
                     uint8_t *final_obs);
// FNV-1a hash of the world state (grid, pose, carrying, steps, target, cue,
// key flag, rng): for replays.
uint64_t env_hash(const Env *e);
// Move the accumulated stats into *out (adding) and clear them.
void env_log_take(Env *e, EnvLog *out);
// 0 when e is a state env_step can continue from (map, pose, counters,
// cell kinds, a floor cell to respawn on); else -1 and what is wrong.
int env_state_check(const Env *e, char *err, size_t errlen);

// Text rendering of the map (one char per cell, agent as ^>v<; watermaze's
// hidden platform as 'P') and of an observation ('?' = unseen, the agent's
// cell '^' or the key it carries). Rows end in '\n'. Buffers must hold
// (w+1)*h+1 and (V+1)*V+1 chars. Kind chars: see env_kind_char.
void env_render_map(const Env *e, char *buf);
void env_render_obs(const uint8_t *obs, int view, char *buf);
char env_kind_char(int kind);

// ---------------------------------------------------------------------------
// A batch of B envs, env i seeded rng_derive(seed, i): identical to B single
// envs built with those seeds.

typedef struct {
    Env *envs;
    int n;
    size_t obs_size; // ENV_C * V * V
} VecEnv;

// -1 when n < 1, the config is invalid (see env_config_check) or out of memory.
int vec_init(VecEnv *v, const EnvConfig *cfg, int n, uint64_t seed);
void vec_free(VecEnv *v);
// Write all n observations into obs [n][ENV_C][V][V].
void vec_observe(const VecEnv *v, uint8_t *obs);
// Step all n envs with actions[n]; write rewards[n], terminated[n],
// truncated[n] and the next observations obs[n][...] (of the new episode for
// envs that just ended). No allocation.
void vec_step(VecEnv *v, const int *actions, uint8_t *obs, float *rewards,
              uint8_t *terminated, uint8_t *truncated);
// vec_step that also writes final_obs[i][...] (caller-owned, n rows) with env
// i's last pre-reset observation for every env i that ended this step (rows of
// envs that go on are left untouched). final_obs NULL = vec_step.
void vec_step_final(VecEnv *v, const int *actions, uint8_t *obs, float *rewards,
                    uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs);
void vec_log_take(VecEnv *v, EnvLog *out);

// ---------------------------------------------------------------------------
// Baseline policies (env/oracle.c): a scripted oracle that knows the full
// state (BFS to the target, fetching keys and opening doors on the way) and
// a uniform random policy.

int oracle_action(const Env *e);

typedef struct {
    int episodes;
    double mean_return, ci95;  // mean episode return and 1.96 * sd / sqrt(n)
    double success_rate;       // fraction of episodes with success
    double mean_length;        // mean episode length (steps)
    // goal, watermaze (env/findtime.h; else NAN): restricted mean waits over
    // [0, max_steps / 2] until the first find and until each later find
    double find_tau, find_first, find_later;
} BaselineResult;

// Run `episodes` full episodes of one env seeded `seed` under policy 0 =
// uniform random, 1 = oracle. Returns 0, or -1 on a bad argument or config.
int env_baseline(const EnvConfig *cfg, int policy, int episodes, uint64_t seed,
                 BaselineResult *out);

#endif
