/* stats.c — see stats.h. The t quantile comes from GSL. */
#include "stats.h"

#include <string.h>

#include <gsl/gsl_cdf.h>
#include <math.h>

dgpg_summary dgpg_summarize(const double *x, int64_t n, int64_t stride)
{
    dgpg_summary s = {NAN, NAN, NAN, n};
    if (n < 1)
        return s;
    double sum = 0.0;
    for (int64_t k = 0; k < n; k++)
        sum += x[k * stride];
    s.mean = sum / (double)n;
    if (n < 2)
        return s;
    double ss = 0.0;
    for (int64_t k = 0; k < n; k++) {
        double d = x[k * stride] - s.mean;
        ss += d * d;
    }
    s.sd = sqrt(ss / (double)(n - 1));
    s.ci95 = gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) * s.sd / sqrt((double)n);
    return s;
}

void dgpg_env_stats_sum(const dgpg_env_stats *per_env, int64_t E, dgpg_env_stats *total)
{
    memset(total, 0, sizeof *total);
    for (int64_t e = 0; e < E; e++) {
        total->reward += per_env[e].reward;
        total->queued += per_env[e].queued;
        total->arrived += per_env[e].arrived;
        total->served += per_env[e].served;
        total->dropped += per_env[e].dropped;
        total->steps += per_env[e].steps;
    }
}
