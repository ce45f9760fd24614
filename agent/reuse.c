// reuse.c — sample reuse: E passes of M groups of env sequences per unroll
// (PPO's clipped objective on recurrent sequences; trainer.h has the formulas).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dist.h"
#include "agent/trainer_impl.h"
#include "base/errs.h"
#include "base/progress.h"
#include "base/rng.h"
#include "nn/gemm.h"

// ----------------------------------------------------------------------------
// Sample reuse: E passes of M groups of env sequences (see trainer.h)

#define REUSE_SEED 0x5EC0DE9A55E5ull

int trainer_reuse_enable(Trainer *tr, char *err, size_t errlen) {
    const Config *c = &tr->cfg;
    const int T = tr->T, B = tr->B, M = c->minibatches;
    if (tr->reuse) return 0;
    if (M < 1 || B % M != 0)
        return err_fail(err, errlen, "--minibatches %d must divide --envs %d (groups of whole envs)",
                        M, B);
    const int Bm = B / M, n = T * Bm;
    for (int i = 0; i < tr->aux.n; i++) {
        const char *why = "";
        const int need = tr->aux.h[i].kind->min_envs(c, &why);
        if (Bm < need)
            return err_fail(err, errlen, "--minibatches %d: %s needs at least %d "
                            "envs per minibatch (--envs %d gives %d)", M, why, need, B, Bm);
    }
    tr->Bm = Bm;
    if (acts_alloc(&tr->mb, &tr->model, n) < 0 || grads_alloc(&tr->mbg, &tr->model, n, Bm) < 0)
        goto oom;
    if (aux_init(&tr->mb_aux, c, &tr->model, T, Bm, err, errlen) < 0) return -1;
    tr->perm = calloc(B, sizeof(int));
    tr->logp_old = calloc((size_t)T * B, sizeof(float));
    tr->mb_actions = calloc(n, sizeof(int));
    tr->mb_mask = calloc(n, sizeof(float));
    tr->mb_adv = calloc(n, sizeof(float));
    tr->mb_ret = calloc(n, sizeof(float));
    tr->mb_logp_old = calloc(n, sizeof(float));
    tr->mb_starts = calloc(n, 1);
    tr->mb_rew = calloc(n, sizeof(float));
    if (!tr->perm || !tr->logp_old || !tr->mb_actions || !tr->mb_mask || !tr->mb_adv ||
        !tr->mb_ret || !tr->mb_logp_old || !tr->mb_starts || !tr->mb_rew)
        goto oom;
    tr->reuse = 1;
    return 0;
oom: // the caller frees the trainer (trainer_free releases whatever was allocated)
    return err_fail(err, errlen, "out of memory building the sample-reuse buffers (T=%d, %d envs "
                    "per minibatch)", T, Bm);
}

void trainer_reuse_begin(Trainer *tr) {
    const int N = tr->T * tr->B, A = tr->model.A;
    if (!tr->fixed_targets) compute_targets(tr);
    nn_log_softmax_forward(tr->logp, tr->acts.logits, N, A);
    for (int i = 0; i < N; i++) tr->logp_old[i] = tr->logp[(size_t)i * A + tr->actions[i]];
}

// Gather the stored inputs of envs[0..Bm) into tr->mb and recompute their
// forward (model_forward_seq: the state carried from row t-1 into row t of
// the same env and zeroed where an episode starts, trainer_forward_unroll's
// recurrence; at t = 0 the rollout's incoming state, already masked).
static void reuse_forward(Trainer *tr, const int *envs) {
    Model *m = &tr->model;
    const Acts *a = &tr->acts;
    Acts *g = &tr->mb;
    const int T = tr->T, B = tr->B, Bm = tr->Bm, H = m->H, D = m->D, X = m->X;
    const size_t S = (size_t)tr->obs_size;
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < Bm; j++) {
            const size_t src = (size_t)t * B + envs[j], dst = (size_t)t * Bm + j;
            memcpy(g->x0 + dst * S, a->x0 + src * S, S * sizeof(float));
            memcpy(g->xin + dst * X + D, a->xin + src * X + D, (size_t)(X - D) * sizeof(float));
            tr->mb_actions[dst] = tr->actions[src];
            tr->mb_mask[dst] = tr->mask[src];
            tr->mb_starts[dst] = tr->starts[src];
            tr->mb_rew[dst] = tr->rew[src];
            tr->mb_adv[dst] = tr->adv[src];
            tr->mb_ret[dst] = tr->ret[src];
            tr->mb_logp_old[dst] = tr->logp_old[src];
            if (t == 0) {
                memcpy(g->hprev + dst * H, a->hprev + src * H, (size_t)H * sizeof(float));
                memcpy(g->cprev + dst * H, a->cprev + src * H, (size_t)H * sizeof(float));
            }
        }
    }
    model_forward_seq(m, g, tr->mb_mask, T, Bm);
}

// Whether pass e of an update has the auxiliary losses (--aux-epochs).
static int aux_pass(const Config *c, int e) { return c->aux_epochs == 0 || e < c->aux_epochs; }

float trainer_reuse_loss(Trainer *tr, const int *envs, UpdateStats *st) {
    memset(st, 0, sizeof *st);
    double t0 = progress_now();
    reuse_forward(tr, envs);
    double t1 = progress_now(), t_cpc;
    float loss = heads_and_aux_loss(tr, aux_pass(&tr->cfg, tr->reuse_epoch) ? &tr->mb_aux : NULL, &tr->mb, &tr->mbg, tr->mb_actions,
                                    tr->mb_rew, tr->mb_adv, tr->mb_ret, tr->mb_logp_old,
                                    tr->mb_starts, tr->T * tr->Bm, tr->Bm, st, &t_cpc);
    tr->times.forward += t1 - t0;
    tr->times.loss += t_cpc - t1;
    tr->times.cpc += progress_now() - t_cpc;
    return loss;
}

