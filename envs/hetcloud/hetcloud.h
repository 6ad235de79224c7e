/* hetcloud.h — the heterogeneous two-resource cloud on the CPU backend:
 * its config keys, scenario construction and batch instance, registered
 * as the `hetcloud` environment and `hetcloud_util` model plug-ins
 * (include/dgpg/dgpg.h). Tests reach the instance through these
 * functions. No CUDA implementation: `--backend cuda` refuses it. */
#ifndef DGPG_HETCLOUD_H
#define DGPG_HETCLOUD_H

#include "dgpg/dgpg.h"
#include "hetcloud_env.h"
#include "hetcloud_policy.h"

extern const dgpg_env_api dgpg_hetcloud_env_api;
extern const dgpg_model_api dgpg_hetcloud_model_api;

/* The config's view: the keys every environment has, then hetcloud's own
 * (their rows write the parameter block, docs/hetcloud.md). */
typedef struct hetcloud_config {
    int64_t n_agents, n_servers, n_envs, horizon, seed;
    int sampled;

    double rho;                 /* offered CPU load over the CPU capacity */
    double lambda_sigma;        /* log-normal shape of the agents' rates */
    double day_amplitude;       /* relative amplitude of the daily sinusoid */
    int64_t day_length;         /* steps per day */
    double phase_spread;        /* agent phases uniform in [0, spread) days */
    int64_t instance_sizes;     /* server sizes 2, 4, .., 2^sizes vCPU */
    double large_job_prob;      /* probability a job is large */
    int64_t large_job_min;      /* Pareto scale of large jobs, vCPU */
    double pareto_alpha;        /* Pareto tail index */
    int64_t job_cpu_cap;        /* largest job, vCPU */
    int64_t mem_per_cpu_min;    /* GiB per vCPU of a job: powers of two in [min, max] */
    int64_t mem_per_cpu_max;
    double job_duration;        /* mean steps a job runs (geometric) */
    int64_t queue_jobs;         /* B: jobs a server's queue holds */
    double reject_weight;       /* w_rej */
} hetcloud_config;

int hetcloud_config_read(const struct dgpg_config *cfg, hetcloud_config *out);

/* Memory per vCPU of the instance families: general purpose, compute and
 * memory optimised (GiB). */
#define HETCLOUD_FAMILIES 3
extern const int32_t hetcloud_family_mem_per_cpu[HETCLOUD_FAMILIES];

typedef struct hetcloud_instance hetcloud_instance;

/* Environment 0's scenario, and every environment's (E). */
const hetcloud_scenario *hetcloud_instance_scenarios(const hetcloud_instance *inst);
/* The servers (E, M), running jobs (E, M, slots), queues (E, M, B) and the
 * coming step's bundles (E, N); the global step of the coming decision. */
const hetcloud_server *hetcloud_instance_servers(const hetcloud_instance *inst);
const hetcloud_job *hetcloud_instance_running(const hetcloud_instance *inst);
const hetcloud_job *hetcloud_instance_queue(const hetcloud_instance *inst);
const hetcloud_bundle *hetcloud_instance_bundles(const hetcloud_instance *inst);
uint64_t hetcloud_instance_step(const hetcloud_instance *inst);
/* The last step's flows (E). */
const hetcloud_flows *hetcloud_instance_flows(const hetcloud_instance *inst);

extern const char *const hetcloud_policy_names[HETCLOUD_POLICY_COUNT];

#endif
