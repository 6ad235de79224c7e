/* backend_cuda.cu — the CUDA backend's ops (src/backend.h): the per-agent
 * GEMMs as one cublasSgemmStridedBatched each (FP32, or TF32 tensor cores
 * with backend tf32), and thin kernels for the element-wise ops over
 * kernels/nn.h: bias + tanh, back through tanh, bias gradients. One
 * cuBLAS handle on one stream per backend.
 *
 * Status: compiled (warnings as errors, sm_80 and sm_90); not yet run on a
 * GPU (docs/gpu.md). tests/test_gpu_backend_parity.c compares every op with
 * the CPU backend and skips itself where no device is present. */
#include "backend_internal.h"
#include "cuda_check.h"
#include "nn.h"

#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>

/* cuBLAS calls: the failing expression, file:line and cuBLAS's own text. */
#define CUBLAS_CHECK(expr)                                                                \
    do {                                                                                  \
        cublasStatus_t cublas_check_status_ = (expr);                                     \
        if (cublas_check_status_ != CUBLAS_STATUS_SUCCESS) {                              \
            fprintf(stderr, "dgpg: cuBLAS call failed: %s at %s:%d: %s\n", #expr,         \
                    __FILE__, __LINE__, cublasGetStatusString(cublas_check_status_));     \
            return -7; /* DGPG_EBACKEND */                                                \
        }                                                                                 \
    } while (0)

struct dgpg__cuda_backend {
    int device;
    cudaStream_t stream;
    cublasHandle_t cublas;
};

extern "C" struct dgpg__cuda_backend *dgpg__cuda_create(int device, int tf32, char *err,
                                                       size_t err_len)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || device < 0 || device >= devices) {
        cudaGetLastError();
        snprintf(err, err_len, "backend.kind = 'cuda': device %d is not visible (%d devices); "
                 "allowed: cpu, or a machine with a CUDA device", device, devices);
        return NULL;
    }
    struct dgpg__cuda_backend *cb =
        (struct dgpg__cuda_backend *)calloc(1, sizeof(struct dgpg__cuda_backend));
    if (!cb) {
        snprintf(err, err_len, "backend: out of host memory");
        return NULL;
    }
    cb->device = device;
    if (cudaSetDevice(device) != cudaSuccess ||
        cudaStreamCreate(&cb->stream) != cudaSuccess || /* ordered with the default stream */
        cublasCreate(&cb->cublas) != CUBLAS_STATUS_SUCCESS ||
        cublasSetStream(cb->cublas, cb->stream) != CUBLAS_STATUS_SUCCESS ||
        cublasSetMathMode(cb->cublas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                           : CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, err_len, "backend.kind = 'cuda': creating the stream or the cuBLAS "
                 "handle on device %d failed (last CUDA error: %s)", device,
                 cudaGetErrorString(cudaGetLastError()));
        dgpg__cuda_free(cb);
        return NULL;
    }
    return cb;
}

extern "C" void dgpg__cuda_free(struct dgpg__cuda_backend *cb)
{
    if (!cb)
        return;
    if (cb->cublas)
        cublasDestroy(cb->cublas);
    if (cb->stream)
        cudaStreamDestroy(cb->stream);
    free(cb);
}

extern "C" int dgpg__cuda_sync(struct dgpg__cuda_backend *cb)
{
    CUDA_CHECK(cudaStreamSynchronize(cb->stream));
    return 0;
}

static cublasOperation_t cuda_op(int t)
{
    return t == DGPG_TRANS ? CUBLAS_OP_T : CUBLAS_OP_N;
}

extern "C" int dgpg__cuda_gemm_strided_batched(struct dgpg__cuda_backend *cb, int transa,
                                               int transb, int m, int n, int k, float alpha,
                                               const float *A, int lda, int64_t strideA,
                                               const float *B, int ldb, int64_t strideB,
                                               float beta, float *C, int ldc, int64_t strideC,
                                               int batch)
{
    if (m == 0 || n == 0 || batch == 0)
        return 0;
    CUBLAS_CHECK(cublasSgemmStridedBatched(cb->cublas, cuda_op(transa), cuda_op(transb), m, n, k,
                                           &alpha, A, lda, strideA, B, ldb, strideB, &beta, C,
                                           ldc, strideC, batch));
    return 0;
}

