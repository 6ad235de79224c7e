/* test_state_reference.c — the state-dependent reference of
 * envs/cloud/cloud_model.h (cloud_model_state_level, _reference, _probs) on
 * 4000 random instances of the fluid problem
 *   min sum_m (Q_m + A_m)^2 / (2 mu_m)  s.t. sum_m A_m = W, A_m >= 0,
 * with M in [2, 32], mu log-uniform over [0.1, 1000], integer backlogs Q
 * (all empty, some far above the level, or mixed) and W from 0 to several
 * times sum mu, checked against
 *   - an independent solution: bisection on the multiplier (fluid_oracle.h);
 *   - the KKT conditions: A >= 0, sum A = W, (Q_m + A_m) / mu_m = L where
 *     A_m > 0 and Q_m / mu_m >= L where A_m = 0;
 *   - the objective at A* no larger than at random feasible perturbations;
 *   - p*(s) = A* / W summing to 1, and x~ = max(L, Q / mu);
 *   - with W = 0: p*(s) on the least loaded pools in proportion to mu.
 * Plus the instance where a pool sits exactly at the level (it once made
 * the active-set iteration cycle forever). */
#include "cloud_model.h"
#include "fluid_oracle.h"
#include "rng.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define SEED 0x57a7e0ffULL
#define MAXM 32

#include "test_uniforms.h"

static double fluid_objective(int M, const double *mu, const int64_t *queue, const double *a)
{
    double f = 0.0;
    for (int m = 0; m < M; m++) {
        double x = (double)queue[m] + a[m];
        f += x * x / (2.0 * mu[m]);
    }
    return f;
}

/* Returns 1 if some pool receives no work at the optimum. */
static int check_instance(int idx, int M, const double *mu, const int64_t *queue, double work,
                          uniforms *g)
{
    double p[MAXM], reference[MAXM], a[MAXM];
    const double level = cloud_model_state_level(M, mu, queue, work);
    const double oracle = oracle_level(M, mu, queue, work);
    CHECK_QUIET(fabs(level - oracle) <= 1e-9 * (1.0 + fabs(oracle)),
                "instance %d: level %.17g, bisection %.17g", idx, level, oracle);
    const double returned = cloud_model_state_reference(M, mu, queue, work, reference);
    CHECK_QUIET(returned == level, "instance %d: reference's level %.17g vs %.17g", idx, returned,
                level);
    cloud_model_state_probs(M, mu, queue, work, p);
    double sum_p = 0.0, sum_a = 0.0, scale = work + 1.0;
    int inactive = 0;
    for (int m = 0; m < M; m++) {
        const double q = (double)queue[m] / mu[m];
        CHECK_QUIET(p[m] >= 0.0, "instance %d: p[%d] = %g", idx, m, p[m]);
        CHECK_QUIET(reference[m] == (q > level ? q : level), "instance %d: x~[%d] %g", idx, m,
                    reference[m]);
        a[m] = p[m] * work;
        sum_p += p[m];
        sum_a += a[m];
        if (work > 0.0 && a[m] > 1e-12 * scale) {
            /* active: levelled at L */
            CHECK_QUIET(fabs(((double)queue[m] + a[m]) / mu[m] - oracle) <=
                            1e-8 * (1.0 + oracle),
                        "instance %d: pool %d active at %.17g, level %.17g", idx, m,
                        ((double)queue[m] + a[m]) / mu[m], oracle);
        } else if (work > 0.0) {
            /* off: already at or above the level */
            inactive = 1;
            CHECK_QUIET(q >= oracle - 1e-9 * (1.0 + oracle),
                        "instance %d: pool %d off with Q/mu %.17g below the level %.17g", idx, m,
                        q, oracle);
        }
    }
    CHECK_QUIET(fabs(sum_p - 1.0) <= 1e-12, "instance %d: sum p = %.17g", idx, sum_p);
    if (work > 0.0) {
        CHECK_QUIET(fabs(sum_a - work) <= 1e-12 * scale, "instance %d: sum A = %.17g, W = %g",
                    idx, sum_a, work);
        /* no feasible perturbation does better: move mass d from a pool
         * with work to any other pool */
        const double best = fluid_objective(M, mu, queue, a);
        for (int trial = 0; trial < 8; trial++) {
            int from = (int)(uni(g) * M) % M, to = (int)(uni(g) * M) % M;
            if (from == to || a[from] <= 0.0)
                continue;
            double moved[MAXM];
            for (int m = 0; m < M; m++)
                moved[m] = a[m];
            double d = a[from] * (0.001 + 0.999 * uni(g));
            moved[from] -= d;
            moved[to] += d;
            double f = fluid_objective(M, mu, queue, moved);
            CHECK_QUIET(f >= best * (1.0 - 1e-12), "instance %d: perturbed %.17g < %.17g", idx,
                        f, best);
        }
    } else {
        /* W = 0: the limit direction, the least loaded pools by capacity */
        double least = INFINITY, mass = 0.0;
        for (int m = 0; m < M; m++)
            least = fmin(least, (double)queue[m] / mu[m]);
        for (int m = 0; m < M; m++)
            mass += (double)queue[m] / mu[m] == least ? mu[m] : 0.0;
        for (int m = 0; m < M; m++) {
            double expected = (double)queue[m] / mu[m] == least ? mu[m] / mass : 0.0;
            CHECK_QUIET(fabs(p[m] - expected) <= 1e-12, "instance %d: W = 0, p[%d] %g vs %g",
                        idx, m, p[m], expected);
        }
    }
    return inactive;
}

