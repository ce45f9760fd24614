// bench.c — `cpcrl bench train`: training throughput of the real trainer.
#include "agent/bench.h"

#include <string.h>
#include <time.h>

#include "agent/a2c.h"
#include "agent/blas.h"

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Training frames/s of the real trainer at the configured sizes, CPC on and
// off, with the time split by phase.
int bench_train(const Config *base, FILE *out) {
    fprintf(out, "training throughput, task %s, B=%d T=%d K=%d, %d BLAS threads:\n",
            ENV_TASK_NAMES[base->task], base->envs, base->unroll, base->cpc_k, blas_threads());
    fprintf(out, "  %-8s %9s %7s %7s %7s %7s %7s %7s\n", "arm", "frames/s", "env", "act",
            "loss", "cpc", "backwd", "optim");
    for (int arm = 0; arm < 2; arm++) {
        Config c = *base;
        if (arm == 1) c.cpc_weight = 0;
        else if (c.cpc_weight <= 0) c.cpc_weight = 1;
        char err[300];
        if (config_check(&c, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl bench: %s\n", err);
            return -1;
        }
        Trainer tr;
        if (trainer_init(&tr, &c, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl bench: %s\n", err);
            return -1;
        }
        UpdateStats st;
        for (int i = 0; i < 3; i++) { trainer_rollout(&tr); trainer_update(&tr, &st, c.lr); } // warm-up
        memset(&tr.times, 0, sizeof tr.times);
        double f0 = tr.frames, t0 = bench_now();
        while (bench_now() - t0 < 3.0) { trainer_rollout(&tr); trainer_update(&tr, &st, c.lr); }
        double el = bench_now() - t0;
        PhaseTimes *p = &tr.times;
        double tot = p->env + p->act + p->loss + p->cpc + p->backward + p->optim;
        fprintf(out, "  %-8s %9.0f %6.1f%% %6.1f%% %6.1f%% %6.1f%% %6.1f%% %6.1f%%\n",
                arm == 0 ? "cpc on" : "cpc off", (tr.frames - f0) / el, 100 * p->env / tot,
                100 * p->act / tot, 100 * p->loss / tot, 100 * p->cpc / tot,
                100 * p->backward / tot, 100 * p->optim / tot);
        trainer_free(&tr);
    }
    return 0;
}

