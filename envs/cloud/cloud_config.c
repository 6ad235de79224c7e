/* cloud_config.c — see cloud_config.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sysconf(_SC_PHYS_PAGES) */
#endif

#include "cloud_config.h"

#include "cloud_env.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const job_size_words[] = {"unit", "bimodal", NULL};
static const char *const reference_words[] = {"state", "static", NULL};

#define INT_ROW(...) DGPG_INT_KEY(cloud_config, __VA_ARGS__)
#define REAL_ROW(...) DGPG_REAL_KEY(cloud_config, __VA_ARGS__)

/* The defaults are the environment's reference configuration (docs/environment.md). */
const dgpg_config_key cloud_config_keys[CLOUD_CONFIG_KEYS] = {
    REAL_ROW(rho, 0, 0.01, 2.0, 0, "0.8", "nominal load: mean work rate / capacity"),
    REAL_ROW(lambda_mean, 0, 1e-6, 100.0, 0, "1.0", "mean jobs per agent per step"),
    REAL_ROW(lambda_sigma, 0, 0.0, 3.0, 0, "0.5", "log-normal shape of per-agent rates"),
    REAL_ROW(day_amplitude, 0, 0.0, 1.0, 1, "0.25",
             "relative amplitude of the daily sinusoid (below 1 keeps rates positive)"),
    INT_ROW(day_length, 2, 100000, "200",
            "steps per day (at least 2, so the sinusoid averages to zero over a day)"),
    REAL_ROW(phase_spread, 0, 0.0, 1.0, 0, "0.5", "agent phases uniform in [0, spread) days"),
    REAL_ROW(burst_prob, 0, 0.0, 1.0, 0, "0.0", "probability a burst window is a burst"),
    REAL_ROW(burst_factor, 0, 1.0, 100.0, 0, "2.0", "rate multiplier inside a burst"),
    INT_ROW(burst_length, 1, 100000, "10", "steps per burst window"),
    DGPG_WORD_KEY(cloud_config, job_size, job_size_words, "unit",
                  "job size distribution: unit, or bimodal (unit and Pareto-tailed large)"),
    REAL_ROW(large_job_prob, 0, 0.0, 1.0, 0, "0.05", "bimodal: probability a job is large"),
    INT_ROW(large_job_min, 1, 1000000, "8", "bimodal: Pareto scale of large jobs"),
    REAL_ROW(pareto_alpha, 1, 1.0, 10.0, 0, "1.5",
             "bimodal: Pareto tail index (above 1 for a finite mean)"),
    INT_ROW(job_size_cap, 1, 1000000, "1024", "bimodal: largest job size"),
    INT_ROW(instance_types, 1, 10, "4", "server types of 2, 4, ..., 2^types vCPUs"),
    INT_ROW(servers_max, 1, 1000, "4", "servers per pool uniform in [1, max]"),
    REAL_ROW(buffer_steps, 1, 0.0, 1e6, 0, "20.0", "buffer B_m = ceil(buffer_steps * mu_m)"),
    REAL_ROW(drop_weight, 0, 0.0, 1e6, 0, "10.0",
             "w_drop: penalty per dropped work unit, in steps of delay"),
};

const dgpg_config_key cloud_model_config_keys[CLOUD_MODEL_CONFIG_KEYS] = {
    DGPG_REAL_KEY(cloud_model_config, barrier, 0, 0.5, 0.999, 0, "0.95",
                  "utilisation where the smooth barrier replaces rho/(1-rho)"),
    DGPG_WORD_KEY(cloud_model_config, reference, reference_words, "state",
                  "efficient state of the guidance: state (reads the backlogs) or static (p* of "
                  "the flows)"),
};

const dgpg_stat_info cloud_sum_info[CLOUD_SUMS] = {
    [CLOUD_SUM_QUEUED] = {"queued", "work units",
                          "sum over steps of the total backlog after service"},
    [CLOUD_SUM_ARRIVED] = {"arrived", "work units", "work arrived"},
    [CLOUD_SUM_ADMITTED] = {"admitted", "work units", "work arrived and not dropped"},
    [CLOUD_SUM_SERVED] = {"served", "work units", "work served"},
    [CLOUD_SUM_DROPPED] = {"dropped", "work units", "work dropped at full buffers"},
};

const dgpg_stat_ratio cloud_ratios[CLOUD_RATIOS] = {
    {{"delay", "steps",
      "mean queueing delay of admitted work by Little's law: the backlog after service summed "
      "over steps, over the work that arrived and was not dropped"},
     CLOUD_SUM_QUEUED, CLOUD_SUM_ADMITTED},
    {{"drop_rate", "1", "work dropped at full buffers over work arrived"}, CLOUD_SUM_DROPPED,
     CLOUD_SUM_ARRIVED},
};

int cloud_config_read(const struct dgpg_config *cfg, cloud_config *out)
{
    const void *params = dgpg_config_env_params(cfg);
    dgpg_env_settings settings;
    if (!params || dgpg_config_env_settings(cfg, &settings) != DGPG_OK)
        return DGPG_EINVAL;
    memcpy(out, params, sizeof *out);
    out->n_agents = settings.n_agents;
    out->n_pools = settings.n_actions;
    out->n_envs = settings.n_envs;
    out->horizon = settings.horizon;
    out->seed = settings.seed;
    out->sampled = settings.sampled_scenarios;
    return DGPG_OK;
}

