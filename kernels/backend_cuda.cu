/* backend_cuda.cu — the CUDA backend's ops (src/backends/backend.h): the per-agent
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
#include "ppo.h"
#include "train_math.h"

#include <cub/block/block_reduce.cuh>
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
    double *per_net;         /* (per_net_size) device scratch for per-network sums and scales */
    int64_t per_net_size;
    double *scratch;         /* (scratch_size) device scratch of the trainer's ops (train_cuda.cu) */
    size_t scratch_size;
    void *cublas_workspace;  /* cuBLAS's own, set once, so that a capture allocates nothing */
    cudaGraphExec_t step_graph; /* the rollout step's, updated at every capture */
};

/* cuBLAS's workspace: 32 MiB, what it asks for on Hopper. */
#define CUDA_CUBLAS_WORKSPACE ((size_t)32 << 20)

/* One Adam step per parameter (kernels/ppo.h, as the CPU backend). */
__global__ void cuda_adam_kernel(int64_t n, float *param, float *m, float *v, const float *grad,
                                 double lr, double eps, int64_t step)
{
    int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n)
        ppo_adam(&param[k], &m[k], &v[k], grad[k], lr, 0.9, 0.999, eps, step);
}

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
                                           : CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS ||
        cudaMalloc(&cb->cublas_workspace, CUDA_CUBLAS_WORKSPACE) != cudaSuccess ||
        cublasSetWorkspace(cb->cublas, cb->cublas_workspace, CUDA_CUBLAS_WORKSPACE) !=
            CUBLAS_STATUS_SUCCESS) {
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
    if (cb->per_net)
        cudaFree(cb->per_net);
    if (cb->scratch)
        cudaFree(cb->scratch);
    if (cb->step_graph)
        cudaGraphExecDestroy(cb->step_graph);
    if (cb->cublas)
        cublasDestroy(cb->cublas);
    if (cb->cublas_workspace)
        cudaFree(cb->cublas_workspace);
    if (cb->stream)
        cudaStreamDestroy(cb->stream);
    free(cb);
}

unsigned long long dgpg__cuda_launches, dgpg__cuda_host_waits;
int dgpg__cuda_capturing;

extern "C" void dgpg__cuda_counters(unsigned long long *launches, unsigned long long *host_waits)
{
    *launches = dgpg__cuda_launches;
    *host_waits = dgpg__cuda_host_waits;
}

/* The rollout step as a CUDA graph (backend.cuda_graph): the step's work
 * is captured from the stream (relaxed mode: nothing in it waits on the
 * host), the one instantiated graph is updated with it (the topology is
 * the same every step; the kernel arguments change: the step, the
 * buffers' offsets) or instantiated anew, and launched once. */
extern "C" int dgpg__cuda_capture_begin(struct dgpg__cuda_backend *cb)
{
    CUDA_CHECK(cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeRelaxed));
    dgpg__cuda_capturing = 1;
    return 0;
}

extern "C" int dgpg__cuda_capture_end(struct dgpg__cuda_backend *cb, int run)
{
    cudaGraph_t graph = NULL;
    cudaError_t rc = cudaStreamEndCapture(cb->stream, &graph);
    dgpg__cuda_capturing = 0;
    if (!run) { /* the step failed while it was captured: nothing runs */
        if (graph)
            cudaGraphDestroy(graph);
        cudaGetLastError();
        return 0;
    }
    if (rc != cudaSuccess) {
        fprintf(stderr, "dgpg: backend.cuda_graph = true: the rollout step could not be "
                "captured as a CUDA graph (%s: something in it waits on the host or is not "
                "capturable); allowed: backend.cuda_graph = false\n", cudaGetErrorString(rc));
        return -7;
    }
    if (cb->step_graph) {
        cudaGraphExecUpdateResultInfo info;
        if (cudaGraphExecUpdate(cb->step_graph, graph, &info) != cudaSuccess) {
            cudaGetLastError(); /* a changed topology: instantiate anew */
            cudaGraphExecDestroy(cb->step_graph);
            cb->step_graph = NULL;
        }
    }
    if (!cb->step_graph && cudaGraphInstantiate(&cb->step_graph, graph, 0) != cudaSuccess) {
        fprintf(stderr, "dgpg: backend.cuda_graph = true: instantiating the rollout step's "
                "graph failed (%s); allowed: backend.cuda_graph = false\n",
                cudaGetErrorString(cudaGetLastError()));
        cudaGraphDestroy(graph);
        cb->step_graph = NULL;
        return -7;
    }
    cudaGraphDestroy(graph);
    DGPG_LAUNCHED(1);
    CUDA_CHECK(cudaGraphLaunch(cb->step_graph, cb->stream));
    return 0;
}

