/* blas_core.h — which kernels the BLAS runs, against what the CPU can run.
 *
 * Debian's OpenBLAS is built with DYNAMIC_ARCH: at load time it picks a
 * kernel set ("core") for the CPU it recognises, and falls back to a
 * generic SSE3 core (Prescott) on a CPU it does not know, which costs
 * about 5x in SGEMM on an AVX-512 machine. The core can only be chosen
 * before the library initialises (OPENBLAS_CORETYPE, read by its load-time
 * constructor), so dgpg checks at the very start of main and, where the
 * core is below the CPU's ISA or names an ISA the CPU lacks, restarts
 * itself once with OPENBLAS_CORETYPE set, saying so on stderr.
 *
 * DGPG_BLAS_CORE (environment): auto (default: upgrade a core OpenBLAS
 * chose itself; keep a user's OPENBLAS_CORETYPE unless the CPU cannot run
 * it), best (always the best core for this CPU), keep (never restart). */
#ifndef DGPG_BLAS_CORE_H
#define DGPG_BLAS_CORE_H

#include <stddef.h>

/* Restarts the process with a better OpenBLAS core where the policy above
 * says so; returns 0 if no restart was needed (or it is off), 2 after
 * printing why DGPG_BLAS_CORE's value is refused. Call before anything
 * else in main (before MPI initialises). */
int dgpg_blas_core_check(int argc, char **argv);

/* The CPU's vector ISA as dgpg sees it: "x86-64 avx512f", "x86-64 avx2",
 * "x86-64", or "other". */
const char *dgpg_cpu_isa(void);

/* One line: the BLAS, its core and why, the CPU's ISA, libxsmm's target. */
void dgpg_blas_describe(char *buf, size_t len);

#endif
