// evaluate.c — a policy on env seeds of its own, counted episode by episode:
// `cpcrl eval` of a checkpoint, and train's --eval-every evaluations
// (eval.csv and best.ckpt, agent/train.c). Both run the same code: an
// acting-only Trainer whose envs and carried state start fresh from the eval
// seed, env b counting its first quota[b] episodes (E / B, the first E % B
// envs one more), so short episodes are not favoured. train's evaluation at F
// frames is therefore `cpcrl eval` of the checkpoint at F with
// --seed EVAL_SEED_OFFSET + seed, the same --episodes and --greedy.
#include "agent/train.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/blas.h"
#include "agent/ckpt.h"
#include "nn/gemm.h"
#include "base/errs.h"
#include "env/findtime.h"
#include "base/rng.h"

// ----------------------------------------------------------------------------
// counting episodes

// eval's env step: the plain batch step, then each env that just ended an
// episode hands over that episode's stats (its EnvLog holds exactly it).
typedef struct {
    VecEnv *v;
    int quota[32], done_eps[32]; // episodes env b counts / has counted
    double *rets;                // (E) counted returns
    int n;                       // counted so far
    double succ, len;            // sums over the counted episodes
    const Trainer *tr;           // for the hook: the step's value and logits
    int failed;                  // the hook failed (message in err)
    char err[600];
    EvalHook hook;               // the caller's observer (all NULL: none)
    FindTimes *ft;               // waits until finds (goal, watermaze), or NULL
    int first_ep[32];            // env b's counted episodes are first_ep[b] + 0, 1, ...
    int wipe;                    // the memory-wiped control: a find starts the state afresh
} EvalTally;

static void eval_env_step(void *ctx, const int *act, uint8_t *obs, float *rew, uint8_t *term,
                          uint8_t *trunc, uint8_t *final_obs) {
    EvalTally *e = ctx;
    const EvalHook *h = &e->hook;
    if (h->before && !e->failed) {
        const Trainer *tr = e->tr;
        // trainer_rollout passes tr->actions + t*B: the step's row of acts
        assert(act >= tr->actions && (act - tr->actions) % tr->B == 0 && act - tr->actions < (ptrdiff_t)tr->T * tr->B);
        size_t r0 = (size_t)(act - tr->actions);
        uint8_t counted[32];
        for (int b = 0; b < e->v->n; b++) counted[b] = e->done_eps[b] < e->quota[b];
        if (h->before(h->ctx, e->v, act, tr->acts.value + r0, tr->acts.logits + r0 * tr->model.A, tr->model.A,
                      counted, e->err, sizeof e->err) < 0)
            e->failed = 1;
    }
    vec_step_final(e->v, act, obs, rew, term, trunc, final_obs);
    if (h->after && !e->failed) {
        int slot[32], n = e->n;
        for (int b = 0; b < e->v->n; b++)
            slot[b] = (term[b] || trunc[b]) && e->done_eps[b] < e->quota[b] ? n++ : -1;
        if (h->after(h->ctx, e->v, act, rew, term, trunc, slot, e->err, sizeof e->err) < 0) e->failed = 1;
    }
    if (e->ft)
        for (int b = 0; b < e->v->n; b++)
            findtime_step(e->ft, b, rew[b] > 0, term[b] || trunc[b], e->done_eps[b] < e->quota[b],
                          e->first_ep[b] + e->done_eps[b]);
    for (int b = 0; b < e->v->n; b++) {
        if (!term[b] && !trunc[b]) continue;
        EnvLog one = {0};
        env_log_take(&e->v->envs[b], &one);
        if (e->done_eps[b] >= e->quota[b]) continue;
        e->done_eps[b]++;
        e->rets[e->n++] = one.ret;
        e->succ += one.success;
        e->len += one.length;
    }
    // the control: after a find the model sees an episode start (its LSTM
    // state zeroed, no previous action or reward), the env goes on as it is
    if (e->wipe)
        for (int b = 0; b < e->v->n; b++)
            if (rew[b] > 0 && !term[b] && !trunc[b]) term[b] = 1;
}

// A fresh start of every env and of the carried state, as trainer_init
// leaves them, from `seed` (env b: rng_derive(seed, b); its sampler:
// rng_derive(seed ^ 0x5A3F5A3F, b), trainer_init's streams).
static void eval_restart(Trainer *tr, uint64_t seed) {
    const int B = tr->B, H = tr->model.H;
    for (int b = 0; b < B; b++) {
        env_init(&tr->vec.envs[b], &tr->ecfg, rng_derive(seed, (uint64_t)b));
        tr->rng[b] = rng_derive(seed ^ 0x5A3F5A3Full, (uint64_t)b);
        tr->prev_done[b] = 1.0f, tr->prev_action[b] = 0, tr->prev_reward[b] = 0.0f;
    }
    memset(tr->h_carry, 0, (size_t)B * H * sizeof(float));
    memset(tr->c_carry, 0, (size_t)B * H * sizeof(float));
    memset(&tr->ep, 0, sizeof tr->ep);
    tr->frames = 0, tr->updates = 0;
    vec_observe(&tr->vec, tr->obs);
}

