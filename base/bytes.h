// bytes.h — a growable little-endian byte buffer: how checkpoints and
// replays are encoded before they are written atomically.
#ifndef CPCRL_BYTES_H
#define CPCRL_BYTES_H

#include <stddef.h>
#include <stdint.h>

// Start with Buf b = {0}; after the puts, b.oom = 1 means an allocation
// failed (everything after it was dropped); free(b.p) when done.
typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} Buf;

void buf_put(Buf *b, const void *d, size_t n);
void buf_u8(Buf *b, unsigned v);
void buf_u16(Buf *b, unsigned v);
void buf_u32(Buf *b, uint32_t v);
void buf_u64(Buf *b, uint64_t v);
void buf_f32(Buf *b, float f);
void buf_f64(Buf *b, double f);

#endif
