// trace.h — train --trace-every U: a diagnostic row every U updates in
// runs/NAME/trace.csv, for looking into a run that goes wrong (a policy that
// collapses, a loss that spikes). Per tensor group (encoder = conv1..fc,
// lstm, the policy head, the value head, the auxiliary head): the norm of
// the gradient the optimizer applied (after clipping), of its step
// |dtheta| (RMSProp: lr g / (sqrt(v) + eps); Adam: its bias-corrected step),
// the step relative to the parameters, the largest single step, and the
// mean sqrt(v) (the optimizer's denominator); then the advantage's mean and
// standard deviation, the update's losses and entropy. Costs nothing when
// off; one pass over the parameters per traced update when on. Rows of a
// resumed run continue the file (rows past the checkpoint are not removed:
// a diagnostic, not a result).
#ifndef CPCRL_TRACE_H
#define CPCRL_TRACE_H

#include "agent/trainer.h"

// The header line (with '\n').
const char *trace_header(void);
// One row for the update just taken (st: its stats, lr: its learning rate)
// into buf; returns its length (0 when it does not fit).
size_t trace_row(char *buf, size_t n, const Trainer *tr, const UpdateStats *st, float lr);

#endif
