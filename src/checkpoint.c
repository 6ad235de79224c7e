/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"

#include "check.h"
#include "dgpg/dgpg.h"
#include "h5util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_KIND "dgpg checkpoint"

/* A network's arrays (params, Adam moments) pass through host memory: on
 * a CUDA backend they are staged in `host` (n_params floats). */
static int checkpoint_write_net(hid_t file, const char *prefix, const mlp *net)
{
    char name[64];
    hsize_t n = (hsize_t)net->n_params;
    const float *arrays[3] = {net->params, net->adam_m, net->adam_v};
    const char *suffix[3] = {"params", "adam_m", "adam_v"};
    const char *desc[3] = {"network parameters, flat (src/mlp.h layout)",
                           "Adam first moments", "Adam second moments"};
    const int on_device = dgpg_backend_is_cuda(net->be);
    float *host = on_device ? malloc(sizeof(float) * (size_t)net->n_params) : NULL;
    int rc = on_device && !host ? -1 : 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        snprintf(name, sizeof name, "%s_%s", prefix, suffix[k]);
        const float *data = arrays[k];
        if (on_device) {
            rc = dgpg_backend_download(net->be, host, arrays[k],
                                       sizeof(float) * (size_t)net->n_params);
            data = host;
        }
        if (rc == 0 && h5util_write_floats(file, name, 1, &n, data, "1", desc[k]))
            rc = -1;
    }
    free(host);
    if (rc != 0)
        return -1;
    snprintf(name, sizeof name, "%s_adam_step", prefix);
    return h5util_attr_int(file, name, net->adam_step);
}

int dgpg_checkpoint_save(const char *path, const dgpg_config *cfg, int64_t next_episode,
                         const mlp *actor, const mlp *critic, const ppo_value_norm *vnorm,
                         int64_t n_vnorm, const dgpg_checkpoint_extra *extra)
{
    char tmp[DGPG_PATH_LEN + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = -1;
    hid_t file = H5I_INVALID_HID;
    double *vn = malloc(sizeof(double) * 3 * (size_t)n_vnorm);
    if (!vn)
        goto done;
    for (int64_t j = 0; j < n_vnorm; j++) {
        vn[3 * j] = vnorm[j].mean;
        vn[3 * j + 1] = vnorm[j].mean_sq;
        vn[3 * j + 2] = vnorm[j].debias;
    }
    H5_CHECK(file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), done);
    hsize_t dims[2] = {(hsize_t)n_vnorm, 3};
    if (h5util_attr_string(file, "kind", CHECKPOINT_KIND) ||
        h5util_attr_string(file, "dgpg_version", DGPG_VERSION_STRING) ||
        h5util_attr_int(file, "next_episode", next_episode) ||
        h5util_attr_double(file, "guidance_scale", extra->guide_scales[0]) ||
        h5util_attr_double(file, "descent_scale", extra->guide_scales[1]) ||
        h5util_attr_int(file, "alpha_episodes", extra->alpha_episodes) ||
        h5util_attr_int(file, "threads", extra->threads) ||
        h5util_attr_string(file, "isa", extra->isa) ||
        h5util_write_config(file, cfg) || checkpoint_write_net(file, "actor", actor) ||
        checkpoint_write_net(file, "critic", critic) ||
        h5util_write_doubles(file, "value_norm", 2, dims, vn, "1",
                             "running mean, mean square and debiasing weight of each value "
                             "normaliser"))
        goto done;
    H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), done);
    H5_CHECK(H5Fclose(file), done);
    file = H5I_INVALID_HID;
    if (rename(tmp, path) != 0) {
        perror("dgpg: checkpoint rename");
        goto done;
    }
    rc = 0;
done:
    if (file >= 0)
        H5Fclose(file);
    if (rc != 0)
        unlink(tmp);
    free(vn);
    return rc;
}

/* Reads a 1-d float dataset of exactly n elements; names a mismatch. */
static int checkpoint_read(hid_t file, const char *path, const char *name, hid_t mem_type,
                           hsize_t n, void *out, char *err, size_t err_len)
{
    int rc = -1;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        snprintf(err, err_len, "%s: no dataset '%s'; allowed: a checkpoint written by dgpg %s",
                 path, name, DGPG_VERSION_STRING);
        return -1;
    }
    H5_CHECK(dset = H5Dopen2(file, name, H5P_DEFAULT), done);
    H5_CHECK(space = H5Dget_space(dset), done);
    hssize_t have = H5Sget_simple_extent_npoints(space);
    if (have != (hssize_t)n) {
        snprintf(err, err_len,
                 "%s: dataset '%s' holds %lld values; allowed: %llu for this config (a "
                 "checkpoint of another env.n_agents, env.n_pools, algo.hidden, algo.layers, "
                 "algo.critic or algo.share_params)",
                 path, name, (long long)have, (unsigned long long)n);
        goto done;
    }
    H5_CHECK(H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), done);
    rc = 0;
