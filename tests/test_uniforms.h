/* test_uniforms.h — a fixed-seed stream of uniforms in (0, 1) for tests
 * that draw random instances, from the counter-based generator. Each test
 * defines SEED before including this header, so the tests' streams differ. */
#ifndef DGPG_TEST_UNIFORMS_H
#define DGPG_TEST_UNIFORMS_H

#include "rng.h"

#include <math.h>

typedef struct uniforms {
    uint32_t env, next;
} uniforms;

static inline double uni(uniforms *g)
{
    uint32_t j = g->next++;
    dgpg_u4 u4 = dgpg_uniform4(SEED, j / 4u, 0, g->env, DGPG_STREAM_SCENARIO, 0);
    return u4.u[j % 4u];
}

/* log-uniform over [lo, hi]: capacities spanning orders of magnitude */
static inline double log_uniform(uniforms *g, double lo, double hi)
{
    return exp(log(lo) + uni(g) * (log(hi) - log(lo)));
}

/* A random pool set, as test_waterfill and test_state_reference draw
 * them: M uniform over 2 .. 32 (at most max_m), capacities log-uniform
 * over [0.1, 1000]; returns M, and their sum in *sum_mu if not NULL. */
static inline int random_pools(uniforms *g, int max_m, double *mu, double *sum_mu)
{
    int M = 2 + (int)(uni(g) * 31.0);
    if (M > max_m)
        M = max_m;
    double sum = 0.0;
    for (int m = 0; m < M; m++) {
        mu[m] = log_uniform(g, 0.1, 1000.0);
        sum += mu[m];
    }
    if (sum_mu)
        *sum_mu = sum;
    return M;
}

#endif
