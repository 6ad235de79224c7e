/* test_h5log.c — the training log (h5log.h), read back with the HDF5 C API
 * directly, not through h5log: every value equals the formula it was
 * written from (scalar k of episode e = 10 e + k + 0.25 + 1000 g, g the
 * "generation" that a resume rewrites), every shape is the schema's,
 * every dataset has units and a description, the config is stored.
 * Resume: dgpg_log_open keeps exactly the episodes before the resume
 * point and the snapshots taken before it. Refusals: each bad log or
 * schema gets -1 and one line "dgpg: PATH: ...; allowed: ..." on stderr,
 * and leaves the log as it was. kill -9: a child appends episodes and is
 * killed; every episode it reported is in the file, a concurrent SWMR
 * reader sees the count grow, a plain (not SWMR) open of the killed log is
 * refused with HDF5's "file is already open for write" (docs/training.md)
 * while a SWMR open reads it, and the killed log can be resumed, after
 * which a plain open works.
 *
 * Usage: test_h5log SCRATCH_DIR               the tests
 *        test_h5log SCRATCH_DIR --writer N    writes N episodes, 50 ms apart,
 *                                             to SCRATCH_DIR/swmr.h5 and prints
 *                                             "appended E" after each (for
 *                                             test_h5log_read.py) */
#include "config.h"
#include "dgpg/dgpg.h"
#include "h5log.h"
#include "h5util.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { N = 7, M = 3, SCALARS = 3, TENSORS = 2, PARAM_SIZE = 1000 };

static const dgpg_log_column scalar_cols[SCALARS] = {
    {"reward", "1", "mean shared reward per step"},
    {"distance", "1", "distance to the analytical optimum"},
    {"throughput", "agent-steps/s", "agent-steps per second of wall time"},
};
static const dgpg_log_tensor tensor_cols[TENSORS] = {
    {"grad_var", "1", "variance of each agent's policy gradient", 0},
    {"action_probs", "1", "mean probability of each action, per agent", 1},
};
static const dgpg_log_column param_cols[1] = {{"policy", "1", "policy parameters"}};
static const int64_t param_sizes[1] = {PARAM_SIZE};

static dgpg_log_schema make_schema(void)
{
    dgpg_log_schema s = {SCALARS, scalar_cols, TENSORS, tensor_cols, 1, param_cols,
                         param_sizes, N, M, NULL, NULL};
    return s;
}

/* The formulas; float ones are exact in float32 for the sizes used. */
static double scalar_value(int64_t e, int k, int gen)
{
    return (double)(e * 10 + k + 1000 * gen) + 0.25;
}
static float tensor_value(int64_t e, int t, int i, int m, int gen)
{
    return (float)(e * 100 + t * 10 + i + 5000 * gen) + 0.25f * (float)m;
}
static float param_value(int64_t e, int j)
{
    return (float)(e * 1000 + j) * 0.5f;
}

static int append_episode(dgpg_log *log, int64_t e, int gen)
{
    double scalars[SCALARS];
    float grad[N], probs[N * M];
    for (int k = 0; k < SCALARS; k++)
        scalars[k] = scalar_value(e, k, gen);
    for (int i = 0; i < N; i++) {
        grad[i] = tensor_value(e, 0, i, 0, gen);
        for (int m = 0; m < M; m++)
            probs[i * M + m] = tensor_value(e, 1, i, m, gen);
    }
    const float *tensors[TENSORS] = {grad, probs};
    return dgpg_log_append(log, e, scalars, tensors);
}

static int snapshot(dgpg_log *log, int64_t e)
{
    static float params[PARAM_SIZE];
    for (int j = 0; j < PARAM_SIZE; j++)
        params[j] = param_value(e, j);
    const float *p[1] = {params};
    return dgpg_log_snapshot(log, e, p);
}

static void mkdir_p(const char *dir)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *c = buf + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(buf, 0755);
            *c = '/';
        }
    mkdir(buf, 0755);
}

static hid_t latest_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    return fapl;
}

/* H5Fopen with the automatic error printing off (h5util_init), -1 if it
 * fails, the stack cleared so that a later failure prints only its own. */
static hid_t open_file(const char *path, unsigned flags)
{
    hid_t fapl = latest_fapl();
    hid_t file = H5Fopen(path, flags, fapl);
    H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    return file;
}

