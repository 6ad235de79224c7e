/* cloud.c — the `cloud` environment and `cloud_mm1` model on the CPU
 * backend: scenario construction (host, once), and batch methods that loop
 * the kernels/ functions over E environments with OpenMP. Environments are
 * independent and every per-environment result is written to its own slot,
 * so results are bitwise identical for any thread count. */
#include "cloud.h"

#include "poisson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

const char *const cloud_policy_names[CLOUD_POLICY_COUNT] = {
    "random", "capacity", "round_robin", "jsq", "power_of_two", "led", "pstar", "pstar_state"};

/* Scenario storage: `slots` scenarios, slot-major (slot s's pools at s M,
 * its rate tables at s D N, its day tables at s D); env.scenarios = fixed
 * has one slot that every environment reads, sampled one per environment,
 * rebuilt at every reset (docs/environment.md, "Scenarios"). */
struct cloud_instance {
    cloud_scenario *scs;    /* (E) the scenario of each environment */
    int64_t slots;
    int sampled;            /* env.scenarios = sampled */
    uint64_t base_seed;     /* fixed: the scenario seed; sampled: the distribution's */
    uint64_t built_episode; /* sampled: the episode the slots hold */
    cloud_config env_cfg;    /* the config's cloud view, for rebuilding scenarios */
    int32_t n_agents, n_pools, day_length;
    /* per slot, owned */
    double *mu, *inv_mu, *capacity_cdf, *work_rate, *work_rate_burst;
    double *base_rate, *phase; /* (slots, N) the builder's per-agent draws */
    float *capacity_share, *rate;
    int32_t *order_desc;
    int64_t *buffer;
    dgpg_poisson_entry *service, *arrival, *arrival_burst;
    /* shared by every slot, owned */
    double *size_cdf;
    double size_mean;       /* mean job size, of size_cdf */
    float *day_sin, *day_cos;

    int64_t n_envs;         /* E */
    int64_t env_offset;     /* global index of environment 0 */
    int64_t horizon;        /* T */
    int threads;
    uint64_t step;          /* global step of the coming decision */

    /* batch state, (E, .) */
    int64_t *queue;         /* (E, M) Q_m */
    int64_t *last_queue;    /* (E, M) Q_m before the last step's dispatch */
    int64_t *dispatched;    /* (E, M) A_m of the last step */
    int32_t *work;          /* (E, N) w_i of the coming decision */
    int32_t *last_work;     /* (E, N) w_i of the last step */
    int32_t *last_actions;  /* (E, N) k_i of the last step */
    uint8_t *burst;         /* (E) is the coming step in a burst */
    uint8_t *last_burst;    /* (E) was the last step in a burst */
    cloud_step_flows *flows;/* (E) of the last step */
    double *sums;           /* (E, CLOUD_SUMS_WIDTH) since reset */
    double *scratch;        /* (threads, 2M) for the policies */
};

static void *cloud_alloc(size_t count, size_t size, int *failed)
{
    void *p = count ? calloc(count, size) : NULL;
    if (count && !p)
        *failed = 1;
    return p;
}

static int cloud_threads(int requested)
{
#ifdef _OPENMP
    return requested > 0 ? requested : omp_get_num_procs();
#else
    (void)requested;
    return 1;
#endif
}

/* Job sizes: unit, or a mix of unit jobs and Pareto-tailed large ones,
 * P(size >= s) = q (s_min / s)^alpha for s >= s_min, truncated at the cap
 * (a discretised truncated Pareto). Returns the mean size. */
static double cloud_size_table(const cloud_config *env, double *size_cdf)
{
    int64_t cap = env->job_size_cap;
    double q = env->large_job_prob, s_min = (double)env->large_job_min;
    double alpha = env->pareto_alpha;
    double tail_cap = pow(s_min / (double)(cap + 1), alpha);
    double acc = 0.0, mean = 0.0;
    for (int64_t s = 1; s <= cap; s++) {
        double p = s == 1 ? 1.0 - q : 0.0;
        if ((double)s >= s_min) {
            double here = pow(s_min / (double)s, alpha);
            double next = pow(s_min / (double)(s + 1), alpha);
            p += q * (here - next) / (1.0 - tail_cap);
        }
        acc += p;
        mean += (double)s * p;
        size_cdf[s - 1] = acc;
    }
    size_cdf[cap - 1] = 1.0;
    return mean;
}

uint64_t cloud_training_scenario_seed(uint64_t base_seed, uint64_t episode, uint32_t env)
{
    return dgpg_training_scenario_seed(base_seed, episode, env);
}

