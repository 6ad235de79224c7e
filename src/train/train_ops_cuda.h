/* train_ops_cuda.h — the CUDA launchers of train_ops.h
 * (kernels/train_cuda.cu), on the backend's stream; arguments as there. */
#ifndef DGPG_TRAIN_OPS_CUDA_H
#define DGPG_TRAIN_OPS_CUDA_H

#include "backend_internal.h"
#include "train_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dgpg__cuda_backend;
int dgpg__cuda_train_sample(struct dgpg__cuda_backend *cb, int64_t E, int32_t N, int32_t M,
                            uint64_t seed, uint32_t env_offset, uint64_t step, const float *logits, float *probs,
                            int32_t *actions, float *logp);
int dgpg__cuda_train_gae(struct dgpg__cuda_backend *cb, int64_t T, int64_t E, int64_t V,
                         const float *rewards, const float *values, const double *value_scale,
                         const double *value_shift, double gamma, double lambda,
                         float *advantages, float *returns);
int dgpg__cuda_train_column_sums(struct dgpg__cuda_backend *cb, int64_t rows, int64_t cols,
                                 const float *x, double *sum, double *sum_sq);
int dgpg__cuda_train_column_standardize(struct dgpg__cuda_backend *cb, int64_t rows,
                                        int64_t cols, float *x, const double *mean,
                                        const double *sd);
int dgpg__cuda_train_advantage(struct dgpg__cuda_backend *cb, int64_t S, int64_t N, int64_t V,
                               const float *adv_raw, double mean, double scale, float *adv);
int dgpg__cuda_train_guidance_term(struct dgpg__cuda_backend *cb, int form, int64_t S,
                                   int64_t N, int32_t M, const float *probs,
                                   const int32_t *actions, const float *grad_p,
                                   const float *p_star, float *guidance);
int dgpg__cuda_train_mix(struct dgpg__cuda_backend *cb, int form, int64_t n,
                         const float *guidance, double scale, double alpha, float *adv);
int dgpg__cuda_train_gather(struct dgpg__cuda_backend *cb, int64_t B, int64_t row,
                            const int64_t *samples, const float *src, float *dst);
int dgpg__cuda_train_policy_grad(struct dgpg__cuda_backend *cb, const train_policy_args *args,
                                 float *d_logits, double *decision_stats, double *stats);
int dgpg__cuda_train_value_grad(struct dgpg__cuda_backend *cb, int64_t B, int64_t V,
                                const int64_t *samples, const float *v, const float *values_old,
                                const float *returns, double clip, double huber_delta,
                                double coef_scale, float *d_value, double *sample_loss,
                                double *loss_sum);
int dgpg__cuda_train_accumulate(struct dgpg__cuda_backend *cb, int64_t n, const float *g,
                                double *sum, double *sum_sq);
int dgpg__cuda_train_variance_finish(struct dgpg__cuda_backend *cb, int64_t n, int64_t G,
                                     double *sum, double *sum_sq);
int dgpg__cuda_train_net_sums(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout,
                              const double *x, double *out);
int dgpg__cuda_train_first_nonfinite(struct dgpg__cuda_backend *cb, const float *x, int64_t n,
                                     int64_t *at);

#ifdef __cplusplus
}
#endif

#endif
