/* config.h — the resolved run configuration and its YAML loader.
 *
 * Provides dgpg_config (every section of a config file, resolved), the
 * loader that layers: embedded experiments/default.yaml, then the user's
 * file, then --set overrides; and the printer used by `dgpg config`.
 * Every key is validated against one schema table in config.c, to which
 * the env and model sections add the rows of the plug-ins env.name and
 * model.name name (dgpg_config_key): unknown keys (another plug-in's
 * included), wrong types, out-of-range values and malformed YAML are
 * rejected with one message naming file, line, key, value and what is
 * allowed. */
#ifndef DGPG_CONFIG_H
#define DGPG_CONFIG_H

#include "dgpg/dgpg.h"

#include <stdint.h>
#include <stdio.h>

#define DGPG_NAME_LEN 64
#define DGPG_PATH_LEN 512
#define DGPG_LIST_LEN 512
#define DGPG_ERR_LEN 1024

/* The env section: the keys every environment has; the plug-in's own keys
 * (include/dgpg/dgpg.h, dgpg_config_key) fill `params` by its rows. */
typedef struct dgpg_config_env {
    char name[DGPG_NAME_LEN];      /* registered environment plug-in, "cloud" */
    int64_t n_agents;              /* N */
    int64_t n_pools;               /* M */
    int64_t n_envs;                /* E */
    int64_t horizon;               /* T, steps per episode */
    int64_t seed;                  /* scenario seed (fixed) or the training distribution's (sampled) */
    char scenarios[DGPG_NAME_LEN]; /* "sampled" (a scenario per environment and episode) | "fixed" */
    _Alignas(16) unsigned char params[DGPG_PARAMS_MAX]; /* the plug-in's keys */
} dgpg_config_env;

typedef struct dgpg_config_model {
    char name[DGPG_NAME_LEN];      /* registered analytical model, "cloud_mm1" */
    _Alignas(16) unsigned char params[DGPG_PARAMS_MAX]; /* the model plug-in's keys */
} dgpg_config_model;

typedef struct dgpg_config_algo {
    char guide[DGPG_NAME_LEN];          /* dgpg | target | descent | cv | none */
    char critic[DGPG_NAME_LEN];         /* ippo (local) | mappo (centralised) */
    char alpha_schedule[DGPG_NAME_LEN]; /* constant | linear | exponential */
    double alpha_start;
    double alpha_end;
    double alpha_decay;                 /* exponential: per-episode factor */
    double lr;
    double clip;
    double gamma;
    double gae_lambda;
    double entropy_coef;
    double value_coef;
    double max_grad_norm;
    int64_t epochs;
    int64_t minibatches;
    int64_t hidden;
    int64_t layers;
    int share_params;                   /* bool */
    double huber_delta;                 /* value loss: Huber width, 0 = squared */
    double adam_eps;
    int64_t variance_groups;            /* K groups of environments */
    int64_t chunk;                      /* samples per forward/backward pass */
} dgpg_config_algo;

typedef struct dgpg_config_train {
    char name[DGPG_NAME_LEN];      /* run name: runs/NAME */
    int64_t episodes;
    int64_t seed;                  /* training seed (init, actions) */
    int64_t checkpoint_every;      /* episodes between checkpoints */
    char init_from[DGPG_PATH_LEN]; /* run directory whose networks start this run, "" none */
    char dump_batch[DGPG_PATH_LEN]; /* HDF5 file for the first episode's batch, "" none */
} dgpg_config_train;

typedef struct dgpg_config_log {
    char dir[DGPG_PATH_LEN];       /* parent of run directories */
    int64_t snapshot_every;        /* episodes between parameter snapshots */
} dgpg_config_log;

typedef struct dgpg_config_backend {
    char kind[DGPG_NAME_LEN];      /* cpu | cuda | auto */
    int64_t threads;               /* CPU threads, 0 = all cores */
    int64_t device;                /* CUDA device index */
    int tf32;                      /* bool: TF32 tensor-core GEMMs on CUDA */
    int cuda_graph;                /* bool: each rollout step as one CUDA graph */
} dgpg_config_backend;

typedef struct dgpg_config_eval {
    int64_t scenarios;             /* K held-out scenarios */
    int64_t seed;                  /* first scenario seed; scenario k = seed + k */
    char policies[DGPG_LIST_LEN];  /* comma-separated policy names */
    char output[DGPG_PATH_LEN];    /* HDF5 file for the eval table */
} dgpg_config_eval;

typedef struct dgpg_config {
    dgpg_config_env env;
    dgpg_config_model model;
    dgpg_config_algo algo;
    dgpg_config_train train;
    dgpg_config_log log;
    dgpg_config_backend backend;
    dgpg_config_eval eval;
    char source[DGPG_PATH_LEN];    /* the user file, or "(embedded default)" */
} dgpg_config;

/* Resolves a config: embedded default, then `path` (NULL: none), then each
 * "section.key=value" of `sets`. Returns 0, or -1 with one message in err. */
int dgpg_config_load(dgpg_config *cfg, const char *path, const char *const *sets,
                     int n_sets, char *err, size_t err_len);

/* Applies one "section.key=value" to an already resolved config. */
int dgpg_config_set(dgpg_config *cfg, const char *assignment, char *err, size_t err_len);

/* Writes the resolved config as YAML that dgpg_config_load accepts back. */
void dgpg_config_print(const dgpg_config *cfg, FILE *out);

/* Calls fn(section, key, value_as_text) for every key, in schema order;
 * used to store the resolved config as HDF5 attributes. */
void dgpg_config_foreach(const dgpg_config *cfg,
                         void (*fn)(void *user, const char *section, const char *key,
                                    const char *value),
                         void *user);

/* Checks relations between keys that one key's range cannot express (steps
 * the random streams count), then the plug-ins' own (check_config). 0 or
 * -1 + err. */
int dgpg_config_check(const dgpg_config *cfg, char *err, size_t err_len);

extern const char dgpg_default_yaml[];   /* experiments/default.yaml, embedded */

#endif
