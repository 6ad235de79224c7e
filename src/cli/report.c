/* report.c — see report.h. Opens logs for SWMR reading (h5util_open_read),
 * so a log that is being written, or whose writer was killed, can be
 * reported. */
#include "report.h"

#include "check.h"
#include "h5util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int dgpg_report_converged_at(const double *cost_ratio, long n)
{
    long run = 0;
    for (long e = 0; e < n; e++) {
        run = cost_ratio[e] <= DGPG_CONVERGE_RATIO ? run + 1 : 0;
        if (run == DGPG_CONVERGE_SUSTAIN)
            return (int)(e - DGPG_CONVERGE_SUSTAIN + 2);
    }
    return 0;
}

/* Mean over agents of row `episode` of /agent/NAME (episodes, N); NaN if absent. */
static double report_agent_mean(hid_t file, const char *name, long episode, double *row_out,
                                long n_agents)
{
    char path[128];
    snprintf(path, sizeof path, "agent/%s", name);
    double mean = NAN;
    if (H5Lexists(file, "agent", H5P_DEFAULT) <= 0 || H5Lexists(file, path, H5P_DEFAULT) <= 0)
        return NAN;
    hid_t dset = H5Dopen2(file, path, H5P_DEFAULT), space = H5I_INVALID_HID,
          mem = H5I_INVALID_HID;
    if (dset < 0)
        return NAN;
    hsize_t dims[2] = {0, 0};
    H5_CHECK(space = H5Dget_space(dset), done);
    if (H5Sget_simple_extent_ndims(space) != 2 ||
        H5Sget_simple_extent_dims(space, dims, NULL) < 0 || (long)dims[0] <= episode ||
        (long)dims[1] != n_agents)
        goto done;
    hsize_t start[2] = {(hsize_t)episode, 0}, count[2] = {1, dims[1]};
    H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL), done);
    H5_CHECK(mem = H5Screate_simple(1, &count[1], NULL), done);
    H5_CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, row_out), done);
    mean = 0.0;
    for (long i = 0; i < n_agents; i++)
        mean += row_out[i] / (double)n_agents;
done:
    if (mem >= 0)
        H5Sclose(mem);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(dset);
    return mean;
}

/* Reads /episode/NAME whole; returns its length, -1 if it is missing, or
 * -2 if it is there but cannot be read (a chunk failing its Fletcher-32
 * checksum). *out is malloc'd. */
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
        return -2;
    H5_CHECK(space = H5Dget_space(dset), done);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    *out = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
    if (!*out)
        goto done;
    n = -2;
    if (count > 0)
        H5_CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out), done);
    n = (long)count;
done:
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(dset);
    return n;
}

/* The stored config value of key into out; -1 if it cannot be read. */
static int report_config(hid_t file, const char *key, char *out, size_t len)
{
    snprintf(out, len, "?");
    hid_t group = H5Lexists(file, "config", H5P_DEFAULT) > 0
                      ? H5Gopen2(file, "config", H5P_DEFAULT)
                      : H5I_INVALID_HID;
    H5Eclear2(H5E_DEFAULT);
    if (group < 0)
        return -1;
    int rc = h5util_read_string_attr(group, key, out, len);
    H5Gclose(group);
    return rc;
}

