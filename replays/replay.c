// replay.c — episode files: record, encode/parse, verify (see replay.h for
// the layout). Parsing validates every size, index and value before a
// replay is returned, so a damaged file gives a message, never a crash.
#include "replays/replay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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


// ----------------------------------------------------------------------------
// Recording

void replay_free(Replay *r) {
    free(r->steps), free(r->grids), free(r->hash_step), free(r->hash);
    memset(r, 0, sizeof *r);
}

static int grow(Replay *r, int need, char *err, size_t errlen) {
    if (need > REPLAY_MAX_STEPS + 1)
        return err_fail(err, errlen, "replay: episode longer than %d steps", REPLAY_MAX_STEPS);
    if (need <= r->cap) return 0;
    int cap = r->cap ? r->cap : 128;
    while (cap < need) cap *= 2;
    size_t cells = (size_t)r->w * r->h;
    ReplayStep *s = realloc(r->steps, (size_t)cap * sizeof *s);
    if (s) r->steps = s;
    uint8_t *g = realloc(r->grids, (size_t)cap * cells);
    if (g) r->grids = g;
    if (!s || !g) return err_fail(err, errlen, "replay: out of memory (%d steps)", cap);
    memset(r->steps + r->cap, 0, (size_t)(cap - r->cap) * sizeof *s);
    r->cap = cap;
    return 0;
}

static int add_hash(Replay *r, int step, uint64_t h, char *err, size_t errlen) {
    if (r->nhash > 0 && r->hash_step[r->nhash - 1] == (uint32_t)step) return 0;
    if (r->nhash == r->hcap) {
        int cap = r->hcap ? 2 * r->hcap : 32;
        uint32_t *a = realloc(r->hash_step, (size_t)cap * sizeof *a);
        if (a) r->hash_step = a;
        uint64_t *b = realloc(r->hash, (size_t)cap * sizeof *b);
        if (b) r->hash = b;
        if (!a || !b) return err_fail(err, errlen, "replay: out of memory");
        r->hcap = cap;
    }
    r->hash_step[r->nhash] = (uint32_t)step;
    r->hash[r->nhash++] = h;
    return 0;
}

int replay_begin(Replay *r, const Env *e, int source, const char *label, double train_frames,
                 char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    if (e->steps != 0)
        return err_fail(err, errlen, "replay: recording must start at an episode start (env is at step %d)",
                    e->steps);
    r->cfg = e->cfg;
    r->seed = e->seed, r->episode = e->episode, r->episode_rng = e->episode_rng;
    r->w = e->w, r->h = e->h, r->tx = e->tx, r->ty = e->ty, r->cue = e->cue;
    r->source = source;
    r->has_policy = source != REPLAY_PERSON;
    r->train_frames = train_frames;
    snprintf(r->label, sizeof r->label, "%s", label ? label : "");
    r->hash_every = REPLAY_HASH_EVERY;
    if (grow(r, 1, err, errlen) < 0) return -1; // end stays 0: a later push fails, never writes
    r->end = -1; // recording
    return 0;
}

int replay_ended(const Replay *r) { return r->end >= 0; }

int replay_snapshot(const Replay *r, const Env *now, Replay *out, char *err, size_t errlen) {
    *out = *r;
    out->steps = NULL, out->grids = NULL, out->hash_step = NULL, out->hash = NULL;
    out->cap = out->hcap = 0;
    int cap = r->n + 2, hcap = r->nhash + 1;
    size_t cells = (size_t)r->w * r->h;
    out->steps = malloc((size_t)cap * sizeof *out->steps);
    out->grids = malloc((size_t)cap * cells);
    out->hash_step = malloc((size_t)hcap * sizeof *out->hash_step);
    out->hash = malloc((size_t)hcap * sizeof *out->hash);
    if (!out->steps || !out->grids || !out->hash_step || !out->hash) {
        replay_free(out);
        return err_fail(err, errlen, "replay: out of memory");
    }
    out->cap = cap, out->hcap = hcap;
    memcpy(out->steps, r->steps, (size_t)(r->n + 1) * sizeof *out->steps);
    memcpy(out->grids, r->grids, (size_t)(r->n + 1) * cells);
    memcpy(out->hash_step, r->hash_step, (size_t)r->nhash * sizeof *out->hash_step);
    memcpy(out->hash, r->hash, (size_t)r->nhash * sizeof *out->hash);
    if (replay_finish(out, now, err, errlen) < 0) {
        replay_free(out);
        return -1;
    }
    return 0;
}

