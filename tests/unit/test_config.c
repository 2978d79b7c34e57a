/* The config file (config.h) and bearer tokens (auth.h). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "check.h"
#include "adapter.h"
#include "config.h"

/* Loads TEXT; returns the first error as "path: message", or "" when valid. */
static int load(const char *text, config *c, char *first, size_t len)
{
    diag_list errs;
    diag_list_init(&errs);
    config_defaults(c);
    int rc = config_load_buffer(text, strlen(text), c, &errs);
    first[0] = '\0';
    if (errs.len)
        snprintf(first, len, "%s: %s", errs.items[0].path, errs.items[0].message);
    diag_list_release(&errs);
    return rc;
}

static const struct {
    const char *name, *text, *want;
} bad[] = {
    {"typo", "{\"redis\":{\"adress\":\"x:1\"}}",
     "/redis/adress: unknown field (did you mean \"address\"?)"},
    {"bad role", "{\"tokens\":[{\"name\":\"a\",\"role\":\"root\",\"token\":\"0123456789abcdef\"}]}",
     "/tokens/0/role: \"root\" is not one of: viewer, editor, approver, admin"},
    {"short token", "{\"tokens\":[{\"name\":\"a\",\"role\":\"admin\",\"token\":\"short\"}]}",
     "/tokens/0/token: is 5 characters, under the minimum of 16"},
    {"no secret", "{\"tokens\":[{\"name\":\"a\",\"role\":\"admin\"}]}",
     "/tokens/0: needs its secret: one of \"token\", \"token_env\" (an environment "
     "variable) or \"token_file\""},
    {"two secrets",
     "{\"tokens\":[{\"name\":\"a\",\"role\":\"admin\",\"token\":\"0123456789abcdef\","
     "\"token_env\":\"X\"}]}",
     "/tokens/0: gives its secret more than one way: keep one of \"token\", \"token_env\", "
     "\"token_file\""},
    {"unset env",
     "{\"tokens\":[{\"name\":\"a\",\"role\":\"admin\",\"token_env\":\"HAECHI_TEST_UNSET_VAR\"}]}",
     "/tokens/0: environment variable HAECHI_TEST_UNSET_VAR is not set"},
    {"listen without port", "{\"listen\":\"localhost\"}",
     "/listen: \"localhost\" is not a listen address: use HOST:PORT, e.g. 127.0.0.1:8080 "
     "(port 0 picks a free port)"},
    {"redis port out of range", "{\"redis\":{\"address\":\"127.0.0.1:70000\"}}",
     "/redis/address: \"127.0.0.1:70000\" is not an address: use HOST:PORT (e.g. "
     "127.0.0.1:6379) or unix:/path/to/redis.sock"},
    {"prefix with brace", "{\"redis\":{\"prefix\":\"a{b\"}}",
     "/redis/prefix: must not contain '{' (braces would break the hash tags, wildcards the "
     "key scans)"},
    {"unknown channel", "{\"channels\":{\"fax\":{}}}",
     "/channels/fax: unknown field; known here: sns, kakao, banner, newsletter, alert"},
    {"channel typo", "{\"channels\":{\"kakoa\":{}}}",
     "/channels/kakoa: unknown field (did you mean \"kakao\"?)"},
    {"unknown adapter", "{\"channels\":{\"sns\":{\"adapter\":\"carrier-pigeon\"}}}",
     "/channels/sns/adapter: no adapter \"carrier-pigeon\"; known: log"},
    {"adapter option typo", "{\"channels\":{\"sns\":{\"adapter\":\"log\",\"fail_atempts\":3}}}",
     "/channels/sns/fail_atempts: unknown field (did you mean \"fail_attempts\"?)"},
    {"adapter option of the wrong type", "{\"channels\":{\"sns\":{\"delay_ms\":\"soon\"}}}",
     "/channels/sns/delay_ms: must be an integer, not a string"},
    {"engine channel option typo", "{\"channels\":{\"kakao\":{\"max_inflihgt\":3}}}",
     "/channels/kakao/max_inflihgt: unknown field (did you mean \"max_inflight\"?)"},
    {"channel section not an object", "{\"channels\":{\"banner\":5}}",
     "/channels/banner: must be an object, not an integer"},
    {"alert quiet hours", "{\"channels\":{\"alert\":{\"quiet_hours\":false}}}",
     "/channels/alert/quiet_hours: alert messages are never held by quiet hours"},
    {"bad quiet hours", "{\"channels\":{\"kakao\":{\"quiet_hours\":{\"start\":\"21:00\"}}}}",
     "/channels/kakao/quiet_hours/end: required field is missing"},
    {"virtual clock in production", "{\"testing\":{\"virtual_clock\":true}}",
     "/testing/virtual_clock: a virtual clock is a test switch"},
    {"demo clock in production",
     "{\"demo\":{\"start\":\"2020-03-21T23:50:00+09:00\",\"speed\":1440}}",
     "/demo: a demo clock replays the past fast: it needs \"environment\": \"demo\", and a "
     "production config must not have it"},
    {"demo clock in a test environment",
     "{\"environment\":\"test\",\"demo\":{\"start\":\"2020-03-21T14:50:00Z\",\"speed\":60}}",
     "/demo: a demo clock replays the past fast"},
    {"demo environment without its section", "{\"environment\":\"demo\"}",
     "/demo: \"environment\": \"demo\" needs a \"demo\" section"},
    {"demo start without an offset",
     "{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T23:50\",\"speed\":60}}",
     "/demo/start: \"2020-03-21T23:50\" has no offset: write it with Z or +HH:MM"},
    {"demo start not a time",
     "{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-02-30T00:00Z\",\"speed\":60}}",
     "/demo/start: \"2020-02-30"},
    {"demo speed zero",
     "{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T14:50:00Z\",\"speed\":0}}",
     "/demo/speed: 0 is out of range 1-1000000"},
    {"demo without speed", "{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T14:50Z\"}}",
     "/demo/speed: required field is missing"},
    {"demo field typo",
     "{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T14:50Z\",\"sped\":60}}",
     "/demo/sped: unknown field (did you mean \"speed\"?)"},
    {"virtual clock in a demo",
     "{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T14:50Z\",\"speed\":60},"
     "\"testing\":{\"virtual_clock\":true}}",
     "/testing/virtual_clock: a virtual clock is a test switch"},
    {"retention in seconds in production", "{\"testing\":{\"retention_s\":5}}",
     "/testing/retention_s: a retention in seconds is a test switch"},
    {"retention range", "{\"engine\":{\"retention_days\":0}}",
     "/engine/retention_days: 0 is out of range 1-36500"},
    {"max_pending range", "{\"redis\":{\"max_pending\":0}}",
     "/redis/max_pending: 0 is out of range 1-10000000"},
    {"insights delay not a duration", "{\"engine\":{\"insights_after\":[\"1h\",\"soon\"]}}",
     "/engine/insights_after/1: "},
    {"insights delays not a list", "{\"engine\":{\"insights_after\":\"1h\"}}",
     "/engine/insights_after: must be an array"},
    {"engine range", "{\"engine\":{\"max_attempts\":0}}",
     "/engine/max_attempts: 0 is out of range 1-100"},
    {"limit too small", "{\"limits\":{\"max_campaign_bytes\":10}}",
     "/limits/max_campaign_bytes: 10 is out of range 1024-67108864"},
    {"outbound typo", "{\"outbound\":{\"timeout_sm\":1000}}",
     "/outbound/timeout_sm: unknown field (did you mean \"timeout_ms\"?)"},
    {"outbound timeout range", "{\"outbound\":{\"connect_timeout_ms\":5}}",
     "/outbound/connect_timeout_ms: 5 is out of range 100-600000"},
    {"outbound response cap range", "{\"outbound\":{\"max_response_bytes\":10}}",
     "/outbound/max_response_bytes: 10 is out of range 1024-268435456"},
    {"outbound host connections", "{\"outbound\":{\"max_host_connections\":0}}",
     "/outbound/max_host_connections: 0 is out of range 1-10000"},
    {"outbound ca file missing", "{\"outbound\":{\"ca_file\":\"/nonexistent/ca.pem\"}}",
     "/outbound/ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory"},
    {"outbound not an object", "{\"outbound\":true}", "/outbound: must be an object, not"},
    {"not json", "{\"listen\":", "/: invalid JSON"},
    {"duplicate secrets",
     "{\"tokens\":[{\"name\":\"a\",\"role\":\"admin\",\"token\":\"0123456789abcdef\"},"
     "{\"name\":\"b\",\"role\":\"viewer\",\"token\":\"0123456789abcdef\"}]}",
     "/tokens/1: has the same secret as /tokens/0"},
};

