/* test_hetcloud_dynamics.c — the hetcloud environment's step, checked after
 * every step of every environment against what a caller can see (the
 * servers, running jobs, FIFO rings and the agents' bundles before and
 * after the step, read through hetcloud_instance_*), with the truth
 * recomputed here from the definitions in hetcloud_env.h's header:
 *
 *  (a) capacity: cpu_used <= cpu_cap, mem_used <= mem_cap; running <= slots
 *      (and <= cpu_cap: a job takes at least 1 vCPU), waiting <= B;
 *  (b) the resource sums are the sums of the jobs: cpu/mem_used over the
 *      running list, cpu/mem_queued over the ring (head, waiting, B);
 *  (c) per step: arrived = admitted + rejected; arrived = the jobs of the
 *      bundles copied BEFORE the step; waiting and running balance
 *      (w' = w + admitted - started, r' = r + started - completed);
 *  (d) per environment since the reset: admitted = started + waiting now,
 *      started = completed + running now;
 *  (e) FIFO: a server that still has waiting jobs has a head job that
 *      does not fit beside its running jobs, or no free slot; and the
 *      transition of each server is the documented one: the jobs waiting
 *      before keep their ring positions, the new ones follow them, the
 *      started jobs are the ring's first ones in order and are appended to
 *      the running list, whose surviving jobs keep their order (a
 *      subsequence of the old list); admitted jobs fit their server's
 *      capacity; a server admits min(jobs sent, free ring places) where no
 *      job sent to it can exceed its capacity (bundle totals fit), and at
 *      most that anywhere; where all were admitted, each agent's jobs in
 *      the ring sum to its bundle, in agent order;
 *  (f) api->sums (2 + HETCLOUD_SUMS doubles per environment) equal the
 *      totals accumulated here from the flows and the recomputed rewards;
 *  (g) reward = -(waiting + w_rej rejected) / Lambda(t), waiting counted on
 *      the rings, w_rej the config's, Lambda(t) the scenario's rate table
 *      summed over the agents at day index step mod D;
 *  completions: each running job ends with probability 1/duration: the
 *      completed count against its binomial law (z <= 4.5);
 *  (h) the job size law: many jobs drawn by hetcloud_job_draw against the
 *      truncated, discretised Pareto mixture written out in
 *      hetcloud_fixture.h (hc_cpu_pmf) times the uniform law of the memory
 *      ratio over the powers of two in [mem_per_cpu_min, mem_per_cpu_max]
 *      (joint chi-square at the 4.5-sigma Wilson-Hilferty bound, fixed
 *      seeds; z <= 4.5 on P(cpu = 1) and the mean), and the job counts
 *      against Poisson(lambda_i(d)) (chi-square per agent), independent
 *      between neighbouring agents (correlation, z = r sqrt(n) <= 4.5);
 *  (i) the scenario: mem_cap = cpu_cap x {4, 2, 8}[family], cpu_cap a power
 *      of two in [2, 2^instance_sizes], server 0 the largest memory
 *      optimised one; capacity totals; the mean job against hc_cpu_pmf's;
 *      lambda_bar = rho cpu_total / (N cpu_mean duration); each agent's
 *      daily rates a sinusoid of relative amplitude day_amplitude (its
 *      discrete Fourier coefficient) and phase in [0, phase_spread).
 * An action outside [0, M) is refused (DGPG_EINVAL) and changes nothing.
 * Cases: rho = 1.2 with 4-job queues (queues fill, rejections happen and
 * are required), random and best_fit policies, sampled and fixed
 * scenarios. */
#include "hetcloud_fixture.h"

typedef struct params {
    int N, M, E, sizes, queue, day, horizon, cap, large_min, rmin, rmax;
    double rho, duration, reject_weight, amplitude, spread, large_prob, alpha;
    const char *scenarios;
} params;

