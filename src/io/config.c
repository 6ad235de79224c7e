/* config.c — schema-validated YAML config loader, printer and cross-key checks.
 *
 * One static schema table drives everything: loading, the messages that say
 * what is allowed, printing, and iteration. YAML is read with libyaml's event
 * API rather than the document API because only events expose anchors and
 * aliases (the document API silently resolves them), and because events
 * arrive in file order, so the first problem in the file is the one reported. */
#include "config.h"
#include "dgpg/dgpg.h"
#include "registry.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef enum field_type { T_INT, T_DBL, T_BOOL, T_STR, T_ENUM } field_type;

/* What a string must look like beyond fitting its buffer. */
typedef enum str_rule {
    S_ANY,     /* non-empty, no control characters */
    S_IDENT,   /* looked up in a registry by name: C-identifier-like */
    S_RUNNAME, /* becomes a directory name: no '/', not "." or ".." */
    S_OPTIONAL /* like S_ANY, or empty ("" or null) for none */
} str_rule;

typedef struct field {
    const char *section;
    const char *key;
    field_type type;
    size_t offset;               /* into dgpg_config */
    size_t size;                 /* T_STR / T_ENUM: buffer size, NUL included */
    int64_t imin, imax;          /* T_INT, inclusive */
    double dmin, dmax;           /* T_DBL */
    int dmin_open, dmax_open;    /* T_DBL: the bound itself is excluded */
    str_rule rule;               /* T_STR */
    const char *const *words;    /* T_ENUM: NULL-terminated */
    const char *help;
} field;

#define MEMBER_SIZE(sec, k) sizeof(((dgpg_config *)0)->sec.k)
#define F_INT(sec, k, lo, hi, h)                                                    \
    { .section = #sec, .key = #k, .type = T_INT, .offset = offsetof(dgpg_config, sec.k), \
      .imin = (lo), .imax = (hi), .help = (h) }
#define F_DBL(sec, k, lo_open, lo, hi, hi_open, h)                                   \
    { .section = #sec, .key = #k, .type = T_DBL, .offset = offsetof(dgpg_config, sec.k), \
      .dmin = (lo), .dmax = (hi), .dmin_open = (lo_open), .dmax_open = (hi_open), .help = (h) }
#define F_BOOL(sec, k, h)                                                            \
    { .section = #sec, .key = #k, .type = T_BOOL, .offset = offsetof(dgpg_config, sec.k), \
      .help = (h) }
#define F_STR(sec, k, r, h)                                                          \
    { .section = #sec, .key = #k, .type = T_STR, .offset = offsetof(dgpg_config, sec.k), \
      .size = MEMBER_SIZE(sec, k), .rule = (r), .help = (h) }
#define F_ENUM(sec, k, w, h)                                                         \
    { .section = #sec, .key = #k, .type = T_ENUM, .offset = offsetof(dgpg_config, sec.k), \
      .size = MEMBER_SIZE(sec, k), .words = (w), .help = (h) }

#define OPEN 1
#define CLOSED 0
#define SEED_MAX (INT64_C(1) << 62) /* leaves room for seed + k without overflow */

static const char *const SCENARIO_WORDS[] = {"sampled", "fixed", NULL};
static const char *const GUIDE_WORDS[] = {"dgpg", "target", "descent", "cv", "none", NULL};
static const char *const CRITIC_WORDS[] = {"mappo", "ippo", NULL};
static const char *const SCHEDULE_WORDS[] = {"constant", "linear", "exponential", NULL};
static const char *const BACKEND_WORDS[] = {"cpu", "cuda", "auto", NULL};

static const char *const SECTIONS[] = {"env", "model", "algo", "train", "log", "backend", "eval"};
#define N_SECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])

static const field FIELDS[] = {
    F_STR(env, name, S_IDENT, "registered environment plug-in"),
    F_INT(env, n_agents, 2, 10000000, "N dispatchers"),
    F_INT(env, n_pools, 2, 1024, "M server pools"),
    F_INT(env, n_envs, 1, 1000000, "E environments stepped as one batch"),
    F_INT(env, horizon, 1, 100000000, "T steps per episode"),
    F_INT(env, seed, 0, SEED_MAX, "scenario seed (fixed) or the training distribution's (sampled)"),
    F_ENUM(env, scenarios, SCENARIO_WORDS,
           "sampled: each environment and episode its own scenario; fixed: env.seed's"),

    F_STR(model, name, S_IDENT, "registered analytical model"),

    F_ENUM(algo, guide, GUIDE_WORDS, "form of the analytical guidance"),
    F_ENUM(algo, critic, CRITIC_WORDS, "centralised (mappo) or local (ippo) critic"),
    F_ENUM(algo, alpha_schedule, SCHEDULE_WORDS, "how the guidance weight changes per episode"),
    F_DBL(algo, alpha_start, CLOSED, 0.0, 1.0, CLOSED, "guidance weight at the first episode"),
    F_DBL(algo, alpha_end, CLOSED, 0.0, 1.0, CLOSED, "guidance weight at the end (floor)"),
    F_DBL(algo, alpha_decay, OPEN, 0.0, 1.0, CLOSED, "exponential schedule: factor per episode"),
    F_DBL(algo, lr, OPEN, 0.0, 1.0, CLOSED, "learning rate"),
    F_DBL(algo, clip, OPEN, 0.0, 10.0, CLOSED, "PPO ratio clip"),
    F_DBL(algo, gamma, CLOSED, 0.0, 1.0, CLOSED, "discount factor"),
    F_DBL(algo, gae_lambda, CLOSED, 0.0, 1.0, CLOSED, "GAE lambda"),
    F_DBL(algo, entropy_coef, CLOSED, 0.0, 10.0, CLOSED, "entropy bonus weight"),
    F_DBL(algo, value_coef, CLOSED, 0.0, 100.0, CLOSED, "value loss weight"),
    F_DBL(algo, max_grad_norm, OPEN, 0.0, 1e9, CLOSED, "gradient norm clip"),
    F_INT(algo, epochs, 1, 1000, "PPO epochs per episode"),
    F_INT(algo, minibatches, 1, 100000, "minibatches per epoch"),
    F_INT(algo, hidden, 1, 4096, "hidden layer width"),
    F_INT(algo, layers, 1, 8, "hidden layers"),
    F_BOOL(algo, share_params, "one parameter set shared by all agents"),
    F_DBL(algo, huber_delta, CLOSED, 0.0, 1e6, CLOSED, "Huber width of the value loss, 0: squared error"),
    F_DBL(algo, adam_eps, OPEN, 0.0, 1.0, CLOSED, "Adam epsilon"),
    F_INT(algo, variance_groups, 2, 1024, "environment groups for the gradient-variance estimate"),
    F_INT(algo, chunk, 0, 1000000,
          "samples per forward/backward chunk (bounds memory); 0: auto, 64 on the CPU, 256 on "
          "CUDA"),

    F_STR(train, name, S_RUNNAME, "run directory name: runs/NAME"),
    F_INT(train, episodes, 1, 10000000, "training episodes"),
    F_INT(train, seed, 0, SEED_MAX, "training seed"),
    F_INT(train, checkpoint_every, 1, 10000000, "episodes between checkpoints"),
    F_STR(train, init_from, S_OPTIONAL,
          "run directory whose trained networks (and value normalisers) start this run; "
          "empty: the orthogonal initialisation"),
    F_STR(train, dump_batch, S_OPTIONAL,
          "HDF5 file that receives the run's first batch after the advantages (rewards, "
          "values, advantages, returns, guidance, probabilities, actions, p*) for offline "
          "checks; empty: none"),

    F_STR(log, dir, S_ANY, "parent of run directories"),
    F_INT(log, snapshot_every, 1, 10000000, "episodes between parameter snapshots"),

    F_ENUM(backend, kind, BACKEND_WORDS,
           "compute backend (auto: cuda where a device is visible, else cpu)"),
    F_INT(backend, threads, 0, 1024, "CPU threads, 0 = every core"),
    F_INT(backend, device, 0, 1024, "CUDA device index"),
    F_BOOL(backend, tf32, "TF32 tensor-core GEMMs on CUDA (FP32 otherwise)"),
    F_BOOL(backend, cuda_graph,
           "CUDA: each rollout step captured and launched as one CUDA graph (CPU: no effect)"),

    F_INT(eval, scenarios, 2, 100000, "held-out scenarios"),
    F_INT(eval, seed, 0, SEED_MAX, "first scenario seed"),
    F_STR(eval, policies, S_ANY, "comma-separated policy names"),
    F_STR(eval, output, S_ANY, "HDF5 file for the eval table"),
};
#define N_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

