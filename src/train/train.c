/* train.c — see train.h. Notation: E environments, N agents, M actions,
 * T steps, D observation length, S global-state length; a "sample" is one
 * (step, environment) pair s = t E + e, holding one decision per agent.
 * The actor and the critics are mlp.h networks whose layers run as
 * strided-batched GEMMs on the backend; per-element math is kernels/nn.h
 * and kernels/ppo.h. Scaling choices are in docs/training.md. */
#include "train.h"

#include "../../kernels/train_math.h"
#include "backend.h"
#include "blas_core.h"
#include "checkpoint.h"
#include "dgpg/dgpg.h"
#include "dist.h"
#include "h5log.h"
#include "h5util.h"
#include "mlp.h"
#include "stats.h"
#include "train_dump.h"
#include "train_ops.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* SIGINT / SIGTERM ask the run to stop after the episode in progress, with
 * a checkpoint, so that a cluster's time limit or a Ctrl-C loses nothing. */
static volatile sig_atomic_t train_stop_requested;

static void train_on_signal(int signo)
{
    train_stop_requested = signo;
}

/* Per-episode scalar columns of the log, in this order, followed by the
 * environment's own (its ratio columns, dgpg_env_api.ratios). */
enum train_scalar {
    SC_REWARD, SC_COST, SC_COST_PSTAR, SC_COST_RATIO, SC_POLICY_LOSS,
    SC_VALUE_LOSS, SC_ENTROPY, SC_KL, SC_CLIP_FRAC, SC_ALPHA, SC_GRAD_NORM, SC_WALL,
    SC_ROLLOUT_SECONDS, SC_UPDATE_SECONDS, SC_AGENT_STEPS_PER_S, SC_COUNT
};

static const dgpg_log_column train_scalar_columns[SC_COUNT] = {
    {"reward", "1", "mean shared reward per environment-step"},
    {"cost", "steps", "mean cost per environment-step, minus the mean reward"},
    {"cost_pstar", "steps", "the same for the analytical policy p* on the same arrivals and service"},
    {"cost_ratio", "1", "cost / cost_pstar"},
    {"policy_loss", "1", "PPO clipped surrogate loss, mean over the update's minibatches"},
    {"value_loss", "1", "clipped value loss on normalised returns, mean over the update's samples"},
    {"entropy", "nats", "mean entropy of the agents' action distributions in the update"},
    {"kl", "nats", "mean approximate KL(old || new), (r - 1) - log r with r = p_new / p_old, in the update"},
    {"clip_frac", "1", "share of decisions whose probability ratio left [1 - clip, 1 + clip]"},
    {"alpha", "1", "guidance weight of the episode (algo.alpha_schedule)"},
    {"grad_norm", "1", "mean over agents of the actor's gradient norm before clipping"},
    {"wall_time", "s", "wall-clock seconds since the run (or its resumption) started"},
    {"rollout_seconds", "s", "wall-clock seconds of the episode's rollout"},
    {"update_seconds", "s", "wall-clock seconds of the episode's update"},
    {"agent_steps_per_s", "agent-steps/s", "N E T over the episode's rollout plus update time"},
};

enum train_tensor { TE_GRAD_VAR, TE_GRAD_MEAN_SQ, TE_GUIDANCE, TE_PROBS, TE_PSTAR, TE_COUNT };

static const dgpg_log_tensor train_tensors[TE_COUNT] = {
    {"grad_variance", "1",
     "per-agent policy-gradient estimator variance: trace of the covariance of the gradient "
     "estimated from one of algo.variance_groups disjoint groups of environments, at the "
     "rollout's parameters",
     0},
    {"grad_mean_sq", "1",
     "squared norm of the per-agent policy gradient's mean, estimated without bias from the "
     "groups (squared norm of their average minus the variance over the number of groups; "
     "it can be negative where the signal is below the noise): the signal of the SNR", 0},
    {"guidance_norm", "1", "root mean square over the agent's decisions of its guidance term", 0},
    {"action_probs", "1", "mean over the rollout of the agent's action distribution", 1},
    {"pstar_probs", "1",
     "mean over the rollout of the model's policy at each step (the same for every agent): "
     "p*(s), the split of the step's work that levels the normalised backlogs, under "
     "model.reference = state; the static p* under static. What action_probs is measured "
     "against",
     1},
};

typedef struct trainer {
    const dgpg_config *cfg;
    dgpg_backend *be;          /* every tensor below lives in its memory, unless marked host */
    int cuda;                  /* the backend is CUDA (and so are env and model) */
    const dgpg_env_api *env_api;
    void *env, *ref_env;
    const dgpg_model_api *model_api;
    void *model;
    /* the p* reference episode: the environment's "pstar" policy where it
     * has one (pstar_policy >= 0); else agents drawing from the model's p*
     * bound to ref_env (ref_model), through these (E, M), (E, N, M) and
     * (E, N) buffers */
    void *ref_model;
    float *ref_pstar, *ref_logits, *ref_probs, *ref_logp;
    int64_t E, N, M, T, D, S;   /* E: this rank's environments */
    int64_t E_total, env_offset; /* over every MPI rank; this rank's first environment */
    int guide, mappo, shared;
    int pstar_policy;
    mlp actor, critic;
    ppo_value_norm *vnorm;  /* host: 1 (MAPPO) or N (IPPO) */
    int64_t n_vnorm;

    /* rollout storage */
    float *obs;        /* (T, E, N, D) */
    float *state;      /* (T, E, S), MAPPO */
    int32_t *actions;  /* (T, E, N) */
    float *logp;       /* (T, E, N) */
    float *probs;      /* (T, E, N, M) */
    float *values;     /* (T + 1, E, V): network outputs (normalised), V = 1 or N */
    float *rewards;    /* (T, E) */
    float *guidance;   /* (T, E, N): <x - x~, z_i> (dgpg), the cv term, or the size of
                        * the target / descent term (train_guidance_term) */
    float *grad_p;     /* (T, E, N, M): dC/dp_i (descent, cv) */
    float *p_star;     /* (T, E, M): p*(s) or p* at each step (the target form's target, and logged) */
    float *adv_raw;    /* (T, E, V) */
    float *ret;        /* (T, E, V) normalised return targets */
    float *adv;        /* (T, E, N) effective advantage fed to PPO */
    /* guide_scales[0]: 1 / RMS of the raw guidance term (dgpg, cv) and
     * guide_scales[1]: of dC/dp (descent, cv), both from the first episode */
    double guide_scales[2];
    /* update storage */
    int64_t chunk;        /* samples per actor forward/backward pass */
    int64_t critic_chunk; /* samples per critic pass: larger for MAPPO's one network */
    float *x_chunk, *s_chunk, *actor_acts, *actor_scratch, *critic_acts, *critic_scratch;
    float *d_logits, *d_value;
    double *decision_stats; /* (4, C N) per-decision (GPU) or per-row (CPU) statistics */
    double *sample_loss;    /* (C V) value losses */
    double *acc;            /* (8): policy loss, entropy, KL, clipped, value loss sums */
    int64_t *order;         /* host: (T E_total) permutation of every rank's samples */
    int64_t *local;         /* host: (T E) this rank's samples of an epoch's minibatches, or a group */
    int64_t *mb_start;      /* host: (minibatches + 1) each minibatch's first index in local */
    int64_t *order_dev;     /* local in backend memory (= local on the CPU) */
    double *grad_sum, *grad_sumsq; /* (actor params) */
    double *norm_scratch, *norm_scale; /* host: (N) */
    double *host_scratch;   /* host: (2 N M + 4 N) */
    float *params_host;     /* host: (actor params), CUDA only: log snapshots */
    float *reward_buf;  /* (E) */
    int32_t *ref_actions; /* (E, N) the p* reference episode's actions */
    dgpg_stats_layout stats_layout; /* the environment's statistics */
    double *sums;          /* host: (E, width) the environment's sums of the episode */
} trainer;

static double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *train_alloc(size_t count, size_t size, int *failed)
{
    void *p = count ? calloc(count, size) : NULL;
    if (count && !p)
        *failed = 1;
    return p;
}

/* Zeroed memory of the trainer's backend (device memory on CUDA). */
static void *train_balloc(trainer *tr, size_t count, size_t size, int *failed)
{
    void *p = count ? dgpg_backend_alloc(tr->be, count * size) : NULL;
    if (count && !p)
        *failed = 1;
    return p;
}

static int train_guide_of(const char *name)
{
    if (strcmp(name, "dgpg") == 0) return GUIDE_DGPG;
    if (strcmp(name, "target") == 0) return GUIDE_TARGET;
    if (strcmp(name, "descent") == 0) return GUIDE_DESCENT;
    if (strcmp(name, "cv") == 0) return GUIDE_CV;
    return GUIDE_NONE;
}

static int train_schedule_of(const char *name)
{
    if (strcmp(name, "linear") == 0) return PPO_ALPHA_LINEAR;
    if (strcmp(name, "exponential") == 0) return PPO_ALPHA_EXPONENTIAL;
    return PPO_ALPHA_CONSTANT;
}

static void trainer_free(trainer *tr)
{
    if (tr->env)
        tr->env_api->destroy(tr->env);
    if (tr->ref_env)
        tr->env_api->destroy(tr->ref_env);
    if (tr->model)
        tr->model_api->destroy(tr->model);
    if (tr->ref_model)
        tr->model_api->destroy(tr->ref_model);
    mlp_free(&tr->actor);
    mlp_free(&tr->critic);
    void *backend_owned[] = {tr->obs, tr->state, tr->actions, tr->logp, tr->probs, tr->values,
                             tr->rewards, tr->guidance, tr->grad_p, tr->p_star, tr->adv_raw,
                             tr->ret, tr->adv, tr->x_chunk, tr->s_chunk, tr->actor_acts,
                             tr->actor_scratch, tr->critic_acts, tr->critic_scratch,
                             tr->d_logits, tr->d_value, tr->decision_stats, tr->sample_loss,
                             tr->acc, tr->grad_sum, tr->grad_sumsq, tr->reward_buf,
                             tr->ref_actions, tr->order_dev != tr->local ? tr->order_dev : NULL,
                             tr->ref_pstar, tr->ref_logits, tr->ref_probs, tr->ref_logp};
    for (size_t k = 0; tr->be && k < sizeof backend_owned / sizeof backend_owned[0]; k++)
        if (backend_owned[k])
            dgpg_backend_release(tr->be, backend_owned[k]);
    dgpg_backend_free(tr->be);
    void *owned[] = {tr->vnorm, tr->order, tr->local, tr->mb_start, tr->norm_scratch, tr->norm_scale, tr->host_scratch,
                     tr->params_host, tr->sums};
    for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
        free(owned[k]);
}

