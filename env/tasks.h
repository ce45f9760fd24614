// tasks.h — the task suite as a table: one entry per task (ENV_TASK_*, named
// by ENV_TASK_LIST in env.h) with its defaults, its rules (generator, step
// rule, config checks), its scripted oracle, the probe's goal label and what
// a viewer shows of it (legend, the goal's name, whether it is hidden).
//
// env.c steps every task through its entry; nothing outside env/ switches on
// a task or lists task names: probes, read-outs, the belief overlay and the
// renderer ask the table. A new task is one ENV_TASK_* value, one name in
// ENV_TASK_LIST and one entry in tasks.c.
#ifndef CPCRL_TASKS_H
#define CPCRL_TASKS_H

#include <stddef.h>

#include "env/env.h"

// The probe's goal label (lab/probe.h): what "the goal" of a state is, as a class.
enum {
    ENV_GOAL_NONE = 0, // the task has no goal to read out
    ENV_GOAL_CELL,     // the target cell, ty * ENV_MAX_SIZE + tx (ENV_MAX_SIZE^2 classes)
    ENV_GOAL_CUE,      // the cue: 0 = left arm rewarded, 1 = right arm (2 classes)
};

// One item of a viewer's legend (after the agent, the cells it sees and the
// wall, which every task shows): a cell kind and what it means, or the hidden
// target (kind ENV_LEGEND_TARGET), which viewers draw dashed.
#define ENV_LEGEND_TARGET (-1)
#define ENV_LEGEND_MAX 6
typedef struct {
    int kind;         // ENV_* cell kind, or ENV_LEGEND_TARGET
    const char *name; // e.g. "goal +1"; NULL ends the list
} EnvLegendItem;

typedef struct {
    // --- defaults (env_config_defaults): what a config's 0 size / 0 max_steps
    // and an items value below items_min mean
    int size;           // grid side incl. walls
    int size_past_view; // > 0: the default side is at least view + this
    int width;          // map width when it is not the side (0: a square map)
    int max_steps;      // time limit
    int items, items_min;
    // --- rules
    // The task's checks of a defaulted config (size, items), run after the
    // common ones (task, view, max_steps): 0, or -1 and a message.
    int (*check)(const EnvConfig *cfg, char *err, size_t errlen);
    // Lay out a new episode from e->rng: map, target, agent pose (the
    // episode's counters and the map size are set already).
    void (*generate)(Env *e);
    // FORWARD has moved the agent onto cell index i, of kind `cell` (before
    // any change): returns the reward and may end the episode (*term = 1).
    float (*enter)(Env *e, int i, int cell, int *term);
    // INTERACT's reward for the first pickup of a still-closed door's key and
    // for opening a door (0: none)
    float key_reward;
    // finding the target respawns the agent and keeps the target: the find
    // times are the memory measure (env/findtime.h)
    int respawns;
    // --- baselines, probes, viewers
    int (*oracle)(const Env *e); // the scripted oracle's next action, -1: no plan
    int goal_label;              // ENV_GOAL_*
    const char *goal_name;       // what the goal is called ("goal", "platform", "cue")
    int goal_hidden;             // the agent cannot see the target: viewers draw it dashed
    char map_mark;               // env_render_map marks the target cell with it (0: no mark)
    EnvLegendItem legend[ENV_LEGEND_MAX];
} EnvTask;

// The task's entry; NULL when task is not an ENV_TASK_* value.
const EnvTask *env_task(int task);
// The probe's goal label of e's state (ENV_GOAL_*), -1 when its task has none.
int env_goal_label(const Env *e);
// How many values that label takes (0: no goal label).
int env_goal_classes(int task);

#endif
