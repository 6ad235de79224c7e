/* test_plugin.c — the plug-in API: registration by name (duplicates and
 * incomplete structs refused), a user environment registered beside the
 * built-in ones, and the cloud_mm1 model reached through the API agreeing
 * with its formulas recomputed here from the scenario's rates: p* with an
 * independent solution of min sum_m x_m / (mu_m - x_m), sum_m x_m = Lambda,
 * x >= 0 (bisection on the level s of x_m = max(0, mu_m - sqrt(mu_m) s),
 * no active set, no pool order), the cost with the M/M/1 occupancy written
 * out here (rho / (1 - rho), its Taylor extension past the barrier) over
 * Lambda, its gradient against central finite differences of that cost,
 * and the guidance inner products with the identity
 * sum_i <x - x~, z_i> = sum_m A_m (A_m - x~_m); and,
 * with the default state reference on sampled scenarios, each of its
 * guidance quantities against its formula recomputed here from the
 * backlogs: p*(s) from a bisection of the fluid problem (fluid_oracle.h),
 * the cost C = sum_m (Q_m + A_m)^2 / (2 mu_m) / Lambda(t) and its gradient
 * against central finite differences, and <x - x~, z_i> =
 * w_i ((Q_k + A_k) / mu_k - max(L, Q_k / mu_k)). */
#include "env_fixture.h"
#include "fluid_oracle.h"
#include "stats.h"
#include "test.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int toy_create(void *user, const struct dgpg_config *cfg, uint64_t seed, int64_t offset,
                      int64_t n_envs, int threads, void **instance, char *err, size_t err_len)
{
    (void)user, (void)cfg, (void)seed, (void)offset, (void)n_envs, (void)threads, (void)err;
    (void)err_len;
    *instance = NULL;
    return DGPG_OK;
}
static void toy_destroy(void *instance) { (void)instance; }
static int toy_dims(void *instance, dgpg_env_dims *dims)
{
    (void)instance;
    memset(dims, 0, sizeof *dims);
    return DGPG_OK;
}
static int toy_reset(void *instance, uint64_t episode)
{
    (void)instance, (void)episode;
    return DGPG_OK;
}
static int toy_observe(void *instance, float *obs, float *state)
{
    (void)instance, (void)obs, (void)state;
    return DGPG_OK;
}
static int toy_step(void *instance, const int32_t *actions, float *reward)
{
    (void)instance, (void)actions, (void)reward;
    return DGPG_OK;
}
/* Version 1 and 2 statistics: 3 environments, each field its own value. */
static int toy_stats(void *instance, dgpg_env_stats *stats)
{
    (void)instance;
    for (int e = 0; e < 3; e++)
        stats[e] = (dgpg_env_stats){.reward = -1.0 - e, .queued = 10.0 + e, .arrived = 20.0 + e,
                                    .served = 15.0 + e, .dropped = 2.0 + e, .steps = 7.0};
    return DGPG_OK;
}
/* Version 3: reward, steps and one sum of its own. */
static int toy_sums(void *instance, double *per_env)
{
    (void)instance;
    for (int e = 0; e < 3; e++) {
        per_env[3 * e] = -2.0 * e;
        per_env[3 * e + 1] = 5.0;
        per_env[3 * e + 2] = 4.0 * e;
    }
    return DGPG_OK;
}

/* The toy environment's keys: its parameter block is toy_params. */
typedef struct toy_params {
    int64_t level;
    double spread;
    char shape[DGPG_WORD_LEN];
    int noisy;
} toy_params;
static const char *const toy_shapes[] = {"flat", "ramp", NULL};
static const dgpg_config_key toy_keys[] = {
    {"level", DGPG_KEY_INT, offsetof(toy_params, level), "3", 1, 9, 0, 0, NULL, "toy level"},
    {"spread", DGPG_KEY_REAL, offsetof(toy_params, spread), "0.5", 0.0, 1.0, 1, 0, NULL,
     "toy spread, in (0, 1]"},
    {"shape", DGPG_KEY_WORD, offsetof(toy_params, shape), "flat", 0, 0, 0, 0, toy_shapes,
     "toy shape"},
    {"noisy", DGPG_KEY_BOOL, offsetof(toy_params, noisy), "false", 0, 0, 0, 0, NULL,
     "toy noise"},
};
static const dgpg_stat_info toy_sum_info[] = {{"work", "1", "toy work"}};
static const dgpg_stat_ratio toy_ratios[] = {{{"work_per_step", "1", "work / steps"}, 0, 0}};