static void make_config(dgpg_config *cfg, const params *p)
{
    char s[24][80];
    int n = 0;
    snprintf(s[n++], 80, "env.n_agents=%d", p->N);
    snprintf(s[n++], 80, "env.n_pools=%d", p->M);
    snprintf(s[n++], 80, "env.n_envs=%d", p->E);
    snprintf(s[n++], 80, "env.horizon=%d", p->horizon);
    snprintf(s[n++], 80, "env.scenarios=%s", p->scenarios);
    snprintf(s[n++], 80, "env.rho=%.17g", p->rho);
    snprintf(s[n++], 80, "env.queue_jobs=%d", p->queue);
    snprintf(s[n++], 80, "env.day_length=%d", p->day);
    snprintf(s[n++], 80, "env.instance_sizes=%d", p->sizes);
    snprintf(s[n++], 80, "env.job_cpu_cap=%d", p->cap);
    snprintf(s[n++], 80, "env.large_job_min=%d", p->large_min);
    snprintf(s[n++], 80, "env.large_job_prob=%.17g", p->large_prob);
    snprintf(s[n++], 80, "env.pareto_alpha=%.17g", p->alpha);
    snprintf(s[n++], 80, "env.mem_per_cpu_min=%d", p->rmin);
    snprintf(s[n++], 80, "env.mem_per_cpu_max=%d", p->rmax);
    snprintf(s[n++], 80, "env.job_duration=%.17g", p->duration);
    snprintf(s[n++], 80, "env.reject_weight=%.17g", p->reject_weight);
    snprintf(s[n++], 80, "env.day_amplitude=%.17g", p->amplitude);
    snprintf(s[n++], 80, "env.phase_spread=%.17g", p->spread);
    const char *ptr[24];
    for (int k = 0; k < n; k++)
        ptr[k] = s[k];
    hc_config(cfg, ptr, n);
}

static int is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/* (i) one scenario against the config. */
static void check_scenario(const hetcloud_scenario *sc, const params *p)
{
    double pmf[128];
    const double cpu_mean = hc_cpu_pmf(p->large_prob, p->large_min, p->alpha, p->cap, pmf);
    const double mem_mean = cpu_mean * hc_ratio_mean(p->rmin, p->rmax);
    CHECK_INT_EQ(sc->n_agents, p->N);
    CHECK_INT_EQ(sc->n_servers, p->M);
    CHECK_INT_EQ(sc->day_length, p->day);
    CHECK_INT_EQ(sc->queue_capacity, p->queue);
    CHECK_INT_EQ(sc->size_cap, p->cap);
    CHECK_NEAR(sc->complete_prob, 1.0 / p->duration, 1e-15);
    CHECK_NEAR(sc->reject_weight, p->reject_weight, 0.0);
    CHECK_NEAR(sc->cpu_mean, cpu_mean, 1e-12 * cpu_mean);
    CHECK_NEAR(sc->mem_mean, mem_mean, 1e-12 * mem_mean);
    int64_t cpu_total = 0, mem_total = 0, largest = 0;
    for (int n = 0; n < p->M; n++) {
        const int f = sc->family[n];
        CHECK_QUIET(f >= 0 && f <= 2, "server %d family %d", n, f);
        if (f < 0 || f > 2)
            continue;
        CHECK_QUIET(sc->mem_cap[n] == sc->cpu_cap[n] * HC_FAMILY_MEM[f],
                    "server %d: mem_cap %d, cpu_cap %d, family %d", n, sc->mem_cap[n],
                    sc->cpu_cap[n], f);
        CHECK_QUIET(is_pow2(sc->cpu_cap[n]) && sc->cpu_cap[n] >= 2 &&
                        sc->cpu_cap[n] <= (1 << p->sizes),
                    "server %d: cpu_cap %d, sizes %d", n, sc->cpu_cap[n], p->sizes);
        cpu_total += sc->cpu_cap[n];
        mem_total += sc->mem_cap[n];
        largest = sc->cpu_cap[n] > largest ? sc->cpu_cap[n] : largest;
    }
    CHECK_INT_EQ(sc->family[0], 2);
    CHECK_INT_EQ(sc->cpu_cap[0], 1 << p->sizes);
    CHECK_INT_EQ(sc->mem_cap[0], 8 << p->sizes);
    CHECK(sc->slots >= largest); /* every server can run cpu_cap 1-vCPU jobs */
    CHECK_NEAR(sc->cpu_total, (double)cpu_total, 0.0);
    CHECK_NEAR(sc->mem_total, (double)mem_total, 0.0);
    const double lambda_bar = p->rho * (double)cpu_total / (p->N * cpu_mean * p->duration);
    CHECK_NEAR(sc->lambda_bar, lambda_bar, 1e-12 * lambda_bar);
    /* lambda_i(d) = m_i (1 + a sin(2 pi (d / D + phi_i))): over a whole day
     * the mean is m_i, and the first Fourier coefficients of r / m - 1 are
     * (2/D) sum sin(2 pi d/D) (.) = a cos(2 pi phi), (2/D) sum cos(..) (.) =
     * a sin(2 pi phi) */
    const double two_pi = 6.283185307179586;
    for (int i = 0; i < p->N; i++) {
        double m = 0.0;
        for (int d = 0; d < p->day; d++)
            m += sc->rate[(int64_t)d * p->N + i];
        m /= p->day;
        double cs = 0.0, cc = 0.0, resid = 0.0;
        for (int d = 0; d < p->day; d++) {
            const double v = sc->rate[(int64_t)d * p->N + i] / m - 1.0;
            cs += 2.0 / p->day * v * sin(two_pi * d / p->day);
            cc += 2.0 / p->day * v * cos(two_pi * d / p->day);
        }
        const double amp = sqrt(cs * cs + cc * cc);
        double phi = atan2(cc, cs) / two_pi;
        phi = phi < -1e-6 ? phi + 1.0 : phi;
        for (int d = 0; d < p->day; d++) {
            const double v = m * (1.0 + amp * sin(two_pi * ((double)d / p->day + phi)));
            resid = fmax(resid, fabs(v - sc->rate[(int64_t)d * p->N + i]) / m);
        }
        CHECK_QUIET(fabs(amp - p->amplitude) <= 1e-5, "agent %d: amplitude %.9g vs %.9g", i,
                    amp, p->amplitude);
        CHECK_QUIET(phi >= -1e-6 && phi < p->spread + 1e-6, "agent %d: phase %.9g outside [0, %g)",
                    i, phi, p->spread);
        CHECK_QUIET(resid <= 1e-5, "agent %d: the rates are no sinusoid (residual %.3g)", i,
                    resid);
    }
    for (int d = 0; d < p->day; d++)
        CHECK_QUIET(fabs(sc->job_rate[d] - hc_lambda(sc, (uint64_t)d)) <=
                        1e-6 * sc->job_rate[d],
                    "day %d: Lambda %.9g vs the rate table's %.9g", d, sc->job_rate[d],
                    hc_lambda(sc, (uint64_t)d));
}

