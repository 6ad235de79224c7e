/* mlp.h — K multilayer perceptrons of one shape evaluated as one batch:
 * the per-agent actor (K = N, or 1 with shared parameters), the IPPO critic
 * (K = N) and the MAPPO critic (K = 1). in -> hidden (tanh) x layers -> out.
 *
 * Parameters live in one flat float vector (so that Adam, snapshots and
 * checkpoints see one array): for each layer l, W_l (K, d_out, d_in) with
 * each W column-major d_out x d_in, then b_l (K, d_out). Activations are
 * (B, K, d) row-major (backend.h). */
#ifndef DGPG_MLP_H
#define DGPG_MLP_H

#include "backend.h"

#include <stdint.h>

#define MLP_MAX_LAYERS DGPG_NET_MAX_LAYERS

typedef struct mlp {
    dgpg_backend *be;                  /* whose memory params, grads, Adam state are */
    int64_t K;                         /* networks */
    int32_t in, hidden, layers, out;   /* layers = hidden layers */
    int64_t n_params;                  /* total floats over all K networks */
    int64_t weight_offset[MLP_MAX_LAYERS]; /* per linear layer (layers + 1) */
    int64_t bias_offset[MLP_MAX_LAYERS];
    int32_t d_in[MLP_MAX_LAYERS], d_out[MLP_MAX_LAYERS];
    float *params, *grads, *adam_m, *adam_v; /* (n_params) each */
    int64_t adam_step;
} mlp;

/* Sizes a network; allocates params, grads and Adam state in the
 * backend's memory (host for the CPU, device for CUDA). 0 or -1. */
int mlp_init(mlp *net, dgpg_backend *be, int64_t K, int32_t in, int32_t hidden, int32_t layers,
             int32_t out);
void mlp_free(mlp *net);

/* Orthogonal initialisation as in the MAPPO reference: each W_l an
 * orthogonal matrix (QR of a Gaussian, signs fixed by diag(R)) times
 * `gain` (hidden layers) or `out_gain` (last layer); biases 0. Gaussians
 * from Philox keyed by (seed, network, layer). 0 or -1 (LAPACK failure). */
int mlp_init_orthogonal(mlp *net, uint64_t seed, double gain, double out_gain);

/* Floats of activation buffer needed for B samples (all layers + output). */
int64_t mlp_activation_size(const mlp *net, int64_t B);

/* Forward over B samples: x (B, K, in) -> acts (internal layout) and
 * returns a pointer into acts to the output (B, K, out). */
float *mlp_forward(const mlp *net, dgpg_backend *be, int64_t B, const float *x, float *acts);

/* Backward: given d_out (B, K, out) (overwritten as scratch), accumulates
 * parameter gradients into net->grads. scratch needs
 * mlp_activation_size(net, B) floats. */
int mlp_backward(mlp *net, dgpg_backend *be, int64_t B, const float *x, const float *acts,
                 float *d_out, float *scratch);

/* Where each network's slices lie in the flat vectors (backend.h). */
dgpg_net_layout mlp_layout(const mlp *net);

/* Sum of squared gradients of each network k (out: K, host memory). */
int mlp_grad_sq_norms(const mlp *net, double *out);

/* Scales network k's gradients by scale[k] (host memory). */
int mlp_grad_scale(mlp *net, const double *scale);

/* Clips each network's gradient to norm max_norm on the backend and adds
 * the mean of the norms before clipping to *norm_sum (backend memory). */
int mlp_grad_clip(mlp *net, double max_norm, double *norm_sum);

/* One Adam step on every parameter (increments adam_step). */
int mlp_adam_step(mlp *net, double lr, double eps);

#endif
