/* cuda_check.h — checking macros for the CUDA runtime: the failing
 * expression, file:line and CUDA's own error string. */
#ifndef DGPG_KERNELS_CUDA_CHECK_H
#define DGPG_KERNELS_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdio.h>

#define CUDA_CHECK(expr)                                                                  \
    do {                                                                                  \
        cudaError_t cuda_check_err_ = (expr);                                             \
        if (cuda_check_err_ != cudaSuccess) {                                             \
            fprintf(stderr, "dgpg: CUDA call failed: %s at %s:%d: %s\n", #expr, __FILE__, \
                    __LINE__, cudaGetErrorString(cuda_check_err_));                       \
            return -7; /* DGPG_EBACKEND */                                                \
        }                                                                                 \
    } while (0)

#endif
