/* train_cuda.cu — the trainer's batch ops (src/train/train_ops.h) on the CUDA
 * backend: one thread per index over the same kernels/train_math.h and
 * kernels/ppo.h bodies the CPU loops over, and sums through CUB's block
 * reduction in a fixed two-pass order (per-block partials, then one block
 * over the partials in block order), so that a run repeats bitwise on one
 * device. Host arrays (value-normaliser moments, per-column results) are
 * staged in the backend's scratch, which the trainer sizes before its
 * first episode (dgpg_backend_reserve): layout [0, TRAIN_PARTIALS) the
 * reduction partials, then the staging area.
 *
 * Status: compiled (warnings as errors, sm_80 and sm_90); not yet run on a
 * GPU (docs/gpu.md). tests/test_gpu_train_ops_parity.c compares every op
 * with the CPU's, tests/test_gpu_train_parity.py whole training runs; both
 * skip themselves where no device is present. */
#include "cuda_check.h"
#include "train_math.h"

#include "train_ops_cuda.h"

#include <cub/block/block_reduce.cuh>
#include <stdlib.h>
#include <string.h>

#define TRAIN_BLOCK 256
#define TRAIN_PARTIAL_BLOCKS 1024
#define TRAIN_PARTIALS (4 * TRAIN_PARTIAL_BLOCKS)

typedef cub::BlockReduce<double, TRAIN_BLOCK> train_block_reduce;

static cudaStream_t train_stream(struct dgpg__cuda_backend *cb)
{
    return (cudaStream_t)dgpg__cuda_stream(cb);
}

/* The staging area for `doubles` values after the partials; NULL (with a
 * message) if the trainer reserved too little. */
static double *train_staging(struct dgpg__cuda_backend *cb, size_t doubles)
{
    double *scratch = dgpg__cuda_scratch(cb, TRAIN_PARTIALS + doubles);
    return scratch ? scratch + TRAIN_PARTIALS : NULL;
}

/* DGPG_CUDA_SYNC=1 in the environment: wait after every launch, so that a
 * fault inside a kernel is reported at its own launch, not at the next
 * wait (debugging only: it serialises host and device). */
static int train_debug_sync(void)
{
    static int state = -1;
    if (state < 0) {
        const char *v = getenv("DGPG_CUDA_SYNC");
        state = v && strcmp(v, "1") == 0;
    }
    return state;
}

#define TRAIN_LAUNCH(kernel, count, cb, ...)                                               \
    do {                                                                                  \
        if ((count) > 0) { /* no blocks: an error to CUDA, nothing to do to us */         \
            DGPG_LAUNCHED(1);                                                             \
            kernel<<<(unsigned)DGPG_CEIL_DIV((int64_t)(count), TRAIN_BLOCK), TRAIN_BLOCK, 0, \
                     train_stream(cb)>>>(__VA_ARGS__);                                    \
            CUDA_CHECK(cudaGetLastError());                                               \
            if (train_debug_sync())                                                       \
                CUDA_CHECK(cudaStreamSynchronize(train_stream(cb)));                      \
        }                                                                                 \
    } while (0)

#define TRAIN_INDEX() ((int64_t)blockIdx.x * blockDim.x + threadIdx.x)

/* ---- deterministic sums ---------------------------------------------- */

/* partials[c * gridDim.x + block] = sum of x[c * stride + k] over the
 * block's share of k in [0, n), for the `channels` arrays of x. */
__global__ void train_partial_sums_kernel(const double *x, int64_t n, int64_t stride,
                                          int channels, double *partials)
{
    __shared__ typename train_block_reduce::TempStorage temp;
    for (int c = 0; c < channels; c++) {
        double sum = 0.0;
        for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
             k += (int64_t)gridDim.x * blockDim.x)
            sum += x[c * stride + k];
        double total = train_block_reduce(temp).Sum(sum);
        if (threadIdx.x == 0)
            partials[c * gridDim.x + blockIdx.x] = total;
        __syncthreads(); /* temp is reused by the next channel */
    }
}

