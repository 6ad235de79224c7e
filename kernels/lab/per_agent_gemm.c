/* per_agent_gemm.c — kernel lab: the per-agent GEMMs of one MLP layer on the
 * CPU, K independent products C_k = W_k X_k (W_k d_out x d_in, X_k d_in x B
 * with leading dimension K d_in, as src/train/mlp.c lays them out), two ways:
 *   blas:   a loop of single-threaded OpenBLAS SGEMMs over k, split over
 *           OpenMP threads (what src/backends/backend_cpu.c does);
 *   xsmm:   one libxsmm JIT kernel for the shape, called per k, same split.
 * Each variant is checked against a plain triple loop (max difference
 * printed) and timed. Build and run (not part of the library):
 *   gcc -O2 -fopenmp kernels/lab/per_agent_gemm.c -o /tmp/per_agent_gemm \
 *       $(pkg-config --cflags --libs openblas) -lxsmm -ldl -lm
 *   /tmp/per_agent_gemm [threads]
 * docs/training.md, "Per-agent GEMMs on the CPU", holds the result. */
#include <cblas.h>
#include <libxsmm.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void reference(int K, int m, int n, int k, const float *W, const float *X, float *C)
{
    for (int a = 0; a < K; a++)
        for (int col = 0; col < n; col++)
            for (int row = 0; row < m; row++) {
                double s = 0.0;
                for (int j = 0; j < k; j++)
                    s += (double)W[(size_t)a * m * k + (size_t)j * m + row] *
                         X[(size_t)col * K * k + (size_t)a * k + j];
                C[(size_t)col * K * m + (size_t)a * m + row] = (float)s;
            }
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    const int shapes[][3] = {{64, 256, 20}, {64, 256, 64}, {8, 256, 64}, {64, 1024, 64}};
    const int K = 200;
    openblas_set_num_threads(1);
    libxsmm_init();
    printf("K = %d networks, %d threads; GFLOP/s (max |diff| to the reference)\n", K, threads);
    printf("%6s %6s %6s %18s %18s\n", "m", "n(B)", "k", "openblas loop", "libxsmm");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *W = malloc(sizeof(float) * (size_t)K * m * k);
        float *X = malloc(sizeof(float) * (size_t)K * k * n);
        float *C = malloc(sizeof(float) * (size_t)K * m * n);
        float *R = malloc(sizeof(float) * (size_t)K * m * n);
        for (size_t j = 0; j < (size_t)K * m * k; j++)
            W[j] = (float)((j * 2654435761u) % 1000) / 1000.0f - 0.5f;
        for (size_t j = 0; j < (size_t)K * k * n; j++)
            X[j] = (float)((j * 40503u) % 1000) / 1000.0f - 0.5f;
        reference(K, m, n, k, W, X, R);
        int lda = m, ldb = K * k, ldc = K * m;
        float alpha = 1.0f, beta = 0.0f;
        libxsmm_smmfunction kernel =
            libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, NULL, NULL);
        double rate[2] = {0, 0}, diff[2] = {0, 0};
        for (int variant = 0; variant < 2; variant++) {
            if (variant == 1 && !kernel)
                continue;
            int reps = 20;
            double t0 = 0;
            for (int r = -2; r < reps; r++) {
                if (r == 0)
                    t0 = now();
#pragma omp parallel for schedule(static) num_threads(threads)
                for (int a = 0; a < K; a++) {
                    const float *Wa = W + (size_t)a * m * k, *Xa = X + (size_t)a * k;
                    float *Ca = C + (size_t)a * m;
                    if (variant == 0)
                        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, Wa,
                                    lda, Xa, ldb, 0.0f, Ca, ldc);
                    else
                        kernel(Wa, Xa, Ca);
                }
            }
            rate[variant] = 2.0 * K * m * (double)n * k * reps / (now() - t0) * 1e-9;
            for (size_t j = 0; j < (size_t)K * m * n; j++)
                diff[variant] = fmax(diff[variant], fabs((double)C[j] - R[j]));
        }
        printf("%6d %6d %6d %9.1f (%.1e) %9.1f (%.1e)%s\n", m, n, k, rate[0], diff[0], rate[1],
               diff[1], kernel ? "" : " no JIT kernel");
        free(W);
        free(X);
        free(C);
        free(R);
    }
    libxsmm_finalize();
    return 0;
}
