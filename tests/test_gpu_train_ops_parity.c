/* test_gpu_train_ops_parity.c (ctest label gpu) — every trainer op of
 * src/train/train_ops.h on the CUDA backend against the same op on the CPU
 * backend, its executable reference, on random inputs of the trainer's
 * shapes; the max difference of each comparison is printed. Tolerances:
 * gathers, sampled actions and the NaN index exact; element-wise float
 * results within 1e-5 relative (the device's exp/log/sqrt against glibc's);
 * sums within 1e-9 relative (CUB's order against the CPU's loop). Skipped
 * (exit 77) without a device.
 *
 * Built a second time with TRAIN_OPS_THREADS_CHECK (test_train_ops_threads,
 * label fast, no GPU needed): the "device" is then the CPU backend on 2
 * threads against the CPU backend on 1, which must agree bitwise (every
 * tolerance 0; logged sums run in a fixed order, src/train/train_ops.c). Only the
 * ops whose CPU body is an OpenMP loop (`#pragma omp parallel for` in
 * src/train/train_ops.c) are compared there: train_op_sample,
 * train_op_guidance_term, train_op_policy_grad, train_op_accumulate with
 * train_op_variance_finish; for each, the test asserts that its backends
 * run 1 and 2 threads and that the op's loop, at the size given it here,
 * hands iterations to both threads under the op's schedule (static). The
 * other nine (train_op_gae, train_op_column_sums,
 * train_op_column_standardize, train_op_advantage, train_op_mix,
 * train_op_value_grad, train_op_gather, train_op_net_sums,
 * train_op_first_nonfinite) are serial loops on the CPU whatever the thread
 * count, so 1 against 2 threads would compare a loop with itself: they
 * still run (their outputs feed the threaded ops) but are not compared, and
 * the test prints each one it skips and why. Their math is checked against
 * PyTorch/numpy in tests/test_nn_torch.py; the NaN guard's answer is still
 * checked here against the index where the NaN was planted. */
#include "../kernels/train_math.h"
#include "backend.h"
#include "test.h"
#include "train_ops.h"

#include <string.h>
#ifdef TRAIN_OPS_THREADS_CHECK
#include "backend_internal.h"
#include <omp.h>
#define DIFF_LABEL "max |1 thread - 2 threads|"
#define TOL(tol_rel) ((void)(tol_rel), 0.0) /* the same code on both sides: bitwise */
#else
#include "test_gpu.h"
#include <cuda_runtime.h>
#define DIFF_LABEL "max |cpu - gpu|"
#define TOL(tol_rel) (tol_rel)
#endif

#define SEED 0x7a11ULL
#include "test_uniforms.h"

static dgpg_backend *cpu, *gpu;

/* The same host data in each backend's memory. */
typedef struct twin {
    void *c, *g;
    size_t bytes;
} twin;

/* every twin made, released at the end */
static twin made[128];
static int n_made;

static twin twin_of(const void *host, size_t bytes)
{
    twin t = {dgpg_backend_alloc(cpu, bytes), dgpg_backend_alloc(gpu, bytes), bytes};
    if (n_made == (int)(sizeof made / sizeof made[0])) {
        fprintf(stderr, "FAIL: more twins than the test keeps track of\n");
        exit(1);
    }
    made[n_made++] = t;
    if (!t.c || !t.g || dgpg_backend_upload(cpu, t.c, host, bytes) ||
        dgpg_backend_upload(gpu, t.g, host, bytes)) {
        fprintf(stderr, "FAIL: allocating or copying %zu bytes\n", bytes);
        exit(1);
    }
    return t;
}

static twin twin_floats(uniforms *g, size_t n, double lo, double hi)
{
    float *x = malloc(sizeof(float) * n);
    for (size_t k = 0; k < n; k++)
        x[k] = (float)(lo + (hi - lo) * uni(g));
    twin t = twin_of(x, sizeof(float) * n);
    free(x);
    return t;
}

static void twins_free(void)
{
    for (int k = 0; k < n_made; k++) {
        dgpg_backend_release(cpu, made[k].c);
        dgpg_backend_release(gpu, made[k].g);
    }
}

