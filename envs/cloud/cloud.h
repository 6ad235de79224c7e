/* cloud.h — host side of the cloud environment: scenario construction and
 * the CPU backend's batch instance, both registered as the `cloud`
 * environment and `cloud_mm1` model plug-ins (include/dgpg/dgpg.h).
 * Tests and the benchmark reach the instance through these functions. */
#ifndef DGPG_CLOUD_H
#define DGPG_CLOUD_H

#include "cloud_config.h"
#include "cloud_env.h"
#include "cloud_policy.h"
#include "dgpg/dgpg.h"

typedef struct cloud_instance cloud_instance;

extern const dgpg_env_api dgpg_cloud_env_api;
#ifdef DGPG_HAVE_CUDA
/* The same environment on the CUDA backend (envs/cloud/cloud_cuda.cu): batch
 * buffers handed to observe, step and policy_act are device memory;
 * sums' output is host memory. The methods are asynchronous on the
 * instance's own blocking stream, or on the stream given to bind_stream
 * (the trainer gives its backend's: one stream per run); step does not
 * wait (an out-of-range action is recorded on the device and reported by
 * the next sums), sums waits for everything. Not yet run on a GPU
 * (docs/gpu.md). */
extern const dgpg_env_api dgpg_cloud_cuda_env_api;
/* Its cloud_mm1 model: the batched methods only, on device memory. */
extern const dgpg_model_api dgpg_cloud_cuda_model_api;
#endif
extern const dgpg_model_api dgpg_cloud_model_api;

/* Refuses a batch of n_envs environments from global index env_offset
 * that the random streams cannot key (both backends call it). */
int cloud_check_batch(int64_t n_envs, int64_t env_offset, char *err, size_t err_len);

/* Policy names in cloud_policy order. */
extern const char *const cloud_policy_names[CLOUD_POLICY_COUNT];

/* env.scenarios = sampled draws training scenarios whose seeds all have
 * this bit set; configurable seeds (scenario and evaluation) stay below
 * 2^62, so no evaluation scenario is ever a training one. */
#define CLOUD_TRAINING_SEED_BIT DGPG_TRAINING_SEED_BIT /* kernels/rng.h */
/* The seed of global environment `env`'s scenario in `episode` under
 * env.scenarios = sampled with base seed env.seed. */
uint64_t cloud_training_scenario_seed(uint64_t base_seed, uint64_t episode, uint32_t env);

/* The scenario of environment 0 of an instance (host pointers), and of
 * every environment (E): under env.scenarios = fixed they are all the
 * same; sampled, each environment's until the next reset. The tables
 * behind them are `slots` scenarios' worth, slot-major from environment
 * 0's pointers (1 slot when fixed, E when sampled). */
const cloud_scenario *cloud_instance_scenario(const cloud_instance *inst);
const cloud_scenario *cloud_instance_scenarios(const cloud_instance *inst);
int64_t cloud_instance_slots(const cloud_instance *inst);
/* Current queues (E, M), this step's work (E, N) and the last step's flows (E). */
const int64_t *cloud_instance_queue(const cloud_instance *inst);
const int32_t *cloud_instance_work(const cloud_instance *inst);
const cloud_step_flows *cloud_instance_flows(const cloud_instance *inst);
/* The global step counter (RNG and time of day) of the coming decision. */
uint64_t cloud_instance_step(const cloud_instance *inst);

#endif