__global__ void cuda_bias_act_kernel(int64_t total, int64_t K, int64_t d, const float *bias,
                                     int tanh_on, float *y)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total)
        return;
    int64_t j = idx % d, k = (idx / d) % K;
    float v = y[idx] + bias[k * d + j];
    y[idx] = tanh_on ? nn_tanh(v) : v;
}

__global__ void cuda_tanh_backward_kernel(int64_t n, const float *y, const float *dy, float *dz)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < n)
        dz[idx] = dy[idx] * nn_tanh_grad(y[idx]);
}

/* One thread per (network, feature): adds the B samples into the gradient
 * one by one in sample order, as the CPU backend does, so the two agree
 * bitwise (no atomics). */
__global__ void cuda_bias_grad_kernel(int64_t B, int64_t K, int64_t d, const float *dz,
                                      float *bias_grad)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= K * d)
        return;
    float sum = bias_grad[idx];
    for (int64_t b = 0; b < B; b++)
        sum += dz[b * K * d + idx];
    bias_grad[idx] = sum;
}

extern "C" int dgpg__cuda_bias_act(struct dgpg__cuda_backend *cb, int64_t B, int64_t K,
                                   int64_t d, const float *bias, int tanh_on, float *y)
{
    const int block = 256;
    int64_t total = B * K * d;
    if (total <= 0)
        return 0; /* a grid of no blocks is an error to CUDA, nothing to do to us */
    cuda_bias_act_kernel<<<(unsigned)DGPG_CEIL_DIV(total, block), block, 0, cb->stream>>>(
        total, K, d, bias, tanh_on, y);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int dgpg__cuda_tanh_backward(struct dgpg__cuda_backend *cb, int64_t n,
                                        const float *y, const float *dy, float *dz)
{
    const int block = 256;
    if (n <= 0)
        return 0;
    cuda_tanh_backward_kernel<<<(unsigned)DGPG_CEIL_DIV(n, block), block, 0, cb->stream>>>(
        n, y, dy, dz);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int dgpg__cuda_bias_grad(struct dgpg__cuda_backend *cb, int64_t B, int64_t K,
                                    int64_t d, const float *dz, float *bias_grad)
{
    const int block = 128;
    if (K * d <= 0)
        return 0;
    cuda_bias_grad_kernel<<<(unsigned)DGPG_CEIL_DIV(K * d, block), block, 0, cb->stream>>>(
        B, K, d, dz, bias_grad);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

/* The best of a few 8192^3 SGEMMs on the backend's stream, timed with events. */
extern "C" double dgpg__cuda_sgemm_peak(struct dgpg__cuda_backend *cb)
{
    const int n = 8192;
    float *a = NULL, *b = NULL, *c = NULL;
    cudaEvent_t start = NULL, stop = NULL;
    double best = 0.0;
    const float one = 1.0f, zero = 0.0f;
    size_t bytes = sizeof(float) * (size_t)n * n;
    if (cudaMalloc((void **)&a, bytes) == cudaSuccess &&
        cudaMalloc((void **)&b, bytes) == cudaSuccess &&
        cudaMalloc((void **)&c, bytes) == cudaSuccess &&
        cudaMemsetAsync(a, 0, bytes, cb->stream) == cudaSuccess &&
        cudaMemsetAsync(b, 0, bytes, cb->stream) == cudaSuccess &&
        cudaEventCreate(&start) == cudaSuccess && cudaEventCreate(&stop) == cudaSuccess) {
        for (int rep = 0; rep < 4; rep++) {
            float ms = 0.0f;
            if (cudaEventRecord(start, cb->stream) != cudaSuccess ||
                cublasSgemm(cb->cublas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n,
                            &zero, c, n) != CUBLAS_STATUS_SUCCESS ||
                cudaEventRecord(stop, cb->stream) != cudaSuccess ||
                cudaEventSynchronize(stop) != cudaSuccess ||
                cudaEventElapsedTime(&ms, start, stop) != cudaSuccess)
                break;
            double rate = 2.0 * n * (double)n * n / (1e-3 * ms) * 1e-9;
            best = rate > best ? rate : best;
        }
    }
    cudaGetLastError(); /* a failed allocation here must not blame a later launch */
    if (start)
        cudaEventDestroy(start);
    if (stop)
        cudaEventDestroy(stop);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return best;
}
