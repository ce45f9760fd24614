// runlock.c — the run-directory lock (see runlock.h).
#include "base/runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/errs.h"
#include "base/progress.h"
#include "base/stop.h"

#define MAGIC "cpcrl run lock\n"
#define MAXPIDS 8

void runlock_init(RunLock *l) {
    memset(l, 0, sizeof *l);
    l->fd = -1;
}

static void my_host(char *h, size_t n) {
    if (gethostname(h, n) < 0 || !h[0]) snprintf(h, n, "unknown");
    h[n - 1] = 0;
}

// This process's PID namespace ("pid:[4026531836]", "" unknown): a pid
// means a process only inside the namespace it was written in, and two
// containers may share a host name.
static void my_pidns(char *out, size_t n) {
    ssize_t l = readlink("/proc/self/ns/pid", out, n - 1);
    out[l > 0 ? l : 0] = 0;
    if (strchr(out, '\n')) out[0] = 0; // (it would split the lock's lines)
}

// What a lock file says.
typedef struct {
    int exists, ours_format, npids;
    int more;        // more pid lines than MAXPIDS, or longer than read: judged by its heartbeat only
    long pids[MAXPIDS];
    unsigned long long starts[MAXPIDS]; // the pid's start time (clock ticks after boot), 0 unknown
    char host[256], boot[64];            // boot: the holder's boot id ("" unknown)
    char pidns[64];                      // the holder's PID namespace ("" unknown: an older lock)
    dev_t dev;
    ino_t ino;
    double age;      // seconds since its heartbeat (mtime)
    off_t size;
    long flock_pid;  // old format: pid holding an fcntl lock on it, 0 if none
} LockInfo;

// Reads path into *h. 0 (h->exists says whether it was there), -1 on an I/O error.
static int lock_read(const char *path, LockInfo *h, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    // O_NONBLOCK: a FIFO put in its place must not block the open (nor the
    // read); O_NOFOLLOW: a lock is never a symbolic link
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        if (errno == ELOOP)
            return err_fail(err, errlen, "%s%s is a symbolic link, not a lock file; remove it if no process "
                            "uses the run", ERR_PATH(path));
        return err_fail(err, errlen, "%s%s: cannot open: %s", ERR_PATH(path), strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return err_fail(err, errlen, "%s%s: cannot stat: %s", ERR_PATH(path), strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_fail(err, errlen, "%s%s is not a regular file (%s), so not a lock this program wrote; "
                        "remove it if no process uses the run", ERR_PATH(path),
                        S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" :
                        S_ISSOCK(st.st_mode) ? "a socket" : "a device or other special file");
    }
    h->exists = 1, h->dev = st.st_dev, h->ino = st.st_ino, h->size = st.st_size;
    h->age = difftime(time(NULL), st.st_mtime);
    char buf[2048];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    if (n > 0 && !strncmp(buf, MAGIC, strlen(MAGIC))) {
        h->ours_format = 1;
        h->more = n == (ssize_t)sizeof buf - 1;
        char *save = NULL;
        for (char *line = strtok_r(buf + strlen(MAGIC), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (!strncmp(line, "host ", 5)) snprintf(h->host, sizeof h->host, "%s", line + 5);
            else if (!strncmp(line, "boot ", 5)) snprintf(h->boot, sizeof h->boot, "%s", line + 5);
            else if (!strncmp(line, "pidns ", 6)) snprintf(h->pidns, sizeof h->pidns, "%s", line + 6);
            else if (!strncmp(line, "pid ", 4) && h->npids == MAXPIDS) h->more = 1;
            else if (!strncmp(line, "pid ", 4)) {
                char *end;
                long p = strtol(line + 4, &end, 10);
                unsigned long long s = strtoull(end, NULL, 10); // "pid N START" (START optional)
                if (p > 0) h->starts[h->npids] = s, h->pids[h->npids++] = p;
            }
        }
    } else if (st.st_size == 0) { // the flock format: held while a process keeps an fcntl lock on it
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK) h->flock_pid = who.l_pid;
    }
    close(fd);
    return 0;
}

static int pid_alive(long pid) { return kill((pid_t)pid, 0) == 0 || errno == EPERM; }

// Start time of a process (field 22 of /proc/PID/stat, clock ticks after
// boot), 0 when unknown: with the pid it names one process, so a pid reused
// by another process does not keep a dead holder's lock alive.
// *state: field 3 ('R', 'S', ..., 'Z' a zombie; 0 unknown).
static unsigned long long pid_stat(long pid, char *state) {
    char path[64], buf[1024];
    *state = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); // the command name may hold blanks and parentheses
    if (!p) return 0;
    if (p[1] == ' ' && p[2]) *state = p[2];
    unsigned long long v = 0;
    for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    if (p) v = strtoull(p + 1, NULL, 10);
    return v;
}

