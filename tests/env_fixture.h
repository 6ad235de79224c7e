/* env_fixture.h — building cloud instances from the embedded default plus
 * overrides, for tests. Aborts the test on any setup error: a test whose
 * fixture cannot be built has failed. */
#ifndef DGPG_TEST_ENV_FIXTURE_H
#define DGPG_TEST_ENV_FIXTURE_H

#include "cloud.h"
#include "config.h"
#include "dgpg/dgpg.h"

#include <stdio.h>
#include <stdlib.h>

static inline void fixture_config(dgpg_config *cfg, const char *const *sets, int n_sets)
{
    char err[DGPG_ERR_LEN];
    if (dgpg_config_load(cfg, NULL, sets, n_sets, err, sizeof err) != 0) {
        fprintf(stderr, "fixture: config: %s\n", err);
        exit(2);
    }
}

static inline cloud_instance *fixture_env(const dgpg_config *cfg, uint64_t seed, int64_t offset,
                                          int64_t n_envs, int threads)
{
    char err[DGPG_ERR_LEN];
    void *inst = NULL;
    if (dgpg_cloud_env_api.create(NULL, cfg, seed, offset, n_envs, threads, &inst, err,
                                  sizeof err) != DGPG_OK) {
        fprintf(stderr, "fixture: create: %s\n", err);
        exit(2);
    }
    return inst;
}

#endif
