// ckpt.c — checkpoint write (atomic) and read (validate everything first).
// The envs are written field by field (version 2: CKPT_ENV_FIELDS); a
// version-1 file's raw Env structs are read as they were.
#include "agent/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/bytes.h"
#include "base/errs.h"
#include "base/file.h"

static const char MAGIC[8] = {'C', 'P', 'C', 'R', 'L', 'C', 'K', 'P'};
static const size_t DTYPE_SIZE[4] = {4, 1, 8, 8};
#define CKPT_MAX_BYTES ((size_t)4 << 30)

// ----------------------------------------------------------------------------
// The list of state records of a trainer: one table drives save and load.

typedef struct {
    char name[64];
    int dtype, ndim;
    uint32_t dims[4];
    void *ptr;
    int optional; // absent from older files: zeros then
} Entry;

#define MAX_ENTRIES (NN_MAX_TENSORS + 64)

// ----------------------------------------------------------------------------
// The envs, field by field (version 2)

#define EF(field, dtype) {#field, offsetof(Env, field), sizeof(((Env *)0)->field), dtype}
const CkptEnvField CKPT_ENV_FIELDS[] = {
    EF(cfg.task, CK_I64), EF(cfg.size, CK_I64), EF(cfg.view, CK_I64), EF(cfg.max_steps, CK_I64),
    EF(cfg.items, CK_I64), EF(seed, CK_I64), EF(rng, CK_I64), EF(episode, CK_I64), EF(episode_rng, CK_I64),
    EF(w, CK_I64), EF(h, CK_I64), EF(grid, CK_U8), EF(ax, CK_I64), EF(ay, CK_I64), EF(dir, CK_I64),
    EF(carrying, CK_I64), EF(tx, CK_I64), EF(ty, CK_I64), EF(cue, CK_I64), EF(picked, CK_I64),
    EF(steps, CK_I64), EF(ep_return, CK_F32), EF(ep_success, CK_I64), EF(log.episodes, CK_F32),
    EF(log.ret, CK_F32), EF(log.length, CK_F32), EF(log.success, CK_F32),
};
#undef EF
const int CKPT_ENV_NFIELDS = (int)(sizeof CKPT_ENV_FIELDS / sizeof CKPT_ENV_FIELDS[0]);

// Bytes of one env's value of field f in the file.
static size_t field_bytes(const CkptEnvField *f) { return f->dtype == CK_U8 ? f->size : DTYPE_SIZE[f->dtype]; }

static size_t envs_pack_size(int B) {
    size_t n = 0;
    for (int k = 0; k < CKPT_ENV_NFIELDS; k++) n += (size_t)B * field_bytes(&CKPT_ENV_FIELDS[k]);
    return n;
}

// The records' data, field after field, B values each (little-endian).
static void envs_pack(const Env *envs, int B, uint8_t *out) {
    for (int k = 0; k < CKPT_ENV_NFIELDS; k++) {
        const CkptEnvField *f = &CKPT_ENV_FIELDS[k];
        for (int b = 0; b < B; b++) {
            const uint8_t *p = (const uint8_t *)&envs[b] + f->off;
            if (f->dtype == CK_I64) {
                int64_t v;
                if (f->size == sizeof(int)) { int i; memcpy(&i, p, sizeof i); v = i; }
                else { uint64_t u; memcpy(&u, p, sizeof u); v = (int64_t)u; }
                memcpy(out, &v, 8);
            } else {
                memcpy(out, p, f->size); // f32 or the map's bytes
            }
            out += field_bytes(f);
        }
    }
}

static int add(Entry *e, int n, const char *name, int dtype, void *ptr, int ndim, uint32_t d0,
               uint32_t d1) {
    snprintf(e[n].name, sizeof e[n].name, "%s", name);
    e[n].dtype = dtype, e[n].ndim = ndim, e[n].ptr = ptr;
    e[n].dims[0] = d0, e[n].dims[1] = d1, e[n].dims[2] = e[n].dims[3] = 0;
    e[n].optional = 0;
    return n + 1;
}

static size_t entry_count(const Entry *e) {
    size_t c = 1;
    for (int i = 0; i < e->ndim; i++) c *= e->dims[i];
    return c;
}

