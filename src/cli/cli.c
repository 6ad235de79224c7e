/* cli.c — the `dgpg` command line (dgpg_cli, include/dgpg/dgpg.h):
 * config, train, eval, report, bench. Every command
 * resolves its config the same way (embedded default, then the file, then
 * --set and the command's own options, which are --set assignments by
 * another name), so every value passes the same validation. Exit codes:
 * 0 success, 2 a bad command line or config, 1 a failure while running. */
#include "bench.h"
#include "backend.h"
#include "blas_core.h"
#include "config.h"
#include "dgpg/dgpg.h"
#include "dist.h"
#include "eval.h"
#include "h5util.h"
#include "report.h"
#include "train.h"

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 128

static const char usage_main[] =
    "usage: dgpg [--help] [--version] COMMAND [ARGS]\n"
    "\n"
    "Descent-Guided Policy Gradient: a batch trainer for cooperative multi-agent RL.\n"
    "\n"
    "commands:\n"
    "  config   print the resolved configuration\n"
    "  train    train DG-PG, IPPO or MAPPO; log to runs/NAME/log.h5\n"
    "  eval     run the built-in heuristic policies on held-out scenarios\n"
    "  report   summarise training logs (report LOG.h5 ...)\n"
    "  bench    measure throughput (bench env)\n"
    "\n"
    "Run `dgpg COMMAND --help` for a command's options. A CONFIG is a YAML file;\n"
    "keys it does not name keep the values of the embedded experiments/default.yaml.\n";

static const char usage_config[] =
    "usage: dgpg config [CONFIG] [--set section.key=value ...]\n"
    "\n"
    "Prints the resolved configuration as YAML: the embedded default, then CONFIG,\n"
    "then each --set. The output is itself a valid CONFIG.\n";

static const char usage_eval[] =
    "usage: dgpg eval [CONFIG] [--policy P,...] [--scenarios K] [--output FILE]\n"
    "                 [--threads K] [--set section.key=value ...]\n"
    "\n"
    "Runs each policy on the same K held-out scenarios (seeds eval.seed ..\n"
    "eval.seed+K-1, each E environments for T steps) and prints one row per policy:\n"
    "the environment's own columns (for cloud: mean delay and drop rate) and the\n"
    "cost relative to the analytical policy p*, each the mean over scenarios with\n"
    "the half width of its 95% interval. The same table, with the environment's\n"
    "sums, is written to the HDF5 file eval.output (\"-\": none).\n"
    "\n"
    "options:\n"
    "  --policy P,...   policies (eval.policies): the environment's built-in ones\n"
    "                   (cloud: random, capacity, round_robin, jsq, power_of_two,\n"
    "                   led, pstar, pstar_state) and run:DIR for a trained run\n"
    "  --scenarios K    number of held-out scenarios (eval.scenarios), at least 2\n"
    "  --output FILE    HDF5 output (eval.output)\n"
    "  --threads K      CPU threads (backend.threads), 0 = every core\n"
    "  --set s.k=v      any config key\n";

static const char usage_train[] =
    "usage: dgpg train [CONFIG] [--set section.key=value ...] [--force]\n"
    "       dgpg train --resume RUN_DIR [--set train.episodes=K]\n"
    "\n"
    "Trains algo.guide (dgpg, target, descent, cv; none = plain PPO) with the\n"
    "algo.critic (mappo or ippo) for train.episodes episodes of E environments x T\n"
    "steps, printing one line per episode. Writes log.dir/train.name/: config.yaml\n"
    "(the resolved config), log.h5 (per-episode scalars, per-agent tensors,\n"
    "parameter snapshots; readable while training runs) and checkpoint.h5 (every\n"
    "train.checkpoint_every episodes and at the end).\n"
    "\n"
    "options:\n"
    "  --force          replace the run directory's files if it exists\n"
    "  --resume DIR     continue a stopped run from its checkpoint, with its own\n"
    "                   config.yaml; only train.episodes may be changed\n"
    "  --threads K      CPU threads (backend.threads), 0 = every core\n"
    "  --backend B      cpu, cuda or auto (backend.kind)\n"
    "  --set s.k=v      any config key\n";

