/* h5util.c — see h5util.h. */
#include "h5util.h"

#include "check.h"
#include "dgpg/dgpg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The last HDF5 failure in words, for the caller's one-line message. */
static char h5util_last[256];
/* ... and HDF5's innermost description of it, whole (h5log parses it). */
static char h5util_detail[512];

void h5util_init(void)
{
    /* no HDF5 atexit handler: after a failed close (a full disk) the
     * library still holds the file, and closing it again at exit crashed
     * in H5F__close_cb; every file dgpg writes is closed explicitly */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static int h5util_debug(void)
{
    const char *v = getenv("DGPG_HDF5_DEBUG");
    return v && v[0] && strcmp(v, "0") != 0;
}

/* H5Ewalk2 from the innermost error outwards: the first OS error text
 * ("..., errno = 28, error message = 'No space left on device', ...") wins,
 * else the innermost description; that description is kept whole too. */
static herr_t h5util_error_entry(unsigned n, const H5E_error2_t *e, void *user)
{
    char *out = user;
    const char *desc = e->desc ? e->desc : "";
    if (n == 0)
        snprintf(h5util_detail, sizeof h5util_detail, "%s", desc);
    const char *os = strstr(desc, "error message = '");
    if (os) {
        os += strlen("error message = '");
        size_t len = strcspn(os, "'");
        snprintf(out, sizeof h5util_last, "%.*s", (int)(len < 200 ? len : 200), os);
        return 1; /* stop: the OS said what went wrong */
    }
    if (n == 0) {
        /* a description names the file with its full parameter list
         * (addresses, flags): keep its first clause */
        size_t len = strcspn(desc, ",:");
        snprintf(out, sizeof h5util_last, "%.*s (HDF5)", (int)(len < 200 ? len : 200), desc);
    }
    return 0;
}

void h5util_error_capture(const char *expr, const char *file, int line)
{
    h5util_last[0] = h5util_detail[0] = '\0';
    if (h5util_debug()) {
        fprintf(stderr, "dgpg: HDF5 call failed: %s at %s:%d\n", expr, file, line);
        H5Eprint2(H5E_DEFAULT, stderr);
    }
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5util_error_entry, h5util_last);
    if (!h5util_last[0])
        snprintf(h5util_last, sizeof h5util_last, "HDF5 call %s failed", expr);
    H5Eclear2(H5E_DEFAULT);
}

const char *h5util_last_error(void)
{
    return h5util_last[0] ? h5util_last : "HDF5 call failed";
}

const char *h5util_last_detail(void)
{
    return h5util_detail[0] ? h5util_detail : "HDF5 gave no reason";
}

int h5util_check_regular(const char *path, char *err, size_t err_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, err_len, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "not a regular file (%s)",
                 S_ISDIR(st.st_mode)    ? "a directory"
                 : S_ISFIFO(st.st_mode) ? "a FIFO"
                 : S_ISCHR(st.st_mode)  ? "a character device"
                 : S_ISBLK(st.st_mode)  ? "a block device"
                 : S_ISSOCK(st.st_mode) ? "a socket"
                                        : "not a plain file");
        return -1;
    }
    return 0;
}

static int h5util_attr(hid_t obj, const char *name, hid_t type, const void *value)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    H5_CHECK(space = H5Screate(H5S_SCALAR), done);
    H5_CHECK(attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), done);
    H5_CHECK(H5Awrite(attr, type, value), done);
    rc = 0;
done:
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int h5util_attr_string(hid_t obj, const char *name, const char *value)
{
    int rc = -1;
    hid_t type = H5I_INVALID_HID;
    H5_CHECK(type = H5Tcopy(H5T_C_S1), done);
    H5_CHECK(H5Tset_size(type, H5T_VARIABLE), done);
    H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), done);
    rc = h5util_attr(obj, name, type, &value);
done:
    if (type >= 0)
        H5Tclose(type);
    return rc;
}

int h5util_attr_double(hid_t obj, const char *name, double value)
{
    return h5util_attr(obj, name, H5T_NATIVE_DOUBLE, &value);
}

int h5util_attr_int(hid_t obj, const char *name, int64_t value)
{
    return h5util_attr(obj, name, H5T_NATIVE_INT64, &value);
}

static int h5util_write_array(hid_t parent, const char *name, hid_t file_type, hid_t mem_type,
                              int rank, const hsize_t *dims, const void *data, const char *units,
                              const char *description)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    H5_CHECK(space = H5Screate_simple(rank, dims, NULL), done);
    H5_CHECK(dset = H5Dcreate2(parent, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT),
             done);
    H5_CHECK(H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), done);
    if (h5util_attr_string(dset, "units", units) || h5util_attr_string(dset, "description", description))
        goto done;
    rc = 0;
done:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int h5util_write_doubles(hid_t parent, const char *name, int rank, const hsize_t *dims,
                         const double *data, const char *units, const char *description)
{
    return h5util_write_array(parent, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, dims, data,
                              units, description);
}

int h5util_write_int64s(hid_t parent, const char *name, int rank, const hsize_t *dims,
                        const int64_t *data, const char *units, const char *description)
{
    return h5util_write_array(parent, name, H5T_STD_I64LE, H5T_NATIVE_INT64, rank, dims, data,
                              units, description);
}

int h5util_write_floats(hid_t parent, const char *name, int rank, const hsize_t *dims,
                        const float *data, const char *units, const char *description)
{
    return h5util_write_array(parent, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, dims, data,
                              units, description);
}

int h5util_write_strings(hid_t parent, const char *name, hsize_t count,
                         const char *const *strings, const char *description)
{
    int rc = -1;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    H5_CHECK(type = H5Tcopy(H5T_C_S1), done);
    H5_CHECK(H5Tset_size(type, H5T_VARIABLE), done);
    H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), done);
    H5_CHECK(space = H5Screate_simple(1, &count, NULL), done);
    H5_CHECK(dset = H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             done);
    H5_CHECK(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings), done);
    if (h5util_attr_string(dset, "description", description))
        goto done;
    rc = 0;
done:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return rc;
}

typedef struct h5util_config_writer {
    hid_t group;
    int failed;
} h5util_config_writer;

static void h5util_config_attr(void *user, const char *section, const char *key,
                               const char *value)
{
    h5util_config_writer *writer = user;
    char name[2 * DGPG_NAME_LEN];
    snprintf(name, sizeof name, "%s.%s", section, key);
    if (!writer->failed && h5util_attr_string(writer->group, name, value))
        writer->failed = 1;
}

int h5util_write_config(hid_t file, const dgpg_config *cfg)
{
    h5util_config_writer writer = {H5I_INVALID_HID, 0};
    H5_CHECK(writer.group = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             failed);
    if (h5util_attr_string(writer.group, "description",
                           "the resolved configuration of the run, one attribute per "
                           "section.key, values as `dgpg config` prints them") ||
        h5util_attr_string(writer.group, "source", cfg->source))
        goto failed;
    dgpg_config_foreach(cfg, h5util_config_attr, &writer);
    if (writer.failed)
        goto failed;
    H5Gclose(writer.group);
    return 0;
failed:
    if (writer.group >= 0)
        H5Gclose(writer.group);
    return -1;
}

int h5util_read_attr(hid_t obj, const char *name, hid_t mem_type, void *out)
{
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    herr_t status = H5Aread(attr, mem_type, out);
    H5Aclose(attr);
    return status < 0 ? -1 : 0;
}

int h5util_read_string_attr(hid_t obj, const char *name, char *buf, size_t len)
{
    int rc = -1;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    if (H5Aexists(obj, name) <= 0)
        return -1;
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (ftype = H5Aget_type(attr)) < 0 ||
        H5Tget_class(ftype) != H5T_STRING || (mtype = H5Tcopy(ftype)) < 0)
        goto done;
    /* the memory type is the file's: HDF5 converts no character set */
    if (H5Tis_variable_str(ftype) > 0) {
        char *value = NULL;
        if (H5Aread(attr, mtype, &value) < 0)
            goto done;
        snprintf(buf, len, "%s", value ? value : "");
        H5free_memory(value);
    } else {
        size_t size = H5Tget_size(ftype);
        char *value = calloc(size + 1, 1);
        if (!value || H5Tset_size(mtype, size + 1) < 0 ||
            H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0 || H5Aread(attr, mtype, value) < 0) {
            free(value);
            goto done;
        }
        snprintf(buf, len, "%s", value);
        free(value);
    }
    rc = 0;
done:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (attr >= 0)
        H5Aclose(attr);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

hid_t h5util_open_read(const char *path)
{
    /* SWMR read needs the latest-format access list; a log whose writer
     * was killed still carries its open-for-write mark, which only a SWMR
     * reader gets past. Files not written for SWMR (checkpoints) open
     * plainly. A SWMR reader retries a metadata read that fails its
     * checksum, in case a writer was half-way through it, sleeping twice as
     * long each time: HDF5's default of 100 attempts kept a reader of a
     * damaged file waiting for hours. 28 attempts wait 0.27 s in all
     * (measured on a truncated log: 24 took 0.02 s, 30 took 1.1 s, 50 more
     * than 5 minutes), long enough for a live writer's flush. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t file = H5I_INVALID_HID;
    if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0 &&
        H5Pset_metadata_read_attempts(fapl, H5UTIL_READ_ATTEMPTS) >= 0)
        file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (file < 0) {
        H5Eclear2(H5E_DEFAULT);
        file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    }
    if (file < 0)
        h5util_error_capture("H5Fopen", __FILE__, __LINE__); /* for the caller's message */
    H5Eclear2(H5E_DEFAULT);
    return file;
}

