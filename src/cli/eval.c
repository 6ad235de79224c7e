/* eval.c — see eval.h.
 *
 * Every policy meets the same scenarios and, within a scenario, the same
 * arrivals and service draws (they come from streams no policy touches),
 * so the comparison is paired. Per scenario, over its E environments and
 * T steps:
 *   cost       = -(mean shared reward per step), and cost / cost(p*)
 *   the environment's ratio columns (dgpg_env_api.ratios; for cloud the
 *   mean delay of admitted work by Little's law and the drop rate) and
 *   its sums,
 * and the table gives the mean over scenarios with a 95% Student-t interval. */
#include "eval.h"

#include "check.h"
#include "backend.h"
#include "dgpg/dgpg.h"
#include "checkpoint.h"
#include "h5util.h"
#include "mlp.h"
#include "stats.h"
#include "train_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef DGPG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#define EVAL_MAX_POLICIES 32
#define EVAL_MAX_RUNS 8

/* The table's metrics: the cost and its ratio to p*'s, then the
 * environment's ratio columns, then its sums. */
enum { EVAL_COST, EVAL_COST_RATIO, EVAL_FIXED };
#define EVAL_METRICS_MAX (EVAL_FIXED + 2 * DGPG_KEYS_MAX)

static const dgpg_stat_info eval_fixed_info[EVAL_FIXED] = {
    {"cost", "1", "mean per-step cost: minus the mean shared reward"},
    {"cost_ratio", "1", "cost over the cost of the analytical policy p* on the same scenario"},
};

typedef struct eval_metrics {
    int n;
    dgpg_stat_info info[EVAL_METRICS_MAX];
    dgpg_stats_layout layout;
} eval_metrics;

/* The metrics of an environment; a name used twice is refused. */
static int eval_metrics_of(const dgpg_env_api *api, eval_metrics *m, char *err, size_t err_len)
{
    m->layout = dgpg_env_stats_layout(api);
    m->n = 0;
    for (int k = 0; k < EVAL_FIXED; k++)
        m->info[m->n++] = eval_fixed_info[k];
    for (int k = 0; k < m->layout.n_ratios; k++)
        m->info[m->n++] = m->layout.ratios[k].info;
    for (int k = 0; k < m->layout.n_sums; k++) {
        m->info[m->n] = m->layout.sum_info[k];
        m->info[m->n++].description = m->layout.sum_info[k].description;
    }
    for (int a = 0; a < m->n; a++)
        for (int b = 0; b < a; b++)
            if (strcmp(m->info[a].name, m->info[b].name) == 0) {
                snprintf(err, err_len, "environment '%s': the eval column '%s' appears twice "
                         "(its statistics and the table's cost columns); allowed: distinct "
                         "names", api->name, m->info[a].name);
                return DGPG_EINVAL;
            }
    return DGPG_OK;
}

/* A trained policy ("run:DIR" in eval.policies): the run's actor, sampled
 * as in training (softmax, Philox), on the evaluation's backend. */
typedef struct eval_actor {
    mlp net;
    float *obs, *acts, *probs, *logp; /* backend memory: (E, N, D), activations, (E, N, M), (E, N) */
} eval_actor;

/* Without a "pstar" policy, the environment's analytical model plays p*:
 * every agent draws from the model's p*(s) at each step (CPU backend). */
#define EVAL_MODEL_PSTAR (-1000)
#define EVAL_REFERENCE_STREAM UINT64_C(0x7265666572656e63) /* as training's reference */
typedef struct eval_model_pstar {
    const dgpg_model_api *api;
    void *inst;                      /* bound to the scenario's environment instance */
    float *pstar, *logits, *probs, *logp; /* host: (E, M), (E, N, M), (E, N, M), (E, N) */
} eval_model_pstar;

typedef struct eval_plan {
    int n_policies;
    int policy[EVAL_MAX_POLICIES]; /* the env's policy index, -1 - run index, or
                                      EVAL_MODEL_PSTAR */
    const char *name[EVAL_MAX_POLICIES];
    int pstar;            /* index of p* among the env's policies, or EVAL_MODEL_PSTAR */
    int pstar_row;        /* its row in the table, or -1 if not requested */
    int n_runs;
    char run_name[EVAL_MAX_RUNS][DGPG_LIST_LEN]; /* "run:DIR" as given */
    char run_label[EVAL_MAX_RUNS][DGPG_NAME_LEN + 8]; /* "run:NAME" for the table */
    eval_actor actor[EVAL_MAX_RUNS];
    eval_model_pstar model;          /* pstar == EVAL_MODEL_PSTAR */
} eval_plan;

