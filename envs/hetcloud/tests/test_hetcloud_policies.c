/* test_hetcloud_policies.c — the hetcloud heuristics (hetcloud_policy.h)
 * through api->policy_act, against truth written here:
 *
 *  first_fit and best_fit: a brute-force search, in exact integer
 *  arithmetic (fractions compared by cross-multiplication, so ties are
 *  exact ties). Agents in index order; the committed demand of server n
 *  starts at R_n = running + waiting (cpu_used + cpu_queued, likewise
 *  memory, read through hetcloud_instance_servers); an agent with no job
 *  gets server 0 and commits nothing; otherwise every server is
 *  enumerated, the feasible ones are those whose free CPU and memory
 *  (capacity - committed) hold the agent's whole request (its bundle's
 *  sums); best_fit picks the feasible server minimising
 *  (free_cpu - w_cpu)/C_cpu + (free_mem - w_mem)/C_mem, first_fit the
 *  lowest feasible index; with none feasible both pick the server
 *  minimising max((committed_cpu + w_cpu)/C_cpu, (committed_mem +
 *  w_mem)/C_mem); ties to the lowest index; the choice's committed demand
 *  grows by the request. Exactly the same actions are required, on every
 *  environment of many steps of small instances (three seeds, N = 6 .. 12,
 *  M = 3 .. 5, light and overloaded), the state driven by the policy
 *  itself or by random play; both branches (a feasible server, none) and
 *  steps where best_fit and first_fit differ must occur.
 *
 *  random: actions in [0, M), uniform: Pearson's chi-square over the
 *  (agent, action) cells at the 4.5-sigma Wilson-Hilferty bound (fixed
 *  seed).
 *
 *  pstar: over many agents and steps, the count of each action against
 *  the sum over (environment, step) of N p*_n, p* the model's
 *  optimal_probs at that state (checked against an independent solver in
 *  test_hetcloud_model): z <= 4.5 per action with the binomial variance
 *  sum N p (1 - p); no action of probability 0 ever drawn. */
#include "hetcloud_fixture.h"

typedef struct frac {
    int64_t num, den; /* den > 0 */
} frac;

static int frac_less(frac a, frac b) { return a.num * b.den < b.num * a.den; }
static frac frac_max(frac a, frac b) { return frac_less(a, b) ? b : a; }

typedef struct counts {
    int64_t decisions, feasible, fallback, differ_steps, no_job, ties;
} counts;

/* The brute-force choice of every agent of one environment. */
static void brute_force(const hetcloud_scenario *sc, const hetcloud_server *sv,
                        const hetcloud_bundle *bd, int best, int32_t *out, counts *cnt)
{
    const int M = sc->n_servers, N = sc->n_agents;
    int64_t com_c[HETCLOUD_MAX_SERVERS], com_m[HETCLOUD_MAX_SERVERS];
    for (int n = 0; n < M; n++) {
        com_c[n] = sv[n].cpu_used + sv[n].cpu_queued;
        com_m[n] = sv[n].mem_used + sv[n].mem_queued;
    }
    for (int i = 0; i < N; i++) {
        if (bd[i].jobs == 0) {
            out[i] = 0;
            cnt->no_job++;
            continue;
        }
        const int64_t wc = bd[i].cpu, wm = bd[i].mem;
        int choice = -1;
        frac choice_left = {0, 1};
        for (int n = 0; n < M; n++) {
            const int64_t Cc = sc->cpu_cap[n], Cm = sc->mem_cap[n];
            const int64_t fc = Cc - com_c[n], fm = Cm - com_m[n];
            if (fc < wc || fm < wm)
                continue;
            if (!best) {
                choice = n;
                break;
            }
            const frac left = {(fc - wc) * Cm + (fm - wm) * Cc, Cc * Cm};
            if (choice < 0 || frac_less(left, choice_left)) {
                choice = n;
                choice_left = left;
            } else if (!frac_less(choice_left, left)) {
                cnt->ties++; /* an exact tie: the lower index keeps it */
            }
        }
        if (choice >= 0) {
            cnt->feasible++;
        } else {
            cnt->fallback++;
            frac worst_best = {0, 1};
            for (int n = 0; n < M; n++) {
                const frac uc = {com_c[n] + wc, sc->cpu_cap[n]};
                const frac um = {com_m[n] + wm, sc->mem_cap[n]};
                const frac worst = frac_max(uc, um);
                if (choice < 0 || frac_less(worst, worst_best)) {
                    choice = n;
                    worst_best = worst;
                } else if (!frac_less(worst_best, worst)) {
                    cnt->ties++;
                }
            }
        }
        out[i] = choice;
        com_c[choice] += wc;
        com_m[choice] += wm;
        cnt->decisions++;
    }
}

