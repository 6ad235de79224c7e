/* backend.c — the backend interface of backend.h: constructors and one
 * dispatch per op to the CPU implementation (backend_cpu.c) or the CUDA one
 * (kernels/backend_cuda.cu). The argument conventions are the same on both,
 * so the CPU tests exercise what the GPU would receive. */
#include "backend_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef _OPENMP
#include <omp.h>
#endif

dgpg_backend *dgpg_backend_cpu(int threads)
{
    dgpg_backend *be = calloc(1, sizeof *be);
    if (!be)
        return NULL;
#ifdef _OPENMP
    be->threads = threads > 0 ? threads : omp_get_num_procs();
#else
    (void)threads;
    be->threads = 1;
#endif
    dgpg__cpu_init();
    return be;
}

int dgpg_backend_cuda_devices(void)
{
#ifdef DGPG_HAVE_CUDA
    return dgpg__cuda_devices();
#else
    return 0;
#endif
}

dgpg_backend *dgpg_backend_cuda(int device, int tf32, char *err, size_t err_len)
{
#ifdef DGPG_HAVE_CUDA
    dgpg_backend *be = dgpg_backend_cpu(0);
    if (!be) {
        snprintf(err, err_len, "backend: out of host memory");
        return NULL;
    }
    be->cuda = dgpg__cuda_create(device, tf32, err, err_len);
    if (!be->cuda) {
        free(be);
        return NULL;
    }
    return be;
#else
    (void)device;
    (void)tf32;
    snprintf(err, err_len, "backend.kind = 'cuda': this build has no CUDA backend (CMake found "
             "no nvcc); allowed: cpu, auto");
    return NULL;
#endif
}

int dgpg_backend_kind_is_cuda(const char *kind)
{
    if (strcmp(kind, "cuda") == 0)
        return 1;
    return strcmp(kind, "auto") == 0 && dgpg_backend_cuda_devices() > 0;
}

int dgpg_backend_is_cuda(const dgpg_backend *be)
{
    return be->cuda != NULL;
}

void dgpg_backend_free(dgpg_backend *be)
{
    if (!be)
        return;
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        dgpg__cuda_free(be->cuda);
#endif
    free(be);
}

int dgpg_backend_threads(const dgpg_backend *be)
{
    return be->threads;
}

int dgpg_backend_sync(dgpg_backend *be)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_sync(be->cuda);
#else
    (void)be;
#endif
    return 0;
}

double dgpg_backend_sgemm_peak(dgpg_backend *be)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_sgemm_peak(be->cuda);
#endif
    return dgpg__cpu_sgemm_peak(be->threads);
}

int dgpg_gemm_strided_batched(dgpg_backend *be, int transa, int transb, int m, int n, int k,
                              float alpha, const float *A, int lda, int64_t strideA,
                              const float *B, int ldb, int64_t strideB, float beta, float *C,
                              int ldc, int64_t strideC, int batch)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < 1 || ldb < 1 || ldc < 1)
        return -1;
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_gemm_strided_batched(be->cuda, transa, transb, m, n, k, alpha, A, lda,
                                               strideA, B, ldb, strideB, beta, C, ldc, strideC,
                                               batch);
#endif
    return dgpg__cpu_gemm_strided_batched(be->threads, transa, transb, m, n, k, alpha, A, lda,
                                          strideA, B, ldb, strideB, beta, C, ldc, strideC,
                                          batch);
}

int dgpg_bias_act(dgpg_backend *be, int64_t B, int64_t K, int64_t d, const float *bias,
                  int tanh, float *y)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_bias_act(be->cuda, B, K, d, bias, tanh, y);
#endif
    return dgpg__cpu_bias_act(be->threads, B, K, d, bias, tanh, y);
}

int dgpg_tanh_backward(dgpg_backend *be, int64_t n, const float *y, const float *dy, float *dz)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_tanh_backward(be->cuda, n, y, dy, dz);
#endif
    return dgpg__cpu_tanh_backward(be->threads, n, y, dy, dz);
}

int dgpg_bias_grad(dgpg_backend *be, int64_t B, int64_t K, int64_t d, const float *dz,
                   float *bias_grad)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_bias_grad(be->cuda, B, K, d, dz, bias_grad);
#endif
    return dgpg__cpu_bias_grad(be->threads, B, K, d, dz, bias_grad);
}

int dgpg_mlp_forward_fused(dgpg_backend *be, const dgpg_mlp_shape *shape, const float *params,
                           int64_t B, const float *x, float *acts)
{
    /* the CUDA backend runs the layer-by-layer ops, each one launch; one
     * network shared by all (K = 1) is one large product per layer */
    if (be->cuda || shape->K < 2)
        return 0;
    return dgpg__cpu_mlp_forward(be->threads, shape, params, B, x, acts) == 0 ? 1 : -1;
}

