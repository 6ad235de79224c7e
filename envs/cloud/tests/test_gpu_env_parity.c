/* test_gpu_env_parity.c (ctest label gpu) — the CUDA backend of the cloud
 * environment and its cloud_mm1 model against the CPU backend, their
 * executable reference.
 *
 * Environment: under the same fixed action sequence (chosen by the CPU
 * heuristics), the observations, global states, rewards and statistics of
 * every environment must be bitwise equal at every step, and each
 * heuristic's actions computed on the device (pstar_state included) must
 * equal the CPU's. Exact equality is the contract: the environment's math
 * uses only IEEE-exact operations (kernels/rng.h). It runs under
 * env.scenarios = sampled (a scenario per environment, rebuilt at each
 * reset: episode 2, then a second episode 3, then episode 3 again, which
 * keeps the scenarios) and under fixed (one scenario for all).
 *
 * Model: at every step, for model.reference = state and static, p* and the
 * cost gradient at the same probabilities, and after the step the
 * influence <x - x~, z_i> under those probabilities, must agree with the
 * CPU model's to float rounding: the device sums over agents in another
 * order (CUB block reductions), so the doubles may differ in their last
 * bits before they are rounded to float.
 *
 * Cases: sampled and fixed scenarios at E = 300, N = 37, M = 5 (more than
 * one block of every per-environment kernel), and a large one, E = 64,
 * N = 1000, M = 8 (several blocks per kernel over agents too).
 *
 * On a machine without a CUDA device the test reports itself skipped
 * (exit 77, ctest's SKIP_RETURN_CODE; a failure under DGPG_REQUIRE_GPU). */
#include "env_fixture.h"
#include "test.h"
#include "test_gpu.h"

#include <cuda_runtime.h>
#include <string.h>

#define M_MAX 64 /* pools of any case, for fill_probs */

static int first_mismatch(const void *a, const void *b, size_t bytes, size_t elem)
{
    for (size_t k = 0; k < bytes / elem; k++)
        if (memcmp((const char *)a + k * elem, (const char *)b + k * elem, elem) != 0)
            return (int)k;
    return -1;
}

/* The model's outputs: the same doubles up to summation order, then float
 * rounding; 1e-5 relative leaves room for a last-bit difference of the
 * double sums to carry through a cancellation of a few digits. */
static int first_far(const float *cpu, const float *gpu, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        double a = cpu[k], b = gpu[k];
        if (!(fabs(a - b) <= 1e-5 * fabs(a) + 1e-6))
            return (int)k;
    }
    return -1;
}

/* Probabilities (E, N, M) for the model: rows of positive weights,
 * normalised, different at every step (a 64-bit LCG). */
static void fill_probs(float *probs, size_t rows, int M, uint64_t *state)
{
    for (size_t r = 0; r < rows; r++) {
        double w[M_MAX], total = 0.0;
        for (int m = 0; m < M; m++) {
            *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
            w[m] = 0.02 + (double)(*state >> 11) * 0x1.0p-53;
            total += w[m];
        }
        for (int m = 0; m < M; m++)
            probs[r * (size_t)M + (size_t)m] = (float)(w[m] / total);
    }
}

typedef struct parity {
    const char *label;
    const dgpg_env_api *cpu, *gpu;
    void *host_env, *dev_env;
    void *cpu_model[2], *gpu_model[2]; /* [0] reference = state, [1] static */
    float *obs_c, *obs_g, *state_c, *state_g, *probs, *out_c, *out_g;
    int32_t *act_c, *act_g;
    float *reward_c, *reward_g;
    double *sums_c, *sums_g;
    float *d_obs, *d_state, *d_reward, *d_probs, *d_out;
    int32_t *d_act;
    uint64_t lcg;
    size_t E, N, M; /* the case's sizes */
} parity;

static const char *const reference_names[2] = {"state", "static"};

#define N_OBS (P->E * P->N * (size_t)CLOUD_OBS_DIM(P->M))
#define N_STATE (P->E * (size_t)CLOUD_STATE_DIM(P->M))
#define N_ACT (P->E * P->N)
#define N_PROBS (P->E * P->N * P->M)

