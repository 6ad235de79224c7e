/* hetcloud_model.h — the analytical model of the heterogeneous cloud
 * (docs/hetcloud.md, "Model"): target CPU and memory utilisations and the
 * paper's two-resource guidance, as pure functions of one environment.
 *
 * The load of server n is its demand, running plus waiting plus what the
 * agents send this step: x_r,n = R_r,n + sum_i w_r,i p_i[n] for r in {cpu,
 * mem}, w_r,i agent i's request of the step. The cost
 *   C(p) = (1/2) sum_n sum_r x_r,n^2 / C_r,n / Lambda(t)
 * is smallest, at a fixed total, where every server has the same
 * utilisation of each resource: the load-balanced state x~_r,n = U_r C_r,n
 * with U_r = sum_n x_r,n / sum_n C_r,n, the target utilisations. Its
 * gradient is dC/dp_i[n] = sum_r w_r,i x_r,n / C_r,n / Lambda, and the
 * guidance of agent i, in the metric of C (each resource weighted by the
 * inverse capacity), is
 *   g_i = sum_n sum_r (x_r,n - x~_r,n) / C_r,n z_r,n^i
 *       = sum_r w_r,i (x_r,k / C_r,k - U_r),  k = k_i,
 * z_r,n^i = w_r,i [k_i = n] what agent i's action placed on server n: the
 * paper's g_i = sum_n [(x_cpu - x~_cpu) z_cpu + (x_mem - x~_mem) z_mem].
 *
 * p*(s): the one split p (M) of the step's requests W_r = sum_i w_r,i that
 * minimises C: separable quadratics a_n p_n^2 + b_n p_n with
 * a_n = (1/2) sum_r W_r^2 / C_r,n, b_n = sum_r W_r R_r,n / C_r,n, solved on
 * the simplex by water-filling, p_n = max(0, (nu - b_n) / (2 a_n)),
 * sum p = 1. With no request this step, W is one mean job's. */
#ifndef DGPG_HETCLOUD_MODEL_H
#define DGPG_HETCLOUD_MODEL_H

#include "hetcloud_env.h"

/* R_r,n: running plus waiting demand of each server, (M, 2). */
static inline DGPG_HD void hetcloud_model_demand(const hetcloud_scenario *sc,
                                                 const hetcloud_server *servers, double *demand)
{
    for (int32_t n = 0; n < sc->n_servers; n++) {
        demand[2 * n] = (double)(servers[n].cpu_used + servers[n].cpu_queued);
        demand[2 * n + 1] = (double)(servers[n].mem_used + servers[n].mem_queued);
    }
}

/* p* (M) for demand R (M, 2) and requests (w_cpu, w_mem). Exact: the
 * servers by b_n ascending enter the active set while the level nu stays
 * above their b_n. work (M) is scratch. */
static inline DGPG_HD void hetcloud_model_split(const hetcloud_scenario *sc, const double *demand,
                                                double w_cpu, double w_mem, double *p,
                                                double *work)
{
    const int32_t M = sc->n_servers;
    if (w_cpu <= 0.0 && w_mem <= 0.0) {
        w_cpu = sc->cpu_mean;
        w_mem = sc->mem_mean;
    }
    /* work[n]: b_n; p[n] temporarily 1 / (2 a_n) */
    for (int32_t n = 0; n < M; n++) {
        const double ic = 1.0 / sc->cpu_cap[n], im = 1.0 / sc->mem_cap[n];
        work[n] = w_cpu * demand[2 * n] * ic + w_mem * demand[2 * n + 1] * im;
        p[n] = 1.0 / (w_cpu * w_cpu * ic + w_mem * w_mem * im);
    }
    /* nu solves sum_n max(0, nu - b_n) / (2 a_n) = 1, piecewise linear and
     * increasing in nu: add servers in order of b_n (selection, M small) */
    double slope = 0.0, offset = 0.0, nu = 0.0;
    uint64_t taken[(HETCLOUD_MAX_SERVERS + 63) / 64] = {0};
    for (int32_t count = 0; count < M; count++) {
        int32_t next = -1;
        for (int32_t n = 0; n < M; n++)
            if (!(taken[n >> 6] >> (n & 63) & 1) && (next < 0 || work[n] < work[next]))
                next = n;
        /* with the active set so far, the level that fills the simplex */
        if (count > 0 && (1.0 + offset) / slope <= work[next])
            break;
        taken[next >> 6] |= (uint64_t)1 << (next & 63);
        slope += p[next];
        offset += work[next] * p[next];
        nu = (1.0 + offset) / slope;
    }
    double total = 0.0;
    for (int32_t n = 0; n < M; n++) {
        const double x = nu - work[n];
        p[n] = x > 0.0 ? x * p[n] : 0.0;
        total += p[n];
    }
    for (int32_t n = 0; n < M; n++) /* rounding: an exact simplex point */
        p[n] /= total;
}