int dgpg_mlp_backward_fused(dgpg_backend *be, const dgpg_mlp_shape *shape, const float *params,
                            float *grads, int64_t B, const float *x, const float *acts,
                            const float *d_out, float *scratch)
{
    if (be->cuda || shape->K < 2)
        return 0;
    return dgpg__cpu_mlp_backward(be->threads, shape, params, grads, B, x, acts, d_out,
                                  scratch) == 0
               ? 1
               : -1;
}

void *dgpg_backend_alloc(dgpg_backend *be, size_t bytes)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_alloc(be->cuda, bytes);
#else
    (void)be;
#endif
    /* Large arrays (rollout storage, activations) on transparent huge
     * pages where the kernel offers them (madvise mode): each network's
     * rows of a (B, K, d) activation lie K d floats apart, so a pass over
     * one network touches a new 4 KiB page per row, and the TLB misses cost
     * more than the arithmetic. */
    const size_t huge = (size_t)2 << 20;
    if (bytes >= 2 * huge) {
        void *p = NULL;
        size_t size = (bytes + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, size) != 0)
            return NULL;
        madvise(p, size, MADV_HUGEPAGE); /* advice only: without THP, plain pages */
        memset(p, 0, size);
        return p;
    }
    return calloc(bytes ? bytes : 1, 1);
}

void dgpg_backend_release(dgpg_backend *be, void *p)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda) {
        dgpg__cuda_release(be->cuda, p);
        return;
    }
#else
    (void)be;
#endif
    free(p);
}

int dgpg_backend_upload(dgpg_backend *be, void *dst, const void *src, size_t bytes)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_copy(be->cuda, dst, src, bytes, 1);
#else
    (void)be;
#endif
    memcpy(dst, src, bytes);
    return 0;
}

int dgpg_backend_download(dgpg_backend *be, void *dst, const void *src, size_t bytes)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_copy(be->cuda, dst, src, bytes, 0);
#else
    (void)be;
#endif
    memcpy(dst, src, bytes);
    return 0;
}

int dgpg_backend_capture_begin(dgpg_backend *be)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_capture_begin(be->cuda);
#else
    (void)be;
#endif
    return 0;
}

int dgpg_backend_capture_end(dgpg_backend *be, int run)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_capture_end(be->cuda, run);
#else
    (void)be;
    (void)run;
#endif
    return 0;
}

void dgpg_backend_counters(uint64_t *launches, uint64_t *host_waits)
{
#ifdef DGPG_HAVE_CUDA
    unsigned long long l = 0, w = 0;
    dgpg__cuda_counters(&l, &w);
    *launches = (uint64_t)l;
    *host_waits = (uint64_t)w;
#else
    *launches = *host_waits = 0;
#endif
}

int dgpg_net_sq_norms(dgpg_backend *be, const dgpg_net_layout *layout, const float *x,
                      double *out)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_net_sq_norms(be->cuda, layout, x, out);
#else
    (void)be;
#endif
    return dgpg__cpu_net_sq_norms(layout, x, out);
}

int dgpg_net_scale(dgpg_backend *be, const dgpg_net_layout *layout, float *x,
                   const double *scale)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_net_scale(be->cuda, layout, x, scale);
#else
    (void)be;
#endif
    return dgpg__cpu_net_scale(layout, x, scale);
}

int dgpg_net_clip(dgpg_backend *be, const dgpg_net_layout *layout, float *x, double max_norm,
                  double *norm_sum)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_net_clip(be->cuda, layout, x, max_norm, norm_sum);
#endif
    return dgpg__cpu_net_clip(be, layout, x, max_norm, norm_sum);
}

int dgpg_adam(dgpg_backend *be, int64_t n, float *params, float *m, float *v,
              const float *grads, double lr, double eps, int64_t step)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_adam(be->cuda, n, params, m, v, grads, lr, eps, step);
#endif
    return dgpg__cpu_adam(be->threads, n, params, m, v, grads, lr, eps, step);
}

int dgpg_backend_copy(dgpg_backend *be, void *dst, const void *src, size_t bytes)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_copy_device(be->cuda, dst, src, bytes);
#else
    (void)be;
#endif
    if (bytes)
        memcpy(dst, src, bytes);
    return 0;
}

int dgpg_backend_zero(dgpg_backend *be, void *p, size_t bytes)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_zero(be->cuda, p, bytes);
#else
    (void)be;
#endif
    if (bytes)
        memset(p, 0, bytes);
    return 0;
}

int dgpg_backend_reserve(dgpg_backend *be, size_t doubles)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_scratch(be->cuda, doubles) ? 0 : -7;
#else
    (void)be;
    (void)doubles;
#endif
    return 0;
}

void *dgpg_backend_stream(dgpg_backend *be)
{
#ifdef DGPG_HAVE_CUDA
    if (be->cuda)
        return dgpg__cuda_stream(be->cuda);
#else
    (void)be;
#endif
    return NULL;
}
