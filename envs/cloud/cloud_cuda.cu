/* cloud_cuda.cu — the `cloud` environment on the CUDA backend: the same
 * plug-in methods as envs/cloud/cloud.c, with every batch tensor in device memory
 * (caller's obs, state, actions and reward buffers are device pointers).
 *
 * Scenarios: a CPU instance of the same batch (same n_envs and env_offset,
 * so the same scenarios) builds them on the host; create copies its
 * scenario tables once into device tables of the same slot-major layout
 * (cloud_instance_slots: 1 slot under env.scenarios = fixed, one per
 * environment under sampled; day_sin, day_cos and size_cdf shared) and
 * uploads an array of E cloud_scenario structs whose pointers address
 * environment e's slot of the device tables; every kernel reads scs[e].
 * Under sampled, reset(episode) of a new episode has the CPU instance
 * rebuild its tables in place and copies their contents and the struct
 * array (the scalars change with the seed) again, on the instance's stream;
 * the device allocations never move.
 *
 * Stepping launches the thin kernels of cloud_kernels.cu over the kernels/
 * functions, on one blocking stream (ordered with the default stream) or the
 * one bind_stream gives, with no allocation after create. The serve kernel
 * keeps the backlogs before each dispatch (last_queue) for the model's
 * state reference. The cloud_mm1 model's batched methods (below) follow
 * model.reference: state (p*(s), the fluid cost's gradient, the levelled
 * reference) or static (p* of Lambda(t) and the M/M/1 flows model).
 *
 * Status: compiled (warnings as errors) on machines without a GPU; not yet
 * run on one (docs/gpu.md). envs/cloud/tests/test_gpu_env_parity.c compares it with the
 * CPU backend step by step (environment, heuristics and both model
 * references, sampled scenarios across a reset to a second episode, and
 * fixed ones) and skips itself where no device is present. */
#include "cloud_config.h"
#include "cloud_env.h"
#include "cuda_check.h"
#include "dgpg/dgpg.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From envs/cloud/cloud.c (C). */
extern "C" {
extern const dgpg_env_api dgpg_cloud_env_api;
struct cloud_instance;
const cloud_scenario *cloud_instance_scenarios(const struct cloud_instance *inst);
int64_t cloud_instance_slots(const struct cloud_instance *inst);
int cloud_check_batch(int64_t n_envs, int64_t env_offset, char *err, size_t err_len);
}

/* Launchers of cloud_kernels.cu; scs is the device array (E). */
extern "C" {
int cloud_cuda_arrivals(const cloud_scenario *scs, int32_t n_agents, uint32_t env_offset,
                        int64_t n_envs, uint64_t step, int32_t *work, uint8_t *burst,
                        cudaStream_t stream);
int cloud_cuda_serve(const cloud_scenario *scs, int32_t n_pools, uint32_t env_offset,
                     int64_t n_envs, uint64_t step, const int32_t *work, const int32_t *actions,
                     const uint8_t *burst, int64_t *dispatched, int64_t *queue,
                     int64_t *last_queue, cloud_step_flows *flows, float *reward,
                     double *sums, cudaStream_t stream);
int cloud_cuda_observe(const cloud_scenario *scs, int32_t n_agents, int64_t n_envs,
                       uint64_t step, const int32_t *work, const uint8_t *burst,
                       const int64_t *queue, float *obs, cudaStream_t stream);
int cloud_cuda_policy(const cloud_scenario *scs, int policy, int32_t n_agents,
                      uint32_t env_offset, int64_t n_envs, uint64_t step, const uint8_t *burst,
                      const int64_t *queue, const int32_t *work, int32_t *actions,
                      double *scratch, cudaStream_t stream);
int cloud_cuda_validate(int64_t count, int32_t n_pools, uint64_t step, const int32_t *actions,
                        cloud_bad_action *bad, cudaStream_t stream);
int cloud_cuda_state(const cloud_scenario *scs, int64_t n_envs, uint64_t step,
                     const uint8_t *burst, const int64_t *queue, float *state,
                     cudaStream_t stream);
int cloud_cuda_model_pstar(const cloud_scenario *scs, int64_t n_envs, uint64_t step,
                           const uint8_t *burst, int state_reference, const int64_t *queue,
                           const int32_t *work, float *p_star, double *scratch,
                           cudaStream_t stream);
int cloud_cuda_model_cost_grad(const cloud_scenario *scs, int64_t n_envs, uint64_t step,
                               const uint8_t *burst, double barrier, int state_reference,
                               const int64_t *queue, const int32_t *work, const float *probs,
                               float *grad, double *scratch, cudaStream_t stream);
int cloud_cuda_model_influence(const cloud_scenario *scs, int64_t n_envs, uint64_t last_step,
                               const uint8_t *last_burst, int state_reference,
                               const int64_t *last_queue, const cloud_step_flows *flows,
                               const int32_t *last_work, const int32_t *last_actions,
                               const float *probs, float *out, double *scratch,
                               cudaStream_t stream);
}

