/* hd.h — the one macro that makes a kernels/ function callable from host
 * and device: __host__ __device__ under nvcc, nothing under a C compiler.
 * Every function of kernels/ is `static inline DGPG_HD`, so each backend
 * compiles the same source (SPEC, Architecture: one source for the math). */
#ifndef DGPG_KERNELS_HD_H
#define DGPG_KERNELS_HD_H

#include <stdint.h>

#ifdef __CUDACC__
#define DGPG_HD __host__ __device__
#else
#define DGPG_HD
#endif

#define DGPG_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

#endif
