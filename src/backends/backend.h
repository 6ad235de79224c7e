/* backend.h — the handful of ops the training loop calls, with cuBLAS's
 * column-major argument conventions for GEMM, so the conventions that
 * would break on the GPU are exercised by the CPU tests too (SPEC,
 * Architecture). The CPU implementation (backend_cpu.c) is the reference:
 * GEMM through CBLAS with the same arguments, element-wise ops looping
 * over the kernels/ functions. A CUDA implementation maps each op 1:1 to
 * cuBLAS and to thin kernels over the same functions.
 *
 * Activations are (B, K, d) row-major: B samples, K networks (K = N
 * agents, or 1 when parameters are shared), d features; for network k that
 * is a column-major d x B matrix with leading dimension K * d. */
#ifndef DGPG_BACKEND_H
#define DGPG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

enum { DGPG_NOTRANS = 0, DGPG_TRANS = 1 };

typedef struct dgpg_backend dgpg_backend;

/* Creates the CPU backend with `threads` OpenMP threads (0: every core). */
dgpg_backend *dgpg_backend_cpu(int threads);
/* Creates the CUDA backend on `device` (cuBLAS handle and one stream; TF32
 * tensor-core GEMMs if tf32). Buffers handed to its ops are device memory.
 * NULL with one line in err where there is no such device or no CUDA in
 * this build. */
dgpg_backend *dgpg_backend_cuda(int device, int tf32, char *err, size_t err_len);
/* CUDA devices visible to this process (0 in a build without CUDA). */
int dgpg_backend_cuda_devices(void);
/* backend.kind as the commands read it: 1 for "cuda", and for "auto" where
 * a device is visible; 0 otherwise ("cpu", or "auto" without a device). */
int dgpg_backend_kind_is_cuda(const char *kind);
/* 1 for a CUDA backend, 0 for the CPU one. */
int dgpg_backend_is_cuda(const dgpg_backend *be);
/* Waits until every op issued on the backend has finished; 0 or -1. */
int dgpg_backend_sync(dgpg_backend *be);
void dgpg_backend_free(dgpg_backend *be);
int dgpg_backend_threads(const dgpg_backend *be);

/* This machine's SGEMM rate in GFLOP/s on the backend (CPU: its threads;
 * CUDA: the device): the best of a few large products, the yardstick for
 * the network math. */
double dgpg_backend_sgemm_peak(dgpg_backend *be);

/* Memory of the backend (host for the CPU one, device for CUDA): zeroed
 * allocation (NULL on failure), release, and copies from and to the host.
 * The copies return 0 or a negative error code. */
void *dgpg_backend_alloc(dgpg_backend *be, size_t bytes);
void dgpg_backend_release(dgpg_backend *be, void *p);
int dgpg_backend_upload(dgpg_backend *be, void *dst, const void *src, size_t bytes);
int dgpg_backend_download(dgpg_backend *be, void *dst, const void *src, size_t bytes);

/* Within the backend's memory: copy (no overlap) and zero-fill, ordered
 * with the backend's other ops. 0 or a negative error code. */
int dgpg_backend_copy(dgpg_backend *be, void *dst, const void *src, size_t bytes);
int dgpg_backend_zero(dgpg_backend *be, void *p, size_t bytes);
/* Sizes the device scratch that ops taking host arrays stage them in, so
 * that nothing is allocated once training runs (no-op on the CPU). */
int dgpg_backend_reserve(dgpg_backend *be, size_t doubles);
/* The backend's CUDA stream (a cudaStream_t), NULL for the CPU backend:
 * environments on the device run on it, so the run has one stream. */
void *dgpg_backend_stream(dgpg_backend *be);

/* Capturing work into a CUDA graph: what is enqueued between begin and
 * end is recorded, not run; end runs it once as one graph (run = 1; the
 * backend keeps the instantiated graph and updates it at the next
 * capture) or discards it (run = 0, after a failure). No-ops on the CPU
 * backend, where the work runs as it is enqueued. */
int dgpg_backend_capture_begin(dgpg_backend *be);
int dgpg_backend_capture_end(dgpg_backend *be, int run);

/* The CUDA path's process-wide counters: kernel launches (a cuBLAS call
 * counted once) and host waits (a synchronisation or a copy the host
 * waits for); both 0 without CUDA. */
void dgpg_backend_counters(uint64_t *launches, uint64_t *host_waits);