/* Every scenario table: its cloud_scenario field, its entries per slot, and
 * whether each slot has its own (1) or every slot shares one (0). A table
 * the CPU instance leaves NULL (no bursts, unit job sizes) stays NULL. */
#define CLOUD_CUDA_TABLES(X)                                                              \
    X(mu, M, 1)                                                                           \
    X(inv_mu, M, 1)                                                                       \
    X(capacity_share, M, 1)                                                               \
    X(capacity_cdf, M, 1)                                                                 \
    X(order_desc, M, 1)                                                                   \
    X(buffer, M, 1)                                                                       \
    X(service, M, 1)                                                                      \
    X(rate, D * N, 1)                                                                     \
    X(arrival, D * N, 1)                                                                  \
    X(arrival_burst, D * N, 1)                                                            \
    X(work_rate, D, 1)                                                                    \
    X(work_rate_burst, D, 1)                                                              \
    X(day_sin, D, 0)                                                                      \
    X(day_cos, D, 0)                                                                      \
    X(size_cdf, size_cap, 0)

/* The device tables, field by field as in cloud_scenario. */
#define CLOUD_CUDA_TABLE_FIELD(field, count, per_slot) decltype(cloud_scenario::field) field;
typedef struct cloud_cuda_tables {
    CLOUD_CUDA_TABLES(CLOUD_CUDA_TABLE_FIELD)
} cloud_cuda_tables;
#undef CLOUD_CUDA_TABLE_FIELD

typedef struct cloud_cuda_instance {
    void *host;               /* CPU instance of the same batch: builds the scenarios */
    int sampled;              /* env.scenarios = sampled */
    int64_t slots;            /* scenario slots of the tables (1, or E when sampled) */
    uint64_t built_episode;   /* sampled: the episode whose scenarios the device holds */
    int32_t n_agents, n_pools, day_length, size_cap;
    cloud_cuda_tables tables; /* (slots, .) device tables, slot-major */
    cloud_scenario *scs;      /* (E) device: environment e's scenario */
    cloud_scenario *scs_host; /* (E) host staging of scs, device pointers */
    int64_t n_envs, env_offset, horizon;
    uint64_t step;
    cudaStream_t stream, own_stream; /* own_stream: created here, destroyed here */
    int64_t *queue, *last_queue, *dispatched; /* (E, M) */
    int32_t *work, *last_work, *last_actions; /* (E, N) */
    uint8_t *burst, *last_burst;          /* (E) */
    cloud_step_flows *flows;              /* (E) */
    double *sums;                         /* (E, CLOUD_SUMS_WIDTH) */
    double *scratch;                      /* (E, 2M) */
    cloud_bad_action *bad;                /* (1) the episode's first out-of-range action */
} cloud_cuda_instance;

/* Entries of one table over all its slots. */
#define CLOUD_CUDA_ENTRIES(count, per_slot)                                               \
    ((size_t)(count) * (size_t)((per_slot) ? inst->slots : 1))

static void cloud_cuda_destroy(void *instance)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    if (!inst)
        return;