/* acc[c] += sum of the `blocks` partials of channel c, in one block. */
__global__ void train_finish_sums_kernel(const double *partials, int blocks, int channels,
                                         double *acc)
{
    __shared__ typename train_block_reduce::TempStorage temp;
    for (int c = 0; c < channels; c++) {
        double sum = 0.0;
        for (int k = threadIdx.x; k < blocks; k += blockDim.x)
            sum += partials[c * blocks + k];
        double total = train_block_reduce(temp).Sum(sum);
        if (threadIdx.x == 0)
            acc[c] += total;
        __syncthreads();
    }
}

/* acc[c] += sum over k < n of x[c * stride + k], c < channels <= 4. */
static int train_sum_into(struct dgpg__cuda_backend *cb, const double *x, int64_t n,
                          int64_t stride, int channels, double *acc)
{
    if (n <= 0)
        return 0;
    double *partials = dgpg__cuda_scratch(cb, TRAIN_PARTIALS);
    if (!partials)
        return -7;
    int64_t blocks = DGPG_CEIL_DIV(n, (int64_t)TRAIN_BLOCK * 8);
    blocks = blocks < TRAIN_PARTIAL_BLOCKS ? blocks : TRAIN_PARTIAL_BLOCKS;
    DGPG_LAUNCHED(1);
    train_partial_sums_kernel<<<(unsigned)blocks, TRAIN_BLOCK, 0, train_stream(cb)>>>(
        x, n, stride, channels, partials);
    CUDA_CHECK(cudaGetLastError());
    DGPG_LAUNCHED(1);
    train_finish_sums_kernel<<<1, TRAIN_BLOCK, 0, train_stream(cb)>>>(partials, (int)blocks,
                                                                      channels, acc);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

/* ---- rollout ----------------------------------------------------------- */

__global__ void train_sample_kernel(int64_t E, int32_t N, int32_t M, uint64_t seed,
                                    uint32_t env_offset, uint64_t step, const float *logits, float *probs,
                                    int32_t *actions, float *logp)
{
    const int64_t blocks_per_env = DGPG_CEIL_DIV((int64_t)N, 4);
    int64_t idx = TRAIN_INDEX();
    if (idx >= E * blocks_per_env)
        return;
    train_sample_block(seed, env_offset, step, idx / blocks_per_env, (int32_t)(idx % blocks_per_env) * 4, N,
                       M, logits, probs, actions, logp);
}

extern "C" int dgpg__cuda_train_sample(struct dgpg__cuda_backend *cb, int64_t E, int32_t N,
                                       int32_t M, uint64_t seed, uint32_t env_offset,
                                       uint64_t step,
                                       const float *logits, float *probs, int32_t *actions,
                                       float *logp)
{
    TRAIN_LAUNCH(train_sample_kernel, E * DGPG_CEIL_DIV((int64_t)N, 4), cb, E, N, M, seed,
                 env_offset, step,
                 logits, probs, actions, logp);
    return 0;
}

/* ---- advantages -------------------------------------------------------- */

/* One thread per trajectory q = e V + j of the (T + 1, E, V) layout. */
__global__ void train_gae_kernel(int64_t T, int64_t E, int64_t V, const float *rewards,
                                 const float *values, const double *moments, double gamma,
                                 double lambda, float *advantages, float *returns)
{
    int64_t q = TRAIN_INDEX();
    if (q >= E * V)
        return;
    const int64_t e = q / V, j = q % V;
    const double scale = moments[j], shift = moments[V + j];
    const float *v = values + q;
    ppo_gae_affine(T, E * V, rewards + e, E, v, scale, shift,
                   (double)v[T * E * V] * scale + shift, gamma, lambda, advantages + q,
                   returns + q);
}

extern "C" int dgpg__cuda_train_gae(struct dgpg__cuda_backend *cb, int64_t T, int64_t E,
                                    int64_t V, const float *rewards, const float *values,
                                    const double *value_scale, const double *value_shift,
                                    double gamma, double lambda, float *advantages,
                                    float *returns)
{
    double *moments = train_staging(cb, 2 * (size_t)V);
    if (!moments || dgpg__cuda_copy(cb, moments, value_scale, sizeof(double) * (size_t)V, 1) ||
        dgpg__cuda_copy(cb, moments + V, value_shift, sizeof(double) * (size_t)V, 1))
        return -7;
    TRAIN_LAUNCH(train_gae_kernel, E * V, cb, T, E, V, rewards, values, moments, gamma, lambda,
                 advantages, returns);
    return 0;
}

/* Many columns: one thread per column, rows in order (as the CPU). */
__global__ void train_column_sums_thread_kernel(int64_t rows, int64_t cols, const float *x,
                                                double *out)
{
    int64_t j = TRAIN_INDEX();
    if (j >= cols)
        return;
    double s = 0.0, ss = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        double v = x[r * cols + j];
        s += v;
        ss += v * v;
    }
    out[j] = s;
    out[cols + j] = ss;
}

