/* hetcloud.c — the `hetcloud` environment and `hetcloud_util` model on the
 * CPU backend (docs/hetcloud.md): config keys and checks, scenarios (host,
 * at create and, for sampled scenarios, at every reset), and batch methods
 * that loop the hetcloud_*.h functions over E environments with OpenMP.
 * Every environment writes only its own slots, so results are bitwise the
 * same for any thread count. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sysconf(_SC_PHYS_PAGES) */
#endif

#include "hetcloud.h"

#include "poisson.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

const char *const hetcloud_policy_names[HETCLOUD_POLICY_COUNT] = {"random", "first_fit",
                                                                 "best_fit", "pstar"};
const int32_t hetcloud_family_mem_per_cpu[HETCLOUD_FAMILIES] = {4, 2, 8};

/* ---- config --------------------------------------------------------------- */

#define INT_ROW(...) DGPG_INT_KEY(hetcloud_config, __VA_ARGS__)
#define REAL_ROW(...) DGPG_REAL_KEY(hetcloud_config, __VA_ARGS__)

static const dgpg_config_key hetcloud_keys[] = {
    REAL_ROW(rho, 1, 0.0, 1.5, 0, "0.7",
             "offered CPU load: jobs' mean CPU demand while running over the CPU capacity"),
    REAL_ROW(lambda_sigma, 0, 0.0, 3.0, 0, "0.5", "log-normal shape of the agents' rates"),
    REAL_ROW(day_amplitude, 0, 0.0, 1.0, 1, "0.3", "relative amplitude of the daily sinusoid"),
    INT_ROW(day_length, 2, 100000, "200", "steps per day"),
    REAL_ROW(phase_spread, 0, 0.0, 1.0, 0, "0.5", "agent phases uniform in [0, spread) days"),
    INT_ROW(instance_sizes, 1, 7, "4", "server sizes 2, 4, .., 2^instance_sizes vCPU"),
    REAL_ROW(large_job_prob, 0, 0.0, 1.0, 0, "0.1", "probability that a job is large"),
    INT_ROW(large_job_min, 1, 128, "2", "Pareto scale of large jobs, vCPU"),
    REAL_ROW(pareto_alpha, 1, 1.0, 10.0, 0, "1.5", "Pareto tail index of large jobs"),
    INT_ROW(job_cpu_cap, 1, 128, "8", "largest job, vCPU (truncation)"),
    INT_ROW(mem_per_cpu_min, 1, 64, "1", "smallest GiB per vCPU of a job, a power of two"),
    INT_ROW(mem_per_cpu_max, 1, 64, "8", "largest GiB per vCPU of a job, a power of two"),
    REAL_ROW(job_duration, 0, 1.0, 10000.0, 0, "10.0", "mean steps a job runs (geometric)"),
    INT_ROW(queue_jobs, 1, 100000, "32", "jobs a server's queue holds; more are rejected"),
    REAL_ROW(reject_weight, 0, 0.0, 1e6, 0, "10.0",
             "w_rej: penalty per rejected job, in steps of waiting"),
};
#define HETCLOUD_KEYS (sizeof hetcloud_keys / sizeof hetcloud_keys[0])

int hetcloud_config_read(const struct dgpg_config *cfg, hetcloud_config *out)
{
    const void *params = dgpg_config_env_params(cfg);
    dgpg_env_settings settings;
    if (!params || dgpg_config_env_settings(cfg, &settings) != DGPG_OK)
        return DGPG_EINVAL;
    memcpy(out, params, sizeof *out);
    out->n_agents = settings.n_agents;
    out->n_servers = settings.n_actions;
    out->n_envs = settings.n_envs;
    out->horizon = settings.horizon;
    out->seed = settings.seed;
    out->sampled = settings.sampled_scenarios;
    return DGPG_OK;
}

static int is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/* Requests that no server could hold, and sizes that would not fit in
 * memory, are refused here, at config time. */
