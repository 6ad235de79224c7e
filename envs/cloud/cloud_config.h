/* cloud_config.h — the keys the `cloud` environment and its `cloud_mm1`
 * model own (their rows in the config's env and model sections, defaults
 * included), the cross-key checks on them, and the statistics the
 * environment reports. C and CUDA (C++) both include it. */
#ifndef DGPG_CLOUD_CONFIG_H
#define DGPG_CLOUD_CONFIG_H

#include "dgpg/dgpg.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A cloud instance's view of its config: the keys every environment has
 * (filled from dgpg_config_env_settings), then cloud's own keys, which
 * the loader writes by the rows of cloud_config_keys into the parameter
 * block (whose first bytes, where the settings sit here, it leaves unused). */
typedef struct cloud_config {
    int64_t n_agents;              /* N */
    int64_t n_pools;               /* M */
    int64_t n_envs;                /* E */
    int64_t horizon;               /* T, steps per episode */
    int64_t seed;                  /* scenario seed (fixed) or the training distribution's (sampled) */
    int sampled;                   /* env.scenarios = sampled */

    double rho;                    /* nominal load sum(lambda*size)/sum(mu) */
    double lambda_mean;            /* mean jobs per agent per step */
    double lambda_sigma;           /* log-normal shape of per-agent means */
    double day_amplitude;          /* relative amplitude of the daily sinusoid */
    int64_t day_length;            /* steps per day (period of the sinusoid) */
    double phase_spread;           /* agent phases uniform in [0, spread) days */
    double burst_prob;             /* probability a burst window is a burst */
    double burst_factor;           /* rate multiplier inside a burst */
    int64_t burst_length;          /* steps per burst window */
    char job_size[DGPG_WORD_LEN];  /* "unit" | "bimodal" */
    double large_job_prob;         /* bimodal: probability a job is large */
    int64_t large_job_min;         /* bimodal: Pareto scale of large jobs */
    double pareto_alpha;           /* bimodal: Pareto tail index */
    int64_t job_size_cap;          /* bimodal: largest job size (truncation) */
    int64_t instance_types;        /* vCPU sizes 2,4,..,2^types */
    int64_t servers_max;           /* servers per pool uniform in [1, max] */
    double buffer_steps;           /* B_m = ceil(buffer_steps * mu_m) */
    double drop_weight;            /* w_drop in the shared reward */
} cloud_config;

/* cloud_mm1's keys (the model section). */
typedef struct cloud_model_config {
    double barrier;                   /* utilisation where the smooth barrier starts */
    char reference[DGPG_WORD_LEN];    /* "state" (backlog-aware) | "static" (p* of the flows) */
} cloud_model_config;

#define CLOUD_CONFIG_KEYS 18
#define CLOUD_MODEL_CONFIG_KEYS 2
extern const dgpg_config_key cloud_config_keys[CLOUD_CONFIG_KEYS];
extern const dgpg_config_key cloud_model_config_keys[CLOUD_MODEL_CONFIG_KEYS];

/* The config's cloud view; DGPG_EINVAL where env.name is not cloud. */
int cloud_config_read(const struct dgpg_config *cfg, cloud_config *out);
int cloud_model_config_read(const struct dgpg_config *cfg, cloud_model_config *out);

/* check_config of the environment: relations between keys, and memory. */
int cloud_config_check(void *user, const struct dgpg_config *cfg, char *err, size_t err_len);

/* Statistics: CLOUD_SUMS sums (cloud_env.h, enum cloud_sum) and the ratio
 * columns delay and drop_rate. */
#define CLOUD_RATIOS 2
extern const dgpg_stat_info cloud_sum_info[];
extern const dgpg_stat_ratio cloud_ratios[CLOUD_RATIOS];

#ifdef __cplusplus
}
#endif

#endif