/* Few columns: a grid of (blocks per column) x (columns); each block's CUB
 * reduction of its share of the column's rows goes to partials
 * [(2 j + {0: sum, 1: squares}) gridDim.x + block], and one block per
 * column then sums its partials in block order. */
__global__ void train_column_partials_kernel(int64_t rows, int64_t cols, const float *x,
                                             double *partials)
{
    __shared__ typename train_block_reduce::TempStorage temp;
    const int64_t j = blockIdx.y;
    double s = 0.0, ss = 0.0;
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows;
         r += (int64_t)gridDim.x * blockDim.x) {
        double v = x[r * cols + j];
        s += v;
        ss += v * v;
    }
    double total = train_block_reduce(temp).Sum(s);
    __syncthreads();
    double total_sq = train_block_reduce(temp).Sum(ss);
    if (threadIdx.x == 0) {
        partials[(2 * j) * gridDim.x + blockIdx.x] = total;
        partials[(2 * j + 1) * gridDim.x + blockIdx.x] = total_sq;
    }
}

__global__ void train_column_finish_kernel(int64_t cols, int blocks, const double *partials,
                                           double *out)
{
    __shared__ typename train_block_reduce::TempStorage temp;
    const int64_t j = blockIdx.x;
    for (int c = 0; c < 2; c++) {
        double sum = 0.0;
        for (int k = threadIdx.x; k < blocks; k += blockDim.x)
            sum += partials[(2 * j + c) * blocks + k];
        double total = train_block_reduce(temp).Sum(sum);
        if (threadIdx.x == 0)
            out[c * cols + j] = total;
        __syncthreads();
    }
}

extern "C" int dgpg__cuda_train_column_sums(struct dgpg__cuda_backend *cb, int64_t rows,
                                            int64_t cols, const float *x, double *sum,
                                            double *sum_sq)
{
    if (cols <= 0)
        return 0;
    double *out = train_staging(cb, 2 * (size_t)cols);
    double *partials = dgpg__cuda_scratch(cb, TRAIN_PARTIALS);
    if (!out || !partials)
        return -7;
    if (cols >= TRAIN_PARTIALS / 2) {
        /* many columns: one thread per column is coalesced and fills the device */
        TRAIN_LAUNCH(train_column_sums_thread_kernel, cols, cb, rows, cols, x, out);
    } else {
        /* few columns (the MAPPO returns, the whole-batch advantage moments):
         * enough blocks per column to fill the device, within the partials */
        int64_t per_column = DGPG_CEIL_DIV(rows, (int64_t)TRAIN_BLOCK * 8);
        const int64_t room = TRAIN_PARTIALS / (2 * cols);
        per_column = per_column < 1 ? 1 : (per_column > room ? room : per_column);
        dim3 grid((unsigned)per_column, (unsigned)cols);
        DGPG_LAUNCHED(1);
        train_column_partials_kernel<<<grid, TRAIN_BLOCK, 0, train_stream(cb)>>>(rows, cols, x,
                                                                                 partials);
        CUDA_CHECK(cudaGetLastError());
        DGPG_LAUNCHED(1);
        train_column_finish_kernel<<<(unsigned)cols, TRAIN_BLOCK, 0, train_stream(cb)>>>(
            cols, (int)per_column, partials, out);
        CUDA_CHECK(cudaGetLastError());
    }
    if (sum && dgpg__cuda_copy(cb, sum, out, sizeof(double) * (size_t)cols, 0))
        return -7;
    if (sum_sq && dgpg__cuda_copy(cb, sum_sq, out + cols, sizeof(double) * (size_t)cols, 0))
        return -7;
    return 0;
}

