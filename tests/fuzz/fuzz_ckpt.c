// fuzz_ckpt.c — libFuzzer target for the checkpoint loader (agent/ckpt.c).
//
// Every input is parsed twice with ckpt_parse: as is (the magic, version and
// CRC gates), and with its trailing CRC32 recomputed so that mutations reach
// the record parser instead of stopping at the CRC check. Contracts checked:
//   - a failure returns -1, names the input in its message and leaves the
//     Ckpt empty (nothing to free, nothing leaked);
//   - a file that parses has a valid embedded config (config_check) and
//     records that lie inside the buffer;
//   - when that config is small, a Trainer is built from it and the file is
//     loaded with ckpt_load_model and ckpt_load_trainer: each either succeeds
//     or leaves every byte of the live state as it was (all-or-nothing), and
//     a trainer that loaded survives a rollout and an update (loaded env
//     states cannot index out of bounds).
// Structure-aware mutation (LLVMFuzzerCustomMutator): half of the mutations
// find the record table of the input and change one record's data (a special
// value in an aligned element: -1, 0, INT_MAX, INT64_MAX, NaN, inf, 1e30; a
// byte fill; libFuzzer's own mutation inside the record) or append a copy of
// a record (duplicate names), then recompute the CRC, so mutations land on
// fields that pass every structural check and reach the invariant checks.
// Seeds: tests/fuzz/corpus/ckpt/ (tiny real checkpoints, scripts/fuzz.sh
// seeds) and tests/fuzz/repro/ckpt/ (crafted files of issue 20: no floor
// cell, steps INT_MAX, updates INT64_MAX, negative square average, negative
// optimizer step, a duplicate record).
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/trainer.h"
#include "nn/blas.h"
#include "agent/ckpt.h"
#include "tests/fuzz/fuzz.h"

static const char ORIGIN[] = "fuzz.ckpt";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    blas_set_threads(1);
    return 0;
}

// Sizes for which building a Trainer is cheap enough to do on every input.
static int small_config(const Config *c) {
    return c->envs <= 8 && c->unroll <= 16 && c->conv1 <= 8 && c->conv2 <= 8 && c->latent <= 64 &&
           c->hidden <= 64;
}

// Every byte of trainer state a checkpoint may write, in one buffer.
typedef struct { uint8_t *p; size_t len, cap; } Snap;

static void snap_add(Snap *s, const void *d, size_t n) {
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n) cap *= 2;
        uint8_t *p = realloc(s->p, cap);
        FUZZ_CHECK(p != NULL, "out of memory");
        s->p = p, s->cap = cap;
    }
    memcpy(s->p + s->len, d, n);
    s->len += n;
}

static Snap snapshot(const Trainer *tr, const double *extra) {
    Snap s = {0};
    const size_t B = (size_t)tr->B, H = (size_t)tr->model.H;
    snap_add(&s, tr->model.p.params, tr->model.p.total * sizeof(float));
    snap_add(&s, tr->opt.state, tr->opt.nstate * sizeof(float));
    snap_add(&s, &tr->opt.step, sizeof tr->opt.step);
    snap_add(&s, tr->vec.envs, B * sizeof(Env));
    snap_add(&s, tr->obs, B * (size_t)tr->obs_size);
    snap_add(&s, tr->h_carry, B * H * sizeof(float));
    snap_add(&s, tr->c_carry, B * H * sizeof(float));
    snap_add(&s, tr->prev_reward, B * sizeof(float));
    snap_add(&s, tr->prev_done, B * sizeof(float));
    snap_add(&s, tr->prev_action, B * sizeof(int));
    snap_add(&s, tr->rng, B * sizeof(uint64_t));
    snap_add(&s, &tr->frames, sizeof tr->frames);
    snap_add(&s, &tr->updates, sizeof tr->updates);
    snap_add(&s, &tr->ep, sizeof tr->ep);
    if (extra) snap_add(&s, extra, CKPT_EXTRA * sizeof(double));
    return s;
}

static void check_unchanged(const Snap *before, const Trainer *tr, const double *extra,
                            const char *what, const char *err) {
    Snap now = snapshot(tr, extra);
    FUZZ_CHECK(now.len == before->len && memcmp(now.p, before->p, now.len) == 0,
               "%s failed (%s) but changed the live state (half-loaded)", what, err);
    free(now.p);
}