static int eval_parse_policies(const dgpg_env_api *api, void *inst, const char *list,
                               eval_plan *plan, char *err, size_t err_len)
{
    char buf[DGPG_LIST_LEN];
    snprintf(buf, sizeof buf, "%s", list);
    plan->n_policies = 0;
    plan->pstar = api->policy_find(inst, "pstar");
    if (plan->pstar < 0)
        plan->pstar = EVAL_MODEL_PSTAR;
    plan->pstar_row = -1;
    char allowed[DGPG_LIST_LEN] = "";
    for (int p = 0; p < api->policy_count(inst); p++) {
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof allowed - used, "%s%s", p ? ", " : "",
                 api->policy_name(inst, p));
    }
    if (plan->pstar == EVAL_MODEL_PSTAR) {
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof allowed - used, "%spstar (the model's p*)",
                 used ? ", " : "");
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        for (char *end = tok + strlen(tok); end > tok && end[-1] == ' ';)
            *--end = '\0';
        int p = api->policy_find(inst, tok);
        if (p < 0 && plan->pstar == EVAL_MODEL_PSTAR && strcmp(tok, "pstar") == 0)
            p = EVAL_MODEL_PSTAR;
        if (strncmp(tok, "run:", 4) == 0 && tok[4]) {
            if (plan->n_runs == EVAL_MAX_RUNS) {
                snprintf(err, err_len, "eval.policies = '%s': more than %d trained runs", list,
                         EVAL_MAX_RUNS);
                return DGPG_EINVAL;
            }
            snprintf(plan->run_name[plan->n_runs], sizeof plan->run_name[0], "%s", tok);
            /* shown as run:NAME, the run directory's last component */
            const char *dir = tok + 4;
            size_t len = strlen(dir);
            while (len > 1 && dir[len - 1] == '/')
                len--;
            size_t start = len;
            while (start > 0 && dir[start - 1] != '/')
                start--;
            snprintf(plan->run_label[plan->n_runs], sizeof plan->run_label[0], "run:%.*s",
                     (int)(len - start), dir + start);
            p = -1 - plan->n_runs++;
        } else if (p < 0 && p != EVAL_MODEL_PSTAR) {
            snprintf(err, err_len, "eval.policies = '%s': unknown policy '%s'; allowed: %s, "
                     "or run:DIR for a trained run", list, tok, allowed);
            return DGPG_EINVAL;
        }
        for (int q = 0; q < plan->n_policies; q++)
            if (plan->policy[q] == p) {
                snprintf(err, err_len,
                         "eval.policies = '%s': policy '%s' appears twice; allowed: each "
                         "policy once",
                         list, tok);
                return DGPG_EINVAL;
            }
        if (plan->n_policies == EVAL_MAX_POLICIES) {
            snprintf(err, err_len, "eval.policies = '%s': more than %d policies", list,
                     EVAL_MAX_POLICIES);
            return DGPG_EINVAL;
        }
        if (p == plan->pstar)
            plan->pstar_row = plan->n_policies;
        plan->name[plan->n_policies] = p == EVAL_MODEL_PSTAR ? "pstar"
                                       : p >= 0              ? api->policy_name(inst, p)
                                                             : plan->run_label[-1 - p];
        plan->policy[plan->n_policies++] = p;
    }
    if (plan->n_policies == 0) {
        snprintf(err, err_len, "eval.policies = '%s': no policy named; allowed: %s", list,
                 allowed);
        return DGPG_EINVAL;
    }
    return DGPG_OK;
}

/* The batch buffers an episode steps with (actions and reward in the
 * environment's memory, per_env on the host) and its statistics' width. */
typedef struct eval_batch {
    int32_t *actions;  /* (E, N) */
    float *reward;     /* (E) */
    double *per_env;   /* host: (E, width) */
    int64_t E;
    int width;
} eval_batch;

