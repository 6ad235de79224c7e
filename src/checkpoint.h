/* checkpoint.h — the whole training state in one HDF5 file
 * (runs/NAME/checkpoint.h5): network parameters, Adam moments and step
 * counts, value normalisers, the next episode, the resolved config and the
 * shapes. Written under a temporary name and renamed, so a crash never
 * leaves a damaged checkpoint. No generator state is needed: every random
 * draw is keyed by seed, environment, agent and global step. */
#ifndef DGPG_CHECKPOINT_H
#define DGPG_CHECKPOINT_H

#include "../kernels/ppo.h"
#include "config.h"
#include "mlp.h"

/* guide_scales (2): the trainer's fixed guidance scales. */
int dgpg_checkpoint_save(const char *path, const dgpg_config *cfg, int64_t next_episode,
                         const mlp *actor, const mlp *critic, const ppo_value_norm *vnorm,
                         int64_t n_vnorm, const double *guide_scales);

/* Loads into networks already sized for cfg; refuses (one line in err)
 * a missing, truncated or foreign file, another version, or shapes or a
 * config that differ from cfg, naming what does not match. */
int dgpg_checkpoint_load(const char *path, const dgpg_config *cfg, int64_t *next_episode,
                         mlp *actor, mlp *critic, ppo_value_norm *vnorm, int64_t n_vnorm,
                         double *guide_scales, char *err, size_t err_len);

#endif
