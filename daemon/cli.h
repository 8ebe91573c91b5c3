/* The `baton` command's subcommands. Each takes argc/argv from its own name
 * on and returns the process exit status: 0 success, 1 failure (the thing
 * checked is wrong, the database refused), 2 usage error. */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include <stdio.h>

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

int cli_check(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_load(int argc, char **argv);
int cli_motion(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_report(int argc, char **argv);

/* The database conninfo: --db, else $BATON_DATABASE; NULL (after printing
 * a usage error) when neither is given. */
const char *cli_conninfo(const char *opt);

#endif