// Model parameters only.
static int model_entries(Model *m, Entry *e) {
    int n = 0;
    for (int i = 0; i < m->p.n; i++) {
        NNTensor *t = &m->p.t[i];
        snprintf(e[n].name, sizeof e[n].name, "param/%s", t->name);
        e[n].dtype = CK_F32, e[n].ndim = t->ndim, e[n].ptr = nn_param(&m->p, i), e[n].optional = 0;
        for (int d = 0; d < 4; d++) e[n].dims[d] = d < t->ndim ? (uint32_t)t->shape[d] : 0;
        n++;
    }
    return n;
}

// The version-2 env records' shapes: [B], the map [B, its bytes].
static int env_field_entry(Entry *e, int n, const CkptEnvField *f, int B, void *ptr) {
    char name[64];
    snprintf(name, sizeof name, "state/envs/%s", f->name);
    return f->dtype == CK_U8 ? add(e, n, name, CK_U8, ptr, 2, (uint32_t)B, (uint32_t)f->size)
                             : add(e, n, name, f->dtype, ptr, 1, (uint32_t)B, 0);
}

// Every record of the trainer's state. envpack (envs_pack's bytes): the
// envs' records point into it; NULL: no env records (loading reads them
// with read_envs, before anything is copied).
static int trainer_entries(Trainer *tr, double *extra, uint8_t *envpack, Entry *e) {
    int n = model_entries(&tr->model, e);
    const uint32_t B = (uint32_t)tr->B, H = (uint32_t)tr->model.H;
    n = add(e, n, "opt/state", CK_F32, tr->opt.state, 1, (uint32_t)tr->opt.nstate, 0);
    n = add(e, n, "opt/step", CK_I64, &tr->opt.step, 1, 1, 0);
    for (int k = 0; envpack && k < CKPT_ENV_NFIELDS; k++) {
        n = env_field_entry(e, n, &CKPT_ENV_FIELDS[k], (int)B, envpack);
        envpack += B * field_bytes(&CKPT_ENV_FIELDS[k]);
    }
    n = add(e, n, "state/obs", CK_U8, tr->obs, 2, B, (uint32_t)tr->obs_size);
    n = add(e, n, "state/h", CK_F32, tr->h_carry, 2, B, H);
    n = add(e, n, "state/c", CK_F32, tr->c_carry, 2, B, H);
    n = add(e, n, "state/prev_reward", CK_F32, tr->prev_reward, 1, B, 0);
    n = add(e, n, "state/prev_done", CK_F32, tr->prev_done, 1, B, 0);
    n = add(e, n, "state/prev_action", CK_U8, tr->prev_action, 1, (uint32_t)(B * sizeof(int)), 0);
    n = add(e, n, "state/rng", CK_U8, tr->rng, 1, (uint32_t)(B * sizeof(uint64_t)), 0);
    n = add(e, n, "state/frames", CK_F64, &tr->frames, 1, 1, 0);
    n = add(e, n, "state/updates", CK_I64, &tr->updates, 1, 1, 0);
    n = add(e, n, "state/episodes", CK_F32, &tr->ep, 1, 4, 0);
    if (extra) {
        n = add(e, n, "state/extra", CK_F64, extra, 1, CKPT_EXTRA_SCHED, 0);
        n = add(e, n, "state/log", CK_F64, extra + CKPT_EXTRA_SCHED, 1, CKPT_EXTRA_LOG, 0);
        e[n - 1].optional = 1;
        n = add(e, n, "state/logk", CK_F64, extra + CKPT_EXTRA_SCHED + CKPT_EXTRA_LOG, 1,
                CKPT_EXTRA_LOGK, 0);
        e[n - 1].optional = 1;
    }
    return n;
}

// ----------------------------------------------------------------------------
// Writing

static int check_trainer(const Ckpt *ck, const Trainer *tr, int with_extra, Env *envs, char *err,
                         size_t errlen);

