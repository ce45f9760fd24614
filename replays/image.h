// image.h — still and animated image files written by cpcrl itself: PNG
// (zlib's compress2 + crc32) and GIF89a (own LZW encoder, one local colour
// table per frame). No display and no SDL: input is 0xAARRGGBB pixels, the
// layout the software renderer (replays/draw.h) draws.
#ifndef CPCRL_IMAGE_H
#define CPCRL_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Write w x h pixels (row stride `stride` pixels) as an 8-bit RGB PNG,
// atomically (path.tmp, fsync, rename). Returns 0, or -1 with a message.
int png_write(const char *path, const uint32_t *px, int w, int h, int stride, char *err,
              size_t errlen);
// Encode into a malloc'd buffer (*out, *outlen). Returns 0, or -1 (out of memory).
int png_encode(const uint32_t *px, int w, int h, int stride, uint8_t **out, size_t *outlen);

// Animated GIF writer. Frames are w x h; each gets its own exact palette
// when it has at most 256 colours (the renderer uses few), else the nearest
// of its first 256 colours. After the first frame only the rectangle that
// changed is stored (disposal "leave in place"). Loops forever.
typedef struct {
    FILE *f;
    char path[1024], tmp[1040];
    int w, h, frames, failed;
    uint8_t *index;      // (w*h) palette indices of the current frame
    uint32_t *hkey;      // colour hash table (4096 slots)
    int16_t *hval;
    uint32_t pal[256];
    int npal, maxpal;
    uint32_t *prev;      // (w*h) previous frame: later frames store only the changed rectangle
    uint16_t *dcode;     // LZW dictionary hash: code (0 = empty slot)
    uint32_t *dkey;      //   and its key (prefix code << 8 | next index)
} GifWriter;

int gif_open(GifWriter *g, const char *path, int w, int h, char *err, size_t errlen);
// Append a frame shown for delay_cs hundredths of a second.
int gif_frame(GifWriter *g, const uint32_t *px, int stride, int delay_cs, char *err,
              size_t errlen);
// Finish the file (trailer, fsync, rename over path). Frees everything.
int gif_close(GifWriter *g, char *err, size_t errlen);
// Abandon: remove the temp file and free.
void gif_abort(GifWriter *g);

#endif