static const char usage_bench[] =
    "usage: dgpg bench env [CONFIG] [--n N] [--e E] [--m M] [--threads K,...]\n"
    "                      [--steps S] [--backend B] [--set section.key=value ...]\n"
    "       dgpg bench train [CONFIG] [--n N,...] [--backend B] [--set s.k=v ...]\n"
    "\n"
    "Environment agent-steps per second (E x N x steps / seconds) for a built-in\n"
    "policy (the environment's pstar, else its first) and for a sampled categorical\n"
    "policy (observation, sampling, step), once per thread count. Defaults: N = 1000,\n"
    "M = 8, E = 64, threads 1 and every core, 200 steps. With --backend cuda\n"
    "(backend.kind) the same two figures on the CUDA backend.\n"
    "\n"
    "bench train: end-to-end training agent-steps per second at each N (default\n"
    "200 and 1500, with --backend cuda 200, 1500 and 10000; E = 16, T = 200, 2\n"
    "episodes, 4 minibatches unless set), the update phase's network GFLOP/s and its\n"
    "share of the backend's SGEMM rate (OpenBLAS 2048^3 on the same threads, or\n"
    "cuBLAS 8192^3 on the device); then the seconds per episode of each phase\n"
    "(rollout, the p* reference episode, advantages, gradient-variance estimate,\n"
    "update, log and checkpoints) and the rollout's and the update's own\n"
    "agent-steps per second; on CUDA also the kernel launches per rollout step\n"
    "and the host waits per episode of each phase. Both print the BLAS, its core\n"
    "and the CPU's ISA.\n";

typedef struct cli_args {
    const char *config_path;
    const char *sets[MAX_SETS];
    char owned[MAX_SETS][DGPG_LIST_LEN + 64];
    int n_sets;
    const char *threads_list;
    int64_t steps;
    const char *resume;
    int force;
    const char *sizes;   /* bench train --n */
} cli_args;

/* One line saying what was wrong, then where the usage is (not the whole
 * usage: the message must stay visible). */
static int cli_usage_error(const char *usage, const char *fmt, const char *arg)
{
    char command[64] = "";
    sscanf(usage, "usage: dgpg %63s", command);
    fprintf(stderr, "dgpg: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see `dgpg %s%s--help`)\n", command[0] == '[' ? "" : command,
            command[0] == '[' ? "" : " ");
    return 2;
}

static int cli_add_set(cli_args *args, const char *key, const char *value)
{
    if (args->n_sets == MAX_SETS)
        return -1;
    if (key) {
        snprintf(args->owned[args->n_sets], sizeof args->owned[0], "%s=%s", key, value);
        args->sets[args->n_sets] = args->owned[args->n_sets];
    } else {
        args->sets[args->n_sets] = value;
    }
    args->n_sets++;
    return 0;
}

/* Options that stand for a config key, per command. */
typedef struct cli_alias {
    const char *option, *key;
} cli_alias;

static const cli_alias eval_aliases[] = {{"--policy", "eval.policies"},
                                         {"--scenarios", "eval.scenarios"},
                                         {"--output", "eval.output"},
                                         {"--threads", "backend.threads"},
                                         {NULL, NULL}};
static const cli_alias bench_aliases[] = {
    {"--n", "env.n_agents"}, {"--e", "env.n_envs"}, {"--m", "env.n_pools"},
    {"--backend", "backend.kind"}, {NULL, NULL}};
static const cli_alias no_aliases[] = {{NULL, NULL}};
static const cli_alias train_aliases[] = {{"--threads", "backend.threads"},
                                          {"--backend", "backend.kind"},
                                          {NULL, NULL}};

/* Splits "--opt=value" or "--opt value"; returns the value or NULL. */
static const char *cli_option_value(int argc, char **argv, int *k, const char *option)
{
    size_t len = strlen(option);
    if (strncmp(argv[*k], option, len) != 0)
        return NULL;
    if (argv[*k][len] == '=')
        return argv[*k] + len + 1;
    if (argv[*k][len] != '\0')
        return NULL;
    if (*k + 1 >= argc)
        return "";
    return argv[++*k];
}

