/* test_model_grad.c — the analytical cloud model of envs/cloud/cloud_model.h:
 *   - cloud_model_cost_grad's gradient dC/dp_i[m] against central finite
 *     differences of the cost, (C(p + h e) - C(p - h e)) / 2h, h = 1e-6, on
 *     random instances with N in {1, 3, 20} agents and M in {2, 5, 8}
 *     pools, rows of p on the simplex (softmax of random logits), barrier
 *     0.95, in four regimes: every pool below the barrier; every pool
 *     beyond it (rates scaled up); half the pools just beyond it; every
 *     pool at the barrier or 1e-4 to either side of it;
 *   - cloud_model_occupancy: n(rho) = rho / (1 - rho), n' = 1 / (1 - rho)^2
 *     exactly for rho <= barrier; beyond it the second-order Taylor
 *     extension at the barrier; value and slope continuous at the barrier;
 *     the slope equal to a finite difference of the value on either side,
 *     and the second derivative continuous too (C^2);
 *   - cloud_model_flows and cloud_model_cost against a double loop and the
 *     occupancy written out in this test.
 * Instances come from the counter-based rng with a fixed seed. */
#include "cloud_model.h"
#include "rng.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SEED 0x9a7d0c0511ULL
#define MAXN 20
#define MAXM 8
#define BARRIER 0.95

#include "test_uniforms.h"

static double uni_range(uniforms *g, double lo, double hi)
{
    return lo + (hi - lo) * uni(g);
}

/* The model's occupancy written out from the SPEC: rho / (1 - rho) up to
 * the barrier b, then n(b) + n'(b) d + n''(b) d^2 / 2 with d = rho - b. */
static double occupancy_ref(double rho, double b, double *slope)
{
    if (rho <= b) {
        *slope = 1.0 / ((1.0 - rho) * (1.0 - rho));
        return rho / (1.0 - rho);
    }
    double nb = b / (1.0 - b), d1 = 1.0 / ((1.0 - b) * (1.0 - b)),
           d2 = 2.0 / ((1.0 - b) * (1.0 - b) * (1.0 - b)), d = rho - b;
    *slope = d1 + d2 * d;
    return nb + d1 * d + 0.5 * d2 * d * d;
}

static double max_ratio; /* largest |fd - grad| / tolerance seen */

/* One random instance of the given regime: gradient against finite
 * differences, and cost against the double loop. */
