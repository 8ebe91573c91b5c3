#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crm.h"
#include "mem.h"

/* Every fake secret in tests/data/config holds this marker, so a test can
 * tell that no diagnostic ever shows one. */
#define MARKER "S3CR3T"

static struct bt_config *load_ok(const char *rel)
{
    char *path = bt_test_source_path(rel);
    struct bt_config *cfg = NULL;
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_config_load(path, &cfg, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("%s does not load", rel);
    }
    assert_int_equal(d.n, 0);
    bt_diags_free(&d);
    free(path);
    return cfg;
}

static void durations_parse(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"250ms", 250},   {"5s", 5000},
        {"2m", 120000},   {"1h", 3600000},
        {"1d", 86400000}, {"30", 30000},
        {"0", 0},         {"0.5", 500},
        {"1.5s", 1500},   {"0.25m", 15000},
        {"0.001", 1},     {"1.000000000s", 1000},
        {"0ms", 0},       {"106751991167d", 106751991167LL * 86400000},
    };
    static const char *const bad[] = {
        "",    "s",     "5x",     "-5s",  "+5s",           " 5s",           "5s ",
        "5 s", "1.5ms", "0.0001", ".5s",  "5.s",           "5sec",          "5S",
        "1e3", "0x10",  "inf",    "5m5s", "1.0000000001s", "106751991168d", "99999999999999999999",
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = -1;
        if (bt_parse_duration_ms(good[i].s, &v) != 0)
            fail_msg("\"%s\" should parse", good[i].s);
        assert_int_equal(v, good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bt_parse_duration_ms(bad[i], &v) != BT_EINVAL)
            fail_msg("\"%s\" should not parse", bad[i]);
    assert_int_equal(bt_parse_duration_ms(NULL, &v), BT_EINVAL);
}

static void sizes_parse(void **state)
{
    static const struct {
        const char *s;
        uint64_t n;
    } good[] = {
        {"0", 0},          {"512", 512},         {"512B", 512},       {"64KiB", 65536},
        {"1MiB", 1048576}, {"1GiB", 1073741824}, {"1.5KiB", 1536},    {"2kB", 2000},
        {"2KB", 2000},     {"3MB", 3000000},     {"1GB", 1000000000}, {"0.5MiB", 524288},
    };
    static const char *const bad[] = {
        "",
        "KiB",
        "-1",
        "1.5",
        "1.5B",
        "1TB",
        "1 MiB",
        "1kib",
        "1M",
        "0.1KiB",
        "18446744073709551616",
        "17179869184GiB",
    };
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (bt_parse_size(good[i].s, &v) != 0)
            fail_msg("\"%s\" should parse", good[i].s);
        assert_int_equal(v, good[i].n);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bt_parse_size(bad[i], &v) != BT_EINVAL)
            fail_msg("\"%s\" should not parse", bad[i]);
}

