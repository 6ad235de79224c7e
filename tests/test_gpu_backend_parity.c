/* test_gpu_backend_parity.c (ctest label gpu) — every op of the CUDA
 * backend against the CPU backend, its executable reference, on the
 * shapes the networks use (per-agent strided batches and one shared
 * product, all four transpose combinations, beta 0 and 1): cuBLAS's
 * strided-batched SGEMM in FP32 within 1e-5 relative of the CPU's, the
 * element-wise ops within 1e-6 (bias gradients add in the same order on
 * both; tanh is each platform's own tanhf); one shared product in TF32
 * within 1e-2. The max difference of each
 * comparison is printed, llm.c style. Skipped (exit 77) without a device. */
#include "backend.h"
#include "test.h"
#include "test_gpu.h"

#include <cuda_runtime.h>
#include <string.h>

#define SEED 0x5eedULL
#include "test_uniforms.h"

static float *device_copy(const float *host, size_t n)
{
    float *d = NULL;
    if (cudaMalloc((void **)&d, sizeof(float) * n) != cudaSuccess ||
        cudaMemcpy(d, host, sizeof(float) * n, cudaMemcpyHostToDevice) != cudaSuccess) {
        fprintf(stderr, "FAIL: device allocation or copy\n");
        exit(1);
    }
    return d;
}

static double compare(const char *what, const float *cpu, const float *d_gpu, size_t n,
                      double tol_rel)
{
    float *gpu = malloc(sizeof(float) * n);
    cudaMemcpy(gpu, d_gpu, sizeof(float) * n, cudaMemcpyDeviceToHost);
    double worst = 0.0, scale = 0.0;
    for (size_t k = 0; k < n; k++) {
        worst = fmax(worst, fabs((double)cpu[k] - gpu[k]));
        scale = fmax(scale, fabs((double)cpu[k]));
    }
    printf("%-48s max |cpu - gpu| %.3e (scale %.3e)\n", what, worst, scale);
    CHECK_LE(worst, tol_rel * (scale > 1.0 ? scale : 1.0));
    free(gpu);
    return worst;
}

static void fill(uniforms *g, float *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        x[k] = (float)(2.0 * uni(g) - 1.0);
}

