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
#include "test.h"

#include <string.h>

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
static int toy_stats(void *instance, dgpg_env_stats *stats)
{
    (void)instance, (void)stats;
    return DGPG_OK;
}

static void test_registry(void)
{
    CHECK_INT_EQ(dgpg_register_builtins(), DGPG_OK);
    CHECK_INT_EQ(dgpg_register_builtins(), DGPG_OK); /* idempotent */
    CHECK(dgpg_find_env("cloud") == &dgpg_cloud_env_api);
    CHECK(dgpg_find_model("cloud_mm1") == &dgpg_cloud_model_api);
    CHECK(dgpg_find_env("toy") == NULL);
    static dgpg_env_api toy = {DGPG_ENV_API_VERSION, "toy", NULL, toy_create, toy_destroy,
                               toy_dims, toy_reset, toy_observe, toy_step, toy_stats,
                               NULL, NULL, NULL, NULL, NULL, NULL};
    static dgpg_env_api incomplete = {DGPG_ENV_API_VERSION, "half", NULL, toy_create, NULL,
                                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                      NULL, NULL};
    CHECK_INT_EQ(dgpg_register_env(&toy), DGPG_OK);
    CHECK(dgpg_find_env("toy") == &toy);
    CHECK_INT_EQ(dgpg_register_env(&toy), DGPG_EEXIST);
    CHECK_INT_EQ(dgpg_register_env(&dgpg_cloud_env_api), DGPG_EEXIST);
    CHECK_INT_EQ(dgpg_register_env(&incomplete), DGPG_EINVAL);
    CHECK(dgpg_find_env("half") == NULL);
    /* an API version this library does not know is refused; a version-1
     * plug-in is read without the fields version 2 appended */
    static dgpg_env_api newer, older;
    newer = toy;
    newer.name = "newer";
    newer.version = DGPG_ENV_API_VERSION + 1;
    CHECK_INT_EQ(dgpg_register_env(&newer), DGPG_EINVAL);
    older = toy;
    older.name = "older";
    older.version = 1;
    older.cuda = &toy; /* not a field of version 1: never read */
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
    CHECK(strcmp(names, "cloud, toy, older") == 0);
    CHECK(strcmp(dgpg_strerror(DGPG_EEXIST), "already registered") == 0);
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
            const double direct = static_cost(N, M, sc->mu, rate, probs, cfg.model.barrier);
            CHECK_NEAR(cost, direct, 1e-12 * fabs(direct));
            for (int m = 0; m < M; m++) {
                double x = 0.0;
                for (int i = 0; i < N; i++)
                    x += rate[i] * probs[i * M + m];
                beyond += x > cfg.model.barrier * sc->mu[m];
                below += x < cfg.model.barrier * sc->mu[m];
            }
            for (int k = 0; k < N * M; k++) {
                const double h = 1e-6;
                memcpy(bumped, probs, sizeof bumped);
                bumped[k] += h;
                double up = static_cost(N, M, sc->mu, rate, bumped, cfg.model.barrier);
                bumped[k] -= 2.0 * h;
                double down = static_cost(N, M, sc->mu, rate, bumped, cfg.model.barrier);
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
    CHECK(strcmp(cfg.model.reference, "state") == 0 && strcmp(cfg.env.scenarios, "sampled") == 0);
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
    test_config_value();
    test_model_through_api();
    test_state_model_through_api();
    return test_finish("plugin");
}
