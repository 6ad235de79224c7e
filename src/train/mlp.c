/* mlp.c — see mlp.h. Every layer of all K networks is one strided-batched
 * GEMM (K = 1: one plain GEMM over all B samples). */
#include "mlp.h"

#include "../../kernels/rng.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int mlp_init(mlp *net, dgpg_backend *be, int64_t K, int32_t in, int32_t hidden, int32_t layers,
             int32_t out)
{
    memset(net, 0, sizeof *net);
    if (K < 1 || in < 1 || hidden < 1 || layers < 1 || layers + 1 > MLP_MAX_LAYERS || out < 1)
        return -1;
    net->be = be;
    net->K = K;
    net->in = in;
    net->hidden = hidden;
    net->layers = layers;
    net->out = out;
    int64_t offset = 0;
    for (int l = 0; l <= layers; l++) {
        net->d_in[l] = l == 0 ? in : hidden;
        net->d_out[l] = l == layers ? out : hidden;
        net->weight_offset[l] = offset;
        offset += K * net->d_out[l] * net->d_in[l];
        net->bias_offset[l] = offset;
        offset += K * net->d_out[l];
    }
    net->n_params = offset;
    size_t bytes = sizeof(float) * (size_t)offset;
    net->params = dgpg_backend_alloc(be, bytes);
    net->grads = dgpg_backend_alloc(be, bytes);
    net->adam_m = dgpg_backend_alloc(be, bytes);
    net->adam_v = dgpg_backend_alloc(be, bytes);
    if (!net->params || !net->grads || !net->adam_m || !net->adam_v) {
        mlp_free(net);
        return -1;
    }
    return 0;
}

void mlp_free(mlp *net)
{
    if (!net->be)
        return;
    dgpg_backend_release(net->be, net->params);
    dgpg_backend_release(net->be, net->grads);
    dgpg_backend_release(net->be, net->adam_m);
    dgpg_backend_release(net->be, net->adam_v);
    net->params = net->grads = net->adam_m = net->adam_v = NULL;
}

/* The per-network layout of the flat vectors, for the backend's ops. */
dgpg_net_layout mlp_layout(const mlp *net)
{
    dgpg_net_layout layout;
    memset(&layout, 0, sizeof layout);
    layout.K = net->K;
    layout.layers = net->layers + 1;
    for (int l = 0; l <= net->layers; l++) {
        layout.weight_offset[l] = net->weight_offset[l];
        layout.weight_size[l] = (int64_t)net->d_out[l] * net->d_in[l];
        layout.bias_offset[l] = net->bias_offset[l];
        layout.bias_size[l] = net->d_out[l];
    }
    return layout;
}

/* W (rows x cols, column-major) = gain * an orthogonal matrix: QR of a
 * Gaussian matrix of the taller shape, Q's columns scaled by sign(diag R)
 * so the result is uniformly distributed (as torch.nn.init.orthogonal_). */
static int mlp_orthogonal(float *W, int32_t rows, int32_t cols, double gain, uint64_t seed,
                          uint32_t net_index, uint32_t layer)
{
    int32_t tall = rows > cols ? rows : cols, wide = rows > cols ? cols : rows;
    double *a = malloc(sizeof(double) * (size_t)tall * (size_t)wide);
    double *tau = malloc(sizeof(double) * (size_t)wide);
    double *sign = malloc(sizeof(double) * (size_t)wide);
    int rc = -1;
    if (!a || !tau || !sign)
        goto done;
    const double two_pi = 6.283185307179586476925286766559;
    for (int64_t j = 0; j < (int64_t)tall * wide; j += 2) {
        dgpg_u4 u = dgpg_uniform4(seed, net_index, (uint64_t)(j / 2), layer,
                                  DGPG_STREAM_SCENARIO, 2);
        double r = sqrt(-2.0 * log(u.u[0]));
        a[j] = r * cos(two_pi * u.u[1]);
        if (j + 1 < (int64_t)tall * wide)
            a[j + 1] = r * sin(two_pi * u.u[1]);
    }
    /* a is tall x wide, column-major */
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, tall, wide, a, tall, tau) != 0)
        goto done;
    for (int32_t j = 0; j < wide; j++)
        sign[j] = a[(int64_t)j * tall + j] < 0.0 ? -1.0 : 1.0;
    if (LAPACKE_dorgqr(LAPACK_COL_MAJOR, tall, wide, wide, a, tall, tau) != 0)
        goto done;
    /* Q (tall x wide) with orthonormal columns; W is Q or its transpose */
    for (int32_t r = 0; r < rows; r++)
        for (int32_t c = 0; c < cols; c++) {
            double q = rows >= cols ? a[(int64_t)c * tall + r] * sign[c]
                                    : a[(int64_t)r * tall + c] * sign[r];
            W[(int64_t)c * rows + r] = (float)(gain * q);
        }
    rc = 0;