#define CLOUD_CUDA_FREE(field, count, per_slot) cudaFree((void *)inst->tables.field);
    CLOUD_CUDA_TABLES(CLOUD_CUDA_FREE)
#undef CLOUD_CUDA_FREE
    void *buffers[] = {inst->scs,       inst->queue,        inst->last_queue, inst->dispatched,
                       inst->work,      inst->last_work,    inst->last_actions, inst->burst,
                       inst->last_burst, inst->flows,       inst->sums,       inst->scratch,
                       inst->bad};
    for (size_t k = 0; k < sizeof buffers / sizeof buffers[0]; k++)
        cudaFree(buffers[k]);
    if (inst->own_stream)
        cudaStreamDestroy(inst->own_stream);
    if (inst->host)
        dgpg_cloud_env_api.destroy(inst->host);
    free(inst->scs_host);
    free(inst);
}

/* The device tables, `slots` scenarios' worth (once, at create). */
static int cloud_cuda_tables_alloc(cloud_cuda_instance *inst, const cloud_scenario *host0)
{
    const int64_t N = inst->n_agents, M = inst->n_pools, D = inst->day_length;
    const int64_t size_cap = inst->size_cap;
#define CLOUD_CUDA_ALLOC_TABLE(field, count, per_slot)                                    \
    if (host0->field)                                                                     \
        CUDA_CHECK(cudaMalloc((void **)&inst->tables.field,                               \
                              sizeof(*host0->field) * CLOUD_CUDA_ENTRIES(count, per_slot)));
    CLOUD_CUDA_TABLES(CLOUD_CUDA_ALLOC_TABLE)
#undef CLOUD_CUDA_ALLOC_TABLE
    return 0;
}

/* Copies every table of the CPU instance (all slots, from environment 0's
 * pointers: slot 0 is the start of its storage) into the device tables, on
 * the instance's stream. */
static int cloud_cuda_tables_upload(cloud_cuda_instance *inst, const cloud_scenario *host0)
{
    const int64_t N = inst->n_agents, M = inst->n_pools, D = inst->day_length;
    const int64_t size_cap = inst->size_cap;
#define CLOUD_CUDA_COPY_TABLE(field, count, per_slot)                                     \
    if (inst->tables.field)                                                               \
        CUDA_CHECK(cudaMemcpyAsync((void *)inst->tables.field, host0->field,              \
                                   sizeof(*host0->field) * CLOUD_CUDA_ENTRIES(count, per_slot), \
                                   cudaMemcpyHostToDevice, inst->stream));
    CLOUD_CUDA_TABLES(CLOUD_CUDA_COPY_TABLE)
#undef CLOUD_CUDA_COPY_TABLE
    return 0;
}

/* scs (E): each environment's scenario of the CPU instance, scalars as
 * they are and every table pointer moved to the same entry of the device
 * table (environment e's slot, or the one slot); then uploaded on the
 * instance's stream. Refuses a host pointer outside the storage that
 * environment 0's pointers start. */
static int cloud_cuda_scenarios_upload(cloud_cuda_instance *inst, const cloud_scenario *host_scs)
{
    const int64_t N = inst->n_agents, M = inst->n_pools, D = inst->day_length;
    const int64_t size_cap = inst->size_cap;
    const cloud_scenario *host0 = &host_scs[0];
    for (int64_t e = 0; e < inst->n_envs; e++) {
        const cloud_scenario *from = &host_scs[e];
        cloud_scenario *to = &inst->scs_host[e];
        *to = *from;
#define CLOUD_CUDA_PATCH_TABLE(field, count, per_slot)                                    \
        if ((from->field == NULL) != (inst->tables.field == NULL))                        \
            goto outside;                                                                 \
        if (from->field) {                                                                \
            ptrdiff_t at_ = from->field - host0->field;                                   \
            if (at_ < 0 || (size_t)at_ + (size_t)(count) > CLOUD_CUDA_ENTRIES(count, per_slot)) \
                goto outside;                                                             \
            to->field = inst->tables.field + at_;                                         \
        }
        CLOUD_CUDA_TABLES(CLOUD_CUDA_PATCH_TABLE)
#undef CLOUD_CUDA_PATCH_TABLE
    }
    CUDA_CHECK(cudaMemcpyAsync(inst->scs, inst->scs_host,
                               sizeof(cloud_scenario) * (size_t)inst->n_envs,
                               cudaMemcpyHostToDevice, inst->stream));
    return 0;
outside:
    fprintf(stderr, "dgpg: cloud (cuda): the CPU instance's scenario tables are not laid out "
            "slot-major from environment 0's (envs/cloud/cloud.c); cannot map them to the device\n");
    return DGPG_EBACKEND;
}