int dgpg_report_log(const char *path, FILE *out, int brief, dgpg_report_row *row, char *err,
                    size_t err_len)
{
    hid_t file = h5util_open_checked(path, "a runs/NAME/log.h5 written by dgpg train", err,
                                     err_len);
    if (file < 0)
        return -1;
    char why[DGPG_ERR_LEN];
    if (h5util_verify_datasets(file, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s: %s; allowed: an intact training log", path, why);
        H5Fclose(file);
        return -1;
    }
    /* the trainer's columns, then the environment's own (the root
     * attribute env_columns; a log without it is cloud's of before) */
    enum { REPORT_FIXED = 4, REPORT_ENV_MAX = 3, REPORT_COLUMNS = REPORT_FIXED + REPORT_ENV_MAX };
    char env_columns[DGPG_LIST_LEN] = "delay,drop_rate";
    if (H5Aexists(file, "env_columns") > 0 &&
        h5util_read_string_attr(file, "env_columns", env_columns, sizeof env_columns) != 0)
        env_columns[0] = '\0';
    H5Eclear2(H5E_DEFAULT);
    const char *names[REPORT_COLUMNS] = {"cost_ratio", "entropy", "alpha", "agent_steps_per_s"};
    int n_columns = REPORT_FIXED;
    char *save = NULL;
    for (char *tok = strtok_r(env_columns, ",", &save); tok && n_columns < REPORT_COLUMNS;
         tok = strtok_r(NULL, ",", &save))
        names[n_columns++] = tok;
    double *col[REPORT_COLUMNS] = {NULL};
    long n = -1;
    int rc = -1;
    for (int k = 0; k < n_columns; k++) {
        long len = report_read_column(file, names[k], &col[k]);
        if (len < 0 || (n >= 0 && len != n)) {
            snprintf(err, err_len, "%s: damaged, or not a training log: per-episode column "
                     "'%s' %s; allowed: a training log written by dgpg train", path, names[k],
                     len == -1 ? "not found" : len == -2 ? "cannot be read" : "is short");
            goto done;
        }
        n = len;
    }
    char guide[64], critic[64], agents[64], pools[64], envs[64], horizon[64];
    char seed[64], reference[64] = "";
    const char *keys[] = {"algo.guide", "algo.critic", "env.n_agents", "env.n_pools",
                          "env.n_envs", "env.horizon", "train.seed"};
    char *values[] = {guide, critic, agents, pools, envs, horizon, seed};
    /* a model's reference key, where its model has one (cloud_mm1's) */
    if (report_config(file, "model.reference", reference, sizeof reference) != 0)
        reference[0] = '\0';
    for (int k = 0; k < 7; k++)
        if (report_config(file, keys[k], values[k], 64) != 0) {
            snprintf(err, err_len, "%s: damaged, or not a training log: its stored config "
                     "key %s cannot be read; allowed: a training log written by dgpg train",
                     path, keys[k]);
            goto done;
        }
    memset(row, 0, sizeof *row);
    /* as tools/dgpg_results.py labels it: a guided run's reference where it
     * is not the default state one */
    const int guided = strcmp(guide, "none") != 0;
    snprintf(row->method, sizeof row->method, "%s%s/%s", guided ? guide : "PPO",
             guided && strcmp(reference, "static") == 0 ? "-static" : "", critic);
    row->n_agents = atol(agents);
    row->seed = atol(seed);
    row->episodes = n;
    row->grad_variance = row->snr = NAN;
    if (n > 0 && row->n_agents > 0) {
        double *var = malloc(sizeof(double) * 2 * (size_t)row->n_agents);
        if (var) {
            double *msq = var + row->n_agents;
            row->grad_variance = report_agent_mean(file, "grad_variance", 0, var, row->n_agents);
            /* a ratio of the means over agents (tools/dgpg_results.py): one
             * agent's unbiased signal can be negative */
            double signal = report_agent_mean(file, "grad_mean_sq", 0, msq, row->n_agents);
            if (isfinite(signal) && row->grad_variance > 0)
                row->snr = signal / row->grad_variance;
            free(var);
        }
    }
    if (n > 0) {
        row->first = col[0][0];
        row->last = col[0][n - 1];
        row->best = col[0][0];
        for (long e = 0; e < n; e++)
            row->best = col[0][e] < row->best ? col[0][e] : row->best;
        row->converged_at = dgpg_report_converged_at(col[0], n);
    }
    if (brief) {
        rc = 0;
        goto done;
    }
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
        speed += col[3][e] / (double)n;
    }
    fprintf(out, "  cost / cost(p*): first %.4f, last %.4f, best %.4f (episode %ld); ",
            col[0][0], col[0][n - 1], col[0][best], best + 1);
    if (within >= 0)
        fprintf(out, "first within 10%% of p* at episode %ld\n", within + 1);
    else
        fprintf(out, "never within 10%% of p*\n");
    if (row->converged_at)
        fprintf(out, "  converged at episode %d (cost/p* <= %.2f for %d episodes)\n",
                row->converged_at, DGPG_CONVERGE_RATIO, DGPG_CONVERGE_SUSTAIN);
    else
        fprintf(out, "  not converged (cost/p* <= %.2f for %d episodes) in %ld episodes\n",
                DGPG_CONVERGE_RATIO, DGPG_CONVERGE_SUSTAIN, n);
    fprintf(out, "  per-agent gradient variance %.4g, SNR %.4g (episode 1, mean over agents)\n",
            row->grad_variance, row->snr);
    fprintf(out, "  mean training speed %.3g agent-steps/s\n", speed);
    fprintf(out, "  %8s %12s", "episode", "cost/p*");
    for (int k = REPORT_FIXED; k < n_columns; k++)
        fprintf(out, " %12.12s", names[k]);
    fprintf(out, " %10s %8s\n", "entropy", "alpha");
    long stride = n > 20 ? (n + 19) / 20 : 1;
    for (long e = 0; e < n; e++)
        if (e % stride == 0 || e == n - 1) {
            fprintf(out, "  %8ld %12.4f", e + 1, col[0][e]);
            for (int k = REPORT_FIXED; k < n_columns; k++)
                fprintf(out, " %12.4g", col[k][e]);
            fprintf(out, " %10.4f %8.3f\n", col[1][e], col[2][e]);
        }
    rc = 0;
done:
    for (int k = 0; k < REPORT_COLUMNS; k++)
        free(col[k]);
    H5Fclose(file);
    return rc;
}