extern "C" int dgpg__cuda_sync(struct dgpg__cuda_backend *cb)
{
    DGPG_HOST_WAITED();
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
    DGPG_LAUNCHED(1);
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

/* Many rows, few columns (shared parameters: K = 1 network over B = E N
 * samples' rows): one block per column, its threads over the rows in
 * double, a CUB block reduction. The order differs from the CPU's
 * sequential float sum: within its rounding (test_gpu_backend_parity
 * compares both with a double sum). */
#define BIAS_ROWS_BLOCK 256
__global__ void cuda_bias_grad_rows_kernel(int64_t B, int64_t cols, const float *dz,
                                           float *bias_grad)
{
    typedef cub::BlockReduce<double, BIAS_ROWS_BLOCK> reduce;
    __shared__ typename reduce::TempStorage temp;
    const int64_t c = blockIdx.x;
    double sum = 0.0;
    for (int64_t b = threadIdx.x; b < B; b += blockDim.x)
        sum += (double)dz[b * cols + c];
    const double total = reduce(temp).Sum(sum);
    if (threadIdx.x == 0)
        bias_grad[c] = (float)((double)bias_grad[c] + total);
}

extern "C" int dgpg__cuda_bias_act(struct dgpg__cuda_backend *cb, int64_t B, int64_t K,
                                   int64_t d, const float *bias, int tanh_on, float *y)
{
    const int block = 256;
    int64_t total = B * K * d;
    if (total <= 0)
        return 0; /* a grid of no blocks is an error to CUDA, nothing to do to us */
    DGPG_LAUNCHED(1);
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
    DGPG_LAUNCHED(1);
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
    /* few columns and many rows: a thread per column would walk every row
     * alone (shared parameters: `hidden` threads over E N rows) */
    if (B >= 1024 && K * d <= 4096) {
        DGPG_LAUNCHED(1);
        cuda_bias_grad_rows_kernel<<<(unsigned)(K * d), BIAS_ROWS_BLOCK, 0, cb->stream>>>(
            B, K * d, dz, bias_grad);
        CUDA_CHECK(cudaGetLastError());
        return 0;
    }
    DGPG_LAUNCHED(1);
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

extern "C" void *dgpg__cuda_alloc(struct dgpg__cuda_backend *cb, size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess ||
        cudaMemsetAsync(p, 0, bytes, cb->stream) != cudaSuccess ||
        cudaStreamSynchronize(cb->stream) != cudaSuccess) {
        fprintf(stderr, "dgpg: CUDA allocation of %zu bytes failed: %s\n", bytes,
                cudaGetErrorString(cudaGetLastError()));
        if (p)
            cudaFree(p);
        return NULL;
    }
    return p;
}

extern "C" void dgpg__cuda_release(struct dgpg__cuda_backend *cb, void *p)
{
    (void)cb;
    cudaFree(p);
}

/* Host <-> device, finished on return (the host buffer may be reused). */
extern "C" int dgpg__cuda_copy(struct dgpg__cuda_backend *cb, void *dst, const void *src,
                               size_t bytes, int to_device)
{
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes,
                               to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost,
                               cb->stream));
    DGPG_HOST_WAITED();
    CUDA_CHECK(cudaStreamSynchronize(cb->stream));
    return 0;
}