hid_t h5util_open_checked(const char *path, const char *allowed, char *err, size_t err_len)
{
    char why[128];
    if (h5util_check_regular(path, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s: %s; allowed: %s", path, why, allowed);
        return H5I_INVALID_HID;
    }
    /* H5Fis_hdf5 looks for the signature only: a file without one is not
     * HDF5 at all, one with it that does not open is damaged */
    htri_t is_hdf5 = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    hid_t file = is_hdf5 > 0 ? h5util_open_read(path) : H5I_INVALID_HID;
    if (file >= 0)
        return file;
    if (is_hdf5 > 0 && strstr(h5util_last_error(), "already open for write"))
        /* a writer killed between its plain open and SWMR: the file is
         * whole, but only a writer may clear the mark */
        snprintf(err, err_len, "%s: left marked open for writing by a process that was killed "
                 "(not damaged); allowed: a file no writer left open: `dgpg train --resume` "
                 "of its run, or `h5clear -s`, clears the mark", path);
    else
        snprintf(err, err_len, "%s: %s; allowed: %s", path,
                 is_hdf5 > 0 ? "damaged: HDF5 cannot open it (truncated, or its metadata "
                               "fails HDF5's checks)"
                             : "damaged or not an HDF5 file (no HDF5 signature)",
                 allowed);
    return H5I_INVALID_HID;
}

typedef struct h5util_config_compare {
    hid_t group;
    const dgpg_config *defaults; /* the embedded default for the run's plug-ins, or NULL */
    char *err;
    size_t err_len;
    int mismatch;
} h5util_config_compare;

/* Every key of the run's config must equal the file's, except
 * train.episodes (a resumed run may be given more episodes). A key the
 * file does not hold was added by a later version: the run's value must
 * then be its default, which is what the file's run ran with. */
static void h5util_compare_key(void *user, const char *section, const char *key,
                               const char *value)
{
    h5util_config_compare *cc = user;
    char name[2 * DGPG_NAME_LEN], stored[DGPG_LIST_LEN + 64], fallback[DGPG_LIST_LEN + 64];
    if (cc->mismatch || (strcmp(section, "train") == 0 && strcmp(key, "episodes") == 0))
        return;
    snprintf(name, sizeof name, "%s.%s", section, key);
    if (h5util_read_string_attr(cc->group, name, stored, sizeof stored) != 0 && cc->defaults &&
        H5Aexists(cc->group, name) == 0 &&
        dgpg_config_value(cc->defaults, name, fallback, sizeof fallback) == DGPG_OK) {
        H5Eclear2(H5E_DEFAULT);
        if (strcmp(fallback, value) != 0) {
            snprintf(cc->err, cc->err_len, "%s = '%s' in the run's config, but this file was "
                     "written before the key existed, so with its default '%s'; allowed: '%s'",
                     name, value, fallback, fallback);
            cc->mismatch = 1;
        }
    } else if (h5util_read_string_attr(cc->group, name, stored, sizeof stored) != 0) {
        snprintf(cc->err, cc->err_len, "damaged, or not written by dgpg %s: its stored config "
                 "key %s cannot be read; allowed: a file written by dgpg %s",
                 DGPG_VERSION_STRING, name, DGPG_VERSION_STRING);
        cc->mismatch = 1;
    } else if (strcmp(stored, value) != 0) {
        snprintf(cc->err, cc->err_len, "%s = '%s' in this file but '%s' in the run's config; "
                 "allowed: the same value (only train.episodes may change on resume)",
                 name, stored, value);
        cc->mismatch = 1;
    }
}

int h5util_config_matches(hid_t file, const dgpg_config *cfg, char *err, size_t err_len)
{
    hid_t group = H5Lexists(file, "config", H5P_DEFAULT) > 0
                      ? H5Gopen2(file, "config", H5P_DEFAULT)
                      : H5I_INVALID_HID;
    H5Eclear2(H5E_DEFAULT);
    if (group < 0) {
        snprintf(err, err_len, "damaged, or not written by dgpg: its /config group cannot "
                 "be opened; allowed: a file written by dgpg %s", DGPG_VERSION_STRING);
        return -1;
    }
    /* the defaults a key added since the file was written stands for */
    dgpg_config *defaults = malloc(sizeof *defaults);
    char env_set[DGPG_NAME_LEN + 16], model_set[DGPG_NAME_LEN + 16], ignored[DGPG_ERR_LEN];
    snprintf(env_set, sizeof env_set, "env.name=%s", cfg->env.name);
    snprintf(model_set, sizeof model_set, "model.name=%s", cfg->model.name);
    const char *sets[] = {env_set, model_set};
    if (defaults && dgpg_config_load(defaults, NULL, sets, 2, ignored, sizeof ignored) != 0) {
        free(defaults);
        defaults = NULL;
    }
    h5util_config_compare cc = {group, defaults, err, err_len, 0};
    dgpg_config_foreach(cfg, h5util_compare_key, &cc);
    H5Gclose(group);
    free(defaults);
    return cc.mismatch ? -1 : 0;
}

typedef struct h5util_verify {
    char *err;
    size_t err_len;
    void *buffer;
    size_t buffer_len;
} h5util_verify;

/* Reads dataset `name` whole, in blocks of rows, so that HDF5 checks every
 * chunk's Fletcher-32 checksum (and every chunk index entry on the way). */
static int h5util_verify_one(hid_t parent, const char *name, h5util_verify *v)
{
    int rc = -1;
    hid_t dset = H5Dopen2(parent, name, H5P_DEFAULT);
    hid_t ftype = dset >= 0 ? H5Dget_type(dset) : H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if (ftype < 0)
        goto done;
    if (H5Tdetect_class(ftype, H5T_VLEN) > 0 || H5Tis_variable_str(ftype) > 0) {
        rc = 0; /* variable-length data lives in the heap: nothing to read by rows */
        goto done;
    }
    if ((mtype = H5Tget_native_type(ftype, H5T_DIR_DEFAULT)) < 0 ||
        (fspace = H5Dget_space(dset)) < 0)
        goto done;
    hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    const int rank = H5Sget_simple_extent_dims(fspace, dims, NULL);
    if (rank < 0)
        goto done;
    if (rank == 0 || H5Sget_simple_extent_npoints(fspace) == 0) {
        rc = 0;
        goto done;
    }
    size_t row_bytes = H5Tget_size(mtype);
    for (int r = 1; r < rank; r++)
        row_bytes *= (size_t)dims[r];
    hsize_t rows = row_bytes > 0 ? (hsize_t)(v->buffer_len / row_bytes) : 0;
    if (rows == 0) {
        free(v->buffer);
        v->buffer_len = row_bytes;
        if (!(v->buffer = malloc(v->buffer_len)))
            goto done;
        rows = 1;
    }
    for (int r = 0; r < rank; r++)
        count[r] = dims[r];
    for (hsize_t at = 0; at < dims[0]; at += rows) {
        start[0] = at;
        count[0] = dims[0] - at < rows ? dims[0] - at : rows;
        if (mspace >= 0)
            H5Sclose(mspace);
        if ((mspace = H5Screate_simple(rank, count, NULL)) < 0 ||
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(dset, mtype, mspace, fspace, H5P_DEFAULT, v->buffer) < 0)
            goto done;
    }
    rc = 0;
done:
    if (rc != 0) {
        h5util_error_capture("H5Dread", __FILE__, __LINE__);
        snprintf(v->err, v->err_len, "damaged: dataset /%s cannot be read back (%s)", name,
                 h5util_last_error());
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (dset >= 0)
        H5Dclose(dset);
    return rc;
}

static herr_t h5util_verify_visit(hid_t obj, const char *name, const H5O_info_t *info,
                                  void *user)
{
    if (info->type != H5O_TYPE_DATASET || strcmp(name, ".") == 0)
        return 0;
    return h5util_verify_one(obj, name, user) == 0 ? 0 : 1;
}

int h5util_verify_datasets(hid_t file, char *err, size_t err_len)
{
    h5util_verify v = {err, err_len, NULL, (size_t)1 << 22};
    if (!(v.buffer = malloc(v.buffer_len))) {
        snprintf(err, err_len, "out of memory for reading the file back");
        return -1;
    }
    err[0] = '\0';
    herr_t rc = H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, h5util_verify_visit, &v,
                          H5O_INFO_BASIC);
    free(v.buffer);
    if (rc != 0 && !err[0]) {
        h5util_error_capture("H5Ovisit2", __FILE__, __LINE__);
        snprintf(err, err_len, "damaged: its groups cannot be walked (%s)", h5util_last_error());
    }
    H5Eclear2(H5E_DEFAULT);
    return rc == 0 ? 0 : -1;
}
