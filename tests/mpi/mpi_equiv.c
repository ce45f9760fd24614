// mpi_equiv.c — data-parallel equivalence check (run by `make test-mpi`).
//
//   mpirun -np R build-mpi/mpi_equiv B UPDATES OUT   each rank: B envs, UPDATES updates;
//                                                    rank 0 writes the parameters to OUT
//   build-mpi/mpi_equiv --compare A B TOL            max |a - b| over parameters <= TOL
//
// R = 2 ranks of B/2 envs must give the parameters of one process of B envs
// with the same env seeds (env i of rank r is env r*B + i), up to float
// summation order in the gradient average. CPC is off here: with batch
// negatives each rank contrasts only its own envs (documented in docs/usage.md).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/trainer.h"
#include "nn/blas.h"
#include "agent/dist.h"

static int compare(const char *a, const char *b, double tol) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    if (!fa || !fb) { fprintf(stderr, "mpi_equiv: cannot open %s or %s\n", a, b); return 1; }
    double worst = 0;
    size_t n = 0;
    float x, y;
    while (fread(&x, 4, 1, fa) == 1) {
        if (fread(&y, 4, 1, fb) != 1) { fprintf(stderr, "mpi_equiv: sizes differ\n"); return 1; }
        double d = fabs((double)x - (double)y);
        if (!(d <= worst)) worst = d;
        n++;
    }
    fclose(fa), fclose(fb);
    printf("mpi_equiv: %zu parameters, max |difference| %.3g (tolerance %.3g)\n", n, worst, tol);
    return n > 0 && worst <= tol ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--compare")) return compare(argv[2], argv[3], atof(argv[4]));
    if (argc != 4) { fprintf(stderr, "usage: mpi_equiv B UPDATES OUT | --compare A B TOL\n"); return 2; }
    dist_init(&argc, &argv);
    blas_set_threads(1);
    Config c;
    config_defaults(&c);
    c.task = ENV_TASK_GOAL, c.envs = atoi(argv[1]), c.unroll = 5, c.cpc_weight = 0;
    c.conv1 = 4, c.conv2 = 8, c.latent = 32, c.hidden = 32, c.seed = 7;
    char err[300];
    Trainer tr;
    if (config_check(&c, err, sizeof err) < 0 || trainer_init(&tr, &c, err, sizeof err) < 0) {
        fprintf(stderr, "mpi_equiv: %s\n", err);
        dist_finalize(); return 1;
    }
    int updates = atoi(argv[2]);
    UpdateStats st;
    for (int u = 0; u < updates; u++) {
        trainer_rollout(&tr);
        if (trainer_update(&tr, &st, c.lr) < 0) { fprintf(stderr, "mpi_equiv: non-finite\n"); dist_finalize(); return 1; }
    }
    int rc = 0;
    if (dist_rank() == 0) {
        FILE *f = fopen(argv[3], "wb");
        if (!f || fwrite(tr.model.p.params, 4, tr.model.p.total, f) != tr.model.p.total) rc = 1;
        if (f && fclose(f) != 0) rc = 1;
        printf("mpi_equiv: %d rank(s) x %d envs, %d updates, %.0f frames -> %s\n", dist_size(),
               c.envs, updates, tr.frames, argv[3]);
    }
    trainer_free(&tr);
    dist_finalize();
    return rc;
}
