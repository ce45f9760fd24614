// stop.c — the stop flag and its signal handler (see stop.h).
#include "base/stop.h"

#include <string.h>

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) { (void)sig; g_stop = 1; }

void stop_catch(int hup, StopSaved *saved) {
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    int n = hup ? 3 : 2;
    for (int i = 0; i < n; i++) sigaction(sigs[i], &sa, saved ? &saved->old[i] : NULL);
    if (saved) saved->n = n;
    g_stop = 0;
}

void stop_restore(const StopSaved *saved) {
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < saved->n; i++) sigaction(sigs[i], &saved->old[i], NULL);
}

int stop_requested(void) { return g_stop != 0; }
