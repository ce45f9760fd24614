// bench.c — `cpcrl bench train`: training throughput of the real trainer,
// side by side with the same network and update in PyTorch.
//
// For each setting (the configured T and K, then the CPC paper's T = 100,
// K = 30) the real Trainer runs rollout + update for a few seconds with CPC
// on and with CPC off, in fp32 and (where the CPU has it) in bf16
// (--precision, nn/gemm.h), after a warm-up (the first setting also with sample
// reuse, PPO's 4 epochs x 4 minibatches: its cost against A2C, and with
// --cpc-trunk-ratio 1: its cost against CPC on); frames/s
// counts env steps consumed by the learner per wall-clock second, acting
// forward included. Then
// scripts/bench_torch.py runs the same two arms in PyTorch (Debian's
// /usr/bin/python3 with python3-torch) with the same thread count and the
// same OpenBLAS kernel (OPENBLAS_CORETYPE), fp32 and under
// torch.autocast(bfloat16), and one table shows all and their ratios.
// Also printed: the time split by phase, the GFLOP/s reached
// (FLOPs each implementation executes, per wall-clock second; the sgemm
// 1024^3 rate measured alongside is the machine's reference), and the
// process's CPU use (below 100% per thread means other work shared the
// cores, so compare only figures from the same run).
#include "lab/bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define FORCE_OPENBLAS_COMPLEX_STRUCT // keep <complex.h>'s macro I out
#include <cblas.h>

#include "agent/trainer.h"
#include "cpc/cpca.h"
#include "nn/blas.h"
#include "nn/gemm.h"
#include "base/progress.h"
#include "base/rng.h"

#define BENCH_SECONDS 3.0
#define BENCH_WARMUP 3 // updates before timing
#define TORCH_PYTHON "/usr/bin/python3"
#define TORCH_SCRIPT "scripts/bench_torch.py"

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

// ----------------------------------------------------------------------------
// FLOPs of one update

// CPC's work as cpc/cpc.h describes it (batch negatives): per k, P_k =
// c W_k^T over the (T-k)*B contexts with a target, three (B,D)x(D,B)-sized
// products per (t,k), then dc and dW_k of P_k's size.
static double cpc_flops(int T, int B, int D, int H, int K) {
    double p = 0.0, s = 0.0;
    for (int k = 1; k <= K && k < T; k++) {
        p += 2.0 * (T - k) * B * (double)D * H;
        s += (double)(T - k) * 3.0 * 2.0 * B * B * D;
    }
    return 3.0 * p + s;
}

// The CPC head's work: linear (cpc_flops) or CPC|A (cpc/cpca.h, batch
// negatives like cpc_flops) when the model has its GRU.
static double head_flops(const Model *m, int T, int B) {
    if (m->G > 0) return cpca_flops(T, B, m->D, m->H, m->K, m->G, CPC_NEG_BATCH);
    return cpc_flops(T, B, m->D, m->H, m->K);
}

// cpcrl: the acting forward of T+1 slots (the last one bootstraps V) and
// the backward over T*B rows; no second forward.
static double cpcrl_flops(const Model *m, int T, int B) {
    return model_flops_forward(m, (T + 1) * B) + model_flops_backward(m, T * B) +
           head_flops(m, T, B);
}

// bench_torch.py: T acting steps, then the forward recomputed over T+1
// slots with autograd and its backward; conv1 is a dense conv there (its
// weight gradient too, no input gradient).
static double torch_flops(const Model *m, int T, int B) {
    const double VV = (double)m->V * m->V, dense1 = 2.0 * m->c1 * VV * m->C * 9;
    const double gather1 = m->c1 * VV * 9;
    double fwd = model_flops_forward(m, 1) - gather1 + dense1;
    double bwd = model_flops_backward(m, 1) - gather1 + dense1;
    return fwd * (2 * T + 1) * B + bwd * T * B + cpc_flops(T, B, m->D, m->H, m->K);
}

