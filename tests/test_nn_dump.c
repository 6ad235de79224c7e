/* test_nn_dump.c — the network, PPO and optimiser math of dgpg on
 * fixed-seed random inputs, written with its inputs to one HDF5 file that
 * tests/test_nn_torch.py recomputes with PyTorch autograd in float64 (the
 * independent truth). This program checks nothing itself.
 *
 * Groups written (shapes with named dimensions; every dataset carries
 * units and description):
 *   /mlp_<case>_t<threads>  K MLPs: params (P), x (B*K, in), g (B*K, out),
 *                           out (B*K, out), grads (P) after one backward
 *                           with upstream g from zeroed grads, grads_twice
 *                           (P) after a second (backward accumulates)
 *   /ppo                    nn_ppo_policy_grad over R decisions of M logits
 *   /value_loss             ppo_value_loss for three Huber widths
 *   /gae                    ppo_gae along one trajectory of T steps
 *   /adam                   mlp_adam_step and ppo_adam over S steps
 *   /value_norm             ppo_value_norm_update / _moments per batch
 *   /guidance               nn_softmax, ppo_target_logit_grad,
 *                           ppo_prob_grad_to_logits
 * Usage: test_nn_dump OUT.h5 */
#include "backend.h"
#include "h5util.h"
#include "mlp.h"

#include "nn.h"
#include "ppo.h"
#include "rng.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_SEED 0x6e6e5f64756d70ull

/* every array draws from its own Philox stream (the env word of the key) */
static uint32_t dump_array_id;

/* out (n) uniform in (lo, hi) */
static void dump_uniform(int64_t n, double lo, double hi, double *out)
{
    const uint32_t id = dump_array_id++;
    for (int64_t i = 0; i < n; i += 4) {
        dgpg_u4 u = dgpg_uniform4(DUMP_SEED, (uint32_t)(i / 4), 0, id, DGPG_STREAM_POLICY, 0);
        for (int64_t j = 0; j < 4 && i + j < n; j++)
            out[i + j] = lo + (hi - lo) * u.u[j];
    }
}

static int dump_uniform_f(int64_t n, double lo, double hi, float *out)
{
    double *tmp = malloc(sizeof(double) * (size_t)n);
    if (!tmp)
        return -1;
    dump_uniform(n, lo, hi, tmp);
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)tmp[i];
    free(tmp);
    return 0;
}

/* Datasets of rank 1 (cols = 0) or 2 (rows, cols), units "1". */
static int put_f(hid_t g, const char *name, hsize_t rows, hsize_t cols, const float *data,
                 const char *description)
{
    hsize_t dims[2] = {rows, cols};
    return h5util_write_floats(g, name, cols ? 2 : 1, dims, data, "1", description);
}

static int put_d(hid_t g, const char *name, hsize_t rows, hsize_t cols, const double *data,
                 const char *description)
{
    hsize_t dims[2] = {rows, cols};
    return h5util_write_doubles(g, name, cols ? 2 : 1, dims, data, "1", description);
}

static int put_i(hid_t g, const char *name, hsize_t rows, const int64_t *data,
                 const char *description)
{
    hsize_t dims[1] = {rows};
    return h5util_write_int64s(g, name, 1, dims, data, "1", description);
}

