/* test_guidance.c — each guidance form's per-agent term against a direct
 * evaluation of its SPEC formula, and finite differences where the form is
 * a gradient:
 *  - target: the logit gradient of KL(p* || softmax(z)) is p - p* (central
 *    differences of the KL computed here);
 *  - descent: the model's dC/dp_i (through the plug-in API, all other
 *    agents' probabilities fixed) carried to agent i's logits equals central
 *    differences of the model's cost C(softmax(z_i), p_-i) itself;
 *  - cv: the control variate A~(a) = -<g, e_a - p> has mean zero under p,
 *    and E_a[grad_z log p_a A~(a)] equals minus the term the trainer adds
 *    back, so the estimator stays unbiased;
 *  - dgpg: A^DG = (1 - alpha) A - alpha <x - x~, z_i> (the inner products
 *    themselves are checked in test_plugin.c). */
#include "../kernels/nn.h"
#include "../kernels/ppo.h"
#include "env_fixture.h"
#include "test.h"

#define SEED 0x6a1dULL
#include "test_uniforms.h"

#define MMAX 8

static void softmax_d(const double *z, int M, double *p)
{
    double mx = z[0], s = 0.0;
    for (int m = 1; m < M; m++)
        mx = z[m] > mx ? z[m] : mx;
    for (int m = 0; m < M; m++)
        s += exp(z[m] - mx);
    for (int m = 0; m < M; m++)
        p[m] = exp(z[m] - mx) / s;
}

static double kl(const double *p_star, const double *z, int M)
{
    double p[MMAX], d = 0.0;
    softmax_d(z, M, p);
    for (int m = 0; m < M; m++)
        d += p_star[m] * log(p_star[m] / p[m]);
    return d;
}

static void test_target(uniforms *g)
{
    for (int trial = 0; trial < 200; trial++) {
        int M = 2 + trial % 7;
        double z[MMAX], p_star[MMAX], p[MMAX], total = 0.0;
        float pf[MMAX], grad[MMAX];
        for (int m = 0; m < M; m++) {
            z[m] = 4.0 * uni(g) - 2.0;
            p_star[m] = 0.05 + uni(g);
            total += p_star[m];
        }
        for (int m = 0; m < M; m++)
            p_star[m] /= total;
        softmax_d(z, M, p);
        for (int m = 0; m < M; m++)
            pf[m] = (float)p[m];
        ppo_target_logit_grad(pf, p_star, M, 1.0, grad);
        for (int m = 0; m < M; m++) {
            double h = 1e-5, zp[MMAX], zm[MMAX];
            for (int k = 0; k < M; k++)
                zp[k] = zm[k] = z[k];
            zp[m] += h;
            zm[m] -= h;
            double fd = (kl(p_star, zp, M) - kl(p_star, zm, M)) / (2 * h);
            CHECK_QUIET(fabs(grad[m] - fd) <= 1e-6, "target M=%d m=%d: %g vs fd %g", M, m,
                        grad[m], fd);
        }
    }
}

static void test_descent(void)
{
    const char *sets[] = {"env.n_agents=7", "env.n_pools=5", "env.rho=0.9"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 3);
    cloud_instance *env = fixture_env(&cfg, 4, 0, 2, 1);
    const dgpg_model_api *mapi = &dgpg_cloud_model_api;
    char err[256];
    void *model = NULL;
    CHECK_INT_EQ(mapi->create(NULL, &cfg, env, &model, err, sizeof err), DGPG_OK);
    CHECK_INT_EQ(dgpg_cloud_env_api.reset(env, 0), DGPG_OK);
    const int N = 7, M = 5;
    uniforms g = {9, 0};
    double z[7][5], probs[7 * 5], grad_p[7 * 5], cost;
    for (int i = 0; i < N; i++) {
        for (int m = 0; m < M; m++)
            z[i][m] = 2.0 * uni(&g) - 1.0;
        softmax_d(z[i], M, probs + i * M);
    }
    CHECK_INT_EQ(mapi->cost(model, 1, probs, &cost, grad_p), DGPG_OK);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        float pf[5], dlogits[5];
        for (int m = 0; m < M; m++)
            pf[m] = (float)probs[i * M + m];
        ppo_prob_grad_to_logits(pf, grad_p + i * M, M, 1.0, dlogits);
        for (int m = 0; m < M; m++) {
            double h = 1e-5, saved[5], cp, cm;
            for (int k = 0; k < M; k++)
                saved[k] = probs[i * M + k];
            z[i][m] += h;
            softmax_d(z[i], M, probs + i * M);
            mapi->cost(model, 1, probs, &cp, NULL);
            z[i][m] -= 2 * h;
            softmax_d(z[i], M, probs + i * M);
            mapi->cost(model, 1, probs, &cm, NULL);
            z[i][m] += h;
            for (int k = 0; k < M; k++)
                probs[i * M + k] = saved[k];
            double fd = (cp - cm) / (2 * h);
            double diff = fabs(dlogits[m] - fd);
            worst = diff / (1e-7 + fabs(fd)) > worst ? diff / (1e-7 + fabs(fd)) : worst;
            /* dlogits is float: relative 1e-5 */
            CHECK_QUIET(diff <= 1e-5 * fabs(fd) + 1e-9, "descent i=%d m=%d: %g vs fd %g", i, m,
                        dlogits[m], fd);
        }
    }
    printf("descent: largest relative difference to finite differences %.2e\n", worst);
    mapi->destroy(model);
    dgpg_cloud_env_api.destroy(env);
}