/* backend.kind: cuda, or auto where a device is visible and the
 * environment and model plug-ins carry CUDA implementations (their `cuda`
 * fields); cpu otherwise. The CUDA implementations replace the registered
 * (CPU) ones. */
static int trainer_backend(trainer *tr, const dgpg_config *cfg, char *err, size_t err_len)
{
    /* an explicit backend.kind = cuda without one was refused before */
    const dgpg_env_api *env_cuda = dgpg_env_cuda(tr->env_api);
    const dgpg_model_api *model_cuda = dgpg_model_cuda(tr->model_api);
    const int on_device = env_cuda && model_cuda;
    const int ranks = dgpg_dist_size();
    if (on_device && dgpg_backend_kind_is_cuda(cfg->backend.kind) && ranks > 1 &&
        !dgpg_dist_device_available()) {
        snprintf(err, err_len, "backend.kind = '%s' with %d MPI ranks: summing gradients on "
                 "the device over ranks needs NCCL, and this build has none; allowed: "
                 "backend.kind = cpu with several ranks, one rank, or a build with NCCL",
                 cfg->backend.kind, ranks);
        return DGPG_EINVAL;
    }
    if (on_device && dgpg_backend_kind_is_cuda(cfg->backend.kind)) {
        /* several ranks: one GPU each, backend.device + the rank on its node */
        const int device = (int)cfg->backend.device + (ranks > 1 ? dgpg_dist_local_rank() : 0);
        tr->be = dgpg_backend_cuda(device, cfg->backend.tf32, err, err_len);
        if (!tr->be)
            return DGPG_EINVAL;
        tr->cuda = 1;
        tr->env_api = env_cuda;
        tr->model_api = model_cuda;
        return DGPG_OK;
    }
    /* cpu; or auto without a device, or for a plug-in with no CUDA
     * implementation */
    tr->be = dgpg_backend_cpu((int)cfg->backend.threads);
    if (!tr->be) {
        snprintf(err, err_len, "train: out of memory for the backend");
        return DGPG_ENOMEM;
    }
    return DGPG_OK;
}

/* What training asks of the plug-ins, before anything is made: the model
 * methods of the guidance form, and a CUDA implementation where
 * backend.kind = cuda. */
static int train_plugins_fit(const dgpg_config *cfg, const dgpg_env_api *env_api,
                             const dgpg_model_api *model_api, char *err, size_t err_len)
{
    if (!env_api || !model_api) {
        snprintf(err, err_len, "env.name = '%s', model.name = '%s': not registered",
                 cfg->env.name, cfg->model.name);
        return DGPG_EINVAL;
    }
    const int guide = train_guide_of(cfg->algo.guide);
    if (!model_api->optimal_probs_batch ||
        ((guide == GUIDE_DESCENT || guide == GUIDE_CV) && !model_api->cost_grad_batch) ||
        (guide == GUIDE_DGPG && !model_api->influence_batch)) {
        snprintf(err, err_len, "algo.guide = '%s': model.name = '%s' lacks a batched method "
                 "training needs (optimal_probs_batch for the log, and the one of this "
                 "guidance form); allowed: a model providing them", cfg->algo.guide,
                 cfg->model.name);
        return DGPG_EUNSUPPORTED;
    }
    const dgpg_env_api *env_cuda = dgpg_env_cuda(env_api);
    if (strcmp(cfg->backend.kind, "cuda") == 0 && !(env_cuda && dgpg_model_cuda(model_api))) {
        snprintf(err, err_len, "backend.kind = 'cuda': env.name = '%s' with model.name = '%s' "
                 "has no CUDA implementation in this build (the %s plug-in's `cuda` is "
                 "NULL); allowed: cpu, auto", cfg->env.name, cfg->model.name,
                 env_cuda ? "model" : "environment");
        return DGPG_EINVAL;
    }
    return DGPG_OK;
}

int dgpg_train_check(const dgpg_config *cfg, char *err, size_t err_len)
{
    return train_plugins_fit(cfg, dgpg_find_env(cfg->env.name), dgpg_find_model(cfg->model.name),
                             err, err_len);
}

/* This rank's environments (the rollout's and the p* reference's) and the
 * model bound to the first, on the backend's stream; the sizes. */
static int trainer_make_envs(trainer *tr, const dgpg_config *cfg, char *err, size_t err_len)
{
    const int threads = (int)cfg->backend.threads;
    /* data parallelism (src/backends/dist.h): rank r steps environments
     * [r E / K, (r + 1) E / K) of the one batch, keyed by their global
     * indices, so the ranks together draw what one process would */
    const int ranks = dgpg_dist_size();
    tr->E_total = cfg->env.n_envs;
    if (tr->E_total % ranks != 0) {
        snprintf(err, err_len, "env.n_envs = %lld over %d MPI ranks: each rank steps an equal "
                 "share; allowed: env.n_envs divisible by the number of ranks",
                 (long long)tr->E_total, ranks);
        return DGPG_EINVAL;
    }
    const int64_t E_local = tr->E_total / ranks;
    tr->env_offset = (int64_t)dgpg_dist_rank() * E_local;
    int rc = tr->env_api->create(tr->env_api->user, cfg, (uint64_t)cfg->env.seed,
                                 tr->env_offset, E_local, threads, &tr->env, err, err_len);
    if (rc == DGPG_OK)
        rc = tr->env_api->create(tr->env_api->user, cfg, (uint64_t)cfg->env.seed,
                                 tr->env_offset, E_local, threads, &tr->ref_env, err, err_len);
    if (rc == DGPG_OK)
        rc = tr->model_api->create(tr->model_api->user, cfg, tr->env, &tr->model, err, err_len);
    if (rc != DGPG_OK)
        return rc;
    if (tr->env_api->bind_stream) {
        void *stream = dgpg_backend_stream(tr->be);
        if (tr->env_api->bind_stream(tr->env, stream) != DGPG_OK ||
            tr->env_api->bind_stream(tr->ref_env, stream) != DGPG_OK) {
            snprintf(err, err_len, "train: binding the environments to the backend's stream "
                     "failed (see the CUDA error above)");
            return DGPG_EBACKEND;
        }
    }
    tr->pstar_policy = tr->env_api->policy_find ? tr->env_api->policy_find(tr->env, "pstar") : -1;
    if (tr->pstar_policy < 0 && tr->cuda) {
        snprintf(err, err_len, "env.name = '%s' has no 'pstar' policy: on the CUDA backend the "
                 "p* reference episode needs one (the model-sampled reference runs on the "
                 "CPU backend only); allowed: backend.kind = cpu, or an environment with one",
                 cfg->env.name);
        return DGPG_EINVAL;
    }
    if (tr->pstar_policy < 0) /* the reference draws from the model's p* */
        rc = tr->model_api->create(tr->model_api->user, cfg, tr->ref_env, &tr->ref_model, err,
                                   err_len);
    if (rc != DGPG_OK)
        return rc;
    dgpg_env_dims d;
    tr->env_api->dims(tr->env, &d);
    tr->E = d.n_envs;
    tr->N = d.n_agents;
    tr->M = d.n_actions;
    tr->D = d.obs_dim;
    tr->S = d.state_dim;
    tr->T = cfg->env.horizon;
    if (tr->E_total < 2) {
        snprintf(err, err_len, "env.n_envs = %lld: training estimates each agent's gradient "
                 "variance from groups of environments; allowed: env.n_envs >= 2",
                 (long long)tr->E_total);
        return DGPG_EINVAL;
    }
    return DGPG_OK;
}

/* The actor (K = N per-agent networks, or one shared) and the critic
 * (one MAPPO network on the state, or IPPO's per agent), initialised as
 * the MAPPO reference does. */
static int trainer_make_networks(trainer *tr, const dgpg_config *cfg, char *err, size_t err_len)
{
    const int64_t N = tr->N, M = tr->M, D = tr->D, S = tr->S;
    const int64_t K = tr->shared ? 1 : N;
    const int32_t H = (int32_t)cfg->algo.hidden, L = (int32_t)cfg->algo.layers;
    if (mlp_init(&tr->actor, tr->be, K, (int32_t)D, H, L, (int32_t)M) != 0 ||
        mlp_init(&tr->critic, tr->be, tr->mappo ? 1 : K, (int32_t)(tr->mappo ? S : D), H, L,
                 1) != 0) {
        snprintf(err, err_len, "train: out of memory for the networks (N = %lld, algo.hidden "
                 "= %d)", (long long)N, H);
        return DGPG_ENOMEM;
    }
    /* MAPPO reference init: orthogonal, gain 5/3 (tanh) for hidden
     * layers, 0.01 for the policy head, 1 for the value head */
    const uint64_t seed = (uint64_t)cfg->train.seed;
    if (mlp_init_orthogonal(&tr->actor, seed << 1, 5.0 / 3.0, 0.01) != 0 ||
        mlp_init_orthogonal(&tr->critic, (seed << 1) | 1u, 5.0 / 3.0, 1.0) != 0) {
        snprintf(err, err_len, "train: LAPACK QR failed in the orthogonal initialisation");
        return DGPG_EBACKEND;
    }
    return DGPG_OK;
}

/* Every buffer of the rollout and the update, in backend memory (device
 * memory on CUDA): sized once, so nothing is allocated once training runs. */
