// fuzz_replay.c — libFuzzer target for the replay loader (replays/replay.c).
//
// An input starting with the magic "CPCRLRPL" is a replay file; it is parsed
// as is, then with its zlen field and trailing CRC32 recomputed (so mutations
// get past the CRC gate). Any other input is taken as an inflated body: it is
// deflated and wrapped in a valid header and CRC, so the fuzzer mutates the
// body fields directly rather than a zlib stream. Contracts checked:
//   - a failure returns -1, names the input in its message and leaves the
//     Replay empty;
//   - a replay that parses can be drawn at every frame it claims (frame
//     envs, returns), verified by re-simulation (accepted or refused with a
//     message, never a crash), and written back: encode . parse . encode
//     gives the same bytes.
// Seeds: tests/fuzz/corpus/replay/ (recorded episodes and their bodies,
// scripts/fuzz.sh seeds).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "replays/replay.h"
#include "tests/fuzz/fuzz.h"

static const char ORIGIN[] = "fuzz.rpl";

static void use_replay(Replay *r) {
    char err[512];
    FUZZ_CHECK(r->n >= 0 && r->w >= 3 && r->h >= 3, "n %d, %dx%d", r->n, r->w, r->h);
    int ts[3] = {0, r->n / 2, r->n};
    for (int i = 0; i < 3; i++) {
        Env e;
        replay_frame_env(r, ts[i], &e);
        for (int k = 0; k < e.w * e.h; k++) FUZZ_CHECK(e.grid[k] < ENV_C, "frame %d cell %d", ts[i], k);
        uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
        env_observe(&e, obs); // what the viewer draws
    }
    (void)replay_return_at(r, r->n);
    err[0] = 0;
    if (replay_verify(r, err, sizeof err) < 0) fuzz_check_message(err, sizeof err, NULL);

    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    FUZZ_CHECK(replay_encode(r, &a, &al, err, sizeof err) == 0, "encode failed: %s", err);
    Replay back;
    FUZZ_CHECK(replay_parse(&back, a, al, "re-encoded", err, sizeof err) == 0,
               "a replay that parsed does not parse after writing it back: %s", err);
    FUZZ_CHECK(replay_encode(&back, &b, &bl, err, sizeof err) == 0, "encode failed: %s", err);
    FUZZ_CHECK(al == bl && memcmp(a, b, al) == 0, "encode . parse . encode is not the identity");
    replay_free(&back);
    free(a);
    free(b);
}

static void parse_one(const uint8_t *data, size_t size) {
    Replay r;
    char err[512];
    err[0] = 0;
    if (replay_parse(&r, data, size, ORIGIN, err, sizeof err) < 0) {
        fuzz_check_message(err, sizeof err, ORIGIN);
        FUZZ_CHECK(r.steps == NULL && r.grids == NULL && r.hash == NULL && r.hash_step == NULL,
                   "failed parse left allocations in the Replay");
        return;
    }
    use_replay(&r);
    replay_free(&r);
}

// header (magic, version, body_len, zlen) + deflate(body) + CRC32
static uint8_t *wrap_body(const uint8_t *body, size_t blen, size_t *outlen) {
    uLongf zcap = compressBound((uLong)blen);
    uint8_t *out = malloc(24 + (size_t)zcap);
    FUZZ_CHECK(out != NULL, "out of memory");
    uLongf zlen = zcap;
    FUZZ_CHECK(compress2(out + 20, &zlen, body, (uLong)blen, 1) == Z_OK, "compress2");
    memcpy(out, REPLAY_MAGIC, 8);
    fuzz_put_u32(out + 8, REPLAY_VERSION);
    fuzz_put_u32(out + 12, (uint32_t)blen);
    fuzz_put_u32(out + 16, (uint32_t)zlen);
    fuzz_put_u32(out + 20 + zlen, fuzz_crc(out, 20 + (size_t)zlen));
    *outlen = 24 + (size_t)zlen;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 8 && memcmp(data, REPLAY_MAGIC, 8) == 0) {
        parse_one(data, size);
        if (size >= 24) { // fix zlen and CRC
            uint8_t *fixed = malloc(size);
            FUZZ_CHECK(fixed != NULL, "out of memory");
            memcpy(fixed, data, size);
            fuzz_put_u32(fixed + 16, (uint32_t)(size - 24));
            fuzz_put_u32(fixed + size - 4, fuzz_crc(fixed, size - 4));
            if (memcmp(fixed, data, size) != 0) parse_one(fixed, size);
            free(fixed);
        }
    } else {
        parse_one(data, size); // not a replay: a clear refusal
        size_t len;
        uint8_t *file = wrap_body(data, size, &len);
        parse_one(file, len);
        free(file);
    }
    return 0;
}