static int hetcloud_check(void *user, const struct dgpg_config *cfg, char *err, size_t err_len)
{
    (void)user;
    hetcloud_config c;
    if (hetcloud_config_read(cfg, &c) != DGPG_OK) {
        snprintf(err, err_len, "hetcloud: the config is not a hetcloud environment's");
        return DGPG_EINVAL;
    }
    const int64_t largest = INT64_C(1) << c.instance_sizes;
    if (c.job_cpu_cap > largest) {
        snprintf(err, err_len, "env.job_cpu_cap = '%" PRId64 "': a job larger than every server "
                 "(env.instance_sizes = %" PRId64 ": at most %" PRId64 " vCPU); allowed: at most "
                 "%" PRId64, c.job_cpu_cap, c.instance_sizes, largest, largest);
        return DGPG_EINVAL;
    }
    if (c.large_job_prob > 0.0 && c.large_job_min > c.job_cpu_cap) {
        snprintf(err, err_len, "env.large_job_min = '%" PRId64 "', env.job_cpu_cap = '%" PRId64
                 "': the smallest large job exceeds the largest job; allowed: env.large_job_min "
                 "<= env.job_cpu_cap", c.large_job_min, c.job_cpu_cap);
        return DGPG_EINVAL;
    }
    const int64_t ratios[2] = {c.mem_per_cpu_min, c.mem_per_cpu_max};
    const char *names[2] = {"env.mem_per_cpu_min", "env.mem_per_cpu_max"};
    for (int k = 0; k < 2; k++)
        if (!is_power_of_two(ratios[k]) || ratios[k] > 8) {
            snprintf(err, err_len, "%s = '%" PRId64 "': a memory/CPU ratio no instance offers; "
                     "allowed: 1, 2, 4 or 8 GiB per vCPU (the memory-optimised family's is 8)",
                     names[k], ratios[k]);
            return DGPG_EINVAL;
        }
    if (c.mem_per_cpu_min > c.mem_per_cpu_max) {
        snprintf(err, err_len, "env.mem_per_cpu_min = '%" PRId64 "', env.mem_per_cpu_max = '%"
                 PRId64 "': the range is empty; allowed: min <= max", c.mem_per_cpu_min,
                 c.mem_per_cpu_max);
        return DGPG_EINVAL;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) {
        /* per (day step, agent): a float rate and a 32-byte Poisson entry,
         * for every environment under sampled scenarios (a table each);
         * per (environment, server): running slots and queue, 8 bytes a job */
        const long double tables = c.sampled ? (long double)c.n_envs : 1.0L;
        long double need = tables * (long double)c.day_length * c.n_agents * 36.0L +
                           (long double)c.n_envs * c.n_servers *
                               ((long double)largest + (long double)c.queue_jobs) * 8.0L;
        long double mem = (long double)pages * (long double)page;
        if (need > 0.8L * mem) {
            snprintf(err, err_len, "env.n_envs = %" PRId64 ", env.n_pools = %" PRId64
                     ", env.queue_jobs = %" PRId64 ": the state and rate tables need %.1Lf GiB; "
                     "allowed: at most 80%% of this machine's %.1Lf GiB", c.n_envs, c.n_servers,
                     c.queue_jobs, need / 1073741824.0L, mem / 1073741824.0L);
            return DGPG_EINVAL;
        }
    }
    return DGPG_OK;
}

/* ---- scenarios -------------------------------------------------------------
 * Server 0 is the largest memory-optimised instance, so that every job the
 * config allows fits somewhere; the others draw a family uniformly and a
 * size 2^(1 + floor(u sizes)). Agent rates lambda_i = lambda_bar exp(sigma z
 * - sigma^2 / 2) (mean lambda_bar), phases uniform over phase_spread of a
 * day, lambda_i(t) = lambda_i (1 + a sin(2 pi (t / D + phase_i))); lambda_bar
 * sets the offered CPU load: N lambda_bar cpu_mean duration = rho cpu_total.
 * Sampled scenarios' seeds: dgpg_training_scenario_seed (kernels/rng.h). */

struct hetcloud_instance {
    hetcloud_config cfg;
    int64_t n_envs, env_offset, slots_count; /* scenario slots: E sampled, 1 fixed */
    int32_t N, M, D, S, B;
    int threads;
    uint64_t base_seed, step, built_episode;
    hetcloud_scenario *scs;                     /* (E) */
    /* per scenario slot */
    int32_t *cpu_cap, *mem_cap, *family;        /* (slots, M) */
    float *rate;                                /* (slots, D, N) */
    dgpg_poisson_entry *arrival;                /* (slots, D, N) */
    double *job_rate;                           /* (slots, D) */
    double *base_rate, *phase;                  /* (N) scratch of the builder */
    /* shared */
    double *cpu_cdf;                            /* (job_cpu_cap) */
    float *day_sin, *day_cos;                   /* (D) */
    double cpu_mean, mem_mean;
    /* batch state */
    hetcloud_server *servers;                   /* (E, M) */
    hetcloud_job *running, *queue;              /* (E, M, S), (E, M, B) */
    hetcloud_bundle *bundles;                   /* (E, N) of the coming step */
    double *demand;                             /* (E, M, 2) R before the last step */
    double *last_w;                             /* (E, N, 2) the last step's requests */
    int32_t *last_actions;                      /* (E, N) */
    hetcloud_flows *flows;                      /* (E) of the last step */
    double *sums;                               /* (E, HETCLOUD_SUMS_WIDTH) */
    double *scratch;                            /* (threads, 4M) */
};

static void *hetcloud_alloc(size_t count, size_t size, int *failed)
{
    void *p = count ? calloc(count, size) : NULL;
    if (count && !p)
        *failed = 1;
    return p;
}

/* Job CPU sizes: 1 with probability 1 - q, else a discretised Pareto of
 * scale s_min and index alpha truncated at the cap; returns the mean. */
