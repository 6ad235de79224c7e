/* fuzz_config.c — libFuzzer target for the YAML config loader
 * (src/io/config.c), built with ASan+UBSan (cmake -DDGPG_FUZZ=ON, clang).
 *
 * Each input is used twice:
 *  1. as a config file: the bytes are written to a memfd and loaded through
 *     its /proc/self/fd path with dgpg_config_load, the path `dgpg train
 *     FILE` takes;
 *  2. as --set overrides: its first lines (up to SETS_MAX, each cut at
 *     SET_LEN) applied to the embedded default, the path `--set` takes.
 *
 * Checks (the truth does not come from the loader):
 *  - no sanitizer report, no crash, no leak (ASan, UBSan, LSan);
 *  - a refusal returns -1 with a non-empty, NUL-terminated message
 *    (config.h: "0, or -1 with one message in err");
 *  - an accepted config passes through dgpg_config_check without a
 *    sanitizer report, and what dgpg_config_print writes loads back to the
 *    same values, key by key (config.h: the printer writes "YAML that
 *    dgpg_config_load accepts back"; test_config checks the same round trip
 *    on a few hand-written files). A violation aborts, which libFuzzer
 *    reports as a crash with the input saved. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SETS_MAX 8
#define SET_LEN 1024

static int in_fd = -1, out_fd = -1;
static char in_path[64], out_path[64];

static int fuzz_memfd(const char *name, char *path, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        perror("fuzz_config: memfd_create");
        abort();
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

static void fuzz_write(int fd, const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
}

/* The resolved values as one text, key by key, in schema order. */
typedef struct values_text {
    char *buf;
    size_t len, cap;
} values_text;

static void values_add(void *user, const char *section, const char *key, const char *value)
{
    values_text *v = user;
    size_t need = strlen(section) + strlen(key) + strlen(value) + 4;
    if (v->len + need + 1 > v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        while (v->len + need + 1 > cap) cap *= 2;
        char *buf = realloc(v->buf, cap);
        if (!buf) abort();
        v->buf = buf;
        v->cap = cap;
    }
    v->len += (size_t)snprintf(v->buf + v->len, v->cap - v->len, "%s.%s=%s\n", section, key,
                               value);
}

static void check_refusal(int rc, const char *err, size_t err_len, const char *what)
{
    /* DGPG_FUZZ_VERBOSE=1: each verdict on stderr (run by hand on single
     * inputs: fuzz_config FILE...) */
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("DGPG_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "fuzz_config: %s: %s\n", what, rc == 0 ? "accepted" : err);
    if (rc == 0) return;
    if (rc != -1 || strnlen(err, err_len) == err_len || err[0] == '\0') {
        fprintf(stderr, "fuzz_config: %s refused with rc %d and no message\n", what, rc);
        abort();
    }
}

/* An accepted config: the relation checks, then print and load back. */
static void check_accepted(const dgpg_config *cfg, const char *what)
{
    char err[DGPG_ERR_LEN];
    err[0] = '\0';
    if (dgpg_config_check(cfg, err, sizeof err) != 0 && err[0] == '\0') {
        fprintf(stderr, "fuzz_config: %s: dgpg_config_check refused without a message\n",
                what);
        abort();
    }
    /* the dup shares out_fd's offset: rewind it with the truncation */
    if (ftruncate(out_fd, 0) != 0 || lseek(out_fd, 0, SEEK_SET) != 0) abort();
    FILE *out = fdopen(dup(out_fd), "w");
    if (!out) abort();
    dgpg_config_print(cfg, out);
    if (fclose(out) != 0) abort();
    dgpg_config back;
    if (dgpg_config_load(&back, out_path, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_config: %s: the printed config does not load back: %s\n", what,
                err);
        abort();
    }
    values_text a = {0}, b = {0};
    dgpg_config_foreach(cfg, values_add, &a);
    dgpg_config_foreach(&back, values_add, &b);
    if (a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0) {
        const char *pa = a.buf, *pb = b.buf;
        while (*pa && *pa == *pb) pa++, pb++;
        while (pa > a.buf && pa[-1] != '\n') pa--, pb--;
        fprintf(stderr, "fuzz_config: %s: printed and loaded back, a value changed:\n  %.*s\n"
                "  -> %.*s\n", what, (int)strcspn(pa, "\n"), pa, (int)strcspn(pb, "\n"), pb);
        abort();
    }
    free(a.buf);
    free(b.buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    in_fd = fuzz_memfd("fuzz_config.yaml", in_path, sizeof in_path);
    out_fd = fuzz_memfd("fuzz_config_printed.yaml", out_path, sizeof out_path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[DGPG_ERR_LEN];
    dgpg_config cfg;

    /* 1. the input as a config file */
    fuzz_write(in_fd, data, size);
    err[0] = '\0';
    int rc = dgpg_config_load(&cfg, in_path, NULL, 0, err, sizeof err);
    check_refusal(rc, err, sizeof err, "the file");
    if (rc == 0) check_accepted(&cfg, "the file");

    /* 2. its first lines as --set section.key=value overrides */
    static char lines[SETS_MAX][SET_LEN];
    const char *sets[SETS_MAX];
    int n = 0;
    size_t at = 0;
    while (n < SETS_MAX && at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
        size_t keep = len < SET_LEN - 1 ? len : SET_LEN - 1;
        memcpy(lines[n], data + at, keep);
        lines[n][keep] = '\0'; /* an embedded NUL ends the assignment, as in argv */
        sets[n] = lines[n];
        n++;
        at += len + 1;
    }
    if (n > 0) {
        err[0] = '\0';
        rc = dgpg_config_load(&cfg, NULL, sets, n, err, sizeof err);
        check_refusal(rc, err, sizeof err, "the --set lines");
        if (rc == 0) check_accepted(&cfg, "the --set lines");
    }
    return 0;
}