/* check_config: level 9 wants spread 1. */
static int toy_check(void *user, const struct dgpg_config *cfg, char *err, size_t err_len)
{
    (void)user;
    const toy_params *p = dgpg_config_env_params(cfg);
    if (p->level == 9 && p->spread != 1.0) {
        snprintf(err, err_len, "env.level = 9 needs env.spread = 1");
        return DGPG_EINVAL;
    }
    return DGPG_OK;
}

static int toy_model_create(void *user, const struct dgpg_config *cfg, void *env_instance,
                            void **instance, char *err, size_t err_len)
{
    (void)user, (void)cfg, (void)env_instance, (void)err, (void)err_len;
    *instance = NULL;
    return DGPG_OK;
}
static int toy_model_probs(void *instance, int64_t env, double *p_star)
{
    (void)instance, (void)env, (void)p_star;
    return DGPG_OK;
}
static int toy_model_cost(void *instance, int64_t env, const double *probs, double *cost,
                          double *grad)
{
    (void)instance, (void)env, (void)probs, (void)cost, (void)grad;
    return DGPG_OK;
}
static const dgpg_config_key toy_model_keys[] = {
    {"gain", DGPG_KEY_REAL, 0, "2.0", 0.0, 10.0, 0, 0, NULL, "toy model gain"},
};

static const dgpg_env_api toy = {
    .version = DGPG_ENV_API_VERSION, .name = "toy", .create = toy_create,
    .destroy = toy_destroy, .dims = toy_dims, .reset = toy_reset, .observe = toy_observe,
    .step = toy_step, .config_keys = toy_keys, .n_config_keys = 4,
    .params_size = sizeof(toy_params), .check_config = toy_check, .n_sums = 1,
    .sum_info = toy_sum_info, .n_ratios = 1, .ratios = toy_ratios, .sums = toy_sums};
static const dgpg_model_api toy_model = {
    .version = DGPG_MODEL_API_VERSION, .name = "toy_model", .env_name = "toy",
    .create = toy_model_create, .destroy = toy_destroy, .optimal_probs = toy_model_probs,
    .cost = toy_model_cost, .config_keys = toy_model_keys, .n_config_keys = 1,
    .params_size = sizeof(double)};

static void test_registry(void)
{
    CHECK_INT_EQ(dgpg_register_builtins(), DGPG_OK);
    CHECK_INT_EQ(dgpg_register_builtins(), DGPG_OK); /* idempotent */
    CHECK(dgpg_find_env("cloud") == &dgpg_cloud_env_api);
    CHECK(dgpg_find_model("cloud_mm1") == &dgpg_cloud_model_api);
    CHECK(dgpg_find_env("toy") == NULL);
    static dgpg_env_api incomplete;
    incomplete = toy;
    incomplete.name = "half";
    incomplete.destroy = NULL;
    CHECK_INT_EQ(dgpg_register_env(&toy), DGPG_OK);
    CHECK(dgpg_find_env("toy") == &toy);
    CHECK_INT_EQ(dgpg_register_env(&toy), DGPG_EEXIST);
    CHECK(strstr(dgpg_registry_error(), "'toy': a plug-in of that name is registered"));
    CHECK_INT_EQ(dgpg_register_env(&dgpg_cloud_env_api), DGPG_EEXIST);
    CHECK_INT_EQ(dgpg_register_env(&incomplete), DGPG_EINVAL);
    CHECK(strstr(dgpg_registry_error(), "a required method is NULL"));
    CHECK(dgpg_find_env("half") == NULL);
    CHECK_INT_EQ(dgpg_register_model(&toy_model), DGPG_OK);
    /* an API version this library does not know is refused; a version-1
     * plug-in is read without the fields versions 2 and 3 appended */
    static dgpg_env_api newer, older;
    newer = toy;
    newer.name = "newer";
    newer.version = DGPG_ENV_API_VERSION + 1;
    CHECK_INT_EQ(dgpg_register_env(&newer), DGPG_EINVAL);
    CHECK(strstr(dgpg_registry_error(), "an API version this library does not know"));
    older = toy;
    older.name = "older";
    older.version = 1;
    older.stats = toy_stats;
    older.cuda = &toy; /* not a field of version 1: never read */
    older.sums = NULL; /* nor these */
    older.n_config_keys = -5;
    CHECK_INT_EQ(dgpg_register_env(&older), DGPG_OK);
    CHECK(dgpg_env_cuda(&older) == NULL);
    CHECK(dgpg_env_cuda(&toy) == NULL);
#ifdef DGPG_HAVE_CUDA
    /* cloud carries its CUDA implementations through the API */
    CHECK(dgpg_env_cuda(&dgpg_cloud_env_api) == &dgpg_cloud_cuda_env_api);
    CHECK(dgpg_model_cuda(&dgpg_cloud_model_api) == &dgpg_cloud_cuda_model_api);
#else
    CHECK(dgpg_env_cuda(&dgpg_cloud_env_api) == NULL);
#endif
    char names[128];
    CHECK_INT_EQ(dgpg_env_names(names, sizeof names), DGPG_OK);
    CHECK(strcmp(names, "cloud, hetcloud, toy, older") == 0);
    CHECK(strcmp(dgpg_strerror(DGPG_EEXIST), "already registered") == 0);
}