/* Copies device floats back after the instance's stream is done with them. */
static void device_to_host(void *host, const void *device, size_t bytes)
{
    cudaDeviceSynchronize();
    cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost);
}

/* p* and the cost gradient of the coming decision, both references. */
static void compare_model_before_step(parity *P, int episode, int t)
{
    const dgpg_model_api *mc = &dgpg_cloud_model_api, *mg = &dgpg_cloud_cuda_model_api;
    for (int r = 0; r < 2; r++) {
        const size_t n_pstar = P->E * P->M;
        CHECK_INT_EQ(mc->optimal_probs_batch(P->cpu_model[r], P->out_c), DGPG_OK);
        CHECK_INT_EQ(mg->optimal_probs_batch(P->gpu_model[r], P->d_out), DGPG_OK);
        device_to_host(P->out_g, P->d_out, sizeof(float) * n_pstar);
        int at = first_far(P->out_c, P->out_g, n_pstar);
        CHECK_QUIET(at < 0, "%s episode %d step %d: p* (%s) element %d: cpu %.9g gpu %.9g",
                    P->label, episode, t, reference_names[r], at, at < 0 ? 0.0 : P->out_c[at],
                    at < 0 ? 0.0 : P->out_g[at]);
        CHECK_INT_EQ(mc->cost_grad_batch(P->cpu_model[r], P->probs, P->out_c), DGPG_OK);
        CHECK_INT_EQ(mg->cost_grad_batch(P->gpu_model[r], P->d_probs, P->d_out), DGPG_OK);
        device_to_host(P->out_g, P->d_out, sizeof(float) * N_PROBS);
        at = first_far(P->out_c, P->out_g, N_PROBS);
        CHECK_QUIET(at < 0, "%s episode %d step %d: cost grad (%s) element %d: cpu %.9g gpu %.9g",
                    P->label, episode, t, reference_names[r], at, at < 0 ? 0.0 : P->out_c[at],
                    at < 0 ? 0.0 : P->out_g[at]);
    }
}

/* The influence of the step just taken under the same probabilities. */
static void compare_model_after_step(parity *P, int episode, int t)
{
    const dgpg_model_api *mc = &dgpg_cloud_model_api, *mg = &dgpg_cloud_cuda_model_api;
    for (int r = 0; r < 2; r++) {
        CHECK_INT_EQ(mc->influence_batch(P->cpu_model[r], P->probs, P->out_c), DGPG_OK);
        CHECK_INT_EQ(mg->influence_batch(P->gpu_model[r], P->d_probs, P->d_out), DGPG_OK);
        device_to_host(P->out_g, P->d_out, sizeof(float) * N_ACT);
        int at = first_far(P->out_c, P->out_g, N_ACT);
        CHECK_QUIET(at < 0, "%s episode %d step %d: influence (%s) element %d: cpu %.9g gpu %.9g",
                    P->label, episode, t, reference_names[r], at, at < 0 ? 0.0 : P->out_c[at],
                    at < 0 ? 0.0 : P->out_g[at]);
    }
}

