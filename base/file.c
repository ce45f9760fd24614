// file.c — atomic whole-file writes and mkdir -p (see file.h).
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errs.h"

int file_exists(const char *path) { return access(path, F_OK) == 0; }

// mkdir -p: create path and its missing parents (0755). 0, or -1 with errno.
int file_mkdir_p(const char *path) {
    char tmp[1024];
    if (!path[0]) { errno = ENOENT; return -1; } // "" names no directory (as mkdir(2) says)
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) { errno = ENAMETOOLONG; return -1; }
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

// Write bytes to path atomically: path.tmp, fsync, rename, fsync the directory.
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return err_fail(err, errlen, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return err_fail(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return err_fail(err, errlen, "%s: write failed: %s (previous file left intact)", tmp,
                        strerror(e));
        }
        p += w, left -= (size_t)w;
    }
    if (fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return err_fail(err, errlen, "%s: fsync failed: %s", tmp, strerror(e));
    }
    if (close(fd) < 0) {
        unlink(tmp);
        return err_fail(err, errlen, "%s: close failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return err_fail(err, errlen, "%s: rename failed: %s", path, strerror(e));
    }
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
}
