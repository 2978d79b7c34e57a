/*
 * config.c - reads the config file through the same shape walker as
 * campaigns, then copies it into struct config.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter.h"
#include "duration.h"
#include "fileio.h"
#include "isotime.h"
#include "jcheck.h"
#include "rconn.h"

#define MAX_SECRET_BYTES 4096
#define CONFIG_MAX_BYTES (16u * 1024 * 1024)

static const struct {
    const char *name;
    unsigned perms;
} roles[] = {
    {"viewer", PERM_READ},
    {"editor", PERM_READ | PERM_WRITE},
    {"approver", PERM_READ | PERM_APPROVE},
    {"admin", PERM_READ | PERM_WRITE | PERM_APPROVE | PERM_ADMIN},
};

unsigned config_role_perms(const char *role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i].name) == 0)
            return roles[i].perms;
    return 0;
}

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->redis_host, sizeof c->redis_host, "127.0.0.1");
    c->redis_port = 6379;
    snprintf(c->redis_prefix, sizeof c->redis_prefix, "haechi");
    c->redis_command_timeout_ms = 5000;
    c->redis_max_pending = RCONN_MAX_PENDING_DEFAULT;
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    campaign_limits_default(&c->limits);
    c->max_connections = 1024;
    c->header_timeout_ms = 10000;
    /* Promotional channels stay silent at night by default. */
    quiet_hours night = {.on = 1, .start_min = 21 * 60, .end_min = 8 * 60};
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        snprintf(c->channels[ch].adapter, sizeof c->channels[ch].adapter, "log");
        if (channel_has(ch, CHANNEL_NIGHT_QUIET))
            c->channels[ch].quiet = night;
    }
    c->engine = (engine_conf){
        .claim_batch = 1000,
        .max_attempts = 5,
        .backoff_ms = 1000,
        .backoff_max_ms = 300000,
        .reclaim_idle_ms = 30000,
        .expires_after_s = 3600,
        .worker_concurrency = 64,
        .retention_s = 90 * 86400,
        .drain_timeout_ms = 10000,
        .insights_after_ms = {3600000, 86400000},
        .insights_n = 2,
    };
}

void config_release(config *c)
{
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        free(c->channels[ch].adapter_conf);
    free(c->tokens);
    free(c->redis_password);
    free(c->client_token);
    memset(c, 0, sizeof *c);
}

void config_outbound_conf(const config *c, outbound_conf *out)
{
    const config_outbound *o = &c->outbound;
    *out = (outbound_conf){
        .connect_timeout_ms = (long)o->connect_timeout_ms,
        .timeout_ms = (long)o->timeout_ms,
        .max_response = (size_t)o->max_response_bytes,
        .max_host_connections = (long)o->max_host_connections,
        .max_total_connections = (long)o->max_total_connections,
        .ca_file = o->ca_file[0] ? o->ca_file : NULL,
    };
}

void config_rconn_options(const config *c, const char *name, rconn_options *out)
{
    *out = (rconn_options){
        .host = c->redis_host,
        .port = c->redis_port,
        .unix_path = c->redis_unix,
        .password = c->redis_password,
        .timeout_ms = c->redis_command_timeout_ms,
        .max_pending = c->redis_max_pending,
        .name = name,
    };
}

const char *config_default_path(void)
{
    const char *env = getenv("HAECHI_CONFIG");
    if (env && *env)
        return env;
    if (access("/etc/haechi/haechi.json", R_OK) == 0)
        return "/etc/haechi/haechi.json";
    return NULL;
}

/* ---- checks -------------------------------------------------------------- */

