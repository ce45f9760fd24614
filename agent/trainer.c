// trainer.c — the Trainer: rollout and update of the batched A2C (+ CPC) learner (see trainer.h).
#include "agent/trainer.h"
#include "agent/trainer_impl.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dist.h"
#include "nn/gemm.h"
#include "base/errs.h"
#include "base/progress.h"
#include "agent/policy.h"
#include "base/rng.h"

// ----------------------------------------------------------------------------
// Set-up

// The trainer's own buffers (rollout storage, carried state, scratch): one
// list, so that init allocates and free releases exactly the same set.
typedef struct { void **p; size_t n, size; } TrainerBuf;
enum { TRAINER_NBUF = 24 };

static int trainer_buffers(Trainer *tr, TrainerBuf *b) {
    const size_t B = (size_t)tr->B, N = (size_t)tr->T * B, S = (size_t)tr->obs_size;
    const size_t A = (size_t)ENV_A, H = (size_t)tr->cfg.hidden;
    int n = 0;
#define BUF(field, count, elem) (b[n++] = (TrainerBuf){(void **)&tr->field, (count), (elem)})
    BUF(obs, B * S, 1), BUF(final_obs, B * S, 1), BUF(vtrunc, N, sizeof(float));
    BUF(truncs, N, 1), BUF(rewards, B, sizeof(float)), BUF(term, B, 1), BUF(trunc, B, 1);
    BUF(actions, N, sizeof(int)), BUF(rew, N, sizeof(float)), BUF(done, N, sizeof(float));
    BUF(mask, N, sizeof(float)), BUF(starts, N, 1), BUF(logp, N * A, sizeof(float));
    BUF(dlogp, N * A, sizeof(float)), BUF(ent, N, sizeof(float)), BUF(adv, N, sizeof(float));
    BUF(dent, N, sizeof(float)), BUF(ret, N, sizeof(float)), BUF(h_carry, B * H, sizeof(float));
    BUF(c_carry, B * H, sizeof(float)), BUF(prev_action, B, sizeof(int));
    BUF(prev_reward, B, sizeof(float)), BUF(prev_done, B, sizeof(float));
    BUF(rng, B, sizeof(uint64_t));
#undef BUF
    assert(n == TRAINER_NBUF);
    return n;
}

static int trainer_balance_alloc(Trainer *tr);