static void put_frame(Replay *r, int t, const Env *e) {
    ReplayStep *s = &r->steps[t];
    s->ax = (uint8_t)e->ax, s->ay = (uint8_t)e->ay, s->dir = (uint8_t)e->dir;
    s->carrying = (uint8_t)e->carrying;
    memcpy(r->grids + (size_t)t * r->w * r->h, e->grid, (size_t)r->w * r->h);
}

int replay_push_state(Replay *r, const Env *e, char *err, size_t errlen) {
    if (r->end >= 0) return err_fail(err, errlen, "replay: episode already finished");
    if (e->w != r->w || e->h != r->h || e->episode != r->episode)
        return err_fail(err, errlen, "replay: env state belongs to another episode");
    if (grow(r, r->n + 2, err, errlen) < 0) return -1;
    put_frame(r, r->n, e);
    if (r->n % r->hash_every == 0 && add_hash(r, r->n, env_hash(e), err, errlen) < 0) return -1;
    r->last = *e;
    return 0;
}

int replay_push_action(Replay *r, int action, float reward, float value, const float *probs,
                       uint8_t terminated, uint8_t truncated, const Env *after, char *err,
                       size_t errlen) {
    if (r->end >= 0) return err_fail(err, errlen, "replay: episode already finished");
    if (action < 0 || action >= ENV_A) return err_fail(err, errlen, "replay: action %d out of range", action);
    ReplayStep *s = &r->steps[r->n];
    s->action = (uint8_t)action;
    s->reward = reward;
    s->value = r->has_policy ? value : 0.0f;
    for (int a = 0; a < ENV_A; a++) s->probs[a] = probs && r->has_policy ? probs[a] : 0.0f;
    r->n++;
    r->ret += reward;
    if (!terminated && !truncated) {
        r->success = after->ep_success > 0;
        return 0;
    }
    // The env has already reset itself: rebuild the final frame from the
    // state before the step. Without the time limit the step is exact; an
    // end by termination is a move forward into the cell ahead.
    r->end = terminated ? REPLAY_TERMINATED : REPLAY_TRUNCATED;
    r->success = after->log.success - r->last.log.success > 0.5f;
    Env post = r->last;
    post.cfg.max_steps = INT_MAX;
    uint8_t t2, u2;
    env_step(&post, action, &t2, &u2);
    if (t2 || u2) {
        post = r->last;
        int fx = post.ax + ENV_DX[post.dir], fy = post.ay + ENV_DY[post.dir];
        if (action == ENV_FORWARD && (unsigned)fx < (unsigned)post.w && (unsigned)fy < (unsigned)post.h) {
            post.ax = fx, post.ay = fy;
            uint8_t *cell = &post.grid[fy * post.w + fx];
            if (*cell == ENV_APPLE || *cell == ENV_LEMON) *cell = ENV_EMPTY;
        }
    }
    put_frame(r, r->n, &post);
    return add_hash(r, r->n, env_hash(after), err, errlen);
}

int replay_finish(Replay *r, const Env *now, char *err, size_t errlen) {
    if (r->end >= 0) return 0;
    if (grow(r, r->n + 1, err, errlen) < 0) return -1;
    put_frame(r, r->n, now);
    memset(&r->steps[r->n].action, 0, sizeof *r->steps - offsetof(ReplayStep, action));
    if (add_hash(r, r->n, env_hash(now), err, errlen) < 0) return -1;
    r->end = REPLAY_CUT;
    r->success = now->ep_success > 0;
    return 0;
}

// ----------------------------------------------------------------------------
// Encoding