/* The storage of every slot and the shared tables (once, at create). */
static int cloud_storage_alloc(cloud_instance *inst, const cloud_config *env, char *err,
                               size_t err_len)
{
    const size_t S = (size_t)inst->slots, N = (size_t)env->n_agents, M = (size_t)env->n_pools;
    const size_t D = (size_t)env->day_length;
    const int bursts = env->burst_prob > 0.0;
    int failed = 0;
    inst->mu = cloud_alloc(S * M, sizeof(double), &failed);
    inst->inv_mu = cloud_alloc(S * M, sizeof(double), &failed);
    inst->capacity_cdf = cloud_alloc(S * M, sizeof(double), &failed);
    inst->capacity_share = cloud_alloc(S * M, sizeof(float), &failed);
    inst->order_desc = cloud_alloc(S * M, sizeof(int32_t), &failed);
    inst->buffer = cloud_alloc(S * M, sizeof(int64_t), &failed);
    inst->service = cloud_alloc(S * M, sizeof(dgpg_poisson_entry), &failed);
    inst->base_rate = cloud_alloc(S * N, sizeof(double), &failed);
    inst->phase = cloud_alloc(S * N, sizeof(double), &failed);
    inst->rate = cloud_alloc(S * D * N, sizeof(float), &failed);
    inst->arrival = cloud_alloc(S * D * N, sizeof(dgpg_poisson_entry), &failed);
    inst->work_rate = cloud_alloc(S * D, sizeof(double), &failed);
    if (bursts) {
        inst->arrival_burst = cloud_alloc(S * D * N, sizeof(dgpg_poisson_entry), &failed);
        inst->work_rate_burst = cloud_alloc(S * D, sizeof(double), &failed);
    }
    inst->day_sin = cloud_alloc(D, sizeof(float), &failed);
    inst->day_cos = cloud_alloc(D, sizeof(float), &failed);
    const int bimodal = strcmp(env->job_size, "bimodal") == 0;
    if (bimodal)
        inst->size_cdf = cloud_alloc((size_t)env->job_size_cap, sizeof(double), &failed);
    if (failed) {
        snprintf(err, err_len,
                 "env: out of memory for %zu scenario tables of env.n_agents = %zu and "
                 "env.day_length = %zu; allowed: tables that fit in memory (env.scenarios = "
                 "sampled keeps one per environment)",
                 S, N, D);
        return DGPG_ENOMEM;
    }
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t d = 0; d < D; d++) {
        inst->day_sin[d] = (float)sin(two_pi * (double)d / (double)D);
        inst->day_cos[d] = (float)cos(two_pi * (double)d / (double)D);
    }
    inst->size_mean = bimodal ? cloud_size_table(env, inst->size_cdf) : 1.0;
    return DGPG_OK;
}

static int cloud_compare_mu_desc(const void *a, const void *b, void *mu_v);

/* Agent rates: lambda_i = lambda_mean exp(sigma z - sigma^2/2), z ~ N(0,1)
 * by Box-Muller, so E[lambda_i] = lambda_mean; phases uniform over
 * phase_spread of a day. Returns the sum of the rates. */
static double cloud_scenario_agents(const cloud_config *env, uint64_t seed, int32_t N,
                                    double *base_rate, double *phase)
{
    const double two_pi = 6.283185307179586476925286766559;
    double rate_sum = 0.0;
    for (int32_t i = 0; i < N; i++) {
        dgpg_u4 u = dgpg_uniform4(seed, (uint32_t)i, 0, 0, DGPG_STREAM_SCENARIO, 0);
        double z = sqrt(-2.0 * log(u.u[0])) * cos(two_pi * u.u[1]);
        double sigma = env->lambda_sigma;
        base_rate[i] = env->lambda_mean * exp(sigma * z - 0.5 * sigma * sigma);
        phase[i] = env->phase_spread * u.u[2];
        rate_sum += base_rate[i];
    }
    return rate_sum;
}

/* Pools: raw capacity vCPUs x servers, scaled to sum(mu) = mu_total (the
 * nominal work over rho); their capacity shares and cumulative shares,
 * buffers, service samplers, and their order by capacity (largest first). */
static int cloud_scenario_pools(const cloud_config *env, uint64_t seed, int32_t N, int32_t M,
                                double mu_total, double *mu, double *inv_mu,
                                float *capacity_share, double *capacity_cdf,
                                int32_t *order_desc, int64_t *buffer,
                                dgpg_poisson_entry *service, char *err, size_t err_len)
{
    double raw_sum = 0.0;
    for (int32_t m = 0; m < M; m++) {
        dgpg_u4 u = dgpg_uniform4(seed, (uint32_t)m, 0, 0, DGPG_STREAM_SCENARIO, 1);
        double vcpus = ldexp(1.0, 1 + (int)(m % env->instance_types));
        double servers = 1.0 + floor(u.u[0] * (double)env->servers_max);
        mu[m] = vcpus * servers;
        raw_sum += mu[m];
    }
    double acc = 0.0;
    for (int32_t m = 0; m < M; m++) {
        mu[m] *= mu_total / raw_sum;
        inv_mu[m] = 1.0 / mu[m];
        capacity_share[m] = (float)(mu[m] / mu_total);
        acc += mu[m] / mu_total;
        capacity_cdf[m] = acc;
        buffer[m] = (int64_t)ceil(env->buffer_steps * mu[m]);
        if (buffer[m] < 1)
            buffer[m] = 1;
        order_desc[m] = m;
        if (dgpg_poisson_entry_init(&service[m], mu[m]) != 0) {
            snprintf(err, err_len,
                     "env.rho = %g with env.n_agents = %d: pool %d would serve %g work units "
                     "per step; allowed: at most %g (raise env.rho or lower the rates)",
                     env->rho, N, m, mu[m], DGPG_POISSON_MAX_RATE);
            return DGPG_EINVAL;
        }
    }
    capacity_cdf[M - 1] = 1.0;
    qsort_r(order_desc, (size_t)M, sizeof(int32_t), cloud_compare_mu_desc, mu);
    return DGPG_OK;
}

/* Rate tables over one day, lambda_i(t) = lambda_i (1 + a sin(2 pi (t/D +
 * phase_i))), with their Poisson samplers (and the burst ones), the work
 * rate per step of the day, and *largest, the largest rate an agent
 * reaches. */