/* Where each network's slices lie in a flat parameter (or gradient)
 * vector of K networks: per linear layer l, the weights of network k at
 * weight_offset[l] + k weight_size[l], its biases at bias_offset[l] +
 * k bias_size[l] (src/train/mlp.h's layout). */
#define DGPG_NET_MAX_LAYERS 10
typedef struct dgpg_net_layout {
    int64_t K;
    int32_t layers;  /* linear layers */
    int64_t weight_offset[DGPG_NET_MAX_LAYERS], weight_size[DGPG_NET_MAX_LAYERS];
    int64_t bias_offset[DGPG_NET_MAX_LAYERS], bias_size[DGPG_NET_MAX_LAYERS];
} dgpg_net_layout;

/* out (K, host memory) = sum of squares of each network's part of x. */
int dgpg_net_sq_norms(dgpg_backend *be, const dgpg_net_layout *layout, const float *x,
                      double *out);
/* x *= scale[k] on each network's part (scale: K, host memory). */
int dgpg_net_scale(dgpg_backend *be, const dgpg_net_layout *layout, float *x,
                   const double *scale);
/* Gradient clipping on the backend, with no host transfer: each network's
 * part of x is scaled by train_clip_scale of its squared norm and
 * max_norm, and the mean over networks of the norms before clipping is
 * added to *norm_sum (one double in backend memory). */
int dgpg_net_clip(dgpg_backend *be, const dgpg_net_layout *layout, float *x, double max_norm,
                  double *norm_sum);
/* One Adam step (PyTorch's order of operations, betas 0.9 / 0.999) on n
 * parameters; `step` counts from 1. */
int dgpg_adam(dgpg_backend *be, int64_t n, float *params, float *m, float *v,
              const float *grads, double lr, double eps, int64_t step);

/* C_b = alpha op(A_b) op(B_b) + beta C_b for b in [0, batch), column-major,
 * X_b = X + b * strideX: cublasSgemmStridedBatched's contract. */
int dgpg_gemm_strided_batched(dgpg_backend *be, int transa, int transb, int m, int n, int k,
                              float alpha, const float *A, int lda, int64_t strideA,
                              const float *B, int ldb, int64_t strideB, float beta, float *C,
                              int ldc, int64_t strideC, int batch);

/* y[b, k, :] = tanh(y[b, k, :] + bias[k, :]) (tanh = 0: identity), over
 * (B, K, d). */
int dgpg_bias_act(dgpg_backend *be, int64_t B, int64_t K, int64_t d, const float *bias,
                   int tanh, float *y);

/* dz = dy * (1 - y^2): back through tanh, over n elements. */
int dgpg_tanh_backward(dgpg_backend *be, int64_t n, const float *y, const float *dy,
                        float *dz);

/* bias_grad[k, :] += sum_b dz[b, k, :] over (B, K, d). */
int dgpg_bias_grad(dgpg_backend *be, int64_t B, int64_t K, int64_t d, const float *dz,
                    float *bias_grad);

/* K networks of one MLP shape (src/train/mlp.h's layout): tanh after every
 * linear layer but the last; the activations of layer l at
 * acts + B K hidden l, inputs and activations (B, K, d) row-major. */
typedef struct dgpg_mlp_shape {
    int64_t K, hidden;
    int32_t linear; /* linear layers */
    int32_t d_in[DGPG_NET_MAX_LAYERS], d_out[DGPG_NET_MAX_LAYERS];
    int64_t weight_offset[DGPG_NET_MAX_LAYERS], bias_offset[DGPG_NET_MAX_LAYERS];
} dgpg_mlp_shape;

/* The whole forward (backward) pass of the K networks as one pass over
 * the networks, each thread running all layers of its networks in turn
 * (one parallel region instead of a few per layer, and each network's
 * activations still in cache from one layer to the next): the same
 * products and element-wise math as the layer-by-layer ops above (the
 * tanh backward vectorised, so equal to float rounding, not bitwise).
 * Returns 1 if it ran, 0 if this backend or shape has no
 * fused pass (the caller runs the layer-by-layer ops), -1 on failure.
 * backward: grads += the parameter gradient for upstream d_out (B, K,
 * d_out of the last layer); scratch holds the hidden layers' gradients. */
int dgpg_mlp_forward_fused(dgpg_backend *be, const dgpg_mlp_shape *shape, const float *params,
                           int64_t B, const float *x, float *acts);
int dgpg_mlp_backward_fused(dgpg_backend *be, const dgpg_mlp_shape *shape, const float *params,
                            float *grads, int64_t B, const float *x, const float *acts,
                            const float *d_out, float *scratch);

#endif