int replay_encode(const Replay *r, uint8_t **out, size_t *outlen, char *err, size_t errlen) {
    if (r->end < 0) return err_fail(err, errlen, "replay: episode not finished (call replay_finish)");
    Buf b = {0};
    const EnvConfig *c = &r->cfg;
    buf_u32(&b, (uint32_t)c->task), buf_u32(&b, (uint32_t)c->size), buf_u32(&b, (uint32_t)c->view);
    buf_u32(&b, (uint32_t)c->max_steps), buf_u32(&b, (uint32_t)c->items);
    buf_u64(&b, r->seed), buf_u64(&b, r->episode), buf_u64(&b, r->episode_rng);
    buf_u32(&b, (uint32_t)r->w), buf_u32(&b, (uint32_t)r->h), buf_u32(&b, ENV_A);
    buf_u32(&b, (uint32_t)r->tx), buf_u32(&b, (uint32_t)r->ty), buf_u32(&b, (uint32_t)r->cue);
    buf_u32(&b, (uint32_t)r->source), buf_u32(&b, (uint32_t)r->has_policy);
    buf_f64(&b, r->train_frames);
    char label[64];
    memset(label, 0, sizeof label);
    snprintf(label, sizeof label, "%s", r->label);
    buf_put(&b, label, sizeof label);
    buf_u32(&b, (uint32_t)r->n), buf_u32(&b, (uint32_t)r->end);
    buf_f32(&b, r->ret), buf_u32(&b, (uint32_t)r->success), buf_u32(&b, (uint32_t)r->hash_every);
    const size_t cells = (size_t)r->w * r->h;
    buf_put(&b, r->grids, cells);
    for (int t = 0; t <= r->n; t++) {
        const ReplayStep *s = &r->steps[t];
        buf_u8(&b, s->ax), buf_u8(&b, s->ay), buf_u8(&b, s->dir), buf_u8(&b, s->carrying);
        unsigned nd = 0;
        const uint8_t *g = r->grids + (size_t)t * cells, *pg = g - cells;
        if (t > 0)
            for (size_t i = 0; i < cells; i++) nd += g[i] != pg[i];
        buf_u16(&b, nd);
        if (t > 0)
            for (size_t i = 0; i < cells; i++)
                if (g[i] != pg[i]) buf_u16(&b, (unsigned)i), buf_u8(&b, g[i]);
    }
    for (int t = 0; t < r->n; t++) {
        const ReplayStep *s = &r->steps[t];
        buf_u8(&b, s->action), buf_f32(&b, s->reward), buf_f32(&b, s->value);
        for (int a = 0; a < ENV_A; a++) buf_f32(&b, s->probs[a]);
    }
    buf_u32(&b, (uint32_t)r->nhash);
    for (int i = 0; i < r->nhash; i++) buf_u32(&b, r->hash_step[i]), buf_u64(&b, r->hash[i]);
    if (b.oom) {
        free(b.p);
        return err_fail(err, errlen, "replay: out of memory encoding %d steps", r->n);
    }
    uLongf zlen = compressBound((uLong)b.len);
    uint8_t *f = malloc(20 + (size_t)zlen + 4);
    if (!f) {
        free(b.p);
        return err_fail(err, errlen, "replay: out of memory encoding %d steps", r->n);
    }
    if (compress2(f + 20, &zlen, b.p, (uLong)b.len, 6) != Z_OK) {
        free(b.p), free(f);
        return err_fail(err, errlen, "replay: zlib compress failed");
    }
    memcpy(f, REPLAY_MAGIC, 8);
    Buf h = {0};
    buf_u32(&h, REPLAY_VERSION), buf_u32(&h, (uint32_t)b.len), buf_u32(&h, (uint32_t)zlen);
    free(b.p);
    if (h.oom) { free(f); return err_fail(err, errlen, "replay: out of memory"); }
    memcpy(f + 8, h.p, 12);
    free(h.p);
    size_t n = 20 + (size_t)zlen;
    uint32_t crc = (uint32_t)crc32(0L, f, (uInt)n);
    f[n] = (uint8_t)crc, f[n + 1] = (uint8_t)(crc >> 8), f[n + 2] = (uint8_t)(crc >> 16), f[n + 3] = (uint8_t)(crc >> 24);
    *out = f;
    *outlen = n + 4;
    return 0;
}

int replay_save(const Replay *r, const char *path, char *err, size_t errlen) {
    uint8_t *buf;
    size_t len;
    char msg[256];
    if (replay_encode(r, &buf, &len, msg, sizeof msg) < 0) return err_fail(err, errlen, "%s: %s", path, msg);
    int rc = file_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return rc;
}

// ----------------------------------------------------------------------------
// Parsing

typedef struct { const uint8_t *p; size_t len, pos; int short_read; } Rd;

