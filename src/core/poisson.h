/* poisson.h — host-side preparation of the exact Poisson sampler of
 * kernels/rng.h: for a rate lambda, its mode k0, pmf(k0), cdf(k0) and a
 * search bound, computed once per scenario with the host's libm. */
#ifndef DGPG_POISSON_H
#define DGPG_POISSON_H

#include "../../kernels/rng.h"

/* Largest rate the sampler accepts: k_max = lambda + 12 sqrt(lambda) + 40
 * must stay inside int32. */
#define DGPG_POISSON_MAX_RATE 2.0e9

/* Fills entry for rate lambda in [0, DGPG_POISSON_MAX_RATE]; returns 0, or
 * -1 for a rate outside that range or not finite. */
int dgpg_poisson_entry_init(dgpg_poisson_entry *entry, double lambda);

#endif
