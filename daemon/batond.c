/* batond — the Baton daemon.
 *
 * Wiring in a visible order: parse options, load the config (--check-config
 * stops there), check the schema, create the app on a libuv loop, signals,
 * READY=1, run, tear down, and insist the loop closes with nothing left. No logic that a test
 * would want to reach lives here; the config is checked by lib/config.c. Exit status: 0 success,
 * 1 failure (the config is wrong, the daemon failed), 2 usage error. */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "app.h"

#include "config.h"
#include "diag.h"
#include "log.h"
#include "mem.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, GO_ON = -1 };

struct options {
    const char *config;
    bool check_only;
    const char *panel_rep; /* --panel-url REP */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: batond --config FILE [--check-config]\n"
                 "\n"
                 "  -c, --config FILE   the daemon's configuration (default: $BATON_CONFIG)\n"
                 "      --check-config  check the configuration, print every problem, and exit\n"
                 "      --panel-url REP print the link to REP's panel (needs admin_token)\n"
                 "  -h, --help          show this help\n"
                 "  -V, --version       show the version\n"
                 "\n"
                 "$BATON_DATABASE, when set, replaces the configuration's database.\n"
                 "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* GO_ON, or the exit status when there is nothing more to do. */
static int parse_options(int argc, char **argv, struct options *opt)
{
    enum { OPT_CHECK = 256, OPT_PANEL };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"panel-url", required_argument, NULL, OPT_PANEL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("BATON_CONFIG");
    int ch;

    *opt = (struct options){NULL, false, NULL};
    while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt->config = optarg;
            break;
        case OPT_CHECK:
            opt->check_only = true;
            break;
        case OPT_PANEL:
            opt->panel_rep = optarg;
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

/* systemd's readiness protocol, without libsystemd: one datagram to
 * $NOTIFY_SOCKET ("@" names an abstract socket). */
static void sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)!sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}

struct daemon {
    struct bt_app *app;
    uv_signal_t sigterm, sigint, sighup;
    bool stopping;
};

static void stopped(void *ud)
{
    struct daemon *d = ud;

    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;

    if (signum == SIGHUP) {
        sd_notify("RELOADING=1");
        bt_app_reload(d->app);
        sd_notify("READY=1");
        return;
    }
    if (d->stopping)
        return;
    d->stopping = true;
    sd_notify("STOPPING=1");
    /* Finish what is in flight; exit within 10 s whatever happens. */
    bt_app_stop(d->app, 9000, stopped, d);
}

static int run(const struct bt_config *cfg)
{
    struct daemon d;
    uv_loop_t loop;
    int rc;

    memset(&d, 0, sizeof(d));
    bt_log_set_level(cfg->log_level);
    /* journald stamps each line itself. */
    bt_log_set_timestamps(getenv("JOURNAL_STREAM") == NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (bt_app_preflight(cfg) < 0)
        return EXIT_FAIL;
    uv_loop_init(&loop);
    if (bt_app_new(&loop, cfg, &d.app) < 0) {
        uv_loop_close(&loop);
        return EXIT_FAIL;
    }
    uv_signal_init(&loop, &d.sigterm);
    uv_signal_init(&loop, &d.sigint);
    uv_signal_init(&loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_signal, SIGHUP);
    sd_notify("READY=1");
    bt_info("batond %s ready", BATON_VERSION);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    curl_global_cleanup();
    if (rc != 0) {
        /* A handle left open is a bug: say so loudly. */
        bt_error("event loop closed with handles still open");
        return EXIT_FAIL;
    }
    bt_info("stopped");
    return EXIT_OK;
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
    if (opt.panel_rep) {
        char token[23];

        if (bt_api_panel_token(cfg, opt.panel_rep, token) < 0) {
            fprintf(stderr, "batond: panel links need admin_token in the configuration\n");
            status = EXIT_FAIL;
        } else {
            printf("%s/panel/%s?t=%s\n", cfg->public_url, opt.panel_rep, token);
            status = EXIT_OK;
        }
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
