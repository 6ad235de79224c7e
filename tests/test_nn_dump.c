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
 *   /ppo, /ppo_m40          nn_ppo_policy_grad and nn_softmax over R
 *                           decisions of M = 5 and M = 40 logits (40: past
 *                           the exps nn.h keeps, NN_EXP_CACHE)
 *   /value_loss             ppo_value_loss for three Huber widths
 *   /gae                    ppo_gae along one trajectory of T steps
 *   /adam                   mlp_adam_step and ppo_adam over S steps
 *   /value_norm             ppo_value_norm_update / _moments per batch
 *   /train_policy_<form>    the trainer's policy step for each algo.guide
 *                           form: train_op_sample, train_op_guidance_term,
 *                           train_op_mix, train_op_policy_grad
 *   /train_gae_v<V>         train_op_gae over (T, E, V), V = N and 1
 *   /train_variance         train_op_accumulate / _variance_finish on
 *                           gradients of known covariance, train_op_net_sums
 * Usage: test_nn_dump OUT.h5 */
#include "backend.h"
#include "h5util.h"
#include "mlp.h"

#include "nn.h"
#include "ppo.h"
#include "rng.h"
#include "train_math.h"
#include "train_ops.h"

#include <hdf5.h>
#include <math.h>
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
#define PPO_M_MAX 40
static int dump_ppo(hid_t file, const char *name, int M)
{
    const double clip = 0.2, entropy_coef = 0.01, scale = 1.0 / PPO_R;
    float logits[PPO_R * PPO_M_MAX], grad[PPO_R * PPO_M_MAX], probs[PPO_R * PPO_M_MAX];
    double u_action[PPO_R], u_shift[PPO_R], u_adv[PPO_R], log_z[PPO_R];
    double log_p_old[PPO_R], advantage[PPO_R], loss[PPO_R], entropy[PPO_R], ratio[PPO_R];
    int64_t action[PPO_R], clipped[PPO_R];
    if (M > PPO_M_MAX || dump_uniform_f(PPO_R * M, -2.0, 2.0, logits))
        return -1;
    dump_uniform(PPO_R, 0.0, 1.0, u_action);
    dump_uniform(PPO_R, -1.0, 1.0, u_shift);
    dump_uniform(PPO_R, 0.1, 2.0, u_adv);
    for (int i = 0; i < PPO_R; i++) {
        action[i] = (int64_t)(u_action[i] * M);
        double log_p = nn_log_prob_entropy(logits + i * M, M, (int32_t)action[i], NULL);
        /* ratio = exp(shift) */
        static const double shift_size[4] = {0.1, 0.5, -0.5, 0.6};
        double shift = i % 4 == 1 || i % 4 == 2 ? shift_size[i % 4] * (1.0 + 0.5 * fabs(u_shift[i]))
                                                : shift_size[i % 4] * u_shift[i];
        log_p_old[i] = log_p - shift;
        advantage[i] = (i / 4) % 2 ? -u_adv[i] : u_adv[i];
        int c;
        loss[i] = nn_ppo_policy_grad(logits + i * M, M, (int32_t)action[i], log_p_old[i],
                                     advantage[i], clip, entropy_coef, scale, grad + i * M,
                                     &entropy[i], &ratio[i], &c);
        clipped[i] = c;
        log_z[i] = nn_softmax(logits + i * M, M, probs + i * M);
    }
    hid_t grp = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return -1;
    int rc = h5util_attr_double(grp, "clip", clip) ||
             h5util_attr_double(grp, "entropy_coef", entropy_coef) ||
             h5util_attr_double(grp, "scale", scale) ||
             put_f(grp, "logits", PPO_R, M, logits, "logits (R, M)") ||
             put_i(grp, "action", PPO_R, action, "chosen action (R)") ||
             put_d(grp, "log_p_old", PPO_R, 0, log_p_old, "behaviour log-probability (R)") ||
             put_d(grp, "advantage", PPO_R, 0, advantage, "advantage (R)") ||
             put_d(grp, "loss", PPO_R, 0, loss, "PPO-clip loss with entropy bonus (R)") ||
             put_f(grp, "grad_logits", PPO_R, M, grad, "scale * dloss/dlogits (R, M)") ||
             put_d(grp, "entropy", PPO_R, 0, entropy, "policy entropy (R)") ||
             put_d(grp, "ratio", PPO_R, 0, ratio, "probability ratio (R)") ||
             put_i(grp, "clipped", PPO_R, clipped, "1 where |ratio - 1| > clip (R)") ||
             put_f(grp, "probs", PPO_R, M, probs, "nn_softmax of the logits (R, M)") ||
             put_d(grp, "log_z", PPO_R, 0, log_z, "log sum exp of the logits (R)");
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

/* g. The trainer's policy step as it runs it (src/train/train_ops.c over
 * kernels/train_math.h), for each algo.guide form: a rollout of S samples
 * of N agents drawn by train_op_sample from rollout logits, the form's
 * guidance term (train_op_guidance_term; dgpg's comes from the model, here
 * random), the mix into the advantage (train_op_mix, dgpg and cv only, as
 * trainer_advantages), then train_op_policy_grad at perturbed logits of B
 * of those samples in shuffled order. p* differs per sample, as p*(s) does
 * under model.reference = state. */
#define TP_S 7
#define TP_N 5
#define TP_M 4
#define TP_B 5
static const char *const tp_form_names[] = {"none", "dgpg", "target", "descent", "cv"};
static int dump_train_policy(hid_t file, int form)
{
    enum { S = TP_S, N = TP_N, M = TP_M, B = TP_B, D = TP_S * TP_N };
    /* as trainer_actor_chunk: cv carries dC/dp with its mix scale (so that
     * the term added back is the expectation of the one subtracted),
     * descent with its own */
    const double alpha = 0.6, mix_scale = 0.7, descent_scale = 1.3, scale = 0.25;
    const double entropy_coef = 0.01, clip = 0.2;
    static const int64_t samples[B] = {4, 1, 6, 2, 0};
    float rollout_logits[D * M], probs[D * M], logp[D], adv_raw[D], adv[D];
    float p_star[S * M], grad_p[D * M], guidance[D], logits[B * N * M], noise[B * N * M];
    float d_logits[B * N * M];
    int32_t actions[D];
    int64_t actions64[D];
    double decision_stats[4 * B * N], stats[4] = {0.0, 0.0, 0.0, 0.0}, p_star_d[S * M];
    dgpg_backend *be = dgpg_backend_cpu(2);
    if (!be)
        return -1;
    int rc = -1;
    if (dump_uniform_f(D * M, -2.0, 2.0, rollout_logits) || dump_uniform_f(D, -2.0, 2.0, adv_raw) ||
        dump_uniform_f(D * M, -2.0, 2.0, grad_p) || dump_uniform_f(B * N * M, -0.4, 0.4, noise))
        goto done;
    dump_uniform(S * M, 0.05, 1.0, p_star_d);
    for (int64_t s = 0; s < S; s++) {
        double sum = 0.0;
        for (int m = 0; m < M; m++)
            sum += p_star_d[s * M + m];
        for (int m = 0; m < M; m++)
            p_star[s * M + m] = (float)(p_star_d[s * M + m] / sum);
    }
    /* the rollout: each sample an "environment" of the sampling op */
    if (train_op_sample(be, S, N, M, DUMP_SEED, 0, 3, rollout_logits, probs, actions, logp))
        goto done;
    memcpy(adv, adv_raw, sizeof adv);
    if (form == GUIDE_DGPG) {
        if (dump_uniform_f(D, -1.0, 1.0, guidance))
            goto done;
    } else if (form != GUIDE_NONE) {
        if (train_op_guidance_term(be, form, S, N, M, probs, actions, grad_p, p_star, guidance))
            goto done;
    } else {
        memset(guidance, 0, sizeof guidance);
    }
    if ((form == GUIDE_DGPG || form == GUIDE_CV) &&
        train_op_mix(be, form, D, guidance, mix_scale, alpha, adv))
        goto done;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < N * M; k++)
            logits[b * N * M + k] = rollout_logits[samples[b] * N * M + k] + noise[b * N * M + k];
    const train_policy_args args = {form, B, N, M, samples, logits, actions, logp, adv,
                                    p_star,
                                    form == GUIDE_DESCENT || form == GUIDE_CV ? grad_p : NULL,
                                    form == GUIDE_CV ? mix_scale : descent_scale, alpha, scale,
                                    entropy_coef, clip};
    if (train_op_policy_grad(be, &args, d_logits, decision_stats, stats))
        goto done;
    for (int64_t d = 0; d < D; d++)
        actions64[d] = actions[d];
    char name[64];
    snprintf(name, sizeof name, "train_policy_%s", tp_form_names[form]);
    hid_t grp = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        goto done;
    rc = h5util_attr_int(grp, "S", S) || h5util_attr_int(grp, "N", N) ||
         h5util_attr_int(grp, "M", M) || h5util_attr_int(grp, "B", B) ||
         h5util_attr_double(grp, "alpha", alpha) ||
         h5util_attr_double(grp, "mix_scale", mix_scale) ||
         h5util_attr_double(grp, "grad_scale", form == GUIDE_CV ? mix_scale : descent_scale) ||
         h5util_attr_double(grp, "scale", scale) ||
         h5util_attr_double(grp, "entropy_coef", entropy_coef) ||
         h5util_attr_double(grp, "clip", clip) ||
         put_f(grp, "rollout_logits", D, M, rollout_logits, "rollout logits (S*N, M)") ||
         put_f(grp, "probs", D, M, probs, "train_op_sample probabilities (S*N, M)") ||
         put_i(grp, "actions", D, actions64, "train_op_sample actions (S*N)") ||
         put_f(grp, "logp", D, 0, logp, "train_op_sample log-probabilities (S*N)") ||
         put_f(grp, "adv_raw", D, 0, adv_raw, "advantage before the mix (S*N)") ||
         put_f(grp, "p_star", S, M, p_star, "p*(s) of each sample (S, M)") ||
         put_f(grp, "grad_p", D, M, grad_p, "dC/dp of each decision (S*N, M)") ||
         put_f(grp, "guidance", D, 0, guidance,
               "guidance term: train_op_guidance_term, or the model's (dgpg) (S*N)") ||
         put_f(grp, "adv", D, 0, adv, "advantage after train_op_mix (S*N)") ||
         put_i(grp, "samples", B, samples, "sample of each chunk row (B)") ||
         put_f(grp, "logits", B * N, M, logits, "logits at the update (B*N, M)") ||
         put_f(grp, "d_logits", B * N, M, d_logits, "train_op_policy_grad output (B*N, M)") ||
         put_d(grp, "stats", 4, 0, stats, "sums of loss, entropy, KL estimate, clipped (4)");
    H5Gclose(grp);
done:
    dgpg_backend_free(be);
    return rc ? -1 : 0;
}

