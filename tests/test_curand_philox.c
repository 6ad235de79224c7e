/* test_curand_philox.c — the fact behind docs/environment.md's choice of
 * Random123 on both sides: cuRAND's Philox4_32_10 is the same generator as
 * Random123's philox4x32 (its host generator's first four outputs for
 * seed 1234 equal philox4x32 at counter 0, key {1234, 0}), but its later
 * outputs follow cuRAND's own counter layout, not ours, so the same key
 * does not give our (index, step, env, stream) streams. Needs no GPU:
 * cuRAND's host generator runs on the CPU. */
#include "test.h"

#include <Random123/philox.h>
#include <curand.h>

#define CURAND_OK(expr)                                                                   \
    do {                                                                                  \
        curandStatus_t status_ = (expr);                                                  \
        if (status_ != CURAND_STATUS_SUCCESS) {                                           \
            fprintf(stderr, "FAIL %s:%d: %s returned curandStatus %d\n", __FILE__,        \
                    __LINE__, #expr, (int)status_);                                       \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

int main(void)
{
    curandGenerator_t gen;
    unsigned int out[8];
    CURAND_OK(curandCreateGeneratorHost(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    CURAND_OK(curandSetPseudoRandomGeneratorSeed(gen, 1234));
    CURAND_OK(curandGenerate(gen, out, 8));
    CURAND_OK(curandDestroyGenerator(gen));

    philox4x32_key_t key = {{1234u, 0u}};
    philox4x32_ctr_t ctr0 = {{0u, 0u, 0u, 0u}}, ctr1 = {{1u, 0u, 0u, 0u}};
    philox4x32_ctr_t r0 = philox4x32(ctr0, key), r1 = philox4x32(ctr1, key);
    for (int k = 0; k < 4; k++)
        CHECK_INT_EQ(out[k], r0.v[k]);
    /* the next block is not counter {1, 0, 0, 0}: another layout */
    int same_layout = 1;
    for (int k = 0; k < 4; k++)
        same_layout &= out[4 + k] == r1.v[k];
    printf("curand outputs 4..7: %u %u %u %u; philox4x32 at counter 1: %u %u %u %u\n", out[4],
           out[5], out[6], out[7], r1.v[0], r1.v[1], r1.v[2], r1.v[3]);
    CHECK(!same_layout);
    return test_finish("curand_philox");
}
