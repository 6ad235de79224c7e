/* train_ops.c — see train_ops.h. The CPU bodies below are the reference the
 * CUDA launchers (kernels/train_cuda.cu) are tested against; sums that are
 * logged run in a fixed order so that runs repeat bitwise. */
#include "train_ops.h"

#include "../../kernels/train_math.h"
#include "backend_internal.h"
#include "dgpg/dgpg.h"

#include <math.h>
#include <string.h>

#ifdef DGPG_HAVE_CUDA
#include "train_ops_cuda.h"
#define TRAIN_CUDA(be, call)                                                              \
    do {                                                                                  \
        if ((be)->cuda)                                                                   \
            return call;                                                                  \
    } while (0)
#else
#define TRAIN_CUDA(be, call) ((void)(be))
#endif

int train_op_sample(dgpg_backend *be, int64_t E, int32_t N, int32_t M, uint64_t seed,
                    uint32_t env_offset, uint64_t step, const float *logits, float *probs,
                    int32_t *actions, float *logp)
{
    TRAIN_CUDA(be, dgpg__cuda_train_sample(be->cuda, E, N, M, seed, env_offset, step, logits,
                                           probs, actions, logp));
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t e = 0; e < E; e++)
        for (int32_t i0 = 0; i0 < N; i0 += 4)
            train_sample_block(seed, env_offset, step, e, i0, N, M, logits, probs, actions,
                               logp);
    return DGPG_OK;
}

int train_op_sample_pstar(dgpg_backend *be, int64_t E, int32_t N, int32_t M, uint64_t seed,
                          uint32_t env_offset, uint64_t step, const float *p_star, float *logits,
                          float *probs, int32_t *actions, float *logp)
{
    if (be->cuda)
        return DGPG_EUNSUPPORTED;
    for (int64_t e = 0; e < E; e++)
        for (int32_t m = 0; m < M; m++) { /* one log per (e, m), copied to each agent */
            const float p = p_star[e * M + m], logit = p > 0.0f ? logf(p) : -1e30f;
            for (int32_t i = 0; i < N; i++)
                logits[(e * N + i) * M + m] = logit;
        }
    return train_op_sample(be, E, N, M, seed, env_offset, step, logits, probs, actions, logp);
}

int train_op_gae(dgpg_backend *be, int64_t T, int64_t E, int64_t V, const float *rewards,
                 const float *values, const double *value_scale, const double *value_shift,
                 double gamma, double lambda, float *advantages, float *returns)
{
    TRAIN_CUDA(be, dgpg__cuda_train_gae(be->cuda, T, E, V, rewards, values, value_scale,
                                        value_shift, gamma, lambda, advantages, returns));
    for (int64_t j = 0; j < V; j++)
        for (int64_t e = 0; e < E; e++) {
            const float *v = values + e * V + j;
            ppo_gae_affine(T, E * V, rewards + e, E, v, value_scale[j], value_shift[j],
                           (double)v[T * E * V] * value_scale[j] + value_shift[j], gamma, lambda,
                           advantages + e * V + j, returns + e * V + j);
        }
    return DGPG_OK;
}

int train_op_column_sums(dgpg_backend *be, int64_t rows, int64_t cols, const float *x,
                         double *sum, double *sum_sq)
{
    TRAIN_CUDA(be, dgpg__cuda_train_column_sums(be->cuda, rows, cols, x, sum, sum_sq));
    for (int64_t j = 0; j < cols; j++) {
        double s = 0.0, ss = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            double v = x[r * cols + j];
            s += v;
            ss += v * v;
        }
        if (sum)
            sum[j] = s;
        if (sum_sq)
            sum_sq[j] = ss;
    }
    return DGPG_OK;
}

int train_op_column_standardize(dgpg_backend *be, int64_t rows, int64_t cols, float *x,
                                const double *mean, const double *sd)
{
    TRAIN_CUDA(be, dgpg__cuda_train_column_standardize(be->cuda, rows, cols, x, mean, sd));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            x[r * cols + j] = (float)(((double)x[r * cols + j] - mean[j]) / sd[j]);
    return DGPG_OK;
}

int train_op_advantage(dgpg_backend *be, int64_t S, int64_t N, int64_t V, const float *adv_raw,
                       double mean, double scale, float *adv)
{
    TRAIN_CUDA(be, dgpg__cuda_train_advantage(be->cuda, S, N, V, adv_raw, mean, scale, adv));
    for (int64_t s = 0; s < S; s++)
        for (int64_t i = 0; i < N; i++)
            adv[s * N + i] = (float)(((double)adv_raw[s * V + (V == 1 ? 0 : i)] - mean) * scale);
    return DGPG_OK;
}

int train_op_guidance_term(dgpg_backend *be, int form, int64_t S, int64_t N, int32_t M,
                           const float *probs, const int32_t *actions, const float *grad_p,
                           const float *p_star, float *guidance)
{
    TRAIN_CUDA(be, dgpg__cuda_train_guidance_term(be->cuda, form, S, N, M, probs, actions,
                                                  grad_p, p_star, guidance));
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t d = 0; d < S * N; d++)
        guidance[d] = train_guidance_term(form, M, probs + d * M, actions[d],
                                          grad_p ? grad_p + d * M : NULL,
                                          p_star ? p_star + (d / N) * M : NULL);
    return DGPG_OK;
}

