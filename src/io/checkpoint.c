/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"

#include "check.h"
#include "dgpg/dgpg.h"
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKPOINT_KIND "dgpg checkpoint"

/* ---- integrity: a SHA-256 table in the HDF5 user block ------------------
 * HDF5 keeps no checksum of raw data, so a flipped bit in a weight was
 * loaded silently, and a damaged file's metadata could crash or hang the
 * library. The first CHECKPOINT_USERBLOCK bytes of a checkpoint (HDF5's
 * user block, which the library skips; h5py opens the file as usual) hold
 * a text table:
 *   dgpg checkpoint integrity 1
 *   size BYTES                         the whole file
 *   dataset NAME OFFSET BYTES SHA256   each tensor's raw data in the file
 *   rest SHA256                        every other byte after the user block
 *   end
 * and the rest is zeros (checked too). A reader checks it all before HDF5
 * parses a byte of the file, so damage is named (the dataset, or the
 * metadata) and never reaches HDF5; the loaders then read each tensor from
 * exactly the bytes that were checked. */
#define CHECKPOINT_USERBLOCK 4096
#define CHECKPOINT_MAGIC "dgpg checkpoint integrity 1\n"
#define CHECKPOINT_MAX_REGIONS 16
#define CHECKPOINT_SHA 32

typedef struct checkpoint_region {
    char name[32];
    uint64_t offset, bytes;
    unsigned char sha[CHECKPOINT_SHA];
} checkpoint_region;

typedef struct checkpoint_table {
    uint64_t size;
    int n;
    checkpoint_region region[CHECKPOINT_MAX_REGIONS];
    unsigned char rest[CHECKPOINT_SHA];
} checkpoint_table;

