/* hetcloud_policy.h — the heuristics of the heterogeneous cloud, as pure
 * functions over one environment-step (docs/hetcloud.md, "Heuristics").
 *
 *   random     every agent a server uniformly at random;
 *   first_fit  agents in index order, each with global information: the
 *              first server (in index order) whose free CPU and memory
 *              hold the agent's whole request, counting what is running,
 *              waiting and already sent this step;
 *   best_fit   the same, choosing the server the request fits tightest:
 *              the least free capacity left after it, (free_cpu - w_cpu) /
 *              C_cpu + (free_mem - w_mem) / C_mem (the paper's baseline);
 *   pstar      the model's split p*(s) of this step's requests
 *              (hetcloud_model_split), sampled by each agent.
 * Where no server holds a request, first_fit and best_fit send it to the
 * server whose larger utilisation after it is smallest; ties go to the
 * lower index. An agent with no job this step keeps server 0 (the
 * choice changes nothing). Randomness is the POLICY stream. */
#ifndef DGPG_HETCLOUD_POLICY_H
#define DGPG_HETCLOUD_POLICY_H

#include "hetcloud_model.h"

typedef enum hetcloud_policy {
    HETCLOUD_POLICY_RANDOM = 0,
    HETCLOUD_POLICY_FIRST_FIT,
    HETCLOUD_POLICY_BEST_FIT,
    HETCLOUD_POLICY_PSTAR,
    HETCLOUD_POLICY_COUNT
} hetcloud_policy;

/* The fit heuristics' choice for a request (w_cpu, w_mem), given each
 * server's committed demand (M, 2): running, waiting and sent this step. */
static inline DGPG_HD int32_t hetcloud_fit_choice(const hetcloud_scenario *sc,
                                                  const double *committed, double w_cpu,
                                                  double w_mem, int best)
{
    int32_t choice = -1, fallback = 0;
    double choice_score = 0.0, fallback_score = 0.0;
    for (int32_t n = 0; n < sc->n_servers; n++) {
        const double free_cpu = sc->cpu_cap[n] - committed[2 * n];
        const double free_mem = sc->mem_cap[n] - committed[2 * n + 1];
        if (w_cpu <= free_cpu && w_mem <= free_mem) {
            if (!best)
                return n;
            const double left = (free_cpu - w_cpu) / sc->cpu_cap[n] +
                                (free_mem - w_mem) / sc->mem_cap[n];
            if (choice < 0 || left < choice_score) {
                choice = n;
                choice_score = left;
            }
        }
        const double u_cpu = (committed[2 * n] + w_cpu) / sc->cpu_cap[n];
        const double u_mem = (committed[2 * n + 1] + w_mem) / sc->mem_cap[n];
        const double worst = u_cpu > u_mem ? u_cpu : u_mem;
        if (n == 0 || worst < fallback_score) {
            fallback = n;
            fallback_score = worst;
        }
    }
    return choice >= 0 ? choice : fallback;
}

/* Actions (N) of one environment at `step`. bundles (N) are the agents'
 * requests, demand (M, 2) hetcloud_model_demand's; scratch holds 4M
 * doubles. */
static inline DGPG_HD void hetcloud_policy_act(const hetcloud_scenario *sc, hetcloud_policy policy,
                                               uint32_t env, uint64_t step,
                                               const hetcloud_bundle *bundles,
                                               const double *demand, int32_t *actions,
                                               double *scratch)
{
    const int32_t N = sc->n_agents, M = sc->n_servers;
    if (policy == HETCLOUD_POLICY_FIRST_FIT || policy == HETCLOUD_POLICY_BEST_FIT) {
        double *committed = scratch; /* (M, 2) */
        for (int32_t k = 0; k < 2 * M; k++)
            committed[k] = demand[k];
        for (int32_t i = 0; i < N; i++) {
            const hetcloud_bundle b = bundles[i];
            if (b.jobs == 0) {
                actions[i] = 0;
                continue;
            }
            const int32_t n = hetcloud_fit_choice(sc, committed, (double)b.cpu, (double)b.mem,
                                                  policy == HETCLOUD_POLICY_BEST_FIT);
            actions[i] = n;
            committed[2 * n] += b.cpu;
            committed[2 * n + 1] += b.mem;
        }
        return;
    }
    double *p = scratch, *work = scratch + M;
    if (policy == HETCLOUD_POLICY_PSTAR) {
        double w_cpu = 0.0, w_mem = 0.0;
        for (int32_t i = 0; i < N; i++) {
            w_cpu += bundles[i].cpu;
            w_mem += bundles[i].mem;
        }
        hetcloud_model_split(sc, demand, w_cpu, w_mem, p, work);
        for (int32_t n = 1; n < M; n++) /* cumulative, for inversion */
            p[n] += p[n - 1];
    }
    for (int32_t i0 = 0; i0 < N; i0 += 4) {
        dgpg_u4 u = dgpg_uniform4(sc->seed, (uint32_t)i0 >> 2, step, env, DGPG_STREAM_POLICY,
                                  (uint32_t)policy);
        for (int32_t i = i0; i < i0 + 4 && i < N; i++) {
            int32_t n = policy == HETCLOUD_POLICY_PSTAR
                            ? dgpg_cdf_search(p, M, u.u[i - i0])
                            : (int32_t)(u.u[i - i0] * (double)M);
            actions[i] = n < M ? n : M - 1;
        }
    }
}

#endif