/* (e) The transition of one server if `st` jobs started: NULL, or what
 * is wrong with it. */
typedef struct transition {
    int started, admitted, kept;
} transition;

static const char *server_transition(int B, const hetcloud_server *b, const hetcloud_job *run_b,
                                     const hetcloud_job *q_b, const hetcloud_server *a,
                                     const hetcloud_job *run_a, const hetcloud_job *q_a,
                                     int sent, int st, transition *tr)
{
    const int h0 = b->head, w0 = b->waiting;
    const int adm = st + a->waiting - w0, kept = a->running - st;
    if (adm < 0 || adm > B - w0 || adm > sent)
        return "admitted count outside [0, min(sent, free ring places)]";
    if (kept < 0 || kept > b->running)
        return "more running jobs than kept plus started";
    if (a->head != (h0 + st) % B)
        return "head did not advance by the started jobs";
    for (int k = 0; k < w0; k++) {
        const hetcloud_job x = q_a[(h0 + k) % B], y = q_b[(h0 + k) % B];
        if (x.cpu != y.cpu || x.mem != y.mem)
            return "a job waiting before the step changed its ring place";
    }
    for (int k = 0; k < st; k++) {
        const hetcloud_job x = run_a[kept + k], y = q_a[(h0 + k) % B];
        if (x.cpu != y.cpu || x.mem != y.mem)
            return "the started jobs are not the ring's first ones, in order";
    }
    int j = 0; /* the kept jobs: a subsequence of the old running list */
    for (int k = 0; k < kept; k++) {
        while (j < b->running &&
               (run_b[j].cpu != run_a[k].cpu || run_b[j].mem != run_a[k].mem))
            j++;
        if (j == b->running)
            return "the running jobs that went on are not the old list's, in order";
        j++;
    }
    tr->started = st;
    tr->admitted = adm;
    tr->kept = kept;
    return NULL;
}

typedef struct totals {
    int64_t rejected, waiting_steps, full_queue, head_blocked_fit, head_blocked_slots,
        bundle_matches, exact_admits, completed;
} totals;