/* The per-network scratch, grown (once, in practice: on the first update)
 * to K doubles. */
static int cuda_per_net(struct dgpg__cuda_backend *cb, int64_t K)
{
    if (cb->per_net_size >= K)
        return 0;
    if (cb->per_net)
        CUDA_CHECK(cudaFree(cb->per_net));
    cb->per_net = NULL;
    CUDA_CHECK(cudaMalloc((void **)&cb->per_net, sizeof(double) * (size_t)K));
    cb->per_net_size = K;
    return 0;
}

/* One block per network: its squares over every layer, a CUB block
 * reduction (the order differs from the CPU's loop only in rounding). */
#define NET_NORM_BLOCK 256
__global__ void cuda_net_sq_norm_kernel(dgpg_net_layout layout, const float *x, double *out)
{
    typedef cub::BlockReduce<double, NET_NORM_BLOCK> reduce;
    __shared__ typename reduce::TempStorage temp;
    const int64_t k = blockIdx.x;
    double sum = 0.0;
    for (int l = 0; l < layout.layers; l++) {
        const float *w = x + layout.weight_offset[l] + k * layout.weight_size[l];
        const float *b = x + layout.bias_offset[l] + k * layout.bias_size[l];
        for (int64_t j = threadIdx.x; j < layout.weight_size[l]; j += blockDim.x)
            sum += (double)w[j] * w[j];
        for (int64_t j = threadIdx.x; j < layout.bias_size[l]; j += blockDim.x)
            sum += (double)b[j] * b[j];
    }
    double total = reduce(temp).Sum(sum);
    if (threadIdx.x == 0)
        out[k] = total;
}

/* x[offset + k size + j] *= scale[k] over one block of K slices. */
__global__ void cuda_slice_scale_kernel(int64_t K, int64_t size, float *x, const double *scale)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < K * size)
        x[idx] = (float)(x[idx] * scale[idx / size]);
}

/* Each network's slices of x scaled by its factor in cb->per_net (device). */
static int cuda_scale_by_per_net(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout,
                                 float *x)
{
    const int block = 256;
    for (int l = 0; l < layout->layers; l++) {
        int64_t w = layout->K * layout->weight_size[l], b = layout->K * layout->bias_size[l];
        if (w > 0) {
            DGPG_LAUNCHED(1);
            cuda_slice_scale_kernel<<<(unsigned)DGPG_CEIL_DIV(w, block), block, 0, cb->stream>>>(
                layout->K, layout->weight_size[l], x + layout->weight_offset[l], cb->per_net);
        }
        if (b > 0) {
            DGPG_LAUNCHED(1);
            cuda_slice_scale_kernel<<<(unsigned)DGPG_CEIL_DIV(b, block), block, 0, cb->stream>>>(
                layout->K, layout->bias_size[l], x + layout->bias_offset[l], cb->per_net);
        }
        CUDA_CHECK(cudaGetLastError());
    }
    return 0;
}

/* Each network's sum of squares of x into cb->per_net (device, K). */
static int cuda_sq_norms_to_per_net(struct dgpg__cuda_backend *cb,
                                    const dgpg_net_layout *layout, const float *x)
{
    if (cuda_per_net(cb, layout->K))
        return -7;
    DGPG_LAUNCHED(1);
    cuda_net_sq_norm_kernel<<<(unsigned)layout->K, NET_NORM_BLOCK, 0, cb->stream>>>(
        *layout, x, cb->per_net);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" int dgpg__cuda_net_sq_norms(struct dgpg__cuda_backend *cb,
                                       const dgpg_net_layout *layout, const float *x,
                                       double *out)
{
    if (layout->K <= 0)
        return 0;
    if (cuda_sq_norms_to_per_net(cb, layout, x))
        return -7;
    return dgpg__cuda_copy(cb, out, cb->per_net, sizeof(double) * (size_t)layout->K, 0);
}

