/* h5util.h — small, checked helpers for the self-describing HDF5 files
 * dgpg writes: every dataset carries `units` and `description`
 * attributes; the resolved config is stored as attributes of /config.
 * All functions return 0, or -1 after printing what failed. */
#ifndef DGPG_H5UTIL_H
#define DGPG_H5UTIL_H

#include "config.h"

#include <hdf5.h>
#include <stdint.h>

/* Switches off HDF5's automatic error printing (H5_CHECK records the
 * error instead) and its exit handler. Call before any other HDF5 call. */
void h5util_init(void);

/* The last failure H5_CHECK recorded, in words: the OS error where HDF5
 * met one ("No space left on device"), else HDF5's innermost message. */
const char *h5util_last_error(void);
/* HDF5's innermost description of that failure, whole ("truncated file:
 * eof = ..., stored_eof = ..."), for callers that parse it. */
const char *h5util_last_detail(void);

/* 0 if path is a regular file (after symlinks); else -1 with what it is
 * instead in err (the OS error, or "not a regular file (a FIFO)"), without
 * the path: a FIFO would block an open forever. */
int h5util_check_regular(const char *path, char *err, size_t err_len);

/* Metadata read attempts of a SWMR reader (h5util_open_read). */
#define H5UTIL_READ_ATTEMPTS 28

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
/* h5util_open_read after checking that path exists and is a regular file
 * (a FIFO would block the open forever); otherwise, or if HDF5 cannot open
 * it, a negative id and one line in err: the path, what is wrong (missing,
 * not a regular file, damaged) and `allowed`. */
hid_t h5util_open_checked(const char *path, const char *allowed, char *err, size_t err_len);
/* Compares the /config attributes of an open file with cfg: every key must
 * match except train.episodes. 0, or -1 with one line in err (without the
 * path) naming the key. */
int h5util_config_matches(hid_t file, const dgpg_config *cfg, char *err, size_t err_len);
/* Reads every dataset of an open file once, in blocks, so that HDF5 checks
 * each chunk's Fletcher-32 checksum (the logs' datasets carry one). 0, or
 * -1 with one line in err (without the path) naming the first dataset
 * that does not read back. */
int h5util_verify_datasets(hid_t file, char *err, size_t err_len);
/* Group /config with one string attribute per key, "section.key". */
int h5util_write_config(hid_t file, const dgpg_config *cfg);

#endif
