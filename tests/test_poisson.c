/* test_poisson.c — the exact Poisson sampler of kernels/rng.h
 * (dgpg_poisson_sample on entries from dgpg_poisson_entry_init) fed by the
 * counter-based uniforms dgpg_uniform4, checked against GSL's Poisson pmf
 * and cdf, which are computed independently of the library:
 *   - entry fields: k0 = floor(lambda), pmf(k0) and cdf(k0) against GSL,
 *     the search bound k_max past which the tail is below 2^-60;
 *   - rejected rates (NaN, negative, infinite, above DGPG_POISSON_MAX_RATE);
 *   - lambda = 0: the sample is always 0;
 *   - the mode boundary: u at and just around cdf(k0) gives k0 / k0 + 1;
 *   - exact inversion: for small rates the sample is min{k : F(k) >= u}
 *     with F from gsl_cdf_poisson_P, for many u (u within a rounding
 *     margin of a cdf value is skipped);
 *   - for 8 rates from 0.05 to 1e6, 200000 samples each: mean and variance
 *     within 5 standard errors of lambda, and a chi-square goodness of fit
 *     against the exact pmf (bins pooled so every expected count is >= 5,
 *     both tails pooled) with p-value > 1e-4;
 *   - dgpg_cdf_search against a linear search on random cumulative tables.
 * Every draw uses a fixed seed and its own counter, so the test is
 * deterministic. */
#include "poisson.h"
#include "test.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEED 0x5eed2024c0ffeeULL

/* The j-th uniform of stream `env` (one Philox call gives four). */
static double uniform_at(uint32_t env, uint32_t j)
{
    dgpg_u4 u4 = dgpg_uniform4(SEED, j / 4u, 0, env, DGPG_STREAM_SCENARIO, 0);
    return u4.u[j % 4u];
}

static void test_rejects(void)
{
    dgpg_poisson_entry e;
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, NAN), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, -NAN), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, -1.0), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, -1e-300), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, -INFINITY), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, INFINITY), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, nextafter(DGPG_POISSON_MAX_RATE, INFINITY)), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, 3e9), -1);
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, DGPG_POISSON_MAX_RATE), 0);
    CHECK_INT_EQ(e.k0, (int64_t)DGPG_POISSON_MAX_RATE);
    /* the search bound k0 + 12 sqrt(lambda) + 40 still fits int32 */
    CHECK(e.k_max > e.k0 && e.k_max < INT32_MAX);
}

static void test_zero_rate(void)
{
    dgpg_poisson_entry e;
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, 0.0), 0);
    CHECK(e.lambda == 0.0);
    CHECK_INT_EQ(e.k0, 0);
    CHECK(e.pmf_k0 == 1.0);
    CHECK(e.cdf_k0 == 1.0);
    CHECK(e.k_max >= 0);
    /* the extreme uniforms dgpg_u01 can produce, and many in between */
    CHECK_INT_EQ(dgpg_poisson_sample(&e, dgpg_u01(0u)), 0);
    CHECK_INT_EQ(dgpg_poisson_sample(&e, dgpg_u01(0xffffffffu)), 0);
    int nonzero = 0;
    for (uint32_t j = 0; j < 100000; j++)
        nonzero += dgpg_poisson_sample(&e, uniform_at(99, j)) != 0;
    CHECK_INT_EQ(nonzero, 0);
}