static int cloud_scenario_day(const cloud_config *env, int32_t N, int32_t D, double size_mean,
                              const double *base_rate, const double *phase, float *rate,
                              dgpg_poisson_entry *arrival, dgpg_poisson_entry *arrival_burst,
                              double *work_rate, double *work_rate_burst, double *largest_out,
                              char *err, size_t err_len)
{
    const int bursts = arrival_burst != NULL;
    const double two_pi = 6.283185307179586476925286766559;
    double largest = 0.0;
    for (int32_t d = 0; d < D; d++) {
        double total = 0.0;
        for (int32_t i = 0; i < N; i++) {
            double lam = base_rate[i] * (1.0 + env->day_amplitude *
                                                   sin(two_pi * ((double)d / D + phase[i])));
            size_t at = (size_t)d * (size_t)N + (size_t)i;
            rate[at] = (float)lam;
            total += lam;
            int bad = dgpg_poisson_entry_init(&arrival[at], lam);
            if (bursts)
                bad |= dgpg_poisson_entry_init(&arrival_burst[at], lam * env->burst_factor);
            double peak = bursts ? lam * env->burst_factor : lam;
            largest = peak > largest ? peak : largest;
            if (bad) {
                snprintf(err, err_len,
                         "env.lambda_mean = %g: agent %d's rate %g is outside the sampler's "
                         "range; allowed: rates up to %g",
                         env->lambda_mean, i, peak, DGPG_POISSON_MAX_RATE);
                return DGPG_EINVAL;
            }
        }
        work_rate[d] = size_mean * total;
        if (bursts)
            work_rate_burst[d] = size_mean * total * env->burst_factor;
    }
    *largest_out = largest;
    return DGPG_OK;
}

/* Builds the scenario of `seed` into `slot` and points *sc at it (SPEC, The
 * environment): agent rates log-normal with mean lambda_mean, phases
 * uniform over phase_spread of a day, pools of instance types
 * 2^(1 + m mod types) vCPUs times a uniform server count, total capacity set
 * so the nominal load is exactly rho. Allocates nothing, so a reset can
 * rebuild; dgpg_config_check has bounded every rate for every seed, so
 * DGPG_EINVAL here means a config that skipped it. */
static int cloud_scenario_build(cloud_instance *inst, const cloud_config *env, int64_t slot,
                                uint64_t seed, cloud_scenario *sc, char *err, size_t err_len)
{
    const int32_t N = (int32_t)env->n_agents, M = (int32_t)env->n_pools;
    const int32_t D = (int32_t)env->day_length;
    const int bimodal = strcmp(env->job_size, "bimodal") == 0;
    const int bursts = env->burst_prob > 0.0;
    const size_t pools = (size_t)slot * (size_t)M, agents = (size_t)slot * (size_t)N;
    const size_t table = (size_t)slot * (size_t)D * (size_t)N, days = (size_t)slot * (size_t)D;
    double *mu = inst->mu + pools, *inv_mu = inst->inv_mu + pools;
    double *capacity_cdf = inst->capacity_cdf + pools;
    float *capacity_share = inst->capacity_share + pools;
    int32_t *order_desc = inst->order_desc + pools;
    int64_t *buffer = inst->buffer + pools;
    dgpg_poisson_entry *service = inst->service + pools;
    double *base_rate = inst->base_rate + agents, *phase = inst->phase + agents;
    float *rate = inst->rate + table;
    dgpg_poisson_entry *arrival = inst->arrival + table;
    dgpg_poisson_entry *arrival_burst = bursts ? inst->arrival_burst + table : NULL;
    double *work_rate = inst->work_rate + days;
    double *work_rate_burst = bursts ? inst->work_rate_burst + days : NULL;

    memset(sc, 0, sizeof *sc);
    sc->n_agents = N;
    sc->n_pools = M;
    sc->day_length = D;
    sc->bimodal = bimodal;
    sc->size_cap = bimodal ? (int32_t)env->job_size_cap : 0;
    sc->burst_length = (int32_t)env->burst_length;
    sc->burst_prob = env->burst_prob;
    sc->burst_factor = env->burst_factor;
    sc->drop_weight = env->drop_weight;
    sc->seed = seed;
    sc->size_mean = inst->size_mean;

    const double rate_sum = cloud_scenario_agents(env, seed, N, base_rate, phase);
    sc->lambda_bar = rate_sum / N;
    sc->mu_total = sc->size_mean * rate_sum / env->rho;
    int rc = cloud_scenario_pools(env, seed, N, M, sc->mu_total, mu, inv_mu, capacity_share,
                                  capacity_cdf, order_desc, buffer, service, err, err_len);
    double largest = 0.0;
    if (rc == DGPG_OK)
        rc = cloud_scenario_day(env, N, D, sc->size_mean, base_rate, phase, rate, arrival,
                                arrival_burst, work_rate, work_rate_burst, &largest, err,
                                err_len);
    if (rc != DGPG_OK)
        return rc;
    /* An agent's work in one step must fit int32: jobs up to k_max, each
     * up to the size cap. */
    double largest_jobs = largest + 12.0 * sqrt(largest) + 40.0;
    double largest_size = bimodal ? (double)env->job_size_cap : 1.0;
    if (largest_jobs * largest_size > 2.0e9 ||
        (bimodal && largest_jobs > 4.0 * (DGPG_RNG_MAX_DRAW + 1))) {
        snprintf(err, err_len,
                 "env.lambda_mean = %g, env.job_size_cap = %lld: one agent could receive %.3g "
                 "jobs of up to %.0f work units in a step; allowed: at most 2e9 work units "
                 "and %u jobs per agent-step",
                 env->lambda_mean, (long long)env->job_size_cap, largest_jobs, largest_size,
                 4u * (DGPG_RNG_MAX_DRAW + 1));
        return DGPG_EINVAL;
    }

    sc->mu = mu;
    sc->inv_mu = inv_mu;
    sc->capacity_share = capacity_share;
    sc->capacity_cdf = capacity_cdf;
    sc->order_desc = order_desc;
    sc->buffer = buffer;
    sc->service = service;
    sc->rate = rate;
    sc->arrival = arrival;
    sc->arrival_burst = arrival_burst;
    sc->work_rate = work_rate;
    sc->work_rate_burst = work_rate_burst;
    sc->day_sin = inst->day_sin;
    sc->day_cos = inst->day_cos;
    sc->size_cdf = inst->size_cdf;
    return DGPG_OK;
}