/* Malformed key rows and statistics are refused at registration, each
 * with a line saying which. */
static void test_registry_refusals(void)
{
    static dgpg_config_key rows[2];
    static dgpg_env_api bad;
    static dgpg_stat_ratio ratio;
    struct {
        const char *expect;
        void (*unused)(void);
    } cases[] = {{"a key listed twice", NULL},
                 {"a key every plug-in of its kind has", NULL},
                 {"a key stored outside params_size", NULL},
                 {"a key that is not an identifier", NULL},
                 {"a word key without words", NULL},
                 {"outside [0, n_sums)", NULL},
                 {"at most 64 rows", NULL}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        bad = toy;
        bad.name = "bad";
        memcpy(rows, toy_keys, sizeof rows);
        bad.config_keys = rows;
        bad.n_config_keys = 2;
        ratio = toy_ratios[0];
        bad.ratios = &ratio;
        switch (c) {
        case 0: rows[1].key = "level"; break;
        case 1: rows[1].key = "n_agents"; break;
        case 2: rows[1].offset = sizeof(toy_params) - 4; break;
        case 3: rows[0].key = "9lives"; break;
        case 4: rows[0] = toy_keys[2]; rows[0].words = NULL; break;
        case 5: ratio.denominator = 1; break;
        case 6: bad.n_config_keys = DGPG_KEYS_MAX + 1; break;
        }
        CHECK_INT_EQ(dgpg_register_env(&bad), DGPG_EINVAL);
        CHECK_QUIET(strstr(dgpg_registry_error(), cases[c].expect) != NULL,
                    "case %zu: '%s' does not say '%s'", c, dgpg_registry_error(),
                    cases[c].expect);
        CHECK(dgpg_find_env("bad") == NULL);
    }
}

/* Statistics read through the API: a version 3 plug-in's sums as they
 * are, a version 1 plug-in's dgpg_env_stats widened in place to the sums
 * reward, steps, queued, arrived, admitted, served, dropped. */
static void test_stats_layouts(void)
{
    double sums[3 * 7];
    const dgpg_env_api *older = dgpg_find_env("older");
    dgpg_stats_layout layout = dgpg_env_stats_layout(older);
    CHECK_INT_EQ(dgpg_stats_width(&layout), 7);
    CHECK_INT_EQ(dgpg_env_read_sums(older, NULL, 3, sums), DGPG_OK);
    for (int e = 0; e < 3; e++) {
        const double expect[7] = {-1.0 - e, 7.0, 10.0 + e, 20.0 + e, 18.0, 15.0 + e, 2.0 + e};
        for (int k = 0; k < 7; k++)
            CHECK_QUIET(sums[e * 7 + k] == expect[k], "env %d sum %d: %g vs %g", e, k,
                        sums[e * 7 + k], expect[k]);
    }
    double total[7];
    dgpg_env_sums_total(sums, 3, 7, total);
    CHECK(total[0] == -6.0 && total[1] == 21.0 && total[4] == 54.0);
    CHECK(strcmp(layout.ratios[0].info.name, "delay") == 0);
    CHECK(dgpg_stat_ratio_value(&layout.ratios[0], total) == 33.0 / 54.0);  /* queued/admitted */
    CHECK(dgpg_stat_ratio_value(&layout.ratios[1], total) == 9.0 / 63.0);   /* dropped/arrived */
    layout = dgpg_env_stats_layout(&toy);
    CHECK_INT_EQ(dgpg_stats_width(&layout), 3);
    CHECK_INT_EQ(dgpg_env_read_sums(&toy, NULL, 3, sums), DGPG_OK);
    CHECK(sums[3 * 2 + 2] == 8.0);
    double zero[3] = {0.0, 0.0, 0.0};
    CHECK(dgpg_stat_ratio_value(&layout.ratios[0], zero) == 0.0); /* 0 over 0: 0 */
    /* cloud's: the same definitions as the legacy ones, on its own sums */
    layout = dgpg_env_stats_layout(&dgpg_cloud_env_api);
    CHECK_INT_EQ(layout.n_sums, CLOUD_SUMS);
    CHECK(strcmp(layout.ratios[0].info.name, "delay") == 0 &&
          layout.ratios[0].numerator == CLOUD_SUM_QUEUED &&
          layout.ratios[0].denominator == CLOUD_SUM_ADMITTED);
}

