/* test_env_formulas.c — the cloud environment's formulas as SPEC.md and
 * docs/environment.md state them, written out here and compared with what
 * the environment does. No expected value comes from the function under
 * test: each is recomputed from the config and from what the instance lets
 * a caller see (queues before and after a step, the agents' work, the
 * actions, the observation, the scenario tables). Every statistical check
 * uses fixed seeds, so it passes or fails the same way on every run; its
 * bound is a 4.5-sigma one (Z_MAX: a two-sided false alarm of about 7e-6
 * per check for an arbitrary seed), and chi-square bounds are the same
 * tail by Wilson-Hilferty (test_chi2_bound, tests/test_chi2.h). Cells of a chi-square with an
 * expected count below 5 are merged, smallest first.
 *
 * 1. Reward (SPEC "Shared reward", docs "One step" 5):
 *    r(t) = -(sum_m Q_m(t+1) + w_drop dropped(t)) / Lambda(t),
 *    Lambda(t) = size_mean sum_i lambda_i(t), times burst_factor in a burst.
 *    The test redoes each step's dynamics: A_m from the actions and the
 *    agents' work, S_m ~ Poisson(mu_m) drawn from the documented service
 *    stream (Philox keyed by the scenario seed, counter (m/4, step, env,
 *    SERVICE), lane m%4; the sampler is tested by test_poisson),
 *    Q_m(t+1) = min(B_m, max(0, Q_m + A_m - S_m)), the excess over B_m
 *    dropped. Queues and drops must agree exactly (integers); the reward,
 *    computed in double and returned as float, to 2^-23 relative (half an
 *    ulp of float is 2^-24; the double sums differ from the test's by
 *    ~1e-15). Configurations with heavy drops and w_drop = 7.5 and 3, so a
 *    reward that weighted drops by 1, or left them out, is wrong by far more
 *    than the tolerance in hundreds of steps (counted and required).
 *    With lambda_sigma = 0 and phase_spread = 0 every agent's rate is
 *    lambda_mean (1 + a sin(2 pi d / D)) exactly, so Lambda(t) comes from
 *    the config alone; the heterogeneous case reads lambda_i(d) from the
 *    scenario's rate table, which check 2 verifies against the formula.
 *    The burst flag of a step is read from the observed load
 *    obs[4] = Lambda(t) / sum mu, which must equal one of its two possible
 *    values rho (1 + a sin(2 pi d / D)) x {1, burst_factor} to 1e-6.
 * 2. Day cycle: the clock is step = k T + t in episode k, day index
 *    d = step mod D (docs "Choices where SPEC is silent"). With T = 13,
 *    D = 8, amplitude 0.8, 64 agents x 32 environments x 78 steps: the mean
 *    arrivals per step of the day against lambda (1 + a sin(2 pi d / D)),
 *    z <= 4.5 in every slot and sum z^2 within the chi-square(8) bound; a
 *    day index off by one step is at least 35 sigma off in every slot
 *    (printed), and the observed load and time of day are off too.
 *    The observed sin, cos of the time of day against sin, cos(2 pi d / D)
 *    to 1e-6 (float). Heterogeneous agents: each agent's rate table over
 *    the day (D >= 3) is fitted by its mean and first harmonic, which gives
 *    lambda_i and phi_i; the table must equal
 *    lambda_i (1 + a sin(2 pi (d / D + phi_i))) to 1e-9 relative (a, the
 *    configured amplitude, to 1e-9), phi_i in [0, phase_spread); over 4000
 *    agents log lambda_i has mean log lambda_mean - sigma^2/2 and variance
 *    sigma^2, lambda_i has mean lambda_mean (z <= 4.5 each), the phases are
 *    uniform (Kolmogorov-Smirnov, sqrt(n) D_n <= 2.5, P ~ 7.5e-6); and the
 *    arrivals per slot match sum_i lambda_i(d) (z <= 4.5).
 * 3. Bursts: windows of burst_length steps, each a burst with probability
 *    burst_prob, independently; rates times burst_factor inside. The flag
 *    must be constant over each window [k L, (k + 1) L) (exact); the share
 *    of burst windows is p and so is the share after a burst window (so
 *    runs of bursts are geometric, mean L / (1 - p) steps), z <= 4.5 each
 *    over 10 240 windows; arrivals in burst steps total factor x the
 *    nominal and outside 1 x (z <= 4.5, Poisson variance).
 * 4. Job sizes: unit 1; bimodal 1 with probability 1 - q, else a
 *    discretised Pareto P(S >= s) = (s_min / s)^alpha, s >= s_min, truncated
 *    (conditioned) at job_size_cap. An agent's work in a step is the sum of
 *    Poisson(lambda) sizes, so its exact law is the compound Poisson one,
 *    computed here by Panjer's recursion: the histogram of 204 800 agent-
 *    steps against it (chi-square; values of probability 0, such as work
 *    1..4 when every job is a Pareto job of at least 5, must never occur:
 *    exact), the mean work against lambda E[S] (z <= 4.5 with variance
 *    lambda E[S^2]), and the scenario's size_mean against E[S] (1e-12).
 *    Cases: unit, a steep bimodal mix, a pure Pareto, the default bimodal.
 * 5. Capacity, for every scenario the test builds: sum_m mu_m =
 *    size_mean sum_i lambda_i / rho (1e-12 relative; sum_i lambda_i is
 *    N lambda_mean, or the day mean of the rate table, which equals it
 *    because the sinusoid sums to zero over D >= 2 steps); mu_m = c x vCPUs
 *    x servers with vCPUs 2^(1 + m mod types) and integer servers in
 *    [1, servers_max] for one common c (1e-9); with servers_max = 1,
 *    mu_m = 2^(1 + m mod types) sum mu / sum 2^(...) exactly (1e-12);
 *    B_m = max(1, ceil(buffer_steps mu_m)); capacity shares mu_m / sum mu
 *    (float, 1e-6); the service sampler's rate is mu_m.
 * 6. Heuristics (docs "Heuristics"), on states reached by warm-up steps,
 *    3 seeds x 2 episodes x 6 states x 8 environments, 400 agents, a load
 *    of 1.3 (busy queues) and of 0.35 (many empty queues, so ties):
 *    round_robin (i + t) mod M (exact); jsq argmin Q_m / mu_m (to 1e-12
 *    relative), all agents the same, and among empty queues the largest
 *    pool (exact; between pools of equal mu the docs say nothing, any is
 *    accepted). Non-empty queues can tie too (Q_a / mu_a = Q_b / mu_b, the
 *    capacities being multiples of one unit) and Q (1/mu) rounds such ties
 *    apart in the last bits: within 1e-12 relative they are ties, and the
 *    largest pool must win them too (this test found jsq giving them to
 *    the smaller pool; fixed in envs/cloud/cloud_policy.h);
 *    led in agent order, argmin (Q_m + A_m + w_i) / mu_m with the work
 *    already dispatched (exact, near-ties of 1e-12 relative accepted, the
 *    docs name no tie rule); random uniform, capacity mu_m / sum mu,
 *    pstar the square-root water-filling p* of Lambda(t), pstar_state the
 *    levelling split of the step's work (docs/model.md), each a
 *    chi-square of the agents' choices per state, pools of probability 0
 *    never chosen (exact); power_of_two: its per-agent draw has no
 *    documented key, so the property: the chosen pool is the better of two
 *    distinct uniform candidates, P(m) = #{pools with a larger backlog} /
 *    C(M, 2) on states with distinct backlogs (chi-square), and a pool
 *    with the unique largest backlog is never chosen (exact).
 *
 * Instances run one OpenMP thread: the work per step is tiny, and a
 * second thread spinning at barriers on a busy 2-core machine made the
 * test 30x slower. Runtime: about 0.3 s in Release. */