/* Entry fields against GSL, and the mode boundary. */
static void test_entry_and_mode(double lambda)
{
    dgpg_poisson_entry e;
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, lambda), 0);
    CHECK(e.lambda == lambda);
    CHECK_INT_EQ(e.k0, (long long)floor(lambda));
    unsigned k0 = (unsigned)e.k0;
    double pmf = gsl_ran_poisson_pdf(k0, lambda);
    double cdf = gsl_cdf_poisson_P(k0, lambda);
    /* libm's lgamma and GSL's lnfact differ in the last bits of numbers
     * ~1e7 in size for lambda = 1e6: a relative 1e-7 covers that */
    CHECK_NEAR(e.pmf_k0, pmf, 1e-7 * pmf);
    CHECK_NEAR(e.cdf_k0, cdf, 1e-7 * cdf);
    CHECK(e.cdf_k0 <= 1.0);
    /* the documented search bound: P(X > k_max) < 2^-60 */
    CHECK(e.k_max > e.k0);
    CHECK_LE(gsl_cdf_poisson_Q((unsigned)e.k_max, lambda), ldexp(1.0, -60));

    /* the walk's own boundary, exactly: u = cdf_k0 and just below stay at
     * k0; just above goes to k0 + 1; u = cdf_k0 - pmf_k0 (= F(k0 - 1) as
     * the walk computes it) goes to k0 - 1 */
    CHECK_INT_EQ(dgpg_poisson_sample(&e, e.cdf_k0), e.k0);
    CHECK_INT_EQ(dgpg_poisson_sample(&e, nextafter(e.cdf_k0, 0.0)), e.k0);
    CHECK_INT_EQ(dgpg_poisson_sample(&e, nextafter(e.cdf_k0, 1.0)), e.k0 + 1);
    if (e.k0 > 0) {
        double below = e.cdf_k0 - e.pmf_k0;
        CHECK_INT_EQ(dgpg_poisson_sample(&e, nextafter(below, 1.0)), e.k0);
        CHECK_INT_EQ(dgpg_poisson_sample(&e, below), e.k0 - 1);
    }
    /* the same boundary against GSL's F(k0), with a margin well above the
     * rounding of the entry and well below the pmf around the mode */
    double margin = fmin(1e-7, 0.25 * fmin(pmf, gsl_ran_poisson_pdf(k0 + 1, lambda)));
    CHECK_INT_EQ(dgpg_poisson_sample(&e, cdf - margin), e.k0);
    CHECK_INT_EQ(dgpg_poisson_sample(&e, cdf + margin), e.k0 + 1);
    /* the largest uniform stays within the search bound */
    int32_t top = dgpg_poisson_sample(&e, dgpg_u01(0xffffffffu));
    CHECK(top >= e.k0 && top <= e.k_max);
}

/* Exact inversion: sample(u) == min{k : F(k) >= u}, F from GSL. u within
 * `skip` of some F(k) is left out: there the rounding of either side may
 * decide. */
static void test_exact_inversion(double lambda, uint32_t env, uint32_t n_u, double skip)
{
    dgpg_poisson_entry e;
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, lambda), 0);
    int32_t n_tab = e.k_max + 1;
    double *cdf = malloc(sizeof(double) * (size_t)n_tab);
    for (int32_t k = 0; k < n_tab; k++)
        cdf[k] = gsl_cdf_poisson_P((unsigned)k, lambda);
    long mismatches = 0, tested = 0, skipped = 0;
    for (uint32_t j = 0; j < n_u + 2000u; j++) {
        double u;
        if (j < n_u)
            u = uniform_at(env, j);
        else /* a regular grid reaching into both tails */
            u = dgpg_u01((uint32_t)((double)(j - n_u) / 2000.0 * 4294967295.0));
        /* smallest k with F(k) >= u (binary search over the GSL table) */
        int32_t lo = 0, hi = n_tab - 1;
        while (lo < hi) {
            int32_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] >= u)
                hi = mid;
            else
                lo = mid + 1;
        }
        int32_t want = lo;
        if (fabs(u - cdf[want]) < skip || (want > 0 && fabs(u - cdf[want - 1]) < skip)) {
            skipped++;
            continue;
        }
        int32_t got = dgpg_poisson_sample(&e, u);
        tested++;
        if (got != want)
            mismatches++;
        CHECK_QUIET(got == want, "lambda %g, u = %.17g: sample %d, inverse cdf %d", lambda, u,
                    got, want);
    }
    printf("exact inversion lambda=%g: %ld u tested, %ld skipped, %ld mismatches\n", lambda,
           tested, skipped, mismatches);
    CHECK(tested > (long)n_u * 9 / 10);
    free(cdf);
}

