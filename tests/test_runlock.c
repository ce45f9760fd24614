// test_runlock.c — base/runlock.[ch] under contention: many processes taking
// over the same stale lock at once must never hold it together; a release
// racing a take-over keeps the new lock; a lock naming more processes than
// are read is not judged by the ones read; a FIFO or a symbolic link as the
// lock is refused without blocking; a zombie holder is no holder; a lock from another PID namespace of
// this host name is judged by its heartbeat alone; a named lock
// (runlock_acquire_named) follows the same rules.
//
// Each child process loops on runlock_acquire until it holds the run's lock,
// then proves it is alone (it creates DIR/inside with O_EXCL: a second holder
// would find it there), checks with runlock_beat that the lock is still its
// own, leaves, and exits *without* releasing, so the next child finds a stale
// lock (its pid is gone) and must take it over. CPCRL_LOCK_TEST_WAIT_US
// widens the windows between judging a lock stale and taking it over, where a
// take-over that moves the file aside can move a newer holder's lock instead
// (the race this test was written for), and inside the take-over guard
// (between re-reading the lock and removing it): with it the contenders
// overlap on every round. The parent reaps children as they exit (a zombie's pid still
// answers kill(pid, 0), so an unreaped holder would look alive).

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/runlock.h"

enum { KIDS = 12, ROUNDS = 3 };

static void nap_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

// A child: ROUNDS times, hold the lock alone, then die holding it (stale).
// Exit 0 when it always held the lock alone, 2 when it found another holder
// inside, 3 when its lock was taken while it held it, 4 on an error.
static int child(const char *dir, int round) {
    char err[1600], inside[1200];
    snprintf(inside, sizeof inside, "%s/inside", dir);
    for (int tries = 0; tries < 200000; tries++) {
        RunLock l;
        int rc = runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "child %d: %s\n", (int)getpid(), err);
            return 4;
        }
        if (rc == RUNLOCK_BUSY) {
            nap_us(200);
            continue;
        }
        int fd = open(inside, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) {
            fprintf(stderr, "child %d (round %d): another process holds the lock too\n", (int)getpid(), round);
            return 2;
        }
        close(fd);
        nap_us(3000); // hold it a while: the others judge and take over meanwhile
        if (runlock_beat(&l, 1, err, sizeof err) < 0) {
            fprintf(stderr, "child %d (round %d): %s\n", (int)getpid(), round, err);
            return 3;
        }
        unlink(inside);
        return 0; // dies holding it: the lock is stale for the next one
    }
    fprintf(stderr, "child %d: never got the lock\n", (int)getpid());
    return 4;
}

static void test_takeover_race(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("CPCRL_LOCK_TEST_WAIT_US", "2000", 1);
    int bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t kids[KIDS];
        for (int i = 0; i < KIDS; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) _exit(child(dir, round));
        }
        for (int n = 0; n < KIDS; n++) { // reap in exit order
            int st = 0;
            pid_t p = waitpid(-1, &st, 0);
            assert_true(p > 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
        }
    }
    unsetenv("CPCRL_LOCK_TEST_WAIT_US");
    char cmd[200];
    // the last child died holding it: the lock is all that is left (no guard,
    // no private or aside file)
    snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = train.lock", dir);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "ls -A %s >&2", dir);
        (void)system(cmd);
        bad++;
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    if (bad) fail_msg("%d of %d contenders did not hold the lock alone (see stderr)", bad, KIDS * ROUNDS);
}

// A dead process's lock in DIR (stale) made with runlock_acquire in a
// child that exits holding it.
static void dead_holder_lock(const char *dir) {
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        RunLock l;
        char err[1600];
        _exit(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err) == RUNLOCK_HELD ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// The take-over leaves nothing behind: no private or aside files in DIR.
static void test_takeover_leaves_no_files(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    dead_holder_lock(dir);
    RunLock l;
    char err[1600], path[1200];
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = train.lock", dir);
    assert_int_equal(system(cmd), 0);
    runlock_release(&l);
    snprintf(path, sizeof path, "%s/train.lock", dir);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(rmdir(dir), 0);
}

// A take-over guard left by a process that died holding it (a lock file of a
// dead pid under the guard's name) is broken, the stale lock taken over, and
// nothing is left but the new lock.
static void test_dead_guard(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX", other[] = "/tmp/cpcrl_runlock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(other));
    dead_holder_lock(dir);
    dead_holder_lock(other);
    char from[1200], to[1200], cmd[1400];
    snprintf(from, sizeof from, "%s/train.lock", other);
    snprintf(to, sizeof to, "%s/train.lock.takeover", dir);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(rmdir(other), 0);
    RunLock l;
    char err[1600];
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
    assert_int_equal(runlock_beat(&l, 1, err, sizeof err), 0);
    snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = train.lock", dir);
    assert_int_equal(system(cmd), 0);
    runlock_release(&l);
    assert_int_equal(rmdir(dir), 0);
}