#include "env_fixture.h"
#include "test.h"
#include "test_chi2.h"

#include <string.h>

#define SEED 0x5eedf0a1u
#include "test_uniforms.h"

#define Z_MAX TEST_Z_MAX
#define NSETS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const double TWO_PI = 6.283185307179586476925286766559;

/* ---- truth: the documented distributions -------------------------------- */

static int is_bimodal(const cloud_config *env) { return strcmp(env->job_size, "bimodal") == 0; }

/* P(S >= s) of a large job before truncation: (s_min / s)^alpha, s >= s_min. */
static double pareto_survival(const cloud_config *env, double s)
{
    double s_min = (double)env->large_job_min;
    return s <= s_min ? 1.0 : pow(s_min / s, env->pareto_alpha);
}

static int64_t size_max(const cloud_config *env)
{
    return is_bimodal(env) ? env->job_size_cap : 1;
}

/* P(size = s): unit 1; bimodal 1 w.p. 1 - q, else the truncated discrete Pareto. */
static double size_pmf(const cloud_config *env, int64_t s)
{
    if (!is_bimodal(env))
        return s == 1 ? 1.0 : 0.0;
    double q = env->large_job_prob, p = s == 1 ? 1.0 - q : 0.0;
    if (s >= env->large_job_min && s <= env->job_size_cap) {
        double kept = 1.0 - pareto_survival(env, (double)env->job_size_cap + 1.0);
        p += q * (pareto_survival(env, (double)s) - pareto_survival(env, (double)s + 1.0)) / kept;
    }
    return p;
}

static double size_moment(const cloud_config *env, int k)
{
    double acc = 0.0;
    for (int64_t s = 1; s <= size_max(env); s++)
        acc += pow((double)s, k) * size_pmf(env, s);
    return acc;
}

/* P(W = w), w < wmax, W the sum of Poisson(lam) iid sizes (Panjer). */
static void compound_poisson(const cloud_config *env, double lam, double *p, int64_t wmax)
{
    const int64_t cap = size_max(env);
    double *f = calloc((size_t)cap + 1, sizeof *f);
    for (int64_t s = 1; s <= cap; s++)
        f[s] = size_pmf(env, s);
    p[0] = exp(-lam);
    for (int64_t w = 1; w < wmax; w++) {
        double acc = 0.0;
        for (int64_t j = 1; j <= w && j <= cap; j++)
            acc += (double)j * f[j] * p[w - j];
        p[w] = lam / (double)w * acc;
    }
    free(f);
}

/* ---- statistics ----------------------------------------------------------- */

static void check_z(const char *what, double observed, double expected, double sd)
{
    double z = (observed - expected) / sd;
    CHECK_QUIET(fabs(z) <= Z_MAX, "%s: %.9g against %.9g, z = %.2f", what, observed, expected, z);
}

/* ---- truth: rates and scenario ------------------------------------------- */

static int homogeneous(const cloud_config *env)
{
    return env->lambda_sigma == 0.0 && env->phase_spread == 0.0;
}

/* lambda_i at day index d: from the config alone when every agent is alike,
 * else the scenario's table (verified by check_scenario). */
static double agent_rate(const cloud_scenario *sc, const cloud_config *env, int32_t d,
                         int32_t i)
{
    if (homogeneous(env))
        return env->lambda_mean *
               (1.0 + env->day_amplitude * sin(TWO_PI * (double)d / (double)env->day_length));
    return sc->arrival[(int64_t)d * sc->n_agents + i].lambda;
}

/* sum_i lambda_i(d) */
static double rate_sum(const cloud_scenario *sc, const cloud_config *env, int32_t d)
{
    double acc = 0.0;
    for (int32_t i = 0; i < sc->n_agents; i++)
        acc += agent_rate(sc, env, d, i);
    return acc;
}

/* sum_i lambda_i, the day mean (the sinusoid sums to zero over a day) */
static double base_rate_sum(const cloud_scenario *sc, const cloud_config *env)
{
    if (homogeneous(env))
        return (double)sc->n_agents * env->lambda_mean;
    double acc = 0.0;
    for (int32_t d = 0; d < sc->day_length; d++)
        acc += rate_sum(sc, env, d);
    return acc / (double)sc->day_length;
}

/* The observed load Lambda(t) / sum mu of a homogeneous scenario is
 * rho (1 + a sin(2 pi d / D)), times burst_factor in a burst: returns the
 * burst flag it shows, or -1 when it is neither. */
static int observed_burst(const cloud_config *env, int32_t d, float load)
{
    double plain = env->rho * (1.0 + env->day_amplitude *
                                         sin(TWO_PI * (double)d / (double)env->day_length));
    double burst = plain * env->burst_factor;
    if (fabs((double)load - plain) <= 1e-6 * plain)
        return 0;
    if (env->burst_prob > 0.0 && fabs((double)load - burst) <= 1e-6 * burst)
        return 1;
    return -1;
}

typedef struct rate_sample {
    double *log_rate, *rate, *phase;
    int64_t n, cap;
} rate_sample;

