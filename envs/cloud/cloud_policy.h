/* cloud_policy.h — the heuristics a scheduler's user compares against
 * (SPEC, "Heuristics"), as pure functions over one environment-step.
 *
 * Variants: uniform random; capacity-weighted random; round robin;
 * join-shortest-normalised-queue (JSQ: every agent sees the same backlogs
 * and so every agent joins the same pool, the herd effect of decentralised
 * JSQ; ties go to the largest pool); power-of-two choices (two pools at random, the less loaded);
 * least-expected-delay with global information (LED, the paper's Best-Fit
 * analogue: agents in index order, each sees the backlogs and the work
 * already dispatched this step, and picks the pool whose normalised load
 * (Q_m + A_m + w_i) / mu_m is smallest); the analytical static policy
 * p* sampled independently by each agent; and the model's state-dependent
 * policy p*(s) (cloud_model_state_probs: the split of this step's work
 * that levels the normalised backlogs), likewise sampled independently by
 * each agent, which needs the step's total work W, a global quantity. Randomness is the POLICY stream,
 * so a policy never changes the arrivals or the service it is judged on. */
#ifndef DGPG_KERNELS_CLOUD_POLICY_H
#define DGPG_KERNELS_CLOUD_POLICY_H

#include "cloud_env.h"
#include "cloud_model.h"

typedef enum cloud_policy {
    CLOUD_POLICY_RANDOM = 0,
    CLOUD_POLICY_CAPACITY,
    CLOUD_POLICY_ROUND_ROBIN,
    CLOUD_POLICY_JSQ,
    CLOUD_POLICY_POWER_OF_TWO,
    CLOUD_POLICY_LED,
    CLOUD_POLICY_PSTAR,
    CLOUD_POLICY_PSTAR_STATE,
    CLOUD_POLICY_COUNT
} cloud_policy;

/* Normalised backlog Q_m / mu_m, the quantity JSQ and power-of-two compare. */
static inline DGPG_HD double cloud_policy_backlog(const cloud_scenario *sc, const int64_t *queue,
                                                  int32_t m)
{
    return (double)queue[m] * sc->inv_mu[m];
}

/* The heuristics in two parts, so that a device can run one thread per
 * agent where the agents choose independently: cloud_policy_prepare, once
 * per environment-step, leaves what every agent reads in scratch (2M
 * doubles): JSQ's pool in scratch[0]; p* or p*(s) in scratch[0..M) and
 * its cumulative sums in scratch[M..2M) (total_work: the step's W, for
 * p*(s)); cloud_policy_agent then gives agent i's action. LED is
 * sequential (each agent sees the work the earlier ones sent):
 * cloud_policy_led, once per environment. cloud_policy_act runs the three
 * for one environment, as the CPU backend does. */
static inline DGPG_HD int cloud_policy_is_sequential(cloud_policy policy)
{
    return policy == CLOUD_POLICY_LED;
}

static inline DGPG_HD void cloud_policy_prepare(const cloud_scenario *sc, cloud_policy policy,
                                                uint64_t step, int burst, const int64_t *queue,
                                                double total_work, double *scratch)
{
    const int32_t M = sc->n_pools;
    if (policy == CLOUD_POLICY_JSQ) {
        /* ties go to the largest pool, not to pool 0: empty queues, and
         * equal non-empty ratios Q_a / mu_a = Q_b / mu_b, which occur since
         * capacities are multiples of one unit and which Q (1/mu) rounds
         * apart in the last bits, so a tie is equality within 1e-12 */
        int32_t best = 0;
        for (int32_t m = 1; m < M; m++) {
            double bm = cloud_policy_backlog(sc, queue, m);
            double bb = cloud_policy_backlog(sc, queue, best);
            double tol = 1e-12 * (bm > bb ? bm : bb);
            if (bm < bb - tol || (bm <= bb + tol && sc->mu[m] > sc->mu[best]))
                best = m;
        }
        scratch[0] = (double)best;
    } else if (policy == CLOUD_POLICY_PSTAR || policy == CLOUD_POLICY_PSTAR_STATE) {
        double *p_star = scratch, *p_cdf = scratch + M;
        if (policy == CLOUD_POLICY_PSTAR)
            cloud_model_optimal_probs(M, sc->mu, sc->order_desc,
                                      cloud_work_rate(sc, step, burst), p_star);
        else
            cloud_model_state_probs(M, sc->mu, queue, total_work, p_star);
        double acc = 0.0;
        for (int32_t m = 0; m < M; m++)
            p_cdf[m] = (acc += p_star[m]);
    }
}