static int trainer_alloc_buffers(trainer *tr, char *err, size_t err_len)
{
    const dgpg_config *cfg = tr->cfg;
    const int64_t E = tr->E, N = tr->N, M = tr->M, T = tr->T, D = tr->D, S = tr->S;
    tr->n_vnorm = tr->mappo ? 1 : N;
    const int64_t V = tr->mappo ? 1 : N;
    /* algo.chunk = 0 (auto): 64 samples on the CPU, where the fused
     * per-network passes run fastest when one network's activations of a
     * chunk stay in cache (bench train at N = 200 and 1500, E = 16: 64 beat
     * 32, 128 and 256 by 12-20%; docs/training.md); 256 on CUDA, the
     * earlier default, not yet measured on a device */
    const int64_t chunk = cfg->algo.chunk ? cfg->algo.chunk
                                          : (dgpg_backend_is_cuda(tr->be) ? 256 : 64);
    tr->chunk = chunk < T * E ? chunk : T * E;
    const int64_t C = tr->chunk > E ? tr->chunk : E; /* rollout forward uses B = E */
    /* MAPPO's critic is one network (K = 1): per actor-sized chunk its
     * products are too small to split over the threads, and each of its
     * ~20 passes per chunk costs a fork and a barrier; up to 2048 samples
     * per pass (a few hundred KB of activations) it runs as a handful of
     * larger products */
    const int64_t critic_chunk = tr->mappo && tr->chunk < 2048 ? 2048 : tr->chunk;
    tr->critic_chunk = critic_chunk < T * E ? critic_chunk : T * E;
    const int64_t Cc = tr->critic_chunk > E ? tr->critic_chunk : E;
    int failed = 0;
    tr->vnorm = train_alloc((size_t)tr->n_vnorm, sizeof(ppo_value_norm), &failed);
    tr->obs = train_balloc(tr, (size_t)(T * E * N * D), sizeof(float), &failed);
    if (tr->mappo)
        tr->state = train_balloc(tr, (size_t)(T * E * S), sizeof(float), &failed);
    tr->actions = train_balloc(tr, (size_t)(T * E * N), sizeof(int32_t), &failed);
    tr->logp = train_balloc(tr, (size_t)(T * E * N), sizeof(float), &failed);
    tr->probs = train_balloc(tr, (size_t)(T * E * N * M), sizeof(float), &failed);
    tr->values = train_balloc(tr, (size_t)((T + 1) * E * V), sizeof(float), &failed);
    tr->rewards = train_balloc(tr, (size_t)(T * E), sizeof(float), &failed);
    tr->guidance = train_balloc(tr, (size_t)(T * E * N), sizeof(float), &failed);
    if (tr->guide == GUIDE_DESCENT || tr->guide == GUIDE_CV)
        tr->grad_p = train_balloc(tr, (size_t)(T * E * N * M), sizeof(float), &failed);
    tr->p_star = train_balloc(tr, (size_t)(T * E * M), sizeof(float), &failed);
    tr->adv_raw = train_balloc(tr, (size_t)(T * E * V), sizeof(float), &failed);
    tr->ret = train_balloc(tr, (size_t)(T * E * V), sizeof(float), &failed);
    tr->adv = train_balloc(tr, (size_t)(T * E * N), sizeof(float), &failed);
    tr->x_chunk = train_balloc(tr, (size_t)(C * N * D), sizeof(float), &failed);
    if (tr->mappo)
        tr->s_chunk = train_balloc(tr, (size_t)(Cc * S), sizeof(float), &failed);
    /* shared parameters: one network over C N rows */
    int64_t actor_rows = tr->shared ? C * N : C;
    tr->actor_acts = train_balloc(tr, (size_t)mlp_activation_size(&tr->actor, actor_rows), sizeof(float), &failed);
    tr->actor_scratch = train_balloc(tr, (size_t)mlp_activation_size(&tr->actor, actor_rows), sizeof(float), &failed);
    int64_t critic_rows = tr->mappo ? Cc : C * (tr->shared ? N : 1);
    tr->critic_acts = train_balloc(tr, (size_t)mlp_activation_size(&tr->critic, critic_rows), sizeof(float), &failed);
    tr->critic_scratch = train_balloc(tr, (size_t)mlp_activation_size(&tr->critic, critic_rows), sizeof(float), &failed);
    tr->d_logits = train_balloc(tr, (size_t)(C * N * M), sizeof(float), &failed);
    tr->d_value = train_balloc(tr, (size_t)(Cc * V), sizeof(float), &failed);
    tr->decision_stats = train_balloc(tr, (size_t)(4 * C * N), sizeof(double), &failed);
    tr->sample_loss = train_balloc(tr, (size_t)(Cc * V), sizeof(double), &failed);
    tr->acc = train_balloc(tr, 8, sizeof(double), &failed);
    tr->order = train_alloc((size_t)(T * tr->E_total), sizeof(int64_t), &failed);
    tr->local = train_alloc((size_t)(T * E), sizeof(int64_t), &failed);
    tr->mb_start = train_alloc((size_t)tr->cfg->algo.minibatches + 1, sizeof(int64_t), &failed);
    tr->order_dev = tr->cuda ? train_balloc(tr, (size_t)(T * E), sizeof(int64_t), &failed)
                             : tr->local;
    tr->grad_sum = train_balloc(tr, (size_t)tr->actor.n_params, sizeof(double), &failed);
    tr->grad_sumsq = train_balloc(tr, (size_t)tr->actor.n_params, sizeof(double), &failed);
    tr->norm_scratch = train_alloc((size_t)N, sizeof(double), &failed);
    tr->norm_scale = train_alloc((size_t)N, sizeof(double), &failed);
    tr->host_scratch = train_alloc((size_t)(2 * N * M + 4 * N), sizeof(double), &failed);
    if (tr->cuda)
        tr->params_host = train_alloc((size_t)tr->actor.n_params, sizeof(float), &failed);
    tr->reward_buf = train_balloc(tr, (size_t)E, sizeof(float), &failed);
    tr->ref_actions = train_balloc(tr, (size_t)(E * N), sizeof(int32_t), &failed);
    if (tr->ref_model) {
        tr->ref_pstar = train_balloc(tr, (size_t)(E * M), sizeof(float), &failed);
        tr->ref_logits = train_balloc(tr, (size_t)(E * N * M), sizeof(float), &failed);
        tr->ref_probs = train_balloc(tr, (size_t)(E * N * M), sizeof(float), &failed);
        tr->ref_logp = train_balloc(tr, (size_t)(E * N), sizeof(float), &failed);
    }
    tr->sums = train_alloc((size_t)E * (size_t)dgpg_stats_width(&tr->stats_layout),
                           sizeof(double), &failed);
    /* the device scratch of the ops that stage host arrays: the largest is
     * the per-column sums of the (N, M) action probabilities */
    if (!failed && dgpg_backend_reserve(tr->be, (size_t)(2 * N * M + 4 * N + 8192)) != 0)
        failed = 1;
    /* sizes the backend's per-network scratch now, not in the first update */
    if (!failed && (mlp_grad_sq_norms(&tr->actor, tr->norm_scratch) != 0 ||
                    mlp_grad_sq_norms(&tr->critic, tr->norm_scratch) != 0))
        failed = 1;
    if (failed) {
        snprintf(err, err_len,
                 "train: out of memory for the rollout of env.horizon = %lld steps x "
                 "env.n_envs = %lld x env.n_agents = %lld; allowed: smaller E or T",
                 (long long)T, (long long)E, (long long)N);
        return DGPG_ENOMEM;
    }
    return DGPG_OK;
}

/* The environment's statistics, whose ratio columns join the log's: a
 * name the trainer's own columns use is refused. */
static int trainer_stats_layout(trainer *tr, char *err, size_t err_len)
{
    tr->stats_layout = dgpg_env_stats_layout(tr->env_api);
    for (int k = 0; k < tr->stats_layout.n_ratios; k++)
        for (int c = 0; c < SC_COUNT; c++)
            if (strcmp(tr->stats_layout.ratios[k].info.name, train_scalar_columns[c].name) == 0) {
                snprintf(err, err_len, "environment '%s': its statistic '%s' has the name of "
                         "a training column of the log; allowed: a name other than the log's "
                         "(reward, cost, cost_pstar, cost_ratio, policy_loss, ...)",
                         tr->env_api->name, train_scalar_columns[c].name);
                return DGPG_EINVAL;
            }
    return DGPG_OK;
}

static int trainer_init(trainer *tr, const dgpg_config *cfg, char *err, size_t err_len)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = cfg;
    tr->guide = train_guide_of(cfg->algo.guide);
    tr->mappo = strcmp(cfg->algo.critic, "mappo") == 0;
    tr->shared = cfg->algo.share_params;
    tr->env_api = dgpg_find_env(cfg->env.name);
    tr->model_api = dgpg_find_model(cfg->model.name);
    int rc = train_plugins_fit(cfg, tr->env_api, tr->model_api, err, err_len);
    if (rc == DGPG_OK)
        rc = trainer_backend(tr, cfg, err, err_len);
    if (rc == DGPG_OK)
        rc = trainer_make_envs(tr, cfg, err, err_len);
    if (rc == DGPG_OK)
        rc = trainer_stats_layout(tr, err, err_len);
    if (rc == DGPG_OK)
        rc = trainer_make_networks(tr, cfg, err, err_len);
    if (rc == DGPG_OK)
        rc = trainer_alloc_buffers(tr, err, err_len);
    return rc;
}

/* Actor forward on B rows of (B, N, D) observations: logits (B, N, M). */
static float *trainer_actor_forward(trainer *tr, int64_t B, const float *x)
{
    /* shared parameters: one network over B N rows */
    int64_t rows = tr->shared ? B * tr->N : B;
    return mlp_forward(&tr->actor, tr->be, rows, x, tr->actor_acts);
}

static int trainer_actor_backward(trainer *tr, int64_t B, const float *x)
{
    int64_t rows = tr->shared ? B * tr->N : B;
    return mlp_backward(&tr->actor, tr->be, rows, x, tr->actor_acts, tr->d_logits,
                        tr->actor_scratch);
}

/* Critic forward: MAPPO on states (B, S) -> (B); IPPO on (B, N, D) -> (B, N). */
static float *trainer_critic_forward(trainer *tr, int64_t B, const float *input)
{
    int64_t rows = tr->mappo ? B : (tr->shared ? B * tr->N : B);
    return mlp_forward(&tr->critic, tr->be, rows, input, tr->critic_acts);
}

static int trainer_critic_backward(trainer *tr, int64_t B, const float *input)
{
    int64_t rows = tr->mappo ? B : (tr->shared ? B * tr->N : B);
    return mlp_backward(&tr->critic, tr->be, rows, input, tr->critic_acts, tr->d_value,
                        tr->critic_scratch);
}

/* One rollout of T steps; fills the rollout storage and the env stats. */
/* Rollout step t of `episode`: observe, act, the critic's values, the
 * model's terms, the environment's step. Nothing in it waits on the host
 * (on CUDA), so it can be captured as one graph. */
