// fuzz_config.c — libFuzzer target for the config.txt parser (agent/config.c).
//
// The input is config.txt text. Contracts checked:
//   - config_parse_text either fails with -1 and a message naming the file
//     and line, or fills a Config; config_check then accepts or refuses it
//     with a message;
//   - config.txt is "loadable again": writing the parsed Config, parsing that
//     text and writing it again gives the same text (write . parse is the
//     identity on written files);
//   - config_load (the file path used by --config) gives the same result as
//     parsing from memory and leaves the caller's Config untouched on failure.
// Seeds: tests/fuzz/corpus/config/ (real config.txt files, scripts/fuzz.sh seeds).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/fuzz/fuzz.h"

static const char ORIGIN[] = "fuzz/config.txt";
// config_load reads a path: an anonymous in-memory file, nothing left behind
static char g_path[64];
static int g_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    g_fd = memfd_create("fuzz-config", 0);
    FUZZ_CHECK(g_fd >= 0, "memfd_create failed");
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    return 0;
}

// Written text must parse back to a config that writes the same text.
static void check_round_trip(const Config *c) {
    size_t l1, l2;
    char *t1 = fuzz_config_text(c, &l1), err[512];
    Config d;
    config_defaults(&d);
    FUZZ_CHECK(config_parse_text(&d, t1, l1, "written", err, sizeof err) == 0,
               "written config does not parse: %s\n%s", err, t1);
    char *t2 = fuzz_config_text(&d, &l2);
    FUZZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0, "config.txt does not round-trip:\n%s---\n%s", t1, t2);
    free(t1);
    free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Config c;
    char err[512];
    config_defaults(&c);
    err[0] = 0;
    int rc = config_parse_text(&c, (const char *)data, size, ORIGIN, err, sizeof err);
    if (rc < 0) {
        fuzz_check_message(err, sizeof err, ORIGIN);
    } else {
        err[0] = 0;
        if (config_check(&c, err, sizeof err) < 0) fuzz_check_message(err, sizeof err, NULL);
        check_round_trip(&c);
    }

    // the same through a file (config_load reads at most 1 MiB), for one
    // input in 16 (chosen by content, so runs repeat): the file round trip
    // costs ~20x the parse
    if (size < 4096 && fuzz_crc(data, size) % 16 == 0) {
        if (ftruncate(g_fd, 0) < 0 || pwrite(g_fd, data, size, 0) != (ssize_t)size) return 0;
        Config l, sentinel;
        config_defaults(&l);
        sentinel = l;
        int lrc = config_load(&l, g_path, err, sizeof err);
        FUZZ_CHECK(lrc == rc, "config_load %d vs config_parse_text %d", lrc, rc);
        if (lrc < 0) {
            fuzz_check_message(err, sizeof err, g_path);
            FUZZ_CHECK(memcmp(&l, &sentinel, sizeof l) == 0, "failed config_load changed the config");
        } else {
            FUZZ_CHECK(memcmp(&l, &c, sizeof l) == 0, "config_load and config_parse_text differ");
        }
    }
    return 0;
}