int ckpt_save(const Trainer *trc, const double *extra, const char *path, char *err,
              size_t errlen) {
    Trainer *tr = (Trainer *)trc; // entries hold non-const pointers; nothing is written
    uint8_t *envpack = malloc(envs_pack_size(tr->B));
    if (!envpack) return err_fail(err, errlen, "%s: out of memory", path);
    envs_pack(tr->vec.envs, tr->B, envpack);
    Entry e[MAX_ENTRIES];
    int n = trainer_entries(tr, (double *)extra, envpack, e);
    Buf b = {0};
    buf_put(&b, MAGIC, 8);
    buf_u32(&b, CKPT_VERSION);
    char *cfgtext = NULL;
    size_t cfglen = 0;
    FILE *mf = open_memstream(&cfgtext, &cfglen);
    if (!mf) return err_fail(err, errlen, "%s: out of memory", path);
    config_write(&tr->cfg, mf);
    fclose(mf);
    buf_u32(&b, (uint32_t)cfglen);
    buf_put(&b, cfgtext, cfglen);
    free(cfgtext);
    buf_u32(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        buf_u32(&b, (uint32_t)strlen(e[i].name));
        buf_put(&b, e[i].name, strlen(e[i].name));
        buf_u32(&b, (uint32_t)e[i].dtype);
        buf_u32(&b, (uint32_t)e[i].ndim);
        for (int d = 0; d < e[i].ndim; d++) buf_u32(&b, e[i].dims[d]);
        buf_put(&b, e[i].ptr, entry_count(&e[i]) * DTYPE_SIZE[e[i].dtype]);
    }
    free(envpack);
    uint32_t crc = (uint32_t)crc32(0L, b.p, (uInt)0);
    for (size_t off = 0; off < b.len;) { // crc32 takes uInt lengths
        size_t chunk = b.len - off > (1u << 30) ? (1u << 30) : b.len - off;
        crc = (uint32_t)crc32(crc, b.p + off, (uInt)chunk);
        off += chunk;
    }
    buf_u32(&b, crc);
    if (b.oom) { free(b.p); return err_fail(err, errlen, "%s: out of memory", path); }
    // what is written must load: parse and check the bytes as a resume would
    Ckpt ck;
    char msg[512];
    int rc = ckpt_parse(&ck, b.p, b.len, path, msg, sizeof msg);
    if (rc == 0) {
        rc = check_trainer(&ck, tr, extra != NULL, NULL, msg, sizeof msg);
        ckpt_free(&ck);
    }
    if (rc < 0) {
        free(b.p);
        return err_fail(err, errlen, "%s: not written, the state fails the loader's checks (%s); "
                        "the previous checkpoint is kept", path, msg);
    }
    rc = file_write_atomic(path, b.p, b.len, err, errlen);
    free(b.p);
    return rc;
}

// ----------------------------------------------------------------------------
// Reading

static int get_u32(const uint8_t *buf, size_t len, size_t *off, uint32_t *v) {
    if (len - *off < 4 || *off > len) return -1;
    const uint8_t *p = buf + *off;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    *off += 4;
    return 0;
}

void ckpt_free(Ckpt *ck) {
    free(ck->buf);
    free(ck->rec);
    memset(ck, 0, sizeof *ck);
}

