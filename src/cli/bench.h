/* bench.h — `dgpg bench`: throughput figures that anyone can rerun. */
#ifndef DGPG_BENCH_H
#define DGPG_BENCH_H

#include "config.h"

#include <stdio.h>

/* Environment agent-steps per second for a heuristic (power-of-two
 * choices) and for a sampled categorical policy (observation, sampling
 * from (E, N, M) probabilities, step), for each thread count in threads. */
int dgpg_bench_env(const dgpg_config *cfg, const int *threads, int n_threads, int64_t steps,
                   FILE *out, char *err, size_t err_len);

/* End-to-end training agent-steps per second at each N of n_agents (E,
 * T, episodes from cfg), the update phase's network GFLOP/s and its share
 * of this machine's SGEMM rate. Runs in a scratch directory under /tmp. */
int dgpg_bench_train(const dgpg_config *cfg, const int64_t *n_agents, int n_sizes, FILE *out,
                     char *err, size_t err_len);

#endif
