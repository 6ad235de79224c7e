/* cloud_kernels.cu — thin CUDA kernels over the cloud environment's
 * kernels/ functions: arrivals (one thread per agent), service (one block
 * per environment, its agents' work tallied in shared memory),
 * observation (one thread per agent), heuristics (a block per environment
 * to prepare, then one thread per agent; LED one thread per environment),
 * and the cloud_mm1 model's batched forms (p* one thread per environment;
 * cost gradient and influence one block per environment). The math is in cloud_env.h / cloud_policy.h /
 * cloud_model.h, the same source the CPU backend loops over; these kernels
 * only map threads to (environment, agent) pairs and sum over agents.
 *
 * Every kernel takes the device array of the E environments' scenarios
 * (const cloud_scenario *scs) and reads scs[e]: one scenario per
 * environment under env.scenarios = sampled, the same one repeated under
 * fixed. Their pointers must address device memory (cloud_cuda.cu builds
 * the array).
 *
 * Status: compiled (warnings as errors, sm_80 and sm_90) on machines
 * without a GPU; not yet run on a GPU (docs/gpu.md). cloud_cuda.cu launches
 * them. */
#include "cloud_env.h"
#include "cloud_model.h"
#include "cloud_policy.h"
#include "cuda_check.h"
#include "dgpg/dgpg.h"

#include <cub/block/block_reduce.cuh>

/* Every kernel reads environment e's scenario from the device array scs
 * (E): under env.scenarios = sampled each environment has its own tables
 * and scalars, under fixed every entry points at the same tables. The
 * per-agent kernels take N separately, to find e before reading scs[e]. */

/* work (E, N), burst (E): arrivals of the coming step. */
__global__ void cloud_arrivals_kernel(const cloud_scenario *scs, int32_t n_agents,
                                      uint32_t env_offset, int64_t n_envs, uint64_t step,
                                      int32_t *work, uint8_t *burst)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t e = idx / n_agents;
    int32_t i = (int32_t)(idx % n_agents);
    if (e >= n_envs)
        return;
    const cloud_scenario sc = scs[e];
    uint32_t g = env_offset + (uint32_t)e;
    int in_burst = cloud_in_burst(&sc, g, step);
    work[idx] = cloud_agent_work(&sc, g, step, i, in_burst);
    if (i == 0)
        burst[e] = (uint8_t)in_burst;
}

/* dispatch, service, reward and statistics of each environment: one
 * block per environment. The block's threads tally the agents' work per
 * pool in shared memory with integer atomics: A_m of cloud_dispatch,
 * exactly, whatever the order the threads add in, so the result is the
 * CPU's bit for bit. Then one thread serves the M pools (cloud_serve) and
 * keeps the backlogs before the dispatch in last_queue (E, M) for the
 * state reference's influence. The statistics add the reward in double
 * before it is rounded to the float the caller receives, as the CPU
 * backend does. An environment with an out-of-range action does not move
 * (its reward is 0); cloud_validate_kernel has recorded the action for
 * `sums` to report. Shared memory: M unsigned 64-bit tallies. */
__global__ void cloud_serve_kernel(const cloud_scenario *scs, uint32_t env_offset,
                                   int64_t n_envs, uint64_t step, const int32_t *work,
                                   const int32_t *actions, const uint8_t *burst,
                                   int64_t *dispatched, int64_t *queue, int64_t *last_queue,
                                   cloud_step_flows *flows, float *reward, double *sums)
{
    extern __shared__ unsigned long long tally[];
    const int64_t e = blockIdx.x;
    if (e >= n_envs)
        return;
    const int64_t N = scs[e].n_agents, M = scs[e].n_pools;
    for (int64_t m = threadIdx.x; m < M; m += blockDim.x)
        tally[m] = 0;
    __syncthreads();
    int mine_invalid = 0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        const int32_t k = actions[e * N + i];
        if ((uint32_t)k >= (uint32_t)M)
            mine_invalid = 1;
        else
            atomicAdd(&tally[k], (unsigned long long)work[e * N + i]);
    }
    const int invalid = __syncthreads_or(mine_invalid);
    if (threadIdx.x != 0)
        return;
    if (invalid) {
        reward[e] = 0.0f;
        return;
    }
    const cloud_scenario sc = scs[e];
    for (int64_t m = 0; m < M; m++) {
        last_queue[e * M + m] = queue[e * M + m];
        dispatched[e * M + m] = (int64_t)tally[m];
    }
    double r = cloud_serve(&sc, env_offset + (uint32_t)e, step, burst[e], dispatched + e * M,
                           queue + e * M, &flows[e]);
    reward[e] = (float)r;
    cloud_sums_add(sums + e * CLOUD_SUMS_WIDTH, r, &flows[e]);
}