static double hetcloud_cpu_table(const hetcloud_config *c, double *cdf)
{
    const int64_t cap = c->job_cpu_cap;
    const double q = c->large_job_prob, s_min = (double)c->large_job_min;
    const double tail_cap = pow(s_min / (double)(cap + 1), c->pareto_alpha);
    double acc = 0.0, mean = 0.0;
    for (int64_t s = 1; s <= cap; s++) {
        double p = s == 1 ? 1.0 - q : 0.0;
        if ((double)s >= s_min)
            p += q * (pow(s_min / (double)s, c->pareto_alpha) -
                      pow(s_min / (double)(s + 1), c->pareto_alpha)) /
                 (1.0 - tail_cap);
        acc += p;
        mean += (double)s * p;
        cdf[s - 1] = acc;
    }
    cdf[cap - 1] = 1.0;
    return mean;
}

/* The scenario of `seed` into slot `slot`, pointed at by *sc. */
static int hetcloud_scenario_build(hetcloud_instance *inst, int64_t slot, uint64_t seed,
                                   hetcloud_scenario *sc, char *err, size_t err_len)
{
    const hetcloud_config *c = &inst->cfg;
    const int32_t N = inst->N, M = inst->M, D = inst->D;
    int32_t *cpu_cap = inst->cpu_cap + slot * M, *mem_cap = inst->mem_cap + slot * M;
    int32_t *family = inst->family + slot * M;
    float *rate = inst->rate + slot * D * N;
    dgpg_poisson_entry *arrival = inst->arrival + slot * D * N;
    double *job_rate = inst->job_rate + slot * D;
    double cpu_total = 0.0, mem_total = 0.0;
    for (int32_t n = 0; n < M; n++) {
        dgpg_u4 u = dgpg_uniform4(seed, (uint32_t)n, 0, 0, DGPG_STREAM_SCENARIO, 1);
        family[n] = n == 0 ? 2 : (int32_t)(u.u[0] * HETCLOUD_FAMILIES) % HETCLOUD_FAMILIES;
        const int size_log = n == 0 ? (int)c->instance_sizes
                                    : 1 + (int)(u.u[1] * (double)c->instance_sizes) %
                                              (int)c->instance_sizes;
        cpu_cap[n] = 1 << size_log;
        mem_cap[n] = cpu_cap[n] * hetcloud_family_mem_per_cpu[family[n]];
        cpu_total += cpu_cap[n];
        mem_total += mem_cap[n];
    }
    const double two_pi = 6.283185307179586476925286766559, sigma = c->lambda_sigma;
    const double lambda_bar = c->rho * cpu_total / ((double)N * inst->cpu_mean * c->job_duration);
    for (int32_t i = 0; i < N; i++) {
        dgpg_u4 u = dgpg_uniform4(seed, (uint32_t)i, 0, 0, DGPG_STREAM_SCENARIO, 0);
        const double z = sqrt(-2.0 * log(u.u[0])) * cos(two_pi * u.u[1]);
        inst->base_rate[i] = lambda_bar * exp(sigma * z - 0.5 * sigma * sigma);
        inst->phase[i] = c->phase_spread * u.u[2];
    }
    for (int32_t d = 0; d < D; d++) {
        double total = 0.0;
        for (int32_t i = 0; i < N; i++) {
            const double lam = inst->base_rate[i] *
                               (1.0 + c->day_amplitude *
                                          sin(two_pi * ((double)d / D + inst->phase[i])));
            rate[(size_t)d * N + i] = (float)lam;
            total += lam;
            if (dgpg_poisson_entry_init(&arrival[(size_t)d * N + i], lam) != 0) {
                snprintf(err, err_len, "env.rho = %g: agent %d's rate %g is outside the "
                         "sampler's range; allowed: rates up to %g (lower env.rho)", c->rho, i,
                         lam, DGPG_POISSON_MAX_RATE);
                return DGPG_EINVAL;
            }
        }
        job_rate[d] = total;
    }
    const int32_t ratio_log_min = (int32_t)log2((double)c->mem_per_cpu_min);
    *sc = (hetcloud_scenario){
        .n_agents = N, .n_servers = M, .day_length = D, .slots = inst->S,
        .queue_capacity = inst->B, .size_cap = (int32_t)c->job_cpu_cap,
        .ratio_count = (int32_t)log2((double)c->mem_per_cpu_max) - ratio_log_min + 1,
        .ratio_log_min = ratio_log_min, .complete_prob = 1.0 / c->job_duration,
        .reject_weight = c->reject_weight, .lambda_bar = lambda_bar, .cpu_mean = inst->cpu_mean,
        .mem_mean = inst->mem_mean, .cpu_total = cpu_total, .mem_total = mem_total,
        .seed = seed, .cpu_cap = cpu_cap, .mem_cap = mem_cap, .family = family,
        .cpu_cdf = inst->cpu_cdf, .rate = rate, .arrival = arrival, .job_rate = job_rate,
        .day_sin = inst->day_sin, .day_cos = inst->day_cos};
    return DGPG_OK;
}

static void hetcloud_destroy(void *instance)
{
    hetcloud_instance *inst = instance;
    if (!inst)
        return;
    void *owned[] = {inst->scs, inst->cpu_cap, inst->mem_cap, inst->family, inst->rate,
                     inst->arrival, inst->job_rate, inst->base_rate, inst->phase, inst->cpu_cdf,
                     inst->day_sin, inst->day_cos, inst->servers, inst->running, inst->queue,
                     inst->bundles, inst->demand, inst->last_w, inst->last_actions, inst->flows,
                     inst->sums, inst->scratch};
    for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
        free(owned[k]);
    free(inst);
}

