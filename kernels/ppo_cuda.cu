/* ppo_cuda.cu — thin CUDA kernels over the training math of kernels/nn.h
 * and kernels/ppo.h, the functions the CPU trainer loops over: softmax per
 * decision, the PPO-clip gradient per decision, the clipped value loss per
 * sample, GAE per trajectory, Adam per parameter. Launchers take an
 * explicit stream, size the grid with DGPG_CEIL_DIV and check the launch.
 *
 * Status: compiled (warnings as errors); not yet run on a GPU (docs/gpu.md).
 * tests/test_gpu_kernels_parity.c compares each with its CPU function and
 * skips itself where no device is present. The GPU trainer that will
 * launch them is not built yet. */
#include "cuda_check.h"
#include "nn.h"
#include "ppo.h"

/* probs (R, M) = softmax(logits (R, M)). */
__global__ void ppo_softmax_kernel(int64_t rows, int32_t M, const float *logits, float *probs)
{
    int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows)
        nn_softmax(logits + r * M, M, probs + r * M);
}

/* Per decision r: the PPO-clip loss gradient at its logits (R, M), and its
 * loss, entropy, ratio and clip flag (R each). */
__global__ void ppo_policy_grad_kernel(int64_t rows, int32_t M, const float *logits,
                                       const int32_t *actions, const float *log_p_old,
                                       const float *advantage, double clip, double entropy_coef,
                                       double scale, float *grad_logits, double *loss,
                                       double *entropy, double *ratio, int *clipped)
{
    int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    loss[r] = nn_ppo_policy_grad(logits + r * M, M, actions[r], (double)log_p_old[r],
                                 (double)advantage[r], clip, entropy_coef, scale,
                                 grad_logits + r * M, &entropy[r], &ratio[r], &clipped[r]);
}

/* Per sample: clipped value loss and its gradient times `scale`. */
__global__ void ppo_value_loss_kernel(int64_t n, const float *value, const float *value_old,
                                      const float *target, double clip, double huber_delta,
                                      double scale, float *grad, double *loss)
{
    int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n)
        return;
    double g;
    loss[k] = ppo_value_loss((double)value[k], (double)value_old[k], (double)target[k], clip,
                             huber_delta, &g);
    grad[k] = (float)(scale * g);
}

/* One thread per trajectory j of J, laid out with stride J between steps
 * (rollout layout (T, E, V) with J = E V; rewards (T, E), reward index j / V). */
__global__ void ppo_gae_kernel(int64_t T, int64_t J, int64_t V, const float *reward,
                               const float *value, double value_scale, double value_shift,
                               double gamma, double lambda, float *advantage, float *returns)
{
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= J)
        return;
    double bootstrap = (double)value[T * J + j] * value_scale + value_shift;
    ppo_gae_affine(T, J, reward + j / V, J / V, value + j, value_scale, value_shift, bootstrap,
                   gamma, lambda, advantage + j, returns + j);
}

__global__ void ppo_adam_kernel(int64_t n, float *param, float *m, float *v, const float *grad,
                                double lr, double eps, int64_t step)
{
    int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n)
        ppo_adam(&param[k], &m[k], &v[k], grad[k], lr, 0.9, 0.999, eps, step);
}

#define PPO_LAUNCH(kernel, count, block, stream, ...)                                      \
    do {                                                                                  \
        if ((count) <= 0)                                                                 \
            return 0; /* no blocks: an error to CUDA, nothing to do to us */              \
        kernel<<<(unsigned)DGPG_CEIL_DIV((count), (block)), (block), 0, (stream)>>>(__VA_ARGS__); \
        CUDA_CHECK(cudaGetLastError());                                                   \
    } while (0)

extern "C" int ppo_cuda_softmax(int64_t rows, int32_t M, const float *logits, float *probs,
                                cudaStream_t stream)
{
    PPO_LAUNCH(ppo_softmax_kernel, rows, 256, stream, rows, M, logits, probs);
    return 0;
}

extern "C" int ppo_cuda_policy_grad(int64_t rows, int32_t M, const float *logits,
                                    const int32_t *actions, const float *log_p_old,
                                    const float *advantage, double clip, double entropy_coef,
                                    double scale, float *grad_logits, double *loss,
                                    double *entropy, double *ratio, int *clipped,
                                    cudaStream_t stream)
{
    PPO_LAUNCH(ppo_policy_grad_kernel, rows, 128, stream, rows, M, logits, actions, log_p_old,
               advantage, clip, entropy_coef, scale, grad_logits, loss, entropy, ratio, clipped);
    return 0;
}

extern "C" int ppo_cuda_value_loss(int64_t n, const float *value, const float *value_old,
                                   const float *target, double clip, double huber_delta,
                                   double scale, float *grad, double *loss, cudaStream_t stream)
{
    PPO_LAUNCH(ppo_value_loss_kernel, n, 256, stream, n, value, value_old, target, clip,
               huber_delta, scale, grad, loss);
    return 0;
}

extern "C" int ppo_cuda_gae(int64_t T, int64_t J, int64_t V, const float *reward,
                            const float *value, double value_scale, double value_shift,
                            double gamma, double lambda, float *advantage, float *returns,
                            cudaStream_t stream)
{
    PPO_LAUNCH(ppo_gae_kernel, J, 128, stream, T, J, V, reward, value, value_scale, value_shift,
               gamma, lambda, advantage, returns);
    return 0;
}

extern "C" int ppo_cuda_adam(int64_t n, float *param, float *m, float *v, const float *grad,
                             double lr, double eps, int64_t step, cudaStream_t stream)
{
    PPO_LAUNCH(ppo_adam_kernel, n, 256, stream, n, param, m, v, grad, lr, eps, step);
    return 0;
}
