/* hetcloud_env.h — the heterogeneous two-resource cloud (docs/hetcloud.md),
 * as pure functions over one environment: servers of cloud instance types
 * with vCPU and memory capacities, jobs that each request both, FIFO
 * queues, and per-job completions. Written for host and device (DGPG_HD);
 * the CPU plug-in (hetcloud.c) loops over environments.
 *
 * Dimensions: E environments, N agents, M servers (the actions), D steps
 * per day. CPU in vCPU, memory in GiB, both integers, so the conservation
 * laws hold exactly: per step, jobs arrived = admitted + rejected; per
 * server, admitted = started + still queued (over an episode), and the
 * resources in use are the sum of the running jobs' requests, never above
 * the capacity.
 *
 * One step t of environment e:
 *   1. hetcloud_agent_bundle: n_i(t) ~ Poisson(lambda_i(t)) jobs for agent
 *      i, each (cpu_j, mem_j): cpu 1 with probability 1 - q, else a
 *      discretised Pareto(large_min, alpha) truncated at the cap; memory
 *      cpu_j r_j, r_j uniform over the powers of two in [r_min, r_max]
 *   2. (policy)            k_i(t) in [0, M): the server of agent i's jobs
 *   3. hetcloud_step:      every running job completes with probability
 *      1/duration (geometric durations); then the agents' jobs in agent
 *      order join their server's FIFO queue, rejected where the queue is
 *      full or the job exceeds the server's capacity; then each server
 *      starts jobs from the head of its queue while the head fits
 *   4. reward              r(t) = -(sum_n L_n(t+1) + w_rej rejected(t)) / Lambda(t),
 *      L_n the jobs waiting at server n, Lambda(t) = sum_i lambda_i(t): the
 *      jobs expected per step, so r is scale-free in N. */
#ifndef DGPG_HETCLOUD_ENV_H
#define DGPG_HETCLOUD_ENV_H

#include "hd.h"
#include "rng.h"

#define HETCLOUD_MAX_SERVERS 1024

/* What a scenario fixes, built on the host (hetcloud.c); pointers address
 * the memory of the side that runs the function. */
typedef struct hetcloud_scenario {
    int32_t n_agents;            /* N */
    int32_t n_servers;           /* M */
    int32_t day_length;          /* D */
    int32_t slots;               /* running jobs a server holds at most (its vCPU) */
    int32_t queue_capacity;      /* B: jobs a server's queue holds */
    int32_t size_cap;            /* entries of cpu_cdf: a job requests at most this many vCPU */
    int32_t ratio_count;         /* memory ratios r_j: 2^ratio_log_min .. */
    int32_t ratio_log_min;
    double complete_prob;        /* 1 / mean duration */
    double reject_weight;        /* w_rej */
    double lambda_bar;           /* mean over agents of lambda_i */
    double cpu_mean, mem_mean;   /* mean request of one job */
    double cpu_total, mem_total; /* sum of the capacities */
    uint64_t seed;

    const int32_t *cpu_cap;      /* (M) vCPU */
    const int32_t *mem_cap;      /* (M) GiB */
    const int32_t *family;       /* (M) 0 general, 1 compute, 2 memory optimised */
    const double *cpu_cdf;       /* (size_cap) P(cpu <= j + 1) */
    const float *rate;           /* (D, N) lambda_i(t) */
    const dgpg_poisson_entry *arrival; /* (D, N) */
    const double *job_rate;      /* (D) Lambda(t) */
    const float *day_sin, *day_cos; /* (D) */
} hetcloud_scenario;

/* One job's request. */
typedef struct hetcloud_job {
    int32_t cpu, mem;
} hetcloud_job;

/* A server's state: the running jobs (slots of them at most), the FIFO
 * queue as a ring of queue_capacity jobs, and the sums of both. */
typedef struct hetcloud_server {
    int64_t cpu_used, mem_used;       /* of the running jobs */
    int64_t cpu_queued, mem_queued;   /* of the waiting jobs */
    int32_t running, head, waiting;
} hetcloud_server;

