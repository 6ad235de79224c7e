/* cloud_cuda.cu — the `cloud` environment on the CUDA backend: the same
 * plug-in methods as src/cloud.c, with every batch tensor in device memory
 * (caller's obs, state, actions and reward buffers are device pointers).
 * The scenario is built once on the host by the CPU implementation (one
 * environment's worth) and its tables are copied to the device; stepping
 * launches the thin kernels of cloud_kernels.cu over the kernels/ functions,
 * on one blocking stream (ordered with the default stream), with no
 * allocation after create.
 *
 * Status: compiled (warnings as errors) on machines without a GPU; not yet
 * run on one (docs/gpu.md). tests/test_gpu_env_parity.c compares it with the
 * CPU backend step by step and skips itself where no device is present. */
#include "cloud_env.h"
#include "config.h"
#include "cuda_check.h"
#include "dgpg/dgpg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From src/cloud.c (C). */
extern "C" {
extern const dgpg_env_api dgpg_cloud_env_api;
struct cloud_instance;
const cloud_scenario *cloud_instance_scenario(const struct cloud_instance *inst);
int cloud_check_batch(int64_t n_envs, int64_t env_offset, char *err, size_t err_len);
}

/* Launchers of cloud_kernels.cu. */
extern "C" {
int cloud_cuda_arrivals(const cloud_scenario *sc, uint32_t env_offset, int64_t n_envs,
                        uint64_t step, int32_t *work, uint8_t *burst, cudaStream_t stream);
int cloud_cuda_serve(const cloud_scenario *sc, uint32_t env_offset, int64_t n_envs,
                     uint64_t step, const int32_t *work, const int32_t *actions,
                     const uint8_t *burst, int64_t *dispatched, int64_t *queue,
                     cloud_step_flows *flows, float *reward, dgpg_env_stats *stats,
                     cudaStream_t stream);
int cloud_cuda_observe(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                       const int32_t *work, const uint8_t *burst, const int64_t *queue,
                       float *obs, cudaStream_t stream);
int cloud_cuda_policy(const cloud_scenario *sc, int policy, uint32_t env_offset,
                      int64_t n_envs, uint64_t step, const uint8_t *burst,
                      const int64_t *queue, const int32_t *work, int32_t *actions,
                      double *scratch, cudaStream_t stream);
int cloud_cuda_validate(int64_t count, int32_t n_pools, const int32_t *actions, int *invalid,
                        cudaStream_t stream);
int cloud_cuda_state(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                     const uint8_t *burst, const int64_t *queue, float *state,
                     cudaStream_t stream);
int cloud_cuda_model_pstar(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                           const uint8_t *burst, float *p_star, double *scratch,
                           cudaStream_t stream);
int cloud_cuda_model_cost_grad(const cloud_scenario *sc, int64_t n_envs, uint64_t step,
                               const uint8_t *burst, double barrier, const float *probs,
                               float *grad, double *scratch, cudaStream_t stream);
int cloud_cuda_model_influence(const cloud_scenario *sc, int64_t n_envs, uint64_t last_step,
                               const uint8_t *last_burst, const cloud_step_flows *flows,
                               const int32_t *last_work, const int32_t *last_actions,
                               const float *probs, float *out, double *scratch,
                               cudaStream_t stream);
}

typedef struct cloud_cuda_instance {
    void *host;              /* CPU instance of one environment: owns the host tables */
    cloud_scenario sc;       /* pointers into device memory */
    void *device_tables[16]; /* every device table, for cudaFree */
    int n_tables;
    int64_t n_envs, env_offset, horizon;
    uint64_t step;
    cudaStream_t stream, own_stream; /* own_stream: created here, destroyed here */
    int64_t *queue, *dispatched;          /* (E, M) */
    int32_t *work, *last_work, *last_actions; /* (E, N) */
    uint8_t *burst, *last_burst;          /* (E) */
    cloud_step_flows *flows;              /* (E) */
    dgpg_env_stats *stats;                /* (E) */
    double *scratch;                      /* (E, 2M) */
    int *invalid;                         /* (1) */
} cloud_cuda_instance;

