/* toy.c — a plug-in written outside dgpg, against its installed package
 * only (include/dgpg/dgpg.h): an environment, `toy`, its analytical model,
 * `toy_balance`, and a main that registers both and hands the command line
 * to dgpg_cli, so `toy_dgpg train --set env.name=toy --set
 * model.name=toy_balance` trains DG-PG on it and `toy_dgpg eval` compares
 * its heuristics.
 *
 * The task: N agents each send one unit of work per step to one of M
 * resources of capacities c_m = m + 1. The shared reward is minus the
 * congestion, sum_m (x_m / c_m)^2 / N with x_m the units resource m got:
 * scale-free in N. The efficient state gives every resource work in
 * proportion to its capacity, x~_m = N c_m / sum c, so the model's p* is
 * c / sum c for every agent and the guidance of agent i is
 * <x - x~, z_i>, z_i its own unit. Observations: the last step's load per
 * resource over its fair share (M values), for every agent alike.
 *
 * What the plug-in owns besides its methods: a config key, env.overload
 * (a resource is overloaded when its load exceeds that multiple of its
 * fair share; default 1.5), read from its parameter block, and its
 * statistics, whose ratio overload_rate (overloaded resource-steps over
 * resource-steps) becomes a column of the training log and of
 * `dgpg eval`. */
#include <dgpg/dgpg.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct toy_env {
    int64_t E;
    int32_t N, M;
    uint64_t rng;     /* splitmix64 state of the heuristics' draws */
    double *load;     /* (E, M) units this step */
    double *last;     /* (E, M) last step's load over its fair share */
    int32_t *actions; /* (E, N) the last step's actions */
    double overload;  /* env.overload */
    double *sums;     /* (E, TOY_WIDTH) since reset */
} toy_env;

/* The toy's keys, in its parameter block. */
typedef struct toy_params {
    double overload;
} toy_params;

static const dgpg_config_key toy_keys[] = {
    DGPG_REAL_KEY(toy_params, overload, 1, 1.0, 100.0, 0, "1.5",
                  "a resource is overloaded above this multiple of its fair share of the work"),
};

/* Statistics: reward and steps, then these sums. */
enum { TOY_OVERLOADED, TOY_RESOURCE_STEPS, TOY_SUMS };
#define TOY_WIDTH (2 + TOY_SUMS)
static const dgpg_stat_info toy_sum_info[TOY_SUMS] = {
    {"overloaded", "resource-steps", "resource-steps above env.overload times the fair share"},
    {"resource_steps", "resource-steps", "M per step"},
};
static const dgpg_stat_ratio toy_ratios[] = {
    {{"overload_rate", "1", "share of resource-steps above env.overload times the fair share"},
     TOY_OVERLOADED, TOY_RESOURCE_STEPS},
};

static double toy_capacity(int32_t m) { return (double)(m + 1); }

static double toy_capacity_sum(int32_t M) { return 0.5 * (double)M * (double)(M + 1); }

static int toy_read_int(const struct dgpg_config *cfg, const char *key, int64_t *out, char *err,
                        size_t err_len)
{
    char text[64];
    if (dgpg_config_value(cfg, key, text, sizeof text) != DGPG_OK) {
        snprintf(err, err_len, "toy: no config key %s", key);
        return DGPG_EINVAL;
    }
    *out = strtoll(text, NULL, 10);
    return DGPG_OK;
}

static void toy_destroy(void *instance)
{
    toy_env *env = instance;
    if (!env)
        return;
    free(env->load);
    free(env->last);
    free(env->actions);
    free(env->sums);
    free(env);
}

static int toy_create(void *user, const struct dgpg_config *cfg, uint64_t seed, int64_t offset,
                      int64_t n_envs, int threads, void **instance, char *err, size_t err_len)
{
    (void)user;
    (void)threads;
    int64_t n_agents, n_pools;
    const toy_params *params = dgpg_config_env_params(cfg);
    if (toy_read_int(cfg, "env.n_agents", &n_agents, err, err_len) != DGPG_OK ||
        toy_read_int(cfg, "env.n_pools", &n_pools, err, err_len) != DGPG_OK)
        return DGPG_EINVAL;
    if (!params) {
        snprintf(err, err_len, "toy: env.name = 'toy' expected in the config handed to create");
        return DGPG_EINVAL;
    }
    toy_env *env = calloc(1, sizeof *env);
    if (!env)
        return DGPG_ENOMEM;
    env->overload = params->overload;
    env->E = n_envs;
    env->N = (int32_t)n_agents;
    env->M = (int32_t)n_pools;
    env->rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)offset;
    env->load = calloc((size_t)(n_envs * n_pools), sizeof(double));
    env->last = calloc((size_t)(n_envs * n_pools), sizeof(double));
    env->actions = calloc((size_t)(n_envs * n_agents), sizeof(int32_t));
    env->sums = calloc((size_t)n_envs * TOY_WIDTH, sizeof(double));
    if (!env->load || !env->last || !env->actions || !env->sums) {
        toy_destroy(env);
        return DGPG_ENOMEM;
    }
    *instance = env;
    return DGPG_OK;
}

