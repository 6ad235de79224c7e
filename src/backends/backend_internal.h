/* backend_internal.h — what backend.c dispatches to: the CPU backend's ops
 * (backend_cpu.c, activation_cpu.c) and the CUDA backend's
 * (kernels/backend_cuda.cu). Internal names carry the dgpg__ prefix. */
#ifndef DGPG_BACKEND_INTERNAL_H
#define DGPG_BACKEND_INTERNAL_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dgpg__cuda_backend;

struct dgpg_backend {
    int threads;                      /* CPU threads (the CUDA backend's host side too) */
    struct dgpg__cuda_backend *cuda;  /* NULL: the CPU backend */
};

void dgpg__cpu_init(void);
double dgpg__cpu_sgemm_peak(int threads);
int dgpg__cpu_gemm_strided_batched(int threads, int transa, int transb, int m, int n, int k,
                                   float alpha, const float *A, int lda, int64_t strideA,
                                   const float *B, int ldb, int64_t strideB, float beta,
                                   float *C, int ldc, int64_t strideC, int batch);
int dgpg__cpu_bias_act(int threads, int64_t B, int64_t K, int64_t d, const float *bias,
                       int tanh, float *y);
int dgpg__cpu_tanh_backward(int threads, int64_t n, const float *y, const float *dy, float *dz);
int dgpg__cpu_bias_grad(int threads, int64_t B, int64_t K, int64_t d, const float *dz,
                        float *bias_grad);
/* dgpg__cpu_bias_act on one network's rows only (rows of d at stride ld),
 * on the calling thread */
void dgpg__cpu_bias_act_rows(int64_t B, int64_t ld, int64_t d, const float *bias, int tanh,
                             float *y);
void dgpg__cpu_tanh_backward_rows(int64_t B, int64_t ld, int64_t d, const float *y, float *dz);
void dgpg__cpu_bias_grad_rows(int64_t B, int64_t ld, int64_t d, const float *dz,
                              float *bias_grad);
int dgpg__cpu_mlp_forward(int threads, const dgpg_mlp_shape *shape, const float *params,
                          int64_t B, const float *x, float *acts);
int dgpg__cpu_mlp_backward(int threads, const dgpg_mlp_shape *shape, const float *params,
                           float *grads, int64_t B, const float *x, const float *acts,
                           const float *d_out, float *scratch);

int dgpg__cpu_net_sq_norms(const dgpg_net_layout *layout, const float *x, double *out);
int dgpg__cpu_net_scale(const dgpg_net_layout *layout, float *x, const double *scale);
int dgpg__cpu_net_clip(dgpg_backend *be, const dgpg_net_layout *layout, float *x, double max_norm,
                       double *norm_sum);
int dgpg__cpu_adam(int threads, int64_t n, float *params, float *m, float *v, const float *grads,
                   double lr, double eps, int64_t step);

void *dgpg__cuda_alloc(struct dgpg__cuda_backend *cb, size_t bytes);
void dgpg__cuda_release(struct dgpg__cuda_backend *cb, void *p);
int dgpg__cuda_copy(struct dgpg__cuda_backend *cb, void *dst, const void *src, size_t bytes,
                    int to_device);
int dgpg__cuda_net_sq_norms(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout,
                            const float *x, double *out);
int dgpg__cuda_net_scale(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout, float *x,
                         const double *scale);
int dgpg__cuda_net_clip(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout, float *x,
                        double max_norm, double *norm_sum);
int dgpg__cuda_adam(struct dgpg__cuda_backend *cb, int64_t n, float *params, float *m, float *v,
                    const float *grads, double lr, double eps, int64_t step);
int dgpg__cuda_devices(void);
int dgpg__cuda_capture_begin(struct dgpg__cuda_backend *cb);
int dgpg__cuda_capture_end(struct dgpg__cuda_backend *cb, int run);
void dgpg__cuda_counters(unsigned long long *launches, unsigned long long *host_waits);
void *dgpg__cuda_stream(struct dgpg__cuda_backend *cb); /* a cudaStream_t */
double *dgpg__cuda_scratch(struct dgpg__cuda_backend *cb, size_t doubles);
int dgpg__cuda_copy_device(struct dgpg__cuda_backend *cb, void *dst, const void *src,
                           size_t bytes);
int dgpg__cuda_zero(struct dgpg__cuda_backend *cb, void *p, size_t bytes);
struct dgpg__cuda_backend *dgpg__cuda_create(int device, int tf32, char *err, size_t err_len);
void dgpg__cuda_free(struct dgpg__cuda_backend *cb);
int dgpg__cuda_sync(struct dgpg__cuda_backend *cb);
double dgpg__cuda_sgemm_peak(struct dgpg__cuda_backend *cb);
int dgpg__cuda_gemm_strided_batched(struct dgpg__cuda_backend *cb, int transa, int transb, int m,
                                    int n, int k, float alpha, const float *A, int lda,
                                    int64_t strideA, const float *B, int ldb, int64_t strideB,
                                    float beta, float *C, int ldc, int64_t strideC, int batch);
int dgpg__cuda_bias_act(struct dgpg__cuda_backend *cb, int64_t B, int64_t K, int64_t d,
                        const float *bias, int tanh, float *y);
int dgpg__cuda_tanh_backward(struct dgpg__cuda_backend *cb, int64_t n, const float *y,
                             const float *dy, float *dz);
int dgpg__cuda_bias_grad(struct dgpg__cuda_backend *cb, int64_t B, int64_t K, int64_t d,
                         const float *dz, float *bias_grad);

#ifdef __cplusplus
}
#endif

#endif
