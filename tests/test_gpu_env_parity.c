/* test_gpu_env_parity.c (ctest label gpu) — the CUDA backend of the cloud
 * environment against the CPU backend, its executable reference: under the
 * same fixed action sequence (chosen by the CPU heuristics), the
 * observations, global states, rewards and statistics of every
 * environment must be bitwise equal at every step, and each heuristic's
 * actions computed on the device must equal the CPU's. Exact equality is
 * the contract: the environment's math uses only IEEE-exact operations
 * (kernels/rng.h). On a machine without a CUDA device the test reports
 * itself skipped (exit 77, ctest's SKIP_RETURN_CODE). */
#include "env_fixture.h"
#include "test.h"

#include <cuda_runtime.h>
#include <string.h>

#define E_ENVS 300 /* more than one block of every per-environment kernel */
#define T_STEPS 60

static int first_mismatch(const void *a, const void *b, size_t bytes, size_t elem)
{
    for (size_t k = 0; k < bytes / elem; k++)
        if (memcmp((const char *)a + k * elem, (const char *)b + k * elem, elem) != 0)
            return (int)k;
    return -1;
}

int main(void)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("SKIP test_gpu_env_parity: no CUDA device visible\n");
        return 77;
    }
    const char *sets[] = {"env.n_agents=37", "env.n_pools=5", "env.job_size=bimodal",
                          "env.burst_prob=0.3", "env.rho=1.05", "env.buffer_steps=3"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 6);
    const dgpg_env_api *cpu = &dgpg_cloud_env_api, *gpu = &dgpg_cloud_cuda_env_api;
    char err[256];
    /* environments 1000 .. 1000 + E - 1 of the batch: the global index
     * keys the randomness on both sides */
    void *host_env = fixture_env(&cfg, 5, 1000, E_ENVS, 1), *dev_env = NULL;
    if (gpu->create(NULL, &cfg, 5, 1000, E_ENVS, 0, &dev_env, err, sizeof err) != DGPG_OK) {
        fprintf(stderr, "FAIL: cuda create: %s\n", err);
        return 1;
    }
    const int N = 37, M = 5, OD = CLOUD_OBS_DIM(5), SD = CLOUD_STATE_DIM(5);
    const size_t n_obs = (size_t)E_ENVS * N * OD, n_state = (size_t)E_ENVS * SD;
    float *obs_c = malloc(sizeof(float) * n_obs), *obs_g = malloc(sizeof(float) * n_obs);
    float *state_c = malloc(sizeof(float) * n_state), *state_g = malloc(sizeof(float) * n_state);
    int32_t *act_c = malloc(sizeof(int32_t) * E_ENVS * N), *act_g = malloc(sizeof(int32_t) * E_ENVS * N);
    static float reward_c[E_ENVS], reward_g[E_ENVS];
    float *d_obs, *d_state, *d_reward;
    int32_t *d_act;
    if (cudaMalloc((void **)&d_obs, sizeof(float) * n_obs) != cudaSuccess ||
        cudaMalloc((void **)&d_state, sizeof(float) * n_state) != cudaSuccess ||
        cudaMalloc((void **)&d_reward, sizeof(float) * E_ENVS) != cudaSuccess ||
        cudaMalloc((void **)&d_act, sizeof(int32_t) * E_ENVS * N) != cudaSuccess) {
        fprintf(stderr, "FAIL: cudaMalloc\n");
        return 1;
    }
    CHECK_INT_EQ(cpu->reset(host_env, 2), DGPG_OK);
    CHECK_INT_EQ(gpu->reset(dev_env, 2), DGPG_OK);
    for (int t = 0; t < T_STEPS; t++) {
        CHECK_INT_EQ(cpu->observe(host_env, obs_c, state_c), DGPG_OK);
        CHECK_INT_EQ(gpu->observe(dev_env, d_obs, d_state), DGPG_OK);
        /* the instance works on its own non-blocking stream, which the
         * legacy default stream of cudaMemcpy does not wait for */
        cudaDeviceSynchronize();
        cudaMemcpy(obs_g, d_obs, sizeof(float) * n_obs, cudaMemcpyDeviceToHost);
        cudaMemcpy(state_g, d_state, sizeof(float) * n_state, cudaMemcpyDeviceToHost);
        int at = first_mismatch(obs_c, obs_g, sizeof(float) * n_obs, sizeof(float));
        CHECK_QUIET(at < 0, "step %d: observation element %d: cpu %g gpu %g", t, at,
                    at < 0 ? 0.0 : obs_c[at], at < 0 ? 0.0 : obs_g[at]);
        at = first_mismatch(state_c, state_g, sizeof(float) * n_state, sizeof(float));
        CHECK_QUIET(at < 0, "step %d: global state element %d", t, at);
        /* every heuristic on both sides, then step with the CPU's choice */
        for (int p = 0; p < CLOUD_POLICY_COUNT; p++) {
            CHECK_INT_EQ(cpu->policy_act(host_env, p, act_c), DGPG_OK);
            CHECK_INT_EQ(gpu->policy_act(dev_env, p, d_act), DGPG_OK);
            cudaDeviceSynchronize();
            cudaMemcpy(act_g, d_act, sizeof(int32_t) * E_ENVS * N, cudaMemcpyDeviceToHost);
            at = first_mismatch(act_c, act_g, sizeof(int32_t) * E_ENVS * N, sizeof(int32_t));
            CHECK_QUIET(at < 0, "step %d policy %s: action %d: cpu %d gpu %d", t,
                        cloud_policy_names[p], at, at < 0 ? 0 : act_c[at], at < 0 ? 0 : act_g[at]);
        }
        CHECK_INT_EQ(cpu->policy_act(host_env, t % CLOUD_POLICY_COUNT, act_c), DGPG_OK);
        cudaMemcpy(d_act, act_c, sizeof(int32_t) * E_ENVS * N, cudaMemcpyHostToDevice);
        CHECK_INT_EQ(cpu->step(host_env, act_c, reward_c), DGPG_OK);
        CHECK_INT_EQ(gpu->step(dev_env, d_act, d_reward), DGPG_OK);
        cudaDeviceSynchronize();
        cudaMemcpy(reward_g, d_reward, sizeof reward_g, cudaMemcpyDeviceToHost);
        at = first_mismatch(reward_c, reward_g, sizeof reward_c, sizeof(float));
        CHECK_QUIET(at < 0, "step %d: reward of env %d: cpu %.9g gpu %.9g", t, at,
                    at < 0 ? 0.0 : reward_c[at], at < 0 ? 0.0 : reward_g[at]);
    }
    static dgpg_env_stats st_c[E_ENVS], st_g[E_ENVS];
    CHECK_INT_EQ(cpu->stats(host_env, st_c), DGPG_OK);
    CHECK_INT_EQ(gpu->stats(dev_env, st_g), DGPG_OK);
    CHECK(memcmp(st_c, st_g, sizeof st_c) == 0);
    /* an action out of range is refused and moves nothing */
    cudaDeviceSynchronize();
    act_c[3] = M;
    cudaMemcpy(d_act, act_c, sizeof(int32_t) * E_ENVS * N, cudaMemcpyHostToDevice);
    CHECK_INT_EQ(gpu->step(dev_env, d_act, d_reward), DGPG_EINVAL);
    gpu->destroy(dev_env);
    cpu->destroy(host_env);
    cudaFree(d_obs);
    cudaFree(d_state);
    cudaFree(d_reward);
    cudaFree(d_act);
    free(obs_c);
    free(obs_g);
    free(state_c);
    free(state_g);
    free(act_c);
    free(act_g);
    return test_finish("gpu_env_parity");
}
