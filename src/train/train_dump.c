/* train_dump.c — see train_dump.h. */
#include "train_dump.h"

#include "h5util.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dump_array(hid_t file, dgpg_backend *be, const train_dump_array *a)
{
    const size_t n = (size_t)(a->rows * a->cols);
    const size_t bytes = n * (a->is_int32 ? sizeof(int32_t) : sizeof(float));
    void *host = malloc(bytes);
    int64_t *wide = a->is_int32 ? malloc(n * sizeof(int64_t)) : NULL;
    int rc = -1;
    if (host && (!a->is_int32 || wide) && dgpg_backend_download(be, host, a->data, bytes) == 0) {
        const hsize_t dims[2] = {(hsize_t)a->rows, (hsize_t)a->cols};
        if (a->is_int32) {
            for (size_t k = 0; k < n; k++)
                wide[k] = ((const int32_t *)host)[k];
            rc = h5util_write_int64s(file, a->name, 2, dims, wide, a->units, a->description);
        } else {
            rc = h5util_write_floats(file, a->name, 2, dims, host, a->units, a->description);
        }
    }
    free(host);
    free(wide);
    return rc;
}

int train_dump_batch(const char *path, dgpg_backend *be, const dgpg_config *cfg,
                     const train_dump_array *arrays, int n_arrays,
                     const train_dump_value *values, int n_values, char *err, size_t err_len)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        snprintf(err, err_len, "train.dump_batch = '%s': cannot create the file; allowed: a "
                 "writable path", path);
        return -1;
    }
    int rc = h5util_write_config(file, cfg);
    for (int k = 0; rc == 0 && k < n_values; k++)
        rc = h5util_attr_double(file, values[k].name, values[k].value);
    for (int k = 0; rc == 0 && k < n_arrays; k++)
        if (arrays[k].data)
            rc = dump_array(file, be, &arrays[k]);
    if (H5Fclose(file) < 0)
        rc = -1;
    if (rc != 0)
        snprintf(err, err_len, "train.dump_batch = '%s': writing the batch failed (see the "
                 "HDF5 or backend error above)", path);
    return rc;
}