int main(void)
{
    enum { INSTANCES = 4000 };
    uniforms g = {1, 0};
    double mu[MAXM];
    int64_t queue[MAXM];
    int with_inactive = 0, empty = 0, no_work = 0;
    for (int idx = 0; idx < INSTANCES; idx++) {
        double sum_mu;
        const int M = random_pools(&g, MAXM, mu, &sum_mu);
        const int kind = idx % 4;
        for (int m = 0; m < M; m++) {
            double steps = kind == 0   ? 0.0                                  /* empty system */
                           : kind == 1 ? (uni(&g) < 0.3 ? 50.0 * uni(&g) : 0.0) /* a few full */
                           : kind == 2 ? 5.0 * uni(&g)                          /* mixed */
                                       : (m % 3 == 0 ? 2.0 : 0.0);              /* ties */
            queue[m] = (int64_t)floor(steps * mu[m]);
        }
        double work = idx % 7 == 0 ? 0.0 : floor(sum_mu * 3.0 * uni(&g) * uni(&g));
        empty += kind == 0;
        no_work += work == 0.0;
        with_inactive += check_instance(idx, M, mu, queue, work, &g);
    }
    CHECK(with_inactive >= INSTANCES / 5);
    CHECK(with_inactive < INSTANCES);

    /* W = 0 with the least loaded pools tied at a backlog that is not a
     * round number: their level sum Q / sum mu can round one ulp below
     * each Q_m / mu_m (a state `dgpg train` met at N = 5, found by its NaN
     * guard: p* was 0 / 0), so pools of capacity b, 2b, 4b hold 1, 2, 4 */
    {
        const double seen_mu[8] = {0.095122284829554454, 0.19024456965910891,
                                   0.76097827863643563,  0.76097827863643563,
                                   0.38048913931821782,  0.76097827863643563,
                                   0.38048913931821782,  0.76097827863643563};
        const int64_t seen_q[8] = {1, 1, 6, 7, 1, 3, 3, 2};
        check_instance(-1, 8, seen_mu, seen_q, 0.0, &g);
        for (int idx = 0; idx < 1000; idx++) {
            const double b = 0.05 + uni(&g);
            double tied_mu[6] = {b, 2.0 * b, 4.0 * b, b * (1.0 + uni(&g)), 3.0 * b, 0.5 * b};
            int64_t tied_q[6] = {1, 2, 4, 0, 0, 0};
            for (int m = 3; m < 6; m++) /* the others above the tie */
                tied_q[m] = (int64_t)ceil(tied_mu[m] / b * (1.5 + 3.0 * uni(&g)));
            check_instance(INSTANCES + idx, 6, tied_mu, tied_q, 0.0, &g);
        }
    }

    /* a pool exactly at the level: 8/8 = 62/(16 + 8 + 32 + 6) = 1 */
    {
        const double tie_mu[5] = {8.0, 16.0, 8.0, 32.0, 6.0};
        const int64_t tie_q[5] = {8, 0, 0, 0, 0};
        CHECK(cloud_model_state_level(5, tie_mu, tie_q, 62.0) == 1.0);
        double p[5];
        cloud_model_state_probs(5, tie_mu, tie_q, 62.0, p);
        CHECK(p[0] == 0.0);
        CHECK_NEAR(p[1], 16.0 / 62.0, 1e-15);
        check_instance(INSTANCES, 5, tie_mu, tie_q, 62.0, &g);
    }
    printf("state reference: %d instances (%d empty systems, %d without work), %d with a pool "
           "left out\n",
           INSTANCES, empty, no_work, with_inactive);
    return test_finish("test_state_reference");
}
