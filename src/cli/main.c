/* main.c — the `dgpg` binary: the command line of src/cli/cli.c over the
 * built-in plug-ins. A program with plug-ins of its own registers them and
 * calls dgpg_cli the same way (include/dgpg/dgpg.h, examples/). */
#include "dgpg/dgpg.h"

int main(int argc, char **argv)
{
    return dgpg_cli(argc, argv);
}