static void check_instance(int N, int M, int regime, uniforms *g)
{
    double rate[MAXN], probs[MAXN * MAXM], mu[MAXM], x[MAXM];
    double flows[MAXM], slope[MAXM], grad[MAXN * MAXM];
    double flows2[MAXM], slope2[MAXM], grad2[MAXN * MAXM];
    for (int i = 0; i < N; i++) {
        rate[i] = exp(uni_range(g, log(0.5), log(2.0)));
        double logit[MAXM], zmax = -INFINITY, z = 0.0;
        for (int m = 0; m < M; m++) {
            logit[m] = uni_range(g, -2.0, 2.0);
            zmax = fmax(zmax, logit[m]);
        }
        for (int m = 0; m < M; m++)
            z += exp(logit[m] - zmax);
        /* half softmax, half uniform: every p_i[m] >= 1 / (2M), so the step
         * h moves rho_m by at most about 2M h rho_m, and the central
         * difference's own truncation error, (delta rho / (1 - rho))^2
         * relative, stays below 1e-7 even at the barrier */
        for (int m = 0; m < M; m++)
            probs[i * M + m] = 0.5 * exp(logit[m] - zmax) / z + 0.5 / M;
    }
    /* the flows, then each pool's mu set for its target utilisation */
    double total = 0.0;
    for (int i = 0; i < N; i++)
        total += rate[i];
    for (int m = 0; m < M; m++) {
        x[m] = 0.0;
        for (int i = 0; i < N; i++)
            x[m] += rate[i] * probs[i * M + m];
        double rho;
        switch (regime) {
        case 0: /* below the barrier */
            rho = uni_range(g, 0.2, 0.9);
            break;
        case 1: /* rates scaled up: every pool beyond the barrier */
            rho = uni_range(g, 0.96, 1.6);
            break;
        case 2: /* half the pools just beyond the barrier */
            rho = m % 2 ? uni_range(g, 0.96, 1.1) : uni_range(g, 0.6, 0.94);
            break;
        default: { /* at the barrier or 1e-4 to either side */
            int side = (int)(uni(g) * 3.0) % 3;
            rho = BARRIER + (side == 0 ? -1e-4 : side == 1 ? 0.0 : 1e-4);
            break;
        }
        }
        mu[m] = x[m] / rho;
    }

    /* cost against the double loop and the occupancy written out here */
    cloud_model_flows(N, M, rate, probs, flows2);
    double cost_ref = 0.0;
    for (int m = 0; m < M; m++) {
        CHECK_QUIET(fabs(flows2[m] - x[m]) <= 1e-14 * x[m], "flow %d: %.17g vs %.17g", m,
                    flows2[m], x[m]);
        double s;
        cost_ref += occupancy_ref(x[m] / mu[m], BARRIER, &s);
        slope2[m] = s;
    }
    cost_ref /= total;
    double slope_lib[MAXM];
    double cost = cloud_model_cost(M, mu, flows2, total, BARRIER, slope_lib);
    CHECK_QUIET(fabs(cost - cost_ref) <= 1e-12 * cost_ref, "N %d M %d regime %d: cost %.17g vs %.17g",
                N, M, regime, cost, cost_ref);
    for (int m = 0; m < M; m++)
        CHECK_QUIET(fabs(slope_lib[m] - slope2[m]) <= 1e-12 * slope2[m],
                    "slope %d: %.17g vs %.17g", m, slope_lib[m], slope2[m]);
    CHECK_QUIET(cloud_model_cost(M, mu, flows2, total, BARRIER, NULL) == cost, "%s",
                "cost without slopes");

    /* the gradient against central differences */
    double c0 = cloud_model_cost_grad(N, M, mu, rate, probs, BARRIER, flows, slope, grad);
    CHECK_QUIET(fabs(c0 - cost_ref) <= 1e-12 * cost_ref, "cost_grad cost %.17g vs %.17g", c0,
                cost_ref);
    for (int m = 0; m < M; m++)
        CHECK_QUIET(fabs(flows[m] - x[m]) <= 1e-14 * x[m], "cost_grad flow %d", m);
    const double h = 1e-6;
    for (int i = 0; i < N; i++)
        for (int m = 0; m < M; m++) {
            double keep = probs[i * M + m];
            probs[i * M + m] = keep + h;
            double cp = cloud_model_cost_grad(N, M, mu, rate, probs, BARRIER, flows2, slope2, grad2);
            probs[i * M + m] = keep - h;
            double cm = cloud_model_cost_grad(N, M, mu, rate, probs, BARRIER, flows2, slope2, grad2);
            probs[i * M + m] = keep;
            double fd = (cp - cm) / (2.0 * h);
            double gi = grad[i * M + m];
            double tol = 1e-6 * fabs(gi) + 1e-9;
            max_ratio = fmax(max_ratio, fabs(fd - gi) / tol);
            CHECK_QUIET(fabs(fd - gi) <= tol,
                        "N %d M %d regime %d, p[%d,%d] (rho %.6g): grad %.12g, fd %.12g", N, M,
                        regime, i, m, x[m] / mu[m], gi, fd);
        }
}

