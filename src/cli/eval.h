/* eval.h — `dgpg eval`: the environment's built-in policies on a fixed set
 * of held-out scenarios, one row per policy, printed and written to HDF5. */
#ifndef DGPG_EVAL_H
#define DGPG_EVAL_H

#include "config.h"

#include <stdio.h>

/* Runs cfg->eval.policies on scenarios eval.seed .. eval.seed + K - 1,
 * prints the table to out and writes cfg->eval.output (unless it is "-").
 * Returns 0, DGPG_EINVAL for a bad request (message in err), or another
 * negative code for a failure while running. */
int dgpg_eval_run(const dgpg_config *cfg, FILE *out, char *err, size_t err_len);

#endif
