// runlock.h — one process per run directory, on one machine or many that
// share the directory (NFS), where flock says nothing about a dead host.
//
// DIR/train.lock exists while the run is held. It is made whole under a
// private name and link(2)ed into place (atomic on NFS too), holds
//     cpcrl run lock
//     host NAME
//     boot ID      (/proc/sys/kernel/random/boot_id, "?" unknown)
//     pidns NS     (readlink /proc/self/ns/pid, e.g. pid:[4026531836];
//                   absent when unknown, and in locks of older versions)
//     pid N START  (START: the process's start time, /proc/N/stat field 22)
// (plus a "pid N" line per process the holder handed it to, see below), and
// its mtime is the heartbeat: the holder touches it every RUNLOCK_BEAT
// seconds. Release unlinks it if it is still its own (moved aside first, so
// a lock that replaced it meanwhile is given back; only a third process
// locking in the microseconds between can lose it). A lock that is there is
// stale, and is taken over with a message, when
//   - it names this host and was written in an earlier boot, or none of its
//     processes runs (a pid now used by another process, another start
//     time, does not count; a lock naming more than the 8 it reads is judged
//     by its heartbeat alone; so is one written in another PID namespace,
//     another container with this host name, whose pids mean nothing here;
//     a lock without a pidns line is taken as of this namespace), or
//   - its heartbeat is older than the stale limit (--lock-stale, default
//     RUNLOCK_STALE_DEFAULT s): its host died or lost the file system;
// otherwise it is busy and the message names host, pid and heartbeat age.
// A take-over removes the stale file under a guard (DIR/train.lock.takeover,
// a file like the lock, held for microseconds), and only if it is still the
// very file it judged and still stale: two processes taking over at once
// cannot both win, nor remove a third one's new lock. A guard is stale (its
// holder died inside) by the lock's own rule, and is then broken. An empty
// train.lock is the older flock(2) format: stale unless a process holds an
// fcntl lock on it. A train.lock that is not a regular file (a FIFO, a
// directory, a symbolic link) is refused with a message, never opened in a
// way that could block.
//
// Hand-over: compare holds a run's lock and runs `cpcrl train`/`probe` as a
// child with CPCRL_COMPARE_CHILD=1 in its environment; a child whose parent
// holds the lock on this host uses it (adds its own "pid" line, releases
// nothing) instead of finding it busy.
#ifndef CPCRL_RUNLOCK_H
#define CPCRL_RUNLOCK_H

#include <stddef.h>
#include <sys/types.h>

#define RUNLOCK_STALE_DEFAULT 600.0 // seconds without a heartbeat before a lock is stale
#define RUNLOCK_BEAT 30.0           // seconds between heartbeats (tests: env CPCRL_LOCK_BEAT)

typedef struct {
    int fd;           // open on the lock file while held (-1: not held)
    int owned;        // 1: release unlinks it; 0: inherited from the parent
    dev_t dev;
    ino_t ino;
    double last_beat; // progress_now() of the last heartbeat
    char path[1100];
} RunLock;

enum { RUNLOCK_HELD = 0, RUNLOCK_BUSY = 1 };

// Take DIR/train.lock (DIR must exist). RUNLOCK_HELD (0), RUNLOCK_BUSY (1;
// err names the holder), or -1 on an I/O error (err says which). A stale lock
// taken over is reported on stderr, prefixed by `who` ("cpcrl train").
int runlock_acquire(RunLock *l, const char *dir, double stale_after, const char *who, char *err,
                    size_t errlen);
// The same for the lock file DIR/NAME of something other than a run (compare's
// OUT/aggregate.lock): the same format and rules, never handed to a child;
// busy: err names the lock and its holder.
int runlock_acquire_named(RunLock *l, const char *dir, const char *name, double stale_after, const char *who,
                          char *err, size_t errlen);
// Heartbeat: checks at every call that the lock is still this process's (a
// stat: the trainer calls it before every update's log row or checkpoint can
// be written) and touches it at most every RUNLOCK_BEAT s (force: now). 0, or
// -1 when the lock is no longer this process's (taken over as stale, or
// removed; err says so).
int runlock_beat(RunLock *l, int force, char *err, size_t errlen);
// Release (unlink when owned and still ours); safe on a lock not held.
void runlock_release(RunLock *l);
// A RunLock not held.
void runlock_init(RunLock *l);

#endif
