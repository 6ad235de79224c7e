/* h5log.c — see h5log.h.
 *
 * HDF5 forbids creating objects or attributes once SWMR writing has
 * started, so dgpg_log_create makes the whole file (every group, dataset
 * and attribute, the snapshot datasets with 0 rows) first and only then
 * calls H5Fstart_swmr_write; afterwards an append only extends datasets.
 * Float datasets are filled with NaN: a reader that catches an episode
 * in flight (extent already grown, row not yet flushed) sees NaN, never a
 * plausible 0.
 *
 * kill -9: the file uses paged space aggregation (h5log_fcpl), so that a
 * write cut short by the signal cannot tear a metadata object. A killed
 * writer leaves the superblock marked "open for SWMR write", and HDF5 then
 * refuses any open that is not a SWMR read (h5py: swmr=True), so
 * dgpg_log_open clears that mark the way `h5clear -s` does, accepts a file
 * end cut short by the write in flight, and sets EOA = max(EOA, EOF) the
 * way `h5clear --increment=0` does, so that no new allocation lands on
 * bytes the killed writer used (h5log_open_file). It only does that while
 * it holds the log's writer lock (h5log_lock), which proves that no dgpg
 * process still writes the file. A test that kills a writer at random
 * moments thousands of times found every reported episode readable and
 * every log resumable this way; without paged aggregation about one kill
 * in 200 left a torn object header. */
#include "h5log.h"

#include "check.h"
#include "dgpg/dgpg.h"
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define H5LOG_KIND "dgpg training log"
#define H5LOG_NAME_MAX 63
/* A chunk is rewritten whole by the flush after each episode: keep it near
 * 64 KiB, at most 64 rows (scalars: 512 B; a (N, M) tensor of 40 KiB per
 * episode: 1 row). Snapshot rows are split in 4 MiB pieces. */
#define H5LOG_CHUNK_BYTES 65536
#define H5LOG_CHUNK_ROWS 64
#define H5LOG_PARAM_CHUNK ((hsize_t)1 << 20)
#define H5LOG_PAGE 4096
/* The most a killed writer can leave unwritten below its stored end of
 * file: one snapshot chunk and a page. */
#define H5LOG_KILL_GAP (H5LOG_PARAM_CHUNK * sizeof(float) + 2 * H5LOG_PAGE)

struct dgpg_log {
    char *path;
    hid_t file;
    int lock_fd;               /* holds the writer lock, -1 if none */
    int64_t n_agents, n_actions;
    int n_scalars, n_tensors, n_params;
    int64_t episodes, snapshots, last_snapshot;
    hid_t *scalar;             /* (n_scalars) /episode/NAME, open */
    hid_t *tensor;             /* (n_tensors) /agent/NAME, open */
    int *per_action;           /* (n_tensors) */
    hid_t *param;              /* (n_params) /snapshot/NAME, open */
    hsize_t *param_size;       /* (n_params) */
    hid_t snap_episode;        /* /snapshot/episode */
    hid_t mem_one;             /* memory space (1): a scalar, a snapshot's episode */
    hid_t mem_agent;           /* (1, N) */
    hid_t mem_agent_action;    /* (1, N, M) */
    hid_t *mem_param;          /* (n_params) spaces (1, param_size[k]) */
};