/* The schema of one resolved config: FIELDS, then the rows of the
 * environment plug-in env.name names, then those of model.name's. */
#define SCHEMA_MAX (N_FIELDS + 2 * DGPG_KEYS_MAX)
typedef struct schema {
    field f[SCHEMA_MAX];
    size_t n;
    const dgpg_env_api *env;     /* NULL where env.name is not registered */
    const dgpg_model_api *model;
} schema;

/* A plug-in's row as a field of the section `section` at `base` (the
 * offset of the section's params block in dgpg_config). */
static field field_of_row(const dgpg_config_key *row, const char *section, size_t base)
{
    field f = {.section = section, .key = row->key, .offset = base + row->offset,
               .help = row->help};
    switch (row->type) {
    case DGPG_KEY_INT:
        f.type = T_INT;
        f.imin = (int64_t)row->min;
        f.imax = (int64_t)row->max;
        break;
    case DGPG_KEY_REAL:
        f.type = T_DBL;
        f.dmin = row->min;
        f.dmax = row->max;
        f.dmin_open = row->min_open;
        f.dmax_open = row->max_open;
        break;
    case DGPG_KEY_BOOL:
        f.type = T_BOOL;
        break;
    default:
        f.type = T_ENUM;
        f.size = DGPG_WORD_LEN;
        f.words = row->words;
        break;
    }
    return f;
}

static const dgpg_config_key *env_rows(const dgpg_env_api *api, int *n)
{
    *n = api && api->version >= 3 ? api->n_config_keys : 0;
    return *n ? api->config_keys : NULL;
}

static const dgpg_config_key *model_rows(const dgpg_model_api *api, int *n)
{
    *n = api && api->version >= 3 ? api->n_config_keys : 0;
    return *n ? api->config_keys : NULL;
}

static void schema_build(schema *sc, const char *env_name, const char *model_name)
{
    int n_env, n_model;
    memcpy(sc->f, FIELDS, sizeof FIELDS);
    sc->n = N_FIELDS;
    sc->env = dgpg_find_env(env_name);
    sc->model = dgpg_find_model(model_name);
    if (sc->model && (!sc->env || strcmp(sc->model->env_name, sc->env->name) != 0))
        sc->model = NULL; /* a model binds to its own environment's instances only */
    const dgpg_config_key *rows = env_rows(sc->env, &n_env);
    for (int k = 0; k < n_env; k++)
        sc->f[sc->n++] = field_of_row(&rows[k], "env", offsetof(dgpg_config, env.params));
    rows = model_rows(sc->model, &n_model);
    for (int k = 0; k < n_model; k++)
        sc->f[sc->n++] = field_of_row(&rows[k], "model", offsetof(dgpg_config, model.params));
}

#define DEFAULT_SOURCE "(embedded default)"
#define SET_SOURCE "--set"
#define MSG_VALUE_MAX 96 /* longer values are cut in messages so they stay readable */

/* ---- small text helpers ------------------------------------------------ */

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int ca = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
        int cb = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;
        if (ca != cb) return 0;
    }
    return *a == *b;
}

static int is_ctrl(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* Messages must stay one line whatever the input held, so control
 * characters are masked and long values are cut. */
static void sanitize(char *dst, size_t dst_len, const char *src, size_t src_len)
{
    size_t n = 0, i;
    if (dst_len == 0) return;
    for (i = 0; i < src_len && n + 4 < dst_len && i < MSG_VALUE_MAX; i++)
        dst[n++] = is_ctrl((unsigned char)src[i]) ? '?' : src[i];
    if (i < src_len && n + 4 <= dst_len) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

static void loc_text(char *buf, size_t len, const char *src, size_t line)
{
    /* the whole path, masked but never cut: a message must name its file */
    char s[DGPG_PATH_LEN];
    size_t n = 0;
    for (const char *p = src; *p && n + 1 < sizeof s; p++)
        s[n++] = is_ctrl((unsigned char)*p) ? '?' : *p;
    s[n] = '\0';
    if (line > 0)
        snprintf(buf, len, "%s:%zu", s, line);
    else
        snprintf(buf, len, "%s", s);
}

/* Shortest text that strtod reads back as the same double; a '.' is forced
 * into the mantissa so that YAML 1.1 readers (PyYAML) also see a float. */
static void format_double(char *buf, size_t len, double v)
{
    int prec;
    /* Whole numbers read better as "20.0" than as the shorter "2e+01". */
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e16) {
        snprintf(buf, len, "%.1f", v);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".ni")) { /* not nan/inf and no '.' yet */
        char *e = strpbrk(buf, "eE");
        char tail[32] = "";
        if (e) {
            snprintf(tail, sizeof tail, "%s", e);
            *e = '\0';
        }
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, ".0%s", tail);
    }
}

/* Range bounds are for people: "(0, 2]" rather than the YAML-safe "2.0". */
static void bound_text(char *buf, size_t len, double v)
{
    if (v == floor(v) && fabs(v) < 1e16)
        snprintf(buf, len, "%.0f", v);
    else
        format_double(buf, len, v);
}

static void allowed_text(const field *f, char *buf, size_t len)
{
    char lo[40], hi[40];
    size_t used = 0;
    switch (f->type) {
    case T_INT:
        snprintf(buf, len, "an integer in [%" PRId64 ", %" PRId64 "]", f->imin, f->imax);
        break;
    case T_DBL:
        bound_text(lo, sizeof lo, f->dmin);
        bound_text(hi, sizeof hi, f->dmax);
        snprintf(buf, len, "a number in %c%s, %s%c", f->dmin_open ? '(' : '[', lo, hi,
                 f->dmax_open ? ')' : ']');
        break;
    case T_BOOL:
        snprintf(buf, len, "true or false (also yes/no, on/off)");
        break;
    case T_ENUM:
        buf[0] = '\0';
        for (const char *const *w = f->words; *w && used < len; w++) {
            int n = snprintf(buf + used, len - used, "%s%s", w == f->words ? "" : ", ", *w);
            if (n < 0) break;
            used += (size_t)n;
        }
        break;
    case T_STR:
        switch (f->rule) {
        case S_IDENT:
            snprintf(buf, len,
                     "a name of 1 to %zu characters from A-Z a-z 0-9 _, not starting with a digit",
                     f->size - 1);
            break;
        case S_RUNNAME:
            snprintf(buf, len,
                     "a name of 1 to %zu characters from A-Z a-z 0-9 . _ - (not '.' or '..')",
                     f->size - 1);
            break;
        case S_ANY:
            snprintf(buf, len, "a non-empty string of at most %zu characters", f->size - 1);
            break;
        case S_OPTIONAL:
            snprintf(buf, len, "a string of at most %zu characters, empty for none",
                     f->size - 1);
            break;
        }
        break;
    }
}

