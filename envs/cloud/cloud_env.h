/* cloud_env.h — the heterogeneous cloud-scheduling environment (SPEC,
 * "The environment"), as pure functions over one environment or one
 * (environment, agent) pair. The CPU backend loops over them; the CUDA
 * backend launches thin kernels over the same functions.
 *
 * Dimensions: E environments, N agents, M pools, D steps per day.
 * Work is counted in integer units (a unit job has size 1), so the
 * conservation law arrived = served + queued + dropped holds exactly.
 *
 * One step t of environment e:
 *   1. cloud_agent_work:   w_i(t) = sum of sizes of n_i(t) ~ Poisson(lambda_i(t)) jobs
 *   2. (policy)            k_i(t) in [0, M)
 *   3. cloud_dispatch:     A_m(t) = sum_{i: k_i = m} w_i(t)
 *   4. cloud_serve:        S_m ~ Poisson(mu_m),
 *                          Q_m(t+1) = min(B_m, max(0, Q_m(t) + A_m(t) - S_m(t)))
 *                          r(t) = -(sum_m Q_m(t+1) + w_drop dropped(t)) / Lambda(t)
 *   5. cloud_observe_agent / cloud_global_state for the next decision. */
#ifndef DGPG_KERNELS_CLOUD_ENV_H
#define DGPG_KERNELS_CLOUD_ENV_H

#include "hd.h"
#include "rng.h"

/* Everything fixed by a scenario (seed + distributions), built on the host
 * by cloud_scenario_build (envs/cloud/cloud.c); pointers address memory of the
 * side that runs the function (host arrays, or their device copies). */
typedef struct cloud_scenario {
    int32_t n_agents;            /* N */
    int32_t n_pools;             /* M */
    int32_t day_length;          /* D: rate tables repeat with period D */
    int32_t bimodal;             /* job sizes from size_cdf, else 1 */
    int32_t size_cap;            /* entries of size_cdf */
    int32_t burst_length;        /* steps per burst window */
    double burst_prob;
    double burst_factor;         /* rate multiplier inside a burst */
    double drop_weight;          /* w_drop */
    double lambda_bar;           /* mean over agents of lambda_i, jobs/step */
    double size_mean;            /* mean job size, work units */
    double mu_total;             /* sum_m mu_m */
    uint64_t seed;

    const double *mu;            /* (M) service capacity, work/step */
    const double *inv_mu;        /* (M) 1/mu_m */
    const float *capacity_share; /* (M) mu_m / mu_total */
    const double *capacity_cdf;  /* (M) cumulative capacity share */
    const int32_t *order_desc;   /* (M) pools by mu, largest first */
    const int64_t *buffer;       /* (M) B_m, work units */
    const dgpg_poisson_entry *service; /* (M) Poisson(mu_m) */

    const float *rate;           /* (D, N) lambda_i(t), jobs/step */
    const dgpg_poisson_entry *arrival;       /* (D, N) Poisson(lambda_i(t)) */
    const dgpg_poisson_entry *arrival_burst; /* (D, N) in a burst, or NULL */
    const double *work_rate;     /* (D) Lambda(t) = size_mean sum_i lambda_i(t) */
    const double *work_rate_burst; /* (D) same inside a burst, or NULL */
    const float *day_sin;        /* (D) sin(2 pi t / D) */
    const float *day_cos;        /* (D) cos(2 pi t / D) */
    const double *size_cdf;      /* (size_cap) P(size <= j + 1), bimodal only */
} cloud_scenario;

/* The first out-of-range action a device step met (cloud_cuda.cu): the
 * step goes on without a host wait, the environment that held it does not
 * move, and the next `sums` reports it. */
typedef struct cloud_bad_action {
    int32_t flag;                /* 0: none */
    int32_t action;
    int64_t index;               /* e N + i */
    uint64_t step;
} cloud_bad_action;

/* Per environment and step: exact integer flows of work. */
typedef struct cloud_step_flows {
    int64_t arrived;
    int64_t served;
    int64_t dropped;
    int64_t queued;              /* sum_m Q_m(t+1) */
} cloud_step_flows;