/* The actions of one step under `policy`: an environment's policy, a
 * trained actor (-1 - run index) sampled with seed on backend be, or the
 * model's p* (EVAL_MODEL_PSTAR). */
static int eval_actions(const dgpg_env_api *api, void *inst, eval_plan *plan, int policy,
                        dgpg_backend *be, uint64_t seed, const dgpg_env_dims *d, int64_t t,
                        int32_t *actions)
{
    const int64_t E = d->n_envs;
    if (policy == EVAL_MODEL_PSTAR) {
        eval_model_pstar *m = &plan->model;
        int rc = m->api->optimal_probs_batch(m->inst, m->pstar);
        return rc != DGPG_OK ? rc
                             : train_op_sample_pstar(be, E, d->n_agents, d->n_actions,
                                                     seed ^ EVAL_REFERENCE_STREAM, 0,
                                                     (uint64_t)t, m->pstar, m->logits,
                                                     m->probs, actions, m->logp);
    }
    if (policy >= 0)
        return api->policy_act(inst, policy, actions);
    eval_actor *actor = &plan->actor[-1 - policy];
    int rc = api->observe(inst, actor->obs, NULL);
    if (rc != DGPG_OK)
        return rc;
    /* shared parameters: one network over E N rows */
    const float *logits = mlp_forward(&actor->net, be, actor->net.K == 1 ? E * d->n_agents : E,
                                      actor->obs, actor->acts);
    return logits ? train_op_sample(be, E, d->n_agents, d->n_actions, seed, 0, (uint64_t)t,
                                    logits, actor->probs, actions, actor->logp)
                  : DGPG_EBACKEND;
}

/* One episode under `policy` (eval_actions): its sums over environments
 * and steps into total (the batch's width). */
static int eval_episode(const dgpg_env_api *api, void *inst, eval_plan *plan, int policy,
                        dgpg_backend *be, uint64_t seed, int64_t horizon, eval_batch *b,
                        double *total)
{
    dgpg_env_dims d;
    int rc = api->dims(inst, &d);
    if (rc == DGPG_OK)
        rc = api->reset(inst, 0);
    for (int64_t t = 0; rc == DGPG_OK && t < horizon; t++) {
        rc = eval_actions(api, inst, plan, policy, be, seed, &d, t, b->actions);
        if (rc == DGPG_OK)
            rc = api->step(inst, b->actions, b->reward);
    }
    if (rc == DGPG_OK)
        rc = dgpg_env_read_sums(api, inst, b->E, b->per_env);
    if (rc != DGPG_OK)
        return rc;
    dgpg_env_sums_total(b->per_env, b->E, b->width, total);
    return DGPG_OK;
}

/* The model's p* instance goes before the environment instance it reads. */
static void eval_model_unbind(eval_plan *plan)
{
    if (plan->model.inst)
        plan->model.api->destroy(plan->model.inst);
    plan->model.inst = NULL;
}

static int eval_model_bind(eval_plan *plan, const dgpg_config *cfg, void *env_inst, char *err,
                           size_t err_len)
{
    if (plan->pstar != EVAL_MODEL_PSTAR)
        return DGPG_OK;
    eval_model_unbind(plan);
    return plan->model.api->create(plan->model.api->user, cfg, env_inst, &plan->model.inst, err,
                                   err_len);
}