/* A zero-filled device buffer (the fill on the instance's stream). */
static int cloud_cuda_alloc(cloud_cuda_instance *inst, void **ptr, size_t bytes)
{
    CUDA_CHECK(cudaMalloc(ptr, bytes));
    CUDA_CHECK(cudaMemsetAsync(*ptr, 0, bytes, inst->stream));
    return 0;
}

static int cloud_cuda_create(void *user, const struct dgpg_config *cfg, uint64_t scenario_seed,
                             int64_t env_offset, int64_t n_envs, int threads, void **instance,
                             char *err, size_t err_len)
{
    (void)user;
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
    /* the scenarios, built by the CPU implementation for the same batch
     * (the same global indices, so the same sampled scenarios) */
    int rc = dgpg_cloud_env_api.create(NULL, cfg, scenario_seed, env_offset, n_envs, threads,
                                       &inst->host, err, err_len);
    if (rc != DGPG_OK) {
        free(inst);
        return rc;
    }
    const struct cloud_instance *host = (const struct cloud_instance *)inst->host;
    const cloud_scenario *host_scs = cloud_instance_scenarios(host);
    const int64_t N = host_scs[0].n_agents, M = host_scs[0].n_pools;
    const int64_t E = n_envs;
    dgpg_env_settings settings;
    dgpg_config_env_settings(cfg, &settings);
    inst->sampled = settings.sampled_scenarios;
    inst->slots = cloud_instance_slots(host);
    inst->built_episode = 0; /* the CPU instance holds episode 0's scenarios from create */
    inst->n_agents = host_scs[0].n_agents;
    inst->n_pools = host_scs[0].n_pools;
    inst->day_length = host_scs[0].day_length;
    inst->size_cap = host_scs[0].size_cap;
    inst->n_envs = n_envs;
    inst->env_offset = env_offset;
    inst->horizon = settings.horizon;
    inst->scs_host = (cloud_scenario *)calloc((size_t)E, sizeof(cloud_scenario));
    if (!inst->scs_host) {
        snprintf(err, err_len, "cloud (cuda): out of host memory for %lld scenarios",
                 (long long)E);
        cloud_cuda_destroy(inst);
        return DGPG_ENOMEM;
    }
    /* a blocking stream: ordered with the legacy default stream that
     * callers' own cudaMemcpy calls use, so inputs they copy in are there
     * before the env's kernels read them */
    if (cudaStreamCreate(&inst->own_stream) != cudaSuccess)
        goto failed;
    inst->stream = inst->own_stream;
    if (cloud_cuda_tables_alloc(inst, &host_scs[0]) ||
        cudaMalloc((void **)&inst->scs, sizeof(cloud_scenario) * (size_t)E) != cudaSuccess ||
        cloud_cuda_alloc(inst, (void **)&inst->queue, sizeof(int64_t) * (size_t)(E * M)) ||
        cloud_cuda_alloc(inst, (void **)&inst->last_queue, sizeof(int64_t) * (size_t)(E * M)) ||
        cloud_cuda_alloc(inst, (void **)&inst->dispatched, sizeof(int64_t) * (size_t)(E * M)) ||
        cloud_cuda_alloc(inst, (void **)&inst->work, sizeof(int32_t) * (size_t)(E * N)) ||
        cloud_cuda_alloc(inst, (void **)&inst->last_work, sizeof(int32_t) * (size_t)(E * N)) ||
        cloud_cuda_alloc(inst, (void **)&inst->last_actions,
                         sizeof(int32_t) * (size_t)(E * N)) ||
        cloud_cuda_alloc(inst, (void **)&inst->burst, (size_t)E) ||
        cloud_cuda_alloc(inst, (void **)&inst->last_burst, (size_t)E) ||
        cloud_cuda_alloc(inst, (void **)&inst->flows, sizeof(cloud_step_flows) * (size_t)E) ||
        cloud_cuda_alloc(inst, (void **)&inst->sums,
                         sizeof(double) * CLOUD_SUMS_WIDTH * (size_t)E) ||
        cloud_cuda_alloc(inst, (void **)&inst->scratch, sizeof(double) * (size_t)(E * 2 * M)) ||
        cloud_cuda_alloc(inst, (void **)&inst->bad, sizeof(cloud_bad_action)) ||
        cloud_cuda_tables_upload(inst, &host_scs[0]) ||
        cloud_cuda_scenarios_upload(inst, host_scs) ||
        cudaStreamSynchronize(inst->stream) != cudaSuccess) /* every table and fill in place */
        goto failed;
    *instance = inst;
    return DGPG_OK;
failed:
    cudaGetLastError(); /* do not let a later launch report this failure */
    snprintf(err, err_len, "cloud (cuda): device allocation or copy failed for env.n_envs = "
             "%lld x env.n_agents = %lld with %lld scenario slots (see the CUDA error above); "
             "allowed: a batch that fits in device memory (env.scenarios = sampled keeps one "
             "scenario per environment)",
             (long long)E, (long long)N, (long long)inst->slots);
    cloud_cuda_destroy(inst);
    return DGPG_EBACKEND;
}