int trainer_init(Trainer *tr, const Config *cfg, char *err, size_t errlen) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    config_resolve_auto(&tr->cfg);
    cfg = &tr->cfg;
    config_env(cfg, &tr->ecfg);
    const int T = cfg->unroll, B = cfg->envs, V = tr->ecfg.view;
    tr->T = T, tr->B = B;
    tr->obs_size = ENV_C * V * V;
    tr->use_cpc = cfg->cpc_weight > 0;
    if (tr->use_cpc && cfg->cpc_k > CPC_MAX_K)
        return err_fail(err, errlen, "--cpc-k %d: at most %d", cfg->cpc_k, CPC_MAX_K);
    if (cfg->precision == GEMM_BF16 && !gemm_bf16_available())
        return err_fail(err, errlen, "--precision bf16: %s", gemm_bf16_status());
    gemm_set_precision(cfg->precision); // process-wide: the learner's products (gemm.h)

    if (aux_model_init(&tr->model, cfg, V, rng_derive(cfg->seed, 0x1417), err, errlen) < 0) {
        trainer_free(tr);
        return -1;
    }
    if (cfg->forget_bias != 0.0f) model_add_forget_bias(&tr->model, cfg->forget_bias);
    const int N = T * B;
    if (acts_alloc(&tr->acts, &tr->model, (T + 1) * B) < 0) goto oom;
    if (grads_alloc(&tr->grads, &tr->model, N, B) < 0) goto oom;
    if (opt_init(&tr->opt, cfg->optim, tr->model.p.total,
                 cfg->lr, cfg->eps) < 0)
        goto oom;
    tr->opt.alpha = cfg->alpha, tr->opt.beta1 = cfg->beta1, tr->opt.beta2 = cfg->beta2;
    if (aux_init(&tr->aux, cfg, &tr->model, T, B, err, errlen) < 0) {
        trainer_free(tr);
        return -1;
    }
    tr->use_aux = tr->aux.n > 0;
    if (tr->use_aux && trainer_balance_alloc(tr) < 0) goto oom;
    if (vec_init(&tr->vec, &tr->ecfg, B, cfg->seed) < 0) goto oom;
    // data-parallel: env i of rank r is env r*B + i of the global batch
    tr->world = dist_size();
    if (tr->world > 1) {
        for (int i = 0; i < B; i++)
            env_init(&tr->vec.envs[i], &tr->ecfg,
                     rng_derive(cfg->seed, (uint64_t)dist_rank() * (uint64_t)B + (uint64_t)i));
        dist_bcast(tr->model.p.params, tr->model.p.total); // start from rank 0's parameters
    }

    if (acts_alloc(&tr->boot, &tr->model, B) < 0) goto oom;
    TrainerBuf bufs[TRAINER_NBUF];
    const int nb = trainer_buffers(tr, bufs);
    for (int i = 0; i < nb; i++)
        if (!(*bufs[i].p = calloc(bufs[i].n > 0 ? bufs[i].n : 1, bufs[i].size))) goto oom;
    for (int b = 0; b < B; b++) tr->prev_done[b] = 1.0f; // every env starts an episode
    vec_observe(&tr->vec, tr->obs);
    // one sampler stream per env, keyed by the env's global index, so that a
    // batch (or R MPI ranks) of B envs acts exactly like B single envs
    for (int b = 0; b < B; b++)
        tr->rng[b] = rng_derive(cfg->seed ^ 0x5A3F5A3Full,
                                (uint64_t)dist_rank() * (uint64_t)B + (uint64_t)b);
    if ((cfg->epochs > 1 || cfg->minibatches > 1 || cfg->clip > 0) &&
        trainer_reuse_enable(tr, err, errlen) < 0) {
        trainer_free(tr);
        return -1;
    }
    return 0;
oom:
    trainer_free(tr);
    return err_fail(err, errlen, "out of memory building the trainer (B=%d, T=%d, H=%d, D=%d)",
                cfg->envs, cfg->unroll, cfg->hidden, cfg->latent);
}

void trainer_free(Trainer *tr) {
    model_free(&tr->model);
    acts_free(&tr->acts);
    acts_free(&tr->boot);
    grads_free(&tr->grads);
    opt_free(&tr->opt);
    aux_free(&tr->aux);
    vec_free(&tr->vec);
    TrainerBuf bufs[TRAINER_NBUF];
    const int nb = trainer_buffers(tr, bufs);
    for (int i = 0; i < nb; i++) free(*bufs[i].p);
    void *reuse[] = {tr->perm, tr->logp_old, tr->mb_actions, tr->mb_mask, tr->mb_adv, tr->mb_ret,
                     tr->mb_logp_old, tr->mb_starts, tr->mb_rew};
    for (size_t i = 0; i < sizeof reuse / sizeof reuse[0]; i++) free(reuse[i]);
    acts_free(&tr->mb);
    grads_free(&tr->mbg);
    aux_free(&tr->mb_aux);
    float *bal[] = {tr->bal_dh, tr->bal_dz, tr->bal_zero, tr->bal_save, tr->bal_a2c, tr->bal_uh};
    for (size_t i = 0; i < sizeof bal / sizeof bal[0]; i++) free(bal[i]);
    memset(tr, 0, sizeof *tr);
}

// ----------------------------------------------------------------------------
// Acting

// The network input of one row (policy.h), with this trainer's reward clip.
static void fill_input_row(const Trainer *tr, Acts *a, size_t r, const uint8_t *obs, float keep,
                           int prev_action, float prev_reward, const float *h, const float *c) {
    policy_input_row(&tr->model, a, r, obs, keep, prev_action, prev_reward, tr->cfg.reward_clip, h,
                     c);
}

