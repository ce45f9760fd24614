// compare_opts.h — `cpcrl compare`'s own settings (the experiment, its arms,
// scheduling, probe and aggregation), filled from cli/options.c's table by
// main.c; never written to config.txt or a checkpoint. Read by the plan
// (plan.h), the runner, the Slurm array and the aggregation.
#ifndef CPCRL_COMPARE_OPTS_H
#define CPCRL_COMPARE_OPTS_H

#include <stdint.h>

typedef struct {
    char tasks[256];
    int seeds;
    uint64_t first_seed;
    double frames;
    char out[512];
    double cpc_weight;
    char cpc_weights[256], cpc_ks[256];
    char arms[2048]; // "NAME=FLAGS;NAME=FLAGS": arms by training flags (lab/plan.c)
    int jobs, threads, dry_run, probe, probe_episodes, bootstrap, plot, aggregate_only, include_unfinished;
    double smooth;
    double lock_stale;          // seconds without a heartbeat before another host's run lock is stale
    char only_run[128];         // --only-run NAME: that run of the plan alone, no aggregation
    char emit_slurm[512];       // --emit-slurm DIR: write a Slurm job array, train nothing
    char baseline[48];          // --baseline ARM: the arm the others are compared against ("": nocpc, else weight 0)
    int slurm_limit;            // the %N of #SBATCH --array (0: none)
} CompareOpts;

#endif
