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

#include "../../kernels/nn.h"
#include "../../kernels/ppo.h"
#include "../../kernels/train_math.h"

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

static int cpu_thread(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* One small product C = alpha op(A) op(B) + beta C, planned once for a
 * batch of them: a libxsmm JIT kernel where libxsmm has one and the output
 * is at least 16 rows tall (alpha = 1, beta 0 or 1: every call the
 * networks make), else single-threaded OpenBLAS. libxsmm 1.17 has no
 * kernel for a transposed A (the backward pass's W^T dz): there A (k x m,
 * a few KB) is transposed into a buffer by libxsmm_otrans (vectorised; a
 * scalar loop there took ~4% of a training run) and the plain kernel runs,
 * instead of OpenBLAS's packing path, which cost more than the product
 * itself at these sizes. */
typedef struct cpu_gemm {
    libxsmm_smmfunction kernel;
    int transpose_a; /* kernel expects A^T, m x k with leading dimension m */
    int transa, transb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
} cpu_gemm;

static cpu_gemm cpu_gemm_plan(int transa, int transb, int m, int n, int k, float alpha, int lda,
                              int ldb, int ldc, float beta)
{
    cpu_gemm g = {NULL, 0, transa, transb, m, n, k, lda, ldb, ldc, alpha, beta};
    if (m < 16 || alpha != 1.0f || (beta != 0.0f && beta != 1.0f))
        return g;
    int flags = (transa == DGPG_TRANS ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                (transb == DGPG_TRANS ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    libxsmm_blasint xlda = lda, xldb = ldb, xldc = ldc;
    g.kernel = libxsmm_smmdispatch(m, n, k, &xlda, &xldb, &xldc, &alpha, &beta, &flags, NULL);
    if (!g.kernel && transa == DGPG_TRANS && (int64_t)m * k <= (1 << 16)) {
        int plain = flags & ~LIBXSMM_GEMM_FLAG_TRANS_A;
        libxsmm_blasint xm = m;
        g.kernel = libxsmm_smmdispatch(m, n, k, &xm, &xldb, &xldc, &alpha, &beta, &plain, NULL);
        g.transpose_a = g.kernel != NULL;
    }
    return g;
}

/* Runs a planned product on the calling thread; buffer: m k floats where
 * the plan transposes A. */
static void cpu_gemm_run(const cpu_gemm *g, const float *A, const float *B, float *C,
                         float *buffer)
{
    if (g->transpose_a) {
        /* A is k x m (lda); buffer = A^T, m x k, column-major */
        libxsmm_otrans(buffer, A, sizeof(float), g->k, g->m, g->lda, g->m);
        g->kernel(buffer, B, C);
    } else if (g->kernel) {
        g->kernel(A, B, C);
    } else {
        cblas_sgemm(CblasColMajor, backend_trans(g->transa), backend_trans(g->transb), g->m,
                    g->n, g->k, g->alpha, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
    }
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
    cpu_gemm plan = cpu_gemm_plan(transa, transb, m, n, k, alpha, lda, ldb, ldc, beta);
    float *transposed = NULL; /* (threads, m k): each thread's copy of op(A_b) */
    if (plan.transpose_a &&
        !(transposed = malloc(sizeof(float) * (size_t)threads * (size_t)m * (size_t)k)))
        plan.kernel = NULL, plan.transpose_a = 0;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int b = 0; b < batch; b++)
        cpu_gemm_run(&plan, A + b * strideA, B + b * strideB, C + b * strideC,
                     transposed ? transposed + cpu_thread() * (int64_t)m * k : NULL);
    free(transposed);
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
        dgpg__cpu_bias_grad_rows(B, K * d, d, dz + k * d, bias_grad + k * d);
    return 0;
}

/* The fused passes (backend.h): each thread runs every layer of its
 * networks in turn with the products planned once per layer; the
 * element-wise steps are those of dgpg__cpu_bias_act, _tanh_backward and
 * _bias_grad restricted to one network's rows (activation_cpu.c, cloned
 * per instruction set). */
static float *cpu_layer(float *base, const dgpg_mlp_shape *s, int64_t B, int l)
{
    return base + B * s->K * s->hidden * l;
}

int dgpg__cpu_mlp_forward(int threads, const dgpg_mlp_shape *s, const float *params, int64_t B,
                          const float *x, float *acts)
{
    const int64_t K = s->K;
    cpu_gemm plan[DGPG_NET_MAX_LAYERS];
    for (int l = 0; l < s->linear; l++)
        plan[l] = cpu_gemm_plan(DGPG_NOTRANS, DGPG_NOTRANS, s->d_out[l], (int)B, s->d_in[l], 1.0f,
                                s->d_out[l], (int)(K * s->d_in[l]), (int)(K * s->d_out[l]),
                                0.0f);
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t k = 0; k < K; k++) {
        const float *in = x + k * s->d_in[0];
        for (int l = 0; l < s->linear; l++) {
            const int64_t di = s->d_in[l], dout = s->d_out[l];
            float *y = cpu_layer(acts, s, B, l) + k * dout;
            cpu_gemm_run(&plan[l], params + s->weight_offset[l] + k * dout * di, in, y, NULL);
            dgpg__cpu_bias_act_rows(B, K * dout, dout, params + s->bias_offset[l] + k * dout,
                                    l + 1 < s->linear, y);
            in = y;
        }
    }
    return 0;
}

int dgpg__cpu_mlp_backward(int threads, const dgpg_mlp_shape *s, const float *params,
                           float *grads, int64_t B, const float *x, const float *acts,
                           const float *d_out, float *scratch)
{
    const int64_t K = s->K;
    cpu_gemm weight[DGPG_NET_MAX_LAYERS], input[DGPG_NET_MAX_LAYERS];
    int64_t buffer = 0; /* floats per thread for a transposed W */
    for (int l = 0; l < s->linear; l++) {
        const int di = s->d_in[l], dout = s->d_out[l];
        /* dW_k += dz_k input_k^T: (dout x B)(B x di) */
        weight[l] = cpu_gemm_plan(DGPG_NOTRANS, DGPG_TRANS, dout, di, (int)B, 1.0f,
                                  (int)(K * dout), (int)(K * di), dout, 1.0f);
        /* d input_k = W_k^T dz_k: (di x dout)(dout x B) */
        input[l] = cpu_gemm_plan(DGPG_TRANS, DGPG_NOTRANS, di, (int)B, dout, 1.0f, dout,
                                 (int)(K * dout), (int)(K * di), 0.0f);
        if (input[l].transpose_a && (int64_t)di * dout > buffer)
            buffer = (int64_t)di * dout;
    }
    float *transposed = buffer ? malloc(sizeof(float) * (size_t)(threads * buffer)) : NULL;
    if (buffer && !transposed)
        return -1;
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t k = 0; k < K; k++) {
        float *own = transposed ? transposed + cpu_thread() * buffer : NULL;
        const int last = s->linear - 1;
        const float *dz = d_out + k * s->d_out[last];
        for (int l = last; l >= 0; l--) {
            const int64_t di = s->d_in[l], dout = s->d_out[l];
            const float *in = l == 0 ? x + k * di : cpu_layer((float *)acts, s, B, l - 1) + k * di;
            cpu_gemm_run(&weight[l], dz, in, grads + s->weight_offset[l] + k * dout * di, NULL);
            /* the bias gradient: summed over samples in order */
            dgpg__cpu_bias_grad_rows(B, K * dout, dout, dz,
                                     grads + s->bias_offset[l] + k * dout);
            if (l == 0)
                break;
            float *d_in = cpu_layer(scratch, s, B, l - 1) + k * di;
            cpu_gemm_run(&input[l], params + s->weight_offset[l] + k * dout * di, dz, d_in, own);
            /* back through tanh, the activation being the layer's input */
            dgpg__cpu_tanh_backward_rows(B, K * di, di, in, d_in);
            dz = d_in;
        }
    }
    free(transposed);
    return 0;
}

/* Network k's sum of squares over its slices of x, layer by layer. */
static double cpu_net_sq_norm(const dgpg_net_layout *layout, const float *x, int64_t k)
{
    double sum = 0.0;
    for (int l = 0; l < layout->layers; l++) {
        const float *w = x + layout->weight_offset[l] + k * layout->weight_size[l];
        const float *b = x + layout->bias_offset[l] + k * layout->bias_size[l];
        for (int64_t j = 0; j < layout->weight_size[l]; j++)
            sum += (double)w[j] * w[j];
        for (int64_t j = 0; j < layout->bias_size[l]; j++)
            sum += (double)b[j] * b[j];
    }
    return sum;
}

/* Network k's slices of x times scale. */
static void cpu_net_scale_one(const dgpg_net_layout *layout, float *x, int64_t k, double scale)
{
    for (int l = 0; l < layout->layers; l++) {
        float *w = x + layout->weight_offset[l] + k * layout->weight_size[l];
        float *b = x + layout->bias_offset[l] + k * layout->bias_size[l];
        for (int64_t j = 0; j < layout->weight_size[l]; j++)
            w[j] = (float)(w[j] * scale);
        for (int64_t j = 0; j < layout->bias_size[l]; j++)
            b[j] = (float)(b[j] * scale);
    }
}

int dgpg__cpu_net_sq_norms(const dgpg_net_layout *layout, const float *x, double *out)
{
    for (int64_t k = 0; k < layout->K; k++)
        out[k] = cpu_net_sq_norm(layout, x, k);
    return 0;
}

int dgpg__cpu_net_scale(const dgpg_net_layout *layout, float *x, const double *scale)
{
    for (int64_t k = 0; k < layout->K; k++)
        cpu_net_scale_one(layout, x, k, scale[k]);
    return 0;
}

int dgpg__cpu_net_clip(dgpg_backend *be, const dgpg_net_layout *layout, float *x, double max_norm,
                       double *norm_sum)
{
    (void)be;
    double total = 0.0;
    for (int64_t k = 0; k < layout->K; k++) {
        const double sq = cpu_net_sq_norm(layout, x, k);
        total += sqrt(sq);
        cpu_net_scale_one(layout, x, k, train_clip_scale(sq, max_norm));
    }
    *norm_sum += total / (double)layout->K;
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
