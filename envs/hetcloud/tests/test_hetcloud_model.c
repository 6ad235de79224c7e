/* test_hetcloud_model.c — the hetcloud_util model (hetcloud_model.h)
 * through the registry (dgpg_find_model), on environment instances stepped
 * until queues and running jobs exist. Truth recomputed here:
 *
 *  (a) optimal_probs p*: against this file's own solver of
 *        min_p C(p) = 1/2 sum_n [(Rc_n + Wc p_n)^2 / Cc_n + (Rm_n + Wm p_n)^2 / Cm_n]
 *      on the simplex, by bisection on the KKT level nu (p_n = max(0, (nu -
 *      b_n) / (2 a_n)), a_n = (Wc^2/Cc_n + Wm^2/Cm_n) / 2, b_n = Wc Rc_n/Cc_n +
 *      Wm Rm_n/Cm_n; 200 halvings), |p - p_bisect| <= 1e-9; the KKT
 *      conditions on the program's p* (dC/dp_n = nu where p_n > 0, >= nu
 *      where p_n = 0, to 1e-9 relative); and on M = 3, by brute force, no
 *      point of a 1/300 grid over the simplex costs less than p* (to 1e-12
 *      relative). R (demand) = running + queued per server read from
 *      hetcloud_instance_servers, W = the bundles' sums; with no job in the
 *      step, W = one mean job (the mean from hc_cpu_pmf's law), a case
 *      required to occur (a light load);
 *  (b) cost(e, probs, &C, grad) at random probs: C against
 *        C = 1/2 sum_n sum_r x_rn^2 / C_rn / Lambda(t), x = R + sum_i w_i p_i[n],
 *      Lambda(t) the rate table summed at the coming step's day index (1e-6
 *      relative: the table is float); grad against central finite
 *      differences of the program's C (h = 1e-4; C is quadratic, so the
 *      differences are exact but for rounding: 1e-7 relative);
 *  (c) influence after a step, with probs NULL and with the step's probs:
 *        g_i = sum_r w_ri (x_r,k/C_r,k - U_r), U_r = sum_n x_rn / sum_n C_rn,
 *      R the demand captured BEFORE the step, w the bundles before it, k
 *      agent i's action, x = R + sum_i w_i [k_i = n] (NULL) or R + sum_i w_i
 *      p_i[n]; the relation influence_i = Lambda dC/dp_i[k_i] - (w_cpu,i
 *      U_cpu + w_mem,i U_mem), dC/dp from cost() before the step with the
 *      same probs; and the identity, from sum_n (x_rn - U_r C_rn) = 0,
 *        sum_i g_i + sum_r sum_n R_rn (x_rn/C_rn - U_r) = sum_r sum_n (x_rn - U_r C_rn)^2 / C_rn
 *      for the load as dispatched (x = R + what the agents placed; exact in
 *      real numbers, checked to 1e-9 relative);
 *  (d) the batched forms (optimal_probs_batch, cost_grad_batch,
 *      influence_batch; float) agree with the per-environment ones to float
 *      precision (2e-6 relative). */
#include "hetcloud_fixture.h"

#define SEED 0x6d6f64656cULL
#include "test_uniforms.h"

typedef struct setup {
    dgpg_config cfg;
    const dgpg_env_api *api;
    const dgpg_model_api *model;
    hetcloud_instance *inst;
    void *m;
    int64_t E;
    int N, M;
    double cpu_mean, mem_mean;
} setup;

static void make_setup(setup *s, int N, int M, int E, double rho, uint64_t seed)
{
    char sets[8][64];
    snprintf(sets[0], 64, "env.n_agents=%d", N);
    snprintf(sets[1], 64, "env.n_pools=%d", M);
    snprintf(sets[2], 64, "env.n_envs=%d", E);
    snprintf(sets[3], 64, "env.rho=%g", rho);
    snprintf(sets[4], 64, "env.queue_jobs=6");
    snprintf(sets[5], 64, "env.large_job_prob=0.25");
    snprintf(sets[6], 64, "env.day_length=30");
    snprintf(sets[7], 64, "env.horizon=400");
    const char *ptr[8];
    for (int k = 0; k < 8; k++)
        ptr[k] = sets[k];
    hc_config(&s->cfg, ptr, 8);
    s->api = hc_api();
    s->model = dgpg_find_model("hetcloud_util");
    CHECK(s->model != NULL && strcmp(s->model->env_name, "hetcloud") == 0);
    s->inst = hc_create(&s->cfg, seed, E, 1);
    s->m = hc_model(s->model, &s->cfg, s->inst);
    s->E = E;
    s->N = N;
    s->M = M;
    /* the defaults: large_job_min 2, pareto_alpha 1.5, job_cpu_cap 8,
     * ratios 1..8 GiB per vCPU; large_job_prob set above */
    double pmf[8];
    s->cpu_mean = hc_cpu_pmf(0.25, 2, 1.5, 8, pmf);
    s->mem_mean = s->cpu_mean * hc_ratio_mean(1, 8);
    CHECK_INT_EQ(s->api->reset(s->inst, 1), DGPG_OK);
}