static int trainer_rollout_step(trainer *tr, int64_t episode, int64_t t)
{
    const int64_t E = tr->E, N = tr->N, M = tr->M, T = tr->T, D = tr->D, S = tr->S;
    const int64_t V = tr->mappo ? 1 : N;
    const uint64_t step = (uint64_t)(episode * T + t);
    float *obs = tr->obs + t * E * N * D;
    float *state = tr->mappo ? tr->state + t * E * S : NULL;
    int32_t *actions = tr->actions + t * E * N;
    float *probs = tr->probs + t * E * N * M;
    int rc = tr->env_api->observe(tr->env, obs, state);
    if (rc != DGPG_OK)
        return rc;
    const float *logits = trainer_actor_forward(tr, E, obs);
    if (!logits || train_op_sample(tr->be, E, (int32_t)N, (int32_t)M,
                                   (uint64_t)tr->cfg->train.seed, (uint32_t)tr->env_offset, step,
                                   logits, probs, actions, tr->logp + t * E * N) != DGPG_OK)
        return DGPG_EBACKEND;
    const float *v = trainer_critic_forward(tr, E, tr->mappo ? state : obs);
    if (!v || dgpg_backend_copy(tr->be, tr->values + t * E * V, v,
                                sizeof(float) * (size_t)(E * V)) != 0)
        return DGPG_EBACKEND;
    /* the model's view at this step, before it moves on */
    rc = tr->model_api->optimal_probs_batch(tr->model, tr->p_star + t * E * M);
    if (rc == DGPG_OK && (tr->guide == GUIDE_DESCENT || tr->guide == GUIDE_CV))
        rc = tr->model_api->cost_grad_batch(tr->model, probs, tr->grad_p + t * E * N * M);
    if (rc == DGPG_OK)
        rc = tr->env_api->step(tr->env, actions, tr->rewards + t * E);
    if (rc == DGPG_OK && tr->guide == GUIDE_DGPG)
        rc = tr->model_api->influence_batch(tr->model, probs, tr->guidance + t * E * N);
    return rc;
}

static int trainer_rollout(trainer *tr, int64_t episode)
{
    const int64_t E = tr->E, N = tr->N, T = tr->T;
    const int64_t V = tr->mappo ? 1 : N;
    /* backend.cuda_graph: each step captured, then launched as one graph */
    const int graph = tr->cuda && tr->cfg->backend.cuda_graph;
    int rc = tr->env_api->reset(tr->env, (uint64_t)episode);
    for (int64_t t = 0; rc == DGPG_OK && t < T; t++) {
        if (graph && dgpg_backend_capture_begin(tr->be) != 0)
            return DGPG_EBACKEND;
        rc = trainer_rollout_step(tr, episode, t);
        if (graph && dgpg_backend_capture_end(tr->be, rc == DGPG_OK) != 0 && rc == DGPG_OK)
            rc = DGPG_EBACKEND;
    }
    if (rc != DGPG_OK)
        return rc;
    /* bootstrap values at the time limit */
    float *obs_T = tr->x_chunk, *state_T = tr->s_chunk;
    rc = tr->env_api->observe(tr->env, obs_T, state_T);
    const float *v = rc == DGPG_OK ? trainer_critic_forward(tr, E, tr->mappo ? state_T : obs_T) : NULL;
    if (!v)
        return rc != DGPG_OK ? rc : DGPG_EBACKEND;
    if (dgpg_backend_copy(tr->be, tr->values + T * E * V, v, sizeof(float) * (size_t)(E * V)))
        return DGPG_EBACKEND;
    return dgpg_env_read_sums(tr->env_api, tr->env, E, tr->sums);
}

/* The same episode's arrivals and service under p*: the cost reference. */
/* Without a "pstar" policy (CPU backend): every agent of the reference
 * environments draws from the model's p* at the current step, as the
 * rollout samples (train_op_sample on logits log p*), with its own
 * Philox stream: the train seed XOR TRAIN_REFERENCE_STREAM. */
#define TRAIN_REFERENCE_STREAM UINT64_C(0x7265666572656e63) /* "referenc" */

static int trainer_reference_actions(trainer *tr, int64_t episode, int64_t t)
{
    int rc = tr->model_api->optimal_probs_batch(tr->ref_model, tr->ref_pstar);
    if (rc == DGPG_OK)
        rc = train_op_sample_pstar(tr->be, tr->E, (int32_t)tr->N, (int32_t)tr->M,
                                   (uint64_t)tr->cfg->train.seed ^ TRAIN_REFERENCE_STREAM,
                                   (uint32_t)tr->env_offset, (uint64_t)(episode * tr->T + t),
                                   tr->ref_pstar, tr->ref_logits, tr->ref_probs,
                                   tr->ref_actions, tr->ref_logp);
    return rc;
}

static int trainer_sum_stats(const trainer *tr, double *total);

static int trainer_reference(trainer *tr, int64_t episode, double *cost)
{
    int rc = tr->env_api->reset(tr->ref_env, (uint64_t)episode);
    for (int64_t t = 0; rc == DGPG_OK && t < tr->T; t++) {
        rc = tr->pstar_policy >= 0
                 ? tr->env_api->policy_act(tr->ref_env, tr->pstar_policy, tr->ref_actions)
                 : trainer_reference_actions(tr, episode, t);
        if (rc == DGPG_OK)
            rc = tr->env_api->step(tr->ref_env, tr->ref_actions, tr->reward_buf);
    }
    if (rc == DGPG_OK)
        rc = dgpg_env_read_sums(tr->env_api, tr->ref_env, tr->E, tr->sums);
    double total[DGPG_SUMS_FIXED + DGPG_KEYS_MAX] = {0}; /* over every rank's environments */
    if (rc == DGPG_OK)
        rc = trainer_sum_stats(tr, total);
    *cost = -total[DGPG_SUM_REWARD] / total[DGPG_SUM_STEPS];
    return rc;
}

/* GAE on denormalised values, value-normaliser update, normalised return
 * targets, advantage normalisation and the guidance mix (docs/training.md,
 * "Scaling"). guidance_rms (N, host) receives each agent's guidance RMS. */
static int trainer_advantages(trainer *tr, double alpha, float *guidance_rms)
{
    const int64_t E = tr->E, N = tr->N, M = tr->M, T = tr->T, S = T * E;
    const int64_t V = tr->mappo ? 1 : N;
    const double gamma = tr->cfg->algo.gamma, lambda = tr->cfg->algo.gae_lambda;
    double *mean = tr->host_scratch, *sd = mean + N, *sum = sd + N, *sum_sq = sum + N;
    /* values are predicted normalised; GAE needs them in reward units */
    for (int64_t j = 0; j < V; j++) {
        mean[j] = 0.0;
        sd[j] = 1.0;
        if (tr->vnorm[j].debias > 0.0)
            ppo_value_norm_moments(&tr->vnorm[j], &mean[j], &sd[j]);
    }
    /* sums over samples are summed over every rank too (src/backends/dist.h), so
     * that every rank holds the same normalisers and scales */
    const double S_total = (double)(T * tr->E_total);
    if (train_op_gae(tr->be, T, E, V, tr->rewards, tr->values, sd, mean, gamma, lambda,
                     tr->adv_raw, tr->ret) != DGPG_OK ||
        train_op_column_sums(tr->be, S, V, tr->ret, sum, sum_sq) != DGPG_OK ||
        dgpg_dist_sum_doubles(sum, V) != 0 || dgpg_dist_sum_doubles(sum_sq, V) != 0)
        return DGPG_EBACKEND;
    /* MAPPO's ValueNorm: update with the batch of returns, then train the
     * critic on returns normalised with the updated moments */
    for (int64_t j = 0; j < V; j++) {
        ppo_value_norm_update(&tr->vnorm[j], sum[j] / S_total, sum_sq[j] / S_total);
        ppo_value_norm_moments(&tr->vnorm[j], &mean[j], &sd[j]);
    }
    if (train_op_column_standardize(tr->be, S, V, tr->ret, mean, sd) != DGPG_OK)
        return DGPG_EBACKEND;
    /* advantage normalisation over the whole batch, as the MAPPO reference */
    double adv_sums[2];
    if (train_op_column_sums(tr->be, S * V, 1, tr->adv_raw, &adv_sums[0], &adv_sums[1]) !=
            DGPG_OK ||
        dgpg_dist_sum_doubles(adv_sums, 2) != 0)
        return DGPG_EBACKEND;
    const double adv_mean = adv_sums[0] / (S_total * (double)V);
    const double adv_var = adv_sums[1] / (S_total * (double)V) - adv_mean * adv_mean;
    const double adv_scale = 1.0 / (sqrt(adv_var > 0.0 ? adv_var : 0.0) + 1e-5);
    if (train_op_advantage(tr->be, S, N, V, tr->adv_raw, adv_mean, adv_scale, tr->adv) != DGPG_OK)
        return DGPG_EBACKEND;
    for (int64_t i = 0; i < N; i++)
        guidance_rms[i] = 0.0f;
    if (tr->guide == GUIDE_NONE)
        return DGPG_OK;
    /* cv, target and descent: their per-decision terms (train_guidance_term);
     * dgpg's came from the model during the rollout */
    if (tr->guide != GUIDE_DGPG &&
        train_op_guidance_term(tr->be, tr->guide, S, N, (int32_t)M, tr->probs, tr->actions,
                               tr->grad_p, tr->p_star, tr->guidance) != DGPG_OK)
        return DGPG_EBACKEND;
    double *sq = sum_sq; /* (N) per agent: the squared terms over its S decisions */
    if (train_op_column_sums(tr->be, S, N, tr->guidance, NULL, sq) != DGPG_OK ||
        dgpg_dist_sum_doubles(sq, N) != 0)
        return DGPG_EBACKEND;
    double total_sq = 0.0;
    for (int64_t i = 0; i < N; i++)
        total_sq += sq[i];
    double scale = 1.0;
    if (tr->guide == GUIDE_DGPG || tr->guide == GUIDE_CV) {
        /* the guidance term to unit root mean square over the first
         * episode's batch, a scale then kept for the whole run: the term
         * shrinks as the policy nears the model's optimum (a per-batch
         * scale would keep pushing at full strength and oscillate) */
        if (tr->guide_scales[0] == 0.0)
            tr->guide_scales[0] = total_sq > 0.0 ? 1.0 / sqrt(total_sq / (S_total * (double)N))
                                                 : 0.0;
        scale = tr->guide_scales[0];
        /* dgpg (SPEC): A^DG = (1 - alpha) A - alpha <x - x~, z_i>;
         * cv (SPEC): A - alpha A~(a), its expectation added back in the
         * update as alpha grad J~ */
        if (train_op_mix(tr->be, tr->guide, S * N, tr->guidance, scale, alpha, tr->adv) != DGPG_OK)
            return DGPG_EBACKEND;
    }
    if (tr->guide == GUIDE_DESCENT) {
        /* dC/dp_i shrinks like 1/N (one agent's share of the flows): scaled
         * to unit RMS per entry over the first episode's batch, kept for
         * the run, so that alpha weighs it as it weighs the unit-scale PPO
         * term */
        if (tr->guide_scales[1] == 0.0)
            tr->guide_scales[1] =
                total_sq > 0.0 ? 1.0 / sqrt(total_sq / (S_total * (double)(N * M))) : 0.0;
        scale = tr->guide_scales[1];
    }
    /* per agent: the root mean square over its S decisions */
    for (int64_t i = 0; i < N; i++)
        guidance_rms[i] = (float)sqrt(sq[i] * scale * scale / S_total);
    return DGPG_OK;
}