// E counted episodes on tr (fresh envs); rets holds E doubles. With diag,
// the CPC diagnostics of every unroll (no parameter update). Returns 0, or
// -1 when the hook failed (message in err).
static int eval_episodes(Trainer *tr, int E, double *rets, const EvalHook *hook, int diag,
                         FindTimes *ft, int wipe, EvalResult *out, char *err, size_t errlen) {
    const int B = tr->B;
    assert(B <= 32 && E >= 1);
    EvalTally tally = {.v = &tr->vec, .rets = rets, .tr = tr};
    if (hook) tally.hook = *hook;
    for (int b = 0; b < B; b++) tally.quota[b] = E / B + (b < E % B);
    for (int b = 1; b < B; b++) tally.first_ep[b] = tally.first_ep[b - 1] + tally.quota[b - 1];
    tally.ft = ft, tally.wipe = wipe;
    void (*saved_step)(void *, const int *, uint8_t *, float *, uint8_t *, uint8_t *, uint8_t *) = tr->env_step;
    void *saved_ctx = tr->env_ctx;
    tr->env_step = eval_env_step;
    tr->env_ctx = &tally;
    double accsum[CPC_MAX_K] = {0}, accn[CPC_MAX_K] = {0}, losssum[CPC_MAX_K] = {0};
    double gta = 0, gtc = 0, gtn = 0;
    tr->measure_trunk = 1;
    while (tally.n < E && !tally.failed) {
        trainer_rollout(tr);
        if (diag && tr->use_cpc) { // CPC diagnostics over this unroll (no parameter update)
            UpdateStats st; // trainer_loss: the CPC figures of this unroll, no step
            trainer_loss(tr, &st);
            trainer_backward(tr, &st); // the trunk norms of the two losses
            gta += st.trunk_a2c, gtc += st.trunk_cpc, gtn += st.trunk_n;
            for (int k = 0; k < tr->model.K; k++) {
                accsum[k] += st.cpc_acc[k] * st.cpc_n[k];
                accn[k] += st.cpc_n[k];
                losssum[k] += st.cpc_loss_k[k] * st.cpc_n[k];
            }
        }
    }
    tr->env_step = saved_step;
    tr->env_ctx = saved_ctx;
    if (tally.failed) {
        snprintf(err, errlen, "%s", tally.err);
        return -1;
    }
    const int n = tally.n;
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += rets[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (rets[i] - mean) * (rets[i] - mean);
    var = n > 1 ? var / (n - 1) : 0;
    memset(out, 0, sizeof *out);
    out->episodes = n;
    out->mean_return = mean;
    out->ci95 = 1.96 * sqrt(var / n);
    out->K = diag && tr->use_cpc ? tr->model.K : 0;
    const double logn = log((double)cpc_candidates(tr));
    for (int k = 0; k < out->K; k++) {
        out->cpc_acc[k] = accn[k] > 0 ? accsum[k] / accn[k] : NAN;
        out->cpc_bound[k] = accn[k] > 0 ? logn - losssum[k] / accn[k] : NAN;
        out->cpc_loss_k[k] = accn[k] > 0 ? losssum[k] / accn[k] : NAN;
    }
    out->trunk_a2c = gtn > 0 ? gta / gtn : NAN;
    out->trunk_cpc = gtn > 0 ? gtc / gtn : NAN;
    out->success = tally.succ / n;
    out->mean_length = tally.len / n;
    return 0;
}

// The acting-only trainer of an evaluation: cfg's network and task, B =
// min(E, 32) envs (2 with CPC), T = K+1 with CPC (its diagnostics), else 1.
static int eval_trainer_init(Trainer *tr, const Config *src, int E, uint64_t seed, char *err,
                             size_t errlen) {
    Config cfg = *src;
    cfg.envs = E < 32 ? E : 32;
    cfg.seed = seed;
    cfg.unroll = cfg.cpc_weight > 0 ? cfg.cpc_k + 1 : 1; // acting only; unroll sized for the CPC probe
    if (cfg.cpc_weight > 0 && cfg.envs < 2) cfg.envs = 2;
    cfg.epochs = cfg.minibatches = 1, cfg.clip = 0; // no updates: no sample-reuse buffers
    return trainer_init(tr, &cfg, err, errlen);
}

// ----------------------------------------------------------------------------
// cpcrl eval

int eval_main(const char *path_in, const Config *opts, const EvalHook *hook, EvalResult *out) {
    char err[512], path[1100];
    ckpt_path_for(path_in, path, sizeof path);
    Ckpt ck;
    if (ckpt_read(&ck, path, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl eval: %s\n", err);
        return 1;
    }
    Config cfg = ck.cfg;
    const int E = opts->episodes;
    if (cfg.precision == GEMM_BF16 && !gemm_bf16_available()) { // trained elsewhere in bf16
        fprintf(stderr, "cpcrl eval: trained with --precision bf16, which this machine cannot run (%s); "
                        "evaluating with fp32 products\n", gemm_bf16_status());
        cfg.precision = GEMM_FP32;
    }
    blas_set_threads(opts->threads);
    Trainer tr;
    if (eval_trainer_init(&tr, &cfg, E, opts->seed, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl eval: %s\n", err);
        ckpt_free(&ck);
        return 1;
    }
    int rc = ckpt_load_model(&ck, &tr.model, err, sizeof err);
    ckpt_free(&ck);
    if (rc < 0) {
        fprintf(stderr, "cpcrl eval: %s: %s\n", path, err);
        trainer_free(&tr);
        return 1;
    }
    tr.greedy = opts->greedy;
    double *rets = malloc((size_t)E * sizeof(double));
    if (!rets) {
        trainer_free(&tr);
        fprintf(stderr, "cpcrl eval: out of memory\n");
        return 1;
    }
    // goal and watermaze: the waits until finds, then the same episodes
    // again with the memory wiped at every find (agent and env seeds as
    // before; the control's episodes part from the first find on)
    const int mem = findtime_applies(tr.ecfg.task);
    FindTimes ft, ftw;
    findtime_init(&ft), findtime_init(&ftw);
    rc = eval_episodes(&tr, E, rets, hook, 1, mem ? &ft : NULL, 0, out, err, sizeof err);
    if (rc < 0) fprintf(stderr, "cpcrl eval: %s\n", err);
    if (rc == 0 && mem) {
        EvalResult wiped;
        eval_restart(&tr, opts->seed);
        eval_episodes(&tr, E, rets, NULL, 0, &ftw, 1, &wiped, err, sizeof err);
        if (ft.failed || ftw.failed) {
            fprintf(stderr, "cpcrl eval: out of memory (find times)\n");
            rc = -1;
        } else {
            EvalMemory *m = &out->memory;
            m->tau = 0.5 * tr.ecfg.max_steps;
            m->rmst_first = findtime_rmst(&ft.first, m->tau, NULL);
            m->rmst_later = findtime_rmst(&ft.later, m->tau, NULL);
            m->rmst_later_wiped = findtime_rmst(&ftw.later, m->tau, NULL);
            m->n_first = (int)ft.first.n, m->n_later = (int)ft.later.n, m->n_later_wiped = (int)ftw.later.n;
            m->use = findtime_diff_ci(&ft.later, E, &ftw.later, E, m->tau, 1000, opts->seed, &m->use_lo,
                                      &m->use_hi);
            m->return_wiped = wiped.mean_return;
            m->valid = 1;
        }
    }
    findtime_free(&ft), findtime_free(&ftw);
    free(rets);
    trainer_free(&tr);
    return rc < 0 ? 1 : 0;
}

// ----------------------------------------------------------------------------
// train --eval-every

int evaluator_init(Evaluator *ev, const Config *cfg, char *err, size_t errlen) {
    memset(ev, 0, sizeof *ev);
    ev->episodes = cfg->eval_episodes;
    ev->greedy = cfg->eval_greedy;
    ev->seed = EVAL_SEED_OFFSET + cfg->seed;
    if (eval_trainer_init(&ev->tr, cfg, ev->episodes, ev->seed, err, errlen) < 0) return -1;
    ev->rets = malloc((size_t)ev->episodes * sizeof(double));
    if (!ev->rets) {
        trainer_free(&ev->tr);
        return err_fail(err, errlen, "out of memory (evaluation of %d episodes)", ev->episodes);
    }
    ev->ready = 1;
    return 0;
}

int evaluator_run(Evaluator *ev, const Model *m, EvalResult *out) {
    assert(ev->ready && m->p.total == ev->tr.model.p.total);
    memcpy(ev->tr.model.p.params, m->p.params, m->p.total * sizeof(float));
    eval_restart(&ev->tr, ev->seed);
    ev->tr.greedy = ev->greedy;
    char err[8];
    return eval_episodes(&ev->tr, ev->episodes, ev->rets, NULL, 0, NULL, 0, out, err, sizeof err);
}

void evaluator_free(Evaluator *ev) {
    if (!ev->ready) return;
    trainer_free(&ev->tr);
    free(ev->rets);
    memset(ev, 0, sizeof *ev);
}
