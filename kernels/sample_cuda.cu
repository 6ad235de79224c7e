/* sample_cuda.cu — categorical sampling on the device: one thread per four
 * agents of one environment over kernels/sample.h's dgpg_categorical_block,
 * the function the CPU backend loops over, so the same (seed, env, agent,
 * step) draws the same action on both. Compiled; not yet run on a GPU. */
#include "cuda_check.h"
#include "sample.h"

__global__ void dgpg_categorical_kernel(uint64_t seed, uint32_t env_offset, int64_t n_envs,
                                        uint64_t step, int32_t n_agents, int32_t n_actions,
                                        const float *probs, int32_t *actions)
{
    const int64_t blocks_per_env = DGPG_CEIL_DIV(n_agents, 4);
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t e = idx / blocks_per_env;
    if (e >= n_envs)
        return;
    int32_t i0 = (int32_t)(idx % blocks_per_env) * 4;
    dgpg_categorical_block(seed, env_offset + (uint32_t)e, step, i0, n_agents, n_actions,
                           probs + e * n_agents * (int64_t)n_actions, actions + e * n_agents);
}

/* actions (E, N) from probs (E, N, M), both device memory. */
extern "C" int dgpg_cuda_sample_categorical(uint64_t seed, uint32_t env_offset, int64_t n_envs,
                                            uint64_t step, int32_t n_agents, int32_t n_actions,
                                            const float *probs, int32_t *actions,
                                            cudaStream_t stream)
{
    const int block = 256;
    int64_t threads = n_envs * DGPG_CEIL_DIV((int64_t)n_agents, 4);
    if (threads <= 0)
        return 0;
    dgpg_categorical_kernel<<<(unsigned)DGPG_CEIL_DIV(threads, block), block, 0, stream>>>(
        seed, env_offset, n_envs, step, n_agents, n_actions, probs, actions);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}