static int cloud_compare_mu_desc(const void *a, const void *b, void *mu_v)
{
    const double *mu = mu_v;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (mu[i] != mu[j])
        return mu[i] > mu[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* env.scenarios = sampled: every environment's scenario of `episode`, its
 * seed drawn from (base seed, episode, global environment index), so the
 * batch split over threads or ranks, and the trainer's p* reference
 * instance, build the same ones. */
static int cloud_scenarios_sample(cloud_instance *inst, uint64_t episode)
{
    if (!inst->sampled || episode == inst->built_episode)
        return DGPG_OK;
    int failed = 0;
#pragma omp parallel for schedule(static) num_threads(inst->threads) reduction(| : failed)
    for (int64_t e = 0; e < inst->n_envs; e++) {
        char err[256];
        uint64_t seed = cloud_training_scenario_seed(inst->base_seed, episode,
                                                     (uint32_t)(inst->env_offset + e));
        failed |= cloud_scenario_build(inst, &inst->env_cfg, e, seed, &inst->scs[e], err,
                                       sizeof err) != DGPG_OK;
    }
    inst->built_episode = episode;
    return failed ? DGPG_EINVAL : DGPG_OK;
}

static void cloud_destroy(void *instance)
{
    cloud_instance *inst = instance;
    if (!inst)
        return;
    void *owned[] = {inst->scs, inst->mu, inst->inv_mu, inst->capacity_cdf, inst->work_rate,
                     inst->work_rate_burst, inst->base_rate, inst->phase, inst->capacity_share,
                     inst->rate, inst->order_desc, inst->buffer, inst->service, inst->arrival,
                     inst->arrival_burst, inst->size_cdf, inst->day_sin, inst->day_cos,
                     inst->queue, inst->last_queue, inst->dispatched, inst->work,
                     inst->last_work, inst->last_actions, inst->burst, inst->last_burst,
                     inst->flows, inst->sums, inst->scratch};
    for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
        free(owned[k]);
    free(inst);
}

int cloud_check_batch(int64_t n_envs, int64_t env_offset, char *err, size_t err_len)
{
    /* the global environment index is a 32-bit word of the random
     * streams' counter */
    if (n_envs < 1 || env_offset < 0 || env_offset + n_envs > (int64_t)UINT32_MAX) {
        snprintf(err, err_len,
                 "cloud: %lld environments from index %lld; allowed: at least 1, global "
                 "indices below 2^32",
                 (long long)n_envs, (long long)env_offset);
        return DGPG_EINVAL;
    }
    return DGPG_OK;
}

/* env.scenarios = fixed: every environment plays scenario_seed; sampled:
 * scenario_seed is the base of the training distribution, whose scenario
 * seeds all have CLOUD_TRAINING_SEED_BIT set and so never equal a
 * configurable seed (below 2^62): evaluation scenarios are held out by
 * construction. */
static int cloud_create(void *user, const struct dgpg_config *cfg, uint64_t scenario_seed,
                        int64_t env_offset, int64_t n_envs, int threads, void **instance,
                        char *err, size_t err_len)
{
    (void)user;
    *instance = NULL;
    int rc = cloud_check_batch(n_envs, env_offset, err, err_len);
    if (rc != DGPG_OK)
        return rc;
    cloud_instance *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, err_len, "cloud: out of memory for the instance");
        return DGPG_ENOMEM;
    }
    if (cloud_config_read(cfg, &inst->env_cfg) != DGPG_OK) {
        snprintf(err, err_len, "cloud: env.name = 'cloud' expected in the config handed to "
                 "create");
        free(inst);
        return DGPG_EINVAL;
    }
    const cloud_config *env = &inst->env_cfg;
    inst->sampled = env->sampled;
    inst->slots = inst->sampled ? n_envs : 1;
    inst->base_seed = scenario_seed;
    inst->n_agents = (int32_t)env->n_agents;
    inst->n_pools = (int32_t)env->n_pools;
    inst->day_length = (int32_t)env->day_length;
    const size_t E = (size_t)n_envs, N = (size_t)env->n_agents, M = (size_t)env->n_pools;
    inst->n_envs = n_envs;
    inst->env_offset = env_offset;
    inst->horizon = env->horizon;
    inst->threads = cloud_threads(threads);
    int failed = 0;
    inst->scs = cloud_alloc(E, sizeof(cloud_scenario), &failed);
    inst->queue = cloud_alloc(E * M, sizeof(int64_t), &failed);
    inst->last_queue = cloud_alloc(E * M, sizeof(int64_t), &failed);
    inst->dispatched = cloud_alloc(E * M, sizeof(int64_t), &failed);
    inst->work = cloud_alloc(E * N, sizeof(int32_t), &failed);
    inst->last_work = cloud_alloc(E * N, sizeof(int32_t), &failed);
    inst->last_actions = cloud_alloc(E * N, sizeof(int32_t), &failed);
    inst->burst = cloud_alloc(E, 1, &failed);
    inst->last_burst = cloud_alloc(E, 1, &failed);
    inst->flows = cloud_alloc(E, sizeof(cloud_step_flows), &failed);
    inst->sums = cloud_alloc(E * CLOUD_SUMS_WIDTH, sizeof(double), &failed);
    inst->scratch = cloud_alloc((size_t)inst->threads * 2 * M, sizeof(double), &failed);
    if (failed) {
        snprintf(err, err_len,
                 "cloud: out of memory for env.n_envs = %lld x env.n_agents = %zu; allowed: a "
                 "batch that fits in memory",
                 (long long)n_envs, N);
        cloud_destroy(inst);
        return DGPG_ENOMEM;
    }
    rc = cloud_storage_alloc(inst, env, err, err_len);
    if (rc == DGPG_OK && !inst->sampled) {
        rc = cloud_scenario_build(inst, env, 0, scenario_seed, &inst->scs[0], err, err_len);
        for (size_t e = 1; e < E; e++)
            inst->scs[e] = inst->scs[0];
    }
    /* sampled: episode 0's scenarios, so the instance is whole before a reset */
    for (size_t e = 0; rc == DGPG_OK && inst->sampled && e < E; e++)
        rc = cloud_scenario_build(inst, env, (int64_t)e,
                                  cloud_training_scenario_seed(scenario_seed, 0,
                                                               (uint32_t)(env_offset + (int64_t)e)),
                                  &inst->scs[e], err, err_len);
    if (rc != DGPG_OK) {
        cloud_destroy(inst);
        return rc;
    }
    *instance = inst;
    return DGPG_OK;
}