static int hetcloud_alloc_all(hetcloud_instance *inst)
{
    const size_t E = (size_t)inst->n_envs, N = (size_t)inst->N, M = (size_t)inst->M;
    const size_t D = (size_t)inst->D, slots = (size_t)inst->slots_count;
    int failed = 0;
    inst->scs = hetcloud_alloc(E, sizeof(hetcloud_scenario), &failed);
    inst->cpu_cap = hetcloud_alloc(slots * M, sizeof(int32_t), &failed);
    inst->mem_cap = hetcloud_alloc(slots * M, sizeof(int32_t), &failed);
    inst->family = hetcloud_alloc(slots * M, sizeof(int32_t), &failed);
    inst->rate = hetcloud_alloc(slots * D * N, sizeof(float), &failed);
    inst->arrival = hetcloud_alloc(slots * D * N, sizeof(dgpg_poisson_entry), &failed);
    inst->job_rate = hetcloud_alloc(slots * D, sizeof(double), &failed);
    inst->base_rate = hetcloud_alloc(N, sizeof(double), &failed);
    inst->phase = hetcloud_alloc(N, sizeof(double), &failed);
    inst->cpu_cdf = hetcloud_alloc((size_t)inst->cfg.job_cpu_cap, sizeof(double), &failed);
    inst->day_sin = hetcloud_alloc(D, sizeof(float), &failed);
    inst->day_cos = hetcloud_alloc(D, sizeof(float), &failed);
    inst->servers = hetcloud_alloc(E * M, sizeof(hetcloud_server), &failed);
    inst->running = hetcloud_alloc(E * M * (size_t)inst->S, sizeof(hetcloud_job), &failed);
    inst->queue = hetcloud_alloc(E * M * (size_t)inst->B, sizeof(hetcloud_job), &failed);
    inst->bundles = hetcloud_alloc(E * N, sizeof(hetcloud_bundle), &failed);
    inst->demand = hetcloud_alloc(E * M * 2, sizeof(double), &failed);
    inst->last_w = hetcloud_alloc(E * N * 2, sizeof(double), &failed);
    inst->last_actions = hetcloud_alloc(E * N, sizeof(int32_t), &failed);
    inst->flows = hetcloud_alloc(E, sizeof(hetcloud_flows), &failed);
    inst->sums = hetcloud_alloc(E * HETCLOUD_SUMS_WIDTH, sizeof(double), &failed);
    inst->scratch = hetcloud_alloc((size_t)inst->threads * 4 * M, sizeof(double), &failed);
    return failed ? DGPG_ENOMEM : DGPG_OK;
}

/* Sampled scenarios: episode's, one per environment (rebuilt once per
 * episode, at its reset). */
static int hetcloud_scenarios_sample(hetcloud_instance *inst, uint64_t episode, char *err,
                                     size_t err_len)
{
    if (inst->cfg.sampled == 0 || inst->built_episode == episode)
        return DGPG_OK;
    for (int64_t e = 0; e < inst->n_envs; e++) {
        const uint64_t seed =
            dgpg_training_scenario_seed(inst->base_seed, episode,
                                        (uint32_t)(inst->env_offset + e));
        int rc = hetcloud_scenario_build(inst, e, seed, &inst->scs[e], err, err_len);
        if (rc != DGPG_OK)
            return rc;
    }
    inst->built_episode = episode;
    return DGPG_OK;
}

static int hetcloud_create(void *user, const struct dgpg_config *cfg, uint64_t scenario_seed,
                           int64_t env_offset, int64_t n_envs, int threads, void **instance,
                           char *err, size_t err_len)
{
    (void)user;
    *instance = NULL;
    if (n_envs < 1 || env_offset < 0 || env_offset + n_envs > (INT64_C(1) << 32)) {
        snprintf(err, err_len, "hetcloud: %lld environments from index %lld; allowed: global "
                 "indices below 2^32", (long long)n_envs, (long long)env_offset);
        return DGPG_EINVAL;
    }
    hetcloud_instance *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, err_len, "hetcloud: out of memory for the instance");
        return DGPG_ENOMEM;
    }
    if (hetcloud_config_read(cfg, &inst->cfg) != DGPG_OK) {
        snprintf(err, err_len, "hetcloud: env.name = 'hetcloud' expected in the config handed "
                 "to create");
        free(inst);
        return DGPG_EINVAL;
    }
    const hetcloud_config *c = &inst->cfg;
    inst->n_envs = n_envs;
    inst->env_offset = env_offset;
    inst->slots_count = c->sampled ? n_envs : 1;
    inst->N = (int32_t)c->n_agents;
    inst->M = (int32_t)c->n_servers;
    inst->D = (int32_t)c->day_length;
    inst->S = 1 << c->instance_sizes; /* a job takes at least 1 vCPU */
    inst->B = (int32_t)c->queue_jobs;
    inst->base_seed = scenario_seed;
    inst->built_episode = UINT64_MAX;