static void check_defaults(const struct bt_config *cfg)
{
    static const int64_t schedule[] = {5000, 30000, 120000, 600000, 1800000, 3600000};

    assert_int_equal(cfg->log_level, BT_LOG_INFO);
    assert_false(cfg->sources.hubspot.signature_v1);
    assert_string_equal(cfg->sources.hubspot.api_base, "https://api.hubapi.com");
    assert_string_equal(cfg->channels.slack.api_base, "https://slack.com");
    assert_int_equal(cfg->channels.slack.per_channel_interval_ms, 1000);
    assert_int_equal(cfg->http.connection_timeout_ms, 30000);
    assert_int_equal(cfg->http.max_connections, 1024);
    assert_int_equal(cfg->http.max_connections_per_ip, 64);
    assert_int_equal(cfg->http.memory_limit, 256 * 1024);
    assert_int_equal(cfg->http.body_limit, 1024 * 1024);
    assert_int_equal(cfg->http.request_deadline_ms, 10000);
    assert_int_equal(cfg->ingest.batch_max, 500);
    assert_string_equal(cfg->journal.path, "/var/lib/baton/journal");
    assert_int_equal(cfg->journal.max_bytes, 64 * 1024 * 1024);
    assert_int_equal(cfg->push.connect_timeout_ms, 5000);
    assert_int_equal(cfg->push.timeout_ms, 15000);
    assert_int_equal(cfg->push.max_connections_per_host, 8);
    assert_int_equal(cfg->push.response_cap, 64 * 1024);
    assert_int_equal(cfg->push.n_retry_schedule, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(cfg->push.retry_schedule_ms[i], schedule[i]);
    assert_int_equal(cfg->push.retry_after_last_ms, 3600000);
    assert_int_equal(cfg->push.give_up_after_ms, 24 * 3600000);
    assert_true(cfg->push.jitter > 0.199 && cfg->push.jitter < 0.201);
    assert_int_equal(cfg->push.lease_ms, 60000);
    assert_int_equal(cfg->push.batch, 100);
    assert_int_equal(cfg->tracking.prefetch_window_ms, 2000);
    assert_int_equal(cfg->tracking.n_extra_prefetch_agents, 0);
    assert_int_equal(cfg->report.min_deliveries, 5);
    assert_true(cfg->report.ignored_below > 0.199 && cfg->report.ignored_below < 0.201);
    assert_int_equal(cfg->lookup.timeout_ms, 10000);
    assert_int_equal(cfg->lookup.base_delay_ms, 1000);
    assert_int_equal(cfg->lookup.max_attempts, 5);
}

static void defaults_are_right(void **state)
{
    struct bt_config *cfg = load_ok("tests/data/config/good/minimal.yaml");
    const struct sockaddr_in *a = (const struct sockaddr_in *)&cfg->listen_addr;
    struct bt_crm_auth auth;

    (void)state;
    check_defaults(cfg);
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(ntohs(a->sin_port), 8080);
    assert_int_equal(ntohl(a->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(cfg->listen_addr_len, sizeof(struct sockaddr_in));
    assert_string_equal(cfg->public_url, "http://127.0.0.1:8080");
    assert_string_equal(cfg->database, "dbname=baton");
    assert_false(cfg->database_from_env);
    assert_null(cfg->motion);
    assert_null(cfg->admin_token);
    assert_false(cfg->sources.hubspot.enabled);
    assert_false(cfg->sources.pipedrive.enabled);
    assert_false(cfg->sources.salesforce.enabled);
    assert_false(cfg->sources.generic.enabled);
    assert_false(cfg->channels.slack.enabled);
    assert_false(cfg->channels.teams.enabled);
    assert_false(cfg->channels.webhook.enabled);
    for (int src = 0; src < BT_SRC_COUNT; src++) {
        memset(&auth, 0xff, sizeof(auth));
        assert_int_equal(bt_config_inbound_auth(cfg, (enum bt_source)src, &auth), BT_ENOENT);
        assert_null(auth.secrets);
        assert_int_equal(auth.n_secrets, 0);
    }
    assert_null(bt_config_target_url(cfg, "teams", "emea-deals"));
    bt_config_unref(cfg);
}

/* The example documents every key with its default: where it sets a
 * tunable, it sets it to the default. */
static void example_loads_with_the_defaults(void **state)
{
    struct bt_config *cfg = load_ok("config/batond.yaml");
    struct bt_crm_auth auth;

    (void)state;
    check_defaults(cfg);
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    assert_string_equal(cfg->public_url, "https://baton.example.com");
    assert_string_equal(cfg->motion, "/etc/baton/motion.yaml");
    assert_true(cfg->sources.hubspot.enabled);
    assert_true(cfg->sources.pipedrive.enabled);
    assert_true(cfg->sources.salesforce.enabled);
    assert_true(cfg->sources.generic.enabled);
    assert_true(cfg->channels.slack.enabled);
    assert_true(cfg->channels.teams.enabled);
    assert_true(cfg->channels.webhook.enabled);
    assert_non_null(bt_config_target_url(cfg, "teams", "emea-deals"));
    assert_string_equal(bt_config_target_url(cfg, "webhook", "crm-sidebar"),
                        "https://crm-tools.example.com/baton");
    assert_null(bt_config_target_url(cfg, "webhook", "emea-deals"));
    assert_null(bt_config_target_url(cfg, "slack", "emea-deals"));
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_SALESFORCE, &auth), 0);
    assert_string_equal(auth.organization_id, "00D5g000000AbCdEAK");
    assert_int_equal(auth.n_path_tokens, 1);
    bt_config_unref(cfg);
}

static void secrets_come_from_files(void **state)
{
    struct bt_config *cfg = load_ok("tests/data/config/good/files.yaml");
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&cfg->listen_addr;
    struct bt_crm_auth auth;
    char *dir = bt_test_source_path("tests/data/config/good");
    char *want;

    (void)state;
    assert_int_equal(a->sin6_family, AF_INET6);
    assert_int_equal(ntohs(a->sin6_port), 9090);
    assert_int_equal(cfg->listen_port, 9090);
    assert_string_equal(cfg->public_url, "https://baton.example.com/base");
    assert_int_equal(cfg->log_level, BT_LOG_DEBUG);
    assert_string_equal(cfg->database, "host=/run/postgresql dbname=baton password=" MARKER);
    assert_string_equal(cfg->admin_token, "admin-" MARKER "-token-0123456789");
    /* relative paths are taken from the config file's directory */
    want = bt_asprintf("%s/motion.yaml", dir);
    assert_string_equal(cfg->motion, want);
    bt_free(want);
    want = bt_asprintf("%s/state/journal", dir);
    assert_string_equal(cfg->journal.path, want);
    bt_free(want);

    /* a list-valued secret file holds one per line; blank lines are skipped */
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_HUBSPOT, &auth), 0);
    assert_int_equal(auth.n_secrets, 2);
    assert_string_equal(auth.secrets[0], "hubspot-" MARKER "-one");
    assert_string_equal(auth.secrets[1], "hubspot-" MARKER "-two");
    assert_true(auth.hubspot_v1);
    assert_string_equal(cfg->sources.hubspot.token, "hubspot-" MARKER "-token");
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_PIPEDRIVE, &auth), 0);
    assert_string_equal(auth.username, "baton");
    assert_string_equal(auth.password, "pipedrive-" MARKER "-password");
    assert_null(auth.secrets);
    /* a CRLF ending is trimmed too */
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_SALESFORCE, &auth), 0);
    assert_int_equal(auth.n_path_tokens, 1);
    assert_string_equal(auth.path_tokens[0], "sf-path-" MARKER "-token-0123456789");
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_GENERIC, &auth), 0);
    assert_int_equal(auth.n_secrets, 1);
    assert_string_equal(auth.secrets[0], "whsec_" MARKER "abcdefghijklmnop");

    assert_string_equal(cfg->channels.slack.token, "xoxb-" MARKER "-slack");
    assert_string_equal(bt_config_target_url(cfg, "teams", "emea-deals"),
                        "https://teams.example.invalid/invoke?sig=" MARKER);
    assert_string_equal(cfg->channels.webhook.secret, "whsec_" MARKER "WebhookSigningKey0");
    assert_string_equal(bt_config_target_url(cfg, "webhook", "crm-sidebar"),
                        "http://127.0.0.1:9999/hook?token=" MARKER);
    assert_null(bt_config_target_url(cfg, "teams", "crm-sidebar"));
    free(dir);
    bt_config_unref(cfg);
}