done:
    if (rc != 0 && !err[0])
        snprintf(err, err_len, "%s: dataset '%s' could not be read", path, name);
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return rc;
}

static int checkpoint_read_net_array(hid_t file, const char *path, const char *name,
                                     dgpg_backend *be, float *dst, int64_t n, char *err,
                                     size_t err_len);

static int checkpoint_read_int_attr(hid_t obj, const char *name, int64_t *out)
{
    return h5util_read_attr(obj, name, H5T_NATIVE_INT64, out);
}

typedef struct config_compare {
    hid_t group;
    const char *path;
    char *err;
    size_t err_len;
    int mismatch;
} config_compare;

/* Every key of the run's config must equal the checkpoint's, except
 * train.episodes (a resumed run may be given more episodes). */
static void checkpoint_compare_key(void *user, const char *section, const char *key,
                                   const char *value)
{
    config_compare *cc = user;
    char name[2 * DGPG_NAME_LEN], stored[DGPG_LIST_LEN + 64];
    if (cc->mismatch || (strcmp(section, "train") == 0 && strcmp(key, "episodes") == 0))
        return;
    snprintf(name, sizeof name, "%s.%s", section, key);
    if (h5util_read_string_attr(cc->group, name, stored, sizeof stored) != 0) {
        snprintf(cc->err, cc->err_len, "%s: the stored config has no key %s; allowed: a file "
                 "written by dgpg %s", cc->path, name, DGPG_VERSION_STRING);
        cc->mismatch = 1;
    } else if (strcmp(stored, value) != 0) {
        snprintf(cc->err, cc->err_len, "%s: %s = '%s' in this file but '%s' in the run's "
                 "config; allowed: the same value (only train.episodes may change on resume)",
                 cc->path, name, stored, value);
        cc->mismatch = 1;
    }
}

int dgpg_checkpoint_load(const char *path, const dgpg_config *cfg, int64_t *next_episode,
                         mlp *actor, mlp *critic, ppo_value_norm *vnorm, int64_t n_vnorm,
                         dgpg_checkpoint_extra *extra, char *err, size_t err_len)
{
    err[0] = '\0';
    if (access(path, R_OK) != 0) {
        snprintf(err, err_len, "%s: no readable checkpoint; allowed: a run directory holding "
                 "checkpoint.h5 (written every train.checkpoint_every episodes)", path);
        return -1;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, err_len, "%s: not an HDF5 file, or truncated; allowed: a checkpoint "
                 "written by dgpg", path);
        return -1;
    }
    int rc = -1;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t group = H5I_INVALID_HID;
    double *vn = NULL;
    float *staged = NULL;
    char kind[64] = "", version[64] = "";
    if (file < 0) {
        snprintf(err, err_len, "%s: cannot be opened as HDF5 (truncated or damaged); allowed: "
                 "a checkpoint written by dgpg", path);
        return -1;
    }
    if (h5util_read_string_attr(file, "kind", kind, sizeof kind) != 0 ||
        strcmp(kind, CHECKPOINT_KIND) != 0) {
        snprintf(err, err_len, "%s: kind '%s'; allowed: '%s'", path, kind, CHECKPOINT_KIND);
        goto done;
    }
    if (h5util_read_string_attr(file, "dgpg_version", version, sizeof version) != 0 ||
        strcmp(version, DGPG_VERSION_STRING) != 0) {
        snprintf(err, err_len, "%s: written by dgpg %s; allowed: checkpoints of dgpg %s", path,
                 version, DGPG_VERSION_STRING);
        goto done;
    }
    if (H5Lexists(file, "config", H5P_DEFAULT) <= 0 ||
        (group = H5Gopen2(file, "config", H5P_DEFAULT)) < 0) {
        snprintf(err, err_len, "%s: no /config group; allowed: a checkpoint written by dgpg",
                 path);
        goto done;
    }
    config_compare cc = {group, path, err, err_len, 0};
    dgpg_config_foreach(cfg, checkpoint_compare_key, &cc);
    if (cc.mismatch)
        goto done;
    if (checkpoint_read_int_attr(file, "next_episode", next_episode) != 0 ||
        checkpoint_read_int_attr(file, "actor_adam_step", &actor->adam_step) != 0 ||
        checkpoint_read_int_attr(file, "critic_adam_step", &critic->adam_step) != 0 ||
        h5util_read_attr(file, "guidance_scale", H5T_NATIVE_DOUBLE, &extra->guide_scales[0]) != 0 ||
        h5util_read_attr(file, "descent_scale", H5T_NATIVE_DOUBLE, &extra->guide_scales[1]) != 0 ||
        checkpoint_read_int_attr(file, "alpha_episodes", &extra->alpha_episodes) != 0 ||
        checkpoint_read_int_attr(file, "threads", &extra->threads) != 0 ||
        h5util_read_string_attr(file, "isa", extra->isa, sizeof extra->isa) != 0) {
        snprintf(err, err_len, "%s: missing episode or optimiser step attributes", path);
        goto done;
    }
    mlp *nets[2] = {actor, critic};
    const char *prefix[2] = {"actor", "critic"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        float *arrays[3] = {nets[k]->params, nets[k]->adam_m, nets[k]->adam_v};
        const char *suffix[3] = {"params", "adam_m", "adam_v"};
        const size_t bytes = sizeof(float) * (size_t)nets[k]->n_params;
        const int on_device = dgpg_backend_is_cuda(nets[k]->be);
        for (int a = 0; a < 3; a++) {
            snprintf(name, sizeof name, "%s_%s", prefix[k], suffix[a]);
            /* on a CUDA backend: read into host memory, then upload */
            float *target = arrays[a];
            if (on_device && !(target = staged ? staged : (staged = malloc(bytes > 0 ? bytes : 1)))) {
                snprintf(err, err_len, "%s: out of host memory for %s", path, name);
                goto done;
            }
            if (checkpoint_read(file, path, name, H5T_NATIVE_FLOAT, (hsize_t)nets[k]->n_params,
                                target, err, err_len) != 0)
                goto done;
            if (on_device && dgpg_backend_upload(nets[k]->be, arrays[a], target, bytes) != 0) {
                snprintf(err, err_len, "%s: copying %s to the device failed", path, name);
                goto done;
            }
        }
        free(staged);
        staged = NULL;
    }
    vn = malloc(sizeof(double) * 3 * (size_t)n_vnorm);
    if (!vn || checkpoint_read(file, path, "value_norm", H5T_NATIVE_DOUBLE,
                               (hsize_t)(3 * n_vnorm), vn, err, err_len) != 0)
        goto done;
    for (int64_t j = 0; j < n_vnorm; j++) {
        vnorm[j].mean = vn[3 * j];
        vnorm[j].mean_sq = vn[3 * j + 1];
        vnorm[j].debias = vn[3 * j + 2];
    }
    rc = 0;
