/* test_plugin.c — the plug-in API: registration by name (duplicates and
 * incomplete structs refused), a user environment registered beside the
 * built-in ones, and the cloud_mm1 model reached through the API agreeing
 * with direct evaluations: p* with the water-filling formula, the cost
 * and gradient with the kernel functions, and the guidance inner products
 * with the identity sum_i <x - x~, z_i> = sum_m A_m (A_m - x~_m). */
#include "env_fixture.h"
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
                               NULL, NULL, NULL, NULL, NULL};
    static dgpg_env_api incomplete = {DGPG_ENV_API_VERSION, "half", NULL, toy_create, NULL,
                                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                      NULL};
    CHECK_INT_EQ(dgpg_register_env(&toy), DGPG_OK);
    CHECK(dgpg_find_env("toy") == &toy);
    CHECK_INT_EQ(dgpg_register_env(&toy), DGPG_EEXIST);
    CHECK_INT_EQ(dgpg_register_env(&dgpg_cloud_env_api), DGPG_EEXIST);
    CHECK_INT_EQ(dgpg_register_env(&incomplete), DGPG_EINVAL);
    CHECK(dgpg_find_env("half") == NULL);
    char names[128];
    CHECK_INT_EQ(dgpg_env_names(names, sizeof names), DGPG_OK);
    CHECK(strcmp(names, "cloud, toy") == 0);
    CHECK(strcmp(dgpg_strerror(DGPG_EEXIST), "already registered") == 0);
}

static void test_model_through_api(void)
{
    const char *sets[] = {"env.n_agents=23", "env.n_pools=6", "env.burst_prob=0.4"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 3);
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
    double p_star[6], x_star[6], probs[23 * 6], grad[23 * 6], grad_direct[23 * 6];
    double rate[23], flows[6], slope[6], influence[5 * 23];
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
            cloud_model_waterfill(M, sc->mu, sc->order_desc, lambda, x_star);
            for (int m = 0; m < M; m++)
                CHECK_QUIET(fabs(p_star[m] - x_star[m] / lambda) <= 1e-12, "p*[%d] %.17g vs %.17g",
                            m, p_star[m], x_star[m] / lambda);
            /* probabilities: each agent mixes p* with its own preference */
            for (int i = 0; i < N; i++)
                for (int m = 0; m < M; m++)
                    probs[i * M + m] = 0.5 * p_star[m] + 0.5 * (m == i % M);
            double cost, cost_direct;
            CHECK_INT_EQ(mapi->cost(model, e, probs, &cost, grad), DGPG_OK);
            cost_direct = cloud_model_cost_grad(N, M, sc->mu, rate, probs, cfg.model.barrier,
                                                flows, slope, grad_direct);
            CHECK_NEAR(cost, cost_direct, 1e-12 * fabs(cost_direct));
            for (int k = 0; k < N * M; k++)
                CHECK_QUIET(grad[k] == grad_direct[k], "grad %d", k);
            double cost_only;
            CHECK_INT_EQ(mapi->cost(model, e, probs, &cost_only, NULL), DGPG_OK);
            CHECK_NEAR(cost_only, cost, 1e-12 * fabs(cost));
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
            cloud_model_optimal_probs(M, sc->mu, sc->order_desc,
                                      sc->work_rate[d] * (burst ? sc->burst_factor : 1.0),
                                      p_star);
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
    mapi->destroy(model);
    api->destroy(env);
}

int main(void)
{
    test_registry();
    test_model_through_api();
    return test_finish("plugin");
}
