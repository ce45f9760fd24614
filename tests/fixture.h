// fixture.h — reader for the PyTorch reference fixtures in tests/fixtures/
// (written by scripts/make_fixtures*.py), plus a float comparison helper.
//
// File format, little-endian:
//   magic "CPCFIX1\0" (8 bytes), then records until end of file:
//   [u32 name_len][name bytes][u32 ndim (0..4)][u32 dims[ndim]][float32 data[prod(dims)]]
//
// Usage:
//   Fixture f;
//   if (fix_load(&f, "tests/fixtures/linear.bin") != 0) fail_msg("%s", f.err);
//   const float *w = fix_data(&f, "w", 20);   // NULL (and f.err) if missing / wrong size
//   ...
//   fix_free(&f);
// Header-only (static inline) so every test program can include it.
#ifndef CPCRL_TESTS_FIXTURE_H
#define CPCRL_TESTS_FIXTURE_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX_MAGIC "CPCFIX1"
#define FIX_NAME_LEN 64

typedef struct {
    char name[FIX_NAME_LEN];
    int ndim;
    int dims[4];
    size_t size; // prod(dims), 1 for a scalar
    float *data;
} FixTensor;

typedef struct {
    FixTensor *t;
    int n, cap;
    char err[512];
} Fixture;

static inline void fix_free(Fixture *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].data);
    free(f->t);
    f->t = NULL;
    f->n = f->cap = 0;
}

// Reads one little-endian u32; returns 0 on success, -1 at end of file.
static inline int fix_read_u32(FILE *fp, uint32_t *v) {
    unsigned char b[4];
    if (fread(b, 1, 4, fp) != 4) return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

// 0 on success; -1 with a message in f->err (missing file, bad magic,
// truncated record, absurd sizes, out of memory). *f is always safe to free.
static inline int fix_load(Fixture *f, const char *path) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(f->err, sizeof f->err, "%s: cannot open (%s); run from the repo root, "
                 "regenerate with `make fixtures`", path, strerror(errno));
        return -1;
    }
    char magic[8];
    if (fread(magic, 1, 8, fp) != 8 || memcmp(magic, FIX_MAGIC, 8) != 0) {
        snprintf(f->err, sizeof f->err, "%s: not a fixture file (magic \"%s\" expected)",
                 path, FIX_MAGIC);
        fclose(fp);
        return -1;
    }
    for (;;) {
        uint32_t len;
        if (fix_read_u32(fp, &len) != 0) break; // clean end of file
        const char *bad = NULL;
        FixTensor t;
        memset(&t, 0, sizeof t);
        uint32_t ndim = 0;
        if (len == 0 || len >= FIX_NAME_LEN) bad = "name length out of range";
        else if (fread(t.name, 1, len, fp) != len) bad = "truncated name";
        else if (fix_read_u32(fp, &ndim) != 0) bad = "truncated ndim";
        else if (ndim > 4) bad = "ndim > 4";
        t.ndim = (int)ndim;
        t.size = 1;
        for (uint32_t d = 0; !bad && d < ndim; d++) {
            uint32_t v;
            if (fix_read_u32(fp, &v) != 0) bad = "truncated dims";
            else if (v == 0 || v > (1u << 24)) bad = "dimension out of range";
            else {
                t.dims[d] = (int)v;
                t.size *= v;
                if (t.size > (1u << 26)) bad = "tensor too large";
            }
        }
        if (!bad && !(t.data = malloc(t.size * sizeof(float)))) bad = "out of memory";
        for (size_t i = 0; !bad && i < t.size; i++) {
            uint32_t u;
            if (fix_read_u32(fp, &u) != 0) bad = "truncated data";
            else memcpy(&t.data[i], &u, 4);
        }
        if (!bad && f->n == f->cap) {
            int cap = f->cap ? 2 * f->cap : 16;
            FixTensor *nt = realloc(f->t, (size_t)cap * sizeof *nt);
            if (!nt) bad = "out of memory";
            else {
                f->t = nt;
                f->cap = cap;
            }
        }
        if (bad) {
            snprintf(f->err, sizeof f->err, "%s: record %d (\"%s\"): %s", path, f->n + 1,
                     t.name, bad);
            free(t.data);
            fix_free(f);
            fclose(fp);
            return -1;
        }
        f->t[f->n++] = t;
    }
    fclose(fp);
    return 0;
}

static inline const FixTensor *fix_get(Fixture *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    snprintf(f->err, sizeof f->err, "fixture has no tensor \"%s\"", name);
    return NULL;
}

// The data of `name`, checked to hold `size` floats; NULL with f->err otherwise.
static inline const float *fix_data(Fixture *f, const char *name, size_t size) {
    const FixTensor *t = fix_get(f, name);
    if (!t) return NULL;
    if (t->size != size) {
        snprintf(f->err, sizeof f->err, "fixture tensor \"%s\" has %zu floats, expected %zu",
                 name, t->size, size);
        return NULL;
    }
    return t->data;
}

// Counts entries with |got - want| > atol + rtol * |want| (NaN counts too) and
// prints the first few with their index. A test asserts the count is 0.
static inline size_t fix_compare(const char *what, const float *got, const float *want,
                                 size_t n, double atol, double rtol) {
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i], err = fabs(g - w), tol = atol + rtol * fabs(w);
        if (!(err <= tol)) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.8g want %.8g (|diff| %.3g > tol %.3g)\n",
                        what, i, g, w, err, tol);
            bad++;
        }
        if (err > worst || err != err) worst = err;
    }
    if (bad) fprintf(stderr, "  %s: %zu of %zu differ, max |diff| %.3g\n", what, bad, n, worst);
    return bad;
}

#endif