static void section_keys_text(const schema *sc, size_t sec, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sc->n && used < len; i++) {
        if (strcmp(sc->f[i].section, SECTIONS[sec]) != 0) continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", sc->f[i].key);
        if (n < 0) break;
        used += (size_t)n;
    }
}

static void sections_text(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t s = 0; s < N_SECTIONS && used < len; s++) {
        int n = snprintf(buf + used, len - used, "%s%s", s ? ", " : "", SECTIONS[s]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

static int find_section(const char *name)
{
    for (size_t s = 0; s < N_SECTIONS; s++)
        if (strcmp(SECTIONS[s], name) == 0) return (int)s;
    return -1;
}

static int find_field(const schema *sc, size_t sec, const char *key)
{
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->f[i].section, SECTIONS[sec]) == 0 && strcmp(sc->f[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* "; it is a key of environment 'cloud'" where another registered plug-in
 * of the section's kind lists `key`, else "". */
static void key_owner_text(const schema *sc, size_t sec, const char *key, char *buf, size_t len)
{
    buf[0] = '\0';
    const int is_env = strcmp(SECTIONS[sec], "env") == 0;
    if (!is_env && strcmp(SECTIONS[sec], "model") != 0)
        return;
    const int count = is_env ? dgpg_registry_env_count() : dgpg_registry_model_count();
    for (int p = 0; p < count; p++) {
        const dgpg_env_api *env = is_env ? dgpg_registry_env(p) : NULL;
        const dgpg_model_api *model = is_env ? NULL : dgpg_registry_model(p);
        if ((is_env && env == sc->env) || (!is_env && model == sc->model))
            continue;
        int n;
        const dgpg_config_key *rows = is_env ? env_rows(env, &n) : model_rows(model, &n);
        for (int k = 0; k < n; k++)
            if (strcmp(rows[k].key, key) == 0) {
                snprintf(buf, len, " (a key of %s '%s', not of this config's '%s')",
                         is_env ? "environment" : "model", is_env ? env->name : model->name,
                         is_env ? (sc->env ? sc->env->name : "?")
                                : (sc->model ? sc->model->name : "?"));
                return;
            }
    }
}

/* ---- errors naming where, what and what is allowed ---------------------- */

static void err_value(char *err, size_t err_len, const char *src, size_t line, const field *f,
                      const char *value, size_t value_len, const char *problem)
{
    char loc[DGPG_PATH_LEN + 32], val[MSG_VALUE_MAX + 8], allowed[512];
    loc_text(loc, sizeof loc, src, line);
    sanitize(val, sizeof val, value, value_len);
    allowed_text(f, allowed, sizeof allowed);
    snprintf(err, err_len, "%s: %s.%s = '%s': %s; allowed: %s", loc, f->section, f->key, val,
             problem, allowed);
}

static void err_unknown_section(char *err, size_t err_len, const char *src, size_t line,
                                const char *name, size_t name_len)
{
    char loc[DGPG_PATH_LEN + 32], nm[MSG_VALUE_MAX + 8], allowed[256];
    loc_text(loc, sizeof loc, src, line);
    sanitize(nm, sizeof nm, name, name_len);
    sections_text(allowed, sizeof allowed);
    snprintf(err, err_len, "%s: %s: unknown section; allowed: %s", loc, nm, allowed);
}

static void err_unknown_key(char *err, size_t err_len, const schema *sc, const char *src,
                            size_t line, size_t sec, const char *key, size_t key_len)
{
    char loc[DGPG_PATH_LEN + 32], k[MSG_VALUE_MAX + 8], allowed[1536], owner[192];
    loc_text(loc, sizeof loc, src, line);
    sanitize(k, sizeof k, key, key_len);
    section_keys_text(sc, sec, allowed, sizeof allowed);
    key_owner_text(sc, sec, k, owner, sizeof owner);
    snprintf(err, err_len, "%s: %s.%s: unknown key in section '%s'%s; allowed: %s", loc,
             SECTIONS[sec], k, SECTIONS[sec], owner, allowed);
}

/* ---- scalar conversion -------------------------------------------------- */

/* Converts `text` for field f and stores it into cfg. Returns 0, or -1 with
 * the message. `yaml_null`: the text was a plain YAML null (~, null, empty),
 * which must not quietly become a string. */
static int apply_value(dgpg_config *cfg, const field *f, const char *text, size_t len,
                       int yaml_null, const char *src, size_t line, char *err, size_t err_len)
{
    char problem[128];
    char *dst = (char *)cfg + f->offset;

    if (memchr(text, '\0', len)) {
        err_value(err, err_len, src, line, f, text, len, "contains a NUL character");
        return -1;
    }
    switch (f->type) {
    case T_INT: {
        char *end;
        long long v;
        /* strtoll skips leading blanks and accepts a bare sign; neither is
         * an integer as written. */
        if (len == 0 || !((text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '+')) {
            err_value(err, err_len, src, line, f, text, len, "not an integer");
            return -1;
        }
        errno = 0;
        v = strtoll(text, &end, 10);
        if (end != text + len || end == text) {
            err_value(err, err_len, src, line, f, text, len, "not an integer");
            return -1;
        }
        if (errno == ERANGE || v < f->imin || v > f->imax) {
            err_value(err, err_len, src, line, f, text, len, "out of range");
            return -1;
        }
        int64_t iv = (int64_t)v;
        memcpy(dst, &iv, sizeof iv);
        return 0;
    }
    case T_DBL: {
        char *end;
        double v;
        /* Hex floats and leading blanks are strtod conveniences, not numbers
         * anyone means to write in a config. */
        if (len == 0 || text[0] == ' ' || text[0] == '\t' || memchr(text, 'x', len) ||
            memchr(text, 'X', len)) {
            err_value(err, err_len, src, line, f, text, len, "not a number");
            return -1;
        }
        errno = 0;
        v = strtod(text, &end);
        if (end != text + len || end == text) {
            err_value(err, err_len, src, line, f, text, len, "not a number");
            return -1;
        }
        if (errno == ERANGE && isinf(v)) {
            err_value(err, err_len, src, line, f, text, len, "out of range");
            return -1;
        }
        if (!isfinite(v)) {
            err_value(err, err_len, src, line, f, text, len,
                      "not a number (NaN and infinity are not allowed)");
            return -1;
        }
        if ((f->dmin_open ? !(v > f->dmin) : !(v >= f->dmin)) ||
            (f->dmax_open ? !(v < f->dmax) : !(v <= f->dmax))) {
            err_value(err, err_len, src, line, f, text, len, "out of range");
            return -1;
        }
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case T_BOOL: {
        int b;
        if (ascii_ieq(text, "true") || ascii_ieq(text, "yes") || ascii_ieq(text, "on"))
            b = 1;
        else if (ascii_ieq(text, "false") || ascii_ieq(text, "no") || ascii_ieq(text, "off"))
            b = 0;
        else {
            err_value(err, err_len, src, line, f, text, len, "not a boolean");
            return -1;
        }
        memcpy(dst, &b, sizeof b);
        return 0;
    }
    case T_ENUM: {
        for (const char *const *w = f->words; *w; w++) {
            if (strcmp(*w, text) == 0) {
                memset(dst, 0, f->size);
                memcpy(dst, text, len);
                return 0;
            }
        }
        err_value(err, err_len, src, line, f, text, len, "not one of the allowed words");
        return -1;
    }
    case T_STR: {
        if (f->rule == S_OPTIONAL && (len == 0 || yaml_null)) {
            memset(dst, 0, f->size);
            return 0;
        }
        if (len == 0 || yaml_null) {
            err_value(err, err_len, src, line, f, text, len, "empty");
            return -1;
        }
        if (len >= f->size) {
            snprintf(problem, sizeof problem, "too long (%zu characters)", len);
            err_value(err, err_len, src, line, f, text, len, problem);
            return -1;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)text[i];
            if (is_ctrl(c)) {
                err_value(err, err_len, src, line, f, text, len, "contains a control character");
                return -1;
            }
            int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            if ((f->rule == S_IDENT && !(alnum || c == '_')) ||
                (f->rule == S_IDENT && i == 0 && c >= '0' && c <= '9') ||
                (f->rule == S_RUNNAME && !(alnum || c == '_' || c == '.' || c == '-'))) {
                err_value(err, err_len, src, line, f, text, len, "not a valid name");
                return -1;
            }
        }
        if (f->rule == S_RUNNAME && (strcmp(text, ".") == 0 || strcmp(text, "..") == 0)) {
            err_value(err, err_len, src, line, f, text, len, "not a valid name");
            return -1;
        }
        memset(dst, 0, f->size);
        memcpy(dst, text, len);
        return 0;
    }
    }
    return -1;
}

/* ---- YAML (event API) --------------------------------------------------- */

typedef struct load_ctx {
    yaml_parser_t parser;
    dgpg_config *cfg;
    const char *src;
    const char *text;            /* the whole input, to place reader errors */
    size_t text_len;
    const schema *sc;
    int names_only;              /* the first pass: only env.name and model.name */
    size_t key_line[SCHEMA_MAX]; /* line each key was set on in this file, 0 = not set */
    size_t sec_line[N_SECTIONS];
    char *err;
    size_t err_len;
} load_ctx;

static size_t ev_line(const yaml_event_t *ev) { return ev->start_mark.line + 1; }

static int next_event(load_ctx *c, yaml_event_t *ev)
{
    char loc[DGPG_PATH_LEN + 32];
    const yaml_parser_t *p = &c->parser;
    if (yaml_parser_parse(&c->parser, ev)) return 0;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        loc_text(loc, sizeof loc, c->src, 0);
        snprintf(c->err, c->err_len, "%s: out of memory while reading YAML", loc);
        break;
    case YAML_READER_ERROR:
    {
        /* Reader errors (bad encoding, control characters) carry a byte
         * offset, not a mark; the line is counted from the text. */
        size_t line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < c->text_len; i++, col++)
            if (c->text[i] == '\n') line++, col = 0;
        loc_text(loc, sizeof loc, c->src, line);
        snprintf(c->err, c->err_len, "%s: malformed YAML: %s (column %zu, byte offset %zu)", loc,
                 p->problem ? p->problem : "unreadable input", col, p->problem_offset);
        break;
    }
    default:
        loc_text(loc, sizeof loc, c->src, p->problem_mark.line + 1);
        if (p->context)
            snprintf(c->err, c->err_len, "%s: malformed YAML: %s (column %zu, %s at line %zu)", loc,
                     p->problem ? p->problem : "syntax error", p->problem_mark.column + 1,
                     p->context, p->context_mark.line + 1);
        else
            snprintf(c->err, c->err_len, "%s: malformed YAML: %s (column %zu)", loc,
                     p->problem ? p->problem : "syntax error", p->problem_mark.column + 1);
        break;
    }
    return -1;
}

static const char *node_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_SCALAR_EVENT: return "a scalar";
    case YAML_ALIAS_EVENT: return "an alias";
    default: return "something else";
    }
}

/* Anchors, aliases and tags would let one value stand for another or change
 * its type behind the schema's back; a config has no need for them. `where`
 * names the section or key being read ("" at the top). */
static int reject_anchor_alias_tag(load_ctx *c, const yaml_event_t *ev, const char *where)
{
    char loc[DGPG_PATH_LEN + 32], name[MSG_VALUE_MAX + 8];
    const yaml_char_t *anchor = NULL, *tag = NULL;
    const char *sep = where[0] ? ": " : "";
    switch (ev->type) {
    case YAML_ALIAS_EVENT: anchor = ev->data.alias.anchor; break;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    default: return 0;
    }
    loc_text(loc, sizeof loc, c->src, ev_line(ev));
    if (ev->type == YAML_ALIAS_EVENT || anchor) {
        const char *a = anchor ? (const char *)anchor : "";
        sanitize(name, sizeof name, a, strlen(a));
        snprintf(c->err, c->err_len,
                 "%s: %s%s%s%s: anchors and aliases are not supported; allowed: plain values", loc,
                 where, sep, ev->type == YAML_ALIAS_EVENT ? "*" : "&", name);
        return -1;
    }
    if (tag) {
        sanitize(name, sizeof name, (const char *)tag, strlen((const char *)tag));
        snprintf(c->err, c->err_len,
                 "%s: %s%stag '%s': YAML tags are not supported; allowed: plain values", loc, where,
                 sep, name);
        return -1;
    }
    return 0;
}

static int is_yaml_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Reads the keys of one section mapping (its MAPPING-START already consumed). */
static int load_section(load_ctx *c, size_t sec)
{
    char loc[DGPG_PATH_LEN + 32], allowed[1536];
    for (;;) {
        yaml_event_t kev, vev;
        if (next_event(c, &kev)) return -1;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        if (c->names_only && (kev.type != YAML_SCALAR_EVENT || sec > 1 ||
                              strcmp((const char *)kev.data.scalar.value, "name") != 0)) {
            /* the first pass skips every other key; what it cannot skip
             * (a key or value that is not a scalar) the second pass reports */
            int scalar_key = kev.type == YAML_SCALAR_EVENT;
            yaml_event_delete(&kev);
            if (!scalar_key || next_event(c, &vev)) return -1;
            int scalar_value = vev.type == YAML_SCALAR_EVENT;
            yaml_event_delete(&vev);
            if (!scalar_value) return -1;
            continue;
        }
        if (reject_anchor_alias_tag(c, &kev, SECTIONS[sec])) {
            yaml_event_delete(&kev);
            return -1;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            loc_text(loc, sizeof loc, c->src, ev_line(&kev));
            section_keys_text(c->sc, sec, allowed, sizeof allowed);
            snprintf(c->err, c->err_len, "%s: %s: wrong type (%s used as a key); allowed: %s", loc,
                     SECTIONS[sec], node_kind(&kev), allowed);
            yaml_event_delete(&kev);
            return -1;
        }
        const char *key = (const char *)kev.data.scalar.value;
        int fi = find_field(c->sc, sec, key);
        if (fi < 0) {
            err_unknown_key(c->err, c->err_len, c->sc, c->src, ev_line(&kev), sec, key,
                            kev.data.scalar.length);
            yaml_event_delete(&kev);
            return -1;
        }
        const field *f = &c->sc->f[fi];
        size_t key_line = ev_line(&kev);
        yaml_event_delete(&kev);

        char where[2 * DGPG_NAME_LEN];
        snprintf(where, sizeof where, "%s.%s", f->section, f->key);
        if (next_event(c, &vev)) return -1;
        if (reject_anchor_alias_tag(c, &vev, where)) {
            yaml_event_delete(&vev);
            return -1;
        }
        if (vev.type != YAML_SCALAR_EVENT) {
            allowed_text(f, allowed, sizeof allowed);
            loc_text(loc, sizeof loc, c->src, ev_line(&vev));
            snprintf(c->err, c->err_len, "%s: %s: wrong type (%s, expected a single value); allowed: %s",
                     loc, where, node_kind(&vev), allowed);
            yaml_event_delete(&vev);
            return -1;
        }
        const char *val = (const char *)vev.data.scalar.value;
        size_t len = vev.data.scalar.length;
        if (c->key_line[fi]) {
            char problem[96];
            snprintf(problem, sizeof problem, "duplicate key (first set at line %zu)",
                     c->key_line[fi]);
            err_value(c->err, c->err_len, c->src, key_line, f, val, len, problem);
            yaml_event_delete(&vev);
            return -1;
        }
        if (vev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
            (f->type == T_INT || f->type == T_DBL || f->type == T_BOOL)) {
            /* in YAML a quoted scalar is a string, whatever it spells */
            err_value(c->err, c->err_len, c->src, ev_line(&vev), f, val, len,
                      "wrong type (a quoted string)");
            yaml_event_delete(&vev);
            return -1;
        }
        int rc = apply_value(c->cfg, f, val, len, is_yaml_null(&vev), c->src, ev_line(&vev), c->err,
                             c->err_len);
        yaml_event_delete(&vev);
        if (rc) return -1;
        /* a plug-in name no plug-in has: here, in the order of the file */
        if (!c->names_only && sec <= 1 && strcmp(f->key, "name") == 0) {
            const char *name = (const char *)c->cfg + f->offset;
            if (sec == 0 ? !dgpg_find_env(name) : !dgpg_find_model(name)) {
                char names[512];
                loc_text(loc, sizeof loc, c->src, key_line);
                if (sec == 0)
                    dgpg_env_names(names, sizeof names);
                else
                    dgpg_model_names(names, sizeof names);
                snprintf(c->err, c->err_len, "%s: %s.name = '%s': no registered %s of that "
                         "name; allowed: %s", loc, SECTIONS[sec], name,
                         sec == 0 ? "environment" : "model", names);
                return -1;
            }
        }
        c->key_line[fi] = key_line;
    }
}

/* Reads the top-level mapping of sections (its MAPPING-START already consumed). */
static int load_root(load_ctx *c)
{
    char loc[DGPG_PATH_LEN + 32], allowed[1536];
    for (;;) {
        yaml_event_t kev, vev;
        if (next_event(c, &kev)) return -1;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        if (reject_anchor_alias_tag(c, &kev, "")) {
            yaml_event_delete(&kev);
            return -1;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            loc_text(loc, sizeof loc, c->src, ev_line(&kev));
            sections_text(allowed, sizeof allowed);
            snprintf(c->err, c->err_len, "%s: wrong type (%s used as a section name); allowed: %s",
                     loc, node_kind(&kev), allowed);
            yaml_event_delete(&kev);
            return -1;
        }
        int sec = find_section((const char *)kev.data.scalar.value);
        if (sec < 0) {
            err_unknown_section(c->err, c->err_len, c->src, ev_line(&kev),
                                (const char *)kev.data.scalar.value, kev.data.scalar.length);
            yaml_event_delete(&kev);
            return -1;
        }
        size_t line = ev_line(&kev);
        yaml_event_delete(&kev);
        loc_text(loc, sizeof loc, c->src, line);
        if (c->sec_line[sec]) {
            snprintf(c->err, c->err_len,
                     "%s: %s: duplicate section (first at line %zu); allowed: each section once",
                     loc, SECTIONS[sec], c->sec_line[sec]);
            return -1;
        }
        c->sec_line[sec] = line;

        if (next_event(c, &vev)) return -1;
        if (reject_anchor_alias_tag(c, &vev, SECTIONS[sec])) {
            yaml_event_delete(&vev);
            return -1;
        }
        if (vev.type == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&vev);
            if (load_section(c, (size_t)sec)) return -1;
            continue;
        }
        /* "env:" with every key commented out is an empty section, not an error. */
        if (vev.type == YAML_SCALAR_EVENT && is_yaml_null(&vev)) {
            yaml_event_delete(&vev);
            continue;
        }
        char val[MSG_VALUE_MAX + 8] = "";
        if (vev.type == YAML_SCALAR_EVENT)
            sanitize(val, sizeof val, (const char *)vev.data.scalar.value, vev.data.scalar.length);
        loc_text(loc, sizeof loc, c->src, ev_line(&vev));
        section_keys_text(c->sc, (size_t)sec, allowed, sizeof allowed);
        if (vev.type == YAML_SCALAR_EVENT)
            snprintf(c->err, c->err_len,
                     "%s: %s = '%s': wrong type (a scalar, expected a mapping of keys); allowed: %s",
                     loc, SECTIONS[sec], val, allowed);
        else
            snprintf(c->err, c->err_len,
                     "%s: %s: wrong type (%s, expected a mapping of keys); allowed: %s", loc,
                     SECTIONS[sec], node_kind(&vev), allowed);
        yaml_event_delete(&vev);
        return -1;
    }
}

