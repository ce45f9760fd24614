// aux.c — the auxiliary heads' registry and what every head shares (aux.h).
#include "agent/aux.h"

#include <stdlib.h>
#include <string.h>

#include "base/errs.h"
#include "env/env.h"

extern const AuxKind AUX_CPC, AUX_CPCA, AUX_RP;

// Every head, in slab order: one line per head.
const AuxKind *const AUX_KINDS[] = {
    &AUX_CPC,
    &AUX_CPCA,
    &AUX_RP,
};
const int AUX_NKINDS = (int)(sizeof AUX_KINDS / sizeof AUX_KINDS[0]);
_Static_assert(sizeof AUX_KINDS / sizeof AUX_KINDS[0] <= AUX_MAX_HEADS, "AUX_MAX_HEADS too small");

int aux_model_init(Model *m, const Config *c, int V, uint64_t seed, char *err, size_t errlen) {
    ModelTensor t[AUX_MAX_HEADS * AUX_MAX_TENSORS];
    int n = 0;
    Model dims; // the sizes a head's tensors depend on
    memset(&dims, 0, sizeof dims);
    dims.C = ENV_C, dims.V = V, dims.A = ENV_A, dims.c1 = c->conv1, dims.c2 = c->conv2;
    dims.D = c->latent, dims.H = c->hidden, dims.X = c->latent + ENV_A + 1;
    for (int k = 0; k < AUX_NKINDS; k++) {
        const AuxKind *a = AUX_KINDS[k];
        if (!(a->weight(c) > 0)) continue;
        if (a->check && a->check(c, err, errlen) < 0) return -1;
        n += a->tensors(c, &dims, t + n);
    }
    if (model_init_ext(m, ENV_C, V, ENV_A, c->conv1, c->conv2, c->latent, c->hidden, t, n,
                       c->init == INIT_ORTHOGONAL, seed) < 0)
        return err_fail(err, errlen, "out of memory building the model (H=%d, D=%d)", c->hidden,
                        c->latent);
    if (c->cpc_weight > 0) { // the CPC head's sizes, for its readers (eval, log, checkpoints)
        m->K = c->cpc_k;
        m->G = c->cpc_mode == CPC_MODE_ACTION ? c->cpc_action_hidden : 0;
    }
    return 0;
}

int aux_init(AuxSet *s, const Config *c, const Model *m, int T, int B, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    for (int k = 0; k < AUX_NKINDS; k++) {
        const AuxKind *a = AUX_KINDS[k];
        if (!(a->weight(c) > 0)) continue;
        ModelTensor t[AUX_MAX_TENSORS];
        a->tensors(c, m, t);
        AuxHead *h = &s->h[s->n];
        h->kind = a;
        h->first = nn_params_find(&m->p, t[0].name);
        if (h->first < 0) {
            aux_free(s);
            return err_fail(err, errlen, "the model has no '%s' for the %s head", t[0].name, a->name);
        }
        if (!(h->state = a->create(c, m, T, B))) {
            aux_free(s);
            return err_fail(err, errlen, "out of memory building the %s head (T=%d, B=%d)", a->name,
                            T, B);
        }
        s->n++;
    }
    return 0;
}

void aux_free(AuxSet *s) {
    for (int i = 0; i < s->n; i++)
        if (s->h[i].state) s->h[i].kind->destroy(s->h[i].state);
    memset(s, 0, sizeof *s);
}

void *aux_state(const AuxSet *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->h[i].kind->name, name)) return s->h[i].state;
    return NULL;
}

int aux_plain_count(const AuxSet *s) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += !s->h[i].kind->horizons;
    return n;
}