static void test_cv(uniforms *g)
{
    for (int trial = 0; trial < 200; trial++) {
        int M = 2 + trial % 7;
        double z[MMAX], p[MMAX], grad_c[MMAX], cv[MMAX], mean_g = 0.0;
        float pf[MMAX], added[MMAX];
        for (int m = 0; m < M; m++) {
            z[m] = 4.0 * uni(g) - 2.0;
            grad_c[m] = 2.0 * uni(g) - 1.0;
        }
        softmax_d(z, M, p);
        for (int m = 0; m < M; m++) {
            pf[m] = (float)p[m];
            mean_g += p[m] * grad_c[m];
        }
        double expectation = 0.0;
        for (int a = 0; a < M; a++) {
            cv[a] = -(grad_c[a] - mean_g); /* SPEC: A~(a), first order in agent i's action */
            expectation += p[a] * cv[a];
        }
        CHECK_QUIET(fabs(expectation) <= 1e-12, "cv mean %g", expectation);
        /* E_a[grad_z log p_a A~(a)] = sum_a p_a (e_a - p) A~(a) */
        ppo_prob_grad_to_logits(pf, grad_c, M, 1.0, added);
        for (int m = 0; m < M; m++) {
            double e = 0.0;
            for (int a = 0; a < M; a++)
                e += p[a] * ((a == m) - p[m]) * cv[a];
            CHECK_QUIET(fabs(e + added[m]) <= 1e-6, "cv unbiased m=%d: %g vs %g", m, e,
                        -added[m]);
        }
    }
}

static void test_dgpg(uniforms *g)
{
    for (int trial = 0; trial < 100; trial++) {
        double a = 4.0 * uni(g) - 2.0, infl = 4.0 * uni(g) - 2.0, alpha = uni(g);
        CHECK_NEAR(ppo_dgpg_advantage(a, infl, alpha), (1.0 - alpha) * a - alpha * infl, 1e-15);
    }
    /* the schedule of SPEC: linear 0.9 -> 0.2 over training */
    CHECK_NEAR(ppo_alpha(PPO_ALPHA_LINEAR, 0.9, 0.2, 0.9, 0, 20), 0.9, 1e-15);
    CHECK_NEAR(ppo_alpha(PPO_ALPHA_LINEAR, 0.9, 0.2, 0.9, 19, 20), 0.2, 1e-15);
    CHECK_NEAR(ppo_alpha(PPO_ALPHA_LINEAR, 0.9, 0.2, 0.9, 10, 21), 0.55, 1e-15);
    CHECK_NEAR(ppo_alpha(PPO_ALPHA_EXPONENTIAL, 0.9, 0.2, 0.5, 1, 20), 0.45, 1e-15);
    CHECK_NEAR(ppo_alpha(PPO_ALPHA_EXPONENTIAL, 0.9, 0.2, 0.5, 5, 20), 0.2, 1e-15);
    CHECK_NEAR(ppo_alpha(PPO_ALPHA_CONSTANT, 0.7, 0.2, 0.5, 5, 20), 0.7, 1e-15);
}

int main(void)
{
    uniforms g = {1, 0};
    test_target(&g);
    test_descent();
    test_cv(&g);
    test_dgpg(&g);
    return test_finish("guidance");
}
