/* fluid_oracle.h — independent solutions of the model's two optimisation
 * problems, for tests. The static p* (docs/model.md): the split x of the
 * work rate Lambda minimising sum_m x_m / (mu_m - x_m), by bisection on the
 * dual variable (oracle_sqrt_split). The state-dependent reference's fluid
 * problem (docs/model.md, "State reference"):
 *   min sum_m (Q_m + A_m)^2 / (2 mu_m)  s.t. sum_m A_m = W, A_m >= 0,
 * by bisection on the multiplier L, A_m(L) = max(0, L mu_m - Q_m), whose
 * sum is continuous and non-decreasing in L. It shares no code with
 * envs/cloud/cloud_model.h (no active set, no iteration over pool sets). */
#ifndef DGPG_TEST_FLUID_ORACLE_H
#define DGPG_TEST_FLUID_ORACLE_H

#include <math.h>
#include <stdint.h>

static inline double oracle_fill(int M, const double *mu, const int64_t *queue, double level)
{
    double s = 0.0;
    for (int m = 0; m < M; m++) {
        double a = level * mu[m] - (double)queue[m];
        s += a > 0.0 ? a : 0.0;
    }
    return s;
}

/* L with sum_m max(0, L mu_m - Q_m) = W: bracketed by the least normalised
 * backlog (fill 0) and the largest plus W / sum mu (fill >= W). */
static inline double oracle_level(int M, const double *mu, const int64_t *queue, double work)
{
    double lo = INFINITY, hi = -INFINITY, sum_mu = 0.0;
    for (int m = 0; m < M; m++) {
        double q = (double)queue[m] / mu[m];
        lo = q < lo ? q : lo;
        hi = q > hi ? q : hi;
        sum_mu += mu[m];
    }
    hi += work / sum_mu;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (oracle_fill(M, mu, queue, mid) < work)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* sum_m x_m(nu), x_m(nu) = max(0, mu_m - sqrt(mu_m / nu)): the KKT split
 * at multiplier nu, continuous and non-decreasing, zero at nu = 1 / max mu */
static inline double oracle_dual_sum(int M, const double *mu, double nu)
{
    double s = 0.0;
    for (int m = 0; m < M; m++) {
        double xm = mu[m] - sqrt(mu[m] / nu);
        s += xm > 0.0 ? xm : 0.0;
    }
    return s;
}

/* x (M) minimising sum_m x_m / (mu_m - x_m) with sum x = total < sum mu:
 * bisection on log nu. Returns 0 if the bracket does not hold. */
static inline int oracle_sqrt_split(int M, const double *mu, double total, double *x)
{
    double mu_max = 0.0;
    for (int m = 0; m < M; m++)
        mu_max = mu[m] > mu_max ? mu[m] : mu_max;
    double lo = log(1.0 / mu_max), hi = lo + 200.0;
    if (!(oracle_dual_sum(M, mu, exp(hi)) > total))
        return 0;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (oracle_dual_sum(M, mu, exp(mid)) < total)
            lo = mid;
        else
            hi = mid;
    }
    double nu = exp(0.5 * (lo + hi));
    for (int m = 0; m < M; m++) {
        double xm = mu[m] - sqrt(mu[m] / nu);
        x[m] = xm > 0.0 ? xm : 0.0;
    }
    return 1;
}

#endif
