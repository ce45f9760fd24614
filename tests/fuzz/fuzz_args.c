// fuzz_args.c — libFuzzer target for command-line parsing (config_parse_args).
//
// Input layout: byte 0 selects the option groups (bit i = group 1 << i of
// the run and eval/baseline groups; 0 means all of them, as `train` + `eval`
// + `baseline` together), byte 1 % 5
// is the number of positional arguments allowed (main.c allows 0..2), the
// rest is argv, split on NUL or newline. Contracts checked:
//   - -1 with a message, or the number of positionals (<= the limit), each
//     one of the given argv strings;
//   - config_check accepts or refuses the result with a message;
//   - the settings survive config.txt: write, parse, write gives the same text.
// Seeds: tests/fuzz/corpus/args/ (command lines from README and `cpcrl help`).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int groups = data[0] ? data[0] : 0xFF;
    int max_pos = data[1] % 5;
    // argv strings: a NUL-terminated copy split on NUL / newline
    char *buf = malloc(size - 2 + 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    memcpy(buf, data + 2, size - 2);
    buf[size - 2] = 0;
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    char *p = buf, *end = buf + (size - 2);
    while (p < end && argc < MAX_ARGS) {
        char *q = p;
        while (q < end && *q != 0 && *q != '\n') q++;
        *q = 0;
        argv[argc++] = p;
        p = q + 1;
    }
    argv[argc] = NULL;

    Config c; // the groups of byte 0 are run settings only: no command's own table (cli/options.c)
    char err[512], *pos[4] = {0};
    config_defaults(&c);
    err[0] = 0;
    int n = config_parse_args(&c, NULL, argc, argv, groups, pos, max_pos, NULL, NULL, err, sizeof err);
    if (n < 0) {
        FUZZ_CHECK(n == -1, "returned %d", n);
        fuzz_check_message(err, sizeof err, NULL);
    } else {
        FUZZ_CHECK(n <= max_pos, "%d positionals, at most %d allowed", n, max_pos);
        for (int i = 0; i < n; i++) {
            int found = 0;
            for (int a = 0; a < argc && !found; a++) found = pos[i] == argv[a];
            FUZZ_CHECK(found, "positional %d is not one of argv", i);
        }
        err[0] = 0;
        if (config_check(&c, err, sizeof err) < 0) fuzz_check_message(err, sizeof err, NULL);
        // what train writes to config.txt must read back to the same settings
        size_t l1, l2;
        char *t1 = fuzz_config_text(&c, &l1);
        Config d;
        config_defaults(&d);
        FUZZ_CHECK(config_parse_text(&d, t1, l1, "written", err, sizeof err) == 0,
                   "written config does not parse: %s\n%s", err, t1);
        char *t2 = fuzz_config_text(&d, &l2);
        FUZZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0,
                   "settings from flags do not survive config.txt:\n%s---\n%s", t1, t2);
        free(t1);
        free(t2);
    }
    free(buf);
    return 0;
}