done:
    free(a);
    free(tau);
    free(sign);
    return rc;
}

int mlp_init_orthogonal(mlp *net, uint64_t seed, double gain, double out_gain)
{
    /* built on the host, then copied into the backend's memory */
    float *host = calloc((size_t)net->n_params, sizeof(float));
    int rc = host ? 0 : -1;
    for (int l = 0; rc == 0 && l <= net->layers; l++) {
        int64_t size = (int64_t)net->d_out[l] * net->d_in[l];
        for (int64_t k = 0; rc == 0 && k < net->K; k++)
            rc = mlp_orthogonal(host + net->weight_offset[l] + k * size, net->d_out[l],
                                net->d_in[l], l == net->layers ? out_gain : gain, seed,
                                (uint32_t)k, (uint32_t)l);
    }
    if (rc == 0)
        rc = dgpg_backend_upload(net->be, net->params, host,
                                 sizeof(float) * (size_t)net->n_params) == 0 ? 0 : -1;
    free(host);
    return rc;
}

int64_t mlp_activation_size(const mlp *net, int64_t B)
{
    return B * net->K * ((int64_t)net->hidden * net->layers + net->out);
}

/* Activation of layer l (l = 0 .. layers): layers of width hidden, then out. */
static float *mlp_act(const mlp *net, float *acts, int64_t B, int l)
{
    return acts + B * net->K * (int64_t)net->hidden * l;
}

/* One linear layer for all K networks: y (B, K, d_out) = W x (B, K, d_in). */
static int mlp_linear(const mlp *net, dgpg_backend *be, int l, int64_t B, const float *x,
                      float *y)
{
    const int64_t K = net->K;
    const int32_t di = net->d_in[l], dout = net->d_out[l];
    const float *W = net->params + net->weight_offset[l];
    if (K == 1)
        return dgpg_gemm_strided_batched(be, DGPG_NOTRANS, DGPG_NOTRANS, dout, (int)B, di, 1.0f,
                                         W, dout, 0, x, di, 0, 0.0f, y, dout, 0, 1);
    return dgpg_gemm_strided_batched(be, DGPG_NOTRANS, DGPG_NOTRANS, dout, (int)B, di, 1.0f, W,
                                     dout, (int64_t)dout * di, x, (int)(K * di), di, 0.0f, y,
                                     (int)(K * dout), dout, (int)K);
}

/* The shape the backend's fused passes take. */
static dgpg_mlp_shape mlp_shape(const mlp *net)
{
    dgpg_mlp_shape s;
    memset(&s, 0, sizeof s);
    s.K = net->K;
    s.hidden = net->hidden;
    s.linear = net->layers + 1;
    for (int l = 0; l <= net->layers; l++) {
        s.d_in[l] = net->d_in[l];
        s.d_out[l] = net->d_out[l];
        s.weight_offset[l] = net->weight_offset[l];
        s.bias_offset[l] = net->bias_offset[l];
    }
    return s;
}

