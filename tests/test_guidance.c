/* test_guidance.c — each guidance form's term as the trainer computes it
 * (kernels/train_math.h: train_decision_grad, train_guidance_term,
 * train_mix, the functions src/train/train_ops.c runs) against a direct
 * evaluation of its SPEC formula, and finite differences where the form is
 * a gradient (PyTorch autograd of the whole loss is tests/test_nn_torch.py):
 *  - target: with the PPO term off (advantage 0, no entropy), the loss
 *    gradient at the logits is that of KL(p* || softmax(z)) (central
 *    differences of the KL computed here);
 *  - descent: the model's dC/dp_i (through the plug-in API, all other
 *    agents' probabilities fixed, both model.reference forms) carried to
 *    agent i's logits by the trainer equals central differences of the
 *    model's cost C(softmax(z_i), p_-i) itself;
 *  - cv: the control variate A~(a) = -<g, e_a - p> has mean zero under p,
 *    and the trainer's whole cv gradient (advantage A - alpha s A~(a) mixed
 *    by train_mix, plus the term it adds back), averaged over a ~ p, equals
 *    plain PPO's gradient with advantage A: the estimator stays unbiased;
 *  - dgpg: A^DG = (1 - alpha) A - alpha <x - x~, z_i> (the inner products
 *    themselves are checked in test_plugin.c). */
#include "../kernels/nn.h"
#include "../kernels/ppo.h"
#include "../kernels/train_math.h"
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
        float zf[MMAX], pf[MMAX], grad[MMAX];
        for (int m = 0; m < M; m++) {
            z[m] = (float)(4.0 * uni(g) - 2.0); /* representable in float, as the logits */
            p_star[m] = 0.05 + uni(g);
            total += p_star[m];
        }
        for (int m = 0; m < M; m++)
            p_star[m] /= total;
        softmax_d(z, M, p);
        for (int m = 0; m < M; m++) {
            zf[m] = (float)z[m];
            pf[m] = (float)p_star[m];
        }
        /* advantage 0 and no entropy bonus: only the target term remains */
        double entropy, ratio;
        int clipped;
        train_decision_grad(GUIDE_TARGET, zf, M, trial % M, log(p[trial % M]), 0.0, pf, NULL,
                            1.0, 1.0, 1.0, 0.0, 0.2, grad, &entropy, &ratio, &clipped);
        for (int m = 0; m < M; m++) {
            double h = 1e-5, zp[MMAX], zm[MMAX];
            for (int k = 0; k < M; k++)
                zp[k] = zm[k] = z[k];
            zp[m] += h;
            zm[m] -= h;
            /* p* rounded to float, as the trainer holds it */
            double ps[MMAX];
            for (int k = 0; k < M; k++)
                ps[k] = pf[k];
            double fd = (kl(ps, zp, M) - kl(ps, zm, M)) / (2 * h);
            CHECK_QUIET(fabs(grad[m] - fd) <= 2e-6, "target M=%d m=%d: %g vs fd %g", M, m,
                        grad[m], fd);
        }
    }
}

static void test_descent(const char *reference)
{
    const char *sets[] = {"env.n_agents=7", "env.n_pools=5", "env.rho=0.9", reference};
    dgpg_config cfg;
    fixture_config(&cfg, sets, 4);
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
            z[i][m] = (float)(2.0 * uni(&g) - 1.0);
        softmax_d(z[i], M, probs + i * M);
    }
    CHECK_INT_EQ(mapi->cost(model, 1, probs, &cost, grad_p), DGPG_OK);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        float zf[5], gf[5], dlogits[5];
        for (int m = 0; m < M; m++) {
            zf[m] = (float)z[i][m];
            gf[m] = (float)grad_p[i * M + m]; /* the trainer holds dC/dp in float */
        }
        /* the trainer's descent gradient with the PPO term off */
        double entropy, ratio;
        int clipped;
        train_decision_grad(GUIDE_DESCENT, zf, M, 0, log(probs[i * M]), 0.0, NULL, gf, 1.0, 1.0,
                            1.0, 0.0, 0.2, dlogits, &entropy, &ratio, &clipped);
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
            /* float dC/dp and float output: relative 1e-5 */
            CHECK_QUIET(diff <= 1e-5 * fabs(fd) + 1e-9, "descent (%s) i=%d m=%d: %g vs fd %g",
                        reference, i, m, dlogits[m], fd);
        }
    }
    printf("descent (%s): largest relative difference to finite differences %.2e\n", reference,
           worst);
    mapi->destroy(model);
    dgpg_cloud_env_api.destroy(env);
}

static void test_cv(uniforms *g)
{
    const double alpha = 0.7, s = 1.9, A = 0.8;
    for (int trial = 0; trial < 200; trial++) {
        int M = 2 + trial % 7;
        double p[MMAX], z[MMAX], expectation = 0.0;
        float zf[MMAX], pf[MMAX], grad_c[MMAX];
        for (int m = 0; m < M; m++) {
            z[m] = zf[m] = (float)(4.0 * uni(g) - 2.0);
            grad_c[m] = (float)(2.0 * uni(g) - 1.0);
        }
        softmax_d(z, M, p);
        for (int m = 0; m < M; m++)
            pf[m] = (float)p[m];
        /* E_a over a ~ p of each estimator's loss gradient at ratio 1 (no
         * clipping, no entropy): cv's (its mixed advantage plus the term
         * added back) and plain PPO's with the unmixed advantage */
        double mean_cv[MMAX] = {0.0}, mean_ppo[MMAX] = {0.0};
        for (int a = 0; a < M; a++) {
            float cv = train_guidance_term(GUIDE_CV, M, pf, a, grad_c, NULL);
            /* SPEC: A~(a) = -<g, e_a - p>, first order in agent i's action */
            double direct = 0.0;
            for (int m = 0; m < M; m++)
                direct += (double)grad_c[m] * ((m == a) - (double)pf[m]);
            CHECK_QUIET(fabs(cv + direct) <= 1e-6, "cv term a=%d: %g vs -<g, e_a - p> %g", a, cv,
                        -direct);
            expectation += p[a] * cv;
            float mixed = train_mix(GUIDE_CV, (float)A, (double)cv * s, alpha);
            float grad_cv[MMAX], grad_ppo[MMAX];
            double entropy, ratio;
            int clipped;
            const double log_p = log(p[a]);
            train_decision_grad(GUIDE_CV, zf, M, a, log_p, mixed, NULL, grad_c, s, alpha, 1.0, 0.0,
                                10.0, grad_cv, &entropy, &ratio, &clipped);
            train_decision_grad(GUIDE_NONE, zf, M, a, log_p, A, NULL, NULL, s, alpha, 1.0, 0.0,
                                10.0, grad_ppo, &entropy, &ratio, &clipped);
            for (int m = 0; m < M; m++) {
                mean_cv[m] += p[a] * grad_cv[m];
                mean_ppo[m] += p[a] * grad_ppo[m];
            }
        }
        CHECK_QUIET(fabs(expectation) <= 1e-6, "cv mean %g", expectation);
        for (int m = 0; m < M; m++)
            CHECK_QUIET(fabs(mean_cv[m] - mean_ppo[m]) <= 1e-5,
                        "cv unbiased M=%d m=%d: E[cv gradient] %g vs E[PPO gradient] %g", M, m,
                        mean_cv[m], mean_ppo[m]);
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
    test_descent("model.reference=state");
    test_descent("model.reference=static");
    test_cv(&g);
    test_dgpg(&g);
    return test_finish("guidance");
}