__global__ void train_column_standardize_kernel(int64_t rows, int64_t cols, float *x,
                                                const double *moments)
{
    int64_t k = TRAIN_INDEX();
    if (k >= rows * cols)
        return;
    const int64_t j = k % cols;
    x[k] = (float)(((double)x[k] - moments[j]) / moments[cols + j]);
}

extern "C" int dgpg__cuda_train_column_standardize(struct dgpg__cuda_backend *cb, int64_t rows,
                                                   int64_t cols, float *x, const double *mean,
                                                   const double *sd)
{
    double *moments = train_staging(cb, 2 * (size_t)cols);
    if (!moments || dgpg__cuda_copy(cb, moments, mean, sizeof(double) * (size_t)cols, 1) ||
        dgpg__cuda_copy(cb, moments + cols, sd, sizeof(double) * (size_t)cols, 1))
        return -7;
    TRAIN_LAUNCH(train_column_standardize_kernel, rows * cols, cb, rows, cols, x, moments);
    return 0;
}

__global__ void train_advantage_kernel(int64_t S, int64_t N, int64_t V, const float *adv_raw,
                                       double mean, double scale, float *adv)
{
    int64_t d = TRAIN_INDEX();
    if (d >= S * N)
        return;
    const int64_t s = d / N, i = d % N;
    adv[d] = (float)(((double)adv_raw[s * V + (V == 1 ? 0 : i)] - mean) * scale);
}

extern "C" int dgpg__cuda_train_advantage(struct dgpg__cuda_backend *cb, int64_t S, int64_t N,
                                          int64_t V, const float *adv_raw, double mean,
                                          double scale, float *adv)
{
    TRAIN_LAUNCH(train_advantage_kernel, S * N, cb, S, N, V, adv_raw, mean, scale, adv);
    return 0;
}

__global__ void train_guidance_term_kernel(int form, int64_t S, int64_t N, int32_t M,
                                           const float *probs, const int32_t *actions,
                                           const float *grad_p, const float *p_star,
                                           float *guidance)
{
    int64_t d = TRAIN_INDEX();
    if (d >= S * N)
        return;
    guidance[d] = train_guidance_term(form, M, probs + d * M, actions[d],
                                      grad_p ? grad_p + d * M : NULL,
                                      p_star ? p_star + (d / N) * M : NULL);
}

extern "C" int dgpg__cuda_train_guidance_term(struct dgpg__cuda_backend *cb, int form, int64_t S,
                                              int64_t N, int32_t M, const float *probs,
                                              const int32_t *actions, const float *grad_p,
                                              const float *p_star, float *guidance)
{
    TRAIN_LAUNCH(train_guidance_term_kernel, S * N, cb, form, S, N, M, probs, actions, grad_p,
                 p_star, guidance);
    return 0;
}

__global__ void train_mix_kernel(int form, int64_t n, const float *guidance, double scale,
                                 double alpha, float *adv)
{
    int64_t d = TRAIN_INDEX();
    if (d < n)
        adv[d] = train_mix(form, adv[d], (double)guidance[d] * scale, alpha);
}

extern "C" int dgpg__cuda_train_mix(struct dgpg__cuda_backend *cb, int form, int64_t n,
                                    const float *guidance, double scale, double alpha,
                                    float *adv)
{
    TRAIN_LAUNCH(train_mix_kernel, n, cb, form, n, guidance, scale, alpha, adv);
    return 0;
}

