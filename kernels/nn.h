/* nn.h — per-element math of the policy and value networks, shared by the
 * CPU and CUDA backends: activation and its derivative, the categorical
 * head (softmax, log-probability, entropy and their gradients), and
 * orthogonal-init helpers. Shapes use B for samples (rows of a batch),
 * M for actions; a "row" is one sample's M logits. */
#ifndef DGPG_KERNELS_NN_H
#define DGPG_KERNELS_NN_H

#include "hd.h"

#include <math.h>

/* y = tanh(x + bias) in place over a (rows, width) block with row stride ld. */
static inline DGPG_HD float nn_tanh(float x)
{
    return tanhf(x);
}

/* d tanh(u)/du expressed through y = tanh(u). */
static inline DGPG_HD float nn_tanh_grad(float y)
{
    return 1.0f - y * y;
}

/* log sum_m exp(logits_m), shifted by the largest logit so that no exp
 * overflows; in double so that log-probabilities of small probabilities
 * stay accurate. */
static inline DGPG_HD double nn_log_sum_exp(const float *logits, int32_t M)
{
    double max = (double)logits[0];
    for (int32_t m = 1; m < M; m++)
        max = (double)logits[m] > max ? (double)logits[m] : max;
    double sum = 0.0;
    for (int32_t m = 0; m < M; m++)
        sum += exp((double)logits[m] - max);
    return max + log(sum);
}

/* The first NN_EXP_CACHE exps of a softmax are kept (in registers) for its
 * second pass, p_m = e_m / S, instead of being computed again; beyond
 * that many actions the second pass recomputes exp(z_m - log Z). The
 * exps are most of the per-decision cost (one pass of M instead of two). */
#define NN_EXP_CACHE 16

/* probs (M) = softmax(logits); returns log sum exp(logits). */
static inline DGPG_HD double nn_softmax(const float *logits, int32_t M, float *probs)
{
    double max = (double)logits[0];
    for (int32_t m = 1; m < M; m++)
        max = (double)logits[m] > max ? (double)logits[m] : max;
    double cache[NN_EXP_CACHE], sum = 0.0;
    for (int32_t m = 0; m < M; m++) {
        double e = exp((double)logits[m] - max);
        if (m < NN_EXP_CACHE)
            cache[m] = e;
        sum += e;
    }
    const double log_z = max + log(sum);
    for (int32_t m = 0; m < M; m++)
        probs[m] = (float)(m < NN_EXP_CACHE ? cache[m] / sum : exp((double)logits[m] - log_z));
    return log_z;
}

/* log p_a and the entropy -sum p log p of softmax(logits). */
static inline DGPG_HD double nn_log_prob_entropy(const float *logits, int32_t M, int32_t action,
                                                 double *entropy)
{
    double log_z = nn_log_sum_exp(logits, M);
    if (entropy) {
        double h = 0.0;
        for (int32_t m = 0; m < M; m++) {
            double log_p = (double)logits[m] - log_z;
            h -= exp(log_p) * log_p;
        }
        *entropy = h;
    }
    return (double)logits[action] - log_z;
}

/* PPO-clip policy loss of one sample, L = -min(r A, clip(r, 1-eps, 1+eps) A)
 * - c_ent H with r = exp(log p_a - log p_old), and its gradient with
 * respect to the logits, times `scale` (1 / batch size):
 *   dL/dlogit_m = dL/dlog p_a (1[m = a] - p_m) + c_ent p_m (log p_m + H),
 * dL/dlog p_a = -r A where the unclipped term is the minimum, else 0 (the
 * clipped term is then constant in r). Returns the loss; `clipped`
 * receives whether |r - 1| > eps (the clip fraction's numerator). */
static inline DGPG_HD double nn_ppo_policy_grad(const float *logits, int32_t M, int32_t action,
                                                double log_p_old, double advantage,
                                                double clip, double entropy_coef, double scale,
                                                float *grad_logits, double *entropy_out,
                                                double *ratio_out, int *clipped)
{
    /* log Z and the entropy from one pass of exps over the shifted logits:
     * S = sum e_m, e_m = exp(z_m - max), and H = log S - sum e_m (z_m -
     * max) / S (terms <= 0, so no cancellation against a large max) */
    double max = (double)logits[0];
    for (int32_t m = 1; m < M; m++)
        max = (double)logits[m] > max ? (double)logits[m] : max;
    double cache[NN_EXP_CACHE], sum = 0.0, weighted = 0.0;
    for (int32_t m = 0; m < M; m++) {
        double shifted = (double)logits[m] - max, e = exp(shifted);
        if (m < NN_EXP_CACHE)
            cache[m] = e;
        sum += e;
        weighted += e * shifted;
    }
    const double log_sum = log(sum);
    double entropy = log_sum - weighted / sum;
    double log_p = (double)logits[action] - (max + log_sum);
    double ratio = exp(log_p - log_p_old);
    double clipped_ratio =
        ratio < 1.0 - clip ? 1.0 - clip : (ratio > 1.0 + clip ? 1.0 + clip : ratio);
    double surr1 = ratio * advantage, surr2 = clipped_ratio * advantage;
    double d_log_p = surr1 <= surr2 ? -ratio * advantage : 0.0;
    double log_z = (double)logits[action] - log_p;
    for (int32_t m = 0; m < M; m++) {
        double log_pm = (double)logits[m] - log_z;
        double pm = m < NN_EXP_CACHE ? cache[m] / sum : exp(log_pm);
        double g = d_log_p * ((m == action ? 1.0 : 0.0) - pm) +
                   entropy_coef * pm * (log_pm + entropy);
        grad_logits[m] = (float)(scale * g);
    }
    if (entropy_out)
        *entropy_out = entropy;
    if (ratio_out)
        *ratio_out = ratio;
    if (clipped)
        *clipped = fabs(ratio - 1.0) > clip;
    return -(surr1 < surr2 ? surr1 : surr2) - entropy_coef * entropy;
}

#endif