static void free_setup(setup *s)
{
    s->model->destroy(s->m);
    s->api->destroy(s->inst);
}

static void advance(setup *s, const char *policy, int steps)
{
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(s->E * s->N));
    float *r = malloc(sizeof(float) * (size_t)s->E);
    const int p = s->api->policy_find(s->inst, policy);
    for (int t = 0; t < steps; t++) {
        CHECK_QUIET(s->api->policy_act(s->inst, p, a) == DGPG_OK, "policy_act");
        CHECK_QUIET(s->api->step(s->inst, a, r) == DGPG_OK, "step");
    }
    free(a);
    free(r);
}

/* R (M, 2) of environment e now and the requests w (N, 2). */
static void read_state(const setup *s, int64_t e, double *R, double *w)
{
    const hetcloud_server *sv = hetcloud_instance_servers(s->inst) + e * s->M;
    for (int n = 0; n < s->M; n++) {
        R[2 * n] = (double)(sv[n].cpu_used + sv[n].cpu_queued);
        R[2 * n + 1] = (double)(sv[n].mem_used + sv[n].mem_queued);
    }
    const hetcloud_bundle *b = hetcloud_instance_bundles(s->inst) + e * s->N;
    for (int i = 0; i < s->N; i++) {
        w[2 * i] = b[i].cpu;
        w[2 * i + 1] = b[i].mem;
    }
}

/* The one-split cost 1/2 sum_n sum_r (R + W p)^2 / C (no 1/Lambda). */
static double split_cost(const hetcloud_scenario *sc, const double *R, double wc, double wm,
                         const double *p)
{
    double c = 0.0;
    for (int n = 0; n < sc->n_servers; n++) {
        const double xc = R[2 * n] + wc * p[n], xm = R[2 * n + 1] + wm * p[n];
        c += 0.5 * (xc * xc / sc->cpu_cap[n] + xm * xm / sc->mem_cap[n]);
    }
    return c;
}

/* Bisection on nu: sum_n max(0, (nu - b_n) / (2 a_n)) = 1. */
static void bisect_split(const hetcloud_scenario *sc, const double *R, double wc, double wm,
                         double *p)
{
    const int M = sc->n_servers;
    double a[HETCLOUD_MAX_SERVERS], b[HETCLOUD_MAX_SERVERS];
    double lo = INFINITY, hi = -INFINITY;
    for (int n = 0; n < M; n++) {
        a[n] = 0.5 * (wc * wc / sc->cpu_cap[n] + wm * wm / sc->mem_cap[n]);
        b[n] = wc * R[2 * n] / sc->cpu_cap[n] + wm * R[2 * n + 1] / sc->mem_cap[n];
        lo = fmin(lo, b[n]);
        hi = fmax(hi, b[n] + 2.0 * a[n]); /* at nu = hi, p_n >= 1 for the argmax */
    }
    for (int it = 0; it < 200; it++) {
        const double nu = 0.5 * (lo + hi);
        double total = 0.0;
        for (int n = 0; n < M; n++)
            total += fmax(0.0, (nu - b[n]) / (2.0 * a[n]));
        if (total > 1.0)
            hi = nu;
        else
            lo = nu;
    }
    const double nu = 0.5 * (lo + hi);
    for (int n = 0; n < M; n++)
        p[n] = fmax(0.0, (nu - b[n]) / (2.0 * a[n]));
}