/* Each plug-in owns its keys: the toy environment's are read, defaults
 * first, into its parameter block; cloud's are refused for it and its own
 * for cloud, each message naming the key, whose it is, and what is
 * allowed; a model's keys likewise; check_config runs on load. */
static void test_plugin_keys(void)
{
    dgpg_config cfg;
    char err[DGPG_ERR_LEN];
    const char *toy_env[] = {"env.name=toy", "model.name=toy_model"};
    CHECK_INT_EQ(dgpg_config_load(&cfg, NULL, toy_env, 2, err, sizeof err), 0);
    const toy_params *p = dgpg_config_env_params(&cfg);
    CHECK(p && p->level == 3 && p->spread == 0.5 && strcmp(p->shape, "flat") == 0 &&
          p->noisy == 0);
    const double *gain = dgpg_config_model_params(&cfg);
    CHECK(gain && *gain == 2.0);
    const char *toy_set[] = {"env.name=toy", "model.name=toy_model", "env.level=7",
                             "env.shape=ramp", "env.noisy=yes", "model.gain=0.25"};
    CHECK_INT_EQ(dgpg_config_load(&cfg, NULL, toy_set, 6, err, sizeof err), 0);
    p = dgpg_config_env_params(&cfg);
    gain = dgpg_config_model_params(&cfg);
    CHECK(p->level == 7 && strcmp(p->shape, "ramp") == 0 && p->noisy == 1 && *gain == 0.25);
    char value[64];
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env.level", value, sizeof value), DGPG_OK);
    CHECK(strcmp(value, "7") == 0);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env.rho", value, sizeof value), DGPG_ENOTFOUND);
    /* printed, the config loads back to the same block */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    dgpg_config_print(&cfg, mem);
    fclose(mem);
    char path[] = "/tmp/dgpg_test_plugin_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len);
    close(fd);
    dgpg_config back;
    CHECK_INT_EQ(dgpg_config_load(&back, path, NULL, 0, err, sizeof err), 0);
    CHECK(memcmp(back.env.params, cfg.env.params, sizeof(toy_params)) == 0);
    CHECK(memcmp(back.model.params, cfg.model.params, sizeof(double)) == 0);
    free(text);

    struct {
        const char *sets[4];
        int n;
        const char *expect;
    } refused[] = {
        {{"env.name=toy", "model.name=toy_model", "env.rho=0.9"}, 3,
         "--set: env.rho: unknown key in section 'env' (a key of environment 'cloud', not of "
         "this config's 'toy'); allowed: name, n_agents, n_pools, n_envs, horizon, seed, "
         "scenarios, level, spread, shape, noisy"},
        {{"env.level=2"}, 1,
         "--set: env.level: unknown key in section 'env' (a key of environment 'toy', not of "
         "this config's 'cloud'); allowed: name, n_agents"},
        {{"model.gain=1"}, 1, "--set: model.gain: unknown key in section 'model' (a key of "
                              "model 'toy_model', not of this config's 'cloud_mm1'); allowed: "
                              "name, barrier, reference"},
        {{"env.name=toy", "model.name=toy_model", "env.level=10"}, 3,
         "--set: env.level = '10': out of range; allowed: an integer in [1, 9]"},
        {{"env.name=toy", "model.name=toy_model", "env.spread=0"}, 3,
         "--set: env.spread = '0': out of range; allowed: a number in (0, 1]"},
        {{"env.name=toy", "model.name=toy_model", "env.shape=round"}, 3,
         "--set: env.shape = 'round': not one of the allowed words; allowed: flat, ramp"},
        {{"env.name=toy"}, 1, "(embedded default):", /* where model.name was set */},
        {{"env.name=toy"}, 1, ": model.name = 'cloud_mm1': no registered model of that name for "
                              "env 'toy'; allowed: toy_model"},
        {{"env.name=nowhere"}, 1, "--set: env.name = 'nowhere': no registered environment of "
                                  "that name; allowed: cloud, hetcloud, toy, older"},
    };
    for (size_t c = 0; c < sizeof refused / sizeof refused[0]; c++) {
        err[0] = '\0';
        CHECK_INT_EQ(dgpg_config_load(&cfg, NULL, refused[c].sets, refused[c].n, err, sizeof err),
                     -1);
        CHECK_QUIET(strstr(err, refused[c].expect) != NULL, "case %zu: '%s', expected '%s'", c,
                    err, refused[c].expect);
    }
    /* in a file: the message names the file and line */
    FILE *f = fopen(path, "w");
    fputs("env:\n  name: toy\n  burst_prob: 0.1\nmodel:\n  name: toy_model\n", f);
    fclose(f);
    CHECK_INT_EQ(dgpg_config_load(&cfg, path, NULL, 0, err, sizeof err), -1);
    char expect[256];
    snprintf(expect, sizeof expect, "%s:3: env.burst_prob: unknown key in section 'env' (a key "
             "of environment 'cloud'", path);
    CHECK_QUIET(strncmp(err, expect, strlen(expect)) == 0, "'%s'", err);
    /* the plug-in's cross-key check */
    const char *level9[] = {"env.name=toy", "model.name=toy_model", "env.level=9"};
    CHECK_INT_EQ(dgpg_config_load(&cfg, NULL, level9, 3, err, sizeof err), 0);
    CHECK_INT_EQ(dgpg_config_check(&cfg, err, sizeof err), -1);
    CHECK(strcmp(err, "env.level = 9 needs env.spread = 1") == 0);
    unlink(path);
}