/* train.dump_batch: this rank's batch as trainer_advantages left it. */
static int trainer_dump(const trainer *tr, double alpha, char *err, size_t err_len)
{
    const int64_t T = tr->T, E = tr->E, N = tr->N, M = tr->M, V = tr->mappo ? 1 : tr->N;
    const int descent_or_cv = tr->guide == GUIDE_DESCENT || tr->guide == GUIDE_CV;
    const train_dump_array arrays[] = {
        {"rewards", "1", "team reward of each step (T, E)", tr->rewards, 0, T, E},
        {"values", "1", "critic outputs, normalised, the last step the bootstrap "
         "((T + 1) E, V)", tr->values, 0, (T + 1) * E, V},
        {"adv_raw", "1", "GAE advantages in reward units (T E, V)", tr->adv_raw, 0, T * E, V},
        {"returns", "1", "return targets standardised by the updated value normaliser (T E, V)",
         tr->ret, 0, T * E, V},
        {"adv", "1", "advantage fed to PPO: normalised over the batch, guidance mixed in "
         "(T E, N)", tr->adv, 0, T * E, N},
        {"guidance", "1", "unscaled guidance term of each decision (T E, N); zero for none",
         tr->guide == GUIDE_NONE ? NULL : tr->guidance, 0, T * E, N},
        {"probs", "1", "action probabilities of the rollout (T E N, M)", tr->probs, 0, T * E * N,
         M},
        {"actions", "1", "sampled actions (T E, N)", tr->actions, 1, T * E, N},
        {"logp", "1", "log-probability of each sampled action (T E, N)", tr->logp, 0, T * E, N},
        {"p_star", "1", "the model's p* (or p*(s)) at each step (T E, M)", tr->p_star, 0, T * E,
         M},
        {"grad_p", "1", "dC/dp of each decision (T E N, M), descent and cv",
         descent_or_cv ? tr->grad_p : NULL, 0, T * E * N, M}};
    const train_dump_value values[] = {
        {"T", (double)T}, {"E", (double)E}, {"N", (double)N}, {"M", (double)M},
        {"V", (double)V}, {"env_offset", (double)tr->env_offset}, {"alpha", alpha},
        {"guide_scale", tr->guide_scales[0]}, {"descent_scale", tr->guide_scales[1]}};
    return train_dump_batch(tr->cfg->train.dump_batch, tr->be, tr->cfg, arrays,
                            (int)(sizeof arrays / sizeof arrays[0]), values,
                            (int)(sizeof values / sizeof values[0]), err, err_len) == 0
               ? DGPG_OK
               : DGPG_EIO;
}

typedef struct update_stats {
    double policy_loss, value_loss, entropy, kl, clip_frac, grad_norm;
    double decisions, minibatches, value_samples;
} update_stats;

/* Forward and backward of the actor over B samples (indices in backend
 * memory): gathers their observations, fills d_logits, accumulates
 * gradients; with_stats adds the chunk's loss statistics to tr->acc. */
static int trainer_actor_chunk(trainer *tr, const int64_t *samples, int64_t B, double alpha,
                               double scale, double entropy_coef, double clip, int with_stats)
{
    const int64_t N = tr->N, M = tr->M, D = tr->D;
    if (train_op_gather(tr->be, B, N * D, samples, tr->obs, tr->x_chunk) != DGPG_OK)
        return DGPG_EBACKEND;
    const float *logits = trainer_actor_forward(tr, B, tr->x_chunk);
    if (!logits)
        return DGPG_EBACKEND;
    const train_policy_args args = {
        tr->guide, B, N, (int32_t)M, samples, logits, tr->actions, tr->logp, tr->adv,
        tr->p_star, tr->grad_p,
        tr->guide == GUIDE_CV ? tr->guide_scales[0] : tr->guide_scales[1],
        alpha, scale, entropy_coef, clip};
    if (train_op_policy_grad(tr->be, &args, tr->d_logits, tr->decision_stats,
                             with_stats ? tr->acc : NULL) != DGPG_OK)
        return DGPG_EBACKEND;
    return trainer_actor_backward(tr, B, tr->x_chunk) == 0 ? DGPG_OK : DGPG_EBACKEND;
}

static int trainer_critic_chunk(trainer *tr, const int64_t *samples, int64_t B, double scale)
{
    const int64_t N = tr->N, D = tr->D, S = tr->S;
    const int64_t V = tr->mappo ? 1 : N;
    const float *input = tr->mappo ? tr->s_chunk : tr->x_chunk;
    int rc = tr->mappo ? train_op_gather(tr->be, B, S, samples, tr->state, tr->s_chunk)
                       : train_op_gather(tr->be, B, N * D, samples, tr->obs, tr->x_chunk);
    const float *v = rc == DGPG_OK ? trainer_critic_forward(tr, B, input) : NULL;
    const dgpg_config_algo *a = &tr->cfg->algo;
    if (!v || train_op_value_grad(tr->be, B, V, samples, v, tr->values, tr->ret, a->clip,
                                  a->huber_delta, a->value_coef * scale, tr->d_value,
                                  tr->sample_loss, tr->acc + 4) != DGPG_OK)
        return DGPG_EBACKEND;
    return trainer_critic_backward(tr, B, input) == 0 ? DGPG_OK : DGPG_EBACKEND;
}

/* Global gradient-norm clipping of each network, then one Adam step. */
/* Clipping and the Adam step on the backend, no host transfer: the mean
 * of the networks' gradient norms before clipping is added to
 * *grad_norm_sum, one double in backend memory (tr->acc). */
static int trainer_clip_and_step(trainer *tr, mlp *net, double *grad_norm_sum)
{
    if (mlp_grad_clip(net, tr->cfg->algo.max_grad_norm, grad_norm_sum) != 0 ||
        mlp_adam_step(net, tr->cfg->algo.lr, tr->cfg->algo.adam_eps) != 0)
        return DGPG_EBACKEND;
    return DGPG_OK;
}

/* The host's local sample list (n) to the backend (a no-op on the CPU). */
static int trainer_upload_order(trainer *tr, int64_t n)
{
    if (tr->order_dev == tr->local)
        return DGPG_OK;
    return dgpg_backend_upload(tr->be, tr->order_dev, tr->local, sizeof(int64_t) * (size_t)n) == 0
               ? DGPG_OK
               : DGPG_EBACKEND;
}

/* This rank's samples among global samples order[first .. last) (global
 * sample t E_total + e), as local indices t E + (e - env_offset), in that
 * order, into dst; returns their count. */
static int64_t trainer_localize_into(const trainer *tr, int64_t first, int64_t last,
                                     int64_t *dst)
{
    int64_t n = 0;
    for (int64_t k = first; k < last; k++) {
        const int64_t t = tr->order[k] / tr->E_total, e = tr->order[k] % tr->E_total - tr->env_offset;
        if (e >= 0 && e < tr->E)
            dst[n++] = t * tr->E + e;
    }
    return n;
}

/* The same into tr->local and the backend. */
static int64_t trainer_localize(trainer *tr, int64_t first, int64_t last, int *rc)
{
    const int64_t n = trainer_localize_into(tr, first, last, tr->local);
    *rc = trainer_upload_order(tr, n);
    return n;
}

/* Every minibatch of an epoch (n samples, n_mb minibatches) localised into
 * tr->local one after the other, mb_start[mb] where each begins, and
 * uploaded once: one host-to-device copy per epoch, not per minibatch. */
static int trainer_localize_epoch(trainer *tr, int64_t n, int64_t n_mb)
{
    int64_t at = 0;
    for (int64_t mb = 0; mb < n_mb; mb++) {
        tr->mb_start[mb] = at;
        at += trainer_localize_into(tr, mb * n / n_mb, (mb + 1) * n / n_mb, tr->local + at);
    }
    tr->mb_start[n_mb] = at;
    return trainer_upload_order(tr, at);
}

/* Deterministic shuffle of every rank's T E_total samples for one epoch
 * (the same on every rank): Fisher-Yates with Philox uniforms keyed by
 * (train seed, episode, epoch). */
static void trainer_shuffle(trainer *tr, int64_t episode, int64_t epoch)
{
    const int64_t n = tr->T * tr->E_total;
    for (int64_t k = 0; k < n; k++)
        tr->order[k] = k;
    for (int64_t k = n - 1; k > 0; k--) {
        dgpg_u4 u = dgpg_uniform4((uint64_t)tr->cfg->train.seed, (uint32_t)k,
                                  (uint64_t)episode, (uint32_t)epoch, DGPG_STREAM_ACTION, 1);
        int64_t j = (int64_t)(u.u[0] * (double)(k + 1));
        int64_t tmp = tr->order[k];
        tr->order[k] = tr->order[j];
        tr->order[j] = tmp;
    }
}

/* Sums a network's gradients over the ranks (no-op with one): over MPI on
 * the host, with NCCL on the device. */
static int trainer_sum_grads(trainer *tr, mlp *net)
{
    int rc = tr->cuda ? dgpg_dist_sum_device_floats(net->grads, net->n_params,
                                                    dgpg_backend_stream(tr->be))
                      : dgpg_dist_sum_floats(net->grads, net->n_params);
    return rc == 0 ? DGPG_OK : DGPG_EBACKEND;
}

/* Per-agent gradient-estimator variance (claim 1 of SPEC): the policy
 * gradient the method follows, at the rollout's parameters, estimated
 * separately from G disjoint groups of environments; per agent, the
 * trace of the sample covariance of the G estimates, and the squared norm
 * of the true mean estimated without bias (that of their average minus
 * the trace over G). The estimates' scale is that of one group's batch. */