static void test_bad_configs(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config c;
        char first[512], why[1100];
        int rc = load(bad[i].text, &c, first, sizeof first);
        char shown[520];
        /* The root's pointer is "", shown as "/" as `haechi validate` does. */
        snprintf(shown, sizeof shown, "%s%s", first[0] == ':' ? "/" : "", first);
        snprintf(why, sizeof why, "rc=%d got \"%s\" want \"%s\"", rc, shown, bad[i].want);
        check_row(bad[i].name, rc == -1 && strncmp(shown, bad[i].want, strlen(bad[i].want)) == 0,
                  why);
        config_release(&c);
    }
}

static void test_good_config(void)
{
    config c;
    char first[512];
    setenv("HAECHI_TEST_TOKEN", "env-secret-0123456789", 1);
    int rc =
        load("{\"listen\":\"127.0.0.1:0\",\"redis\":{\"address\":\"unix:/tmp/r.sock\","
             "\"prefix\":\"p1\",\"command_timeout_ms\":250},"
             "\"tokens\":[{\"name\":\"ed\",\"role\":\"editor\",\"token\":\"inline-secret-012345\"},"
             "{\"name\":\"vi\",\"role\":\"viewer\",\"token_env\":\"HAECHI_TEST_TOKEN\"}],"
             "\"limits\":{\"max_campaign_bytes\":2048,\"max_occurrences\":7}}",
             &c, first, sizeof first);
    CHECK_INT(rc, 0);
    CHECK_STR(first, "");
    CHECK_STR(c.redis_unix, "/tmp/r.sock");
    CHECK_STR(c.redis_prefix, "p1");
    CHECK_INT(c.redis_command_timeout_ms, 250);
    CHECK_INT(c.listen_port, 0);
    CHECK_INT(c.limits.max_bytes, 2048);
    CHECK_INT(c.limits.max_occurrences, 7);
    CHECK_INT(c.ntokens, 2);
    CHECK_INT(c.redis_max_pending, 10000);       /* the default */
    CHECK_INT(c.engine.retention_s, 90 * 86400); /* the default */
    CHECK_INT(c.engine.insights_n, 2);           /* the default 1h, 24h */
    CHECK_INT(c.engine.insights_after_ms[0], 3600000);
    CHECK_INT(c.engine.insights_after_ms[1], 86400000);

    const config_token *t = auth_find(&c, "Bearer inline-secret-012345");
    CHECK(t && strcmp(t->name, "ed") == 0);
    CHECK(t && t->perms == (PERM_READ | PERM_WRITE));
    t = auth_find(&c, "bearer env-secret-0123456789");
    CHECK(t && strcmp(t->name, "vi") == 0);
    CHECK(auth_find(&c, "Bearer inline-secret-01234") == NULL);   /* a prefix */
    CHECK(auth_find(&c, "Bearer inline-secret-0123456") == NULL); /* longer */
    CHECK(auth_find(&c, "Basic aW5saW5l") == NULL);
    CHECK(auth_find(&c, "Bearer ") == NULL);
    CHECK(auth_find(&c, NULL) == NULL);
    config_release(&c);
}

