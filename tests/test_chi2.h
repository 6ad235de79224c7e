/* test_chi2.h — Pearson's chi-square test of multinomial samples against
 * their expected counts, for the environments' statistical tests: cells
 * below 5 expected draws are merged, smallest first, and the statistic is
 * held to the chi-square(df) quantile at the TEST_Z_MAX normal tail
 * (Wilson-Hilferty), a two-sided false alarm of about 7e-6 per check with
 * fixed seeds. */
#ifndef DGPG_TEST_CHI2_H
#define DGPG_TEST_CHI2_H

#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TEST_Z_MAX 4.5

typedef struct test_chi2 {
    double stat, df;
    int64_t zero_hits; /* draws that fell in a cell of probability 0 */
} test_chi2;

/* Adds one multinomial sample (obs) against its expected counts (ex,
 * summing to the draws) to the statistic and its degrees of freedom. */
static inline void test_chi2_add(test_chi2 *c, const double *obs, const double *ex, int k)
{
    int *idx = malloc(sizeof(int) * (size_t)k);
    int n = 0;
    for (int i = 0; i < k; i++) {
        if (ex[i] <= 0.0) {
            c->zero_hits += (int64_t)obs[i];
            continue;
        }
        int j = n++;
        while (j > 0 && ex[idx[j - 1]] > ex[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    double go = 0.0, ge = 0.0, last_o = 0.0, last_e = 0.0;
    int groups = 0;
    for (int j = 0; j < n; j++) {
        go += obs[idx[j]];
        ge += ex[idx[j]];
        if (ge >= 5.0) {
            if (groups)
                c->stat += (last_o - last_e) * (last_o - last_e) / last_e;
            last_o = go;
            last_e = ge;
            groups++;
            go = ge = 0.0;
        }
    }
    if (ge > 0.0) {
        last_o += go;
        last_e += ge;
        groups += groups == 0;
    }
    if (groups) {
        c->stat += (last_o - last_e) * (last_o - last_e) / last_e;
        c->df += groups - 1;
    }
    free(idx);
}

/* The chi-square(df) quantile at the TEST_Z_MAX normal tail (Wilson-Hilferty). */
static inline double test_chi2_bound(double df)
{
    if (df < 1.0)
        return 1e-9;
    double h = 2.0 / (9.0 * df), c = 1.0 - h + TEST_Z_MAX * sqrt(h);
    return df * c * c * c;
}

/* The statistic within its bound, on at least one degree of freedom, and
 * no draw in a cell of probability 0. */
static inline void test_check_chi2(const char *what, const test_chi2 *c)
{
    printf("  %-34s chi2 %10.1f on %5.0f df (bound %.1f), zero-probability hits %lld\n", what,
           c->stat, c->df, test_chi2_bound(c->df), (long long)c->zero_hits);
    CHECK_QUIET(c->df >= 1.0 && c->stat <= test_chi2_bound(c->df),
                "%s: chi2 %.1f on %.0f df > %.1f", what, c->stat, c->df, test_chi2_bound(c->df));
    CHECK_QUIET(c->zero_hits == 0, "%s: %lld draws where the law gives probability 0", what,
                (long long)c->zero_hits);
}

#endif