static void inline_values_and_lists(void **state)
{
    struct bt_config *cfg = load_ok("tests/data/config/good/inline.yaml");
    struct bt_crm_auth auth;

    (void)state;
    assert_int_equal(cfg->listen_port, 8443);
    assert_string_equal(cfg->database, "postgresql://baton@db.example.com/baton");
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_HUBSPOT, &auth), 0);
    assert_int_equal(auth.n_secrets, 2);
    assert_string_equal(auth.secrets[1], "hubspot-" MARKER "-old");
    assert_false(auth.hubspot_v1);
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_SALESFORCE, &auth), 0);
    assert_string_equal(auth.organization_id, "00D5g000000AbCd");
    assert_int_equal(auth.n_path_tokens, 2);
    assert_int_equal(bt_config_inbound_auth(cfg, BT_SRC_PIPEDRIVE, &auth), BT_ENOENT);
    assert_int_equal(cfg->http.request_deadline_ms, 500);
    assert_int_equal(cfg->http.memory_limit, 1536 * 1024);
    assert_int_equal(cfg->push.n_retry_schedule, 2);
    assert_int_equal(cfg->push.retry_schedule_ms[0], 250);
    assert_int_equal(cfg->push.retry_schedule_ms[1], 60000);
    assert_true(cfg->push.jitter == 0);
    assert_int_equal(cfg->tracking.prefetch_window_ms, 0);
    assert_int_equal(cfg->tracking.n_extra_prefetch_agents, 2);
    assert_string_equal(cfg->tracking.extra_prefetch_agents[1], "Some Scanner");
    bt_config_unref(cfg);
}