static int toy_dims(void *instance, dgpg_env_dims *dims)
{
    toy_env *env = instance;
    dims->n_envs = env->E;
    dims->n_agents = env->N;
    dims->n_actions = env->M;
    dims->obs_dim = env->M;
    dims->state_dim = env->M;
    return DGPG_OK;
}

static int toy_reset(void *instance, uint64_t episode)
{
    toy_env *env = instance;
    (void)episode;
    memset(env->last, 0, sizeof(double) * (size_t)(env->E * env->M));
    memset(env->sums, 0, sizeof(double) * TOY_WIDTH * (size_t)env->E);
    return DGPG_OK;
}

static int toy_observe(void *instance, float *obs, float *state)
{
    toy_env *env = instance;
    for (int64_t e = 0; e < env->E; e++) {
        const double *last = env->last + e * env->M;
        for (int32_t i = 0; i < env->N; i++)
            for (int32_t m = 0; m < env->M; m++)
                obs[(e * env->N + i) * env->M + m] = (float)last[m];
        if (state)
            for (int32_t m = 0; m < env->M; m++)
                state[e * env->M + m] = (float)last[m];
    }
    return DGPG_OK;
}

static int toy_step(void *instance, const int32_t *actions, float *reward)
{
    toy_env *env = instance;
    const double total_c = toy_capacity_sum(env->M);
    for (int64_t e = 0; e < env->E; e++) {
        double *load = env->load + e * env->M;
        memset(load, 0, sizeof(double) * (size_t)env->M);
        for (int32_t i = 0; i < env->N; i++) {
            const int32_t a = actions[e * env->N + i];
            if (a < 0 || a >= env->M)
                return DGPG_EINVAL;
            load[a] += 1.0;
            env->actions[e * env->N + i] = a;
        }
        double congestion = 0.0, overloaded = 0.0;
        for (int32_t m = 0; m < env->M; m++) {
            const double x = load[m] / toy_capacity(m);
            congestion += x * x;
            env->last[e * env->M + m] = load[m] / ((double)env->N * toy_capacity(m) / total_c);
            overloaded += env->last[e * env->M + m] > env->overload;
        }
        reward[e] = (float)(-congestion / (double)env->N);
        double *row = env->sums + e * TOY_WIDTH;
        row[0] += reward[e];
        row[1] += 1.0;
        row[2 + TOY_OVERLOADED] += overloaded;
        row[2 + TOY_RESOURCE_STEPS] += (double)env->M;
    }
    return DGPG_OK;
}

static int toy_sums(void *instance, double *per_env)
{
    toy_env *env = instance;
    memcpy(per_env, env->sums, sizeof(double) * TOY_WIDTH * (size_t)env->E);
    return DGPG_OK;
}

/* Heuristics: uniform at random, and the model's p* sampled per agent.
 * Built with -DTOY_WITHOUT_PSTAR the second is left out: training and
 * eval then draw their p* reference from the model itself (CPU backend;
 * tests/test_install.sh builds both). */
static const char *const toy_policies[] = {"random", "pstar"};
#ifdef TOY_WITHOUT_PSTAR
#define TOY_POLICIES 1
#else
#define TOY_POLICIES 2
#endif

static int toy_policy_count(void *instance)
{
    (void)instance;
    return TOY_POLICIES;
}

static const char *toy_policy_name(void *instance, int policy)
{
    (void)instance;
    return policy >= 0 && policy < TOY_POLICIES ? toy_policies[policy] : NULL;
}

static int toy_policy_find(void *instance, const char *name)
{
    (void)instance;
    for (int k = 0; k < TOY_POLICIES; k++)
        if (strcmp(name, toy_policies[k]) == 0)
            return k;
    return DGPG_ENOTFOUND;
}

static double toy_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static int toy_policy_act(void *instance, int policy, int32_t *actions)
{
    toy_env *env = instance;
    const double total_c = toy_capacity_sum(env->M);
    for (int64_t k = 0; k < env->E * env->N; k++) {
        const double u = toy_uniform(&env->rng);
        int32_t a = env->M - 1;
        if (policy == 0) {
            a = (int32_t)(u * env->M);
        } else {
            double cum = 0.0;
            for (int32_t m = 0; m < env->M; m++)
                if (u < (cum += toy_capacity(m) / total_c)) {
                    a = m;
                    break;
                }
        }
        actions[k] = a < env->M ? a : env->M - 1;
    }
    return DGPG_OK;
}

