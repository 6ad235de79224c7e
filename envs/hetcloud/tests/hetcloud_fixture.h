/* hetcloud_fixture.h — what the hetcloud tests share: a config of the
 * `hetcloud` environment with --set style overrides, an instance created
 * through the registry (dgpg_find_env), and the statistics helpers
 * (4.5-sigma z bounds, Pearson's chi-square with cells below 5 merged,
 * Wilson-Hilferty quantile). It also writes out, from their definitions
 * and independently of hetcloud.c, the law of one job's vCPU request
 * (hc_cpu_pmf) and the memory per vCPU of the instance families
 * (HC_FAMILY_MEM): the truths the tests compare against. A setup error
 * exits 2: a test whose fixture cannot be built has failed. Instances run
 * one OpenMP thread: the work per step is tiny, and a second thread
 * spinning at barriers on a busy 2-core machine makes a test many times
 * slower (hetcloud.c's results do not depend on the thread count). */
#ifndef DGPG_HETCLOUD_FIXTURE_H
#define DGPG_HETCLOUD_FIXTURE_H

#include "config.h"
#include "dgpg/dgpg.h"
#include "env_fixture.h"
#include "hetcloud.h"
#include "test.h"
#include "test_chi2.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Z_MAX TEST_Z_MAX

/* GiB per vCPU: general purpose, compute optimised, memory optimised (the
 * instance families of the paper's cloud: m-, c- and r-type instances). */
static const int HC_FAMILY_MEM[3] = {4, 2, 8};

/* The config of the hetcloud environment and its model, then `sets`
 * (at most 30). */
static inline void hc_config(dgpg_config *cfg, const char *const *sets, int n_sets)
{
    const char *all[32] = {"env.name=hetcloud", "model.name=hetcloud_util"};
    int n = 2;
    for (int k = 0; k < n_sets && n < 32; k++)
        all[n++] = sets[k];
    fixture_config(cfg, all, n);
    char err[DGPG_ERR_LEN];
    if (dgpg_config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fixture: config check: %s\n", err);
        exit(2);
    }
}

static inline const dgpg_env_api *hc_api(void)
{
    const dgpg_env_api *api = dgpg_find_env("hetcloud");
    if (!api) {
        fprintf(stderr, "fixture: hetcloud is not registered\n");
        exit(2);
    }
    return api;
}

static inline hetcloud_instance *hc_create(const dgpg_config *cfg, uint64_t seed, int64_t n_envs,
                                           int threads)
{
    char err[DGPG_ERR_LEN];
    void *inst = NULL;
    if (hc_api()->create(NULL, cfg, seed, 0, n_envs, threads, &inst, err, sizeof err) !=
        DGPG_OK) {
        fprintf(stderr, "fixture: create: %s\n", err);
        exit(2);
    }
    return inst;
}

/* The model bound to an instance. */
static inline void *hc_model(const dgpg_model_api *model, const dgpg_config *cfg, void *inst)
{
    char err[DGPG_ERR_LEN];
    void *m = NULL;
    if (!model || model->create(model->user, cfg, inst, &m, err, sizeof err) != DGPG_OK) {
        fprintf(stderr, "fixture: model: %s\n", model ? err : "hetcloud_util not registered");
        exit(2);
    }
    return m;
}

/* The law of one job's vCPU request, from its definition: with
 * probability 1 - q a small job of 1 vCPU, else a large one
 * S = floor(X), X ~ Pareto(scale s_min, index alpha) (P(X > x) =
 * (s_min / x)^alpha for x >= s_min), conditioned on S <= cap:
 *   P(S = s) = [P(X >= s) - P(X >= s + 1)] / P(X < cap + 1), s_min <= s <= cap.
 * pmf[s - 1] for s = 1 .. cap; returns the mean. */
static inline double hc_pareto_survival(double s_min, double alpha, double x)
{
    return x <= s_min ? 1.0 : pow(s_min / x, alpha);
}

static inline double hc_cpu_pmf(double q, int s_min, double alpha, int cap, double *pmf)
{
    const double kept = 1.0 - hc_pareto_survival(s_min, alpha, cap + 1.0);
    double mean = 0.0;
    for (int s = 1; s <= cap; s++) {
        double p = s == 1 ? 1.0 - q : 0.0;
        if (s >= s_min)
            p += q * (hc_pareto_survival(s_min, alpha, s) -
                      hc_pareto_survival(s_min, alpha, s + 1.0)) / kept;
        pmf[s - 1] = p;
        mean += s * p;
    }
    return mean;
}

/* Mean GiB per vCPU: uniform over the powers of two in [lo, hi]. */
static inline double hc_ratio_mean(int lo, int hi)
{
    double sum = 0.0;
    int count = 0;
    for (int r = lo; r <= hi; r *= 2, count++)
        sum += r;
    return sum / count;
}

/* Lambda(t): the jobs expected at `step`, the scenario's rate table summed
 * over the agents at day index step mod D (summed here, in double). */
static inline double hc_lambda(const hetcloud_scenario *sc, uint64_t step)
{
    const int64_t d = (int64_t)(step % (uint64_t)sc->day_length);
    double total = 0.0;
    for (int i = 0; i < sc->n_agents; i++)
        total += (double)sc->rate[d * sc->n_agents + i];
    return total;
}

/* ---- statistics ------------------------------------------------------------ */

static inline void hc_check_z(const char *what, double observed, double expected, double sd)
{
    const double z = (observed - expected) / sd;
    printf("  %-34s %.6g against %.6g, z = %.2f\n", what, observed, expected, z);
    CHECK_QUIET(fabs(z) <= Z_MAX, "%s: %.9g against %.9g, z = %.2f", what, observed, expected, z);
}

#endif
