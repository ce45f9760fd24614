// file.h — files that survive a crash: a whole file written to a temporary
// file of its own (NAME.tmp.HOST-NS.PID.N), fsync'd and renamed over NAME
// (the directory fsync'd too), and mkdir -p; files read only when regular
// (a FIFO never blocks a reader), and output paths checked before the work.
// Used by checkpoints, replays, images, logs and the experiment driver.
#ifndef CPCRL_FILE_H
#define CPCRL_FILE_H

#include <stddef.h>
#include <stdio.h>

// Write bytes to path atomically (path.tmp.HOST-NS.PID.N, fsync, rename,
// fsync dir): concurrent writers of one path each rename a whole file of
// their own (the last one wins). A writer killed in the middle leaves its
// temporary file, which the next write of path on this host (and PID
// namespace) removes. 0, or -1 with a message naming the file in err.
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

// path opened for reading ("rb") when it is a regular file, else NULL with
// *why (when why is not NULL) saying so ("is a directory", "not a regular file (a FIFO, device or
// socket)", or strerror; errno kept from open for the last). A FIFO is
// opened without waiting for a writer (O_NONBLOCK), so it never hangs.
FILE *file_open_regular(const char *path, const char **why);

// Before the work that ends in writing path: a directory (is_dir: created,
// mkdir -p) or a file (its directory) that can be written into, shown by
// creating and removing a file there (mkstemp). 0, or -1 with a message
// naming path.
int file_check_out(const char *path, int is_dir, char *err, size_t errlen);

// 1 when path exists (access F_OK), else 0.
int file_exists(const char *path);

// mkdir -p (0755); a path that exists but is no directory: -1, ENOTDIR.
// Returns 0, or -1 with errno set.
int file_mkdir_p(const char *path);

#endif