/* "host:port", "[v6]:port", or "unix:/path" / "/path" for a socket. */
static int split_address(const char *s, char *host, size_t hostlen, int *port, char *unix_path,
                         size_t unixlen)
{
    host[0] = unix_path[0] = '\0';
    *port = 0;
    if (strncmp(s, "unix:", 5) == 0 || s[0] == '/') {
        const char *p = s[0] == '/' ? s : s + 5;
        if (p[0] != '/' || strlen(p) >= unixlen || strlen(p) >= 100)
            return -1; /* sun_path holds about 100 bytes */
        snprintf(unix_path, unixlen, "%s", p);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']')
            return -1;
        h = s + 1;
        hl -= 2;
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int check_redis_address(jcheck_ctx *cx, json_t *v, const char *path)
{
    char host[256], unix_path[256];
    int port;
    if (split_address(json_string_value(v), host, sizeof host, &port, unix_path,
                      sizeof unix_path) != 0 ||
        (!unix_path[0] && port == 0)) {
        jcheck_error(cx, path, "address",
                     "\"%s\" is not an address: use HOST:PORT (e.g. 127.0.0.1:6379) or "
                     "unix:/path/to/redis.sock",
                     json_string_value(v));
        return -1;
    }
    return 0;
}

static int check_listen_address(jcheck_ctx *cx, json_t *v, const char *path)
{
    char host[256], unix_path[256];
    int port;
    if (split_address(json_string_value(v), host, sizeof host, &port, unix_path,
                      sizeof unix_path) != 0 ||
        unix_path[0]) {
        jcheck_error(cx, path, "address",
                     "\"%s\" is not a listen address: use HOST:PORT, e.g. 127.0.0.1:8080 "
                     "(port 0 picks a free port)",
                     json_string_value(v));
        return -1;
    }
    return 0;
}

static int check_prefix(jcheck_ctx *cx, json_t *v, const char *path)
{
    for (const char *p = json_string_value(v); *p; p++) {
        if (*p == '{' || *p == '}' || *p == ' ' || *p == '*' || *p == '?' || *p == '[') {
            jcheck_error(cx, path, "prefix",
                         "must not contain '%c' (braces would break the hash tags, "
                         "wildcards the key scans)",
                         *p);
            return -1;
        }
    }
    return 0;
}

/* Exactly one way of giving a secret. */
static int check_secret_source(jcheck_ctx *cx, json_t *obj, const char *path, const char *what)
{
    int n = !!json_object_get(obj, "token") + !!json_object_get(obj, "token_env") +
            !!json_object_get(obj, "token_file");
    if (n != 1) {
        jcheck_error(cx, path, "one-of",
                     n ? "gives its %s more than one way: keep one of \"token\", "
                         "\"token_env\", \"token_file\""
                       : "needs its %s: one of \"token\", \"token_env\" (an environment "
                         "variable) or \"token_file\"",
                     what);
        return -1;
    }
    return 0;
}

static int check_token_entry(jcheck_ctx *cx, json_t *obj, const char *path)
{
    return check_secret_source(cx, obj, path, "secret");
}

static int check_client(jcheck_ctx *cx, json_t *obj, const char *path)
{
    if (!json_object_get(obj, "token") && !json_object_get(obj, "token_env") &&
        !json_object_get(obj, "token_file"))
        return 0;
    return check_secret_source(cx, obj, path, "token");
}

static const char *const role_names[] = {"viewer", "editor", "approver", "admin", NULL};

static const jfield token_fields[] = {
    {.name = "name", .kind = JK_STRING, .required = 1, .min = 1, .max = 64},
    {.name = "role", .kind = JK_STRING, .required = 1, .choices = role_names},
    {.name = "token", .kind = JK_STRING, .min = 16, .max = 512},
    {.name = "token_env", .kind = JK_STRING, .min = 1, .max = 128},
    {.name = "token_file", .kind = JK_STRING, .min = 1, .max = 1024},
    {0}};
static const jobject token_shape = {.fields = token_fields, .check = check_token_entry};
static const jfield token_item = {.kind = JK_OBJECT, .object = &token_shape};

static const jfield redis_fields[] = {
    {.name = "address", .kind = JK_STRING, .min = 1, .max = 255, .check = check_redis_address},
    {.name = "prefix", .kind = JK_STRING, .min = 1, .max = 64, .check = check_prefix},
    {.name = "password_env", .kind = JK_STRING, .min = 1, .max = 128},
    {.name = "command_timeout_ms", .kind = JK_INT, .min = 100, .max = 600000},
    {.name = "max_pending", .kind = JK_INT, .min = 1, .max = 10000000},
    {0}};
static const jobject redis_shape = {.fields = redis_fields};

static const jfield limits_fields[] = {
    {.name = "max_campaign_bytes", .kind = JK_INT, .min = 1024, .max = 64 * 1024 * 1024},
    {.name = "max_occurrences", .kind = JK_INT, .min = 1, .max = 1000000},
    {.name = "max_connections", .kind = JK_INT, .min = 1, .max = 100000},
    {.name = "header_timeout_ms", .kind = JK_INT, .min = 100, .max = 600000},
    {0}};
static const jobject limits_shape = {.fields = limits_fields};

static const jfield client_fields[] = {
    {.name = "url", .kind = JK_STRING, .min = 1, .max = 500},
    {.name = "token", .kind = JK_STRING, .min = 1, .max = 512},
    {.name = "token_env", .kind = JK_STRING, .min = 1, .max = 128},
    {.name = "token_file", .kind = JK_STRING, .min = 1, .max = 1024},
    {0}};
static const jobject client_shape = {.fields = client_fields, .check = check_client};

static int check_adapter_name(jcheck_ctx *cx, json_t *v, const char *path)
{
    if (adapter_find(json_string_value(v)))
        return 0;
    char names[256];
    adapter_names(names, sizeof names);
    jcheck_error(cx, path, "enum", "no adapter \"%s\"; known: %s", json_string_value(v), names);
    return -1;
}

/* The engine's fields of every channel section; the adapter's own follow. */
#define ENGINE_CHANNEL_FIELDS                                                                      \
    {.name = "adapter", .kind = JK_STRING, .min = 1, .max = 31, .check = check_adapter_name},      \
        {.name = "expires_after",                                                                  \
         .kind = JK_STRING,                                                                        \
         .min = 1,                                                                                 \
         .max = 32,                                                                                \
         .check = duration_check_expiry},                                                          \
        {.name = "max_inflight", .kind = JK_INT, .min = 1, .max = 10000},                          \
        {.name = "rate_per_s", .kind = JK_INT, .min = 1, .max = 1000000},                          \
    {                                                                                              \
        .name = "burst", .kind = JK_INT, .min = 1, .max = 1000000                                  \
    }

static const jfield engine_channel_fields[] = {
    ENGINE_CHANNEL_FIELDS, {.name = "quiet_hours", .kind = JK_ANY, .check = quiet_check}, {0}};
static const jfield never_quiet_channel_fields[] = {
    ENGINE_CHANNEL_FIELDS,
    {.name = "quiet_hours", .kind = JK_ANY, .check = quiet_refuse_check},
    {0}};

#define MAX_SECTION_FIELDS 64

/*
 * A channel's section is closed over the engine's fields plus those of the
 * adapter it names, so a typo in either is an error with a "did you mean".
 */
static int check_channel_section(jcheck_ctx *cx, json_t *v, const char *path)
{
    const char *slash = strrchr(path, '/');
    int ch = slash ? channel_from_name(slash + 1) : -1;
    const char *name = json_string_value(json_object_get(v, "adapter"));
    const adapter_desc *d = adapter_find(name ? name : "log");
    jfield merged[MAX_SECTION_FIELDS + 1];
    size_t n = 0;

    const jfield *own = ch >= 0 && channel_has(ch, CHANNEL_NEVER_QUIET) ? never_quiet_channel_fields
                                                                        : engine_channel_fields;
    for (const jfield *f = own; f->name && n < MAX_SECTION_FIELDS; f++)
        merged[n++] = *f;
    for (const jfield *f = d && d->config_shape ? d->config_shape->fields : NULL;
         f && f->name && n < MAX_SECTION_FIELDS; f++)
        merged[n++] = *f;
    memset(&merged[n], 0, sizeof merged[n]);
    jobject shape = {.fields = merged};
    jfield section = {.kind = JK_OBJECT, .object = &shape};
    return jcheck_value(cx, v, &section);
}

#define CHANNEL_SECTION_(id, name_, traits_)                                                       \
    {.name = #name_, .kind = JK_ANY, .check = check_channel_section},
static const jfield channels_fields[] = {HAECHI_CHANNELS(CHANNEL_SECTION_){0}};
#undef CHANNEL_SECTION_
static const jobject channels_shape = {.fields = channels_fields};

static const jfield insights_item = {
    .kind = JK_STRING, .min = 1, .max = 32, .check = duration_check_expiry};

static const jfield engine_fields[] = {
    {.name = "claim_batch", .kind = JK_INT, .min = 1, .max = 10000},
    {.name = "max_attempts", .kind = JK_INT, .min = 1, .max = 100},
    {.name = "backoff_ms", .kind = JK_INT, .min = 1, .max = 3600000},
    {.name = "backoff_max_ms", .kind = JK_INT, .min = 1, .max = 86400000},
    {.name = "reclaim_idle_ms", .kind = JK_INT, .min = 100, .max = 86400000},
    {.name = "expires_after",
     .kind = JK_STRING,
     .min = 1,
     .max = 32,
     .check = duration_check_expiry},
    {.name = "worker_concurrency", .kind = JK_INT, .min = 1, .max = 10000},
    {.name = "retention_days", .kind = JK_INT, .min = 1, .max = 36500},
    {.name = "drain_timeout_ms", .kind = JK_INT, .min = 0, .max = 3600000},
    {.name = "insights_after",
     .kind = JK_ARRAY,
     .max = ENGINE_INSIGHTS_MAX,
     .item = &insights_item},
    {0}};
static const jobject engine_shape = {.fields = engine_fields};

static const jfield testing_fields[] = {
    {.name = "virtual_clock", .kind = JK_BOOL},
    {.name = "retention_s", .kind = JK_INT, .min = 1, .max = 86400},
    {0}};
static const jobject testing_shape = {.fields = testing_fields};

/* A demo's times are instants: the config has no time zone to read a
 * local time in. */
static int check_instant(jcheck_ctx *cx, json_t *v, const char *path)
{
    isotime t;
    char why[160];
    if (isotime_parse(json_string_value(v), &t, why, sizeof why) != 0) {
        jcheck_error(cx, path, "time", "%s", why);
        return -1;
    }
    if (!t.has_offset) {
        jcheck_error(cx, path, "time",
                     "\"%s\" has no offset: write it with Z or +HH:MM, e.g. "
                     "2020-03-21T23:50:00+09:00",
                     json_string_value(v));
        return -1;
    }
    return 0;
}

static const jfield demo_fields[] = {
    {.name = "start", .kind = JK_STRING, .required = 1, .max = 64, .check = check_instant},
    {.name = "speed", .kind = JK_INT, .required = 1, .min = 1, .max = 1000000},
    {.name = "epoch", .kind = JK_STRING, .max = 64, .check = check_instant},
    {0}};
static const jobject demo_shape = {.fields = demo_fields};

static int check_readable(jcheck_ctx *cx, json_t *v, const char *path)
{
    if (access(json_string_value(v), R_OK) == 0)
        return 0;
    jcheck_error(cx, path, "file", "cannot read \"%s\": %s", json_string_value(v), strerror(errno));
    return -1;
}

static const jfield outbound_fields[] = {{.name = "connect_timeout_ms",
                                          .kind = JK_INT,
                                          .min = 100,
                                          .max = 600000,
                                          JF_STORE(config_outbound, connect_timeout_ms)},
                                         {.name = "timeout_ms",
                                          .kind = JK_INT,
                                          .min = 100,
                                          .max = 3600000,
                                          JF_STORE(config_outbound, timeout_ms)},
                                         {.name = "max_response_bytes",
                                          .kind = JK_INT,
                                          .min = 1024,
                                          .max = 256 * 1024 * 1024,
                                          JF_STORE(config_outbound, max_response_bytes)},
                                         {.name = "max_host_connections",
                                          .kind = JK_INT,
                                          .min = 1,
                                          .max = 10000,
                                          JF_STORE(config_outbound, max_host_connections)},
                                         {.name = "max_total_connections",
                                          .kind = JK_INT,
                                          .min = 1,
                                          .max = 100000,
                                          JF_STORE(config_outbound, max_total_connections)},
                                         {.name = "ca_file",
                                          .kind = JK_STRING,
                                          .min = 1,
                                          .max = 1023,
                                          .check = check_readable,
                                          JF_STORE(config_outbound, ca_file)},
                                         {0}};
static const jobject outbound_shape = {.fields = outbound_fields};

static const char *const environments[] = {"production", "test", "demo", NULL};

/* Test and demo switches must never reach a production daemon by accident. */
static int check_test_switches(jcheck_ctx *cx, json_t *doc, const char *path)
{
    const char *env = json_string_value(json_object_get(doc, "environment"));
    json_t *testing = json_object_get(doc, "testing"), *demo = json_object_get(doc, "demo");
    int rc = 0;
    (void)path;
    if (json_is_true(json_object_get(testing, "virtual_clock")) &&
        !(env && strcmp(env, "test") == 0)) {
        jcheck_error(cx, "/testing/virtual_clock", "not-allowed",
                     "a virtual clock is a test switch: it needs \"environment\": \"test\", "
                     "and a production config must not have it");
        rc = -1;
    }
    if (demo && !(env && strcmp(env, "demo") == 0)) {
        jcheck_error(cx, "/demo", "not-allowed",
                     "a demo clock replays the past fast: it needs \"environment\": \"demo\", "
                     "and a production config must not have it");
        rc = -1;
    } else if (!demo && env && strcmp(env, "demo") == 0) {
        jcheck_error(cx, "/demo", "required",
                     "\"environment\": \"demo\" needs a \"demo\" section: "
                     "{\"start\": TIME, \"speed\": N}");
        rc = -1;
    }
    if (json_object_get(testing, "retention_s") && !(env && strcmp(env, "test") == 0)) {
        jcheck_error(cx, "/testing/retention_s", "not-allowed",
                     "a retention in seconds is a test switch: it needs \"environment\": "
                     "\"test\"; use engine.retention_days");
        rc = -1;
    }
    return rc;
}

static const jfield config_fields[] = {
    {.name = "$schema", .kind = JK_STRING, .min = 1, .max = 2048},
    {.name = "listen", .kind = JK_STRING, .min = 1, .max = 255, .check = check_listen_address},
    {.name = "redis", .kind = JK_OBJECT, .object = &redis_shape},
    {.name = "tokens", .kind = JK_ARRAY, .max = 1000, .item = &token_item},
    {.name = "limits", .kind = JK_OBJECT, .object = &limits_shape},
    {.name = "client", .kind = JK_OBJECT, .object = &client_shape},
    {.name = "channels", .kind = JK_OBJECT, .object = &channels_shape},
    {.name = "engine", .kind = JK_OBJECT, .object = &engine_shape},
    {.name = "outbound", .kind = JK_OBJECT, .object = &outbound_shape},
    {.name = "environment", .kind = JK_STRING, .choices = environments},
    {.name = "testing", .kind = JK_OBJECT, .object = &testing_shape},
    {.name = "demo", .kind = JK_OBJECT, .object = &demo_shape},
    {0}};
static const jobject config_shape = {.fields = config_fields, .check = check_test_switches};

/* ---- secrets ----------------------------------------------------------- */

/* Reads a secret from a file only its owner may read; trailing newlines
 * are dropped. Returns a new string or NULL with a reason. */
static char *read_secret_file(const char *file, char *why, size_t whylen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open \"%s\": %s", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "\"%s\" is not a regular file", file);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(why, whylen, "\"%s\" may be read by others (mode %03o); chmod 600 it", file,
                 (unsigned)(st.st_mode & 0777));
        goto out;
    }
    buf = malloc(MAX_SECRET_BYTES + 1);
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    ssize_t n = read(fd, buf, MAX_SECRET_BYTES + 1);
    if (n < 0 || n > MAX_SECRET_BYTES) {
        snprintf(why, whylen, "\"%s\" could not be read or is over %d bytes", file,
                 MAX_SECRET_BYTES);
        free(buf);
        buf = NULL;
        goto out;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
out:
    close(fd);
    return buf;
}

/* The secret of OBJ (token / token_env / token_file), as a new string. */
static char *resolve_secret(json_t *obj, char *why, size_t whylen)
{
    const char *inline_token = json_string_value(json_object_get(obj, "token"));
    const char *env = json_string_value(json_object_get(obj, "token_env"));
    const char *file = json_string_value(json_object_get(obj, "token_file"));

    if (inline_token)
        return strdup(inline_token);
    return config_secret(env, file, why, whylen);
}

char *config_secret(const char *env, const char *file, char *why, size_t whylen)
{
    if (env && *env) {
        const char *v = getenv(env);
        if (!v || !*v) {
            snprintf(why, whylen, "environment variable %s is not set", env);
            return NULL;
        }
        return strdup(v);
    }
    if (file && *file)
        return read_secret_file(file, why, whylen);
    snprintf(why, whylen, "no secret given");
    return NULL;
}

static void sha256(const char *s, unsigned char out[32])
{
    unsigned int len = 32;
    EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL);
}