static double sgemm_rate(void) {
    const int n = 1024;
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float));
    float *c = malloc((size_t)n * n * sizeof(float));
    double rate = 0.0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
        int reps = -1; // the first call warms up (threads, page faults)
        double t0 = 0.0, dt = 0.0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                        c, n);
            if (++reps == 0) t0 = progress_now();
            dt = progress_now() - t0;
        } while (reps < 1 || dt < 0.3);
        rate = 2.0 * n * (double)n * n * reps / dt;
    }
    free(a);
    free(b);
    free(c);
    return rate;
}

// ----------------------------------------------------------------------------
// The C trainer

typedef struct {
    double fps, gflops, cpu; // frames/s, GFLOP/s, CPU seconds per wall second
    double updates;          // updates timed
    PhaseTimes t;
} ArmResult;

static int run_cpcrl(const Config *c, ArmResult *r) {
    char err[300];
    if (config_check(c, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl bench: %s\n", err);
        return -1;
    }
    Trainer tr;
    if (trainer_init(&tr, c, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl bench: %s\n", err);
        return -1;
    }
    UpdateStats st;
    for (int i = 0; i < BENCH_WARMUP; i++) {
        trainer_rollout(&tr);
        trainer_update(&tr, &st, c->lr);
    }
    memset(&tr.times, 0, sizeof tr.times);
    double f0 = tr.frames, t0 = progress_now(), c0 = cpu_seconds();
    int64_t u0 = tr.updates;
    while (progress_now() - t0 < BENCH_SECONDS) {
        trainer_rollout(&tr);
        trainer_update(&tr, &st, c->lr);
    }
    double el = progress_now() - t0;
    r->fps = (tr.frames - f0) / el;
    r->gflops = cpcrl_flops(&tr.model, tr.T, tr.B) * (double)(tr.updates - u0) / el * 1e-9;
    r->cpu = (cpu_seconds() - c0) / el;
    r->updates = (double)(tr.updates - u0);
    r->t = tr.times;
    trainer_free(&tr);
    return 0;
}

// ----------------------------------------------------------------------------
// PyTorch, through scripts/bench_torch.py

typedef struct {
    int ok;
    double fps[2];   // cpc on, cpc off
    double cpu[2];   // CPU seconds per wall second
    char info[512];  // the script's first line (version, threads, kernel)
    char why[600];   // why not ok
} TorchResult;

// The script next to the binary's checkout: ./scripts/..., else relative to
// the executable's directory.
static int torch_script(char *path, size_t n) {
    if (access(TORCH_SCRIPT, R_OK) == 0) {
        snprintf(path, n, "%s", TORCH_SCRIPT);
        return 0;
    }
    char exe[512];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, n, "%s/%s", exe, TORCH_SCRIPT);
            if (access(path, R_OK) == 0) return 0;
        }
    }
    return -1;
}

