/* baton check — validates a motion definition exactly as the daemon would
 * load it, and prints every problem at once: for an editor's quickfix list,
 * a pre-commit hook or CI. Nothing is stored; no database is needed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"

enum { STDIN_MAX = 16u << 20 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: baton check FILE\n"
            "\n"
            "Validates the motion definition FILE (YAML or JSON; \"-\" reads standard input).\n"
            "Valid: prints a one-line summary and exits 0. Invalid: prints every problem as\n"
            "FILE:LINE:COL: PATH: message on standard error and exits 1. Usage errors exit 2.\n");
}

/* Standard input, for `git show :motion.yaml | baton check -`. */
static int load_stdin(struct bt_motion **out, struct bt_diags *d)
{
    struct bt_buf b;
    char chunk[8192];
    size_t n;
    int rc = BT_EIO;

    bt_buf_init(&b, STDIN_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (bt_buf_add(&b, chunk, n) < 0) {
            bt_diags_add(d, "<stdin>", 0, 0, NULL, "input is larger than 16 MiB");
            rc = BT_EINVAL;
            goto out;
        }
    }
    if (ferror(stdin)) {
        bt_diags_add(d, "<stdin>", 0, 0, NULL, "cannot read standard input");
        goto out;
    }
    rc = bt_motion_parse("<stdin>", b.data ? b.data : "", b.len, out, d);
out:
    bt_buf_free(&b);
    return rc;
}

int cli_check(int argc, char **argv)
{
    struct bt_motion *m = NULL;
    struct bt_diags d;
    const char *file = NULL;
    bool options = true;
    char *summary;
    int rc = CLI_USAGE;

    bt_diags_init(&d);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (options && !strcmp(a, "--")) {
            options = false;
        } else if (options && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            usage(stdout);
            rc = CLI_OK;
            goto out;
        } else if (options && a[0] == '-' && a[1]) {
            fprintf(stderr, "baton check: unknown option \"%s\"\n", a);
            usage(stderr);
            goto out;
        } else if (file) {
            fprintf(stderr, "baton check: one FILE only (\"%s\" is extra)\n", a);
            usage(stderr);
            goto out;
        } else {
            file = a;
        }
    }
    if (!file) {
        fprintf(stderr, "baton check: no FILE given\n");
        usage(stderr);
        goto out;
    }
    if (!strcmp(file, "-") ? load_stdin(&m, &d) != 0 : bt_motion_load(file, &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        fprintf(stderr, "%s: %zu error%s; the motion is not valid\n",
                strcmp(file, "-") ? file : "<stdin>", d.n, d.n == 1 ? "" : "s");
        rc = CLI_FAIL;
        goto out;
    }
    summary = bt_motion_summary(m);
    printf("%s: OK — %s\n", strcmp(file, "-") ? file : "<stdin>", summary);
    bt_free(summary);
    rc = CLI_OK;
out:
    bt_motion_unref(m);
    bt_diags_free(&d);
    return rc;
}