static int trainer_gradient_variance(trainer *tr, double alpha, float *variance,
                                     float *mean_sq)
{
    const int64_t E = tr->E_total, T = tr->T, N = tr->N;
    const int64_t G = tr->cfg->algo.variance_groups < E ? tr->cfg->algo.variance_groups : E;
    const int64_t P = tr->actor.n_params;
    if (dgpg_backend_zero(tr->be, tr->grad_sum, sizeof(double) * (size_t)P) != 0 ||
        dgpg_backend_zero(tr->be, tr->grad_sumsq, sizeof(double) * (size_t)P) != 0)
        return DGPG_EBACKEND;
    for (int64_t g = 0; g < G; g++) {
        /* group g: global environments [e0, e1), this rank's share of them */
        int64_t e0 = g * E / G, e1 = (g + 1) * E / G;
        int64_t group = 0;
        for (int64_t t = 0; t < T; t++)
            for (int64_t e = e0; e < e1; e++)
                tr->order[group++] = t * E + e;
        int rc;
        const int64_t n = trainer_localize(tr, 0, group, &rc);
        if (rc != DGPG_OK ||
            dgpg_backend_zero(tr->be, tr->actor.grads, sizeof(float) * (size_t)P) != 0)
            return DGPG_EBACKEND;
        double scale = 1.0 / (double)(group * (tr->shared ? N : 1));
        for (int64_t first = 0; first < n; first += tr->chunk) {
            int64_t B = n - first < tr->chunk ? n - first : tr->chunk;
            /* entropy 0, clip range unbounded: the plain estimator */
            rc = trainer_actor_chunk(tr, tr->order_dev + first, B, alpha, scale, 0.0, 1e30, 0);
            if (rc != DGPG_OK)
                return rc;
        }
        if (trainer_sum_grads(tr, &tr->actor) != DGPG_OK ||
            train_op_accumulate(tr->be, P, tr->actor.grads, tr->grad_sum, tr->grad_sumsq))
            return DGPG_EBACKEND;
    }
    dgpg_net_layout layout = mlp_layout(&tr->actor);
    if (train_op_variance_finish(tr->be, P, G, tr->grad_sum, tr->grad_sumsq) != DGPG_OK ||
        train_op_net_sums(tr->be, &layout, tr->grad_sumsq, tr->norm_scratch) != DGPG_OK ||
        train_op_net_sums(tr->be, &layout, tr->grad_sum, tr->norm_scale) != DGPG_OK)
        return DGPG_EBACKEND;
    /* shared parameters: one network, its figures stand for every agent */
    for (int64_t i = 0; i < N; i++) {
        variance[i] = (float)tr->norm_scratch[tr->shared ? 0 : i];
        mean_sq[i] = (float)tr->norm_scale[tr->shared ? 0 : i];
    }
    return DGPG_OK;
}

static int trainer_update(trainer *tr, int64_t episode, double alpha, update_stats *st)
{
    const int64_t n = tr->T * tr->E_total, N = tr->N;
    const int64_t V = tr->mappo ? 1 : N;
    const int64_t n_mb = tr->cfg->algo.minibatches < n ? tr->cfg->algo.minibatches : n;
    memset(st, 0, sizeof *st);
    if (dgpg_backend_zero(tr->be, tr->acc, 8 * sizeof(double)) != 0)
        return DGPG_EBACKEND;
    for (int64_t epoch = 0; epoch < tr->cfg->algo.epochs; epoch++) {
        trainer_shuffle(tr, episode, epoch);
        if (trainer_localize_epoch(tr, n, n_mb) != DGPG_OK)
            return DGPG_EBACKEND;
        for (int64_t mb = 0; mb < n_mb; mb++) {
            /* a minibatch of every rank's samples; this rank computes its
             * share, and the gradients are summed over the ranks */
            const int64_t size = (mb + 1) * n / n_mb - mb * n / n_mb;
            const int64_t *order = tr->order_dev + tr->mb_start[mb];
            const int64_t mine = tr->mb_start[mb + 1] - tr->mb_start[mb];
            int rc;
            if (dgpg_backend_zero(tr->be, tr->actor.grads,
                                  sizeof(float) * (size_t)tr->actor.n_params) != 0 ||
                dgpg_backend_zero(tr->be, tr->critic.grads,
                                  sizeof(float) * (size_t)tr->critic.n_params) != 0)
                return DGPG_EBACKEND;
            double actor_scale = 1.0 / (double)(size * (tr->shared ? N : 1));
            double critic_scale = 1.0 / (double)(size * (tr->mappo || !tr->shared ? 1 : N));
            for (int64_t at = 0; at < mine; at += tr->chunk) {
                int64_t B = mine - at < tr->chunk ? mine - at : tr->chunk;
                rc = trainer_actor_chunk(tr, order + at, B, alpha, actor_scale,
                                         tr->cfg->algo.entropy_coef, tr->cfg->algo.clip, 1);
                if (rc != DGPG_OK)
                    return rc;
                st->decisions += (double)(B * N);
            }
            for (int64_t at = 0; at < mine; at += tr->critic_chunk) {
                int64_t B = mine - at < tr->critic_chunk ? mine - at : tr->critic_chunk;
                rc = trainer_critic_chunk(tr, order + at, B, critic_scale);
                if (rc != DGPG_OK)
                    return rc;
                st->value_samples += (double)(B * V);
            }
            if (trainer_sum_grads(tr, &tr->actor) != DGPG_OK ||
                trainer_sum_grads(tr, &tr->critic) != DGPG_OK ||
                /* tr->acc: [7] the actor's norms; [5] a discard for the
                 * critic's (overwritten by the counts below) */
                trainer_clip_and_step(tr, &tr->actor, tr->acc + 7) != DGPG_OK ||
                trainer_clip_and_step(tr, &tr->critic, tr->acc + 5) != DGPG_OK)
                return DGPG_EBACKEND;
            st->minibatches += 1.0;
        }
    }
    /* the loss sums and counts of every rank */
    double acc[8];
    if (dgpg_backend_download(tr->be, acc, tr->acc, sizeof acc) != 0)
        return DGPG_EBACKEND;
    st->grad_norm = acc[7]; /* every rank's networks are the same after the sum */
    acc[5] = st->decisions;
    acc[6] = st->value_samples;
    if (dgpg_dist_sum_doubles(acc, 7) != 0)
        return DGPG_EBACKEND;
    st->policy_loss = acc[0];
    st->entropy = acc[1];
    st->kl = acc[2];
    st->clip_frac = acc[3];
    st->value_loss = acc[4];
    st->decisions = acc[5];
    st->value_samples = acc[6];
    return DGPG_OK;
}

/* NaN/Inf guard: names the episode (1-based, as the progress lines) and the
 * tensor; the run stops before the episode is logged or checkpointed, so
 * both stay as they were. Called twice per episode: after the advantages
 * (rollout tensors, value normalisers) and after the update (parameters,
 * losses), so the first tensor to go bad is the one named. */
typedef struct train_tensor_ref {
    const char *name;
    const float *data;
    int64_t n;
} train_tensor_ref;

static int train_check_tensors(dgpg_backend *be, const train_tensor_ref *tensors, size_t count,
                               int64_t episode, char *err, size_t err_len)
{
    for (size_t k = 0; k < count; k++) {
        int64_t at;
        if (train_op_first_nonfinite(be, tensors[k].data, tensors[k].n, &at) != DGPG_OK) {
            snprintf(err, err_len, "episode %lld: checking tensor %s for NaN failed (see the "
                     "backend's error above)", (long long)episode + 1, tensors[k].name);
            return DGPG_EBACKEND;
        }
        if (at >= 0) {
            snprintf(err, err_len,
                     "episode %lld: NaN or Inf in tensor %s (element %lld of %lld); the run "
                     "stops here, the log and the last checkpoint hold the episodes before it",
                     (long long)episode + 1, tensors[k].name, (long long)at,
                     (long long)tensors[k].n);
            return DGPG_ENUMERIC;
        }
    }
    return DGPG_OK;
}

static int trainer_check_rollout(const trainer *tr, int64_t episode, char *err, size_t err_len)
{
    const int64_t V = tr->mappo ? 1 : tr->N;
    const train_tensor_ref tensors[] = {
        {"rollout.rewards", tr->rewards, tr->T * tr->E},
        {"rollout.values", tr->values, (tr->T + 1) * tr->E * V},
        {"rollout.guidance", tr->guidance, tr->T * tr->E * tr->N},
        {"returns", tr->ret, tr->T * tr->E * V},
        {"advantages", tr->adv, tr->T * tr->E * tr->N}};
    for (int64_t j = 0; j < tr->n_vnorm; j++)
        if (!isfinite(tr->vnorm[j].mean) || !isfinite(tr->vnorm[j].mean_sq)) {
            snprintf(err, err_len, "episode %lld: NaN or Inf in tensor value_norm (normaliser "
                     "%lld); the run stops here, the log and the last checkpoint hold the "
                     "episodes before it", (long long)episode + 1, (long long)j);
            return DGPG_ENUMERIC;
        }
    return train_check_tensors(tr->be, tensors, sizeof tensors / sizeof tensors[0], episode, err,
                               err_len);
}

static int trainer_check_update(const trainer *tr, int64_t episode, const update_stats *st,
                                char *err, size_t err_len)
{
    if (!isfinite(st->policy_loss) || !isfinite(st->value_loss)) {
        snprintf(err, err_len, "episode %lld: NaN or Inf in tensor %s; the run stops here, the "
                 "log and the last checkpoint hold the episodes before it",
                 (long long)episode + 1, isfinite(st->policy_loss) ? "value_loss" : "policy_loss");
        return DGPG_ENUMERIC;
    }
    const train_tensor_ref tensors[] = {
        {"actor.params", tr->actor.params, tr->actor.n_params},
        {"critic.params", tr->critic.params, tr->critic.n_params}};
    return train_check_tensors(tr->be, tensors, sizeof tensors / sizeof tensors[0], episode, err,
                               err_len);
}

/* Before an episode is logged: every training quantity it reports must be
 * finite (the update's loss statistics, the gradient norm, the gradient
 * variance estimates, the guidance and the action probabilities); the
 * cost figures are outcomes, not training quantities, and pass as they
 * are. */
static int train_check_logged(const double *scalars, float *const *tensors, int64_t N,
                              int64_t M, int64_t episode, char *err, size_t err_len)
{
    static const int trained[] = {SC_POLICY_LOSS, SC_VALUE_LOSS, SC_ENTROPY,
                                  SC_KL,          SC_CLIP_FRAC,  SC_GRAD_NORM};
    for (size_t k = 0; k < sizeof trained / sizeof trained[0]; k++)
        if (!isfinite(scalars[trained[k]])) {
            snprintf(err, err_len, "episode %lld: NaN or Inf in %s (%g); the run stops here, "
                     "the log and the last checkpoint hold the episodes before it",
                     (long long)episode + 1, train_scalar_columns[trained[k]].name,
                     scalars[trained[k]]);
            return DGPG_ENUMERIC;
        }
    for (int t = 0; t < TE_COUNT; t++) {
        const int64_t n = train_tensors[t].per_action ? N * M : N;
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(tensors[t][j])) {
                snprintf(err, err_len, "episode %lld: NaN or Inf in tensor %s (element %lld of "
                         "%lld); the run stops here, the log and the last checkpoint hold the "
                         "episodes before it", (long long)episode + 1, train_tensors[t].name,
                         (long long)j, (long long)n);
                return DGPG_ENUMERIC;
            }
    }
    return DGPG_OK;
}

