// trace.c — train --trace-every's diagnostic rows (see trace.h).
#include "agent/trace.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { GR_ENC, GR_LSTM, GR_PI, GR_V, GR_AUX, GR_N };
static const char *const GROUP[GR_N] = {"enc", "lstm", "pi", "v", "aux"};

static int group_of(const Model *m, int i) {
    if (i == m->conv1_w || i == m->conv1_b || i == m->conv2_w || i == m->conv2_b || i == m->fc_w ||
        i == m->fc_b)
        return GR_ENC;
    if (i == m->w_ih || i == m->w_hh || i == m->b_ih || i == m->b_hh) return GR_LSTM;
    if (i == m->pi_w || i == m->pi_b) return GR_PI;
    if (i == m->v_w || i == m->v_b) return GR_V;
    return GR_AUX;
}

const char *trace_header(void) {
    static char h[1024];
    if (h[0]) return h;
    size_t l = (size_t)snprintf(h, sizeof h, "frames,updates,lr,loss,policy_loss,value_loss,entropy,"
                                             "grad_norm,adv_mean,adv_std,ret_mean,cpc_loss,cpc_trunk_scale");
    for (int g = 0; g < GR_N; g++)
        l += (size_t)snprintf(h + l, sizeof h - l, ",g_%s,step_%s,rel_%s,maxstep_%s,sqrtv_%s", GROUP[g],
                              GROUP[g], GROUP[g], GROUP[g], GROUP[g]);
    snprintf(h + l, sizeof h - l, ",trunk_a2c,trunk_cpc,out_a2c,out_cpc\n");
    return h;
}

size_t trace_row(char *buf, size_t n, const Trainer *tr, const UpdateStats *st, float lr) {
    const Model *m = &tr->model;
    const NNParams *p = &m->p;
    const Optim *o = &tr->opt;
    double g2[GR_N] = {0}, s2[GR_N] = {0}, w2[GR_N] = {0}, smax[GR_N] = {0}, sv[GR_N] = {0};
    size_t cnt[GR_N] = {0};
    // Adam's step, as opt_step took it (step already counted)
    const double bc1 = o->kind == OPT_ADAM ? 1.0 - pow((double)o->beta1, (double)o->step) : 1.0;
    const double bc2 = o->kind == OPT_ADAM ? 1.0 - pow((double)o->beta2, (double)o->step) : 1.0;
    for (int t = 0; t < p->n; t++) {
        const int g = group_of(m, t);
        const size_t off = p->t[t].offset, sz = p->t[t].size;
        for (size_t i = off; i < off + sz; i++) {
            const double gr = p->grads[i], v = o->v[i], sq = sqrt(v);
            const double step = o->kind == OPT_ADAM
                                    ? lr / bc1 * o->m[i] / (sq / sqrt(bc2) + o->eps)
                                    : lr * gr / (sq + o->eps);
            g2[g] += gr * gr, s2[g] += step * step, w2[g] += (double)p->params[i] * p->params[i];
            if (fabs(step) > smax[g]) smax[g] = fabs(step);
            sv[g] += sq;
        }
        cnt[g] += sz;
    }
    const size_t N = (size_t)tr->T * tr->B;
    double am = 0, a2 = 0, rm = 0;
    for (size_t i = 0; i < N; i++) am += tr->adv[i], a2 += (double)tr->adv[i] * tr->adv[i], rm += tr->ret[i];
    am /= (double)N, rm /= (double)N;
    const double asd = sqrt(fmax(a2 / (double)N - am * am, 0.0));
    int l = snprintf(buf, n, "%.0f,%lld,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g", tr->frames, (long long)tr->updates,
                     lr, st->loss, st->policy_loss, st->value_loss, st->entropy, st->grad_norm, am, asd, rm,
                     st->cpc_loss, st->cpc_trunk_scale);
    for (int g = 0; g < GR_N && l > 0 && (size_t)l < n; g++) {
        if (!cnt[g]) {
            l += snprintf(buf + l, n - (size_t)l, ",nan,nan,nan,nan,nan");
            continue;
        }
        l += snprintf(buf + l, n - (size_t)l, ",%g,%g,%g,%g,%g", sqrt(g2[g]), sqrt(s2[g]),
                      w2[g] > 0 ? sqrt(s2[g] / w2[g]) : NAN, smax[g], sv[g] / (double)cnt[g]);
    }
    // the two losses' gradient norms, on the trunk and where they enter it (nan: not measured)
    if (l > 0 && (size_t)l < n) {
        const int on = st->trunk_n > 0;
        l += snprintf(buf + l, n - (size_t)l, ",%g,%g,%g,%g", on ? st->trunk_a2c : NAN,
                      on ? st->trunk_cpc : NAN, on ? st->out_a2c : NAN, on ? st->out_cpc : NAN);
    }
    if (l > 0 && (size_t)l + 1 < n) l += snprintf(buf + l, n - (size_t)l, "\n");
    return l > 0 && (size_t)l < n ? (size_t)l : 0;
}