static const uint8_t *take(Rd *d, size_t n) {
    if (d->short_read || d->len - d->pos < n) { d->short_read = 1; return NULL; }
    const uint8_t *p = d->p + d->pos;
    d->pos += n;
    return p;
}
static unsigned get_u8(Rd *d) { const uint8_t *p = take(d, 1); return p ? p[0] : 0; }
static unsigned get_u16(Rd *d) { const uint8_t *p = take(d, 2); return p ? (unsigned)p[0] | (unsigned)p[1] << 8 : 0; }
static uint32_t get_u32(Rd *d) {
    const uint8_t *p = take(d, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}
static uint64_t get_u64(Rd *d) { uint64_t lo = get_u32(d); return lo | (uint64_t)get_u32(d) << 32; }
static float get_f32(Rd *d) { uint32_t u = get_u32(d); float f; memcpy(&f, &u, 4); return f; }
static double get_f64(Rd *d) { uint64_t u = get_u64(d); double f; memcpy(&f, &u, 8); return f; }

// The file around the body: magic, version, sizes, CRC, then the body
// inflated into *body (allocated; *body_len bytes). 0 or -1 with a message.
static int replay_unwrap(const uint8_t *buf, size_t len, const char *origin, uint8_t **body, uint32_t *body_len,
                         char *err, size_t errlen) {
    *body = NULL;
    if (len < 8 || memcmp(buf, REPLAY_MAGIC, 8) != 0) {
        char m[9] = {0};
        for (size_t i = 0; i < 8 && i < len; i++) m[i] = buf[i] >= 32 && buf[i] < 127 ? (char)buf[i] : '.';
        return err_fail(err, errlen, "%s: not a cpcrl replay (magic '%s', expected '%s')", origin, m,
                    REPLAY_MAGIC);
    }
    if (len < 24)
        return err_fail(err, errlen, "%s: truncated: %zu bytes, a replay has at least 24", origin, len);
    Rd h = {buf, len, 8, 0};
    uint32_t version = get_u32(&h), blen = get_u32(&h), zlen = get_u32(&h);
    if (version > REPLAY_VERSION)
        return err_fail(err, errlen,
                    "%s: field 'version': file is version %u, this cpcrl reads version %d "
                    "(written by a newer cpcrl; upgrade to read it)", origin, version, REPLAY_VERSION);
    if (version != REPLAY_VERSION)
        return err_fail(err, errlen, "%s: field 'version': expected %d, got %u", origin, REPLAY_VERSION,
                    version);
    if ((uint64_t)zlen + 24 > len)
        return err_fail(err, errlen, "%s: truncated: header says %llu bytes, file has %zu", origin,
                    (unsigned long long)zlen + 24, len);
    if ((uint64_t)zlen + 24 < len)
        return err_fail(err, errlen, "%s: %zu unexpected bytes after the CRC", origin,
                    len - ((size_t)zlen + 24));
    size_t n = 20 + (size_t)zlen;
    uint32_t stored = (uint32_t)buf[n] | (uint32_t)buf[n + 1] << 8 | (uint32_t)buf[n + 2] << 16 |
                      (uint32_t)buf[n + 3] << 24;
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)n);
    if (crc != stored)
        return err_fail(err, errlen, "%s: CRC mismatch: stored %08x, computed %08x (file corrupt)", origin,
                    stored, crc);
    if (blen > (1u << 30) || blen < 64)
        return err_fail(err, errlen, "%s: field 'body_len': expected 64..%u, got %u", origin, 1u << 30, blen);
    // deflate cannot expand more than ~1032:1, so a larger claim is a lie
    // (and would make us allocate up to 1 GiB for a tiny file)
    if ((uint64_t)blen > (uint64_t)zlen * 1032 + 64)
        return err_fail(err, errlen, "%s: field 'body_len': %u bytes cannot come from %u compressed bytes",
                    origin, blen, zlen);
    uint8_t *b = malloc(blen);
    if (!b) return err_fail(err, errlen, "%s: out of memory (%u bytes)", origin, blen);
    uLongf got = blen;
    int zrc = uncompress(b, &got, buf + 20, zlen);
    if (zrc != Z_OK || got != blen) {
        free(b);
        return err_fail(err, errlen, "%s: compressed body does not inflate to %u bytes (zlib: %s)", origin,
                    blen, zrc == Z_OK ? "short" : zError(zrc));
    }
    *body = b, *body_len = blen;
    return 0;
}