/* Without a "pstar" policy: the model's p*, sampled on a CPU backend. */
static int eval_model_prepare(const dgpg_config *cfg, int cuda, const dgpg_env_dims *d,
                              eval_plan *plan, dgpg_backend **be, char *err, size_t err_len)
{
    if (plan->pstar != EVAL_MODEL_PSTAR)
        return DGPG_OK;
    eval_model_pstar *m = &plan->model;
    m->api = dgpg_find_model(cfg->model.name);
    if (cuda || !m->api || !m->api->optimal_probs_batch) {
        snprintf(err, err_len, "env.name = '%s' has no 'pstar' policy, so p* is the model "
                 "'%s' sampled per agent, which needs %s; allowed: %s", cfg->env.name,
                 cfg->model.name, cuda ? "the CPU backend" : "its optimal_probs_batch method",
                 cuda ? "backend.kind = cpu, or an environment with a pstar policy"
                      : "a model with optimal_probs_batch, or an environment with a pstar "
                        "policy");
        return DGPG_EINVAL;
    }
    const size_t E = (size_t)d->n_envs, N = (size_t)d->n_agents, M = (size_t)d->n_actions;
    m->pstar = malloc(sizeof(float) * E * M);
    m->logits = malloc(sizeof(float) * E * N * M);
    m->probs = malloc(sizeof(float) * E * N * M);
    m->logp = malloc(sizeof(float) * E * N);
    if (!*be)
        *be = dgpg_backend_cpu((int)cfg->backend.threads);
    if (!m->pstar || !m->logits || !m->probs || !m->logp || !*be) {
        snprintf(err, err_len, "eval: out of memory for the model's p* of E = %zu environments",
                 E);
        return DGPG_ENOMEM;
    }
    return DGPG_OK;
}

static void eval_free_plan(eval_plan *plan, dgpg_backend *be)
{
    eval_model_unbind(plan);
    free(plan->model.pstar);
    free(plan->model.logits);
    free(plan->model.probs);
    free(plan->model.logp);
    for (int r = 0; r < plan->n_runs; r++) {
        eval_actor *a = &plan->actor[r];
        float *buffers[] = {a->obs, a->acts, a->probs, a->logp};
        for (int k = 0; k < 4; k++)
            if (buffers[k])
                dgpg_backend_release(be, buffers[k]);
        mlp_free(&a->net);
    }
    dgpg_backend_free(be);
}

/* The trained runs' actors on a backend matching the environment's memory
 * (CUDA for a CUDA environment, which then runs on the backend's stream). */
static int eval_load_actors(const dgpg_config *cfg, int cuda, const dgpg_env_api *api,
                            void *inst, const dgpg_env_dims *d, eval_plan *plan,
                            dgpg_backend **be_out, char *err, size_t err_len)
{
    dgpg_backend *be = cuda ? dgpg_backend_cuda((int)cfg->backend.device, cfg->backend.tf32,
                                                err, err_len)
                            : dgpg_backend_cpu((int)cfg->backend.threads);
    *be_out = be;
    if (!be) {
        if (!cuda)
            snprintf(err, err_len, "eval: out of memory for the trained runs' backend");
        return DGPG_EINVAL;
    }
    if (cuda && api->bind_stream && api->bind_stream(inst, dgpg_backend_stream(be)) != DGPG_OK) {
        snprintf(err, err_len, "eval: binding the environment to the backend's stream failed");
        return DGPG_EBACKEND;
    }
    const int64_t E = d->n_envs, N = d->n_agents, M = d->n_actions;
    for (int r = 0; r < plan->n_runs; r++) {
        eval_actor *a = &plan->actor[r];
        if (dgpg_checkpoint_load_actor(plan->run_name[r] + 4, be, N, M, d->obs_dim,
                                       cfg->eval.seed, cfg->eval.scenarios, &a->net, err,
                                       err_len) != 0)
            return DGPG_EINVAL;
        const int64_t rows = a->net.K == 1 ? E * N : E;
        a->obs = dgpg_backend_alloc(be, sizeof(float) * (size_t)(E * N * d->obs_dim));
        a->acts = dgpg_backend_alloc(be, sizeof(float) * (size_t)mlp_activation_size(&a->net, rows));
        a->probs = dgpg_backend_alloc(be, sizeof(float) * (size_t)(E * N * M));
        a->logp = dgpg_backend_alloc(be, sizeof(float) * (size_t)(E * N));
        if (!a->obs || !a->acts || !a->probs || !a->logp) {
            snprintf(err, err_len, "eval: out of memory for the actor of %s", plan->run_name[r]);
            return DGPG_ENOMEM;
        }
    }
    return DGPG_OK;
}

/* The printed table's columns, comma-separated, as the group's attribute
 * "table_columns": the environment's ratio columns, then cost_ratio. */
