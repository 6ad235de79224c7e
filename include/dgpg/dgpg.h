/* dgpg.h — dgpg's public C API: version, error codes, the plug-in
 * interfaces through which environments and analytical models are
 * registered by name, and the command line as a function (dgpg_cli). The
 * built-in `cloud` environment and its `cloud_mm1` model, CUDA versions
 * included, use exactly this API (envs/cloud/); examples/toy_plugin is a
 * plug-in built against the installed library alone. Installed with
 * `cmake --install`: find_package(dgpg) (target dgpg::dgpg) or
 * pkg-config dgpg.
 *
 * Plug-in conventions (after sqlite's VFS and HDF5's filters):
 *  - a plug-in is a struct of function pointers that starts with `version`,
 *    `name` and `user`; fields are only ever appended, and `version` says
 *    which fields the plug-in filled;
 *  - every method takes the instance first and returns 0 or a negative
 *    dgpg error code; methods that can fail on user input also take an
 *    error buffer that receives one line saying what and what is allowed;
 *  - optional methods may be NULL, as each comment says;
 *  - the caller owns every batch buffer; an instance never allocates after
 *    `create` returns, so nothing allocates inside the episode loop.
 *
 * Dimensions everywhere: E environments, N agents, M actions (pools),
 * T steps per episode. Batch buffers are row-major: obs is (E, N, obs_dim),
 * actions (E, N), reward (E). */
#ifndef DGPG_DGPG_H
#define DGPG_DGPG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DGPG_API __attribute__((visibility("default")))
#else
#define DGPG_API
#endif

#define DGPG_VERSION_MAJOR 0
#define DGPG_VERSION_MINOR 1
#define DGPG_VERSION_PATCH 0
#define DGPG_VERSION_STRING "0.1.0"

/* Error codes: 0 is success, failures are negative. */
enum dgpg_error {
    DGPG_OK = 0,
    DGPG_EINVAL = -1,      /* an argument or config value is not allowed */
    DGPG_ENOMEM = -2,      /* an allocation failed */
    DGPG_EIO = -3,         /* a file could not be read or written */
    DGPG_ENOTFOUND = -4,   /* no plug-in or policy of that name */
    DGPG_EUNSUPPORTED = -5,/* the plug-in does not offer that method */
    DGPG_ENUMERIC = -6,    /* a NaN or Inf appeared */
    DGPG_EBACKEND = -7,    /* CUDA, BLAS, HDF5 or MPI reported an error */
    DGPG_EEXIST = -8       /* a registration of that name exists */
};

DGPG_API const char *dgpg_strerror(int code);

struct dgpg_config; /* a resolved configuration: opaque, read through the functions below */

/* Sizes a caller needs to allocate the batch buffers of an instance. */
typedef struct dgpg_env_dims {
    int64_t n_envs;        /* E */
    int32_t n_agents;      /* N */
    int32_t n_actions;     /* M */
    int32_t obs_dim;       /* per-agent observation length */
    int32_t state_dim;     /* global state length (centralised critic) */
} dgpg_env_dims;

/* A plug-in's config keys. The `env` section of a config holds the keys
 * every environment has (name, n_agents, n_pools, n_envs, horizon, seed,
 * scenarios) and the keys of the environment env.name names; the `model`
 * section holds `name` and the keys of that model. A plug-in lists its
 * keys as rows; the loader validates each value against its row (type,
 * range, words) with the same messages as every other key, starts from
 * the row's default, and stores the value at `offset` in the plug-in's
 * parameter block (dgpg_config_env_params / _model_params): an int64_t
 * for INT, a double for REAL, an int (0/1) for BOOL, a NUL-terminated
 * char[DGPG_WORD_LEN] for WORD. A config that names a key the chosen
 * plug-in does not list (another plug-in's, say) is refused. */
enum dgpg_key_type { DGPG_KEY_INT = 1, DGPG_KEY_REAL = 2, DGPG_KEY_BOOL = 3, DGPG_KEY_WORD = 4 };
#define DGPG_WORD_LEN 64
#define DGPG_PARAMS_MAX 2048   /* bytes of a plug-in's parameter block */
#define DGPG_KEYS_MAX 64       /* rows per plug-in */

