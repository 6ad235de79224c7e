/* h5log.h — the training log: one HDF5 file per run (runs/NAME/log.h5),
 * written with SWMR so that h5py can read it while training runs, flushed
 * after every episode so that a killed run keeps every completed episode.
 *
 * Layout (every dataset carries `units` and `description` attributes):
 *   /                   attrs: dgpg_version, kind = "dgpg training log",
 *                              n_agents, n_actions, created (ISO 8601)
 *   /config             attrs: the resolved config, one per "section.key"
 *   /episode/NAME       (episodes,)          float64, one per scalar column
 *   /agent/NAME         (episodes, N[, M])   float32, one per agent tensor
 *   /snapshot/episode   (snapshots,)         int64: episode of each snapshot
 *   /snapshot/NAME      (snapshots, size)    float32: parameter vectors
 * All datasets are chunked and extendable along their first axis.
 *
 * Usage: describe the columns in a dgpg_log_schema, create (new run) or
 * open (resume), append one episode at a time, snapshot now and then,
 * close. Every function returns 0, or -1 after printing what failed with
 * the HDF5 error stack (check.h). */
#ifndef DGPG_H5LOG_H
#define DGPG_H5LOG_H

#include "config.h"

#include <stdint.h>

typedef struct dgpg_log_column {
    const char *name;          /* dataset name: [a-z0-9_]+ */
    const char *units;         /* e.g. "steps", "1", "agent-steps/s" */
    const char *description;   /* one sentence: what it is and how measured */
} dgpg_log_column;

typedef struct dgpg_log_tensor {
    const char *name;
    const char *units;
    const char *description;
    int per_action;            /* 0: shape (N), 1: shape (N, M) */
} dgpg_log_tensor;

typedef struct dgpg_log_schema {
    int n_scalars;
    const dgpg_log_column *scalars;
    int n_tensors;
    const dgpg_log_tensor *tensors;
    int n_params;              /* parameter vectors saved by snapshots */
    const dgpg_log_column *params;
    const int64_t *param_sizes; /* (n_params) floats in each vector */
    int64_t n_agents;          /* N */
    int64_t n_actions;         /* M */
    /* the environment's own scalar columns, comma-separated, stored as the
     * root attribute "env_columns" (dgpg report shows them); NULL: "" */
    const char *env_columns;
    /* dgpg_log_open: the config the stored /config must match (every key
     * but train.episodes), checked once the file is open (a killed run's
     * open-for-write mark cleared) and before anything is truncated; NULL:
     * not checked */
    const dgpg_config *match_config;
} dgpg_log_schema;

typedef struct dgpg_log dgpg_log;

/* Creates `path` (which must not exist), writes the config and the empty
 * datasets, and starts SWMR writing. */
int dgpg_log_create(dgpg_log **log, const char *path, const dgpg_config *cfg,
                    const dgpg_log_schema *schema);

/* Opens an existing log for appending after a resume: checks that its
 * schema (names, shapes) matches `schema` and that it holds at least
 * `episodes` episodes, discards any episode or snapshot past `episodes`
 * (written after the checkpoint the run resumes from), and starts SWMR
 * writing. Refuses with a message naming what does not match. */
int dgpg_log_open(dgpg_log **log, const char *path, const dgpg_log_schema *schema,
                  int64_t episodes);

/* Appends episode `episode` (must equal the number of episodes logged so
 * far): scalars (n_scalars) in schema order, tensors[k] the k-th tensor's
 * (N) or (N, M) floats; then flushes the file. */
int dgpg_log_append(dgpg_log *log, int64_t episode, const double *scalars,
                    const float *const *tensors);

/* Appends one snapshot of every parameter vector (params[k] has
 * param_sizes[k] floats), tagged with `episode`; then flushes. */
int dgpg_log_snapshot(dgpg_log *log, int64_t episode, const float *const *params);

/* Episodes logged so far. */
int64_t dgpg_log_episodes(const dgpg_log *log);

/* Flushes and closes; NULL is fine. Returns -1 if the final flush failed. */
int dgpg_log_close(dgpg_log *log);

#endif
