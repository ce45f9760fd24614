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
// Seeds: tests/fuzz/corpus/ckpt/ (tiny real checkpoints, scripts/fuzz.sh seeds).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/a2c.h"
#include "agent/blas.h"
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
    if (trainer_init(&tr, &ck->cfg, err, sizeof err) < 0) return; // e.g. K above A2C_MAX_K
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