static void make(dgpg_config *cfg, int N, int M, int E, double rho, int queue, int sizes,
                 const char *extra)
{
    char s[8][64];
    snprintf(s[0], 64, "env.n_agents=%d", N);
    snprintf(s[1], 64, "env.n_pools=%d", M);
    snprintf(s[2], 64, "env.n_envs=%d", E);
    snprintf(s[3], 64, "env.rho=%g", rho);
    snprintf(s[4], 64, "env.queue_jobs=%d", queue);
    snprintf(s[5], 64, "env.instance_sizes=%d", sizes);
    snprintf(s[6], 64, "env.horizon=500");
    snprintf(s[7], 64, "%s", extra);
    const char *ptr[8] = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]};
    hc_config(cfg, ptr, 8);
}

/* first_fit and best_fit against the brute force on one instance. */
static void fit_case(int N, int M, double rho, int queue, int sizes, uint64_t seed,
                     const char *driver, counts *cnt)
{
    dgpg_config cfg;
    const int E = 5, T = 120;
    char cap[32]; /* jobs up to the largest server */
    snprintf(cap, sizeof cap, "env.job_cpu_cap=%d", 1 << sizes);
    make(&cfg, N, M, E, rho, queue, sizes, cap);
    const dgpg_env_api *api = hc_api();
    hetcloud_instance *inst = hc_create(&cfg, seed, E, 1);
    CHECK_INT_EQ(api->reset(inst, 1), DGPG_OK);
    const int ff = api->policy_find(inst, "first_fit"), bf = api->policy_find(inst, "best_fit");
    const int drive = api->policy_find(inst, driver);
    CHECK(ff >= 0 && bf >= 0 && drive >= 0);
    int32_t *a_ff = malloc(sizeof(int32_t) * (size_t)(E * N));
    int32_t *a_bf = malloc(sizeof(int32_t) * (size_t)(E * N));
    int32_t *a_drive = malloc(sizeof(int32_t) * (size_t)(E * N));
    int32_t *want = malloc(sizeof(int32_t) * (size_t)N);
    float *rew = malloc(sizeof(float) * (size_t)E);
    const hetcloud_scenario *scs = hetcloud_instance_scenarios(inst);
    int64_t mismatches = 0;
    for (int t = 0; t < T; t++) {
        const hetcloud_server *sv = hetcloud_instance_servers(inst);
        const hetcloud_bundle *bd = hetcloud_instance_bundles(inst);
        CHECK_INT_EQ(api->policy_act(inst, ff, a_ff), DGPG_OK);
        CHECK_INT_EQ(api->policy_act(inst, bf, a_bf), DGPG_OK);
        for (int e = 0; e < E; e++) {
            for (int best = 0; best < 2; best++) {
                brute_force(&scs[e], sv + e * M, bd + e * N, best, want, cnt);
                const int32_t *got = (best ? a_bf : a_ff) + e * N;
                for (int i = 0; i < N; i++) {
                    mismatches += got[i] != want[i];
                    CHECK_QUIET(got[i] == want[i],
                                "%s, seed %llu, env %d step %d agent %d (bundle %d jobs, %d "
                                "vCPU, %d GiB): action %d, brute force %d",
                                best ? "best_fit" : "first_fit", (unsigned long long)seed, e, t,
                                i, bd[e * N + i].jobs, bd[e * N + i].cpu, bd[e * N + i].mem,
                                got[i], want[i]);
                }
            }
            int differ = 0;
            for (int i = 0; i < N; i++)
                differ |= a_ff[e * N + i] != a_bf[e * N + i];
            cnt->differ_steps += differ;
        }
        const int32_t *step_actions = a_bf;
        if (drive != bf) {
            CHECK_INT_EQ(api->policy_act(inst, drive, a_drive), DGPG_OK);
            step_actions = drive == ff ? a_ff : a_drive;
        }
        CHECK_INT_EQ(api->step(inst, step_actions, rew), DGPG_OK);
    }
    printf("fit N=%d M=%d rho=%g B=%d sizes=%d seed=%llu driven by %s: %lld mismatches\n", N, M,
           rho, queue, sizes, (unsigned long long)seed, driver, (long long)mismatches);
    free(a_ff);
    free(a_bf);
    free(a_drive);
    free(want);
    free(rew);
    api->destroy(inst);
}

