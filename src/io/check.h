/* check.h — checking macros for library calls. Each failure records the
 * library's own error text for the caller's message and jumps to the
 * function's cleanup label (Linux-kernel style). */
#ifndef DGPG_CHECK_H
#define DGPG_CHECK_H

#include <hdf5.h>
#include <stdio.h>

/* HDF5 calls return a negative value (or id) on failure. The failure is
 * recorded (h5util_error_capture: the OS error, or HDF5's innermost
 * message) for the caller's one-line report, which names the file; HDF5's
 * own error stack is printed only with DGPG_HDF5_DEBUG=1 in the
 * environment. */
void h5util_error_capture(const char *expr, const char *file, int line);

#define H5_CHECK(expr, label)                                                             \
    do {                                                                                  \
        if ((expr) < 0) {                                                                 \
            h5util_error_capture(#expr, __FILE__, __LINE__);                              \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

#endif
