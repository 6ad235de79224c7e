/* test.h — the one test runner: assertion macros that print both operands
 * and file:line, a count of checks, and the closing line
 * "N passed, M failed" that ctest's output shows. */
#ifndef DGPG_TEST_H
#define DGPG_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_passed, test_failed;

#define TEST_FAIL_(fmt, ...)                                                              \
    do {                                                                                  \
        test_failed++;                                                                    \
        fprintf(stderr, "FAIL %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);        \
    } while (0)

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (cond)                                                                         \
            test_passed++;                                                                \
        else                                                                              \
            TEST_FAIL_("%s", #cond);                                                      \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                \
    do {                                                                                  \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                   \
        if (check_a_ == check_b_)                                                         \
            test_passed++;                                                                \
        else                                                                              \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, check_a_, check_b_);             \
    } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double check_a_ = (double)(a), check_b_ = (double)(b), check_t_ = (double)(tol);  \
        if (fabs(check_a_ - check_b_) <= check_t_)                                        \
            test_passed++;                                                                \
        else                                                                              \
            TEST_FAIL_("%s ~ %s: %.12g vs %.12g, |diff| %.3g > tol %.3g", #a, #b, check_a_, \
                       check_b_, fabs(check_a_ - check_b_), check_t_);                    \
    } while (0)

/* a <= b */
#define CHECK_LE(a, b)                                                                    \
    do {                                                                                  \
        double check_a_ = (double)(a), check_b_ = (double)(b);                            \
        if (check_a_ <= check_b_)                                                         \
            test_passed++;                                                                \
        else                                                                              \
            TEST_FAIL_("%s <= %s: %.12g > %.12g", #a, #b, check_a_, check_b_);            \
    } while (0)

/* Stop counting a check that fires once per element: report the first
 * few failures only, so a broken invariant does not flood the log. */
#define CHECK_QUIET(cond, ...)                                                            \
    do {                                                                                  \
        if (cond)                                                                         \
            test_passed++;                                                                \
        else if (++test_failed <= 10)                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond),               \
                fprintf(stderr, __VA_ARGS__), fputc('\n', stderr);                        \
    } while (0)

static inline int test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
