// fuzz_readout.c — libFuzzer target for the read-out loader (lab/readout.c,
// the RUN/readout.bin of `cpcrl probe --save`).
//
// Every input is parsed twice with readout_parse: as is (the magic, version
// and CRC gates), and with its trailing CRC32 recomputed so that mutations
// reach the structure checks. Contracts checked:
//   - a failure returns -1, names the input in its message and leaves the
//     Readout empty (nothing to free, nothing leaked);
//   - a file that parses has sizes in range, every class inside its label's
//     range and listed once, finite weights; it decodes any c_t (zeros, large
//     values, a pattern) into distributions that are finite, sum to 1 over the
//     classes and are 0 elsewhere — what the viewer draws; readout_check
//     accepts its own task and size and refuses others with a message; and
//     encode . parse . encode is the identity.
// Seeds: tests/fuzz/corpus/readout/ (read-outs of tiny trained runs of goal,
// seekavoid and tmaze, scripts/fuzz.sh seeds).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/readout.h"
#include "tests/fuzz/fuzz.h"

static const char ORIGIN[] = "fuzz.readout";

static ReadoutBelief g_bel; // 60 KB: not on the stack

static void use_readout(const Readout *r) {
    char err[512];
    FUZZ_CHECK(r->F >= 1 && r->F <= READOUT_MAX_F && r->task >= 0 && r->task < ENV_NTASKS, "F %d task %d", r->F,
               r->task);
    float *c = calloc((size_t)r->F, sizeof(float));
    FUZZ_CHECK(c != NULL, "out of memory");
    for (int pass = 0; pass < 3; pass++) {
        for (int f = 0; f < r->F; f++) c[f] = pass == 0 ? 0.0f : pass == 1 ? 1e6f * (f % 2 ? -1.0f : 1.0f) : (float)(f % 7) - 3.0f;
        readout_apply(r, c, &g_bel);
        for (int l = 0; l < PROBE_NLABELS; l++) {
            const ReadoutLabel *L = &r->lab[l];
            FUZZ_CHECK(g_bel.has[l] == L->has, "label %d has", l);
            double sum = 0, on = 0;
            for (int v = 0; v < READOUT_CELLS; v++) {
                FUZZ_CHECK(isfinite(g_bel.p[l][v]) && g_bel.p[l][v] >= 0 && g_bel.p[l][v] <= 1.0f + 1e-6f,
                           "label %d value %d: p %g", l, v, g_bel.p[l][v]);
                sum += g_bel.p[l][v];
            }
            for (int j = 0; j < L->M; j++) on += g_bel.p[l][L->cls[j]];
            if (L->has) FUZZ_CHECK(fabs(sum - 1) < 1e-4 && fabs(on - sum) < 1e-9, "label %d: sum %g", l, sum);
            else FUZZ_CHECK(sum == 0, "label %d absent but p sums to %g", l, sum);
        }
    }
    free(c);
    FUZZ_CHECK(readout_check(r, ORIGIN, r->task, r->F, "ckpt", err, sizeof err) == 0, "own shape refused: %s", err);
    err[0] = 0;
    FUZZ_CHECK(readout_check(r, ORIGIN, r->task, r->F + 1, "ckpt", err, sizeof err) == -1, "other size accepted");
    fuzz_check_message(err, sizeof err, ORIGIN);

    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    FUZZ_CHECK(readout_encode(r, &a, &al, err, sizeof err) == 0, "encode failed: %s", err);
    Readout back;
    FUZZ_CHECK(readout_parse(&back, a, al, "re-encoded", err, sizeof err) == 0,
               "read-outs that parsed do not parse after writing them back: %s", err);
    FUZZ_CHECK(readout_encode(&back, &b, &bl, err, sizeof err) == 0, "encode failed: %s", err);
    FUZZ_CHECK(al == bl && memcmp(a, b, al) == 0, "encode . parse . encode is not the identity");
    readout_free(&back);
    free(a);
    free(b);
}

static void parse_one(const uint8_t *data, size_t size) {
    Readout r;
    char err[512];
    err[0] = 0;
    if (readout_parse(&r, data, size, ORIGIN, err, sizeof err) < 0) {
        fuzz_check_message(err, sizeof err, ORIGIN);
        FUZZ_CHECK(r.fslab == NULL && r.islab == NULL && r.F == 0, "failed parse left data");
        return;
    }
    use_readout(&r);
    readout_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    parse_one(data, size);
    uint8_t *fixed = fuzz_with_crc(data, size);
    if (fixed) {
        if (memcmp(fixed + size - 4, data + size - 4, 4) != 0) parse_one(fixed, size);
        free(fixed);
    }
    return 0;
}
