// world.h — internal to env/: what the task rules of tasks.c are written
// with. Map building, cell sampling and spawning (world.c), the oracle's
// shortest-plan search (oracle.c), and the table env.c steps by (tasks.c).
// Every random draw comes from the env's own e->rng, in the order the calls
// are made: same seed, same episodes.
#ifndef CPCRL_WORLD_H
#define CPCRL_WORLD_H

#include <stdint.h>

#include "env/env.h"
#include "env/tasks.h"

// The task table, indexed by ENV_TASK_* (env_task() checks the index).
extern const EnvTask ENV_TASK_TABLE[ENV_NTASKS];

// ---------------------------------------------------------------------------
// Maps (world.c)

// Cells [x0..x1]x[y0..y1] set to kind.
void world_fill(Env *e, int x0, int y0, int x1, int y1, int kind);
// Walls all round, floor inside.
void world_room(Env *e);
// A uniformly random cell of `kind` inside [x0..x1]x[y0..y1], skipping the
// cell index `skip` (-1: none). Returns the index, or -1 if there is none.
int world_random_cell(Env *e, int kind, int x0, int y0, int x1, int y1, int skip);
// Put the agent on a random floor cell (not `skip`) with a random heading.
void world_spawn(Env *e, int skip);
// Randomized depth-first search over the cells at odd coordinates, then
// `extra` random interior walls between two cells knocked out (loops).
void world_maze(Env *e, int extra);
// Is the part of [x0..x1]x[y0..y1] that is floor (cell `blocked` excluded)
// one connected piece?
int world_connected(const Env *e, int x0, int y0, int x1, int y1, int blocked);
// Cells of `kind` on the map.
int world_count(const Env *e, int kind);
// The first cell of `kind` (row-major), -1: none.
int world_find(const Env *e, int kind);

// ---------------------------------------------------------------------------
// The oracle's planner (oracle.c)

#define WORLD_KIND_BIT(k) (1u << (k))
enum { WORLD_REACH = 0, WORLD_FACE = 1 };

// First action of a shortest plan from the agent's pose to a pose that
// stands on (WORLD_REACH) or faces (WORLD_FACE) a target cell: the cell
// index tidx, or (tkind >= 0) any cell holding tkind. It moves only through
// cells whose kind is in the bit set `pass`; FACE plans end with INTERACT.
// -1: no plan.
int world_plan(const Env *e, uint32_t pass, int mode, int tidx, int tkind);

#endif