int ckpt_parse(Ckpt *ck, const uint8_t *data, size_t len, const char *origin, char *err,
               size_t errlen) {
    memset(ck, 0, sizeof *ck);
    if (len < 8 + 4 + 4 + 4 + 4 || memcmp(data, MAGIC, 8) != 0)
        return err_fail(err, errlen, "%s: not a cpcrl checkpoint (bad magic or too short: %zu bytes)",
                    origin, len);
    size_t off = 8;
    uint32_t version, cfglen, nrec;
    get_u32(data, len, &off, &version);
    if (version < CKPT_VERSION_MIN || version > CKPT_VERSION)
        return err_fail(err, errlen, "%s: checkpoint version %u, this cpcrl reads versions %d to %d", origin,
                    version, CKPT_VERSION_MIN, CKPT_VERSION);
    uint32_t stored;
    size_t crcoff = len - 4;
    get_u32(data, len, &crcoff, &stored);
    uint32_t crc = (uint32_t)crc32(0L, data, (uInt)0);
    for (size_t o = 0; o < len - 4;) {
        size_t chunk = len - 4 - o > (1u << 30) ? (1u << 30) : len - 4 - o;
        crc = (uint32_t)crc32(crc, data + o, (uInt)chunk);
        o += chunk;
    }
    if (crc != stored)
        return err_fail(err, errlen, "%s: CRC mismatch (stored %08x, computed %08x): file is corrupt or truncated",
                    origin, stored, crc);
    size_t body = len - 4;
    if (get_u32(data, body, &off, &cfglen) < 0 || cfglen > body - off)
        return err_fail(err, errlen, "%s: config block runs past the end", origin);
    config_defaults(&ck->cfg);
    char msg[300];
    if (config_parse_text(&ck->cfg, (const char *)data + off, cfglen, "embedded config", msg,
                          sizeof msg) < 0)
        return err_fail(err, errlen, "%s: %s", origin, msg);
    if (config_check(&ck->cfg, msg, sizeof msg) < 0)
        return err_fail(err, errlen, "%s: embedded config invalid: %s", origin, msg);
    off += cfglen;
    if (get_u32(data, body, &off, &nrec) < 0 || nrec > 4096)
        return err_fail(err, errlen, "%s: bad record count", origin);
    ck->rec = calloc(nrec ? nrec : 1, sizeof(CkptRecord));
    ck->buf = malloc(len);
    if (!ck->rec || !ck->buf) { ckpt_free(ck); return err_fail(err, errlen, "%s: out of memory", origin); }
    memcpy(ck->buf, data, len);
    ck->len = len;
    ck->version = (int)version;
    for (uint32_t i = 0; i < nrec; i++) {
        CkptRecord *r = &ck->rec[i];
        uint32_t nl, dt, nd;
        if (get_u32(data, body, &off, &nl) < 0 || nl == 0 || nl >= sizeof r->name || nl > body - off)
            goto bad;
        memcpy(r->name, data + off, nl);
        r->name[nl] = 0;
        off += nl;
        if (get_u32(data, body, &off, &dt) < 0 || dt > CK_F64) goto bad;
        if (get_u32(data, body, &off, &nd) < 0 || nd < 1 || nd > 4) goto bad;
        r->dtype = (int)dt, r->ndim = (int)nd;
        uint64_t count = 1;
        for (uint32_t d = 0; d < nd; d++) {
            if (get_u32(data, body, &off, &r->dims[d]) < 0) goto bad;
            count *= r->dims[d];
            if (count > CKPT_MAX_BYTES) goto bad;
        }
        uint64_t bytes = count * DTYPE_SIZE[dt];
        if (bytes > body - off) goto bad;
        r->count = (size_t)count;
        r->data = ck->buf + off;
        off += (size_t)bytes;
        ck->nrec++;
    }
    if (off != body) {
        snprintf(msg, sizeof msg, "%zu unexpected bytes after the last record", body - off);
        ckpt_free(ck);
        return err_fail(err, errlen, "%s: %s", origin, msg);
    }
    for (int i = 0; i < ck->nrec; i++) // one meaning per name: a second copy would win or lose silently
        for (int j = 0; j < i; j++)
            if (!strcmp(ck->rec[i].name, ck->rec[j].name)) {
                snprintf(msg, sizeof msg, "records %d and %d are both named '%s' (duplicate)", j, i,
                         ck->rec[i].name);
                ckpt_free(ck);
                return err_fail(err, errlen, "%s: %s", origin, msg);
            }
    return 0;
bad:
    {
        int idx = ck->nrec;
        ckpt_free(ck);
        return err_fail(err, errlen, "%s: record %d is malformed (name, dtype, shape or size)", origin,
                    idx);
    }
}

int ckpt_read(Ckpt *ck, const char *path, char *err, size_t errlen) {
    memset(ck, 0, sizeof *ck);
    const char *why = NULL;
    FILE *f = file_open_regular(path, &why);
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, why);
    struct stat st; // a regular file (file_open_regular): its size
    if (fstat(fileno(f), &st) < 0) {
        fclose(f);
        return err_fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    }
    size_t len = (size_t)st.st_size;
    if (len > CKPT_MAX_BYTES) { fclose(f); return err_fail(err, errlen, "%s: larger than 4 GiB", path); }
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) { fclose(f); return err_fail(err, errlen, "%s: out of memory", path); }
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) { free(buf); return err_fail(err, errlen, "%s: read error", path); }
    int rc = ckpt_parse(ck, buf, len, path, err, errlen);
    free(buf);
    return rc;
}

