// dist.h — data-parallel training over MPI, or a single process.
//
// Built with -DCPCRL_MPI (make mpi, compiler mpicc) these wrap MPI; without
// it they are the one-process identity, so the plain build needs no MPI.
// Every rank runs its own B envs (env i of rank r is env r*B + i of the
// global batch, so R ranks of B envs equal one process of R*B envs), the
// gradient slab is averaged with one MPI_Allreduce per update, every rank
// applies the same optimizer step, and rank 0 alone logs and checkpoints
// (other ranks checkpoint their own env state beside it for --resume).
#ifndef CPCRL_DIST_H
#define CPCRL_DIST_H

#include <stddef.h>
#include <stdint.h>

// Initialise (MPI_Init when built with MPI). Safe to call once.
void dist_init(int *argc, char ***argv);
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
// In-place average over ranks of n floats (one MPI_Allreduce).
void dist_allreduce_mean(float *x, size_t n);
// In-place sum over ranks of n doubles.
void dist_allreduce_sum_d(double *x, size_t n);
// Largest value of x over all ranks.
int dist_allreduce_max_i(int x);
// Rank 0's n floats to every rank.
void dist_bcast(float *x, size_t n);
// 1 when every rank holds the same 64-bit value.
int dist_all_equal_u64(uint64_t v);

#endif
