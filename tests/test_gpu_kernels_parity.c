/* test_gpu_kernels_parity.c (ctest label gpu) — each training kernel of
 * kernels/ppo_cuda.cu against the CPU function it wraps (kernels/nn.h,
 * kernels/ppo.h), on random inputs: softmax, the PPO-clip gradient per
 * decision, the clipped value loss, GAE over the (T, E, V) rollout layout,
 * Adam. Host and device compute the same double-precision expressions;
 * exp and log may differ in the last ulp between glibc and CUDA, so
 * results are compared with a relative tolerance of 1e-12 (double) and
 * 1e-6 (float), and the max difference of each is printed. Skipped
 * (exit 77) without a device. */
#include "../kernels/nn.h"
#include "../kernels/ppo.h"
#include "test.h"

#include <cuda_runtime.h>
#include <string.h>

#define SEED 0x9a11ULL
#include "test_uniforms.h"

int ppo_cuda_softmax(int64_t rows, int32_t M, const float *logits, float *probs,
                     cudaStream_t stream);
int ppo_cuda_policy_grad(int64_t rows, int32_t M, const float *logits, const int32_t *actions,
                         const float *log_p_old, const float *advantage, double clip,
                         double entropy_coef, double scale, float *grad_logits, double *loss,
                         double *entropy, double *ratio, int *clipped, cudaStream_t stream);
int ppo_cuda_value_loss(int64_t n, const float *value, const float *value_old,
                        const float *target, double clip, double huber_delta, double scale,
                        float *grad, double *loss, cudaStream_t stream);
int ppo_cuda_gae(int64_t T, int64_t J, int64_t V, const float *reward, const float *value,
                 double value_scale, double value_shift, double gamma, double lambda,
                 float *advantage, float *returns, cudaStream_t stream);
int ppo_cuda_adam(int64_t n, float *param, float *m, float *v, const float *grad, double lr,
                  double eps, int64_t step, cudaStream_t stream);

static void *to_device(const void *host, size_t bytes)
{
    void *d = NULL;
    if (cudaMalloc(&d, bytes) != cudaSuccess ||
        (host && cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess)) {
        fprintf(stderr, "FAIL: device allocation or copy\n");
        exit(1);
    }
    return d;
}

static void from_device(void *host, const void *d, size_t bytes)
{
    cudaDeviceSynchronize();
    cudaMemcpy(host, d, bytes, cudaMemcpyDeviceToHost);
}

static void compare_f(const char *what, const float *a, const float *b, size_t n, double rel)
{
    double worst = 0.0;
    int ok = 1;
    for (size_t k = 0; k < n; k++) {
        double d = fabs((double)a[k] - b[k]);
        worst = fmax(worst, d);
        ok &= d <= rel * fmax(1.0, fabs((double)a[k]));
    }
    printf("%-40s max |cpu - gpu| %.3e\n", what, worst);
    CHECK(ok);
}

static void compare_d(const char *what, const double *a, const double *b, size_t n, double rel)
{
    double worst = 0.0;
    int ok = 1;
    for (size_t k = 0; k < n; k++) {
        double d = fabs(a[k] - b[k]);
        worst = fmax(worst, d);
        ok &= d <= rel * fmax(1.0, fabs(a[k]));
    }
    printf("%-40s max |cpu - gpu| %.3e\n", what, worst);
    CHECK(ok);
}