/* Observation of one agent: own rate, own arrivals, time of day, the
 * system's load now Lambda(t) / sum mu, and per pool its backlog Q_m/mu_m
 * and its capacity share (SPEC). The load is there for policies trained
 * across scenarios (docs/environment.md, "Observation"): with the
 * capacity shares and the backlogs it is what the state-dependent
 * efficient split depends on, and it differs from cluster to cluster and
 * over the day, while an agent's own rate is relative to its cluster. */
#define CLOUD_OBS_DIM(M) (5 + 2 * (M))
/* Global state for a centralised critic: per pool backlog and capacity
 * share, total load Lambda(t)/sum mu, time of day. */
#define CLOUD_STATE_DIM(M) (3 + 2 * (M))

static inline DGPG_HD int32_t cloud_day_index(const cloud_scenario *sc, uint64_t step)
{
    return (int32_t)(step % (uint64_t)sc->day_length);
}

/* A burst window is a burst with probability burst_prob, drawn per
 * (environment, window) so that the decision needs no state. */
static inline DGPG_HD int cloud_in_burst(const cloud_scenario *sc, uint32_t env, uint64_t step)
{
    if (sc->burst_prob <= 0.0)
        return 0;
    uint64_t window = step / (uint64_t)sc->burst_length;
    philox4x32_ctr_t r = dgpg_philox(sc->seed, 0, window, env, DGPG_STREAM_BURST, 0);
    return dgpg_u01(r.v[0]) < sc->burst_prob;
}

/* Lambda(t): the expected work arriving at step t, the reward's scale. */
static inline DGPG_HD double cloud_work_rate(const cloud_scenario *sc, uint64_t step, int burst)
{
    int32_t d = cloud_day_index(sc, step);
    return burst ? sc->work_rate_burst[d] : sc->work_rate[d];
}

/* Work w_i(t) that agent i receives at `step` in environment `env`. The
 * job count uses lane i%4 of one Philox call shared by agents 4j..4j+3, so
 * the CPU loop can draw for four agents at once; sizes use the agent's own
 * counter. Depends on (seed, env, agent, step) only. */
static inline DGPG_HD int32_t cloud_agent_work_u(const cloud_scenario *sc, uint32_t env,
                                                 uint64_t step, int32_t agent, int burst,
                                                 double u_count)
{
    int32_t d = cloud_day_index(sc, step);
    const dgpg_poisson_entry *table = burst ? sc->arrival_burst : sc->arrival;
    int32_t jobs = dgpg_poisson_sample(&table[(int64_t)d * sc->n_agents + agent], u_count);
    if (!sc->bimodal)
        return jobs;
    int32_t work = 0;
    for (int32_t j = 0; j < jobs; j += 4) {
        dgpg_u4 u = dgpg_uniform4(sc->seed, (uint32_t)agent, step, env, DGPG_STREAM_JOBSIZE,
                                  (uint32_t)(j / 4));
        for (int32_t k = 0; k < 4 && j + k < jobs; k++)
            work += 1 + dgpg_cdf_search(sc->size_cdf, sc->size_cap, u.u[k]);
    }
    return work;
}

static inline DGPG_HD int32_t cloud_agent_work(const cloud_scenario *sc, uint32_t env,
                                               uint64_t step, int32_t agent, int burst)
{
    philox4x32_ctr_t r = dgpg_philox(sc->seed, (uint32_t)agent >> 2, step, env,
                                     DGPG_STREAM_ARRIVAL, 0);
    return cloud_agent_work_u(sc, env, step, agent, burst, dgpg_u01(r.v[agent & 3]));
}

/* A_m = sum over agents choosing m of their work; actions must be in [0, M). */
static inline DGPG_HD void cloud_dispatch(const cloud_scenario *sc, const int32_t *work,
                                          const int32_t *actions, int64_t *dispatched)
{
    for (int32_t m = 0; m < sc->n_pools; m++)
        dispatched[m] = 0;
    for (int32_t i = 0; i < sc->n_agents; i++)
        dispatched[actions[i]] += work[i];
}

/* Service, buffer and reward of one environment-step (SPEC, Dynamics and
 * Shared reward). queue (M) is Q(t) on entry and Q(t+1) on return. */