int main(void)
{
    char err[256];
    const int unavailable = test_gpu_unavailable("test_gpu_backend_parity");
    if (unavailable)
        return unavailable;
    /* a device is there: a backend that cannot be made is a failure */
    dgpg_backend *gpu = dgpg_backend_cuda(0, 0, err, sizeof err);
    dgpg_backend *gpu_tf32 = dgpg_backend_cuda(0, 1, err, sizeof err);
    if (!gpu || !gpu_tf32) {
        fprintf(stderr, "FAIL: %s\n", err);
        return 1;
    }
    dgpg_backend *cpu = dgpg_backend_cpu(1);
    uniforms g = {1, 0};
    /* per-agent layer: K networks, W (m x k), X (k x B) with ld K k */
    const int K = 9, m = 24, k = 13, B = 17;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta_one = 0; beta_one < 2; beta_one++) {
                int rows_a = ta ? k : m, cols_a = ta ? m : k;
                int rows_b = tb ? B : k, cols_b = tb ? k : B;
                int lda = rows_a, ldb = rows_b * K, ldc = m * K;
                size_t na = (size_t)K * rows_a * cols_a, nb = (size_t)ldb * cols_b;
                size_t nc = (size_t)ldc * B;
                float *A = malloc(sizeof(float) * na), *Bm = malloc(sizeof(float) * nb);
                float *C = malloc(sizeof(float) * nc);
                fill(&g, A, na);
                fill(&g, Bm, nb);
                fill(&g, C, nc);
                float *dA = device_copy(A, na), *dB = device_copy(Bm, nb), *dC = device_copy(C, nc);
                float beta = beta_one ? 1.0f : 0.0f;
                CHECK_INT_EQ(dgpg_gemm_strided_batched(cpu, ta, tb, m, B, k, 1.0f, A, lda,
                                                       (int64_t)rows_a * cols_a, Bm, ldb, rows_b,
                                                       beta, C, ldc, m, K), 0);
                CHECK_INT_EQ(dgpg_gemm_strided_batched(gpu, ta, tb, m, B, k, 1.0f, dA, lda,
                                                       (int64_t)rows_a * cols_a, dB, ldb, rows_b,
                                                       beta, dC, ldc, m, K), 0);
                CHECK_INT_EQ(dgpg_backend_sync(gpu), 0);
                char what[96];
                snprintf(what, sizeof what, "strided-batched SGEMM op(%c, %c) beta %d",
                         ta ? 'T' : 'N', tb ? 'T' : 'N', beta_one);
                compare(what, C, dC, nc, 1e-5);
                cudaFree(dA);
                cudaFree(dB);
                cudaFree(dC);
                free(A);
                free(Bm);
                free(C);
            }
    /* one shared product (batch 1, as mlp.c's shared parameters and the
     * MAPPO critic), in FP32 and in TF32 (10-bit mantissa inputs: 1e-2) */
    {
        const int sm = 40, sn = 300, sk = 64;
        size_t na = (size_t)sm * sk, nb = (size_t)sk * sn, nc = (size_t)sm * sn;
        float *A = malloc(sizeof(float) * na), *Bm = malloc(sizeof(float) * nb);
        float *C = malloc(sizeof(float) * nc);
        fill(&g, A, na);
        fill(&g, Bm, nb);
        for (int tf32 = 0; tf32 < 2; tf32++) {
            dgpg_backend *be = tf32 ? gpu_tf32 : gpu;
            float *dA = device_copy(A, na), *dB = device_copy(Bm, nb), *dC = device_copy(C, nc);
            CHECK_INT_EQ(dgpg_gemm_strided_batched(cpu, 0, 0, sm, sn, sk, 1.0f, A, sm, 0, Bm, sk,
                                                   0, 0.0f, C, sm, 0, 1), 0);
            CHECK_INT_EQ(dgpg_gemm_strided_batched(be, 0, 0, sm, sn, sk, 1.0f, dA, sm, 0, dB, sk,
                                                   0, 0.0f, dC, sm, 0, 1), 0);
            CHECK_INT_EQ(dgpg_backend_sync(be), 0);
            compare(tf32 ? "one shared SGEMM, TF32" : "one shared SGEMM, FP32", C, dC, nc,
                    tf32 ? 1e-2 : 1e-5);
            cudaFree(dA);
            cudaFree(dB);
            cudaFree(dC);
        }
        free(A);
        free(Bm);
        free(C);
    }
    /* element-wise ops over (B, K, d) */
    const int d = 11;
    size_t n = (size_t)B * K * d;
    float *y = malloc(sizeof(float) * n), *dy = malloc(sizeof(float) * n);
    float *bias = malloc(sizeof(float) * (size_t)K * d), *bg = malloc(sizeof(float) * (size_t)K * d);
    fill(&g, y, n);
    fill(&g, dy, n);
    fill(&g, bias, (size_t)K * d);
    fill(&g, bg, (size_t)K * d);
    float *d_y = device_copy(y, n), *d_dy = device_copy(dy, n);
    float *d_bias = device_copy(bias, (size_t)K * d), *d_bg = device_copy(bg, (size_t)K * d);
    CHECK_INT_EQ(dgpg_bias_act(cpu, B, K, d, bias, 1, y), 0);
    CHECK_INT_EQ(dgpg_bias_act(gpu, B, K, d, d_bias, 1, d_y), 0);
    dgpg_backend_sync(gpu);
    compare("bias + tanh", y, d_y, n, 1e-6);
    CHECK_INT_EQ(dgpg_tanh_backward(cpu, (int64_t)n, y, dy, dy), 0);
    CHECK_INT_EQ(dgpg_tanh_backward(gpu, (int64_t)n, d_y, d_dy, d_dy), 0);
    dgpg_backend_sync(gpu);
    compare("back through tanh", dy, d_dy, n, 1e-6);
    CHECK_INT_EQ(dgpg_bias_grad(cpu, B, K, d, dy, bg), 0);
    CHECK_INT_EQ(dgpg_bias_grad(gpu, B, K, d, d_dy, d_bg), 0);
    dgpg_backend_sync(gpu);
    compare("bias gradient (accumulated)", bg, d_bg, (size_t)K * d, 1e-6);
    /* the bias gradient over many rows of few columns (shared parameters:
     * K = 1, E N rows), where the device sums each column in parallel in
     * double: both backends against a double sum, the device within 1e-6
     * of the column's absolute sum, the CPU's sequential float sum within
     * its own rounding, rows x 2^-24 of it */
    {
        const int64_t rows = 20000, cols = 64;
        const size_t nr = (size_t)(rows * cols);
        float *dz = malloc(sizeof(float) * nr), *g_c = calloc((size_t)cols, sizeof(float));
        float *g_back = malloc(sizeof(float) * (size_t)cols);
        fill(&g, dz, nr);
        float *d_dz = device_copy(dz, nr), *d_g = device_copy(g_c, (size_t)cols);
        CHECK_INT_EQ(dgpg_bias_grad(cpu, rows, 1, (int)cols, dz, g_c), 0);
        CHECK_INT_EQ(dgpg_bias_grad(gpu, rows, 1, (int)cols, d_dz, d_g), 0);
        dgpg_backend_sync(gpu);
        cudaMemcpy(g_back, d_g, sizeof(float) * (size_t)cols, cudaMemcpyDeviceToHost);
        for (int64_t c = 0; c < cols; c++) {
            double exact = 0.0, magnitude = 0.0;
            for (int64_t r = 0; r < rows; r++) {
                exact += dz[r * cols + c];
                magnitude += fabs(dz[r * cols + c]);
            }
            CHECK_QUIET(fabs(g_back[c] - exact) <= 1e-6 * magnitude,
                        "bias gradient over %lld rows, column %lld: gpu %.9g, exact %.9g",
                        (long long)rows, (long long)c, g_back[c], exact);
            CHECK_QUIET(fabs(g_c[c] - exact) <= (double)rows * 0x1.0p-24 * magnitude,
                        "bias gradient over %lld rows, column %lld: cpu %.9g, exact %.9g",
                        (long long)rows, (long long)c, g_c[c], exact);
        }
        cudaFree(d_dz);
        cudaFree(d_g);
        free(dz);
        free(g_c);
        free(g_back);
    }
    printf("device SGEMM rate: %.1f GFLOP/s\n", dgpg_backend_sgemm_peak(gpu));
    cudaFree(d_y);
    cudaFree(d_dy);
    cudaFree(d_bias);
    cudaFree(d_bg);
    free(y);
    free(dy);
    free(bias);
    free(bg);
    dgpg_backend_free(cpu);
    dgpg_backend_free(gpu);
    dgpg_backend_free(gpu_tf32);
    return test_finish("gpu_backend_parity");
}