/* One line "dgpg: PATH: WHAT; allowed: WHAT" (fmt holds both parts). */
static void h5log_refuse(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* How many lines h5log_refuse has printed: a public function that fails
 * without having printed one prints the recorded HDF5/OS error instead. */
static unsigned h5log_refusals;

static void h5log_refuse(const char *path, const char *fmt, ...)
{
    va_list ap;
    h5log_refusals++;
    va_start(ap, fmt);
    fprintf(stderr, "dgpg: %s: ", path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The innermost message of HDF5's error stack (the one that says what is
 * wrong with the file, "truncated file: eof = ...", rather than "unable to
 * open"), for a one-line refusal where the whole stack would only bury
 * it; clears the stack. */
static void h5log_error_detail(char *buf, size_t len)
{
    h5util_error_capture("opening the log", __FILE__, __LINE__);
    snprintf(buf, len, "%s", h5util_last_detail());
}

static int h5log_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > H5LOG_NAME_MAX)
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    return 1;
}

/* Checks one group's columns: valid names, no two alike, units and a
 * description present; `reserved` (may be NULL) is a name taken already. */
static int h5log_check_columns(const char *path, const char *group, int n,
                               const char *(*name_of)(const void *, int),
                               const char *(*units_of)(const void *, int),
                               const char *(*desc_of)(const void *, int), const void *cols,
                               const char *reserved)
{
    if (n < 0 || (n > 0 && !cols)) {
        h5log_refuse(path, "schema: %d /%s columns with %s list; allowed: n >= 0 and a list "
                     "of n columns", n, group, cols ? "a" : "no");
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const char *name = name_of(cols, k);
        if (!h5log_name_ok(name)) {
            h5log_refuse(path, "schema: /%s column %d is named \"%s\"; allowed: [a-z0-9_]+, "
                         "1 to %d characters", group, k, name ? name : "(null)", H5LOG_NAME_MAX);
            return -1;
        }
        if (!units_of(cols, k) || !desc_of(cols, k)) {
            h5log_refuse(path, "schema: /%s/%s has no %s; allowed: every dataset has units "
                         "and a description", group, name, units_of(cols, k) ? "description"
                                                                            : "units");
            return -1;
        }
        if (reserved && strcmp(name, reserved) == 0) {
            h5log_refuse(path, "schema: /%s/%s names a parameter vector; allowed: any name "
                         "but \"%s\", the snapshots' episode column", group, name, reserved);
            return -1;
        }
        for (int j = 0; j < k; j++)
            if (strcmp(name, name_of(cols, j)) == 0) {
                h5log_refuse(path, "schema: /%s/%s is named twice; allowed: one dataset per "
                             "name", group, name);
                return -1;
            }
    }
    return 0;
}

static const char *h5log_column_name(const void *c, int k)
{
    return ((const dgpg_log_column *)c)[k].name;
}
static const char *h5log_column_units(const void *c, int k)
{
    return ((const dgpg_log_column *)c)[k].units;
}
static const char *h5log_column_desc(const void *c, int k)
{
    return ((const dgpg_log_column *)c)[k].description;
}
static const char *h5log_tensor_name(const void *c, int k)
{
    return ((const dgpg_log_tensor *)c)[k].name;
}
static const char *h5log_tensor_units(const void *c, int k)
{
    return ((const dgpg_log_tensor *)c)[k].units;
}
static const char *h5log_tensor_desc(const void *c, int k)
{
    return ((const dgpg_log_tensor *)c)[k].description;
}

static int h5log_check_schema(const char *path, const dgpg_log_schema *s)
{
    if (!s) {
        h5log_refuse(path, "no schema; allowed: a dgpg_log_schema");
        return -1;
    }
    if (s->n_agents < 1 || s->n_actions < 1) {
        h5log_refuse(path, "schema: N = %lld, M = %lld; allowed: N >= 1 and M >= 1",
                     (long long)s->n_agents, (long long)s->n_actions);
        return -1;
    }
    if (h5log_check_columns(path, "episode", s->n_scalars, h5log_column_name,
                            h5log_column_units, h5log_column_desc, s->scalars, NULL) ||
        h5log_check_columns(path, "agent", s->n_tensors, h5log_tensor_name, h5log_tensor_units,
                            h5log_tensor_desc, s->tensors, NULL) ||
        h5log_check_columns(path, "snapshot", s->n_params, h5log_column_name,
                            h5log_column_units, h5log_column_desc, s->params, "episode"))
        return -1;
    for (int k = 0; k < s->n_params; k++)
        if (!s->param_sizes || s->param_sizes[k] < 1) {
            h5log_refuse(path, "schema: /snapshot/%s has size %lld; allowed: >= 1 floats",
                         s->params[k].name, s->param_sizes ? (long long)s->param_sizes[k] : 0LL);
            return -1;
        }
    return 0;
}

/* A log with every id invalid, sized for the schema (already checked). */
static dgpg_log *h5log_alloc(const char *path, const dgpg_log_schema *s)
{
    dgpg_log *log = calloc(1, sizeof *log);
    if (!log)
        return NULL;
    log->file = log->snap_episode = H5I_INVALID_HID;
    log->mem_one = log->mem_agent = log->mem_agent_action = H5I_INVALID_HID;
    log->lock_fd = -1;
    log->n_agents = s->n_agents;
    log->n_actions = s->n_actions;
    log->n_scalars = s->n_scalars;
    log->n_tensors = s->n_tensors;
    log->n_params = s->n_params;
    log->last_snapshot = -1;
    log->path = strdup(path);
    /* +1: calloc(0) may return NULL, which would read as a failure */
    log->scalar = calloc((size_t)s->n_scalars + 1, sizeof(hid_t));
    log->tensor = calloc((size_t)s->n_tensors + 1, sizeof(hid_t));
    log->per_action = calloc((size_t)s->n_tensors + 1, sizeof(int));
    log->param = calloc((size_t)s->n_params + 1, sizeof(hid_t));
    log->mem_param = calloc((size_t)s->n_params + 1, sizeof(hid_t));
    log->param_size = calloc((size_t)s->n_params + 1, sizeof(hsize_t));
    if (!log->path || !log->scalar || !log->tensor || !log->per_action || !log->param ||
        !log->mem_param || !log->param_size) {
        free(log->path);
        free(log->scalar);
        free(log->tensor);
        free(log->per_action);
        free(log->param);
        free(log->mem_param);
        free(log->param_size);
        free(log);
        return NULL;
    }
    for (int k = 0; k < s->n_scalars; k++)
        log->scalar[k] = H5I_INVALID_HID;
    for (int k = 0; k < s->n_tensors; k++) {
        log->tensor[k] = H5I_INVALID_HID;
        log->per_action[k] = s->tensors[k].per_action != 0;
    }
    for (int k = 0; k < s->n_params; k++) {
        log->param[k] = log->mem_param[k] = H5I_INVALID_HID;
        log->param_size[k] = (hsize_t)s->param_sizes[k];
    }
    return log;
}

static int h5log_close_file(hid_t file)
{
    H5_CHECK(H5Fclose(file), failed);
    return 0;
failed:
    return -1;
}

/* Closes every id and frees; -1 if closing the file failed (that is where
 * HDF5 writes the last metadata and clears the open-for-write mark). */
static int h5log_free(dgpg_log *log)
{
    int rc = 0;
    for (int k = 0; k < log->n_scalars; k++)
        if (log->scalar[k] >= 0)
            H5Dclose(log->scalar[k]);
    for (int k = 0; k < log->n_tensors; k++)
        if (log->tensor[k] >= 0)
            H5Dclose(log->tensor[k]);
    for (int k = 0; k < log->n_params; k++) {
        if (log->param[k] >= 0)
            H5Dclose(log->param[k]);
        if (log->mem_param[k] >= 0)
            H5Sclose(log->mem_param[k]);
    }
    if (log->snap_episode >= 0)
        H5Dclose(log->snap_episode);
    if (log->mem_one >= 0)
        H5Sclose(log->mem_one);
    if (log->mem_agent >= 0)
        H5Sclose(log->mem_agent);
    if (log->mem_agent_action >= 0)
        H5Sclose(log->mem_agent_action);
    if (log->file >= 0 && h5log_close_file(log->file))
        rc = -1;
    /* released after H5Fclose: until then this process is the writer */
    if (log->lock_fd >= 0)
        close(log->lock_fd);
    free(log->path);
    free(log->scalar);
    free(log->tensor);
    free(log->per_action);
    free(log->param);
    free(log->mem_param);
    free(log->param_size);
    free(log);
    return rc;
}

/* The writer lock: an open-file-description lock on the log itself, held
 * until close. HDF5's own flock() cannot serve: HDF5 drops it when SWMR
 * writing starts (so that readers may open the file), and the file's
 * open-for-write mark survives a killed run. On Linux OFD locks and
 * flock() do not interact, so this does not disturb HDF5's locking; the
 * kernel drops the lock when the process dies. Returns 0, or -1 after a
 * message if another process holds it. */
static int h5log_lock(dgpg_log *log)
{
#ifdef F_OFD_SETLK
    int fd = open(log->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        h5log_refuse(log->path, "cannot be opened for writing (%s); allowed: a log file this "
                     "user may write", strerror(errno));
        return -1;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int err = errno;
        close(fd);
        if (err == EAGAIN || err == EACCES) {
            h5log_refuse(log->path, "is open for writing by another running process; "
                         "allowed: one writer per log: stop the other run first");
            return -1;
        }
        /* no locks on this file system: HDF5's open-for-write mark is then
         * the only guard, as it is for any HDF5 file */
        return 0;
    }
    log->lock_fd = fd;
#else
    (void)log;
#endif
    return 0;
}

static hid_t h5log_fapl(void)
{
    hid_t fapl = H5I_INVALID_HID;
    H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS), failed);
    /* SWMR needs the 1.10 file format (superblock v3, extensible-array
     * chunk indexes); h5py reads it with libver="latest" */
    H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), failed);
    return fapl;
