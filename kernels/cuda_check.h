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

/* Process-wide counters that `dgpg bench train --backend cuda` reports
 * (dgpg_backend_counters): launches the host makes (a kernel, a cuBLAS
 * call, a graph: one each; a kernel recorded into a graph during a capture
 * is not one) and host waits (a synchronisation, or a copy the host waits
 * for). The CUDA path is driven from one host thread. */
#ifdef __cplusplus
extern "C" {
#endif
extern unsigned long long dgpg__cuda_launches, dgpg__cuda_host_waits;
extern int dgpg__cuda_capturing;
#ifdef __cplusplus
}
#endif
#define DGPG_LAUNCHED(n)                                                                   \
    (dgpg__cuda_launches += dgpg__cuda_capturing ? 0ull : (unsigned long long)(n))
#define DGPG_HOST_WAITED() (dgpg__cuda_host_waits += 1ull)

#endif
