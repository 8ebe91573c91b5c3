/* batond — the Baton daemon.
 *
 * Wiring in a visible order: parse options, load the config (--check-config
 * stops there), then run. No logic that a test would want to reach lives
 * here; the config is checked by lib/config.c. Exit status: 0 success,
 * 1 failure (the config is wrong, the daemon failed), 2 usage error. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "diag.h"
#include "log.h"
#include "mem.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, GO_ON = -1 };

struct options {
    const char *config;
    bool check_only;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: batond --config FILE [--check-config]\n"
                 "\n"
                 "  -c, --config FILE   the daemon's configuration (default: $BATON_CONFIG)\n"
                 "      --check-config  check the configuration, print every problem, and exit\n"
                 "  -h, --help          show this help\n"
                 "  -V, --version       show the version\n"
                 "\n"
                 "$BATON_DATABASE, when set, replaces the configuration's database.\n"
                 "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* GO_ON, or the exit status when there is nothing more to do. */
static int parse_options(int argc, char **argv, struct options *opt)
{
    enum { OPT_CHECK = 256 };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("BATON_CONFIG");
    int ch;

    *opt = (struct options){NULL, false};
    while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt->config = optarg;
            break;
        case OPT_CHECK:
            opt->check_only = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("batond %s\n", BATON_VERSION);
            return EXIT_OK;
        default: /* getopt has said what was wrong */
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "batond: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!opt->config && env && *env)
        opt->config = env;
    if (!opt->config) {
        fprintf(stderr, "batond: no configuration: give --config FILE or set BATON_CONFIG\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    return GO_ON;
}

/* Prints every problem, in file order, as FILE:LINE:COL: PATH: message. */
static int load_config(const char *file, struct bt_config **cfg)
{
    struct bt_diags diags;
    int rc;

    bt_diags_init(&diags);
    rc = bt_config_load(file, cfg, &diags);
    if (rc < 0) {
        bt_diags_sort(&diags);
        bt_diags_print(&diags, stderr);
    }
    bt_diags_free(&diags);
    return rc;
}

static int run(const struct bt_config *cfg)
{
    bt_log_set_level(cfg->log_level);
    bt_error("batond is not wired to its event loop yet in this build; "
             "only --check-config works");
    return EXIT_FAIL;
}

int main(int argc, char **argv)
{
    struct options opt;
    struct bt_config *cfg = NULL;
    int status;

    bt_mem_init();
    status = parse_options(argc, argv, &opt);
    if (status != GO_ON)
        goto out;
    if (load_config(opt.config, &cfg) < 0) {
        status = EXIT_FAIL;
        goto out;
    }
    if (opt.check_only) {
        printf("configuration OK\n");
        status = EXIT_OK;
        goto out;
    }
    status = run(cfg);
out:
    bt_config_unref(cfg);
    return status;
}
