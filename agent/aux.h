// aux.h — auxiliary losses on the trunk, behind one interface.
//
// An auxiliary head reads what the trunk computed over an unroll of T steps x
// B envs (row t*B + b): the latents z_t (encoder), the contexts c_t (LSTM
// outputs), and the unroll's actions, rewards and episode starts. It owns
// tensors in the model's parameter slab (after the policy and value heads,
// in the order of AUX_KINDS), scores its loss, and adds weight x its
// gradient into dL/dc (dh), dL/dz (dz) and its tensors' gradients. The
// Trainer sums the heads' losses with the A2C loss; the trunk-gradient
// balance (--cpc-trunk-ratio) sets the sum of the heads' part against the
// A2C part (trainer.h).
//
// Heads (AUX_KINDS in agent/aux.c; one line each):
//   cpc   CPC with linear maps W_k (cpc/cpc.h), on when --cpc-weight > 0 and
//         --cpc-mode linear
//   cpca  CPC|A, the GRU over the actions (cpc/cpca.h), on when --cpc-weight
//         > 0 and --cpc-mode action
//   rp    reward prediction (UNREAL, Jaderberg et al. 2016; agent/aux_rp.c),
//         on when --rp-weight > 0
// Several can be on at once (e.g. --cpc-weight 1 --rp-weight 1).
//
// Adding a head: a file agent/aux_NAME.c defining `const AuxKind AUX_NAME`,
// one line in AUX_KINDS, and its options (a weight, in config.h/config.c).
// Its log figures become log.csv columns NAME_loss, NAME_<col> (appended);
// the CPC heads report per-horizon figures instead (the cpc_* columns).
#ifndef CPCRL_AUX_H
#define CPCRL_AUX_H

#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/model.h"

#define AUX_MAX_HEADS 4
#define AUX_MAX_COLS 3     // log figures per head beside its loss
#define AUX_MAX_TENSORS 8  // parameter tensors per head
#define AUX_MAX_K 64       // horizons of a predictive head (= CPC_MAX_K)

// What a head sees of one unroll (row t*B + b, N = T*B rows).
typedef struct {
    int T, B;
    const float *h;         // (N, H) c_t
    const float *z;         // (N, D) z_t
    const int *actions;     // (N) a_t
    const float *rewards;   // (N) r_t, the reward that followed a_t (unclipped)
    const uint8_t *starts;  // (N) 1 where step t begins an episode of env b
} AuxInput;

// A head's figures for one loss evaluation.
typedef struct {
    int count;                      // what it scored (triples, rows)
    int nk;                         // horizons reported (CPC: K), else 0
    float acc_k[AUX_MAX_K], loss_k[AUX_MAX_K], n_k[AUX_MAX_K]; // per horizon k (index k-1)
    float col[AUX_MAX_COLS];        // its log figures (AuxKind.cols)
} AuxStats;

typedef struct AuxKind {
    const char *name;
    int horizons;                      // 1: reports per-horizon figures (the cpc_* columns)
    int ncols;
    const char *cols[AUX_MAX_COLS];    // names of its log figures
    // its loss weight under c (0 = off)
    float (*weight)(const Config *c);
    // refuse a config it cannot run (0, or -1 with a message); may be NULL
    int (*check)(const Config *c, char *err, size_t errlen);
    // its parameter tensors in slab order (at most AUX_MAX_TENSORS): their count
    int (*tensors)(const Config *c, const Model *m, ModelTensor *out);
    // its state for unrolls of T steps x B envs (NULL: out of memory)
    void *(*create)(const Config *c, const Model *m, int T, int B);
    void (*destroy)(void *state);
    // the fewest envs per unroll it needs (CPC's batch negatives: 2) and why
    int (*min_envs)(const Config *c, const char **why);
    // the loss of one unroll; adds weight x its gradients into dh, dz and
    // into its tensors' gradients (its first tensor is m->p.t[first])
    float (*loss)(void *state, Model *m, int first, const AuxInput *in, float weight, float *dh,
                  float *dz, AuxStats *st);
} AuxKind;

typedef struct {
    const AuxKind *kind;
    void *state;
    int first;     // index of its first tensor in the model's slab
} AuxHead;

typedef struct {
    int n;
    AuxHead h[AUX_MAX_HEADS];
} AuxSet;

// Every head cpcrl has, in slab order.
extern const AuxKind *const AUX_KINDS[];
extern const int AUX_NKINDS;

// The model for config c, view V, with the tensors of every head on under c
// (PyTorch-default or orthogonal init, as model_init_ext). 0, or -1 with a message.
int aux_model_init(Model *m, const Config *c, int V, uint64_t seed, char *err, size_t errlen);
// The heads on under c, sized for unrolls of T x B, their tensors found in
// m (built by aux_model_init from the same c). 0, or -1 with a message.
int aux_init(AuxSet *s, const Config *c, const Model *m, int T, int B, char *err, size_t errlen);
void aux_free(AuxSet *s);
// The state of the head named `name` (NULL when it is off): tests, tools.
void *aux_state(const AuxSet *s, const char *name);
// Heads that are on and log their own columns (not per-horizon): their count.
int aux_plain_count(const AuxSet *s);

// The model with a CPC head of K steps (K = 0: none) and, G > 0, CPC|A's GRU
// of size G instead of the linear maps: tests and tools.
int model_init_cpc(Model *m, int C, int V, int A, int c1, int c2, int D, int H, int K, int G,
                   int orthogonal, uint64_t seed);

#endif