static void test_channels_and_engine(void)
{
    config c;
    char first[512];
    int rc = load(
        "{\"environment\":\"test\",\"testing\":{\"virtual_clock\":true,\"retention_s\":7},"
        "\"redis\":{\"max_pending\":50},"
        "\"engine\":{\"max_attempts\":3,\"expires_after\":\"2h\",\"retention_days\":2,"
        "\"insights_after\":[\"30m\",\"2d\",\"7d\"]},"
        "\"channels\":{\"kakao\":{\"adapter\":\"log\",\"quiet_hours\":false,"
        "\"fail_attempts\":2,\"max_inflight\":4},\"sns\":{\"quiet_hours\":{\"start\":\"22:30\","
        "\"end\":\"06:00\"},\"expires_after\":\"30m\"}}}",
        &c, first, sizeof first);
    CHECK_INT(rc, 0);
    CHECK_STR(first, "");
    CHECK_INT(c.virtual_clock, 1);
    CHECK_INT(c.engine.max_attempts, 3);
    CHECK_INT(c.engine.expires_after_s, 7200);
    CHECK_INT(c.engine.insights_n, 3);
    CHECK_INT(c.engine.insights_after_ms[2], 7LL * 86400000);
    CHECK_INT(c.engine.retention_s, 7); /* the test switch over retention_days */
    CHECK_INT(c.redis_max_pending, 50);
    CHECK_INT(c.engine.claim_batch, 1000); /* untouched default */
    CHECK_INT(c.channels[CHANNEL_KAKAO].quiet.on, 0);
    CHECK_INT(c.channels[CHANNEL_NEWSLETTER].quiet.on, 1); /* default night */
    CHECK_INT(c.channels[CHANNEL_NEWSLETTER].quiet.start_min, 21 * 60);
    CHECK_INT(c.channels[CHANNEL_SNS].quiet.start_min, 22 * 60 + 30);
    CHECK_INT(c.channels[CHANNEL_SNS].expires_after_s, 1800);
    CHECK(c.channels[CHANNEL_KAKAO].desc == adapter_find("log"));
    CHECK(c.channels[CHANNEL_KAKAO].adapter_conf != NULL); /* filled through JF_STORE */
    CHECK_INT(c.channels[CHANNEL_KAKAO].max_inflight, 4);
    CHECK_INT(c.channels[CHANNEL_KAKAO].rate_per_s, 0); /* the adapter's default */
    CHECK_STR(c.channels[CHANNEL_ALERT].adapter, "log");
    config_release(&c);
}

