/* activation_cpu.c — the CPU backend's bias + tanh over (B, K, d), in a
 * translation unit of its own because it is built with -ffast-math: that
 * is what lets GCC call glibc's vectorised tanhf (libmvec), about 7 times
 * faster than the scalar one, which otherwise costs more than the GEMMs
 * around it (docs/training.md, "CPU performance"), and it is cloned per
 * instruction set so that AVX2 and AVX-512 machines use wider variants. The vector tanhf is
 * accurate to a few ulp, not correctly rounded: the activations differ from
 * the scalar ones in the last bits, identically on every run. glibc offers
 * the vector variants only under -ffinite-math-only (part of -ffast-math);
 * nothing in this file tests for NaN, and the trainer's NaN guard, which
 * does, is compiled without it. */
#include "backend_internal.h"

#include <math.h>

/* One network's rows of (B, K, d) (row b at y + b ld): the math
 * dgpg__cpu_bias_act below runs over every row, for the fused passes
 * (backend_cpu.c) and for it, on the calling thread. */
__attribute__((target_clones("avx512f", "avx2", "default")))
void dgpg__cpu_bias_act_rows(int64_t B, int64_t ld, int64_t d, const float *bias, int tanh,
                             float *y)
{
    for (int64_t b = 0; b < B; b++) {
        float *row = y + b * ld;
        if (tanh) {
#pragma omp simd
            for (int64_t j = 0; j < d; j++)
                row[j] = tanhf(row[j] + bias[j]);
        } else {
            for (int64_t j = 0; j < d; j++)
                row[j] = row[j] + bias[j];
        }
    }
}

/* The backward pass's element-wise steps on one network's rows, for the
 * fused passes: dz = dz (1 - y^2) back through tanh (nn_tanh_grad), and
 * bias_grad += sum over the rows in order. Here, cloned, they run on the
 * CPU's full vector width (the rest of the library is built for the
 * x86-64 baseline, SSE2). */
__attribute__((target_clones("avx512f", "avx2", "default")))
void dgpg__cpu_tanh_backward_rows(int64_t B, int64_t ld, int64_t d, const float *y, float *dz)
{
    for (int64_t b = 0; b < B; b++) {
        float *restrict row = dz + b * ld;
        const float *restrict yr = y + b * ld;
#pragma omp simd
        for (int64_t j = 0; j < d; j++)
            row[j] = row[j] * (1.0f - yr[j] * yr[j]);
    }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void dgpg__cpu_bias_grad_rows(int64_t B, int64_t ld, int64_t d, const float *dz,
                              float *bias_grad)
{
    for (int64_t b = 0; b < B; b++) {
        const float *restrict row = dz + b * ld;
        float *restrict g = bias_grad;
#pragma omp simd
        for (int64_t j = 0; j < d; j++)
            g[j] += row[j];
    }
}

/* Over all of (B, K, d), split over samples: each row by the cloned
 * helper above, which calls the libmvec tanhf of the CPU's width (16, 8 or
 * 4 lanes). */
int dgpg__cpu_bias_act(int threads, int64_t B, int64_t K, int64_t d, const float *bias,
                       int tanh, float *y)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < K; k++)
            dgpg__cpu_bias_act_rows(1, d, d, bias + k * d, tanh, y + (b * K + k) * d);
    return 0;
}