enum { WHY_LEN = 4096 };

/* Collects every message of HDF5's error stack (into WHY_LEN bytes),
 * innermost first. */
static herr_t error_messages_walk(unsigned n, const H5E_error2_t *err, void *user)
{
    (void)n;
    char *buf = user;
    size_t used = strlen(buf);
    if (err->desc && used + 1 < WHY_LEN)
        snprintf(buf + used, WHY_LEN - used, "%s; ", err->desc);
    return 0;
}

/* A plain (not SWMR) read-only open: the file, or -1 and HDF5's messages in
 * why (WHY_LEN bytes) if refused. */
static hid_t open_plain(const char *path, char *why)
{
    hid_t fapl = latest_fapl();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    why[0] = '\0';
    if (file < 0) /* before any other call, which would clear the stack */
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, error_messages_walk, why);
    if (strlen(why) >= 2)
        why[strlen(why) - 2] = '\0'; /* the last "; " */
    H5Eclear2(H5E_DEFAULT);
    H5Pclose(fapl);
    return file;
}

static int read_string_attr(hid_t obj, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);   /* as h5util writes them */
    char *value = NULL;
    herr_t rc = H5Aread(attr, type, &value);
    if (rc >= 0 && value)
        snprintf(buf, len, "%s", value);
    H5free_memory(value);
    H5Tclose(type);
    H5Aclose(attr);
    return rc < 0 ? -1 : 0;
}

static int64_t read_int_attr(hid_t obj, const char *name)
{
    int64_t value = -12345;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr >= 0) {
        H5Aread(attr, H5T_NATIVE_INT64, &value);
        H5Aclose(attr);
    }
    H5Eclear2(H5E_DEFAULT);
    return value;
}

/* Rank and dims of a dataset, -1 if it cannot be opened. */
static int dataset_dims(hid_t file, const char *name, hsize_t *dims)
{
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    hid_t space = H5Dget_space(dset);
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5Dclose(dset);
    return rank;
}

/* Whole dataset into buf as `type`; the caller sized buf by dataset_dims. */
static int read_all(hid_t file, const char *name, hid_t type, void *buf)
{
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    herr_t rc = H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(dset);
    return rc < 0 ? -1 : 0;
}

static void check_units_description(hid_t file, const char *name, const char *units,
                                    const char *description)
{
    char buf[256];
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    CHECK(dset >= 0);
    if (dset < 0)
        return;
    CHECK_INT_EQ(read_string_attr(dset, "units", buf, sizeof buf), 0);
    CHECK_QUIET(strcmp(buf, units) == 0, "%s units \"%s\", expected \"%s\"", name, buf, units);
    CHECK_INT_EQ(read_string_attr(dset, "description", buf, sizeof buf), 0);
    CHECK_QUIET(strcmp(buf, description) == 0, "%s description \"%s\"", name, buf);
    H5Dclose(dset);
}

