// progress.c — clock and formats of progress lines (see progress.h).
#include "base/progress.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_count(char *out, size_t n, double x) {
    if (x >= 1e6) snprintf(out, n, "%.2fM", x / 1e6);
    else if (x >= 1e3) snprintf(out, n, "%.1fk", x / 1e3);
    else snprintf(out, n, "%.0f", x);
}

void progress_time(char *out, size_t n, double s) {
    if (!isfinite(s)) { snprintf(out, n, "?"); return; }
    if (s < 0) s = 0;
    if (s >= 3600) snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(out, n, "%ds", (int)s);
}