/* The log's scalar columns: the trainer's, then the environment's ratios,
 * whose names env_columns lists comma-separated (cut at its length). */
static int train_log_columns(const trainer *tr, dgpg_log_column *columns, char *env_columns,
                             size_t len)
{
    size_t used = 0;
    env_columns[0] = '\0';
    memcpy(columns, train_scalar_columns, sizeof train_scalar_columns);
    for (int k = 0; k < tr->stats_layout.n_ratios; k++) {
        const dgpg_stat_info *info = &tr->stats_layout.ratios[k].info;
        columns[SC_COUNT + k] = (dgpg_log_column){info->name, info->units, info->description};
        if (used < len)
            used += (size_t)snprintf(env_columns + used, len - used, "%s%s", k ? "," : "",
                                     info->name);
    }
    return SC_COUNT + tr->stats_layout.n_ratios;
}

/* One progress line: the figures of the episode, the environment's own
 * columns by name. */
static void train_print_episode(FILE *out, const dgpg_stats_layout *layout, int64_t episode,
                                int64_t episodes, const double *scalars, double alpha,
                                const char *eta)
{
    fprintf(out, "episode %4lld/%lld  reward %9.4f  cost/p* %7.4f", (long long)episode + 1,
            (long long)episodes, scalars[SC_REWARD], scalars[SC_COST_RATIO]);
    for (int k = 0; k < layout->n_ratios; k++)
        fprintf(out, "  %s %.4g", layout->ratios[k].info.name, scalars[SC_COUNT + k]);
    fprintf(out, "  alpha %.3f  %9.3g agent-steps/s  ETA %s\n", alpha,
            scalars[SC_AGENT_STEPS_PER_S], eta);
    fflush(out);
}

/* A phase boundary of an episode: the time and the CUDA counters. */
typedef struct train_mark {
    double t;
    uint64_t launches, host_waits;
} train_mark;

static double train_mark_now(train_mark *m)
{
    dgpg_backend_counters(&m->launches, &m->host_waits);
    return m->t = train_now();
}

/* Each phase's seconds, launches and host waits, from its boundaries. */
static void train_add_phases(dgpg_train_summary *summary, const train_mark *marks)
{
    for (int ph = 0; ph < TRAIN_PHASE_COUNT; ph++) {
        summary->phase_seconds[ph] += marks[ph + 1].t - marks[ph].t;
        summary->phase_launches[ph] += (double)(marks[ph + 1].launches - marks[ph].launches);
        summary->phase_host_waits[ph] +=
            (double)(marks[ph + 1].host_waits - marks[ph].host_waits);
    }
}

static void train_format_eta(double seconds, char *out, size_t len)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