static int cloud_cuda_dims(void *instance, dgpg_env_dims *dims)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    dims->n_envs = inst->n_envs;
    dims->n_agents = inst->n_agents;
    dims->n_actions = inst->n_pools;
    dims->obs_dim = CLOUD_OBS_DIM(inst->n_pools);
    dims->state_dim = CLOUD_STATE_DIM(inst->n_pools);
    return DGPG_OK;
}

/* env.scenarios = sampled: the scenarios of `episode`, rebuilt in place by
 * the CPU instance (cloud_training_scenario_seed of each global index) and
 * copied into the same device tables and struct array. */
static int cloud_cuda_scenarios_sample(cloud_cuda_instance *inst, uint64_t episode)
{
    if (!inst->sampled || episode == inst->built_episode)
        return DGPG_OK;
    /* the copies of the last rebuild may still read the host tables (and
     * kernels queued before this reset read the device ones; the stream
     * orders those) */
    DGPG_HOST_WAITED();
    CUDA_CHECK(cudaStreamSynchronize(inst->stream));
    int rc = dgpg_cloud_env_api.reset(inst->host, episode);
    if (rc != DGPG_OK)
        return rc;
    const cloud_scenario *host_scs =
        cloud_instance_scenarios((const struct cloud_instance *)inst->host);
    if (cloud_cuda_tables_upload(inst, &host_scs[0]) ||
        cloud_cuda_scenarios_upload(inst, host_scs))
        return DGPG_EBACKEND;
    inst->built_episode = episode;
    return DGPG_OK;
}

static int cloud_cuda_reset(void *instance, uint64_t episode)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    const size_t E = (size_t)inst->n_envs, M = (size_t)inst->n_pools;
    int rc = cloud_cuda_scenarios_sample(inst, episode);
    if (rc != DGPG_OK)
        return rc;
    inst->step = episode * (uint64_t)inst->horizon;
    CUDA_CHECK(cudaMemsetAsync(inst->queue, 0, sizeof(int64_t) * E * M, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->last_queue, 0, sizeof(int64_t) * E * M, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->dispatched, 0, sizeof(int64_t) * E * M, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->sums, 0, sizeof(double) * CLOUD_SUMS_WIDTH * E,
                               inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->flows, 0, sizeof(cloud_step_flows) * E, inst->stream));
    CUDA_CHECK(cudaMemsetAsync(inst->bad, 0, sizeof(cloud_bad_action), inst->stream));
    return cloud_cuda_arrivals(inst->scs, inst->n_agents, (uint32_t)inst->env_offset,
                               inst->n_envs, inst->step, inst->work, inst->burst, inst->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

static int cloud_cuda_observe_method(void *instance, float *obs, float *state)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    int rc = cloud_cuda_observe(inst->scs, inst->n_agents, inst->n_envs, inst->step, inst->work,
                                inst->burst, inst->queue, obs, inst->stream);
    if (rc == 0 && state)
        rc = cloud_cuda_state(inst->scs, inst->n_envs, inst->step, inst->burst, inst->queue,
                              state, inst->stream);
    return rc;
}

