/* bench.c — see bench.h. Each figure is agent-steps per second,
 * E * N * steps / wall time, after one warm-up episode segment. */
#include "bench.h"

#include "backend.h"
#include "blas_core.h"
#include "dgpg/dgpg.h"
#include "dist.h"
#include "stats.h"
#include "train.h"
#include "train_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The two figures of one backend: the power-of-two heuristic (policy_act
 * + step), and a sampled categorical policy as the trainer's rollout runs
 * it (observe, train_op_sample from uniform logits, step: the network
 * replaced by fixed logits). Buffers are the backend's memory; an
 * environment on a GPU runs on the backend's stream, and stats waits for
 * it before the clock stops. */
static int bench_env_backend(const dgpg_env_api *api, dgpg_backend *be, const char *label,
                             const dgpg_config *cfg, int64_t steps, int threads, FILE *out,
                             char *err, size_t err_len)
{
    void *inst = NULL;
    int rc = api->create(api->user, cfg, (uint64_t)cfg->env.seed, 0, cfg->env.n_envs, threads,
                         &inst, err, err_len);
    if (rc != DGPG_OK)
        return rc;
    dgpg_env_dims d;
    api->dims(inst, &d);
    const size_t EN = (size_t)d.n_envs * (size_t)d.n_agents, M = (size_t)d.n_actions;
    int32_t *actions = dgpg_backend_alloc(be, sizeof(int32_t) * EN);
    float *reward = dgpg_backend_alloc(be, sizeof(float) * (size_t)d.n_envs);
    float *obs = dgpg_backend_alloc(be, sizeof(float) * EN * (size_t)d.obs_dim);
    float *logits = dgpg_backend_alloc(be, sizeof(float) * EN * M); /* zeros: uniform */
    float *probs = dgpg_backend_alloc(be, sizeof(float) * EN * M);
    float *logp = dgpg_backend_alloc(be, sizeof(float) * EN);
    const dgpg_stats_layout layout = dgpg_env_stats_layout(api);
    double *stats = malloc(sizeof(double) * (size_t)dgpg_stats_width(&layout) * (size_t)d.n_envs);
    /* the built-in policy timed: p* (the API's "pstar", which training and
     * eval play as the reference), else the environment's first */
    int heuristic = api->policy_count ? api->policy_find(inst, "pstar") : -1;
    if (heuristic < 0 && api->policy_count && api->policy_count(inst) > 0)
        heuristic = 0;
    char heuristic_label[96];
    snprintf(heuristic_label, sizeof heuristic_label, "%s (built-in policy)",
             heuristic >= 0 ? api->policy_name(inst, heuristic) : "none");
    if (!actions || !reward || !obs || !logits || !probs || !logp || !stats || heuristic < 0) {
        snprintf(err, err_len, "bench: out of %s memory for E x N = %zu, or the environment "
                 "has no built-in policy; allowed: an environment with one", label, EN);
        rc = DGPG_ENOMEM;
        goto done;
    }
    if (api->bind_stream && api->bind_stream(inst, dgpg_backend_stream(be)) != DGPG_OK) {
        snprintf(err, err_len, "bench: binding the environment to the backend's stream failed");
        rc = DGPG_EBACKEND;
        goto done;
    }
    for (int variant = 0; variant < 2 && rc == DGPG_OK; variant++) {
        rc = api->reset(inst, 0);
        double start = 0.0;
        for (int64_t s = -steps / 10 - 1; rc == DGPG_OK && s < steps; s++) {
            if (s == 0 && (rc = dgpg_env_read_sums(api, inst, d.n_envs, stats)) == DGPG_OK)
                start = bench_now();
            if (rc == DGPG_OK && variant == 0)
                rc = api->policy_act(inst, heuristic, actions);
            if (rc == DGPG_OK && variant == 1) {
                rc = api->observe(inst, obs, NULL);
                if (rc == DGPG_OK)
                    rc = train_op_sample(be, d.n_envs, d.n_agents, d.n_actions,
                                         (uint64_t)cfg->train.seed, 0, (uint64_t)(s + steps),
                                         logits, probs, actions, logp);
            }
            if (rc == DGPG_OK)
                rc = api->step(inst, actions, reward);
        }
        if (rc == DGPG_OK)
            rc = dgpg_env_read_sums(api, inst, d.n_envs, stats);
        const double seconds = bench_now() - start;
        if (rc == DGPG_OK)
            fprintf(out, "%-8s %-40s %16.4g\n", label,
                    variant == 0 ? heuristic_label
                                 : "categorical (observe + sample + step)",
                    (double)EN * (double)steps / seconds);
    }
    if (rc != DGPG_OK && !err[0])
        snprintf(err, err_len, "bench: a step failed: %s", dgpg_strerror(rc));
done:
    dgpg_backend_release(be, actions);
    dgpg_backend_release(be, reward);
    dgpg_backend_release(be, obs);
    dgpg_backend_release(be, logits);
    dgpg_backend_release(be, probs);
    dgpg_backend_release(be, logp);
    free(stats);
    api->destroy(inst);
    return rc;
}