static unsigned long long pid_start(long pid) {
    char state;
    return pid_stat(pid, &state);
}

// This boot's id ("" when unknown): a lock of this host from another boot is stale.
static void boot_id(char *out, size_t n) {
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return;
    if (fgets(out, (int)n, f)) out[strcspn(out, "\n")] = 0;
    fclose(f);
}

// The holder's process i runs: alive, and the same process (start time)
// when known. A zombie (exited, not yet reaped: an orphan waits for an init
// that may reap late, or never in a container whose pid 1 does not) runs no
// more, though kill(pid, 0) still answers for it.
static int holder_alive(const LockInfo *h, int i) {
    if (!pid_alive(h->pids[i])) return 0;
    char state;
    unsigned long long start = pid_stat(h->pids[i], &state);
    if (state == 'Z' || state == 'X' || state == 'x') return 0;
    return h->starts[i] == 0 || start == h->starts[i];
}

// Were the lock's pids written in this process's PID namespace? (1 also when
// either side does not know: an older lock, no /proc.)
static int same_pidns(const LockInfo *h) {
    char ns[64];
    my_pidns(ns, sizeof ns);
    return !h->pidns[0] || !ns[0] || !strcmp(h->pidns, ns);
}

// Is the lock stale? 1 with the reason in why, 0 when it is held.
static int lock_stale(const LockInfo *h, const char *host, double stale_after, char *why, size_t n) {
    if (!h->ours_format && h->size == 0) {
        if (h->flock_pid) return 0;
        snprintf(why, n, "no process holds it");
        return 1;
    }
    if (h->ours_format && h->host[0] && !strcmp(h->host, host)) {
        char boot[64];
        boot_id(boot, sizeof boot);
        if (h->boot[0] && strcmp(h->boot, "?") && boot[0] && strcmp(h->boot, boot)) {
            snprintf(why, n, "written before this host last booted");
            return 1;
        }
        // its pids mean processes here only when written in this PID
        // namespace (or by an older cpcrl that did not say): a lock from
        // another container of the same host name is judged by its heartbeat
        if (same_pidns(h)) {
            for (int i = 0; i < h->npids; i++)
                if (holder_alive(h, i)) return 0;
            if (!h->more) { // else a process not read may run: the heartbeat decides, as for another host
                snprintf(why, n, "no process of it runs on this host");
                return 1;
            }
        }
    }
    if (h->age > stale_after) {
        snprintf(why, n, "no heartbeat for %.0f s, more than the limit of %.0f s", h->age, stale_after);
        return 1;
    }
    return 0;
}

static void holder_text(const LockInfo *h, char *out, size_t n) {
    if (!h->ours_format && h->size == 0) {
        if (h->flock_pid) snprintf(out, n, "pid %ld (old-format lock)", h->flock_pid);
        else snprintf(out, n, "an old-format (empty) lock");
        return;
    }
    if (!h->ours_format) {
        snprintf(out, n, "an unreadable lock");
        return;
    }
    size_t u = (size_t)snprintf(out, n, "host %s, pid", h->host[0] ? h->host : "?");
    for (int i = 0; i < h->npids && u < n; i++) u += (size_t)snprintf(out + u, n - u, "%s %ld", i ? "," : "", h->pids[i]);
    if (!h->npids && u < n) u += (size_t)snprintf(out + u, n - u, " ?");
    if (u < n && !same_pidns(h)) u += (size_t)snprintf(out + u, n - u, " in another PID namespace (%s)", h->pidns);
    if (u < n) snprintf(out + u, n - u, ", heartbeat %.0f s ago", h->age < 0 ? 0 : h->age);
}

