/* ppo.h — per-element math of PPO and of DG-PG's guidance, shared by the
 * CPU and CUDA backends: GAE, the clipped value loss, Adam, the running
 * value normaliser (as the MAPPO reference's ValueNorm), the guidance
 * weight schedule and the per-agent guidance terms of SPEC, "The guidance". */
#ifndef DGPG_KERNELS_PPO_H
#define DGPG_KERNELS_PPO_H

#include "hd.h"

#include <math.h>

/* GAE(gamma, lambda) along one trajectory of T steps with stride `stride`
 * between consecutive steps: delta_t = r_t + gamma V_{t+1} - V_t,
 * A_t = delta_t + gamma lambda A_{t+1}; the episode is cut by the time
 * limit, not terminated, so V_T (bootstrap) closes it. returns = A + V.
 * The values are taken as value_scale v + value_shift: the critic predicts
 * normalised values, and GAE needs them in reward units. */
static inline DGPG_HD void ppo_gae_affine(int64_t T, int64_t stride, const float *reward,
                                          int64_t reward_stride, const float *value,
                                          double value_scale, double value_shift,
                                          double bootstrap, double gamma, double lambda,
                                          float *advantage, float *returns)
{
    double next_value = bootstrap, next_adv = 0.0;
    for (int64_t t = T - 1; t >= 0; t--) {
        double v = (double)value[t * stride] * value_scale + value_shift;
        double delta = (double)reward[t * reward_stride] + gamma * next_value - v;
        next_adv = delta + gamma * lambda * next_adv;
        advantage[t * stride] = (float)next_adv;
        returns[t * stride] = (float)(next_adv + v);
        next_value = v;
    }
}

static inline DGPG_HD void ppo_gae(int64_t T, int64_t stride, const float *reward,
                                   int64_t reward_stride, const float *value,
                                   float bootstrap, double gamma, double lambda,
                                   float *advantage, float *returns)
{
    ppo_gae_affine(T, stride, reward, reward_stride, value, 1.0, 0.0, (double)bootstrap, gamma,
                   lambda, advantage, returns);
}

/* Clipped value loss of one sample (MAPPO): v_c = v_old + clip(v - v_old,
 * -eps, eps), L = max(l(v - R), l(v_c - R)) with l the Huber loss of width
 * delta (delta = 0: squared error / 2). Returns L; *grad = dL/dv. */
static inline DGPG_HD double ppo_huber(double e, double delta, double *d)
{
    if (delta <= 0.0 || fabs(e) <= delta) {
        *d = e;
        return 0.5 * e * e;
    }
    *d = e > 0 ? delta : -delta;
    return delta * (fabs(e) - 0.5 * delta);
}

static inline DGPG_HD double ppo_value_loss(double value, double value_old, double target,
                                            double clip, double huber_delta, double *grad)
{
    double diff = value - value_old;
    double clipped = value_old + (diff < -clip ? -clip : (diff > clip ? clip : diff));
    double d_plain, d_clipped;
    double loss_plain = ppo_huber(value - target, huber_delta, &d_plain);
    double loss_clipped = ppo_huber(clipped - target, huber_delta, &d_clipped);
    int inside = diff >= -clip && diff <= clip;
    if (loss_plain >= loss_clipped) {
        *grad = d_plain;
        return loss_plain;
    }
    *grad = inside ? d_clipped : 0.0;
    return loss_clipped;
}

/* Adam (Kingma & Ba), in PyTorch's order of operations so the two agree
 * to rounding: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static inline DGPG_HD void ppo_adam(float *param, float *m, float *v, float grad, double lr,
                                    double beta1, double beta2, double eps, int64_t step)
{
    double bias1 = 1.0 - pow(beta1, (double)step), bias2 = 1.0 - pow(beta2, (double)step);
    double mm = beta1 * (double)*m + (1.0 - beta1) * (double)grad;
    double vv = beta2 * (double)*v + (1.0 - beta2) * (double)grad * (double)grad;
    *m = (float)mm;
    *v = (float)vv;
    double denom = sqrt((double)*v) / sqrt(bias2) + eps;
    *param = (float)((double)*param - lr / bias1 * (double)*m / denom);
}

/* Running value normaliser (the MAPPO reference's ValueNorm): exponential
 * moving moments with weight beta, debiased; variance floored at 1e-2. */
typedef struct ppo_value_norm {
    double mean, mean_sq, debias;
} ppo_value_norm;

#define PPO_VALUE_NORM_BETA 0.99999
#define PPO_VALUE_NORM_EPS 1e-5

static inline DGPG_HD void ppo_value_norm_update(ppo_value_norm *vn, double batch_mean,
                                                 double batch_mean_sq)
{
    const double beta = PPO_VALUE_NORM_BETA;
    vn->mean = beta * vn->mean + (1.0 - beta) * batch_mean;
    vn->mean_sq = beta * vn->mean_sq + (1.0 - beta) * batch_mean_sq;
    vn->debias = beta * vn->debias + (1.0 - beta);
}

static inline DGPG_HD void ppo_value_norm_moments(const ppo_value_norm *vn, double *mean,
                                                  double *sd)
{
    double d = vn->debias > PPO_VALUE_NORM_EPS ? vn->debias : PPO_VALUE_NORM_EPS;
    double mu = vn->mean / d, var = vn->mean_sq / d - mu * mu;
    *mean = mu;
    *sd = sqrt(var > 1e-2 ? var : 1e-2);
}

/* Guidance weight of episode k of K (SPEC: constant, linear, exponential
 * decay to a floor; default linear 0.9 -> 0.2 over training). */
enum ppo_alpha_schedule { PPO_ALPHA_CONSTANT, PPO_ALPHA_LINEAR, PPO_ALPHA_EXPONENTIAL };

static inline DGPG_HD double ppo_alpha(int schedule, double start, double end, double decay,
                                       int64_t episode, int64_t episodes)
{
    switch (schedule) {
    case PPO_ALPHA_LINEAR: {
        double frac = episodes > 1 ? (double)episode / (double)(episodes - 1) : 1.0;
        return start + (end - start) * (frac < 1.0 ? frac : 1.0);
    }
    case PPO_ALPHA_EXPONENTIAL: {
        double a = start * pow(decay, (double)episode);
        return a > end ? a : end;
    }
    default:
        return start;
    }
}

/* guide = dgpg (SPEC): A_i^DG = (1 - alpha) A_i - alpha <x_t - x~_t, z_t^i>,
 * both terms already scaled to unit size (docs/training.md, "Scaling"). */
static inline DGPG_HD double ppo_dgpg_advantage(double advantage, double influence,
                                                double alpha)
{
    return (1.0 - alpha) * advantage - alpha * influence;
}

#endif