failed:
    if (fapl >= 0)
        H5Pclose(fapl);
    return H5I_INVALID_HID;
}

/* Paged file-space aggregation: no metadata object smaller than a page
 * straddles a page boundary. The kernel copies a write into the page cache
 * page by page and a fatal signal can stop it between pages, so without
 * this a kill -9 during a flush can leave an object header half old, half
 * new (a checksum error that makes the log unreadable); within one page a
 * write lands whole. 4 KiB: the smallest page of the usual kernels. */
static hid_t h5log_fcpl(void)
{
    hid_t fcpl = H5I_INVALID_HID;
    H5_CHECK(fcpl = H5Pcreate(H5P_FILE_CREATE), failed);
    H5_CHECK(H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_PAGE, 0, 1), failed);
    H5_CHECK(H5Pset_file_space_page_size(fcpl, H5LOG_PAGE), failed);
    return fcpl;
failed:
    if (fcpl >= 0)
        H5Pclose(fcpl);
    return H5I_INVALID_HID;
}

/* A chunked dataset of 0 rows, extendable along axis 0, with its units and
 * description; dims[1..rank-1] are the row's shape. */
static hid_t h5log_dataset(hid_t group, const char *name, hid_t file_type, hid_t fill_type,
                           const void *fill, int rank, const hsize_t *dims,
                           const hsize_t *chunk, const char *units, const char *description)
{
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    hsize_t cur[3], max[3];
    for (int r = 0; r < rank; r++)
        cur[r] = max[r] = dims[r];
    cur[0] = 0;
    max[0] = H5S_UNLIMITED;
    H5_CHECK(space = H5Screate_simple(rank, cur, max), failed);
    H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), failed);
    H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), failed);
    /* HDF5 keeps no checksum of raw data otherwise: with Fletcher-32 a
     * changed bit in a chunk fails its read instead of being reported */
    H5_CHECK(H5Pset_fletcher32(dcpl), failed);
    H5_CHECK(H5Pset_fill_value(dcpl, fill_type, fill), failed);
    H5_CHECK(dset = H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
             failed);
    if (h5util_attr_string(dset, "units", units) ||
        h5util_attr_string(dset, "description", description))
        goto failed;
    H5Pclose(dcpl);
    H5Sclose(space);
    return dset;
failed:
    if (dset >= 0)
        H5Dclose(dset);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return H5I_INVALID_HID;
}

static hsize_t h5log_chunk_rows(hsize_t row_bytes)
{
    hsize_t rows = H5LOG_CHUNK_BYTES / row_bytes;
    return rows < 1 ? 1 : rows > H5LOG_CHUNK_ROWS ? H5LOG_CHUNK_ROWS : rows;
}

/* Links ordered by creation too, so that readers (h5py) list the columns
 * in schema order rather than by name. */
static hid_t h5log_group(hid_t file, const char *name, const char *description)
{
    hid_t gcpl = H5I_INVALID_HID, group = H5I_INVALID_HID;
    H5_CHECK(gcpl = H5Pcreate(H5P_GROUP_CREATE), failed);
    H5_CHECK(H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
             failed);
    H5_CHECK(group = H5Gcreate2(file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT), failed);
    if (h5util_attr_string(group, "description", description))
        goto failed;
    H5Pclose(gcpl);
    return group;
failed:
    if (group >= 0)
        H5Gclose(group);
    if (gcpl >= 0)
        H5Pclose(gcpl);
    return H5I_INVALID_HID;
}

/* The memory spaces of one row, made once so that appends allocate none. */
static int h5log_memory_spaces(dgpg_log *log)
{
    const hsize_t one = 1, agent[2] = {1, (hsize_t)log->n_agents},
                  agent_action[3] = {1, (hsize_t)log->n_agents, (hsize_t)log->n_actions};
    H5_CHECK(log->mem_one = H5Screate_simple(1, &one, NULL), failed);
    H5_CHECK(log->mem_agent = H5Screate_simple(2, agent, NULL), failed);
    H5_CHECK(log->mem_agent_action = H5Screate_simple(3, agent_action, NULL), failed);
    for (int k = 0; k < log->n_params; k++) {
        const hsize_t row[2] = {1, log->param_size[k]};
        H5_CHECK(log->mem_param[k] = H5Screate_simple(2, row, NULL), failed);
    }
    return 0;
failed:
    return -1;
}

static int h5log_write_root(hid_t file, const dgpg_log_schema *s)
{
    char created[32];
    time_t now = time(NULL);
    struct tm utc;
    if (!gmtime_r(&now, &utc) || !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc))
        snprintf(created, sizeof created, "unknown");
    if (h5util_attr_string(file, "dgpg_version", DGPG_VERSION_STRING) ||
        h5util_attr_string(file, "kind", H5LOG_KIND) ||
        h5util_attr_int(file, "n_agents", s->n_agents) ||
        h5util_attr_int(file, "n_actions", s->n_actions) ||
        h5util_attr_string(file, "env_columns", s->env_columns ? s->env_columns : "") ||
        h5util_attr_string(file, "created", created))
        return -1;
    return 0;
}