/* max |cpu - gpu| over n values of type double (is_double) or float. */
static void compare(const char *what, const twin *t, size_t n, int is_double, double tol_rel)
{
    size_t size = is_double ? sizeof(double) : sizeof(float);
    char *a = malloc(size * n), *b = malloc(size * n);
    CHECK(dgpg_backend_download(gpu, b, t->g, size * n) == 0);
    memcpy(a, t->c, size * n);
    double worst = 0.0, scale = 0.0;
    for (size_t k = 0; k < n; k++) {
        double x = is_double ? ((double *)a)[k] : ((float *)a)[k];
        double y = is_double ? ((double *)b)[k] : ((float *)b)[k];
        worst = fmax(worst, fabs(x - y));
        scale = fmax(scale, fabs(x));
    }
    printf("%-44s " DIFF_LABEL " %.3e (scale %.3e)\n", what, worst, scale);
    CHECK_LE(worst, TOL(tol_rel) * (scale > 1.0 ? scale : 1.0));
    free(a);
    free(b);
}

static void compare_host(const char *what, const double *a, const double *b, size_t n,
                         double tol_rel)
{
    double worst = 0.0, scale = 0.0;
    for (size_t k = 0; k < n; k++) {
        worst = fmax(worst, fabs(a[k] - b[k]));
        scale = fmax(scale, fabs(a[k]));
    }
    printf("%-44s " DIFF_LABEL " %.3e (scale %.3e)\n", what, worst, scale);
    CHECK_LE(worst, TOL(tol_rel) * (scale > 1.0 ? scale : 1.0));
}

/* Whether the op's results are compared here. On the GPU: every op. With
 * TRAIN_OPS_THREADS_CHECK: a threaded op (an OpenMP loop over `iterations`
 * in src/train/train_ops.c) after asserting that its loop is split between the
 * 1- and 2-thread backends' teams; a serial op is skipped, with the reason
 * printed once (truth: where its result is checked instead). */
static const char *const NN_TORCH = "its math against PyTorch/numpy: tests/test_nn_torch.py";

static int compared_why(const char *op, int threaded, int64_t iterations, const char *truth)
{
#ifdef TRAIN_OPS_THREADS_CHECK
    static char said[16][48];
    static int n_said;
    for (int k = 0; k < n_said; k++)
        if (strcmp(said[k], op) == 0)
            return threaded;
    if (n_said < 16)
        snprintf(said[n_said++], sizeof said[0], "%s", op);
    if (!threaded) {
        printf("skip %-39s serial on the CPU at any thread count, 1 against 2 threads would "
               "compare a loop with itself; %s\n", op, truth);
        return 0;
    }
    /* the op's loop: schedule(static) num_threads(be->threads); count the
     * threads of each backend's team that receive iterations */
    int busy[2];
    const dgpg_backend *team[2] = {cpu, gpu};
    for (int b = 0; b < 2; b++) {
        unsigned mask = 0;
#pragma omp parallel for schedule(static) num_threads(team[b]->threads) reduction(| : mask)
        for (int64_t k = 0; k < iterations; k++)
            mask |= 1u << (omp_get_thread_num() & 31);
        busy[b] = 0;
        for (; mask; mask &= mask - 1)
            busy[b]++;
    }
    printf("split %-38s %lld iterations: %d thread(s) busy on the 1-thread backend, %d on the "
           "2-thread one\n", op, (long long)iterations, busy[0], busy[1]);
    CHECK_INT_EQ(busy[0], 1);
    CHECK_INT_EQ(busy[1], 2);
    return 1;
#else
    (void)op, (void)threaded, (void)iterations, (void)truth;
    return 1;
#endif
}

static int compared(const char *op, int threaded, int64_t iterations)
{
    return compared_why(op, threaded, iterations, NN_TORCH);
}

enum { SERIAL = 0, THREADED = 1 };

