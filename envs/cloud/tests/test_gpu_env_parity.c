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
 * On a machine without a CUDA device the test reports itself skipped
 * (exit 77, ctest's SKIP_RETURN_CODE). */
#include "env_fixture.h"
#include "test.h"
#include "test_gpu.h"

#include <cuda_runtime.h>
#include <string.h>

#define E_ENVS 300 /* more than one block of every per-environment kernel */
#define N_AGENTS 37
#define M_POOLS 5

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
        double w[M_POOLS], total = 0.0;
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
    float reward_c[E_ENVS], reward_g[E_ENVS];
    float *d_obs, *d_state, *d_reward, *d_probs, *d_out;
    int32_t *d_act;
    uint64_t lcg;
} parity;

static const char *const reference_names[2] = {"state", "static"};

#define N_OBS ((size_t)E_ENVS * N_AGENTS * CLOUD_OBS_DIM(M_POOLS))
#define N_STATE ((size_t)E_ENVS * CLOUD_STATE_DIM(M_POOLS))
#define N_ACT ((size_t)E_ENVS * N_AGENTS)
#define N_PROBS ((size_t)E_ENVS * N_AGENTS * M_POOLS)

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
        const size_t n_pstar = (size_t)E_ENVS * M_POOLS;
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
        fill_probs(P->probs, N_ACT, M_POOLS, &P->lcg);
        cudaMemcpy(P->d_probs, P->probs, sizeof(float) * N_PROBS, cudaMemcpyHostToDevice);
        compare_model_before_step(P, episode, t);
        CHECK_INT_EQ(P->cpu->policy_act(P->host_env, t % CLOUD_POLICY_COUNT, P->act_c), DGPG_OK);
        cudaMemcpy(P->d_act, P->act_c, sizeof(int32_t) * N_ACT, cudaMemcpyHostToDevice);
        CHECK_INT_EQ(P->cpu->step(P->host_env, P->act_c, P->reward_c), DGPG_OK);
        CHECK_INT_EQ(P->gpu->step(P->dev_env, P->d_act, P->d_reward), DGPG_OK);
        device_to_host(P->reward_g, P->d_reward, sizeof P->reward_g);
        at = first_mismatch(P->reward_c, P->reward_g, sizeof P->reward_c, sizeof(float));
        CHECK_QUIET(at < 0, "%s episode %d step %d: reward of env %d: cpu %.9g gpu %.9g",
                    P->label, episode, t, at, at < 0 ? 0.0 : P->reward_c[at],
                    at < 0 ? 0.0 : P->reward_g[at]);
        compare_model_after_step(P, episode, t);
    }
    static double st_c[E_ENVS * CLOUD_SUMS_WIDTH], st_g[E_ENVS * CLOUD_SUMS_WIDTH];
    CHECK_INT_EQ(P->cpu->sums(P->host_env, st_c), DGPG_OK);
    CHECK_INT_EQ(P->gpu->sums(P->dev_env, st_g), DGPG_OK);
    CHECK(memcmp(st_c, st_g, sizeof st_c) == 0);
}

/* The CPU and CUDA instances of environments 1000 .. 1000 + E - 1 (the
 * global index keys the randomness and the sampled scenarios on both
 * sides), their models of both references, and the episodes in turn. */
