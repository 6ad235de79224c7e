/* test_gpu_mlp_parity.c (ctest label gpu) — the K per-agent networks of
 * src/train/mlp.c with their parameters, gradients and Adam state in device
 * memory against the same networks on the CPU backend: forward outputs,
 * backward gradients, per-network gradient norms, clipping scales and two
 * Adam steps, from the same orthogonal initialisation and the same inputs.
 * cuBLAS and the CPU's GEMMs round differently, so the comparison is
 * relative, 1e-5 of each tensor's size (max differences printed). Skipped
 * (exit 77) without a device. */
#include "mlp.h"
#include "test.h"
#include "test_gpu.h"

#include <cuda_runtime.h>
#include <string.h>

#define SEED 0xaa11ULL
#include "test_uniforms.h"

static void check_close(const char *what, const float *cpu, const float *gpu, int64_t n)
{
    double worst = 0.0, scale = 0.0;
    for (int64_t k = 0; k < n; k++) {
        worst = fmax(worst, fabs((double)cpu[k] - gpu[k]));
        scale = fmax(scale, fabs((double)cpu[k]));
    }
    printf("%-36s max |cpu - gpu| %.3e (scale %.3e)\n", what, worst, scale);
    CHECK_LE(worst, 1e-5 * (scale > 1.0 ? scale : 1.0));
}

int main(void)
{
    const int unavailable = test_gpu_unavailable("test_gpu_mlp_parity");
    if (unavailable)
        return unavailable;
    char err[256];
    dgpg_backend *cpu = dgpg_backend_cpu(1), *gpu = dgpg_backend_cuda(0, 0, err, sizeof err);
    if (!gpu) {
        fprintf(stderr, "FAIL: %s\n", err);
        return 1;
    }
    const int64_t K = 6, B = 33;
    const int32_t in = 9, hidden = 20, layers = 2, out = 5;
    mlp nc, ng;
    CHECK_INT_EQ(mlp_init(&nc, cpu, K, in, hidden, layers, out), 0);
    CHECK_INT_EQ(mlp_init(&ng, gpu, K, in, hidden, layers, out), 0);
    CHECK_INT_EQ(mlp_init_orthogonal(&nc, 7, 5.0 / 3.0, 0.5), 0);
    CHECK_INT_EQ(mlp_init_orthogonal(&ng, 7, 5.0 / 3.0, 0.5), 0);
    const int64_t P = nc.n_params, nx = B * K * in, ny = B * K * out;
    const int64_t na = mlp_activation_size(&nc, B);
    uniforms g = {3, 0};
    float *x = malloc(sizeof(float) * nx), *dy = malloc(sizeof(float) * ny);
    float *acts = malloc(sizeof(float) * na), *scratch = malloc(sizeof(float) * na);
    float *host = malloc(sizeof(float) * (na > P ? na : P)), *dy_c = malloc(sizeof(float) * ny);
    for (int64_t k = 0; k < nx; k++)
        x[k] = (float)(2.0 * uni(&g) - 1.0);
    for (int64_t k = 0; k < ny; k++)
        dy[k] = (float)(2.0 * uni(&g) - 1.0);
    float *d_x = dgpg_backend_alloc(gpu, sizeof(float) * nx);
    float *d_dy = dgpg_backend_alloc(gpu, sizeof(float) * ny);
    float *d_acts = dgpg_backend_alloc(gpu, sizeof(float) * na);
    float *d_scratch = dgpg_backend_alloc(gpu, sizeof(float) * na);
    CHECK(d_x && d_dy && d_acts && d_scratch);
    dgpg_backend_upload(gpu, d_x, x, sizeof(float) * nx);
    for (int step = 1; step <= 2; step++) {
        float *out_c = mlp_forward(&nc, cpu, B, x, acts);
        float *out_g = mlp_forward(&ng, gpu, B, d_x, d_acts);
        CHECK(out_c && out_g);
        dgpg_backend_download(gpu, host, out_g, sizeof(float) * ny);
        check_close("forward output (B, K, out)", out_c, host, ny);
        memcpy(dy_c, dy, sizeof(float) * ny);
        dgpg_backend_upload(gpu, d_dy, dy, sizeof(float) * ny);
        memset(nc.grads, 0, sizeof(float) * P);
        float *zeros = calloc((size_t)P, sizeof(float));
        dgpg_backend_upload(gpu, ng.grads, zeros, sizeof(float) * P);
        free(zeros);
        CHECK_INT_EQ(mlp_backward(&nc, cpu, B, x, acts, dy_c, scratch), 0);
        CHECK_INT_EQ(mlp_backward(&ng, gpu, B, d_x, d_acts, d_dy, d_scratch), 0);
        dgpg_backend_download(gpu, host, ng.grads, sizeof(float) * P);
        check_close("backward gradients (flat)", nc.grads, host, P);
        double norms_c[6], norms_g[6], scale[6];
        CHECK_INT_EQ(mlp_grad_sq_norms(&nc, norms_c), 0);
        CHECK_INT_EQ(mlp_grad_sq_norms(&ng, norms_g), 0);
        for (int k = 0; k < K; k++) {
            CHECK_NEAR(norms_g[k], norms_c[k], 1e-5 * norms_c[k]);
            scale[k] = 1.0 / (1.0 + k); /* a clipping scale per network */
        }
        CHECK_INT_EQ(mlp_grad_scale(&nc, scale), 0);
        CHECK_INT_EQ(mlp_grad_scale(&ng, scale), 0);
        CHECK_INT_EQ(mlp_adam_step(&nc, 1e-3, 1e-5), 0);
        CHECK_INT_EQ(mlp_adam_step(&ng, 1e-3, 1e-5), 0);
        dgpg_backend_download(gpu, host, ng.params, sizeof(float) * P);
        check_close("parameters after Adam", nc.params, host, P);
    }
    mlp_free(&nc);
    mlp_free(&ng);
    dgpg_backend_release(gpu, d_x);
    dgpg_backend_release(gpu, d_dy);
    dgpg_backend_release(gpu, d_acts);
    dgpg_backend_release(gpu, d_scratch);
    dgpg_backend_free(cpu);
    dgpg_backend_free(gpu);
    free(x);
    free(dy);
    free(acts);
    free(scratch);
    free(host);
    free(dy_c);
    return test_finish("gpu_mlp_parity");
}