// The body, part by part: each part returns 0, or -1 with the reason in msg
// (PARSE_MSG bytes; the caller names the file).
#define PARSE_MSG 300
#define BAD(...) do { snprintf(msg, PARSE_MSG, __VA_ARGS__); return -1; } while (0)

// The header fields, each checked against its range.
static int parse_header(Replay *r, Rd *d, uint32_t body_len, char *msg) {
    EnvConfig *c = &r->cfg;
    c->task = (int)get_u32(d), c->size = (int)get_u32(d), c->view = (int)get_u32(d);
    c->max_steps = (int)get_u32(d), c->items = (int)get_u32(d);
    r->seed = get_u64(d), r->episode = get_u64(d), r->episode_rng = get_u64(d);
    r->w = (int)get_u32(d), r->h = (int)get_u32(d);
    uint32_t A = get_u32(d);
    r->tx = (int)get_u32(d), r->ty = (int)get_u32(d), r->cue = (int)get_u32(d);
    r->source = (int)get_u32(d), r->has_policy = (int)get_u32(d);
    r->train_frames = get_f64(d);
    const uint8_t *lab = take(d, 64);
    if (lab) memcpy(r->label, lab, 63);
    uint32_t nsteps = get_u32(d), end = get_u32(d);
    r->ret = get_f32(d);
    r->success = (int)get_u32(d);
    r->hash_every = (int)get_u32(d);
    if (d->short_read) BAD("body truncated in the header fields");
    if (c->task < 0 || c->task >= ENV_NTASKS) BAD("field 'task': expected 0..%d, got %d", ENV_NTASKS - 1, c->task);
    if (c->size < 0 || c->size > ENV_MAX_SIZE || c->view < 3 || c->view > ENV_MAX_VIEW || c->max_steps < 1 ||
        c->max_steps > REPLAY_MAX_STEPS || c->items < -1 || c->items > ENV_MAX_SIZE * ENV_MAX_SIZE)
        BAD("env config (size %d, view %d, max_steps %d, items %d) out of range", c->size, c->view, c->max_steps,
            c->items);
    EnvConfig dc = *c;
    env_config_defaults(&dc);
    char m2[200];
    if (memcmp(&dc, c, sizeof dc) != 0 || env_config_check(c, m2, sizeof m2) < 0)
        BAD("env config (size %d, view %d, max_steps %d, items %d) is not valid for task %s",
            c->size, c->view, c->max_steps, c->items, ENV_TASK_NAMES[c->task]);
    if (r->w < 3 || r->h < 3 || r->w > ENV_MAX_SIZE || r->h > ENV_MAX_SIZE)
        BAD("field 'w x h': expected 3..%d each, got %dx%d", ENV_MAX_SIZE, r->w, r->h);
    if (A != ENV_A) BAD("field 'A': expected %d actions, got %u", ENV_A, A);
    if ((unsigned)r->tx >= (unsigned)r->w || (unsigned)r->ty >= (unsigned)r->h || (r->cue != 0 && r->cue != 1))
        BAD("field 'tx/ty/cue': (%d, %d, %d) outside the %dx%d map", r->tx, r->ty, r->cue, r->w, r->h);
    if (r->source < 0 || r->source > 2) BAD("field 'source': expected 0..2, got %d", r->source);
    if (r->has_policy != 0 && r->has_policy != 1)
        BAD("field 'has_policy': expected 0 or 1, got %d", r->has_policy);
    if (nsteps > REPLAY_MAX_STEPS) BAD("field 'n': expected at most %d steps, got %u", REPLAY_MAX_STEPS, nsteps);
    if (end > 2) BAD("field 'end': expected 0..2, got %u", end);
    if (r->hash_every < 1) BAD("field 'hash_every': expected >= 1, got %d", r->hash_every);
    if (!isfinite(r->ret)) BAD("field 'ret': not a finite number");
    r->n = (int)nsteps;
    r->end = (int)end;
    const size_t cells = (size_t)r->w * r->h;
    // every frame costs at least 6 bytes of body: reject impossible counts before allocating
    if ((size_t)(r->n + 1) * 6 > body_len) BAD("field 'n': %d steps cannot fit in %u bytes", r->n, body_len);
    if ((size_t)(r->n + 1) * cells > ((size_t)1 << 30))
        BAD("%d steps of a %dx%d map need more than 1 GiB of frames; too large to load", r->n, r->w, r->h);
    return 0;
}