/* Every group and dataset of the layout in h5log.h, 0 rows each. */
static int h5log_create_datasets(dgpg_log *log, const dgpg_log_schema *s)
{
    int rc = -1;
    hid_t episode = H5I_INVALID_HID, agent = H5I_INVALID_HID, snapshot = H5I_INVALID_HID;
    const double nan_d = NAN;
    const float nan_f = NAN;
    const int64_t no_episode = -1;
    const hsize_t N = (hsize_t)s->n_agents, M = (hsize_t)s->n_actions;
    episode = h5log_group(log->file, "episode",
                          "per-episode scalars: one float64 dataset (episodes,) per column, "
                          "row e is training episode e; NaN marks a row still being written");
    agent = h5log_group(log->file, "agent",
                        "per-agent tensors: one float32 dataset (episodes, N) or "
                        "(episodes, N, M) per tensor, N agents, M actions");
    snapshot = h5log_group(log->file, "snapshot",
                           "parameter snapshots: float32 (snapshots, size) per parameter "
                           "vector; /snapshot/episode is the episode each row was taken at");
    if (episode < 0 || agent < 0 || snapshot < 0)
        goto done;
    for (int k = 0; k < s->n_scalars; k++) {
        const hsize_t dims = 0, chunk = H5LOG_CHUNK_ROWS;
        log->scalar[k] = h5log_dataset(episode, s->scalars[k].name, H5T_IEEE_F64LE,
                                       H5T_NATIVE_DOUBLE, &nan_d, 1, &dims, &chunk,
                                       s->scalars[k].units, s->scalars[k].description);
        if (log->scalar[k] < 0)
            goto done;
    }
    for (int k = 0; k < s->n_tensors; k++) {
        const int rank = log->per_action[k] ? 3 : 2;
        const hsize_t row = N * (log->per_action[k] ? M : 1) * sizeof(float);
        const hsize_t dims[3] = {0, N, M}, chunk[3] = {h5log_chunk_rows(row), N, M};
        log->tensor[k] = h5log_dataset(agent, s->tensors[k].name, H5T_IEEE_F32LE,
                                       H5T_NATIVE_FLOAT, &nan_f, rank, dims, chunk,
                                       s->tensors[k].units, s->tensors[k].description);
        if (log->tensor[k] < 0)
            goto done;
    }
    {
        const hsize_t dims = 0, chunk = H5LOG_CHUNK_ROWS;
        log->snap_episode = h5log_dataset(snapshot, "episode", H5T_STD_I64LE,
                                          H5T_NATIVE_INT64, &no_episode, 1, &dims, &chunk,
                                          "episode", "training episode at which each "
                                          "snapshot row was taken");
        if (log->snap_episode < 0)
            goto done;
    }
    for (int k = 0; k < s->n_params; k++) {
        const hsize_t size = log->param_size[k];
        const hsize_t dims[2] = {0, size},
                      chunk[2] = {1, size < H5LOG_PARAM_CHUNK ? size : H5LOG_PARAM_CHUNK};
        log->param[k] = h5log_dataset(snapshot, s->params[k].name, H5T_IEEE_F32LE,
                                      H5T_NATIVE_FLOAT, &nan_f, 2, dims, chunk,
                                      s->params[k].units, s->params[k].description);
        if (log->param[k] < 0)
            goto done;
    }
    rc = 0;
done:
    if (episode >= 0)
        H5Gclose(episode);
    if (agent >= 0)
        H5Gclose(agent);
    if (snapshot >= 0)
        H5Gclose(snapshot);
    return rc;
}

int dgpg_log_create(dgpg_log **out, const char *path, const dgpg_config *cfg,
                    const dgpg_log_schema *schema)
{
    *out = NULL;
    if (h5log_check_schema(path, schema))
        return -1;
    struct stat st;
    if (stat(path, &st) == 0) {
        h5log_refuse(path, "exists already; allowed: a path that does not exist (a new run); "
                     "resuming a run appends to its log instead");
        return -1;
    }
    dgpg_log *log = h5log_alloc(path, schema);
    if (!log) {
        h5log_refuse(path, "out of memory for the log's bookkeeping; allowed: a schema that "
                     "fits in memory");
        return -1;
    }
    const unsigned refusals = h5log_refusals;
    int rc = -1, created = 0;
    hid_t fcpl = H5I_INVALID_HID, fapl = h5log_fapl();
    if (fapl < 0)
        goto done;
    if ((fcpl = h5log_fcpl()) < 0)
        goto done;
    /* EXCL: two runs racing for one name must not both get it */
    log->file = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl);
    if (log->file < 0) {
        h5util_error_capture("H5Fcreate", __FILE__, __LINE__);
        h5log_refuse(path, "cannot be created (%s); allowed: a new file in an existing, "
                     "writable directory", h5util_last_error());
        goto done;
    }
    created = 1;
    if (h5log_lock(log) || h5log_write_root(log->file, schema) ||
        h5util_write_config(log->file, cfg) || h5log_create_datasets(log, schema) ||
        h5log_memory_spaces(log))
        goto done;
    /* last: no object or attribute can be created from here on */
    H5_CHECK(H5Fstart_swmr_write(log->file), done);
    rc = 0;
done:
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc != 0) {
        if (h5log_refusals == refusals)
            h5log_refuse(path, "creating the log failed: %s", h5util_last_error());
        h5log_free(log);
        /* a half-made log would block the next attempt under this name */
        if (created)
            unlink(path);
        return -1;
    }
    *out = log;
    return 0;
}

/* ---- resume ------------------------------------------------------------ */

/* "a, b, c" for a refusal naming what the schema allows. */
static void h5log_list_names(char *buf, size_t len, int n, const char *(*name_of)(const void *, int),
                             const void *cols, const char *extra)
{
    size_t used = 0;
    buf[0] = '\0';
    if (extra)
        used += (size_t)snprintf(buf, len, "%s", extra);
    for (int k = 0; k < n && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                                 name_of(cols, k));
    if (!used)
        snprintf(buf, len, "none");
}