static void run_torch(const Config *c, int K, int threads, int bf16, TorchResult *r) {
    memset(r, 0, sizeof *r);
    char script[600], cmd[1400];
    if (access(TORCH_PYTHON, X_OK) != 0) {
        snprintf(r->why, sizeof r->why, "%s not found (apt-get install python3-torch)",
                 TORCH_PYTHON);
        return;
    }
    if (torch_script(script, sizeof script) < 0) {
        snprintf(r->why, sizeof r->why, "%s not found (run from the repository root)",
                 TORCH_SCRIPT);
        return;
    }
    // Same BLAS kernel: the one we run, whether we or the user picked it.
    // OMP_WAIT_POLICY=PASSIVE: with libgomp's default spin-waiting, torch's
    // 2-thread runs collapse whenever another process shares the cores
    // (measured here: 181 frames/s spinning, 1754 passive; cpcrl's OpenBLAS
    // threads block the same way after their own short spin).
    const char *core = getenv("OPENBLAS_CORETYPE");
    if (!core || !*core) core = blas_kernel_name();
    snprintf(cmd, sizeof cmd,
             "OPENBLAS_CORETYPE='%s' OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d "
             "OMP_WAIT_POLICY=PASSIVE %s '%s' "
             "--threads %d --envs %d --unroll %d --cpc-k %d --seconds %g --planes %d --view %d "
             "--actions %d --conv1 %d --conv2 %d --latent %d --hidden %d --precision %s 2>&1",
             core, threads, threads, TORCH_PYTHON, script, threads, c->envs, c->unroll, K,
             BENCH_SECONDS, ENV_C, c->view, ENV_A, c->conv1, c->conv2, c->latent, c->hidden,
             bf16 ? "bf16" : "fp32");
    fflush(NULL);
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(r->why, sizeof r->why, "could not start %s", TORCH_PYTHON);
        return;
    }
    char line[512], last[512] = "";
    int got = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        double fps, cpu;
        char arm[32];
        if (sscanf(line, "torch %31s frames_per_s %lf cpu_per_s %lf", arm, &fps, &cpu) == 3) {
            if (!strcmp(arm, "cpc_on")) r->fps[0] = fps, r->cpu[0] = cpu, got |= 1;
            else if (!strcmp(arm, "cpc_off")) r->fps[1] = fps, r->cpu[1] = cpu, got |= 2;
        } else if (!strncmp(line, "torch ", 6) && !r->info[0]) {
            snprintf(r->info, sizeof r->info, "%s", line + 6);
        } else if (line[0]) {
            snprintf(last, sizeof last, "%s", line);
        }
    }
    int rc = pclose(f);
    r->ok = got == 3 && rc == 0;
    if (!r->ok)
        snprintf(r->why, sizeof r->why, "bench_torch.py failed: %s", last[0] ? last : "no output");
}

// ----------------------------------------------------------------------------
// The table

static const char *PREC_NAME[2] = {"fp32", "bf16"};

