/* shared_library.c — the one source of the dgpg_shared target
 * (CMakeLists.txt), which links every object of the static library into
 * libdgpg.so; a library target needs a source of its own. */
#include "dgpg/dgpg.h"

/* The version of the installed library, for a loader's sanity checks. */
DGPG_API const char *dgpg_library_version(void);
const char *dgpg_library_version(void)
{
    return DGPG_VERSION_STRING;
}
