/* report.c — see report.h. Opens logs for SWMR reading (h5util_open_read),
 * so a log that is being written, or whose writer was killed, can be
 * reported. */
#include "report.h"

#include "check.h"
#include "h5util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reads /episode/NAME whole; returns its length or -1. *out is malloc'd. */
static long report_read_column(hid_t file, const char *name, double **out)
{
    char path[128];
    snprintf(path, sizeof path, "episode/%s", name);
    *out = NULL;
    if (H5Lexists(file, "episode", H5P_DEFAULT) <= 0 || H5Lexists(file, path, H5P_DEFAULT) <= 0)
        return -1;
    long n = -1;
    hid_t dset = H5Dopen2(file, path, H5P_DEFAULT), space = H5I_INVALID_HID;
    if (dset < 0)
        return -1;
    H5_CHECK(space = H5Dget_space(dset), done);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    *out = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
    if (!*out)
        goto done;
    if (count > 0)
        H5_CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out), done);
    n = (long)count;
done:
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(dset);
    return n;
}

static void report_config(hid_t file, const char *key, char *out, size_t len)
{
    snprintf(out, len, "?");
    if (H5Lexists(file, "config", H5P_DEFAULT) <= 0)
        return;
    hid_t group = H5Gopen2(file, "config", H5P_DEFAULT);
    if (group < 0)
        return;
    if (h5util_read_string_attr(group, key, out, len) != 0)
        snprintf(out, len, "?");
    H5Gclose(group);
}

int dgpg_report_log(const char *path, FILE *out, char *err, size_t err_len)
{
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, err_len, "%s: not an HDF5 file (missing or truncated); allowed: a "
                 "runs/NAME/log.h5 written by dgpg train", path);
        return -1;
    }
    hid_t file = h5util_open_read(path);
    if (file < 0) {
        snprintf(err, err_len, "%s: cannot be opened for reading; allowed: a training log", path);
        return -1;
    }
    const char *names[] = {"cost_ratio", "delay", "drop_rate", "entropy", "alpha",
                           "agent_steps_per_s"};
    double *col[6] = {NULL};
    long n = -1;
    int rc = -1;
    for (int k = 0; k < 6; k++) {
        long len = report_read_column(file, names[k], &col[k]);
        if (len < 0 || (n >= 0 && len != n)) {
            snprintf(err, err_len, "%s: no per-episode column '%s'; allowed: a training log "
                     "written by dgpg train", path, names[k]);
            goto done;
        }
        n = len;
    }
    char guide[64], critic[64], agents[64], pools[64], envs[64], horizon[64];
    report_config(file, "algo.guide", guide, sizeof guide);
    report_config(file, "algo.critic", critic, sizeof critic);
    report_config(file, "env.n_agents", agents, sizeof agents);
    report_config(file, "env.n_pools", pools, sizeof pools);
    report_config(file, "env.n_envs", envs, sizeof envs);
    report_config(file, "env.horizon", horizon, sizeof horizon);
    fprintf(out, "%s: guide %s, critic %s, N = %s, M = %s, E = %s, T = %s; %ld episodes\n",
            path, guide, critic, agents, pools, envs, horizon, n);
    if (n == 0) {
        rc = 0;
        goto done;
    }
    long best = 0, within = -1;
    double speed = 0.0;
    for (long e = 0; e < n; e++) {
        if (col[0][e] < col[0][best])
            best = e;
        if (within < 0 && col[0][e] <= 1.10)
            within = e;
        speed += col[5][e] / (double)n;
    }
    fprintf(out, "  cost / cost(p*): first %.4f, last %.4f, best %.4f (episode %ld); ",
            col[0][0], col[0][n - 1], col[0][best], best + 1);
    if (within >= 0)
        fprintf(out, "first within 10%% of p* at episode %ld\n", within + 1);
    else
        fprintf(out, "never within 10%% of p*\n");
    fprintf(out, "  mean training speed %.3g agent-steps/s\n", speed);
    fprintf(out, "  %8s %12s %12s %10s %10s %8s\n", "episode", "cost/p*", "delay", "drops %",
            "entropy", "alpha");
    long stride = n > 20 ? (n + 19) / 20 : 1;
    for (long e = 0; e < n; e++)
        if (e % stride == 0 || e == n - 1)
            fprintf(out, "  %8ld %12.4f %12.4f %10.4f %10.4f %8.3f\n", e + 1, col[0][e],
                    col[1][e], 100.0 * col[2][e], col[3][e], col[4][e]);
    rc = 0;
done:
    for (int k = 0; k < 6; k++)
        free(col[k]);
    H5Fclose(file);
    return rc;
}
