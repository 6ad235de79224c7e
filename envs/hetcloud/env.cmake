# The `hetcloud` environment (the heterogeneous two-resource cloud) and its
# `hetcloud_util` model: host/device math (hetcloud_env.h,
# hetcloud_model.h, hetcloud_policy.h), the CPU plug-in with its config
# keys and statistics (hetcloud.c) and its tests (tests/). No CUDA
# implementation. The top-level CMakeLists.txt includes this file; the
# plug-ins register in src/core/registry.c (DGPG_BUILTINS).
list(APPEND DGPG_ENV_C_SOURCES ${CMAKE_CURRENT_LIST_DIR}/hetcloud.c)
list(APPEND DGPG_ENV_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR})
list(APPEND DGPG_ENV_TEST_DIRS ${CMAKE_CURRENT_LIST_DIR}/tests)
