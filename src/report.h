/* report.h — `dgpg report LOG.h5 ...`: a terminal summary of training logs
 * (figures come from tools/ with h5py and matplotlib). */
#ifndef DGPG_REPORT_H
#define DGPG_REPORT_H

#include <stdio.h>

/* Prints the summary of one log; 0, or -1 with one line in err. */
int dgpg_report_log(const char *path, FILE *out, char *err, size_t err_len);

#endif
