/* test_scenarios.c — training across scenarios (env.scenarios = sampled):
 *   - reproducible: two instances of the same config build the same
 *     scenarios, table for table, at every episode;
 *   - keyed by the global environment index: a batch split at an offset
 *     (threads, MPI ranks) builds what the whole batch builds;
 *   - every environment and episode its own scenario, and each one is
 *     exactly the fixed scenario of its seed (one builder for both);
 *   - disjoint from evaluation: every training scenario seed has bit 63
 *     set, while the config refuses any scenario or evaluation seed that
 *     could reach it (eval.seed <= 2^62 and at most 100000 scenarios);
 *   - env.scenarios = fixed: every environment plays env.seed's scenario;
 *   - every built scenario lists its pools by capacity, largest first, and
 *     the model's static p* on it (model.reference = static, at step 0, no
 *     bursts) is the bisection solution of the sqrt split of its work rate
 *     (tests/fluid_oracle.h), divided by that rate, to 1e-9; at rho = 0.15
 *     so that some scenarios leave their slowest pools idle, where the
 *     order decides which pools p* uses. */
#include "env_fixture.h"
#include "fluid_oracle.h"
#include "test.h"

#include <string.h>

enum { E = 6, N = 11, M = 5, D = 24 };

/* order_desc is a permutation of the pools with mu non-increasing along it
 * (the water-filling takes its active set as a prefix of this order). */
static int pools_ordered(const cloud_scenario *sc)
{
    int seen[M] = {0};
    for (int k = 0; k < M; k++) {
        int m = sc->order_desc[k];
        if (m < 0 || m >= M || seen[m]++)
            return 0;
        if (k > 0 && sc->mu[sc->order_desc[k - 1]] < sc->mu[m])
            return 0;
    }
    return 1;
}

static int same_scenario(const cloud_scenario *a, const cloud_scenario *b)
{
    return a->seed == b->seed && a->lambda_bar == b->lambda_bar &&
           a->mu_total == b->mu_total && memcmp(a->mu, b->mu, sizeof(double) * M) == 0 &&
           memcmp(a->buffer, b->buffer, sizeof(int64_t) * M) == 0 &&
           memcmp(a->order_desc, b->order_desc, sizeof(int32_t) * M) == 0 &&
           memcmp(a->rate, b->rate, sizeof(float) * D * N) == 0 &&
           memcmp(a->arrival, b->arrival, sizeof(dgpg_poisson_entry) * D * N) == 0 &&
           memcmp(a->work_rate, b->work_rate, sizeof(double) * D) == 0;
}