static int train_path(char *out, size_t len, const char *dir, const char *file)
{
    int n = snprintf(out, len, "%s/%s", dir, file);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The episode's statistics summed over this rank's environments and then
 * over the ranks (sums only: one array to sum). total: the layout's width. */
static int trainer_sum_stats(const trainer *tr, double *total)
{
    const int width = dgpg_stats_width(&tr->stats_layout);
    dgpg_env_sums_total(tr->sums, tr->E, width, total);
    return dgpg_dist_sum_doubles(total, (size_t)width) == 0 ? DGPG_OK : DGPG_EBACKEND;
}

/* The log's per-episode scalars (train_scalar_columns, then the
 * environment's ratio columns): the environment's figures, the update's
 * loss statistics, and the times; times = {episode start, end of the
 * rollout, end of the update, run start}; decisions: every rank's
 * agent-steps of the episode; total: the episode's sums. */
static void train_fill_scalars(double *scalars, const dgpg_stats_layout *layout,
                               const double *total, double cost_pstar, const update_stats *st,
                               double alpha, const double *times, double decisions)
{
    const double cost = -total[DGPG_SUM_REWARD] / total[DGPG_SUM_STEPS];
    scalars[SC_REWARD] = -cost;
    for (int k = 0; k < layout->n_ratios; k++)
        scalars[SC_COUNT + k] = dgpg_stat_ratio_value(&layout->ratios[k], total);
    scalars[SC_COST] = cost;
    scalars[SC_COST_PSTAR] = cost_pstar;
    scalars[SC_COST_RATIO] = cost / cost_pstar;
    scalars[SC_POLICY_LOSS] = st->policy_loss / st->decisions;
    scalars[SC_VALUE_LOSS] = st->value_loss / st->value_samples;
    scalars[SC_ENTROPY] = st->entropy / st->decisions;
    scalars[SC_KL] = st->kl / st->decisions;
    scalars[SC_CLIP_FRAC] = st->clip_frac / st->decisions;
    scalars[SC_ALPHA] = alpha;
    scalars[SC_GRAD_NORM] = st->grad_norm / (st->minibatches > 0 ? st->minibatches : 1.0);
    scalars[SC_WALL] = times[2] - times[3];
    scalars[SC_ROLLOUT_SECONDS] = times[1] - times[0];
    scalars[SC_UPDATE_SECONDS] = times[2] - times[1];
    scalars[SC_AGENT_STEPS_PER_S] = decisions / (times[2] - times[0]);
}

/* The run's starting point and its log: --resume loads the checkpoint
 * (start, guidance scales, the alpha horizon into extra) and reopens the
 * log at that episode; otherwise train.init_from's networks, if any, and a
 * new log. Rank 0 alone opens the log (*log stays NULL elsewhere). err is
 * left empty where the log printed its own refusal. */
static int trainer_open_run(trainer *tr, const dgpg_config *cfg, const dgpg_train_opts *opts,
                            const char *log_path, const char *ckpt_path,
                            dgpg_log_schema *schema, dgpg_checkpoint_extra *extra,
                            int64_t *start, dgpg_log **log, char *err, size_t err_len)
{
    const int rank0 = dgpg_dist_rank() == 0;
    FILE *out = rank0 ? opts->out : NULL;
    if (opts->resume) {
        dgpg_checkpoint_extra saved;
        if (dgpg_checkpoint_load(ckpt_path, cfg, start, &tr->actor, &tr->critic, tr->vnorm,
                                 tr->n_vnorm, &saved, err, err_len) != 0)
            return DGPG_EINVAL;
        tr->guide_scales[0] = saved.guide_scales[0];
        tr->guide_scales[1] = saved.guide_scales[1];
        /* the alpha schedule keeps the horizon the run started with: given
         * more episodes, alpha stays at its end value instead of restarting */
        extra->alpha_episodes = saved.alpha_episodes;
        if (out && (saved.threads != extra->threads || strcmp(saved.isa, extra->isa) != 0))
            fprintf(out,
                    "note: the run used %lld threads on %s, this resumption %lld on %s: it "
                    "continues correctly but no longer bitwise as one uninterrupted run\n",
                    (long long)saved.threads, saved.isa, (long long)extra->threads, extra->isa);
        /* the log's config is checked inside the open, once a killed
         * run's open-for-write mark is cleared (a plain read of the file
         * would be refused by HDF5 then) */
        schema->match_config = cfg;
        if (rank0 && dgpg_log_open(log, log_path, schema, *start) != 0) {
            err[0] = '\0'; /* the log printed its own line */
            return DGPG_EINVAL;
        }
        return DGPG_OK;
    }
    if (cfg->train.init_from[0] &&
        dgpg_checkpoint_load_init(cfg->train.init_from, &tr->actor, &tr->critic, tr->vnorm,
                                  tr->n_vnorm, err, err_len) != 0)
        return DGPG_EINVAL;
    if (rank0 && dgpg_log_create(log, log_path, cfg, schema) != 0) {
        err[0] = '\0'; /* the log printed its own line */
        return DGPG_EIO;
    }
    return DGPG_OK;
}

/* The episode's mean action distribution (N, M) and mean p* (the same
 * row for every agent) over every rank's T E decisions, into the log's
 * tensors. */
static int trainer_mean_probs(trainer *tr, float *probs, float *p_star)
{
    const int64_t N = tr->N, M = tr->M, TE = tr->T * tr->E;
    const double count = (double)(tr->T * tr->E_total);
    if (train_op_column_sums(tr->be, TE, N * M, tr->probs, tr->host_scratch, NULL) != 0 ||
        dgpg_dist_sum_doubles(tr->host_scratch, N * M) != 0)
        return DGPG_EBACKEND;
    for (int64_t k = 0; k < N * M; k++)
        probs[k] = (float)(tr->host_scratch[k] / count);
    if (train_op_column_sums(tr->be, TE, M, tr->p_star, tr->host_scratch, NULL) != 0 ||
        dgpg_dist_sum_doubles(tr->host_scratch, M) != 0)
        return DGPG_EBACKEND;
    for (int64_t k = 0; k < N * M; k++)
        p_star[k] = (float)(tr->host_scratch[k % M] / count);
    return DGPG_OK;
}

/* Rank 0's log entry of an episode: its scalars and tensors, and every
 * log.snapshot_every episodes the actor's parameters (from host memory:
 * downloaded on CUDA). One line in err naming the file and the error. */
static int trainer_log_episode(trainer *tr, dgpg_log *log, const char *log_path,
                               int64_t episode, const double *scalars, float *const *tensors,
                               char *err, size_t err_len)
{
    if (dgpg_log_append(log, episode, scalars, (const float *const *)tensors) != 0) {
        snprintf(err, err_len, "%s: appending episode %lld failed: %s", log_path,
                 (long long)episode + 1, h5util_last_error());
        return DGPG_EIO;
    }
    if (episode % tr->cfg->log.snapshot_every != 0)
        return DGPG_OK;
    const float *params[1] = {tr->actor.params};
    if (tr->cuda)
        params[0] = dgpg_backend_download(tr->be, tr->params_host, tr->actor.params,
                                          sizeof(float) * (size_t)tr->actor.n_params) == 0
                        ? tr->params_host
                        : NULL;
    if (!params[0] || dgpg_log_snapshot(log, episode, params) != 0) {
        snprintf(err, err_len, "%s: the parameter snapshot of episode %lld failed: %s",
                 log_path, (long long)episode + 1,
                 params[0] ? h5util_last_error() : "copy from the device failed");
        return DGPG_EIO;
    }
    return DGPG_OK;
}

int dgpg_train_run(const dgpg_config *cfg, const dgpg_train_opts *opts,
                   dgpg_train_summary *summary, char *err, size_t err_len)
{
    trainer tr;
    dgpg_log *log = NULL;
    char log_path[DGPG_PATH_LEN + 32], ckpt_path[DGPG_PATH_LEN + 32];
    float *tensors[TE_COUNT] = {NULL};
    struct sigaction old_int, old_term, old_usr1;
    int handlers_set = 0;
    memset(summary, 0, sizeof *summary);
    /* with MPI ranks (src/backends/dist.h), rank 0 prints, logs and checkpoints;
     * every rank trains its share of the environments */
    const int rank0 = dgpg_dist_rank() == 0;
    FILE *out = rank0 ? opts->out : NULL;
    if (train_path(log_path, sizeof log_path, opts->run_dir, "log.h5") ||
        train_path(ckpt_path, sizeof ckpt_path, opts->run_dir, "checkpoint.h5")) {
        snprintf(err, err_len, "run directory '%s': path too long", opts->run_dir);
        return DGPG_EINVAL;
    }
    int rc = trainer_init(&tr, cfg, err, err_len);
    const int64_t N = tr.N, M = tr.M, E = tr.E, T = tr.T, E_total = tr.E_total;
    int64_t start = 0;
    if (rc != DGPG_OK)
        goto done;
    for (int k = 0; k < TE_COUNT; k++) {
        tensors[k] = calloc((size_t)(N * (train_tensors[k].per_action ? M : 1)), sizeof(float));
        if (!tensors[k]) {
            rc = DGPG_ENOMEM;
            snprintf(err, err_len, "train: out of memory for the log tensors");
            goto done;
        }
    }
    const dgpg_log_column param_column = {"actor_params", "1",
                                          "the actor's flat parameter vector (src/train/mlp.h layout)"};
    const int64_t param_size = tr.actor.n_params;
    dgpg_log_column columns[SC_COUNT + DGPG_KEYS_MAX];
    char env_columns[DGPG_LIST_LEN];
    const int n_columns = train_log_columns(&tr, columns, env_columns, sizeof env_columns);
    dgpg_log_schema schema = {n_columns, columns, TE_COUNT, train_tensors, 1,
                              &param_column, &param_size, N, M, env_columns, NULL};
    dgpg_checkpoint_extra extra = {{0.0, 0.0}, cfg->train.episodes,
                                   dgpg_backend_threads(tr.be), ""};
    /* the instruction set the vectorised math dispatches to (activation_cpu.c's
     * clones, libxsmm's JIT): recorded, since bitwise repeatability holds
     * only on the same one */
    snprintf(extra.isa, sizeof extra.isa, "%s", dgpg_cpu_isa());
    if ((rc = trainer_open_run(&tr, cfg, opts, log_path, ckpt_path, &schema, &extra, &start,
                               &log, err, err_len)) != DGPG_OK)
        goto done;
    const int64_t inject_at = opts->test_inject_nan_at, stop_after = opts->test_stop_after;
    train_stop_requested = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = train_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
    /* SIGUSR1 too: mpirun forwards it to every rank (its SIGTERM is
     * followed by SIGKILL within a second), and Slurm sends it ahead of a
     * time limit with sbatch --signal=USR1@SECONDS */
    sigaction(SIGUSR1, &action, &old_usr1);
    handlers_set = 1;
    const int schedule = train_schedule_of(cfg->algo.alpha_schedule);
    const double run_start = train_now();
    double update_flops = 0.0, update_seconds = 0.0;
    if (out && start > 0)
        fprintf(out, "resuming %s at episode %lld of %lld\n", opts->run_dir,
                (long long)start, (long long)cfg->train.episodes);
    for (int64_t episode = start; episode < cfg->train.episodes; episode++) {
        const double alpha = tr.guide == GUIDE_NONE
                                 ? 0.0
                                 : ppo_alpha(schedule, cfg->algo.alpha_start, cfg->algo.alpha_end,
                                             cfg->algo.alpha_decay, episode,
                                             extra.alpha_episodes);
        train_mark marks[TRAIN_PHASE_COUNT + 1];
        double t0 = train_mark_now(&marks[0]);
        rc = trainer_rollout(&tr, episode);
        train_mark_now(&marks[1]);
        double total[DGPG_SUMS_FIXED + DGPG_KEYS_MAX] = {0};
        if (rc == DGPG_OK)
            rc = trainer_sum_stats(&tr, total);
        double cost_pstar = 0.0;
        if (rc == DGPG_OK)
            rc = trainer_reference(&tr, episode, &cost_pstar);
        if (rc != DGPG_OK) {
            snprintf(err, err_len, "episode %lld: the rollout failed: %s",
                     (long long)episode + 1, dgpg_strerror(rc));
            goto done;
        }
        double t1 = train_mark_now(&marks[2]);
        if ((rc = trainer_advantages(&tr, alpha, tensors[TE_GUIDANCE])) != DGPG_OK) {
            snprintf(err, err_len, "episode %lld: the advantages failed: %s",
                     (long long)episode + 1, dgpg_strerror(rc));
            goto done;
        }
        if (episode == 0 && rank0 && cfg->train.dump_batch[0] &&
            (rc = trainer_dump(&tr, alpha, err, err_len)) != DGPG_OK)
            goto done;
        if ((rc = trainer_check_rollout(&tr, episode, err, err_len)) != DGPG_OK)
            goto done;
        train_mark_now(&marks[3]);
        update_stats st;
        rc = trainer_gradient_variance(&tr, alpha, tensors[TE_GRAD_VAR], tensors[TE_GRAD_MEAN_SQ]);
        train_mark_now(&marks[4]);
        if (rc == DGPG_OK)
            rc = trainer_update(&tr, episode, alpha, &st);
        if (rc != DGPG_OK) {
            snprintf(err, err_len, "episode %lld: the update failed: %s",
                     (long long)episode + 1, dgpg_strerror(rc));
            goto done;
        }
        if (episode == inject_at) {
            const float nan = NAN;
            dgpg_backend_upload(tr.be, tr.actor.params + tr.actor.n_params / 2, &nan, sizeof nan);
        }
        if ((rc = trainer_check_update(&tr, episode, &st, err, err_len)) != DGPG_OK)
            goto done;
        double t2 = train_mark_now(&marks[5]);
        /* network FLOPs of the update: forward 2 P_eff per decision and
         * backward 4 P_eff, over epochs, plus the variance pass (fwd + bwd) */
        double per_decision = 2.0 * (double)tr.actor.n_params / (double)tr.actor.K;
        double critic_per = 2.0 * (double)tr.critic.n_params / (double)tr.critic.K;
        /* this rank's network math (its share of the samples), and every
         * rank's agent-steps */
        double decisions = (double)(T * E_total * N), local_decisions = (double)(T * E * N);
        double critic_rows = (double)(T * E) * (tr.mappo ? 1.0 : (double)N);
        update_flops += 3.0 * (per_decision * local_decisions * ((double)cfg->algo.epochs + 1.0) +
                               critic_per * critic_rows * (double)cfg->algo.epochs);
        update_seconds += t2 - t1;

        /* the mean action distribution: the one (N, M) tensor that comes back */
        if ((rc = trainer_mean_probs(&tr, tensors[TE_PROBS], tensors[TE_PSTAR])) != DGPG_OK) {
            snprintf(err, err_len, "episode %lld: summing the action probabilities failed",
                     (long long)episode + 1);
            goto done;
        }
        double scalars[SC_COUNT + DGPG_KEYS_MAX];
        const double times[4] = {t0, t1, t2, run_start};
        train_fill_scalars(scalars, &tr.stats_layout, total, cost_pstar, &st, alpha, times,
                           decisions);
        if ((rc = train_check_logged(scalars, tensors, N, M, episode, err, err_len)) != DGPG_OK)
            goto done;
        if (rank0 && (rc = trainer_log_episode(&tr, log, log_path, episode, scalars, tensors,
                                               err, err_len)) != DGPG_OK)
            goto done;
        int last = episode + 1 == cfg->train.episodes;
        /* a signal one rank saw stops every rank after the same episode */
        int stop_now = (int)train_stop_requested;
        if (dgpg_dist_max_int(&stop_now) != 0) {
            snprintf(err, err_len, "episode %lld: agreeing on a stop across ranks failed",
                     (long long)episode + 1);
            rc = DGPG_EBACKEND;
            goto done;
        }
        if (rank0 &&
            ((episode + 1) % cfg->train.checkpoint_every == 0 || last || stop_now)) {
            extra.guide_scales[0] = tr.guide_scales[0];
            extra.guide_scales[1] = tr.guide_scales[1];
            if (dgpg_checkpoint_save(ckpt_path, cfg, episode + 1, &tr.actor, &tr.critic, tr.vnorm,
                                     tr.n_vnorm, &extra, err, err_len) != 0) {
                rc = DGPG_EIO;
                goto done;
            }
        }
        train_mark_now(&marks[TRAIN_PHASE_COUNT]);
        train_add_phases(summary, marks);
        if (summary->episodes == 0)
            summary->first_cost_ratio = scalars[SC_COST_RATIO];
        summary->final_cost_ratio = scalars[SC_COST_RATIO];
        summary->episodes++;
        if (out) {
            char eta[32];
            double per_episode = (t2 - run_start) / (double)summary->episodes;
            train_format_eta(per_episode * (double)(cfg->train.episodes - episode - 1), eta,
                             sizeof eta);
            train_print_episode(out, &tr.stats_layout, episode, cfg->train.episodes, scalars,
                                alpha, eta);
        }
        if (stop_now && !last) {
            if (out)
                fprintf(out, "interrupted: stopped after episode %lld with a checkpoint; "
                        "continue with: dgpg train --resume %s\n", (long long)episode + 1,
                        opts->run_dir);
            summary->interrupted = stop_now;
            break;
        }
        if (episode + 1 == stop_after) {
            if (out)
                fprintf(out, "stopping after episode %lld (DGPG_TEST_STOP_AFTER)\n",
                        (long long)episode + 1);
            break;
        }
    }
    summary->seconds = train_now() - run_start;
    summary->agent_steps_per_s =
        summary->seconds > 0 ? (double)(summary->episodes * T * E_total * N) / summary->seconds : 0.0;
    summary->update_gflops = update_seconds > 0 ? update_flops / update_seconds * 1e-9 : 0.0;
    rc = DGPG_OK;
done:
    if (handlers_set) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGUSR1, &old_usr1, NULL);
    }
    if (dgpg_log_close(log) != 0 && rc == DGPG_OK) {
        snprintf(err, err_len, "%s: the final flush failed: %s", log_path, h5util_last_error());
        rc = DGPG_EIO;
    }
    for (int k = 0; k < TE_COUNT; k++)
        free(tensors[k]);
    trainer_free(&tr);
    return rc;
}
