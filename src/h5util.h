/* h5util.h — small, checked helpers for the self-describing HDF5 files
 * dgpg writes: every dataset carries `units` and `description`
 * attributes; the resolved config is stored as attributes of /config.
 * All functions return 0, or -1 after printing what failed. */
#ifndef DGPG_H5UTIL_H
#define DGPG_H5UTIL_H

#include "config.h"

#include <hdf5.h>
#include <stdint.h>

/* Switches off HDF5's automatic error printing (check.h prints instead). */
void h5util_init(void);

int h5util_attr_string(hid_t obj, const char *name, const char *value);
int h5util_attr_double(hid_t obj, const char *name, double value);
int h5util_attr_int(hid_t obj, const char *name, int64_t value);

/* A double dataset of rank 1 or 2 (dims[rank]) with units and meaning. */
int h5util_write_doubles(hid_t parent, const char *name, int rank, const hsize_t *dims,
                         const double *data, const char *units, const char *description);
/* The same for int64 data. */
int h5util_write_int64s(hid_t parent, const char *name, int rank, const hsize_t *dims,
                        const int64_t *data, const char *units, const char *description);
/* The same for float data (stored as 32-bit IEEE floats). */
int h5util_write_floats(hid_t parent, const char *name, int rank, const hsize_t *dims,
                        const float *data, const char *units, const char *description);
/* A 1-d dataset of variable-length strings. */
int h5util_write_strings(hid_t parent, const char *name, hsize_t count,
                         const char *const *strings, const char *description);
/* Reads attribute `name` of obj as mem_type into out; 0, or -1 if it is
 * missing or unreadable (nothing printed). */
int h5util_read_attr(hid_t obj, const char *name, hid_t mem_type, void *out);
/* Reads the string attribute `name` (variable or fixed length) into buf;
 * 0, or -1 if it is missing or not a string (nothing printed). */
int h5util_read_string_attr(hid_t obj, const char *name, char *buf, size_t len);
/* Opens path read-only: for SWMR reading if it allows (logs, also of a
 * killed run), else plainly (checkpoints). A negative id on failure,
 * nothing printed. */
hid_t h5util_open_read(const char *path);
/* Group /config with one string attribute per key, "section.key". */
int h5util_write_config(hid_t file, const dgpg_config *cfg);

#endif