done:
    free(vn);
    free(staged);
    if (group >= 0)
        H5Gclose(group);
    H5Fclose(file);
    return rc;
}

int dgpg_config_matches_file(const char *path, const dgpg_config *cfg, char *err,
                             size_t err_len)
{
    err[0] = '\0';
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, err_len, "%s: not an HDF5 file, or truncated; allowed: a file written by "
                 "dgpg", path);
        return -1;
    }
    hid_t file = h5util_open_read(path);
    if (file < 0) {
        snprintf(err, err_len, "%s: cannot be opened as HDF5 (truncated or damaged); allowed: "
                 "a file written by dgpg", path);
        return -1;
    }
    int rc = -1;
    hid_t group = H5I_INVALID_HID;
    if (H5Lexists(file, "config", H5P_DEFAULT) <= 0 ||
        (group = H5Gopen2(file, "config", H5P_DEFAULT)) < 0) {
        snprintf(err, err_len, "%s: no /config group; allowed: a file written by dgpg", path);
        goto done;
    }
    config_compare cc = {group, path, err, err_len, 0};
    dgpg_config_foreach(cfg, checkpoint_compare_key, &cc);
    rc = cc.mismatch ? -1 : 0;
done:
    if (group >= 0)
        H5Gclose(group);
    H5Fclose(file);
    return rc;
}

/* run_dir/checkpoint.h5 opened for reading (its path in path), or a
 * negative id with one line in err naming `what` ("run", a config key). */
static hid_t checkpoint_open_run(const char *run_dir, const char *what, char *path,
                                 size_t path_len, char *err, size_t err_len)
{
    snprintf(path, path_len, "%s/checkpoint.h5", run_dir);
    hid_t file = access(path, R_OK) == 0 && H5Fis_hdf5(path) > 0
                     ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)
                     : H5I_INVALID_HID;
    if (file < 0)
        snprintf(err, err_len, "%s '%s': no readable checkpoint %s; allowed: a run directory "
                 "that has written one", what, run_dir, path);
    return file;
}

