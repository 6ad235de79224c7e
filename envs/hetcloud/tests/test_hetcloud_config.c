/* test_hetcloud_config.c — the hetcloud environment's config: what
 * dgpg_config_load and dgpg_config_check refuse, and what they accept.
 * The truth is what a user must be told, written out here as exact
 * message fragments: the key and its value as given, the relation that
 * fails and what is allowed (hetcloud_check in hetcloud.c, the loader's
 * unknown-key and model-name messages in src/io/config.c):
 *   - env.job_cpu_cap above the largest server 2^instance_sizes vCPU
 *     (9 with instance_sizes 3; 8 is accepted);
 *   - a memory/CPU ratio no instance offers: mem_per_cpu_max = 16 and 3,
 *     mem_per_cpu_min = 3 (allowed 1, 2, 4 or 8 GiB per vCPU);
 *   - mem_per_cpu_min > mem_per_cpu_max (an empty range; equal accepted);
 *   - large_job_min > job_cpu_cap while large jobs occur (accepted with
 *     large_job_prob = 0, where every job is then 1 vCPU: checked on
 *     10^4 drawn jobs);
 *   - a batch whose state would not fit in memory (10^6 environments of
 *     1024 servers with 10^5-job queues: 8 * 10^14 bytes, above any
 *     machine);
 *   - a cloud-only key (env.burst_prob) in a hetcloud config, naming the
 *     environment 'cloud' it belongs to, and a hetcloud key
 *     (env.job_cpu_cap) in a cloud config naming 'hetcloud';
 *   - the cloud model (the default model.name) for env.name = hetcloud,
 *     naming hetcloud_util as the one allowed;
 *   - a key's own range (instance_sizes 8 > 7, pareto_alpha 1: open
 *     bound);
 * and the defaults (env.name = hetcloud, model.name = hetcloud_util and
 * nothing else) pass both, and an instance and its model are created from
 * them. */
#include "hetcloud_fixture.h"

static int has(const char *err, const char *fragment)
{
    return strstr(err, fragment) != NULL;
}

/* Loads env.name=hetcloud, model.name=hetcloud_util (unless name_sets is
 * 0) plus sets; returns 0 if accepted by load and check, else 1 (load
 * refused) or 2 (check refused) with the message in err. */
static int try_config(dgpg_config *cfg, int name_sets, const char *const *sets, int n, char *err,
                      size_t len)
{
    const char *all[16] = {"env.name=hetcloud", "model.name=hetcloud_util"};
    int k = name_sets ? 2 : 0;
    for (int i = 0; i < n; i++)
        all[k++] = sets[i];
    err[0] = '\0';
    if (dgpg_config_load(cfg, NULL, all, k, err, len) != 0)
        return 1;
    if (dgpg_config_check(cfg, err, len) != 0)
        return 2;
    return 0;
}

/* Refused at `stage` (1 load, 2 check) with every fragment in the message. */
static void refused(const char *what, int stage, int name_sets, const char *const *sets, int n,
                    const char *const *fragments, int n_fragments)
{
    static dgpg_config cfg;
    char err[DGPG_ERR_LEN];
    const int rc = try_config(&cfg, name_sets, sets, n, err, sizeof err);
    printf("%s: %s\n", what, rc ? err : "(accepted)");
    CHECK_QUIET(rc == stage, "%s: %s (stage %d, expected %d)", what,
                rc == 0 ? "accepted" : (rc == 1 ? "refused by load" : "refused by check"), rc,
                stage);
    for (int f = 0; f < n_fragments; f++)
        CHECK_QUIET(has(err, fragments[f]), "%s: message lacks \"%s\": %s", what, fragments[f],
                    err);
}

static void accepted(const char *what, const char *const *sets, int n, dgpg_config *cfg)
{
    char err[DGPG_ERR_LEN];
    const int rc = try_config(cfg, 1, sets, n, err, sizeof err);
    CHECK_QUIET(rc == 0, "%s: refused: %s", what, err);
}

#define REFUSED(what, stage, sets, frags)                                                      \
    refused(what, stage, 1, sets, (int)(sizeof(sets) / sizeof(const char *)), frags,           \
            (int)(sizeof(frags) / sizeof(const char *)))