/* Root, group and dataset attributes, and the stored config. */
static void check_metadata(hid_t file)
{
    char buf[256];
    CHECK_INT_EQ(read_string_attr(file, "kind", buf, sizeof buf), 0);
    CHECK(strcmp(buf, "dgpg training log") == 0);
    CHECK_INT_EQ(read_string_attr(file, "dgpg_version", buf, sizeof buf), 0);
    CHECK(strcmp(buf, DGPG_VERSION_STRING) == 0);
    CHECK_INT_EQ(read_int_attr(file, "n_agents"), N);
    CHECK_INT_EQ(read_int_attr(file, "n_actions"), M);
    CHECK_INT_EQ(read_string_attr(file, "created", buf, sizeof buf), 0);
    /* ISO 8601 UTC, 2026-01-31T12:00:00Z */
    CHECK_QUIET(strlen(buf) == 20 && buf[4] == '-' && buf[10] == 'T' && buf[19] == 'Z',
                "created = \"%s\"", buf);
    const char *groups[] = {"episode", "agent", "snapshot", "config"};
    for (int g = 0; g < 4; g++) {
        hid_t group = H5Gopen2(file, groups[g], H5P_DEFAULT);
        CHECK(group >= 0);
        if (group < 0)
            continue;
        CHECK_INT_EQ(read_string_attr(group, "description", buf, sizeof buf), 0);
        CHECK_QUIET(strlen(buf) > 10, "/%s description \"%s\"", groups[g], buf);
        if (g == 3) {
            CHECK_INT_EQ(read_string_attr(group, "env.n_agents", buf, sizeof buf), 0);
            CHECK_INT_EQ(read_string_attr(group, "source", buf, sizeof buf), 0);
            H5O_info_t info;
            CHECK(H5Oget_info2(group, &info, H5O_INFO_NUM_ATTRS) >= 0);
            CHECK_LE(20, info.num_attrs);
        }
        H5Gclose(group);
    }
    char name[128];
    for (int k = 0; k < SCALARS; k++) {
        snprintf(name, sizeof name, "/episode/%s", scalar_cols[k].name);
        check_units_description(file, name, scalar_cols[k].units, scalar_cols[k].description);
    }
    for (int t = 0; t < TENSORS; t++) {
        snprintf(name, sizeof name, "/agent/%s", tensor_cols[t].name);
        check_units_description(file, name, tensor_cols[t].units, tensor_cols[t].description);
    }
    check_units_description(file, "/snapshot/policy", "1", "policy parameters");
    hid_t dset = H5Dopen2(file, "/snapshot/episode", H5P_DEFAULT);
    CHECK(dset >= 0 && read_string_attr(dset, "units", buf, sizeof buf) == 0 &&
          read_string_attr(dset, "description", buf, sizeof buf) == 0);
    if (dset >= 0)
        H5Dclose(dset);
}

/* Checks rows [0, rows) of every /episode and /agent dataset (episode e
 * written by generation gen[e]); `exact` also requires exactly that many
 * rows, otherwise (a reader racing the writer) at least that many. */
static void check_episodes(hid_t file, int64_t rows, const int *gen, int exact)
{
    hsize_t dims[3];
    char name[128];
    for (int k = 0; k < SCALARS; k++) {
        snprintf(name, sizeof name, "/episode/%s", scalar_cols[k].name);
        int rank = dataset_dims(file, name, dims);
        CHECK_INT_EQ(rank, 1);
        if (rank != 1)
            continue;
        if (exact)
            CHECK_INT_EQ(dims[0], rows);
        else
            CHECK_LE(rows, dims[0]);
        double *v = malloc(sizeof(double) * (dims[0] + 1));
        CHECK_INT_EQ(read_all(file, name, H5T_NATIVE_DOUBLE, v), 0);
        for (int64_t e = 0; e < rows && e < (int64_t)dims[0]; e++)
            CHECK_QUIET(v[e] == scalar_value(e, k, gen[e]), "%s[%lld] = %g, expected %g", name,
                        (long long)e, v[e], scalar_value(e, k, gen[e]));
        free(v);
    }
    for (int t = 0; t < TENSORS; t++) {
        snprintf(name, sizeof name, "/agent/%s", tensor_cols[t].name);
        int rank = dataset_dims(file, name, dims);
        const int per_action = tensor_cols[t].per_action, width = per_action ? M : 1;
        CHECK_INT_EQ(rank, per_action ? 3 : 2);
        if (rank != (per_action ? 3 : 2))
            continue;
        CHECK_INT_EQ(dims[1], N);
        if (per_action)
            CHECK_INT_EQ(dims[2], M);
        if (exact)
            CHECK_INT_EQ(dims[0], rows);
        else
            CHECK_LE(rows, dims[0]);
        float *v = malloc(sizeof(float) * (dims[0] + 1) * N * width);
        CHECK_INT_EQ(read_all(file, name, H5T_NATIVE_FLOAT, v), 0);
        for (int64_t e = 0; e < rows && e < (int64_t)dims[0]; e++)
            for (int i = 0; i < N; i++)
                for (int m = 0; m < width; m++) {
                    float got = v[(e * N + i) * width + m],
                          want = tensor_value(e, t, i, m, gen[e]);
                    CHECK_QUIET(got == want, "%s[%lld, %d, %d] = %g, expected %g", name,
                                (long long)e, i, m, got, want);
                }
        free(v);
    }
}

