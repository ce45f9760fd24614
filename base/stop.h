// stop.h — a stop asked for by a signal. The handler only sets a flag; the long
// loops (training, compare's scheduler, recording during training) poll it at a
// point where they can save and stop cleanly. One flag per process.
#ifndef CPCRL_STOP_H
#define CPCRL_STOP_H

#include <signal.h>

// The handlers stop_catch replaced, for stop_restore.
typedef struct {
    struct sigaction old[3];
    int n;
} StopSaved;

// Catch SIGINT and SIGTERM (and SIGHUP when hup: a closed terminal or a dropped
// ssh then saves and stops too), then clear the flag. saved may be NULL when
// the handlers stay for the life of the process.
void stop_catch(int hup, StopSaved *saved);
// Put back the handlers stop_catch replaced.
void stop_restore(const StopSaved *saved);
// 1 once a caught signal arrived since the last stop_catch.
int stop_requested(void);

#endif
