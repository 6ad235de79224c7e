/* backend_cpu.c — the CPU backend of backend.h: a loop over the batch of
 * small GEMMs split across OpenMP threads (OpenBLAS 0.3.21 has no batched
 * SGEMM). Each product runs on a libxsmm JIT kernel where libxsmm has one
 * and the output is at least 16 rows tall, and on single-threaded OpenBLAS
 * otherwise: the kernel lab (kernels/lab/per_agent_gemm.c, results in
 * docs/training.md) measured libxsmm 1.3-2.8x faster on hidden-width
 * products and slower on the narrow policy head. A batch of
 * one (shared parameters) runs one SGEMM on OpenBLAS's own threads. Each
 * call's result depends only on its arguments and the thread count is
 * fixed per backend, so runs are bitwise repeatable. */
#include "backend_internal.h"

#include "../kernels/nn.h"
#include "../kernels/ppo.h"

#include <cblas.h>
#include <libxsmm.h>
#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's own threading switch (not in cblas.h's standard set). */
void openblas_set_num_threads(int num_threads);

void dgpg__cpu_init(void)
{
    libxsmm_init(); /* idempotent; kernels are JIT-compiled on first use */
}

double dgpg__cpu_sgemm_peak(int threads)
{
    const int n = 2048;
    float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n);
    float *c = malloc(sizeof(float) * (size_t)n * n);
    double best = 0.0;
    if (a && b && c) {
        for (size_t k = 0; k < (size_t)n * n; k++) {
            a[k] = (float)(k % 13) * 0.01f;
            b[k] = (float)(k % 7) * 0.02f;
        }
        openblas_set_num_threads(threads);
        for (int rep = 0; rep < 4; rep++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            double rate = 2.0 * n * (double)n * n / s * 1e-9;
            best = rate > best ? rate : best;
        }
        openblas_set_num_threads(1);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static enum CBLAS_TRANSPOSE backend_trans(int t)
{
    return t == DGPG_TRANS ? CblasTrans : CblasNoTrans;
}

int dgpg__cpu_gemm_strided_batched(int threads, int transa, int transb, int m, int n, int k,
                                   float alpha, const float *A, int lda, int64_t strideA,
                                   const float *B, int ldb, int64_t strideB, float beta,
                                   float *C, int ldc, int64_t strideC, int batch)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < 1 || ldb < 1 || ldc < 1)
        return -1;
    openblas_set_num_threads(1);
    if (batch == 1 && threads > 1) {
        /* one product: split C's columns (or, if too few, its rows) over
         * the threads, each block one single-threaded SGEMM; switching
         * OpenBLAS's own threads on and off per call costs more than the
         * small products it would speed up */
        const int parts = threads;
        const int split_n = n >= m;
        const int extent = split_n ? n : m;
#pragma omp parallel for schedule(static) num_threads(parts)
        for (int p = 0; p < parts; p++) {
            int lo = (int)((int64_t)extent * p / parts), hi = (int)((int64_t)extent * (p + 1) / parts);
            if (hi <= lo)
                continue;
            if (split_n) {
                const float *Bp = transb == DGPG_TRANS ? B + lo : B + (int64_t)lo * ldb;
                cblas_sgemm(CblasColMajor, backend_trans(transa), backend_trans(transb), m,
                            hi - lo, k, alpha, A, lda, Bp, ldb, beta, C + (int64_t)lo * ldc, ldc);
            } else {
                const float *Ap = transa == DGPG_TRANS ? A + (int64_t)lo * lda : A + lo;
                cblas_sgemm(CblasColMajor, backend_trans(transa), backend_trans(transb), hi - lo,
                            n, k, alpha, Ap, lda, B, ldb, beta, C + lo, ldc);
            }
        }
        return 0;
    }
    /* libxsmm kernels take alpha = 1 and beta in {0, 1}, which is every
     * call the networks make */
    libxsmm_smmfunction kernel = NULL;
    if (m >= 16 && alpha == 1.0f && (beta == 0.0f || beta == 1.0f)) {
        int flags = (transa == DGPG_TRANS ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                    (transb == DGPG_TRANS ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
        libxsmm_blasint xlda = lda, xldb = ldb, xldc = ldc;
        kernel = libxsmm_smmdispatch(m, n, k, &xlda, &xldb, &xldc, &alpha, &beta, &flags, NULL);
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int b = 0; b < batch; b++) {
        if (kernel)
            kernel(A + b * strideA, B + b * strideB, C + b * strideC);
        else
            cblas_sgemm(CblasColMajor, backend_trans(transa), backend_trans(transb), m, n, k,
                        alpha, A + b * strideA, lda, B + b * strideB, ldb, beta,
                        C + b * strideC, ldc);
    }
    return 0;
}

int dgpg__cpu_tanh_backward(int threads, int64_t n, const float *y, const float *dy, float *dz)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t j = 0; j < n; j++)
        dz[j] = dy[j] * nn_tanh_grad(y[j]);
    return 0;
}

int dgpg__cpu_bias_grad(int threads, int64_t B, int64_t K, int64_t d, const float *dz,
                        float *bias_grad)
{
    /* each thread owns whole networks, and sums over samples in order */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t k = 0; k < K; k++)
        for (int64_t b = 0; b < B; b++) {
            const float *row = dz + (b * K + k) * d;
            float *g = bias_grad + k * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++)
                g[j] += row[j];
        }
    return 0;
}

int dgpg__cpu_net_sq_norms(const dgpg_net_layout *layout, const float *x, double *out)
{
    for (int64_t k = 0; k < layout->K; k++) {
        double sum = 0.0;
        for (int l = 0; l < layout->layers; l++) {
            const float *w = x + layout->weight_offset[l] + k * layout->weight_size[l];
            const float *b = x + layout->bias_offset[l] + k * layout->bias_size[l];
            for (int64_t j = 0; j < layout->weight_size[l]; j++)
                sum += (double)w[j] * w[j];
            for (int64_t j = 0; j < layout->bias_size[l]; j++)
                sum += (double)b[j] * b[j];
        }
        out[k] = sum;
    }
    return 0;
}

int dgpg__cpu_net_scale(const dgpg_net_layout *layout, float *x, const double *scale)
{
    for (int l = 0; l < layout->layers; l++)
        for (int64_t k = 0; k < layout->K; k++) {
            float *w = x + layout->weight_offset[l] + k * layout->weight_size[l];
            float *b = x + layout->bias_offset[l] + k * layout->bias_size[l];
            for (int64_t j = 0; j < layout->weight_size[l]; j++)
                w[j] = (float)(w[j] * scale[k]);
            for (int64_t j = 0; j < layout->bias_size[l]; j++)
                b[j] = (float)(b[j] * scale[k]);
        }
    return 0;
}

int dgpg__cpu_adam(int threads, int64_t n, float *params, float *m, float *v, const float *grads,
                   double lr, double eps, int64_t step)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t j = 0; j < n; j++)
        ppo_adam(&params[j], &m[j], &v[j], grads[j], lr, 0.9, 0.999, eps, step);
    return 0;
}
