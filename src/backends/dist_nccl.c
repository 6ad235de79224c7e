/* dist_nccl.c — gradients summed over MPI ranks on the device with NCCL
 * (one GPU per rank), for the CUDA backend: the communicator is made once,
 * from a unique id that rank 0 broadcasts over MPI, and every sum runs on
 * the backend's stream. Built when CUDA, NCCL and MPI are all there.
 *
 * Status: compiled (warnings as errors); not yet run on GPUs (docs/gpu.md). */
#include "dist.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>

static ncclComm_t dist_nccl;

/* NCCL calls: the expression, file:line, NCCL's own text and the rank. */
#define NCCL_CHECK(expr)                                                                  \
    do {                                                                                  \
        ncclResult_t nccl_check_rc_ = (expr);                                             \
        if (nccl_check_rc_ != ncclSuccess) {                                              \
            fprintf(stderr, "dgpg: rank %d: NCCL call failed: %s at %s:%d: %s\n",         \
                    dgpg_dist_rank(), #expr, __FILE__, __LINE__,                          \
                    ncclGetErrorString(nccl_check_rc_));                                  \
            return -1;                                                                    \
        }                                                                                 \
    } while (0)

int dgpg_dist_device_init(void)
{
    if (dgpg_dist_size() < 2 || dist_nccl)
        return 0;
    ncclUniqueId id;
    if (dgpg_dist_rank() == 0)
        NCCL_CHECK(ncclGetUniqueId(&id));
    if (dgpg_dist_broadcast(&id, sizeof id) != 0)
        return -1;
    NCCL_CHECK(ncclCommInitRank(&dist_nccl, dgpg_dist_size(), id, dgpg_dist_rank()));
    return 0;
}

int dgpg_dist_sum_device_floats(float *x, int64_t n, void *stream)
{
    if (dgpg_dist_size() < 2 || n <= 0)
        return 0;
    if (!dist_nccl && dgpg_dist_device_init() != 0)
        return -1;
    NCCL_CHECK(ncclAllReduce(x, x, (size_t)n, ncclFloat, ncclSum, dist_nccl,
                             (cudaStream_t)stream));
    return 0;
}

void dgpg_dist_device_finalize(void)
{
    if (dist_nccl)
        ncclCommDestroy(dist_nccl);
    dist_nccl = NULL;
}