/* /snapshot holds exactly the snapshots tagged tags[0..n). */
static void check_snapshots(hid_t file, const int64_t *tags, int n)
{
    hsize_t dims[2];
    CHECK_INT_EQ(dataset_dims(file, "/snapshot/episode", dims), 1);
    CHECK_INT_EQ(dims[0], n);
    CHECK_INT_EQ(dataset_dims(file, "/snapshot/policy", dims), 2);
    CHECK_INT_EQ(dims[0], n);
    CHECK_INT_EQ(dims[1], PARAM_SIZE);
    if ((int)dims[0] != n)
        return;
    int64_t got_tags[8];
    float *p = malloc(sizeof(float) * PARAM_SIZE * (size_t)(n + 1));
    CHECK_INT_EQ(read_all(file, "/snapshot/episode", H5T_NATIVE_INT64, got_tags), 0);
    CHECK_INT_EQ(read_all(file, "/snapshot/policy", H5T_NATIVE_FLOAT, p), 0);
    for (int s = 0; s < n; s++) {
        CHECK_INT_EQ(got_tags[s], tags[s]);
        for (int j = 0; j < PARAM_SIZE; j++)
            CHECK_QUIET(p[s * PARAM_SIZE + j] == param_value(tags[s], j),
                        "policy[%d, %d] = %g", s, j, p[s * PARAM_SIZE + j]);
    }
    free(p);
}

/* The log at path, opened read-only by plain HDF5 (so it must have been
 * closed cleanly), against the expected episodes and snapshots. */
static void check_log(const char *path, int64_t rows, const int *gen, const int64_t *tags,
                      int n_tags)
{
    hid_t file = open_file(path, H5F_ACC_RDONLY);
    CHECK(file >= 0);
    if (file < 0)
        return;
    check_metadata(file);
    check_episodes(file, rows, gen, 1);
    check_snapshots(file, tags, n_tags);
    H5Fclose(file);
}

/* ---- stderr capture: each refusal must be one line ------------------- */

static char capture_path[1100];
static int saved_stderr = -1;

static void capture_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}

static void capture_end(char *buf, size_t len)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(capture_path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* rc must be -1 and the message one line naming the path, what is wrong
 * (`needle`) and what is allowed. */
static void check_refusal(const char *what, int rc, const char *msg, const char *path,
                          const char *needle)
{
    int lines = 0;
    for (const char *c = msg; *c; c++)
        lines += *c == '\n';
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "dgpg: %s: ", path);
    CHECK_QUIET(rc == -1, "%s: rc %d", what, rc);
    CHECK_QUIET(lines == 1 && strncmp(msg, prefix, strlen(prefix)) == 0 &&
                    strstr(msg, "; allowed: ") && strstr(msg, needle),
                "%s: message \"%s\" (want one line with \"%s\" and \"allowed:\")", what, msg,
                needle);
    printf("refused %-28s %s", what, msg);
}