#ifdef _OPENMP
    inst->threads = threads > 0 ? threads : omp_get_num_procs();
#else
    (void)threads;
    inst->threads = 1;
#endif
    if (inst->M > HETCLOUD_MAX_SERVERS || hetcloud_alloc_all(inst) != DGPG_OK) {
        snprintf(err, err_len, "hetcloud: out of memory for env.n_envs = %lld x env.n_pools = "
                 "%d servers (at most %d); allowed: a batch that fits in memory",
                 (long long)n_envs, inst->M, HETCLOUD_MAX_SERVERS);
        hetcloud_destroy(inst);
        return DGPG_ENOMEM;
    }
    inst->cpu_mean = hetcloud_cpu_table(c, inst->cpu_cdf);
    double ratio_mean = 0.0;
    int ratios = 0;
    for (int64_t r = c->mem_per_cpu_min; r <= c->mem_per_cpu_max; r *= 2, ratios++)
        ratio_mean += (double)r;
    inst->mem_mean = inst->cpu_mean * ratio_mean / ratios;
    for (int32_t d = 0; d < inst->D; d++) {
        inst->day_sin[d] = (float)sin(6.283185307179586 * d / inst->D);
        inst->day_cos[d] = (float)cos(6.283185307179586 * d / inst->D);
    }
    int rc = c->sampled ? hetcloud_scenarios_sample(inst, 0, err, err_len)
                        : hetcloud_scenario_build(inst, 0, scenario_seed, &inst->scs[0], err,
                                                  err_len);
    for (int64_t e = 1; rc == DGPG_OK && !c->sampled && e < n_envs; e++)
        inst->scs[e] = inst->scs[0];
    if (rc != DGPG_OK) {
        hetcloud_destroy(inst);
        return rc;
    }
    *instance = inst;
    return DGPG_OK;
}

static int hetcloud_dims(void *instance, dgpg_env_dims *dims)
{
    hetcloud_instance *inst = instance;
    dims->n_envs = inst->n_envs;
    dims->n_agents = inst->N;
    dims->n_actions = inst->M;
    dims->obs_dim = HETCLOUD_OBS_DIM(inst->M);
    dims->state_dim = HETCLOUD_STATE_DIM(inst->M);
    return DGPG_OK;
}

/* The coming step's requests of environment e's agents. */
static void hetcloud_draw_bundles(hetcloud_instance *inst, int64_t e)
{
    const uint32_t g = (uint32_t)(inst->env_offset + e);
    for (int32_t i = 0; i < inst->N; i++)
        inst->bundles[e * inst->N + i] = hetcloud_agent_bundle(&inst->scs[e], g, inst->step, i);
}

static int hetcloud_reset(void *instance, uint64_t episode)
{
    hetcloud_instance *inst = instance;
    char err[256];
    if (hetcloud_scenarios_sample(inst, episode, err, sizeof err) != DGPG_OK) {
        fprintf(stderr, "dgpg: hetcloud: %s\n", err);
        return DGPG_EINVAL;
    }
    const size_t E = (size_t)inst->n_envs, M = (size_t)inst->M, N = (size_t)inst->N;
    inst->step = episode * (uint64_t)inst->cfg.horizon;
    memset(inst->servers, 0, E * M * sizeof(hetcloud_server));
    memset(inst->sums, 0, E * HETCLOUD_SUMS_WIDTH * sizeof(double));
    memset(inst->flows, 0, E * sizeof(hetcloud_flows));
    memset(inst->demand, 0, E * M * 2 * sizeof(double));
    memset(inst->last_w, 0, E * N * 2 * sizeof(double));
    memset(inst->last_actions, 0, E * N * sizeof(int32_t));
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < (int64_t)E; e++)
        hetcloud_draw_bundles(inst, e);
    return DGPG_OK;
}

static int hetcloud_observe(void *instance, float *obs, float *state)
{
    hetcloud_instance *inst = instance;
    const int64_t N = inst->N, M = inst->M;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < inst->n_envs; e++) {
        const hetcloud_server *servers = inst->servers + e * M;
        for (int64_t i = 0; i < N; i++)
            hetcloud_observe_agent(&inst->scs[e], inst->step, (int32_t)i,
                                   inst->bundles[e * N + i], servers,
                                   obs + (e * N + i) * HETCLOUD_OBS_DIM(M));
        if (state)
            hetcloud_global_state(&inst->scs[e], inst->step, servers,
                                  state + e * HETCLOUD_STATE_DIM(M));
    }
    return DGPG_OK;
}