// A lock naming more processes than runlock reads (9 pid lines, the 9th
// alive) is not judged by the 8 dead ones: busy while its heartbeat is fresh,
// stale once it is older than the limit.
static void test_many_pids(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    dead_holder_lock(dir); // host, boot and one dead pid
    char path[1200], err[1600], line[64];
    snprintf(path, sizeof path, "%s/train.lock", dir);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    char first[4096];
    size_t n = fread(first, 1, sizeof first - 1, f);
    first[n] = 0;
    const char *pid = strstr(first, "\npid ");
    assert_non_null(pid);
    long dead = strtol(pid + 5, NULL, 10);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    for (int i = 0; i < 7; i++) fprintf(f, "pid %ld 0\n", dead);
    snprintf(line, sizeof line, "pid %ld 0\n", (long)getpid()); // the 9th: alive
    fputs(line, f);
    assert_int_equal(fclose(f), 0);
    RunLock l;
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_BUSY);
    struct timespec old[2] = {{time(NULL) - 700, 0}, {time(NULL) - 700, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
    runlock_release(&l);
    assert_int_equal(rmdir(dir), 0);
}

// Release while another process replaces the lock (a take-over of a holder
// judged stale, between release finding the lock its own and moving it
// aside, the window CPCRL_LOCK_TEST_WAIT_US widens): the new lock stays. A
// round where the other process came too late (the lock already released:
// its unlink finds nothing) is tried again, up to 5 rounds.
static void test_release_race(void **state) {
    (void)state;
    int hit = 0;
    for (int round = 0; round < 5 && !hit; round++) {
        char dir[] = "/tmp/cpcrl_runlock_XXXXXX";
        assert_non_null(mkdtemp(dir));
        RunLock l;
        char err[1600], path[1200], cmd[1400];
        snprintf(path, sizeof path, "%s/train.lock", dir);
        assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
        pid_t p = fork();
        assert_true(p >= 0);
        if (p == 0) { // the other process: replaces the lock inside the parent's release
            nap_us(50000);
            if (unlink(path) < 0) _exit(errno == ENOENT ? 2 : 1);
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            _exit(fd >= 0 && write(fd, "new\n", 4) == 4 ? 0 : 1);
        }
        setenv("CPCRL_LOCK_TEST_WAIT_US", "900000", 1);
        runlock_release(&l);
        unsetenv("CPCRL_LOCK_TEST_WAIT_US");
        int st = 0;
        assert_int_equal(waitpid(p, &st, 0), p);
        assert_true(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 2));
        if (WEXITSTATUS(st) == 0) {
            hit = 1;
            char got[16] = "";
            FILE *f = fopen(path, "r");
            assert_non_null(f);
            assert_non_null(fgets(got, sizeof got, f));
            fclose(f);
            assert_string_equal(got, "new\n");
            snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = train.lock", dir);
            assert_int_equal(system(cmd), 0);
            assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rmdir(dir), 0);
    }
    assert_true(hit);
}

// A FIFO as train.lock: refused (-1, "not a regular file") at once, never an
// open that waits for a writer (SIGALRM after 10 s fails the test); a
// symbolic link likewise; a regular file put back in place is a lock again.
static void test_not_a_regular_file(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX", path[1200], err[1600];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/train.lock", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    RunLock l;
    alarm(10);
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), -1);
    alarm(0);
    assert_non_null(strstr(err, "is not a regular file (a FIFO)"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/dev/null", path), 0);
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), -1);
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
    runlock_release(&l);
    assert_int_equal(rmdir(dir), 0);
}