/* Agent i's action under an independent policy, after cloud_policy_prepare. */
static inline DGPG_HD int32_t cloud_policy_agent(const cloud_scenario *sc, cloud_policy policy,
                                                 uint32_t env, uint64_t step,
                                                 const int64_t *queue, int32_t i,
                                                 const double *scratch)
{
    const int32_t M = sc->n_pools;
    switch (policy) {
    case CLOUD_POLICY_ROUND_ROBIN:
        return (int32_t)(((uint64_t)i + step) % (uint64_t)M);
    case CLOUD_POLICY_JSQ:
        return (int32_t)scratch[0];
    case CLOUD_POLICY_POWER_OF_TWO: {
        dgpg_u4 u = dgpg_uniform4(sc->seed, (uint32_t)i, step, env, DGPG_STREAM_POLICY, 0);
        int32_t first = (int32_t)(u.u[0] * M);
        int32_t second = (int32_t)(u.u[1] * (M - 1));
        second += second >= first; /* a different pool, uniformly */
        return cloud_policy_backlog(sc, queue, second) < cloud_policy_backlog(sc, queue, first)
                   ? second
                   : first;
    }
    default:
        break;
    }
    /* The sampled policies: one uniform per agent, lane i % 4 of the call
     * of agents 4 (i / 4) .. 4 (i / 4) + 3. */
    const dgpg_u4 u =
        dgpg_uniform4(sc->seed, (uint32_t)i >> 2, step, env, DGPG_STREAM_POLICY, 1);
    if (policy == CLOUD_POLICY_RANDOM)
        return (int32_t)(u.u[i & 3] * M);
    const double *cdf = policy == CLOUD_POLICY_CAPACITY ? sc->capacity_cdf : scratch + M;
    return dgpg_cdf_search(cdf, M, u.u[i & 3]);
}

/* LED (least expected delay, global information): agents in index order,
 * each picks the pool whose (Q_m + A_m + w_i) / mu_m is smallest, A_m the
 * work the earlier agents sent this step. scratch holds M doubles. */
static inline DGPG_HD void cloud_policy_led(const cloud_scenario *sc, const int64_t *queue,
                                            const int32_t *work, int32_t *actions,
                                            double *scratch)
{
    const int32_t N = sc->n_agents, M = sc->n_pools;
    double *load = scratch; /* (Q_m + A_m) so far, in work units */
    for (int32_t m = 0; m < M; m++)
        load[m] = (double)queue[m];
    for (int32_t i = 0; i < N; i++) {
        int32_t best = 0;
        double best_delay = (load[0] + work[i]) * sc->inv_mu[0];
        for (int32_t m = 1; m < M; m++) {
            double delay = (load[m] + work[i]) * sc->inv_mu[m];
            if (delay < best_delay) {
                best_delay = delay;
                best = m;
            }
        }
        actions[i] = best;
        load[best] += work[i];
    }
}

/* W: the step's total work of one environment, exact in double. */
static inline DGPG_HD double cloud_policy_total_work(int32_t N, const int32_t *work)
{
    double total = 0.0;
    for (int32_t i = 0; i < N; i++)
        total += (double)work[i];
    return total;
}

/* Actions (N) of one environment at `step`. scratch holds 2M doubles. */
static inline DGPG_HD void cloud_policy_act(const cloud_scenario *sc, cloud_policy policy,
                                            uint32_t env, uint64_t step, int burst,
                                            const int64_t *queue, const int32_t *work,
                                            int32_t *actions, double *scratch)
{
    const int32_t N = sc->n_agents;
    if (cloud_policy_is_sequential(policy)) {
        cloud_policy_led(sc, queue, work, actions, scratch);
        return;
    }
    const double total_work =
        policy == CLOUD_POLICY_PSTAR_STATE ? cloud_policy_total_work(N, work) : 0.0;
    cloud_policy_prepare(sc, policy, step, burst, queue, total_work, scratch);
    for (int32_t i = 0; i < N; i++)
        actions[i] = cloud_policy_agent(sc, policy, env, step, queue, i, scratch);
}

#endif