/* ---- copying into struct config ------------------------------------------- */

static void load_tokens(json_t *list, config *c, diag_list *errs)
{
    size_t n = json_array_size(list), i;
    json_t *item;
    if (n == 0)
        return;
    c->tokens = calloc(n, sizeof *c->tokens);
    if (!c->tokens) {
        diag_add(errs, "/tokens", "internal", "out of memory");
        return;
    }
    json_array_foreach(list, i, item)
    {
        char why[256], path[64];
        char *secret = resolve_secret(item, why, sizeof why);
        snprintf(path, sizeof path, "/tokens/%zu", i);
        if (!secret) {
            diag_add(errs, path, "secret", "%s", why);
            continue;
        }
        if (strlen(secret) < 16) {
            diag_add(errs, path, "secret", "the secret is %zu characters; tokens need at least 16",
                     strlen(secret));
            free(secret);
            continue;
        }
        config_token *t = &c->tokens[c->ntokens];
        snprintf(t->name, sizeof t->name, "%s", json_string_value(json_object_get(item, "name")));
        snprintf(t->role, sizeof t->role, "%s", json_string_value(json_object_get(item, "role")));
        t->perms = config_role_perms(t->role);
        sha256(secret, t->digest);
        /* The secret itself is not kept past start-up. */
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
        for (size_t j = 0; j < c->ntokens; j++) {
            if (memcmp(c->tokens[j].digest, t->digest, sizeof t->digest) == 0) {
                diag_add(errs, path, "duplicate", "has the same secret as /tokens/%zu", j);
                break;
            }
        }
        c->ntokens++;
    }
}