static int cloud_dims(void *instance, dgpg_env_dims *dims)
{
    cloud_instance *inst = instance;
    dims->n_envs = inst->n_envs;
    dims->n_agents = inst->n_agents;
    dims->n_actions = inst->n_pools;
    dims->obs_dim = CLOUD_OBS_DIM(inst->n_pools);
    dims->state_dim = CLOUD_STATE_DIM(inst->n_pools);
    return DGPG_OK;
}

static int cloud_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Arrivals of the coming step for environment e (burst flag and w_i). The
 * job counts of four agents come from one Philox call (cloud_agent_work). */
static void cloud_draw_arrivals(cloud_instance *inst, int64_t e)
{
    const cloud_scenario *sc = &inst->scs[e];
    const int32_t N = sc->n_agents;
    uint32_t g = (uint32_t)(inst->env_offset + e);
    int burst = cloud_in_burst(sc, g, inst->step);
    int32_t *work = inst->work + e * N;
    inst->burst[e] = (uint8_t)burst;
    for (int32_t i0 = 0; i0 < N; i0 += 4) {
        philox4x32_ctr_t r =
            dgpg_philox(sc->seed, (uint32_t)i0 >> 2, inst->step, g, DGPG_STREAM_ARRIVAL, 0);
        for (int32_t k = 0; k < 4 && i0 + k < N; k++)
            work[i0 + k] = cloud_agent_work_u(sc, g, inst->step, i0 + k, burst, dgpg_u01(r.v[k]));
    }
}

static int cloud_reset(void *instance, uint64_t episode)
{
    cloud_instance *inst = instance;
    const int64_t E = inst->n_envs, M = inst->n_pools;
    if (cloud_scenarios_sample(inst, episode) != DGPG_OK)
        return DGPG_EINVAL;
    inst->step = episode * (uint64_t)inst->horizon;
    memset(inst->queue, 0, (size_t)(E * M) * sizeof(int64_t));
    memset(inst->last_queue, 0, (size_t)(E * M) * sizeof(int64_t));
    memset(inst->dispatched, 0, (size_t)(E * M) * sizeof(int64_t));
    memset(inst->sums, 0, (size_t)E * CLOUD_SUMS_WIDTH * sizeof(double));
    memset(inst->flows, 0, (size_t)E * sizeof(cloud_step_flows));
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++)
        cloud_draw_arrivals(inst, e);
    return DGPG_OK;
}

static int cloud_observe(void *instance, float *obs, float *state)
{
    cloud_instance *inst = instance;
    const int64_t E = inst->n_envs, N = inst->n_agents, M = inst->n_pools;
    const int64_t D_obs = CLOUD_OBS_DIM(M), D_state = CLOUD_STATE_DIM(M);
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++) {
        const cloud_scenario *sc = &inst->scs[e];
        const int64_t *queue = inst->queue + e * M;
        for (int64_t i = 0; i < N; i++)
            cloud_observe_agent(sc, inst->step, (int32_t)i, inst->work[e * N + i], inst->burst[e],
                                queue, obs + (e * N + i) * D_obs);
        if (state)
            cloud_global_state(sc, inst->step, inst->burst[e], queue, state + e * D_state);
    }
    return DGPG_OK;
}