// The n + 1 frames: the initial map, then per frame the pose and the map's changes.
static int parse_frames(Replay *r, Rd *d, char *msg) {
    const size_t cells = (size_t)r->w * r->h;
    r->cap = r->n + 1;
    r->steps = calloc((size_t)r->cap, sizeof *r->steps);
    r->grids = malloc((size_t)r->cap * cells);
    if (!r->steps || !r->grids) BAD("out of memory for %d steps", r->n);
    const uint8_t *g0 = take(d, cells);
    if (!g0) BAD("body truncated in the initial map");
    memcpy(r->grids, g0, cells);
    for (size_t i = 0; i < cells; i++)
        if (g0[i] >= ENV_C) BAD("initial map: cell %zu has kind %u, expected < %d", i, g0[i], ENV_C);
    for (int t = 0; t <= r->n; t++) {
        ReplayStep *s = &r->steps[t];
        s->ax = (uint8_t)get_u8(d), s->ay = (uint8_t)get_u8(d), s->dir = (uint8_t)get_u8(d);
        s->carrying = (uint8_t)get_u8(d);
        unsigned nd = get_u16(d);
        if (d->short_read) BAD("body truncated at frame %d of %d", t, r->n);
        if (s->ax >= r->w || s->ay >= r->h || s->dir > 3 ||
            (s->carrying != 0 && s->carrying != ENV_KEY0 && s->carrying != ENV_KEY1))
            BAD("frame %d: pose (%u, %u) heading %u carrying %u is invalid for a %dx%d map", t, s->ax,
                s->ay, s->dir, s->carrying, r->w, r->h);
        uint8_t *g = r->grids + (size_t)t * cells;
        if (t > 0) memcpy(g, g - cells, cells);
        else if (nd) BAD("frame 0: has %u map changes, expected 0", nd);
        for (unsigned k = 0; k < nd; k++) {
            unsigned idx = get_u16(d), kind = get_u8(d);
            if (d->short_read) BAD("body truncated in the map changes of frame %d", t);
            if (idx >= cells || kind >= ENV_C)
                BAD("frame %d: map change (cell %u, kind %u) out of range (%zu cells, %d kinds)", t, idx,
                    kind, cells, ENV_C);
            g[idx] = (uint8_t)kind;
        }
    }
    return 0;
}

// The n steps: action, reward, value, probabilities.
static int parse_steps(Replay *r, Rd *d, char *msg) {
    for (int t = 0; t < r->n; t++) {
        ReplayStep *s = &r->steps[t];
        s->action = (uint8_t)get_u8(d);
        s->reward = get_f32(d), s->value = get_f32(d);
        for (int a = 0; a < ENV_A; a++) s->probs[a] = get_f32(d);
        if (d->short_read) BAD("body truncated at step %d of %d", t, r->n);
        if (s->action >= ENV_A) BAD("step %d: action %u, expected 0..%d", t, s->action, ENV_A - 1);
        int ok = isfinite(s->reward) && isfinite(s->value);
        for (int a = 0; a < ENV_A; a++) ok = ok && isfinite(s->probs[a]) && s->probs[a] >= 0 && s->probs[a] <= 1.0001f;
        if (!ok) BAD("step %d: reward, value or probabilities not finite / not in [0, 1]", t);
    }
    return 0;
}

// The state hashes, in order of step, and nothing after them.
static int parse_hashes(Replay *r, Rd *d, char *msg) {
    uint32_t nh = get_u32(d);
    if (d->short_read) BAD("body truncated before the state hashes");
    if (nh > (uint32_t)r->n + 1) BAD("field 'nhash': %u hashes for %d steps", nh, r->n);
    r->nhash = r->hcap = (int)nh;
    r->hash_step = malloc((nh ? nh : 1) * sizeof *r->hash_step);
    r->hash = malloc((nh ? nh : 1) * sizeof *r->hash);
    if (!r->hash_step || !r->hash) BAD("out of memory");
    for (uint32_t i = 0; i < nh; i++) {
        r->hash_step[i] = get_u32(d);
        r->hash[i] = get_u64(d);
        if (d->short_read) BAD("body truncated in the state hashes");
        if (r->hash_step[i] > (uint32_t)r->n || (i > 0 && r->hash_step[i] <= r->hash_step[i - 1]))
            BAD("state hash %u: step %u out of order or beyond %d", i, r->hash_step[i], r->n);
    }
    if (d->pos != d->len) BAD("%zu unexpected bytes after the state hashes", d->len - d->pos);
    return 0;
}