static void copy_engine(json_t *e, engine_conf *out)
{
    json_t *v;
    int64_t secs;
    char why[128];
    if ((v = json_object_get(e, "claim_batch")))
        out->claim_batch = (int)json_integer_value(v);
    if ((v = json_object_get(e, "max_attempts")))
        out->max_attempts = (int)json_integer_value(v);
    if ((v = json_object_get(e, "backoff_ms")))
        out->backoff_ms = json_integer_value(v);
    if ((v = json_object_get(e, "backoff_max_ms")))
        out->backoff_max_ms = json_integer_value(v);
    if ((v = json_object_get(e, "reclaim_idle_ms")))
        out->reclaim_idle_ms = json_integer_value(v);
    if ((v = json_object_get(e, "worker_concurrency")))
        out->worker_concurrency = (int)json_integer_value(v);
    if ((v = json_object_get(e, "retention_days")))
        out->retention_s = json_integer_value(v) * 86400;
    if ((v = json_object_get(e, "drain_timeout_ms")))
        out->drain_timeout_ms = json_integer_value(v);
    if ((v = json_object_get(e, "expires_after")) &&
        duration_parse(json_string_value(v), &secs, why, sizeof why) == 0)
        out->expires_after_s = secs;
    if ((v = json_object_get(e, "insights_after"))) {
        size_t i;
        json_t *d;
        out->insights_n = 0;
        json_array_foreach(v, i, d)
        {
            if (out->insights_n < ENGINE_INSIGHTS_MAX &&
                duration_parse(json_string_value(d), &secs, why, sizeof why) == 0)
                out->insights_after_ms[out->insights_n++] = secs * 1000;
        }
    }
}

