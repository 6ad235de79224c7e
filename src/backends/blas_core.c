/* blas_core.c — see blas_core.h. */
#include "blas_core.h"

#include <libxsmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS's own queries (not in cblas.h's standard set). */
char *openblas_get_corename(void);
char *openblas_get_config(void);

enum { LEVEL_SSE, LEVEL_AVX, LEVEL_AVX2, LEVEL_AVX512, LEVEL_AVX512_BF16 };

/* The ISA a DYNAMIC_ARCH x86-64 core of OpenBLAS 0.3 needs. */
static int core_level(const char *core)
{
    static const struct {
        const char *name;
        int level;
    } cores[] = {{"cooperlake", LEVEL_AVX512_BF16}, {"sapphirerapids", LEVEL_AVX512_BF16},
                 {"skylakex", LEVEL_AVX512},        {"haswell", LEVEL_AVX2},
                 {"zen", LEVEL_AVX2},               {"sandybridge", LEVEL_AVX},
                 {"bulldozer", LEVEL_AVX},          {"piledriver", LEVEL_AVX},
                 {"steamroller", LEVEL_AVX},        {"excavator", LEVEL_AVX}};
    for (size_t k = 0; k < sizeof cores / sizeof cores[0]; k++)
        if (strcasecmp(core, cores[k].name) == 0)
            return cores[k].level;
    return LEVEL_SSE; /* Prescott, Core2, Nehalem, Atom, ...: SSE kernels */
}

static int cpu_level(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    /* SkylakeX's kernels use AVX-512 F, CD, BW, DQ and VL */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return __builtin_cpu_supports("avx512bf16") ? LEVEL_AVX512_BF16 : LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return LEVEL_AVX2;
    if (__builtin_cpu_supports("avx"))
        return LEVEL_AVX;
#endif
    return LEVEL_SSE;
}

static const char *level_name(int level)
{
    static const char *const names[] = {"SSE", "AVX", "AVX2", "AVX-512", "AVX-512 BF16"};
    return names[level];
}

/* The core dgpg asks for: the one whose SGEMM kernels use the CPU's widest
 * vectors (Cooperlake adds only BF16 kernels over SkylakeX's). */
static const char *best_core(int level)
{
    switch (level) {
    case LEVEL_AVX512_BF16:
    case LEVEL_AVX512:
        return "SkylakeX";
    case LEVEL_AVX2:
        return "Haswell";
    case LEVEL_AVX:
        return "Sandybridge";
    default:
        return NULL;
    }
}

const char *dgpg_cpu_isa(void)
{
#if defined(__x86_64__)
    int level = cpu_level();
    return level >= LEVEL_AVX512 ? "x86-64 avx512f" : level == LEVEL_AVX2 ? "x86-64 avx2"
                                                                          : "x86-64";
#else
    return "other";
#endif
}

/* rank 0, or not under a launcher: the one process that speaks */
static int first_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                       "SLURM_PROCID"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
        const char *v = getenv(vars[k]);
        if (v && strcmp(v, "0") != 0)
            return 0;
    }
    return 1;
}

int dgpg_blas_core_check(int argc, char **argv)
{
    (void)argc;
#if defined(__x86_64__)
    const char *policy = getenv("DGPG_BLAS_CORE");
    if (!policy || !*policy)
        policy = "auto";
    if (strcmp(policy, "auto") != 0 && strcmp(policy, "best") != 0 &&
        strcmp(policy, "keep") != 0) {
        fprintf(stderr, "dgpg: DGPG_BLAS_CORE = '%s' is not a policy; allowed: auto, best, "
                "keep\n", policy);
        return 2;
    }
    if (strcmp(policy, "keep") == 0 || getenv("DGPG_BLAS_RESTARTED"))
        return 0;
    const char *core = openblas_get_corename();
    const char *forced = getenv("OPENBLAS_CORETYPE");
    const int have = cpu_level(), runs = core_level(core);
    const char *want = best_core(have);
    if (!want)
        return 0;
    char why[256];
    if (forced && *forced && core_level(forced) > have)
        snprintf(why, sizeof why, "OPENBLAS_CORETYPE=%s needs %s, which this CPU lacks (it has "
                 "%s)", forced, level_name(core_level(forced)), level_name(have));
    else if (runs > have)
        snprintf(why, sizeof why, "OpenBLAS runs its %s kernels (%s), which this CPU lacks (it "
                 "has %s)", core, level_name(runs), level_name(have));
    else if (core_level(want) > runs &&
             (!(forced && *forced) || strcmp(policy, "best") == 0))
        snprintf(why, sizeof why, "OpenBLAS runs its %s kernels (%s) on a CPU with %s",
                 core, level_name(runs), level_name(have));
    else
        return 0;
    if (first_rank())
        fprintf(stderr, "dgpg: %s; restarting with OPENBLAS_CORETYPE=%s (DGPG_BLAS_CORE=keep "
                "to stay)\n", why, want);
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0 || setenv("DGPG_BLAS_RESTARTED", "1", 1) != 0)
        return 0;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* no restart possible (no /proc): go on with the core there is */
    fprintf(stderr, "dgpg: restarting failed; going on with OpenBLAS's %s kernels\n", core);
#endif
    return 0;
}

void dgpg_blas_describe(char *buf, size_t len)
{
    const char *config = openblas_get_config();
    const char *forced = getenv("OPENBLAS_CORETYPE");
    const char *how = getenv("DGPG_BLAS_RESTARTED")  ? "chosen by dgpg"
                      : forced && *forced ? "OPENBLAS_CORETYPE"
                                          : "OpenBLAS's own detection";
    /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": the name and version */
    char version[32] = "OpenBLAS";
    if (config && strncmp(config, "OpenBLAS ", 9) == 0) {
        size_t n = strcspn(config + 9, " ");
        snprintf(version, sizeof version, "OpenBLAS %.*s", (int)(n < 20 ? n : 20), config + 9);
    }
    libxsmm_init(); /* idempotent */
    const char *core = openblas_get_corename();
    char better[96] = "";
#if defined(__x86_64__)
    const char *want = best_core(cpu_level());
    if (want && core_level(want) > core_level(core))
        snprintf(better, sizeof better, "; the CPU can run %s (DGPG_BLAS_CORE=best)", want);
#endif
    snprintf(buf, len, "blas: %s, core %s (%s%s); cpu: %s; small GEMMs: libxsmm %s, target %s",
             version, core, how, better, dgpg_cpu_isa(), LIBXSMM_VERSION,
             libxsmm_get_target_arch());
}
