// slurm.h — `compare --emit-slurm DIR`: the plan as a Slurm job array.
//
// Writes, training nothing:
//   DIR/runs.txt       one command per run (absolute paths): this binary's
//                      `compare` with the plan's flags and --only-run NAME, so
//                      each array task trains or resumes its run, probes it,
//                      and skips it when done or in use (the run lock)
//   DIR/array.sbatch   #SBATCH --array=0-(N-1)[%limit]; task i runs line i+1
//   DIR/aggregate.sh   `compare --aggregate-only` of the same experiment
//   DIR/logs/          the array tasks' output (%A_%a.out)
#ifndef CPCRL_SLURM_H
#define CPCRL_SLURM_H

#include "lab/plan.h"

// 0, or 1 with a message on stderr. argc/argv (the command line) go to
// OUT/command.txt, as for a compare that trains.
int slurm_emit(const Plan *pl, int argc, char **argv);

#endif
