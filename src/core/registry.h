/* registry.h — the registered plug-ins in registration order, for the
 * config loader's messages (which plug-in a key belongs to). */
#ifndef DGPG_REGISTRY_H
#define DGPG_REGISTRY_H

#include "dgpg/dgpg.h"

int dgpg_registry_env_count(void);
const dgpg_env_api *dgpg_registry_env(int k);
int dgpg_registry_model_count(void);
const dgpg_model_api *dgpg_registry_model(int k);

#endif
