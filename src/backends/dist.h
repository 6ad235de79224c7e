/* dist.h — data parallelism over MPI (OpenMPI from Debian; any MPI that
 * mpirun or srun launches): the handful of collectives the trainer needs.
 * A process not started by an MPI launcher (or a build without MPI) is
 * rank 0 of 1, and every call is then a no-op, so a single process runs
 * exactly as before. Every MPI call is checked; a failure names the call,
 * MPI's error string and the rank. */
#ifndef DGPG_DIST_H
#define DGPG_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Joins the MPI job if this process was launched by mpirun/mpiexec or
 * srun (their environment variables say so); 0, or -1 with one line in
 * err. Call once, before anything else. */
int dgpg_dist_init(int *argc, char ***argv, char *err, size_t err_len);
void dgpg_dist_finalize(void);
int dgpg_dist_rank(void);
int dgpg_dist_size(void);
/* 1 when built with MPI. */
int dgpg_dist_available(void);

/* In place, every rank receives the sum over ranks: MPI hands every rank
 * the one result, so ranks stay identical (OpenMPI and NCCL do; the MPI
 * standard does not promise it). 0 or -1. */
int dgpg_dist_sum_doubles(double *x, int64_t n);
int dgpg_dist_sum_floats(float *x, int64_t n);
/* *x = the largest value over ranks. */
int dgpg_dist_max_int(int *x);
/* bytes from rank 0 to every rank. */
int dgpg_dist_broadcast(void *p, size_t bytes);
/* Device memory (CUDA backend, one GPU per rank): x summed over ranks in
 * place with NCCL on `stream` (a cudaStream_t), ordered with the backend's
 * other work; 0 or -1. Available where dgpg_dist_device_available() is 1. */
int dgpg_dist_device_available(void);
int dgpg_dist_device_init(void);
int dgpg_dist_sum_device_floats(float *x, int64_t n, void *stream);
void dgpg_dist_device_finalize(void);
/* The rank's index among the ranks on its node (the GPU it takes), from
 * the launcher's environment; 0 when unknown. */
int dgpg_dist_local_rank(void);

/* Ends every rank of the job with `code` (after a failure only some ranks
 * saw, so that no rank waits forever in a collective). */
void dgpg_dist_abort(int code);

#endif
