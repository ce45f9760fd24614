// nn_math.h — exp, sigmoid and tanh as inline float code that GCC's -O2
// vectoriser turns into straight vector code inside blocks of NN_LANES
// through restrict pointers (libm's scalar calls would stay scalar). Used by
// the LSTM kernels (nn.c) and CPC|A's GRU (cpc/cpca.c).
#ifndef CPCRL_NN_MATH_H
#define CPCRL_NN_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// Elementwise loops run over blocks of NN_LANES through restrict pointers:
// the shape GCC's -O2 vectoriser (cost model "very cheap": no alias
// checks, no epilogues) turns into straight vector code.
#define NN_LANES 16

// e^x to ~2 ulp for x in [-87, 88] (Cephes expf: 2^n * e^r, |r| <= ln2/2);
// saturates outside (e^-87 and e^88 stand in for underflow and overflow).
// n is rounded with the 1.5 * 2^23 trick, not floorf, which GCC will not
// vectorise under the default -ftrapping-math.
static inline float nn_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    n = n == n ? n : 0.0f; // NaN in: keep the (NaN) result, avoid UB in the int conversion
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline float nn_sigmoidf(float x) { return 1.0f / (1.0f + nn_expf(-x)); }

// tanh: Cephes' odd polynomial below |x| = 0.625 (no cancellation near 0),
// 1 - 2 / (e^{2|x|} + 1) with the sign put back above.
static inline float nn_tanhf(float x) {
    float ax = fabsf(x), z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float big = 1.0f - 2.0f / (nn_expf(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
}

#endif
