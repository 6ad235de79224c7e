/* sample.h — sampling actions from per-agent categorical distributions,
 * shared by the CPU and CUDA backends. One Philox call (ACTION stream)
 * serves four agents, keyed by (seed, env, agent / 4, step). */
#ifndef DGPG_KERNELS_SAMPLE_H
#define DGPG_KERNELS_SAMPLE_H

#include "hd.h"
#include "rng.h"

/* Smallest m with p_0 + ... + p_m >= u; the last action takes any rounding
 * remainder, so a distribution summing to slightly below 1 stays valid. */
static inline DGPG_HD int32_t dgpg_categorical(const float *probs, int32_t n_actions, double u)
{
    double acc = 0.0;
    for (int32_t m = 0; m < n_actions - 1; m++) {
        acc += (double)probs[m];
        if (u <= acc)
            return m;
    }
    return n_actions - 1;
}

/* Actions of agents i0 .. i0+3 (those below n_agents) of one environment;
 * probs is (N, M) for that environment. */
static inline DGPG_HD void dgpg_categorical_block(uint64_t seed, uint32_t env, uint64_t step,
                                                  int32_t i0, int32_t n_agents,
                                                  int32_t n_actions, const float *probs,
                                                  int32_t *actions)
{
    dgpg_u4 u = dgpg_uniform4(seed, (uint32_t)i0 >> 2, step, env, DGPG_STREAM_ACTION, 0);
    for (int32_t k = 0; k < 4 && i0 + k < n_agents; k++)
        actions[i0 + k] =
            dgpg_categorical(probs + (int64_t)(i0 + k) * n_actions, n_actions, u.u[k]);
}

#endif