static int cloud_step(void *instance, const int32_t *actions, float *reward)
{
    cloud_instance *inst = instance;
    const int64_t E = inst->n_envs, N = inst->n_agents, M = inst->n_pools;
    /* Validate every action before any environment moves, so a refused
     * step leaves the batch as it was. */
    int64_t invalid = 0;
#pragma omp parallel for schedule(static) num_threads(inst->threads) reduction(+ : invalid)
    for (int64_t k = 0; k < E * N; k++)
        invalid += (uint32_t)actions[k] >= (uint32_t)M;
    if (invalid)
        return DGPG_EINVAL;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++) {
        const cloud_scenario *sc = &inst->scs[e];
        const int32_t *act = actions + e * N;
        int64_t *disp = inst->dispatched + e * M;
        memcpy(inst->last_queue + e * M, inst->queue + e * M, (size_t)M * sizeof(int64_t));
        cloud_dispatch(sc, inst->work + e * N, act, disp);
        uint32_t g = (uint32_t)(inst->env_offset + e);
        double r = cloud_serve(sc, g, inst->step, inst->burst[e], disp, inst->queue + e * M,
                               &inst->flows[e]);
        reward[e] = (float)r;
        cloud_sums_add(inst->sums + e * CLOUD_SUMS_WIDTH, r, &inst->flows[e]);
        memcpy(inst->last_work + e * N, inst->work + e * N, (size_t)N * sizeof(int32_t));
        memcpy(inst->last_actions + e * N, act, (size_t)N * sizeof(int32_t));
        inst->last_burst[e] = inst->burst[e];
    }
    inst->step++;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++)
        cloud_draw_arrivals(inst, e);
    return DGPG_OK;
}

static int cloud_sums(void *instance, double *per_env)
{
    cloud_instance *inst = instance;
    memcpy(per_env, inst->sums, (size_t)inst->n_envs * CLOUD_SUMS_WIDTH * sizeof(double));
    return DGPG_OK;
}

static int cloud_policy_count(void *instance)
{
    (void)instance;
    return CLOUD_POLICY_COUNT;
}

static const char *cloud_policy_name(void *instance, int policy)
{
    (void)instance;
    return policy >= 0 && policy < CLOUD_POLICY_COUNT ? cloud_policy_names[policy] : NULL;
}

static int cloud_policy_find(void *instance, const char *name)
{
    (void)instance;
    for (int p = 0; p < CLOUD_POLICY_COUNT; p++)
        if (strcmp(name, cloud_policy_names[p]) == 0)
            return p;
    return DGPG_ENOTFOUND;
}

static int cloud_policy_act_batch(void *instance, int policy, int32_t *actions)
{
    cloud_instance *inst = instance;
    if (policy < 0 || policy >= CLOUD_POLICY_COUNT)
        return DGPG_ENOTFOUND;
    const int64_t E = inst->n_envs, N = inst->n_agents, M = inst->n_pools;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++)
        cloud_policy_act(&inst->scs[e], (cloud_policy)policy, (uint32_t)(inst->env_offset + e),
                         inst->step, inst->burst[e], inst->queue + e * M, inst->work + e * N,
                         actions + e * N, inst->scratch + cloud_thread_id() * 2 * M);
    return DGPG_OK;
}

const cloud_scenario *cloud_instance_scenario(const cloud_instance *inst) { return &inst->scs[0]; }
const cloud_scenario *cloud_instance_scenarios(const cloud_instance *inst) { return inst->scs; }
int64_t cloud_instance_slots(const cloud_instance *inst) { return inst->slots; }
const int64_t *cloud_instance_queue(const cloud_instance *inst) { return inst->queue; }
const int32_t *cloud_instance_work(const cloud_instance *inst) { return inst->work; }
const cloud_step_flows *cloud_instance_flows(const cloud_instance *inst) { return inst->flows; }
uint64_t cloud_instance_step(const cloud_instance *inst) { return inst->step; }

const dgpg_env_api dgpg_cloud_env_api = {
    .version = DGPG_ENV_API_VERSION,
    .name = "cloud",
    .user = NULL,
    .create = cloud_create,
    .destroy = cloud_destroy,
    .dims = cloud_dims,
    .reset = cloud_reset,
    .observe = cloud_observe,
    .step = cloud_step,
    .policy_count = cloud_policy_count,
    .policy_name = cloud_policy_name,
    .policy_find = cloud_policy_find,
    .policy_act = cloud_policy_act_batch,
#ifdef DGPG_HAVE_CUDA
    .cuda = &dgpg_cloud_cuda_env_api, /* envs/cloud/cloud_cuda.cu */
#endif
    .config_keys = cloud_config_keys,
    .n_config_keys = CLOUD_CONFIG_KEYS,
    .params_size = sizeof(cloud_config),
    .check_config = cloud_config_check,
    .n_sums = CLOUD_SUMS,
    .sum_info = cloud_sum_info,
    .n_ratios = CLOUD_RATIOS,
    .ratios = cloud_ratios,
    .sums = cloud_sums,
};

/* ---- the cloud_mm1 analytical model ----------------------------------
 * model.reference = state (default): p*(s), x~ and the cost read the
 * backlogs (envs/cloud/cloud_model.h, "state-dependent reference"); static:
 * the M/M/1 flows model and its square-root split of Lambda(t). */

typedef struct cloud_model {
    cloud_instance *env;
    double barrier;
    int state_reference;      /* model.reference = state */
    double *rate;   /* (N) work rates lambda_i(t) s */
    double *flows;  /* (M) */
    double *slope;  /* (M) */
    double *p_star; /* (M) */
    double *reference; /* (M) */
    double *probs_d, *grad_d; /* (N, M) the batched forms' double copies */
    double *influence_d;      /* (E, N) */
} cloud_model;