static void copy_channel(json_t *section, channel_conf *out, const char *path, diag_list *errs)
{
    json_t *v;
    int64_t secs;
    char why[128];
    if (section) {
        if ((v = json_object_get(section, "adapter"))) {
            snprintf(out->adapter, sizeof out->adapter, "%s", json_string_value(v));
            out->named = 1;
        }
        if ((v = json_object_get(section, "quiet_hours")))
            quiet_parse(v, &out->quiet);
        if ((v = json_object_get(section, "expires_after")) &&
            duration_parse(json_string_value(v), &secs, why, sizeof why) == 0)
            out->expires_after_s = secs;
        if ((v = json_object_get(section, "max_inflight")))
            out->max_inflight = (int)json_integer_value(v);
        if ((v = json_object_get(section, "rate_per_s")))
            out->rate_per_s = (int)json_integer_value(v);
        if ((v = json_object_get(section, "burst")))
            out->burst = (int)json_integer_value(v);
    }
    out->desc = adapter_find(out->adapter);
    if (!out->desc || !out->desc->config_shape || out->desc->config_size == 0)
        return;
    out->adapter_conf = calloc(1, out->desc->config_size);
    if (!out->adapter_conf ||
        (section && jcheck_store(section, out->desc->config_shape, out->adapter_conf) != 0))
        diag_add(errs, path, "internal", "the %s adapter's settings could not be kept",
                 out->adapter);
}