static void run_case(const params *p, const char *policy, uint64_t episode, uint64_t seed,
                     int expect_rejections)
{
    dgpg_config cfg;
    make_config(&cfg, p);
    const dgpg_env_api *api = hc_api();
    const int64_t E = p->E;
    const int N = p->N, M = p->M, T = p->horizon;
    hetcloud_instance *inst = hc_create(&cfg, seed, E, 1);
    int pol = api->policy_find(inst, policy);
    CHECK(pol >= 0);
    CHECK_INT_EQ(api->reset(inst, episode), DGPG_OK);
    const hetcloud_scenario *scs = hetcloud_instance_scenarios(inst);
    for (int64_t e = 0; e < E; e++)
        check_scenario(&scs[e], p);
    if (strcmp(p->scenarios, "fixed") == 0) {
        for (int64_t e = 1; e < E; e++) {
            CHECK(scs[e].seed == scs[0].seed);
            for (int n = 0; n < M; n++)
                CHECK(scs[e].cpu_cap[n] == scs[0].cpu_cap[n] &&
                      scs[e].mem_cap[n] == scs[0].mem_cap[n]);
        }
    } else {
        int differ = 0;
        for (int64_t e = 1; e < E; e++)
            differ += scs[e].seed != scs[0].seed;
        CHECK_INT_EQ(differ, E - 1);
    }
    const int S = scs[0].slots, B = scs[0].queue_capacity;
    hetcloud_server *sv_b = malloc(sizeof *sv_b * (size_t)(E * M));
    hetcloud_job *run_b = malloc(sizeof *run_b * (size_t)(E * M * S));
    hetcloud_job *q_b = malloc(sizeof *q_b * (size_t)(E * M * B));
    hetcloud_bundle *bd = malloc(sizeof *bd * (size_t)(E * N));
    int32_t *actions = malloc(sizeof(int32_t) * (size_t)(E * N));
    float *reward = malloc(sizeof(float) * (size_t)E);
    double *sums = malloc(sizeof(double) * (size_t)(E * HETCLOUD_SUMS_WIDTH));
    /* the test's own totals per environment: reward, flows, used */
    double *my_reward = calloc((size_t)E, sizeof(double)), *my_abs = calloc((size_t)E, 8);
    int64_t(*tot)[HETCLOUD_SUMS] = calloc((size_t)E, sizeof *tot);
    int64_t *cpu_total = calloc((size_t)E, 8), *mem_total = calloc((size_t)E, 8);
    for (int64_t e = 0; e < E; e++)
        for (int n = 0; n < M; n++) {
            cpu_total[e] += scs[e].cpu_cap[n];
            mem_total[e] += scs[e].mem_cap[n];
        }
    totals all = {0};
    double exposed = 0.0; /* running jobs before each step: Bernoulli trials */
    for (int t = 0; t < T; t++) {
        const uint64_t step = hetcloud_instance_step(inst);
        CHECK_QUIET(step == episode * (uint64_t)T + (uint64_t)t, "step %llu at t %d",
                    (unsigned long long)step, t);
        memcpy(sv_b, hetcloud_instance_servers(inst), sizeof *sv_b * (size_t)(E * M));
        memcpy(run_b, hetcloud_instance_running(inst), sizeof *run_b * (size_t)(E * M * S));
        memcpy(q_b, hetcloud_instance_queue(inst), sizeof *q_b * (size_t)(E * M * B));
        memcpy(bd, hetcloud_instance_bundles(inst), sizeof *bd * (size_t)(E * N));
        CHECK_INT_EQ(api->policy_act(inst, pol, actions), DGPG_OK);
        if (t == T / 2) {
            /* an action outside [0, M) is refused and changes nothing */
            const int32_t keep = actions[E * N - 1];
            for (int bad = 0; bad < 2; bad++) {
                actions[E * N - 1] = bad ? -1 : M;
                CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_EINVAL);
            }
            actions[E * N - 1] = keep;
            CHECK(hetcloud_instance_step(inst) == step);
            CHECK(memcmp(sv_b, hetcloud_instance_servers(inst), sizeof *sv_b * (size_t)(E * M)) ==
                  0);
        }
        CHECK_INT_EQ(api->step(inst, actions, reward), DGPG_OK);
        const hetcloud_server *sv = hetcloud_instance_servers(inst);
        const hetcloud_job *run = hetcloud_instance_running(inst);
        const hetcloud_job *q = hetcloud_instance_queue(inst);
        const hetcloud_flows *fl = hetcloud_instance_flows(inst);
        for (int64_t e = 0; e < E; e++) {
            const hetcloud_scenario *sc = &scs[e];
            const hetcloud_flows *f = &fl[e];
            int64_t arrived = 0, waiting = 0, cpu_used = 0, mem_used = 0, w_b = 0, r_b = 0,
                    r_a = 0, st_sum = 0, adm_sum = 0, comp_sum = 0;
            for (int i = 0; i < N; i++) {
                arrived += bd[e * N + i].jobs;
                CHECK_QUIET(actions[e * N + i] >= 0 && actions[e * N + i] < M, "action %d",
                            actions[e * N + i]);
            }
            for (int n = 0; n < M; n++) {
                const hetcloud_server *a = &sv[e * M + n], *b = &sv_b[e * M + n];
                const hetcloud_job *ra = run + (e * M + n) * S, *rb = run_b + (e * M + n) * S;
                const hetcloud_job *qa = q + (e * M + n) * B, *qb = q_b + (e * M + n) * B;
                const int cc = sc->cpu_cap[n], mc = sc->mem_cap[n];
                exposed += b->running;
                w_b += b->waiting;
                r_b += b->running;
                r_a += a->running;
                /* (a) */
                CHECK_QUIET(a->cpu_used <= cc && a->mem_used <= mc,
                            "env %lld server %d step %d: used %lld/%d vCPU, %lld/%d GiB",
                            (long long)e, n, t, (long long)a->cpu_used, cc,
                            (long long)a->mem_used, mc);
                CHECK_QUIET(a->running >= 0 && a->running <= S && a->running <= cc,
                            "running %d, slots %d, cpu_cap %d", a->running, S, cc);
                CHECK_QUIET(a->waiting >= 0 && a->waiting <= B && a->head >= 0 && a->head < B,
                            "waiting %d head %d B %d", a->waiting, a->head, B);
                /* (b) */
                int64_t cu = 0, mu = 0, cq = 0, mq = 0;
                for (int k = 0; k < a->running; k++) {
                    cu += ra[k].cpu;
                    mu += ra[k].mem;
                }
                for (int k = 0; k < a->waiting; k++) {
                    cq += qa[(a->head + k) % B].cpu;
                    mq += qa[(a->head + k) % B].mem;
                }
                CHECK_QUIET(cu == a->cpu_used && mu == a->mem_used,
                            "env %lld server %d: used %lld/%lld, jobs sum to %lld/%lld",
                            (long long)e, n, (long long)a->cpu_used, (long long)a->mem_used,
                            (long long)cu, (long long)mu);
                CHECK_QUIET(cq == a->cpu_queued && mq == a->mem_queued,
                            "env %lld server %d: queued %lld/%lld, ring sums to %lld/%lld",
                            (long long)e, n, (long long)a->cpu_queued, (long long)a->mem_queued,
                            (long long)cq, (long long)mq);
                waiting += a->waiting;
                cpu_used += a->cpu_used;
                mem_used += a->mem_used;
                /* (e) the head rule */
                if (a->waiting > 0) {
                    const hetcloud_job h = qa[a->head];
                    const int no_fit = a->cpu_used + h.cpu > cc || a->mem_used + h.mem > mc;
                    CHECK_QUIET(no_fit || a->running == S,
                                "env %lld server %d step %d: head (%d, %d) fits beside "
                                "(%lld, %lld) of (%d, %d) with %d of %d slots used",
                                (long long)e, n, t, h.cpu, h.mem, (long long)a->cpu_used,
                                (long long)a->mem_used, cc, mc, a->running, S);
                    all.head_blocked_fit += no_fit;
                    all.head_blocked_slots += !no_fit;
                    all.waiting_steps++;
                }
                all.full_queue += a->waiting == B;
                /* (e) the transition */
                int sent = 0, oversize_possible = 0;
                for (int i = 0; i < N; i++)
                    if (actions[e * N + i] == n && bd[e * N + i].jobs > 0) {
                        sent += bd[e * N + i].jobs;
                        oversize_possible |= bd[e * N + i].cpu > cc || bd[e * N + i].mem > mc;
                    }
                int cands[2], n_cands = 0;
                const int d_head = (a->head - b->head + B) % B;
                cands[n_cands++] = d_head;
                if (d_head == 0)
                    cands[n_cands++] = B;
                transition tr = {0, 0, 0};
                const char *why = NULL;
                int ok = 0;
                for (int c = 0; c < n_cands && !ok; c++) {
                    transition trc;
                    const char *w = server_transition(B, b, rb, qb, a, ra, qa, sent, cands[c],
                                                      &trc);
                    if (!w && !oversize_possible) {
                        const int free_places = B - b->waiting;
                        if (trc.admitted != (sent < free_places ? sent : free_places))
                            w = "no job could exceed the server, yet some were rejected "
                                "with free ring places";
                    }
                    if (!w) {
                        ok = 1;
                        tr = trc;
                    } else if (!why) {
                        why = w;
                    }
                }
                CHECK_QUIET(ok, "env %lld server %d step %d: %s (running %d -> %d, waiting %d "
                            "-> %d, head %d -> %d, sent %d)", (long long)e, n, t, why,
                            b->running, a->running, b->waiting, a->waiting, b->head, a->head,
                            sent);
                if (!ok)
                    continue;
                all.exact_admits += !oversize_possible;
                st_sum += tr.started;
                adm_sum += tr.admitted;
                comp_sum += b->running - tr.kept;
                /* the admitted jobs: valid requests that fit the server */
                for (int k = 0; k < tr.admitted; k++) {
                    const hetcloud_job x = qa[(b->head + b->waiting + k) % B];
                    const int ratio = x.cpu > 0 ? x.mem / x.cpu : 0;
                    CHECK_QUIET(x.cpu >= 1 && x.cpu <= p->cap && x.cpu <= cc && x.mem <= mc &&
                                    x.mem == ratio * x.cpu && is_pow2(ratio) &&
                                    ratio >= p->rmin && ratio <= p->rmax,
                                "env %lld server %d: admitted job (%d, %d) on (%d, %d)",
                                (long long)e, n, x.cpu, x.mem, cc, mc);
                }
                /* all sent jobs admitted: each agent's jobs, in agent order,
                 * sum to its bundle */
                if (tr.admitted == sent && sent > 0) {
                    int k = b->head + b->waiting, match = 1;
                    for (int i = 0; i < N; i++) {
                        if (actions[e * N + i] != n)
                            continue;
                        int64_t c = 0, m = 0;
                        for (int j = 0; j < bd[e * N + i].jobs; j++, k++) {
                            c += qa[k % B].cpu;
                            m += qa[k % B].mem;
                        }
                        match &= c == bd[e * N + i].cpu && m == bd[e * N + i].mem;
                    }
                    CHECK_QUIET(match, "env %lld server %d step %d: the ring's new jobs do not "
                                "sum to the bundles in agent order", (long long)e, n, t);
                    all.bundle_matches++;
                }
            }
            /* (c) */
            CHECK_QUIET(f->arrived == arrived, "env %lld step %d: arrived %lld, bundles %lld",
                        (long long)e, t, (long long)f->arrived, (long long)arrived);
            CHECK_QUIET(f->arrived == f->admitted + f->rejected,
                        "arrived %lld admitted %lld rejected %lld", (long long)f->arrived,
                        (long long)f->admitted, (long long)f->rejected);
            CHECK_QUIET(f->admitted == adm_sum && f->started == st_sum &&
                            f->completed == comp_sum,
                        "env %lld step %d: flows (adm %lld, st %lld, comp %lld), rings (%lld, "
                        "%lld, %lld)", (long long)e, t, (long long)f->admitted,
                        (long long)f->started, (long long)f->completed, (long long)adm_sum,
                        (long long)st_sum, (long long)comp_sum);
            CHECK_QUIET(waiting == w_b + f->admitted - f->started,
                        "waiting %lld -> %lld, admitted %lld, started %lld", (long long)w_b,
                        (long long)waiting, (long long)f->admitted, (long long)f->started);
            CHECK_QUIET(r_a == r_b + f->started - f->completed,
                        "running %lld -> %lld, started %lld, completed %lld", (long long)r_b,
                        (long long)r_a, (long long)f->started, (long long)f->completed);
            CHECK_QUIET(f->waiting == waiting && f->cpu_used == cpu_used &&
                            f->mem_used == mem_used,
                        "flows' waiting/used %lld/%lld/%lld vs servers' %lld/%lld/%lld",
                        (long long)f->waiting, (long long)f->cpu_used, (long long)f->mem_used,
                        (long long)waiting, (long long)cpu_used, (long long)mem_used);
            /* (g) */
            const double lambda = hc_lambda(sc, step);
            const double r = -((double)waiting + p->reject_weight * (double)f->rejected) / lambda;
            CHECK_QUIET(fabs(reward[e] - r) <= 1e-6 * fabs(r) + 1e-12,
                        "env %lld step %d: reward %.9g, formula %.9g", (long long)e, t,
                        (double)reward[e], r);
            my_reward[e] += r;
            my_abs[e] += fabs(r);
            int64_t *row = tot[e];
            row[HETCLOUD_SUM_WAITING] += waiting;
            row[HETCLOUD_SUM_ARRIVED] += arrived;
            row[HETCLOUD_SUM_ADMITTED] += f->admitted;
            row[HETCLOUD_SUM_REJECTED] += f->rejected;
            row[HETCLOUD_SUM_STARTED] += f->started;
            row[HETCLOUD_SUM_COMPLETED] += f->completed;
            row[HETCLOUD_SUM_CPU_USED] += cpu_used;
            row[HETCLOUD_SUM_MEM_USED] += mem_used;
            row[HETCLOUD_SUM_CPU_CAPACITY] += cpu_total[e];
            row[HETCLOUD_SUM_MEM_CAPACITY] += mem_total[e];
            all.rejected += f->rejected;
            all.completed += f->completed;
            /* (d) */
            CHECK_QUIET(row[HETCLOUD_SUM_ADMITTED] == row[HETCLOUD_SUM_STARTED] + waiting,
                        "env %lld: admitted %lld, started %lld + waiting %lld", (long long)e,
                        (long long)row[HETCLOUD_SUM_ADMITTED],
                        (long long)row[HETCLOUD_SUM_STARTED], (long long)waiting);
            CHECK_QUIET(row[HETCLOUD_SUM_STARTED] == row[HETCLOUD_SUM_COMPLETED] + r_a,
                        "env %lld: started %lld, completed %lld + running %lld", (long long)e,
                        (long long)row[HETCLOUD_SUM_STARTED],
                        (long long)row[HETCLOUD_SUM_COMPLETED], (long long)r_a);
        }
        /* (f) */
        CHECK_INT_EQ(api->sums(inst, sums), DGPG_OK);
        for (int64_t e = 0; e < E; e++) {
            const double *row = sums + e * HETCLOUD_SUMS_WIDTH;
            CHECK_QUIET(fabs(row[0] - my_reward[e]) <= 1e-6 * my_abs[e] + 1e-12,
                        "env %lld: reward sum %.12g vs %.12g", (long long)e, row[0],
                        my_reward[e]);
            CHECK_QUIET(row[1] == t + 1, "env %lld: steps %g vs %d", (long long)e, row[1], t + 1);
            for (int k = 0; k < HETCLOUD_SUMS; k++)
                CHECK_QUIET(row[2 + k] == (double)tot[e][k],
                            "env %lld step %d: sum %d is %.17g, the flows give %lld",
                            (long long)e, t, k, row[2 + k], (long long)tot[e][k]);
        }
    }
    /* completions: each of the `exposed` running jobs ended w.p. 1/duration */
    const double pc = 1.0 / p->duration;
    char what[96];
    snprintf(what, sizeof what, "%s %s completions", p->scenarios, policy);
    hc_check_z(what, (double)all.completed, pc * exposed, sqrt(exposed * pc * (1.0 - pc)));
    printf("%s scenarios, %s: rejected %lld, server-steps with waiting jobs %lld (head blocked by "
           "capacity %lld, by slots %lld), full queues %lld, exact admission checks %lld, bundle "
           "matches %lld\n",
           p->scenarios, policy, (long long)all.rejected, (long long)all.waiting_steps,
           (long long)all.head_blocked_fit, (long long)all.head_blocked_slots,
           (long long)all.full_queue, (long long)all.exact_admits,
           (long long)all.bundle_matches);
    if (expect_rejections) {
        CHECK(all.rejected > 0);
        CHECK(all.full_queue > 0);
        CHECK(all.head_blocked_fit > 0);
    }
    CHECK(all.waiting_steps > 0);
    CHECK(all.exact_admits > 0);
    CHECK(all.bundle_matches > 0);
    free(sv_b);
    free(run_b);
    free(q_b);
    free(bd);
    free(actions);
    free(reward);
    free(sums);
    free(my_reward);
    free(my_abs);
    free(tot);
    free(cpu_total);
    free(mem_total);
    api->destroy(inst);
}