/* bench: 0 for commands other than bench, 1 bench env, 2 bench train. */
static int cli_parse(int argc, char **argv, int first, const cli_alias *aliases,
                     const char *usage, int bench, cli_args *args)
{
    for (int k = first; k < argc; k++) {
        const char *value;
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if ((value = cli_option_value(argc, argv, &k, "--set"))) {
            if (cli_add_set(args, NULL, value))
                return cli_usage_error(usage, "too many --set options (at most %s)", "128");
            continue;
        }
        if (usage == usage_train && (value = cli_option_value(argc, argv, &k, "--resume"))) {
            if (!*value)
                return cli_usage_error(usage, "--resume needs a run directory%s", "");
            args->resume = value;
            continue;
        }
        if (usage == usage_train && strcmp(argv[k], "--force") == 0) {
            args->force = 1;
            continue;
        }
        if (bench == 2 && (value = cli_option_value(argc, argv, &k, "--n"))) {
            args->sizes = value;
            continue;
        }
        if (bench == 1 && (value = cli_option_value(argc, argv, &k, "--threads"))) {
            args->threads_list = value;
            continue;
        }
        if (bench == 1 && (value = cli_option_value(argc, argv, &k, "--steps"))) {
            char *end;
            args->steps = strtoll(value, &end, 10);
            if (!*value || *end || args->steps < 1 || args->steps > 1000000)
                return cli_usage_error(usage,
                                       "--steps '%s': allowed: an integer in [1, 1000000]",
                                       value);
            continue;
        }
        int matched = 0;
        for (const cli_alias *a = aliases; a->option && !matched; a++)
            if ((value = cli_option_value(argc, argv, &k, a->option))) {
                if (cli_add_set(args, a->key, value))
                    return cli_usage_error(usage, "too many options (at most %s)", "128");
                matched = 1;
            }
        if (matched)
            continue;
        if (argv[k][0] == '-' && argv[k][1] != '\0')
            return cli_usage_error(usage, "unknown option '%s'", argv[k]);
        if (args->config_path)
            return cli_usage_error(usage, "more than one CONFIG file given: '%s'", argv[k]);
        args->config_path = argv[k];
    }
    return 0;
}

/* Resolves and checks the config; prints the message and returns 2 on error.
 * backend.kind = cuda is refused unless the command has a CUDA path. */
static int cli_load_backend(dgpg_config *cfg, const cli_args *args, int cuda_ok);

static int cli_load(dgpg_config *cfg, const cli_args *args)
{
    return cli_load_backend(cfg, args, 0);
}

static int cli_load_backend(dgpg_config *cfg, const cli_args *args, int cuda_ok)
{
    char err[DGPG_ERR_LEN] = "";
    if (dgpg_config_load(cfg, args->config_path, args->sets, args->n_sets, err, sizeof err) ||
        dgpg_config_check(cfg, err, sizeof err)) {
        fprintf(stderr, "dgpg: %s\n", err);
        return 2;
    }
    (void)cuda_ok;
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    cli_args args = {0};
    dgpg_config cfg;
    int rc = cli_parse(argc, argv, 2, no_aliases, usage_config, 0, &args);
    if (rc || (rc = cli_load(&cfg, &args)))
        return rc;
    dgpg_config_print(&cfg, stdout);
    return 0;
}

static int cmd_eval(int argc, char **argv)
{
    cli_args args = {0};
    dgpg_config cfg;
    int rc = cli_parse(argc, argv, 2, eval_aliases, usage_eval, 0, &args);
    if (rc || (rc = cli_load_backend(&cfg, &args, 1)))
        return rc;
    char err[DGPG_ERR_LEN] = "";
    rc = dgpg_eval_run(&cfg, stdout, err, sizeof err);
    if (rc != DGPG_OK) {
        fprintf(stderr, "dgpg: %s\n", err[0] ? err : dgpg_strerror(rc));
        return rc == DGPG_EINVAL ? 2 : 1;
    }
    return 0;
}

/* `dgpg bench train [CONFIG] [--n N,...] [--set ...]`: its own defaults
 * (E = 16, T = 200, 2 episodes, N = 200 and 1500) before the user's. */
