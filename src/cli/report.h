/* report.h — `dgpg report LOG.h5 ...`: a terminal summary of training logs,
 * and figures drawn by tools/report_figures.py (h5py, matplotlib). */
#ifndef DGPG_REPORT_H
#define DGPG_REPORT_H

#include <stdio.h>

/* "Converged" (docs/RESULTS.md; tools/dgpg_results.py applies the same
 * rule): cost / cost(p*) at or below DGPG_CONVERGE_RATIO for
 * DGPG_CONVERGE_SUSTAIN consecutive episodes. */
#define DGPG_CONVERGE_RATIO 1.05
#define DGPG_CONVERGE_SUSTAIN 3

/* The 1-based episode from which the run converged, or 0 if it did not. */
int dgpg_report_converged_at(const double *cost_ratio, long n);

/* One log's line of the summary table. */
typedef struct dgpg_report_row {
    char method[160];     /* guide/critic, PPO for guide none */
    long n_agents, seed, episodes;
    double first, last, best; /* cost / cost(p*) */
    int converged_at;     /* 0: not converged */
    double grad_variance, snr; /* episode 1, mean over agents (NaN if not logged) */
} dgpg_report_row;

/* Reads one log into row and, unless brief, prints its summary; 0, or -1
 * with one line in err. */
int dgpg_report_log(const char *path, FILE *out, int brief, dgpg_report_row *row, char *err,
                    size_t err_len);

/* The summary table, one row per log. */
void dgpg_report_table(const char *const *paths, const dgpg_report_row *rows, int n, FILE *out);

/* Runs tools/report_figures.py on the logs, writing PNG files to dir (the
 * project's .venv Python, or DGPG_PYTHON; tools/, or DGPG_TOOLS). 0, or -1
 * with one line in err. */
int dgpg_report_figures(const char *const *paths, int n, const char *dir, FILE *out, char *err,
                        size_t err_len);

#endif