static int write_all(int fd, const char *s) {
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t w = write(fd, s + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return 0;
}

static int parent_holds(const LockInfo *h, const char *host) {
    if (!getenv("CPCRL_COMPARE_CHILD") || !h->ours_format || strcmp(h->host, host) || !same_pidns(h)) return 0;
    for (int i = 0; i < h->npids; i++)
        if (h->pids[i] == (long)getppid()) return 1;
    return 0;
}

// `text` made whole under the private name `mine`, then link(2)ed to `to`
// (atomic, also on NFS). 1 when linked: *fd is open on it and *st its stat;
// 0 when `to` exists (EEXIST: nothing left behind); -1 on an error (err).
static int link_whole(const char *mine, const char *to, const char *text, int *fd_out, struct stat *st,
                      char *err, size_t errlen) {
    int fd = open(mine, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0) return err_fail(err, errlen, "%s%s: cannot create: %s", ERR_PATH(mine), strerror(errno));
    if (write_all(fd, text) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd), unlink(mine);
        return err_fail(err, errlen, "%s%s: cannot write: %s", ERR_PATH(mine), strerror(e));
    }
    int linked = link(mine, to) == 0;
    int e = errno;
    // NFS: a lost reply to a link that was done shows as two links
    if (!linked && fstat(fd, st) == 0 && st->st_nlink == 2) linked = 1;
    unlink(mine);
    if (linked && fstat(fd, st) < 0) {
        e = errno;
        close(fd), unlink(to);
        return err_fail(err, errlen, "%s%s: cannot stat: %s", ERR_PATH(to), strerror(e));
    }
    if (linked) {
        *fd_out = fd;
        return 1;
    }
    close(fd);
    if (e != EEXIST) return err_fail(err, errlen, "%s%s: cannot create: %s", ERR_PATH(to), strerror(e));
    return 0;
}

// Tests: CPCRL_LOCK_TEST_WAIT_US widens the windows where contenders overlap
// (between judging a lock stale and taking it over, inside the guard, and in
// a release between finding the lock ours and moving it aside).
static void test_wait(void) {
    const char *e = getenv("CPCRL_LOCK_TEST_WAIT_US");
    long us = e ? strtol(e, NULL, 10) : 0;
    if (us > 0 && us < 1000000) {
        struct timespec t = {0, us * 1000};
        nanosleep(&t, NULL);
    }
}

static int same_file(const char *path, dev_t dev, ino_t ino) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

// A guard judged stale (*g): moved aside, and given back if what moved was
// not the file judged (another process broke it first and took the guard).
static void break_guard(const char *guard, const LockInfo *g, const char *aside) {
    if (rename(guard, aside) < 0) return;
    if (!same_file(aside, g->dev, g->ino)) (void)link(aside, guard);
    unlink(aside);
}