// One setting's table: cpcrl with CPC on and off in fp32, then (where the
// CPU has it) in bf16, each beside its PyTorch twin (fp32, and bf16 under
// torch.autocast); fps (may be NULL) gets cpcrl's frames/s with CPC on, off
// at --precision.
static int bench_setting(const Config *base, int T, int K, int threads, double peak, FILE *out,
                         double *fps) {
    Config c = *base;
    config_resolve_auto(&c);
    c.unroll = T;
    c.cpc_k = K;
    const int nprec = gemm_bf16_available() ? 2 : 1;
    ArmResult r[2][2];   // [precision][cpc on, off]
    TorchResult tr[2];   // [precision]
    double flops[2] = {0, 0}, tflops[2] = {0, 0};
    double ph_act[2] = {0, 0}, ph_cpc[2] = {0, 0}, ph_bwd[2] = {0, 0}; // FLOPs per update
    for (int arm = 0; arm < 2; arm++) {
        Model m; // sizes only, for the FLOP counts
        const int G = arm == 0 && c.cpc_mode == CPC_MODE_ACTION ? c.cpc_action_hidden : 0;
        if (model_init_cpc(&m, ENV_C, c.view, ENV_A, c.conv1, c.conv2, c.latent, c.hidden,
                           arm == 0 ? K : 0, G, 0, 1) < 0) {
            fprintf(stderr, "cpcrl bench: out of memory\n");
            return -1;
        }
        flops[arm] = cpcrl_flops(&m, T, c.envs);
        tflops[arm] = torch_flops(&m, T, c.envs);
        ph_act[arm] = model_flops_forward(&m, (T + 1) * c.envs);
        ph_cpc[arm] = m.K > 0 ? head_flops(&m, T, c.envs) : 0.0;
        ph_bwd[arm] = model_flops_backward(&m, T * c.envs);
        model_free(&m);
    }
    char mode[48] = "";
    if (c.cpc_mode == CPC_MODE_ACTION) { // bench_torch.py has the linear head only
        snprintf(mode, sizeof mode, ", CPC|A G=%d", c.cpc_action_hidden);
        tflops[0] = tflops[1] = 0;
    }
    for (int pr = 0; pr < nprec; pr++) {
        for (int arm = 0; arm < 2; arm++) {
            Config ca = c;
            ca.precision = pr;
            ca.cpc_trunk_ratio = 0; // the twin's update: the loss's gradient (the control: its own line)
            if (arm == 1) ca.cpc_weight = 0;
            else if (ca.cpc_weight <= 0) ca.cpc_weight = 1;
            if (run_cpcrl(&ca, &r[pr][arm]) < 0) return -1;
        }
        if (c.cpc_mode == CPC_MODE_ACTION) {
            memset(&tr[pr], 0, sizeof tr[pr]);
            snprintf(tr[pr].why, sizeof tr[pr].why, "%s has no CPC|A head (--cpc-mode action)", TORCH_SCRIPT);
        } else {
            run_torch(&c, K, threads, pr, &tr[pr]);
        }
    }
    gemm_set_precision(GEMM_FP32);

    fprintf(out, "\nT=%d K=%d (B=%d, %d thread%s%s):  MFLOP/update cpcrl %.0f / %.0f, "
            "torch %.0f / %.0f (CPC on / off)\n", T, K, c.envs, threads, threads == 1 ? "" : "s",
            mode, flops[0] * 1e-6, flops[1] * 1e-6, tflops[0] * 1e-6, tflops[1] * 1e-6);
    fprintf(out, "  %-13s %9s %9s %7s %8s %8s %9s | %5s %5s %5s %5s %6s %5s\n", "arm",
            "cpcrl f/s", "torch f/s", "ratio", "cpcrl GF", "torch GF", "cpu c/t", "env", "act",
            "loss", "cpc", "backwd", "optim");
    for (int pr = 0; pr < nprec; pr++)
        for (int arm = 0; arm < 2; arm++) {
            const PhaseTimes *p = &r[pr][arm].t;
            const TorchResult *t = &tr[pr];
            double tot = p->env + p->act + p->loss + p->cpc + p->backward + p->optim;
            if (tot <= 0) tot = 1;
            char tf[16] = "-", ratio[16] = "-", tg[16] = "-", cpu[24], name[24];
            snprintf(cpu, sizeof cpu, "%.0f%%/-", 100 * r[pr][arm].cpu);
            if (t->ok) {
                snprintf(cpu, sizeof cpu, "%.0f/%.0f%%", 100 * r[pr][arm].cpu, 100 * t->cpu[arm]);
                snprintf(tf, sizeof tf, "%.0f", t->fps[arm]);
                snprintf(ratio, sizeof ratio, "%.2fx", r[pr][arm].fps / t->fps[arm]);
                double frames_per_update = T * (double)c.envs;
                snprintf(tg, sizeof tg, "%.1f", tflops[arm] / frames_per_update * t->fps[arm] * 1e-9);
            }
            snprintf(name, sizeof name, "%s %s", arm == 0 ? "cpc on" : "cpc off", PREC_NAME[pr]);
            fprintf(out, "  %-13s %9.0f %9s %7s %8.1f %8s %9s |", name, r[pr][arm].fps, tf, ratio,
                    r[pr][arm].gflops, tg, cpu);
            fprintf(out, " %4.1f%% %4.1f%% %4.1f%% %4.1f%% %5.1f%% %4.1f%%\n", 100 * p->env / tot,
                    100 * p->act / tot, 100 * p->loss / tot, 100 * p->cpc / tot,
                    100 * p->backward / tot, 100 * p->optim / tot);
        }
    for (int pr = 0; pr < nprec; pr++)
        for (int arm = 0; arm < 2; arm++) {
            const PhaseTimes *p = &r[pr][arm].t;
            const double u = r[pr][arm].updates * 1e-9;
            fprintf(out, "  %-8s %s GFLOP/s by phase: act %.1f", arm == 0 ? "cpc on" : "cpc off",
                    PREC_NAME[pr], p->act > 0 ? ph_act[arm] * u / p->act : 0.0);
            if (ph_cpc[arm] > 0)
                fprintf(out, ", cpc %.1f", p->cpc > 0 ? ph_cpc[arm] * u / p->cpc : 0.0);
            fprintf(out, ", backwd %.1f; ms/update: act %.2f, cpc %.2f, backwd %.2f\n",
                    p->backward > 0 ? ph_bwd[arm] * u / p->backward : 0.0,
                    1e3 * p->act / r[pr][arm].updates, 1e3 * p->cpc / r[pr][arm].updates,
                    1e3 * p->backward / r[pr][arm].updates);
        }
    for (int pr = 0; pr < nprec; pr++) {
        fprintf(out, "  CPC overhead %s (frames/s off / on - 1): cpcrl %.0f%%", PREC_NAME[pr],
                100 * (r[pr][1].fps / r[pr][0].fps - 1));
        if (tr[pr].ok) fprintf(out, ", torch %.0f%%", 100 * (tr[pr].fps[1] / tr[pr].fps[0] - 1));
        fprintf(out, "\n");
    }
    if (nprec == 2)
        for (int arm = 0; arm < 2; arm++) {
            fprintf(out, "  %s, cpcrl bf16 against: cpcrl fp32 %.2fx", arm == 0 ? "CPC on" : "CPC off",
                    r[1][arm].fps / r[0][arm].fps);
            if (tr[0].ok) fprintf(out, ", torch fp32 %.2fx", r[1][arm].fps / tr[0].fps[arm]);
            if (tr[1].ok) fprintf(out, ", torch bf16 %.2fx", r[1][arm].fps / tr[1].fps[arm]);
            if (tr[0].ok && tr[1].ok)
                fprintf(out, " (torch bf16 / fp32 %.2fx)", tr[1].fps[arm] / tr[0].fps[arm]);
            fprintf(out, "\n");
        }
    else
        fprintf(out, "  bf16: not run (%s)\n", gemm_bf16_status());
    fprintf(out, "  cpcrl fp32 at %.0f%% of its sgemm 1024^3 rate (%.1f GFLOP/s) with CPC on\n",
            peak > 0 ? 100 * r[0][0].gflops * 1e9 / peak : 0.0, peak * 1e-9);
    for (int pr = 0; pr < nprec; pr++) {
        if (tr[pr].ok) fprintf(out, "  torch %s: %s\n", PREC_NAME[pr], tr[pr].info);
        else fprintf(out, "  torch %s: not run: %s\n", PREC_NAME[pr], tr[pr].why);
    }
    const int pa = c.precision < nprec ? c.precision : 0;
    if (fps) fps[0] = r[pa][0].fps, fps[1] = r[pa][1].fps;
    return 0;
}