// The PID namespace: a lock names this process's; one of this host name
// from another namespace (pidns pid:[1], a pid that runs nowhere here) is
// busy while its heartbeat is fresh, stale once it is older than the limit;
// one without a pidns line (an older version's) is judged by its pid.
static void test_other_pid_namespace(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX", path[1200], err[1600], host[256], ns[64] = "", text[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/train.lock", dir);
    assert_int_equal(gethostname(host, sizeof host), 0);
    ssize_t k = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[k > 0 ? k : 0] = 0;
    RunLock l;
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    char want[128];
    snprintf(want, sizeof want, "\npidns %s\n", ns);
    if (ns[0]) assert_non_null(strstr(text, want));
    runlock_release(&l);
    pid_t p = fork(); // a pid that has exited
    assert_true(p >= 0);
    if (p == 0) _exit(0);
    assert_int_equal(waitpid(p, NULL, 0), p);
    for (int older = 0; older < 2; older++) {
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "cpcrl run lock\nhost %s\n%spid %ld 1\n", host, older ? "" : "pidns pid:[1]\n", (long)p);
        assert_int_equal(fclose(f), 0);
        int rc = runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err);
        if (older) { // pid judged here: it has exited
            assert_int_equal(rc, RUNLOCK_HELD);
            runlock_release(&l);
            continue;
        }
        assert_int_equal(rc, RUNLOCK_BUSY);
        assert_non_null(strstr(err, "in another PID namespace (pid:[1])"));
        struct timespec old[2] = {{time(NULL) - 700, 0}, {time(NULL) - 700, 0}};
        assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
        assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
        runlock_release(&l);
    }
    assert_int_equal(rmdir(dir), 0);
}

// A holder that exited but was not reaped (a zombie: kill(pid, 0) still
// answers) runs no more: its lock is stale. (An orphan's init may reap it
// late, or never: a container's pid 1 that does not.)
static void test_zombie_holder(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX", err[1600], stat_path[64], buf[512];
    assert_non_null(mkdtemp(dir));
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        RunLock l;
        _exit(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err) == RUNLOCK_HELD ? 0 : 1);
    }
    snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", (long)p);
    int zombie = 0;
    for (int i = 0; i < 5000 && !zombie; i++) { // not reaped: wait until it is a zombie
        FILE *f = fopen(stat_path, "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *q = strrchr(buf, ')');
        zombie = q && q[1] == ' ' && q[2] == 'Z';
        if (!zombie) nap_us(1000);
    }
    assert_true(zombie);
    assert_int_equal(kill(p, 0), 0);
    RunLock l;
    assert_int_equal(runlock_acquire(&l, dir, 600, "test_runlock", err, sizeof err), RUNLOCK_HELD);
    runlock_release(&l);
    int st = 0;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(rmdir(dir), 0);
}

// runlock_acquire_named: DIR/NAME, held by one process at a time (busy for a
// live other holder, naming the lock), stale when its holder is gone.
static void test_named_lock(void **state) {
    (void)state;
    char dir[] = "/tmp/cpcrl_runlock_XXXXXX", path[1200], err[1600];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/aggregate.lock", dir);
    RunLock l, m;
    assert_int_equal(runlock_acquire_named(&l, dir, "aggregate.lock", 600, "test_runlock", err, sizeof err),
                     RUNLOCK_HELD);
    assert_int_equal(access(path, F_OK), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) { // another process: busy while the parent holds it
        close(fds[0]);
        int rc = runlock_acquire_named(&m, dir, "aggregate.lock", 600, "test_runlock", err, sizeof err);
        char c = rc == RUNLOCK_BUSY && strstr(err, "aggregate.lock is held by another process") ? 'b' : 'x';
        _exit(write(fds[1], &c, 1) == 1 ? 0 : 1);
    }
    close(fds[1]);
    char c = 0;
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    assert_int_equal(waitpid(p, NULL, 0), p);
    assert_int_equal(c, 'b');
    runlock_release(&l);
    assert_int_equal(access(path, F_OK), -1);
    p = fork(); // a holder that dies holding it
    assert_true(p >= 0);
    if (p == 0)
        _exit(runlock_acquire_named(&m, dir, "aggregate.lock", 600, "t", err, sizeof err) == RUNLOCK_HELD ? 0 : 1);
    int st = 0;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(runlock_acquire_named(&l, dir, "aggregate.lock", 600, "test_runlock", err, sizeof err),
                     RUNLOCK_HELD);
    runlock_release(&l);
    assert_int_equal(rmdir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_a_regular_file),
        cmocka_unit_test(test_other_pid_namespace),
        cmocka_unit_test(test_named_lock),
        cmocka_unit_test(test_zombie_holder),
        cmocka_unit_test(test_takeover_race),
        cmocka_unit_test(test_takeover_leaves_no_files),
        cmocka_unit_test(test_dead_guard),
        cmocka_unit_test(test_many_pids),
        cmocka_unit_test(test_release_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
