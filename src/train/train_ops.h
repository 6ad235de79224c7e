/* train_ops.h — the trainer's batch operations on the backend's memory
 * (host for the CPU backend, device for CUDA): each op loops over a
 * kernels/train_math.h or kernels/ppo.h body on the CPU (OpenMP over the
 * outer index) and launches one thread per index, or a CUB block
 * reduction, on the CUDA backend (kernels/train_cuda.cu). Arrays are in
 * backend memory unless marked "host". Every op returns 0 or a negative
 * dgpg error code. Notation as src/train/train.c. */
#ifndef DGPG_TRAIN_OPS_H
#define DGPG_TRAIN_OPS_H

#include "backend.h"

#include <stdint.h>

/* A rollout step: probs (E, N, M), actions and logp (E, N) from the
 * actor's logits (E, N, M), actions drawn from Philox (seed, env_offset +
 * e, agent / 4, step). */
int train_op_sample(dgpg_backend *be, int64_t E, int32_t N, int32_t M, uint64_t seed,
                    uint32_t env_offset, uint64_t step, const float *logits, float *probs,
                    int32_t *actions, float *logp);

/* A reference step of the analytical policy: every agent of environment e
 * draws from p_star[e] (E, M): logits (E, N, M, scratch) = log p*, then
 * train_op_sample. CPU backend only (DGPG_EUNSUPPORTED on CUDA). */
int train_op_sample_pstar(dgpg_backend *be, int64_t E, int32_t N, int32_t M, uint64_t seed,
                          uint32_t env_offset, uint64_t step, const float *p_star, float *logits,
                          float *probs, int32_t *actions, float *logp);

/* GAE over the rollout layout: rewards (T, E), values (T + 1, E, V) as the
 * critic predicts them (normalised; column j denormalised with
 * value_scale[j], value_shift[j], host), into advantages and returns
 * (T, E, V), in reward units. */
int train_op_gae(dgpg_backend *be, int64_t T, int64_t E, int64_t V, const float *rewards,
                 const float *values, const double *value_scale, const double *value_shift,
                 double gamma, double lambda, float *advantages, float *returns);

/* Per column j of x (rows, cols), row-major: sum[j] and sum_sq[j] (host,
 * either may be NULL), accumulated in double. */
int train_op_column_sums(dgpg_backend *be, int64_t rows, int64_t cols, const float *x,
                         double *sum, double *sum_sq);

/* x[r, j] = (x[r, j] - mean[j]) / sd[j] (mean, sd: host, cols). */
int train_op_column_standardize(dgpg_backend *be, int64_t rows, int64_t cols, float *x,
                                const double *mean, const double *sd);

/* adv[s, i] = (adv_raw[s, V == 1 ? 0 : i] - mean) * scale over (S, N). */
int train_op_advantage(dgpg_backend *be, int64_t S, int64_t N, int64_t V, const float *adv_raw,
                       double mean, double scale, float *adv);

/* guidance[d] = train_guidance_term(form, ...) for the D = S N decisions:
 * probs, grad_p (D, M), actions (D), p_star (S, M). */
int train_op_guidance_term(dgpg_backend *be, int form, int64_t S, int64_t N, int32_t M,
                           const float *probs, const int32_t *actions, const float *grad_p,
                           const float *p_star, float *guidance);

/* adv[d] = train_mix(form, adv[d], guidance[d] * scale, alpha) over n. */
int train_op_mix(dgpg_backend *be, int form, int64_t n, const float *guidance, double scale,
                 double alpha, float *adv);

/* dst[b] = src[samples[b]] for B rows of `row` floats. */
int train_op_gather(dgpg_backend *be, int64_t B, int64_t row, const int64_t *samples,
                    const float *src, float *dst);

/* The actor's loss gradient at the logits of a chunk of B samples. */
typedef struct train_policy_args {
    int form;
    int64_t B, N;
    int32_t M;
    const int64_t *samples;   /* (B) sample indices into the rollout */
    const float *logits;      /* (B, N, M) */
    const int32_t *actions;   /* rollout (S, N) */
    const float *logp;        /* rollout (S, N) */
    const float *adv;         /* rollout (S, N) */
    const float *p_star;      /* rollout (S, M), target */
    const float *grad_p;      /* rollout (S, N, M), descent and cv */
    double grad_scale, alpha, scale, entropy_coef, clip;
} train_policy_args;

/* d_logits (B, N, M) = train_decision_grad of each decision; if stats is
 * not NULL (4 doubles: loss, entropy, KL estimate, clipped count) the
 * chunk's sums are added to it, summed row by row in sample order.
 * decision_stats: scratch of 4 B N doubles (per decision on the GPU, per
 * row on the CPU). */
int train_op_policy_grad(dgpg_backend *be, const train_policy_args *args, float *d_logits,
                         double *decision_stats, double *stats);

/* d_value[b, j] = coef scale dL/dv of the clipped value loss of sample
 * samples[b], column j of (V), against values_old and returns of the
 * rollout (S, V); the losses' sum is added to *loss_sum (1 double). */
int train_op_value_grad(dgpg_backend *be, int64_t B, int64_t V, const int64_t *samples,
                        const float *v, const float *values_old, const float *returns,
                        double clip, double huber_delta, double coef_scale, float *d_value,
                        double *sample_loss, double *loss_sum);

/* sum[p] += g[p], sum_sq[p] += g[p]^2 over n (doubles). */
int train_op_accumulate(dgpg_backend *be, int64_t n, const float *g, double *sum,
                        double *sum_sq);

/* Over n: sum_sq <- sample variance of G estimates, sum <- the unbiased
 * estimate of the squared true mean, mean^2 - variance / G (may be < 0). */
int train_op_variance_finish(dgpg_backend *be, int64_t n, int64_t G, double *sum,
                             double *sum_sq);

/* out (K, host) = each network's sum of the per-parameter doubles x. */
int train_op_net_sums(dgpg_backend *be, const dgpg_net_layout *layout, const double *x,
                      double *out);

/* Index of the first non-finite value of x (n) in *at, or -1. */
int train_op_first_nonfinite(dgpg_backend *be, const float *x, int64_t n, int64_t *at);

#endif