static int eval_attr_table_columns(hid_t group, const eval_metrics *metrics)
{
    char columns[64 * (48 + 1) + 16] = ""; /* every ratio's name (at most 48 characters) */
    size_t used = 0;
    for (int k = 0; k < metrics->layout.n_ratios && used < sizeof columns; k++)
        used += (size_t)snprintf(columns + used, sizeof columns - used, "%s,",
                                 metrics->layout.ratios[k].info.name);
    if (used >= sizeof columns)
        return -1; /* more column names than an attribute line holds */
    snprintf(columns + used, sizeof columns - used, "cost_ratio");
    return h5util_attr_string(group, "table_columns", columns);
}

/* The table goes into `file`, created as path.tmp before any episode ran
 * (so an unwritable path is refused up front), closed, then renamed. */
static int eval_write_h5(hid_t file, const char *path, const dgpg_config *cfg,
                         const eval_plan *plan, const eval_metrics *metrics, int64_t K,
                         const double *values /* (metrics, P, K) */)
{
    char tmp[DGPG_PATH_LEN + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const hsize_t P = (hsize_t)plan->n_policies;
    int rc = -1;
    hid_t group = H5I_INVALID_HID;
    double *summary = malloc(sizeof(double) * P * 2);
    int64_t *seeds = malloc(sizeof(int64_t) * (size_t)K);
    if (!summary || !seeds)
        goto done;
    if (h5util_attr_string(file, "dgpg_version", DGPG_VERSION_STRING) ||
        h5util_attr_string(file, "kind", "dgpg eval table") || h5util_write_config(file, cfg))
        goto done;
    H5_CHECK(group = H5Gcreate2(file, "eval", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), done);
    if (h5util_attr_string(group, "description",
                           "built-in policies on held-out scenarios; *_mean and *_ci95 are the "
                           "mean over scenarios and the half width of its 95% Student-t "
                           "interval; per-scenario values are (policy, scenario)") ||
        eval_attr_table_columns(group, metrics) || h5util_attr_int(group, "n_scenarios", K) ||
        h5util_attr_int(group, "n_envs", cfg->env.n_envs) ||
        h5util_attr_int(group, "horizon", cfg->env.horizon))
        goto done;
    if (h5util_write_strings(group, "policy", P, plan->name, "policy of each row"))
        goto done;
    for (int64_t k = 0; k < K; k++)
        seeds[k] = cfg->eval.seed + k;
    hsize_t dims_k = (hsize_t)K;
    if (h5util_write_int64s(group, "scenario_seed", 1, &dims_k, seeds, "1",
                            "seed of each held-out scenario (column)"))
        goto done;
    for (int metric = 0; metric < metrics->n; metric++) {
        const dgpg_stat_info *info = &metrics->info[metric];
        const double *v = values + (size_t)metric * P * (size_t)K;
        for (hsize_t p = 0; p < P; p++) {
            dgpg_summary s = dgpg_summarize(v + p * (size_t)K, K, 1);
            summary[p] = s.mean;
            summary[P + p] = s.ci95;
        }
        char name[96], desc[512]; /* names are at most 48 characters (the registry) */
        hsize_t dims2[2] = {P, (hsize_t)K};
        if (h5util_write_doubles(group, info->name, 2, dims2, v, info->units,
                                 info->description))
            goto done;
        snprintf(name, sizeof name, "%s_mean", info->name);
        snprintf(desc, sizeof desc, "mean over scenarios of %s", info->name);
        if (h5util_write_doubles(group, name, 1, &P, summary, info->units, desc))
            goto done;
        snprintf(name, sizeof name, "%s_ci95", info->name);
        snprintf(desc, sizeof desc, "half width of the 95%% Student-t interval of %s_mean",
                 info->name);
        if (h5util_write_doubles(group, name, 1, &P, summary + P, info->units, desc))
            goto done;
    }
    H5_CHECK(H5Gclose(group), done);
    group = H5I_INVALID_HID;
    H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), done);
    rc = 0;
done:
    if (group >= 0)
        H5Gclose(group);
    free(summary);
    free(seeds);
    return rc;
}

/* Batch buffers on the host, or on the device for the CUDA backend. */
static void *eval_buffer(int cuda, size_t bytes)
{
#ifdef DGPG_HAVE_CUDA
    if (cuda) {
        void *p = NULL;
        return cudaMalloc(&p, bytes) == cudaSuccess ? p : NULL;
    }
#else
    (void)cuda;
#endif
    return malloc(bytes);
}