// Removes the stale lock judged in *h, under the take-over guard
// DIR/train.lock.takeover: a file like the lock (host, boot, pid; made whole
// under the private name `mine` and linked into place), held for the
// microseconds of a re-read and an unlink. Only the guard's holder removes a
// lock, and only the very file judged (same inode) if it is still stale; so
// of two processes judging one stale lock, the second finds the first one's
// new lock and leaves it. A guard is stale by the lock's own rule (its
// process gone on this host, or older than stale_after from another host):
// then it is broken. A wait of more than a second says whom it waits for;
// past stale_after + 60 s it fails. 1 when removed, 0 when the lock changed
// meanwhile (look again), -1 on an error.
static int take_over(const char *path, const LockInfo *h, const char *host, double stale_after,
                     const char *guard, const char *mine, const char *aside, const char *text,
                     const char *who, char *err, size_t errlen) {
    const double since = progress_now();
    long nap_us = 100;
    int said = 0;
    struct stat gst;
    for (;;) {
        int fd = -1, got = link_whole(mine, guard, text, &fd, &gst, err, errlen);
        if (got < 0) return -1;
        if (got) {
            close(fd);
            break;
        }
        LockInfo g;
        char why[200], holder[400];
        if (lock_read(guard, &g, err, errlen) < 0) return -1;
        if (g.exists && lock_stale(&g, host, stale_after, why, sizeof why)) {
            break_guard(guard, &g, aside);
            continue;
        }
        if (stop_requested()) // a stop while waiting: give up now (train installs its handlers first)
            return err_fail(err, errlen, "%s%s: stopped while waiting to take the stale lock over",
                            ERR_PATH(guard));
        const double waited = progress_now() - since;
        if (g.exists) holder_text(&g, holder, sizeof holder);
        else snprintf(holder, sizeof holder, "nobody now");
        if (waited > stale_after + 60)
            return err_fail(err, errlen, "%s%s: held by %s for %.0f s: cannot take the stale lock over",
                            ERR_PATH(guard), holder, waited);
        if (!said && waited > 1) {
            fprintf(stderr, "%s: waiting for %s (%s: another process is taking the stale lock over)\n", who,
                    guard, holder);
            said = 1;
        }
        struct timespec nap = {0, nap_us * 1000};
        nanosleep(&nap, NULL);
        if (nap_us < 50000) nap_us *= 2;
    }
    LockInfo now;
    char why[200];
    int rc = lock_read(path, &now, err, errlen);
    if (rc == 0) {
        rc = now.exists && now.dev == h->dev && now.ino == h->ino &&
             lock_stale(&now, host, stale_after, why, sizeof why);
        test_wait();
        // still our guard (not broken as stale meanwhile)? only then remove
        if (rc && !same_file(guard, gst.st_dev, gst.st_ino)) rc = 0;
        if (rc && unlink(path) < 0 && errno != ENOENT)
            rc = err_fail(err, errlen, "%s%s: cannot remove the stale lock: %s", ERR_PATH(path), strerror(errno));
    }
    if (same_file(guard, gst.st_dev, gst.st_ino)) unlink(guard);
    return rc;
}

int runlock_acquire(RunLock *l, const char *dir, double stale_after, const char *who, char *err,
                    size_t errlen) {
    return runlock_acquire_named(l, dir, "train.lock", stale_after, who, err, errlen);
}

int runlock_acquire_named(RunLock *l, const char *dir, const char *name, double stale_after, const char *who,
                          char *err, size_t errlen) {
    runlock_init(l);
    const int run = !strcmp(name, "train.lock"); // a run's lock: handed to compare's children
    char host[256], mine[1400], guard[1400], aside[1500], text[640], why[200], holder[400];
    my_host(host, sizeof host);
    snprintf(l->path, sizeof l->path, "%s/%s", dir, name);
    snprintf(mine, sizeof mine, "%s/%s.%s.%ld", dir, name, host, (long)getpid());
    snprintf(guard, sizeof guard, "%s/%s.takeover", dir, name);
    snprintf(aside, sizeof aside, "%s/%s.takeover.stale.%s.%ld", dir, name, host, (long)getpid());
    char boot[64], ns[64], nsline[80] = "";
    boot_id(boot, sizeof boot);
    my_pidns(ns, sizeof ns);
    if (ns[0]) snprintf(nsline, sizeof nsline, "pidns %s\n", ns);
    snprintf(text, sizeof text, MAGIC "host %s\nboot %s\n%spid %ld %llu\n", host, boot[0] ? boot : "?", nsline,
             (long)getpid(), pid_start((long)getpid()));
    // attempts lost to another process's progress; a lock removed or gone
    // meanwhile costs none (up to 64 times)
    for (int attempt = 0, free_rounds = 0; attempt < 8; attempt++) {
        // our lock, whole under a private name, then linked into place
        struct stat st;
        int fd = -1, linked = link_whole(mine, l->path, text, &fd, &st, err, errlen);
        if (linked < 0) return -1;
        if (linked) {
            l->fd = fd, l->owned = 1, l->dev = st.st_dev, l->ino = st.st_ino, l->last_beat = progress_now();
            return RUNLOCK_HELD;
        }
        // someone's lock is there
        LockInfo h;
        if (lock_read(l->path, &h, err, errlen) < 0) return -1;
        if (!h.exists) { // released meanwhile
            if (free_rounds++ < 64) attempt--;
            continue;
        }
        if (run && parent_holds(&h, host)) { // compare's child: the lock handed over
            fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
            if (fd < 0) continue;
            char line[64];
            snprintf(line, sizeof line, "pid %ld %llu\n", (long)getpid(), pid_start((long)getpid()));
            if (fstat(fd, &st) < 0 || st.st_dev != h.dev || st.st_ino != h.ino || write_all(fd, line) < 0) {
                close(fd);
                continue;
            }
            l->fd = fd, l->owned = 0, l->dev = st.st_dev, l->ino = st.st_ino, l->last_beat = progress_now();
            return RUNLOCK_HELD;
        }
        holder_text(&h, holder, sizeof holder);
        if (!lock_stale(&h, host, stale_after, why, sizeof why)) {
            if (!run)
                return err_fail(err, errlen, "%s%s is held by another process (%s)", ERR_PATH(l->path), holder),
                       RUNLOCK_BUSY;
            return err_fail(err, errlen, "%s%s is in use by another process (%s; lock %s%s); stop it first, or "
                            "pick another --name (a lock whose host died is taken over once its heartbeat is "
                            "older than --lock-stale, %.0f s)", ERR_PATH(dir), holder, ERR_PATH(l->path),
                            stale_after), RUNLOCK_BUSY;
        }
        test_wait();
        int took = take_over(l->path, &h, host, stale_after, guard, mine, aside, text, who, err, errlen);
        if (took < 0) return -1;
        if (!took) continue; // it changed meanwhile: look again
        if (free_rounds++ < 64) attempt--;
        fprintf(stderr, "%s: %s%s: taking over the stale lock of %s: %s\n", who, ERR_PATH(l->path), holder, why);
    }
    return err_fail(err, errlen, "%s%s: could not take the lock (other processes keep taking it)",
                    ERR_PATH(l->path)), RUNLOCK_BUSY;
}