/* Records in *bad an action (E N) outside [0, M), the first to claim the
 * flag (which one is the scheduler's choice); one is enough to report. */
__global__ void cloud_validate_kernel(int64_t count, int32_t n_pools, uint64_t step,
                                      const int32_t *actions, cloud_bad_action *bad)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < count && (uint32_t)actions[idx] >= (uint32_t)n_pools &&
        atomicCAS(&bad->flag, 0, 1) == 0) {
        bad->action = actions[idx];
        bad->index = idx;
        bad->step = step;
    }
}

/* global state (E, state_dim). */
__global__ void cloud_state_kernel(const cloud_scenario *scs, int64_t n_envs, uint64_t step,
                                   const uint8_t *burst, const int64_t *queue, float *state)
{
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    const cloud_scenario sc = scs[e];
    cloud_global_state(&sc, step, burst[e], queue + e * sc.n_pools,
                       state + e * CLOUD_STATE_DIM(sc.n_pools));
}

/* obs (E, N, obs_dim). */
__global__ void cloud_observe_kernel(const cloud_scenario *scs, int32_t n_agents,
                                     int64_t n_envs, uint64_t step, const int32_t *work,
                                     const uint8_t *burst, const int64_t *queue, float *obs)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t e = idx / n_agents;
    if (e >= n_envs)
        return;
    int32_t i = (int32_t)(idx % n_agents);
    const cloud_scenario sc = scs[e];
    cloud_observe_agent(&sc, step, i, work[idx], burst[e], queue + e * sc.n_pools,
                        obs + idx * CLOUD_OBS_DIM(sc.n_pools));
}

/* Heuristic actions (E, N) in two kernels where the agents choose
 * independently: one block per environment prepares what they all read
 * (cloud_policy_prepare into scratch (E, 2M); p*(s)'s W summed over the
 * agents in 64-bit integers, exact in any order), then one thread per
 * (environment, agent) chooses (cloud_policy_agent). LED, sequential,
 * is one thread per environment (cloud_policy_led). */
#define POLICY_PREPARE_BLOCK 128
__global__ void cloud_policy_prepare_kernel(const cloud_scenario *scs, int policy,
                                            int64_t n_envs, uint64_t step, const uint8_t *burst,
                                            const int64_t *queue, const int32_t *work,
                                            double *scratch)
{
    typedef cub::BlockReduce<long long, POLICY_PREPARE_BLOCK> reduce;
    __shared__ typename reduce::TempStorage temp;
    const int64_t e = blockIdx.x;
    if (e >= n_envs)
        return;
    const int64_t N = scs[e].n_agents, M = scs[e].n_pools;
    long long part = 0;
    if (policy == CLOUD_POLICY_PSTAR_STATE)
        for (int64_t i = threadIdx.x; i < N; i += blockDim.x)
            part += work[e * N + i];
    const long long total = reduce(temp).Sum(part);
    if (threadIdx.x == 0) {
        const cloud_scenario sc = scs[e];
        cloud_policy_prepare(&sc, (cloud_policy)policy, step, burst[e], queue + e * M,
                             (double)total, scratch + e * 2 * M);
    }
}

__global__ void cloud_policy_agent_kernel(const cloud_scenario *scs, int policy,
                                          int32_t n_agents, uint32_t env_offset, int64_t n_envs,
                                          uint64_t step, const int64_t *queue,
                                          const double *scratch, int32_t *actions)
{
    const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t e = idx / n_agents;
    if (e >= n_envs)
        return;
    const cloud_scenario sc = scs[e];
    const int64_t M = sc.n_pools;
    actions[idx] = cloud_policy_agent(&sc, (cloud_policy)policy, env_offset + (uint32_t)e, step,
                                      queue + e * M, (int32_t)(idx % n_agents),
                                      scratch + e * 2 * M);
}