/* n samples of rate lambda: mean, variance and chi-square against GSL. */
static void test_distribution(double lambda, uint32_t env, uint32_t n)
{
    dgpg_poisson_entry e;
    CHECK_INT_EQ(dgpg_poisson_entry_init(&e, lambda), 0);
    double sd = sqrt(lambda);
    int32_t k_lo = (int32_t)fmax(0.0, floor(lambda - 12.0 * sd - 20.0));
    int32_t k_hi = (int32_t)ceil(lambda + 12.0 * sd + 40.0);
    int32_t width = k_hi - k_lo + 1;
    long *count = calloc((size_t)width, sizeof(long));
    long below = 0, above = 0, out_of_bound = 0;
    double sum_d = 0.0, sum_d2 = 0.0; /* of d = k - lambda, to avoid cancellation */
    for (uint32_t j = 0; j < n; j++) {
        int32_t k = dgpg_poisson_sample(&e, uniform_at(env, j));
        if (k < 0 || k > e.k_max)
            out_of_bound++;
        double d = (double)k - lambda;
        sum_d += d;
        sum_d2 += d * d;
        if (k < k_lo)
            below++;
        else if (k > k_hi)
            above++;
        else
            count[k - k_lo]++;
    }
    CHECK_INT_EQ(out_of_bound, 0);
    double mean_d = sum_d / n;
    double mean = lambda + mean_d;
    double var = (sum_d2 - (double)n * mean_d * mean_d) / (double)(n - 1);
    /* (a) mean: standard error sqrt(lambda / n); (b) variance: the sample
     * variance of a Poisson has sd lambda sqrt(2 / n + 1 / (lambda n)) */
    double se_mean = sqrt(lambda / n);
    double se_var = lambda * sqrt(2.0 / n + 1.0 / (lambda * n));
    CHECK_NEAR(mean, lambda, 5.0 * se_mean);
    CHECK_NEAR(var, lambda, 5.0 * se_var);

    /* (c) chi-square: walk k upwards from k_lo, the first bin holding all
     * of [0, k_lo]; close a bin when its expected count is >= 5 and the
     * upper tail P(X > k) still has >= 5 expected; when the tail falls
     * below 5, the open bin takes the whole tail (k to infinity). */
    int *bin_of = malloc(sizeof(int) * (size_t)width);
    double *expect = malloc(sizeof(double) * (size_t)width);
    int nb = 0;
    double acc = n * gsl_cdf_poisson_P((unsigned)k_lo, lambda);
    int32_t last_k = k_hi;
    for (int32_t k = k_lo; k <= k_hi; k++) {
        if (k > k_lo)
            acc += n * gsl_ran_poisson_pdf((unsigned)k, lambda);
        bin_of[k - k_lo] = nb;
        double tail = n * gsl_cdf_poisson_Q((unsigned)k, lambda);
        if (tail < 5.0) {
            expect[nb++] = acc + tail;
            last_k = k;
            break;
        }
        if (acc >= 5.0) {
            expect[nb++] = acc;
            acc = 0.0;
        }
    }
    CHECK(last_k < k_hi); /* the tail bin was closed inside the range */
    for (int32_t k = last_k + 1; k <= k_hi; k++)
        bin_of[k - k_lo] = nb - 1;
    double *observed = calloc((size_t)nb, sizeof(double));
    observed[0] += (double)below;
    observed[nb - 1] += (double)above;
    for (int32_t k = k_lo; k <= k_hi; k++)
        observed[bin_of[k - k_lo]] += (double)count[k - k_lo];
    double chi2 = 0.0, sum_expect = 0.0, sum_obs = 0.0, min_expect = INFINITY;
    for (int b = 0; b < nb; b++) {
        double diff = observed[b] - expect[b];
        chi2 += diff * diff / expect[b];
        sum_expect += expect[b];
        sum_obs += observed[b];
        min_expect = fmin(min_expect, expect[b]);
    }
    CHECK(nb >= 2);
    CHECK(min_expect >= 5.0);
    CHECK_NEAR(sum_expect, (double)n, 1e-6 * n);
    CHECK_NEAR(sum_obs, (double)n, 0.5);
    double pvalue = gsl_cdf_chisq_Q(chi2, (double)(nb - 1));
    /* With fixed seeds the test is deterministic. If the sampler is right,
     * each p-value is uniform on (0, 1), so the threshold 1e-4 makes a false
     * alarm across all 8 rates less likely than 1e-3. */
    CHECK(pvalue > 1e-4);
    printf("lambda=%-8g n=%u mean=%.6f (se %.2g) var=%.6f (se %.2g) chi2=%.1f df=%d p=%.4f\n",
           lambda, n, mean, se_mean, var, se_var, chi2, nb - 1, pvalue);
    free(observed);
    free(expect);
    free(bin_of);
    free(count);
}