void trainer_prepare_step(Trainer *tr, int t) {
    const int B = tr->B, H = tr->model.H;
    for (int b = 0; b < B; b++)
        fill_input_row(tr, &tr->acts, (size_t)t * B + b, tr->obs + (size_t)b * tr->obs_size,
                       1.0f - tr->prev_done[b], tr->prev_action[b], tr->prev_reward[b],
                       tr->h_carry + (size_t)b * H, tr->c_carry + (size_t)b * H);
}

// V of the final observation of every env whose episode the time limit cut at
// step t, with that env's pre-reset state (c_t, cell_t) and inputs (a_t, r_t)
// carried into it, as if the episode went on: tr->vtrunc row t.
static void bootstrap_truncated(Trainer *tr, int t) {
    const int B = tr->B, H = tr->model.H;
    const size_t r0 = (size_t)t * B;
    int n = 0;
    memset(tr->vtrunc + r0, 0, (size_t)B * sizeof(float));
    if (!tr->cfg.bootstrap_trunc) return;
    for (int b = 0; b < B; b++) // the truncated envs' rows, packed in env order
        if (tr->truncs[r0 + b])
            fill_input_row(tr, &tr->boot, (size_t)n++, tr->final_obs + (size_t)b * tr->obs_size,
                           1.0f, tr->actions[r0 + b], tr->rew[r0 + b], tr->acts.h + (r0 + b) * H,
                           tr->acts.cell + (r0 + b) * H);
    if (n == 0) return;
    model_forward(&tr->model, &tr->boot, 0, n);
    for (int b = 0, j = 0; b < B; b++)
        if (tr->truncs[r0 + b]) tr->vtrunc[r0 + b] = tr->boot.value[j++];
}

void trainer_rollout(Trainer *tr) {
    Model *m = &tr->model;
    Acts *a = &tr->acts;
    const int T = tr->T, B = tr->B, H = m->H, A = m->A;
    gemm_params_fixed_begin(); // bf16 copies of the weights made once per rollout
    for (int t = 0; t < T; t++) {
        double t0 = progress_now();
        size_t r0 = (size_t)t * B;
        trainer_prepare_step(tr, t);
        for (int b = 0; b < B; b++) {
            tr->mask[r0 + b] = 1.0f - tr->prev_done[b];
            tr->starts[r0 + b] = tr->prev_done[b] > 0;
        }
        model_forward(m, a, (int)r0, B);
        int *act = tr->actions + r0;
        for (int b = 0; b < B; b++) {
            const float *lg = a->logits + (r0 + b) * A;
            act[b] = tr->greedy ? nn_argmax(lg, A) : nn_sample_logits(lg, A, &tr->rng[b]);
        }
        double t1 = progress_now();
        if (tr->env_step)
            tr->env_step(tr->env_ctx, act, tr->obs, tr->rewards, tr->term, tr->trunc, tr->final_obs);
        else vec_step_final(&tr->vec, act, tr->obs, tr->rewards, tr->term, tr->trunc, tr->final_obs);
        double t2 = progress_now();
        for (int b = 0; b < B; b++) {
            float d = (tr->term[b] || tr->trunc[b]) ? 1.0f : 0.0f;
            tr->rew[r0 + b] = tr->rewards[b];
            tr->done[r0 + b] = d;
            tr->truncs[r0 + b] = tr->trunc[b] && !tr->term[b];
            tr->prev_action[b] = act[b];
            tr->prev_reward[b] = tr->rewards[b];
            tr->prev_done[b] = d;
        }
        memcpy(tr->h_carry, a->h + r0 * H, (size_t)B * H * sizeof(float));
        memcpy(tr->c_carry, a->cell + r0 * H, (size_t)B * H * sizeof(float));
        double t3 = progress_now();
        bootstrap_truncated(tr, t);
        tr->times.act += (t1 - t0) + (progress_now() - t3);
        tr->times.env += t2 - t1;
    }
    // bootstrap slot: V(c_T) under the current parameters
    double t0 = progress_now();
    trainer_prepare_step(tr, T);
    model_forward(m, a, T * B, B);
    tr->times.act += progress_now() - t0;
    gemm_params_fixed_end();
    tr->frames += (double)T * B * tr->world; // frames over all ranks
    vec_log_take(&tr->vec, &tr->ep);
}

