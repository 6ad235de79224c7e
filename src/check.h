/* check.h — checking macros for library calls. Each failure prints the
 * failing expression, file:line and the library's own error text, and
 * jumps to the function's cleanup label (Linux-kernel style). */
#ifndef DGPG_CHECK_H
#define DGPG_CHECK_H

#include <hdf5.h>
#include <stdio.h>

/* HDF5 calls return a negative value (or id) on failure. The library's
 * automatic stack printing is switched off in h5util_init, so the stack is
 * printed here, once, after our own line. */
#define H5_CHECK(expr, label)                                                             \
    do {                                                                                  \
        if ((expr) < 0) {                                                                 \
            fprintf(stderr, "dgpg: HDF5 call failed: %s at %s:%d\n", #expr, __FILE__,     \
                    __LINE__);                                                            \
            H5Eprint2(H5E_DEFAULT, stderr);                                               \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

#endif
