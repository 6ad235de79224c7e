/* backend_cpu.c — the CPU backend of backend.h: OpenBLAS SGEMM in a loop
 * over the batch, the loop split across OpenMP threads with every BLAS call
 * single-threaded (OpenBLAS 0.3.21 has no batched SGEMM; docs/training.md,
 * "Per-agent GEMMs", has the measurement behind this choice). A batch of
 * one (shared parameters) runs one SGEMM on OpenBLAS's own threads. Each
 * call's result depends only on its arguments and the thread count is
 * fixed per backend, so runs are bitwise repeatable. */
#include "backend.h"

#include "../kernels/nn.h"

#include <cblas.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's own threading switch (not in cblas.h's standard set). */
void openblas_set_num_threads(int num_threads);

struct dgpg_backend {
    int threads;
};

dgpg_backend *dgpg_backend_cpu(int threads)
{
    dgpg_backend *be = calloc(1, sizeof *be);
    if (!be)
        return NULL;
#ifdef _OPENMP
    be->threads = threads > 0 ? threads : omp_get_num_procs();
#else
    be->threads = 1;
#endif
    return be;
}

void dgpg_backend_free(dgpg_backend *be)
{
    free(be);
}

int dgpg_backend_threads(const dgpg_backend *be)
{
    return be->threads;
}

static enum CBLAS_TRANSPOSE backend_trans(int t)
{
    return t == DGPG_TRANS ? CblasTrans : CblasNoTrans;
}

int dgpg_gemm_strided_batched(dgpg_backend *be, int transa, int transb, int m, int n, int k,
                              float alpha, const float *A, int lda, int64_t strideA,
                              const float *B, int ldb, int64_t strideB, float beta, float *C,
                              int ldc, int64_t strideC, int batch)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < 1 || ldb < 1 || ldc < 1)
        return -1;
    if (batch == 1) {
        openblas_set_num_threads(be->threads);
        cblas_sgemm(CblasColMajor, backend_trans(transa), backend_trans(transb), m, n, k, alpha,
                    A, lda, B, ldb, beta, C, ldc);
        openblas_set_num_threads(1);
        return 0;
    }
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int b = 0; b < batch; b++)
        cblas_sgemm(CblasColMajor, backend_trans(transa), backend_trans(transb), m, n, k, alpha,
                    A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
    return 0;
}

void dgpg_bias_act(dgpg_backend *be, int64_t B, int64_t K, int64_t d, const float *bias,
                   int tanh, float *y)
{
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < K; k++) {
            float *row = y + (b * K + k) * d;
            const float *bk = bias + k * d;
            for (int64_t j = 0; j < d; j++)
                row[j] = tanh ? nn_tanh(row[j] + bk[j]) : row[j] + bk[j];
        }
}

void dgpg_tanh_backward(dgpg_backend *be, int64_t n, const float *y, const float *dy,
                        float *dz)
{
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t j = 0; j < n; j++)
        dz[j] = dy[j] * nn_tanh_grad(y[j]);
}

void dgpg_bias_grad(dgpg_backend *be, int64_t B, int64_t K, int64_t d, const float *dz,
                    float *bias_grad)
{
    /* each thread owns whole networks, and sums over samples in order */
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t k = 0; k < K; k++)
        for (int64_t b = 0; b < B; b++) {
            const float *row = dz + (b * K + k) * d;
            float *g = bias_grad + k * d;
            for (int64_t j = 0; j < d; j++)
                g[j] += row[j];
        }
}