// ----------------------------------------------------------------------------
// Learning

float trainer_lr(const Trainer *tr) {
    float lr = tr->cfg.lr;
    if (tr->cfg.lr_decay) {
        double f = 1.0 - tr->frames / tr->cfg.frames;
        lr *= (float)(f > 0 ? f : 0);
    }
    return lr;
}

// Returns and advantages of the stored unroll (GAE; lambda = 1 is n-step),
// from the end; they are constants of the loss (no gradient flows through
// them).
void compute_targets(Trainer *tr) {
    const Acts *a = &tr->acts;
    const Config *c = &tr->cfg;
    const int T = tr->T, B = tr->B;
    for (int b = 0; b < B; b++) {
        float gae = 0;
        for (int t = T - 1; t >= 0; t--) {
            size_t i = (size_t)t * B + b;
            float nd = 1.0f - tr->done[i];
            float vnext = a->value[(size_t)(t + 1) * B + b];
            float r = policy_clip_reward(tr->rew[i], c->reward_clip);
            float delta = r + c->gamma * (nd * vnext + tr->vtrunc[i]) - a->value[i];
            gae = delta + c->gamma * c->gae_lambda * nd * gae;
            tr->adv[i] = gae;
            tr->ret[i] = gae + a->value[i];
        }
    }
}

void a2c_policy_loss(float *dlogits, PolicyTerms *out, float *logp, float *dlogp, float *ent,
                     float *dent, const float *logits, const int *actions, const float *adv,
                     const float *logp_old, float clip, float entropy_coef, int N, int A) {
    nn_log_softmax_forward(logp, logits, N, A);
    nn_entropy_forward(ent, logp, N, A);
    double pl = 0, en = 0, kl = 0;
    long nclip = 0;
    const float invN = 1.0f / (float)N, lo = 1.0f - clip, hi = 1.0f + clip;
    memset(dlogp, 0, (size_t)N * A * sizeof(float));
    for (int i = 0; i < N; i++) {
        const int act = actions[i];
        const float lp = logp[(size_t)i * A + act];
        if (clip > 0) {
            // -min(rho A, clip(rho) A): the clipped branch is the smaller
            // one exactly when the ratio left the range in A's direction,
            // and it is constant in the parameters
            const float rho = expf(lp - logp_old[i]), ad = adv[i];
            const int cut = (ad > 0 && rho > hi) || (ad < 0 && rho < lo);
            pl -= (double)(cut ? (ad > 0 ? hi : lo) : rho) * ad;
            dlogp[(size_t)i * A + act] = cut ? 0.0f : -rho * ad * invN;
            nclip += rho > hi || rho < lo;
        } else {
            pl -= (double)lp * adv[i];
            dlogp[(size_t)i * A + act] = -adv[i] * invN;
        }
        if (logp_old) kl += (double)logp_old[i] - lp;
        en += ent[i];
        dent[i] = -entropy_coef * invN;
    }
    memset(dlogits, 0, (size_t)N * A * sizeof(float));
    nn_log_softmax_backward(dlogits, dlogp, logp, N, A);
    nn_entropy_backward(dlogits, dent, logp, ent, N, A);
    out->policy = pl / N;
    out->entropy = en / N;
    out->clip_frac = clip > 0 ? (double)nclip / N : 0.0;
    out->approx_kl = kl / N;
}