/* Capacity, buffers, shares and the day profile of one scenario. */
static void check_scenario(const cloud_scenario *sc, const cloud_config *env, rate_sample *rs)
{
    const int32_t N = sc->n_agents, M = sc->n_pools, D = sc->day_length;
    const double size_mean = size_moment(env, 1);
    CHECK_QUIET(fabs(sc->size_mean - size_mean) <= 1e-12 * size_mean,
                "size_mean %.17g, E[size] %.17g", sc->size_mean, size_mean);
    /* 5. sum mu = size_mean sum lambda / rho */
    double mu_sum = 0.0;
    for (int32_t m = 0; m < M; m++)
        mu_sum += sc->mu[m];
    const double mu_truth = size_mean * base_rate_sum(sc, env) / env->rho;
    CHECK_QUIET(fabs(mu_sum - mu_truth) <= 1e-12 * mu_truth && 
                    fabs(sc->mu_total - mu_truth) <= 1e-12 * mu_truth,
                "sum mu %.17g (mu_total %.17g), size_mean sum lambda / rho = %.17g", mu_sum,
                sc->mu_total, mu_truth);
    /* mu_m = c 2^(1 + m mod types) servers_m, integer servers in [1, max] */
    double r_min = INFINITY;
    for (int32_t m = 0; m < M; m++) {
        double r = sc->mu[m] / ldexp(1.0, 1 + (int)(m % env->instance_types));
        r_min = r < r_min ? r : r_min;
    }
    int found = 0;
    for (int64_t s0 = 1; s0 <= env->servers_max && !found; s0++) {
        double c = r_min / (double)s0;
        int ok = 1;
        for (int32_t m = 0; m < M; m++) {
            double x = sc->mu[m] / ldexp(1.0, 1 + (int)(m % env->instance_types)) / c;
            double k = floor(x + 0.5);
            ok &= fabs(x - k) <= 1e-9 * x && k >= 1.0 && k <= (double)env->servers_max;
        }
        found = ok;
    }
    CHECK_QUIET(found, "seed %llx: capacities not vCPUs x servers in [1, %lld]",
                (unsigned long long)sc->seed, (long long)env->servers_max);
    for (int32_t m = 0; m < M; m++) {
        int64_t b = (int64_t)ceil(env->buffer_steps * sc->mu[m]);
        b = b < 1 ? 1 : b;
        CHECK_QUIET(sc->buffer[m] == b, "pool %d: B = %lld, ceil(%g mu) = %lld", m,
                    (long long)sc->buffer[m], env->buffer_steps, (long long)b);
        double share = sc->mu[m] / mu_sum;
        CHECK_QUIET(fabs((double)sc->capacity_share[m] - share) <= 1e-6 * share,
                    "pool %d: share %.9g, mu / sum mu %.9g", m, (double)sc->capacity_share[m],
                    share);
        CHECK_QUIET(sc->service[m].lambda == sc->mu[m], "pool %d: service rate %.17g, mu %.17g",
                    m, sc->service[m].lambda, sc->mu[m]);
    }
    /* 2. each agent's table: lambda_i (1 + a sin(2 pi (d / D + phi_i))) */
    const double a = env->day_amplitude;
    for (int32_t i = 0; i < N && D >= 3; i++) {
        double mean = 0.0, c1 = 0.0, c2 = 0.0;
        for (int32_t d = 0; d < D; d++) {
            double v = sc->arrival[(int64_t)d * N + i].lambda;
            mean += v / D;
            c1 += 2.0 / D * v * sin(TWO_PI * d / D);
            c2 += 2.0 / D * v * cos(TWO_PI * d / D);
        }
        double amp = hypot(c1, c2) / mean;
        double phi = a > 0.0 ? atan2(c2, c1) / TWO_PI : 0.0;
        if (phi < 0.0)
            phi += 1.0;
        if (phi > 1.0 - 1e-9)
            phi -= 1.0;
        CHECK_QUIET(fabs(amp - a) <= 1e-9, "agent %d: amplitude %.12g, configured %.12g", i, amp,
                    a);
        CHECK_QUIET(phi >= -1e-9 && phi < env->phase_spread + 1e-9,
                    "agent %d: phase %.9g outside [0, %g)", i, phi, env->phase_spread);
        double worst = 0.0, worst_float = 0.0;
        for (int32_t d = 0; d < D; d++) {
            double v = sc->arrival[(int64_t)d * N + i].lambda;
            double f = mean * (1.0 + a * sin(TWO_PI * ((double)d / D + phi)));
            worst = fmax(worst, fabs(v - f) / mean);
            worst_float = fmax(worst_float, fabs((double)sc->rate[(int64_t)d * N + i] - v) / v);
        }
        CHECK_QUIET(worst <= 1e-9, "agent %d: table off the sinusoid by %.3g relative", i, worst);
        CHECK_QUIET(worst_float <= 1e-6, "agent %d: float table off by %.3g", i, worst_float);
        if (homogeneous(env))
            CHECK_QUIET(fabs(mean - env->lambda_mean) <= 1e-12 * env->lambda_mean,
                        "agent %d: rate %.17g, lambda_mean %.17g", i, mean, env->lambda_mean);
        if (rs && rs->n < rs->cap) {
            rs->log_rate[rs->n] = log(mean);
            rs->rate[rs->n] = mean;
            rs->phase[rs->n] = phi;
            rs->n++;
        }
    }
}

static void check_all_scenarios(cloud_instance *inst, const cloud_config *env, int64_t E,
                                rate_sample *rs)
{
    const cloud_scenario *scs = cloud_instance_scenarios(inst);
    for (int64_t e = 0; e < E; e++)
        check_scenario(&scs[e], env, rs);
}

/* ---- 1. reward ------------------------------------------------------------ */

static void test_reward(const char *name, const char *const *sets, int n_sets)
{
    dgpg_config cfg;
    fixture_config(&cfg, sets, n_sets);
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    const int64_t E = 16;
    cloud_instance *inst = fixture_env(&cfg, 21, 0, E, 1);
    const int32_t N = (int32_t)env->n_agents, M = (int32_t)env->n_pools;
    const int32_t D = (int32_t)env->day_length, OBS = CLOUD_OBS_DIM(M);
    const uint64_t T = (uint64_t)env->horizon;
    const double size_mean = size_moment(env, 1);
    const int jsq = api->policy_find(inst, "jsq");
    CHECK(jsq >= 0);
    int32_t *actions = malloc(sizeof(int32_t) * (size_t)(E * N));
    int32_t *work = malloc(sizeof(int32_t) * (size_t)(E * N));
    int64_t *q_before = malloc(sizeof(int64_t) * (size_t)(E * M));
    int64_t *disp = malloc(sizeof(int64_t) * (size_t)M);
    float *reward = malloc(sizeof(float) * (size_t)E);
    float *obs = malloc(sizeof(float) * (size_t)(E * N * OBS));
    int *burst = malloc(sizeof(int) * (size_t)E);
    uniforms g = {1, 0};
    int64_t checked = 0, with_drops = 0, weight_visible = 0, bursts = 0;
    const uint64_t episodes[2] = {0, 3};
    for (int k = 0; k < 2; k++) {
        CHECK_INT_EQ(api->reset(inst, episodes[k]), DGPG_OK);
        const cloud_scenario *scs = cloud_instance_scenarios(inst);
        check_all_scenarios(inst, env, E, NULL);
        for (uint64_t t = 0; t < T; t++) {
            const uint64_t step = episodes[k] * T + t;
            const int32_t d = (int32_t)(step % (uint64_t)D);
            CHECK_QUIET(cloud_instance_step(inst) == step, "step %llu, expected %llu",
                        (unsigned long long)cloud_instance_step(inst), (unsigned long long)step);
            CHECK_INT_EQ(api->observe(inst, obs, NULL), DGPG_OK);
            for (int64_t e = 0; e < E; e++) {
                burst[e] = 0;
                if (homogeneous(env)) {
                    burst[e] = observed_burst(env, d, obs[e * N * OBS + 4]);
                    CHECK_QUIET(burst[e] >= 0,
                                "%s step %llu env %lld: observed load %.9g is neither value of "
                                "day index %d",
                                name, (unsigned long long)step, (long long)e,
                                (double)obs[e * N * OBS + 4], d);
                    burst[e] = burst[e] == 1;
                    bursts += burst[e];
                }
            }
            memcpy(q_before, cloud_instance_queue(inst), sizeof(int64_t) * (size_t)(E * M));
            memcpy(work, cloud_instance_work(inst), sizeof(int32_t) * (size_t)(E * N));
            if (t % 2 == 0)
                CHECK_INT_EQ(api->policy_act(inst, jsq, actions), DGPG_OK);
            else
                for (int64_t k2 = 0; k2 < E * N; k2++)
                    actions[k2] = (int32_t)(uni(&g) * M);
            CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
            const int64_t *q_after = cloud_instance_queue(inst);
            const cloud_step_flows *flows = cloud_instance_flows(inst);
            for (int64_t e = 0; e < E; e++) {
                const cloud_scenario *sc = &scs[e];
                for (int32_t m = 0; m < M; m++)
                    disp[m] = 0;
                int64_t arrived = 0, queued = 0, dropped = 0;
                for (int32_t i = 0; i < N; i++) {
                    disp[actions[e * N + i]] += work[e * N + i];
                    arrived += work[e * N + i];
                }
                for (int32_t m = 0; m < M; m++) {
                    dgpg_u4 u = dgpg_uniform4(sc->seed, (uint32_t)m >> 2, step, (uint32_t)e,
                                              DGPG_STREAM_SERVICE, 0);
                    int64_t S = dgpg_poisson_sample(&sc->service[m], u.u[m & 3]);
                    int64_t left = q_before[e * M + m] + disp[m] - S;
                    left = left > 0 ? left : 0;
                    int64_t drop = left > sc->buffer[m] ? left - sc->buffer[m] : 0;
                    CHECK_QUIET(q_after[e * M + m] == left - drop,
                                "%s step %llu env %lld pool %d: Q(t+1) %lld, "
                                "min(B, max(0, Q + A - S)) %lld",
                                name, (unsigned long long)step, (long long)e, m,
                                (long long)q_after[e * M + m], (long long)(left - drop));
                    queued += left - drop;
                    dropped += drop;
                }
                CHECK_QUIET(flows[e].arrived == arrived && flows[e].queued == queued &&
                                flows[e].dropped == dropped,
                            "%s step %llu env %lld: flows (%lld, %lld, %lld), recomputed (%lld, "
                            "%lld, %lld)",
                            name, (unsigned long long)step, (long long)e,
                            (long long)flows[e].arrived, (long long)flows[e].queued,
                            (long long)flows[e].dropped, (long long)arrived, (long long)queued,
                            (long long)dropped);
                double lambda_t = size_mean * rate_sum(sc, env, d) *
                                  (burst[e] ? env->burst_factor : 1.0);
                double truth = -((double)queued + env->drop_weight * (double)dropped) / lambda_t;
                double tol = 0x1p-23 * fabs(truth) + 1e-300;
                CHECK_QUIET(fabs((double)reward[e] - truth) <= tol,
                            "%s step %llu env %lld: reward %.9g, -(Q %lld + %g x dropped %lld) / "
                            "Lambda %.9g = %.9g",
                            name, (unsigned long long)step, (long long)e, (double)reward[e],
                            (long long)queued, env->drop_weight, (long long)dropped, lambda_t,
                            truth);
                checked++;
                with_drops += dropped > 0;
                /* a reward with w_drop = 1 would miss by (w_drop - 1) dropped / Lambda */
                weight_visible += fabs(env->drop_weight - 1.0) * (double)dropped / lambda_t > 100.0 * tol;
            }
        }
    }
    printf("reward %s: %lld environment-steps, %lld with drops (%lld where w_drop = 1 would be "
           "100x the tolerance off), %lld in bursts\n",
           name, (long long)checked, (long long)with_drops, (long long)weight_visible,
           (long long)bursts);
    CHECK(weight_visible >= checked / 4);
    if (env->burst_prob > 0.0)
        CHECK(bursts >= checked / 10);
    free(actions);
    free(work);
    free(q_before);
    free(disp);
    free(reward);
    free(obs);
    free(burst);
    api->destroy(inst);
}