static void run_case(const char *label, const dgpg_config *cfg, const dgpg_config *cfg_static,
                     const int *episodes, const int *steps, int n_episodes)
{
    static parity P;
    memset(&P, 0, sizeof P);
    P.label = label;
    P.cpu = &dgpg_cloud_env_api;
    P.gpu = &dgpg_cloud_cuda_env_api;
    P.lcg = 0x9e3779b97f4a7c15ULL;
    char err[256];
    P.host_env = fixture_env(cfg, 5, 1000, E_ENVS, 1);
    if (P.gpu->create(NULL, cfg, 5, 1000, E_ENVS, 0, &P.dev_env, err, sizeof err) != DGPG_OK) {
        fprintf(stderr, "FAIL: %s: cuda create: %s\n", label, err);
        exit(1);
    }
    const dgpg_config *model_cfg[2] = {cfg, cfg_static};
    for (int r = 0; r < 2; r++) {
        if (dgpg_cloud_model_api.create(NULL, model_cfg[r], P.host_env, &P.cpu_model[r], err,
                                        sizeof err) != DGPG_OK ||
            dgpg_cloud_cuda_model_api.create(NULL, model_cfg[r], P.dev_env, &P.gpu_model[r],
                                             err, sizeof err) != DGPG_OK) {
            fprintf(stderr, "FAIL: %s: model create (%s): %s\n", label, reference_names[r], err);
            exit(1);
        }
    }
    P.obs_c = malloc(sizeof(float) * N_OBS);
    P.obs_g = malloc(sizeof(float) * N_OBS);
    P.state_c = malloc(sizeof(float) * N_STATE);
    P.state_g = malloc(sizeof(float) * N_STATE);
    P.probs = malloc(sizeof(float) * N_PROBS);
    P.out_c = malloc(sizeof(float) * N_PROBS);
    P.out_g = malloc(sizeof(float) * N_PROBS);
    P.act_c = malloc(sizeof(int32_t) * N_ACT);
    P.act_g = malloc(sizeof(int32_t) * N_ACT);
    if (!P.obs_c || !P.obs_g || !P.state_c || !P.state_g || !P.probs || !P.out_c || !P.out_g ||
        !P.act_c || !P.act_g ||
        cudaMalloc((void **)&P.d_obs, sizeof(float) * N_OBS) != cudaSuccess ||
        cudaMalloc((void **)&P.d_state, sizeof(float) * N_STATE) != cudaSuccess ||
        cudaMalloc((void **)&P.d_reward, sizeof(float) * E_ENVS) != cudaSuccess ||
        cudaMalloc((void **)&P.d_probs, sizeof(float) * N_PROBS) != cudaSuccess ||
        cudaMalloc((void **)&P.d_out, sizeof(float) * N_PROBS) != cudaSuccess ||
        cudaMalloc((void **)&P.d_act, sizeof(int32_t) * N_ACT) != cudaSuccess) {
        fprintf(stderr, "FAIL: %s: out of memory\n", label);
        exit(1);
    }
    const int sampled = strcmp(cfg->env.scenarios, "sampled") == 0;
    uint64_t previous_seed = 0;
    for (int k = 0; k < n_episodes; k++) {
        run_episode(&P, episodes[k], steps[k]);
        /* the comparison means something only if the scenarios are what
         * the case says: sampled, each environment its own, new with a
         * new episode; fixed, one */
        const cloud_scenario *scs = cloud_instance_scenarios(P.host_env);
        CHECK_INT_EQ(scs[0].seed != scs[E_ENVS - 1].seed, sampled);
        if (k > 0)
            CHECK_INT_EQ(scs[0].seed != previous_seed, sampled && episodes[k] != episodes[k - 1]);
        previous_seed = scs[0].seed;
    }
    /* an action out of range is refused and moves nothing */
    cudaDeviceSynchronize();
    P.act_c[3] = M_POOLS;
    cudaMemcpy(P.d_act, P.act_c, sizeof(int32_t) * N_ACT, cudaMemcpyHostToDevice);
    CHECK_INT_EQ(P.gpu->step(P.dev_env, P.d_act, P.d_reward), DGPG_EINVAL);
    for (int r = 0; r < 2; r++) {
        dgpg_cloud_cuda_model_api.destroy(P.gpu_model[r]);
        dgpg_cloud_model_api.destroy(P.cpu_model[r]);
    }
    P.gpu->destroy(P.dev_env);
    P.cpu->destroy(P.host_env);
    cudaFree(P.d_obs);
    cudaFree(P.d_state);
    cudaFree(P.d_reward);
    cudaFree(P.d_probs);
    cudaFree(P.d_out);
    cudaFree(P.d_act);
    free(P.obs_c);
    free(P.obs_g);
    free(P.state_c);
    free(P.state_g);
    free(P.probs);
    free(P.out_c);
    free(P.out_g);
    free(P.act_c);
    free(P.act_g);
}

int main(void)
{
    const int unavailable = test_gpu_unavailable("test_gpu_env_parity");
    if (unavailable)
        return unavailable;
    /* the configs outlive the instances (the CPU one keeps a pointer) */
    static dgpg_config sampled, sampled_static, fixed, fixed_static;
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
    run_case("sampled", &sampled, &sampled_static, sampled_episodes, sampled_steps, 3);
    const int fixed_episodes[] = {2, 3}, fixed_steps[] = {30, 20};
    run_case("fixed", &fixed, &fixed_static, fixed_episodes, fixed_steps, 2);
    return test_finish("gpu_env_parity");
}