/* ---- update ------------------------------------------------------------ */

__global__ void train_gather_kernel(int64_t B, int64_t row, const int64_t *samples,
                                    const float *src, float *dst)
{
    int64_t k = TRAIN_INDEX();
    if (k >= B * row)
        return;
    const int64_t b = k / row;
    dst[k] = src[samples[b] * row + (k - b * row)];
}

extern "C" int dgpg__cuda_train_gather(struct dgpg__cuda_backend *cb, int64_t B, int64_t row,
                                       const int64_t *samples, const float *src, float *dst)
{
    TRAIN_LAUNCH(train_gather_kernel, B * row, cb, B, row, samples, src, dst);
    return 0;
}

/* One thread per decision (b, i) of the chunk; its four statistics go to
 * decision_stats planar: (4, B N). */
__global__ void train_policy_grad_kernel(train_policy_args a, float *d_logits,
                                         double *decision_stats)
{
    const int64_t n = a.B * a.N;
    int64_t k = TRAIN_INDEX();
    if (k >= n)
        return;
    const int64_t b = k / a.N, i = k % a.N, s = a.samples[b], d = s * a.N + i;
    double entropy, ratio;
    int clipped;
    double loss = train_decision_grad(
        a.form, a.logits + k * a.M, a.M, a.actions[d], (double)a.logp[d], (double)a.adv[d],
        a.p_star ? a.p_star + s * a.M : NULL, a.grad_p ? a.grad_p + d * a.M : NULL,
        a.grad_scale, a.alpha, a.scale, a.entropy_coef, a.clip, d_logits + k * a.M, &entropy,
        &ratio, &clipped);
    decision_stats[k] = loss;
    decision_stats[n + k] = entropy;
    decision_stats[2 * n + k] = (ratio - 1.0) - log(ratio); /* >= 0, unbiased KL(old || new) */
    decision_stats[3 * n + k] = clipped;
}

extern "C" int dgpg__cuda_train_policy_grad(struct dgpg__cuda_backend *cb,
                                            const train_policy_args *args, float *d_logits,
                                            double *decision_stats, double *stats)
{
    const int64_t n = args->B * args->N;
    TRAIN_LAUNCH(train_policy_grad_kernel, n, cb, *args, d_logits, decision_stats);
    return stats ? train_sum_into(cb, decision_stats, n, n, 4, stats) : 0;
}

__global__ void train_value_grad_kernel(int64_t B, int64_t V, const int64_t *samples,
                                        const float *v, const float *values_old,
                                        const float *returns, double clip, double huber_delta,
                                        double coef_scale, float *d_value, double *sample_loss)
{
    int64_t k = TRAIN_INDEX();
    if (k >= B * V)
        return;
    const int64_t b = k / V, j = k % V, at = samples[b] * V + j;
    double grad;
    sample_loss[k] = ppo_value_loss((double)v[k], (double)values_old[at], (double)returns[at],
                                    clip, huber_delta, &grad);
    d_value[k] = (float)(coef_scale * grad);
}

extern "C" int dgpg__cuda_train_value_grad(struct dgpg__cuda_backend *cb, int64_t B, int64_t V,
                                           const int64_t *samples, const float *v,
                                           const float *values_old, const float *returns,
                                           double clip, double huber_delta, double coef_scale,
                                           float *d_value, double *sample_loss,
                                           double *loss_sum)
{
    TRAIN_LAUNCH(train_value_grad_kernel, B * V, cb, B, V, samples, v, values_old, returns, clip,
                 huber_delta, coef_scale, d_value, sample_loss);
    return train_sum_into(cb, sample_loss, B * V, B * V, 1, loss_sum);
}

/* ---- gradient variance ------------------------------------------------- */