// The cost of sample reuse (trainer.h): the same trainer and setting with PPO's
// usual 4 epochs x 4 minibatches, eps 0.2 (fewer minibatches when B does
// not split into groups of at least 2 envs), CPC on and off, and CPC on the
// first pass only (--aux-epochs 1), against the A2C figures just measured
// (CPC on for the first and third). fwd = the learner's recomputed forward.
// c with PPO's 4 x 4 sample reuse (eps 0.2; fewer minibatches when B does
// not split into groups of at least 2 envs).
static void reuse_config(Config *c) {
    c->epochs = 4, c->clip = 0.2f, c->minibatches = 1;
    for (int m = 4; m > 1; m--)
        if (c->envs % m == 0 && c->envs / m >= 2) {
            c->minibatches = m;
            break;
        }
}

static int bench_reuse(const Config *base, const double *a2c_fps, FILE *out) {
    Config c = *base;
    config_resolve_auto(&c);
    reuse_config(&c);
    fprintf(out, "\nsample reuse, --epochs %d --minibatches %d --clip %g (T=%d K=%d, B=%d, %s): %d "
            "optimizer steps and %d learner forwards of T*B/%d rows per unroll\n", c.epochs,
            c.minibatches, (double)c.clip, c.unroll, c.cpc_k, c.envs, PREC_NAME[c.precision],
            c.epochs * c.minibatches, c.epochs * c.minibatches, c.minibatches);
    fprintf(out, "  %-8s %9s %7s | %5s %5s %5s %5s %5s %6s %5s\n", "arm", "cpcrl f/s", "vs A2C",
            "env", "act", "fwd", "loss", "cpc", "backwd", "optim");
    static const char *const name[3] = {"cpc on", "cpc off", "cpc 1st"};
    for (int arm = 0; arm < 3; arm++) {
        Config ca = c;
        ca.cpc_trunk_ratio = 0;
        if (arm == 1) ca.cpc_weight = 0;
        else if (ca.cpc_weight <= 0) ca.cpc_weight = 1;
        if (arm == 2) ca.aux_epochs = 1;
        const double a2c = a2c_fps[arm == 1];
        ArmResult r;
        if (run_cpcrl(&ca, &r) < 0) return -1;
        const PhaseTimes *p = &r.t;
        double tot = p->env + p->act + p->forward + p->loss + p->cpc + p->backward + p->optim;
        if (tot <= 0) tot = 1;
        fprintf(out, "  %-8s %9.0f %6.2fx | %4.1f%% %4.1f%% %4.1f%% %4.1f%% %4.1f%% %5.1f%% %4.1f%%\n",
                name[arm], r.fps, a2c > 0 ? r.fps / a2c : 0.0,
                100 * p->env / tot, 100 * p->act / tot, 100 * p->forward / tot, 100 * p->loss / tot,
                100 * p->cpc / tot, 100 * p->backward / tot, 100 * p->optim / tot);
    }
    return 0;
}

