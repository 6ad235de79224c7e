# The `cloud` environment and its `cloud_mm1` model: host/device math
# (cloud_env.h, cloud_model.h, cloud_policy.h), their config keys and
# statistics (cloud_config.c), the CPU plug-in (cloud.c), its CUDA
# implementation (cloud_cuda.cu over cloud_kernels.cu) and its tests
# (tests/, the GPU parity test among them under label gpu). The
# top-level CMakeLists.txt includes this file; the plug-ins register in
# src/core/registry.c.
list(APPEND DGPG_ENV_C_SOURCES ${CMAKE_CURRENT_LIST_DIR}/cloud.c
     ${CMAKE_CURRENT_LIST_DIR}/cloud_config.c)
list(APPEND DGPG_ENV_CUDA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/cloud_kernels.cu
     ${CMAKE_CURRENT_LIST_DIR}/cloud_cuda.cu)
list(APPEND DGPG_ENV_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR})
list(APPEND DGPG_ENV_TEST_DIRS ${CMAKE_CURRENT_LIST_DIR}/tests)