int main(void)
{
    char err[256] = "out of memory";
#ifdef TRAIN_OPS_THREADS_CHECK
    const char *name = "test_train_ops_threads";
    gpu = dgpg_backend_cpu(2);
#else
    const char *name = "test_gpu_train_ops_parity";
    const int unavailable = test_gpu_unavailable("test_gpu_train_ops_parity");
    if (unavailable)
        return unavailable;
    gpu = dgpg_backend_cuda(0, 0, err, sizeof err);
#endif
    if (!gpu || dgpg_backend_reserve(gpu, 1 << 20) != 0) {
        fprintf(stderr, "FAIL: %s\n", err);
        return 1;
    }
    cpu = dgpg_backend_cpu(1);
#ifdef TRAIN_OPS_THREADS_CHECK
    /* 1 thread against 2: OpenMP must be on and grant the second thread */
    CHECK_INT_EQ(cpu->threads, 1);
    CHECK_INT_EQ(gpu->threads, 2);
#endif
    uniforms g = {1, 0};
    const int64_t E = 6, N = 37, M = 5, T = 9, S = T * E, V = N, B = 11;

    /* rollout sampling: probabilities, actions (exact), log-probabilities */
    twin logits = twin_floats(&g, (size_t)(E * N * M), -3.0, 3.0);
    twin probs = twin_floats(&g, (size_t)(E * N * M), 0.0, 0.0);
    int32_t *zeros = calloc((size_t)(S * N), sizeof(int32_t));
    twin actions = twin_of(zeros, sizeof(int32_t) * (size_t)(E * N));
    twin logp = twin_floats(&g, (size_t)(E * N), 0.0, 0.0);
    CHECK(train_op_sample(cpu, E, N, M, 11, 3, 42, logits.c, probs.c, actions.c, logp.c) == 0);
    CHECK(train_op_sample(gpu, E, N, M, 11, 3, 42, logits.g, probs.g, actions.g, logp.g) == 0);
    if (compared("train_op_sample", THREADED, E)) {
        compare("train_op_sample probs", &probs, (size_t)(E * N * M), 0, 1e-6);
        compare("train_op_sample actions (exact)", &actions, (size_t)(E * N), 0, 0.0);
        compare("train_op_sample log-probabilities", &logp, (size_t)(E * N), 0, 1e-6);
    }

    /* GAE with per-column moments, column sums (block and thread paths),
     * standardisation, advantage broadcast */
    twin rewards = twin_floats(&g, (size_t)S, -2.0, 0.0);
    twin values = twin_floats(&g, (size_t)((T + 1) * E * V), -1.0, 1.0);
    twin adv_raw = twin_floats(&g, (size_t)(S * V), 0.0, 0.0);
    twin ret = twin_floats(&g, (size_t)(S * V), 0.0, 0.0);
    double *scale = malloc(sizeof(double) * (size_t)V), *shift = malloc(sizeof(double) * (size_t)V);
    for (int64_t j = 0; j < V; j++) {
        scale[j] = 0.5 + uni(&g);
        shift[j] = uni(&g) - 0.5;
    }
    CHECK(train_op_gae(cpu, T, E, V, rewards.c, values.c, scale, shift, 0.99, 0.95, adv_raw.c,
                       ret.c) == 0);
    CHECK(train_op_gae(gpu, T, E, V, rewards.g, values.g, scale, shift, 0.99, 0.95, adv_raw.g,
                       ret.g) == 0);
    if (compared("train_op_gae", SERIAL, 0)) {
        compare("train_op_gae advantages", &adv_raw, (size_t)(S * V), 0, 1e-6);
        compare("train_op_gae returns", &ret, (size_t)(S * V), 0, 1e-6);
    }
    const int64_t wide = 5000;
    twin big = twin_floats(&g, (size_t)(7 * wide), -1.0, 1.0);
    const int64_t shapes[3][2] = {{S, V}, {S * V, 1}, {7, wide}};
    const twin *shape_data[3] = {&ret, &adv_raw, &big};
    for (int k = 0; k < 3; k++) {
        int64_t rows = shapes[k][0], cols = shapes[k][1];
        double *s1 = malloc(sizeof(double) * 4 * (size_t)cols), *q1 = s1 + cols;
        double *s2 = q1 + cols, *q2 = s2 + cols;
        CHECK(train_op_column_sums(cpu, rows, cols, shape_data[k]->c, s1, q1) == 0);
        CHECK(train_op_column_sums(gpu, rows, cols, shape_data[k]->g, s2, q2) == 0);
        char what[64];
        snprintf(what, sizeof what, "train_op_column_sums %lld x %lld", (long long)rows,
                 (long long)cols);
        if (compared("train_op_column_sums", SERIAL, 0))
            compare_host(what, s1, s2, (size_t)(2 * cols), 1e-9);
        free(s1);
    }
    CHECK(train_op_column_standardize(cpu, S, V, ret.c, shift, scale) == 0);
    CHECK(train_op_column_standardize(gpu, S, V, ret.g, shift, scale) == 0);
    if (compared("train_op_column_standardize", SERIAL, 0))
        compare("train_op_column_standardize", &ret, (size_t)(S * V), 0, 1e-6);
    twin adv = twin_floats(&g, (size_t)(S * N), 0.0, 0.0);
    CHECK(train_op_advantage(cpu, S, N, V, adv_raw.c, 0.3, 1.7, adv.c) == 0);
    CHECK(train_op_advantage(gpu, S, N, V, adv_raw.g, 0.3, 1.7, adv.g) == 0);
    if (compared("train_op_advantage", SERIAL, 0))
        compare("train_op_advantage", &adv, (size_t)(S * N), 0, 1e-6);

    /* guidance terms of each form, the mix, and the decision gradients */
    twin all_probs = twin_floats(&g, (size_t)(S * N * M), 0.0, 0.4);
    for (int64_t k = 0; k < S * N; k++)
        zeros[k] = (int32_t)(uni(&g) * (double)M);
    twin all_actions = twin_of(zeros, sizeof(int32_t) * (size_t)(S * N));
    twin all_logp = twin_floats(&g, (size_t)(S * N), -3.0, -0.1);
    twin grad_p = twin_floats(&g, (size_t)(S * N * M), -0.2, 0.2);
    twin p_star = twin_floats(&g, (size_t)(S * M), 0.0, 0.4);
    twin guidance = twin_floats(&g, (size_t)(S * N), 0.0, 0.0);
    const int forms[4] = {GUIDE_DGPG, GUIDE_TARGET, GUIDE_DESCENT, GUIDE_CV};
    const char *names[4] = {"dgpg", "target", "descent", "cv"};
    int64_t *order = malloc(sizeof(int64_t) * (size_t)B);
    for (int64_t b = 0; b < B; b++)
        order[b] = (int64_t)(uni(&g) * (double)S);
    twin samples = twin_of(order, sizeof(int64_t) * (size_t)B);
    twin chunk_logits = twin_floats(&g, (size_t)(B * N * M), -2.0, 2.0);
    twin d_logits = twin_floats(&g, (size_t)(B * N * M), 0.0, 0.0);
    twin decision_stats = twin_floats(&g, (size_t)(8 * B * N), 0.0, 0.0); /* 4 B N doubles */
    for (int f = 0; f < 4; f++) {
        char what[80];
        if (forms[f] != GUIDE_DGPG) {
            CHECK(train_op_guidance_term(cpu, forms[f], S, N, M, all_probs.c, all_actions.c,
                                         grad_p.c, p_star.c, guidance.c) == 0);
            CHECK(train_op_guidance_term(gpu, forms[f], S, N, M, all_probs.g, all_actions.g,
                                         grad_p.g, p_star.g, guidance.g) == 0);
            snprintf(what, sizeof what, "train_op_guidance_term %s", names[f]);
            if (compared("train_op_guidance_term", THREADED, S * N))
                compare(what, &guidance, (size_t)(S * N), 0, 1e-5);
        }
        CHECK(train_op_mix(cpu, forms[f], S * N, guidance.c, 0.8, 0.4, adv.c) == 0);
        CHECK(train_op_mix(gpu, forms[f], S * N, guidance.g, 0.8, 0.4, adv.g) == 0);
        snprintf(what, sizeof what, "train_op_mix %s", names[f]);
        if (compared("train_op_mix", SERIAL, 0))
            compare(what, &adv, (size_t)(S * N), 0, 1e-5);
        double zero8[8] = {0};
        twin stats = twin_of(zero8, sizeof zero8);
        train_policy_args a = {forms[f], B, N, (int32_t)M, NULL, NULL, NULL, NULL, NULL,
                               NULL, NULL, 1.3, 0.4, 1.0 / (double)(B * N), 0.01, 0.2};
        train_policy_args ac = a, ag = a;
        ac.samples = samples.c, ac.logits = chunk_logits.c, ac.actions = all_actions.c;
        ac.logp = all_logp.c, ac.adv = adv.c, ac.p_star = p_star.c, ac.grad_p = grad_p.c;
        ag.samples = samples.g, ag.logits = chunk_logits.g, ag.actions = all_actions.g;
        ag.logp = all_logp.g, ag.adv = adv.g, ag.p_star = p_star.g, ag.grad_p = grad_p.g;
        CHECK(train_op_policy_grad(cpu, &ac, d_logits.c, decision_stats.c, stats.c) == 0);
        CHECK(train_op_policy_grad(gpu, &ag, d_logits.g, decision_stats.g, stats.g) == 0);
        if (compared("train_op_policy_grad", THREADED, B)) {
            snprintf(what, sizeof what, "train_op_policy_grad %s d_logits", names[f]);
            compare(what, &d_logits, (size_t)(B * N * M), 0, 1e-5);
            snprintf(what, sizeof what, "train_op_policy_grad %s statistics", names[f]);
            compare(what, &stats, 4, 1, 1e-9);
        }
    }

    /* the value loss, with its sum */
    double zero1[2] = {0.0, 0.0};
    twin loss = twin_of(zero1, sizeof zero1);
    twin v_chunk = twin_floats(&g, (size_t)(B * V), -1.0, 1.0);
    twin d_value = twin_floats(&g, (size_t)(B * V), 0.0, 0.0);
    twin sample_loss = twin_floats(&g, (size_t)(2 * B * V), 0.0, 0.0);
    CHECK(train_op_value_grad(cpu, B, V, samples.c, v_chunk.c, values.c, ret.c, 0.2, 10.0, 0.5,
                              d_value.c, sample_loss.c, loss.c) == 0);
    CHECK(train_op_value_grad(gpu, B, V, samples.g, v_chunk.g, values.g, ret.g, 0.2, 10.0, 0.5,
                              d_value.g, sample_loss.g, loss.g) == 0);
    if (compared("train_op_value_grad", SERIAL, 0)) {
        compare("train_op_value_grad gradients", &d_value, (size_t)(B * V), 0, 1e-6);
        compare("train_op_value_grad loss sum", &loss, 1, 1, 1e-9);
    }

    /* gather (exact), gradient-variance accumulation, per-network sums */
    twin gathered = twin_floats(&g, (size_t)(B * N * M), 0.0, 0.0);
    CHECK(train_op_gather(cpu, B, N * M, samples.c, all_probs.c, gathered.c) == 0);
    CHECK(train_op_gather(gpu, B, N * M, samples.g, all_probs.g, gathered.g) == 0);
    if (compared("train_op_gather", SERIAL, 0))
        compare("train_op_gather (exact)", &gathered, (size_t)(B * N * M), 0, 0.0);
    dgpg_net_layout layout = {N, 2, {0, N * 12}, {12, 3}, {N * 15, N * 18}, {3, 2}};
    const int64_t P = N * 20;
    double *zeros_d = calloc((size_t)P, sizeof(double));
    twin sum = twin_of(zeros_d, sizeof(double) * (size_t)P);
    twin sum_sq = twin_of(zeros_d, sizeof(double) * (size_t)P);
    for (int rep = 0; rep < 3; rep++) {
        twin grads = twin_floats(&g, (size_t)P, -1.0, 1.0);
        CHECK(train_op_accumulate(cpu, P, grads.c, sum.c, sum_sq.c) == 0);
        CHECK(train_op_accumulate(gpu, P, grads.g, sum.g, sum_sq.g) == 0);
    }
    CHECK(train_op_variance_finish(cpu, P, 3, sum.c, sum_sq.c) == 0);
    CHECK(train_op_variance_finish(gpu, P, 3, sum.g, sum_sq.g) == 0);
    if (compared("train_op_accumulate", THREADED, P) &&
        compared("train_op_variance_finish", THREADED, P))
        compare("train_op_variance_finish variance", &sum_sq, (size_t)P, 1, 1e-12);
    double *k1 = malloc(sizeof(double) * 2 * (size_t)N), *k2 = k1 + N;
    CHECK(train_op_net_sums(cpu, &layout, sum_sq.c, k1) == 0);
    CHECK(train_op_net_sums(gpu, &layout, sum_sq.g, k2) == 0);
    if (compared("train_op_net_sums", SERIAL, 0))
        compare_host("train_op_net_sums", k1, k2, (size_t)N, 1e-12);

    /* the NaN guard finds the first bad element, and none in clean data:
     * each backend against the planted index (on the CPU a serial loop, so
     * with threads the two are not compared with each other) */
    compared_why("train_op_first_nonfinite", SERIAL, 0,
                 "each backend's answer is checked against the planted index below");
    int64_t at_c, at_g;
    CHECK(train_op_first_nonfinite(gpu, gathered.g, B * N * M, &at_g) == 0);
    CHECK_INT_EQ(at_g, -1);
    float bad[2] = {NAN, INFINITY};
    dgpg_backend_upload(gpu, (float *)gathered.g + 77, &bad[1], sizeof(float));
    dgpg_backend_upload(gpu, (float *)gathered.g + 300, &bad[0], sizeof(float));
    memcpy((float *)gathered.c + 77, &bad[1], sizeof(float));
    memcpy((float *)gathered.c + 300, &bad[0], sizeof(float));
    CHECK(train_op_first_nonfinite(cpu, gathered.c, B * N * M, &at_c) == 0);
    CHECK(train_op_first_nonfinite(gpu, gathered.g, B * N * M, &at_g) == 0);
    CHECK_INT_EQ(at_c, 77);
    CHECK_INT_EQ(at_g, 77);

    free(zeros);
    free(zeros_d);
    free(order);
    free(scale);
    free(shift);
    free(k1);
    twins_free();
    dgpg_backend_free(cpu);
    dgpg_backend_free(gpu);
    return test_finish(name);
}