int dgpg_bench_env(const dgpg_config *cfg, const int *threads, int n_threads, int64_t steps,
                   FILE *out, char *err, size_t err_len)
{
    const dgpg_env_api *api = dgpg_find_env(cfg->env.name);
    if (!api || !api->policy_find) {
        snprintf(err, err_len, "env.name = '%s': no registered environment with built-in "
                 "policies of that name", cfg->env.name);
        return DGPG_EINVAL;
    }
    fprintf(out, "dgpg bench env: env %s, N = %lld, M = %lld, E = %lld, %lld steps per figure\n",
            cfg->env.name, (long long)cfg->env.n_agents, (long long)cfg->env.n_pools,
            (long long)cfg->env.n_envs, (long long)steps);
    fprintf(out, "%-8s %-40s %16s\n", "threads", "policy", "agent-steps/s");
    const dgpg_env_api *api_cuda = dgpg_env_cuda(api);
    if (strcmp(cfg->backend.kind, "cuda") == 0 && !api_cuda) {
        snprintf(err, err_len, "backend.kind = 'cuda': env.name = '%s' has no CUDA "
                 "implementation in this build; allowed: cpu, auto", cfg->env.name);
        return DGPG_EINVAL;
    }
    /* auto: the device only for an environment with a CUDA implementation */
    if (dgpg_backend_kind_is_cuda(cfg->backend.kind) && api_cuda) {
        dgpg_backend *be = dgpg_backend_cuda((int)cfg->backend.device, 0, err, err_len);
        if (!be)
            return DGPG_EINVAL;
        int rc = bench_env_backend(api_cuda, be, "cuda", cfg, steps, 0, out, err, err_len);
        dgpg_backend_free(be);
        return rc;
    }
    int rc = DGPG_OK;
    for (int k = 0; k < n_threads && rc == DGPG_OK; k++) {
        int nthreads = threads[k];
#ifdef _OPENMP
        if (nthreads == 0)
            nthreads = omp_get_num_procs();
#else
        nthreads = 1;
#endif
        dgpg_backend *be = dgpg_backend_cpu(nthreads);
        if (!be) {
            snprintf(err, err_len, "bench: out of memory for the backend");
            return DGPG_ENOMEM;
        }
        char label[16];
        snprintf(label, sizeof label, "%d", nthreads);
        rc = bench_env_backend(api, be, label, cfg, steps, nthreads, out, err, err_len);
        dgpg_backend_free(be);
    }
    return rc;
}

static int bench_train_sizes(const dgpg_config *cfg, const int64_t *n_agents, int n_sizes,
                             FILE *out, char *err, size_t err_len);

int dgpg_bench_train(const dgpg_config *cfg, const int64_t *n_agents, int n_sizes, FILE *out,
                     char *err, size_t err_len)
{
    /* under MPI, rank 0 prints; every rank trains its share */
    FILE *quiet = NULL;
    if (dgpg_dist_rank() != 0 && !(out = quiet = fopen("/dev/null", "w"))) {
        snprintf(err, err_len, "bench: cannot open /dev/null");
        return DGPG_EIO;
    }
    int rc = bench_train_sizes(cfg, n_agents, n_sizes, out, err, err_len);
    if (quiet)
        fclose(quiet);
    return rc;
}

