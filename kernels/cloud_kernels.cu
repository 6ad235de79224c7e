/* cloud_kernels.cu — thin CUDA kernels over the cloud environment's
 * kernels/ functions: arrivals (one thread per agent), service (one thread
 * per environment), observation (one thread per agent), heuristics (one
 * thread per environment). The math is in cloud_env.h / cloud_policy.h,
 * the same source the CPU backend loops over; these kernels only map
 * threads to (environment, agent) pairs.
 *
 * Status: compiled (warnings as errors, sm_80 and sm_90) on machines
 * without a GPU; not yet run on a GPU (docs/gpu.md). cloud_cuda.cu launches
 * them. Scenario pointers must address device memory. */
#include "cloud_env.h"
#include "cloud_policy.h"
#include "cuda_check.h"
#include "dgpg/dgpg.h"

/* work (E, N), burst (E): arrivals of the coming step. */
__global__ void cloud_arrivals_kernel(cloud_scenario sc, uint32_t env_offset, int64_t n_envs,
                                      uint64_t step, int32_t *work, uint8_t *burst)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t e = idx / sc.n_agents;
    int32_t i = (int32_t)(idx % sc.n_agents);
    if (e >= n_envs)
        return;
    uint32_t g = env_offset + (uint32_t)e;
    int in_burst = cloud_in_burst(&sc, g, step);
    work[idx] = cloud_agent_work(&sc, g, step, i, in_burst);
    if (i == 0)
        burst[e] = (uint8_t)in_burst;
}

/* dispatch, service, reward and statistics of each environment: (E)
 * threads. The statistics add the reward in double before it is rounded to
 * the float the caller receives, as the CPU backend does. */
__global__ void cloud_serve_kernel(cloud_scenario sc, uint32_t env_offset, int64_t n_envs,
                                   uint64_t step, const int32_t *work, const int32_t *actions,
                                   const uint8_t *burst, int64_t *dispatched, int64_t *queue,
                                   cloud_step_flows *flows, float *reward, dgpg_env_stats *stats)
{
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    const int64_t N = sc.n_agents, M = sc.n_pools;
    cloud_dispatch(&sc, work + e * N, actions + e * N, dispatched + e * M);
    double r = cloud_serve(&sc, env_offset + (uint32_t)e, step, burst[e], dispatched + e * M,
                           queue + e * M, &flows[e]);
    reward[e] = (float)r;
    dgpg_env_stats *st = &stats[e];
    st->reward += r;
    st->queued += (double)flows[e].queued;
    st->arrived += (double)flows[e].arrived;
    st->served += (double)flows[e].served;
    st->dropped += (double)flows[e].dropped;
    st->steps += 1.0;
}

/* invalid[0] = 1 if any action (E N) is outside [0, M). */
__global__ void cloud_validate_kernel(int64_t count, int32_t n_pools, const int32_t *actions,
                                      int *invalid)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < count && (uint32_t)actions[idx] >= (uint32_t)n_pools)
        *invalid = 1;
}

/* global state (E, state_dim). */
__global__ void cloud_state_kernel(cloud_scenario sc, int64_t n_envs, uint64_t step,
                                   const uint8_t *burst, const int64_t *queue, float *state)
{
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    cloud_global_state(&sc, step, burst[e], queue + e * sc.n_pools,
                       state + e * CLOUD_STATE_DIM(sc.n_pools));
}

/* obs (E, N, obs_dim). */
__global__ void cloud_observe_kernel(cloud_scenario sc, int64_t n_envs, uint64_t step,
                                     const int32_t *work, const uint8_t *burst,
                                     const int64_t *queue, float *obs)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t e = idx / sc.n_agents;
    if (e >= n_envs)
        return;
    int32_t i = (int32_t)(idx % sc.n_agents);
    cloud_observe_agent(&sc, step, i, work[idx], burst[e], queue + e * sc.n_pools,
                        obs + idx * CLOUD_OBS_DIM(sc.n_pools));
}

/* heuristic actions (E, N): one thread per environment; scratch (E, 2M). */
__global__ void cloud_policy_kernel(cloud_scenario sc, int policy, uint32_t env_offset,
                                    int64_t n_envs, uint64_t step, const uint8_t *burst,
                                    const int64_t *queue, const int32_t *work, int32_t *actions,
                                    double *scratch)
{
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    const int64_t N = sc.n_agents, M = sc.n_pools;
    cloud_policy_act(&sc, (cloud_policy)policy, env_offset + (uint32_t)e, step, burst[e],
                     queue + e * M, work + e * N, actions + e * N, scratch + e * 2 * M);
}

/* ---- launchers: explicit stream, CEIL_DIV grid, launch checked ---- */

extern "C" int cloud_cuda_arrivals(const cloud_scenario *sc, uint32_t env_offset,
                                   int64_t n_envs, uint64_t step, int32_t *work, uint8_t *burst,
                                   cudaStream_t stream)
{
    const int block = 256;
    int64_t total = n_envs * sc->n_agents;
    if (total <= 0)
        return 0;
    cloud_arrivals_kernel<<<(unsigned)DGPG_CEIL_DIV(total, block), block, 0, stream>>>(
        *sc, env_offset, n_envs, step, work, burst);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_serve(const cloud_scenario *sc, uint32_t env_offset, int64_t n_envs,
                                uint64_t step, const int32_t *work, const int32_t *actions,
                                const uint8_t *burst, int64_t *dispatched, int64_t *queue,
                                cloud_step_flows *flows, float *reward, dgpg_env_stats *stats,
                                cudaStream_t stream)
{
    const int block = 128;
    if (n_envs <= 0)
        return 0;
    cloud_serve_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, block), block, 0, stream>>>(
        *sc, env_offset, n_envs, step, work, actions, burst, dispatched, queue, flows, reward,
        stats);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_observe(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                                  const int32_t *work, const uint8_t *burst,
                                  const int64_t *queue, float *obs, cudaStream_t stream)
{
    const int block = 256;
    int64_t total = n_envs * sc->n_agents;
    if (total <= 0)
        return 0;
    cloud_observe_kernel<<<(unsigned)DGPG_CEIL_DIV(total, block), block, 0, stream>>>(
        *sc, n_envs, step, work, burst, queue, obs);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_policy(const cloud_scenario *sc, int policy, uint32_t env_offset,
                                 int64_t n_envs, uint64_t step, const uint8_t *burst,
                                 const int64_t *queue, const int32_t *work, int32_t *actions,
                                 double *scratch, cudaStream_t stream)
{
    const int block = 128;
    if (n_envs <= 0)
        return 0;
    cloud_policy_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, block), block, 0, stream>>>(
        *sc, policy, env_offset, n_envs, step, burst, queue, work, actions, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_validate(int64_t count, int32_t n_pools, const int32_t *actions,
                                   int *invalid, cudaStream_t stream)
{
    const int block = 256;
    if (count <= 0)
        return 0;
    cloud_validate_kernel<<<(unsigned)DGPG_CEIL_DIV(count, block), block, 0, stream>>>(
        count, n_pools, actions, invalid);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_state(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                                const uint8_t *burst, const int64_t *queue, float *state,
                                cudaStream_t stream)
{
    const int block = 128;
    if (n_envs <= 0)
        return 0;
    cloud_state_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, block), block, 0, stream>>>(
        *sc, n_envs, step, burst, queue, state);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}
