/* test_determinism.c — a trajectory depends on (seed, global environment
 * index, agent, step) only: the same seed gives the same trajectory, and
 * so do 1 and 2 threads, and two different splits of the batch (one
 * instance of E environments versus instances of E1 and E - E1 with an
 * offset), compared bitwise at every step: work, actions, queues, rewards,
 * observations and global states. A different seed must differ. */
#include "env_fixture.h"
#include "test.h"

#include <string.h>

typedef struct run {
    cloud_instance *parts[2];
    int64_t offset[2], count[2];
    int n_parts;
} run;

#define E_ALL 16
#define T_STEPS 120

typedef struct trace {
    int32_t *work, *actions;
    int64_t *queue;
    float *reward, *obs, *state;
} trace;

static void trace_alloc(trace *tr, int N, int M)
{
    tr->work = malloc(sizeof(int32_t) * T_STEPS * E_ALL * (size_t)N);
    tr->actions = malloc(sizeof(int32_t) * T_STEPS * E_ALL * (size_t)N);
    tr->queue = malloc(sizeof(int64_t) * T_STEPS * E_ALL * (size_t)M);
    tr->reward = malloc(sizeof(float) * T_STEPS * E_ALL);
    tr->obs = malloc(sizeof(float) * T_STEPS * E_ALL * (size_t)N * CLOUD_OBS_DIM(M));
    tr->state = malloc(sizeof(float) * T_STEPS * E_ALL * CLOUD_STATE_DIM(M));
}

static void trace_free(trace *tr)
{
    free(tr->work);
    free(tr->actions);
    free(tr->queue);
    free(tr->reward);
    free(tr->obs);
    free(tr->state);
}

/* Runs T steps of `policy` on the parts, recording everything per step. */
static void record(const dgpg_config *cfg, uint64_t seed, int threads, int64_t split,
                   const char *policy, trace *tr)
{
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    run r = {{NULL, NULL}, {0, split}, {split, E_ALL - split}, split < E_ALL ? 2 : 1};
    if (r.n_parts == 1)
        r.count[0] = E_ALL;
    for (int k = 0; k < r.n_parts; k++) {
        r.parts[k] = fixture_env(cfg, seed, r.offset[k], r.count[k], threads);
        CHECK_INT_EQ(api->reset(r.parts[k], 5), DGPG_OK);
    }
    const int N = (int)cfg->env.n_agents, M = (int)cfg->env.n_pools;
    const int OD = CLOUD_OBS_DIM(M), SD = CLOUD_STATE_DIM(M);
    trace_alloc(tr, N, M);
    for (int t = 0; t < T_STEPS; t++) {
        for (int k = 0; k < r.n_parts; k++) {
            void *inst = r.parts[k];
            int64_t at = (int64_t)t * E_ALL + r.offset[k]; /* first env of the part */
            int p = api->policy_find(inst, policy);
            memcpy(tr->work + at * N, cloud_instance_work(inst),
                   sizeof(int32_t) * (size_t)(r.count[k] * N));
            CHECK_INT_EQ(api->observe(inst, tr->obs + at * N * OD, tr->state + at * SD),
                         DGPG_OK);
            CHECK_INT_EQ(api->policy_act(inst, p, tr->actions + at * N), DGPG_OK);
            CHECK_INT_EQ(api->step(inst, tr->actions + at * N, tr->reward + at), DGPG_OK);
            memcpy(tr->queue + at * M, cloud_instance_queue(inst),
                   sizeof(int64_t) * (size_t)(r.count[k] * M));
        }
    }
    for (int k = 0; k < r.n_parts; k++)
        api->destroy(r.parts[k]);
}

static int traces_equal(const trace *a, const trace *b, int N, int M)
{
    const size_t steps = (size_t)T_STEPS * E_ALL;
    return memcmp(a->work, b->work, sizeof(int32_t) * steps * N) == 0 &&
           memcmp(a->actions, b->actions, sizeof(int32_t) * steps * N) == 0 &&
           memcmp(a->queue, b->queue, sizeof(int64_t) * steps * M) == 0 &&
           memcmp(a->reward, b->reward, sizeof(float) * steps) == 0 &&
           memcmp(a->obs, b->obs, sizeof(float) * steps * N * CLOUD_OBS_DIM(M)) == 0 &&
           memcmp(a->state, b->state, sizeof(float) * steps * CLOUD_STATE_DIM(M)) == 0;
}

static void run_case(const char *const *sets, int n_sets, const char *policy)
{
    dgpg_config cfg;
    fixture_config(&cfg, sets, n_sets);
    const int N = (int)cfg.env.n_agents, M = (int)cfg.env.n_pools;
    trace base, again, two_threads, split_a, split_b, other_seed;
    record(&cfg, 11, 1, E_ALL, policy, &base);
    record(&cfg, 11, 1, E_ALL, policy, &again);
    record(&cfg, 11, 2, E_ALL, policy, &two_threads);
    record(&cfg, 11, 2, 6, policy, &split_a);
    record(&cfg, 11, 1, 9, policy, &split_b);
    record(&cfg, 12, 1, E_ALL, policy, &other_seed);
    CHECK(traces_equal(&base, &again, N, M));
    CHECK(traces_equal(&base, &two_threads, N, M));
    CHECK(traces_equal(&base, &split_a, N, M));
    CHECK(traces_equal(&base, &split_b, N, M));
    CHECK(!traces_equal(&base, &other_seed, N, M));
    /* environments of one batch differ from each other (the env index is
     * part of the key), else a split could not tell them apart */
    CHECK(memcmp(base.work, base.work + N, sizeof(int32_t) * (size_t)N) != 0 ||
          memcmp(base.work + 2 * N, base.work + 3 * N, sizeof(int32_t) * (size_t)N) != 0);
    printf("determinism: %s with %d overrides: checked\n", policy, n_sets);
    trace_free(&base);
    trace_free(&again);
    trace_free(&two_threads);
    trace_free(&split_a);
    trace_free(&split_b);
    trace_free(&other_seed);
}

int main(void)
{
    const char *plain[] = {"env.n_agents=37", "env.n_pools=5"};
    const char *rich[] = {"env.n_agents=41", "env.job_size=bimodal", "env.burst_prob=0.3",
                          "env.rho=1.1", "env.buffer_steps=2"};
    run_case(plain, 2, "power_of_two");
    run_case(rich, 5, "pstar");
    run_case(rich, 5, "led");
    return test_finish("determinism");
}