static int cmd_bench_train(int argc, char **argv)
{
    cli_args args = {0};
    cli_add_set(&args, NULL, "env.n_envs=16");
    cli_add_set(&args, NULL, "train.episodes=2");
    cli_add_set(&args, NULL, "algo.minibatches=4");
    dgpg_config cfg;
    int rc = cli_parse(argc, argv, 3, train_aliases, usage_bench, 2, &args);
    if (rc || (rc = cli_load(&cfg, &args)))
        return rc;
    /* on a GPU the three sizes; on the CPU the two that fit here */
    const char *sizes = args.sizes ? args.sizes
                        : dgpg_backend_kind_is_cuda(cfg.backend.kind) ? "200,1500,10000"
                                                                : "200,1500";
    int64_t n_agents[16];
    int n_sizes = 0;
    char list[128];
    snprintf(list, sizeof list, "%s", sizes);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long long n = strtoll(tok, &end, 10);
        if (!*tok || *end || n < 2 || n > 10000000 || n_sizes == 16)
            return cli_usage_error(usage_bench, "--n '%s': allowed: up to 16 comma-separated "
                                   "agent counts in [2, 10000000]", sizes);
        n_agents[n_sizes++] = n;
    }
    if (n_sizes == 0)
        return cli_usage_error(usage_bench, "--n '%s': allowed: at least one agent count", sizes);
    char err[DGPG_ERR_LEN] = "";
    rc = dgpg_bench_train(&cfg, n_agents, n_sizes, stdout, err, sizeof err);
    if (rc != DGPG_OK) {
        fprintf(stderr, "dgpg: %s\n", err[0] ? err : dgpg_strerror(rc));
        return rc == DGPG_EINVAL ? 2 : 1;
    }
    return 0;
}

static const char usage_report[] =
    "usage: dgpg report LOG.h5 [LOG.h5 ...] [--figures DIR | --no-figures]\n"
    "\n"
    "One log: its summary (cost relative to p*: first, last, best, first episode\n"
    "within 10%, convergence; gradient variance and SNR; speed; and a table of cost,\n"
    "the environment's columns (cloud: delay, drop_rate), entropy and alpha over the\n"
    "episodes). Several logs: one table row\n"
    "each. Then the figures (PNG, tools/report_figures.py with h5py and matplotlib):\n"
    "learning curves with seed bands, variance and SNR against N with fitted\n"
    "slopes, episodes to converge against N, action distributions against p*.\n"
    "Works on logs still being written and on logs of killed runs.\n"
    "\n"
    "options:\n"
    "  --figures DIR    where the PNG files go (default: figures/ beside the first\n"
    "                   log, e.g. runs/NAME/figures)\n"
    "  --no-figures     the terminal summary only\n";

static int cmd_report(int argc, char **argv)
{
    const char *figures = NULL;
    int no_figures = 0;
    const char **logs = calloc((size_t)argc, sizeof(char *));
    int n_logs = 0;
    if (!logs)
        return 1;
    for (int k = 2; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            free(logs);
            fputs(usage_report, stdout);
            return 0;
        }
        if (strcmp(argv[k], "--no-figures") == 0) {
            no_figures = 1;
        } else if (strcmp(argv[k], "--figures") == 0) {
            if (k + 1 >= argc) {
                free(logs);
                return cli_usage_error(usage_report, "--figures needs a directory%s", "");
            }
            figures = argv[++k];
        } else if (argv[k][0] == '-' && argv[k][1] == '-') {
            free(logs);
            return cli_usage_error(usage_report, "unknown option '%s'", argv[k]);
        } else {
            logs[n_logs++] = argv[k];
        }
    }
    if (n_logs == 0) {
        free(logs);
        return cli_usage_error(usage_report, "report: no log given%s", "");
    }
    dgpg_report_row *rows = calloc((size_t)n_logs, sizeof *rows);
    int rc = rows ? 0 : 1;
    char err[DGPG_ERR_LEN] = "";
    for (int k = 0; k < n_logs && rc == 0; k++)
        if (dgpg_report_log(logs[k], stdout, n_logs > 1, &rows[k], err, sizeof err) != 0) {
            fprintf(stderr, "dgpg: %s\n", err);
            rc = 2;
        }
    if (rc == 0 && n_logs > 1)
        dgpg_report_table(logs, rows, n_logs, stdout);
    if (rc == 0 && !no_figures) {
        char dir[DGPG_PATH_LEN + 16];
        if (figures) {
            snprintf(dir, sizeof dir, "%s", figures);
        } else {
            char first[DGPG_PATH_LEN];
            snprintf(first, sizeof first, "%s", logs[0]);
            snprintf(dir, sizeof dir, "%s/figures", dirname(first));
        }
        if (dgpg_report_figures(logs, n_logs, dir, stdout, err, sizeof err) != 0) {
            fprintf(stderr, "dgpg: %s\n", err);
            rc = 1;
        }
    }
    free(rows);
    free(logs);
    return rc;
}