static inline DGPG_HD double cloud_serve(const cloud_scenario *sc, uint32_t env, uint64_t step,
                                         int burst, const int64_t *dispatched, int64_t *queue,
                                         cloud_step_flows *flows)
{
    cloud_step_flows f = {0, 0, 0, 0};
    for (int32_t m0 = 0; m0 < sc->n_pools; m0 += 4) {
        dgpg_u4 u = dgpg_uniform4(sc->seed, (uint32_t)m0 >> 2, step, env, DGPG_STREAM_SERVICE,
                                  0);
        for (int32_t k = 0; k < 4 && m0 + k < sc->n_pools; k++) {
            int32_t m = m0 + k;
            int64_t capacity = dgpg_poisson_sample(&sc->service[m], u.u[k]);
            int64_t present = queue[m] + dispatched[m];
            int64_t served = present < capacity ? present : capacity;
            int64_t left = present - served;
            int64_t dropped = left > sc->buffer[m] ? left - sc->buffer[m] : 0;
            queue[m] = left - dropped;
            f.arrived += dispatched[m];
            f.served += served;
            f.dropped += dropped;
            f.queued += queue[m];
        }
    }
    if (flows)
        *flows = f;
    double lambda_t = cloud_work_rate(sc, step, burst);
    return -((double)f.queued + sc->drop_weight * (double)f.dropped) / lambda_t;
}

/* obs (CLOUD_OBS_DIM(M)) of agent i before it acts at `step`. */
static inline DGPG_HD void cloud_observe_agent(const cloud_scenario *sc, uint64_t step,
                                               int32_t agent, int32_t work, int burst,
                                               const int64_t *queue, float *obs)
{
    int32_t d = cloud_day_index(sc, step);
    float rate = sc->rate[(int64_t)d * sc->n_agents + agent];
    double rate_now = burst ? (double)rate * sc->burst_factor : (double)rate;
    obs[0] = (float)(rate_now / sc->lambda_bar);
    obs[1] = (float)((double)work / (sc->lambda_bar * sc->size_mean));
    obs[2] = sc->day_sin[d];
    obs[3] = sc->day_cos[d];
    obs[4] = (float)(cloud_work_rate(sc, step, burst) / sc->mu_total);
    for (int32_t m = 0; m < sc->n_pools; m++) {
        obs[5 + 2 * m] = (float)((double)queue[m] * sc->inv_mu[m]);
        obs[6 + 2 * m] = sc->capacity_share[m];
    }
}

/* state (CLOUD_STATE_DIM(M)) of one environment before the agents act. */
static inline DGPG_HD void cloud_global_state(const cloud_scenario *sc, uint64_t step, int burst,
                                              const int64_t *queue, float *state)
{
    int32_t d = cloud_day_index(sc, step);
    for (int32_t m = 0; m < sc->n_pools; m++) {
        state[2 * m] = (float)((double)queue[m] * sc->inv_mu[m]);
        state[2 * m + 1] = sc->capacity_share[m];
    }
    state[2 * sc->n_pools] = (float)(cloud_work_rate(sc, step, burst) / sc->mu_total);
    state[2 * sc->n_pools + 1] = sc->day_sin[d];
    state[2 * sc->n_pools + 2] = sc->day_cos[d];
}

/* The environment's statistics (dgpg_env_api.sums): per environment, the
 * reward sum and step count, then these sums of the step's flows. Both
 * backends add a step with cloud_sums_add, so they agree to the bit. */
enum cloud_sum { CLOUD_SUM_QUEUED, CLOUD_SUM_ARRIVED, CLOUD_SUM_ADMITTED, CLOUD_SUM_SERVED,
                 CLOUD_SUM_DROPPED, CLOUD_SUMS };
#define CLOUD_SUMS_WIDTH (2 + CLOUD_SUMS) /* doubles per environment */

static inline DGPG_HD void cloud_sums_add(double *row, double reward, const cloud_step_flows *f)
{
    row[0] += reward;
    row[1] += 1.0;
    row[2 + CLOUD_SUM_QUEUED] += (double)f->queued;
    row[2 + CLOUD_SUM_ARRIVED] += (double)f->arrived;
    row[2 + CLOUD_SUM_ADMITTED] += (double)(f->arrived - f->dropped);
    row[2 + CLOUD_SUM_SERVED] += (double)f->served;
    row[2 + CLOUD_SUM_DROPPED] += (double)f->dropped;
}

#endif
