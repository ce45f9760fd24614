// errs.h — the one error-message helper of cpcrl's loaders and checkers:
// they write what is wrong (file, field, expected vs got) into the caller's
// buffer and return -1.
#ifndef CPCRL_ERRS_H
#define CPCRL_ERRS_H

#include <stddef.h>
#include <string.h>

// vsnprintf(err, n, fmt, ...) when err is not NULL and n > 0; returns -1.
int err_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// A path inside a message, shortened to its last ERR_PATH_MAX characters
// ("..." in front) so that a very long path cannot push the reason out of a
// fixed buffer: printf("%s%s: cannot open", ERR_PATH(p)).
#define ERR_PATH_MAX 300
#define ERR_PATH(p) (strlen(p) > ERR_PATH_MAX ? "..." : ""), \
    ((p) + (strlen(p) > ERR_PATH_MAX ? strlen(p) - ERR_PATH_MAX : 0))

#endif