/* dgpg_cdf_search against the smallest j with cdf[j] >= u (else n - 1). */
static void test_cdf_search(void)
{
    enum { TABLES = 3000, MAXN = 64 };
    double w[MAXN], cdf[MAXN];
    uint32_t draw = 0;
    long checked = 0;
    for (int t = 0; t < TABLES; t++) {
        int n = 1 + (int)(uniform_at(50, draw++) * MAXN);
        if (n > MAXN)
            n = MAXN;
        double total = 0.0;
        for (int j = 0; j < n; j++) {
            double r = uniform_at(50, draw++);
            /* about one weight in five is zero: ties in the table */
            w[j] = r < 0.2 ? 0.0 : uniform_at(50, draw++);
            total += w[j];
        }
        double run = 0.0;
        for (int j = 0; j < n; j++) {
            run += w[j];
            cdf[j] = total > 0.0 ? run / total : 0.0;
        }
        cdf[n - 1] = 1.0;
        for (int q = 0; q < 40 + 3 * n; q++) {
            double u;
            if (q < 40) {
                u = uniform_at(51, draw++);
            } else { /* at each cdf value and one ulp to either side */
                int j = (q - 40) / 3, side = (q - 40) % 3;
                u = side == 0 ? cdf[j] : nextafter(cdf[j], side == 1 ? 0.0 : 2.0);
            }
            int32_t want = n - 1;
            for (int j = 0; j < n; j++)
                if (cdf[j] >= u) {
                    want = j;
                    break;
                }
            int32_t got = dgpg_cdf_search(cdf, n, u);
            CHECK_QUIET(got == want, "table %d (n %d), u = %.17g: search %d, linear %d", t, n,
                        u, got, want);
            checked++;
        }
    }
    printf("cdf_search: %ld queries on %d tables\n", checked, TABLES);
}

int main(void)
{
    test_rejects();
    test_zero_rate();
    static const double rates[] = {0.05, 0.7, 1.0, 3.5, 17.0, 250.0, 4000.0, 1e6};
    const int n_rates = (int)(sizeof rates / sizeof rates[0]);
    for (int r = 0; r < n_rates; r++)
        test_entry_and_mode(rates[r]);
    /* lambda = 2.5 with a 1e-12 margin, as the sampler's sums stay exact to
     * a few ulps there; the other small rates with a wider margin for the
     * longer walks' rounding */
    test_exact_inversion(2.5, 20, 1000000, 1e-12);
    test_exact_inversion(0.05, 21, 200000, 1e-11);
    test_exact_inversion(0.7, 22, 200000, 1e-11);
    test_exact_inversion(17.0, 23, 200000, 1e-11);
    test_exact_inversion(250.0, 24, 200000, 1e-10);
    for (int r = 0; r < n_rates; r++)
        test_distribution(rates[r], (uint32_t)r, 200000);
    test_cdf_search();
    return test_finish("test_poisson");
}