/* x* (M) of the static model's problem for total flow `total`, by
 * bisection on s: fill(s) = sum_m max(0, mu_m - sqrt(mu_m) s) is continuous
 * and non-increasing, 0 at s = max sqrt(mu_m) and >= total at
 * s = (sum mu - total) / sum sqrt(mu). That bracket also holds under
 * overload (total >= sum mu: s <= 0, every pool active, x_m >= mu_m, as p*
 * is defined there, docs/model.md), which fluid_oracle.h's
 * oracle_sqrt_split does not cover; bursts overload a third of the steps
 * here. */
static void oracle_static_flows(int M, const double *mu, double total, double *x)
{
    double hi = 0.0, sum_mu = 0.0, sum_sqrt = 0.0;
    for (int m = 0; m < M; m++) {
        hi = fmax(hi, sqrt(mu[m]));
        sum_mu += mu[m];
        sum_sqrt += sqrt(mu[m]);
    }
    double lo = (sum_mu - total) / sum_sqrt;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), fill = 0.0;
        for (int m = 0; m < M; m++)
            fill += fmax(0.0, mu[m] - sqrt(mu[m]) * mid);
        if (fill > total)
            lo = mid;
        else
            hi = mid;
    }
    const double s = 0.5 * (lo + hi);
    for (int m = 0; m < M; m++)
        x[m] = fmax(0.0, mu[m] - sqrt(mu[m]) * s);
}

/* The static model's cost, written out from docs/model.md: flows
 * x_m = sum_i rate_i p_i[m], C = sum_m n(x_m / mu_m) / sum_i rate_i with
 * n(rho) = rho / (1 - rho) up to the barrier b and its second-order Taylor
 * extension at b beyond. */
static double static_cost(int N, int M, const double *mu, const double *rate,
                          const double *probs, double b)
{
    double cost = 0.0, total = 0.0;
    for (int i = 0; i < N; i++)
        total += rate[i];
    for (int m = 0; m < M; m++) {
        double x = 0.0;
        for (int i = 0; i < N; i++)
            x += rate[i] * probs[i * M + m];
        const double rho = x / mu[m], d = rho - b;
        cost += rho <= b ? rho / (1.0 - rho)
                         : b / (1.0 - b) + d / ((1.0 - b) * (1.0 - b)) +
                               d * d / ((1.0 - b) * (1.0 - b) * (1.0 - b));
    }
    return cost / total;
}