static const dgpg_env_api toy_env_api = {
    .version = DGPG_ENV_API_VERSION,
    .name = "toy",
    .create = toy_create,
    .destroy = toy_destroy,
    .dims = toy_dims,
    .reset = toy_reset,
    .observe = toy_observe,
    .step = toy_step,
    .policy_count = toy_policy_count,
    .policy_name = toy_policy_name,
    .policy_find = toy_policy_find,
    .policy_act = toy_policy_act,
    .config_keys = toy_keys,
    .n_config_keys = sizeof toy_keys / sizeof toy_keys[0],
    .params_size = sizeof(toy_params),
    .n_sums = TOY_SUMS,
    .sum_info = toy_sum_info,
    .n_ratios = sizeof toy_ratios / sizeof toy_ratios[0],
    .ratios = toy_ratios,
    .sums = toy_sums,
};

/* ---- the model: p* = c / sum c; C(p) = sum_m (x_m / c_m)^2 / N ---------- */
static int toy_model_create(void *user, const struct dgpg_config *cfg, void *env_instance,
                            void **instance, char *err, size_t err_len)
{
    (void)user;
    (void)cfg;
    (void)err;
    (void)err_len;
    *instance = env_instance; /* reads the environment's state, owns nothing */
    return DGPG_OK;
}

static void toy_model_destroy(void *instance) { (void)instance; }

static int toy_model_p_star(void *instance, int64_t e, double *p_star)
{
    toy_env *env = instance;
    (void)e;
    for (int32_t m = 0; m < env->M; m++)
        p_star[m] = toy_capacity(m) / toy_capacity_sum(env->M);
    return DGPG_OK;
}

static int toy_model_cost(void *instance, int64_t e, const double *probs, double *cost,
                          double *grad)
{
    toy_env *env = instance;
    (void)e;
    *cost = 0.0;
    for (int32_t m = 0; m < env->M; m++) {
        double x = 0.0;
        for (int32_t i = 0; i < env->N; i++)
            x += probs[i * env->M + m];
        const double c = toy_capacity(m);
        *cost += (x / c) * (x / c) / (double)env->N;
        for (int32_t i = 0; grad && i < env->N; i++)
            grad[i * env->M + m] = 2.0 * x / (c * c * (double)env->N);
    }
    return DGPG_OK;
}

static int toy_model_p_star_batch(void *instance, float *p_star)
{
    toy_env *env = instance;
    double p[64];
    if (env->M > 64)
        return DGPG_EINVAL;
    toy_model_p_star(instance, 0, p);
    for (int64_t e = 0; e < env->E; e++)
        for (int32_t m = 0; m < env->M; m++)
            p_star[e * env->M + m] = (float)p[m];
    return DGPG_OK;
}

static int toy_model_cost_grad_batch(void *instance, const float *probs, float *grad)
{
    toy_env *env = instance;
    for (int64_t e = 0; e < env->E; e++)
        for (int32_t m = 0; m < env->M; m++) {
            double x = 0.0;
            for (int32_t i = 0; i < env->N; i++)
                x += probs[(e * env->N + i) * env->M + m];
            const double c = toy_capacity(m);
            for (int32_t i = 0; i < env->N; i++)
                grad[(e * env->N + i) * env->M + m] = (float)(2.0 * x / (c * c * env->N));
        }
    return DGPG_OK;
}

/* <x - x~, z_i> of the step just taken: x the expected load under probs,
 * x~ = N c / sum c, z_i agent i's unit on the resource it chose. */
static int toy_model_influence_batch(void *instance, const float *probs, float *out)
{
    toy_env *env = instance;
    const double total_c = toy_capacity_sum(env->M);
    double x[64];
    if (env->M > 64)
        return DGPG_EINVAL;
    for (int64_t e = 0; e < env->E; e++) {
        for (int32_t m = 0; m < env->M; m++) {
            x[m] = -(double)env->N * toy_capacity(m) / total_c;
            for (int32_t i = 0; i < env->N; i++)
                x[m] += probs[(e * env->N + i) * env->M + m];
        }
        for (int32_t i = 0; i < env->N; i++)
            out[e * env->N + i] = (float)x[env->actions[e * env->N + i]];
    }
    return DGPG_OK;
}

static const dgpg_model_api toy_model_api = {
    .version = DGPG_MODEL_API_VERSION,
    .name = "toy_balance",
    .env_name = "toy",
    .create = toy_model_create,
    .destroy = toy_model_destroy,
    .optimal_probs = toy_model_p_star,
    .cost = toy_model_cost,
    .optimal_probs_batch = toy_model_p_star_batch,
    .cost_grad_batch = toy_model_cost_grad_batch,
    .influence_batch = toy_model_influence_batch,
};

int main(int argc, char **argv)
{
    if (dgpg_register_env(&toy_env_api) != DGPG_OK ||
        dgpg_register_model(&toy_model_api) != DGPG_OK) {
        fprintf(stderr, "toy_dgpg: registering the toy plug-ins failed: %s\n",
                dgpg_registry_error());
        return 1;
    }
    return dgpg_cli(argc, argv);
}