extern "C" int dgpg__cuda_net_scale(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout,
                                    float *x, const double *scale)
{
    if (layout->K <= 0)
        return 0;
    if (cuda_per_net(cb, layout->K) ||
        dgpg__cuda_copy(cb, cb->per_net, scale, sizeof(double) * (size_t)layout->K, 1))
        return -7;
    return cuda_scale_by_per_net(cb, layout, x);
}

/* From each network's squared norm in place, its clipping scale
 * (train_clip_scale), and the mean of the norms added to *norm_sum: one
 * block, the networks' norms summed in index order as the CPU does. */
__global__ void cuda_clip_scales_kernel(int64_t K, double max_norm, double *per_net,
                                        double *norm_sum)
{
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        double total = 0.0;
        for (int64_t k = 0; k < K; k++) {
            total += sqrt(per_net[k]);
            per_net[k] = train_clip_scale(per_net[k], max_norm);
        }
        *norm_sum += total / (double)K;
    }
}

extern "C" int dgpg__cuda_net_clip(struct dgpg__cuda_backend *cb, const dgpg_net_layout *layout,
                                   float *x, double max_norm, double *norm_sum)
{
    if (layout->K <= 0)
        return 0;
    if (cuda_sq_norms_to_per_net(cb, layout, x))
        return -7;
    DGPG_LAUNCHED(1);
    cuda_clip_scales_kernel<<<1, 32, 0, cb->stream>>>(layout->K, max_norm, cb->per_net,
                                                      norm_sum);
    CUDA_CHECK(cudaGetLastError());
    return cuda_scale_by_per_net(cb, layout, x);
}

extern "C" int dgpg__cuda_adam(struct dgpg__cuda_backend *cb, int64_t n, float *params,
                               float *m, float *v, const float *grads, double lr, double eps,
                               int64_t step)
{
    if (n <= 0)
        return 0; /* no blocks: an error to CUDA, nothing to do here */
    const int block = 256;
    DGPG_LAUNCHED(1);
    cuda_adam_kernel<<<(unsigned)DGPG_CEIL_DIV(n, block), block, 0, cb->stream>>>(
        n, params, m, v, grads, lr, eps, step);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

extern "C" void *dgpg__cuda_stream(struct dgpg__cuda_backend *cb)
{
    return (void *)cb->stream;
}

/* The trainer's device scratch, grown to `doubles` (the trainer reserves it
 * before its first episode, so nothing is allocated inside the loop). */
extern "C" double *dgpg__cuda_scratch(struct dgpg__cuda_backend *cb, size_t doubles)
{
    if (cb->scratch_size >= doubles)
        return cb->scratch;
    if (cb->scratch && cudaFree(cb->scratch) != cudaSuccess)
        return NULL;
    cb->scratch = NULL;
    cb->scratch_size = 0;
    cudaError_t rc = cudaMalloc((void **)&cb->scratch, sizeof(double) * doubles);
    if (rc != cudaSuccess) {
        fprintf(stderr, "dgpg: CUDA scratch of %zu doubles failed: %s\n", doubles,
                cudaGetErrorString(rc));
        cb->scratch = NULL;
        return NULL;
    }
    cb->scratch_size = doubles;
    return cb->scratch;
}

/* Device to device, ordered on the stream (no host wait). */
extern "C" int dgpg__cuda_copy_device(struct dgpg__cuda_backend *cb, void *dst, const void *src,
                                      size_t bytes)
{
    if (bytes == 0)
        return 0;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cb->stream));
    return 0;
}

extern "C" int dgpg__cuda_zero(struct dgpg__cuda_backend *cb, void *p, size_t bytes)
{
    if (bytes == 0)
        return 0;
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cb->stream));
    return 0;
}

/* Devices visible to this process; 0 where the driver reports none. */
extern "C" int dgpg__cuda_devices(void)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no device" error */
        return 0;
    }
    return devices;
}
