/* train_dump.h — train.dump_batch: one episode's batch, as the trainer
 * holds it after the advantages are computed, written to an HDF5 file for
 * offline inspection (tests/test_train_batch.py recomputes it from its
 * definitions). Arrays are read from the backend's memory. */
#ifndef DGPG_TRAIN_DUMP_H
#define DGPG_TRAIN_DUMP_H

#include "backend.h"
#include "config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct train_dump_array {
    const char *name, *units, *description;
    const void *data;  /* backend memory; NULL: not written */
    int is_int32;      /* int32 (stored as int64), else float */
    int64_t rows, cols;
} train_dump_array;

typedef struct train_dump_value {
    const char *name;
    double value;
} train_dump_value;

/* Writes the arrays as datasets (rows, cols) and the values as attributes
 * of the root, with the resolved config under /config. 0, or -1 with err
 * naming what failed. */
int train_dump_batch(const char *path, dgpg_backend *be, const dgpg_config *cfg,
                     const train_dump_array *arrays, int n_arrays,
                     const train_dump_value *values, int n_values, char *err, size_t err_len);

#endif