/* Parses a whole stream: nothing (an empty file), or one document holding a
 * mapping of sections. */
static int load_stream(load_ctx *c)
{
    char loc[DGPG_PATH_LEN + 32], allowed[256];
    yaml_event_t ev;
    int docs = 0;

    if (next_event(c, &ev)) return -1;
    yaml_event_delete(&ev); /* STREAM-START */
    for (;;) {
        if (next_event(c, &ev)) return -1;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        /* Only DOCUMENT-START can follow at this level. */
        if (docs++ > 0) {
            loc_text(loc, sizeof loc, c->src, ev_line(&ev));
            snprintf(c->err, c->err_len,
                     "%s: malformed YAML: a second document; allowed: one document per file", loc);
            yaml_event_delete(&ev);
            return -1;
        }
        yaml_event_delete(&ev);

        if (next_event(c, &ev)) return -1;
        if (reject_anchor_alias_tag(c, &ev, "")) {
            yaml_event_delete(&ev);
            return -1;
        }
        if (ev.type == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&ev);
            if (load_root(c)) return -1;
        } else if (ev.type == YAML_SCALAR_EVENT && is_yaml_null(&ev)) {
            yaml_event_delete(&ev); /* "---" alone: an empty document */
        } else {
            char val[MSG_VALUE_MAX + 8] = "";
            if (ev.type == YAML_SCALAR_EVENT)
                sanitize(val, sizeof val, (const char *)ev.data.scalar.value, ev.data.scalar.length);
            loc_text(loc, sizeof loc, c->src, ev_line(&ev));
            sections_text(allowed, sizeof allowed);
            if (ev.type == YAML_SCALAR_EVENT)
                snprintf(c->err, c->err_len,
                         "%s: '%s': wrong type (the file is a scalar, expected a mapping of "
                         "sections); allowed: %s",
                         loc, val, allowed);
            else
                snprintf(c->err, c->err_len,
                         "%s: wrong type (the file is %s, expected a mapping of sections); allowed: %s",
                         loc, node_kind(&ev), allowed);
            yaml_event_delete(&ev);
            return -1;
        }
        if (next_event(c, &ev)) return -1;
        yaml_event_delete(&ev); /* DOCUMENT-END */
    }
}

