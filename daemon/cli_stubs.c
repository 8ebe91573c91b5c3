/* Commands not written yet. Each file daemon/cli_*.c that implements one
 * removes it from here. */
#include "cli.h"

static int not_yet(const char *name)
{
    fprintf(stderr, "baton %s: not available in this build\n", name);
    return CLI_FAIL;
}

int cli_check(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("check");
}
int cli_explain(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("explain");
}
int cli_migrate(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("migrate");
}
int cli_load(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("load");
}
int cli_motion(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("motion");
}
int cli_diff(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("diff");
}
int cli_report(int argc, char **argv)
{
    (void)argc, (void)argv;
    return not_yet("report");
}
