// findtime.h — how long an agent takes to find the goal, and again after
// finding it: the memory measure of the respawn tasks (goal, watermaze).
//
// In goal and watermaze a find (+1) respawns the agent elsewhere with the
// goal where it was, so an agent that remembers where it was finds it again
// sooner. Two samples of waiting times are kept, in steps: `first`, from
// the episode's start to its first find, and `later`, from each respawn to
// the next find. A wait the episode's end cuts short is censored, not
// dropped: counting only the finds seen would favour short waits (a long
// one is seen only when it fits before the time limit), and so make a
// memoryless policy look as if it "learned" (the naive ratio of later to
// first waits is < 1 for a random policy). Each sample is summarised by the
// restricted mean time to find over a horizon tau, RMST(tau) = the integral
// of the Kaplan-Meier survival curve S(t) = P(wait > t) over [0, tau]: the
// mean wait with every wait counted as at most tau; lower is faster. Past a
// sample's last time S is taken as flat.
//
// The memory use of an agent is then causal, not a ratio: the same
// checkpoint is run again with its memory wiped at every respawn (agent/
// evaluate.c), and memory use = RMST_later(wiped) - RMST_later(intact),
// with a bootstrap CI over episodes (both runs resampled): > 0 means the
// agent finds the goal again faster because it remembers.
#ifndef CPCRL_FINDTIME_H
#define CPCRL_FINDTIME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int *t;      // (n) waits in steps
    uint8_t *ev; // (n) 1 = ended by a find, 0 = censored by the episode's end
    int *ep;     // (n) the episode it belongs to (the caller's counted index)
    size_t n, cap;
} FindSample;

#define FINDTIME_MAX_ENVS 64
typedef struct {
    FindSample first, later;
    int since[FINDTIME_MAX_ENVS]; // steps since the episode's start or the last respawn
    int found[FINDTIME_MAX_ENVS]; // finds so far in the current episode
    int failed;                   // out of memory (the samples stop growing)
} FindTimes;

// 1 for the tasks where a find respawns the agent (ENV_TASK_GOAL, ENV_TASK_WATERMAZE).
int findtime_applies(int task);
void findtime_init(FindTimes *f); // all empty (no allocation until the first wait)
void findtime_free(FindTimes *f);
// Env b took one step of an episode: found = the step found the goal,
// ended = the episode ended with it; counted = the caller counts this
// episode, `episode` its index. Waits of uncounted episodes are not kept.
void findtime_step(FindTimes *f, int b, int found, int ended, int counted, int episode);
// RMST(tau) of a sample (NAN when empty); weights w[ep] (NULL: all 1) count
// each episode's waits w[ep] times (the bootstrap).
double findtime_rmst(const FindSample *s, double tau, const double *w);
// The bootstrap of RMST_later(b) - RMST_later(a): `nboot` resamples of each
// run's episodes (na, nb episodes), the 2.5% and 97.5% quantiles. Returns
// the point estimate; lo/hi NAN when a sample is empty or memory is short.
double findtime_diff_ci(const FindSample *a, int na, const FindSample *b, int nb, double tau,
                        int nboot, uint64_t seed, double *lo, double *hi);

#endif
