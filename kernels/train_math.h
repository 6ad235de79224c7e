/* train_math.h — the trainer's per-decision and per-sample bodies, shared
 * by the CPU backend (src/train/train_ops.c loops over them) and the CUDA backend
 * (kernels/train_cuda.cu launches one thread per index): sampling at a
 * rollout step, the advantage broadcast, the guidance terms of each form,
 * the guidance mix and the loss gradient at one decision's logits.
 * Notation as src/train/train.c: E environments, N agents, M actions, a "sample"
 * s = t E + e holds one decision per agent. */
#ifndef DGPG_KERNELS_TRAIN_MATH_H
#define DGPG_KERNELS_TRAIN_MATH_H

#include "hd.h"
#include "nn.h"
#include "ppo.h"
#include "sample.h"

#include <math.h>

/* Gradient clipping of one network (algo.max_grad_norm): the factor its
 * gradient is scaled by, from its squared norm; both backends' clip ops
 * use it (src/backends/backend.h, dgpg_net_clip). */
static inline DGPG_HD double train_clip_scale(double sq_norm, double max_norm)
{
    const double norm = sqrt(sq_norm);
    return norm > max_norm ? max_norm / (norm + 1e-6) : 1.0;
}

/* algo.guide */
enum train_guide { GUIDE_NONE, GUIDE_DGPG, GUIDE_TARGET, GUIDE_DESCENT, GUIDE_CV };

/* Rollout step, agents i0 .. i0+3 of environment e: softmax of their
 * logits, one Philox draw for the four actions (kernels/sample.h, keyed by
 * the global environment index env_offset + e, so that a batch split over
 * ranks draws what one process would), and the log-probability of each
 * sampled action. logits, probs: (E, N, M); actions, logp: (E, N). */
static inline DGPG_HD void train_sample_block(uint64_t seed, uint32_t env_offset, uint64_t step,
                                              int64_t e,
                                              int32_t i0, int32_t N, int32_t M,
                                              const float *logits, float *probs,
                                              int32_t *actions, float *logp)
{
    const int64_t base = e * N;
    double log_z[4];
    for (int32_t k = 0; k < 4 && i0 + k < N; k++)
        log_z[k] = nn_softmax(logits + (base + i0 + k) * M, M, probs + (base + i0 + k) * M);
    dgpg_categorical_block(seed, env_offset + (uint32_t)e, step, i0, N, M, probs + base * M,
                           actions + base);
    for (int32_t k = 0; k < 4 && i0 + k < N; k++) {
        int64_t d = base + i0 + k;
        logp[d] = (float)((double)logits[d * M + actions[d]] - log_z[k]);
    }
}

/* The guidance term of decision d (before scaling), by form:
 *   cv:      A~_i(a) = -<g, e_a - p>, g = dC/dp_i: the first-order change
 *            of the model's return when agent i plays a instead of its
 *            mean action (a Q-Prop-style control variate);
 *   target:  ||p_i - p*||, whose square is the per-agent guidance size;
 *   descent: ||dC/dp_i||, likewise.
 * (dgpg's term, <x - x~, z_i>, comes from the model in the rollout.)
 * probs, grad_p: (M) of the decision; p_star: (M) of its sample. */
static inline DGPG_HD float train_guidance_term(int form, int32_t M, const float *probs,
                                                int32_t action, const float *grad_p,
                                                const float *p_star)
{
    double acc = 0.0;
    if (form == GUIDE_CV) {
        for (int32_t m = 0; m < M; m++)
            acc += (double)probs[m] * grad_p[m];
        return (float)(-((double)grad_p[action] - acc));
    }
    for (int32_t m = 0; m < M; m++) {
        double d = form == GUIDE_TARGET ? (double)probs[m] - p_star[m] : (double)grad_p[m];
        acc += d * d;
    }
    return (float)sqrt(acc);
}

/* The advantage fed to PPO with the guidance mixed in (docs/training.md):
 * dgpg (SPEC): A^DG = (1 - alpha) A - alpha <x - x~, z_i>;
 * cv: A - alpha A~(a), its expectation added back in the update. The
 * guidance term arrives already scaled to unit size. */
static inline DGPG_HD float train_mix(int form, float advantage, double guidance, double alpha)
{
    double a = advantage;
    return (float)(form == GUIDE_DGPG ? ppo_dgpg_advantage(a, guidance, alpha)
                                      : a - alpha * guidance);
}

/* The loss gradient at one decision's logits (M): PPO-clip plus the
 * guidance form's own term (target: alpha (p - p*); descent and cv: alpha
 * times the scaled dC/dp carried through the softmax). Descent uses its
 * own scale; cv the scale of its control variate A~ = -<g, e_a - p>, which
 * is linear in g, so that the term added back is exactly the expectation
 * of the one subtracted from the advantage (E_a[grad log p_a A~(a)] =
 * -grad <p, g>): unbiased. Probabilities are rounded to float as
 * nn_softmax rounds them. Returns the PPO loss. */
static inline DGPG_HD double train_decision_grad(int form, const float *logits, int32_t M,
                                                 int32_t action, double log_p_old,
                                                 double advantage, const float *p_star,
                                                 const float *grad_p, double grad_scale,
                                                 double alpha, double scale,
                                                 double entropy_coef, double clip, float *grad,
                                                 double *entropy, double *ratio, int *clipped)
{
    double loss = nn_ppo_policy_grad(logits, M, action, log_p_old, advantage, clip,
                                     entropy_coef, scale, grad, entropy, ratio, clipped);
    if (form != GUIDE_TARGET && form != GUIDE_DESCENT && form != GUIDE_CV)
        return loss;
    const double log_z = nn_log_sum_exp(logits, M), weight = alpha * scale;
    double mean = 0.0;
    if (form != GUIDE_TARGET)
        for (int32_t m = 0; m < M; m++) {
            float p = (float)exp((double)logits[m] - log_z);
            mean += (double)p * ((double)grad_p[m] * grad_scale);
        }
    for (int32_t m = 0; m < M; m++) {
        float p = (float)exp((double)logits[m] - log_z);
        double extra = form == GUIDE_TARGET
                           ? weight * ((double)p - (double)p_star[m])
                           : weight * (double)p * ((double)grad_p[m] * grad_scale - mean);
        grad[m] += (float)extra;
    }
    return loss;
}

#endif
