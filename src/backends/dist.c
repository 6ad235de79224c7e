/* dist.c — see dist.h. */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DGPG_HAVE_MPI
#include <mpi.h>

static int dist_on; /* MPI_Init was called */
static int dist_rank_, dist_size_ = 1;

/* An MPI call: on failure, the call, MPI's own text and the rank. */
#define MPI_CHECK(expr)                                                                   \
    do {                                                                                  \
        int mpi_check_rc_ = (expr);                                                       \
        if (mpi_check_rc_ != MPI_SUCCESS) {                                               \
            char mpi_check_text_[MPI_MAX_ERROR_STRING];                                   \
            int mpi_check_len_ = 0;                                                       \
            MPI_Error_string(mpi_check_rc_, mpi_check_text_, &mpi_check_len_);            \
            fprintf(stderr, "dgpg: rank %d: MPI call failed: %s at %s:%d: %s\n",          \
                    dist_rank_, #expr, __FILE__, __LINE__, mpi_check_text_);              \
            return -1;                                                                    \
        }                                                                                 \
    } while (0)

/* Launched by an MPI launcher: OpenMPI's mpirun, MPICH/Hydra (PMI), PMIx,
 * or Slurm's srun. */
static int dist_launched(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
        if (getenv(vars[k]))
            return 1;
    return 0;
}

/* The number of ranks the launcher says it started, or 0 if it does not say. */
static int dist_launched_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
        if (getenv(vars[k]))
            return atoi(getenv(vars[k]));
    return 0;
}

/* A process that exits early (--help, a usage error) still leaves the job
 * properly. */
static void dist_at_exit(void)
{
    int finalized = 1;
    if (dist_on && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized)
        MPI_Finalize();
}

int dgpg_dist_init(int *argc, char ***argv, char *err, size_t err_len)
{
    if (!dist_launched())
        return 0;
    int provided = 0;
    /* OpenMP and CUDA threads run, but only the main thread calls MPI */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, err_len, "MPI_Init failed: this process was started by an MPI launcher "
                 "but cannot join its job; allowed: a working MPI runtime (openmpi-bin), or "
                 "running dgpg without mpirun/srun");
        return -1;
    }
    dist_on = 1;
    atexit(dist_at_exit);
    /* errors come back as codes (checked at every call) instead of aborting
     * silently inside the library */
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank_));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &dist_size_));
    const int launched = dist_launched_size();
    if (launched > 1 && dist_size_ == 1) {
        /* e.g. srun without the MPI plug-in: K separate one-rank jobs that
         * would all train, and write, the same run */
        snprintf(err, err_len, "the launcher started %d processes, but MPI sees a job of 1 "
                 "(each process alone); allowed: a launcher whose MPI support matches this "
                 "build (mpirun, or srun --mpi=pmix)", launched);
        return -1;
    }
    return 0;
}

void dgpg_dist_finalize(void)
{
    if (dist_on)
        MPI_Finalize();
    dist_on = 0;
}

int dgpg_dist_rank(void) { return dist_rank_; }
int dgpg_dist_size(void) { return dist_size_; }
int dgpg_dist_available(void) { return 1; }

/* MPI counts are int: large arrays go in pieces. */
#define DIST_PIECE (INT64_C(1) << 30)

/* In-place sum over ranks of n elements of `type` (`size` bytes each). */
static int dist_sum(void *x, int64_t n, MPI_Datatype type, size_t size)
{
    for (int64_t at = 0; dist_size_ > 1 && at < n; at += DIST_PIECE) {
        int count = (int)(n - at < DIST_PIECE ? n - at : DIST_PIECE);
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, (char *)x + (size_t)at * size, count, type,
                                MPI_SUM, MPI_COMM_WORLD));
    }
    return 0;
}

int dgpg_dist_sum_doubles(double *x, int64_t n)
{
    return dist_sum(x, n, MPI_DOUBLE, sizeof *x);
}

int dgpg_dist_sum_floats(float *x, int64_t n)
{
    return dist_sum(x, n, MPI_FLOAT, sizeof *x);
}

int dgpg_dist_max_int(int *x)
{
    if (dist_size_ > 1)
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return 0;
}

int dgpg_dist_broadcast(void *p, size_t bytes)
{
    if (dist_size_ > 1)
        MPI_CHECK(MPI_Bcast(p, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD));
    return 0;
}

void dgpg_dist_abort(int code)
{
    if (dist_on && dist_size_ > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
}

#else /* no MPI in this build: one process */

int dgpg_dist_init(int *argc, char ***argv, char *err, size_t err_len)
{
    (void)argc;
    (void)argv;
    const char *slurm = getenv("SLURM_STEP_NUM_TASKS");
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") ||
        (slurm && atoi(slurm) > 1)) {
        snprintf(err, err_len, "started by an MPI launcher, but this build has no MPI "
                 "(CMake found none); allowed: a build with libopenmpi-dev installed, or "
                 "running dgpg without mpirun");
        return -1;
    }
    return 0;
}
void dgpg_dist_finalize(void) {}
int dgpg_dist_rank(void) { return 0; }
int dgpg_dist_size(void) { return 1; }
int dgpg_dist_available(void) { return 0; }
int dgpg_dist_sum_doubles(double *x, int64_t n) { (void)x; (void)n; return 0; }
int dgpg_dist_sum_floats(float *x, int64_t n) { (void)x; (void)n; return 0; }
int dgpg_dist_max_int(int *x) { (void)x; return 0; }
int dgpg_dist_broadcast(void *p, size_t bytes) { (void)p; (void)bytes; return 0; }
void dgpg_dist_abort(int code) { (void)code; }

#endif

int dgpg_dist_local_rank(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
        if (getenv(vars[k]))
            return atoi(getenv(vars[k]));
    return 0;
}

#ifndef DGPG_HAVE_NCCL
/* No NCCL in this build: device sums over ranks are unavailable. */
int dgpg_dist_device_available(void) { return 0; }
int dgpg_dist_device_init(void) { return dgpg_dist_size() < 2 ? 0 : -1; }
int dgpg_dist_sum_device_floats(float *x, int64_t n, void *stream)
{
    (void)x;
    (void)n;
    (void)stream;
    return dgpg_dist_size() < 2 ? 0 : -1;
}
void dgpg_dist_device_finalize(void) {}
#else
int dgpg_dist_device_available(void) { return 1; }
#endif