#undef BAD

int replay_parse(Replay *out, const uint8_t *buf, size_t len, const char *origin, char *err,
                 size_t errlen) {
    memset(out, 0, sizeof *out);
    uint8_t *body;
    uint32_t body_len = 0;
    if (replay_unwrap(buf, len, origin, &body, &body_len, err, errlen) < 0) return -1;
    Replay r;
    memset(&r, 0, sizeof r);
    char msg[PARSE_MSG];
    Rd d = {body, body_len, 0, 0};
    int rc = parse_header(&r, &d, body_len, msg);
    if (rc == 0) rc = parse_frames(&r, &d, msg);
    if (rc == 0) rc = parse_steps(&r, &d, msg);
    if (rc == 0) rc = parse_hashes(&r, &d, msg);
    free(body);
    if (rc < 0) {
        replay_free(&r);
        return err_fail(err, errlen, "%s: %s", origin, msg);
    }
    *out = r;
    return 0;
}

int replay_load(Replay *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    const char *why = NULL;
    FILE *f = file_open_regular(path, &why); // a FIFO refused without waiting for a writer
    if (!f) {
        if (errno == EISDIR) return err_fail(err, errlen, "%s: is a directory, expected a replay file (.rpl)", path);
        return err_fail(err, errlen, "%s: cannot open: %s%s", path, why,
                        errno == EINVAL ? ", expected a replay file" : "");
    }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return err_fail(err, errlen, "%s: cannot seek", path); }
    long sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return err_fail(err, errlen, "%s: cannot seek", path); }
    if (sz > (1L << 30)) { fclose(f); return err_fail(err, errlen, "%s: larger than 1 GiB", path); }
    uint8_t *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (!buf) { fclose(f); return err_fail(err, errlen, "%s: out of memory", path); }
    size_t got = fread(buf, 1, (size_t)sz, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)sz) {
        free(buf);
        return err_fail(err, errlen, "%s: read error", path);
    }
    int rc = replay_parse(r, buf, got, path, err, errlen);
    free(buf);
    return rc;
}

// ----------------------------------------------------------------------------
// Use

void replay_frame_env(const Replay *r, int t, Env *e) {
    if (t < 0) t = 0;
    if (t > r->n) t = r->n;
    memset(e, 0, sizeof *e);
    e->cfg = r->cfg;
    e->seed = r->seed, e->episode = r->episode, e->episode_rng = r->episode_rng;
    e->w = r->w, e->h = r->h;
    memcpy(e->grid, r->grids + (size_t)t * r->w * r->h, (size_t)r->w * r->h);
    const ReplayStep *s = &r->steps[t];
    e->ax = s->ax, e->ay = s->ay, e->dir = s->dir, e->carrying = s->carrying;
    e->tx = r->tx, e->ty = r->ty, e->cue = r->cue;
    e->steps = t;
}

float replay_return_at(const Replay *r, int t) {
    float s = 0;
    for (int i = 0; i < t && i < r->n; i++) s += r->steps[i].reward;
    return s;
}

static int frame_differs(const Replay *r, int t, const Env *e, char *what, size_t n) {
    const ReplayStep *s = &r->steps[t];
    if (s->ax != e->ax || s->ay != e->ay || s->dir != e->dir) {
        snprintf(what, n, "agent pose: recorded (%u, %u) heading %u, re-simulated (%d, %d) heading %d", s->ax,
                 s->ay, s->dir, e->ax, e->ay, e->dir);
        return 1;
    }
    if (s->carrying != e->carrying) {
        snprintf(what, n, "carried item: recorded %u, re-simulated %d", s->carrying, e->carrying);
        return 1;
    }
    const uint8_t *g = r->grids + (size_t)t * r->w * r->h;
    for (int i = 0; i < r->w * r->h; i++)
        if (g[i] != e->grid[i]) {
            snprintf(what, n, "map cell (%d, %d): recorded %s, re-simulated %s", i % r->w, i / r->w,
                     ENV_KIND_NAMES[g[i]], ENV_KIND_NAMES[e->grid[i]]);
            return 1;
        }
    return 0;
}

