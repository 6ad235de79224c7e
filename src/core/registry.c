/* registry.c — plug-ins registered by name, and dgpg_strerror. The
 * registry is filled once at start-up (dgpg_register_builtins, then any
 * user plug-ins) before threads start, so it needs no lock. */
#include "registry.h"

#include "dgpg/dgpg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DGPG_REGISTRY_MAX 32

static const dgpg_env_api *registered_envs[DGPG_REGISTRY_MAX];
static const dgpg_model_api *registered_models[DGPG_REGISTRY_MAX];
static int n_registered_envs, n_registered_models;

const char *dgpg_strerror(int code)
{
    switch (code) {
    case DGPG_OK: return "success";
    case DGPG_EINVAL: return "invalid argument";
    case DGPG_ENOMEM: return "out of memory";
    case DGPG_EIO: return "input/output error";
    case DGPG_ENOTFOUND: return "not found";
    case DGPG_EUNSUPPORTED: return "not supported by this plug-in";
    case DGPG_ENUMERIC: return "NaN or Inf in a tensor";
    case DGPG_EBACKEND: return "backend library error";
    case DGPG_EEXIST: return "already registered";
    default: return "unknown error code";
    }
}

/* Why the last registration on this thread was refused. */
static _Thread_local char registry_error[256];

const char *dgpg_registry_error(void)
{
    return registry_error;
}

static int registry_refuse(const char *what, const char *name, const char *problem)
{
    snprintf(registry_error, sizeof registry_error, "%s plug-in '%s': %s", what,
             name ? name : "(no name)", problem);
    return DGPG_EINVAL;
}

static int is_identifier(const char *s)
{
    if (!s || !s[0] || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

/* Every word fits its DGPG_WORD_LEN slot with its NUL. */
static int registry_words_fit(const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) >= DGPG_WORD_LEN)
            return 0;
    return 1;
}

/* The keys every environment has: a plug-in's rows may not reuse them. */
static const char *const env_generic_keys[] = {"name", "n_agents", "n_pools", "n_envs",
                                               "horizon", "seed", "scenarios", NULL};
static const char *const model_generic_keys[] = {"name", NULL};

/* A version 3 plug-in's key rows: identifiers, unique, not a generic key's
 * name, of a known type, inside a parameter block of at most
 * DGPG_PARAMS_MAX bytes, with a default and (words) a list. */
static int registry_check_keys(const char *what, const char *name, const dgpg_config_key *keys,
                               int n_keys, size_t params_size, const char *const *generic)
{
    char problem[200];
    if (n_keys < 0 || n_keys > DGPG_KEYS_MAX || (n_keys > 0 && !keys) ||
        params_size > DGPG_PARAMS_MAX) {
        snprintf(problem, sizeof problem, "n_config_keys = %d, params_size = %zu; allowed: at "
                 "most %d rows in a block of at most %d bytes", n_keys, params_size,
                 DGPG_KEYS_MAX, DGPG_PARAMS_MAX);
        return registry_refuse(what, name, problem);
    }
    for (int k = 0; k < n_keys; k++) {
        const dgpg_config_key *row = &keys[k];
        size_t size = row->type == DGPG_KEY_INT ? sizeof(int64_t)
                      : row->type == DGPG_KEY_REAL ? sizeof(double)
                      : row->type == DGPG_KEY_BOOL ? sizeof(int)
                      : row->type == DGPG_KEY_WORD ? DGPG_WORD_LEN : 0;
        const char *problem_text = NULL;
        if (!is_identifier(row->key))
            problem_text = "a key that is not an identifier";
        else if (size == 0)
            problem_text = "a key of unknown type";
        else if (row->offset > params_size || size > params_size - row->offset)
            problem_text = "a key stored outside params_size";
        else if (!row->default_value || !row->help)
            problem_text = "a key without default_value or help";
        else if (row->type == DGPG_KEY_WORD && (!row->words || !row->words[0]))
            problem_text = "a word key without words";
        else if (row->type == DGPG_KEY_WORD && !registry_words_fit(row->words))
            problem_text = "a word of DGPG_WORD_LEN (64) characters or more";
        else if ((row->type == DGPG_KEY_INT || row->type == DGPG_KEY_REAL) &&
                 !(isfinite(row->min) && isfinite(row->max) && row->min <= row->max))
            problem_text = "a range whose bounds are not finite, or min above max";
        else if (row->type == DGPG_KEY_INT &&
                 !(row->min >= -9.2e18 && row->max <= 9.2e18 && row->min == floor(row->min) &&
                   row->max == floor(row->max)))
            problem_text = "an integer range beyond int64 or not whole";
        for (const char *const *g = generic; !problem_text && *g; g++)
            if (strcmp(*g, row->key) == 0)
                problem_text = "a key every plug-in of its kind has";
        for (int j = 0; !problem_text && j < k; j++)
            if (strcmp(keys[j].key, row->key) == 0)
                problem_text = "a key listed twice";
        if (problem_text) {
            snprintf(problem, sizeof problem, "config_keys[%d] ('%s'): %s", k,
                     row->key ? row->key : "(null)", problem_text);
            return registry_refuse(what, name, problem);
        }
    }
    return DGPG_OK;
}