// Every float of the file within +-1e3: no forward pass of a small net can
// overflow to inf/NaN. Larger values can, and a NaN reaching nn_expf is
// undefined behaviour there (float -> int conversion; see the report of
// issue 9), so only moderate files are acted on.
static int moderate(const Ckpt *ck) {
    for (int i = 0; i < ck->nrec; i++) {
        const CkptRecord *r = &ck->rec[i];
        for (size_t k = 0; k < r->count && (r->dtype == CK_F32 || r->dtype == CK_F64); k++) {
            double v;
            if (r->dtype == CK_F32) {
                float f;
                memcpy(&f, r->data + 4 * k, 4);
                v = f;
            } else {
                memcpy(&v, r->data + 8 * k, 8);
            }
            if (!(v >= -1e3 && v <= 1e3)) return 0;
        }
    }
    return 1;
}

static void load_into_trainer(const Ckpt *ck) {
    char err[512];
    Trainer tr;
    if (trainer_init(&tr, &ck->cfg, err, sizeof err) < 0) return; // e.g. K above CPC_MAX_K
    double extra[CKPT_EXTRA] = {0};

    Snap before = snapshot(&tr, extra);
    err[0] = 0;
    if (ckpt_load_model(ck, &tr.model, err, sizeof err) < 0) {
        fuzz_check_message(err, sizeof err, NULL);
        check_unchanged(&before, &tr, extra, "ckpt_load_model", err);
    }
    free(before.p);

    before = snapshot(&tr, extra);
    err[0] = 0;
    if (ckpt_load_trainer(ck, &tr, extra, err, sizeof err) < 0) {
        fuzz_check_message(err, sizeof err, NULL);
        check_unchanged(&before, &tr, extra, "ckpt_load_trainer", err);
    } else if (moderate(ck)) {
        // what `train --resume` does next: act and learn from the loaded state
        UpdateStats st;
        trainer_rollout(&tr);
        (void)trainer_update(&tr, &st, trainer_lr(&tr));
    }
    free(before.p);
    trainer_free(&tr);
}