static int h5log_check_root(const dgpg_log *log)
{
    char kind[128];
    int64_t n_agents = 0, n_actions = 0;
    if (h5util_read_string_attr(log->file, "kind", kind, sizeof kind)) {
        h5log_refuse(log->path, "damaged, or not a dgpg log: an HDF5 file without a root "
                     "attribute \"kind\"; allowed: a \"" H5LOG_KIND "\" written by dgpg "
                     "train");
        return -1;
    }
    if (strcmp(kind, H5LOG_KIND) != 0) {
        h5log_refuse(log->path, "is a \"%s\"; allowed: a \"" H5LOG_KIND "\"", kind);
        return -1;
    }
    if (h5util_read_attr(log->file, "n_agents", H5T_NATIVE_INT64, &n_agents) ||
        h5util_read_attr(log->file, "n_actions", H5T_NATIVE_INT64, &n_actions)) {
        H5Eclear2(H5E_DEFAULT);
        h5log_refuse(log->path, "damaged, or not a dgpg log: no integer root attributes "
                     "n_agents and n_actions; allowed: a log written by dgpg train");
        return -1;
    }
    if (n_agents != log->n_agents || n_actions != log->n_actions) {
        h5log_refuse(log->path, "was written with N = %lld agents, M = %lld actions; allowed: "
                     "N = %lld, M = %lld, as in this run's config", (long long)n_agents,
                     (long long)n_actions, (long long)log->n_agents, (long long)log->n_actions);
        return -1;
    }
    return 0;
}

static void h5log_shape_text(char *buf, size_t len, const char *rows, int rank,
                             const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, len, "(%s%s", rows, rank == 1 ? "," : "");
    for (int r = 1; r < rank && used < len; r++)
        used += (size_t)snprintf(buf + used, len - used, ", %llu", (unsigned long long)dims[r]);
    if (used < len)
        snprintf(buf + used, len - used, ")");
}

static void h5log_type_text(char *buf, size_t len, hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t bits = 8 * H5Tget_size(type);
    if (cls == H5T_FLOAT)
        snprintf(buf, len, "float%zu", bits);
    else if (cls == H5T_INTEGER)
        snprintf(buf, len, "int%zu", bits);
    else
        snprintf(buf, len, "a non-numeric type");
}

/* Opens group/name and checks that it is a chunked dataset of `cls` with
 * `size`-byte elements, extendable along axis 0, whose rows have the shape
 * dims[1..rank-1]; `rows` gets its length. `why` ends the allowed shape
 * (" for this run's N = 7"). Returns the dataset, or -1 after a message. */
static hid_t h5log_open_dataset(const dgpg_log *log, hid_t group, const char *gname,
                                const char *name, H5T_class_t cls, size_t size, int rank,
                                const hsize_t *dims, const char *row_name, const char *why,
                                const char *names, hsize_t *rows)
{
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID,
          dcpl = H5I_INVALID_HID;
    char allowed[256], found[256];
    hsize_t cur[H5S_MAX_RANK], max[H5S_MAX_RANK];
    h5log_shape_text(allowed, sizeof allowed, row_name, rank, dims);
    if (H5Lexists(group, name, H5P_DEFAULT) <= 0) {
        h5log_refuse(log->path, "dataset /%s/%s is missing; allowed: the datasets this run "
                     "writes, /%s/{%s}", gname, name, gname, names);
        goto failed;
    }
    if ((dset = H5Dopen2(group, name, H5P_DEFAULT)) < 0) {
        h5log_refuse(log->path, "/%s/%s is not a dataset; allowed: a dataset %s%s", gname,
                     name, allowed, why);
        goto failed;
    }
    H5_CHECK(type = H5Dget_type(dset), failed);
    if (H5Tget_class(type) != cls || H5Tget_size(type) != size) {
        h5log_type_text(found, sizeof found, type);
        h5log_refuse(log->path, "dataset /%s/%s holds %s; allowed: %s%zu", gname, name, found,
                     cls == H5T_FLOAT ? "float" : "int", 8 * size);
        goto failed;
    }
    H5_CHECK(space = H5Dget_space(dset), failed);
    int found_rank = H5Sget_simple_extent_ndims(space);
    H5_CHECK(found_rank, failed);
    H5_CHECK(H5Sget_simple_extent_dims(space, cur, max), failed);
    int same = found_rank == rank;
    for (int r = 1; r < rank && same; r++)
        same = cur[r] == dims[r];
    if (!same) {
        size_t used = (size_t)snprintf(found, sizeof found, "(");
        for (int r = 0; r < found_rank && used < sizeof found; r++)
            used += (size_t)snprintf(found + used, sizeof found - used, "%s%llu",
                                     r ? ", " : "", (unsigned long long)cur[r]);
        if (used < sizeof found)
            snprintf(found + used, sizeof found - used, "%s)", found_rank == 1 ? "," : "");
        h5log_refuse(log->path, "dataset /%s/%s has shape %s; allowed: %s%s", gname, name,
                     found, allowed, why);
        goto failed;
    }
    H5_CHECK(dcpl = H5Dget_create_plist(dset), failed);
    if (H5Pget_layout(dcpl) != H5D_CHUNKED || max[0] != H5S_UNLIMITED) {
        h5log_refuse(log->path, "dataset /%s/%s cannot grow (not chunked with an unlimited "
                     "first axis); allowed: datasets as dgpg train creates them", gname, name);
        goto failed;
    }
    *rows = cur[0];
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
    return dset;
failed:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (dset >= 0)
        H5Dclose(dset);
    H5Eclear2(H5E_DEFAULT);
    return H5I_INVALID_HID;
}

/* Refuses a group member the schema does not name: resuming into a log of
 * a run with other columns would leave those columns short. */
static int h5log_check_no_extra(const dgpg_log *log, hid_t group, const char *gname, int n,
                                const char *(*name_of)(const void *, int), const void *cols,
                                const char *extra, const char *names)
{
    H5G_info_t info;
    H5_CHECK(H5Gget_info(group, &info), failed);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char member[H5LOG_NAME_MAX + 2];
        H5_CHECK(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, member,
                                    sizeof member, H5P_DEFAULT),
                 failed);
        int known = extra && strcmp(member, extra) == 0;
        for (int k = 0; k < n && !known; k++)
            known = strcmp(member, name_of(cols, k)) == 0;
        if (!known) {
            h5log_refuse(log->path, "/%s/%s is not in this run's schema; allowed: the "
                         "datasets this run writes, /%s/{%s}", gname, member, gname, names);
            return -1;
        }
    }
    return 0;
failed:
    return -1;
}