/* C at probabilities probs (N, M) of the agents whose requests are w (N,
 * 2), and dC/dp (N, M) if grad is not NULL; x (M, 2) is scratch. */
static inline DGPG_HD double hetcloud_model_cost(const hetcloud_scenario *sc, const double *demand,
                                                 const double *w, const double *probs,
                                                 double lambda_t, double *grad, double *x)
{
    const int32_t N = sc->n_agents, M = sc->n_servers;
    for (int32_t n = 0; n < M; n++) {
        x[2 * n] = demand[2 * n];
        x[2 * n + 1] = demand[2 * n + 1];
    }
    for (int32_t i = 0; i < N; i++)
        for (int32_t n = 0; n < M; n++) {
            x[2 * n] += w[2 * i] * probs[(int64_t)i * M + n];
            x[2 * n + 1] += w[2 * i + 1] * probs[(int64_t)i * M + n];
        }
    double cost = 0.0;
    for (int32_t n = 0; n < M; n++)
        cost += 0.5 * (x[2 * n] * x[2 * n] / sc->cpu_cap[n] +
                       x[2 * n + 1] * x[2 * n + 1] / sc->mem_cap[n]);
    for (int32_t i = 0; grad && i < N; i++)
        for (int32_t n = 0; n < M; n++)
            grad[(int64_t)i * M + n] = (w[2 * i] * x[2 * n] / sc->cpu_cap[n] +
                                        w[2 * i + 1] * x[2 * n + 1] / sc->mem_cap[n]) /
                                       lambda_t;
    return cost / lambda_t;
}

/* The guidance g_i (N) of a step taken with actions (N): x the loads of
 * demand R plus the requests w (N, 2) spread by probs (N, M), or, with
 * probs NULL, as dispatched. x (M, 2) is scratch. */
static inline DGPG_HD void hetcloud_model_guidance(const hetcloud_scenario *sc,
                                                   const double *demand, const double *w,
                                                   const float *probs, const int32_t *actions,
                                                   double *out, double *x)
{
    const int32_t N = sc->n_agents, M = sc->n_servers;
    double total_cpu = 0.0, total_mem = 0.0;
    for (int32_t n = 0; n < M; n++) {
        x[2 * n] = demand[2 * n];
        x[2 * n + 1] = demand[2 * n + 1];
    }
    for (int32_t i = 0; i < N; i++)
        for (int32_t n = 0; n < M; n++) {
            const double share = probs ? (double)probs[(int64_t)i * M + n] : (actions[i] == n);
            x[2 * n] += w[2 * i] * share;
            x[2 * n + 1] += w[2 * i + 1] * share;
        }
    for (int32_t n = 0; n < M; n++) {
        total_cpu += x[2 * n];
        total_mem += x[2 * n + 1];
    }
    const double u_cpu = total_cpu / sc->cpu_total, u_mem = total_mem / sc->mem_total;
    for (int32_t i = 0; i < N; i++) {
        const int32_t k = actions[i];
        out[i] = w[2 * i] * (x[2 * k] / sc->cpu_cap[k] - u_cpu) +
                 w[2 * i + 1] * (x[2 * k + 1] / sc->mem_cap[k] - u_mem);
    }
}

#endif