/* (h) one job's request and an agent's job count, drawn many times. */
static void job_law(const params *p, uint64_t seed)
{
    dgpg_config cfg;
    make_config(&cfg, p);
    hetcloud_instance *inst = hc_create(&cfg, seed, 1, 1);
    const hetcloud_scenario *sc = hetcloud_instance_scenarios(inst);
    double pmf[128];
    const double mean = hc_cpu_pmf(p->large_prob, p->large_min, p->alpha, p->cap, pmf);
    int n_ratio = 0;
    for (int r = p->rmin; r <= p->rmax; r *= 2)
        n_ratio++;
    const int cells = p->cap * n_ratio;
    double *obs = calloc((size_t)cells, sizeof(double)), *ex = malloc(sizeof(double) * cells);
    int64_t draws = 0, bad = 0;
    double cpu_sum = 0.0;
    for (uint32_t env = 0; env < 3; env++)
        for (uint64_t step = 0; step < 700; step++)
            for (int32_t agent = 0; agent < p->N; agent++)
                for (int32_t j = 0; j < 16; j++) {
                    const hetcloud_job job = hetcloud_job_draw(sc, env, step, agent, j);
                    const int ratio = job.cpu > 0 ? job.mem / job.cpu : 0;
                    int k = 0;
                    while (k < n_ratio && (p->rmin << k) != ratio)
                        k++;
                    draws++;
                    if (job.cpu < 1 || job.cpu > p->cap || job.mem != ratio * job.cpu ||
                        k == n_ratio) {
                        bad++;
                        continue;
                    }
                    obs[(job.cpu - 1) * n_ratio + k] += 1.0;
                    cpu_sum += job.cpu;
                }
    CHECK_QUIET(bad == 0, "%lld jobs outside the law's support", (long long)bad);
    for (int s = 0; s < p->cap; s++)
        for (int k = 0; k < n_ratio; k++)
            ex[s * n_ratio + k] = (double)draws * pmf[s] / n_ratio;
    test_chi2 c = {0, 0, 0};
    test_chi2_add(&c, obs, ex, cells);
    char what[96];
    snprintf(what, sizeof what, "job (cpu, ratio), q=%g min=%d a=%g", p->large_prob, p->large_min,
             p->alpha);
    test_check_chi2(what, &c);
    double ones = 0.0;
    for (int k = 0; k < n_ratio; k++)
        ones += obs[k];
    hc_check_z("P(cpu = 1)", ones / draws, pmf[0], sqrt(pmf[0] * (1.0 - pmf[0]) / draws));
    double var = 0.0;
    for (int s = 1; s <= p->cap; s++)
        var += pmf[s - 1] * (s - mean) * (s - mean);
    hc_check_z("mean cpu", cpu_sum / draws, mean, sqrt(var / draws));
    /* counts: n_i(t) ~ Poisson(lambda_i(d)), d = step mod D, over environments */
    test_chi2 cc = {0, 0, 0};
    for (int i = 0; i < p->N; i++) {
        const int d = 3;
        const double lam = sc->rate[(int64_t)d * p->N + i];
        enum { K = 64 };
        double o[K] = {0}, x[K];
        const int n_draws = 6000;
        for (uint32_t env = 0; env < (uint32_t)n_draws; env++) {
            const int32_t n = hetcloud_job_count(sc, env, (uint64_t)(d + p->day), i);
            o[n < K - 1 ? n : K - 1] += 1.0;
        }
        double pk = exp(-lam), acc = 0.0;
        for (int k = 0; k < K - 1; k++) {
            x[k] = n_draws * pk;
            acc += pk;
            pk *= lam / (k + 1);
        }
        x[K - 1] = n_draws * (1.0 - acc);
        test_chi2_add(&cc, o, x, K);
    }
    test_check_chi2("job counts, Poisson(lambda_i(d))", &cc);
    /* the agents' counts are independent: the correlation of agents i and
     * i + 1 (the same 4-agent random draw, or adjacent ones) over n
     * environments, z = r sqrt(n) */
    for (int i = 0; i + 1 < p->N; i++) {
        const int n_draws = 6000;
        double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
        for (uint32_t env = 0; env < (uint32_t)n_draws; env++) {
            const double a = hetcloud_job_count(sc, env, 5, i);
            const double b = hetcloud_job_count(sc, env, 5, i + 1);
            sa += a;
            sb += b;
            saa += a * a;
            sbb += b * b;
            sab += a * b;
        }
        const double cov = sab / n_draws - sa * sb / ((double)n_draws * n_draws);
        const double va = saa / n_draws - sa * sa / ((double)n_draws * n_draws);
        const double vb = sbb / n_draws - sb * sb / ((double)n_draws * n_draws);
        const double r = cov / sqrt(va * vb);
        CHECK_QUIET(fabs(r) * sqrt((double)n_draws) <= Z_MAX,
                    "agents %d and %d: counts correlated, r = %.4f (z = %.2f)", i, i + 1, r,
                    r * sqrt((double)n_draws));
    }
    free(obs);
    free(ex);
    hc_api()->destroy(inst);
}