static void parse_one(const uint8_t *data, size_t size) {
    Ckpt ck;
    char err[512];
    err[0] = 0;
    if (ckpt_parse(&ck, data, size, ORIGIN, err, sizeof err) < 0) {
        fuzz_check_message(err, sizeof err, ORIGIN);
        FUZZ_CHECK(ck.buf == NULL && ck.rec == NULL && ck.nrec == 0, "failed parse left data");
        return;
    }
    FUZZ_CHECK(config_check(&ck.cfg, err, sizeof err) == 0, "parsed config invalid: %s", err);
    for (int i = 0; i < ck.nrec; i++) {
        const CkptRecord *r = &ck.rec[i];
        static const size_t esize[4] = {4, 1, 8, 8};
        FUZZ_CHECK(r->dtype >= 0 && r->dtype <= 3 && r->ndim >= 1 && r->ndim <= 4, "record %d", i);
        FUZZ_CHECK(r->data >= ck.buf && r->data + r->count * esize[r->dtype] <= ck.buf + ck.len,
                   "record %d '%s' points outside the file", i, r->name);
        FUZZ_CHECK(ckpt_find(&ck, r->name) != NULL, "record %d not found by name", i);
    }
    if (small_config(&ck.cfg)) load_into_trainer(&ck);
    ckpt_free(&ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    parse_one(data, size);
    uint8_t *fixed = fuzz_with_crc(data, size);
    if (fixed) {
        if (size < 4 || memcmp(fixed + size - 4, data + size - 4, 4) != 0) parse_one(fixed, size);
        free(fixed);
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Structure-aware mutator

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct { size_t start, data, bytes; uint32_t dtype; } RecSpan;

// The record table of a checkpoint-shaped input; -1 when it is not one.
static int find_records(const uint8_t *d, size_t size, RecSpan *r, int maxr, int *n,
                        size_t *nrec_at) {
    if (size < 24 || memcmp(d, "CPCRLCKP", 8) != 0) return -1;
    size_t body = size - 4, o = 12;
    uint32_t cfglen = rd32(d + o);
    o += 4;
    if (cfglen > body - o) return -1;
    o += cfglen;
    if (body - o < 4) return -1;
    *nrec_at = o;
    uint32_t nrec = rd32(d + o);
    o += 4;
    *n = 0;
    for (uint32_t i = 0; i < nrec && *n < maxr; i++) {
        size_t start = o;
        if (body - o < 4) return -1;
        uint32_t nl = rd32(d + o);
        o += 4;
        if (nl > body - o || body - o - nl < 8) return -1;
        o += nl;
        uint32_t dt = rd32(d + o), nd = rd32(d + o + 4);
        o += 8;
        if (dt > 3 || nd < 1 || nd > 4 || (body - o) / 4 < nd) return -1;
        uint64_t count = 1;
        for (uint32_t k = 0; k < nd; k++, o += 4) {
            count *= rd32(d + o);
            if (count > size) return -1;
        }
        static const size_t esz[4] = {4, 1, 8, 8};
        uint64_t bytes = count * esz[dt];
        if (bytes > body - o) return -1;
        r[(*n)++] = (RecSpan){start, o, (size_t)bytes, dt};
        o += (size_t)bytes;
    }
    return *n > 0 ? 0 : -1;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    RecSpan rec[256];
    int n = 0;
    size_t nrec_at = 0;
    if ((rng >> 7) % 2 == 0 || find_records(data, size, rec, 256, &n, &nrec_at) < 0)
        return LLVMFuzzerMutate(data, size, max_size);
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    const RecSpan *r = &rec[(rng >> 33) % (uint64_t)n];
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    int mode = (int)((rng >> 33) % 4);
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t pick = rng >> 20;
    if (r->bytes == 0) mode = 3;
    if (mode == 0) { // a special value in one aligned element
        size_t esz = r->dtype == CK_U8 ? 4 : r->dtype == CK_F32 ? 4 : 8;
        if (r->bytes < esz) return size;
        size_t off = r->data + (pick % (r->bytes / esz)) * esz;
        uint8_t v[8];
        int which = (int)((pick >> 40) % 8);
        if (r->dtype == CK_F32) {
            static const float F[8] = {-1.0f, 0.0f, 1e30f, -1e30f, NAN, INFINITY, 1e-45f, 3.0f};
            memcpy(v, &F[which], 4);
        } else if (r->dtype == CK_F64) {
            static const double D[8] = {-1.0, 0.0, 1e300, -1e300, NAN, INFINITY, 1e15 + 1, 0.5};
            memcpy(v, &D[which], 8);
        } else if (r->dtype == CK_I64) {
            static const int64_t I[8] = {INT64_MAX, INT64_MIN, -1, 0, 1, 1000000000000001, 64, INT32_MAX};
            memcpy(v, &I[which], 8);
        } else { // u8 blobs hold structs of ints (Env): int-sized values
            static const int32_t I[8] = {INT32_MAX, INT32_MIN, -1, 0, 1, 41, 42, ENV_C};
            memcpy(v, &I[which], 4);
        }
        memcpy(data + off, v, esz);
    } else if (mode == 1) { // fill a run of bytes with one value
        size_t off = pick % r->bytes, len = 1 + (pick >> 24) % (r->bytes - off);
        memset(data + r->data + off, (int)((pick >> 48) & 0xff), len);
    } else if (mode == 2) { // libFuzzer's mutation inside the record, size kept
        uint8_t tmp[4096];
        size_t len = r->bytes < sizeof tmp ? r->bytes : sizeof tmp;
        size_t off = r->data + (r->bytes > len ? pick % (r->bytes - len + 1) : 0);
        memcpy(tmp, data + off, len);
        size_t got = LLVMFuzzerMutate(tmp, len, len);
        memcpy(data + off, tmp, got < len ? got : len);
    } else { // append a copy of the record: a duplicate name
        size_t rl = r->data + r->bytes - r->start;
        if (size + rl > max_size) return size;
        memmove(data + size - 4 + rl, data + size - 4, 4);
        memmove(data + size - 4, data + r->start, rl);
        size += rl;
        uint32_t nrec = rd32(data + nrec_at) + 1;
        fuzz_put_u32(data + nrec_at, nrec);
    }
    fuzz_put_u32(data + size - 4, fuzz_crc(data, size - 4));
    return size;
}