__global__ void cloud_policy_led_kernel(const cloud_scenario *scs, int64_t n_envs,
                                        const int64_t *queue, const int32_t *work,
                                        int32_t *actions, double *scratch)
{
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    const cloud_scenario sc = scs[e];
    const int64_t N = sc.n_agents, M = sc.n_pools;
    cloud_policy_led(&sc, queue + e * M, work + e * N, actions + e * N, scratch + e * 2 * M);
}

/* ---- launchers: explicit stream, CEIL_DIV grid, launch checked ----
 * scs is the device array of the E environments' scenarios. */

extern "C" int cloud_cuda_arrivals(const cloud_scenario *scs, int32_t n_agents,
                                   uint32_t env_offset, int64_t n_envs, uint64_t step,
                                   int32_t *work, uint8_t *burst, cudaStream_t stream)
{
    const int block = 256;
    int64_t total = n_envs * n_agents;
    if (total <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_arrivals_kernel<<<(unsigned)DGPG_CEIL_DIV(total, block), block, 0, stream>>>(
        scs, n_agents, env_offset, n_envs, step, work, burst);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_serve(const cloud_scenario *scs, int32_t n_pools,
                                uint32_t env_offset, int64_t n_envs, uint64_t step,
                                const int32_t *work, const int32_t *actions, const uint8_t *burst,
                                int64_t *dispatched, int64_t *queue, int64_t *last_queue,
                                cloud_step_flows *flows, float *reward, double *sums,
                                cudaStream_t stream)
{
    const int block = 256; /* threads over an environment's agents */
    if (n_envs <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_serve_kernel<<<(unsigned)n_envs, block, sizeof(unsigned long long) * (size_t)n_pools,
                         stream>>>(scs, env_offset, n_envs, step, work, actions, burst,
                                   dispatched, queue, last_queue, flows, reward, sums);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_observe(const cloud_scenario *scs, int32_t n_agents, int64_t n_envs,
                                  uint64_t step, const int32_t *work, const uint8_t *burst,
                                  const int64_t *queue, float *obs, cudaStream_t stream)
{
    const int block = 256;
    int64_t total = n_envs * n_agents;
    if (total <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_observe_kernel<<<(unsigned)DGPG_CEIL_DIV(total, block), block, 0, stream>>>(
        scs, n_agents, n_envs, step, work, burst, queue, obs);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_policy(const cloud_scenario *scs, int policy, int32_t n_agents,
                                 uint32_t env_offset, int64_t n_envs, uint64_t step,
                                 const uint8_t *burst, const int64_t *queue, const int32_t *work,
                                 int32_t *actions, double *scratch, cudaStream_t stream)
{
    const int block = 128;
    if (n_envs <= 0)
        return 0;
    if (cloud_policy_is_sequential((cloud_policy)policy)) {
        DGPG_LAUNCHED(1);
        cloud_policy_led_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, block), block, 0, stream>>>(
            scs, n_envs, queue, work, actions, scratch);
        CUDA_CHECK(cudaGetLastError());
        return 0;
    }
    DGPG_LAUNCHED(1);
    cloud_policy_prepare_kernel<<<(unsigned)n_envs, POLICY_PREPARE_BLOCK, 0, stream>>>(
        scs, policy, n_envs, step, burst, queue, work, scratch);
    const int64_t total = n_envs * n_agents;
    DGPG_LAUNCHED(1);
    cloud_policy_agent_kernel<<<(unsigned)DGPG_CEIL_DIV(total, 256), 256, 0, stream>>>(
        scs, policy, n_agents, env_offset, n_envs, step, queue, scratch, actions);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_validate(int64_t count, int32_t n_pools, uint64_t step,
                                   const int32_t *actions, cloud_bad_action *bad,
                                   cudaStream_t stream)
{
    const int block = 256;
    if (count <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_validate_kernel<<<(unsigned)DGPG_CEIL_DIV(count, block), block, 0, stream>>>(
        count, n_pools, step, actions, bad);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_state(const cloud_scenario *scs, int64_t n_envs, uint64_t step,
                                const uint8_t *burst, const int64_t *queue, float *state,
                                cudaStream_t stream)
{
    const int block = 128;
    if (n_envs <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_state_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, block), block, 0, stream>>>(
        scs, n_envs, step, burst, queue, state);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

/* ---- the cloud_mm1 model on the device (envs/cloud/cloud_model.h) ----------
 * state_reference selects model.reference: 1 = state (p*(s), the fluid
 * cost's marginal, the levelled reference, reading the backlogs), 0 =
 * static (the M/M/1 flows model and its square-root split of Lambda(t)),
 * as the CPU model in envs/cloud/cloud.c. Sums over agents are CUB block
 * reductions, so results equal the CPU's up to the order of the double
 * sums (then rounded to float). */

#define CLOUD_MODEL_BLOCK 256
typedef cub::BlockReduce<double, CLOUD_MODEL_BLOCK> cloud_model_reduce;

/* load (M) = sum_i w_i p_i[m] of one environment, work (N) and probs
 * (N, M), by block reductions in a fixed order; thread 0 writes each entry
 * and the barrier after it publishes it (and anything thread 0 wrote
 * before) to the block. Every thread of the block must call it. */
__device__ void cloud_model_block_expected_load(int32_t N, int32_t M, const int32_t *work,
                                                const float *probs, double *load,
                                                cloud_model_reduce::TempStorage &temp)
{
    for (int32_t m = 0; m < M; m++) {
        double part = 0.0;
        for (int32_t i = threadIdx.x; i < N; i += blockDim.x)
            part += (double)work[i] * (double)probs[(int64_t)i * M + m];
        double x = cloud_model_reduce(temp).Sum(part);
        if (threadIdx.x == 0)
            load[m] = x;
        __syncthreads();
    }
}

/* p_star (E, M) of the coming decision at `step`: one thread per
 * environment, in scratch (E, 2M). State: p*(s) of the backlogs queue (E, M)
 * and the step's work W = sum_i work (E, N), summed in agent order as the
 * CPU does; static: the water-filling of Lambda(t). */
__global__ void cloud_model_pstar_kernel(const cloud_scenario *scs, int64_t n_envs,
                                         uint64_t step, const uint8_t *burst,
                                         int state_reference, const int64_t *queue,
                                         const int32_t *work, float *p_star, double *scratch)
{
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n_envs)
        return;
    const cloud_scenario sc = scs[e];
    const int32_t N = sc.n_agents, M = sc.n_pools;
    double *p = scratch + e * 2 * M;
    if (state_reference) {
        double total_work = 0.0;
        for (int32_t i = 0; i < N; i++)
            total_work += (double)work[e * N + i];
        cloud_model_state_probs(M, sc.mu, queue + e * M, total_work, p);
    } else {
        cloud_model_optimal_probs(M, sc.mu, sc.order_desc, cloud_work_rate(&sc, step, burst[e]),
                                  p);
    }
    for (int32_t m = 0; m < M; m++)
        p_star[e * M + m] = (float)p[m];
}

/* grad (E, N, M) = dC/dp at probs (E, N, M): one block per environment,
 * sums over agents by CUB block reductions, then one thread per agent.
 * State: A_m = sum_i w_i p_i[m] of the coming decision's work (E, N), and
 * dC/dp_i[m] = w_i (Q_m + A_m) / mu_m / Lambda(t). Static: rates as the CPU
 * model, size_mean times the Poisson tables' lambdas, and the M/M/1
 * occupancy's slope. */
__global__ void cloud_model_cost_grad_kernel(const cloud_scenario *scs, uint64_t step,
                                             const uint8_t *burst, double barrier,
                                             int state_reference, const int64_t *queue,
                                             const int32_t *work, const float *probs,
                                             float *grad, double *scratch)
{
    __shared__ typename cloud_model_reduce::TempStorage temp;
    __shared__ double total_rate;
    const int64_t e = blockIdx.x;
    const cloud_scenario sc = scs[e];
    const int32_t N = sc.n_agents, M = sc.n_pools;
    const float *pe = probs + e * (int64_t)N * M;
    double *slope = scratch + e * 2 * M;
    if (state_reference) {
        const int32_t *we = work + e * N;
        const int64_t *qe = queue + e * M;
        cloud_model_block_expected_load(N, M, we, pe, slope, temp);
        if (threadIdx.x == 0)
            for (int32_t m = 0; m < M; m++)
                slope[m] = cloud_model_state_marginal(qe[m], slope[m], sc.mu[m]);
        __syncthreads();
        const double lambda_t = cloud_work_rate(&sc, step, burst[e]);
        for (int32_t i = threadIdx.x; i < N; i += blockDim.x)
            for (int32_t m = 0; m < M; m++)
                grad[(e * N + i) * M + m] = (float)((double)we[i] * slope[m] / lambda_t);
        return;
    }
    const dgpg_poisson_entry *table = (burst[e] ? sc.arrival_burst : sc.arrival) +
                                      (int64_t)cloud_day_index(&sc, step) * N;
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
 * expected under that step's probs (E, N, M) and work last_work (E, N): one
 * block per environment, reference and load in scratch (E, 2M). State: x~
 * the levelled post-dispatch state of the backlogs before that step's
 * dispatch, last_queue (E, M), and the work that arrived; static: p* of
 * Lambda(t) times that work. */
__global__ void cloud_model_influence_kernel(const cloud_scenario *scs, uint64_t last_step,
                                             const uint8_t *last_burst, int state_reference,
                                             const int64_t *last_queue,
                                             const cloud_step_flows *flows,
                                             const int32_t *last_work,
                                             const int32_t *last_actions, const float *probs,
                                             float *out, double *scratch)
{
    __shared__ typename cloud_model_reduce::TempStorage temp;
    const int64_t e = blockIdx.x;
    const cloud_scenario sc = scs[e];
    const int32_t N = sc.n_agents, M = sc.n_pools;
    double *reference = scratch + e * 2 * M, *load = reference + M;
    const int32_t *work = last_work + e * N;
    const int64_t *qe = last_queue + e * M;
    const float *pe = probs + e * (int64_t)N * M;
    if (threadIdx.x == 0) {
        const double arrived = (double)flows[e].arrived;
        if (state_reference) {
            cloud_model_state_reference(M, sc.mu, qe, arrived, reference);
        } else {
            cloud_model_optimal_probs(M, sc.mu, sc.order_desc,
                                      cloud_work_rate(&sc, last_step, last_burst[e]), reference);
            cloud_model_reference(M, reference, arrived, reference);
        }
    }
    /* its barriers also publish thread 0's reference */
    cloud_model_block_expected_load(N, M, work, pe, load, temp);
    for (int32_t i = threadIdx.x; i < N; i += blockDim.x) {
        const int32_t k = last_actions[e * N + i];
        if ((uint32_t)k >= (uint32_t)M) { /* refused: reported by the next sums */
            out[e * N + i] = 0.0f;
            continue;
        }
        out[e * N + i] =
            (float)(state_reference
                        ? cloud_model_state_influence(qe[k], load[k], sc.mu[k], reference[k],
                                                      work[i])
                        : cloud_model_influence(load, reference, k, work[i]));
    }
}

extern "C" int cloud_cuda_model_pstar(const cloud_scenario *scs, int64_t n_envs, uint64_t step,
                                      const uint8_t *burst, int state_reference,
                                      const int64_t *queue, const int32_t *work, float *p_star,
                                      double *scratch, cudaStream_t stream)
{
    const int block = 128;
    if (n_envs <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_model_pstar_kernel<<<(unsigned)DGPG_CEIL_DIV(n_envs, block), block, 0, stream>>>(
        scs, n_envs, step, burst, state_reference, queue, work, p_star, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_model_cost_grad(const cloud_scenario *scs, int64_t n_envs,
                                          uint64_t step, const uint8_t *burst, double barrier,
                                          int state_reference, const int64_t *queue,
                                          const int32_t *work, const float *probs, float *grad,
                                          double *scratch, cudaStream_t stream)
{
    if (n_envs <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_model_cost_grad_kernel<<<(unsigned)n_envs, CLOUD_MODEL_BLOCK, 0, stream>>>(
        scs, step, burst, barrier, state_reference, queue, work, probs, grad, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int cloud_cuda_model_influence(const cloud_scenario *scs, int64_t n_envs,
                                          uint64_t last_step, const uint8_t *last_burst,
                                          int state_reference, const int64_t *last_queue,
                                          const cloud_step_flows *flows,
                                          const int32_t *last_work, const int32_t *last_actions,
                                          const float *probs, float *out, double *scratch,
                                          cudaStream_t stream)
{
    if (n_envs <= 0)
        return 0;
    DGPG_LAUNCHED(1);
    cloud_model_influence_kernel<<<(unsigned)n_envs, CLOUD_MODEL_BLOCK, 0, stream>>>(
        scs, last_step, last_burst, state_reference, last_queue, flows, last_work,
        last_actions, probs, out, scratch);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}