static void database_env_overrides(void **state)
{
    struct bt_config *cfg;
    char *path = bt_test_source_path("tests/data/config/bad/bad_database.yaml");
    struct bt_diags d;

    (void)state;
    setenv("BATON_DATABASE", "host=db.example.com dbname=other", 1);
    cfg = load_ok("tests/data/config/good/minimal.yaml");
    assert_string_equal(cfg->database, "host=db.example.com dbname=other");
    assert_true(cfg->database_from_env);
    bt_config_unref(cfg);
    /* the file's database is then not read at all */
    bt_diags_init(&d);
    assert_int_equal(bt_config_load(path, &cfg, &d), 0);
    bt_config_unref(cfg);
    /* a malformed override is an error, not shown */
    setenv("BATON_DATABASE", "host=x password=" MARKER " oops", 1);
    assert_int_equal(bt_config_load(path, &cfg, &d), BT_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].path, "BATON_DATABASE");
    assert_null(strstr(d.v[0].msg, MARKER));
    /* an empty variable is as good as none */
    setenv("BATON_DATABASE", "", 1);
    cfg = load_ok("tests/data/config/good/minimal.yaml");
    assert_string_equal(cfg->database, "dbname=baton");
    assert_false(cfg->database_from_env);
    bt_config_unref(cfg);
    unsetenv("BATON_DATABASE");
    bt_diags_free(&d);
    free(path);
}

static void snapshots_are_reference_counted(void **state)
{
    struct bt_config *cfg = load_ok("tests/data/config/good/files.yaml");
    const struct bt_config *held = bt_config_ref(cfg);

    (void)state;
    assert_ptr_equal(held, cfg);
    bt_config_unref(cfg);
    /* still readable through the other reference (ASan would object) */
    assert_string_equal(held->sources.pipedrive.username, "baton");
    bt_config_unref(held);
    bt_config_unref(NULL);
}

static void a_missing_file_is_an_io_error(void **state)
{
    struct bt_config *cfg = NULL;
    struct bt_diags d;

    (void)state;
    bt_diags_init(&d);
    assert_int_equal(bt_config_load("/nonexistent/batond.yaml", &cfg, &d), BT_EIO);
    assert_null(cfg);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].file, "/nonexistent/batond.yaml");
    bt_diags_free(&d);
}

/* A broken config full of secrets: many diagnostics, none showing one. */
static void secrets_never_in_diagnostics(void **state)
{
    static const char *const files[] = {
        "tests/data/config/bad/bad_secret_format.yaml",
        "tests/data/config/bad/wrong_type.yaml",
        "tests/data/config/bad/bad_database.yaml",
        "tests/data/config/bad/both_secret_and_file.yaml",
        "tests/data/config/bad/syntax.yaml",
    };
    size_t total = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = bt_test_source_path(files[i]);
        struct bt_config *cfg = NULL;
        struct bt_diags d;

        bt_diags_init(&d);
        assert_int_equal(bt_config_load(path, &cfg, &d), BT_EINVAL);
        for (size_t j = 0; j < d.n; j++) {
            char *s = bt_diag_format(&d.v[j]);

            if (strstr(s, MARKER))
                fail_msg("a secret shows in: %s", s);
            bt_free(s);
        }
        total += d.n;
        bt_diags_free(&d);
        free(path);
    }
    assert_true(total >= 10);
}

/* ---- the folder of broken configs ---- */

/* Each file under bad/ is one kind of error. Its leading comments say what
 * it must produce, one "# expect: LINE:COL: PATH: substring" per problem
 * (PATH "-" for none); it must produce exactly those. */
static const char *const error_kinds[] = {
    "syntax",
    "unknown_key",
    "wrong_type",
    "bad_duration",
    "bad_size",
    "bad_listen",
    "relative_public_url",
    "both_secret_and_file",
    "unreadable_secret_file",
    "unknown_log_level",
    "empty_secret_list",
    "target_without_url",
};

struct expect {
    int line, col;
    char path[256];
    char what[512];
    bool seen;
};

