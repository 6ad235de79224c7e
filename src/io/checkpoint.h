/* checkpoint.h — the whole training state in one HDF5 file
 * (runs/NAME/checkpoint.h5): network parameters, Adam moments and step
 * counts, value normalisers, the next episode, the resolved config and the
 * shapes. Written under a temporary name and renamed, so a crash never
 * leaves a damaged checkpoint; a SHA-256 table in its first 4 KiB lets
 * every loader refuse a file damaged later, naming what changed. No generator state is needed: every random
 * draw is keyed by seed, environment, agent and global step. */
#ifndef DGPG_CHECKPOINT_H
#define DGPG_CHECKPOINT_H

#include "../../kernels/ppo.h"
#include "config.h"
#include "mlp.h"

/* What else a run carries from episode to episode, or must match to stay
 * bitwise repeatable. */
typedef struct dgpg_checkpoint_extra {
    double guide_scales[2];  /* the trainer's fixed guidance scales */
    int64_t alpha_episodes;  /* horizon of the alpha schedule (first run's episodes) */
    int64_t threads;         /* resolved CPU threads */
    char isa[32];            /* instruction set the math kernels ran with */
} dgpg_checkpoint_extra;

/* Writes path (under path.tmp, renamed when complete and synced), with the
 * SHA-256 table of every tensor and of the rest in its user block; -1 with
 * one line in err naming the file and the OS error otherwise, path as it
 * was. */
int dgpg_checkpoint_save(const char *path, const dgpg_config *cfg, int64_t next_episode,
                         const mlp *actor, const mlp *critic, const ppo_value_norm *vnorm,
                         int64_t n_vnorm, const dgpg_checkpoint_extra *extra, char *err,
                         size_t err_len);

/* Compares the /config attributes of an HDF5 file (checkpoint or log,
 * opened for SWMR reading) with cfg; every key must match except
 * train.episodes. 0, or -1 with one line in err naming the key. */
int dgpg_config_matches_file(const char *path, const dgpg_config *cfg, char *err,
                             size_t err_len);

/* Loads into networks already sized for cfg; refuses (one line in err)
 * a missing, truncated or foreign file, another version, or shapes or a
 * config that differ from cfg, naming what does not match. */
int dgpg_checkpoint_load(const char *path, const dgpg_config *cfg, int64_t *next_episode,
                         mlp *actor, mlp *critic, ppo_value_norm *vnorm, int64_t n_vnorm,
                         dgpg_checkpoint_extra *extra, char *err, size_t err_len);

/* train.init_from: the actor and critic parameters and value normalisers
 * of run_dir/checkpoint.h5 into networks sized for this run (Adam state
 * and episode count start afresh). -1 with one line in err where the file
 * is missing or foreign, or its shapes differ from this run's. */
int dgpg_checkpoint_load_init(const char *run_dir, mlp *actor, mlp *critic,
                              ppo_value_norm *vnorm, int64_t n_vnorm, char *err,
                              size_t err_len);

/* The trained actor of a run directory, for evaluation: sizes `actor` on
 * backend `be` from the run's config.yaml (algo.hidden, algo.layers,
 * algo.share_params) and reads its parameters from the run's
 * checkpoint.h5. The run must have been trained for N agents, M actions and
 * observations of obs_dim; a run trained on one fixed scenario must not be
 * among the evaluation's scenarios eval_seed .. eval_seed + eval_scenarios
 * - 1. Otherwise (or for a missing or foreign file) -1 with one line in err
 * naming what does not match. */
int dgpg_checkpoint_load_actor(const char *run_dir, dgpg_backend *be, int64_t n_agents,
                               int64_t n_actions, int64_t obs_dim, int64_t eval_seed,
                               int64_t eval_scenarios, mlp *actor, char *err, size_t err_len);

#endif