static void cloud_model_destroy(void *instance)
{
    cloud_model *model = instance;
    if (!model)
        return;
    free(model->rate);
    free(model->flows);
    free(model->slope);
    free(model->p_star);
    free(model->reference);
    free(model->probs_d);
    free(model->grad_d);
    free(model->influence_d);
    free(model);
}

static int cloud_model_create(void *user, const struct dgpg_config *cfg, void *env_instance,
                              void **instance, char *err, size_t err_len)
{
    (void)user;
    *instance = NULL;
    cloud_instance *env = env_instance;
    cloud_model_config mc;
    if (cloud_model_config_read(cfg, &mc) != DGPG_OK) {
        snprintf(err, err_len, "cloud_mm1: model.name = 'cloud_mm1' expected in the config "
                 "handed to create");
        return DGPG_EINVAL;
    }
    cloud_model *model = calloc(1, sizeof *model);
    int failed = !model;
    if (model) {
        const size_t N = (size_t)env->n_agents, M = (size_t)env->n_pools;
        model->env = env;
        model->barrier = mc.barrier;
        model->state_reference = strcmp(mc.reference, "state") == 0;
        model->rate = cloud_alloc(N, sizeof(double), &failed);
        model->flows = cloud_alloc(M, sizeof(double), &failed);
        model->slope = cloud_alloc(M, sizeof(double), &failed);
        model->p_star = cloud_alloc(M, sizeof(double), &failed);
        model->reference = cloud_alloc(M, sizeof(double), &failed);
        model->probs_d = cloud_alloc(N * M, sizeof(double), &failed);
        model->grad_d = cloud_alloc(N * M, sizeof(double), &failed);
        model->influence_d = cloud_alloc((size_t)env->n_envs * N, sizeof(double), &failed);
    }
    if (failed) {
        snprintf(err, err_len, "cloud_mm1: out of memory for the model's work buffers");
        cloud_model_destroy(model);
        return DGPG_ENOMEM;
    }
    *instance = model;
    return DGPG_OK;
}

static int cloud_model_check_env(const cloud_model *model, int64_t env)
{
    return env >= 0 && env < model->env->n_envs ? DGPG_OK : DGPG_EINVAL;
}

/* W: the work that arrived for environment e's coming decision. */
static double cloud_model_step_work(const cloud_instance *inst, int64_t e)
{
    double total = 0.0;
    for (int32_t i = 0; i < inst->n_agents; i++)
        total += (double)inst->work[e * inst->n_agents + i];
    return total;
}

static int cloud_model_p_star(void *instance, int64_t env, double *p_star)
{
    cloud_model *model = instance;
    if (cloud_model_check_env(model, env) != DGPG_OK)
        return DGPG_EINVAL;
    const cloud_instance *inst = model->env;
    const cloud_scenario *sc = &inst->scs[env];
    if (model->state_reference)
        cloud_model_state_probs(sc->n_pools, sc->mu, inst->queue + env * sc->n_pools,
                                cloud_model_step_work(inst, env), p_star);
    else
        cloud_model_optimal_probs(sc->n_pools, sc->mu, sc->order_desc,
                                  cloud_work_rate(sc, inst->step, inst->burst[env]), p_star);
    return DGPG_OK;
}

/* The state form's cost C = F / Lambda(t) at the expected dispatch of the
 * coming decision, F = sum_m (Q_m + A_m)^2 / (2 mu_m), A_m = sum_i w_i p_i[m],
 * and dC/dp_i[m] = w_i (Q_m + A_m) / (mu_m Lambda(t)). */
static double cloud_model_state_cost(cloud_model *model, int64_t env, const double *probs,
                                     double *grad)
{
    const cloud_instance *inst = model->env;
    const cloud_scenario *sc = &inst->scs[env];
    const int32_t N = sc->n_agents, M = sc->n_pools;
    const int32_t *work = inst->work + env * N;
    const int64_t *queue = inst->queue + env * M;
    const double lambda_t = cloud_work_rate(sc, inst->step, inst->burst[env]);
    for (int32_t m = 0; m < M; m++)
        model->flows[m] = 0.0;
    for (int32_t i = 0; i < N; i++)
        for (int32_t m = 0; m < M; m++)
            model->flows[m] += (double)work[i] * probs[(int64_t)i * M + m];
    double cost = 0.0;
    for (int32_t m = 0; m < M; m++) {
        double present = (double)queue[m] + model->flows[m];
        cost += present * present / (2.0 * sc->mu[m]);
        model->slope[m] = cloud_model_state_marginal(queue[m], model->flows[m], sc->mu[m]);
    }
    for (int32_t i = 0; grad && i < N; i++)
        for (int32_t m = 0; m < M; m++)
            grad[(int64_t)i * M + m] = (double)work[i] * model->slope[m] / lambda_t;
    return cost / lambda_t;
}