static void cloud_cuda_destroy(void *instance)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    if (!inst)
        return;
    for (int k = 0; k < inst->n_tables; k++)
        cudaFree(inst->device_tables[k]);
    void *buffers[] = {inst->queue, inst->dispatched, inst->work, inst->last_work,
                       inst->last_actions, inst->burst, inst->last_burst, inst->flows,
                       inst->stats, inst->scratch, inst->invalid};
    for (size_t k = 0; k < sizeof buffers / sizeof buffers[0]; k++)
        cudaFree(buffers[k]);
    if (inst->own_stream)
        cudaStreamDestroy(inst->own_stream);
    if (inst->host)
        dgpg_cloud_env_api.destroy(inst->host);
    free(inst);
}

/* Copies `bytes` of host table `src` to a new device table; NULL stays NULL. */
static int cloud_cuda_upload(cloud_cuda_instance *inst, const void *src, size_t bytes,
                             void **dst)
{
    *dst = NULL;
    if (!src || bytes == 0)
        return 0;
    CUDA_CHECK(cudaMalloc(dst, bytes));
    inst->device_tables[inst->n_tables++] = *dst;
    CUDA_CHECK(cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice));
    return 0;
}

#define CLOUD_CUDA_UPLOAD(field, count)                                                   \
    do {                                                                                  \
        void *device_ptr_;                                                                \
        if (cloud_cuda_upload(inst, host_sc->field, sizeof(*host_sc->field) * (size_t)(count), \
                              &device_ptr_) != 0)                                         \
            goto failed;                                                                  \
        inst->sc.field = (decltype(inst->sc.field))device_ptr_;                           \
    } while (0)

static int cloud_cuda_alloc(void **ptr, size_t bytes)
{
    CUDA_CHECK(cudaMalloc(ptr, bytes));
    CUDA_CHECK(cudaMemset(*ptr, 0, bytes));
    return 0;
}