static int registry_check_stats(const dgpg_env_api *api)
{
    if (!api->sums || api->n_sums < 0 || api->n_sums > DGPG_KEYS_MAX || api->n_ratios < 0 ||
        api->n_ratios > DGPG_KEYS_MAX || (api->n_sums && !api->sum_info) ||
        (api->n_ratios && !api->ratios))
        return registry_refuse("environment", api->name,
                               "sums, n_sums, sum_info, n_ratios or ratios missing or out of "
                               "range; allowed: a sums method and at most 64 of each");
    for (int k = 0; k < api->n_sums; k++)
        if (!is_identifier(api->sum_info[k].name) || strlen(api->sum_info[k].name) > 48)
            return registry_refuse("environment", api->name,
                                   "a sum whose name is not an identifier of at most 48 "
                                   "characters");
    for (int k = 0; k < api->n_ratios; k++) {
        const dgpg_stat_ratio *r = &api->ratios[k];
        if (!is_identifier(r->info.name) || strlen(r->info.name) > 48 || r->numerator < 0 ||
            r->numerator >= api->n_sums ||
            r->denominator < 0 || r->denominator >= api->n_sums)
            return registry_refuse("environment", api->name,
                                   "a ratio whose name is not an identifier or whose sums are "
                                   "outside [0, n_sums)");
    }
    return DGPG_OK;
}

int dgpg_register_env(const dgpg_env_api *api)
{
    registry_error[0] = '\0';
    if (!api || !api->name)
        return registry_refuse("environment", NULL, "no name");
    if (api->version < 1 || api->version > DGPG_ENV_API_VERSION)
        return registry_refuse("environment", api->name,
                               "an API version this library does not know; allowed: 1 to "
                               "DGPG_ENV_API_VERSION (3)");
    if (!api->create || !api->destroy || !api->dims || !api->reset || !api->observe ||
        !api->step || (api->version < 3 && !api->stats))
        return registry_refuse("environment", api->name, "a required method is NULL");
    if (api->version >= 3) {
        int rc = registry_check_keys("environment", api->name, api->config_keys,
                                     api->n_config_keys, api->params_size, env_generic_keys);
        if (rc == DGPG_OK)
            rc = registry_check_stats(api);
        /* its CUDA implementation is not registered but reports the same
         * statistics, which the trainer and eval size their arrays from */
        const dgpg_env_api *cuda = api->cuda;
        if (rc == DGPG_OK && cuda && cuda->version >= 3 &&
            (registry_check_stats(cuda) != DGPG_OK || cuda->n_sums != api->n_sums ||
             cuda->n_ratios != api->n_ratios))
            rc = registry_refuse("environment", api->name,
                                 "its cuda implementation's statistics are malformed or differ "
                                 "from its own; allowed: the same sums and ratios");
        if (rc != DGPG_OK)
            return rc;
    }
    if (dgpg_find_env(api->name)) {
        registry_refuse("environment", api->name, "a plug-in of that name is registered");
        return DGPG_EEXIST;
    }
    if (n_registered_envs == DGPG_REGISTRY_MAX) {
        registry_refuse("environment", api->name, "the registry is full (32 plug-ins)");
        return DGPG_ENOMEM;
    }
    registered_envs[n_registered_envs++] = api;
    return DGPG_OK;
}

int dgpg_register_model(const dgpg_model_api *api)
{
    registry_error[0] = '\0';
    if (!api || !api->name)
        return registry_refuse("model", NULL, "no name");
    if (api->version < 1 || api->version > DGPG_MODEL_API_VERSION)
        return registry_refuse("model", api->name,
                               "an API version this library does not know; allowed: 1 to "
                               "DGPG_MODEL_API_VERSION (3)");
    if (!api->env_name || !api->create || !api->destroy || !api->optimal_probs || !api->cost)
        return registry_refuse("model", api->name, "env_name or a required method is NULL");
    if (api->version >= 3) {
        int rc = registry_check_keys("model", api->name, api->config_keys, api->n_config_keys,
                                     api->params_size, model_generic_keys);
        if (rc != DGPG_OK)
            return rc;
    }
    if (dgpg_find_model(api->name)) {
        registry_refuse("model", api->name, "a plug-in of that name is registered");
        return DGPG_EEXIST;
    }
    if (n_registered_models == DGPG_REGISTRY_MAX) {
        registry_refuse("model", api->name, "the registry is full (32 plug-ins)");
        return DGPG_ENOMEM;
    }
    registered_models[n_registered_models++] = api;
    return DGPG_OK;
}

