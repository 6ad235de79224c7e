/* fluid_oracle.h — an independent solution of the state-dependent
 * reference's fluid problem (docs/model.md, "State reference"), for tests:
 *   min sum_m (Q_m + A_m)^2 / (2 mu_m)  s.t. sum_m A_m = W, A_m >= 0,
 * by bisection on the multiplier L, A_m(L) = max(0, L mu_m - Q_m), whose
 * sum is continuous and non-decreasing in L. It shares no code with
 * kernels/cloud_model.h (no active set, no iteration over pool sets). */
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

#endif
