// file.c — atomic whole-file writes, mkdir -p, reading only regular files and
// checking an output path before the work (see file.h).
#include "base/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errs.h"

int file_exists(const char *path) { return access(path, F_OK) == 0; }

int file_check_out(const char *path, int is_dir, char *err, size_t errlen) {
    char dir[1100];
    if (!path[0]) return err_fail(err, errlen, "an empty output path (an unset variable?)");
    if (strlen(path) >= sizeof dir - 32)
        return err_fail(err, errlen, "%s%s: %s", ERR_PATH(path), strerror(ENAMETOOLONG));
    snprintf(dir, sizeof dir, "%s", path);
    if (is_dir) {
        if (file_mkdir_p(path) < 0)
            return err_fail(err, errlen, "%s%s: cannot create the directory: %s", ERR_PATH(path), strerror(errno));
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return err_fail(err, errlen, "%s%s: is a directory, expected a file name", ERR_PATH(path));
        char *slash = strrchr(dir, '/');
        if (!slash) snprintf(dir, sizeof dir, ".");
        else if (slash == dir) dir[1] = 0;
        else *slash = 0;
    }
    // a real create (mkstemp: a fresh name), not access(2): root passes access
    // on read-only or virtual file systems
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/.cpcrl-write-check.XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) return err_fail(err, errlen, "%s%s: cannot write there: %s", ERR_PATH(path), strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

FILE *file_open_regular(const char *path, const char **why_out) {
    const char *ignored;
    const char **why = why_out ? why_out : &ignored;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        *why = strerror(errno);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file (a FIFO, device or socket)";
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        *why = strerror(errno);
        close(fd);
    }
    return f;
}

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
    if (mkdir(tmp, 0755) < 0) {
        if (errno != EEXIST) return -1;
        struct stat st; // there already: it has to be a directory
        if (stat(tmp, &st) < 0) return -1;
        if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    }
    return 0;
}

// The temporary name: path.tmp.WHO.PID.N, WHO = HOST-NS (the host name and
// the inode of this process's PID namespace), N counting this process's
// writes, so that two processes (on one host or on several sharing the
// directory) writing the same file at once never write into, or rename, each
// other's temporary file: the last rename wins whole. *pre: the length of
// "path.tmp.WHO." (the names tmp_sweep looks at).
static int tmp_name(char *tmp, size_t n, const char *path, size_t *pre) {
    static unsigned counter;
    char host[256];
    if (gethostname(host, sizeof host) < 0 || !host[0]) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++)
        if (*c == '/' || *c == '.') *c = '_';
    struct stat st;
    unsigned long ns = stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long)st.st_ino : 0;
    unsigned k = __atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED);
    int l = snprintf(tmp, n, "%s.tmp.%.64s-%lu.", path, host, ns);
    if (l < 0 || (size_t)l >= n) return -1;
    *pre = (size_t)l;
    return snprintf(tmp + l, n - (size_t)l, "%ld.%u", (long)getpid(), k) < (int)(n - (size_t)l) ? 0 : -1;
}

// Temporary files of path left by writers of this host and PID namespace
// that were killed while writing (their pid runs no more) are removed, so
// that kills do not pile them up. Another host's are left alone.
static void tmp_sweep(const char *tmp, size_t pre) {
    char dir[1400];
    snprintf(dir, sizeof dir, "%.*s", (int)pre, tmp);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash) *slash = 0;
    DIR *d = opendir(slash ? (dir[0] ? dir : "/") : ".");
    if (!d) return;
    const size_t bl = strlen(base);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, base, bl)) continue;
        char *end;
        long pid = strtol(de->d_name + bl, &end, 10);
        if (pid <= 0 || pid == (long)getpid() || *end != '.' || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char stale[2800];
        snprintf(stale, sizeof stale, "%s/%s", slash ? (dir[0] ? dir : "") : ".", de->d_name);
        unlink(stale);
    }
    closedir(d);
}

// Write bytes to path atomically: a temporary file of its own (tmp_name),
// fsync, rename, fsync the directory; then the dead writers' ones swept.
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    char tmp[1400];
    size_t pre;
    if (tmp_name(tmp, sizeof tmp, path, &pre) < 0) return err_fail(err, errlen, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
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
    tmp_sweep(tmp, pre);
    return 0;
}