static void eval_buffer_free(int cuda, void *p)
{
#ifdef DGPG_HAVE_CUDA
    if (cuda) {
        cudaFree(p);
        return;
    }
#else
    (void)cuda;
#endif
    free(p);
}

/* The evaluation's config: every environment of scenario k plays held-out
 * scenario eval.seed + k, whatever env.scenarios trained on (static: the
 * config is large; not inlined, so that the compiler's string-length
 * analysis sees a config as it sees the caller's). */
static __attribute__((noinline)) const dgpg_config *eval_config(const dgpg_config *cfg)
{
    static dgpg_config fixed;
    fixed = *cfg;
    snprintf(fixed.env.scenarios, sizeof fixed.env.scenarios, "fixed");
    return &fixed;
}

/* Creates eval.output's temporary name (tmp), refusing an unwritable
 * output before any episode runs; the HDF5 file, or a negative id with one
 * line in err (tmp then empty). */
static hid_t eval_open_output(const char *output, char *tmp, size_t tmp_len, char *err,
                              size_t err_len)
{
    struct stat st;
    hid_t h5 = H5I_INVALID_HID;
    snprintf(tmp, tmp_len, "%s.tmp", output);
    FILE *probe = NULL;
    if (stat(output, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "eval.output = '%s': is a directory; allowed: a file path "
                 "(\"-\" for none)", output);
    } else if (!(probe = fopen(tmp, "wb"))) {
        snprintf(err, err_len, "eval.output = '%s': cannot create %s: %s; allowed: a "
                 "writable file path (\"-\" for none)", output, tmp, strerror(errno));
    } else {
        fclose(probe);
        h5 = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (h5 < 0) {
            h5util_error_capture("H5Fcreate", __FILE__, __LINE__);
            snprintf(err, err_len, "eval.output = '%s': HDF5 cannot create %s: %s; allowed: "
                     "a writable file path (\"-\" for none)", output, tmp, h5util_last_error());
        }
    }
    if (h5 < 0) {
        if (probe)
            unlink(tmp);
        tmp[0] = '\0';
    }
    return h5;
}

/* One policy's metrics on one scenario from its summed statistics, each
 * metric `stride` apart (values is (metrics, P, K)). */
static void eval_record(double *at, int64_t stride, const eval_metrics *metrics,
                        const double *total, double reference_cost)
{
    const dgpg_stats_layout *layout = &metrics->layout;
    const double cost = -total[DGPG_SUM_REWARD] / total[DGPG_SUM_STEPS];
    int metric = 0;
    at[metric++ * stride] = cost;
    at[metric++ * stride] = cost / reference_cost;
    for (int k = 0; k < layout->n_ratios; k++)
        at[metric++ * stride] = dgpg_stat_ratio_value(&layout->ratios[k], total);
    for (int k = 0; k < layout->n_sums; k++)
        at[metric++ * stride] = total[DGPG_SUMS_FIXED + k];
}

/* The table on out: per policy, the mean over the K scenarios and the half
 * width of its 95% Student-t interval, of the environment's ratio columns
 * and the cost ratio. */
static void eval_print_table(FILE *out, const dgpg_config *cfg, const eval_plan *plan,
                             const eval_metrics *metrics, int64_t K, const double *values)
{
    const int64_t P = plan->n_policies, E = cfg->env.n_envs, T = cfg->env.horizon;
    fprintf(out,
            "dgpg eval: env %s, N = %lld agents, M = %lld actions, E = %lld environments x "
            "T = %lld steps, %lld scenarios (seeds %lld..%lld)\n",
            cfg->env.name, (long long)cfg->env.n_agents, (long long)cfg->env.n_pools,
            (long long)E, (long long)T, (long long)K, (long long)cfg->eval.seed,
            (long long)(cfg->eval.seed + K - 1));
    fprintf(out, "mean over scenarios +- half width of the 95%% interval\n");
    int cols[DGPG_KEYS_MAX + 1], n_cols = 0;
    for (int k = 0; k < metrics->layout.n_ratios; k++)
        cols[n_cols++] = EVAL_FIXED + k;
    cols[n_cols++] = EVAL_COST_RATIO;
    fprintf(out, "%-14s", "policy");
    for (int c = 0; c < n_cols; c++) {
        char head[96];
        const dgpg_stat_info *info = &metrics->info[cols[c]];
        if (cols[c] == EVAL_COST_RATIO)
            snprintf(head, sizeof head, "cost / cost(p*)");
        else
            snprintf(head, sizeof head, "%s (%s)", info->name, info->units);
        fprintf(out, " %24s", head);
    }
    fprintf(out, "\n");
    for (int64_t p = 0; p < P; p++) {
        fprintf(out, "%-14s", plan->name[p]);
        for (int c = 0; c < n_cols; c++) {
            dgpg_summary d = dgpg_summarize(values + cols[c] * P * K + p * K, K, 1);
            fprintf(out, " %15.4f +- %-6.4f", d.mean, d.ci95);
        }
        fprintf(out, "\n");
    }
}

