/* cloud_model.h — the analytical model of the cloud environment (SPEC,
 * "The analytical model for cloud"): each pool an M/M/1 queue fed by the
 * expected flows.
 *
 *   x_m     = sum_i lambda_i p_i[m]                      expected work flow
 *   rho_m   = x_m / mu_m
 *   n(rho)  = rho / (1 - rho) for rho <= b, and beyond the barrier b its
 *             second-order Taylor extension at b, so cost and gradient stay
 *             finite and C^2 for every rho >= 0
 *   C       = sum_m n(rho_m) / Lambda,   Lambda = sum_i lambda_i
 *   dC/dp_i[m] = n'(rho_m) lambda_i / (mu_m Lambda)
 *   x*      = argmin sum_m x_m / (mu_m - x_m)  s.t. sum_m x_m = Lambda, x >= 0:
 *             x*_m = max(0, mu_m - sqrt(mu_m) (sum_act mu - Lambda) / sum_act sqrt(mu))
 *   p*      = x* / Lambda
 *
 * Rates lambda_i here are work rates (jobs/step times mean job size), so the
 * flows are in the same unit as mu. */
#ifndef DGPG_KERNELS_CLOUD_MODEL_H
#define DGPG_KERNELS_CLOUD_MODEL_H

#include "hd.h"
#include <math.h>

/* n(rho) and n'(rho) with the smooth barrier at utilisation `barrier`. */
static inline DGPG_HD double cloud_model_occupancy(double rho, double barrier, double *slope)
{
    if (rho <= barrier) {
        double gap = 1.0 - rho;
        if (slope)
            *slope = 1.0 / (gap * gap);
        return rho / gap;
    }
    double gap = 1.0 - barrier;
    double n0 = barrier / gap;
    double n1 = 1.0 / (gap * gap);
    double n2 = 2.0 / (gap * gap * gap);
    double d = rho - barrier;
    if (slope)
        *slope = n1 + n2 * d;
    return n0 + n1 * d + 0.5 * n2 * d * d;
}

/* flows (M) = sum_i rate[i] probs[i, :]; probs is (N, M) row-major. */
static inline DGPG_HD void cloud_model_flows(int32_t n_agents, int32_t n_pools,
                                             const double *rate, const double *probs,
                                             double *flows)
{
    for (int32_t m = 0; m < n_pools; m++)
        flows[m] = 0.0;
    for (int32_t i = 0; i < n_agents; i++)
        for (int32_t m = 0; m < n_pools; m++)
            flows[m] += rate[i] * probs[(int64_t)i * n_pools + m];
}

/* C of the given flows; if occupancy_slope != NULL it receives n'(rho_m)
 * (M), from which dC/dp_i[m] = slope[m] rate_i / (mu_m Lambda). */
static inline DGPG_HD double cloud_model_cost(int32_t n_pools, const double *mu,
                                              const double *flows, double total_rate,
                                              double barrier, double *occupancy_slope)
{
    double cost = 0.0;
    for (int32_t m = 0; m < n_pools; m++) {
        double slope;
        cost += cloud_model_occupancy(flows[m] / mu[m], barrier, &slope);
        if (occupancy_slope)
            occupancy_slope[m] = slope;
    }
    return cost / total_rate;
}

/* grad (N, M) = dC/dp_i[m] at probs (N, M), given the agents' work rates. */
static inline DGPG_HD double cloud_model_cost_grad(int32_t n_agents, int32_t n_pools,
                                                   const double *mu, const double *rate,
                                                   const double *probs, double barrier,
                                                   double *flows, double *slope, double *grad)
{
    double total_rate = 0.0;
    for (int32_t i = 0; i < n_agents; i++)
        total_rate += rate[i];
    cloud_model_flows(n_agents, n_pools, rate, probs, flows);
    double cost = cloud_model_cost(n_pools, mu, flows, total_rate, barrier, slope);
    for (int32_t i = 0; i < n_agents; i++)
        for (int32_t m = 0; m < n_pools; m++)
            grad[(int64_t)i * n_pools + m] = slope[m] * rate[i] / (mu[m] * total_rate);
    return cost;
}

/* Square-root water-filling: x* (M) for total flow `total`. order_desc lists
 * the pools by mu, largest first. The marginal cost of pool m at x is
 * mu_m / (mu_m - x)^2, 1/mu_m at x = 0; the optimum equalises it over the
 * active pools, and a pool is off when 1/mu_m is already above that level,
 * so the active set is a prefix of order_desc: the longest prefix whose
 * smallest pool still gets a positive flow. When total >= sum mu no finite
 * optimum exists; the same formula with every pool active keeps flows
 * summing to total (each x_m above mu_m), which is what p* then follows.
 * Returns the number of active pools. */