static void test_model_through_api(void)
{
    const char *sets[] = {"env.n_agents=23", "env.n_pools=6", "env.burst_prob=0.4",
                          "model.reference=static", "env.scenarios=fixed"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 5);
    const int64_t E = 5;
    cloud_model_config model_cfg;
    CHECK_INT_EQ(cloud_model_config_read(&cfg, &model_cfg), DGPG_OK);
    const double barrier = model_cfg.barrier;
    cloud_instance *env = fixture_env(&cfg, 21, 0, E, 1);
    const dgpg_env_api *api = dgpg_find_env("cloud");
    const dgpg_model_api *mapi = dgpg_find_model("cloud_mm1");
    char err[256];
    void *model = NULL;
    CHECK_INT_EQ(mapi->create(mapi->user, &cfg, env, &model, err, sizeof err), DGPG_OK);
    const cloud_scenario *sc = cloud_instance_scenario(env);
    const int N = sc->n_agents, M = sc->n_pools;
    int32_t actions[5 * 23];
    float reward[5];
    double p_star[6], x_star[6], probs[23 * 6], grad[23 * 6], bumped[23 * 6];
    double rate[23], influence[5 * 23];
    int below = 0, beyond = 0; /* pools evaluated below and past the barrier */
    int policy = api->policy_find(env, "random");
    CHECK_INT_EQ(api->reset(env, 0), DGPG_OK);
    for (int t = 0; t < 30; t++) {
        uint64_t step = cloud_instance_step(env);
        int d = cloud_day_index(sc, step);
        for (int64_t e = 0; e < E; e++) {
            int burst = cloud_in_burst(sc, (uint32_t)e, step);
            const dgpg_poisson_entry *table = burst ? sc->arrival_burst : sc->arrival;
            double lambda = 0.0;
            for (int i = 0; i < N; i++) {
                rate[i] = sc->size_mean * table[d * N + i].lambda;
                lambda += rate[i];
            }
            /* the work rate the environment's reward and p* use */
            CHECK_NEAR(lambda, cloud_work_rate(sc, step, burst), 1e-12 * lambda);
            CHECK_INT_EQ(mapi->optimal_probs(model, e, p_star), DGPG_OK);
            oracle_static_flows(M, sc->mu, lambda, x_star);
            for (int m = 0; m < M; m++)
                CHECK_QUIET(fabs(p_star[m] - x_star[m] / lambda) <= 1e-12, "p*[%d] %.17g vs %.17g",
                            m, p_star[m], x_star[m] / lambda);
            /* probabilities: each agent mixes p* with its own preference */
            for (int i = 0; i < N; i++)
                for (int m = 0; m < M; m++)
                    probs[i * M + m] = 0.5 * p_star[m] + 0.5 * (m == i % M);
            double cost;
            CHECK_INT_EQ(mapi->cost(model, e, probs, &cost, grad), DGPG_OK);
            const double direct = static_cost(N, M, sc->mu, rate, probs, barrier);
            CHECK_NEAR(cost, direct, 1e-12 * fabs(direct));
            for (int m = 0; m < M; m++) {
                double x = 0.0;
                for (int i = 0; i < N; i++)
                    x += rate[i] * probs[i * M + m];
                beyond += x > barrier * sc->mu[m];
                below += x < barrier * sc->mu[m];
            }
            for (int k = 0; k < N * M; k++) {
                const double h = 1e-6;
                memcpy(bumped, probs, sizeof bumped);
                bumped[k] += h;
                double up = static_cost(N, M, sc->mu, rate, bumped, barrier);
                bumped[k] -= 2.0 * h;
                double down = static_cost(N, M, sc->mu, rate, bumped, barrier);
                double fd = (up - down) / (2.0 * h);
                CHECK_QUIET(fabs(grad[k] - fd) <= 1e-6 * (1.0 + fabs(fd)),
                            "env %lld dC/dp[%d] %.12g vs finite difference %.12g", (long long)e,
                            k, grad[k], fd);
            }
            double cost_only;
            CHECK_INT_EQ(mapi->cost(model, e, probs, &cost_only, NULL), DGPG_OK);
            CHECK_NEAR(cost_only, direct, 1e-12 * fabs(direct));
        }
        int32_t work[5 * 23];
        memcpy(work, cloud_instance_work(env), sizeof work);
        CHECK_INT_EQ(api->policy_act(env, policy, actions), DGPG_OK);
        CHECK_INT_EQ(api->step(env, actions, reward), DGPG_OK);
        CHECK_INT_EQ(mapi->influence(model, NULL, influence), DGPG_OK);
        /* with probabilities: x_m = sum_i w_i p_i[m], recomputed below */
        static double influence_p[5 * 23];
        static float probs_f[5 * 23 * 6];
        for (int k = 0; k < 5 * 23 * 6; k++)
            probs_f[k] = (float)(1.0 / 6.0 + 0.1 * ((k % 6) - 2.5) / 2.5 * ((k / 6) % 2));
        CHECK_INT_EQ(mapi->influence(model, probs_f, influence_p), DGPG_OK);
        /* x_t = A (the work dispatched), x~ = p* W, z_i = w_i e_{k_i}, all
         * recomputed here from the step's work and actions */
        for (int64_t e = 0; e < E; e++) {
            int burst = cloud_in_burst(sc, (uint32_t)e, step);
            const double lambda = sc->work_rate[d] * (burst ? sc->burst_factor : 1.0);
            oracle_static_flows(M, sc->mu, lambda, x_star);
            for (int m = 0; m < M; m++)
                p_star[m] = x_star[m] / lambda;
            double dispatched[6] = {0}, arrived = 0.0;
            for (int i = 0; i < N; i++) {
                dispatched[actions[e * N + i]] += work[e * N + i];
                arrived += work[e * N + i];
            }
            double total = 0.0, identity = 0.0;
            for (int i = 0; i < N; i++) {
                int k = actions[e * N + i];
                double expected = work[e * N + i] * (dispatched[k] - p_star[k] * arrived);
                CHECK_QUIET(fabs(influence[e * N + i] - expected) <= 1e-9 * (1.0 + fabs(expected)),
                            "influence %g vs %g", influence[e * N + i], expected);
                total += influence[e * N + i];
            }
            for (int m = 0; m < M; m++)
                identity += dispatched[m] * (dispatched[m] - p_star[m] * arrived);
            CHECK_NEAR(total, identity, 1e-9 * (1.0 + fabs(identity)));
            double expected_load[6] = {0};
            for (int i = 0; i < N; i++)
                for (int m = 0; m < M; m++)
                    expected_load[m] += work[e * N + i] * (double)probs_f[(e * N + i) * M + m];
            for (int i = 0; i < N; i++) {
                int k = actions[e * N + i];
                double expected = work[e * N + i] * (expected_load[k] - p_star[k] * arrived);
                CHECK_QUIET(fabs(influence_p[e * N + i] - expected) <= 1e-9 * (1.0 + fabs(expected)),
                            "expected-load influence %g vs %g", influence_p[e * N + i], expected);
            }
        }
    }
    /* the probabilities put pools on both sides of the barrier: the cost was
     * checked as rho / (1 - rho) and as its Taylor extension */
    CHECK(below > 0 && beyond > 0);
    mapi->destroy(model);
    api->destroy(env);
}

