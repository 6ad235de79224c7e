/* poisson.c — see poisson.h. The cdf at the mode is summed from the mode
 * downwards (largest terms first) until the terms no longer change the sum;
 * the recurrence p(k-1) = p(k) k / lambda needs no further libm call. */
#include "poisson.h"

#include <math.h>

int dgpg_poisson_entry_init(dgpg_poisson_entry *entry, double lambda)
{
    if (!(lambda >= 0.0) || lambda > DGPG_POISSON_MAX_RATE)
        return -1;
    entry->lambda = lambda;
    if (lambda == 0.0) {
        /* X = 0 surely: the search never leaves k0 = 0, cdf(0) = 1 */
        entry->k0 = 0;
        entry->pmf_k0 = 1.0;
        entry->cdf_k0 = 1.0;
        entry->k_max = 0;
        return 0;
    }
    double k0 = floor(lambda);
    double pmf = exp(-lambda + k0 * log(lambda) - lgamma(k0 + 1.0));
    double cdf = 0.0, term = pmf;
    for (double k = k0; k >= 0.0; k -= 1.0) {
        double before = cdf;
        cdf += term;
        if (cdf == before && k < lambda - 1.0)
            break;
        term = term * k / lambda;
    }
    entry->k0 = (int32_t)k0;
    entry->pmf_k0 = pmf;
    entry->cdf_k0 = cdf < 1.0 ? cdf : 1.0;
    /* P(X > lambda + 12 sqrt(lambda) + 40) < 2^-60 for every lambda */
    entry->k_max = (int32_t)ceil(lambda + 12.0 * sqrt(lambda) + 40.0);
    return 0;
}