static void check_pstar(setup *s, int steps, int *no_job_states, int brute)
{
    const int M = s->M, N = s->N;
    double R[2 * HETCLOUD_MAX_SERVERS], *w = malloc(sizeof(double) * 2 * (size_t)N);
    double p[HETCLOUD_MAX_SERVERS], q[HETCLOUD_MAX_SERVERS];
    const hetcloud_scenario *scs = hetcloud_instance_scenarios(s->inst);
    for (int t = 0; t < steps; t++) {
        for (int64_t e = 0; e < s->E; e++) {
            const hetcloud_scenario *sc = &scs[e];
            read_state(s, e, R, w);
            double wc = 0.0, wm = 0.0;
            for (int i = 0; i < N; i++) {
                wc += w[2 * i];
                wm += w[2 * i + 1];
            }
            if (wc == 0.0 && wm == 0.0) {
                wc = s->cpu_mean;
                wm = s->mem_mean;
                ++*no_job_states;
            }
            CHECK_INT_EQ(s->model->optimal_probs(s->m, e, p), DGPG_OK);
            bisect_split(sc, R, wc, wm, q);
            double total = 0.0, dev = 0.0;
            for (int n = 0; n < M; n++) {
                total += p[n];
                dev = fmax(dev, fabs(p[n] - q[n]));
                CHECK_QUIET(p[n] >= 0.0, "p*[%d] = %g", n, p[n]);
            }
            CHECK_QUIET(fabs(total - 1.0) <= 1e-12, "sum p* = %.17g", total);
            CHECK_QUIET(dev <= 1e-9, "env %lld: p* against bisection: max |diff| %.3g",
                        (long long)e, dev);
            /* KKT on the program's p*: g_n = b_n + 2 a_n p_n */
            double nu = -INFINITY, g[HETCLOUD_MAX_SERVERS], scale = 0.0;
            for (int n = 0; n < M; n++) {
                g[n] = wc * (R[2 * n] + wc * p[n]) / sc->cpu_cap[n] +
                       wm * (R[2 * n + 1] + wm * p[n]) / sc->mem_cap[n];
                scale = fmax(scale, fabs(g[n]));
                if (p[n] > 1e-12)
                    nu = fmax(nu, g[n]);
            }
            for (int n = 0; n < M; n++) {
                if (p[n] > 1e-12)
                    CHECK_QUIET(fabs(g[n] - nu) <= 1e-9 * scale, "KKT: active %d: %.15g vs %.15g",
                                n, g[n], nu);
                else
                    CHECK_QUIET(g[n] >= nu - 1e-9 * scale, "KKT: inactive %d: %.15g < %.15g", n,
                                g[n], nu);
            }
            if (brute && M == 3) {
                const double c_star = split_cost(sc, R, wc, wm, p);
                double best = INFINITY;
                const int G = 300;
                for (int i = 0; i <= G; i++)
                    for (int j = 0; i + j <= G; j++) {
                        const double pp[3] = {(double)i / G, (double)j / G,
                                              (double)(G - i - j) / G};
                        best = fmin(best, split_cost(sc, R, wc, wm, pp));
                    }
                CHECK_QUIET(best >= c_star - 1e-12 * c_star,
                            "a grid point costs %.15g < C(p*) = %.15g", best, c_star);
            }
        }
        advance(s, t % 2 ? "random" : "best_fit", 1);
    }
    free(w);
}

/* random probabilities (N, M), rows on the simplex */
static void random_probs(uniforms *g, int N, int M, double *probs)
{
    for (int i = 0; i < N; i++) {
        double t = 0.0;
        for (int n = 0; n < M; n++)
            t += probs[i * M + n] = -log(uni(g));
        for (int n = 0; n < M; n++)
            probs[i * M + n] /= t;
    }
}