/* Checks that the whole stream is well-formed YAML before any of it is
 * interpreted: a syntax error (an unclosed bracket, a bad indent) changes
 * the meaning of what comes before it, so it must win over, say, the
 * "wrong type" that a half-read flow sequence would otherwise produce. */
/* A config nests two levels (section, key); libyaml's scanner costs time
 * quadratic in the flow nesting depth, so a hostile file of a million
 * brackets would hang it: the pass stops at a depth no config needs. */
#define CONFIG_MAX_DEPTH 16

static int syntax_pass(load_ctx *c)
{
    int depth = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event(c, &ev)) return -1;
        int end = ev.type == YAML_STREAM_END_EVENT;
        if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        if (depth > CONFIG_MAX_DEPTH) {
            char loc[DGPG_PATH_LEN + 32];
            loc_text(loc, sizeof loc, c->src, ev_line(&ev));
            snprintf(c->err, c->err_len,
                     "%s: malformed YAML: nesting deeper than %d levels; allowed: sections "
                     "of key: value pairs",
                     loc, CONFIG_MAX_DEPTH);
            yaml_event_delete(&ev);
            return -1;
        }
        yaml_event_delete(&ev);
        if (end) return 0;
    }
}

/* Applies one YAML text of `len` bytes onto cfg. key_line, if not NULL,
 * receives the line each key was set on (0 = not set). */
