// progress.h — what progress lines need, in one place: the monotonic clock
// and the short human formats of a count (950, 12.3k, 4.56M) and of a
// duration (42s, 3m07s, 1h05m). Used by train's progress line, compare's
// scheduler line and the benchmarks.
#ifndef CPCRL_PROGRESS_H
#define CPCRL_PROGRESS_H

#include <stddef.h>

// Seconds on CLOCK_MONOTONIC (only differences mean anything).
double progress_now(void);
// x as 950, 12.3k or 4.56M.
void progress_count(char *out, size_t n, double x);
// s seconds as 42s, 3m07s or 1h05m; "?" when not finite; negative is 0s.
void progress_time(char *out, size_t n, double s);

#endif