/* One episode in lock step from reset(episode). */
static void run_episode(parity *P, int episode, int steps)
{
    CHECK_INT_EQ(P->cpu->reset(P->host_env, (uint64_t)episode), DGPG_OK);
    CHECK_INT_EQ(P->gpu->reset(P->dev_env, (uint64_t)episode), DGPG_OK);
    for (int t = 0; t < steps; t++) {
        CHECK_INT_EQ(P->cpu->observe(P->host_env, P->obs_c, P->state_c), DGPG_OK);
        CHECK_INT_EQ(P->gpu->observe(P->dev_env, P->d_obs, P->d_state), DGPG_OK);
        /* the legacy default stream of cudaMemcpy and the instance's own
         * stream are ordered, but a bound stream might not be: wait */
        device_to_host(P->obs_g, P->d_obs, sizeof(float) * N_OBS);
        device_to_host(P->state_g, P->d_state, sizeof(float) * N_STATE);
        int at = first_mismatch(P->obs_c, P->obs_g, sizeof(float) * N_OBS, sizeof(float));
        CHECK_QUIET(at < 0, "%s episode %d step %d: observation element %d: cpu %g gpu %g",
                    P->label, episode, t, at, at < 0 ? 0.0 : P->obs_c[at],
                    at < 0 ? 0.0 : P->obs_g[at]);
        at = first_mismatch(P->state_c, P->state_g, sizeof(float) * N_STATE, sizeof(float));
        CHECK_QUIET(at < 0, "%s episode %d step %d: global state element %d", P->label, episode,
                    t, at);
        /* every heuristic on both sides, then step with the CPU's choice */
        for (int p = 0; p < CLOUD_POLICY_COUNT; p++) {
            CHECK_INT_EQ(P->cpu->policy_act(P->host_env, p, P->act_c), DGPG_OK);
            CHECK_INT_EQ(P->gpu->policy_act(P->dev_env, p, P->d_act), DGPG_OK);
            device_to_host(P->act_g, P->d_act, sizeof(int32_t) * N_ACT);
            at = first_mismatch(P->act_c, P->act_g, sizeof(int32_t) * N_ACT, sizeof(int32_t));
            CHECK_QUIET(at < 0, "%s episode %d step %d policy %s: action %d: cpu %d gpu %d",
                        P->label, episode, t, cloud_policy_names[p], at,
                        at < 0 ? 0 : P->act_c[at], at < 0 ? 0 : P->act_g[at]);
        }
        fill_probs(P->probs, N_ACT, (int)P->M, &P->lcg);
        cudaMemcpy(P->d_probs, P->probs, sizeof(float) * N_PROBS, cudaMemcpyHostToDevice);
        compare_model_before_step(P, episode, t);
        CHECK_INT_EQ(P->cpu->policy_act(P->host_env, t % CLOUD_POLICY_COUNT, P->act_c), DGPG_OK);
        cudaMemcpy(P->d_act, P->act_c, sizeof(int32_t) * N_ACT, cudaMemcpyHostToDevice);
        CHECK_INT_EQ(P->cpu->step(P->host_env, P->act_c, P->reward_c), DGPG_OK);
        CHECK_INT_EQ(P->gpu->step(P->dev_env, P->d_act, P->d_reward), DGPG_OK);
        device_to_host(P->reward_g, P->d_reward, sizeof(float) * P->E);
        at = first_mismatch(P->reward_c, P->reward_g, sizeof(float) * P->E, sizeof(float));
        CHECK_QUIET(at < 0, "%s episode %d step %d: reward of env %d: cpu %.9g gpu %.9g",
                    P->label, episode, t, at, at < 0 ? 0.0 : P->reward_c[at],
                    at < 0 ? 0.0 : P->reward_g[at]);
        compare_model_after_step(P, episode, t);
    }
    CHECK_INT_EQ(P->cpu->sums(P->host_env, P->sums_c), DGPG_OK);
    CHECK_INT_EQ(P->gpu->sums(P->dev_env, P->sums_g), DGPG_OK);
    CHECK(memcmp(P->sums_c, P->sums_g, sizeof(double) * CLOUD_SUMS_WIDTH * P->E) == 0);
}

/* The CPU and CUDA instances of environments 1000 .. 1000 + E - 1 (the
 * global index keys the randomness and the sampled scenarios on both
 * sides), their models of both references, and the episodes in turn; E
 * environments of the configs' N agents and M pools. */
