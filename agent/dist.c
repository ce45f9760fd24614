// dist.c — MPI wrappers (see dist.h); identity functions without CPCRL_MPI.
#include "agent/dist.h"

#include <stdlib.h>

#ifdef CPCRL_MPI
#include <mpi.h>

static int g_init = 0;

void dist_init(int *argc, char ***argv) {
    int already = 0;
    MPI_Initialized(&already);
    if (!already) MPI_Init(argc, argv);
    g_init = 1;
}

void dist_finalize(void) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (g_init && !fin) MPI_Finalize();
}

int dist_rank(void) {
    if (!g_init) return 0;
    int r;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int dist_size(void) {
    if (!g_init) return 1;
    int s;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

void dist_allreduce_mean(float *x, size_t n) {
    int R = dist_size();
    if (R == 1) return;
    // MPI counts are int: reduce in chunks
    for (size_t off = 0; off < n;) {
        size_t c = n - off > (1u << 30) ? (1u << 30) : n - off;
        MPI_Allreduce(MPI_IN_PLACE, x + off, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        off += c;
    }
    float inv = 1.0f / (float)R;
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

void dist_allreduce_sum_d(double *x, size_t n) {
    if (dist_size() == 1) return;
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int dist_allreduce_max_i(int x) {
    if (dist_size() == 1) return x;
    int y = x;
    MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return y;
}

void dist_bcast(float *x, size_t n) {
    if (dist_size() == 1) return;
    for (size_t off = 0; off < n;) {
        size_t c = n - off > (1u << 30) ? (1u << 30) : n - off;
        MPI_Bcast(x + off, (int)c, MPI_FLOAT, 0, MPI_COMM_WORLD);
        off += c;
    }
}

int dist_all_equal_u64(uint64_t v) {
    if (dist_size() == 1) return 1;
    unsigned long long lo = v, hi = v, mine = v;
    MPI_Allreduce(&mine, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&mine, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}


#else // one process

void dist_init(int *argc, char ***argv) { (void)argc, (void)argv; }
void dist_finalize(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
void dist_allreduce_mean(float *x, size_t n) { (void)x, (void)n; }
void dist_allreduce_sum_d(double *x, size_t n) { (void)x, (void)n; }
int dist_allreduce_max_i(int x) { return x; }
void dist_bcast(float *x, size_t n) { (void)x, (void)n; }
int dist_all_equal_u64(uint64_t v) { (void)v; return 1; }

#endif