static int hetcloud_step_batch(void *instance, const int32_t *actions, float *reward)
{
    hetcloud_instance *inst = instance;
    const int64_t E = inst->n_envs, N = inst->N, M = inst->M;
    int64_t invalid = 0;
#pragma omp parallel for schedule(static) num_threads(inst->threads) reduction(+ : invalid)
    for (int64_t k = 0; k < E * N; k++)
        invalid += (uint32_t)actions[k] >= (uint32_t)M;
    if (invalid)
        return DGPG_EINVAL;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++) {
        const hetcloud_scenario *sc = &inst->scs[e];
        hetcloud_server *servers = inst->servers + e * M;
        /* what the model's guidance of this step reads: R before it, the
         * requests and the actions */
        hetcloud_model_demand(sc, servers, inst->demand + e * M * 2);
        for (int64_t i = 0; i < N; i++) {
            inst->last_w[(e * N + i) * 2] = inst->bundles[e * N + i].cpu;
            inst->last_w[(e * N + i) * 2 + 1] = inst->bundles[e * N + i].mem;
            inst->last_actions[e * N + i] = actions[e * N + i];
        }
        const double r = hetcloud_step(sc, (uint32_t)(inst->env_offset + e), inst->step,
                                       actions + e * N, servers,
                                       inst->running + e * M * inst->S,
                                       inst->queue + e * M * inst->B, &inst->flows[e]);
        reward[e] = (float)r;
        hetcloud_sums_add(inst->sums + e * HETCLOUD_SUMS_WIDTH, sc, r, &inst->flows[e]);
    }
    inst->step++;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < E; e++)
        hetcloud_draw_bundles(inst, e);
    return DGPG_OK;
}

static int hetcloud_sums(void *instance, double *per_env)
{
    hetcloud_instance *inst = instance;
    memcpy(per_env, inst->sums, (size_t)inst->n_envs * HETCLOUD_SUMS_WIDTH * sizeof(double));
    return DGPG_OK;
}

static int hetcloud_policy_count(void *instance)
{
    (void)instance;
    return HETCLOUD_POLICY_COUNT;
}

static const char *hetcloud_policy_name(void *instance, int policy)
{
    (void)instance;
    return policy >= 0 && policy < HETCLOUD_POLICY_COUNT ? hetcloud_policy_names[policy] : NULL;
}

static int hetcloud_policy_find(void *instance, const char *name)
{
    (void)instance;
    for (int p = 0; p < HETCLOUD_POLICY_COUNT; p++)
        if (strcmp(name, hetcloud_policy_names[p]) == 0)
            return p;
    return DGPG_ENOTFOUND;
}

static int hetcloud_policy_act_batch(void *instance, int policy, int32_t *actions)
{
    hetcloud_instance *inst = instance;
    if (policy < 0 || policy >= HETCLOUD_POLICY_COUNT)
        return DGPG_ENOTFOUND;
    const int64_t N = inst->N, M = inst->M;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < inst->n_envs; e++) {
#ifdef _OPENMP
        double *scratch = inst->scratch + (size_t)omp_get_thread_num() * 4 * (size_t)M;
#else
        double *scratch = inst->scratch;
#endif
        double *demand = scratch + 2 * M; /* the policy's own scratch is 2M */
        hetcloud_model_demand(&inst->scs[e], inst->servers + e * M, demand);
        hetcloud_policy_act(&inst->scs[e], (hetcloud_policy)policy,
                            (uint32_t)(inst->env_offset + e), inst->step, inst->bundles + e * N,
                            demand, actions + e * N, scratch);
    }
    return DGPG_OK;
}

const hetcloud_scenario *hetcloud_instance_scenarios(const hetcloud_instance *inst)
{
    return inst->scs;
}
const hetcloud_server *hetcloud_instance_servers(const hetcloud_instance *inst)
{
    return inst->servers;
}
const hetcloud_job *hetcloud_instance_running(const hetcloud_instance *inst)
{
    return inst->running;
}
const hetcloud_job *hetcloud_instance_queue(const hetcloud_instance *inst) { return inst->queue; }
const hetcloud_bundle *hetcloud_instance_bundles(const hetcloud_instance *inst)
{
    return inst->bundles;
}
uint64_t hetcloud_instance_step(const hetcloud_instance *inst) { return inst->step; }
const hetcloud_flows *hetcloud_instance_flows(const hetcloud_instance *inst)
{
    return inst->flows;
}

static const dgpg_stat_info hetcloud_sum_info[HETCLOUD_SUMS] = {
    [HETCLOUD_SUM_WAITING] = {"waiting", "job-steps", "jobs waiting after the step, summed"},
    [HETCLOUD_SUM_ARRIVED] = {"arrived", "jobs", "jobs sent by the agents"},
    [HETCLOUD_SUM_ADMITTED] = {"admitted", "jobs", "jobs that joined a queue"},
    [HETCLOUD_SUM_REJECTED] = {"rejected", "jobs",
                               "jobs refused: the queue was full or the job exceeds the server"},
    [HETCLOUD_SUM_STARTED] = {"started", "jobs", "jobs that began running"},
    [HETCLOUD_SUM_COMPLETED] = {"completed", "jobs", "jobs that finished"},
    [HETCLOUD_SUM_CPU_USED] = {"cpu_used", "vCPU-steps", "CPU of the running jobs, summed"},
    [HETCLOUD_SUM_MEM_USED] = {"mem_used", "GiB-steps", "memory of the running jobs, summed"},
    [HETCLOUD_SUM_CPU_CAPACITY] = {"cpu_capacity", "vCPU-steps", "the servers' CPU, summed"},
    [HETCLOUD_SUM_MEM_CAPACITY] = {"mem_capacity", "GiB-steps", "the servers' memory, summed"},
};

