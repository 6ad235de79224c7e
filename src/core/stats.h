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

/* The field-wise sum of E environments' statistics, in environment order. */
void dgpg_env_stats_sum(const dgpg_env_stats *per_env, int64_t E, dgpg_env_stats *total);

#endif