static int cloud_model_cost_method(void *instance, int64_t env, const double *probs,
                                   double *cost, double *grad)
{
    cloud_model *model = instance;
    if (cloud_model_check_env(model, env) != DGPG_OK)
        return DGPG_EINVAL;
    if (model->state_reference) {
        *cost = cloud_model_state_cost(model, env, probs, grad);
        return DGPG_OK;
    }
    const cloud_instance *inst = model->env;
    const cloud_scenario *sc = &inst->scs[env];
    const int32_t N = sc->n_agents, M = sc->n_pools;
    /* the double-precision rates of the Poisson tables, the same numbers
     * that Lambda(t) and so p*(t) are summed from */
    const dgpg_poisson_entry *table =
        (inst->burst[env] ? sc->arrival_burst : sc->arrival) +
        (int64_t)cloud_day_index(sc, inst->step) * N;
    for (int32_t i = 0; i < N; i++)
        model->rate[i] = sc->size_mean * table[i].lambda;
    if (grad) {
        *cost = cloud_model_cost_grad(N, M, sc->mu, model->rate, probs, model->barrier,
                                      model->flows, model->slope, grad);
        return DGPG_OK;
    }
    double total = 0.0;
    for (int32_t i = 0; i < N; i++)
        total += model->rate[i];
    cloud_model_flows(N, M, model->rate, probs, model->flows);
    *cost = cloud_model_cost(M, sc->mu, model->flows, total, model->barrier, NULL);
    return DGPG_OK;
}

static int cloud_model_influence_method(void *instance, const float *probs, double *out)
{
    cloud_model *model = instance;
    const cloud_instance *inst = model->env;
    const int64_t E = inst->n_envs, N = inst->n_agents, M = inst->n_pools;
    uint64_t last_step = inst->step - 1;
    for (int64_t e = 0; e < E; e++) {
        const cloud_scenario *sc = &inst->scs[e];
        const int64_t *last_queue = inst->last_queue + e * M;
        const double arrived = (double)inst->flows[e].arrived;
        if (model->state_reference) {
            cloud_model_state_reference((int32_t)M, sc->mu, last_queue, arrived,
                                        model->reference);
        } else {
            cloud_model_optimal_probs((int32_t)M, sc->mu, sc->order_desc,
                                      cloud_work_rate(sc, last_step, inst->last_burst[e]),
                                      model->p_star);
            cloud_model_reference((int32_t)M, model->p_star, arrived, model->reference);
        }
        /* x_t: expected under the probabilities, or as dispatched */
        if (probs)
            cloud_model_expected_load((int32_t)N, (int32_t)M, inst->last_work + e * N,
                                      probs + e * N * M, model->flows);
        else
            for (int64_t m = 0; m < M; m++)
                model->flows[m] = (double)inst->dispatched[e * M + m];
        for (int64_t i = 0; i < N; i++) {
            const int32_t k = inst->last_actions[e * N + i], w = inst->last_work[e * N + i];
            out[e * N + i] = model->state_reference
                                 ? cloud_model_state_influence(last_queue[k], model->flows[k],
                                                               sc->mu[k], model->reference[k], w)
                                 : cloud_model_influence(model->flows, model->reference, k, w);
        }
    }
    return DGPG_OK;
}

/* The batched forms: the per-environment methods above, in float. */
static int cloud_model_p_star_batch(void *instance, float *p_star)
{
    cloud_model *model = instance;
    const int64_t E = model->env->n_envs, M = model->env->n_pools;
    for (int64_t e = 0; e < E; e++) {
        int rc = cloud_model_p_star(instance, e, model->p_star);
        if (rc != DGPG_OK)
            return rc;
        for (int64_t m = 0; m < M; m++)
            p_star[e * M + m] = (float)model->p_star[m];
    }
    return DGPG_OK;
}

static int cloud_model_cost_grad_batch(void *instance, const float *probs, float *grad)
{
    cloud_model *model = instance;
    const int64_t E = model->env->n_envs;
    const int64_t NM = (int64_t)model->env->n_agents * model->env->n_pools;
    for (int64_t e = 0; e < E; e++) {
        double cost;
        for (int64_t k = 0; k < NM; k++)
            model->probs_d[k] = (double)probs[e * NM + k];
        int rc = cloud_model_cost_method(instance, e, model->probs_d, &cost, model->grad_d);
        if (rc != DGPG_OK)
            return rc;
        for (int64_t k = 0; k < NM; k++)
            grad[e * NM + k] = (float)model->grad_d[k];
    }
    return DGPG_OK;
}

static int cloud_model_influence_batch(void *instance, const float *probs, float *out)
{
    cloud_model *model = instance;
    const int64_t EN = model->env->n_envs * model->env->n_agents;
    int rc = cloud_model_influence_method(instance, probs, model->influence_d);
    for (int64_t k = 0; k < EN && rc == DGPG_OK; k++)
        out[k] = (float)model->influence_d[k];
    return rc;
}

const dgpg_model_api dgpg_cloud_model_api = {
    .version = DGPG_MODEL_API_VERSION,
    .name = "cloud_mm1",
    .env_name = "cloud",
    .user = NULL,
    .create = cloud_model_create,
    .destroy = cloud_model_destroy,
    .optimal_probs = cloud_model_p_star,
    .cost = cloud_model_cost_method,
    .influence = cloud_model_influence_method,
    .optimal_probs_batch = cloud_model_p_star_batch,
    .cost_grad_batch = cloud_model_cost_grad_batch,
    .influence_batch = cloud_model_influence_batch,
#ifdef DGPG_HAVE_CUDA
    .cuda = &dgpg_cloud_cuda_model_api,
#endif
    .config_keys = cloud_model_config_keys,
    .n_config_keys = CLOUD_MODEL_CONFIG_KEYS,
    .params_size = sizeof(cloud_model_config),
};