static int cmd_bench(int argc, char **argv)
{
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(usage_bench, stdout);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[2], "train") == 0)
        return cmd_bench_train(argc, argv);
    if (argc < 3 || strcmp(argv[2], "env") != 0)
        return cli_usage_error(usage_bench,
                               "bench: unknown or missing benchmark '%s'; allowed: env, train",
                               argc < 3 ? "" : argv[2]);
    cli_args args = {0};
    args.steps = 200;
    /* the benchmark's own defaults, before anything the user says */
    cli_add_set(&args, NULL, "env.n_agents=1000");
    cli_add_set(&args, NULL, "env.n_pools=8");
    cli_add_set(&args, NULL, "env.n_envs=64");
    dgpg_config cfg;
    int rc = cli_parse(argc, argv, 3, bench_aliases, usage_bench, 1, &args);
    if (rc || (rc = cli_load_backend(&cfg, &args, 1)))
        return rc;
    int threads[16], n_threads = 0;
    char list[128];
    snprintf(list, sizeof list, "%s", args.threads_list ? args.threads_list : "1,0");
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long t = strtol(tok, &end, 10);
        if (!*tok || *end || t < 0 || t > 1024 || n_threads == 16)
            return cli_usage_error(usage_bench,
                                   "--threads '%s': allowed: up to 16 comma-separated integers "
                                   "in [0, 1024], 0 = every core",
                                   args.threads_list);
        threads[n_threads++] = (int)t;
    }
    if (n_threads == 0)
        return cli_usage_error(usage_bench, "--threads '%s': allowed: up to 16 comma-separated "
                               "integers in [0, 1024], 0 = every core", list);
    char err[DGPG_ERR_LEN] = "";
    rc = dgpg_bench_env(&cfg, threads, n_threads, args.steps, stdout, err, sizeof err);
    if (rc != DGPG_OK) {
        fprintf(stderr, "dgpg: %s\n", err[0] ? err : dgpg_strerror(rc));
        return rc == DGPG_EINVAL ? 2 : 1;
    }
    return 0;
}