static void check_cost(setup *s, uniforms *g)
{
    const int M = s->M, N = s->N;
    double R[2 * HETCLOUD_MAX_SERVERS];
    double *w = malloc(sizeof(double) * 2 * (size_t)N);
    double *probs = malloc(sizeof(double) * (size_t)(N * M));
    double *grad = malloc(sizeof(double) * (size_t)(N * M));
    const hetcloud_scenario *scs = hetcloud_instance_scenarios(s->inst);
    const uint64_t step = hetcloud_instance_step(s->inst);
    for (int64_t e = 0; e < s->E; e++) {
        const hetcloud_scenario *sc = &scs[e];
        read_state(s, e, R, w);
        const double lambda = hc_lambda(sc, step);
        for (int rep = 0; rep < 4; rep++) {
            random_probs(g, N, M, probs);
            double x[2 * HETCLOUD_MAX_SERVERS];
            for (int n = 0; n < M; n++) {
                x[2 * n] = R[2 * n];
                x[2 * n + 1] = R[2 * n + 1];
                for (int i = 0; i < N; i++) {
                    x[2 * n] += w[2 * i] * probs[i * M + n];
                    x[2 * n + 1] += w[2 * i + 1] * probs[i * M + n];
                }
            }
            double want = 0.0;
            for (int n = 0; n < M; n++)
                want += 0.5 * (x[2 * n] * x[2 * n] / sc->cpu_cap[n] +
                               x[2 * n + 1] * x[2 * n + 1] / sc->mem_cap[n]);
            want /= lambda;
            double c = 0.0;
            CHECK_INT_EQ(s->model->cost(s->m, e, probs, &c, grad), DGPG_OK);
            CHECK_NEAR(c, want, 1e-6 * want);
            double c_nograd = 0.0;
            CHECK_INT_EQ(s->model->cost(s->m, e, probs, &c_nograd, NULL), DGPG_OK);
            CHECK_NEAR(c_nograd, c, 0.0);
            /* central differences of the program's C */
            const double h = 1e-4;
            double gmax = 0.0;
            for (int k = 0; k < N * M; k++)
                gmax = fmax(gmax, fabs(grad[k]));
            for (int k = 0; k < N * M; k++) {
                const double keep = probs[k];
                double cp = 0.0, cm = 0.0;
                probs[k] = keep + h;
                s->model->cost(s->m, e, probs, &cp, NULL);
                probs[k] = keep - h;
                s->model->cost(s->m, e, probs, &cm, NULL);
                probs[k] = keep;
                const double fd = (cp - cm) / (2.0 * h);
                CHECK_QUIET(fabs(fd - grad[k]) <= 1e-7 * (gmax + c),
                            "env %lld dC/dp[%d]: %.12g, finite difference %.12g", (long long)e,
                            k, grad[k], fd);
            }
        }
    }
    free(w);
    free(probs);
    free(grad);
}

/* (c) and (d) for influence: one step with probabilities `fp` (E, N, M),
 * actions sampled from them by the test. */
