/* test_waterfill.c — the square-root water-filling of envs/cloud/cloud_model.h
 * (cloud_model_waterfill, cloud_model_optimal_probs): on 3000 random
 * instances of min sum_m x_m / (mu_m - x_m) s.t. sum_m x_m = Lambda,
 * x >= 0, with M in [2, 32], mu log-uniform over [0.1, 1000] and Lambda a
 * fraction in (0.01, 0.99) of sum mu, the solution is checked against
 *   - the KKT conditions: 0 <= x_m < mu_m, sum x = Lambda, the marginal
 *     cost mu_m / (mu_m - x_m)^2 equal to one level nu over the active
 *     pools, and 1/mu_m >= nu for the inactive ones;
 *   - an independent solution: bisection on the dual variable nu, with
 *     x_m(nu) = max(0, mu_m - sqrt(mu_m / nu)), in log space;
 *   - p* = x* / Lambda summing to 1;
 *   - the objective at x* no larger than at random feasible perturbations
 *     (mass moved between two active pools, or onto an inactive one).
 * A third of the instances have a few very small pools and a low load, so
 * that pools must be switched off; the share of instances with an inactive
 * pool is counted and asserted. The overload branch (Lambda >= sum mu) must
 * keep every pool active with flows summing to Lambda. */
#include "cloud_model.h"
#include "fluid_oracle.h"
#include "rng.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define SEED 0x3a7e2f111ULL
#define MAXM 32

#include "test_uniforms.h"