const CkptRecord *ckpt_find(const Ckpt *ck, const char *name) {
    for (int i = 0; i < ck->nrec; i++)
        if (!strcmp(ck->rec[i].name, name)) return &ck->rec[i];
    return NULL;
}

// The record of entry e in ck, there and of e's dtype and shape; else NULL
// and what is wrong.
static const CkptRecord *find_entry(const Ckpt *ck, const Entry *e, char *err, size_t errlen) {
    const CkptRecord *r = ckpt_find(ck, e->name);
    if (!r) {
        err_fail(err, errlen, "missing record '%s'", e->name);
        return NULL;
    }
    int same = r->dtype == e->dtype && r->ndim == e->ndim;
    for (int d = 0; same && d < e->ndim; d++) same = r->dims[d] == e->dims[d];
    if (!same) {
        char want[64], got[64];
        int wl = 0, gl = 0;
        for (int d = 0; d < e->ndim; d++)
            wl += snprintf(want + wl, sizeof want - (size_t)wl, "%s%u", d ? "x" : "", e->dims[d]);
        for (int d = 0; d < r->ndim; d++)
            gl += snprintf(got + gl, sizeof got - (size_t)gl, "%s%u", d ? "x" : "", r->dims[d]);
        err_fail(err, errlen, "record '%s': expected shape %s (dtype %d), got %s (dtype %d)", e->name, want,
                 e->dtype, got, r->dtype);
        return NULL;
    }
    return r;
}

// Check every entry against the file, then copy them all.
static int apply(const Ckpt *ck, Entry *e, int n, char *err, size_t errlen) {
    const CkptRecord *found[MAX_ENTRIES];
    for (int i = 0; i < n; i++) {
        found[i] = NULL;
        if (e[i].optional && !ckpt_find(ck, e[i].name)) continue;
        if (!(found[i] = find_entry(ck, &e[i], err, errlen))) return -1;
    }
    for (int i = 0; i < n; i++) {
        if (found[i]) memcpy(e[i].ptr, found[i]->data, found[i]->count * DTYPE_SIZE[found[i]->dtype]);
        else memset(e[i].ptr, 0, entry_count(&e[i]) * DTYPE_SIZE[e[i].dtype]);
    }
    return 0;
}

// A CPC head of the other kind (--cpc-mode): say so, rather than "missing record".
static int check_cpc_mode(const Ckpt *ck, const Model *m, char *err, size_t errlen) {
    const int ck_action = ck->cfg.cpc_weight > 0 && ck->cfg.cpc_mode == CPC_MODE_ACTION;
    if (m->K > 0 && ck->cfg.cpc_weight > 0 && ck_action != (m->G > 0))
        return err_fail(err, errlen, "the checkpoint's CPC head is --cpc-mode %s, this model's is "
                        "--cpc-mode %s: the modes cannot load each other's weights",
                        ck_action ? "action" : "linear", m->G > 0 ? "action" : "linear");
    return 0;
}

int ckpt_load_model(const Ckpt *ck, Model *m, char *err, size_t errlen) {
    if (check_cpc_mode(ck, m, err, errlen) < 0) return -1;
    for (int i = 0; i < ck->nrec; i++) {
        const CkptRecord *q = &ck->rec[i];
        if (strncmp(q->name, "param/", 6) || q->dtype != CK_F32) continue;
        for (size_t j = 0; j < q->count; j++) {
            float f;
            memcpy(&f, q->data + 4 * j, 4);
            if (!isfinite(f))
                return err_fail(err, errlen, "record '%s': expected a finite number at index %zu, got %g",
                            q->name, j, (double)f);
        }
    }
    Entry e[MAX_ENTRIES];
    int n = model_entries(m, e);
    return apply(ck, e, n, err, errlen);
}