/* Only after the walk: the times parse, the environment is "demo". */
static void copy_demo(json_t *demo, config *c)
{
    isotime t;
    char why[160];
    if (!demo)
        return;
    c->demo.on = 1;
    c->demo.speed = (int)json_integer_value(json_object_get(demo, "speed"));
    isotime_parse(json_string_value(json_object_get(demo, "start")), &t, why, sizeof why);
    c->demo.start_ms = isotime_instant(&t, NULL, NULL) * 1000;
    json_t *epoch = json_object_get(demo, "epoch");
    if (epoch) {
        isotime_parse(json_string_value(epoch), &t, why, sizeof why);
        c->demo.epoch_ms = isotime_instant(&t, NULL, NULL) * 1000;
        c->demo.has_epoch = 1;
    }
}

static void copy_sections(json_t *doc, config *c, diag_list *errs)
{
    json_t *v, *redis = json_object_get(doc, "redis"), *limits = json_object_get(doc, "limits");
    json_t *client = json_object_get(doc, "client");

    if ((v = json_object_get(doc, "listen"))) {
        char unix_path[256];
        split_address(json_string_value(v), c->listen_host, sizeof c->listen_host, &c->listen_port,
                      unix_path, sizeof unix_path);
    }
    if ((v = json_object_get(redis, "address")))
        split_address(json_string_value(v), c->redis_host, sizeof c->redis_host, &c->redis_port,
                      c->redis_unix, sizeof c->redis_unix);
    if ((v = json_object_get(redis, "prefix")))
        snprintf(c->redis_prefix, sizeof c->redis_prefix, "%s", json_string_value(v));
    if ((v = json_object_get(redis, "command_timeout_ms")))
        c->redis_command_timeout_ms = (int)json_integer_value(v);
    if ((v = json_object_get(redis, "max_pending")))
        c->redis_max_pending = (int)json_integer_value(v);
    if ((v = json_object_get(redis, "password_env")) && !c->for_client) {
        const char *pw = getenv(json_string_value(v));
        if (!pw || !*pw)
            diag_add(errs, "/redis/password_env", "secret", "environment variable %s is not set",
                     json_string_value(v));
        else
            c->redis_password = strdup(pw);
    }
    if ((v = json_object_get(limits, "max_campaign_bytes")))
        c->limits.max_bytes = (size_t)json_integer_value(v);
    if ((v = json_object_get(limits, "max_occurrences")))
        c->limits.max_occurrences = (size_t)json_integer_value(v);
    if ((v = json_object_get(limits, "max_connections")))
        c->max_connections = (int)json_integer_value(v);
    if ((v = json_object_get(limits, "header_timeout_ms")))
        c->header_timeout_ms = (int)json_integer_value(v);
    if ((v = json_object_get(client, "url")))
        snprintf(c->client_url, sizeof c->client_url, "%s", json_string_value(v));
    if (c->for_client && client &&
        (json_object_get(client, "token") || json_object_get(client, "token_env") ||
         json_object_get(client, "token_file"))) {
        char why[256];
        c->client_token = resolve_secret(client, why, sizeof why);
        if (!c->client_token)
            diag_add(errs, "/client", "secret", "%s", why);
    }
    if (!c->for_client)
        load_tokens(json_object_get(doc, "tokens"), c, errs);
    copy_engine(json_object_get(doc, "engine"), &c->engine);
    if ((v = json_object_get(doc, "outbound")) &&
        jcheck_store(v, &outbound_shape, &c->outbound) != 0)
        diag_add(errs, "/outbound", "internal", "the outbound settings could not be kept");
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        char path[64];
        snprintf(path, sizeof path, "/channels/%s", channel_names[ch]);
        copy_channel(json_object_get(json_object_get(doc, "channels"), channel_names[ch]),
                     &c->channels[ch], path, errs);
    }
    c->test_environment =
        json_string_value(json_object_get(doc, "environment")) &&
        strcmp(json_string_value(json_object_get(doc, "environment")), "test") == 0;
    c->virtual_clock =
        json_is_true(json_object_get(json_object_get(doc, "testing"), "virtual_clock"));
    copy_demo(json_object_get(doc, "demo"), c);
    if ((v = json_object_get(json_object_get(doc, "testing"), "retention_s")))
        c->engine.retention_s = json_integer_value(v);
}

int config_load_buffer(const char *buf, size_t len, config *c, diag_list *errs)
{
    json_error_t jerr;
    jcheck_ctx cx;
    size_t before = errs->len;

    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        diag_add(errs, "", "json", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return -1;
    }
    jcheck_init(&cx, errs, NULL);
    jcheck_object(&cx, doc, &config_shape);
    jcheck_release(&cx);
    if (errs->len == before && json_is_object(doc))
        copy_sections(doc, c, errs);
    json_decref(doc);
    return errs->len == before ? 0 : -1;
}

int config_load_file(const char *path, config *c, diag_list *errs)
{
    char *buf, why[512];
    size_t len;
    int over;
    if (file_read_capped(path, CONFIG_MAX_BYTES, &buf, &len, &over, why, sizeof why) != 0) {
        diag_add(errs, "", "file", "config: %s", why);
        return -1;
    }
    int rc = -1;
    if (over)
        diag_add(errs, "", "size", "config \"%s\" is over 16 MiB", path);
    else
        rc = config_load_buffer(buf, len, c, errs);
    free(buf);
    return rc;
}
