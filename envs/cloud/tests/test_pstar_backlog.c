/* test_pstar_backlog.c — the long-run mean backlog of the p* policy at low
 * load against the analytical model's M/M/1 prediction
 *   L_m = rho_m / (1 - rho_m),  rho_m = x*_m / mu_m,
 * summed over pools.
 *
 * The simulator is a discrete-time queue (arrivals and Poisson service
 * capacity in the same step, backlog read after service), the model a
 * continuous-time M/M/1 queue. The two agree in the limit where the rates
 * per step are small (then at most one event happens in most steps and the
 * chain is a uniformisation of the M/M/1 queue), so the test runs there:
 * mu_m around 0.05 work units per step. What remains is (a) the
 * discretisation, of relative order mu_m (arrival and service in the same
 * step cancel before the backlog is read), which lowers the simulated
 * backlog by a few per cent, and (b) sampling error, about 2% at this
 * length. The tolerance, 10% of the prediction, covers both with margin.
 * The prediction takes x* from the same water-filling the policy samples
 * from (that function is checked on its own against KKT conditions and a
 * bisection solver in test_waterfill.c); what this test can catch is a
 * simulator whose queues, service, sampling of p* or rates disagree with
 * the M/M/1 model (docs/model.md, "Where model and simulator differ"). */
#include "env_fixture.h"
#include "test.h"

int main(void)
{
    const char *sets[] = {"env.n_agents=10",     "env.n_pools=4",       "env.lambda_mean=0.006",
                          "env.day_amplitude=0", "env.rho=0.3",         "env.buffer_steps=100000",
                          "env.horizon=40000",   "env.burst_prob=0",
                          "env.instance_types=2", "env.servers_max=1",
                          "env.scenarios=fixed" /* one scenario: its own prediction */};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 11);
    const int64_t E = 64;
    cloud_instance *inst = fixture_env(&cfg, 3, 0, E, 1);
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    const cloud_scenario *sc = cloud_instance_scenario(inst);
    const int N = sc->n_agents, M = sc->n_pools;

    /* the prediction, from the model's own p* on this scenario's rates */
    double x_star[4], predicted = 0.0;
    double lambda = sc->work_rate[0];
    int active = cloud_model_waterfill(M, sc->mu, sc->order_desc, lambda, x_star);
    for (int m = 0; m < M; m++) {
        double rho = x_star[m] / sc->mu[m];
        predicted += rho / (1.0 - rho);
        printf("pool %d: mu %.4f per step, x* %.4f, rho %.3f\n", m, sc->mu[m], x_star[m], rho);
    }

    int32_t *actions = malloc(sizeof(int32_t) * (size_t)(E * N));
    float *reward = malloc(sizeof(float) * (size_t)E);
    int pstar = api->policy_find(inst, "pstar");
    CHECK_INT_EQ(api->reset(inst, 0), DGPG_OK);
    const int64_t warmup = 2000;
    double backlog_sum = 0.0, samples = 0.0;
    for (int64_t t = 0; t < cfg.env.horizon; t++) {
        api->policy_act(inst, pstar, actions);
        api->step(inst, actions, reward);
        if (t < warmup)
            continue;
        const int64_t *queue = cloud_instance_queue(inst);
        for (int64_t k = 0; k < E * M; k++)
            backlog_sum += (double)queue[k];
        samples += (double)E;
    }
    double simulated = backlog_sum / samples;
    static double sums[64 * CLOUD_SUMS_WIDTH];
    CHECK_INT_EQ(api->sums(inst, sums), DGPG_OK);
    double dropped = 0.0;
    for (int e = 0; e < E; e++)
        dropped += sums[e * CLOUD_SUMS_WIDTH + 2 + CLOUD_SUM_DROPPED];
    printf("active pools %d of %d; mean backlog: simulated %.4f, M/M/1 %.4f (ratio %.3f)\n",
           active, M, simulated, predicted, simulated / predicted);
    CHECK(active >= 2); /* the split is exercised, not one pool alone */
    CHECK_INT_EQ((int64_t)dropped, 0);
    CHECK_NEAR(simulated, predicted, 0.10 * predicted);
    free(actions);
    free(reward);
    api->destroy(inst);
    return test_finish("pstar_backlog");
}