static int bench_train_sizes(const dgpg_config *cfg, const int64_t *n_agents, int n_sizes,
                             FILE *out, char *err, size_t err_len)
{
    /* the yardstick on the backend the trainer will pick (train.c's rule:
     * cuda, or auto where a device is visible) */
    dgpg_backend *be = NULL;
    if (dgpg_backend_kind_is_cuda(cfg->backend.kind)) {
        be = dgpg_backend_cuda((int)cfg->backend.device, cfg->backend.tf32, err, err_len);
        if (!be)
            return DGPG_EINVAL;
    } else if (!(be = dgpg_backend_cpu((int)cfg->backend.threads))) {
        snprintf(err, err_len, "bench: out of memory");
        return DGPG_ENOMEM;
    }
    const int cuda = dgpg_backend_is_cuda(be);
    double peak = dgpg_backend_sgemm_peak(be);
    int threads = dgpg_backend_threads(be);
    dgpg_backend_free(be);
    fprintf(out, "dgpg bench train: guide %s, critic %s, M = %lld, E = %lld, T = %lld, %lld "
            "episodes, %lld epochs x %lld minibatches, hidden %lld x %lld, backend %s, "
            "%d MPI rank(s)\n",
            cfg->algo.guide, cfg->algo.critic, (long long)cfg->env.n_pools,
            (long long)cfg->env.n_envs, (long long)cfg->env.horizon,
            (long long)cfg->train.episodes, (long long)cfg->algo.epochs,
            (long long)cfg->algo.minibatches, (long long)cfg->algo.hidden,
            (long long)cfg->algo.layers, cuda ? "cuda" : "cpu", dgpg_dist_size());
    char blas[256];
    dgpg_blas_describe(blas, sizeof blas);
    fprintf(out, "%s\n", blas);
    if (cuda)
        fprintf(out, "cuBLAS SGEMM 8192^3 on device %lld (%s): %.1f GFLOP/s (the yardstick)\n",
                (long long)cfg->backend.device, cfg->backend.tf32 ? "TF32" : "FP32", peak);
    else
        fprintf(out, "OpenBLAS SGEMM 2048^3 on %d threads: %.1f GFLOP/s (the yardstick)\n",
                threads, peak);
    fprintf(out, "%8s %16s %18s %14s %16s\n", "N", "agent-steps/s", "update GFLOP/s",
            "share of SGEMM", "seconds/episode");
    char dir[] = "/tmp/dgpg-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(err, err_len, "bench: cannot create a scratch directory in /tmp");
        return DGPG_EIO;
    }
    dgpg_train_summary *phases = calloc((size_t)n_sizes, sizeof *phases);
    if (!phases) {
        rmdir(dir);
        snprintf(err, err_len, "bench: out of memory");
        return DGPG_ENOMEM;
    }
    int rc = DGPG_OK;
    for (int k = 0; k < n_sizes && rc == DGPG_OK; k++) {
        dgpg_config c = *cfg;
        c.env.n_agents = n_agents[k];
        char check[DGPG_ERR_LEN];
        if (dgpg_config_check(&c, check, sizeof check) != 0) {
            snprintf(err, err_len, "bench train at N = %lld: %s", (long long)n_agents[k], check);
            rc = DGPG_EINVAL;
            break;
        }
        char run[sizeof dir + 32];
        snprintf(run, sizeof run, "%s/n%lld", dir, (long long)n_agents[k]);
        if (mkdir(run, 0777) != 0) {
            snprintf(err, err_len, "bench: cannot create %s", run);
            rc = DGPG_EIO;
            break;
        }
        dgpg_train_opts opts = {run, 0, NULL, -1, -1};
        dgpg_train_summary s;
        rc = dgpg_train_run(&c, &opts, &s, err, err_len);
        if (rc == DGPG_OK) {
            fprintf(out, "%8lld %16.4g %18.2f %13.1f%% %16.2f\n", (long long)n_agents[k],
                    s.agent_steps_per_s, s.update_gflops, 100.0 * s.update_gflops / peak,
                    s.seconds / (double)s.episodes);
            phases[k] = s;
        }
        char path[sizeof run + 32];
        const char *files[] = {"log.h5", "checkpoint.h5"};
        for (int f = 0; f < 2; f++) {
            snprintf(path, sizeof path, "%s/%s", run, files[f]);
            unlink(path);
        }
        rmdir(run);
    }
    rmdir(dir);
    if (rc != DGPG_OK) {
        free(phases);
        return rc;
    }
    /* where the time goes: seconds per episode of each phase, and the
     * agent-steps per second of the rollout and of the update alone */
    static const char *const names[TRAIN_PHASE_COUNT] = {
        "rollout", "p* ref", "advantages", "variance", "update", "log+ckpt"};
    fprintf(out, "seconds per episode by phase, and the rollout's and update's own rates:\n");
    fprintf(out, "%8s", "N");
    for (int ph = 0; ph < TRAIN_PHASE_COUNT; ph++)
        fprintf(out, " %10s", names[ph]);
    fprintf(out, " %14s %14s\n", "rollout st/s", "update st/s");
    for (int k = 0; k < n_sizes; k++) {
        const dgpg_train_summary *s = &phases[k];
        const double episodes = (double)s->episodes;
        const double steps = (double)(cfg->env.n_envs * cfg->env.horizon * n_agents[k]) *
                             episodes;
        fprintf(out, "%8lld", (long long)n_agents[k]);
        for (int ph = 0; ph < TRAIN_PHASE_COUNT; ph++)
            fprintf(out, " %10.3f", s->phase_seconds[ph] / episodes);
        fprintf(out, " %14.4g %14.4g\n", steps / s->phase_seconds[TRAIN_PHASE_ROLLOUT],
                steps / s->phase_seconds[TRAIN_PHASE_UPDATE]);
    }
    if (dgpg_backend_kind_is_cuda(cfg->backend.kind)) {
        /* what the CUDA path costs the host: kernel launches (cuBLAS calls
         * once each) per rollout step, and host waits per episode */
        fprintf(out, "CUDA launches per rollout step and per episode, host waits per episode "
                "(rollout, p* ref, advantages, variance, update, log+ckpt):\n");
        for (int k = 0; k < n_sizes; k++) {
            const dgpg_train_summary *s = &phases[k];
            const double episodes = (double)s->episodes;
            double launches = 0.0;
            for (int ph = 0; ph < TRAIN_PHASE_COUNT; ph++)
                launches += s->phase_launches[ph];
            fprintf(out, "%8lld %10.1f %12.0f   waits:", (long long)n_agents[k],
                    s->phase_launches[TRAIN_PHASE_ROLLOUT] / episodes /
                        (double)cfg->env.horizon,
                    launches / episodes);
            for (int ph = 0; ph < TRAIN_PHASE_COUNT; ph++)
                fprintf(out, " %8.1f", s->phase_host_waits[ph] / episodes);
            fprintf(out, "\n");
        }
    }
    free(phases);
    return rc;
}