int main(void)
{
    const char *sets[] = {"env.n_agents=11", "env.n_pools=5", "env.day_length=24",
                          "env.horizon=24", "env.burst_prob=0.2"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 5);
    CHECK(strcmp(cfg.env.scenarios, "sampled") == 0); /* the default */
    const uint64_t base = 9;
    cloud_instance *a = fixture_env(&cfg, base, 0, E, 2);
    cloud_instance *b = fixture_env(&cfg, base, 0, E, 1);
    cloud_instance *split = fixture_env(&cfg, base, 2, 3, 1);
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    CHECK_INT_EQ((int)cloud_instance_slots(a), E);
    uint64_t seeds[4][E];
    const uint64_t episodes[4] = {0, 1, 5, 1};
    for (int k = 0; k < 4; k++) {
        const uint64_t ep = episodes[k];
        CHECK_INT_EQ(api->reset(a, ep), DGPG_OK);
        CHECK_INT_EQ(api->reset(b, ep), DGPG_OK);
        CHECK_INT_EQ(api->reset(split, ep), DGPG_OK);
        const cloud_scenario *sa = cloud_instance_scenarios(a);
        const cloud_scenario *sb = cloud_instance_scenarios(b);
        const cloud_scenario *ss = cloud_instance_scenarios(split);
        for (int e = 0; e < E; e++) {
            seeds[k][e] = sa[e].seed;
            CHECK_QUIET(same_scenario(&sa[e], &sb[e]), "episode %llu env %d: not reproducible",
                        (unsigned long long)ep, e);
            CHECK_QUIET(sa[e].seed == cloud_training_scenario_seed(base, ep, (uint32_t)e),
                        "episode %llu env %d: seed", (unsigned long long)ep, e);
            CHECK_QUIET(sa[e].seed & CLOUD_TRAINING_SEED_BIT, "seed %llx without bit 63",
                        (unsigned long long)sa[e].seed);
            CHECK_QUIET(pools_ordered(&sa[e]), "episode %llu env %d: pools not in order of mu",
                        (unsigned long long)ep, e);
            if (e >= 2 && e < 5)
                CHECK_QUIET(same_scenario(&sa[e], &ss[e - 2]),
                            "episode %llu env %d: the split batch differs",
                            (unsigned long long)ep, e);
        }
        /* each is the fixed scenario of its seed */
        dgpg_config fixed = cfg;
        snprintf(fixed.env.scenarios, sizeof fixed.env.scenarios, "fixed");
        cloud_instance *one = fixture_env(&fixed, sa[E - 1].seed, 0, 1, 1);
        CHECK(same_scenario(cloud_instance_scenario(one), &sa[E - 1]));
        api->destroy(one);
    }
    /* episode 1 again: the same scenarios as the first time */
    for (int e = 0; e < E; e++)
        CHECK_QUIET(seeds[3][e] == seeds[1][e], "episode 1 rebuilt differently, env %d", e);
    /* every environment and episode its own scenario, with its own pools */
    int distinct = 1, pools_differ = 0;
    for (int k = 0; k < 3; k++)
        for (int e = 0; e < E; e++)
            for (int k2 = 0; k2 < 3; k2++)
                for (int e2 = 0; e2 < E; e2++)
                    if ((k != k2 || e != e2) && seeds[k][e] == seeds[k2][e2])
                        distinct = 0;
    CHECK(distinct);
    CHECK_INT_EQ(api->reset(a, 0), DGPG_OK);
    const cloud_scenario *s0 = cloud_instance_scenarios(a);
    for (int e = 1; e < E; e++)
        pools_differ += memcmp(s0[0].mu, s0[e].mu, sizeof(double) * M) != 0;
    CHECK(pools_differ == E - 1);

    /* p* of each built scenario against bisection */
    const char *static_sets[] = {"env.n_agents=11", "env.n_pools=5", "env.day_length=24",
                                 "env.horizon=24", "env.burst_prob=0", "model.reference=static",
                                 "env.rho=0.15"};
    dgpg_config static_cfg;
    fixture_config(&static_cfg, static_sets, 7);
    cloud_instance *st = fixture_env(&static_cfg, base, 0, E, 1);
    void *model = NULL;
    char model_err[256];
    CHECK_INT_EQ(dgpg_cloud_model_api.create(NULL, &static_cfg, st, &model, model_err,
                                             sizeof model_err),
                 DGPG_OK);
    double worst = 0.0;
    int with_idle_pool = 0; /* where the pool order decides which pools p* uses */
    for (uint64_t ep = 0; ep < 3 && model; ep++) {
        CHECK_INT_EQ(api->reset(st, ep), DGPG_OK);
        const cloud_scenario *sc = cloud_instance_scenarios(st);
        for (int e = 0; e < E; e++) {
            double p[M], x[M];
            /* the work rate of step 0 from its parts: mean size times the
             * sum of the agents' arrival rates of the first day step */
            double rate = 0.0;
            for (int i = 0; i < N; i++)
                rate += sc[e].arrival[i].lambda;
            rate *= sc[e].size_mean;
            CHECK_INT_EQ(dgpg_cloud_model_api.optimal_probs(model, e, p), DGPG_OK);
            CHECK(oracle_sqrt_split(M, sc[e].mu, rate, x));
            int idle = 0;
            for (int m = 0; m < M; m++)
                idle |= x[m] == 0.0;
            with_idle_pool += idle;
            for (int m = 0; m < M; m++) {
                double d = fabs(p[m] - x[m] / rate);
                worst = d > worst ? d : worst;
                CHECK_QUIET(d <= 1e-9, "episode %llu env %d pool %d: p* %.12g, bisection %.12g",
                            (unsigned long long)ep, e, m, p[m], x[m] / rate);
            }
        }
    }
    printf("static p* of the built scenarios against bisection: largest difference %.2e; "
           "%d of %d scenarios leave a pool idle\n", worst, with_idle_pool, 3 * E);
    CHECK(with_idle_pool > 0);
    if (model)
        dgpg_cloud_model_api.destroy(model);
    api->destroy(st);

    /* configurable seeds stay below 2^62 (+ scenarios), far from bit 63 */
    char err[DGPG_ERR_LEN];
    dgpg_config probe;
    const char *too_far[] = {"eval.seed=4611686018427387905"};
    CHECK(dgpg_config_load(&probe, NULL, too_far, 1, err, sizeof err) != 0);
    CHECK(strstr(err, "eval.seed") != NULL);
    const char *env_far[] = {"env.seed=4611686018427387905"};
    CHECK(dgpg_config_load(&probe, NULL, env_far, 1, err, sizeof err) != 0);
    const char *many[] = {"eval.scenarios=100001"};
    CHECK(dgpg_config_load(&probe, NULL, many, 1, err, sizeof err) != 0);

    /* fixed: one slot, every environment env.seed's scenario */
    dgpg_config fixed = cfg;
    snprintf(fixed.env.scenarios, sizeof fixed.env.scenarios, "fixed");
    cloud_instance *f = fixture_env(&fixed, 1234, 0, E, 1);
    CHECK_INT_EQ((int)cloud_instance_slots(f), 1);
    CHECK_INT_EQ(api->reset(f, 7), DGPG_OK);
    const cloud_scenario *sf = cloud_instance_scenarios(f);
    for (int e = 0; e < E; e++)
        CHECK_QUIET(sf[e].seed == 1234 && sf[e].mu == sf[0].mu, "fixed env %d", e);
    api->destroy(f);
    api->destroy(a);
    api->destroy(b);
    api->destroy(split);
    return test_finish("test_scenarios");
}