static void test_demo(void)
{
    config c;
    char first[512];
    int rc = load("{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T23:50:00+09:00\","
                  "\"speed\":1440,\"epoch\":\"2026-12-01T21:00:00Z\"}}",
                  &c, first, sizeof first);
    CHECK_INT(rc, 0);
    CHECK_STR(first, "");
    CHECK_INT(c.demo.on, 1);
    CHECK_INT(c.demo.speed, 1440);
    CHECK_INT(c.demo.start_ms, 1584802200000LL); /* 2020-03-21T14:50:00Z */
    CHECK_INT(c.demo.has_epoch, 1);
    CHECK_INT(c.demo.epoch_ms, 1796158800000LL);
    CHECK_INT(c.virtual_clock, 0);
    CHECK_INT(c.test_environment, 0);
    config_release(&c);

    rc = load("{\"environment\":\"demo\",\"demo\":{\"start\":\"2020-03-21T14:50Z\",\"speed\":2}}",
              &c, first, sizeof first);
    CHECK_INT(rc, 0);
    CHECK_INT(c.demo.has_epoch, 0);
    config_release(&c);

    rc = load("{}", &c, first, sizeof first);
    CHECK_INT(rc, 0);
    CHECK_INT(c.demo.on, 0);
    config_release(&c);
}

static void test_token_file_mode(void)
{
    char dir[] = "/tmp/haechi-config-XXXXXX";
    char path[300], text[600], first[512];
    config c;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/token", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("file-secret-0123456789\n", f);
    fclose(f);
    snprintf(text, sizeof text,
             "{\"tokens\":[{\"name\":\"f\",\"role\":\"admin\",\"token_file\":\"%s\"}]}", path);

    chmod(path, 0644);
    CHECK_INT(load(text, &c, first, sizeof first), -1);
    CHECK(strstr(first, "may be read by others (mode 644); chmod 600 it") != NULL);
    config_release(&c);

    chmod(path, 0600);
    CHECK_INT(load(text, &c, first, sizeof first), 0);
    CHECK(auth_find(&c, "Bearer file-secret-0123456789") != NULL); /* newline dropped */
    config_release(&c);
    unlink(path);
    rmdir(dir);
}

static void test_outbound(void)
{
    config c;
    char first[512];
    outbound_conf oc;
    int rc = load("{\"outbound\":{\"connect_timeout_ms\":1500,\"timeout_ms\":20000,"
                  "\"max_response_bytes\":65536,\"max_host_connections\":4,"
                  "\"max_total_connections\":64,\"ca_file\":\"/dev/null\"}}",
                  &c, first, sizeof first);
    CHECK_INT(rc, 0);
    CHECK_STR(first, "");
    config_outbound_conf(&c, &oc);
    CHECK_INT(oc.connect_timeout_ms, 1500);
    CHECK_INT(oc.timeout_ms, 20000);
    CHECK_INT(oc.max_response, 65536);
    CHECK_INT(oc.max_host_connections, 4);
    CHECK_INT(oc.max_total_connections, 64);
    CHECK_STR(oc.ca_file, "/dev/null");
    config_release(&c);

    /* Absent: zeros, which the client reads as its own defaults. */
    CHECK_INT(load("{}", &c, first, sizeof first), 0);
    config_outbound_conf(&c, &oc);
    CHECK_INT(oc.timeout_ms, 0);
    CHECK_INT(oc.max_response, 0);
    CHECK(oc.ca_file == NULL);
    config_release(&c);
}

static void test_roles(void)
{
    CHECK_INT(config_role_perms("viewer"), PERM_READ);
    CHECK_INT(config_role_perms("approver"), PERM_READ | PERM_APPROVE);
    CHECK_INT(config_role_perms("nobody"), 0);
    CHECK_STR(auth_role_for(PERM_READ), "viewer");
    CHECK_STR(auth_role_for(PERM_WRITE), "editor");
    CHECK_STR(auth_role_for(PERM_APPROVE), "approver");
    CHECK_STR(auth_role_for(PERM_ADMIN), "admin");
}

int main(void)
{
    test_bad_configs();
    RUN(test_good_config);
    RUN(test_channels_and_engine);
    RUN(test_demo);
    RUN(test_token_file_mode);
    RUN(test_outbound);
    RUN(test_roles);
    return check_exit_status();
}