/* Adds bytes [from, to) of fd to the digest. */
static int checkpoint_hash_range(int fd, uint64_t from, uint64_t to, EVP_MD_CTX *ctx,
                                 unsigned char *buf, size_t buf_len)
{
    while (from < to) {
        size_t want = to - from < buf_len ? (size_t)(to - from) : buf_len;
        ssize_t got = pread(fd, buf, want, (off_t)from);
        if (got <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
            return -1;
        from += (uint64_t)got;
    }
    return 0;
}

/* SHA-256 of each region of t, and of every byte after the user block
 * outside them (t->size bytes in all), into t. Regions must not overlap. */
static int checkpoint_hash_file(int fd, checkpoint_table *t)
{
    const size_t buf_len = (size_t)1 << 20;
    unsigned char *buf = malloc(buf_len);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int order[CHECKPOINT_MAX_REGIONS], rc = -1;
    unsigned int len;
    if (!buf || !ctx)
        goto done;
    for (int k = 0; k < t->n; k++) {
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
            checkpoint_hash_range(fd, t->region[k].offset,
                                  t->region[k].offset + t->region[k].bytes, ctx, buf,
                                  buf_len) != 0 ||
            EVP_DigestFinal_ex(ctx, t->region[k].sha, &len) != 1)
            goto done;
        order[k] = k;
    }
    for (int k = 1; k < t->n; k++) /* by offset (insertion sort, a handful) */
        for (int j = k; j > 0 && t->region[order[j]].offset < t->region[order[j - 1]].offset; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    uint64_t at = CHECKPOINT_USERBLOCK;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto done;
    for (int k = 0; k < t->n; k++) {
        const checkpoint_region *r = &t->region[order[k]];
        if (r->offset < at || checkpoint_hash_range(fd, at, r->offset, ctx, buf, buf_len) != 0)
            goto done;
        at = r->offset + r->bytes;
    }
    if (checkpoint_hash_range(fd, at, t->size, ctx, buf, buf_len) != 0 ||
        EVP_DigestFinal_ex(ctx, t->rest, &len) != 1)
        goto done;
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

static void checkpoint_hex(const unsigned char *sha, char *out)
{
    for (int k = 0; k < CHECKPOINT_SHA; k++)
        snprintf(out + 2 * k, 3, "%02x", sha[k]);
}

static int checkpoint_unhex(const char *hex, unsigned char *sha)
{
    for (int k = 0; k < CHECKPOINT_SHA; k++) {
        unsigned int byte;
        if (sscanf(hex + 2 * k, "%2x", &byte) != 1)
            return -1;
        sha[k] = (unsigned char)byte;
    }
    return 0;
}

/* open(path, flags) and its size; the descriptor, or -1 with one line in
 * err naming the file and the OS error. */
static int checkpoint_open_fd(const char *path, int flags, uint64_t *size, char *err,
                              size_t err_len)
{
    struct stat st;
    int fd = open(path, flags);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* Writes the integrity table of the closed HDF5 file at path, whose
 * datasets `names` (count) are contiguous; then syncs it to disk. */
static int checkpoint_seal(const char *path, const char *const *names, int count,
                           const uint64_t *offsets, const uint64_t *sizes, char *err,
                           size_t err_len)
{
    checkpoint_table t;
    memset(&t, 0, sizeof t);
    int fd = checkpoint_open_fd(path, O_RDWR, &t.size, err, err_len);
    if (fd < 0)
        return -1;
    t.n = count;
    for (int k = 0; k < count; k++) {
        snprintf(t.region[k].name, sizeof t.region[k].name, "%s", names[k]);
        t.region[k].offset = offsets[k];
        t.region[k].bytes = sizes[k];
    }
    char block[CHECKPOINT_USERBLOCK];
    memset(block, 0, sizeof block);
    size_t used = 0;
    int rc = checkpoint_hash_file(fd, &t);
    if (rc == 0) {
        char hex[2 * CHECKPOINT_SHA + 1];
        used += (size_t)snprintf(block + used, sizeof block - used,
                                 CHECKPOINT_MAGIC "size %llu\n", (unsigned long long)t.size);
        for (int k = 0; k < t.n; k++) {
            checkpoint_hex(t.region[k].sha, hex);
            used += (size_t)snprintf(block + used, sizeof block - used,
                                     "dataset %s %llu %llu %s\n", t.region[k].name,
                                     (unsigned long long)t.region[k].offset,
                                     (unsigned long long)t.region[k].bytes, hex);
        }
        checkpoint_hex(t.rest, hex);
        used += (size_t)snprintf(block + used, sizeof block - used, "rest %s\nend\n", hex);
        if (used >= sizeof block)
            rc = -1;
    }
    if (rc != 0)
        snprintf(err, err_len, "%s: computing its SHA-256 table failed: %s", path,
                 strerror(errno ? errno : EIO));
    else if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fsync(fd) != 0) {
        snprintf(err, err_len, "%s: writing its SHA-256 table failed: %s", path,
                 strerror(errno));
        rc = -1;
    }
    if (close(fd) != 0 && rc == 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Checks path against its integrity table before HDF5 reads it: a regular
 * file, of the size written, every region's and the rest's SHA-256. 0 and
 * the table, or -1 with one line in err saying what is damaged. */
static int checkpoint_verify(const char *path, checkpoint_table *t, char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    char why[128];
    if (h5util_check_regular(path, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s: %s; allowed: a checkpoint written by dgpg", path, why);
        return -1;
    }
    uint64_t size;
    int fd = checkpoint_open_fd(path, O_RDONLY, &size, err, err_len);
    if (fd < 0)
        return -1;
    int rc = -1;
    char block[CHECKPOINT_USERBLOCK + 1];
    ssize_t got = size == 0 ? 0 : pread(fd, block, CHECKPOINT_USERBLOCK, 0);
    block[got > 0 ? got : 0] = '\0';
    if (size == 0) {
        snprintf(err, err_len, "%s: an empty file; allowed: a checkpoint written by dgpg", path);
        goto done;
    }
    if (got < (ssize_t)strlen(CHECKPOINT_MAGIC) ||
        memcmp(block, CHECKPOINT_MAGIC, strlen(CHECKPOINT_MAGIC)) != 0) {
        static const char hdf5_signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
        if (got >= 8 && memcmp(block, hdf5_signature, 8) == 0)
            snprintf(err, err_len, "%s: an HDF5 file without dgpg's SHA-256 table (a checkpoint "
                     "of an earlier dgpg, or another program's file), so its data cannot be "
                     "verified; allowed: a checkpoint written by dgpg %s (train afresh)", path,
                     DGPG_VERSION_STRING);
        else
            snprintf(err, err_len, "%s: damaged, or not a dgpg checkpoint (its first bytes are "
                     "not dgpg's integrity table); allowed: a checkpoint written by dgpg", path);
        goto done;
    }
    if (got < CHECKPOINT_USERBLOCK) {
        snprintf(err, err_len, "%s: damaged: truncated to %llu bytes", path,
                 (unsigned long long)size);
        goto done;
    }
    /* the table, line by line; anything unexpected is damage */
    char *line = block + strlen(CHECKPOINT_MAGIC), *next;
    int have_size = 0, have_rest = 0, ended = 0;
    size_t table_end = 0;
    for (; line && *line && !ended; line = next) {
        next = strchr(line, '\n');
        if (!next)
            break;
        *next++ = '\0';
        unsigned long long a, b;
        char name[32], hex[2 * CHECKPOINT_SHA + 1];
        int consumed = 0;
        if (!have_size && sscanf(line, "size %llu%n", &a, &consumed) == 1 && !line[consumed]) {
            t->size = a;
            have_size = 1;
        } else if (have_size && !have_rest && t->n < CHECKPOINT_MAX_REGIONS &&
                   sscanf(line, "dataset %31[a-z_] %llu %llu %64[0-9a-f]%n", name, &a, &b, hex,
                          &consumed) == 4 &&
                   !line[consumed] && strlen(hex) == 2 * CHECKPOINT_SHA &&
                   a >= CHECKPOINT_USERBLOCK && b <= t->size && a <= t->size - b) {
            checkpoint_region *r = &t->region[t->n++];
            snprintf(r->name, sizeof r->name, "%s", name);
            r->offset = a;
            r->bytes = b;
            checkpoint_unhex(hex, r->sha);
        } else if (have_size && !have_rest && sscanf(line, "rest %64[0-9a-f]%n", hex, &consumed) == 1 &&
                   !line[consumed] && strlen(hex) == 2 * CHECKPOINT_SHA) {
            checkpoint_unhex(hex, t->rest);
            have_rest = 1;
        } else if (have_rest && strcmp(line, "end") == 0) {
            ended = 1;
            table_end = (size_t)(next - block);
        } else {
            break;
        }
    }
    for (size_t k = table_end; ended && k < CHECKPOINT_USERBLOCK; k++) /* zeros after it */
        if (block[k] != 0)
            ended = 0;
    for (int k = 0; ended && k < t->n; k++) /* regions apart */
        for (int j = 0; j < k; j++)
            if (t->region[k].offset < t->region[j].offset + t->region[j].bytes &&
                t->region[j].offset < t->region[k].offset + t->region[k].bytes)
                ended = 0;
    if (!ended) {
        snprintf(err, err_len, "%s: damaged: its SHA-256 table (the first %d bytes) does not "
                 "parse", path, CHECKPOINT_USERBLOCK);
        goto done;
    }
    if (size != t->size) {
        snprintf(err, err_len, "%s: damaged: %s to %llu of the %llu bytes written", path,
                 size < t->size ? "truncated" : "grown", (unsigned long long)size,
                 (unsigned long long)t->size);
        goto done;
    }
    checkpoint_table check = *t;
    if (checkpoint_hash_file(fd, &check) != 0) {
        snprintf(err, err_len, "%s: reading it failed: %s", path, strerror(errno ? errno : EIO));
        goto done;
    }
    for (int k = 0; k < t->n; k++)
        if (memcmp(check.region[k].sha, t->region[k].sha, CHECKPOINT_SHA) != 0) {
            snprintf(err, err_len, "%s: damaged: dataset '%s' fails its SHA-256 check (its "
                     "data changed after it was written)", path, t->region[k].name);
            goto done;
        }
    if (memcmp(check.rest, t->rest, CHECKPOINT_SHA) != 0) {
        snprintf(err, err_len, "%s: damaged: its HDF5 metadata (attributes, config, layout) "
                 "fails its SHA-256 check", path);
        goto done;
    }
    rc = 0;
done:
    close(fd);
    return rc;
}

/* Opens a checkpoint for reading after checkpoint_verify; a negative id
 * with one line in err otherwise. */
static hid_t checkpoint_open_verified(const char *path, checkpoint_table *t, char *err,
                                      size_t err_len)
{
    if (checkpoint_verify(path, t, err, err_len) != 0)
        return H5I_INVALID_HID;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        h5util_error_capture("H5Fopen", __FILE__, __LINE__);
        snprintf(err, err_len, "%s: passes its SHA-256 check but HDF5 cannot open it (%s); "
                 "allowed: a checkpoint written by dgpg %s", path, h5util_last_error(),
                 DGPG_VERSION_STRING);
    }
    return file;
}

/* The table's entry for dataset `name` of an open checkpoint must be where
 * HDF5 reads it from: same offset, same size. */
static int checkpoint_region_matches(const checkpoint_table *t, hid_t dset, const char *path,
                                     const char *name, char *err, size_t err_len)
{
    const haddr_t offset = H5Dget_offset(dset);
    const hsize_t bytes = H5Dget_storage_size(dset);
    for (int k = 0; k < t->n; k++)
        if (strcmp(t->region[k].name, name) == 0) {
            if (offset != HADDR_UNDEF && (uint64_t)offset == t->region[k].offset &&
                (uint64_t)bytes == t->region[k].bytes)
                return 0;
            break;
        }
    snprintf(err, err_len, "%s: damaged: dataset '%s' is not where its SHA-256 table says",
             path, name);
    return -1;
}

/* A network's arrays (params, Adam moments) pass through host memory: on
 * a CUDA backend they are staged in `host` (n_params floats). */
static int checkpoint_write_net(hid_t file, const char *prefix, const mlp *net)
{
    char name[64];
    hsize_t n = (hsize_t)net->n_params;
    const float *arrays[3] = {net->params, net->adam_m, net->adam_v};
    const char *suffix[3] = {"params", "adam_m", "adam_v"};
    const char *desc[3] = {"network parameters, flat (src/train/mlp.h layout)",
                           "Adam first moments", "Adam second moments"};
    const int on_device = dgpg_backend_is_cuda(net->be);
    float *host = on_device ? malloc(sizeof(float) * (size_t)net->n_params) : NULL;
    int rc = on_device && !host ? -1 : 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        snprintf(name, sizeof name, "%s_%s", prefix, suffix[k]);
        const float *data = arrays[k];
        if (on_device) {
            rc = dgpg_backend_download(net->be, host, arrays[k],
                                       sizeof(float) * (size_t)net->n_params);
            data = host;
        }
        if (rc == 0 && h5util_write_floats(file, name, 1, &n, data, "1", desc[k]))
            rc = -1;
    }
    free(host);
    if (rc != 0)
        return -1;
    snprintf(name, sizeof name, "%s_adam_step", prefix);
    return h5util_attr_int(file, name, net->adam_step);
}

/* The datasets a checkpoint's SHA-256 table covers: every tensor. */
static const char *const checkpoint_tensors[] = {
    "actor_params",  "actor_adam_m",  "actor_adam_v", "critic_params",
    "critic_adam_m", "critic_adam_v", "value_norm"};
#define CHECKPOINT_TENSORS ((int)(sizeof checkpoint_tensors / sizeof checkpoint_tensors[0]))

/* Where each tensor's raw data lies in the file (contiguous layout). */
static int checkpoint_locate(hid_t file, uint64_t *offsets, uint64_t *sizes)
{
    for (int k = 0; k < CHECKPOINT_TENSORS; k++) {
        hid_t dset = H5Dopen2(file, checkpoint_tensors[k], H5P_DEFAULT);
        if (dset < 0) {
            h5util_error_capture("H5Dopen2", __FILE__, __LINE__);
            return -1;
        }
        haddr_t offset = H5Dget_offset(dset);
        sizes[k] = (uint64_t)H5Dget_storage_size(dset);
        H5Dclose(dset);
        if (offset == HADDR_UNDEF)
            return -1;
        offsets[k] = (uint64_t)offset;
    }
    return 0;
}

int dgpg_checkpoint_save(const char *path, const dgpg_config *cfg, int64_t next_episode,
                         const mlp *actor, const mlp *critic, const ppo_value_norm *vnorm,
                         int64_t n_vnorm, const dgpg_checkpoint_extra *extra, char *err,
                         size_t err_len)
{
    char tmp[DGPG_PATH_LEN + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = -1;
    hid_t file = H5I_INVALID_HID, fcpl = H5I_INVALID_HID;
    uint64_t offsets[CHECKPOINT_TENSORS], sizes[CHECKPOINT_TENSORS];
    err[0] = '\0';
    double *vn = malloc(sizeof(double) * 3 * (size_t)n_vnorm);
    if (!vn) {
        snprintf(err, err_len, "%s: out of memory for the value normalisers", tmp);
        goto done;
    }
    for (int64_t j = 0; j < n_vnorm; j++) {
        vn[3 * j] = vnorm[j].mean;
        vn[3 * j + 1] = vnorm[j].mean_sq;
        vn[3 * j + 2] = vnorm[j].debias;
    }
    /* HDF5 starts after the user block that will hold the SHA-256 table */
    H5_CHECK(fcpl = H5Pcreate(H5P_FILE_CREATE), failed);
    H5_CHECK(H5Pset_userblock(fcpl, CHECKPOINT_USERBLOCK), failed);
    H5_CHECK(file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT), failed);
    hsize_t dims[2] = {(hsize_t)n_vnorm, 3};
    if (h5util_attr_string(file, "kind", CHECKPOINT_KIND) ||
        h5util_attr_string(file, "dgpg_version", DGPG_VERSION_STRING) ||
        h5util_attr_int(file, "next_episode", next_episode) ||
        h5util_attr_double(file, "guidance_scale", extra->guide_scales[0]) ||
        h5util_attr_double(file, "descent_scale", extra->guide_scales[1]) ||
        h5util_attr_int(file, "alpha_episodes", extra->alpha_episodes) ||
        h5util_attr_int(file, "threads", extra->threads) ||
        h5util_attr_string(file, "isa", extra->isa) ||
        h5util_write_config(file, cfg) || checkpoint_write_net(file, "actor", actor) ||
        checkpoint_write_net(file, "critic", critic) ||
        h5util_write_doubles(file, "value_norm", 2, dims, vn, "1",
                             "running mean, mean square and debiasing weight of each value "
                             "normaliser"))
        goto failed;
    H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), failed);
    if (checkpoint_locate(file, offsets, sizes) != 0)
        goto failed;
    H5_CHECK(H5Fclose(file), failed);
    file = H5I_INVALID_HID;
    if (checkpoint_seal(tmp, checkpoint_tensors, CHECKPOINT_TENSORS, offsets, sizes, err,
                        err_len) != 0)
        goto done;
    if (rename(tmp, path) != 0) {
        snprintf(err, err_len, "%s: renaming %s to it failed: %s", path, tmp, strerror(errno));
        goto done;
    }
    rc = 0;
    goto done;
failed:
    snprintf(err, err_len, "%s: writing the checkpoint failed: %s", tmp, h5util_last_error());
done:
    if (file >= 0)
        H5Fclose(file);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (rc != 0)
        unlink(tmp);
    free(vn);
    return rc;
}

/* Reads a 1-d dataset of exactly n elements from the bytes the table t
 * checked; names a mismatch. */
static int checkpoint_read(hid_t file, const checkpoint_table *t, const char *path,
                           const char *name, hid_t mem_type, hsize_t n, void *out, char *err,
                           size_t err_len)
{
    int rc = -1;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        snprintf(err, err_len, "%s: no dataset '%s'; allowed: a checkpoint written by dgpg %s",
                 path, name, DGPG_VERSION_STRING);
        return -1;
    }
    H5_CHECK(dset = H5Dopen2(file, name, H5P_DEFAULT), done);
    H5_CHECK(space = H5Dget_space(dset), done);
    hssize_t have = H5Sget_simple_extent_npoints(space);
    if (have != (hssize_t)n) {
        snprintf(err, err_len,
                 "%s: dataset '%s' holds %lld values; allowed: %llu for this config (a "
                 "checkpoint of another env.n_agents, env.n_pools, algo.hidden, algo.layers, "
                 "algo.critic or algo.share_params)",
                 path, name, (long long)have, (unsigned long long)n);
        goto done;
    }
    if (checkpoint_region_matches(t, dset, path, name, err, err_len) != 0)
        goto done;
    H5_CHECK(H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), done);
    rc = 0;