/* ---- 2. day cycle ----------------------------------------------------------- */

static void test_day_cycle(void)
{
    const char *sets[] = {"env.n_agents=64",        "env.n_pools=4",        "env.lambda_mean=2",
                          "env.lambda_sigma=0",     "env.phase_spread=0",   "env.day_amplitude=0.8",
                          "env.day_length=8",       "env.horizon=13"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, NSETS(sets));
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    enum { E = 32, D = 8 };
    const int32_t N = 64, M = 4, OBS = CLOUD_OBS_DIM(M);
    const uint64_t T = 13;
    cloud_instance *inst = fixture_env(&cfg, 5, 0, E, 1);
    int32_t *actions = calloc((size_t)(E * N), sizeof(int32_t));
    float *reward = malloc(sizeof(float) * E);
    float *obs = malloc(sizeof(float) * (size_t)(E * N * OBS));
    double sum[D] = {0}, count[D] = {0};
    for (uint64_t k = 0; k < 6; k++) {
        CHECK_INT_EQ(api->reset(inst, k), DGPG_OK);
        check_all_scenarios(inst, env, E, NULL);
        for (uint64_t t = 0; t < T; t++) {
            const uint64_t step = k * T + t;
            const int32_t d = (int32_t)(step % D);
            CHECK_QUIET(cloud_instance_step(inst) == step, "step %llu, expected %llu",
                        (unsigned long long)cloud_instance_step(inst), (unsigned long long)step);
            CHECK_INT_EQ(api->observe(inst, obs, NULL), DGPG_OK);
            const int32_t *work = cloud_instance_work(inst);
            for (int64_t e = 0; e < E; e++) {
                const float *o = obs + e * N * OBS;
                CHECK_QUIET(fabs((double)o[2] - sin(TWO_PI * d / D)) <= 1e-6 &&
                                fabs((double)o[3] - cos(TWO_PI * d / D)) <= 1e-6,
                            "step %llu: time of day (%.7f, %.7f), day index %d gives (%.7f, %.7f)",
                            (unsigned long long)step, (double)o[2], (double)o[3], d,
                            sin(TWO_PI * d / D), cos(TWO_PI * d / D));
                CHECK_QUIET(observed_burst(env, d, o[4]) == 0,
                            "step %llu: observed load %.9g, rho (1 + a sin(2 pi %d / %d)) = %.9g",
                            (unsigned long long)step, (double)o[4], d, D,
                            env->rho * (1.0 + env->day_amplitude * sin(TWO_PI * d / D)));
                for (int32_t i = 0; i < N; i++)
                    sum[d] += work[e * N + i];
            }
            count[d] += (double)E * N;
            CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
        }
    }
    double chi = 0.0, shift_min = INFINITY;
    for (int32_t d = 0; d < D; d++) {
        const double a = env->day_amplitude, lam = env->lambda_mean;
        double want = lam * (1.0 + a * sin(TWO_PI * d / D));
        double mean = sum[d] / count[d], sd = sqrt(want / count[d]);
        char what[64];
        snprintf(what, sizeof what, "arrivals per agent-step at day index %d", d);
        check_z(what, mean, want, sd);
        chi += (mean - want) * (mean - want) / (sd * sd);
        for (int s = -1; s <= 1; s += 2) {
            double shifted = lam * (1.0 + a * sin(TWO_PI * (d + s) / D));
            shift_min = fmin(shift_min, fabs(mean - shifted) / sd);
        }
    }
    printf("day cycle: sum z^2 = %.2f over %d slots (bound %.1f); a day index off by one "
           "would be at least %.1f sigma off in every slot\n",
           chi, D, test_chi2_bound(D), shift_min);
    CHECK_LE(chi, test_chi2_bound(D));
    api->destroy(inst);
    free(actions);
    free(reward);
    free(obs);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Heterogeneous agents: the tables' shape, the rate and phase
 * distributions, and the arrivals against the tables, per day index. */
static void test_day_cycle_heterogeneous(void)
{
    const char *sets[] = {"env.n_agents=500",    "env.n_pools=4",     "env.lambda_mean=1",
                          "env.lambda_sigma=0.6", "env.phase_spread=0.5", "env.day_amplitude=0.7",
                          "env.day_length=8",    "env.horizon=16"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, NSETS(sets));
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    enum { E = 4, D = 8, N = 500 };
    cloud_instance *inst = fixture_env(&cfg, 6, 0, E, 1);
    rate_sample rs = {0};
    rs.cap = 2 * E * N;
    rs.log_rate = malloc(sizeof(double) * (size_t)rs.cap);
    rs.rate = malloc(sizeof(double) * (size_t)rs.cap);
    rs.phase = malloc(sizeof(double) * (size_t)rs.cap);
    int32_t *actions = calloc((size_t)(E * N), sizeof(int32_t));
    float reward[E];
    double got[D] = {0}, want[D] = {0};
    for (uint64_t k = 0; k < 2; k++) {
        CHECK_INT_EQ(api->reset(inst, k), DGPG_OK);
        check_all_scenarios(inst, env, E, &rs);
        const cloud_scenario *scs = cloud_instance_scenarios(inst);
        for (uint64_t t = 0; t < (uint64_t)env->horizon; t++) {
            const uint64_t step = k * (uint64_t)env->horizon + t;
            const int32_t d = (int32_t)(step % D);
            const int32_t *work = cloud_instance_work(inst);
            for (int64_t e = 0; e < E; e++) {
                for (int32_t i = 0; i < N; i++)
                    got[d] += work[e * N + i];
                want[d] += rate_sum(&scs[e], env, d);
            }
            CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
        }
    }
    for (int32_t d = 0; d < D; d++) {
        char what[64];
        snprintf(what, sizeof what, "heterogeneous arrivals at day index %d", d);
        check_z(what, got[d], want[d], sqrt(want[d]));
    }
    const double n = (double)rs.n, sigma = env->lambda_sigma, lam = env->lambda_mean;
    double mean_log = 0.0, var_log = 0.0, mean_rate = 0.0;
    for (int64_t k = 0; k < rs.n; k++) {
        mean_log += rs.log_rate[k] / n;
        mean_rate += rs.rate[k] / n;
    }
    for (int64_t k = 0; k < rs.n; k++)
        var_log += (rs.log_rate[k] - mean_log) * (rs.log_rate[k] - mean_log) / (n - 1.0);
    CHECK_INT_EQ(rs.n, 2 * E * N);
    check_z("mean log lambda_i", mean_log, log(lam) - 0.5 * sigma * sigma, sigma / sqrt(n));
    check_z("variance of log lambda_i", var_log, sigma * sigma,
            sigma * sigma * sqrt(2.0 / (n - 1.0)));
    check_z("mean lambda_i", mean_rate, lam, lam * sqrt(expm1(sigma * sigma) / n));
    qsort(rs.phase, (size_t)rs.n, sizeof(double), compare_double);
    double ks = 0.0;
    for (int64_t k = 0; k < rs.n; k++) {
        double f = rs.phase[k] / env->phase_spread;
        ks = fmax(ks, fmax(fabs((double)(k + 1) / n - f), fabs(f - (double)k / n)));
    }
    printf("heterogeneous rates: %lld agents, mean log rate %.4f (truth %.4f), var %.4f (%.4f), "
           "phases KS sqrt(n) D = %.3f\n",
           (long long)rs.n, mean_log, log(lam) - 0.5 * sigma * sigma, var_log, sigma * sigma,
           sqrt(n) * ks);
    CHECK_LE(sqrt(n) * ks, 2.5);
    free(rs.log_rate);
    free(rs.rate);
    free(rs.phase);
    free(actions);
    api->destroy(inst);
}

/* ---- 3. bursts -------------------------------------------------------------- */

static void test_bursts(void)
{
    const char *sets[] = {"env.n_agents=8",       "env.n_pools=2",       "env.lambda_sigma=0",
                          "env.phase_spread=0",   "env.day_amplitude=0.5", "env.day_length=6",
                          "env.horizon=240",      "env.burst_prob=0.3",  "env.burst_factor=3",
                          "env.burst_length=3"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, NSETS(sets));
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    enum { E = 64, N = 8, M = 2, T = 240, L = 3, K = 2 };
    const int32_t OBS = CLOUD_OBS_DIM(M), D = 6;
    const double p = env->burst_prob, f = env->burst_factor;
    cloud_instance *inst = fixture_env(&cfg, 31, 0, E, 1);
    int32_t *actions = calloc((size_t)(E * N), sizeof(int32_t));
    float reward[E];
    float *obs = malloc(sizeof(float) * (size_t)(E * N * OBS));
    signed char *flag = malloc((size_t)(E * K * T));
    double got_b = 0, want_b = 0, got_n = 0, want_n = 0;
    for (uint64_t k = 0; k < K; k++) {
        CHECK_INT_EQ(api->reset(inst, k), DGPG_OK);
        check_all_scenarios(inst, env, E, NULL);
        for (uint64_t t = 0; t < T; t++) {
            const uint64_t step = k * T + t;
            const int32_t d = (int32_t)(step % (uint64_t)D);
            CHECK_INT_EQ(api->observe(inst, obs, NULL), DGPG_OK);
            const int32_t *work = cloud_instance_work(inst);
            const double nominal = N * env->lambda_mean *
                                   (1.0 + env->day_amplitude * sin(TWO_PI * d / D));
            for (int64_t e = 0; e < E; e++) {
                int b = observed_burst(env, d, obs[e * N * OBS + 4]);
                CHECK_QUIET(b >= 0, "step %llu env %lld: observed load %.9g fits neither value",
                            (unsigned long long)step, (long long)e, (double)obs[e * N * OBS + 4]);
                flag[(e * K + (int64_t)k) * T + (int64_t)t] = (signed char)(b == 1);
                double w = 0.0;
                for (int32_t i = 0; i < N; i++)
                    w += work[e * N + i];
                if (b == 1) {
                    got_b += w;
                    want_b += f * nominal;
                } else {
                    got_n += w;
                    want_n += nominal;
                }
            }
            CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
        }
    }
    int64_t windows = 0, burst_windows = 0, after_burst = 0, continued = 0, broken = 0;
    for (int64_t r = 0; r < E * K; r++) {
        const signed char *fl = flag + r * T;
        for (int w = 0; w < T / L; w++) {
            for (int j = 1; j < L; j++)
                broken += fl[w * L + j] != fl[w * L];
            windows++;
            burst_windows += fl[w * L];
            if (w > 0 && fl[(w - 1) * L]) {
                after_burst++;
                continued += fl[w * L];
            }
        }
    }
    printf("bursts: %lld of %lld windows (p = %g), %lld of %lld after a burst; arrivals x%.4f in "
           "bursts (factor %g), x%.4f outside\n",
           (long long)burst_windows, (long long)windows, p, (long long)continued,
           (long long)after_burst, got_b / want_b * f, f, got_n / want_n);
    CHECK_INT_EQ(broken, 0);
    CHECK(after_burst >= 1000);
    check_z("share of burst windows", (double)burst_windows, p * windows,
            sqrt(windows * p * (1.0 - p)));
    check_z("share of bursts after a burst", (double)continued, p * after_burst,
            sqrt(after_burst * p * (1.0 - p)));
    check_z("arrivals in bursts", got_b, want_b, sqrt(want_b));
    check_z("arrivals outside bursts", got_n, want_n, sqrt(want_n));
    free(actions);
    free(obs);
    free(flag);
    api->destroy(inst);
}

/* ---- 4. job sizes ----------------------------------------------------------- */

static void test_job_sizes(const char *name, const char *const *sets, int n_sets)
{
    dgpg_config cfg;
    fixture_config(&cfg, sets, n_sets);
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    enum { E = 32, N = 64, T = 100 };
    cloud_instance *inst = fixture_env(&cfg, 41, 0, E, 1);
    int32_t *actions = calloc((size_t)(E * N), sizeof(int32_t));
    float reward[E];
    const double lam = env->lambda_mean;
    int64_t wmax = 4 * size_max(env) + 64;
    wmax = wmax > 4096 ? 4096 : wmax;
    double *p = malloc(sizeof(double) * (size_t)wmax);
    double *hist = calloc((size_t)wmax + 1, sizeof(double));
    compound_poisson(env, lam, p, wmax);
    CHECK_INT_EQ(api->reset(inst, 0), DGPG_OK);
    check_all_scenarios(inst, env, E, NULL);
    double total = 0.0, draws = 0.0;
    for (int t = 0; t < T; t++) {
        const int32_t *work = cloud_instance_work(inst);
        for (int64_t k = 0; k < E * N; k++) {
            hist[work[k] < wmax ? work[k] : wmax] += 1.0;
            total += work[k];
            draws += 1.0;
        }
        CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
    }
    /* bins: each value below 64, then doubling ranges, then w >= wmax */
    double obs[64 + 16], ex[64 + 16], tail = 1.0;
    int bins = 0;
    for (int64_t lo = 0, hi = 1; lo < wmax; lo = hi, hi = hi < 64 ? hi + 1 : 2 * hi) {
        int64_t top = hi < wmax ? hi : wmax;
        obs[bins] = ex[bins] = 0.0;
        for (int64_t w = lo; w < top; w++) {
            obs[bins] += hist[w];
            ex[bins] += draws * p[w];
            tail -= p[w];
        }
        bins++;
    }
    obs[bins] = hist[wmax];
    ex[bins++] = draws * (tail > 0.0 ? tail : 0.0);
    test_chi2 c = {0};
    test_chi2_add(&c, obs, ex, bins);
    const double m1 = size_moment(env, 1), m2 = size_moment(env, 2);
    printf("job sizes %s: E[size] %.6f, mean work %.6f (truth %.6f)\n", name, m1, total / draws,
           lam * m1);
    char what[64];
    snprintf(what, sizeof what, "%s work", name);
    test_check_chi2(what, &c);
    snprintf(what, sizeof what, "%s mean work", name);
    check_z(what, total / draws, lam * m1, sqrt(lam * m2 / draws));
    free(p);
    free(hist);
    free(actions);
    api->destroy(inst);
}

/* ---- 5. capacity with one server per pool ------------------------------------ */

static void test_capacity_exact(void)
{
    const char *sets[] = {"env.n_agents=10", "env.n_pools=7", "env.servers_max=1",
                          "env.instance_types=3", "env.rho=0.6", "env.lambda_sigma=0",
                          "env.phase_spread=0", "env.job_size=bimodal"};
    dgpg_config cfg;
    fixture_config(&cfg, sets, NSETS(sets));
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    enum { E = 3, M = 7 };
    cloud_instance *inst = fixture_env(&cfg, 51, 0, E, 1);
    CHECK_INT_EQ(dgpg_cloud_env_api.reset(inst, 2), DGPG_OK);
    check_all_scenarios(inst, env, E, NULL);
    const double total = size_moment(env, 1) * 10.0 * env->lambda_mean / env->rho;
    double vcpu_sum = 0.0;
    for (int m = 0; m < M; m++)
        vcpu_sum += ldexp(1.0, 1 + m % 3);
    const cloud_scenario *scs = cloud_instance_scenarios(inst);
    for (int e = 0; e < E; e++)
        for (int m = 0; m < M; m++) {
            double want = ldexp(1.0, 1 + m % 3) * total / vcpu_sum;
            CHECK_QUIET(fabs(scs[e].mu[m] - want) <= 1e-12 * want,
                        "env %d pool %d: mu %.17g, 2^(1 + m mod 3) sum mu / sum vCPUs = %.17g", e,
                        m, scs[e].mu[m], want);
        }
    dgpg_cloud_env_api.destroy(inst);
}

/* ---- 6. heuristics ------------------------------------------------------------ */

/* p* of Lambda: x_m = mu_m - sqrt(mu_m) (sum_act mu - Lambda) / sum_act sqrt(mu)
 * over the longest prefix of pools by mu (largest first) whose smallest
 * gets positive flow; every pool when Lambda >= sum mu. */
static void truth_pstar_static(int M, const double *mu, double lambda, double *p)
{
    int order[64];
    for (int m = 0; m < M; m++) {
        int j = m;
        while (j > 0 && mu[order[j - 1]] < mu[m]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = m;
    }
    int active = M;
    double S = 0.0, R = 0.0;
    for (int k = M; k >= 1; k--) {
        S = R = 0.0;
        for (int j = 0; j < k; j++) {
            S += mu[order[j]];
            R += sqrt(mu[order[j]]);
        }
        double smallest = mu[order[k - 1]] - sqrt(mu[order[k - 1]]) * (S - lambda) / R;
        if (smallest > 0.0 || lambda >= S) {
            active = k;
            break;
        }
    }
    for (int m = 0; m < M; m++)
        p[m] = 0.0;
    for (int j = 0; j < active; j++) {
        double x = mu[order[j]] - sqrt(mu[order[j]]) * (S - lambda) / R;
        p[order[j]] = x / lambda;
    }
}

/* p*(s): the split of W that levels (Q_m + A_m) / mu_m over the pools below
 * the level L; W = 0: the least loaded pools in proportion to mu. */
static void truth_pstar_state(int M, const double *mu, const int64_t *Q, double W, double *p)
{
    int order[64];
    for (int m = 0; m < M; m++) {
        int j = m;
        while (j > 0 && (double)Q[order[j - 1]] / mu[order[j - 1]] > (double)Q[m] / mu[m]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = m;
    }
    for (int m = 0; m < M; m++)
        p[m] = 0.0;
    if (W <= 0.0) {
        double low = (double)Q[order[0]] / mu[order[0]], sum = 0.0;
        for (int m = 0; m < M; m++)
            sum += (double)Q[m] / mu[m] == low ? mu[m] : 0.0;
        for (int m = 0; m < M; m++)
            p[m] = (double)Q[m] / mu[m] == low ? mu[m] / sum : 0.0;
        return;
    }
    double SQ = 0.0, Smu = 0.0, level = 0.0;
    for (int k = 0; k < M; k++) {
        SQ += (double)Q[order[k]];
        Smu += mu[order[k]];
        level = (W + SQ) / Smu;
        if (k + 1 == M || (double)Q[order[k + 1]] / mu[order[k + 1]] >= level)
            break;
    }
    for (int m = 0; m < M; m++) {
        double a = level * mu[m] - (double)Q[m];
        p[m] = a > 0.0 ? a / W : 0.0;
    }
}

enum { H_RANDOM, H_CAPACITY, H_RR, H_JSQ, H_P2, H_LED, H_PSTAR, H_PSTAR_STATE, H_COUNT };
static const char *const H_NAMES[H_COUNT] = {"random", "capacity", "round_robin", "jsq",
                                             "power_of_two", "led", "pstar", "pstar_state"};

static void test_heuristics(const char *name, const char *const *sets, int n_sets,
                            const char *warm_policy, uint64_t first_seed)
{
    dgpg_config cfg;
    fixture_config(&cfg, sets, n_sets);
    cloud_config env_view;
    CHECK_INT_EQ(cloud_config_read(&cfg, &env_view), DGPG_OK);
    const cloud_config *env = &env_view;
    const dgpg_env_api *api = &dgpg_cloud_env_api;
    enum { E = 8, N = 400, M = 6 };
    const int32_t D = (int32_t)env->day_length;
    const uint64_t T = (uint64_t)env->horizon;
    const double size_mean = size_moment(env, 1);
    int32_t *acts = malloc(sizeof(int32_t) * (size_t)(H_COUNT * E * N));
    int32_t *warm = malloc(sizeof(int32_t) * (size_t)(E * N));
    float reward[E];
    test_chi2 c[H_COUNT];
    memset(c, 0, sizeof c);
    int64_t states = 0, p2_states = 0, jsq_ties = 0, jsq_mu_ties = 0, led_ties = 0;
    int64_t jsq_rounded = 0;
    int64_t p2_unique_worst = 0;
    const uint64_t seeds[3] = {first_seed, first_seed + 1, first_seed + 2};
    for (int si = 0; si < 3; si++) {
        cloud_instance *inst = fixture_env(&cfg, seeds[si], 0, E, 1);
        int idx[H_COUNT];
        for (int h = 0; h < H_COUNT; h++) {
            idx[h] = api->policy_find(inst, H_NAMES[h]);
            CHECK(idx[h] >= 0);
        }
        const int warm_idx = api->policy_find(inst, warm_policy);
        CHECK(warm_idx >= 0);
        for (uint64_t k = 0; k < 2; k++) {
            CHECK_INT_EQ(api->reset(inst, k), DGPG_OK);
            check_all_scenarios(inst, env, E, NULL);
            const cloud_scenario *scs = cloud_instance_scenarios(inst);
            uint64_t step = k * T;
            for (int j = 0; j < 6; j++) {
                for (int w = 0; w < 2; w++, step++) {
                    CHECK_INT_EQ(api->policy_act(inst, warm_idx, warm), DGPG_OK);
                    CHECK_INT_EQ(api->step(inst, warm, reward), DGPG_OK);
                }
                CHECK_QUIET(cloud_instance_step(inst) == step, "step %llu, expected %llu",
                            (unsigned long long)cloud_instance_step(inst),
                            (unsigned long long)step);
                const int32_t d = (int32_t)(step % (uint64_t)D);
                for (int h = 0; h < H_COUNT; h++)
                    CHECK_INT_EQ(api->policy_act(inst, idx[h], acts + h * E * N), DGPG_OK);
                const int64_t *queue = cloud_instance_queue(inst);
                const int32_t *work = cloud_instance_work(inst);
                for (int64_t e = 0; e < E; e++) {
                    const cloud_scenario *sc = &scs[e];
                    const int64_t *Q = queue + e * M;
                    const int32_t *wk = work + e * N;
                    const int32_t *a[H_COUNT];
                    for (int h = 0; h < H_COUNT; h++)
                        a[h] = acts + (h * E + e) * N;
                    double b[M], mu_sum = 0.0;
                    for (int m = 0; m < M; m++) {
                        b[m] = (double)Q[m] / sc->mu[m];
                        mu_sum += sc->mu[m];
                    }
                    states++;
                    /* round robin */
                    int bad = 0;
                    for (int i = 0; i < N; i++)
                        bad += a[H_RR][i] != (int32_t)(((uint64_t)i + step) % M);
                    CHECK_QUIET(bad == 0, "%s: round_robin at step %llu: %d agents off (i + t) "
                                "mod M", name, (unsigned long long)step, bad);
                    /* jsq: the least normalised backlog, ties to the largest pool */
                    double low = INFINITY;
                    for (int m = 0; m < M; m++)
                        low = fmin(low, b[m]);
                    double big = 0.0;
                    int tied = 0;
                    for (int m = 0; m < M; m++)
                        if (b[m] <= low * (1.0 + 1e-12)) {
                            tied++;
                            big = fmax(big, sc->mu[m]);
                        }
                    int big_tied = 0;
                    for (int m = 0; m < M; m++)
                        big_tied += b[m] <= low * (1.0 + 1e-12) && sc->mu[m] >= big * (1.0 - 1e-12);
                    jsq_ties += tied > 1;
                    jsq_mu_ties += big_tied > 1;
                    const int32_t pick = a[H_JSQ][0];
                    const int pick_ok = pick >= 0 && pick < M;
                    /* argmin up to rounding; the largest pool among the ties:
                     * empty queues (0 = 0) and equal ratios of non-empty
                     * queues (Q_a mu_b = Q_b mu_a, the capacities being
                     * multiples of one unit), which Q (1/mu) rounds apart */
                    const int exact_tie = low == 0.0;
                    bad = !pick_ok || b[pick] > low * (1.0 + 1e-12) ||
                          sc->mu[pick] < big * (1.0 - 1e-12);
                    jsq_rounded += !exact_tie && tied > 1;
                    for (int i = 1; i < N; i++)
                        bad += a[H_JSQ][i] != pick;
                    CHECK_QUIET(bad == 0,
                                "%s: jsq picked pool %d (Q %lld, mu %.6g, Q/mu %.6g); least Q/mu "
                                "%.6g, largest mu among those %.6g",
                                name, pick, pick_ok ? (long long)Q[pick] : -1LL,
                                pick_ok ? sc->mu[pick] : NAN, pick_ok ? b[pick] : NAN, low, big);
                    /* led: in agent order, argmin (Q + A + w) / mu */
                    double load[M];
                    for (int m = 0; m < M; m++)
                        load[m] = (double)Q[m];
                    bad = 0;
                    for (int i = 0; i < N; i++) {
                        double best = INFINITY;
                        int n_best = 0;
                        for (int m = 0; m < M; m++)
                            best = fmin(best, (load[m] + wk[i]) / sc->mu[m]);
                        for (int m = 0; m < M; m++)
                            n_best += (load[m] + wk[i]) / sc->mu[m] <= best * (1.0 + 1e-12);
                        led_ties += n_best > 1;
                        int32_t m = a[H_LED][i];
                        if (m < 0 || m >= M ||
                            (load[m] + wk[i]) / sc->mu[m] > best * (1.0 + 1e-12) + 1e-300) {
                            bad++;
                            break;
                        }
                        load[m] += wk[i];
                    }
                    CHECK_QUIET(bad == 0, "%s: led picked a pool of more than the least expected "
                                "delay (step %llu env %lld)", name, (unsigned long long)step,
                                (long long)e);
                    /* the sampled heuristics: per-state chi-square */
                    double counts[H_COUNT][M], ex[M], prob[M];
                    memset(counts, 0, sizeof counts);
                    for (int h = 0; h < H_COUNT; h++)
                        for (int i = 0; i < N; i++)
                            if (a[h][i] >= 0 && a[h][i] < M)
                                counts[h][a[h][i]] += 1.0;
                    for (int m = 0; m < M; m++)
                        ex[m] = (double)N / M;
                    test_chi2_add(&c[H_RANDOM], counts[H_RANDOM], ex, M);
                    for (int m = 0; m < M; m++)
                        ex[m] = N * sc->mu[m] / mu_sum;
                    test_chi2_add(&c[H_CAPACITY], counts[H_CAPACITY], ex, M);
                    const double lambda_t = size_mean * rate_sum(sc, env, d);
                    truth_pstar_static(M, sc->mu, lambda_t, prob);
                    for (int m = 0; m < M; m++)
                        ex[m] = N * prob[m];
                    test_chi2_add(&c[H_PSTAR], counts[H_PSTAR], ex, M);
                    double W = 0.0;
                    for (int i = 0; i < N; i++)
                        W += wk[i];
                    truth_pstar_state(M, sc->mu, Q, W, prob);
                    for (int m = 0; m < M; m++)
                        ex[m] = N * prob[m];
                    test_chi2_add(&c[H_PSTAR_STATE], counts[H_PSTAR_STATE], ex, M);
                    /* power of two: the better of two distinct uniform pools */
                    int distinct = 1, worst = 0, worst_unique = 1;
                    for (int m = 0; m < M; m++)
                        for (int m2 = 0; m2 < m; m2++)
                            distinct &= fabs(b[m] - b[m2]) > 1e-9 * fmax(b[m], b[m2]) &&
                                        fmax(b[m], b[m2]) > 0.0;
                    for (int m = 1; m < M; m++)
                        worst = b[m] > b[worst] ? m : worst;
                    for (int m = 0; m < M; m++)
                        worst_unique &= m == worst || b[m] < b[worst] * (1.0 - 1e-9);
                    if (worst_unique) {
                        p2_unique_worst++;
                        CHECK_QUIET(counts[H_P2][worst] == 0.0,
                                    "%s: power_of_two chose the pool of the largest backlog %g "
                                    "times", name, counts[H_P2][worst]);
                    }
                    if (distinct) {
                        p2_states++;
                        for (int m = 0; m < M; m++) {
                            int larger = 0;
                            for (int m2 = 0; m2 < M; m2++)
                                larger += b[m2] > b[m];
                            ex[m] = N * larger / (M * (M - 1) / 2.0);
                        }
                        test_chi2_add(&c[H_P2], counts[H_P2], ex, M);
                    }
                }
            }
        }
        api->destroy(inst);
    }
    printf("heuristics %s: %lld states (%lld with distinct backlogs, %lld with a unique worst "
           "pool); ties: jsq %lld (%lld also in mu; %lld between non-empty queues), led %lld agent "
           "choices\n",
           name, (long long)states, (long long)p2_states, (long long)p2_unique_worst,
           (long long)jsq_ties, (long long)jsq_mu_ties, (long long)jsq_rounded,
           (long long)led_ties);
    const int sampled[] = {H_RANDOM, H_CAPACITY, H_PSTAR, H_PSTAR_STATE, H_P2};
    for (size_t k = 0; k < sizeof sampled / sizeof sampled[0]; k++) {
        if (sampled[k] == H_P2 && p2_states == 0)
            continue;
        char what[64];
        snprintf(what, sizeof what, "%s %s", name, H_NAMES[sampled[k]]);
        test_check_chi2(what, &c[sampled[k]]);
    }
    CHECK(p2_unique_worst >= states / 2);
    free(acts);
    free(warm);
}

int main(void)
{
    /* 1. reward: overload, small buffers, w_drop != 1; bursts and bimodal
     * sizes with homogeneous agents, then heterogeneous agents */
    const char *r1[] = {"env.n_agents=20",          "env.n_pools=6",
                        "env.lambda_sigma=0",       "env.phase_spread=0",
                        "env.day_amplitude=0.6",    "env.day_length=10",
                        "env.horizon=37",           "env.rho=1.3",
                        "env.buffer_steps=0.3",     "env.drop_weight=7.5",
                        "env.job_size=bimodal",     "env.large_job_prob=0.2",
                        "env.large_job_min=4",      "env.pareto_alpha=1.3",
                        "env.job_size_cap=64",      "env.burst_prob=0.3",
                        "env.burst_factor=2.5",     "env.burst_length=4"};
    test_reward("bursty bimodal", r1, NSETS(r1));
    const char *r2[] = {"env.n_agents=30",    "env.n_pools=5",       "env.day_length=12",
                        "env.horizon=40",     "env.rho=1.1",         "env.buffer_steps=0.5",
                        "env.drop_weight=3",  "env.day_amplitude=0.5"};
    test_reward("heterogeneous unit", r2, NSETS(r2));

    /* 2. day cycle, 3. bursts */
    test_day_cycle();
    test_day_cycle_heterogeneous();
    test_bursts();

    /* 4. job sizes: lambda constant over agents and the day */
    const char *j_unit[] = {"env.lambda_mean=1.5", "env.lambda_sigma=0", "env.phase_spread=0",
                            "env.day_amplitude=0", "env.n_agents=64", "env.n_pools=2"};
    test_job_sizes("unit", j_unit, NSETS(j_unit));
    const char *j_mix[] = {"env.lambda_mean=0.4",     "env.lambda_sigma=0",
                           "env.phase_spread=0",      "env.day_amplitude=0",
                           "env.n_agents=64",         "env.n_pools=2",
                           "env.job_size=bimodal",    "env.large_job_prob=0.3",
                           "env.large_job_min=3",     "env.pareto_alpha=1.5",
                           "env.job_size_cap=40"};
    test_job_sizes("bimodal q=0.3 [3,40]", j_mix, NSETS(j_mix));
    const char *j_pareto[] = {"env.lambda_mean=0.4",  "env.lambda_sigma=0",
                              "env.phase_spread=0",   "env.day_amplitude=0",
                              "env.n_agents=64",      "env.n_pools=2",
                              "env.job_size=bimodal", "env.large_job_prob=1",
                              "env.large_job_min=5",  "env.pareto_alpha=2.5",
                              "env.job_size_cap=9"};
    test_job_sizes("pure Pareto [5,9]", j_pareto, NSETS(j_pareto));
    const char *j_default[] = {"env.lambda_mean=0.5", "env.lambda_sigma=0", "env.phase_spread=0",
                               "env.day_amplitude=0", "env.n_agents=64",    "env.n_pools=2",
                               "env.job_size=bimodal"};
    test_job_sizes("default bimodal", j_default, NSETS(j_default));

    /* 5. capacity (also checked on every scenario above) */
    test_capacity_exact();

    /* 6. heuristics: every queue busy (load 1.3), and light load with ties */
    const char *h1[] = {"env.n_agents=400",    "env.n_pools=6",       "env.lambda_sigma=0",
                        "env.phase_spread=0",  "env.day_amplitude=0.3", "env.day_length=20",
                        "env.horizon=50",      "env.rho=1.3",         "env.buffer_steps=50",
                        "env.job_size=bimodal"};
    test_heuristics("load 1.3", h1, NSETS(h1), "capacity", 11);
    const char *h2[] = {"env.n_agents=400",   "env.n_pools=6",         "env.lambda_sigma=0",
                        "env.phase_spread=0", "env.day_amplitude=0.3", "env.day_length=20",
                        "env.horizon=50",     "env.rho=0.35",          "env.buffer_steps=50",
                        "env.servers_max=8"};
    test_heuristics("load 0.35", h2, NSETS(h2), "random", 14);
    return test_finish("env_formulas");
}
