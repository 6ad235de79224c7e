/* test_gpu.h — the GPU tests' device check. Without a visible CUDA device
 * a GPU test is skipped (exit 77, ctest's SKIP_RETURN_CODE), unless the
 * environment variable DGPG_REQUIRE_GPU is set to a non-empty value other
 * than 0 (tools/gpu-check.sh sets it): there a missing device is a
 * failure, so a GPU test cannot pass without running. */
#ifndef DGPG_TEST_GPU_H
#define DGPG_TEST_GPU_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int test_gpu_required(void)
{
    const char *v = getenv("DGPG_REQUIRE_GPU");
    return v && v[0] && strcmp(v, "0") != 0;
}

/* 0 where a device is visible; else the exit code the test returns (77
 * skipped, or 1 where a GPU is required), after one line saying why. */
static inline int test_gpu_unavailable(const char *name)
{
    int devices = 0;
    cudaError_t rc = cudaGetDeviceCount(&devices);
    if (rc == cudaSuccess && devices > 0)
        return 0;
    const char *why = rc == cudaSuccess ? "no CUDA device visible" : cudaGetErrorString(rc);
    cudaGetLastError(); /* clear the sticky error */
    if (test_gpu_required()) {
        printf("FAIL %s: DGPG_REQUIRE_GPU is set and %s\n", name, why);
        return 1;
    }
    printf("SKIP %s: %s\n", name, why);
    return 77;
}

#endif