/* Creates `path` and its parents (mkdir -p); 0 or -1 with errno. */
static int make_dirs(const char *path)
{
    char buf[DGPG_PATH_LEN];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* The run directory of a new run: refused if it exists (unless force, which
 * removes its files), created, and the resolved config written to it. 0, or
 * the exit code after a message. */
static int train_prepare_dir(const dgpg_config *cfg, int force, const char *run_dir)
{
    char path[DGPG_PATH_LEN + 32];
    struct stat st;
    if (stat(run_dir, &st) == 0) {
        if (!force) {
            fprintf(stderr, "dgpg: run directory '%s' exists; allowed: --force to replace "
                    "its files, --resume %s to continue it, or another train.name\n",
                    run_dir, run_dir);
            return 2;
        }
        const char *files[] = {"log.h5", "checkpoint.h5", "config.yaml", "checkpoint.h5.tmp"};
        for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
            snprintf(path, sizeof path, "%s/%s", run_dir, files[k]);
            if (unlink(path) != 0 && errno != ENOENT) {
                fprintf(stderr, "dgpg: --force: cannot remove %s: %s\n", path,
                        strerror(errno));
                return 1;
            }
        }
    }
    if (make_dirs(run_dir) != 0) {
        fprintf(stderr, "dgpg: cannot create run directory '%s': %s; allowed: a writable "
                "log.dir\n", run_dir, strerror(errno));
        return 2;
    }
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "dgpg: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    dgpg_config_print(cfg, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "dgpg: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Every MPI rank must train the same config: rank 0's resolved config,
 * hashed (FNV-1a of its YAML), against each rank's own. 0, or 2 after a
 * message on the rank that differs. */
static int train_same_config_on_ranks(const dgpg_config *cfg)
{
    if (dgpg_dist_size() < 2)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return 1;
    dgpg_config_print(cfg, f);
    fclose(f);
    uint64_t hash = 1469598103934665603ULL, root;
    for (size_t k = 0; k < len; k++)
        hash = (hash ^ (unsigned char)text[k]) * 1099511628211ULL;
    free(text);
    root = hash;
    if (dgpg_dist_broadcast(&root, sizeof root) != 0)
        return 1;
    int differs = root != hash, any = differs;
    if (dgpg_dist_max_int(&any) != 0)
        return 1;
    if (differs)
        fprintf(stderr, "dgpg: rank %d: the resolved config differs from rank 0's (another "
                "file or --set on this rank); allowed: the same config on every rank\n",
                dgpg_dist_rank());
    return any ? 2 : 0;
}

static int cmd_train(int argc, char **argv)
{
    cli_args args = {0};
    dgpg_config cfg;
    char run_dir[DGPG_PATH_LEN], path[DGPG_PATH_LEN + 32], err[DGPG_ERR_LEN] = "";
    int rc = cli_parse(argc, argv, 2, train_aliases, usage_train, 0, &args);
    if (rc)
        return rc;
    if (args.resume) {
        if (args.config_path || args.force)
            return cli_usage_error(usage_train, "--resume takes its config from the run "
                                   "directory; allowed: no CONFIG and no --force with it%s", "");
        snprintf(run_dir, sizeof run_dir, "%s", args.resume);
        snprintf(path, sizeof path, "%s/config.yaml", run_dir);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "dgpg: --resume %s: no readable %s (%s); allowed: a run directory "
                    "made by dgpg train\n", run_dir, path, strerror(errno));
            return 2;
        }
        args.config_path = path;
    }
    if ((rc = cli_load(&cfg, &args)) || (rc = train_same_config_on_ranks(&cfg)))
        return rc;
    /* refused before --force removes a run's files */
    char check_err[DGPG_ERR_LEN];
    if (dgpg_train_check(&cfg, check_err, sizeof check_err) != DGPG_OK) {
        fprintf(stderr, "dgpg: %s\n", check_err);
        return 2;
    }
    if (!args.resume) {
        int n = snprintf(run_dir, sizeof run_dir, "%s/%s", cfg.log.dir, cfg.train.name);
        if (n < 0 || (size_t)n >= sizeof run_dir) {
            fprintf(stderr, "dgpg: log.dir + train.name: path too long; allowed: %d bytes\n",
                    DGPG_PATH_LEN - 1);
            return 2;
        }
        /* rank 0 alone makes the run directory; the others learn how it went */
        int prepared = dgpg_dist_rank() == 0 ? train_prepare_dir(&cfg, args.force, run_dir) : 0;
        if (dgpg_dist_broadcast(&prepared, sizeof prepared) != 0)
            prepared = 1;
        if (prepared)
            return prepared;
    }
    if (dgpg_dist_rank() == 0)
        printf("dgpg train: guide %s, critic %s, N = %lld, M = %lld, E = %lld, T = %lld, %lld "
               "episodes -> %s\n", cfg.algo.guide, cfg.algo.critic,
               (long long)cfg.env.n_agents, (long long)cfg.env.n_pools,
               (long long)cfg.env.n_envs, (long long)cfg.env.horizon,
               (long long)cfg.train.episodes, run_dir);
    /* the tests' hooks (tests/test_train.py, test_reliability.py) */
    const char *inject = getenv("DGPG_TEST_INJECT_NAN"), *stop = getenv("DGPG_TEST_STOP_AFTER");
    dgpg_train_opts opts = {run_dir, args.resume != NULL, stdout,
                            inject ? strtoll(inject, NULL, 10) : -1,
                            stop ? strtoll(stop, NULL, 10) : -1};
    dgpg_train_summary summary;
    rc = dgpg_train_run(&cfg, &opts, &summary, err, sizeof err);
    if (rc != DGPG_OK) {
        const int code = rc == DGPG_EINVAL ? 2 : 1;
        if (dgpg_dist_size() > 1) {
            /* the other ranks may be waiting in a collective: end them all */
            fprintf(stderr, "dgpg: rank %d of %d: %s; stopping every rank\n", dgpg_dist_rank(),
                    dgpg_dist_size(), err[0] ? err : dgpg_strerror(rc));
            dgpg_dist_abort(code);
        }
        if (err[0]) /* empty: the log has printed its own line */
            fprintf(stderr, "dgpg: %s\n", err);
        return code;
    }
    if (dgpg_dist_rank() != 0)
        return summary.interrupted ? 128 + summary.interrupted : 0;
    if (args.resume && args.n_sets > 0) {
        /* the checkpoint accepted this config, so only train.episodes can
         * differ: record it, so that a later plain --resume continues to it */
        FILE *f = fopen(path, "w");
        if (!f || (dgpg_config_print(&cfg, f), fclose(f)) != 0) {
            fprintf(stderr, "dgpg: cannot rewrite %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    if (summary.episodes == 0) {
        printf("nothing to train: the run already holds train.episodes = %lld episodes\n",
               (long long)cfg.train.episodes);
        return 0;
    }
    printf("done: %lld episodes in %.1f s, %.3g agent-steps/s; cost / cost(p*) %.4f (first "
           "episode) -> %.4f (last); update network math %.2f GFLOP/s\n",
           (long long)summary.episodes, summary.seconds, summary.agent_steps_per_s,
           summary.first_cost_ratio, summary.final_cost_ratio, summary.update_gflops);
    printf("log: %s/log.h5, checkpoint: %s/checkpoint.h5\n", run_dir, run_dir);
    /* a scheduler must tell an interrupted run from a finished one */
    return summary.interrupted ? 128 + summary.interrupted : 0;
}

static void print_version(void)
{
    printf("dgpg %s\n", DGPG_VERSION_STRING);
#ifdef _OPENMP
    printf("backends: cpu (OpenMP)");
#else
    printf("backends: cpu");
#endif
#ifdef DGPG_HAVE_CUDA
    printf("; cuda (sm_80, sm_90; backend.kind = cuda, or auto where a device is visible)");
#else
    printf("; cuda not compiled in");
#endif
    printf(dgpg_dist_available() ? "; mpi (run under mpirun or srun: data parallel)\n"
                                 : "; no mpi\n");
    char blas[256];
    dgpg_blas_describe(blas, sizeof blas);
    printf("%s\n", blas);
}

static int dgpg_main(int argc, char **argv);

int dgpg_cli(int argc, char **argv)
{
    /* before anything initialises: the BLAS core can only change by a
     * restart (src/backends/blas_core.h) */
    int blas_rc = dgpg_blas_core_check(argc, argv);
    if (blas_rc != 0)
        return blas_rc;
    char err[DGPG_ERR_LEN] = "";
    if (dgpg_dist_init(&argc, &argv, err, sizeof err) != 0) {
        fprintf(stderr, "dgpg: %s\n", err);
        return 2;
    }
    int rc = dgpg_main(argc, argv);
    /* one rank that failed on its own (a file only it could not read, an
     * error inside training) must not leave the others waiting in a
     * collective: end them all */
    if (rc != 0 && dgpg_dist_size() > 1)
        dgpg_dist_abort(rc);
    dgpg_dist_device_finalize();
    dgpg_dist_finalize();
    return rc;
}

static int dgpg_main(int argc, char **argv)
{
    h5util_init();
    if (dgpg_register_builtins() != DGPG_OK) {
        fprintf(stderr, "dgpg: registering the built-in plug-ins failed\n");
        return 1;
    }
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        print_version();
        return 0;
    }
    /* several MPI ranks: only training splits its work over them */
    const int parallel = strcmp(cmd, "train") == 0 ||
                         (strcmp(cmd, "bench") == 0 && argc >= 3 && strcmp(argv[2], "train") == 0);
    if (dgpg_dist_size() > 1 && !parallel) {
        if (dgpg_dist_rank() == 0)
            fprintf(stderr, "dgpg: '%s' under %d MPI ranks: only `dgpg train` and `dgpg bench "
                    "train` run data parallel; allowed: one process for the other commands\n",
                    cmd, dgpg_dist_size());
        return 2;
    }
    if (strcmp(cmd, "config") == 0)
        return cmd_config(argc, argv);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc, argv);
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc, argv);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc, argv);
    fprintf(stderr, "dgpg: unknown command '%s'; allowed: config, train, eval, report, bench\n\n%s", cmd,
            usage_main);
    return 2;
}
