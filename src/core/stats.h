/* stats.h — summary statistics reported over scenarios and seeds. */
#ifndef DGPG_STATS_H
#define DGPG_STATS_H

#include "dgpg/dgpg.h"

#include <stdint.h>

typedef struct dgpg_summary {
    double mean;
    double sd;         /* sample standard deviation (n - 1) */
    double ci95;       /* half width of the 95% Student-t interval of the mean */
    int64_t n;
} dgpg_summary;

/* Summary of x[0..n-1] (x[k * stride]); ci95 is NaN for n < 2. */
dgpg_summary dgpg_summarize(const double *x, int64_t n, int64_t stride);

/* An environment plug-in's statistics: its own (version 3), or for a
 * version 1 or 2 plug-in the dgpg_env_stats those versions report. A
 * row of sums is DGPG_SUMS_FIXED + n_sums doubles: reward, steps, then the
 * plug-in's own. */
#define DGPG_SUMS_FIXED 2
#define DGPG_SUM_REWARD 0
#define DGPG_SUM_STEPS 1
typedef struct dgpg_stats_layout {
    int n_sums;                     /* the plug-in's own */
    const dgpg_stat_info *sum_info;
    int n_ratios;
    const dgpg_stat_ratio *ratios;
} dgpg_stats_layout;

dgpg_stats_layout dgpg_env_stats_layout(const dgpg_env_api *api);
static inline int dgpg_stats_width(const dgpg_stats_layout *layout)
{
    return DGPG_SUMS_FIXED + layout->n_sums;
}

/* Reads an instance's statistics into per_env (E rows of the layout's
 * width): the `sums` method, or `stats` converted in place. */
int dgpg_env_read_sums(const dgpg_env_api *api, void *instance, int64_t E, double *per_env);

/* The column-wise sum of E rows of `width` doubles, in environment order. */
void dgpg_env_sums_total(const double *per_env, int64_t E, int width, double *total);

/* A ratio column's value on a row of sums: 0 where its denominator is 0. */
double dgpg_stat_ratio_value(const dgpg_stat_ratio *ratio, const double *row);

#endif