/* pools by mu, largest first (insertion sort, stable) */
static void order_by_mu(int M, const double *mu, int32_t *order)
{
    for (int m = 0; m < M; m++) {
        int k = m;
        while (k > 0 && mu[order[k - 1]] < mu[m]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = m;
    }
}

static double objective(int M, const double *mu, const double *x)
{
    double f = 0.0;
    for (int m = 0; m < M; m++)
        f += x[m] / (mu[m] - x[m]);
    return f;
}

/* Returns 1 if the instance has an inactive pool. */
static int check_instance(int idx, int M, const double *mu, double total, uniforms *g)
{
    int32_t order[MAXM];
    double x[MAXM], p[MAXM], xb[MAXM], y[MAXM];
    order_by_mu(M, mu, order);
    for (int k = 1; k < M; k++)
        CHECK_QUIET(mu[order[k - 1]] >= mu[order[k]], "order");
    int32_t active = cloud_model_waterfill(M, mu, order, total, x);

    /* (a) 0 <= x < mu; (b) sum x = Lambda */
    double sum_x = 0.0;
    int n_active = 0;
    for (int m = 0; m < M; m++) {
        CHECK_QUIET(x[m] >= 0.0 && x[m] < mu[m], "instance %d pool %d: x %.17g, mu %.17g", idx,
                    m, x[m], mu[m]);
        sum_x += x[m];
        n_active += x[m] > 0.0;
    }
    CHECK_QUIET(fabs(sum_x - total) <= 1e-9 * total, "instance %d: sum x %.17g, Lambda %.17g",
                idx, sum_x, total);
    CHECK_QUIET(active == n_active, "instance %d: returned %d active, %d with x > 0", idx,
                (int)active, n_active);
    CHECK_QUIET(active >= 1 && active <= M, "instance %d: active %d", idx, (int)active);

    /* (c) marginal costs equal over the active pools */
    double nu_min = INFINITY, nu_max = 0.0;
    for (int m = 0; m < M; m++)
        if (x[m] > 0.0) {
            double gap = mu[m] - x[m];
            double marginal = mu[m] / (gap * gap);
            nu_min = fmin(nu_min, marginal);
            nu_max = fmax(nu_max, marginal);
        }
    double nu = 0.5 * (nu_min + nu_max);
    CHECK_QUIET((nu_max - nu_min) <= 1e-8 * nu, "instance %d: marginal costs %.17g .. %.17g",
                idx, nu_min, nu_max);
    /* (d) an inactive pool's marginal cost at 0 is not below the level */
    for (int m = 0; m < M; m++)
        if (x[m] == 0.0)
            CHECK_QUIET(1.0 / mu[m] >= nu * (1.0 - 1e-9),
                        "instance %d pool %d inactive: 1/mu %.17g < nu %.17g", idx, m,
                        1.0 / mu[m], nu);

    /* the independent bisection solution */
    CHECK(oracle_sqrt_split(M, mu, total, xb));
    for (int m = 0; m < M; m++)
        CHECK_QUIET(fabs(x[m] - xb[m]) <= 1e-7 * fmax(1.0, mu[m]),
                    "instance %d pool %d: waterfill %.17g, bisection %.17g (mu %.17g)", idx, m,
                    x[m], xb[m], mu[m]);

    /* p* = x* / Lambda, summing to 1 */
    cloud_model_optimal_probs(M, mu, order, total, p);
    double sum_p = 0.0;
    for (int m = 0; m < M; m++) {
        CHECK_QUIET(fabs(p[m] - x[m] / total) <= 1e-15 * fmax(p[m], 1e-300) + 1e-300,
                    "instance %d pool %d: p %.17g, x/Lambda %.17g", idx, m, p[m], x[m] / total);
        sum_p += p[m];
    }
    CHECK_QUIET(fabs(sum_p - 1.0) <= 1e-9, "instance %d: sum p* %.17g", idx, sum_p);

    /* no random feasible move lowers the objective */
    double f_star = objective(M, mu, x);
    int inactive = M - n_active;
    for (int t = 0; t < 100; t++) {
        int from, to;
        do
            from = (int)(uni(g) * M) % M;
        while (x[from] <= 0.0);
        if (inactive > 0 && uni(g) < 0.3) {
            do
                to = (int)(uni(g) * M) % M;
            while (x[to] > 0.0);
        } else {
            if (n_active < 2)
                continue;
            do
                to = (int)(uni(g) * M) % M;
            while (x[to] <= 0.0 || to == from);
        }
        /* step: any scale up to just short of a bound */
        double room = fmin(x[from], mu[to] - x[to]);
        double u = uni(g);
        double d = 0.999 * room * u * u * u;
        for (int m = 0; m < M; m++)
            y[m] = x[m];
        y[from] -= d;
        y[to] += d;
        double f = objective(M, mu, y);
        CHECK_QUIET(f_star <= f + 1e-12 * f_star,
                    "instance %d: move %.3g from %d to %d lowers the objective %.17g -> %.17g",
                    idx, d, from, to, f_star, f);
    }
    return inactive > 0;
}

static void check_overload(int idx, int M, const double *mu, double total)
{
    int32_t order[MAXM];
    double x[MAXM], p[MAXM];
    order_by_mu(M, mu, order);
    int32_t active = cloud_model_waterfill(M, mu, order, total, x);
    CHECK_QUIET(active == M, "overload %d: %d active of %d", idx, (int)active, M);
    double sum_x = 0.0;
    for (int m = 0; m < M; m++) {
        CHECK_QUIET(x[m] >= mu[m] * (1.0 - 1e-12), "overload %d pool %d: x %.17g < mu %.17g",
                    idx, m, x[m], mu[m]);
        sum_x += x[m];
    }
    CHECK_QUIET(fabs(sum_x - total) <= 1e-9 * total, "overload %d: sum x %.17g, Lambda %.17g",
                idx, sum_x, total);
    cloud_model_optimal_probs(M, mu, order, total, p);
    double sum_p = 0.0;
    for (int m = 0; m < M; m++)
        sum_p += p[m];
    CHECK_QUIET(fabs(sum_p - 1.0) <= 1e-9, "overload %d: sum p* %.17g", idx, sum_p);
}

int main(void)
{
    enum { INSTANCES = 3000, OVERLOADS = 500 };
    uniforms g = {1, 0};
    double mu[MAXM];
    int with_inactive = 0;
    for (int idx = 0; idx < INSTANCES; idx++) {
        const int M = random_pools(&g, MAXM, mu, NULL);
        int kind = idx % 3;
        double frac;
        if (kind == 1) {
            /* a few very small pools and a low load: some must be off */
            int n_small = 1 + (int)(uni(&g) * 3.0);
            if (n_small > M - 1)
                n_small = M - 1;
            for (int s = 0; s < n_small; s++)
                mu[(int)(uni(&g) * M) % M] = log_uniform(&g, 0.1, 0.5);
            frac = 0.01 + 0.29 * uni(&g);
        } else if (kind == 2) {
            /* ties: pools drawn from a handful of capacities */
            double levels[3] = {log_uniform(&g, 0.1, 1000.0), log_uniform(&g, 0.1, 1000.0),
                                log_uniform(&g, 0.1, 1000.0)};
            for (int m = 0; m < M; m++)
                mu[m] = levels[(int)(uni(&g) * 3.0) % 3];
            frac = 0.01 + 0.98 * uni(&g);
        } else {
            frac = 0.01 + 0.98 * uni(&g);
        }
        double sum_mu = 0.0;
        for (int m = 0; m < M; m++)
            sum_mu += mu[m];
        with_inactive += check_instance(idx, M, mu, frac * sum_mu, &g);
    }
    CHECK(with_inactive >= INSTANCES / 5);
    CHECK(with_inactive < INSTANCES); /* and some with every pool on */

    for (int idx = 0; idx < OVERLOADS; idx++) {
        double sum_mu;
        const int M = random_pools(&g, MAXM, mu, &sum_mu);
        /* exactly at capacity, then beyond it */
        check_overload(idx, M, mu, idx == 0 ? sum_mu : sum_mu * (1.0 + 2.0 * uni(&g)));
    }
    printf("waterfill: %d instances, %d with an inactive pool; %d overload instances\n",
           INSTANCES, with_inactive, OVERLOADS);
    return test_finish("test_waterfill");
}