// The cost of the trunk-ratio control (trainer.h: --cpc-trunk-ratio, two
// backward passes per update instead of one): the CPC-on arm again with
// the given rho (0.5 when it is off), against the CPC-on figure just
// measured (rho = 0).
static int bench_trunk_ratio(const Config *base, double cpc_fps, FILE *out) {
    Config c = *base;
    if (c.cpc_weight <= 0) c.cpc_weight = 1;
    if (c.cpc_trunk_ratio <= 0) c.cpc_trunk_ratio = 0.5f;
    ArmResult r;
    if (run_cpcrl(&c, &r) < 0) return -1;
    const PhaseTimes *p = &r.t;
    double tot = p->env + p->act + p->loss + p->cpc + p->backward + p->optim;
    if (tot <= 0) tot = 1;
    char label[32];
    snprintf(label, sizeof label, "ratio %g", c.cpc_trunk_ratio);
    fprintf(out, "\n--cpc-trunk-ratio %g (T=%d K=%d, B=%d): the A2C and CPC backward passes apart\n"
            "  %-8s %9s %7s | %5s %5s %5s %5s %6s %5s\n", c.cpc_trunk_ratio, c.unroll, c.cpc_k, c.envs, "arm",
            "cpcrl f/s", "vs CPC", "env", "act", "loss", "cpc", "backwd", "optim");
    fprintf(out, "  %-8s %9.0f %6.2fx | %4.1f%% %4.1f%% %4.1f%% %4.1f%% %5.1f%% %4.1f%%\n", label,
            r.fps, cpc_fps > 0 ? r.fps / cpc_fps : 0.0, 100 * p->env / tot, 100 * p->act / tot,
            100 * p->loss / tot, 100 * p->cpc / tot, 100 * p->backward / tot, 100 * p->optim / tot);
    return 0;
}

int bench_train_check(const Config *base, char *err, size_t errlen) {
    Config c = *base;
    if (c.cpc_weight <= 0) c.cpc_weight = 1; // the CPC-on arm
    if (config_check(&c, err, errlen) < 0) return -1;
    return config_for_machine(&c, err, errlen);
}

// --repeat N: the arms that the bench's ratios compare, timed in turn for N
// rounds so that each round's ratios come from the same stretch of a
// machine whose speed drifts (a shared VM: the same arm moved by +-25%
// between runs). Each arm keeps its trainer between slices (warmed up once).
#define BENCH_SLICE 2.0
#define BENCH_ARMS 4