static hid_t h5log_open_group(const dgpg_log *log, const char *name)
{
    hid_t group = H5I_INVALID_HID;
    if (H5Lexists(log->file, name, H5P_DEFAULT) <= 0 ||
        (group = H5Gopen2(log->file, name, H5P_DEFAULT)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        h5log_refuse(log->path, "has no group /%s; allowed: a log written by dgpg train "
                     "(groups /episode, /agent, /snapshot)", name);
        return H5I_INVALID_HID;
    }
    return group;
}

/* Opens and checks every dataset against the schema; *episodes and
 * *snapshots get the fewest rows found among them (a run killed in the
 * middle of an append may leave the first datasets one row longer). */
static int h5log_open_datasets(dgpg_log *log, const dgpg_log_schema *s, hsize_t *episodes,
                               hsize_t *snapshots)
{
    int rc = -1;
    char names[1024], why[128];
    hid_t episode = h5log_open_group(log, "episode"), agent = H5I_INVALID_HID,
          snapshot = H5I_INVALID_HID;
    hsize_t rows;
    *episodes = *snapshots = (hsize_t)-1;
    if (episode < 0 || (agent = h5log_open_group(log, "agent")) < 0 ||
        (snapshot = h5log_open_group(log, "snapshot")) < 0)
        goto done;

    h5log_list_names(names, sizeof names, s->n_scalars, h5log_column_name, s->scalars, NULL);
    for (int k = 0; k < s->n_scalars; k++) {
        const hsize_t dims[1] = {0};
        log->scalar[k] = h5log_open_dataset(log, episode, "episode", s->scalars[k].name,
                                            H5T_FLOAT, 8, 1, dims, "episodes", "", names, &rows);
        if (log->scalar[k] < 0)
            goto done;
        *episodes = rows < *episodes ? rows : *episodes;
    }
    if (h5log_check_no_extra(log, episode, "episode", s->n_scalars, h5log_column_name,
                             s->scalars, NULL, names))
        goto done;

    h5log_list_names(names, sizeof names, s->n_tensors, h5log_tensor_name, s->tensors, NULL);
    for (int k = 0; k < s->n_tensors; k++) {
        const hsize_t dims[3] = {0, (hsize_t)s->n_agents, (hsize_t)s->n_actions};
        if (log->per_action[k])
            snprintf(why, sizeof why, " for this run's N = %lld, M = %lld",
                     (long long)s->n_agents, (long long)s->n_actions);
        else
            snprintf(why, sizeof why, " for this run's N = %lld", (long long)s->n_agents);
        log->tensor[k] = h5log_open_dataset(log, agent, "agent", s->tensors[k].name, H5T_FLOAT,
                                            4, log->per_action[k] ? 3 : 2, dims, "episodes",
                                            why, names, &rows);
        if (log->tensor[k] < 0)
            goto done;
        *episodes = rows < *episodes ? rows : *episodes;
    }
    if (h5log_check_no_extra(log, agent, "agent", s->n_tensors, h5log_tensor_name, s->tensors,
                             NULL, names))
        goto done;

    h5log_list_names(names, sizeof names, s->n_params, h5log_column_name, s->params, "episode");
    {
        const hsize_t dims[1] = {0};
        log->snap_episode = h5log_open_dataset(log, snapshot, "snapshot", "episode",
                                               H5T_INTEGER, 8, 1, dims, "snapshots", "", names,
                                               &rows);
        if (log->snap_episode < 0)
            goto done;
        *snapshots = rows;
    }
    for (int k = 0; k < s->n_params; k++) {
        const hsize_t dims[2] = {0, log->param_size[k]};
        snprintf(why, sizeof why, " for this run's %s of %llu floats", s->params[k].name,
                 (unsigned long long)log->param_size[k]);
        log->param[k] = h5log_open_dataset(log, snapshot, "snapshot", s->params[k].name,
                                           H5T_FLOAT, 4, 2, dims, "snapshots", why, names, &rows);
        if (log->param[k] < 0)
            goto done;
        *snapshots = rows < *snapshots ? rows : *snapshots;
    }
    if (h5log_check_no_extra(log, snapshot, "snapshot", s->n_params, h5log_column_name,
                             s->params, "episode", names))
        goto done;
    rc = 0;
done:
    if (snapshot >= 0)
        H5Gclose(snapshot);
    if (agent >= 0)
        H5Gclose(agent);
    if (episode >= 0)
        H5Gclose(episode);
    return rc;
}

/* Sets dataset's length along axis 0, keeping the other axes. */
static int h5log_set_rows(hid_t dset, hsize_t rows)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    H5_CHECK(space = H5Dget_space(dset), done);
    H5_CHECK(H5Sget_simple_extent_dims(space, dims, NULL), done);
    dims[0] = rows;
    H5_CHECK(H5Dset_extent(dset, dims), done);
    rc = 0;
done:
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* How many of the stored snapshots to keep: those taken at an episode
 * before `episodes`. They must form a prefix (episodes never decrease),
 * or cutting the datasets' tails could not drop exactly the later ones.
 * Sets log->last_snapshot to the last kept one's episode. */
static int h5log_snapshots_to_keep(dgpg_log *log, hsize_t stored, int64_t episodes,
                                   hsize_t *keep)
{
    int rc = -1;
    int64_t *tags = malloc(sizeof(int64_t) * (size_t)(stored ? stored : 1));
    hid_t space = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    *keep = 0;
    if (!tags) {
        h5log_refuse(log->path, "out of memory reading %llu snapshot episodes; allowed: a log "
                     "that fits in memory", (unsigned long long)stored);
        return -1;
    }
    if (stored > 0) {
        const hsize_t start = 0;
        H5_CHECK(space = H5Dget_space(log->snap_episode), done);
        H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &stored, NULL), done);
        H5_CHECK(mem = H5Screate_simple(1, &stored, NULL), done);
        H5_CHECK(H5Dread(log->snap_episode, H5T_NATIVE_INT64, mem, space, H5P_DEFAULT, tags),
                 done);
    }
    for (hsize_t i = 0; i < stored; i++) {
        if (i > 0 && tags[i] < tags[i - 1]) {
            h5log_refuse(log->path, "/snapshot/episode goes back from %lld to %lld at row "
                         "%llu; allowed: snapshot episodes in order, as dgpg train writes "
                         "them", (long long)tags[i - 1], (long long)tags[i],
                         (unsigned long long)i);
            goto done;
        }
        if (tags[i] < episodes) {
            *keep = i + 1;
            log->last_snapshot = tags[i];
        }
    }
    rc = 0;