static void check_influence(setup *s, uniforms *g)
{
    const int64_t E = s->E;
    const int M = s->M, N = s->N;
    const hetcloud_scenario *scs = hetcloud_instance_scenarios(s->inst);
    double *R = malloc(sizeof(double) * 2 * (size_t)(E * M));
    double *w = malloc(sizeof(double) * 2 * (size_t)(E * N));
    float *fp = malloc(sizeof(float) * (size_t)(E * N * M));
    double *dp = malloc(sizeof(double) * (size_t)(N * M));
    double *grad = malloc(sizeof(double) * (size_t)(E * N * M));
    double *lam = malloc(sizeof(double) * (size_t)E);
    int32_t *act = malloc(sizeof(int32_t) * (size_t)(E * N));
    float *rew = malloc(sizeof(float) * (size_t)E);
    double *inf_null = malloc(sizeof(double) * (size_t)(E * N));
    double *inf_p = malloc(sizeof(double) * (size_t)(E * N));
    float *inf_batch = malloc(sizeof(float) * (size_t)(E * N));
    const uint64_t step = hetcloud_instance_step(s->inst);
    for (int64_t e = 0; e < E; e++) {
        read_state(s, e, R + e * 2 * M, w + e * 2 * N);
        lam[e] = hc_lambda(&scs[e], step);
        for (int i = 0; i < N; i++) {
            double t = 0.0, tmp[HETCLOUD_MAX_SERVERS];
            for (int n = 0; n < M; n++)
                t += tmp[n] = -log(uni(g));
            for (int n = 0; n < M; n++)
                fp[(e * N + i) * M + n] = (float)(tmp[n] / t);
            /* an action drawn from the row */
            const double u = uni(g);
            double acc = 0.0;
            int k = M - 1;
            for (int n = 0; n < M; n++) {
                acc += fp[(e * N + i) * M + n];
                if (u < acc) {
                    k = n;
                    break;
                }
            }
            act[e * N + i] = k;
        }
        for (int k = 0; k < N * M; k++)
            dp[k] = fp[e * N * M + k];
        double c;
        CHECK_INT_EQ(s->model->cost(s->m, e, dp, &c, grad + e * N * M), DGPG_OK);
    }
    CHECK_INT_EQ(s->api->step(s->inst, act, rew), DGPG_OK);
    CHECK_INT_EQ(s->model->influence(s->m, NULL, inf_null), DGPG_OK);
    CHECK_INT_EQ(s->model->influence(s->m, fp, inf_p), DGPG_OK);
    CHECK_INT_EQ(s->model->influence_batch(s->m, fp, inf_batch), DGPG_OK);
    for (int64_t e = 0; e < E; e++) {
        const hetcloud_scenario *sc = &scs[e];
        const double *Re = R + e * 2 * M, *we = w + e * 2 * N;
        for (int form = 0; form < 2; form++) {
            double x[2 * HETCLOUD_MAX_SERVERS], ct = 0.0, mt = 0.0, cc = 0.0, mc = 0.0;
            for (int n = 0; n < M; n++) {
                x[2 * n] = Re[2 * n];
                x[2 * n + 1] = Re[2 * n + 1];
                for (int i = 0; i < N; i++) {
                    const double share =
                        form ? (double)fp[(e * N + i) * M + n] : (double)(act[e * N + i] == n);
                    x[2 * n] += we[2 * i] * share;
                    x[2 * n + 1] += we[2 * i + 1] * share;
                }
                ct += x[2 * n];
                mt += x[2 * n + 1];
                cc += sc->cpu_cap[n];
                mc += sc->mem_cap[n];
            }
            const double uc = ct / cc, um = mt / mc;
            const double *got = (form ? inf_p : inf_null) + e * N;
            double sum_g = 0.0, scale = 0.0;
            for (int i = 0; i < N; i++) {
                const int k = act[e * N + i];
                const double gi = we[2 * i] * (x[2 * k] / sc->cpu_cap[k] - uc) +
                                  we[2 * i + 1] * (x[2 * k + 1] / sc->mem_cap[k] - um);
                const double tol = 1e-9 * (fabs(gi) + we[2 * i] + we[2 * i + 1]);
                CHECK_QUIET(fabs(got[i] - gi) <= tol,
                            "env %lld agent %d (%s): influence %.15g, formula %.15g",
                            (long long)e, i, form ? "probs" : "dispatched", got[i], gi);
                sum_g += got[i];
                scale += fabs(gi);
                if (form) {
                    /* influence_i = Lambda dC/dp_i[k] - (w_c U_c + w_m U_m) */
                    const double rel = lam[e] * grad[(e * N + i) * M + k] -
                                       (we[2 * i] * uc + we[2 * i + 1] * um);
                    CHECK_QUIET(fabs(got[i] - rel) <= 1e-6 * (fabs(rel) + we[2 * i] * uc +
                                                              we[2 * i + 1] * um),
                                "env %lld agent %d: influence %.12g, Lambda dC/dp - w.U %.12g",
                                (long long)e, i, got[i], rel);
                    CHECK_QUIET(fabs((double)inf_batch[e * N + i] - got[i]) <=
                                    2e-6 * fabs(got[i]) + 1e-6,
                                "influence_batch %.9g vs influence %.12g",
                                (double)inf_batch[e * N + i], got[i]);
                }
            }
            /* dispatched: sum_i g_i + sum_rn R (x/C - U) = sum_rn (x - U C)^2 / C
             * (with probs, x spreads w_i over p_i while g_i reads x at k_i:
             * no such identity) */
            if (form)
                continue;
            double lhs = sum_g, rhs = 0.0;
            for (int n = 0; n < M; n++) {
                lhs += Re[2 * n] * (x[2 * n] / sc->cpu_cap[n] - uc) +
                       Re[2 * n + 1] * (x[2 * n + 1] / sc->mem_cap[n] - um);
                const double dc = x[2 * n] - uc * sc->cpu_cap[n];
                const double dm = x[2 * n + 1] - um * sc->mem_cap[n];
                rhs += dc * dc / sc->cpu_cap[n] + dm * dm / sc->mem_cap[n];
                scale += fabs(Re[2 * n] * x[2 * n] / sc->cpu_cap[n]) +
                         fabs(Re[2 * n + 1] * x[2 * n + 1] / sc->mem_cap[n]);
            }
            CHECK_QUIET(fabs(lhs - rhs) <= 1e-9 * (scale + rhs),
                        "env %lld (dispatched): sum identity %.15g vs %.15g", (long long)e, lhs,
                        rhs);
        }
    }
    free(R);
    free(w);
    free(fp);
    free(dp);
    free(grad);
    free(lam);
    free(act);
    free(rew);
    free(inf_null);
    free(inf_p);
    free(inf_batch);
}