/* Exact integer flows of one environment-step. */
typedef struct hetcloud_flows {
    int64_t arrived, admitted, rejected, started, completed, waiting;
    int64_t cpu_used, mem_used;       /* after the step, summed over servers */
} hetcloud_flows;

/* An agent's jobs of one step: their count and summed requests. */
typedef struct hetcloud_bundle {
    int32_t jobs, cpu, mem;
} hetcloud_bundle;

#define HETCLOUD_OBS_DIM(M) (6 + 4 * (M))
#define HETCLOUD_STATE_DIM(M) (3 + 4 * (M))

static inline DGPG_HD int32_t hetcloud_day_index(const hetcloud_scenario *sc, uint64_t step)
{
    return (int32_t)(step % (uint64_t)sc->day_length);
}

static inline DGPG_HD double hetcloud_job_rate(const hetcloud_scenario *sc, uint64_t step)
{
    return sc->job_rate[hetcloud_day_index(sc, step)];
}

/* Job j of agent i's step, from its own counter: (seed, agent, step, env,
 * JOBSIZE, j). */
static inline DGPG_HD hetcloud_job hetcloud_job_draw(const hetcloud_scenario *sc, uint32_t env,
                                                     uint64_t step, int32_t agent, int32_t j)
{
    philox4x32_ctr_t r = dgpg_philox(sc->seed, (uint32_t)agent, step, env, DGPG_STREAM_JOBSIZE,
                                     (uint32_t)j);
    hetcloud_job job;
    job.cpu = 1 + dgpg_cdf_search(sc->cpu_cdf, sc->size_cap, dgpg_u01(r.v[0]));
    int32_t k = (int32_t)(dgpg_u01(r.v[1]) * (double)sc->ratio_count);
    k = k < sc->ratio_count ? k : sc->ratio_count - 1;
    job.mem = job.cpu << (sc->ratio_log_min + k);
    return job;
}

/* n_i(t): agent i's job count at `step`. */
static inline DGPG_HD int32_t hetcloud_job_count(const hetcloud_scenario *sc, uint32_t env,
                                                 uint64_t step, int32_t agent)
{
    philox4x32_ctr_t r = dgpg_philox(sc->seed, (uint32_t)agent >> 2, step, env,
                                     DGPG_STREAM_ARRIVAL, 0);
    const int32_t d = hetcloud_day_index(sc, step);
    return dgpg_poisson_sample(&sc->arrival[(int64_t)d * sc->n_agents + agent],
                               dgpg_u01(r.v[agent & 3]));
}

/* Agent i's jobs at `step`: count and summed requests (what it observes
 * and what the model and the heuristics weigh). */
static inline DGPG_HD hetcloud_bundle hetcloud_agent_bundle(const hetcloud_scenario *sc,
                                                            uint32_t env, uint64_t step,
                                                            int32_t agent)
{
    hetcloud_bundle b = {hetcloud_job_count(sc, env, step, agent), 0, 0};
    for (int32_t j = 0; j < b.jobs; j++) {
        hetcloud_job job = hetcloud_job_draw(sc, env, step, agent, j);
        b.cpu += job.cpu;
        b.mem += job.mem;
    }
    return b;
}

/* Whether `job` fits beside server n's running jobs. */
static inline DGPG_HD int hetcloud_fits(const hetcloud_scenario *sc, const hetcloud_server *s,
                                        int32_t n, hetcloud_job job)
{
    return s->cpu_used + job.cpu <= sc->cpu_cap[n] && s->mem_used + job.mem <= sc->mem_cap[n];
}

/* Step 3 and the reward. servers (M), running (M, slots), queue (M,
 * queue_capacity) are the environment's state; actions (N) in [0, M). */