/* a. K MLPs of one shape: forward, then backward twice with upstream g. */
static int dump_mlp(hid_t file, const char *name, int threads, int64_t K, int32_t in,
                    int32_t hidden, int32_t layers, int32_t out, int64_t B)
{
    dgpg_backend *be = dgpg_backend_cpu(threads);
    mlp net;
    if (!be || mlp_init(&net, be, K, in, hidden, layers, out) != 0) {
        dgpg_backend_free(be);
        return -1;
    }
    const int64_t P = net.n_params, nx = B * K * in, ny = B * K * out;
    const int64_t na = mlp_activation_size(&net, B);
    float *x = malloc(sizeof(float) * (size_t)nx), *g = malloc(sizeof(float) * (size_t)ny);
    float *dy = malloc(sizeof(float) * (size_t)ny);
    float *acts = malloc(sizeof(float) * (size_t)na), *scratch = malloc(sizeof(float) * (size_t)na);
    float *grads1 = malloc(sizeof(float) * (size_t)P);
    hid_t grp = H5I_INVALID_HID;
    int rc = -1;
    if (!be || !x || !g || !dy || !acts || !scratch || !grads1)
        goto done;
    if (dump_uniform_f(P, -0.5, 0.5, net.params) || dump_uniform_f(nx, -1.0, 1.0, x) ||
        dump_uniform_f(ny, -1.0, 1.0, g))
        goto done;
    const float *y = mlp_forward(&net, be, B, x, acts);
    if (!y)
        goto done;
    memset(net.grads, 0, sizeof(float) * (size_t)P);
    memcpy(dy, g, sizeof(float) * (size_t)ny);
    if (mlp_backward(&net, be, B, x, acts, dy, scratch) != 0)
        goto done;
    memcpy(grads1, net.grads, sizeof(float) * (size_t)P);
    memcpy(dy, g, sizeof(float) * (size_t)ny);
    if (mlp_backward(&net, be, B, x, acts, dy, scratch) != 0)
        goto done;
    char group[64];
    snprintf(group, sizeof group, "mlp_%s_t%d", name, threads);
    if ((grp = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    if (h5util_attr_int(grp, "K", K) || h5util_attr_int(grp, "in", in) ||
        h5util_attr_int(grp, "hidden", hidden) || h5util_attr_int(grp, "layers", layers) ||
        h5util_attr_int(grp, "out", out) || h5util_attr_int(grp, "B", B) ||
        h5util_attr_int(grp, "n_params", P) || h5util_attr_int(grp, "threads", threads))
        goto done;
    if (put_f(grp, "params", (hsize_t)P, 0, net.params, "flat parameters (P)") ||
        put_f(grp, "x", (hsize_t)(B * K), (hsize_t)in, x, "input (B, K, in) as (B*K, in)") ||
        put_f(grp, "g", (hsize_t)(B * K), (hsize_t)out, g,
              "upstream gradient (B, K, out) as (B*K, out)") ||
        put_f(grp, "out", (hsize_t)(B * K), (hsize_t)out, y,
              "mlp_forward output (B, K, out) as (B*K, out)") ||
        put_f(grp, "grads", (hsize_t)P, 0, grads1, "gradient after one mlp_backward (P)") ||
        put_f(grp, "grads_twice", (hsize_t)P, 0, net.grads,
              "gradient after two mlp_backward calls (P)"))
        goto done;
    rc = 0;
done:
    if (grp >= 0)
        H5Gclose(grp);
    free(x);
    free(g);
    free(dy);
    free(acts);
    free(scratch);
    free(grads1);
    mlp_free(&net); /* before its backend: the network's memory is the backend's */
    dgpg_backend_free(be);
    return rc;
}

/* b. PPO-clip policy loss over R decisions of M actions. log_p_old is set
 * from the current log p so that, by row i % 4, the ratio is inside the
 * clip range, above it, below it, or anywhere; the sign of the advantage
 * alternates with i / 4, so clipping is active on both sides for both
 * signs. */
#define PPO_R 20
#define PPO_M 5
static int dump_ppo(hid_t file)
{
    const double clip = 0.2, entropy_coef = 0.01, scale = 1.0 / PPO_R;
    float logits[PPO_R * PPO_M], grad[PPO_R * PPO_M];
    double u_action[PPO_R], u_shift[PPO_R], u_adv[PPO_R];
    double log_p_old[PPO_R], advantage[PPO_R], loss[PPO_R], entropy[PPO_R], ratio[PPO_R];
    int64_t action[PPO_R], clipped[PPO_R];
    if (dump_uniform_f(PPO_R * PPO_M, -2.0, 2.0, logits))
        return -1;
    dump_uniform(PPO_R, 0.0, 1.0, u_action);
    dump_uniform(PPO_R, -1.0, 1.0, u_shift);
    dump_uniform(PPO_R, 0.1, 2.0, u_adv);
    for (int i = 0; i < PPO_R; i++) {
        action[i] = (int64_t)(u_action[i] * PPO_M);
        double log_p = nn_log_prob_entropy(logits + i * PPO_M, PPO_M, (int32_t)action[i], NULL);
        /* ratio = exp(shift) */
        static const double shift_size[4] = {0.1, 0.5, -0.5, 0.6};
        double shift = i % 4 == 1 || i % 4 == 2 ? shift_size[i % 4] * (1.0 + 0.5 * fabs(u_shift[i]))
                                                : shift_size[i % 4] * u_shift[i];
        log_p_old[i] = log_p - shift;
        advantage[i] = (i / 4) % 2 ? -u_adv[i] : u_adv[i];
        int c;
        loss[i] = nn_ppo_policy_grad(logits + i * PPO_M, PPO_M, (int32_t)action[i], log_p_old[i],
                                     advantage[i], clip, entropy_coef, scale, grad + i * PPO_M,
                                     &entropy[i], &ratio[i], &c);
        clipped[i] = c;
    }
    hid_t grp = H5Gcreate2(file, "ppo", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return -1;
    int rc = h5util_attr_double(grp, "clip", clip) ||
             h5util_attr_double(grp, "entropy_coef", entropy_coef) ||
             h5util_attr_double(grp, "scale", scale) ||
             put_f(grp, "logits", PPO_R, PPO_M, logits, "logits (R, M)") ||
             put_i(grp, "action", PPO_R, action, "chosen action (R)") ||
             put_d(grp, "log_p_old", PPO_R, 0, log_p_old, "behaviour log-probability (R)") ||
             put_d(grp, "advantage", PPO_R, 0, advantage, "advantage (R)") ||
             put_d(grp, "loss", PPO_R, 0, loss, "PPO-clip loss with entropy bonus (R)") ||
             put_f(grp, "grad_logits", PPO_R, PPO_M, grad, "scale * dloss/dlogits (R, M)") ||
             put_d(grp, "entropy", PPO_R, 0, entropy, "policy entropy (R)") ||
             put_d(grp, "ratio", PPO_R, 0, ratio, "probability ratio (R)") ||
             put_i(grp, "clipped", PPO_R, clipped, "1 where |ratio - 1| > clip (R)");
    H5Gclose(grp);
    return rc ? -1 : 0;
}

/* c. Clipped value loss for Huber widths {0, 10, 0.3}. By i % 3 the new
 * value is inside the clip range, above it or below it; by (i / 3) % 2 the
 * error to the target is small (inside width 0.3) or up to 20 (outside
 * 0.3, and often outside 10). */
#define VL_R 30
#define VL_D 3
static int dump_value_loss(hid_t file)
{
    const double clip = 0.2, deltas[VL_D] = {0.0, 10.0, 0.3};
    double value[VL_R], value_old[VL_R], target[VL_R], u_diff[VL_R], u_small[VL_R], u_big[VL_R];
    double loss[VL_D * VL_R], grad[VL_D * VL_R];
    dump_uniform(VL_R, -1.0, 1.0, value_old);
    dump_uniform(VL_R, 0.0, 1.0, u_diff);
    dump_uniform(VL_R, -0.25, 0.25, u_small);
    dump_uniform(VL_R, -20.0, 20.0, u_big);
    for (int i = 0; i < VL_R; i++) {
        double diff = i % 3 == 0 ? 0.3 * (u_diff[i] - 0.5)
                                 : (i % 3 == 1 ? 1.0 : -1.0) * (0.25 + 1.25 * u_diff[i]);
        value[i] = value_old[i] + diff;
        target[i] = value[i] + ((i / 3) % 2 ? u_big[i] : u_small[i]);
    }
    for (int d = 0; d < VL_D; d++)
        for (int i = 0; i < VL_R; i++)
            loss[d * VL_R + i] = ppo_value_loss(value[i], value_old[i], target[i], clip, deltas[d],
                                                &grad[d * VL_R + i]);
    hid_t grp = H5Gcreate2(file, "value_loss", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return -1;
    int rc = h5util_attr_double(grp, "clip", clip) ||
             put_d(grp, "huber_delta", VL_D, 0, deltas, "Huber width, 0: squared error (D)") ||
             put_d(grp, "value", VL_R, 0, value, "new value prediction (R)") ||
             put_d(grp, "value_old", VL_R, 0, value_old, "value prediction at collection (R)") ||
             put_d(grp, "target", VL_R, 0, target, "return target (R)") ||
             put_d(grp, "loss", VL_D, VL_R, loss, "clipped value loss (D, R)") ||
             put_d(grp, "grad", VL_D, VL_R, grad, "dloss/dvalue (D, R)");
    H5Gclose(grp);
    return rc ? -1 : 0;
}

/* d. GAE along T steps with a bootstrap value V_T. */
#define GAE_T 12
static int dump_gae(hid_t file)
{
    const double gamma = 0.99, lambda = 0.95;
    float reward[GAE_T], value[GAE_T + 1], advantage[GAE_T], returns[GAE_T];
    if (dump_uniform_f(GAE_T, -1.0, 1.0, reward) || dump_uniform_f(GAE_T + 1, -2.0, 2.0, value))
        return -1;
    ppo_gae(GAE_T, 1, reward, 1, value, value[GAE_T], gamma, lambda, advantage, returns);
    hid_t grp = H5Gcreate2(file, "gae", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return -1;
    int rc = h5util_attr_double(grp, "gamma", gamma) ||
             h5util_attr_double(grp, "lambda", lambda) ||
             put_f(grp, "reward", GAE_T, 0, reward, "reward (T)") ||
             put_f(grp, "value", GAE_T + 1, 0, value, "value (T + 1), last is the bootstrap") ||
             put_f(grp, "advantage", GAE_T, 0, advantage, "GAE advantage (T)") ||
             put_f(grp, "returns", GAE_T, 0, returns, "advantage + value (T)");
    H5Gclose(grp);
    return rc ? -1 : 0;
}

/* e. Adam over S steps on P = 10 parameters: through mlp_adam_step (an MLP
 * with K = 2, in = 2, hidden = 1, layers = 1, out = 1 has exactly 10) and
 * through ppo_adam directly. Gradient magnitudes per parameter range from
 * 1 down to 1e-5 so that eps matters for some. */
#define ADAM_P 10
#define ADAM_S 7
static int dump_adam(hid_t file)
{
    const double lr = 5e-4, eps = 1e-5;
    static const double mag[5] = {1.0, 0.1, 1e-2, 1e-3, 1e-5};
    float init[ADAM_P], grads[ADAM_S * ADAM_P], after_mlp[ADAM_S * ADAM_P];
    float after[ADAM_S * ADAM_P], p[ADAM_P], m[ADAM_P] = {0}, v[ADAM_P] = {0};
    dgpg_backend *be = dgpg_backend_cpu(2);
    mlp net;
    if (!be || mlp_init(&net, be, 2, 2, 1, 1, 1) != 0 || net.n_params != ADAM_P) {
        dgpg_backend_free(be);
        return -1;
    }
    hid_t grp = H5I_INVALID_HID;
    int rc = -1;
    if (!be || dump_uniform_f(ADAM_P, -1.0, 1.0, init) ||
        dump_uniform_f(ADAM_S * ADAM_P, -1.0, 1.0, grads))
        goto done;
    for (int s = 0; s < ADAM_S; s++)
        for (int j = 0; j < ADAM_P; j++)
            grads[s * ADAM_P + j] = (float)(grads[s * ADAM_P + j] * mag[(j + s) % 5]);
    memcpy(net.params, init, sizeof init);
    memcpy(p, init, sizeof init);
    for (int s = 0; s < ADAM_S; s++) {
        memcpy(net.grads, grads + s * ADAM_P, sizeof(float) * ADAM_P);
        mlp_adam_step(&net, lr, eps);
        memcpy(after_mlp + s * ADAM_P, net.params, sizeof(float) * ADAM_P);
        for (int j = 0; j < ADAM_P; j++)
            ppo_adam(&p[j], &m[j], &v[j], grads[s * ADAM_P + j], lr, 0.9, 0.999, eps, s + 1);
        memcpy(after + s * ADAM_P, p, sizeof p);
    }
    if ((grp = H5Gcreate2(file, "adam", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    if (h5util_attr_double(grp, "lr", lr) || h5util_attr_double(grp, "eps", eps) ||
        h5util_attr_double(grp, "beta1", 0.9) || h5util_attr_double(grp, "beta2", 0.999) ||
        put_f(grp, "init", ADAM_P, 0, init, "parameters before the first step (P)") ||
        put_f(grp, "grads", ADAM_S, ADAM_P, grads, "gradient of each step (S, P)") ||
        put_f(grp, "params_mlp", ADAM_S, ADAM_P, after_mlp,
              "parameters after each mlp_adam_step (S, P)") ||
        put_f(grp, "params", ADAM_S, ADAM_P, after, "parameters after each ppo_adam (S, P)") ||
        put_f(grp, "m", ADAM_P, 0, m, "first moment after the last step (P)") ||
        put_f(grp, "v", ADAM_P, 0, v, "second moment after the last step (P)"))
        goto done;
    rc = 0;
done:
    if (grp >= 0)
        H5Gclose(grp);
    mlp_free(&net); /* before its backend: the network's memory is the backend's */
    dgpg_backend_free(be);
    return rc;
}

/* f. ValueNorm over batches of returns of different scales; the first
 * batch's variance is below the floor 1e-2. */
#define VN_BATCHES 5
#define VN_N 40
static int dump_value_norm(hid_t file)
{
    static const double scale[VN_BATCHES] = {0.1, 10.0, 1.0, 100.0, 3.0};
    static const double offset[VN_BATCHES] = {0.5, -3.0, 20.0, 0.0, 7.0};
    double returns[VN_BATCHES * VN_N], mean[VN_BATCHES], sd[VN_BATCHES];
    ppo_value_norm vn = {0.0, 0.0, 0.0};
    for (int b = 0; b < VN_BATCHES; b++) {
        double *r = returns + b * VN_N, s = 0.0, s2 = 0.0;
        dump_uniform(VN_N, -0.5, 0.5, r);
        for (int i = 0; i < VN_N; i++) {
            r[i] = offset[b] + scale[b] * r[i];
            s += r[i];
            s2 += r[i] * r[i];
        }
        ppo_value_norm_update(&vn, s / VN_N, s2 / VN_N);
        ppo_value_norm_moments(&vn, &mean[b], &sd[b]);
    }
    hid_t grp = H5Gcreate2(file, "value_norm", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return -1;
    int rc = put_d(grp, "returns", VN_BATCHES, VN_N, returns, "returns of each batch (NB, N)") ||
             put_d(grp, "mean", VN_BATCHES, 0, mean, "debiased running mean after each (NB)") ||
             put_d(grp, "sd", VN_BATCHES, 0, sd, "debiased running sd after each (NB)");
    H5Gclose(grp);
    return rc ? -1 : 0;
}

/* g. Guidance helpers on R rows of M probabilities. */
#define GD_R 8
#define GD_M 6
static int dump_guidance(hid_t file)
{
    const double scale = 0.37;
    float logits[GD_R * GD_M], probs[GD_R * GD_M], target_grad[GD_R * GD_M];
    float prob_grad[GD_R * GD_M];
    double log_z[GD_R], p_star[GD_R * GD_M], grad_p[GD_R * GD_M];
    if (dump_uniform_f(GD_R * GD_M, -3.0, 3.0, logits))
        return -1;
    dump_uniform(GD_R * GD_M, 0.0, 1.0, p_star);
    dump_uniform(GD_R * GD_M, -2.0, 2.0, grad_p);
    for (int r = 0; r < GD_R; r++) {
        double sum = 0.0;
        for (int m = 0; m < GD_M; m++)
            sum += p_star[r * GD_M + m];
        for (int m = 0; m < GD_M; m++)
            p_star[r * GD_M + m] /= sum;
        log_z[r] = nn_softmax(logits + r * GD_M, GD_M, probs + r * GD_M);
        ppo_target_logit_grad(probs + r * GD_M, p_star + r * GD_M, GD_M, scale,
                              target_grad + r * GD_M);
        ppo_prob_grad_to_logits(probs + r * GD_M, grad_p + r * GD_M, GD_M, scale,
                                prob_grad + r * GD_M);
    }
    hid_t grp = H5Gcreate2(file, "guidance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return -1;
    int rc = h5util_attr_double(grp, "scale", scale) ||
             put_f(grp, "logits", GD_R, GD_M, logits, "logits (R, M)") ||
             put_f(grp, "probs", GD_R, GD_M, probs, "nn_softmax probabilities (R, M)") ||
             put_d(grp, "log_z", GD_R, 0, log_z, "nn_softmax log-partition (R)") ||
             put_d(grp, "p_star", GD_R, GD_M, p_star, "target distribution (R, M)") ||
             put_d(grp, "grad_p", GD_R, GD_M, grad_p, "gradient w.r.t. probabilities (R, M)") ||
             put_f(grp, "target_grad", GD_R, GD_M, target_grad,
                   "ppo_target_logit_grad output (R, M)") ||
             put_f(grp, "prob_grad", GD_R, GD_M, prob_grad,
                   "ppo_prob_grad_to_logits output (R, M)");
    H5Gclose(grp);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.h5\n", argv[0]);
        return 2;
    }
    h5util_init();
    hid_t file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        fprintf(stderr, "test_nn_dump: cannot create %s\n", argv[1]);
        return 1;
    }
    int rc = 0;
    /* threads 1 and 4: the CPU backend splits a single GEMM over threads */
    for (int threads = 1; threads <= 4; threads += 3) {
        rc = rc || dump_mlp(file, "per_agent", threads, 3, 5, 7, 2, 4, 6);
        rc = rc || dump_mlp(file, "shared", threads, 1, 5, 7, 2, 4, 6 * 3);
        rc = rc || dump_mlp(file, "layers1", threads, 3, 5, 7, 1, 4, 6);
        rc = rc || dump_mlp(file, "layers3", threads, 2, 3, 6, 3, 2, 5);
        /* widths >= 16 run on libxsmm's JIT kernels (backend_cpu.c), the
         * narrow ones above on OpenBLAS: both paths against autograd */
        rc = rc || dump_mlp(file, "wide", threads, 4, 20, 32, 2, 8, 24);
        rc = rc || dump_mlp(file, "wide_shared", threads, 1, 20, 32, 2, 8, 24 * 4);
    }
    rc = rc || dump_ppo(file) || dump_value_loss(file) || dump_gae(file) || dump_adam(file) ||
         dump_value_norm(file) || dump_guidance(file);
    if (H5Fclose(file) < 0)
        rc = 1;
    if (rc) {
        fprintf(stderr, "test_nn_dump: writing %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