static void run_case(const char *label, const dgpg_config *cfg, const dgpg_config *cfg_static,
                     int64_t E_envs, const int *episodes, const int *steps, int n_episodes)
{
    static parity the_case;
    parity *P = &the_case;
    memset(P, 0, sizeof *P);
    P->label = label;
    P->E = (size_t)E_envs;
    P->N = (size_t)cfg->env.n_agents;
    P->M = (size_t)cfg->env.n_pools;
    if (P->M > M_MAX) {
        fprintf(stderr, "FAIL: %s: M = %zu; allowed: at most %d\n", label, P->M, M_MAX);
        exit(1);
    }
    P->cpu = &dgpg_cloud_env_api;
    P->gpu = &dgpg_cloud_cuda_env_api;
    P->lcg = 0x9e3779b97f4a7c15ULL;
    char err[256];
    P->host_env = fixture_env(cfg, 5, 1000, E_envs, 1);
    if (P->gpu->create(NULL, cfg, 5, 1000, E_envs, 0, &P->dev_env, err, sizeof err) != DGPG_OK) {
        fprintf(stderr, "FAIL: %s: cuda create: %s\n", label, err);
        exit(1);
    }
    const dgpg_config *model_cfg[2] = {cfg, cfg_static};
    for (int r = 0; r < 2; r++) {
        if (dgpg_cloud_model_api.create(NULL, model_cfg[r], P->host_env, &P->cpu_model[r], err,
                                        sizeof err) != DGPG_OK ||
            dgpg_cloud_cuda_model_api.create(NULL, model_cfg[r], P->dev_env, &P->gpu_model[r],
                                             err, sizeof err) != DGPG_OK) {
            fprintf(stderr, "FAIL: %s: model create (%s): %s\n", label, reference_names[r], err);
            exit(1);
        }
    }
    P->obs_c = malloc(sizeof(float) * N_OBS);
    P->obs_g = malloc(sizeof(float) * N_OBS);
    P->state_c = malloc(sizeof(float) * N_STATE);
    P->state_g = malloc(sizeof(float) * N_STATE);
    P->probs = malloc(sizeof(float) * N_PROBS);
    P->out_c = malloc(sizeof(float) * N_PROBS);
    P->out_g = malloc(sizeof(float) * N_PROBS);
    P->act_c = malloc(sizeof(int32_t) * N_ACT);
    P->act_g = malloc(sizeof(int32_t) * N_ACT);
    P->reward_c = malloc(sizeof(float) * P->E);
    P->reward_g = malloc(sizeof(float) * P->E);
    P->sums_c = malloc(sizeof(double) * CLOUD_SUMS_WIDTH * P->E);
    P->sums_g = malloc(sizeof(double) * CLOUD_SUMS_WIDTH * P->E);
    if (!P->obs_c || !P->obs_g || !P->state_c || !P->state_g || !P->probs || !P->out_c || !P->out_g ||
        !P->act_c || !P->act_g || !P->reward_c || !P->reward_g || !P->sums_c || !P->sums_g ||
        cudaMalloc((void **)&P->d_obs, sizeof(float) * N_OBS) != cudaSuccess ||
        cudaMalloc((void **)&P->d_state, sizeof(float) * N_STATE) != cudaSuccess ||
        cudaMalloc((void **)&P->d_reward, sizeof(float) * P->E) != cudaSuccess ||
        cudaMalloc((void **)&P->d_probs, sizeof(float) * N_PROBS) != cudaSuccess ||
        cudaMalloc((void **)&P->d_out, sizeof(float) * N_PROBS) != cudaSuccess ||
        cudaMalloc((void **)&P->d_act, sizeof(int32_t) * N_ACT) != cudaSuccess) {
        fprintf(stderr, "FAIL: %s: out of memory\n", label);
        exit(1);
    }
    const int sampled = strcmp(cfg->env.scenarios, "sampled") == 0;
    uint64_t previous_seed = 0;
    for (int k = 0; k < n_episodes; k++) {
        run_episode(P, episodes[k], steps[k]);
        /* the comparison means something only if the scenarios are what
         * the case says: sampled, each environment its own, new with a
         * new episode; fixed, one */
        const cloud_scenario *scs = cloud_instance_scenarios(P->host_env);
        CHECK_INT_EQ(scs[0].seed != scs[P->E - 1].seed, sampled);
        if (k > 0)
            CHECK_INT_EQ(scs[0].seed != previous_seed, sampled && episodes[k] != episodes[k - 1]);
        previous_seed = scs[0].seed;
    }
    /* an action out of range: the step goes on without a host wait, its
     * environment does not move, and sums reports it */
    cudaDeviceSynchronize();
    CHECK_INT_EQ(P->gpu->sums(P->dev_env, P->sums_c), DGPG_OK);
    P->act_c[3] = (int32_t)P->M;
    cudaMemcpy(P->d_act, P->act_c, sizeof(int32_t) * N_ACT, cudaMemcpyHostToDevice);
    CHECK_INT_EQ(P->gpu->step(P->dev_env, P->d_act, P->d_reward), DGPG_OK);
    CHECK_INT_EQ(P->gpu->sums(P->dev_env, P->sums_g), DGPG_EINVAL);
    /* environment 0 (agent 3's) kept its sums; the others took the step */
    CHECK(memcmp(P->sums_c, P->sums_g, sizeof(double) * CLOUD_SUMS_WIDTH) == 0);
    CHECK(P->sums_g[CLOUD_SUMS_WIDTH + 1] == P->sums_c[CLOUD_SUMS_WIDTH + 1] + 1.0);
    for (int r = 0; r < 2; r++) {
        dgpg_cloud_cuda_model_api.destroy(P->gpu_model[r]);
        dgpg_cloud_model_api.destroy(P->cpu_model[r]);
    }
    P->gpu->destroy(P->dev_env);
    P->cpu->destroy(P->host_env);
    cudaFree(P->d_obs);
    cudaFree(P->d_state);
    cudaFree(P->d_reward);
    cudaFree(P->d_probs);
    cudaFree(P->d_out);
    cudaFree(P->d_act);
    free(P->obs_c);
    free(P->obs_g);
    free(P->state_c);
    free(P->state_g);
    free(P->probs);
    free(P->out_c);
    free(P->out_g);
    free(P->act_c);
    free(P->act_g);
    free(P->reward_c);
    free(P->reward_g);
    free(P->sums_c);
    free(P->sums_g);
}