static int cloud_cuda_create(void *user, const struct dgpg_config *cfg, uint64_t scenario_seed,
                             int64_t env_offset, int64_t n_envs, int threads, void **instance,
                             char *err, size_t err_len)
{
    (void)user;
    (void)threads;
    *instance = NULL;
    if (cloud_check_batch(n_envs, env_offset, err, err_len) != DGPG_OK)
        return DGPG_EINVAL;
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        cudaGetLastError(); /* clear the sticky "no device" error */
        snprintf(err, err_len, "backend.kind = 'cuda': no CUDA device is visible; allowed: "
                 "cpu, or auto (which picks cpu here)");
        return DGPG_EINVAL;
    }
    cloud_cuda_instance *inst = (cloud_cuda_instance *)calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, err_len, "cloud (cuda): out of host memory");
        return DGPG_ENOMEM;
    }
    /* the scenario, built by the CPU implementation: one environment */
    int rc = dgpg_cloud_env_api.create(NULL, cfg, scenario_seed, env_offset, 1, 1, &inst->host,
                                       err, err_len);
    if (rc != DGPG_OK) {
        free(inst);
        return rc;
    }
    const cloud_scenario *host_sc =
        cloud_instance_scenario((const struct cloud_instance *)inst->host);
    const int64_t N = host_sc->n_agents, M = host_sc->n_pools, D = host_sc->day_length;
    const int64_t E = n_envs;
    inst->sc = *host_sc;
    inst->n_envs = n_envs;
    inst->env_offset = env_offset;
    inst->horizon = cfg->env.horizon;
    CLOUD_CUDA_UPLOAD(mu, M);
    CLOUD_CUDA_UPLOAD(inv_mu, M);
    CLOUD_CUDA_UPLOAD(capacity_share, M);
    CLOUD_CUDA_UPLOAD(capacity_cdf, M);
    CLOUD_CUDA_UPLOAD(order_desc, M);
    CLOUD_CUDA_UPLOAD(buffer, M);
    CLOUD_CUDA_UPLOAD(service, M);
    CLOUD_CUDA_UPLOAD(rate, D * N);
    CLOUD_CUDA_UPLOAD(arrival, D * N);
    CLOUD_CUDA_UPLOAD(arrival_burst, D * N);
    CLOUD_CUDA_UPLOAD(work_rate, D);
    CLOUD_CUDA_UPLOAD(work_rate_burst, D);
    CLOUD_CUDA_UPLOAD(day_sin, D);
    CLOUD_CUDA_UPLOAD(day_cos, D);
    CLOUD_CUDA_UPLOAD(size_cdf, host_sc->size_cap);
    /* a blocking stream: ordered with the legacy default stream that
     * callers' own cudaMemcpy calls use, so inputs they copy in are there
     * before the env's kernels read them */
    if (cudaStreamCreate(&inst->own_stream) != cudaSuccess ||
        cloud_cuda_alloc((void **)&inst->queue, sizeof(int64_t) * (size_t)(E * M)) ||
        cloud_cuda_alloc((void **)&inst->dispatched, sizeof(int64_t) * (size_t)(E * M)) ||
        cloud_cuda_alloc((void **)&inst->work, sizeof(int32_t) * (size_t)(E * N)) ||
        cloud_cuda_alloc((void **)&inst->last_work, sizeof(int32_t) * (size_t)(E * N)) ||
        cloud_cuda_alloc((void **)&inst->last_actions, sizeof(int32_t) * (size_t)(E * N)) ||
        cloud_cuda_alloc((void **)&inst->burst, (size_t)E) ||
        cloud_cuda_alloc((void **)&inst->last_burst, (size_t)E) ||
        cloud_cuda_alloc((void **)&inst->flows, sizeof(cloud_step_flows) * (size_t)E) ||
        cloud_cuda_alloc((void **)&inst->stats, sizeof(dgpg_env_stats) * (size_t)E) ||
        cloud_cuda_alloc((void **)&inst->scratch, sizeof(double) * (size_t)(E * 2 * M)) ||
        cloud_cuda_alloc((void **)&inst->invalid, sizeof(int)) ||
        cudaDeviceSynchronize() != cudaSuccess) /* every table and zero-fill in place */
        goto failed;
    inst->stream = inst->own_stream;
    *instance = inst;
    return DGPG_OK;
failed:
    cudaGetLastError(); /* do not let a later launch report this failure */
    snprintf(err, err_len, "cloud (cuda): device allocation or copy failed for env.n_envs = "
             "%lld x env.n_agents = %lld (see the CUDA error above); allowed: a batch that "
             "fits in device memory", (long long)E, (long long)N);
    cloud_cuda_destroy(inst);
    return DGPG_EBACKEND;
}

static int cloud_cuda_dims(void *instance, dgpg_env_dims *dims)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    dims->n_envs = inst->n_envs;
    dims->n_agents = inst->sc.n_agents;
    dims->n_actions = inst->sc.n_pools;
    dims->obs_dim = CLOUD_OBS_DIM(inst->sc.n_pools);
    dims->state_dim = CLOUD_STATE_DIM(inst->sc.n_pools);
    return DGPG_OK;
}

static int cloud_cuda_reset(void *instance, uint64_t episode)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    const size_t E = (size_t)inst->n_envs, M = (size_t)inst->sc.n_pools;
    inst->step = episode * (uint64_t)inst->horizon;
    CUDA_CHECK(cudaMemsetAsync(inst->queue, 0, sizeof(int64_t) * E * M, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->dispatched, 0, sizeof(int64_t) * E * M, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->stats, 0, sizeof(dgpg_env_stats) * E, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->flows, 0, sizeof(cloud_step_flows) * E, inst->stream));
    return cloud_cuda_arrivals(&inst->sc, (uint32_t)inst->env_offset, inst->n_envs, inst->step,
                               inst->work, inst->burst, inst->stream);
}