// RUNLOCK_BEAT, or CPCRL_LOCK_BEAT seconds (tests: a heartbeat without the wait)
static double beat_every(void) {
    const char *e = getenv("CPCRL_LOCK_BEAT");
    double v = e ? strtod(e, NULL) : 0;
    return v > 0 ? v : RUNLOCK_BEAT;
}

int runlock_beat(RunLock *l, int force, char *err, size_t errlen) {
    if (l->fd < 0) return 0;
    double now = progress_now();
    const int touch = force || now - l->last_beat >= beat_every();
    struct stat st;
    int rc = stat(l->path, &st);
    if (rc < 0 && errno != ENOENT) return 0; // a file-system hiccup: try at the next beat
    if (rc < 0 || st.st_dev != l->dev || st.st_ino != l->ino) {
        LockInfo h;
        char holder[400] = "nobody: it was removed";
        if (lock_read(l->path, &h, NULL, 0) == 0 && h.exists) holder_text(&h, holder, sizeof holder);
        return err_fail(err, errlen, "%s%s is no longer this process's (now %s): taken over as stale, or "
                        "removed", ERR_PATH(l->path), holder);
    }
    if (touch) {
        l->last_beat = now;
        // the same inode may be another's lock on NFS (numbers are reused): it must name us
        LockInfo h;
        if (lock_read(l->path, &h, NULL, 0) == 0 && h.exists && h.ours_format) {
            int named = 0;
            for (int i = 0; i < h.npids; i++) named |= h.pids[i] == (long)getpid();
            named &= same_pidns(&h);
            char host[256];
            my_host(host, sizeof host);
            if (!named || strcmp(h.host, host)) {
                char holder[400];
                holder_text(&h, holder, sizeof holder);
                return err_fail(err, errlen, "%s%s is no longer this process's (now %s): taken over as "
                                "stale, or removed", ERR_PATH(l->path), holder);
            }
        }
        (void)futimens(l->fd, NULL); // a missed heartbeat is retried at the next
    }
    return 0;
}

void runlock_release(RunLock *l) {
    if (l->fd < 0) return;
    if (l->owned && same_file(l->path, l->dev, l->ino)) {
        // Moved aside, then removed only if what moved is ours: a lock that
        // replaced ours since the check (taken over while this process was
        // judged stale) is given back, not removed.
        char host[256], aside[1500];
        my_host(host, sizeof host);
        snprintf(aside, sizeof aside, "%s.release.%s.%ld", l->path, host, (long)getpid());
        test_wait();
        if (rename(l->path, aside) == 0) {
            if (!same_file(aside, l->dev, l->ino)) (void)link(aside, l->path);
            unlink(aside);
        }
    }
    close(l->fd);
    l->fd = -1;
}