static int cloud_cuda_step(void *instance, const int32_t *actions, float *reward)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    const int64_t E = inst->n_envs, N = inst->n_agents;
    /* out-of-range actions are recorded on the device, their environments
     * do not move, and the next sums reports them: no host wait per step */
    if (cloud_cuda_validate(E * N, inst->n_pools, inst->step, actions, inst->bad, inst->stream))
        return DGPG_EBACKEND;
    /* the serve kernel keeps Q before the dispatch in last_queue */
    if (cloud_cuda_serve(inst->scs, inst->n_pools, (uint32_t)inst->env_offset, E, inst->step,
                         inst->work, actions, inst->burst, inst->dispatched, inst->queue,
                         inst->last_queue, inst->flows, reward, inst->sums, inst->stream))
        return DGPG_EBACKEND;
    CUDA_CHECK(cudaMemcpyAsync(inst->last_work, inst->work, sizeof(int32_t) * (size_t)(E * N),
                               cudaMemcpyDeviceToDevice, inst->stream));
    CUDA_CHECK(cudaMemcpyAsync(inst->last_actions, actions, sizeof(int32_t) * (size_t)(E * N),
                               cudaMemcpyDeviceToDevice, inst->stream));
    CUDA_CHECK(cudaMemcpyAsync(inst->last_burst, inst->burst, (size_t)E,
                               cudaMemcpyDeviceToDevice, inst->stream));
    inst->step++;
    return cloud_cuda_arrivals(inst->scs, inst->n_agents, (uint32_t)inst->env_offset, E,
                               inst->step, inst->work, inst->burst, inst->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

/* per_env is host memory: the statistics are the one tensor that comes back. */
static int cloud_cuda_sums(void *instance, double *per_env)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    cloud_bad_action bad;
    CUDA_CHECK(cudaMemcpyAsync(per_env, inst->sums,
                               sizeof(double) * CLOUD_SUMS_WIDTH * (size_t)inst->n_envs,
                               cudaMemcpyDeviceToHost, inst->stream));
    CUDA_CHECK(cudaMemcpyAsync(&bad, inst->bad, sizeof bad, cudaMemcpyDeviceToHost,
                               inst->stream));
    DGPG_HOST_WAITED();
    CUDA_CHECK(cudaStreamSynchronize(inst->stream));
    if (bad.flag) {
        const int64_t N = inst->n_agents;
        fprintf(stderr, "dgpg: cloud (cuda): step %llu: agent %lld of environment %lld chose "
                "action %d; allowed: 0 to %d (that environment did not move from then on)\n",
                (unsigned long long)bad.step, (long long)(bad.index % N),
                (long long)(inst->env_offset + bad.index / N), bad.action, inst->n_pools - 1);
        return DGPG_EINVAL;
    }
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
    return cloud_cuda_policy(inst->scs, policy, inst->n_agents, (uint32_t)inst->env_offset,
                             inst->n_envs, inst->step, inst->burst, inst->queue, inst->work,
                             actions, inst->scratch, inst->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

/* The trainer's stream: the run's one stream from now on. */
static int cloud_cuda_bind_stream(void *instance, void *stream)
{
    cloud_cuda_instance *inst = (cloud_cuda_instance *)instance;
    DGPG_HOST_WAITED();
    CUDA_CHECK(cudaStreamSynchronize(inst->stream)); /* nothing pending on the old one */
    inst->stream = stream ? (cudaStream_t)stream : inst->own_stream;
    return DGPG_OK;
}

extern "C" const dgpg_env_api dgpg_cloud_cuda_env_api = {
    DGPG_ENV_API_VERSION, "cloud", NULL,        cloud_cuda_create,
    cloud_cuda_destroy,   cloud_cuda_dims,     cloud_cuda_reset,
    cloud_cuda_observe_method, cloud_cuda_step, NULL /* stats: versions 1-2 */,
    cloud_cuda_policy_count, cloud_cuda_policy_name, cloud_cuda_policy_find,
    cloud_cuda_policy_act, cloud_cuda_bind_stream,
    NULL, /* cuda: this is it */
    /* its keys are the registered CPU plug-in's: the config is read once */
    NULL, 0, 0, NULL,
    CLOUD_SUMS, cloud_sum_info, CLOUD_RATIOS, cloud_ratios, cloud_cuda_sums,
};

/* ---- the cloud_mm1 model of a CUDA environment --------------------------
 * The batched methods only (the trainer's), over envs/cloud/cloud_model.h in
 * cloud_kernels.cu, reading the environment's device state and scenarios
 * on its stream; model.reference as the CPU model: state (p*(s) of the
 * backlogs and the step's work, the fluid cost's gradient, and the
 * levelled reference of the backlogs before the last dispatch) or static.
 * The per-environment host methods are the CPU model's business. */

typedef struct cloud_cuda_model {
    cloud_cuda_instance *env;
    double barrier;
    int state_reference; /* model.reference = state */
} cloud_cuda_model;

static int cloud_cuda_model_create(void *user, const struct dgpg_config *cfg, void *env_instance,
                                   void **instance, char *err, size_t err_len)
{
    (void)user;
    *instance = NULL;
    cloud_model_config mc;
    if (cloud_model_config_read(cfg, &mc) != DGPG_OK) {
        snprintf(err, err_len, "cloud_mm1 (cuda): model.name = 'cloud_mm1' expected in the "
                 "config handed to create");
        return DGPG_EINVAL;
    }
    cloud_cuda_model *model = (cloud_cuda_model *)calloc(1, sizeof *model);
    *instance = model;
    if (!model) {
        snprintf(err, err_len, "cloud_mm1 (cuda): out of host memory");
        return DGPG_ENOMEM;
    }
    model->env = (cloud_cuda_instance *)env_instance;
    model->barrier = mc.barrier;
    model->state_reference = strcmp(mc.reference, "state") == 0;
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
    cloud_cuda_model *model = (cloud_cuda_model *)instance;
    cloud_cuda_instance *env = model->env;
    return cloud_cuda_model_pstar(env->scs, env->n_envs, env->step, env->burst,
                                  model->state_reference, env->queue, env->work, p_star,
                                  env->scratch, env->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

static int cloud_cuda_model_cost_grad_batch(void *instance, const float *probs, float *grad)
{
    cloud_cuda_model *model = (cloud_cuda_model *)instance;
    cloud_cuda_instance *env = model->env;
    return cloud_cuda_model_cost_grad(env->scs, env->n_envs, env->step, env->burst,
                                      model->barrier, model->state_reference, env->queue,
                                      env->work, probs, grad, env->scratch, env->stream)
               ? DGPG_EBACKEND
               : DGPG_OK;
}

static int cloud_cuda_model_influence_batch(void *instance, const float *probs, float *out)
{
    cloud_cuda_model *model = (cloud_cuda_model *)instance;
    cloud_cuda_instance *env = model->env;
    if (env->step == 0 || !probs)
        return DGPG_EINVAL; /* no step taken yet, or no probabilities */
    return cloud_cuda_model_influence(env->scs, env->n_envs, env->step - 1, env->last_burst,
                                      model->state_reference, env->last_queue, env->flows,
                                      env->last_work, env->last_actions, probs, out,
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
    NULL, /* cuda: this is it */
    NULL, 0, 0, NULL, /* keys: the registered CPU plug-in's */
};