typedef struct dgpg_config_key {
    const char *key;            /* within the section: a C identifier */
    int type;                   /* enum dgpg_key_type */
    size_t offset;              /* of the value in the parameter block */
    const char *default_value;  /* YAML text, e.g. "0.8", "unit", "true" */
    double min, max;            /* INT, REAL: the allowed range */
    int min_open, max_open;     /* REAL: 1 where the bound itself is excluded */
    const char *const *words;   /* WORD: the allowed words, NULL-terminated, each
                                   shorter than DGPG_WORD_LEN */
    const char *help;           /* one line: what the key means */
} dgpg_config_key;

/* Rows written briefly: TYPE is the parameter block's struct, key one of
 * its members (and the key's name); lo_open / hi_open 1 exclude a bound. */
#define DGPG_INT_KEY(TYPE, key, lo, hi, def, help)                                          \
    {#key, DGPG_KEY_INT, offsetof(TYPE, key), def, lo, hi, 0, 0, NULL, help}
#define DGPG_REAL_KEY(TYPE, key, lo_open, lo, hi, hi_open, def, help)                        \
    {#key, DGPG_KEY_REAL, offsetof(TYPE, key), def, lo, hi, lo_open, hi_open, NULL, help}
#define DGPG_WORD_KEY(TYPE, key, words, def, help)                                           \
    {#key, DGPG_KEY_WORD, offsetof(TYPE, key), def, 0, 0, 0, 0, words, help}
#define DGPG_BOOL_KEY(TYPE, key, def, help)                                                  \
    {#key, DGPG_KEY_BOOL, offsetof(TYPE, key), def, 0, 0, 0, 0, NULL, help}

/* The parameter block of the environment (model) plug-in a resolved config
 * names, laid out by that plug-in's rows; NULL for a plug-in without rows. */
DGPG_API const void *dgpg_config_env_params(const struct dgpg_config *cfg);
DGPG_API const void *dgpg_config_model_params(const struct dgpg_config *cfg);

/* The keys every environment has, resolved. */
typedef struct dgpg_env_settings {
    int64_t n_agents;          /* N */
    int64_t n_actions;         /* M (env.n_pools) */
    int64_t n_envs;            /* E */
    int64_t horizon;           /* T */
    int64_t seed;              /* env.seed */
    int sampled_scenarios;     /* env.scenarios: 1 sampled, 0 fixed */
} dgpg_env_settings;
DGPG_API int dgpg_config_env_settings(const struct dgpg_config *cfg, dgpg_env_settings *out);

/* A plug-in's statistics (version 3). Per environment since the last
 * reset, its `sums` method writes 2 + n_sums doubles: the sum of the
 * shared rewards, the number of steps, then its own sums in the order of
 * its `sum_info` rows. Sums only, so any aggregation (environments,
 * threads, MPI ranks) is a sum; the log's and `dgpg eval`'s columns of
 * the environment are ratios of two of them (indices into the plug-in's
 * own sums). */
typedef struct dgpg_stat_info {
    const char *name;          /* column name: a C identifier of at most 48 characters */
    const char *units;
    const char *description;
} dgpg_stat_info;

typedef struct dgpg_stat_ratio {
    dgpg_stat_info info;
    int numerator, denominator; /* 0 where the denominator sum is 0 */
} dgpg_stat_ratio;

/* Versions 1 and 2 only: the statistics of the cloud environment those
 * versions were written for; read as version 3's sums reward, steps,
 * queued, arrived, admitted (= arrived - dropped), served, dropped. */
typedef struct dgpg_env_stats {
    double reward;         /* sum of shared rewards */
    double queued;         /* sum over steps of the total backlog after service */
    double arrived;        /* work arrived */
    double served;         /* work served */
    double dropped;        /* work dropped at full buffers */
    double steps;          /* the count */
} dgpg_env_stats;

/* 1: create .. bind_stream; 2: adds `cuda`; 3: adds config_keys ..
 * sums (the plug-in owns its keys and statistics). */
#define DGPG_ENV_API_VERSION 3

typedef struct dgpg_env_api {
    int version;           /* DGPG_ENV_API_VERSION the plug-in was written for */
    const char *name;      /* registry key, e.g. "cloud" */
    void *user;            /* handed back to create */

    /* Creates E = n_envs environments of the scenario `scenario_seed`;
     * env_offset is the global index of the first one, so that a batch
     * split over threads, calls or ranks draws the same randomness.
     * threads: CPU threads to step with (0: all). Required. */
    int (*create)(void *user, const struct dgpg_config *cfg, uint64_t scenario_seed,
                  int64_t env_offset, int64_t n_envs, int threads, void **instance,
                  char *err, size_t err_len);
    void (*destroy)(void *instance);                               /* required */
    int (*dims)(void *instance, dgpg_env_dims *dims);              /* required */

    /* Empties every environment and starts `episode` at step 0; episodes
     * draw disjoint randomness. Required. */
    int (*reset)(void *instance, uint64_t episode);

    /* Observations for the coming decision: obs (E, N, obs_dim) and, if
     * state is not NULL, the global state (E, state_dim). Required. */
    int (*observe)(void *instance, float *obs, float *state);

    /* Applies actions (E, N), each in [0, M), advances one step and
     * writes the shared reward (E). Required. An out-of-range action is
     * DGPG_EINVAL; an implementation on a device may report it at the
     * next `sums` instead (no host wait per step), the environments that
     * held one not having moved. */
    int (*step)(void *instance, const int32_t *actions, float *reward);

    /* Versions 1 and 2: statistics (E) since the last reset. Required
     * there; a version 3 plug-in leaves it NULL and fills `sums`. */
    int (*stats)(void *instance, dgpg_env_stats *per_env);

    /* Built-in policies (heuristics) of the environment. Optional: NULL
     * when the environment has none. policy_find returns the index of a
     * name or DGPG_ENOTFOUND; policy_act writes actions (E, N) for the
     * current step. Cost is measured against p*: `train` and `eval` play
     * an environment's policy named "pstar" where it has one, else draw
     * every agent's action from the model's p* (CPU backend; on CUDA the
     * policy is needed). */
    int (*policy_count)(void *instance);
    const char *(*policy_name)(void *instance, int policy);
    int (*policy_find)(void *instance, const char *name);
    int (*policy_act)(void *instance, int policy, int32_t *actions);

    /* Environments on a GPU: run on this stream (a cudaStream_t) from now
     * on, so that a training run has one stream. Optional (NULL for CPU
     * environments). */
    int (*bind_stream)(void *instance, void *stream);

    /* Version 2. The same environment on the CUDA backend, or NULL where
     * it has none: a plug-in of its own (its create makes instances whose
     * batch buffers are device memory; its stats' output is host memory)
     * that `train`, `eval` and `bench` use in place of this one under
     * backend.kind = cuda (or auto, where a device is visible). It is not
     * registered by itself; its own `cuda` is NULL. */
    const struct dgpg_env_api *cuda;

    /* Version 3. Its keys in the `env` section (n_config_keys rows, at
     * most DGPG_KEYS_MAX, none named like a key every environment has)
     * and the size of its parameter block (at most DGPG_PARAMS_MAX). */
    const dgpg_config_key *config_keys;
    int n_config_keys;
    size_t params_size;
    /* Relations between keys that one key's range cannot express (and
     * sizes that would not fit in memory), checked when a config is
     * resolved: 0, or a negative code and one line in err. Optional. */
    int (*check_config)(void *user, const struct dgpg_config *cfg, char *err, size_t err_len);
    /* Its statistics: n_sums sums beyond reward and steps, described by
     * sum_info, and n_ratios columns for the log and `dgpg eval`.
     * sums writes (E, 2 + n_sums) into host memory. Required. */
    int n_sums;
    const dgpg_stat_info *sum_info;
    int n_ratios;
    const dgpg_stat_ratio *ratios;
    int (*sums)(void *instance, double *per_env);
} dgpg_env_api;

/* 1: create .. influence_batch; 2: adds `cuda`; 3: adds config_keys ..
 * check_config. */
#define DGPG_MODEL_API_VERSION 3

/* An analytical model of an environment: what an efficient state looks
 * like, and the cost whose descent direction guides the agents. */
typedef struct dgpg_model_api {
    int version;           /* DGPG_MODEL_API_VERSION */
    const char *name;      /* registry key, e.g. "cloud_mm1" */
    const char *env_name;  /* the environment whose instances it reads */
    void *user;

    /* Binds a model to an environment instance of env_name. Required. */
    int (*create)(void *user, const struct dgpg_config *cfg, void *env_instance,
                  void **instance, char *err, size_t err_len);
    void (*destroy)(void *instance);                               /* required */

    /* p*(s) (M) at the current step of environment e (in [0, E)). Required. */
    int (*optimal_probs)(void *instance, int64_t env, double *p_star);

    /* Cost C at the current step of environment e for the agents'
     * probabilities probs (N, M), and, if grad is not NULL, dC/dp (N, M).
     * Required. */
    int (*cost)(void *instance, int64_t env, const double *probs, double *cost, double *grad);

    /* The paper's guidance inner products <x_t - x~_t, z_t^i> (E, N) of
     * the step just taken, x_t the load expected under the agents'
     * probabilities probs (E, N, M) of that step, or, with probs NULL,
     * the load as dispatched. Optional. */
    int (*influence)(void *instance, const float *probs, double *out);

    /* The batched forms the trainer calls, in the memory the environment
     * instance keeps its batch in (device memory for an environment on a
     * GPU): p* at every environment's current step, p_star (E, M); dC/dp
     * (E, N, M) at probs (E, N, M) of the current step; and the guidance
     * inner products (E, N) of the step just taken at that step's probs
     * (E, N, M). Required for training with the guidance form that uses
     * them (target, descent and cv, dgpg). */
    int (*optimal_probs_batch)(void *instance, float *p_star);
    int (*cost_grad_batch)(void *instance, const float *probs, float *grad);
    int (*influence_batch)(void *instance, const float *probs, float *out);

    /* Version 2. The model of the environment's `cuda` implementation (it
     * binds to those instances; the batched methods on device memory), or
     * NULL. */
    const struct dgpg_model_api *cuda;

    /* Version 3. Its keys in the `model` section, as an environment's. */
    const dgpg_config_key *config_keys;
    int n_config_keys;
    size_t params_size;
    int (*check_config)(void *user, const struct dgpg_config *cfg, char *err, size_t err_len);
} dgpg_model_api;

/* Registry. Registration copies nothing: the struct must outlive its use.
 * Names are unique; a second registration of a name is DGPG_EEXIST; a
 * plug-in of an API version this library does not know (0, or newer than
 * DGPG_*_API_VERSION), or whose key rows or statistics are malformed (a
 * name that is not an identifier or is used twice, a value outside the
 * parameter block, a range not finite or reversed, an integer range beyond
 * int64, a word too long for its slot, a ratio's index outside its sums,
 * a cuda implementation whose statistics differ), is DGPG_EINVAL;
 * dgpg_registry_error says which. */
DGPG_API int dgpg_register_env(const dgpg_env_api *api);
DGPG_API int dgpg_register_model(const dgpg_model_api *api);
DGPG_API const dgpg_env_api *dgpg_find_env(const char *name);
DGPG_API const dgpg_model_api *dgpg_find_model(const char *name);
/* One line on why the last registration on this thread was refused. */
DGPG_API const char *dgpg_registry_error(void);
/* Registers the built-in plug-ins (cloud, cloud_mm1); idempotent. */
DGPG_API int dgpg_register_builtins(void);
/* The CUDA implementation a plug-in carries (its `cuda` field, read only
 * from version 2 on), or NULL. */
DGPG_API const dgpg_env_api *dgpg_env_cuda(const dgpg_env_api *api);
DGPG_API const dgpg_model_api *dgpg_model_cuda(const dgpg_model_api *api);
/* The dgpg command line (config, train, eval, report, bench) as a
 * function: what the `dgpg` binary's main does. A program that registers
 * plug-ins of its own (dgpg_register_env / _model) and then calls it
 * trains, evaluates and benchmarks them by env.name and model.name, with
 * every option of the binary; the built-ins are registered too. argv[0]
 * names the program (the BLAS core check may restart it by that path).
 * Returns the binary's exit status: 0, 2 for a bad command line or
 * config, 1 for a failure while running. */
DGPG_API int dgpg_cli(int argc, char **argv);

/* The resolved value of key "section.key" of a config a plug-in's create
 * is handed, as `dgpg config` prints it (integers in decimal, reals as
 * the shortest round-tripping text, booleans true/false), into out.
 * DGPG_OK; DGPG_ENOTFOUND for an unknown key; DGPG_EINVAL where out is
 * too short. */
DGPG_API int dgpg_config_value(const struct dgpg_config *cfg, const char *key, char *out,
                               size_t out_len);
/* Names of the registered environments / models, for messages. */
DGPG_API int dgpg_env_names(char *out, size_t out_len);
DGPG_API int dgpg_model_names(char *out, size_t out_len);
/* The names of the registered models of environment env_name. */
DGPG_API int dgpg_model_names_for(const char *env_name, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif
