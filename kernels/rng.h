/* rng.h — counter-based randomness shared by the CPU and CUDA backends.
 *
 * Provides: dgpg_philox (Random123's Philox4x32-10 keyed by the 64-bit seed,
 * counted by (index, step, env, stream)), uniforms in (0, 1), the Poisson
 * sampler by exact inversion from the mode (dgpg_poisson_*), and sampling
 * from a cumulative table (dgpg_cdf_search).
 *
 * Why Random123 on both sides: cuRAND's device Philox4_32_10 is the same
 * generator, but its (subsequence, offset) counter layout is not ours; with
 * Random123's philox4x32 on host and device the stream for a given
 * (seed, env, agent, step) is the same by construction, for any thread
 * count, batch split or rank count (docs/environment.md, "Randomness").
 *
 * Why the Poisson sampler uses no libm call at sampling time: exp, log and
 * lgamma differ in the last ulp between glibc and CUDA's libdevice, which
 * would let a GPU trajectory drift from the CPU one. The host precomputes
 * for each rate its mode k0 = floor(lambda), pmf(k0) and cdf(k0) once per
 * scenario; sampling is then +, *, / and compares only, which IEEE 754
 * rounds identically everywhere (FMA contraction is switched off in the
 * build for this reason). */
#ifndef DGPG_KERNELS_RNG_H
#define DGPG_KERNELS_RNG_H

#include "hd.h"
#include <Random123/philox.h>

/* ctr[3] = stream (4 bits) | draw (12 bits) | step >> 32 (16 bits). */
enum dgpg_rng_stream {
    DGPG_STREAM_ARRIVAL = 1,   /* jobs per agent per step, 4 agents a call */
    DGPG_STREAM_JOBSIZE = 2,   /* sizes of one agent's jobs */
    DGPG_STREAM_SERVICE = 3,   /* service capacity per pool per step */
    DGPG_STREAM_POLICY = 4,    /* heuristic policies' choices */
    DGPG_STREAM_BURST = 5,     /* which burst windows are bursts */
    DGPG_STREAM_SCENARIO = 6,  /* pools and agent rates of a scenario */
    DGPG_STREAM_ACTION = 7     /* sampling a learned policy's actions */
};

#define DGPG_RNG_MAX_DRAW 4095u

typedef struct dgpg_u4 {
    double u[4];
} dgpg_u4;

/* Four independent 32-bit words for (seed; index, step, env, stream, draw). */
static inline DGPG_HD philox4x32_ctr_t dgpg_philox(uint64_t seed, uint32_t index, uint64_t step,
                                                   uint32_t env, uint32_t stream, uint32_t draw)
{
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t ctr = {{index, (uint32_t)step, env,
                             (stream << 28) | ((draw & DGPG_RNG_MAX_DRAW) << 16) |
                                 (uint32_t)((step >> 32) & 0xffffu)}};
    return philox4x32(ctr, key);
}

/* A 32-bit word to a double strictly inside (0, 1): (x + 1/2) / 2^32, exact. */
static inline DGPG_HD double dgpg_u01(uint32_t x)
{
    return ((double)x + 0.5) * (1.0 / 4294967296.0);
}

static inline DGPG_HD dgpg_u4 dgpg_uniform4(uint64_t seed, uint32_t index, uint64_t step,
                                            uint32_t env, uint32_t stream, uint32_t draw)
{
    philox4x32_ctr_t r = dgpg_philox(seed, index, step, env, stream, draw);
    dgpg_u4 out;
    for (int k = 0; k < 4; k++)
        out.u[k] = dgpg_u01(r.v[k]);
    return out;
}

/* Precomputed, per rate, on the host (dgpg_poisson_entry_init in src/). */
typedef struct dgpg_poisson_entry {
    double lambda;   /* the rate */
    double pmf_k0;   /* P(X = k0) */
    double cdf_k0;   /* P(X <= k0) */
    int32_t k0;      /* floor(lambda): the mode, where the search starts */
    int32_t k_max;   /* search bound: past it the tail is below 2^-60 */
} dgpg_poisson_entry;

/* Exact inversion X = min{k : F(k) >= u}, searching from the mode with the
 * pmf recurrences p(k+1) = p(k) lambda/(k+1) and p(k-1) = p(k) k/lambda;
 * expected steps O(sqrt(lambda)). */
static inline DGPG_HD int32_t dgpg_poisson_sample(const dgpg_poisson_entry *entry, double u)
{
    int32_t k = entry->k0;
    double p = entry->pmf_k0;
    double cdf = entry->cdf_k0;
    if (u <= cdf) {
        /* walk down while u <= F(k-1) = F(k) - p(k) */
        while (k > 0 && u <= cdf - p) {
            cdf -= p;
            p = p * (double)k / entry->lambda;
            k--;
        }
        return k;
    }
    while (u > cdf && k < entry->k_max) {
        k++;
        p = p * entry->lambda / (double)k;
        cdf += p;
    }
    return k;
}

/* Smallest index j in [0, n) with cdf[j] >= u (cdf nondecreasing, cdf[n-1]
 * taken as 1): inversion of a discrete distribution by binary search. */
static inline DGPG_HD int32_t dgpg_cdf_search(const double *cdf, int32_t n, double u)
{
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] >= u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The seed of environment `env`'s training scenario in `episode` under
 * env.scenarios = sampled, from the base seed env.seed: bit 63 set, while
 * every seed a config can name (env.seed, eval.seed + k) stays below
 * 2^62, so no evaluation scenario is ever a training one (every
 * environment plug-in with sampled scenarios draws its seeds here). */
#define DGPG_TRAINING_SEED_BIT (UINT64_C(1) << 63)
static inline DGPG_HD uint64_t dgpg_training_scenario_seed(uint64_t base_seed, uint64_t episode,
                                                           uint32_t env)
{
    philox4x32_ctr_t r = dgpg_philox(base_seed, 0, episode, env, DGPG_STREAM_SCENARIO, 2);
    return DGPG_TRAINING_SEED_BIT | ((uint64_t)r.v[1] << 32) | (uint64_t)r.v[0];
}

#endif