/* h. Batched GAE over the rollout layout (train_op_gae): rewards (T, E),
 * values (T + 1, E, V) normalised, column j denormalised with its scale and
 * shift, the last step the bootstrap; V = N (IPPO) and V = 1 (MAPPO).
 * gamma and lambda differ so that reading one for the other shows. */
#define TG_T 9
#define TG_E 3
static int dump_train_gae(hid_t file, int64_t V)
{
    enum { T = TG_T, E = TG_E };
    const double gamma = 0.97, lambda = 0.8;
    const int64_t n_values = (T + 1) * E * V, n_out = T * E * V;
    float rewards[T * E], *values = malloc(sizeof(float) * (size_t)n_values);
    float *adv = malloc(sizeof(float) * (size_t)n_out), *ret = malloc(sizeof(float) * (size_t)n_out);
    double *value_scale = malloc(sizeof(double) * (size_t)V);
    double *value_shift = malloc(sizeof(double) * (size_t)V);
    dgpg_backend *be = dgpg_backend_cpu(2);
    int rc = -1;
    hid_t grp = H5I_INVALID_HID;
    if (!values || !adv || !ret || !value_scale || !value_shift || !be)
        goto done;
    if (dump_uniform_f(T * E, -1.0, 1.0, rewards) || dump_uniform_f(n_values, -2.0, 2.0, values))
        goto done;
    dump_uniform(V, 0.5, 3.0, value_scale);
    dump_uniform(V, -5.0, 5.0, value_shift);
    if (train_op_gae(be, T, E, V, rewards, values, value_scale, value_shift, gamma, lambda, adv,
                     ret))
        goto done;
    char name[64];
    snprintf(name, sizeof name, "train_gae_v%lld", (long long)V);
    if ((grp = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    rc = h5util_attr_int(grp, "T", T) || h5util_attr_int(grp, "E", E) ||
         h5util_attr_int(grp, "V", V) || h5util_attr_double(grp, "gamma", gamma) ||
         h5util_attr_double(grp, "lambda", lambda) ||
         put_f(grp, "rewards", T, E, rewards, "rewards (T, E)") ||
         put_f(grp, "values", (hsize_t)((T + 1) * E), (hsize_t)V, values,
               "normalised values (T + 1, E, V) as ((T + 1) E, V)") ||
         put_d(grp, "value_scale", (hsize_t)V, 0, value_scale, "denormalising scale (V)") ||
         put_d(grp, "value_shift", (hsize_t)V, 0, value_shift, "denormalising shift (V)") ||
         put_f(grp, "advantages", (hsize_t)(T * E), (hsize_t)V, adv,
               "train_op_gae advantages (T, E, V) as (T E, V)") ||
         put_f(grp, "returns", (hsize_t)(T * E), (hsize_t)V, ret,
               "train_op_gae returns (T, E, V) as (T E, V)");
done:
    if (grp >= 0)
        H5Gclose(grp);
    free(values);
    free(adv);
    free(ret);
    free(value_scale);
    free(value_shift);
    dgpg_backend_free(be);
    return rc ? -1 : 0;
}

/* i. The gradient-variance estimator (train_op_accumulate over G group
 * estimates, then train_op_variance_finish) on R independent repetitions
 * of G gradients of n coordinates drawn as g = mu + L z, z standard normal
 * (Box-Muller on Philox uniforms): the truth per coordinate is
 * var = (L L^T)_pp and mean^2 = mu_p^2. Then train_op_net_sums (the per-
 * agent trace) on a two-network, two-layer layout. */
#define TV_R 4000
#define TV_G 4
#define TV_NP 5
static int dump_train_variance(hid_t file)
{
    enum { R = TV_R, G = TV_G, NP = TV_NP };
    static const double mu[NP] = {0.8, -0.3, 0.0, 1.5, 0.05};
    double L[NP * NP] = {0.0};
    double *u = malloc(sizeof(double) * (size_t)(R * G * NP));
    double *z = malloc(sizeof(double) * (size_t)(R * G * NP));
    float *g = malloc(sizeof(float) * (size_t)(R * G * NP));
    double *mean_sq = malloc(sizeof(double) * (size_t)(R * NP));
    double *variance = malloc(sizeof(double) * (size_t)(R * NP));
    dgpg_backend *be = dgpg_backend_cpu(2);
    int rc = -1;
    hid_t grp = H5I_INVALID_HID;
    if (!u || !z || !g || !mean_sq || !variance || !be)
        goto done;
    /* lower-triangular L with a positive diagonal: a full covariance */
    dump_uniform(NP * NP, -0.6, 0.6, L);
    for (int r = 0; r < NP; r++)
        for (int c = 0; c < NP; c++)
            if (c > r)
                L[r * NP + c] = 0.0;
            else if (c == r)
                L[r * NP + c] = 0.3 + fabs(L[r * NP + c]);
    dump_uniform(R * G * NP, 0.0, 1.0, u);
    for (int64_t k = 0; k < R * G * NP; k += 2) {
        double radius = sqrt(-2.0 * log(u[k] > 0.0 ? u[k] : 1e-300));
        const double two_pi = 6.283185307179586;
        z[k] = radius * cos(two_pi * u[k + 1]);
        z[k + 1] = radius * sin(two_pi * u[k + 1]);
    }
    for (int64_t rg = 0; rg < R * G; rg++)
        for (int p = 0; p < NP; p++) {
            double x = mu[p];
            for (int c = 0; c <= p; c++)
                x += L[p * NP + c] * z[rg * NP + c];
            g[rg * NP + p] = (float)x;
        }
    for (int64_t r = 0; r < R; r++) {
        double *sum = mean_sq + r * NP, *sum_sq = variance + r * NP;
        memset(sum, 0, sizeof(double) * NP);
        memset(sum_sq, 0, sizeof(double) * NP);
        for (int64_t k = 0; k < G; k++)
            if (train_op_accumulate(be, NP, g + (r * G + k) * NP, sum, sum_sq))
                goto done;
        if (train_op_variance_finish(be, NP, G, sum, sum_sq))
            goto done;
    }
    /* the trace per network: two networks of a 3-2-1 MLP's shapes */
    dgpg_net_layout layout = {.K = 2, .layers = 2};
    int64_t offset = 0;
    static const int64_t wsize[2] = {6, 2}, bsize[2] = {2, 1};
    for (int l = 0; l < 2; l++) {
        layout.weight_offset[l] = offset;
        layout.weight_size[l] = wsize[l];
        offset += 2 * wsize[l];
        layout.bias_offset[l] = offset;
        layout.bias_size[l] = bsize[l];
        offset += 2 * bsize[l];
    }
    double net_x[22], net_sums[2];
    if (offset != 22)
        goto done;
    dump_uniform(offset, -1.0, 1.0, net_x);
    if (train_op_net_sums(be, &layout, net_x, net_sums))
        goto done;
    if ((grp = H5Gcreate2(file, "train_variance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    int64_t offsets[8] = {layout.weight_offset[0], layout.weight_size[0], layout.bias_offset[0],
                          layout.bias_size[0],     layout.weight_offset[1], layout.weight_size[1],
                          layout.bias_offset[1],   layout.bias_size[1]};
    rc = h5util_attr_int(grp, "R", R) || h5util_attr_int(grp, "G", G) ||
         h5util_attr_int(grp, "n", NP) ||
         put_d(grp, "mu", NP, 0, mu, "true mean of each coordinate (n)") ||
         put_d(grp, "L", NP, NP, L, "covariance factor, covariance = L L^T (n, n)") ||
         put_f(grp, "g", (hsize_t)(R * G), NP, g, "the group estimates (R, G, n) as (R G, n)") ||
         put_d(grp, "grad_variance", R, NP, variance,
               "train_op_variance_finish variance (R, n)") ||
         put_d(grp, "grad_mean_sq", R, NP, mean_sq,
               "train_op_variance_finish unbiased squared mean (R, n)") ||
         put_d(grp, "net_x", (hsize_t)offset, 0, net_x, "per-parameter values (P)") ||
         put_i(grp, "net_layout", 8, offsets,
               "weight offset, weight size, bias offset, bias size of layers 0 and 1 (8)") ||
         put_d(grp, "net_sums", 2, 0, net_sums, "train_op_net_sums per network (K)");
done:
    if (grp >= 0)
        H5Gclose(grp);
    free(u);
    free(z);
    free(g);
    free(mean_sq);
    free(variance);
    dgpg_backend_free(be);
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
    rc = rc || dump_ppo(file, "ppo", 5) || dump_ppo(file, "ppo_m40", 40) || dump_value_loss(file) || dump_gae(file) || dump_adam(file) ||
         dump_value_norm(file) || dump_train_gae(file, TP_N) || dump_train_gae(file, 1) ||
         dump_train_variance(file);
    for (int form = GUIDE_NONE; form <= GUIDE_CV; form++)
        rc = rc || dump_train_policy(file, form);
    if (H5Fclose(file) < 0)
        rc = 1;
    if (rc) {
        fprintf(stderr, "test_nn_dump: writing %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