__global__ void train_accumulate_kernel(int64_t n, const float *g, double *sum, double *sum_sq)
{
    int64_t p = TRAIN_INDEX();
    if (p >= n)
        return;
    double x = g[p];
    sum[p] += x;
    sum_sq[p] += x * x;
}

extern "C" int dgpg__cuda_train_accumulate(struct dgpg__cuda_backend *cb, int64_t n,
                                           const float *g, double *sum, double *sum_sq)
{
    TRAIN_LAUNCH(train_accumulate_kernel, n, cb, n, g, sum, sum_sq);
    return 0;
}

__global__ void train_variance_finish_kernel(int64_t n, int64_t G, double *sum, double *sum_sq)
{
    int64_t p = TRAIN_INDEX();
    if (p >= n)
        return;
    double mean = sum[p] / (double)G;
    sum_sq[p] = (sum_sq[p] - (double)G * mean * mean) / (double)(G - 1);
    /* unbiased for the squared true mean: E[mean^2] = mu^2 + var / G */
    sum[p] = mean * mean - sum_sq[p] / (double)G;
}

extern "C" int dgpg__cuda_train_variance_finish(struct dgpg__cuda_backend *cb, int64_t n,
                                                int64_t G, double *sum, double *sum_sq)
{
    TRAIN_LAUNCH(train_variance_finish_kernel, n, cb, n, G, sum, sum_sq);
    return 0;
}

/* One block per network: a CUB block reduction over its slices. */
__global__ void train_net_sums_kernel(dgpg_net_layout layout, const double *x, double *out)
{
    __shared__ typename train_block_reduce::TempStorage temp;
    const int64_t k = blockIdx.x;
    double sum = 0.0;
    for (int l = 0; l < layout.layers; l++) {
        const double *w = x + layout.weight_offset[l] + k * layout.weight_size[l];
        const double *b = x + layout.bias_offset[l] + k * layout.bias_size[l];
        for (int64_t j = threadIdx.x; j < layout.weight_size[l]; j += blockDim.x)
            sum += w[j];
        for (int64_t j = threadIdx.x; j < layout.bias_size[l]; j += blockDim.x)
            sum += b[j];
    }
    double total = train_block_reduce(temp).Sum(sum);
    if (threadIdx.x == 0)
        out[k] = total;
}

extern "C" int dgpg__cuda_train_net_sums(struct dgpg__cuda_backend *cb,
                                         const dgpg_net_layout *layout, const double *x,
                                         double *out)
{
    double *staged = train_staging(cb, (size_t)layout->K);
    if (!staged)
        return -7;
    if (layout->K > 0) {
        DGPG_LAUNCHED(1);
        train_net_sums_kernel<<<(unsigned)layout->K, TRAIN_BLOCK, 0, train_stream(cb)>>>(
            *layout, x, staged);
        CUDA_CHECK(cudaGetLastError());
    }
    return dgpg__cuda_copy(cb, out, staged, sizeof(double) * (size_t)layout->K, 0);
}

/* ---- NaN guard --------------------------------------------------------- */

__global__ void train_first_nonfinite_kernel(const float *x, int64_t n,
                                             unsigned long long *first)
{
    int64_t k = TRAIN_INDEX();
    if (k < n && !isfinite(x[k]))
        atomicMin(first, (unsigned long long)k);
}

extern "C" int dgpg__cuda_train_first_nonfinite(struct dgpg__cuda_backend *cb, const float *x,
                                                int64_t n, int64_t *at)
{
    *at = -1;
    if (n <= 0)
        return 0;
    unsigned long long *first = (unsigned long long *)train_staging(cb, 1);
    unsigned long long host = (unsigned long long)n;
    if (!first || dgpg__cuda_copy(cb, first, &host, sizeof host, 1))
        return -7;
    TRAIN_LAUNCH(train_first_nonfinite_kernel, n, cb, x, n, first);
    if (dgpg__cuda_copy(cb, &host, first, sizeof host, 0))
        return -7;
    *at = host < (unsigned long long)n ? (int64_t)host : -1;
    return 0;
}
