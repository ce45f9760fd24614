// errs.h — the one error-message helper of cpcrl's loaders and checkers:
// they write what is wrong (file, field, expected vs got) into the caller's
// buffer and return -1.
#ifndef CPCRL_ERRS_H
#define CPCRL_ERRS_H

#include <stddef.h>

// vsnprintf(err, n, fmt, ...) when err is not NULL and n > 0; returns -1.
int err_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