done:
    if (rc != 0 && !err[0])
        snprintf(err, err_len, "%s: dataset '%s' could not be read: %s", path, name,
                 h5util_last_error());
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return rc;
}

static int checkpoint_read_net_array(hid_t file, const checkpoint_table *t, const char *path,
                                     const char *name, dgpg_backend *be, float *dst, int64_t n,
                                     char *err, size_t err_len);

static int checkpoint_read_int_attr(hid_t obj, const char *name, int64_t *out)
{
    return h5util_read_attr(obj, name, H5T_NATIVE_INT64, out);
}

int dgpg_checkpoint_load(const char *path, const dgpg_config *cfg, int64_t *next_episode,
                         mlp *actor, mlp *critic, ppo_value_norm *vnorm, int64_t n_vnorm,
                         dgpg_checkpoint_extra *extra, char *err, size_t err_len)
{
    err[0] = '\0';
    if (access(path, F_OK) != 0) {
        snprintf(err, err_len, "%s: no checkpoint (%s); allowed: a run directory holding "
                 "checkpoint.h5 (written every train.checkpoint_every episodes)", path,
                 strerror(errno));
        return -1;
    }
    int rc = -1;
    checkpoint_table table;
    hid_t file = checkpoint_open_verified(path, &table, err, err_len);
    hid_t group = H5I_INVALID_HID;
    double *vn = NULL;
    float *staged = NULL;
    char kind[64] = "", version[64] = "";
    if (file < 0)
        return -1;
    if (h5util_read_string_attr(file, "kind", kind, sizeof kind) != 0 ||
        strcmp(kind, CHECKPOINT_KIND) != 0) {
        snprintf(err, err_len, "%s: kind '%s'; allowed: '%s'", path, kind, CHECKPOINT_KIND);
        goto done;
    }
    if (h5util_read_string_attr(file, "dgpg_version", version, sizeof version) != 0 ||
        strcmp(version, DGPG_VERSION_STRING) != 0) {
        snprintf(err, err_len, "%s: written by dgpg %s; allowed: checkpoints of dgpg %s", path,
                 version, DGPG_VERSION_STRING);
        goto done;
    }
    char why[DGPG_ERR_LEN];
    if (h5util_config_matches(file, cfg, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s: %s", path, why);
        goto done;
    }
    if (checkpoint_read_int_attr(file, "next_episode", next_episode) != 0 ||
        checkpoint_read_int_attr(file, "actor_adam_step", &actor->adam_step) != 0 ||
        checkpoint_read_int_attr(file, "critic_adam_step", &critic->adam_step) != 0 ||
        h5util_read_attr(file, "guidance_scale", H5T_NATIVE_DOUBLE, &extra->guide_scales[0]) != 0 ||
        h5util_read_attr(file, "descent_scale", H5T_NATIVE_DOUBLE, &extra->guide_scales[1]) != 0 ||
        checkpoint_read_int_attr(file, "alpha_episodes", &extra->alpha_episodes) != 0 ||
        checkpoint_read_int_attr(file, "threads", &extra->threads) != 0 ||
        h5util_read_string_attr(file, "isa", extra->isa, sizeof extra->isa) != 0) {
        snprintf(err, err_len, "%s: missing episode or optimiser step attributes", path);
        goto done;
    }
    mlp *nets[2] = {actor, critic};
    const char *prefix[2] = {"actor", "critic"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        float *arrays[3] = {nets[k]->params, nets[k]->adam_m, nets[k]->adam_v};
        const char *suffix[3] = {"params", "adam_m", "adam_v"};
        const size_t bytes = sizeof(float) * (size_t)nets[k]->n_params;
        const int on_device = dgpg_backend_is_cuda(nets[k]->be);
        for (int a = 0; a < 3; a++) {
            snprintf(name, sizeof name, "%s_%s", prefix[k], suffix[a]);
            /* on a CUDA backend: read into host memory, then upload */
            float *target = arrays[a];
            if (on_device && !(target = staged ? staged : (staged = malloc(bytes > 0 ? bytes : 1)))) {
                snprintf(err, err_len, "%s: out of host memory for %s", path, name);
                goto done;
            }
            if (checkpoint_read(file, &table, path, name, H5T_NATIVE_FLOAT,
                                (hsize_t)nets[k]->n_params, target, err, err_len) != 0)
                goto done;
            if (on_device && dgpg_backend_upload(nets[k]->be, arrays[a], target, bytes) != 0) {
                snprintf(err, err_len, "%s: copying %s to the device failed", path, name);
                goto done;
            }
        }
        free(staged);
        staged = NULL;
    }
    vn = malloc(sizeof(double) * 3 * (size_t)n_vnorm);
    if (!vn || checkpoint_read(file, &table, path, "value_norm", H5T_NATIVE_DOUBLE,
                               (hsize_t)(3 * n_vnorm), vn, err, err_len) != 0)
        goto done;
    for (int64_t j = 0; j < n_vnorm; j++) {
        vnorm[j].mean = vn[3 * j];
        vnorm[j].mean_sq = vn[3 * j + 1];
        vnorm[j].debias = vn[3 * j + 2];
    }
    rc = 0;
done:
    free(vn);
    free(staged);
    if (group >= 0)
        H5Gclose(group);
    H5Fclose(file);
    return rc;
}

int dgpg_config_matches_file(const char *path, const dgpg_config *cfg, char *err,
                             size_t err_len)
{
    err[0] = '\0';
    hid_t file = h5util_open_checked(path, "a file written by dgpg", err, err_len);
    if (file < 0)
        return -1;
    char why[DGPG_ERR_LEN];
    int rc = h5util_config_matches(file, cfg, why, sizeof why);
    if (rc != 0)
        snprintf(err, err_len, "%s: %s", path, why);
    H5Fclose(file);
    return rc;
}

/* run_dir/checkpoint.h5 verified and opened for reading (its path in
 * path), or a negative id with one line in err naming `what` ("run", a
 * config key). */
static hid_t checkpoint_open_run(const char *run_dir, const char *what, checkpoint_table *t,
                                 char *path, size_t path_len, char *err, size_t err_len)
{
    snprintf(path, path_len, "%s/checkpoint.h5", run_dir);
    if (access(path, F_OK) != 0) {
        snprintf(err, err_len, "%s '%s': no checkpoint %s (%s); allowed: a run directory that "
                 "has written one", what, run_dir, path, strerror(errno));
        return H5I_INVALID_HID;
    }
    char why[DGPG_ERR_LEN];
    hid_t file = checkpoint_open_verified(path, t, why, sizeof why);
    if (file < 0)
        snprintf(err, err_len, "%s '%s': %s", what, run_dir, why);
    return file;
}

int dgpg_checkpoint_load_actor(const char *run_dir, dgpg_backend *be, int64_t n_agents,
                               int64_t n_actions, int64_t obs_dim, int64_t eval_seed,
                               int64_t eval_scenarios, mlp *actor, char *err, size_t err_len)
{
    char path[DGPG_PATH_LEN + 32];
    dgpg_config run;
    err[0] = '\0';
    memset(actor, 0, sizeof *actor);
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    if (access(path, R_OK) != 0) {
        snprintf(err, err_len, "run '%s': no readable %s; allowed: a run directory made by "
                 "dgpg train", run_dir, path);
        return -1;
    }
    char cfg_err[DGPG_ERR_LEN] = "";
    if (dgpg_config_load(&run, path, NULL, 0, cfg_err, sizeof cfg_err) != 0) {
        snprintf(err, err_len, "run '%s': %s", run_dir, cfg_err);
        return -1;
    }
    if (run.env.n_agents != n_agents || run.env.n_pools != n_actions) {
        snprintf(err, err_len, "run '%s' was trained for env.n_agents = %lld, env.n_pools = "
                 "%lld; allowed: a run of this evaluation's N = %lld and M = %lld", run_dir,
                 (long long)run.env.n_agents, (long long)run.env.n_pools, (long long)n_agents,
                 (long long)n_actions);
        return -1;
    }
    /* held out means not trained on: a run of one fixed scenario must not
     * meet it among the evaluation's (sampled training scenarios have
     * seeds of their own, CLOUD_TRAINING_SEED_BIT, never configurable) */
    if (strcmp(run.env.scenarios, "fixed") == 0 && run.env.seed >= eval_seed &&
        run.env.seed < eval_seed + eval_scenarios) {
        snprintf(err, err_len, "run '%s' was trained on the one scenario env.seed = %lld "
                 "(env.scenarios = fixed), which is among the evaluation's scenarios "
                 "eval.seed = %lld .. %lld; allowed: evaluation seeds that exclude it, or a run "
                 "trained with env.scenarios = sampled", run_dir, (long long)run.env.seed,
                 (long long)eval_seed, (long long)(eval_seed + eval_scenarios - 1));
        return -1;
    }
    if (mlp_init(actor, be, run.algo.share_params ? 1 : n_agents, (int32_t)obs_dim,
                 (int32_t)run.algo.hidden, (int32_t)run.algo.layers, (int32_t)n_actions) != 0) {
        snprintf(err, err_len, "run '%s': out of memory for its actor", run_dir);
        return -1;
    }
    checkpoint_table table;
    hid_t file = checkpoint_open_run(run_dir, "run", &table, path, sizeof path, err, err_len);
    if (file < 0) {
        mlp_free(actor);
        return -1;
    }
    int rc = checkpoint_read_net_array(file, &table, path, "actor_params", be, actor->params,
                                       actor->n_params, err, err_len);
    H5Fclose(file);
    if (rc != 0)
        mlp_free(actor);
    return rc;
}

/* n floats of dataset `name` into backend memory `dst` (staged on CUDA). */
static int checkpoint_read_net_array(hid_t file, const checkpoint_table *t, const char *path,
                                     const char *name, dgpg_backend *be, float *dst, int64_t n,
                                     char *err, size_t err_len)
{
    const size_t bytes = sizeof(float) * (size_t)n;
    float *host = dgpg_backend_is_cuda(be) ? malloc(bytes ? bytes : 1) : dst;
    int rc = host ? checkpoint_read(file, t, path, name, H5T_NATIVE_FLOAT, (hsize_t)n, host,
                                    err, err_len)
                  : -1;
    if (rc == 0 && host != dst && dgpg_backend_upload(be, dst, host, bytes) != 0)
        rc = -1;
    if (host != dst)
        free(host);
    if (rc != 0 && !err[0])
        snprintf(err, err_len, "%s: '%s' could not be loaded", path, name);
    return rc;
}

int dgpg_checkpoint_load_init(const char *run_dir, mlp *actor, mlp *critic,
                              ppo_value_norm *vnorm, int64_t n_vnorm, char *err,
                              size_t err_len)
{
    char path[DGPG_PATH_LEN + 32];
    err[0] = '\0';
    checkpoint_table table;
    hid_t file = checkpoint_open_run(run_dir, "train.init_from", &table, path, sizeof path, err,
                                     err_len);
    if (file < 0)
        return -1;
    double *vn = malloc(sizeof(double) * 3 * (size_t)n_vnorm);
    int rc = vn ? 0 : -1;
    if (rc == 0)
        rc = checkpoint_read_net_array(file, &table, path, "actor_params", actor->be,
                                       actor->params, actor->n_params, err, err_len);
    if (rc == 0)
        rc = checkpoint_read_net_array(file, &table, path, "critic_params", critic->be,
                                       critic->params, critic->n_params, err, err_len);
    if (rc == 0)
        rc = checkpoint_read(file, &table, path, "value_norm", H5T_NATIVE_DOUBLE,
                             (hsize_t)(3 * n_vnorm), vn, err, err_len);
    for (int64_t j = 0; rc == 0 && j < n_vnorm; j++) {
        vnorm[j].mean = vn[3 * j];
        vnorm[j].mean_sq = vn[3 * j + 1];
        vnorm[j].debias = vn[3 * j + 2];
    }
    if (rc != 0 && !err[0])
        snprintf(err, err_len, "train.init_from = '%s': out of memory", run_dir);
    free(vn);
    H5Fclose(file);
    return rc;
}