static const dgpg_stat_ratio hetcloud_ratios[] = {
    {{"delay", "steps",
      "mean wait of admitted jobs by Little's law: jobs waiting, summed over steps, over the "
      "jobs admitted"},
     HETCLOUD_SUM_WAITING, HETCLOUD_SUM_ADMITTED},
    {{"reject_rate", "1", "jobs rejected over jobs sent"}, HETCLOUD_SUM_REJECTED,
     HETCLOUD_SUM_ARRIVED},
    {{"cpu_util", "1", "CPU in use over the CPU capacity"}, HETCLOUD_SUM_CPU_USED,
     HETCLOUD_SUM_CPU_CAPACITY},
    {{"mem_util", "1", "memory in use over the memory capacity"}, HETCLOUD_SUM_MEM_USED,
     HETCLOUD_SUM_MEM_CAPACITY},
};

const dgpg_env_api dgpg_hetcloud_env_api = {
    .version = DGPG_ENV_API_VERSION,
    .name = "hetcloud",
    .create = hetcloud_create,
    .destroy = hetcloud_destroy,
    .dims = hetcloud_dims,
    .reset = hetcloud_reset,
    .observe = hetcloud_observe,
    .step = hetcloud_step_batch,
    .policy_count = hetcloud_policy_count,
    .policy_name = hetcloud_policy_name,
    .policy_find = hetcloud_policy_find,
    .policy_act = hetcloud_policy_act_batch,
    .cuda = NULL, /* no CUDA implementation: --backend cuda refuses it */
    .config_keys = hetcloud_keys,
    .n_config_keys = HETCLOUD_KEYS,
    .params_size = sizeof(hetcloud_config),
    .check_config = hetcloud_check,
    .n_sums = HETCLOUD_SUMS,
    .sum_info = hetcloud_sum_info,
    .n_ratios = sizeof hetcloud_ratios / sizeof hetcloud_ratios[0],
    .ratios = hetcloud_ratios,
    .sums = hetcloud_sums,
};

/* ---- the hetcloud_util model ------------------------------------------------ */

typedef struct hetcloud_model {
    hetcloud_instance *env;
    double *scratch;   /* (threads, 4M) */
    double *w, *grad;  /* (threads, N, 2), (threads, N, M) the batched forms' doubles */
    double *probs;     /* (threads, N, M) */
    double *out;       /* (threads, N) */
} hetcloud_model;

static void hetcloud_model_destroy(void *instance)
{
    hetcloud_model *m = instance;
    if (!m)
        return;
    free(m->scratch);
    free(m->w);
    free(m->grad);
    free(m->probs);
    free(m->out);
    free(m);
}

static int hetcloud_model_create(void *user, const struct dgpg_config *cfg, void *env_instance,
                                 void **instance, char *err, size_t err_len)
{
    (void)user;
    (void)cfg;
    *instance = NULL;
    hetcloud_instance *env = env_instance;
    hetcloud_model *m = calloc(1, sizeof *m);
    int failed = !m;
    if (m) {
        const size_t T = (size_t)env->threads, N = (size_t)env->N, M = (size_t)env->M;
        m->env = env;
        m->scratch = hetcloud_alloc(T * 4 * M, sizeof(double), &failed);
        m->w = hetcloud_alloc(T * N * 2, sizeof(double), &failed);
        m->grad = hetcloud_alloc(T * N * M, sizeof(double), &failed);
        m->probs = hetcloud_alloc(T * N * M, sizeof(double), &failed);
        m->out = hetcloud_alloc(T * N, sizeof(double), &failed);
    }
    if (failed) {
        snprintf(err, err_len, "hetcloud_util: out of memory for the model's work buffers");
        hetcloud_model_destroy(m);
        return DGPG_ENOMEM;
    }
    *instance = m;
    return DGPG_OK;
}