int main(void)
{
    const int unavailable = test_gpu_unavailable("test_gpu_env_parity");
    if (unavailable)
        return unavailable;
    /* the configs outlive the instances */
    static dgpg_config sampled, sampled_static, fixed, fixed_static, large, large_static;
    const char *sets[] = {"env.n_agents=37", "env.n_pools=5", "env.job_size=bimodal",
                          "env.burst_prob=0.3", "env.rho=1.05", "env.buffer_steps=3",
                          "env.scenarios=sampled", "model.reference=state"};
    const int n_sets = (int)(sizeof sets / sizeof sets[0]);
    fixture_config(&sampled, sets, n_sets);
    sets[n_sets - 1] = "model.reference=static";
    fixture_config(&sampled_static, sets, n_sets);
    sets[n_sets - 2] = "env.scenarios=fixed";
    fixture_config(&fixed_static, sets, n_sets);
    sets[n_sets - 1] = "model.reference=state";
    fixture_config(&fixed, sets, n_sets);
    /* sampled: a reset to a second episode rebuilds every scenario; a
     * reset to the same episode keeps them */
    const int sampled_episodes[] = {2, 3, 3}, sampled_steps[] = {60, 40, 10};
    run_case("sampled", &sampled, &sampled_static, 300, sampled_episodes, sampled_steps, 3);
    const int fixed_episodes[] = {2, 3}, fixed_steps[] = {30, 20};
    run_case("fixed", &fixed, &fixed_static, 300, fixed_episodes, fixed_steps, 2);
    /* large: N = 1000 agents, E = 64, M = 8, sampled, a few steps */
    const char *large_sets[] = {"env.n_agents=1000", "env.n_pools=8", "env.job_size=bimodal",
                                "env.burst_prob=0.3", "env.rho=1.05", "env.buffer_steps=3",
                                "env.scenarios=sampled", "model.reference=state"};
    const int n_large = (int)(sizeof large_sets / sizeof large_sets[0]);
    fixture_config(&large, large_sets, n_large);
    large_sets[n_large - 1] = "model.reference=static";
    fixture_config(&large_static, large_sets, n_large);
    const int large_episodes[] = {4}, large_steps[] = {8};
    run_case("large", &large, &large_static, 64, large_episodes, large_steps, 1);
    return test_finish("gpu_env_parity");
}