int dgpg_checkpoint_load_actor(const char *run_dir, dgpg_backend *be, int64_t n_agents,
                               int64_t n_actions, int64_t obs_dim, int64_t eval_seed,
                               int64_t eval_scenarios, mlp *actor, char *err, size_t err_len)
{
    char path[DGPG_PATH_LEN + 32];
    dgpg_config run;
    err[0] = '\0';
    memset(actor, 0, sizeof *actor);
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    if (access(path, R_OK) != 0) {
        snprintf(err, err_len, "run '%s': no readable %s; allowed: a run directory made by "
                 "dgpg train", run_dir, path);
        return -1;
    }
    char cfg_err[DGPG_ERR_LEN] = "";
    if (dgpg_config_load(&run, path, NULL, 0, cfg_err, sizeof cfg_err) != 0) {
        snprintf(err, err_len, "run '%s': %s", run_dir, cfg_err);
        return -1;
    }
    if (run.env.n_agents != n_agents || run.env.n_pools != n_actions) {
        snprintf(err, err_len, "run '%s' was trained for env.n_agents = %lld, env.n_pools = "
                 "%lld; allowed: a run of this evaluation's N = %lld and M = %lld", run_dir,
                 (long long)run.env.n_agents, (long long)run.env.n_pools, (long long)n_agents,
                 (long long)n_actions);
        return -1;
    }
    /* held out means not trained on: a run of one fixed scenario must not
     * meet it among the evaluation's (sampled training scenarios have
     * seeds of their own, CLOUD_TRAINING_SEED_BIT, never configurable) */
    if (strcmp(run.env.scenarios, "fixed") == 0 && run.env.seed >= eval_seed &&
        run.env.seed < eval_seed + eval_scenarios) {
        snprintf(err, err_len, "run '%s' was trained on the one scenario env.seed = %lld "
                 "(env.scenarios = fixed), which is among the evaluation's scenarios "
                 "eval.seed = %lld .. %lld; allowed: evaluation seeds that exclude it, or a run "
                 "trained with env.scenarios = sampled", run_dir, (long long)run.env.seed,
                 (long long)eval_seed, (long long)(eval_seed + eval_scenarios - 1));
        return -1;
    }
    if (mlp_init(actor, be, run.algo.share_params ? 1 : n_agents, (int32_t)obs_dim,
                 (int32_t)run.algo.hidden, (int32_t)run.algo.layers, (int32_t)n_actions) != 0) {
        snprintf(err, err_len, "run '%s': out of memory for its actor", run_dir);
        return -1;
    }
    hid_t file = checkpoint_open_run(run_dir, "run", path, sizeof path, err, err_len);
    if (file < 0) {
        mlp_free(actor);
        return -1;
    }
    int rc = checkpoint_read_net_array(file, path, "actor_params", be, actor->params,
                                       actor->n_params, err, err_len);
    H5Fclose(file);
    if (rc != 0)
        mlp_free(actor);
    return rc;
}

/* n floats of dataset `name` into backend memory `dst` (staged on CUDA). */
static int checkpoint_read_net_array(hid_t file, const char *path, const char *name,
                                     dgpg_backend *be, float *dst, int64_t n, char *err,
                                     size_t err_len)
{
    const size_t bytes = sizeof(float) * (size_t)n;
    float *host = dgpg_backend_is_cuda(be) ? malloc(bytes ? bytes : 1) : dst;
    int rc = host ? checkpoint_read(file, path, name, H5T_NATIVE_FLOAT, (hsize_t)n, host, err,
                                    err_len)
                  : -1;
    if (rc == 0 && host != dst && dgpg_backend_upload(be, dst, host, bytes) != 0)
        rc = -1;
    if (host != dst)
        free(host);
    if (rc != 0 && !err[0])
        snprintf(err, err_len, "%s: '%s' could not be loaded", path, name);
    return rc;
}

int dgpg_checkpoint_load_init(const char *run_dir, mlp *actor, mlp *critic,
                              ppo_value_norm *vnorm, int64_t n_vnorm, char *err,
                              size_t err_len)
{
    char path[DGPG_PATH_LEN + 32];
    err[0] = '\0';
    hid_t file = checkpoint_open_run(run_dir, "train.init_from", path, sizeof path, err,
                                     err_len);
    if (file < 0)
        return -1;
    double *vn = malloc(sizeof(double) * 3 * (size_t)n_vnorm);
    int rc = vn ? 0 : -1;
    if (rc == 0)
        rc = checkpoint_read_net_array(file, path, "actor_params", actor->be, actor->params,
                                       actor->n_params, err, err_len);
    if (rc == 0)
        rc = checkpoint_read_net_array(file, path, "critic_params", critic->be, critic->params,
                                       critic->n_params, err, err_len);
    if (rc == 0)
        rc = checkpoint_read(file, path, "value_norm", H5T_NATIVE_DOUBLE,
                             (hsize_t)(3 * n_vnorm), vn, err, err_len);
    for (int64_t j = 0; rc == 0 && j < n_vnorm; j++) {
        vnorm[j].mean = vn[3 * j];
        vnorm[j].mean_sq = vn[3 * j + 1];
        vnorm[j].debias = vn[3 * j + 2];
    }
    if (rc != 0 && !err[0])
        snprintf(err, err_len, "train.init_from = '%s': out of memory", run_dir);
    free(vn);
    H5Fclose(file);
    return rc;
}