/* The fluid cost of environment e's coming decision at probs (N, M). */
static double state_cost(const cloud_scenario *sc, const int64_t *queue, const int32_t *work,
                         double lambda_t, const double *probs)
{
    const int N = sc->n_agents, M = sc->n_pools;
    double cost = 0.0;
    for (int m = 0; m < M; m++) {
        double present = (double)queue[m];
        for (int i = 0; i < N; i++)
            present += work[i] * probs[i * M + m];
        cost += present * present / (2.0 * sc->mu[m]);
    }
    return cost / lambda_t;
}

static void test_state_model_through_api(void)
{
    enum { E = 4, N = 17, M = 5 };
    const char *sets[] = {"env.n_agents=17", "env.n_pools=5", "env.burst_prob=0.3",
                          "env.rho=0.95"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 4);
    cloud_model_config model_cfg;
    CHECK_INT_EQ(cloud_model_config_read(&cfg, &model_cfg), DGPG_OK);
    CHECK(strcmp(model_cfg.reference, "state") == 0 && strcmp(cfg.env.scenarios, "sampled") == 0);
    cloud_instance *env = fixture_env(&cfg, 33, 0, E, 1);
    const dgpg_env_api *api = dgpg_find_env("cloud");
    const dgpg_model_api *mapi = dgpg_find_model("cloud_mm1");
    char err[256];
    void *model = NULL;
    CHECK_INT_EQ(mapi->create(mapi->user, &cfg, env, &model, err, sizeof err), DGPG_OK);
    const cloud_scenario *scs = cloud_instance_scenarios(env);
    int32_t actions[E * N], work[E * N];
    int64_t queue[E * M];
    float reward[E];
    static double probs[N * M], grad[N * M], bumped[N * M], influence[E * N];
    static float probs_f[E * N * M];
    double p_star[M];
    int policy = api->policy_find(env, "random"), queues_seen = 0;
    CHECK_INT_EQ(api->reset(env, 2), DGPG_OK);
    for (int t = 0; t < 40; t++) {
        const uint64_t step = cloud_instance_step(env);
        memcpy(queue, cloud_instance_queue(env), sizeof queue);
        memcpy(work, cloud_instance_work(env), sizeof work);
        for (int e = 0; e < E; e++) {
            const cloud_scenario *sc = &scs[e];
            const int64_t *q = queue + e * M;
            const int32_t *w = work + e * N;
            double total = 0.0;
            for (int i = 0; i < N; i++)
                total += w[i];
            for (int m = 0; m < M; m++)
                queues_seen += q[m] > 0;
            /* target: p*(s) = A* / W from the bisection's level */
            CHECK_INT_EQ(mapi->optimal_probs(model, e, p_star), DGPG_OK);
            if (total > 0.0) {
                double level = oracle_level(M, sc->mu, q, total);
                for (int m = 0; m < M; m++) {
                    double a = level * sc->mu[m] - (double)q[m];
                    double expected = (a > 0.0 ? a : 0.0) / total;
                    CHECK_QUIET(fabs(p_star[m] - expected) <= 1e-9, "env %d step %d: p*(s)[%d] "
                                "%.17g vs %.17g", e, t, m, p_star[m], expected);
                }
            }
            /* descent and cv: C and dC/dp against finite differences */
            for (int i = 0; i < N; i++)
                for (int m = 0; m < M; m++)
                    probs[i * M + m] = 0.6 * p_star[m] + 0.4 * (m == (i + t) % M);
            int burst = cloud_in_burst(sc, (uint32_t)e, step);
            const double lambda_t = cloud_work_rate(sc, step, burst);
            double cost;
            CHECK_INT_EQ(mapi->cost(model, e, probs, &cost, grad), DGPG_OK);
            const double direct = state_cost(sc, q, w, lambda_t, probs);
            CHECK_NEAR(cost, direct, 1e-12 * fabs(direct));
            for (int k = 0; k < N * M; k += 3) {
                const double h = 1e-4;
                memcpy(bumped, probs, sizeof bumped);
                bumped[k] += h;
                double up = state_cost(sc, q, w, lambda_t, bumped);
                bumped[k] -= 2.0 * h;
                double down = state_cost(sc, q, w, lambda_t, bumped);
                double fd = (up - down) / (2.0 * h);
                CHECK_QUIET(fabs(grad[k] - fd) <= 1e-6 * (1.0 + fabs(fd)),
                            "env %d dC/dp[%d] %.12g vs finite difference %.12g", e, k, grad[k],
                            fd);
            }
        }
        CHECK_INT_EQ(api->policy_act(env, policy, actions), DGPG_OK);
        CHECK_INT_EQ(api->step(env, actions, reward), DGPG_OK);
        for (int k = 0; k < E * N * M; k++)
            probs_f[k] = (float)(0.2 + 0.15 * (((k / M) + k) % M == 0) - 0.15 * (k % M == 1));
        /* dgpg: the expected-load inner products, and the dispatched ones */
        for (int with_probs = 0; with_probs < 2; with_probs++) {
            CHECK_INT_EQ(mapi->influence(model, with_probs ? probs_f : NULL, influence), DGPG_OK);
            for (int e = 0; e < E; e++) {
                const cloud_scenario *sc = &scs[e];
                const int64_t *q = queue + e * M;
                double load[M] = {0}, total = 0.0;
                for (int i = 0; i < N; i++) {
                    total += work[e * N + i];
                    for (int m = 0; m < M; m++)
                        load[m] += with_probs ? work[e * N + i] *
                                                    (double)probs_f[(e * N + i) * M + m]
                                              : (m == actions[e * N + i]) * work[e * N + i];
                }
                double level = oracle_level(M, sc->mu, q, total);
                for (int i = 0; i < N; i++) {
                    int k = actions[e * N + i];
                    double target = fmax(level, (double)q[k] / sc->mu[k]);
                    double expected = work[e * N + i] * (((double)q[k] + load[k]) / sc->mu[k] -
                                                         target);
                    CHECK_QUIET(fabs(influence[e * N + i] - expected) <=
                                    1e-8 * (1.0 + fabs(expected)),
                                "env %d agent %d: influence %.12g vs %.12g", e, i,
                                influence[e * N + i], expected);
                }
            }
        }
    }
    CHECK(queues_seen > 0); /* the backlogs were not all empty */
    mapi->destroy(model);
    api->destroy(env);
}