static int hetcloud_thread(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* R (M, 2) of environment e now, and its agents' requests w (N, 2). */
static void hetcloud_model_now(const hetcloud_model *m, int64_t e, double *demand, double *w)
{
    const hetcloud_instance *inst = m->env;
    hetcloud_model_demand(&inst->scs[e], inst->servers + e * inst->M, demand);
    for (int32_t i = 0; w && i < inst->N; i++) {
        w[2 * i] = inst->bundles[e * inst->N + i].cpu;
        w[2 * i + 1] = inst->bundles[e * inst->N + i].mem;
    }
}

static void hetcloud_model_pstar_into(hetcloud_model *m, int64_t e, double *scratch, double *p)
{
    const hetcloud_instance *inst = m->env;
    double *demand = scratch + 2 * inst->M;
    hetcloud_model_now(m, e, demand, NULL);
    double w_cpu = 0.0, w_mem = 0.0;
    for (int32_t i = 0; i < inst->N; i++) {
        w_cpu += inst->bundles[e * inst->N + i].cpu;
        w_mem += inst->bundles[e * inst->N + i].mem;
    }
    hetcloud_model_split(&inst->scs[e], demand, w_cpu, w_mem, p, scratch);
}

static int hetcloud_model_pstar(void *instance, int64_t e, double *p_star)
{
    hetcloud_model *m = instance;
    if (e < 0 || e >= m->env->n_envs)
        return DGPG_EINVAL;
    hetcloud_model_pstar_into(m, e, m->scratch, p_star);
    return DGPG_OK;
}

static int hetcloud_model_cost_method(void *instance, int64_t e, const double *probs,
                                      double *cost, double *grad)
{
    hetcloud_model *m = instance;
    const hetcloud_instance *inst = m->env;
    if (e < 0 || e >= inst->n_envs)
        return DGPG_EINVAL;
    double *demand = m->scratch, *x = m->scratch + 2 * inst->M;
    hetcloud_model_now(m, e, demand, m->w);
    *cost = hetcloud_model_cost(&inst->scs[e], demand, m->w, probs,
                                hetcloud_job_rate(&inst->scs[e], inst->step), grad, x);
    return DGPG_OK;
}

/* The last step's guidance (E, N) at probs (E, N, M), or as dispatched. */
static int hetcloud_model_influence_method(void *instance, const float *probs, double *out)
{
    hetcloud_model *m = instance;
    const hetcloud_instance *inst = m->env;
    const int64_t N = inst->N, M = inst->M;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < inst->n_envs; e++)
        hetcloud_model_guidance(&inst->scs[e], inst->demand + e * M * 2, inst->last_w + e * N * 2,
                                probs ? probs + e * N * M : NULL, inst->last_actions + e * N,
                                out + e * N,
                                m->scratch + (size_t)hetcloud_thread() * 4 * (size_t)M);
    return DGPG_OK;
}

static int hetcloud_model_pstar_batch(void *instance, float *p_star)
{
    hetcloud_model *m = instance;
    const int64_t M = m->env->M;
#pragma omp parallel for schedule(static) num_threads(m->env->threads)
    for (int64_t e = 0; e < m->env->n_envs; e++) {
        double *scratch = m->scratch + (size_t)hetcloud_thread() * 4 * (size_t)M;
        double p[HETCLOUD_MAX_SERVERS];
        hetcloud_model_pstar_into(m, e, scratch, p);
        for (int64_t n = 0; n < M; n++)
            p_star[e * M + n] = (float)p[n];
    }
    return DGPG_OK;
}

static int hetcloud_model_cost_grad_batch(void *instance, const float *probs, float *grad)
{
    hetcloud_model *m = instance;
    const hetcloud_instance *inst = m->env;
    const int64_t N = inst->N, M = inst->M;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < inst->n_envs; e++) {
        const size_t t = (size_t)hetcloud_thread();
        double *demand = m->scratch + t * 4 * (size_t)M, *x = demand + 2 * M;
        double *w = m->w + t * (size_t)N * 2, *p = m->probs + t * (size_t)(N * M);
        double *g = m->grad + t * (size_t)(N * M);
        hetcloud_model_now(m, e, demand, w);
        for (int64_t k = 0; k < N * M; k++)
            p[k] = probs[e * N * M + k];
        hetcloud_model_cost(&inst->scs[e], demand, w, p,
                            hetcloud_job_rate(&inst->scs[e], inst->step), g, x);
        for (int64_t k = 0; k < N * M; k++)
            grad[e * N * M + k] = (float)g[k];
    }
    return DGPG_OK;
}

static int hetcloud_model_influence_batch(void *instance, const float *probs, float *out)
{
    hetcloud_model *m = instance;
    const hetcloud_instance *inst = m->env;
    const int64_t N = inst->N, M = inst->M;
#pragma omp parallel for schedule(static) num_threads(inst->threads)
    for (int64_t e = 0; e < inst->n_envs; e++) {
        const size_t t = (size_t)hetcloud_thread();
        double *o = m->out + t * (size_t)N;
        hetcloud_model_guidance(&inst->scs[e], inst->demand + e * M * 2, inst->last_w + e * N * 2,
                                probs + e * N * M, inst->last_actions + e * N, o,
                                m->scratch + t * 4 * (size_t)M);
        for (int64_t i = 0; i < N; i++)
            out[e * N + i] = (float)o[i];
    }
    return DGPG_OK;
}

const dgpg_model_api dgpg_hetcloud_model_api = {
    .version = DGPG_MODEL_API_VERSION,
    .name = "hetcloud_util",
    .env_name = "hetcloud",
    .create = hetcloud_model_create,
    .destroy = hetcloud_model_destroy,
    .optimal_probs = hetcloud_model_pstar,
    .cost = hetcloud_model_cost_method,
    .influence = hetcloud_model_influence_method,
    .optimal_probs_batch = hetcloud_model_pstar_batch,
    .cost_grad_batch = hetcloud_model_cost_grad_batch,
    .influence_batch = hetcloud_model_influence_batch,
    /* no keys of its own: the target utilisations have no parameter */
};