done:
    if (mem >= 0)
        H5Sclose(mem);
    if (space >= 0)
        H5Sclose(space);
    free(tags);
    return rc;
}

/* A killed writer may have stored an end of file (EOA) past the bytes it
 * got to write; HDF5 then refuses the file as truncated. Accepts the gap
 * it names (in HDF5's own message) when it is no more than one write in
 * flight: a copy cut short, or a file damaged otherwise, stays refused. */
static int h5log_killed_gap_ok(const char *detail)
{
    unsigned long long eof, base, stored;
    const char *at = strstr(detail, "truncated file:");
    return at && sscanf(at, "truncated file: eof = %llu, sblock->base_addr = %llu, "
                            "stored_eof = %llu", &eof, &base, &stored) == 3 &&
           stored > eof + base && stored - eof - base <= H5LOG_KILL_GAP;
}

/* Opens the file for writing. A killed run leaves the "open for SWMR
 * write" mark; then (holding the writer lock) the open is retried with the
 * mark cleared, as `h5clear -s` does, and *killed is set. If the killed
 * writer also left the file short of its stored end, by no more than one
 * write in flight, the end-of-file check is skipped, as h5clear does; a
 * short file without the mark was cut after a clean close and stays
 * refused. Both switches are HDF5's private file-access properties,
 * registered in every file-access list (so H5Pset reaches them) and used
 * by h5clear and HDF5's own crash tests. */
static int h5log_open_file(dgpg_log *log, int *killed)
{
    int rc = -1;
    char detail[512], short_detail[512] = "";
    const hbool_t yes = 1;
    int clear = 0, skip = 0;
    hid_t fapl = h5log_fapl();
    *killed = 0;
    if (fapl < 0)
        return -1;
    /* HDF5 checks the end of file before the mark, so either may come
     * first. A short file is probed read-only until the mark is seen: a
     * read-write open would close by writing the file out to its stored
     * end, hiding the damage of a file that was cut after a clean close. */
    for (int attempt = 0; attempt < 4; attempt++) {
        const int probe = skip && !clear;
        log->file = H5Fopen(log->path, probe ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl);
        if (log->file >= 0 && probe) {
            H5Fclose(log->file);
            log->file = H5I_INVALID_HID;
            snprintf(detail, sizeof detail, "%s", short_detail);
            break;
        }
        if (log->file >= 0)
            break;
        h5log_error_detail(detail, sizeof detail);
        if (!clear && strstr(detail, "already open for write")) {
            clear = 1;
            H5_CHECK(H5Pset(fapl, "clear_status_flags", &yes), done);
        } else if (!skip && h5log_killed_gap_ok(detail)) {
            skip = 1;
            snprintf(short_detail, sizeof short_detail, "%s", detail);
            H5_CHECK(H5Pset(fapl, "skip_eof_check", &yes), done);
        } else {
            break;
        }
    }
    if (log->file < 0) {
        h5log_refuse(log->path, "damaged: HDF5 cannot open it (%s); allowed: an intact "
                     "dgpg training log", detail);
        goto done;
    }
    *killed = clear;
    /* the killed writer may have used bytes past the EOA it last stored */
    if (clear)
        H5_CHECK(H5Fincrement_filesize(log->file, 0), done);
    rc = 0;
done:
    H5Pclose(fapl);
    return rc;
}

int dgpg_log_open(dgpg_log **out, const char *path, const dgpg_log_schema *schema,
                  int64_t episodes)
{
    *out = NULL;
    const unsigned refusals = h5log_refusals;
    if (h5log_check_schema(path, schema))
        return -1;
    if (episodes < 0) {
        h5log_refuse(path, "resume at episode %lld; allowed: >= 0", (long long)episodes);
        return -1;
    }
    char why[DGPG_ERR_LEN];
    if (h5util_check_regular(path, why, sizeof why) != 0) {
        h5log_refuse(path, "%s; allowed: the log.h5 of the run being resumed", why);
        return -1;
    }
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_hdf5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is_hdf5 = H5Fis_hdf5(path);
#endif
    if (is_hdf5 <= 0) {
        char detail[512];
        h5log_error_detail(detail, sizeof detail);
        h5log_refuse(path, "damaged or not an HDF5 file (%s); allowed: the log.h5 that dgpg "
                     "train wrote", is_hdf5 == 0 ? "no HDF5 signature" : detail);
        return -1;
    }
    dgpg_log *log = h5log_alloc(path, schema);
    if (!log) {
        h5log_refuse(path, "out of memory for the log's bookkeeping; allowed: a schema that "
                     "fits in memory");
        return -1;
    }
    int rc = -1, killed = 0;
    hsize_t stored_episodes, stored_snapshots, keep;
    /* the lock first: only then is it safe to clear a killed run's mark */
    if (h5log_lock(log) || h5log_open_file(log, &killed) || h5log_check_root(log))
        goto done;
    if (schema->match_config &&
        h5util_config_matches(log->file, schema->match_config, why, sizeof why) != 0) {
        h5log_refuse(path, "%s", why);
        goto done;
    }
    /* every chunk read once: one that fails its Fletcher-32 checksum is
     * damage to refuse now, not a failed append episodes later */
    if (h5util_verify_datasets(log->file, why, sizeof why) != 0) {
        h5log_refuse(path, "%s", why);
        goto done;
    }
    if (h5log_open_datasets(log, schema, &stored_episodes, &stored_snapshots))
        goto done;
    if (schema->n_scalars + schema->n_tensors == 0)
        stored_episodes = (hsize_t)episodes;   /* nothing stores a count */
    if (stored_episodes < (hsize_t)episodes) {
        h5log_refuse(path, "holds %llu complete episodes; allowed: at least %lld, the episode "
                     "the run resumes from", (unsigned long long)stored_episodes,
                     (long long)episodes);
        goto done;
    }
    if (h5log_snapshots_to_keep(log, stored_snapshots, episodes, &keep))
        goto done;
    /* drop what was logged after the checkpoint: the resumed run logs it again */
    for (int k = 0; k < log->n_scalars; k++)
        if (h5log_set_rows(log->scalar[k], (hsize_t)episodes))
            goto done;
    for (int k = 0; k < log->n_tensors; k++)
        if (h5log_set_rows(log->tensor[k], (hsize_t)episodes))
            goto done;
    if (h5log_set_rows(log->snap_episode, keep))
        goto done;
    for (int k = 0; k < log->n_params; k++)
        if (h5log_set_rows(log->param[k], keep))
            goto done;
    if (h5log_memory_spaces(log))
        goto done;
    log->episodes = episodes;
    log->snapshots = (int64_t)keep;
    H5_CHECK(H5Fstart_swmr_write(log->file), done);
    if (killed)
        fprintf(stderr, "dgpg: %s: was not closed (run killed?): cleared its open-for-write "
                "mark; resuming at episode %lld of %llu stored\n", path, (long long)episodes,
                (unsigned long long)stored_episodes);
    rc = 0;
done:
    if (rc != 0) {
        if (h5log_refusals == refusals)
            h5log_refuse(path, "opening the log to continue it failed: %s", h5util_last_error());
        h5log_free(log);
        return -1;
    }
    *out = log;
    return 0;
}