static inline DGPG_HD int32_t cloud_model_waterfill(int32_t n_pools, const double *mu,
                                                    const int32_t *order_desc, double total,
                                                    double *x_star)
{
    double sum_mu = 0.0, sum_sqrt = 0.0, level = 0.0;
    int32_t active = 0;
    for (int32_t k = 0; k < n_pools; k++) {
        double mu_k = mu[order_desc[k]];
        double sum_mu_k = sum_mu + mu_k, sum_sqrt_k = sum_sqrt + sqrt(mu_k);
        double level_k = (sum_mu_k - total) / sum_sqrt_k;
        /* pool k joins when its flow mu_k - sqrt(mu_k) level_k is positive */
        if (k > 0 && sqrt(mu_k) <= level_k)
            break;
        sum_mu = sum_mu_k;
        sum_sqrt = sum_sqrt_k;
        level = level_k;
        active = k + 1;
    }
    for (int32_t m = 0; m < n_pools; m++)
        x_star[m] = 0.0;
    for (int32_t k = 0; k < active; k++) {
        int32_t m = order_desc[k];
        double x = mu[m] - sqrt(mu[m]) * level;
        x_star[m] = x > 0.0 ? x : 0.0;
    }
    return active;
}

/* p* = x* / Lambda (M): the analytical static policy, the same for every agent. */
static inline DGPG_HD void cloud_model_optimal_probs(int32_t n_pools, const double *mu,
                                                     const int32_t *order_desc, double total,
                                                     double *p_star)
{
    cloud_model_waterfill(n_pools, mu, order_desc, total, p_star);
    for (int32_t m = 0; m < n_pools; m++)
        p_star[m] /= total;
}

/* Reference state x~ (M) for the paper's guidance form: the work that did
 * arrive this step, W = sum_i w_i, split as the model's optimum splits it,
 * x~_m = p*_m W; so x - x~ sums to zero and measures misallocation only. */
static inline DGPG_HD void cloud_model_reference(int32_t n_pools, const double *p_star,
                                                 double arrived_work, double *reference)
{
    for (int32_t m = 0; m < n_pools; m++)
        reference[m] = p_star[m] * arrived_work;
}

/* x_t (M): the load the model expects from this step's arrivals under the
 * agents' probabilities, x_m = sum_i w_i p_i[m] (probs (N, M)). It reads
 * no agent's sampled action, so the guidance built from it carries none of
 * the other agents' sampling noise (SPEC: the guidance "does not depend on
 * what the other agents happened to do"). */
static inline DGPG_HD void cloud_model_expected_load(int32_t n_agents, int32_t n_pools,
                                                     const int32_t *work, const float *probs,
                                                     double *load)
{
    for (int32_t m = 0; m < n_pools; m++)
        load[m] = 0.0;
    for (int32_t i = 0; i < n_agents; i++)
        for (int32_t m = 0; m < n_pools; m++)
            load[m] += (double)work[i] * (double)probs[(int64_t)i * n_pools + m];
}

/* <x - x~, z_i> with z_i = w_i e_{k_i}: agent i's local influence on the
 * load is its own work on the pool it chose. */
static inline DGPG_HD double cloud_model_influence(const double *load, const double *reference,
                                                   int32_t action, int32_t work)
{
    return (double)work * (load[action] - reference[action]);
}

/* ---- the state-dependent reference (docs/model.md, "State reference") ----
 *
 * The static p* above ignores the backlogs. Given the backlogs Q (M) at a
 * decision and the work W that arrived for it, the efficient
 * post-dispatch state minimises the fluid delay of the work in the system,
 *   F(A) = sum_m (Q_m + A_m)^2 / (2 mu_m)   s.t. sum_m A_m = W, A_m >= 0
 * (pool m drains at rate mu_m, so the unit at depth q waits q / mu_m and
 * the work in it waits (Q_m + A_m)^2 / (2 mu_m) in all). KKT: with the
 * multiplier L, (Q_m + A_m) / mu_m = L where A_m > 0 and Q_m / mu_m >= L
 * where A_m = 0: the normalised backlog is levelled at L over the pools
 * below it, L = (W + sum_S Q) / sum_S mu over that active set S. */