static int load_source(dgpg_config *cfg, const schema *sc, int names_only, const char *src,
                       const char *text, size_t len, size_t *key_line_out, char *err,
                       size_t err_len)
{
    load_ctx *c = calloc(1, sizeof *c);
    int rc = 0;
    if (!c) {
        snprintf(err, err_len, "%s: out of memory", src);
        return -1;
    }
    c->cfg = cfg;
    c->sc = sc;
    c->names_only = names_only;
    c->src = src;
    c->text = text;
    c->text_len = len;
    c->err = err;
    c->err_len = err_len;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (!yaml_parser_initialize(&c->parser)) {
            snprintf(err, err_len, "%s: out of memory initialising the YAML parser", src);
            free(c);
            return -1;
        }
        yaml_parser_set_input_string(&c->parser, (const unsigned char *)text, len);
        rc = pass == 0 ? syntax_pass(c) : load_stream(c);
        yaml_parser_delete(&c->parser);
    }
    if (rc == 0 && key_line_out) memcpy(key_line_out, c->key_line, sizeof c->key_line);
    free(c);
    return rc;
}

#define FILE_MAX ((size_t)16 << 20) /* far beyond any config; bounds memory on a wrong path */

static int load_file(dgpg_config *cfg, const schema *sc, int names_only, const char *path,
                     size_t *key_line_out, char *err, size_t err_len)
{
    char loc[DGPG_PATH_LEN + 32];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *fp = fopen(path, "rb");
    loc_text(loc, sizeof loc, path, 0);
    if (!fp) {
        snprintf(err, err_len, "%s: cannot read: %s", loc, strerror(errno));
        return -1;
    }
    /* Read whole: the text is parsed twice (syntax, then meaning), and a
     * directory, which fopen accepts, fails here with EISDIR. */
    for (;;) {
        if (len == cap) {
            if (cap >= FILE_MAX) {
                snprintf(err, err_len, "%s: cannot read: larger than %zu MiB; allowed: a config file",
                         loc, FILE_MAX >> 20);
                free(buf);
                fclose(fp);
                return -1;
            }
            size_t ncap = cap ? 2 * cap : 4096;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                snprintf(err, err_len, "%s: cannot read: out of memory", loc);
                free(buf);
                fclose(fp);
                return -1;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0) break;
    }
    if (ferror(fp)) {
        int e = errno;
        snprintf(err, err_len, "%s: cannot read: %s", loc, strerror(e ? e : EIO));
        free(buf);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    int rc = load_source(cfg, sc, names_only, path, buf, len, key_line_out, err, err_len);
    free(buf);
    return rc;
}

/* ---- public API --------------------------------------------------------- */

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). A config file is YAML, which libyaml
 * only reads as UTF-8: a --set value that is not would be stored, and the
 * run's own config.yaml would then fail to load on --resume. */
static int config_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const unsigned c = s[i];
        size_t extra;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (len - i <= extra || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= extra; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += extra + 1;
    }
    return 1;
}

/* One "section.key=value" onto cfg under schema sc. names_only: only
 * env.name and model.name are applied, and nothing is reported. */
static int config_set(dgpg_config *cfg, const schema *sc, int names_only, const char *assignment,
                      char *err, size_t err_len)
{
    char shown[MSG_VALUE_MAX + 8];
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    const char *dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
    if (!eq || !dot || dot == assignment || dot + 1 == eq) {
        const char *a = assignment ? assignment : "";
        sanitize(shown, sizeof shown, a, strlen(a));
        snprintf(err, err_len, "--set '%s': expected section.key=value", shown);
        return -1;
    }
    char sec_name[DGPG_NAME_LEN], key[DGPG_NAME_LEN];
    size_t sec_len = (size_t)(dot - assignment), key_len = (size_t)(eq - dot - 1);
    int sec = -1, fi = -1;
    if (sec_len < sizeof sec_name) {
        memcpy(sec_name, assignment, sec_len);
        sec_name[sec_len] = '\0';
        sec = find_section(sec_name);
    }
    if (sec < 0) {
        err_unknown_section(err, err_len, SET_SOURCE, 0, assignment, sec_len);
        return -1;
    }
    if (key_len < sizeof key) {
        memcpy(key, dot + 1, key_len);
        key[key_len] = '\0';
        fi = find_field(sc, (size_t)sec, key);
    }
    if (names_only && (fi < 0 || sec > 1 || strcmp(key, "name") != 0))
        return 0;
    if (fi < 0) {
        err_unknown_key(err, err_len, sc, SET_SOURCE, 0, (size_t)sec, dot + 1, key_len);
        return -1;
    }
    if (!config_utf8_valid((const unsigned char *)eq + 1, strlen(eq + 1))) {
        sanitize(shown, sizeof shown, assignment, strlen(assignment));
        for (char *c = shown; *c; c++) /* the message itself stays valid text */
            if ((unsigned char)*c >= 0x80)
                *c = '?';
        snprintf(err, err_len, "--set '%s': the value is not valid UTF-8; allowed: UTF-8 text, "
                 "as in a config file", shown);
        return -1;
    }
    /* Convert into a copy so a rejected value leaves cfg untouched. */
    dgpg_config tmp = *cfg;
    if (apply_value(&tmp, &sc->f[fi], eq + 1, strlen(eq + 1), 0, SET_SOURCE, 0, err, err_len))
        return -1;
    *cfg = tmp;
    return 0;
}

