/* registry.c — plug-ins registered by name, and dgpg_strerror. The
 * registry is filled once at start-up (dgpg_register_builtins, then any
 * user plug-ins) before threads start, so it needs no lock. */
#include "cloud.h"
#include "dgpg/dgpg.h"

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

int dgpg_register_env(const dgpg_env_api *api)
{
    if (!api || !api->name || api->version < 1 || api->version > DGPG_ENV_API_VERSION ||
        !api->create || !api->destroy || !api->dims || !api->reset || !api->observe ||
        !api->step || !api->stats)
        return DGPG_EINVAL;
    if (dgpg_find_env(api->name))
        return DGPG_EEXIST;
    if (n_registered_envs == DGPG_REGISTRY_MAX)
        return DGPG_ENOMEM;
    registered_envs[n_registered_envs++] = api;
    return DGPG_OK;
}

int dgpg_register_model(const dgpg_model_api *api)
{
    if (!api || !api->name || !api->env_name || api->version < 1 ||
        api->version > DGPG_MODEL_API_VERSION || !api->create || !api->destroy ||
        !api->optimal_probs || !api->cost)
        return DGPG_EINVAL;
    if (dgpg_find_model(api->name))
        return DGPG_EEXIST;
    if (n_registered_models == DGPG_REGISTRY_MAX)
        return DGPG_ENOMEM;
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

int dgpg_register_builtins(void)
{
    if (!dgpg_find_env(dgpg_cloud_env_api.name)) {
        int rc = dgpg_register_env(&dgpg_cloud_env_api);
        if (rc != DGPG_OK)
            return rc;
    }
    if (!dgpg_find_model(dgpg_cloud_model_api.name))
        return dgpg_register_model(&dgpg_cloud_model_api);
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
