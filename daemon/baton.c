/* baton — the revenue-ops command line: check, explain and load motion
 * definitions, migrate the database, read the adoption report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mem.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} commands[] = {
    {"check", cli_check, "check FILE                      validate a motion definition"},
    {"explain", cli_explain,
     "explain FILE --stage S [--competitor C] [--field NAME=VALUE]... [--already ASSET]... "
     "[--json]\n"
     "                                  what a deal would get, and why"},
    {"migrate", cli_migrate, "migrate --db CONNINFO [--schema DIR]  apply database migrations"},
    {"load", cli_load, "load FILE --db CONNINFO [--by NAME]  store and activate a motion version"},
    {"motion", cli_motion,
     "motion --db CONNINFO [--history] [--json] [--version N] [--document]\n"
     "                                  the active (or a stored) motion version"},
    {"diff", cli_diff, "diff FILE --db CONNINFO         what loading FILE would change"},
    {"report", cli_report,
     "report --db CONNINFO [--since DATE] [--until DATE] [--by asset|stage|competitor|rep|play]\n"
     "       [--motion-version N] [--format table|json|csv] [--min-deliveries N]\n"
     "       [--ignored-below X]        the adoption report (config/report.md)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: baton COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\nThe database may also be given as $BATON_DATABASE.\n"
                 "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

const char *cli_conninfo(const char *opt)
{
    const char *env = getenv("BATON_DATABASE");

    if (opt)
        return opt;
    if (env && *env)
        return env;
    fprintf(stderr, "baton: no database: give --db CONNINFO or set BATON_DATABASE\n");
    return NULL;
}

int main(int argc, char **argv)
{
    bt_mem_init();
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("baton %s\n", BATON_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "baton: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
