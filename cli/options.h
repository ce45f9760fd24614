// options.h — the settings of one command that are not settings of a run:
// train's --config and --resume, compare's, probe's and the window commands'.
// Never written to config.txt or a checkpoint. Each command's struct lives
// with the command (lab/compare_opts.h, lab/probe.h, replays/cmd.h); this
// room holds them together with their option table (entries of
// agent/config.h's form, each OF_CMD), which main.c hands to
// config_parse_args and config_print_help beside the run settings.
#ifndef CPCRL_OPTIONS_H
#define CPCRL_OPTIONS_H

#include "agent/config.h"
#include "lab/compare_opts.h" // CompareOpts
#include "lab/probe.h"        // ProbeCli
#include "replays/cmd.h"      // ViewOpts

typedef struct {
    char config[1024], resume[1024]; // train --config FILE, --resume DIR
    CompareOpts compare;
    ProbeCli probe;
    ViewOpts view;
    int bench_repeat; // bench train --repeat N
} CmdOpts;

// Every command-only option at its default.
void cmdopts_defaults(CmdOpts *o);
// The command-only options' table, their values in o (NULL: only for help).
CmdTable cmdopts_table(CmdOpts *o);

#endif