// The loss of N rows of activations `a` (an unroll of N / B steps over B
// envs): policy and entropy (a2c_policy_loss), value, the auxiliary heads of
// `aux`. Fills g->dlogits, g->dvalue, g->dh, g->dz and the heads' weight
// gradients; zeroes the other parameter gradients. *t_cpc = the clock when
// the heads' work began.
float heads_and_aux_loss(Trainer *tr, AuxSet *aux, const Acts *a, Grads *g, const int *actions,
                         const float *rew, const float *adv, const float *ret,
                         const float *logp_old, const uint8_t *starts, int N, int B,
                         UpdateStats *st, double *t_cpc) {
    Model *m = &tr->model;
    const Config *c = &tr->cfg;
    PolicyTerms pt;
    a2c_policy_loss(g->dlogits, &pt, tr->logp, tr->dlogp, tr->ent, tr->dent, a->logits, actions,
                    adv, logp_old, logp_old ? c->clip : 0.0f, c->entropy_coef, N, m->A);
    double vl = 0;
    const float invN = 1.0f / (float)N;
    for (int i = 0; i < N; i++) {
        float err = a->value[i] - ret[i];
        vl += 0.5 * (double)err * err;
        g->dvalue[i] = c->value_coef * err * invN;
    }
    st->policy_loss = (float)pt.policy;
    st->value_loss = (float)(vl / N);
    st->entropy = (float)pt.entropy;
    st->clip_frac = (float)pt.clip_frac;
    st->approx_kl = (float)pt.approx_kl;
    st->loss = st->policy_loss + c->value_coef * st->value_loss - c->entropy_coef * st->entropy;

    nn_zero_grad(&m->p);
    memset(g->dh, 0, (size_t)N * m->H * sizeof(float));
    memset(g->dz, 0, (size_t)N * m->D * sizeof(float));
    *t_cpc = progress_now();
    const AuxInput in = {N / B, B, a->h, a->z, actions, rew, starts};
    for (int i = 0; aux && i < aux->n; i++) {
        AuxHead *hd = &aux->h[i];
        const float w = hd->kind->weight(c); // the config's (tests change it between calls)
        AuxStats as;
        as.count = as.nk = 0;
        memset(as.col, 0, sizeof as.col);
        const float l = hd->kind->loss(hd->state, m, hd->first, &in, w, g->dh, g->dz, &as);
        st->aux_loss[i] = l;
        memcpy(st->aux_col[i], as.col, sizeof as.col);
        if (hd->kind->horizons) { // the CPC head: the cpc_* figures
            st->cpc_loss = l;
            st->cpc_count = as.count;
            for (int k = 0; k < as.nk; k++) {
                st->cpc_acc[k] = as.acc_k[k];
                st->cpc_loss_k[k] = as.loss_k[k];
                st->cpc_n[k] = as.n_k[k];
            }
        }
        st->loss += w * l;
    }
    return st->loss;
}

// Loss of the stored unroll; fills g->dlogits, g->dvalue, g->dh, g->dz (CPC)
// and the CPC weight gradient. Zeroes the parameter gradients first.
float trainer_loss(Trainer *tr, UpdateStats *st) {
    Acts *a = &tr->acts;
    Grads *g = &tr->grads;
    const int N = tr->T * tr->B;
    memset(st, 0, sizeof *st);
    double t0 = progress_now();

    if (!tr->fixed_targets) compute_targets(tr);
    double t_cpc;
    float loss = heads_and_aux_loss(tr, &tr->aux, a, g, tr->actions, tr->rew, tr->adv, tr->ret,
                                    NULL, tr->starts, N, tr->B, st, &t_cpc);
    tr->times.loss += t_cpc - t0;
    tr->times.cpc += progress_now() - t_cpc;
    return loss;
}

// ----------------------------------------------------------------------------
// The two losses on the shared trunk (see trainer.h)

// The trunk, conv1.w .. lstm.b_hh, leads the slab and the heads pi, v follow
// it (model_init's order): floats of the trunk, and of trunk and heads.
static size_t trunk_floats(const Model *m) {
    assert(m->p.t[m->conv1_w].offset == 0 && m->pi_w == m->b_hh + 1 && m->v_b == m->pi_w + 3);
    return m->p.t[m->pi_w].offset;
}
static size_t heads_end(const Model *m) { return m->p.t[m->v_b].offset + m->p.t[m->v_b].size; }