typedef struct {
    Trainer tr;
    double fps[100];
} AltArm;

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double s[100];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static int bench_alternated(const Config *base, int repeat, FILE *out) {
    if (repeat > 100) repeat = 100;
    Config c[BENCH_ARMS];
    static const char *const name[BENCH_ARMS] = {"settings", "plain CPC", "reuse 4x4", "4x4 cpc 1st"};
    c[0] = *base;
    config_resolve_auto(&c[0]);
    c[1] = c[0];
    c[1].cpc_trunk_ratio = 0;
    if (c[1].cpc_weight <= 0) c[1].cpc_weight = 1; // plain CPC, whatever the settings
    c[2] = c[0];
    reuse_config(&c[2]);
    c[3] = c[2];
    c[3].aux_epochs = 1;
    fprintf(out, "\nalternated, %d rounds of %.0f s per arm (settings: --cpc-weight %g --cpc-trunk-ratio %g "
            "--cpc-balance-every %d; reuse: --epochs 4 --minibatches %d --clip 0.2)\n", repeat, BENCH_SLICE,
            (double)c[0].cpc_weight, (double)c[0].cpc_trunk_ratio, c[0].cpc_balance_every,
            c[2].minibatches);
    AltArm *arm = calloc(BENCH_ARMS, sizeof *arm);
    if (!arm) {
        fprintf(stderr, "cpcrl bench: out of memory\n");
        return -1;
    }
    char err[300];
    int live = 0, rc = 0;
    for (; live < BENCH_ARMS; live++) {
        if (config_check(&c[live], err, sizeof err) < 0 ||
            trainer_init(&arm[live].tr, &c[live], err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl bench: %s: %s\n", name[live], err);
            rc = -1;
            break;
        }
        UpdateStats st;
        for (int i = 0; i < BENCH_WARMUP; i++) {
            trainer_rollout(&arm[live].tr);
            trainer_update(&arm[live].tr, &st, c[live].lr);
        }
    }
    for (int r = 0; r < repeat && rc == 0; r++)
        for (int a = 0; a < BENCH_ARMS; a++) {
            Trainer *tr = &arm[a].tr;
            UpdateStats st;
            const double f0 = tr->frames, t0 = progress_now();
            while (progress_now() - t0 < BENCH_SLICE) {
                trainer_rollout(tr);
                trainer_update(tr, &st, c[a].lr);
            }
            arm[a].fps[r] = (tr->frames - f0) / (progress_now() - t0);
        }
    if (rc == 0) {
        fprintf(out, "  %-12s %9s %9s %9s\n", "arm", "median", "min", "max");
        for (int a = 0; a < BENCH_ARMS; a++) {
            double lo = arm[a].fps[0], hi = lo;
            for (int r = 1; r < repeat; r++)
                lo = arm[a].fps[r] < lo ? arm[a].fps[r] : lo, hi = arm[a].fps[r] > hi ? arm[a].fps[r] : hi;
            fprintf(out, "  %-12s %9.0f %9.0f %9.0f frames/s\n", name[a], median(arm[a].fps, repeat), lo, hi);
        }
        static const int num[3] = {0, 2, 3}, den[3] = {1, 0, 0};
        for (int q = 0; q < 3; q++) {
            double ratio[100], lo = 1e300, hi = 0;
            for (int r = 0; r < repeat; r++) {
                ratio[r] = arm[den[q]].fps[r] > 0 ? arm[num[q]].fps[r] / arm[den[q]].fps[r] : 0.0;
                lo = ratio[r] < lo ? ratio[r] : lo, hi = ratio[r] > hi ? ratio[r] : hi;
            }
            fprintf(out, "  %-12s / %-10s %.3fx median of the rounds' ratios (%.3f-%.3f)\n", name[num[q]],
                    name[den[q]], median(ratio, repeat), lo, hi);
        }
    }
    for (int a = 0; a < live; a++) trainer_free(&arm[a].tr);
    free(arm);
    return rc;
}

int bench_train(const Config *base, int repeat, FILE *out) {
    const int threads = blas_threads();
    fprintf(out, "training throughput, task %s, B=%d, %d thread%s, OpenBLAS kernel %s, bf16 %s; "
            "%.0f s per arm after %d warm-up updates\n", ENV_TASK_NAMES[base->task], base->envs,
            threads, threads == 1 ? "" : "s", blas_kernel_name(), gemm_bf16_status(),
            BENCH_SECONDS, BENCH_WARMUP);
    fprintf(out,
            "  frames/s = env steps consumed by the learner per wall-clock second, acting\n"
            "  included; ratio = cpcrl / torch; GF = GFLOP/s each executes; cpu c/t = CPU time\n"
            "  / wall time of cpcrl / torch (below 100%% per thread: other processes shared\n"
            "  the cores); phases of cpcrl: env step, act (forward + sampling), loss (A2C),\n"
            "  cpc (InfoNCE fwd+bwd), backwd (heads, BPTT, encoder), optim (clip + RMSProp);\n"
            "  A2C has no learner forward; sample reuse recomputes it each pass (fwd),\n"
            "  cpc 1st = with CPC on its first pass only (--aux-epochs 1);\n"
            "  CPC on = the loss's gradient (--cpc-trunk-ratio 0, as the twin), the ratio\n"
            "  control's cost on its own line\n");
    const char *timeout = getenv("OPENBLAS_THREAD_TIMEOUT");
    if (threads > 1 && !(timeout && *timeout))
        fprintf(out, "  note: OPENBLAS_THREAD_TIMEOUT is unset: idle OpenBLAS threads spin ~0.1 s\n"
                "  after each threaded product and slow the other threads; 4 measured faster\n");
    double peak = sgemm_rate(), fps[2] = {0, 0};
    if (bench_setting(base, base->unroll, base->cpc_k, threads, peak, out, fps) < 0) return -1;
    if (bench_reuse(base, fps, out) < 0) return -1;
    if (bench_trunk_ratio(base, fps[0], out) < 0) return -1;
    if (base->unroll != 100 || base->cpc_k != 30)
        if (bench_setting(base, 100, 30, threads, peak, out, NULL) < 0) return -1;
    if (repeat > 0 && bench_alternated(base, repeat, out) < 0) return -1;
    return 0;
}

// ----------------------------------------------------------------------------
// env throughput (env/ itself reads no clock)

// CPU time of the calling thread: the figure is steps per second per core,
// and stays meaningful when other processes share the machine.
static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_env(const EnvConfig *cfg, int B, double seconds, uint64_t seed) {
    enum { CHUNK = 256 }; // steps per pre-generated block of actions
    VecEnv v;
    if (B < 1 || vec_init(&v, cfg, B, seed) < 0) return -1.0;
    int *actions = malloc(sizeof(int) * (size_t)B * CHUNK);
    uint8_t *obs = malloc(v.obs_size * (size_t)B);
    float *rew = malloc(sizeof(float) * (size_t)B);
    uint8_t *term = malloc((size_t)B), *trunc = malloc((size_t)B);
    double sps = -1.0;
    if (actions && obs && rew && term && trunc) {
        uint64_t r = rng_derive(seed, 0xBE5C4ull);
        for (int i = 0; i < B * CHUNK; i++) actions[i] = rng_int(&r, ENV_A);
        for (int t = 0; t < CHUNK; t++) // warm up caches
            vec_step(&v, actions + (size_t)t * B, obs, rew, term, trunc);
        double t0 = thread_cpu_seconds(), t1 = t0;
        long steps = 0;
        do {
            for (int t = 0; t < CHUNK; t++)
                vec_step(&v, actions + (size_t)t * B, obs, rew, term, trunc);
            steps += (long)CHUNK * B;
            t1 = thread_cpu_seconds();
        } while (t1 - t0 < seconds);
        sps = (double)steps / (t1 - t0);
    }
    free(actions);
    free(obs);
    free(rew);
    free(term);
    free(trunc);
    vec_free(&v);
    return sps;
}