static int cloud_cuda_observe_method(void *instance, float *obs, float *state)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    int rc = cloud_cuda_observe(&inst->sc, inst->n_envs, inst->step, inst->work, inst->burst,
                                inst->queue, obs, inst->stream);
    if (rc == 0 && state)
        rc = cloud_cuda_state(&inst->sc, inst->n_envs, inst->step, inst->burst, inst->queue,
                              state, inst->stream);
    return rc;
}

static int cloud_cuda_step(void *instance, const int32_t *actions, float *reward)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    const int64_t E = inst->n_envs, N = inst->sc.n_agents;
    /* refuse out-of-range actions before any environment moves: the one
     * synchronisation of a step */
    int invalid = 0;
    CUDA_CHECK(cudaMemsetAsync(inst->invalid, 0, sizeof(int), inst->stream));
    if (cloud_cuda_validate(E * N, inst->sc.n_pools, actions, inst->invalid, inst->stream))
        return DGPG_EBACKEND;
    CUDA_CHECK(cudaMemcpyAsync(&invalid, inst->invalid, sizeof(int), cudaMemcpyDeviceToHost,
                               inst->stream));
    CUDA_CHECK(cudaStreamSynchronize(inst->stream));
    if (invalid)
        return DGPG_EINVAL;
    if (cloud_cuda_serve(&inst->sc, (uint32_t)inst->env_offset, E, inst->step, inst->work,
                         actions, inst->burst, inst->dispatched, inst->queue, inst->flows,
                         reward, inst->stats, inst->stream))
        return DGPG_EBACKEND;
    CUDA_CHECK(cudaMemcpyAsync(inst->last_work, inst->work, sizeof(int32_t) * (size_t)(E * N),
                               cudaMemcpyDeviceToDevice, inst->stream));
    CUDA_CHECK(cudaMemcpyAsync(inst->last_actions, actions, sizeof(int32_t) * (size_t)(E * N),
                               cudaMemcpyDeviceToDevice, inst->stream));
    CUDA_CHECK(cudaMemcpyAsync(inst->last_burst, inst->burst, (size_t)E,
                               cudaMemcpyDeviceToDevice, inst->stream));
    inst->step++;
    return cloud_cuda_arrivals(&inst->sc, (uint32_t)inst->env_offset, E, inst->step, inst->work,
                               inst->burst, inst->stream) ? DGPG_EBACKEND : DGPG_OK;
}

/* per_env is host memory: the statistics are the one tensor that comes back. */
static int cloud_cuda_stats_method(void *instance, dgpg_env_stats *per_env)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    CUDA_CHECK(cudaMemcpyAsync(per_env, inst->stats, sizeof(dgpg_env_stats) * (size_t)inst->n_envs,
                               cudaMemcpyDeviceToHost, inst->stream));
    CUDA_CHECK(cudaStreamSynchronize(inst->stream));
    return DGPG_OK;
}

static int cloud_cuda_policy_count(void *instance)
{
    return dgpg_cloud_env_api.policy_count(((cloud_cuda_instance *)instance)->host);
}

static const char *cloud_cuda_policy_name(void *instance, int policy)
{
    return dgpg_cloud_env_api.policy_name(((cloud_cuda_instance *)instance)->host, policy);
}

static int cloud_cuda_policy_find(void *instance, const char *name)
{
    return dgpg_cloud_env_api.policy_find(((cloud_cuda_instance *)instance)->host, name);
}

static int cloud_cuda_policy_act(void *instance, int policy, int32_t *actions)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    if (policy < 0 || policy >= cloud_cuda_policy_count(instance))
        return DGPG_ENOTFOUND;
    return cloud_cuda_policy(&inst->sc, policy, (uint32_t)inst->env_offset, inst->n_envs,
                             inst->step, inst->burst, inst->queue, inst->work, actions,
                             inst->scratch, inst->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

/* The trainer's stream: the run's one stream from now on. */
static int cloud_cuda_bind_stream(void *instance, void *stream)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    CUDA_CHECK(cudaStreamSynchronize(inst->stream)); /* nothing pending on the old one */
    inst->stream = stream ? (cudaStream_t)stream : inst->own_stream;
    return DGPG_OK;
}

