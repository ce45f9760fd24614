// image.c — PNG and GIF writers (see image.h).
//
// PNG: signature, IHDR (8-bit RGB), one IDAT holding zlib's compress2 of the
// rows (each row: filter byte, here "Sub" which suits flat colour areas, then
// R,G,B), IEND; every chunk's CRC from zlib's crc32.
// GIF: GIF89a, logical screen w x h, NETSCAPE2.0 loop extension, then per
// frame a graphic control extension (delay), an image descriptor with a
// 256-entry local colour table and the LZW-coded indices (min code size 8,
// variable code width 9..12 bits, a clear code when the table is full).
#include "replays/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/errs.h"
#include "base/file.h"

// ----------------------------------------------------------------------------
// PNG

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

// Chunk at p: length, type, data (already in place at p + 8), CRC. Returns its size.
static size_t png_chunk(uint8_t *p, const char *type, size_t len) {
    be32(p, (uint32_t)len);
    memcpy(p + 4, type, 4);
    uLong crc = crc32(0L, p + 4, (uInt)(len + 4));
    be32(p + 8 + len, (uint32_t)crc);
    return len + 12;
}

int png_encode(const uint32_t *px, int w, int h, int stride, uint8_t **out, size_t *outlen) {
    size_t row = (size_t)w * 3 + 1, raw_len = row * (size_t)h;
    uint8_t *raw = malloc(raw_len);
    uLongf zlen = compressBound((uLong)raw_len);
    uint8_t *buf = malloc(8 + 25 + 12 + (size_t)zlen + 12);
    if (!raw || !buf) {
        free(raw), free(buf);
        return -1;
    }
    for (int y = 0; y < h; y++) {
        uint8_t *r = raw + (size_t)y * row;
        const uint32_t *s = px + (size_t)y * stride;
        r[0] = 1; // Sub: each byte minus the one 3 to its left
        uint8_t prev[3] = {0, 0, 0};
        for (int x = 0; x < w; x++) {
            uint8_t c[3] = {(uint8_t)(s[x] >> 16), (uint8_t)(s[x] >> 8), (uint8_t)s[x]};
            for (int k = 0; k < 3; k++) r[1 + 3 * x + k] = (uint8_t)(c[k] - prev[k]), prev[k] = c[k];
        }
    }
    static const uint8_t SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    size_t n = 0;
    memcpy(buf, SIG, 8);
    n = 8;
    uint8_t *ih = buf + n + 8;
    be32(ih, (uint32_t)w), be32(ih + 4, (uint32_t)h);
    ih[8] = 8, ih[9] = 2, ih[10] = 0, ih[11] = 0, ih[12] = 0; // 8 bit, RGB, deflate, filter 0, no interlace
    n += png_chunk(buf + n, "IHDR", 13);
    if (compress2(buf + n + 8, &zlen, raw, (uLong)raw_len, 6) != Z_OK) {
        free(raw), free(buf);
        return -1;
    }
    free(raw);
    n += png_chunk(buf + n, "IDAT", zlen);
    n += png_chunk(buf + n, "IEND", 0);
    *out = buf;
    *outlen = n;
    return 0;
}

int png_write(const char *path, const uint32_t *px, int w, int h, int stride, char *err,
              size_t errlen) {
    uint8_t *buf;
    size_t len;
    if (png_encode(px, w, h, stride, &buf, &len) < 0)
        return err_fail(err, errlen, "%s: out of memory encoding a %dx%d PNG", path, w, h);
    int rc = file_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return rc;
}

// ----------------------------------------------------------------------------
// GIF

#define GIF_HSLOTS 4096 // colour hash (per frame)
#define LZW_SLOTS 8192  // LZW dictionary hash (> 4096 codes, power of two)

static int gif_put(GifWriter *g, const void *p, size_t n) {
    if (g->failed) return -1;
    if (fwrite(p, 1, n, g->f) != n) g->failed = errno ? errno : EIO;
    return g->failed ? -1 : 0;
}

void gif_abort(GifWriter *g) {
    if (g->f) {
        fclose(g->f);
        unlink(g->tmp);
    }
    free(g->index), free(g->prev), free(g->hkey), free(g->hval), free(g->dcode), free(g->dkey);
    memset(g, 0, sizeof *g);
}