// Sum of the figures of one step into acc (cpc accuracy weighted by its
// triple count); reuse_update divides at the end.
static void stats_add(UpdateStats *acc, const UpdateStats *s, int K) {
    acc->loss += s->loss, acc->policy_loss += s->policy_loss, acc->value_loss += s->value_loss;
    acc->entropy += s->entropy, acc->grad_norm += s->grad_norm, acc->cpc_loss += s->cpc_loss;
    acc->clip_frac += s->clip_frac, acc->approx_kl += s->approx_kl;
    acc->cpc_count += s->cpc_count;
    for (int i = 0; i < AUX_MAX_HEADS; i++) {
        acc->aux_loss[i] += s->aux_loss[i];
        for (int j = 0; j < AUX_MAX_COLS; j++) acc->aux_col[i][j] += s->aux_col[i][j];
    }
    acc->trunk_a2c += s->trunk_a2c, acc->trunk_cpc += s->trunk_cpc;
    acc->cpc_trunk_scale += s->cpc_trunk_scale, acc->trunk_n += s->trunk_n;
    acc->out_a2c += s->out_a2c, acc->out_cpc += s->out_cpc;
    for (int k = 0; k < K; k++) {
        acc->cpc_acc[k] += s->cpc_acc[k] * s->cpc_n[k];
        acc->cpc_loss_k[k] += s->cpc_loss_k[k] * s->cpc_n[k];
        acc->cpc_n[k] += s->cpc_n[k];
    }
}

int reuse_update(Trainer *tr, UpdateStats *st, float lr) {
    Model *m = &tr->model;
    const Config *c = &tr->cfg;
    const int B = tr->B, Bm = tr->Bm, E = c->epochs, M = B / Bm;
    const int K = m->K < CPC_MAX_K ? m->K : CPC_MAX_K;
    double t0 = progress_now();
    trainer_reuse_begin(tr);
    tr->times.loss += progress_now() - t0;
    UpdateStats acc, s;
    memset(&acc, 0, sizeof acc);
    int steps = 0, aux_steps = 0, rc = 0;
    for (int e = 0; e < E && rc == 0; e++) {
        tr->reuse_epoch = e;
        // this pass's env order: Fisher-Yates from its own stream
        uint64_t rng = rng_derive(c->seed ^ REUSE_SEED, (uint64_t)tr->updates * (uint64_t)E + (uint64_t)e);
        for (int b = 0; b < B; b++) tr->perm[b] = b;
        for (int b = B - 1; b > 0; b--) {
            int j = rng_int(&rng, b + 1), x = tr->perm[b];
            tr->perm[b] = tr->perm[j], tr->perm[j] = x;
        }
        for (int gi = 0; gi < M; gi++) {
            gemm_params_fixed_begin();
            trainer_reuse_loss(tr, tr->perm + (size_t)gi * Bm, &s);
            double t2 = progress_now();
            tr->reuse_step = steps;
            step_backward(tr, &tr->mb, &tr->mbg, tr->mb_mask, tr->T, Bm, &s);
            gemm_params_fixed_end();
            if (tr->world > 1) dist_allreduce_mean(m->p.grads, m->p.total);
            double t3 = progress_now();
            s.grad_norm = nn_clip_grad_norm(&m->p, c->max_grad_norm);
            tr->times.backward += t3 - t2;
            stats_add(&acc, &s, K);
            steps++;
            aux_steps += aux_pass(c, e);
            // a non-finite step stops the update before it touches the
            // parameters (earlier steps of this update stay applied)
            if (!isfinite(s.loss) || !isfinite(s.grad_norm)) {
                rc = -1;
                break;
            }
            optimizer_step(tr, lr);
            tr->times.optim += progress_now() - t3;
        }
    }
    // the auxiliary figures are means over the steps that had the auxiliary losses
    const float inv = 1.0f / (float)steps, inva = 1.0f / (float)aux_steps;
    *st = acc;
    st->loss *= inv, st->policy_loss *= inv, st->value_loss *= inv, st->entropy *= inv;
    st->grad_norm *= inv, st->cpc_loss *= inva, st->clip_frac *= inv, st->approx_kl *= inv;
    st->cpc_count = (int)(acc.cpc_count / aux_steps);
    for (int i = 0; i < AUX_MAX_HEADS; i++) {
        st->aux_loss[i] *= inva;
        for (int j = 0; j < AUX_MAX_COLS; j++) st->aux_col[i][j] *= inva;
    }
    if (acc.trunk_n > 0) {
        const float invn = 1.0f / (float)acc.trunk_n;
        st->trunk_a2c *= invn, st->trunk_cpc *= invn, st->cpc_trunk_scale *= invn;
        st->out_a2c *= invn, st->out_cpc *= invn;
    }
    for (int k = 0; k < K; k++) {
        st->cpc_acc[k] = acc.cpc_n[k] > 0 ? acc.cpc_acc[k] / acc.cpc_n[k] : 0.0f;
        st->cpc_loss_k[k] = acc.cpc_n[k] > 0 ? acc.cpc_loss_k[k] / acc.cpc_n[k] : 0.0f;
        st->cpc_n[k] = acc.cpc_n[k] * inva;
    }
    st->lr = lr;
    st->steps = steps;
    if (rc == 0) tr->updates++;
    return rc;
}