int train_op_mix(dgpg_backend *be, int form, int64_t n, const float *guidance, double scale,
                 double alpha, float *adv)
{
    TRAIN_CUDA(be, dgpg__cuda_train_mix(be->cuda, form, n, guidance, scale, alpha, adv));
    for (int64_t d = 0; d < n; d++)
        adv[d] = train_mix(form, adv[d], (double)guidance[d] * scale, alpha);
    return DGPG_OK;
}

int train_op_gather(dgpg_backend *be, int64_t B, int64_t row, const int64_t *samples,
                    const float *src, float *dst)
{
    TRAIN_CUDA(be, dgpg__cuda_train_gather(be->cuda, B, row, samples, src, dst));
    for (int64_t b = 0; b < B; b++)
        memcpy(dst + b * row, src + samples[b] * row, sizeof(float) * (size_t)row);
    return DGPG_OK;
}

int train_op_policy_grad(dgpg_backend *be, const train_policy_args *a, float *d_logits,
                         double *decision_stats, double *stats)
{
    TRAIN_CUDA(be, dgpg__cuda_train_policy_grad(be->cuda, a, d_logits, decision_stats, stats));
    const int64_t B = a->B, N = a->N, M = a->M;
    double *rows = decision_stats; /* (B, 4): each row's sums, in agent order */
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t b = 0; b < B; b++) {
        double row[4] = {0.0, 0.0, 0.0, 0.0};
        const int64_t s = a->samples[b];
        for (int64_t i = 0; i < N; i++) {
            double entropy, ratio;
            int clipped;
            const int64_t d = s * N + i;
            row[0] += train_decision_grad(
                a->form, a->logits + (b * N + i) * M, (int32_t)M, a->actions[d],
                (double)a->logp[d], (double)a->adv[d], a->p_star ? a->p_star + s * M : NULL,
                a->grad_p ? a->grad_p + d * M : NULL, a->grad_scale, a->alpha, a->scale,
                a->entropy_coef, a->clip, d_logits + (b * N + i) * M, &entropy, &ratio,
                &clipped);
            row[1] += entropy;
            row[2] += (ratio - 1.0) - log(ratio); /* >= 0, unbiased for KL(old || new) */
            row[3] += clipped;
        }
        for (int k = 0; k < 4; k++)
            rows[4 * b + k] = row[k];
    }
    /* the rows in sample order: the logged statistics do not depend on the
     * thread count */
    if (stats)
        for (int64_t b = 0; b < B; b++)
            for (int k = 0; k < 4; k++)
                stats[k] += rows[4 * b + k];
    return DGPG_OK;
}

int train_op_value_grad(dgpg_backend *be, int64_t B, int64_t V, const int64_t *samples,
                        const float *v, const float *values_old, const float *returns,
                        double clip, double huber_delta, double coef_scale, float *d_value,
                        double *sample_loss, double *loss_sum)
{
    TRAIN_CUDA(be, dgpg__cuda_train_value_grad(be->cuda, B, V, samples, v, values_old, returns,
                                               clip, huber_delta, coef_scale, d_value,
                                               sample_loss, loss_sum));
    (void)sample_loss;
    double loss = 0.0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < V; j++) {
            double grad;
            const int64_t at = samples[b] * V + j;
            loss += ppo_value_loss((double)v[b * V + j], (double)values_old[at],
                                   (double)returns[at], clip, huber_delta, &grad);
            d_value[b * V + j] = (float)(coef_scale * grad);
        }
    *loss_sum += loss;
    return DGPG_OK;
}

int train_op_accumulate(dgpg_backend *be, int64_t n, const float *g, double *sum,
                        double *sum_sq)
{
    TRAIN_CUDA(be, dgpg__cuda_train_accumulate(be->cuda, n, g, sum, sum_sq));
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t p = 0; p < n; p++) {
        double x = g[p];
        sum[p] += x;
        sum_sq[p] += x * x;
    }
    return DGPG_OK;
}

int train_op_variance_finish(dgpg_backend *be, int64_t n, int64_t G, double *sum,
                             double *sum_sq)
{
    TRAIN_CUDA(be, dgpg__cuda_train_variance_finish(be->cuda, n, G, sum, sum_sq));
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (int64_t p = 0; p < n; p++) {
        double mean = sum[p] / (double)G;
        sum_sq[p] = (sum_sq[p] - (double)G * mean * mean) / (double)(G - 1);
        /* unbiased for the squared true mean: E[mean^2] = mu^2 + var / G */
        sum[p] = mean * mean - sum_sq[p] / (double)G;
    }
    return DGPG_OK;
}

int train_op_net_sums(dgpg_backend *be, const dgpg_net_layout *layout, const double *x,
                      double *out)
{
    TRAIN_CUDA(be, dgpg__cuda_train_net_sums(be->cuda, layout, x, out));
    for (int64_t k = 0; k < layout->K; k++) {
        double sum = 0.0;
        for (int l = 0; l < layout->layers; l++) {
            const double *w = x + layout->weight_offset[l] + k * layout->weight_size[l];
            const double *b = x + layout->bias_offset[l] + k * layout->bias_size[l];
            for (int64_t j = 0; j < layout->weight_size[l]; j++)
                sum += w[j];
            for (int64_t j = 0; j < layout->bias_size[l]; j++)
                sum += b[j];
        }
        out[k] = sum;
    }
    return DGPG_OK;
}

int train_op_first_nonfinite(dgpg_backend *be, const float *x, int64_t n, int64_t *at)
{
    TRAIN_CUDA(be, dgpg__cuda_train_first_nonfinite(be->cuda, x, n, at));
    *at = -1;
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(x[k])) {
            *at = k;
            return DGPG_OK;
        }
    return DGPG_OK;
}
