/* Weak placeholders for commands this build does not have: a strong
 * definition in another daemon/cli_*.c file replaces each. */
#include "cli.h"

static int not_yet(const char *name)
{
    fprintf(stderr, "baton %s: not available in this build\n", name);
    return CLI_FAIL;
}

__attribute__((weak)) int cli_check(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("check");
}
__attribute__((weak)) int cli_explain(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("explain");
}
__attribute__((weak)) int cli_migrate(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("migrate");
}
__attribute__((weak)) int cli_load(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("load");
}
__attribute__((weak)) int cli_motion(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("motion");
}
__attribute__((weak)) int cli_diff(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("diff");
}
__attribute__((weak)) int cli_report(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("report");
}