/* ---- append ------------------------------------------------------------ */

/* Grows dset to row + 1 rows (row shape dims[1..rank-1]) and writes row
 * `row` from data laid out as `mem`. */
static int h5log_write_row(hid_t dset, int rank, const hsize_t *dims, hsize_t row, hid_t mem,
                           hid_t mem_type, const void *data)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID;
    hsize_t size[3], start[3] = {row, 0, 0}, count[3];
    for (int r = 0; r < rank; r++)
        size[r] = count[r] = dims[r];
    size[0] = row + 1;
    count[0] = 1;
    H5_CHECK(H5Dset_extent(dset, size), done);
    H5_CHECK(space = H5Dget_space(dset), done);
    H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL), done);
    H5_CHECK(H5Dwrite(dset, mem_type, mem, space, H5P_DEFAULT, data), done);
    rc = 0;
done:
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int h5log_flush(hid_t file)
{
    H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), failed);
    return 0;
failed:
    return -1;
}

int dgpg_log_append(dgpg_log *log, int64_t episode, const double *scalars,
                    const float *const *tensors)
{
    if (episode != log->episodes) {
        h5log_refuse(log->path, "append: expected episode %lld, given %lld; allowed: episodes "
                     "in order, each once", (long long)log->episodes, (long long)episode);
        return -1;
    }
    if ((log->n_scalars > 0 && !scalars) || (log->n_tensors > 0 && !tensors)) {
        h5log_refuse(log->path, "append: no %s given; allowed: one value per schema column",
                     scalars ? "tensors" : "scalars");
        return -1;
    }
    for (int k = 0; k < log->n_tensors; k++)
        if (!tensors[k]) {
            h5log_refuse(log->path, "append: tensor %d is NULL; allowed: one array per schema "
                         "tensor", k);
            return -1;
        }
    const hsize_t row = (hsize_t)episode, one = 1;
    const hsize_t dims[3] = {0, (hsize_t)log->n_agents, (hsize_t)log->n_actions};
    int k = 0, t = 0;
    for (; k < log->n_scalars; k++)
        if (h5log_write_row(log->scalar[k], 1, &one, row, log->mem_one, H5T_NATIVE_DOUBLE,
                            &scalars[k]))
            goto failed;
    for (; t < log->n_tensors; t++)
        if (h5log_write_row(log->tensor[t], log->per_action[t] ? 3 : 2, dims, row,
                            log->per_action[t] ? log->mem_agent_action : log->mem_agent,
                            H5T_NATIVE_FLOAT, tensors[t]))
            goto failed;
    if (h5log_flush(log->file))
        goto failed;
    log->episodes++;
    return 0;
failed:
    /* every dataset back to the episodes that were complete, so the log
     * stays rectangular and the caller may retry */
    for (int j = 0; j <= k && j < log->n_scalars; j++)
        h5log_set_rows(log->scalar[j], row);
    for (int j = 0; j <= t && j < log->n_tensors; j++)
        h5log_set_rows(log->tensor[j], row);
    h5log_flush(log->file);
    return -1;
}

int dgpg_log_snapshot(dgpg_log *log, int64_t episode, const float *const *params)
{
    const int64_t first = log->last_snapshot > 0 ? log->last_snapshot : 0;
    if (episode < first || episode > log->episodes) {
        h5log_refuse(log->path, "snapshot tagged episode %lld; allowed: %lld to %lld (from the "
                     "last snapshot's episode to the episodes logged so far)",
                     (long long)episode, (long long)first, (long long)log->episodes);
        return -1;
    }
    if (log->n_params > 0 && !params) {
        h5log_refuse(log->path, "snapshot: no parameter vectors given; allowed: one per schema "
                     "parameter vector");
        return -1;
    }
    for (int k = 0; k < log->n_params; k++)
        if (!params[k]) {
            h5log_refuse(log->path, "snapshot: parameter vector %d is NULL; allowed: one "
                         "array per schema parameter vector", k);
            return -1;
        }
    const hsize_t row = (hsize_t)log->snapshots, one = 1;
    int k = 0;
    if (h5log_write_row(log->snap_episode, 1, &one, row, log->mem_one, H5T_NATIVE_INT64,
                        &episode))
        goto failed;
    for (; k < log->n_params; k++) {
        const hsize_t dims[2] = {0, log->param_size[k]};
        if (h5log_write_row(log->param[k], 2, dims, row, log->mem_param[k], H5T_NATIVE_FLOAT,
                            params[k]))
            goto failed;
    }
    if (h5log_flush(log->file))
        goto failed;
    log->snapshots++;
    log->last_snapshot = episode;
    return 0;
failed:
    h5log_set_rows(log->snap_episode, row);
    for (int j = 0; j <= k && j < log->n_params; j++)
        h5log_set_rows(log->param[j], row);
    h5log_flush(log->file);
    return -1;
}

int64_t dgpg_log_episodes(const dgpg_log *log)
{
    return log->episodes;
}

int dgpg_log_close(dgpg_log *log)
{
    if (!log)
        return 0;
    int rc = log->file >= 0 ? h5log_flush(log->file) : 0;
    if (h5log_free(log))
        rc = -1;
    return rc;
}