// The B envs of ck into out (B Env structs), each checked: the run's
// config, a state env_step can continue from. Version 2: every field's
// record (ints in range); version 1: the raw structs of "state/envs".
static int read_envs(const Ckpt *ck, const Trainer *tr, Env *out, char *err, size_t errlen) {
    const int B = tr->B;
    Entry e;
    const CkptRecord *r;
    if (ck->version < 2) {
        add(&e, 0, "state/envs", CK_U8, NULL, 1, (uint32_t)(B * sizeof(Env)), 0);
        if (!(r = find_entry(ck, &e, err, errlen))) return -1;
        memcpy(out, r->data, (size_t)B * sizeof(Env));
    } else {
        memset(out, 0, (size_t)B * sizeof(Env));
        for (int k = 0; k < CKPT_ENV_NFIELDS; k++) {
            const CkptEnvField *f = &CKPT_ENV_FIELDS[k];
            env_field_entry(&e, 0, f, B, NULL);
            if (!(r = find_entry(ck, &e, err, errlen))) return -1;
            const size_t fb = field_bytes(f);
            for (int b = 0; b < B; b++) {
                const uint8_t *p = r->data + (size_t)b * fb;
                uint8_t *q = (uint8_t *)&out[b] + f->off;
                int64_t v;
                if (f->dtype != CK_I64 || f->size == sizeof(uint64_t)) {
                    memcpy(q, p, f->size); // f32, the map, or a 64-bit counter's bits
                    continue;
                }
                memcpy(&v, p, 8);
                if (v < INT32_MIN || v > INT32_MAX)
                    return err_fail(err, errlen, "record '%s': env %d value %lld, expected a 32-bit int", e.name, b,
                                    (long long)v);
                int i = (int)v;
                memcpy(q, &i, sizeof i);
            }
        }
    }
    const char *what = ck->version < 2 ? "record 'state/envs'" : "records 'state/envs/*'";
    for (int b = 0; b < B; b++) {
        char msg[200];
        if (memcmp(&out[b].cfg, &tr->ecfg, sizeof out[b].cfg) != 0)
            return err_fail(err, errlen, "%s: env %d config differs from the run's", what, b);
        if (env_state_check(&out[b], msg, sizeof msg) < 0)
            return err_fail(err, errlen, "%s: env %d state is inconsistent: %s", what, b, msg);
    }
    return 0;
}

// A record's single value, when it is there with the expected dtype.
static int get_one(const Ckpt *ck, const char *name, int dtype, void *out) {
    const CkptRecord *r = ckpt_find(ck, name);
    if (!r || r->dtype != dtype || r->count != 1) return 0;
    memcpy(out, r->data, DTYPE_SIZE[dtype]);
    return 1;
}