void dgpg_report_table(const char *const *paths, const dgpg_report_row *rows, int n, FILE *out)
{
    fprintf(out, "%-24s %-18s %6s %5s %5s %9s %9s %9s %10s %11s %9s\n", "run", "method", "N",
            "seed", "eps", "first", "last", "best", "converged", "grad var", "SNR");
    for (int k = 0; k < n; k++) {
        const dgpg_report_row *r = &rows[k];
        char run[256], conv[32];
        snprintf(run, sizeof run, "%s", paths[k]);
        char *dir = dirname(run); /* runs/NAME/log.h5 -> runs/NAME */
        const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        if (r->converged_at)
            snprintf(conv, sizeof conv, "%d", r->converged_at);
        else
            snprintf(conv, sizeof conv, "no (%ld)", r->episodes);
        fprintf(out, "%-24.24s %-18.18s %6ld %5ld %5ld %9.4f %9.4f %9.4f %10s %11.4g %9.4g\n",
                name, r->method, r->n_agents, r->seed, r->episodes, r->first, r->last, r->best,
                conv, r->grad_variance, r->snr);
    }
    fprintf(out, "converged: the episode from which cost/p* <= %.2f for %d episodes "
            "(docs/RESULTS.md); grad var and SNR: episode 1, mean over agents\n",
            DGPG_CONVERGE_RATIO, DGPG_CONVERGE_SUSTAIN);
}

/* Where report_figures.py is, found from the running binary rather than
 * a path compiled in: $DGPG_TOOLS; else, beside a build tree or checkout,
 * EXE_DIR/../tools; else, installed (cmake --install), EXE_DIR/../share/
 * dgpg/tools. The Python: $DGPG_PYTHON; else the checkout's .venv beside
 * those tools (tools/install-deps.sh makes it); else python3 on PATH.
 * 0, or -1 where no tools folder has the script. */
static int report_find_tools(char *tools, size_t tools_len, char *python, size_t python_len)
{
    char exe[DGPG_PATH_LEN], script[DGPG_PATH_LEN + 64];
    /* tools_len must hold script: callers pass DGPG_PATH_LEN + 64 */
    const char *env_tools = getenv("DGPG_TOOLS"), *env_python = getenv("DGPG_PYTHON");
    tools[0] = '\0';
    if (env_tools && env_tools[0]) {
        snprintf(tools, tools_len, "%s", env_tools);
    } else {
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = '\0';
            const char *dir = dirname(exe);
            const char *candidates[] = {"%s/../tools", "%s/../share/dgpg/tools"};
            for (int k = 0; k < 2 && !tools[0]; k++) {
                snprintf(script, sizeof script, candidates[k], dir);
                char probe[DGPG_PATH_LEN + 96];
                snprintf(probe, sizeof probe, "%s/report_figures.py", script);
                if (access(probe, R_OK) == 0)
                    snprintf(tools, tools_len, "%s", script);
            }
        }
    }
    if (!tools[0])
        return -1;
    /* the tools' real directory: where `tools` passes through a link, the
     * lexical tools/../.venv is not the real .venv's path, and a Python
     * started by that path does not find its virtual environment */
    char real[PATH_MAX];
    if (realpath(tools, real) && strlen(real) < tools_len)
        snprintf(tools, tools_len, "%s", real);
    if (env_python && env_python[0]) {
        snprintf(python, python_len, "%s", env_python);
    } else {
        snprintf(script, sizeof script, "%s/../.venv/bin/python3", tools);
        snprintf(python, python_len, "%s", access(script, X_OK) == 0 ? script : "python3");
    }
    return 0;
}

int dgpg_report_figures(const char *const *paths, int n, const char *dir, FILE *out, char *err,
                        size_t err_len)
{
    char tools[DGPG_PATH_LEN + 64], python[DGPG_PATH_LEN + 128];
    if (report_find_tools(tools, sizeof tools, python, sizeof python) != 0) {
        snprintf(err, err_len, "figures: no report_figures.py beside this dgpg (../tools, or "
                 "../share/dgpg/tools once installed); allowed: DGPG_TOOLS naming the tools "
                 "folder of a dgpg checkout, or --no-figures");
        return -1;
    }
    char script[DGPG_PATH_LEN + 96];
    snprintf(script, sizeof script, "%s/report_figures.py", tools);
    char **argv = calloc((size_t)n + 6, sizeof(char *));
    if (!argv) {
        snprintf(err, err_len, "report: out of memory");
        return -1;
    }
    int a = 0;
    argv[a++] = (char *)python;
    argv[a++] = script;
    argv[a++] = (char *)"--out";
    argv[a++] = (char *)dir;
    for (int k = 0; k < n; k++)
        argv[a++] = (char *)paths[k];
    fflush(out);
    pid_t pid;
    /* spawnp: a bare python3 is looked up on PATH */
    int rc = posix_spawnp(&pid, python, NULL, NULL, argv, environ);
    free(argv);
    if (rc != 0) {
        snprintf(err, err_len, "figures: cannot run %s (%s); allowed: a Python with h5py, "
                 "numpy and matplotlib (bash tools/install-deps.sh makes .venv in a checkout; "
                 "DGPG_PYTHON names another), or --no-figures", python, strerror(rc));
        return -1;
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, err_len, "figures: %s %s failed (see its output above); allowed: a "
                 "Python with h5py, numpy, scipy and matplotlib (bash tools/install-deps.sh), "
                 "or --no-figures", python, script);
        return -1;
    }
    return 0;
}