int dgpg_config_set(dgpg_config *cfg, const char *assignment, char *err, size_t err_len)
{
    /* a plug-in's keys and defaults come with its name: a name is chosen
     * when a config is loaded, where every layer is read against it */
    if (assignment && (strncmp(assignment, "env.name=", 9) == 0 ||
                       strncmp(assignment, "model.name=", 11) == 0)) {
        snprintf(err, err_len, "--set '%.64s': a plug-in's name cannot change in a resolved "
                 "config; allowed: env.name and model.name among dgpg_config_load's sets",
                 assignment);
        return -1;
    }
    schema *sc = malloc(sizeof *sc);
    if (!sc) {
        snprintf(err, err_len, "--set: out of memory");
        return -1;
    }
    schema_build(sc, cfg->env.name, cfg->model.name);
    int rc = config_set(cfg, sc, 0, assignment, err, err_len);
    free(sc);
    return rc;
}

/* Where the first pass found a plug-in's name, for messages. */
static void name_location(const char *path, const size_t *default_lines, const size_t *file_lines,
                          const char *const *sets, int n_sets, const char *key, int fi,
                          char *loc, size_t loc_len)
{
    for (int i = n_sets - 1; sets && i >= 0; i--)
        if (strncmp(sets[i], key, strlen(key)) == 0 && sets[i][strlen(key)] == '=') {
            snprintf(loc, loc_len, "%s", SET_SOURCE);
            return;
        }
    if (path && file_lines[fi])
        loc_text(loc, loc_len, path, file_lines[fi]);
    else
        loc_text(loc, loc_len, DEFAULT_SOURCE, default_lines[fi]);
}

/* The first pass: env.name and model.name as every layer leaves them;
 * nothing is reported here (the second pass reports every problem where,
 * and in the order, it occurs). */
static void config_resolve_names(dgpg_config *cfg, schema *sc, const char *path,
                                 const char *const *sets, int n_sets)
{
    char ignored[DGPG_ERR_LEN];
    memset(cfg, 0, sizeof *cfg);
    schema_build(sc, "", "");
    load_source(cfg, sc, 1, DEFAULT_SOURCE, dgpg_default_yaml, strlen(dgpg_default_yaml), NULL,
                ignored, sizeof ignored);
    if (path)
        load_file(cfg, sc, 1, path, NULL, ignored, sizeof ignored);
    for (int i = 0; sets && i < n_sets; i++)
        config_set(cfg, sc, 1, sets[i], ignored, sizeof ignored);
}

/* After the second pass: the plug-ins the names name are registered, and
 * the model is one of the environment's; loc_of says where each name was
 * set last. */
static int config_check_names(const dgpg_config *cfg, const char *env_loc, const char *model_loc,
                              char *err, size_t err_len)
{
    char names[512];
    const dgpg_model_api *model = dgpg_find_model(cfg->model.name);
    if (!dgpg_find_env(cfg->env.name)) {
        dgpg_env_names(names, sizeof names);
        snprintf(err, err_len, "%s: env.name = '%s': no registered environment of that name; "
                 "allowed: %s", env_loc, cfg->env.name, names);
        return -1;
    }
    if (!model || strcmp(model->env_name, cfg->env.name) != 0) {
        dgpg_model_names_for(cfg->env.name, names, sizeof names);
        snprintf(err, err_len, "%s: model.name = '%s': no registered model of that name for "
                 "env '%s'; allowed: %s", model_loc, cfg->model.name, cfg->env.name,
                 names[0] ? names : "(none: register a model of this environment)");
        return -1;
    }
    return 0;
}

/* The plug-ins' rows start at their defaults. */
static int config_plugin_defaults(dgpg_config *cfg, const schema *sc, char *err, size_t err_len)
{
    int n_env, n_model;
    const dgpg_config_key *env = env_rows(sc->env, &n_env);
    const dgpg_config_key *model = model_rows(sc->model, &n_model);
    for (int k = 0; k < n_env + n_model; k++) {
        const dgpg_config_key *row = k < n_env ? &env[k] : &model[k - n_env];
        char src[DGPG_NAME_LEN + 48];
        snprintf(src, sizeof src, "(default of %s '%s')", k < n_env ? "environment" : "model",
                 k < n_env ? sc->env->name : sc->model->name);
        if (apply_value(cfg, &sc->f[N_FIELDS + (size_t)k], row->default_value,
                        strlen(row->default_value), 0, src, 0, err, err_len))
            return -1;
    }
    return 0;
}


int dgpg_config_load(dgpg_config *cfg, const char *path, const char *const *sets, int n_sets,
                     char *err, size_t err_len)
{
    int rc = dgpg_register_builtins();
    if (rc != DGPG_OK) {
        snprintf(err, err_len, "internal error: the built-in plug-ins do not register: %s",
                 dgpg_registry_error());
        return -1;
    }
    schema *sc = malloc(sizeof *sc);
    size_t *lines = calloc(2 * SCHEMA_MAX, sizeof *lines);
    if (!sc || !lines) {
        free(sc);
        free(lines);
        snprintf(err, err_len, "out of memory resolving the config");
        return -1;
    }
    size_t *default_lines = lines, *file_lines = lines + SCHEMA_MAX;
    /* Which keys the env and model sections hold depends on the plug-ins
     * they name, which any layer may change: a first pass finds the names,
     * the second reads every key against their rows (a name no plug-in
     * has is reported where it stands, or at the end). */
    config_resolve_names(cfg, sc, path, sets, n_sets);
    char env_name[DGPG_NAME_LEN], model_name[DGPG_NAME_LEN];
    snprintf(env_name, sizeof env_name, "%s", cfg->env.name);
    snprintf(model_name, sizeof model_name, "%s", cfg->model.name);
    schema_build(sc, env_name, model_name);
    memset(cfg, 0, sizeof *cfg);
    rc = load_source(cfg, sc, 0, DEFAULT_SOURCE, dgpg_default_yaml, strlen(dgpg_default_yaml),
                     default_lines, err, err_len);
    /* Every later layer only overrides, so a key the default forgets would
     * silently stay zero. */
    for (size_t i = 0; rc == 0 && i < N_FIELDS; i++) {
        if (!default_lines[i]) {
            snprintf(err, err_len, "internal error: %s does not set %s.%s", DEFAULT_SOURCE,
                     FIELDS[i].section, FIELDS[i].key);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = config_plugin_defaults(cfg, sc, err, err_len);
    if (rc == 0) {
        snprintf(cfg->source, sizeof cfg->source, "%s", path ? path : DEFAULT_SOURCE);
        if (path)
            rc = load_file(cfg, sc, 0, path, file_lines, err, err_len);
    }
    for (int i = 0; rc == 0 && sets && i < n_sets; i++)
        rc = config_set(cfg, sc, 0, sets[i], err, err_len);
    if (rc == 0) {
        char env_loc[DGPG_PATH_LEN + 32], model_loc[DGPG_PATH_LEN + 32];
        name_location(path, default_lines, file_lines, sets, n_sets, "env.name",
                      find_field(sc, 0, "name"), env_loc, sizeof env_loc);
        name_location(path, default_lines, file_lines, sets, n_sets, "model.name",
                      find_field(sc, 1, "name"), model_loc, sizeof model_loc);
        rc = config_check_names(cfg, env_loc, model_loc, err, err_len);
    }
    free(lines);
    free(sc);
    return rc;
}

/* Text of a value as print writes it, strings unquoted. */
static void value_text(const dgpg_config *cfg, const field *f, char *buf, size_t len)
{
    const char *p = (const char *)cfg + f->offset;
    switch (f->type) {
    case T_INT: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, len, "%" PRId64, v);
        break;
    }
    case T_DBL: {
        double v;
        memcpy(&v, p, sizeof v);
        format_double(buf, len, v);
        break;
    }
    case T_BOOL: {
        int v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, len, "%s", v ? "true" : "false");
        break;
    }
    case T_STR:
    case T_ENUM:
        snprintf(buf, len, "%.*s", (int)(f->size - 1), p);
        break;
    }
}