int gif_open(GifWriter *g, const char *path, int w, int h, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    if (w < 1 || h < 1 || w > 65535 || h > 65535)
        return err_fail(err, errlen, "%s: GIF size %dx%d out of range (1..65535)", path, w, h);
    if (snprintf(g->path, sizeof g->path, "%s", path) >= (int)sizeof g->path)
        return err_fail(err, errlen, "%s: path too long", path);
    snprintf(g->tmp, sizeof g->tmp, "%s.tmp", path);
    g->w = w, g->h = h;
    g->index = malloc((size_t)w * h);
    g->prev = malloc((size_t)w * h * sizeof(uint32_t));
    g->hkey = malloc(GIF_HSLOTS * sizeof(uint32_t));
    g->hval = malloc(GIF_HSLOTS * sizeof(int16_t));
    g->dkey = malloc(LZW_SLOTS * sizeof(uint32_t));
    g->dcode = malloc(LZW_SLOTS * sizeof(uint16_t));
    if (!g->index || !g->prev || !g->hkey || !g->hval || !g->dkey || !g->dcode) {
        gif_abort(g);
        return err_fail(err, errlen, "%s: out of memory for a %dx%d GIF", path, w, h);
    }
    g->f = fopen(g->tmp, "wb");
    if (!g->f) {
        int e = errno;
        gif_abort(g);
        return err_fail(err, errlen, "%s: cannot create: %s", path, strerror(e));
    }
    uint8_t hdr[13 + 19] = {'G', 'I', 'F', '8', '9', 'a', (uint8_t)w, (uint8_t)(w >> 8),
                            (uint8_t)h, (uint8_t)(h >> 8), 0x70 /* no global table, 8-bit colour */,
                            0, 0,
                            // NETSCAPE2.0 application extension: loop forever
                            0x21, 0xFF, 11, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0',
                            3, 1, 0, 0, 0};
    gif_put(g, hdr, sizeof hdr);
    if (g->failed) {
        int e = g->failed;
        gif_abort(g);
        return err_fail(err, errlen, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}

static int nearest(const uint32_t *pal, int n, uint32_t c) {
    int best = 0;
    long bd = -1;
    for (int i = 0; i < n; i++) {
        long dr = (long)((pal[i] >> 16) & 255) - (long)((c >> 16) & 255);
        long dg = (long)((pal[i] >> 8) & 255) - (long)((c >> 8) & 255);
        long db = (long)(pal[i] & 255) - (long)(c & 255);
        long d = dr * dr + dg * dg + db * db;
        if (bd < 0 || d < bd) bd = d, best = i;
    }
    return best;
}

// Palette index of colour c (inserting it while there is room).
static int colour_index(GifWriter *g, uint32_t c) {
    c &= 0xFFFFFF;
    uint32_t hsh = (c * 2654435761u) >> 20; // 12 bits
    for (int probe = 0; probe < GIF_HSLOTS; probe++) {
        uint32_t s = (hsh + (uint32_t)probe) & (GIF_HSLOTS - 1);
        if (g->hval[s] < 0) {
            int idx;
            if (g->npal < g->maxpal) g->pal[idx = g->npal++] = c;
            else idx = nearest(g->pal, g->npal, c);
            g->hkey[s] = c, g->hval[s] = (int16_t)idx;
            return idx;
        }
        if (g->hkey[s] == c) return g->hval[s];
    }
    return nearest(g->pal, g->npal, c); // table full: > 4096 distinct colours
}

typedef struct {
    GifWriter *g;
    uint32_t acc;
    int nbits;
    uint8_t block[256];
    int blen;
} BitOut;

static void bits_flush_block(BitOut *b) {
    if (b->blen == 0) return;
    uint8_t n = (uint8_t)b->blen;
    gif_put(b->g, &n, 1);
    gif_put(b->g, b->block, (size_t)b->blen);
    b->blen = 0;
}

static void bits_put(BitOut *b, int code, int size) {
    b->acc |= (uint32_t)code << b->nbits;
    b->nbits += size;
    while (b->nbits >= 8) {
        b->block[b->blen++] = (uint8_t)b->acc;
        b->acc >>= 8;
        b->nbits -= 8;
        if (b->blen == 255) bits_flush_block(b);
    }
}

int gif_frame(GifWriter *g, const uint32_t *px, int stride, int delay_cs, char *err,
              size_t errlen) {
    // the rectangle that differs from the previous frame (all of the first)
    int x0 = 0, y0 = 0, x1 = g->w - 1, y1 = g->h - 1;
    if (g->frames > 0) {
        x0 = g->w, y0 = g->h, x1 = -1, y1 = -1;
        for (int y = 0; y < g->h; y++) {
            const uint32_t *a = px + (size_t)y * stride, *b = g->prev + (size_t)y * g->w;
            for (int x = 0; x < g->w; x++)
                if ((a[x] ^ b[x]) & 0xFFFFFF) {
                    if (x < x0) x0 = x;
                    if (x > x1) x1 = x;
                    if (y < y0) y0 = y;
                    y1 = y;
                }
        }
        if (x1 < 0) x0 = y0 = x1 = y1 = 0; // unchanged: one pixel
    }
    const int w = x1 - x0 + 1, h = y1 - y0 + 1;
    // after the first frame, pixels equal to the previous frame get the
    // transparent index 255: long runs of it cost LZW almost nothing
    const int transp = g->frames > 0;
    memset(g->hval, 0xFF, GIF_HSLOTS * sizeof(int16_t));
    g->npal = 0;
    g->maxpal = transp ? 255 : 256;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)(y + y0) * stride + x + x0, pi = (size_t)(y + y0) * g->w + x + x0;
            g->index[(size_t)y * w + x] =
                transp && !((px[i] ^ g->prev[pi]) & 0xFFFFFF) ? 255 : (uint8_t)colour_index(g, px[i]);
        }
    for (int y = 0; y < g->h; y++) memcpy(g->prev + (size_t)y * g->w, px + (size_t)y * stride, (size_t)g->w * 4);
    uint8_t gce[8] = {0x21, 0xF9, 4, (uint8_t)(0x04 | transp) /* leave in place (+ transparency) */,
                      (uint8_t)delay_cs, (uint8_t)(delay_cs >> 8), 255, 0};
    uint8_t desc[10] = {0x2C, (uint8_t)x0, (uint8_t)(x0 >> 8), (uint8_t)y0, (uint8_t)(y0 >> 8),
                        (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)h, (uint8_t)(h >> 8),
                        0x87 /* local table, 256 entries */};
    gif_put(g, gce, sizeof gce);
    gif_put(g, desc, sizeof desc);
    uint8_t pal[768];
    memset(pal, 0, sizeof pal);
    for (int i = 0; i < g->npal; i++) {
        pal[3 * i] = (uint8_t)(g->pal[i] >> 16);
        pal[3 * i + 1] = (uint8_t)(g->pal[i] >> 8);
        pal[3 * i + 2] = (uint8_t)g->pal[i];
    }
    gif_put(g, pal, sizeof pal);
    uint8_t mcs = 8;
    gif_put(g, &mcs, 1);

    // LZW: codes 0..255 literals, 256 clear, 257 end; new codes from 258.
    const int CLEAR = 256, EOI = 257;
    BitOut b = {.g = g};
    int size = 9, max_code = EOI;
    memset(g->dcode, 0, LZW_SLOTS * sizeof(uint16_t)); // 0 = empty slot
    bits_put(&b, CLEAR, size);
    size_t n = (size_t)w * h;
    int cur = g->index[0];
    for (size_t i = 1; i < n; i++) {
        int k = g->index[i];
        uint32_t key = ((uint32_t)cur << 8) | (uint32_t)k;
        uint32_t s = (key * 2654435761u) >> 19; // 13 bits
        int found = -1;
        while (g->dcode[s]) {
            if (g->dkey[s] == key) { found = g->dcode[s]; break; }
            s = (s + 1) & (LZW_SLOTS - 1);
        }
        if (found >= 0) { cur = found; continue; }
        bits_put(&b, cur, size);
        max_code++;
        g->dkey[s] = key, g->dcode[s] = (uint16_t)max_code;
        if (max_code >= (1 << size)) size++;
        if (max_code == 4095) {
            bits_put(&b, CLEAR, size);
            memset(g->dcode, 0, LZW_SLOTS * sizeof(uint16_t));
            size = 9, max_code = EOI;
        }
        cur = k;
    }
    bits_put(&b, cur, size);
    bits_put(&b, CLEAR, size);
    bits_put(&b, EOI, 9);
    if (b.nbits > 0) bits_put(&b, 0, 8 - b.nbits);
    bits_flush_block(&b);
    uint8_t zero = 0;
    gif_put(g, &zero, 1);
    g->frames++;
    if (g->failed) return err_fail(err, errlen, "%s: write failed: %s", g->path, strerror(g->failed));
    return 0;
}

int gif_close(GifWriter *g, char *err, size_t errlen) {
    uint8_t trailer = 0x3B;
    gif_put(g, &trailer, 1);
    int rc = 0;
    if (g->failed || fflush(g->f) != 0 || fsync(fileno(g->f)) != 0) {
        int e = g->failed ? g->failed : errno;
        rc = err_fail(err, errlen, "%s: write failed: %s", g->path, strerror(e));
    }
    if (fclose(g->f) != 0 && rc == 0) rc = err_fail(err, errlen, "%s: close failed: %s", g->path, strerror(errno));
    g->f = NULL;
    if (rc == 0 && rename(g->tmp, g->path) != 0)
        rc = err_fail(err, errlen, "%s: rename failed: %s", g->path, strerror(errno));
    if (rc < 0) unlink(g->tmp);
    free(g->index), free(g->prev), free(g->hkey), free(g->hval), free(g->dcode), free(g->dkey);
    memset(g, 0, sizeof *g);
    return rc;
}