int main(void)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("SKIP test_gpu_kernels_parity: no CUDA device visible\n");
        return 77;
    }
    uniforms g = {1, 0};
    /* decisions */
    enum { R = 500, M = 7 };
    static float logits[R * M], probs_c[R * M], probs_g[R * M], logp_old[R], adv[R];
    static float grad_c[R * M], grad_g[R * M];
    static int32_t act[R];
    static double loss_c[R], ent_c[R], ratio_c[R], loss_g[R], ent_g[R], ratio_g[R];
    static int clip_c[R], clip_g[R];
    for (int r = 0; r < R; r++) {
        for (int m = 0; m < M; m++)
            logits[r * M + m] = (float)(6.0 * uni(&g) - 3.0);
        act[r] = (int32_t)(uni(&g) * M);
        double lp = nn_log_prob_entropy(logits + r * M, M, act[r], NULL);
        logp_old[r] = (float)(lp + 0.6 * (uni(&g) - 0.5));
        adv[r] = (float)(4.0 * uni(&g) - 2.0);
        nn_softmax(logits + r * M, M, probs_c + r * M);
        loss_c[r] = nn_ppo_policy_grad(logits + r * M, M, act[r], logp_old[r], adv[r], 0.2, 0.01,
                                       1.0 / R, grad_c + r * M, &ent_c[r], &ratio_c[r],
                                       &clip_c[r]);
    }
    float *d_logits = to_device(logits, sizeof logits), *d_probs = to_device(NULL, sizeof probs_g);
    float *d_logp = to_device(logp_old, sizeof logp_old), *d_adv = to_device(adv, sizeof adv);
    int32_t *d_act = to_device(act, sizeof act);
    float *d_grad = to_device(NULL, sizeof grad_g);
    double *d_loss = to_device(NULL, sizeof loss_g), *d_ent = to_device(NULL, sizeof ent_g);
    double *d_ratio = to_device(NULL, sizeof ratio_g);
    int *d_clip = to_device(NULL, sizeof clip_g);
    CHECK_INT_EQ(ppo_cuda_softmax(R, M, d_logits, d_probs, 0), 0);
    CHECK_INT_EQ(ppo_cuda_policy_grad(R, M, d_logits, d_act, d_logp, d_adv, 0.2, 0.01, 1.0 / R,
                                      d_grad, d_loss, d_ent, d_ratio, d_clip, 0), 0);
    from_device(probs_g, d_probs, sizeof probs_g);
    from_device(grad_g, d_grad, sizeof grad_g);
    from_device(loss_g, d_loss, sizeof loss_g);
    from_device(ent_g, d_ent, sizeof ent_g);
    from_device(ratio_g, d_ratio, sizeof ratio_g);
    from_device(clip_g, d_clip, sizeof clip_g);
    compare_f("softmax", probs_c, probs_g, R * M, 1e-6);
    compare_f("PPO-clip gradient at the logits", grad_c, grad_g, R * M, 1e-6);
    compare_d("PPO-clip loss", loss_c, loss_g, R, 1e-12);
    compare_d("entropy", ent_c, ent_g, R, 1e-12);
    compare_d("probability ratio", ratio_c, ratio_g, R, 1e-12);
    CHECK(memcmp(clip_c, clip_g, sizeof clip_c) == 0);

    /* value loss */
    enum { S = 400 };
    static float v[S], v_old[S], target[S], vg_c[S], vg_g[S];
    static double vl_c[S], vl_g[S];
    for (int k = 0; k < S; k++) {
        v[k] = (float)(4.0 * uni(&g) - 2.0);
        v_old[k] = (float)(v[k] + 0.8 * (uni(&g) - 0.5));
        target[k] = (float)(30.0 * uni(&g) - 15.0);
        double gr;
        vl_c[k] = ppo_value_loss(v[k], v_old[k], target[k], 0.2, 10.0, &gr);
        vg_c[k] = (float)(gr / S);
    }
    float *d_v = to_device(v, sizeof v), *d_vo = to_device(v_old, sizeof v_old);
    float *d_t = to_device(target, sizeof target), *d_vg = to_device(NULL, sizeof vg_g);
    double *d_vl = to_device(NULL, sizeof vl_g);
    CHECK_INT_EQ(ppo_cuda_value_loss(S, d_v, d_vo, d_t, 0.2, 10.0, 1.0 / S, d_vg, d_vl, 0), 0);
    from_device(vg_g, d_vg, sizeof vg_g);
    from_device(vl_g, d_vl, sizeof vl_g);
    compare_f("value-loss gradient", vg_c, vg_g, S, 1e-6);
    compare_d("value loss", vl_c, vl_g, S, 1e-12);

    /* GAE over (T, E, V) */
    enum { T = 30, E = 6, V = 3, J = E * V };
    static float rew[T * E], val[(T + 1) * J], adv_c[T * J], ret_c[T * J], adv_g[T * J], ret_g[T * J];
    for (int k = 0; k < T * E; k++)
        rew[k] = (float)(2.0 * uni(&g) - 1.0);
    for (int k = 0; k < (T + 1) * J; k++)
        val[k] = (float)(2.0 * uni(&g) - 1.0);
    const double scale = 1.7, shift = -0.4;
    for (int j = 0; j < J; j++)
        ppo_gae_affine(T, J, rew + j / V, E, val + j, scale, shift,
                       (double)val[T * J + j] * scale + shift, 0.99, 0.95, adv_c + j, ret_c + j);
    float *d_rew = to_device(rew, sizeof rew), *d_val = to_device(val, sizeof val);
    float *d_adv2 = to_device(NULL, sizeof adv_g), *d_ret = to_device(NULL, sizeof ret_g);
    CHECK_INT_EQ(ppo_cuda_gae(T, J, V, d_rew, d_val, scale, shift, 0.99, 0.95, d_adv2, d_ret, 0), 0);
    from_device(adv_g, d_adv2, sizeof adv_g);
    from_device(ret_g, d_ret, sizeof ret_g);
    compare_f("GAE advantages", adv_c, adv_g, T * J, 1e-6);
    compare_f("GAE returns", ret_c, ret_g, T * J, 1e-6);

    /* Adam, 5 steps */
    enum { P = 300 };
    static float p_c[P], m_c[P], v_c[P], grads[P], p_g[P];
    for (int k = 0; k < P; k++)
        p_c[k] = (float)(uni(&g) - 0.5);
    float *d_p = to_device(p_c, sizeof p_c), *d_m = to_device(m_c, sizeof m_c);
    float *d_vv = to_device(v_c, sizeof v_c), *d_gr = to_device(NULL, sizeof grads);
    for (int step = 1; step <= 5; step++) {
        for (int k = 0; k < P; k++) {
            grads[k] = (float)(uni(&g) - 0.5);
            ppo_adam(&p_c[k], &m_c[k], &v_c[k], grads[k], 5e-4, 0.9, 0.999, 1e-5, step);
        }
        cudaMemcpy(d_gr, grads, sizeof grads, cudaMemcpyHostToDevice);
        CHECK_INT_EQ(ppo_cuda_adam(P, d_p, d_m, d_vv, d_gr, 5e-4, 1e-5, step, 0), 0);
    }
    from_device(p_g, d_p, sizeof p_g);
    compare_f("Adam parameters after 5 steps", p_c, p_g, P, 1e-6);
    return test_finish("gpu_kernels_parity");
}