int main(void)
{
    params p = {.N = 7, .M = 5, .E = 6, .sizes = 3, .queue = 4, .day = 40, .horizon = 150,
                .cap = 8, .large_min = 2, .rmin = 1, .rmax = 8, .rho = 1.2, .duration = 6.0,
                .reject_weight = 7.5, .amplitude = 0.4, .spread = 0.5, .large_prob = 0.2,
                .alpha = 1.5, .scenarios = "sampled"};
    run_case(&p, "random", 2, 11, 1);
    run_case(&p, "best_fit", 2, 11, 1);
    p.scenarios = "fixed";
    run_case(&p, "random", 1, 5, 1);
    run_case(&p, "best_fit", 3, 5, 1);
    /* a light load with long queues: admissions mostly exact */
    params light = p;
    light.rho = 0.3;
    light.queue = 32;
    light.sizes = 4;
    light.scenarios = "sampled";
    run_case(&light, "random", 0, 3, 0);
    /* (h) two laws: a Pareto from 2 vCPU with ratios {2, 4, 8}, and one from
     * 1 vCPU (small and large both at 1) with the single ratio 4 */
    params law = p;
    law.large_prob = 0.3;
    law.rmin = 2;
    law.rmax = 8;
    job_law(&law, 21);
    law.large_prob = 0.5;
    law.large_min = 1;
    law.alpha = 1.2;
    law.cap = 6;
    law.rmin = law.rmax = 4;
    job_law(&law, 22);
    return test_finish("hetcloud_dynamics");
}
