// compare.h — `cpcrl compare` (the with/without-CPC experiment over tasks x
// seeds x arms, run as child processes, resumable, aggregated into
// results.csv, summary.md and curves) and `cpcrl probe` (linear read-outs of
// a checkpoint's representation, see probe.h).
//
// Both take the arguments after the subcommand name and return the process
// exit code: 0 ok, 1 runtime error (message on stderr), 2 usage error (the
// message names the flag and the valid values).
#ifndef CPCRL_COMPARE_H
#define CPCRL_COMPARE_H

#include <stddef.h>

#include "lab/aggregate.h"    // compare_aggregate (compare --aggregate-only)
#include "lab/compare_opts.h" // CompareOpts
#include "lab/probe.h"        // ProbeCli

// Flags come parsed (cli/options.c's table: G_COMPARE, G_PROBE). compare's
// pass[npass] are the training flags it passes to every run (the words as
// given, each flag with its value); argc/argv, the whole command line, go to
// OUT/command.txt. probe's pos[npos] are its positional arguments.
int cmd_compare(const CompareOpts *o, char **pass, int npass, int argc, char **argv);
int cmd_probe(const ProbeCli *o, char **pos, int npos);

#endif