static inline DGPG_HD double hetcloud_step(const hetcloud_scenario *sc, uint32_t env,
                                           uint64_t step, const int32_t *actions,
                                           hetcloud_server *servers, hetcloud_job *running,
                                           hetcloud_job *queue, hetcloud_flows *flows)
{
    const int32_t M = sc->n_servers, S = sc->slots, B = sc->queue_capacity;
    hetcloud_flows f = {0, 0, 0, 0, 0, 0, 0, 0};
    /* completions: each running job ends with probability 1/duration, a
     * uniform per (server, slot) from the SERVICE stream; the jobs that go
     * on running close up in their order, so slots stay packed */
    for (int32_t n = 0; n < M; n++) {
        hetcloud_server *s = &servers[n];
        hetcloud_job *run = running + (int64_t)n * S;
        const int32_t before = s->running;
        int32_t kept = 0;
        for (int32_t k0 = 0; k0 < before; k0 += 4) {
            dgpg_u4 u = dgpg_uniform4(sc->seed, (uint32_t)n, step, env, DGPG_STREAM_SERVICE,
                                      (uint32_t)(k0 / 4));
            for (int32_t k = k0; k < k0 + 4 && k < before; k++) {
                if (u.u[k - k0] < sc->complete_prob) {
                    s->cpu_used -= run[k].cpu;
                    s->mem_used -= run[k].mem;
                    f.completed++;
                } else {
                    run[kept++] = run[k];
                }
            }
        }
        s->running = kept;
    }
    /* arrivals, in agent order */
    for (int32_t i = 0; i < sc->n_agents; i++) {
        const int32_t jobs = hetcloud_job_count(sc, env, step, i);
        const int32_t n = actions[i];
        hetcloud_server *s = &servers[n];
        for (int32_t j = 0; j < jobs; j++) {
            hetcloud_job job = hetcloud_job_draw(sc, env, step, i, j);
            f.arrived++;
            if (job.cpu > sc->cpu_cap[n] || job.mem > sc->mem_cap[n] || s->waiting == B) {
                f.rejected++;
                continue;
            }
            queue[(int64_t)n * B + (s->head + s->waiting) % B] = job;
            s->waiting++;
            s->cpu_queued += job.cpu;
            s->mem_queued += job.mem;
            f.admitted++;
        }
    }
    /* starts: strict FIFO, while the head fits */
    for (int32_t n = 0; n < M; n++) {
        hetcloud_server *s = &servers[n];
        while (s->waiting > 0) {
            const hetcloud_job job = queue[(int64_t)n * B + s->head];
            if (!hetcloud_fits(sc, s, n, job) || s->running == S)
                break;
            running[(int64_t)n * S + s->running++] = job;
            s->cpu_used += job.cpu;
            s->mem_used += job.mem;
            s->cpu_queued -= job.cpu;
            s->mem_queued -= job.mem;
            s->head = (s->head + 1) % B;
            s->waiting--;
            f.started++;
        }
        f.waiting += s->waiting;
        f.cpu_used += s->cpu_used;
        f.mem_used += s->mem_used;
    }
    if (flows)
        *flows = f;
    return -((double)f.waiting + sc->reject_weight * (double)f.rejected) /
           hetcloud_job_rate(sc, step);
}

/* obs (HETCLOUD_OBS_DIM(M)) of agent i before it acts: its rate over the
 * mean, its jobs' count and requests over one mean job's, the time of day,
 * the system's CPU demand over capacity; per server its CPU and memory in
 * use and waiting, over its capacity, and its share of the CPU. */