extern "C" const dgpg_env_api dgpg_cloud_cuda_env_api = {
    DGPG_ENV_API_VERSION, "cloud", NULL,        cloud_cuda_create,
    cloud_cuda_destroy,   cloud_cuda_dims,     cloud_cuda_reset,
    cloud_cuda_observe_method, cloud_cuda_step, cloud_cuda_stats_method,
    cloud_cuda_policy_count, cloud_cuda_policy_name, cloud_cuda_policy_find,
    cloud_cuda_policy_act, cloud_cuda_bind_stream,
};

/* ---- the cloud_mm1 model of a CUDA environment --------------------------
 * The batched methods only (the trainer's), over kernels/cloud_model.h in
 * cloud_kernels.cu, reading the environment's device state on its stream;
 * the per-environment host methods are the CPU model's business. */

typedef struct cloud_cuda_model {
    cloud_cuda_instance *env;
    double barrier;
} cloud_cuda_model;

static int cloud_cuda_model_create(void *user, const struct dgpg_config *cfg, void *env_instance,
                                   void **instance, char *err, size_t err_len)
{
    (void)user;
    cloud_cuda_model *model = (cloud_cuda_model *)calloc(1, sizeof *model);
    *instance = model;
    if (!model) {
        snprintf(err, err_len, "cloud_mm1 (cuda): out of host memory");
        return DGPG_ENOMEM;
    }
    model->env = (cloud_cuda_instance *)env_instance;
    model->barrier = cfg->model.barrier;
    return DGPG_OK;
}

static void cloud_cuda_model_destroy(void *instance)
{
    free(instance);
}

static int cloud_cuda_model_unsupported(void)
{
    fprintf(stderr, "dgpg: cloud_mm1 (cuda): the per-environment host methods are not "
            "provided on the device; allowed: the batched methods\n");
    return DGPG_EUNSUPPORTED;
}

static int cloud_cuda_model_optimal_probs(void *instance, int64_t env, double *p_star)
{
    (void)instance;
    (void)env;
    (void)p_star;
    return cloud_cuda_model_unsupported();
}

static int cloud_cuda_model_cost(void *instance, int64_t env, const double *probs,
                                 double *cost, double *grad)
{
    (void)instance;
    (void)env;
    (void)probs;
    (void)cost;
    (void)grad;
    return cloud_cuda_model_unsupported();
}

static int cloud_cuda_model_pstar_batch(void *instance, float *p_star)
{
    cloud_cuda_instance *env = ((cloud_cuda_model *)instance)->env;
    return cloud_cuda_model_pstar(&env->sc, env->n_envs, env->step, env->burst, p_star,
                                  env->scratch, env->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

static int cloud_cuda_model_cost_grad_batch(void *instance, const float *probs, float *grad)
{
    cloud_cuda_model *model = (cloud_cuda_model *)instance;
    cloud_cuda_instance *env = model->env;
    return cloud_cuda_model_cost_grad(&env->sc, env->n_envs, env->step, env->burst,
                                      model->barrier, probs, grad, env->scratch, env->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

static int cloud_cuda_model_influence_batch(void *instance, const float *probs, float *out)
{
    cloud_cuda_instance *env = ((cloud_cuda_model *)instance)->env;
    if (env->step == 0 || !probs)
        return DGPG_EINVAL; /* no step taken yet, or no probabilities */
    return cloud_cuda_model_influence(&env->sc, env->n_envs, env->step - 1, env->last_burst,
                                      env->flows, env->last_work, env->last_actions, probs, out,
                                      env->scratch, env->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

extern "C" const dgpg_model_api dgpg_cloud_cuda_model_api = {
    DGPG_MODEL_API_VERSION,
    "cloud_mm1",
    "cloud",
    NULL,
    cloud_cuda_model_create,
    cloud_cuda_model_destroy,
    cloud_cuda_model_optimal_probs,
    cloud_cuda_model_cost,
    NULL, /* influence: the batched form only */
    cloud_cuda_model_pstar_batch,
    cloud_cuda_model_cost_grad_batch,
    cloud_cuda_model_influence_batch,
};