static double l2_norm(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

static int trainer_balance_alloc(Trainer *tr) {
    const Model *m = &tr->model;
    const size_t N = (size_t)tr->T * tr->B;
    tr->bal_dh = calloc(N * m->H, sizeof(float));
    tr->bal_dz = calloc(N * m->D, sizeof(float));
    tr->bal_zero = calloc(N * (m->A + 1), sizeof(float));
    tr->bal_save = calloc(heads_end(m), sizeof(float));
    tr->bal_a2c = calloc(trunk_floats(m), sizeof(float));
    tr->bal_uh = calloc(N * m->H, sizeof(float));
    return tr->bal_dh && tr->bal_dz && tr->bal_zero && tr->bal_save && tr->bal_a2c && tr->bal_uh ? 0 : -1;
}

// model_backward of g's incoming gradients (dlogits, dvalue from A2C; dh, dz
// from CPC) over T*B rows into the parameter gradients, the trunk's A2C and
// CPC parts measured (and, ratio > 0, balanced) as trainer.h says.
static void balanced_backward(Trainer *tr, Acts *a, Grads *g, const float *mask, int T, int B,
                              float ratio, UpdateStats *st) {
    Model *m = &tr->model;
    float *G = m->p.grads;
    const size_t N = (size_t)T * B, nt = trunk_floats(m), nh = heads_end(m);
    assert(N <= (size_t)tr->T * tr->B);
    memcpy(tr->bal_dh, g->dh, N * m->H * sizeof(float));
    memcpy(tr->bal_dz, g->dz, N * m->D * sizeof(float));
    if (tr->measure_outputs) { // where the two enter the trunk: A2C at h through the heads, CPC at h and z
        memset(tr->bal_uh, 0, N * m->H * sizeof(float));
        nn_linear_backward(tr->bal_uh, NULL, NULL, g->dlogits, a->h, nn_param(&m->p, m->pi_w), (int)N,
                           m->H, m->A);
        nn_linear_backward(tr->bal_uh, NULL, NULL, g->dvalue, a->h, nn_param(&m->p, m->v_w), (int)N, m->H,
                           1);
        const double uc = l2_norm(tr->bal_dh, N * m->H), uz = l2_norm(tr->bal_dz, N * m->D);
        st->out_a2c = (float)l2_norm(tr->bal_uh, N * m->H), st->out_cpc = (float)sqrt(uc * uc + uz * uz);
    }
    if (ratio <= 0) { // the gradient used: today's single backward
        model_backward(m, a, g, mask, T, B);
        memcpy(tr->bal_save, G, nh * sizeof(float));
    }
    // A2C alone: CPC's incoming gradients at zero
    memset(G, 0, nh * sizeof(float));
    memset(g->dh, 0, N * m->H * sizeof(float));
    memset(g->dz, 0, N * m->D * sizeof(float));
    model_backward(m, a, g, mask, T, B);
    const double na = l2_norm(G, nt);
    if (ratio > 0) memcpy(tr->bal_a2c, G, nt * sizeof(float));
    // CPC alone: the heads' incoming gradients at zero (they add 0 to the
    // heads' gradients); the trunk's gradient starts from zero
    Grads gc = *g;
    gc.dh = tr->bal_dh, gc.dz = tr->bal_dz;
    gc.dlogits = tr->bal_zero, gc.dvalue = tr->bal_zero + N * m->A;
    memset(G, 0, nt * sizeof(float));
    model_backward(m, a, &gc, mask, T, B);
    const double nc = l2_norm(G, nt);
    float s = 1.0f;
    if (ratio > 0) {
        s = nc > 0 ? (float)(ratio * na / nc) : 0.0f;
        for (size_t i = 0; i < nt; i++) G[i] = tr->bal_a2c[i] + s * G[i];
    } else {
        memcpy(G, tr->bal_save, nh * sizeof(float));
    }
    st->trunk_a2c = (float)na, st->trunk_cpc = (float)nc, st->cpc_trunk_scale = s;
    st->trunk_n = 1;
}

// The backward of one optimizer step: model_backward, or the balanced one
// when the ratio control is on or this update measures the trunk norms.
void step_backward(Trainer *tr, Acts *a, Grads *g, const float *mask, int T, int B,
                   UpdateStats *st) {
    const float ratio = tr->cfg.cpc_trunk_ratio;
    const int every = tr->cfg.cpc_balance_every > 1 ? tr->cfg.cpc_balance_every : 1;
    if (tr->use_aux && ratio > 0 && (every > 1 || tr->reuse)) {
        // the schedule is the optimizer's alone (not the log's: measure_trunk
        // is not looked at), so --log-every changes nothing of training;
        // sample reuse measures on an update's first step (trainer.h)
        const int measure = tr->reuse ? tr->reuse_step == 0 && tr->updates % every == 0
                                      : tr->opt.step % every == 0;
        if (measure) {
            balanced_backward(tr, a, g, mask, T, B, ratio, st);
            tr->bal_scale = st->cpc_trunk_scale;
            return;
        }
        // between measurements: one pass, CPC's incoming gradients times the held s
        const size_t N = (size_t)T * B;
        const float s = tr->bal_scale;
        for (size_t i = 0; i < N * (size_t)tr->model.H; i++) g->dh[i] *= s;
        for (size_t i = 0; i < N * (size_t)tr->model.D; i++) g->dz[i] *= s;
        model_backward(&tr->model, a, g, mask, T, B);
    } else if (tr->use_aux && (ratio > 0 || tr->measure_trunk)) {
        balanced_backward(tr, a, g, mask, T, B, ratio, st);
        tr->bal_scale = st->cpc_trunk_scale;
    } else {
        model_backward(&tr->model, a, g, mask, T, B);
    }
}

void trainer_backward(Trainer *tr, UpdateStats *st) {
    step_backward(tr, &tr->acts, &tr->grads, tr->mask, tr->T, tr->B, st);
}

// The optimizer's step, with --update-clip per tensor when set.
void optimizer_step(Trainer *tr, float lr) {
    NNParams *p = &tr->model.p;
    if (!(tr->cfg.update_clip > 0)) {
        opt_step(&tr->opt, p->params, p->grads, lr);
        return;
    }
    size_t off[NN_MAX_TENSORS], sz[NN_MAX_TENSORS];
    for (int i = 0; i < p->n; i++) off[i] = p->t[i].offset, sz[i] = p->t[i].size;
    opt_step_clipped(&tr->opt, p->params, p->grads, lr, tr->cfg.update_clip, off, sz, p->n);
}


int trainer_update(Trainer *tr, UpdateStats *st, float lr) {
    if (tr->reuse) return reuse_update(tr, st, lr);
    Model *m = &tr->model;
    gemm_params_fixed_begin(); // until the optimizer step
    trainer_loss(tr, st);
    st->steps = 1;
    double t2 = progress_now();
    trainer_backward(tr, st);
    if (tr->world > 1) dist_allreduce_mean(m->p.grads, m->p.total); // same update on every rank
    gemm_params_fixed_end();
    double t3 = progress_now();
    st->grad_norm = nn_clip_grad_norm(&m->p, tr->cfg.max_grad_norm);
    st->lr = lr;
    tr->times.backward += t3 - t2;
    if (!isfinite(st->loss) || !isfinite(st->grad_norm)) return -1;
    optimizer_step(tr, lr);
    tr->times.optim += progress_now() - t3;
    tr->updates++;
    return 0;
}

void trainer_forward_unroll(Trainer *tr) {
    Model *m = &tr->model;
    Acts *a = &tr->acts;
    const int T = tr->T, B = tr->B, H = m->H;
    for (int t = 0; t <= T; t++) {
        if (t > 0)
            for (int b = 0; b < B; b++) {
                size_t r = (size_t)t * B + b, q = (size_t)(t - 1) * B + b;
                float mk = 1.0f - tr->done[q];
                for (int i = 0; i < H; i++) {
                    a->hprev[r * H + i] = mk * a->h[q * H + i];
                    a->cprev[r * H + i] = mk * a->cell[q * H + i];
                }
            }
        model_forward(m, a, t * B, B);
    }
}