static size_t read_expects(char *text, struct expect *v, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int off = 0;

        if (strncmp(line, "# expect: ", 10))
            continue;
        assert_true(n < max);
        if (sscanf(line, "# expect: %d:%d: %255[^:]: %n", &v[n].line, &v[n].col, v[n].path, &off) <
                3 ||
            !off)
            fail_msg("malformed expectation: %s", line);
        snprintf(v[n].what, sizeof(v[n].what), "%s", line + off);
        if (!strcmp(v[n].path, "-"))
            v[n].path[0] = '\0';
        v[n++].seen = false;
    }
    return n;
}

static void check_bad_file(void **state)
{
    const char *path = *state;
    char *text = bt_test_read_file(path, NULL);
    struct expect want[16];
    size_t n_want = read_expects(text, want, 16);
    struct bt_config *cfg = NULL;
    struct bt_diags d;
    int rc;

    assert_true(n_want > 0);
    bt_diags_init(&d);
    rc = bt_config_load(path, &cfg, &d);
    assert_int_equal(rc, BT_EINVAL);
    assert_null(cfg);
    for (size_t i = 0; i < d.n; i++) {
        const struct bt_diag *e = &d.v[i];
        char *s = bt_diag_format(e);
        bool matched = false;

        if (strstr(s, MARKER))
            fail_msg("a secret shows in: %s", s);
        assert_string_equal(e->file, path);
        for (size_t j = 0; j < n_want && !matched; j++) {
            matched = !want[j].seen && want[j].line == e->line && want[j].col == e->col &&
                      !strcmp(want[j].path, e->path ? e->path : "") &&
                      strstr(e->msg, want[j].what);
            want[j].seen |= matched;
        }
        if (!matched)
            fail_msg("unexpected: %s", s);
        bt_free(s);
    }
    for (size_t j = 0; j < n_want; j++)
        if (!want[j].seen)
            fail_msg("missing: %d:%d: %s: %s", want[j].line, want[j].col, want[j].path,
                     want[j].what);
    bt_diags_free(&d);
    free(text);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void every_error_kind_has_a_file(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(error_kinds) / sizeof(error_kinds[0]); i++) {
        char *rel = bt_asprintf("tests/data/config/bad/%s.yaml", error_kinds[i]);
        char *path = bt_test_source_path(rel);
        FILE *f = fopen(path, "r");

        if (!f)
            fail_msg("no example of this kind of error: %s", rel);
        fclose(f);
        free(path);
        bt_free(rel);
    }
}

static int run_bad_files(void)
{
    char *dir = bt_test_source_path("tests/data/config/bad");
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    struct CMUnitTest *tests;
    size_t n = 0, alloc = 0;
    int failed;

    unsetenv("BATON_DATABASE");
    if (!dh) {
        fprintf(stderr, "cannot open %s\n", dir);
        free(dir);
        return 1;
    }
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);

        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml"))
            continue;
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 32;
            names = bt_reallocarray(names, alloc, sizeof(*names));
        }
        names[n++] = bt_asprintf("%s/%s", dir, de->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof(*names), by_name);
    tests = bt_calloc(n ? n : 1, sizeof(*tests));
    for (size_t i = 0; i < n; i++) {
        tests[i].name = strrchr(names[i], '/') + 1;
        tests[i].test_func = check_bad_file;
        tests[i].initial_state = names[i];
    }
    failed = _cmocka_run_group_tests("config_bad_files", tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        bt_free(names[i]);
    bt_free(names);
    bt_free(tests);
    free(dir);
    return failed;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_parse),
        cmocka_unit_test(sizes_parse),
        cmocka_unit_test(defaults_are_right),
        cmocka_unit_test(example_loads_with_the_defaults),
        cmocka_unit_test(secrets_come_from_files),
        cmocka_unit_test(inline_values_and_lists),
        cmocka_unit_test(database_env_overrides),
        cmocka_unit_test(snapshots_are_reference_counted),
        cmocka_unit_test(a_missing_file_is_an_io_error),
        cmocka_unit_test(secrets_never_in_diagnostics),
        cmocka_unit_test(every_error_kind_has_a_file),
    };
    int failed;

    /* the bad files must report a missing database, not take it from here */
    unsetenv("BATON_DATABASE");
    bt_mem_init();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed + run_bad_files();
}