static inline DGPG_HD void hetcloud_observe_agent(const hetcloud_scenario *sc, uint64_t step,
                                                  int32_t agent, hetcloud_bundle b,
                                                  const hetcloud_server *servers, float *obs)
{
    const int32_t d = hetcloud_day_index(sc, step);
    double demand = 0.0;
    for (int32_t n = 0; n < sc->n_servers; n++)
        demand += (double)(servers[n].cpu_used + servers[n].cpu_queued);
    obs[0] = (float)((double)sc->rate[(int64_t)d * sc->n_agents + agent] / sc->lambda_bar);
    obs[1] = (float)b.jobs;
    obs[2] = (float)((double)b.cpu / sc->cpu_mean);
    obs[3] = (float)((double)b.mem / sc->mem_mean);
    obs[4] = sc->day_sin[d];
    obs[5] = (float)(demand / sc->cpu_total);
    for (int32_t n = 0; n < sc->n_servers; n++) {
        const hetcloud_server *s = &servers[n];
        obs[6 + 4 * n] = (float)((double)(s->cpu_used + s->cpu_queued) / sc->cpu_cap[n]);
        obs[7 + 4 * n] = (float)((double)(s->mem_used + s->mem_queued) / sc->mem_cap[n]);
        obs[8 + 4 * n] = (float)s->waiting;
        obs[9 + 4 * n] = (float)((double)sc->cpu_cap[n] / sc->cpu_total);
    }
}

/* state (HETCLOUD_STATE_DIM(M)): the per-server part of the observation,
 * the expected jobs per step over its daily mean, and the time of day. */
static inline DGPG_HD void hetcloud_global_state(const hetcloud_scenario *sc, uint64_t step,
                                                 const hetcloud_server *servers, float *state)
{
    const int32_t d = hetcloud_day_index(sc, step), M = sc->n_servers;
    for (int32_t n = 0; n < M; n++) {
        const hetcloud_server *s = &servers[n];
        state[4 * n] = (float)((double)(s->cpu_used + s->cpu_queued) / sc->cpu_cap[n]);
        state[4 * n + 1] = (float)((double)(s->mem_used + s->mem_queued) / sc->mem_cap[n]);
        state[4 * n + 2] = (float)s->waiting;
        state[4 * n + 3] = (float)((double)sc->cpu_cap[n] / sc->cpu_total);
    }
    state[4 * M] = (float)(sc->job_rate[d] / (sc->lambda_bar * sc->n_agents));
    state[4 * M + 1] = sc->day_sin[d];
    state[4 * M + 2] = sc->day_cos[d];
}

/* Statistics (dgpg_env_api.sums): reward and steps, then these. */
enum hetcloud_sum {
    HETCLOUD_SUM_WAITING, HETCLOUD_SUM_ARRIVED, HETCLOUD_SUM_ADMITTED, HETCLOUD_SUM_REJECTED,
    HETCLOUD_SUM_STARTED, HETCLOUD_SUM_COMPLETED, HETCLOUD_SUM_CPU_USED,
    HETCLOUD_SUM_MEM_USED, HETCLOUD_SUM_CPU_CAPACITY, HETCLOUD_SUM_MEM_CAPACITY,
    HETCLOUD_SUMS
};
#define HETCLOUD_SUMS_WIDTH (2 + HETCLOUD_SUMS)

static inline DGPG_HD void hetcloud_sums_add(double *row, const hetcloud_scenario *sc,
                                             double reward, const hetcloud_flows *f)
{
    row[0] += reward;
    row[1] += 1.0;
    row[2 + HETCLOUD_SUM_WAITING] += (double)f->waiting;
    row[2 + HETCLOUD_SUM_ARRIVED] += (double)f->arrived;
    row[2 + HETCLOUD_SUM_ADMITTED] += (double)f->admitted;
    row[2 + HETCLOUD_SUM_REJECTED] += (double)f->rejected;
    row[2 + HETCLOUD_SUM_STARTED] += (double)f->started;
    row[2 + HETCLOUD_SUM_COMPLETED] += (double)f->completed;
    row[2 + HETCLOUD_SUM_CPU_USED] += (double)f->cpu_used;
    row[2 + HETCLOUD_SUM_MEM_USED] += (double)f->mem_used;
    row[2 + HETCLOUD_SUM_CPU_CAPACITY] += sc->cpu_total;
    row[2 + HETCLOUD_SUM_MEM_CAPACITY] += sc->mem_total;
}

#endif