static void check_occupancy(double b)
{
    double s_left, s_right, s;
    /* (1) exactly rho / (1 - rho) and 1 / (1 - rho)^2 up to the barrier */
    for (int k = 0; k <= 1000; k++) {
        double rho = b * k / 1000.0;
        double v = cloud_model_occupancy(rho, b, &s);
        CHECK_QUIET(v == rho / (1.0 - rho), "b %g rho %.17g: n %.17g", b, rho, v);
        CHECK_QUIET(s == 1.0 / ((1.0 - rho) * (1.0 - rho)), "b %g rho %.17g: n' %.17g", b, rho, s);
        CHECK_QUIET(cloud_model_occupancy(rho, b, NULL) == v, "%s", "NULL slope");
    }
    double vb = cloud_model_occupancy(b, b, &s_left);
    CHECK(vb == b / (1.0 - b));
    /* (2) beyond the barrier: the Taylor extension */
    for (int k = 1; k <= 1000; k++) {
        double rho = b + 3.0 * k / 1000.0, s_ref;
        double v = cloud_model_occupancy(rho, b, &s);
        double v_ref = occupancy_ref(rho, b, &s_ref);
        CHECK_QUIET(fabs(v - v_ref) <= 1e-12 * v_ref, "b %g rho %.17g: %.17g vs %.17g", b, rho,
                    v, v_ref);
        CHECK_QUIET(fabs(s - s_ref) <= 1e-12 * s_ref, "b %g rho %.17g: slope %.17g vs %.17g", b,
                    rho, s, s_ref);
    }
    /* (3) continuity of value and slope at the barrier */
    double vr = cloud_model_occupancy(nextafter(b, 2.0), b, &s_right);
    CHECK_NEAR(vr, vb, 1e-9 * vb);
    CHECK_NEAR(s_right, s_left, 1e-9 * s_left);
    double eps = 1e-9;
    double sl2, sr2;
    double vl = cloud_model_occupancy(b - eps, b, &sl2);
    vr = cloud_model_occupancy(b + eps, b, &sr2);
    CHECK_NEAR(vr - vl, 2.0 * eps * s_left, 1e-3 * 2.0 * eps * s_left); /* 2 eps n'(b) apart */
    CHECK_NEAR(sr2 - sl2, 2.0 * eps * 2.0 / ((1.0 - b) * (1.0 - b) * (1.0 - b)),
               1e-3 * 4.0 * eps / ((1.0 - b) * (1.0 - b) * (1.0 - b)));
    /* (4) the slope is the derivative of the value on each side, and the
     * second derivative is continuous: both sides near 2 / (1 - b)^3 */
    const double offsets[] = {-0.3, -0.05, -1e-2, -1e-3, 1e-3, 1e-2, 0.05, 0.5, 2.0};
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        double rho = b + offsets[o];
        if (rho < 0.0)
            continue;
        double h = 1e-3 * fabs(offsets[o]); /* the stencil stays on one side */
        double sp, sm, s0;
        double vp = cloud_model_occupancy(rho + h, b, &sp);
        double vm = cloud_model_occupancy(rho - h, b, &sm);
        cloud_model_occupancy(rho, b, &s0);
        double fd = (vp - vm) / (2.0 * h);
        CHECK_NEAR(fd, s0, 1e-6 * s0);
    }
    double d = 1e-6 * (1.0 - b), s_m, s_p, s_0; /* left: n''' d / 2 ~ 3e-6 relative */
    cloud_model_occupancy(b - d, b, &s_m);
    cloud_model_occupancy(b, b, &s_0);
    cloud_model_occupancy(b + d, b, &s_p);
    double second = 2.0 / ((1.0 - b) * (1.0 - b) * (1.0 - b));
    CHECK_NEAR((s_0 - s_m) / d, second, 1e-4 * second);
    CHECK_NEAR((s_p - s_0) / d, second, 1e-4 * second);
}

int main(void)
{
    const double barriers[] = {0.5, 0.9, 0.95, 0.99};
    for (size_t k = 0; k < sizeof barriers / sizeof barriers[0]; k++)
        check_occupancy(barriers[k]);

    const int ns[] = {1, 3, 20}, ms[] = {2, 5, 8};
    uniforms g = {3, 0};
    int instances = 0;
    for (int a = 0; a < 3; a++)
        for (int c = 0; c < 3; c++)
            for (int regime = 0; regime < 4; regime++)
                for (int rep = 0; rep < 25; rep++) {
                    check_instance(ns[a], ms[c], regime, &g);
                    instances++;
                }
    printf("model_grad: %d instances, largest |fd - grad| / tolerance %.3g\n", instances,
           max_ratio);
    return test_finish("test_model_grad");
}
