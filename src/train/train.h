/* train.h — `dgpg train`: PPO (IPPO / MAPPO) and DG-PG on the CPU backend.
 * One episode = a rollout of T steps in E environments, GAE, the guidance
 * of algo.guide, then algo.epochs x algo.minibatches PPO updates; every
 * episode is logged (h5log.h) and every train.checkpoint_every episodes
 * the whole training state is checkpointed, so that a resumed run
 * continues bitwise as if it had never stopped (all randomness is keyed by
 * seed, environment, agent and global step: no generator state to save). */
#ifndef DGPG_TRAIN_H
#define DGPG_TRAIN_H

#include "config.h"

#include <stdio.h>

typedef struct dgpg_train_opts {
    const char *run_dir;   /* runs/NAME */
    int resume;            /* continue from run_dir's checkpoint */
    FILE *out;             /* progress lines; NULL: quiet */
    /* For tests (main reads them from DGPG_TEST_INJECT_NAN and
     * DGPG_TEST_STOP_AFTER), -1 for none: the episode (0-based) whose
     * update is poisoned with a NaN, and the number of episodes after
     * which the run stops as if interrupted. */
    int64_t test_inject_nan_at;
    int64_t test_stop_after;
} dgpg_train_opts;

/* Per-episode summary handed back to callers (bench, tests). */
/* Where an episode's time goes (dgpg bench train prints it). */
enum dgpg_train_phase {
    TRAIN_PHASE_ROLLOUT,    /* acting, env steps, critic values, the model's terms */
    TRAIN_PHASE_REFERENCE,  /* the p* episode on the same draws (cost_pstar) */
    TRAIN_PHASE_ADVANTAGES, /* GAE, normalisers, guidance mix, checks */
    TRAIN_PHASE_VARIANCE,   /* the gradient-variance estimate */
    TRAIN_PHASE_UPDATE,     /* PPO epochs */
    TRAIN_PHASE_LOG,        /* log row, snapshots, checkpoints */
    TRAIN_PHASE_COUNT
};

typedef struct dgpg_train_summary {
    int64_t episodes;          /* episodes run by this call */
    double first_cost_ratio;   /* cost / cost(p*) of the first episode run */
    double final_cost_ratio;   /* of the last episode */
    double agent_steps_per_s;  /* whole-run average, rollout + update */
    double update_gflops;      /* network math rate in the update phase */
    double seconds;
    double phase_seconds[TRAIN_PHASE_COUNT]; /* summed over the episodes run */
    /* CUDA kernel launches and host waits, likewise (0 on the CPU) */
    double phase_launches[TRAIN_PHASE_COUNT], phase_host_waits[TRAIN_PHASE_COUNT];
    int interrupted;           /* the signal that stopped the run early, or 0 */
} dgpg_train_summary;

/* Whether the registered plug-ins can train this config (the model's
 * methods for the guidance form, a CUDA implementation for backend.kind =
 * cuda), checked before a run directory is touched; 0, or an error code
 * and one line in err. */
int dgpg_train_check(const dgpg_config *cfg, char *err, size_t err_len);

/* Trains; returns 0, DGPG_EINVAL (bad request, message in err), or another
 * negative code (failure while running, message in err). err is left
 * empty where the log refused its file and has printed that one line. */
int dgpg_train_run(const dgpg_config *cfg, const dgpg_train_opts *opts,
                   dgpg_train_summary *summary, char *err, size_t err_len);

#endif
