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
#include "cloud_model.h"
#include "cloud_policy.h"
#include "cuda_check.h"
#include "dgpg/dgpg.h"

#include <cub/block/block_reduce.cuh>

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

/* ---- the cloud_mm1 model on the device (kernels/cloud_model.h) ---------- */

#define CLOUD_MODEL_BLOCK 256
typedef cub::BlockReduce<double, CLOUD_MODEL_BLOCK> cloud_model_reduce;

/* p_star (E, M) at `step`: one thread per environment, water-filling in
 * scratch (E, 2M). */
__global__ void cloud_model_pstar_kernel(cloud_scenario sc, int64_t n_envs, uint64_t step,
                                         const uint8_t *burst, float *p_star, double *scratch)
{
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    const int32_t M = sc.n_pools;
    double *p = scratch + e * 2 * M;
    cloud_model_optimal_probs(M, sc.mu, sc.order_desc, cloud_work_rate(&sc, step, burst[e]), p);
    for (int32_t m = 0; m < M; m++)
        p_star[e * M + m] = (float)p[m];
}

/* grad (E, N, M) = dC/dp at probs (E, N, M): one block per environment;
 * total rate and flows by CUB block reductions, then one thread per agent.
 * Rates as the CPU model: size_mean times the Poisson tables' lambdas. */
__global__ void cloud_model_cost_grad_kernel(cloud_scenario sc, uint64_t step,
                                             const uint8_t *burst, double barrier,
                                             const float *probs, float *grad, double *scratch)
{
    __shared__ typename cloud_model_reduce::TempStorage temp;
    __shared__ double total_rate;
    const int64_t e = blockIdx.x;
    const int32_t N = sc.n_agents, M = sc.n_pools;
    const dgpg_poisson_entry *table = (burst[e] ? sc.arrival_burst : sc.arrival) +
                                      (int64_t)cloud_day_index(&sc, step) * N;
    const float *pe = probs + e * (int64_t)N * M;
    double *slope = scratch + e * 2 * M;
    double part = 0.0;
    for (int32_t i = threadIdx.x; i < N; i += blockDim.x)
        part += sc.size_mean * table[i].lambda;
    double total = cloud_model_reduce(temp).Sum(part);
    if (threadIdx.x == 0)
        total_rate = total;
    __syncthreads();
    for (int32_t m = 0; m < M; m++) {
        double flow = 0.0;
        for (int32_t i = threadIdx.x; i < N; i += blockDim.x)
            flow += sc.size_mean * table[i].lambda * (double)pe[(int64_t)i * M + m];
        double x = cloud_model_reduce(temp).Sum(flow);
        if (threadIdx.x == 0)
            cloud_model_occupancy(x / sc.mu[m], barrier, &slope[m]);
        __syncthreads();
    }
    for (int32_t i = threadIdx.x; i < N; i += blockDim.x) {
        const double rate = sc.size_mean * table[i].lambda;
        for (int32_t m = 0; m < M; m++)
            grad[(e * N + i) * M + m] = (float)(slope[m] * rate / (sc.mu[m] * total_rate));
    }
}

/* out (E, N) = <x - x~, z_i> of the step just taken (step - 1), x the load
 * expected under that step's probs (E, N, M): one block per environment. */
__global__ void cloud_model_influence_kernel(cloud_scenario sc, uint64_t last_step,
                                             const uint8_t *last_burst,
                                             const cloud_step_flows *flows,
                                             const int32_t *last_work,
                                             const int32_t *last_actions, const float *probs,
                                             float *out, double *scratch)
{
    __shared__ typename cloud_model_reduce::TempStorage temp;
    const int64_t e = blockIdx.x;
    const int32_t N = sc.n_agents, M = sc.n_pools;
    double *reference = scratch + e * 2 * M, *load = reference + M;
    const int32_t *work = last_work + e * N;
    const float *pe = probs + e * (int64_t)N * M;
    if (threadIdx.x == 0) {
        cloud_model_optimal_probs(M, sc.mu, sc.order_desc,
                                  cloud_work_rate(&sc, last_step, last_burst[e]), reference);
        cloud_model_reference(M, reference, (double)flows[e].arrived, reference);
    }
    for (int32_t m = 0; m < M; m++) {
        double part = 0.0;
        for (int32_t i = threadIdx.x; i < N; i += blockDim.x)
            part += (double)work[i] * (double)pe[(int64_t)i * M + m];
        double x = cloud_model_reduce(temp).Sum(part);
        if (threadIdx.x == 0)
            load[m] = x;
        __syncthreads();
    }
    for (int32_t i = threadIdx.x; i < N; i += blockDim.x)
        out[e * N + i] =
            (float)cloud_model_influence(load, reference, last_actions[e * N + i], work[i]);
}

extern "C" int cloud_cuda_model_pstar(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                                      const uint8_t *burst, float *p_star, double *scratch,
                                      cudaStream_t stream)
{
    if (n_envs <= 0)
        return 0;
    cloud_model_pstar_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, 128), 128, 0, stream>>>(
        *sc, n_envs, step, burst, p_star, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_model_cost_grad(const cloud_scenario *sc, int64_t n_envs,
                                          uint64_t step, const uint8_t *burst, double barrier,
                                          const float *probs, float *grad, double *scratch,
                                          cudaStream_t stream)
{
    if (n_envs <= 0)
        return 0;
    cloud_model_cost_grad_kernel<<<(unsigned)n_envs, CLOUD_MODEL_BLOCK, 0, stream>>>(
        *sc, step, burst, barrier, probs, grad, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_model_influence(const cloud_scenario *sc, int64_t n_envs,
                                          uint64_t last_step, const uint8_t *last_burst,
                                          const cloud_step_flows *flows,
                                          const int32_t *last_work, const int32_t *last_actions,
                                          const float *probs, float *out, double *scratch,
                                          cudaStream_t stream)
{
    if (n_envs <= 0)
        return 0;
    cloud_model_influence_kernel<<<(unsigned)n_envs, CLOUD_MODEL_BLOCK, 0, stream>>>(
        *sc, last_step, last_burst, flows, last_work, last_actions, probs, out, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}