int dgpg_eval_run(const dgpg_config *run_cfg, FILE *out, char *err, size_t err_len)
{
    const dgpg_config *cfg = eval_config(run_cfg);
    const dgpg_env_api *api = dgpg_find_env(cfg->env.name);
    /* backend.kind = cuda: the environment's CUDA implementation, with the
     * action and reward buffers in device memory (statistics come back to
     * the host); the table is the same as the CPU's, bitwise
     * (tests/test_gpu_eval.sh) */
    /* auto: the device only for an environment with a CUDA implementation */
    const dgpg_env_api *api_cuda = dgpg_env_cuda(api);
    const int cuda = strcmp(cfg->backend.kind, "cuda") == 0 ||
                     (dgpg_backend_kind_is_cuda(cfg->backend.kind) && api_cuda);
    if (cuda)
        api = api_cuda;
    if (cuda && (!api || !api->policy_act)) {
        snprintf(err, err_len, "backend.kind = 'cuda': env.name = '%s' has no CUDA "
                 "implementation in this build; allowed: cpu, auto", cfg->env.name);
        return DGPG_EINVAL;
    }
    if (!api || !api->policy_act) {
        char names[256];
        dgpg_env_names(names, sizeof names);
        snprintf(err, err_len,
                 "env.name = '%s': no registered environment with built-in policies of that "
                 "name; allowed: %s",
                 cfg->env.name, names);
        return DGPG_EINVAL;
    }
    const int64_t K = cfg->eval.scenarios, E = cfg->env.n_envs, T = cfg->env.horizon;
    int threads = (int)cfg->backend.threads;
    void *inst = NULL;
    int rc = api->create(api->user, cfg, (uint64_t)cfg->eval.seed, 0, E, threads, &inst, err,
                         err_len);
    if (rc != DGPG_OK)
        return rc;
    static eval_plan plan; /* static: the trained runs' names make it large */
    memset(&plan, 0, sizeof plan);
    dgpg_backend *be = NULL;
    rc = eval_parse_policies(api, inst, cfg->eval.policies, &plan, err, err_len);
    dgpg_env_dims dims;
    if (rc == DGPG_OK)
        rc = api->dims(inst, &dims);
    if (rc == DGPG_OK && plan.n_runs > 0)
        rc = eval_load_actors(cfg, cuda, api, inst, &dims, &plan, &be, err, err_len);
    if (rc == DGPG_OK)
        rc = eval_model_prepare(cfg, cuda, &dims, &plan, &be, err, err_len);
    if (rc == DGPG_OK)
        rc = eval_model_bind(&plan, cfg, inst, err, err_len);
    const int64_t P = plan.n_policies;
    int32_t *actions = NULL;
    float *reward = NULL;
    double *per_env = NULL;
    double *values = NULL;
    eval_metrics metrics = {0};
    if (rc == DGPG_OK)
        rc = eval_metrics_of(api, &metrics, err, err_len);
    const int width = dgpg_stats_width(&metrics.layout);
    hid_t h5 = H5I_INVALID_HID;
    char tmp[DGPG_PATH_LEN + 16] = "";
    if (rc != DGPG_OK)
        goto done;
    if (strcmp(cfg->eval.output, "-") != 0 &&
        (h5 = eval_open_output(cfg->eval.output, tmp, sizeof tmp, err, err_len)) < 0) {
        rc = DGPG_EINVAL;
        goto done;
    }
    actions = eval_buffer(cuda, sizeof(int32_t) * (size_t)(E * dims.n_agents));
    reward = eval_buffer(cuda, sizeof(float) * (size_t)E);
    per_env = malloc(sizeof(double) * (size_t)width * (size_t)E);
    values = malloc(sizeof(double) * (size_t)metrics.n * (size_t)(P * K));
    if (!actions || !reward || !per_env || !values) {
        snprintf(err, err_len, "eval: out of memory for E = %lld environments", (long long)E);
        rc = DGPG_ENOMEM;
        goto done;
    }
    for (int64_t k = 0; k < K; k++) {
        if (k > 0) {
            eval_model_unbind(&plan);
            api->destroy(inst);
            inst = NULL;
            rc = api->create(api->user, cfg, (uint64_t)(cfg->eval.seed + k), 0, E, threads, &inst,
                             err, err_len);
            if (rc == DGPG_OK && be && api->bind_stream)
                rc = api->bind_stream(inst, dgpg_backend_stream(be));
            if (rc == DGPG_OK)
                rc = eval_model_bind(&plan, cfg, inst, err, err_len);
            if (rc != DGPG_OK)
                goto done;
        }
        double reference[DGPG_SUMS_FIXED + DGPG_KEYS_MAX], total[DGPG_SUMS_FIXED + DGPG_KEYS_MAX];
        const uint64_t action_seed = (uint64_t)(cfg->eval.seed + k);
        eval_batch batch = {actions, reward, per_env, E, width};
        rc = eval_episode(api, inst, &plan, plan.pstar, be, action_seed, T, &batch, reference);
        if (rc != DGPG_OK)
            goto episode_failed;
        double reference_cost = -reference[DGPG_SUM_REWARD] / reference[DGPG_SUM_STEPS];
        if (!(reference_cost > 0.0)) {
            snprintf(err, err_len,
                     "scenario seed %lld: the p* policy's cost is %g, so costs relative to "
                     "p* are undefined; allowed: settings of the environment under which p* "
                     "has a positive cost (for cloud: loads at which queues form, a higher "
                     "env.rho, env.lambda_mean or env.horizon)",
                     (long long)(cfg->eval.seed + k), reference_cost);
            rc = DGPG_EINVAL;
            goto done;
        }
        for (int64_t p = 0; p < P; p++) {
            if (p == plan.pstar_row)
                memcpy(total, reference, sizeof(double) * (size_t)width);
            else if ((rc = eval_episode(api, inst, &plan, plan.policy[p], be, action_seed, T,
                                        &batch, total)) != DGPG_OK)
                goto episode_failed;
            eval_record(values + p * K + k, P * K, &metrics, total, reference_cost);
        }
    }

    eval_print_table(out, cfg, &plan, &metrics, K, values);
    if (h5 >= 0) {
        int failed = eval_write_h5(h5, cfg->eval.output, cfg, &plan, &metrics, K, values) != 0;
        if (H5Fclose(h5) < 0 && !failed) {
            h5util_error_capture("H5Fclose", __FILE__, __LINE__);
            failed = 1;
        }
        h5 = H5I_INVALID_HID;
        /* written whole under a temporary name, then renamed: a reader never
         * sees half a file, and a failure never damages an older one */
        if (failed || rename(tmp, cfg->eval.output) != 0) {
            snprintf(err, err_len, "eval.output = '%s': writing %s failed: %s", cfg->eval.output,
                     tmp, failed ? h5util_last_error() : strerror(errno));
            rc = DGPG_EIO;
            goto done;
        }
        tmp[0] = '\0';
        fprintf(out, "table written to %s\n", cfg->eval.output);
    }
    rc = DGPG_OK;
    goto done;
episode_failed:
    snprintf(err, err_len, "eval: an episode failed: %s", dgpg_strerror(rc));
done:
    if (h5 >= 0)
        H5Fclose(h5);
    if (tmp[0])
        unlink(tmp);
    eval_model_unbind(&plan);
    if (inst)
        api->destroy(inst);
    eval_buffer_free(cuda, actions);
    eval_buffer_free(cuda, reward);
    free(per_env);
    free(values);
    eval_free_plan(&plan, be);
    return rc;
}