int cloud_model_config_read(const struct dgpg_config *cfg, cloud_model_config *out)
{
    const void *params = dgpg_config_model_params(cfg);
    if (!params)
        return DGPG_EINVAL;
    memcpy(out, params, sizeof *out);
    return DGPG_OK;
}

int cloud_config_check(void *user, const struct dgpg_config *cfg, char *err, size_t err_len)
{
    (void)user;
    cloud_config c;
    if (cloud_config_read(cfg, &c) != DGPG_OK) {
        snprintf(err, err_len, "cloud: the config is not a cloud environment's");
        return DGPG_EINVAL;
    }
    const cloud_config *e = &c;
    const int bimodal = strcmp(e->job_size, "bimodal") == 0;

    if (bimodal && e->large_job_min > e->job_size_cap) {
        snprintf(err, err_len,
                 "env.large_job_min = '%" PRId64 "', env.job_size_cap = '%" PRId64
                 "': the smallest large job exceeds the largest job; allowed: "
                 "env.large_job_min <= env.job_size_cap when env.job_size is bimodal",
                 e->large_job_min, e->job_size_cap);
        return DGPG_EINVAL;
    }

    /* Rates the exact Poisson sampler must take, bounded for every seed:
     * a Box-Muller normal from 32-bit uniforms is below 6.764 in size,
     * so lambda_i(t) <= lambda_mean exp(6.764 sigma - sigma^2/2) (1 + a)
     * (burst factor); total capacity is about size_mean N lambda_mean / rho. */
    const double sigma = e->lambda_sigma;
    double peak = e->lambda_mean * exp(6.764 * sigma - 0.5 * sigma * sigma) *
                  (1.0 + e->day_amplitude) * (e->burst_prob > 0.0 ? e->burst_factor : 1.0);
    double jobs = peak + 12.0 * sqrt(peak) + 40.0;
    double size_bound = bimodal ? (double)e->job_size_cap : 1.0;
    double spread = sqrt(exp(sigma * sigma) - 1.0);
    double total_rate = (double)e->n_agents * e->lambda_mean +
                        10.0 * sqrt((double)e->n_agents) * e->lambda_mean * spread + peak;
    double size_mean_bound = bimodal ? 1.0 + e->large_job_prob * size_bound : 1.0;
    if (peak > 1e8 || (bimodal && (jobs > 16384.0 || jobs * size_bound > 2e9))) {
        snprintf(err, err_len,
                 "env.lambda_mean = %g, env.lambda_sigma = %g, env.day_amplitude = %g, "
                 "env.burst_factor = %g: an agent's rate can reach %.3g jobs per step%s; "
                 "allowed: at most 1e8%s",
                 e->lambda_mean, sigma, e->day_amplitude, e->burst_factor, peak,
                 bimodal ? " (bimodal sizes)" : "",
                 bimodal ? ", and with bimodal sizes at most 16384 jobs of at most "
                           "env.job_size_cap units, 2e9 units, per agent-step"
                         : "");
        return DGPG_EINVAL;
    }
    if (total_rate * size_mean_bound / e->rho > 1.9e9) {
        snprintf(err, err_len,
                 "env.n_agents = %" PRId64 ", env.lambda_mean = %g, env.rho = %g: the "
                 "pools would serve up to %.3g work units per step; allowed: at most 1.9e9",
                 e->n_agents, e->lambda_mean, e->rho, total_rate * size_mean_bound / e->rho);
        return DGPG_EINVAL;
    }

    /* long double keeps the product exact enough and free of overflow for
     * every in-range value (at most ~1e19 bytes). */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) {
        long double mem = (long double)pages * (long double)page;
        /* per (day step, agent): a float rate and a 32-byte Poisson table
         * entry, twice with bursts (cloud.c); per (environment, agent):
         * the observation and four int32 buffers (work, last work, last
         * actions, actions); per (environment, pool): two int64 */
        long double tables = e->burst_prob > 0.0 ? 2.0L : 1.0L;
        /* sampled scenarios: a set of tables per environment */
        long double slots = e->sampled ? (long double)e->n_envs : 1.0L;
        long double rates = slots * (long double)e->day_length * (long double)e->n_agents *
                            (4.0L + 32.0L * tables);
        long double batch = (long double)e->n_envs * (long double)e->n_agents *
                                (4.0L * (4.0L + 2.0L * (long double)e->n_pools) + 16.0L) +
                            (long double)e->n_envs * (long double)e->n_pools * 16.0L;
        long double need = rates + batch;
        if (need > 0.8L * mem) {
            const long double gib = 1024.0L * 1024.0L * 1024.0L;
            snprintf(err, err_len,
                     "env.n_envs * env.n_agents = %" PRId64 " * %" PRId64 " (env.n_pools = %" PRId64
                     ", env.day_length = %" PRId64 "): the batch and rate tables need %.1Lf GiB; "
                     "allowed: at most 80%% of this machine's %.1Lf GiB memory",
                     e->n_envs, e->n_agents, e->n_pools, e->day_length, need / gib, mem / gib);
            return DGPG_EINVAL;
        }
    }
    return DGPG_OK;
}