/* dgpg_config_value: a plug-in reads the resolved config through the
 * public API, each value as `dgpg config` prints it (the text the
 * foreach callback gives, which test_config checks loads back). */
static void test_config_value(void)
{
    dgpg_config cfg;
    char err[DGPG_ERR_LEN], value[64];
    const char *sets[] = {"env.n_agents=37", "algo.lr=0.00025", "algo.share_params=true"};
    CHECK_INT_EQ(dgpg_config_load(&cfg, NULL, sets, 3, err, sizeof err), 0);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env.n_agents", value, sizeof value), DGPG_OK);
    CHECK(strcmp(value, "37") == 0);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "algo.lr", value, sizeof value), DGPG_OK);
    CHECK(strtod(value, NULL) == 0.00025);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "algo.share_params", value, sizeof value), DGPG_OK);
    CHECK(strcmp(value, "true") == 0);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env.name", value, sizeof value), DGPG_OK);
    CHECK(strcmp(value, "cloud") == 0);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env.no_such_key", value, sizeof value),
                 DGPG_ENOTFOUND);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env", value, sizeof value), DGPG_ENOTFOUND);
    CHECK_INT_EQ(dgpg_config_value(&cfg, "env.n_agents", value, 2), DGPG_EINVAL);
}

int main(void)
{
    test_registry();
    test_registry_refusals();
    test_stats_layouts();
    test_plugin_keys();
    test_config_value();
    test_model_through_api();
    test_state_model_through_api();
    return test_finish("plugin");
}
