// fuzz.h — helpers shared by the libFuzzer targets in tests/fuzz/.
//
// A target checks the loaders' contracts (STYLE rules 7 and 8) beyond "does
// not crash": a failure returns -1 with a message that names the input, a
// success yields state that can be used and written back. A broken contract
// aborts with FUZZ_CHECK, which libFuzzer reports as a crash with the input.
#ifndef CPCRL_FUZZ_H
#define CPCRL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agent/config.h"

#define FUZZ_CHECK(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: contract broken: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static inline uint32_t fuzz_crc(const uint8_t *p, size_t n) {
    uint32_t c = (uint32_t)crc32(0L, Z_NULL, 0);
    while (n > 0) { // crc32 takes uInt lengths
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        c = (uint32_t)crc32(c, p, (uInt)chunk);
        p += chunk, n -= chunk;
    }
    return c;
}

static inline void fuzz_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

// A copy of buf whose last 4 bytes are the CRC32 of the others, so that
// mutations get past the CRC gate into the structure parser. NULL if len < 4.
static inline uint8_t *fuzz_with_crc(const uint8_t *buf, size_t len) {
    if (len < 4) return NULL;
    uint8_t *p = malloc(len);
    if (!p) return NULL;
    memcpy(p, buf, len);
    fuzz_put_u32(p + len - 4, fuzz_crc(p, len - 4));
    return p;
}

// The message must be a non-empty, terminated string mentioning `origin`.
static inline void fuzz_check_message(const char *err, size_t errlen, const char *origin) {
    FUZZ_CHECK(memchr(err, 0, errlen) != NULL, "error message not terminated");
    FUZZ_CHECK(err[0] != 0, "failure without a message");
    if (origin) FUZZ_CHECK(strstr(err, origin) != NULL, "message does not name '%s': %s", origin, err);
}

// c as config.txt text (config_write into a memory stream); free() it.
static inline char *fuzz_config_text(const Config *c, size_t *len) {
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    FUZZ_CHECK(f != NULL, "open_memstream");
    FUZZ_CHECK(config_write(c, f) == 0, "config_write failed");
    fclose(f);
    return text;
}

#endif