static void random_case(void)
{
    dgpg_config cfg;
    const int N = 12, M = 5, E = 8, T = 250;
    make(&cfg, N, M, E, 0.8, 8, 4, "env.seed=3");
    const dgpg_env_api *api = hc_api();
    hetcloud_instance *inst = hc_create(&cfg, 41, E, 1);
    CHECK_INT_EQ(api->reset(inst, 0), DGPG_OK);
    const int pol = api->policy_find(inst, "random");
    CHECK(pol >= 0);
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(E * N));
    float *rew = malloc(sizeof(float) * (size_t)E);
    double obs[12 * 5] = {0}, ex[12 * 5];
    int64_t out_of_range = 0;
    for (int t = 0; t < T; t++) {
        CHECK_INT_EQ(api->policy_act(inst, pol, a), DGPG_OK);
        for (int e = 0; e < E; e++)
            for (int i = 0; i < N; i++) {
                const int32_t k = a[e * N + i];
                if (k < 0 || k >= M)
                    out_of_range++;
                else
                    obs[i * M + k] += 1.0;
            }
        CHECK_INT_EQ(api->step(inst, a, rew), DGPG_OK);
    }
    CHECK_INT_EQ(out_of_range, 0);
    for (int k = 0; k < N * M; k++)
        ex[k] = (double)T * E / M;
    test_chi2 c = {0, 0, 0};
    test_chi2_add(&c, obs, ex, N * M);
    /* the cells' counts are multinomial per agent: N (M - 1) degrees */
    c.df = N * (M - 1);
    test_check_chi2("random: (agent, action) uniform", &c);
    free(a);
    free(rew);
    api->destroy(inst);
}

static void pstar_case(double rho, uint64_t seed)
{
    dgpg_config cfg;
    const int N = 16, M = 4, E = 8, T = 200;
    make(&cfg, N, M, E, rho, 16, 4, "env.seed=5");
    const dgpg_env_api *api = hc_api();
    const dgpg_model_api *model = dgpg_find_model("hetcloud_util");
    hetcloud_instance *inst = hc_create(&cfg, seed, E, 1);
    void *m = hc_model(model, &cfg, inst);
    CHECK_INT_EQ(api->reset(inst, 2), DGPG_OK);
    const int pol = api->policy_find(inst, "pstar");
    CHECK(pol >= 0);
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(E * N));
    float *rew = malloc(sizeof(float) * (size_t)E);
    double count[4] = {0}, mean[4] = {0}, var[4] = {0}, p[4];
    int64_t zero_hits = 0, zero_cells = 0;
    for (int t = 0; t < T; t++) {
        CHECK_INT_EQ(api->policy_act(inst, pol, a), DGPG_OK);
        for (int e = 0; e < E; e++) {
            CHECK_INT_EQ(model->optimal_probs(m, e, p), DGPG_OK);
            for (int n = 0; n < M; n++) {
                mean[n] += N * p[n];
                var[n] += N * p[n] * (1.0 - p[n]);
                zero_cells += p[n] == 0.0;
            }
            for (int i = 0; i < N; i++) {
                const int32_t k = a[e * N + i];
                CHECK_QUIET(k >= 0 && k < M, "pstar action %d", k);
                if (k < 0 || k >= M)
                    continue;
                count[k] += 1.0;
                zero_hits += p[k] == 0.0;
            }
        }
        CHECK_INT_EQ(api->step(inst, a, rew), DGPG_OK);
    }
    for (int n = 0; n < M; n++) {
        char what[64];
        snprintf(what, sizeof what, "pstar rho=%g: action %d", rho, n);
        hc_check_z(what, count[n], mean[n], sqrt(var[n]));
    }
    printf("  pstar rho=%g: %lld (state, action) pairs of probability 0, drawn %lld times\n", rho,
           (long long)zero_cells, (long long)zero_hits);
    CHECK_INT_EQ(zero_hits, 0);
    free(a);
    free(rew);
    model->destroy(m);
    api->destroy(inst);
}

int main(void)
{
    counts cnt = {0, 0, 0, 0, 0, 0};
    fit_case(6, 3, 0.6, 8, 3, 1, "best_fit", &cnt);
    fit_case(9, 4, 1.3, 4, 3, 2, "random", &cnt);
    fit_case(12, 5, 1.0, 6, 4, 3, "first_fit", &cnt);
    fit_case(12, 5, 1.4, 3, 3, 4, "random", &cnt);
    fit_case(8, 3, 0.9, 5, 2, 5, "best_fit", &cnt);
    printf("fit decisions (both policies) %lld: a feasible server %lld, none %lld, exact ties "
           "%lld; agents with no job %lld; environment-steps where best_fit and first_fit "
           "differ %lld\n",
           (long long)cnt.decisions, (long long)cnt.feasible, (long long)cnt.fallback,
           (long long)cnt.ties, (long long)cnt.no_job, (long long)cnt.differ_steps);
    CHECK(cnt.feasible > 0);
    CHECK(cnt.fallback > 0);
    CHECK(cnt.no_job > 0);
    CHECK(cnt.differ_steps > 0);
    CHECK(cnt.ties > 0);
    random_case();
    pstar_case(0.9, 51);
    pstar_case(0.3, 52);
    return test_finish("hetcloud_policies");
}
