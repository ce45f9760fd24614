// rng.h — per-object random numbers. Every env, sampler and initializer owns a
// uint64_t state; no process-wide generator and no wall clock seed anything.
// splitmix64 is small, fast, passes BigCrush and is trivially seedable from
// (seed, index).
#ifndef CPCRL_RNG_H
#define CPCRL_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Derived stream i of a master seed: used so env i of a batch equals a single
// env built with rng_derive(seed, i).
static inline uint64_t rng_derive(uint64_t seed, uint64_t i) {
    uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (i + 1));
    return rng_next(&s);
}

// Uniform integer in [0, n), n > 0 (multiply-shift; bias < 2^-32 for our n).
static inline int rng_int(uint64_t *s, int n) {
    return (int)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

// Uniform float in [0, 1) with 24 random bits.
static inline float rng_float(uint64_t *s) {
    return (float)(rng_next(s) >> 40) * (1.0f / 16777216.0f);
}

#endif
