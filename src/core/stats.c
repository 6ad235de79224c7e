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

/* What versions 1 and 2 report (dgpg_env_stats), as version 3 sums. */
enum { LEGACY_QUEUED, LEGACY_ARRIVED, LEGACY_ADMITTED, LEGACY_SERVED, LEGACY_DROPPED, LEGACY_SUMS };
static const dgpg_stat_info legacy_sum_info[LEGACY_SUMS] = {
    {"queued", "work units", "sum over steps of the total backlog after service"},
    {"arrived", "work units", "work arrived"},
    {"admitted", "work units", "work arrived and not dropped"},
    {"served", "work units", "work served"},
    {"dropped", "work units", "work dropped at full buffers"},
};
static const dgpg_stat_ratio legacy_ratios[] = {
    {{"delay", "steps", "queued / admitted: mean delay of admitted work by Little's law"},
     LEGACY_QUEUED, LEGACY_ADMITTED},
    {{"drop_rate", "1", "dropped / arrived"}, LEGACY_DROPPED, LEGACY_ARRIVED},
};

dgpg_stats_layout dgpg_env_stats_layout(const dgpg_env_api *api)
{
    dgpg_stats_layout layout = {LEGACY_SUMS, legacy_sum_info, 2, legacy_ratios};
    if (api->version >= 3) {
        layout.n_sums = api->n_sums;
        layout.sum_info = api->sum_info;
        layout.n_ratios = api->n_ratios;
        layout.ratios = api->ratios;
    }
    return layout;
}

int dgpg_env_read_sums(const dgpg_env_api *api, void *instance, int64_t E, double *per_env)
{
    if (api->version >= 3)
        return api->sums(instance, per_env);
    /* E structs of 6 doubles fit in the E rows of 7 they become; widened
     * from the last, each row is read before anything overwrites it. */
    _Static_assert(sizeof(dgpg_env_stats) == 6 * sizeof(double), "dgpg_env_stats: 6 doubles");
    int rc = api->stats(instance, (dgpg_env_stats *)(void *)per_env);
    if (rc != DGPG_OK)
        return rc;
    const int width = DGPG_SUMS_FIXED + LEGACY_SUMS;
    for (int64_t e = E - 1; e >= 0; e--) {
        dgpg_env_stats st;
        memcpy(&st, per_env + 6 * e, sizeof st);
        double *row = per_env + width * e;
        row[DGPG_SUM_REWARD] = st.reward;
        row[DGPG_SUM_STEPS] = st.steps;
        row[DGPG_SUMS_FIXED + LEGACY_QUEUED] = st.queued;
        row[DGPG_SUMS_FIXED + LEGACY_ARRIVED] = st.arrived;
        row[DGPG_SUMS_FIXED + LEGACY_ADMITTED] = st.arrived - st.dropped;
        row[DGPG_SUMS_FIXED + LEGACY_SERVED] = st.served;
        row[DGPG_SUMS_FIXED + LEGACY_DROPPED] = st.dropped;
    }
    return DGPG_OK;
}

void dgpg_env_sums_total(const double *per_env, int64_t E, int width, double *total)
{
    for (int k = 0; k < width; k++)
        total[k] = 0.0;
    for (int64_t e = 0; e < E; e++)
        for (int k = 0; k < width; k++)
            total[k] += per_env[e * width + k];
}

double dgpg_stat_ratio_value(const dgpg_stat_ratio *ratio, const double *row)
{
    const double den = row[DGPG_SUMS_FIXED + ratio->denominator];
    return den != 0.0 ? row[DGPG_SUMS_FIXED + ratio->numerator] / den : 0.0;
}