/* A string may go unquoted only if every YAML reader takes it back as the
 * same string: starts with a letter or '_', no YAML indicators, and not a
 * word that YAML 1.1 resolves to a bool or null. */
static int plain_safe(const char *s)
{
    static const char *const reserved[] = {"y", "n", "yes", "no", "true", "false",
                                           "on", "off", "null", NULL};
    unsigned char c0 = (unsigned char)s[0];
    if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_')) return 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == ',' || c == '/' || c == '-';
        if (!ok) return 0;
    }
    for (const char *const *r = reserved; *r; r++)
        if (ascii_ieq(s, *r)) return 0;
    return 1;
}

/* The schema of a resolved config, or NULL when out of memory. */
static schema *config_schema(const dgpg_config *cfg)
{
    schema *sc = malloc(sizeof *sc);
    if (sc)
        schema_build(sc, cfg->env.name, cfg->model.name);
    return sc;
}

/* Calls fn for every field of sc in section order (a section's plug-in
 * rows after its own keys). */
static void schema_walk(const schema *sc, const dgpg_config *cfg,
                        void (*fn)(void *user, const field *f, const char *value), void *user)
{
    char val[DGPG_PATH_LEN + 64];
    for (size_t s = 0; s < N_SECTIONS; s++)
        for (size_t i = 0; i < sc->n; i++) {
            if (strcmp(sc->f[i].section, SECTIONS[s]) != 0)
                continue;
            value_text(cfg, &sc->f[i], val, sizeof val);
            fn(user, &sc->f[i], val);
        }
}

typedef struct print_state {
    FILE *out;
    const char *prev;
} print_state;

static void print_field(void *user, const field *f, const char *val)
{
    print_state *ps = user;
    FILE *out = ps->out;
    if (!ps->prev || strcmp(ps->prev, f->section) != 0) {
        fprintf(out, "%s%s:\n", ps->prev ? "\n" : "", f->section);
        ps->prev = f->section;
    }
    if ((f->type == T_STR || f->type == T_ENUM) && !plain_safe(val)) {
        fprintf(out, "  %s: '", f->key);
        for (const char *p = val; *p; p++) {
            if (*p == '\'') fputc('\'', out); /* YAML escapes ' as '' in single quotes */
            fputc(*p, out);
        }
        fputs("'\n", out);
    } else {
        fprintf(out, "  %s: %s\n", f->key, val);
    }
}

void dgpg_config_print(const dgpg_config *cfg, FILE *out)
{
    char src[DGPG_PATH_LEN];
    sanitize(src, sizeof src, cfg->source, strnlen(cfg->source, sizeof cfg->source));
    fprintf(out, "# resolved config (source: %s)\n", src);
    schema *sc = config_schema(cfg);
    if (!sc) {
        fprintf(out, "# out of memory: the config cannot be printed\n");
        return;
    }
    print_state ps = {out, NULL};
    schema_walk(sc, cfg, print_field, &ps);
    free(sc);
}

typedef struct foreach_state {
    void (*fn)(void *user, const char *section, const char *key, const char *value);
    void *user;
} foreach_state;

static void foreach_field(void *user, const field *f, const char *val)
{
    foreach_state *fs = user;
    fs->fn(fs->user, f->section, f->key, val);
}

void dgpg_config_foreach(const dgpg_config *cfg,
                         void (*fn)(void *user, const char *section, const char *key,
                                    const char *value),
                         void *user)
{
    schema *sc = config_schema(cfg);
    if (!sc)
        return;
    foreach_state fs = {fn, user};
    schema_walk(sc, cfg, foreach_field, &fs);
    free(sc);
}

int dgpg_config_check(const dgpg_config *cfg, char *err, size_t err_len)
{
    const dgpg_config_env *e = &cfg->env;

    /* The global step counts 48 bits in the random streams' counter. */
    if ((long double)cfg->train.episodes * (long double)e->horizon >= 281474976710656.0L) {
        snprintf(err, err_len,
                 "train.episodes * env.horizon = %" PRId64 " * %" PRId64 ": more steps than "
                 "the random streams count; allowed: a product below 2^48",
                 cfg->train.episodes, e->horizon);
        return -1;
    }
    const dgpg_env_api *env = dgpg_find_env(e->name);
    const dgpg_model_api *model = dgpg_find_model(cfg->model.name);
    if (env && env->version >= 3 && env->check_config &&
        env->check_config(env->user, cfg, err, err_len) != DGPG_OK)
        return -1;
    if (model && model->version >= 3 && model->check_config &&
        model->check_config(model->user, cfg, err, err_len) != DGPG_OK)
        return -1;
    return 0;
}

const void *dgpg_config_env_params(const struct dgpg_config *cfg)
{
    const dgpg_env_api *api = cfg ? dgpg_find_env(cfg->env.name) : NULL;
    return api && api->version >= 3 && api->n_config_keys > 0 ? cfg->env.params : NULL;
}

const void *dgpg_config_model_params(const struct dgpg_config *cfg)
{
    const dgpg_model_api *api = cfg ? dgpg_find_model(cfg->model.name) : NULL;
    return api && api->version >= 3 && api->n_config_keys > 0 ? cfg->model.params : NULL;
}

int dgpg_config_env_settings(const struct dgpg_config *cfg, dgpg_env_settings *out)
{
    if (!cfg || !out)
        return DGPG_EINVAL;
    out->n_agents = cfg->env.n_agents;
    out->n_actions = cfg->env.n_pools;
    out->n_envs = cfg->env.n_envs;
    out->horizon = cfg->env.horizon;
    out->seed = cfg->env.seed;
    out->sampled_scenarios = strcmp(cfg->env.scenarios, "sampled") == 0;
    return DGPG_OK;
}

typedef struct config_lookup {
    const char *key;
    char *out;
    size_t out_len;
    int rc;
} config_lookup;

static void config_lookup_key(void *user, const char *section, const char *key,
                              const char *value)
{
    config_lookup *l = user;
    const size_t sec_len = strlen(section);
    if (l->rc != DGPG_ENOTFOUND || strncmp(l->key, section, sec_len) != 0 ||
        l->key[sec_len] != '.' || strcmp(l->key + sec_len + 1, key) != 0)
        return;
    l->rc = snprintf(l->out, l->out_len, "%s", value) < (int)l->out_len ? DGPG_OK : DGPG_EINVAL;
}

int dgpg_config_value(const struct dgpg_config *cfg, const char *key, char *out, size_t out_len)
{
    if (!cfg || !key || !out || out_len == 0)
        return DGPG_EINVAL;
    out[0] = '\0';
    config_lookup l = {key, out, out_len, DGPG_ENOTFOUND};
    dgpg_config_foreach(cfg, config_lookup_key, &l);
    return l.rc;
}
