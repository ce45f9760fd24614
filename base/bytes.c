// bytes.c — see bytes.h.
#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

void buf_put(Buf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 14;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

void buf_u8(Buf *b, unsigned v) {
    uint8_t x = (uint8_t)v;
    buf_put(b, &x, 1);
}

void buf_u16(Buf *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}

void buf_u32(Buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_put(b, x, 4);
}

void buf_u64(Buf *b, uint64_t v) {
    buf_u32(b, (uint32_t)v);
    buf_u32(b, (uint32_t)(v >> 32));
}

void buf_f32(Buf *b, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    buf_u32(b, u);
}

void buf_f64(Buf *b, double f) {
    uint64_t u;
    memcpy(&u, &f, 8);
    buf_u64(b, u);
}
