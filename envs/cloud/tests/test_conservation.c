/* test_conservation.c — the exact conservation law of the environment:
 * in every environment and every step, work arrived = served + change in
 * backlog + dropped, and over an episode arrived = served + queued at the
 * end + dropped; backlogs stay within [0, B_m]; the arrived work equals the
 * sum of the agents' work that the test adds up itself. Covered: several N,
 * loads from light to overload, tiny to large buffers, unit and bimodal
 * job sizes, bursts, and policies that herd (jsq) or spread (random, led). */
#include "env_fixture.h"
#include "test.h"

#include <string.h>

static void run_case(int n_agents, double rho, double buffer_steps, const char *job_size,
                     double burst_prob, const char *policy, int expect_drops)
{
    char sets[6][96];
    snprintf(sets[0], sizeof sets[0], "env.n_agents=%d", n_agents);
    snprintf(sets[1], sizeof sets[1], "env.rho=%g", rho);
    snprintf(sets[2], sizeof sets[2], "env.buffer_steps=%g", buffer_steps);
    snprintf(sets[3], sizeof sets[3], "env.job_size=%s", job_size);
    snprintf(sets[4], sizeof sets[4], "env.burst_prob=%g", burst_prob);
    snprintf(sets[5], sizeof sets[5], "env.horizon=150");
    const char *set_ptrs[6] = {sets[0], sets[1], sets[2], sets[3], sets[4], sets[5]};
    dgpg_config cfg;
    fixture_config(&cfg, set_ptrs, 6);
    const int64_t E = 8;
    cloud_instance *inst = fixture_env(&cfg, 7, 0, E, 2);
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    /* env.scenarios = sampled (the default): each environment its own */
    const cloud_scenario *scs = cloud_instance_scenarios(inst);
    const int N = scs[0].n_agents, M = scs[0].n_pools;
    int p = api->policy_find(inst, policy);
    int32_t *actions = malloc(sizeof(int32_t) * (size_t)(E * N));
    float *reward = malloc(sizeof(float) * (size_t)E);
    int64_t *queue_before = malloc(sizeof(int64_t) * (size_t)(E * M));
    int64_t *arrived_total = calloc((size_t)E, sizeof(int64_t));
    int64_t *served_total = calloc((size_t)E, sizeof(int64_t));
    int64_t *dropped_total = calloc((size_t)E, sizeof(int64_t));
    CHECK(p >= 0);
    CHECK_INT_EQ(api->reset(inst, 3), DGPG_OK);
    int64_t all_dropped = 0;
    for (int t = 0; t < cfg.env.horizon; t++) {
        memcpy(queue_before, cloud_instance_queue(inst), sizeof(int64_t) * (size_t)(E * M));
        const int32_t *work = cloud_instance_work(inst);
        int64_t *work_sum = calloc((size_t)E, sizeof(int64_t));
        for (int64_t e = 0; e < E; e++)
            for (int i = 0; i < N; i++) {
                CHECK_QUIET(work[e * N + i] >= 0, "work %d", work[e * N + i]);
                work_sum[e] += work[e * N + i];
            }
        CHECK_INT_EQ(api->policy_act(inst, p, actions), DGPG_OK);
        CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
        const int64_t *queue = cloud_instance_queue(inst);
        const cloud_step_flows *flows = cloud_instance_flows(inst);
        for (int64_t e = 0; e < E; e++) {
            int64_t before = 0, after = 0;
            for (int m = 0; m < M; m++) {
                before += queue_before[e * M + m];
                after += queue[e * M + m];
                CHECK_QUIET(queue[e * M + m] >= 0 && queue[e * M + m] <= scs[e].buffer[m],
                            "env %lld pool %d: Q = %lld, B = %lld", (long long)e, m,
                            (long long)queue[e * M + m], (long long)scs[e].buffer[m]);
            }
            CHECK_QUIET(flows[e].arrived == work_sum[e], "env %lld step %d: %lld != %lld",
                        (long long)e, t, (long long)flows[e].arrived, (long long)work_sum[e]);
            CHECK_QUIET(flows[e].arrived == flows[e].served + (after - before) + flows[e].dropped,
                        "env %lld step %d: arrived %lld, served %lld, dQ %lld, dropped %lld",
                        (long long)e, t, (long long)flows[e].arrived, (long long)flows[e].served,
                        (long long)(after - before), (long long)flows[e].dropped);
            CHECK_QUIET(flows[e].queued == after, "queued %lld vs %lld",
                        (long long)flows[e].queued, (long long)after);
            /* work is dropped only at a full buffer */
            int full = 0;
            for (int m = 0; m < M; m++)
                full |= queue[e * M + m] == scs[e].buffer[m];
            CHECK_QUIET(flows[e].dropped == 0 || full,
                        "env %lld step %d: %lld dropped with no pool full", (long long)e, t,
                        (long long)flows[e].dropped);
            arrived_total[e] += flows[e].arrived;
            served_total[e] += flows[e].served;
            dropped_total[e] += flows[e].dropped;
            all_dropped += flows[e].dropped;
        }
        free(work_sum);
    }
    double sums[8 * CLOUD_SUMS_WIDTH];
    CHECK_INT_EQ(api->sums(inst, sums), DGPG_OK);
    const int64_t *queue = cloud_instance_queue(inst);
    for (int64_t e = 0; e < E; e++) {
        int64_t final_queue = 0;
        for (int m = 0; m < M; m++)
            final_queue += queue[e * M + m];
        CHECK_INT_EQ(arrived_total[e], served_total[e] + final_queue + dropped_total[e]);
        /* the float-only statistics hold the same integers exactly */
        const double *row = sums + e * CLOUD_SUMS_WIDTH + 2;
        CHECK_INT_EQ((int64_t)row[CLOUD_SUM_ARRIVED], arrived_total[e]);
        CHECK_INT_EQ((int64_t)row[CLOUD_SUM_DROPPED], dropped_total[e]);
        CHECK_INT_EQ((int64_t)row[CLOUD_SUM_ADMITTED], arrived_total[e] - dropped_total[e]);
        CHECK_INT_EQ((int64_t)row[CLOUD_SUM_SERVED], served_total[e]);
        CHECK_INT_EQ((int64_t)sums[e * CLOUD_SUMS_WIDTH + 1], cfg.env.horizon);
    }
    if (expect_drops)
        CHECK(all_dropped > 0);
    printf("N=%d rho=%g buffer=%g %s burst=%g %s: dropped %lld\n", n_agents, rho, buffer_steps,
           job_size, burst_prob, policy, (long long)all_dropped);
    free(actions);
    free(reward);
    free(queue_before);
    free(arrived_total);
    free(served_total);
    free(dropped_total);
    api->destroy(inst);
}

int main(void)
{
    run_case(2, 0.3, 20.0, "unit", 0.0, "random", 0);
    run_case(50, 0.8, 20.0, "unit", 0.0, "led", 0);
    run_case(50, 0.8, 0.5, "bimodal", 0.2, "random", 1);
    run_case(300, 1.5, 1.0, "unit", 0.0, "capacity", 1);
    run_case(300, 0.9, 0.01, "bimodal", 0.0, "jsq", 1);
    run_case(1000, 1.2, 5.0, "bimodal", 0.5, "power_of_two", 1);
    return test_finish("conservation");
}