// Every invariant of the trainer state in ck, on the file's bytes, before a
// single value is copied: what could index out of bounds, overflow, loop for
// ever or turn the weights into NaN. The envs are read into envs (B structs;
// NULL: read and dropped); the other records' shapes are checked by apply().
static int check_trainer(const Ckpt *ck, const Trainer *tr, int with_extra, Env *envs, char *err,
                         size_t errlen) {
    Env *tmp = envs ? NULL : malloc((size_t)tr->B * sizeof(Env));
    if (!envs && !tmp) return err_fail(err, errlen, "out of memory for %d envs", tr->B);
    int rc = read_envs(ck, tr, envs ? envs : tmp, err, errlen);
    free(tmp);
    if (rc < 0) return -1;
    const CkptRecord *r = ckpt_find(ck, "state/prev_action");
    if (r && r->dtype == CK_U8 && r->count == (size_t)tr->B * sizeof(int))
        for (int b = 0; b < tr->B; b++) {
            int a;
            memcpy(&a, r->data + (size_t)b * sizeof(int), sizeof a);
            if (a < 0 || a >= ENV_A)
                return err_fail(err, errlen, "record 'state/prev_action': env %d action %d, expected 0..%d",
                            b, a, ENV_A - 1);
        }
    for (int i = 0; i < ck->nrec; i++) { // every float must be finite
        const CkptRecord *q = &ck->rec[i];
        for (size_t j = 0; j < q->count; j++) {
            double x;
            if (q->dtype == CK_F32) { float f; memcpy(&f, q->data + 4 * j, 4); x = f; }
            else if (q->dtype == CK_F64) memcpy(&x, q->data + 8 * j, 8);
            else break;
            if (!isfinite(x))
                return err_fail(err, errlen, "record '%s': expected a finite number at index %zu, got %g",
                            q->name, j, x);
        }
    }
    // RMSProp's square average / Adam's second moment (the last n floats of
    // the slab) is a running mean of g^2: negative would make sqrt(v) NaN
    r = ckpt_find(ck, "opt/state");
    if (r && r->dtype == CK_F32 && r->count == tr->opt.nstate)
        for (size_t j = tr->opt.nstate - tr->opt.n; j < r->count; j++) {
            float f;
            memcpy(&f, r->data + 4 * j, 4);
            if (f < 0)
                return err_fail(err, errlen, "record 'opt/state': second moment at index %zu is %g, "
                            "expected >= 0", j, (double)f);
        }
    double fr = 0, ex[2] = {0, 0};
    int64_t updates = 0, step = 0;
    get_one(ck, "state/frames", CK_F64, &fr);
    if (!(fr >= 0 && fr <= 1e15) || fr != floor(fr))
        return err_fail(err, errlen, "record 'state/frames': %g, expected a whole number in 0..1e15", fr);
    get_one(ck, "state/updates", CK_I64, &updates);
    if (updates < 0 || (double)updates > fr) // every update adds T*B >= 1 frames
        return err_fail(err, errlen, "record 'state/updates': %lld, expected 0..%.0f (the frame count)",
                    (long long)updates, fr);
    get_one(ck, "opt/step", CK_I64, &step);
    // sample reuse takes epochs * minibatches optimizer steps per update
    // (in double: updates <= 1e15 times up to 1000 * 4096 overflows int64)
    double per = tr->cfg.epochs * (double)tr->cfg.minibatches;
    per = per > 1 ? per : 1;
    const double most = (double)updates * per;
    if (step < 0 || (double)step > most)
        return err_fail(err, errlen, "record 'opt/step': %lld, expected 0..%.0f (the update count "
                        "times %.0f optimizer steps per update)", (long long)step, most, per);
    r = ckpt_find(ck, "state/episodes");
    if (r && r->dtype == CK_F32 && r->count == 4) {
        float ep[4];
        memcpy(ep, r->data, sizeof ep);
        if (ep[0] < 0 || ep[2] < 0 || ep[3] < 0)
            return err_fail(err, errlen, "record 'state/episodes': negative count");
    }
    if (with_extra && (r = ckpt_find(ck, "state/extra")) && r->dtype == CK_F64 && r->count >= 2) {
        memcpy(ex, r->data, 16);
        if (ex[0] < fr || ex[1] < fr || ex[0] > fr + 1e15 || ex[1] > fr + 1e15)
            return err_fail(err, errlen,
                        "record 'state/extra': next log/checkpoint at %g/%g frames, expected after "
                        "the checkpoint's %g frames", ex[0], ex[1], fr);
    }
    static const char *const rows[] = {"state/log", "state/logk"};
    for (int q = 0; q < 2; q++)
        if (with_extra && (r = ckpt_find(ck, rows[q])) && r->dtype == CK_F64)
            for (size_t j = 0; j < r->count; j++) {
                double x;
                memcpy(&x, r->data + 8 * j, 8);
                if (!(x >= -1e30 && x <= 1e30))
                    return err_fail(err, errlen, "record '%s': value %g at index %zu out of range",
                                    rows[q], x, j);
            }
    return 0;
}

int ckpt_load_trainer(const Ckpt *ck, Trainer *tr, double *extra, char *err, size_t errlen) {
    if (check_cpc_mode(ck, &tr->model, err, errlen) < 0) return -1;
    Env *envs = malloc((size_t)tr->B * sizeof(Env));
    if (!envs) return err_fail(err, errlen, "out of memory for %d envs", tr->B);
    Entry e[MAX_ENTRIES];
    int n = trainer_entries(tr, extra, NULL, e);
    int rc = check_trainer(ck, tr, extra != NULL, envs, err, errlen);
    if (rc == 0) rc = apply(ck, e, n, err, errlen); // all checked before this copies
    if (rc == 0) memcpy(tr->vec.envs, envs, (size_t)tr->B * sizeof(Env));
    free(envs);
    return rc;
}