float *mlp_forward(const mlp *net, dgpg_backend *be, int64_t B, const float *x, float *acts)
{
    const dgpg_mlp_shape shape = mlp_shape(net);
    int fused = dgpg_mlp_forward_fused(be, &shape, net->params, B, x, acts);
    if (fused < 0)
        return NULL;
    if (fused)
        return mlp_act(net, acts, B, net->layers);
    const float *input = x;
    for (int l = 0; l <= net->layers; l++) {
        float *y = mlp_act(net, acts, B, l);
        if (mlp_linear(net, be, l, B, input, y) != 0 ||
            dgpg_bias_act(be, B, net->K, net->d_out[l], net->params + net->bias_offset[l],
                          l < net->layers, y) != 0)
            return NULL;
        input = y;
    }
    return mlp_act(net, acts, B, net->layers);
}

int mlp_backward(mlp *net, dgpg_backend *be, int64_t B, const float *x, const float *acts,
                 float *d_out, float *scratch)
{
    const dgpg_mlp_shape shape = mlp_shape(net);
    int fused = dgpg_mlp_backward_fused(be, &shape, net->params, net->grads, B, x, acts, d_out,
                                        scratch);
    if (fused != 0)
        return fused > 0 ? 0 : -1;
    const int64_t K = net->K;
    float *dz = d_out; /* gradient at layer l's pre-activation */
    for (int l = net->layers; l >= 0; l--) {
        const int32_t di = net->d_in[l], dout = net->d_out[l];
        const float *input = l == 0 ? x : mlp_act(net, (float *)acts, B, l - 1);
        float *dW = net->grads + net->weight_offset[l];
        const float *W = net->params + net->weight_offset[l];
        int rc;
        /* dW_k += dz_k input_k^T: (dout x B)(B x di) */
        if (K == 1)
            rc = dgpg_gemm_strided_batched(be, DGPG_NOTRANS, DGPG_TRANS, dout, di, (int)B, 1.0f,
                                           dz, dout, 0, input, di, 0, 1.0f, dW, dout, 0, 1);
        else
            rc = dgpg_gemm_strided_batched(be, DGPG_NOTRANS, DGPG_TRANS, dout, di, (int)B, 1.0f,
                                           dz, (int)(K * dout), dout, input, (int)(K * di), di,
                                           1.0f, dW, dout, (int64_t)dout * di, (int)K);
        if (rc != 0)
            return -1;
        if (dgpg_bias_grad(be, B, K, dout, dz, net->grads + net->bias_offset[l]) != 0)
            return -1;
        if (l == 0)
            break;
        /* d input_k = W_k^T dz_k: (di x dout)(dout x B), then back through tanh */
        float *d_input = mlp_act(net, scratch, B, l - 1);
        if (K == 1)
            rc = dgpg_gemm_strided_batched(be, DGPG_TRANS, DGPG_NOTRANS, di, (int)B, dout, 1.0f,
                                           W, dout, 0, dz, dout, 0, 0.0f, d_input, di, 0, 1);
        else
            rc = dgpg_gemm_strided_batched(be, DGPG_TRANS, DGPG_NOTRANS, di, (int)B, dout, 1.0f,
                                           W, dout, (int64_t)dout * di, dz, (int)(K * dout), dout,
                                           0.0f, d_input, (int)(K * di), di, (int)K);
        if (rc != 0)
            return -1;
        if (dgpg_tanh_backward(be, B * K * di, input, d_input, d_input) != 0)
            return -1;
        dz = d_input;
    }
    return 0;
}

int mlp_grad_sq_norms(const mlp *net, double *out)
{
    dgpg_net_layout layout = mlp_layout(net);
    return dgpg_net_sq_norms(net->be, &layout, net->grads, out);
}

int mlp_grad_scale(mlp *net, const double *scale)
{
    dgpg_net_layout layout = mlp_layout(net);
    return dgpg_net_scale(net->be, &layout, net->grads, scale);
}

int mlp_grad_clip(mlp *net, double max_norm, double *norm_sum)
{
    dgpg_net_layout layout = mlp_layout(net);
    return dgpg_net_clip(net->be, &layout, net->grads, max_norm, norm_sum);
}

int mlp_adam_step(mlp *net, double lr, double eps)
{
    net->adam_step++;
    return dgpg_adam(net->be, net->n_params, net->params, net->adam_m, net->adam_v, net->grads,
                     lr, eps, net->adam_step);
}