/* (d) optimal_probs_batch and cost_grad_batch against the per-environment
 * methods. */
static void check_batch(setup *s, uniforms *g)
{
    const int64_t E = s->E;
    const int M = s->M, N = s->N;
    float *pb = malloc(sizeof(float) * (size_t)(E * M));
    float *fp = malloc(sizeof(float) * (size_t)(E * N * M));
    float *gb = malloc(sizeof(float) * (size_t)(E * N * M));
    double *dp = malloc(sizeof(double) * (size_t)(N * M));
    double *grad = malloc(sizeof(double) * (size_t)(N * M));
    double p[HETCLOUD_MAX_SERVERS];
    for (int64_t k = 0; k < E * N * M; k += M) {
        double t = 0.0, tmp[HETCLOUD_MAX_SERVERS];
        for (int n = 0; n < M; n++)
            t += tmp[n] = -log(uni(g));
        for (int n = 0; n < M; n++)
            fp[k + n] = (float)(tmp[n] / t);
    }
    CHECK_INT_EQ(s->model->optimal_probs_batch(s->m, pb), DGPG_OK);
    CHECK_INT_EQ(s->model->cost_grad_batch(s->m, fp, gb), DGPG_OK);
    for (int64_t e = 0; e < E; e++) {
        CHECK_INT_EQ(s->model->optimal_probs(s->m, e, p), DGPG_OK);
        for (int n = 0; n < M; n++)
            CHECK_QUIET(fabs((double)pb[e * M + n] - p[n]) <= 2e-7,
                        "env %lld: p*_batch[%d] %.9g vs p* %.12g", (long long)e, n,
                        (double)pb[e * M + n], p[n]);
        for (int k = 0; k < N * M; k++)
            dp[k] = fp[e * N * M + k];
        double c;
        CHECK_INT_EQ(s->model->cost(s->m, e, dp, &c, grad), DGPG_OK);
        for (int k = 0; k < N * M; k++)
            CHECK_QUIET(fabs((double)gb[e * N * M + k] - grad[k]) <= 2e-6 * fabs(grad[k]) + 1e-12,
                        "env %lld: cost_grad_batch[%d] %.9g vs cost's grad %.12g", (long long)e,
                        k, (double)gb[e * N * M + k], grad[k]);
    }
    CHECK(s->model->optimal_probs(s->m, -1, p) != DGPG_OK);
    CHECK(s->model->optimal_probs(s->m, E, p) != DGPG_OK);
    free(pb);
    free(fp);
    free(gb);
    free(dp);
    free(grad);
}

int main(void)
{
    uniforms g = {0, 0};
    int no_job = 0;
    /* a loaded system, M = 5: p* against bisection and KKT */
    setup s;
    make_setup(&s, 9, 5, 4, 1.1, 17);
    advance(&s, "random", 40);
    check_pstar(&s, 40, &no_job, 0);
    check_cost(&s, &g);
    for (int rep = 0; rep < 10; rep++) {
        check_influence(&s, &g);
        advance(&s, "best_fit", 3);
    }
    check_batch(&s, &g);
    free_setup(&s);
    /* M = 3, brute force over the simplex */
    make_setup(&s, 6, 3, 3, 0.9, 29);
    advance(&s, "random", 20);
    check_pstar(&s, 20, &no_job, 1);
    check_cost(&s, &g);
    check_influence(&s, &g);
    check_batch(&s, &g);
    free_setup(&s);
    /* a light load: steps without any job (p* of one mean job) */
    int light_no_job = 0;
    make_setup(&s, 2, 4, 6, 0.05, 31);
    advance(&s, "random", 10);
    check_pstar(&s, 60, &light_no_job, 0);
    printf("states with no job this step: %d (light load), %d (loaded)\n", light_no_job, no_job);
    CHECK(light_no_job > 0);
    check_batch(&s, &g);
    free_setup(&s);
    return test_finish("hetcloud_model");
}