int replay_verify(const Replay *r, char *err, size_t errlen) {
    Env e;
    env_init(&e, &r->cfg, r->seed);
    e.rng = r->episode_rng;
    e.episode = r->episode - 1; // env_reset increments it
    env_reset(&e);
    if (e.w != r->w || e.h != r->h || e.tx != r->tx || e.ty != r->ty || e.cue != r->cue)
        return err_fail(err, errlen,
                    "episode start: re-simulated map %dx%d target (%d, %d) cue %d, recorded %dx%d "
                    "target (%d, %d) cue %d (seed/rng state do not reproduce the episode)",
                    e.w, e.h, e.tx, e.ty, e.cue, r->w, r->h, r->tx, r->ty, r->cue);
    if (r->n == 0 && r->end != REPLAY_CUT)
        return err_fail(err, errlen, "header says the episode ended (%s) after 0 steps; an episode ends only by a step",
                        r->end == REPLAY_TERMINATED ? "terminated" : "time limit");
    char what[200];
    int hi = 0, success = 0;
    float ret = 0; // summed in the recorder's order, so equal bit for bit
    for (int t = 0; t < r->n; t++) {
        if (frame_differs(r, t, &e, what, sizeof what))
            return err_fail(err, errlen, "step %d: %s (action at step %d does not reproduce)", t, what, t - 1);
        while (hi < r->nhash && (int)r->hash_step[hi] < t) hi++;
        if (hi < r->nhash && (int)r->hash_step[hi] == t) {
            uint64_t hs = env_hash(&e);
            if (hs != r->hash[hi])
                return err_fail(err, errlen, "step %d: state hash recorded %016llx, re-simulated %016llx", t,
                            (unsigned long long)r->hash[hi], (unsigned long long)hs);
        }
        uint8_t term, trunc;
        float log_success = e.log.success;
        float rew = env_step(&e, r->steps[t].action, &term, &trunc);
        ret += rew;
        if (term || trunc) success = e.log.success - log_success > 0.5f;
        if (memcmp(&rew, &r->steps[t].reward, sizeof rew) != 0)
            return err_fail(err, errlen, "step %d: reward recorded %g, re-simulated %g", t,
                        (double)r->steps[t].reward, (double)rew);
        int ended = term ? REPLAY_TERMINATED : trunc ? REPLAY_TRUNCATED : REPLAY_CUT;
        if (t < r->n - 1 && ended != REPLAY_CUT)
            return err_fail(err, errlen, "step %d: the episode ended (%s) in re-simulation, but the file goes on to step %d",
                        t, term ? "terminated" : "time limit", r->n);
        if (t == r->n - 1 && ended != r->end)
            return err_fail(err, errlen, "step %d: end recorded %d, re-simulated %d (0 none, 1 terminated, 2 time limit)",
                        t, r->end, ended);
    }
    if (r->end == REPLAY_CUT && frame_differs(r, r->n, &e, what, sizeof what))
        return err_fail(err, errlen, "step %d: %s", r->n, what);
    // the header's summary must be what the steps add up to
    if (r->end == REPLAY_CUT) success = e.ep_success > 0;
    if (memcmp(&ret, &r->ret, sizeof ret) != 0)
        return err_fail(err, errlen, "header field 'ret': return %+g, but the %d re-simulated rewards add up to %+g",
                        (double)r->ret, r->n, (double)ret);
    if ((r->success > 0) != success)
        return err_fail(err, errlen, "header field 'success': %s, re-simulated %s", r->success > 0 ? "yes" : "no",
                        success ? "yes" : "no");
    for (int i = 0; i < r->nhash; i++)
        if ((int)r->hash_step[i] == r->n) {
            uint64_t hs = env_hash(&e);
            if (hs != r->hash[i])
                return err_fail(err, errlen, "after the last step (%d): state hash recorded %016llx, re-simulated %016llx",
                            r->n, (unsigned long long)r->hash[i], (unsigned long long)hs);
        }
    return 0;
}