const dgpg_env_api *dgpg_env_cuda(const dgpg_env_api *api)
{
    return api && api->version >= 2 ? api->cuda : NULL;
}

const dgpg_model_api *dgpg_model_cuda(const dgpg_model_api *api)
{
    return api && api->version >= 2 ? api->cuda : NULL;
}

const dgpg_env_api *dgpg_find_env(const char *name)
{
    for (int k = 0; k < n_registered_envs; k++)
        if (strcmp(registered_envs[k]->name, name) == 0)
            return registered_envs[k];
    return NULL;
}

const dgpg_model_api *dgpg_find_model(const char *name)
{
    for (int k = 0; k < n_registered_models; k++)
        if (strcmp(registered_models[k]->name, name) == 0)
            return registered_models[k];
    return NULL;
}

/* The built-in plug-ins, one line each: an environment (envs/NAME/) and
 * its model. */
#define DGPG_BUILTINS(X)                                                                    \
    X(dgpg_cloud_env_api, dgpg_cloud_model_api)                                             \
    X(dgpg_hetcloud_env_api, dgpg_hetcloud_model_api)

#define DGPG_DECLARE_BUILTIN(env, model)                                                    \
    extern const dgpg_env_api env;                                                          \
    extern const dgpg_model_api model;
DGPG_BUILTINS(DGPG_DECLARE_BUILTIN)

static const dgpg_env_api *const builtin_envs[] = {
#define DGPG_BUILTIN_ENV(env, model) &env,
    DGPG_BUILTINS(DGPG_BUILTIN_ENV)};
static const dgpg_model_api *const builtin_models[] = {
#define DGPG_BUILTIN_MODEL(env, model) &model,
    DGPG_BUILTINS(DGPG_BUILTIN_MODEL)};

int dgpg_register_builtins(void)
{
    for (size_t k = 0; k < sizeof builtin_envs / sizeof builtin_envs[0]; k++) {
        int rc = dgpg_find_env(builtin_envs[k]->name) ? DGPG_OK
                                                       : dgpg_register_env(builtin_envs[k]);
        if (rc == DGPG_OK && !dgpg_find_model(builtin_models[k]->name))
            rc = dgpg_register_model(builtin_models[k]);
        if (rc != DGPG_OK)
            return rc;
    }
    return DGPG_OK;
}

/* "a, b, c": the names name_of gives for 0 .. count - 1, skipping NULL. */
static int registry_names(char *out, size_t out_len, int count,
                          const char *(*name_of)(int, const char *), const char *filter)
{
    size_t used = 0;
    if (out_len)
        out[0] = '\0';
    for (int k = 0; k < count; k++) {
        const char *name = name_of(k, filter);
        if (!name)
            continue;
        int n = snprintf(out + used, out_len - used, "%s%s", used ? ", " : "", name);
        if (n < 0 || (size_t)n >= out_len - used)
            return DGPG_ENOMEM;
        used += (size_t)n;
    }
    return DGPG_OK;
}

static const char *env_name_at(int k, const char *filter)
{
    (void)filter;
    return registered_envs[k]->name;
}

/* filter: an environment's name, or NULL for every model */
static const char *model_name_at(int k, const char *filter)
{
    const dgpg_model_api *m = registered_models[k];
    return !filter || strcmp(m->env_name, filter) == 0 ? m->name : NULL;
}

int dgpg_env_names(char *out, size_t out_len)
{
    return registry_names(out, out_len, n_registered_envs, env_name_at, NULL);
}

int dgpg_model_names(char *out, size_t out_len)
{
    return registry_names(out, out_len, n_registered_models, model_name_at, NULL);
}

int dgpg_model_names_for(const char *env_name, char *out, size_t out_len)
{
    return registry_names(out, out_len, n_registered_models, model_name_at, env_name);
}

int dgpg_registry_env_count(void)
{
    return n_registered_envs;
}

const dgpg_env_api *dgpg_registry_env(int k)
{
    return k >= 0 && k < n_registered_envs ? registered_envs[k] : NULL;
}

int dgpg_registry_model_count(void)
{
    return n_registered_models;
}

const dgpg_model_api *dgpg_registry_model(int k)
{
    return k >= 0 && k < n_registered_models ? registered_models[k] : NULL;
}