static void copy_prefix(const char *from, const char *to, size_t bytes)
{
    char *buf = malloc(bytes);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n = fread(buf, 1, bytes, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    free(buf);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static dgpg_config cfg;

/* ---- the tests -------------------------------------------------------- */

static void test_write_read_resume(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/log.h5", dir);
    unlink(path);
    dgpg_log_schema schema = make_schema();
    dgpg_log *log = NULL;
    int gen[8] = {0};
    char msg[4096];
    CHECK_INT_EQ(dgpg_log_create(&log, path, &cfg, &schema), 0);
    if (!log)
        return;
    for (int64_t e = 0; e < 5; e++) {
        CHECK_INT_EQ(append_episode(log, e, 0), 0);
        if (e == 0 || e == 3)
            CHECK_INT_EQ(snapshot(log, e), 0);
    }
    CHECK_INT_EQ(dgpg_log_episodes(log), 5);
    capture_begin();
    int rc = append_episode(log, 7, 0);
    capture_end(msg, sizeof msg);
    check_refusal("append out of order", rc, msg, path, "expected episode 5, given 7");
    capture_begin();
    rc = append_episode(log, 4, 0);
    capture_end(msg, sizeof msg);
    check_refusal("append twice", rc, msg, path, "expected episode 5, given 4");
    capture_begin();
    rc = snapshot(log, 6);
    capture_end(msg, sizeof msg);
    check_refusal("snapshot of the future", rc, msg, path, "tagged episode 6");
    capture_begin();
    rc = snapshot(log, 2);
    capture_end(msg, sizeof msg);
    check_refusal("snapshot going back", rc, msg, path, "tagged episode 2");
    CHECK_INT_EQ(dgpg_log_episodes(log), 5);
    CHECK_INT_EQ(dgpg_log_close(log), 0);
    const int64_t both[2] = {0, 3};
    check_log(path, 5, gen, both, 2);

    /* resume at 4: episode 4 is dropped, both snapshots (0, 3 < 4) stay */
    CHECK_INT_EQ(dgpg_log_open(&log, path, &schema, 4), 0);
    if (!log)
        return;
    CHECK_INT_EQ(dgpg_log_episodes(log), 4);
    CHECK_INT_EQ(dgpg_log_close(log), 0);
    check_log(path, 4, gen, both, 2);

    /* resume at 3: the snapshot at 3 goes; episode 3 is logged anew */
    CHECK_INT_EQ(dgpg_log_open(&log, path, &schema, 3), 0);
    if (!log)
        return;
    CHECK_INT_EQ(dgpg_log_episodes(log), 3);
    CHECK_INT_EQ(append_episode(log, 3, 1), 0);
    CHECK_INT_EQ(snapshot(log, 3), 0);
    CHECK_INT_EQ(append_episode(log, 4, 1), 0);
    CHECK_INT_EQ(dgpg_log_close(log), 0);
    gen[3] = gen[4] = 1;
    check_log(path, 5, gen, both, 2);
    {
        /* the snapshot at 3 is the new one: same formula, so check the
         * count went 2 -> 1 -> 2 by a resume at 3 once more */
        CHECK_INT_EQ(dgpg_log_open(&log, path, &schema, 3), 0);
        CHECK_INT_EQ(dgpg_log_close(log), 0);
        const int64_t first[1] = {0};
        check_log(path, 3, gen, first, 1);
        CHECK_INT_EQ(dgpg_log_open(&log, path, &schema, 3), 0);
        for (int64_t e = 3; e < 5; e++)
            CHECK_INT_EQ(append_episode(log, e, 1), 0);
        CHECK_INT_EQ(dgpg_log_close(log), 0);
        check_log(path, 5, gen, first, 1);
    }
    /* resume at 0: an empty log, then two fresh episodes */
    CHECK_INT_EQ(dgpg_log_open(&log, path, &schema, 0), 0);
    CHECK_INT_EQ(dgpg_log_episodes(log), 0);
    gen[0] = gen[1] = 2;
    CHECK_INT_EQ(append_episode(log, 0, 2), 0);
    CHECK_INT_EQ(append_episode(log, 1, 2), 0);
    CHECK_INT_EQ(dgpg_log_close(log), 0);
    check_log(path, 2, gen, NULL, 0);
    CHECK_INT_EQ(dgpg_log_close(NULL), 0);
}

static void test_refusals(const char *dir)
{
    char path[1024], other[1024], msg[4096];
    snprintf(path, sizeof path, "%s/refuse.h5", dir);
    unlink(path);
    dgpg_log_schema schema = make_schema();
    dgpg_log *log = NULL;
    const int gen[5] = {0};
    const int64_t tags[1] = {0};
    CHECK_INT_EQ(dgpg_log_create(&log, path, &cfg, &schema), 0);
    if (!log)
        return;
    for (int64_t e = 0; e < 5; e++)
        CHECK_INT_EQ(append_episode(log, e, 0), 0);
    CHECK_INT_EQ(snapshot(log, 0), 0);
    CHECK_INT_EQ(dgpg_log_close(log), 0);

#define REFUSE(what, call, file, needle)                                                   \
    do {                                                                                   \
        log = NULL;                                                                        \
        capture_begin();                                                                   \
        int rc_ = (call);                                                                  \
        capture_end(msg, sizeof msg);                                                      \
        check_refusal(what, rc_, msg, file, needle);                                       \
        CHECK(log == NULL);                                                                \
    } while (0)

    REFUSE("create over a log", dgpg_log_create(&log, path, &cfg, &schema), path,
           "exists already");
    dgpg_log_schema s = make_schema();
    s.n_agents = N + 1;
    REFUSE("open with another N", dgpg_log_open(&log, path, &s, 5), path, "N = 7 agents");
    s = make_schema();
    s.n_actions = M + 1;
    REFUSE("open with another M", dgpg_log_open(&log, path, &s, 5), path, "M = 4");
    REFUSE("open past the stored", dgpg_log_open(&log, path, &schema, 6), path,
           "holds 5 complete episodes");
    REFUSE("open at a negative episode", dgpg_log_open(&log, path, &schema, -1), path,
           "episode -1");
    s = make_schema();
    s.n_scalars = SCALARS - 1;
    REFUSE("open, a column too many", dgpg_log_open(&log, path, &s, 5), path,
           "/episode/throughput is not in this run's schema");
    dgpg_log_column more[SCALARS + 1];
    memcpy(more, scalar_cols, sizeof scalar_cols);
    more[SCALARS] = (dgpg_log_column){"loss", "1", "training loss"};
    s = make_schema();
    s.scalars = more;
    s.n_scalars = SCALARS + 1;
    REFUSE("open, a column missing", dgpg_log_open(&log, path, &s, 5), path,
           "dataset /episode/loss is missing");
    dgpg_log_tensor flipped[TENSORS];
    memcpy(flipped, tensor_cols, sizeof tensor_cols);
    flipped[0].per_action = 1;
    s = make_schema();
    s.tensors = flipped;
    REFUSE("open, tensor shape", dgpg_log_open(&log, path, &s, 5), path,
           "dataset /agent/grad_var has shape (5, 7); allowed: (episodes, 7, 3) for this "
           "run's N = 7, M = 3");
    const int64_t bigger[1] = {PARAM_SIZE + 1};
    s = make_schema();
    s.param_sizes = bigger;
    REFUSE("open, parameter size", dgpg_log_open(&log, path, &s, 5), path,
           "dataset /snapshot/policy has shape (1, 1000); allowed: (snapshots, 1001)");
    dgpg_log_column bad = {"Bad-Name", "1", "x"};
    s = make_schema();
    s.scalars = &bad;
    s.n_scalars = 1;
    snprintf(other, sizeof other, "%s/never.h5", dir);
    REFUSE("create, bad column name", dgpg_log_create(&log, other, &cfg, &s), other,
           "\"Bad-Name\"");
    CHECK(access(other, F_OK) != 0);
    const dgpg_log_column episode_param = {"episode", "1", "x"};
    s = make_schema();
    s.params = &episode_param;
    REFUSE("create, parameter \"episode\"", dgpg_log_create(&log, other, &cfg, &s), other,
           "the snapshots' episode column");
    s = make_schema();
    s.scalars = (const dgpg_log_column[]){scalar_cols[0], scalar_cols[1], scalar_cols[0]};
    REFUSE("create, a column twice", dgpg_log_create(&log, other, &cfg, &s), other,
           "/episode/reward is named twice");
    CHECK(access(other, F_OK) != 0);
    snprintf(other, sizeof other, "%s/no/such/dir/log.h5", dir);
    REFUSE("create in a missing directory", dgpg_log_create(&log, other, &cfg, &schema), other,
           "cannot be created");
    snprintf(other, sizeof other, "%s/missing.h5", dir);
    unlink(other);
    REFUSE("open a missing file", dgpg_log_open(&log, other, &schema, 0), other,
           "No such file");
    snprintf(other, sizeof other, "%s/garbage.h5", dir);
    write_text(other, "this is not an HDF5 file, just some text that a user mixed up\n");
    REFUSE("open a non-HDF5 file", dgpg_log_open(&log, other, &schema, 0), other,
           "not an HDF5 file");
    snprintf(other, sizeof other, "%s/truncated.h5", dir);
    copy_prefix(path, other, 1000);
    REFUSE("open a truncated log", dgpg_log_open(&log, other, &schema, 0), other,
           "damaged");
    /* cut by a few bytes after a clean close: refused, and left as it was */
    struct stat st;
    stat(path, &st);
    copy_prefix(path, other, (size_t)st.st_size - 100);
    REFUSE("open a log short by 100 bytes", dgpg_log_open(&log, other, &schema, 0), other,
           "truncated file");
    struct stat cut;
    stat(other, &cut);
    CHECK_INT_EQ(cut.st_size, st.st_size - 100);
    /* an HDF5 file that is something else */
    snprintf(other, sizeof other, "%s/eval.h5", dir);
    hid_t file = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    h5util_attr_string(file, "kind", "dgpg eval table");
    H5Fclose(file);
    REFUSE("open an eval table", dgpg_log_open(&log, other, &schema, 0), other,
           "is a \"dgpg eval table\"");
    file = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    REFUSE("open an empty HDF5 file", dgpg_log_open(&log, other, &schema, 0), other,
           "without a root attribute \"kind\"");
#undef REFUSE
    /* nothing above touched the log */
    check_log(path, 5, gen, tags, 1);
}

/* The child of the kill test: appends up to `episodes` episodes, 20 ms
 * apart, reporting each appended episode's count on `fd`. */
static void kill_child(const char *path, int fd, int episodes)
{
    dgpg_log_schema schema = make_schema();
    dgpg_log *log = NULL;
    if (dgpg_log_create(&log, path, &cfg, &schema))
        _exit(3);
    for (int64_t e = 0; e < episodes; e++) {
        if (append_episode(log, e, 0) || (e % 4 == 0 && snapshot(log, e)))
            _exit(4);
        int64_t count = e + 1;
        if (write(fd, &count, sizeof count) != sizeof count)
            _exit(5);
        usleep(20000);
    }
    dgpg_log_close(log);
    _exit(0);
}

/* Reads reports from the child until at least `want` episodes (or EOF). */
static int64_t wait_reported(int fd, int64_t reported, int64_t want)
{
    int64_t count;
    while (reported < want && read(fd, &count, sizeof count) == sizeof count)
        reported = count;
    return reported;
}

/* A SWMR reader's view of /episode/reward: refreshed row count, and rows
 * [0, count - 1) checked (the last row may be in flight: NaN or complete). */
static hsize_t swmr_read(hid_t dset)
{
    hsize_t dims[1] = {0};
    CHECK(H5Drefresh(dset) >= 0);
    hid_t space = H5Dget_space(dset);
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    double *v = malloc(sizeof(double) * (dims[0] + 1));
    CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    for (hsize_t e = 0; e < dims[0]; e++)
        CHECK_QUIET(v[e] == scalar_value((int64_t)e, 0, 0) || (e + 1 == dims[0] && isnan(v[e])),
                    "reward[%llu] = %g while written", (unsigned long long)e, v[e]);
    free(v);
    return dims[0];
}

static void test_kill(const char *dir)
{
    char path[1024], msg[4096];
    snprintf(path, sizeof path, "%s/killed.h5", dir);
    unlink(path);
    int fds[2];
    CHECK_INT_EQ(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        kill_child(path, fds[1], 500);
    }
    close(fds[1]);
    int64_t reported = wait_reported(fds[0], 0, 1);
    CHECK_LE(1, reported);

    /* a concurrent reader: SWMR_READ with the latest format, refreshed */
    hid_t file = open_file(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ);
    CHECK(file >= 0);
    hid_t dset = file >= 0 ? H5Dopen2(file, "/episode/reward", H5P_DEFAULT) : -1;
    CHECK(dset >= 0);
    if (dset >= 0) {
        hsize_t first = swmr_read(dset);
        CHECK_LE(1, first);
        reported = wait_reported(fds[0], reported, (int64_t)first + 2);
        hsize_t second = swmr_read(dset);
        CHECK_LE(first + 2, second);
        printf("swmr reader saw %llu then %llu episodes while the writer ran\n",
               (unsigned long long)first, (unsigned long long)second);
        H5Dclose(dset);
    }
    if (file >= 0)
        H5Fclose(file);

    /* a second writer is refused while the first runs, and leaves it be */
    dgpg_log_schema schema = make_schema();
    dgpg_log *log = NULL;
    capture_begin();
    int rc = dgpg_log_open(&log, path, &schema, 1);
    capture_end(msg, sizeof msg);
    check_refusal("open a log being written", rc, msg, path, "another running process");

    reported = wait_reported(fds[0], reported, 5);
    CHECK_LE(5, reported);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    reported = wait_reported(fds[0], reported, INT64_MAX);   /* what it sent before dying */
    close(fds[0]);
    printf("child killed after reporting %lld episodes\n", (long long)reported);

    int gen[512] = {0};
    /* A plain open of a log whose writer was killed is refused ("file is
     * already open for write", docs/training.md, tools/read_log.py): the
     * superblock still carries the SWMR writer's mark. A SWMR read opens
     * it (below), and after the resume below a plain open works again. */
    char why[WHY_LEN];
    file = open_plain(path, why);
    printf("plain read-only open after kill -9: %s%s\n", file >= 0 ? "opened" : "refused: ",
           why);
    CHECK(file < 0 && strstr(why, "already open for write") != NULL);
    if (file >= 0)
        H5Fclose(file);
    file = open_file(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ);
    CHECK(file >= 0);
    if (file >= 0) {
        check_episodes(file, reported, gen, 0);
        H5Fclose(file);
    }

    /* resume the killed run: dgpg_log_open clears the mark (one note line) */
    CHECK_INT_EQ(dgpg_log_open(&log, path, &schema, reported), 0);
    if (!log)
        return;
    CHECK_INT_EQ(append_episode(log, reported, 1), 0);
    CHECK_INT_EQ(dgpg_log_close(log), 0);
    gen[reported] = 1;
    file = open_file(path, H5F_ACC_RDONLY);
    CHECK(file >= 0);
    if (file >= 0) {
        check_metadata(file);
        check_episodes(file, reported + 1, gen, 1);
        H5Fclose(file);
    }
}

/* --writer: for test_h5log_read.py; prints "appended E" after each episode. */
static int run_writer(const char *dir, int episodes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/swmr.h5", dir);
    dgpg_log_schema schema = make_schema();
    dgpg_log *log = NULL;
    if (dgpg_log_create(&log, path, &cfg, &schema))
        return 1;
    for (int64_t e = 0; e < episodes; e++) {
        if (append_episode(log, e, 0) || (e % 5 == 0 && snapshot(log, e))) {
            dgpg_log_close(log);
            return 1;
        }
        printf("appended %lld\n", (long long)e);
        fflush(stdout);
        usleep(50000);
    }
    return dgpg_log_close(log) ? 1 : 0;
}

/* A file written before a key existed (its /config lacks the attribute):
 * the run's config matches it where the key is at its default, and is
 * refused, naming the key and the default, where it is not. The file is
 * the stored config of this version with the attribute deleted, which is
 * what an older version wrote. */
static void test_config_from_before_a_key(const char *dir)
{
    char path[512], err[DGPG_ERR_LEN] = "";
    snprintf(path, sizeof path, "%s/older_config.h5", dir);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file >= 0);
    CHECK_INT_EQ(h5util_write_config(file, &cfg), 0);
    hid_t group = H5Gopen2(file, "config", H5P_DEFAULT);
    CHECK(group >= 0 && H5Adelete(group, "backend.cuda_graph") >= 0);
    H5Gclose(group);
    CHECK_INT_EQ(h5util_config_matches(file, &cfg, err, sizeof err), 0);
    dgpg_config later = cfg;
    later.backend.cuda_graph = 1;
    CHECK_INT_EQ(h5util_config_matches(file, &later, err, sizeof err), -1);
    CHECK_QUIET(strstr(err, "backend.cuda_graph = 'true' in the run's config, but this file was "
                       "written before the key existed, so with its default 'false'") != NULL,
                "'%s'", err);
    /* a key the file holds still has to match */
    later = cfg;
    later.backend.tf32 = !cfg.backend.tf32;
    CHECK_INT_EQ(h5util_config_matches(file, &later, err, sizeof err), -1);
    CHECK(strstr(err, "backend.tf32 = ") != NULL);
    H5Fclose(file);
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--writer") == 0)) {
        fprintf(stderr, "usage: test_h5log SCRATCH_DIR [--writer EPISODES]\n");
        return 2;
    }
    char err[DGPG_ERR_LEN];
    h5util_init();
    if (dgpg_config_load(&cfg, NULL, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "test_h5log: config: %s\n", err);
        return 2;
    }
    mkdir_p(argv[1]);
    if (argc == 4)
        return run_writer(argv[1], atoi(argv[3]));
    snprintf(capture_path, sizeof capture_path, "%s/stderr.txt", argv[1]);
    test_write_read_resume(argv[1]);
    test_refusals(argv[1]);
    test_config_from_before_a_key(argv[1]);
    test_kill(argv[1]);
    return test_finish("h5log");
}
