// errs.c — see errs.h.
#include "base/errs.h"

#include <stdarg.h>
#include <stdio.h>

int err_fail(char *err, size_t n, const char *fmt, ...) {
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}