/* The level L for backlogs queue (M) and work W. Iterates from S = every
 * pool: with S a superset of the optimal set, L_S >= L*, so every pool of S
 * with Q_m / mu_m >= L_S is off at the optimum too; dropping them lowers L
 * (they sat at or above the mean), and the loop stops when no pool of S is
 * at or above its level; the set only shrinks: at most M + 1 passes, no sort, no scratch, so the
 * same code serves one CUDA thread. When W = 0 and the least loaded pools
 * sit exactly at L the set would empty; L is then their backlog. */
static inline DGPG_HD double cloud_model_state_level(int32_t n_pools, const double *mu,
                                                     const int64_t *queue, double work)
{
    double level = 0.0, bound = INFINITY;
    int32_t active = n_pools + 1;
    for (;;) {
        double sum_q = 0.0, sum_mu = 0.0;
        int32_t count = 0;
        for (int32_t m = 0; m < n_pools; m++)
            if ((double)queue[m] / mu[m] < bound) {
                sum_q += (double)queue[m];
                sum_mu += mu[m];
                count++;
            }
        if (count == 0 || count == active)
            return level;
        active = count;
        level = (work + sum_q) / sum_mu;
        /* never above the last bound: a pool exactly at the level could
         * otherwise flip in and out of the set with rounding, forever */
        bound = level < bound ? level : bound;
    }
}

/* x~ (M): the efficient post-dispatch state, normalised by capacity,
 * x~_m = max(L, Q_m / mu_m) (in steps of that pool's service); returns L. */
static inline DGPG_HD double cloud_model_state_reference(int32_t n_pools, const double *mu,
                                                         const int64_t *queue, double work,
                                                         double *reference)
{
    double level = cloud_model_state_level(n_pools, mu, queue, work);
    for (int32_t m = 0; m < n_pools; m++) {
        double backlog = (double)queue[m] / mu[m];
        reference[m] = backlog > level ? backlog : level;
    }
    return level;
}

/* p*(s) (M): the split of this step's work W that reaches the efficient
 * state, A*_m / W with A*_m = max(0, L mu_m - Q_m). With no work (W = 0)
 * it is the limit W -> 0: the least loaded pools (least Q_m / mu_m) in
 * proportion to mu. They are found by comparing Q_m / mu_m with their own
 * minimum, not with L: L = sum Q / sum mu over them can round one ulp
 * below each pool's Q_m / mu_m, which left no pool and p* = 0 / 0. */
static inline DGPG_HD void cloud_model_state_probs(int32_t n_pools, const double *mu,
                                                   const int64_t *queue, double work,
                                                   double *p_star)
{
    double level = cloud_model_state_level(n_pools, mu, queue, work);
    double least = INFINITY, total = 0.0;
    for (int32_t m = 0; m < n_pools; m++) {
        const double backlog = (double)queue[m] / mu[m];
        least = backlog < least ? backlog : least;
    }
    for (int32_t m = 0; m < n_pools; m++) {
        double a = work > 0.0 ? level * mu[m] - (double)queue[m]
                              : ((double)queue[m] / mu[m] <= least ? mu[m] : 0.0);
        p_star[m] = a > 0.0 ? a : 0.0;
        total += p_star[m];
    }
    for (int32_t m = 0; m < n_pools; m++)
        p_star[m] /= total;
}

/* The fluid cost's marginal in pool m, dF/dA_m = (Q_m + A_m) / mu_m: with
 * A_m = sum_i w_i p_i[m] the expected dispatch of the step, the state
 * form's dC/dp_i[m] = w_i (Q_m + A_m) / (mu_m Lambda) for the cost
 * C = F / Lambda (descent and cv), Lambda the step's expected work. */
static inline DGPG_HD double cloud_model_state_marginal(int64_t queue, double dispatched,
                                                        double mu)
{
    return ((double)queue + dispatched) / mu;
}

/* The state form's <x - x~, z_i>, x_m = (Q_m + A_m) / mu_m the normalised
 * state after dispatch (A the expected dispatch) and z_i = w_i e_{k_i} in
 * the capacity-weighted inner product <u, v>_mu = sum_m mu_m u_m v_m, under
 * which 1/2 ||x - x~||^2_mu is F's second-order expansion about x~:
 * w_i (x_k - x~_k) for agent i's pool k. */
static inline DGPG_HD double cloud_model_state_influence(int64_t queue, double dispatched,
                                                         double mu, double reference,
                                                         int32_t work)
{
    return (double)work * (cloud_model_state_marginal(queue, dispatched, mu) - reference);
}

#endif