int main(void)
{
    dgpg_config cfg;
    {
        const char *const sets[] = {"env.instance_sizes=3", "env.job_cpu_cap=9"};
        const char *const frags[] = {"env.job_cpu_cap = '9'", "larger than every server",
                                     "env.instance_sizes = 3", "at most 8 vCPU",
                                     "allowed: at most 8"};
        REFUSED("job larger than every server", 2, sets, frags);
        const char *const ok[] = {"env.instance_sizes=3", "env.job_cpu_cap=8"};
        accepted("job_cpu_cap = 2^instance_sizes", ok, 2, &cfg);
    }
    {
        const char *const sets[] = {"env.mem_per_cpu_max=16"};
        const char *const frags[] = {"env.mem_per_cpu_max = '16'",
                                     "a memory/CPU ratio no instance offers",
                                     "allowed: 1, 2, 4 or 8 GiB per vCPU"};
        REFUSED("mem_per_cpu_max = 16", 2, sets, frags);
    }
    {
        const char *const sets[] = {"env.mem_per_cpu_max=3"};
        const char *const frags[] = {"env.mem_per_cpu_max = '3'",
                                     "a memory/CPU ratio no instance offers",
                                     "allowed: 1, 2, 4 or 8 GiB per vCPU"};
        REFUSED("mem_per_cpu_max = 3", 2, sets, frags);
    }
    {
        const char *const sets[] = {"env.mem_per_cpu_min=3"};
        const char *const frags[] = {"env.mem_per_cpu_min = '3'", "allowed: 1, 2, 4 or 8"};
        REFUSED("mem_per_cpu_min = 3", 2, sets, frags);
    }
    {
        const char *const sets[] = {"env.mem_per_cpu_min=8", "env.mem_per_cpu_max=2"};
        const char *const frags[] = {"env.mem_per_cpu_min = '8'", "env.mem_per_cpu_max = '2'",
                                     "the range is empty", "allowed: min <= max"};
        REFUSED("mem_per_cpu_min > mem_per_cpu_max", 2, sets, frags);
        const char *const ok[] = {"env.mem_per_cpu_min=4", "env.mem_per_cpu_max=4"};
        accepted("mem_per_cpu_min = mem_per_cpu_max", ok, 2, &cfg);
    }
    {
        const char *const sets[] = {"env.large_job_min=9", "env.job_cpu_cap=8"};
        const char *const frags[] = {"env.large_job_min = '9'", "env.job_cpu_cap = '8'",
                                     "the smallest large job exceeds the largest job",
                                     "allowed: env.large_job_min <= env.job_cpu_cap"};
        REFUSED("large_job_min > job_cpu_cap", 2, sets, frags);
        /* with no large job the scale does not matter: every job 1 vCPU */
        const char *const ok[] = {"env.large_job_min=9", "env.job_cpu_cap=8",
                                  "env.large_job_prob=0", "env.n_envs=1"};
        accepted("large_job_min > job_cpu_cap without large jobs", ok, 4, &cfg);
        hetcloud_instance *inst = hc_create(&cfg, 3, 1, 1);
        const hetcloud_scenario *sc = hetcloud_instance_scenarios(inst);
        int64_t not_one = 0;
        for (int k = 0; k < 10000; k++)
            not_one += hetcloud_job_draw(sc, 0, (uint64_t)k, k % 7, k % 3).cpu != 1;
        CHECK_INT_EQ(not_one, 0);
        CHECK_NEAR(sc->cpu_mean, 1.0, 0.0);
        hc_api()->destroy(inst);
    }
    {
        const char *const sets[] = {"env.n_envs=1000000", "env.n_pools=1024",
                                    "env.queue_jobs=100000", "env.instance_sizes=7",
                                    "env.job_cpu_cap=8"};
        const char *const frags[] = {"env.n_envs = 1000000", "env.n_pools = 1024",
                                     "env.queue_jobs = 100000",
                                     "the state and rate tables need",
                                     "allowed: at most 80% of this machine's"};
        REFUSED("a batch larger than memory", 2, sets, frags);
    }
    {
        const char *const sets[] = {"env.burst_prob=0.1"};
        const char *const frags[] = {"env.burst_prob", "unknown key in section 'env'",
                                     "a key of environment 'cloud'",
                                     "not of this config's 'hetcloud'"};
        REFUSED("a cloud key in a hetcloud config", 1, sets, frags);
    }
    {
        const char *const sets[] = {"env.job_cpu_cap=4"};
        const char *const frags[] = {"env.job_cpu_cap", "unknown key in section 'env'",
                                     "a key of environment 'hetcloud'",
                                     "not of this config's 'cloud'"};
        refused("a hetcloud key in a cloud config", 1, 0, sets, 1, frags, 4);
    }
    {
        const char *const sets[] = {"env.name=hetcloud"};
        const char *const frags[] = {"model.name = 'cloud_mm1'", "for env 'hetcloud'",
                                     "allowed: hetcloud_util"};
        refused("the cloud model for hetcloud", 1, 0, sets, 1, frags, 3);
    }
    {
        const char *const sets[] = {"env.instance_sizes=8"};
        const char *const frags[] = {"env.instance_sizes = '8'", "allowed"};
        REFUSED("instance_sizes above its range", 1, sets, frags);
    }
    {
        const char *const sets[] = {"env.pareto_alpha=1"};
        const char *const frags[] = {"env.pareto_alpha = '1'", "allowed"};
        REFUSED("pareto_alpha at its open bound", 1, sets, frags);
    }
    /* the defaults */
    accepted("the defaults", NULL, 0, &cfg);
    CHECK(strcmp(cfg.env.name, "hetcloud") == 0 && strcmp(cfg.model.name, "hetcloud_util") == 0);
    {
        char err[DGPG_ERR_LEN];
        void *inst = NULL, *m = NULL;
        const dgpg_model_api *model = dgpg_find_model("hetcloud_util");
        CHECK_INT_EQ(hc_api()->create(NULL, &cfg, 1, 0, 2, 1, &inst, err, sizeof err), DGPG_OK);
        CHECK(model && model->create(model->user, &cfg, inst, &m, err, sizeof err) == DGPG_OK);
        if (m)
            model->destroy(m);
        if (inst)
            hc_api()->destroy(inst);
    }
    return test_finish("hetcloud_config");
}
