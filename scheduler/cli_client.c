/*
 * cli_client.c - the verbs that talk to a haechi server over its HTTP API:
 * submit, list, status, pause, resume, cancel. They work the same against a
 * local or a remote server.
 *
 * Where the server is: --url, else $HAECHI_URL, else the config's
 * client.url, else its listen address. The token: --token, else
 * $HAECHI_TOKEN, else the config's client token.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "config.h"
#include "fileio.h"
#include "httpc.h"
#include "releases.h"
#include "verbs.h"

#define SUBMIT_READ_MAX (64u * 1024 * 1024)

typedef struct client {
    char url[512];
    char *token;
    int json;
    int replace;  /* submit --replace */
    int catch_up; /* resume --catch-up */
    int now;      /* release --now */
    int all;      /* dead retry --all */
    long limit;   /* list --limit; 0: every campaign */
    const char *verb_name;
} client;

/* Verb-specific flags a verb accepts, besides the common ones. */
enum { FLAG_REPLACE = 1, FLAG_CATCH_UP = 2, FLAG_NOW = 4, FLAG_ALL = 8, FLAG_LIMIT = 16 };

/* Parses the common options; returns the index of the first operand or -1. */
static int client_setup(client *cl, const char *verb_name, int argc, char **argv, unsigned accepts)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},    {"token", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"replace", no_argument, NULL, 'R'},      {"catch-up", no_argument, NULL, 'C'},
        {"now", no_argument, NULL, 'N'},          {"all", no_argument, NULL, 'A'},
        {"limit", required_argument, NULL, 'L'},  {NULL, 0, NULL, 0},
    };
    const char *url = NULL, *token = NULL, *config_path = config_default_path();
    int opt;

    memset(cl, 0, sizeof *cl);
    cl->verb_name = verb_name;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "u:t:c:j", opts, NULL)) != -1) {
        switch (opt) {
        case 'u': url = optarg; break;
        case 't': token = optarg; break;
        case 'c': config_path = optarg; break;
        case 'j': cl->json = 1; break;
        case 'R':
            if (!(accepts & FLAG_REPLACE))
                goto usage;
            cl->replace = 1;
            break;
        case 'C':
            if (!(accepts & FLAG_CATCH_UP))
                goto usage;
            cl->catch_up = 1;
            break;
        case 'N':
            if (!(accepts & FLAG_NOW))
                goto usage;
            cl->now = 1;
            break;
        case 'A':
            if (!(accepts & FLAG_ALL))
                goto usage;
            cl->all = 1;
            break;
        case 'L': {
            char *end;
            if (!(accepts & FLAG_LIMIT))
                goto usage;
            cl->limit = strtol(optarg, &end, 10);
            if (*end || end == optarg || cl->limit < 1) {
                fprintf(stderr, "haechi %s: --limit takes a whole number from 1, not \"%s\"\n",
                        verb_name, optarg);
                return -1;
            }
            break;
        }
        default: goto usage;
        }
    }
    if (!url)
        url = getenv("HAECHI_URL");
    if (!token)
        token = getenv("HAECHI_TOKEN");
    if ((!url || !*url || !token || !*token) && config_path) {
        config cfg;
        diag_list errs;
        config_defaults(&cfg);
        cfg.for_client = 1;
        diag_list_init(&errs);
        if (config_load_file(config_path, &cfg, &errs) != 0) {
            fprintf(stderr, "haechi %s: config %s is invalid: %s%s%s\n", verb_name, config_path,
                    errs.len ? errs.items[0].path : "", errs.len ? ": " : "",
                    errs.len ? errs.items[0].message : "");
            diag_list_release(&errs);
            config_release(&cfg);
            return -1;
        }
        diag_list_release(&errs);
        if (!url || !*url) {
            if (cfg.client_url[0])
                snprintf(cl->url, sizeof cl->url, "%s", cfg.client_url);
            else
                snprintf(cl->url, sizeof cl->url, "http://%s:%d", cfg.listen_host, cfg.listen_port);
        }
        if ((!token || !*token) && cfg.client_token)
            cl->token = strdup(cfg.client_token);
        config_release(&cfg);
    }
    if (url && *url)
        snprintf(cl->url, sizeof cl->url, "%s", url);
    if (!cl->url[0])
        snprintf(cl->url, sizeof cl->url, "http://127.0.0.1:8080");
    /* No trailing slash: paths are appended. */
    size_t n = strlen(cl->url);
    while (n > 0 && cl->url[n - 1] == '/')
        cl->url[--n] = '\0';
    if (token && *token) {
        free(cl->token);
        cl->token = strdup(token);
    }
    return optind;
usage:
    verb_bad_option(verb_name, argv);
    return -1;
}

static void client_release(client *cl)
{
    free(cl->token);
}

/* Prints the server's refusal as one line; returns the exit status. */
static int report_failure(const client *cl, const httpc_answer *a, json_t *body)
{
    const char *error = json_string_value(json_object_get(body, "error"));
    const char *message = json_string_value(json_object_get(body, "message"));
    json_t *errors = json_object_get(body, "errors");

    if (json_is_array(errors)) {
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
        {
            const char *path = json_string_value(json_object_get(e, "path"));
            printf("%s: %s\n", path && *path ? path : "/",
                   json_string_value(json_object_get(e, "message")));
        }
    }
    if (error)
        fprintf(stderr, "haechi %s: %ld %s: %s\n", cl->verb_name, a->status, error,
                message ? message : "");
    else if (a->status == 413)
        fprintf(stderr,
                "haechi %s: HTTP 413 from %s: the body is far over the server's "
                "limits.max_campaign_bytes (1 MiB by default)\n",
                cl->verb_name, cl->url);
    else
        fprintf(stderr, "haechi %s: HTTP %ld from %s\n", cl->verb_name, a->status, cl->url);
    return 1;
}

/*
 * One request; on success hands the parsed answer to SHOW (unless --json).
 * Returns the exit status.
 */
static int call(client *cl, const char *method, const char *path, const char *body, size_t len,
                void (*show)(json_t *answer, const client *cl))
{
    char url[1024];
    httpc_answer a;
    int rc;

    snprintf(url, sizeof url, "%s%s", cl->url, path);
    if (httpc_request(method, url, cl->token, body, len, &a) != 0) {
        /* A server cuts off a body far over its limit before answering. */
        if (len > 2 * CAMPAIGN_DEFAULT_MAX_BYTES)
            fprintf(stderr,
                    "haechi %s: the server closed the connection while %zu bytes were sent "
                    "(%s); campaigns are limited to limits.max_campaign_bytes, 1 MiB by "
                    "default\n",
                    cl->verb_name, len, a.error);
        else
            fprintf(stderr, "haechi %s: cannot reach the server: %s\n", cl->verb_name, a.error);
        return 1;
    }
    json_t *answer = a.body ? json_loads(a.body, 0, NULL) : NULL;
    if (a.status < 200 || a.status > 299) {
        if (cl->json && a.body)
            fputs(a.body, stdout);
        rc = report_failure(cl, &a, answer);
    } else if (cl->json) {
        fputs(a.body ? a.body : "", stdout);
        rc = 0;
    } else if (!answer) {
        fprintf(stderr, "haechi %s: the server's answer is not JSON\n", cl->verb_name);
        rc = 1;
    } else {
        show(answer, cl);
        rc = 0;
    }
    json_decref(answer);
    httpc_answer_release(&a);
    return rc;
}

/* One GET whose answer is kept: *OUT is the parsed JSON of a 2xx answer.
 * Returns the exit status (failures reported as call() does). */
static int get_json(const client *cl, const char *path, json_t **out)
{
    char url[1024];
    httpc_answer a;
    *out = NULL;
    snprintf(url, sizeof url, "%s%s", cl->url, path);
    if (httpc_request("GET", url, cl->token, NULL, 0, &a) != 0) {
        fprintf(stderr, "haechi %s: cannot reach the server: %s\n", cl->verb_name, a.error);
        return 1;
    }
    json_t *answer = a.body ? json_loads(a.body, 0, NULL) : NULL;
    int rc = 0;
    if (a.status < 200 || a.status > 299)
        rc = report_failure(cl, &a, answer);
    else if (!answer) {
        fprintf(stderr, "haechi %s: the server's answer is not JSON\n", cl->verb_name);
        rc = 1;
    }
    if (rc == 0)
        *out = json_incref(answer);
    json_decref(answer);
    httpc_answer_release(&a);
    return rc;
}

static const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static void show_next(json_t *answer)
{
    json_t *next = json_object_get(answer, "next_releases");
    size_t i;
    json_t *r;
    if (!json_array_size(next)) {
        printf("no releases ahead\n");
        return;
    }
    printf("next releases:\n");
    json_array_foreach(next, i, r)
    {
        json_t *chs = json_object_get(r, "channels"), *ch;
        size_t k;
        printf("  %-26s %-20s", str(r, "at"), str(r, "release"));
        json_array_foreach(chs, k, ch) printf("%s%s", k ? ", " : "", json_string_value(ch));
        putchar('\n');
    }
}

/* ---- submit ------------------------------------------------------------------ */

static void show_submitted(json_t *answer, const client *cl)
{
    json_t *warnings = json_object_get(answer, "warnings"), *w;
    size_t i;
    (void)cl;
    printf("%s: version %lld, %s\n", str(answer, "id"),
           (long long)json_integer_value(json_object_get(answer, "version")),
           str(answer, "status"));
    json_array_foreach(warnings, i, w)
        printf("warning: %s: %s\n", str(w, "path"), str(w, "message"));
    show_next(answer);
}

static int run_submit(int argc, char **argv)
{
    client cl;
    int first = client_setup(&cl, "submit", argc, argv, FLAG_REPLACE);
    if (first < 0 || first != argc - 1) {
        if (first >= 0)
            fprintf(stderr, "haechi submit: expected one FILE\n");
        client_release(&cl);
        return 2;
    }
    char *buf, why[256];
    size_t len;
    int over;
    if (file_read_capped(argv[first], SUBMIT_READ_MAX, &buf, &len, &over, why, sizeof why) != 0) {
        fprintf(stderr, "haechi submit: %s\n", why);
        client_release(&cl);
        return 1;
    }
    if (over) {
        fprintf(stderr, "haechi submit: %s is over %u MiB; no server takes that\n", argv[first],
                SUBMIT_READ_MAX >> 20);
        free(buf);
        client_release(&cl);
        return 1;
    }
    int rc = call(&cl, "POST", cl.replace ? "/api/v1/campaigns?replace=true" : "/api/v1/campaigns",
                  buf, len, show_submitted);
    free(buf);
    client_release(&cl);
    return rc;
}

/* ---- list --------------------------------------------------------------------- */

static void show_list(json_t *answer, const client *cl)
{
    json_t *list = json_object_get(answer, "campaigns"), *c;
    size_t i;
    (void)cl;
    if (!json_array_size(list)) {
        printf("no campaigns\n");
        return;
    }
    printf("%-32s %-10s %7s  %s\n", "ID", "STATUS", "VERSION", "TITLE");
    json_array_foreach(list, i, c)
    {
        printf("%-32s %-10s %7lld  %s\n", str(c, "id"), str(c, "status"),
               (long long)json_integer_value(json_object_get(c, "version")), str(c, "title"));
    }
}

/* Follows next_cursor from page to page until the end or --limit; the
 * result has the shape of one page holding them all. */
static int list_all(const client *cl, json_t **out)
{
    json_t *all = json_pack("{s:[], s:I, s:n}", "campaigns", "total", (json_int_t)0, "next_cursor");
    char cursor[96] = "";
    int rc = 0;
    for (;;) {
        size_t have = json_array_size(json_object_get(all, "campaigns"));
        long want = cl->limit ? cl->limit - (long)have : 1000;
        char path[256];
        json_t *page;
        snprintf(path, sizeof path, "/api/v1/campaigns?limit=%ld%s%s", want > 1000 ? 1000 : want,
                 cursor[0] ? "&cursor=" : "", cursor);
        if ((rc = get_json(cl, path, &page)) != 0)
            break;
        json_array_extend(json_object_get(all, "campaigns"), json_object_get(page, "campaigns"));
        json_object_set(all, "total", json_object_get(page, "total"));
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        int more = next && strlen(next) < sizeof cursor;
        if (more)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_object_set_new(all, "next_cursor", more ? json_string(cursor) : json_null());
        json_decref(page);
        if (!more ||
            (cl->limit && (long)json_array_size(json_object_get(all, "campaigns")) >= cl->limit))
            break;
    }
    if (rc == 0)
        *out = all;
    else
        json_decref(all);
    return rc;
}

static int run_list(int argc, char **argv)
{
    client cl;
    int first = client_setup(&cl, "list", argc, argv, FLAG_LIMIT);
    int rc = 2;
    json_t *all = NULL;
    if (first >= 0 && first != argc)
        fprintf(stderr, "haechi list: takes no operands\n");
    else if (first >= 0 && (rc = list_all(&cl, &all)) == 0) {
        if (cl.json) {
            char *text = json_dumps(all, JSON_INDENT(2));
            if (text)
                puts(text);
            free(text);
        } else {
            show_list(all, &cl);
        }
    }
    json_decref(all);
    client_release(&cl);
    return rc;
}

/* ---- status and the state changes --------------------------------------------- */

static int is_plain_id(const char *id)
{
    if (!*id || strlen(id) > 64)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

static void show_status(json_t *answer, const client *cl)
{
    json_t *doc = json_object_get(answer, "campaign");
    (void)cl;
    printf("id        %s\n", str(answer, "id"));
    printf("title     %s\n", str(answer, "title"));
    printf("owner     %s\n", str(answer, "owner"));
    printf("status    %s\n", str(answer, "status"));
    printf("version   %lld (by %s)\n",
           (long long)json_integer_value(json_object_get(answer, "version")),
           str(answer, "updated_by"));
    json_t *sched = json_object_get(doc, "schedule");
    printf("window    %s to %s, %s\n", str(sched, "start"), str(sched, "end"),
           str(sched, "timezone"));
    show_next(answer);
}

/* " [impressions 100, reach 60, clicks 5]": a post's latest insights. */
static void show_insights(const char *who, json_t *rec)
{
    static const char *const names[] = {"impressions", "reach", "clicks", "opens"};
    json_t *ins = json_object_get(rec, "insights");
    if (!ins)
        return;
    printf(" %s [", who);
    for (size_t i = 0, n = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *v = json_object_get(ins, names[i]);
        if (json_is_integer(v))
            printf("%s%s %lld", n++ ? ", " : "", names[i], (long long)json_integer_value(v));
    }
    putchar(']');
}

/* " [120000/350000 accepted, 12 failed (not-friend 10, blocked 2), 229988
 * remaining, 35000/s, ends 10:00:07]": a list release's progress. */
static void show_progress(json_t *rec)
{
    json_t *p = json_object_get(rec, "progress");
    if (!p)
        return;
    printf(" [%lld/%lld accepted", (long long)json_integer_value(json_object_get(p, "accepted")),
           (long long)json_integer_value(json_object_get(p, "total")));
    long long failed = json_integer_value(json_object_get(p, "failed"));
    if (failed > 0) {
        const char *code;
        json_t *n;
        size_t k = 0;
        printf(", %lld failed (", failed);
        json_object_foreach(json_object_get(p, "failed_by"), code, n)
            printf("%s%s %lld", k++ ? ", " : "", code, (long long)json_integer_value(n));
        printf("%s)", k ? "" : "no reason given");
    }
    long long skipped = json_integer_value(json_object_get(p, "skipped"));
    if (skipped > 0)
        printf(", %lld skipped (not active)", skipped);
    long long remaining = json_integer_value(json_object_get(p, "remaining"));
    if (remaining > 0)
        printf(", %lld remaining", remaining);
    json_t *rate = json_object_get(p, "rate_per_s");
    if (json_is_number(rate))
        printf(", %.0f/s", json_number_value(rate));
    const char *eta = json_string_value(json_object_get(p, "eta"));
    if (eta && strlen(eta) >= 19)
        printf(", ends ~%.8s", eta + 11);
    putchar(']');
}

static void show_releases(json_t *answer, const client *cl)
{
    json_t *list = json_object_get(answer, "releases"), *r;
    json_t *counts = json_object_get(answer, "counts");
    const char *state;
    json_t *n;
    size_t i;
    (void)cl;
    printf("releases  (%s)", str(answer, "timezone"));
    json_object_foreach(counts, state, n)
        printf(" %s %lld", state, (long long)json_integer_value(n));
    putchar('\n');
    json_array_foreach(list, i, r)
    {
        json_t *chans = json_object_get(r, "channels"), *c;
        const char *ch;
        char due[32];
        /* "2020-03-22T09:00:00+09:00" -> "2020-03-22 09:00" */
        snprintf(due, sizeof due, "%.10s %.5s", str(r, "due"), str(r, "due") + 11);
        printf("  %-16s %-22s", due, str(r, "release"));
        json_object_foreach(chans, ch, c)
        {
            printf(" %s: %s", ch, str(c, "state"));
            if (json_object_get(c, "reason"))
                printf(" (%s)", str(c, "reason"));
            show_progress(c);
            show_insights(ch, c);
            const char *target;
            json_t *t;
            char who[100];
            json_object_foreach(json_object_get(c, "targets"), target, t)
            {
                snprintf(who, sizeof who, "%s/%s", ch, target);
                show_insights(who, t);
            }
        }
        if (json_integer_value(json_object_get(r, "late_ms")) > 1000)
            printf(" [late %llds]",
                   (long long)json_integer_value(json_object_get(r, "late_ms")) / 1000);
        putchar('\n');
    }
}

/* The campaign's releases under `status`; a campaign the engine has not
 * armed yet (just stored, or stored before an upgrade) is not an error. */
/* One page of a campaign's releases: 0 with *OUT, 404, or -1 (said why). */
static long releases_page(const client *cl, const char *id, const char *cursor, json_t **out)
{
    char url[1024];
    httpc_answer a;
    *out = NULL;
    snprintf(url, sizeof url, "%s/api/v1/campaigns/%s/releases%s%s", cl->url, id,
             cursor ? "?cursor=" : "", cursor ? cursor : "");
    if (httpc_request("GET", url, cl->token, NULL, 0, &a) != 0) {
        printf("releases  (unavailable: %s)\n", a.error);
        return -1;
    }
    long status = a.status;
    *out = status == 200 && a.body ? json_loads(a.body, 0, NULL) : NULL;
    if (!*out && status != 404)
        printf("releases  (unavailable: HTTP %ld)\n", status);
    httpc_answer_release(&a);
    return *out ? 0 : status == 404 ? 404 : -1;
}

/* Every page, merged: a campaign's deliveries may be many thousands. */
static void show_releases_of(const client *cl, const char *id)
{
    json_t *all, *page;
    long rc = releases_page(cl, id, NULL, &all);
    if (rc == 404)
        printf("releases  none armed yet (the scheduler arms a stored campaign within a "
               "minute)\n");
    if (rc != 0)
        return;
    const char *next;
    char cursor[32];
    while ((next = json_string_value(json_object_get(all, "next_cursor"))) &&
           strlen(next) < sizeof cursor) {
        snprintf(cursor, sizeof cursor, "%s", next);
        if (releases_page(cl, id, cursor, &page) != 0)
            break;
        releases_merge(all, page);
        json_decref(page);
    }
    show_releases(all, cl);
    json_decref(all);
}

static void show_changed(json_t *answer, const client *cl)
{
    printf("%s: %s%s\n", str(answer, "id"), str(answer, "status"),
           json_is_false(json_object_get(answer, "changed")) ? " (already)" : "");
    (void)cl;
}

static int run_on_id(int argc, char **argv, const char *name, const char *method,
                     const char *suffix, void (*show)(json_t *, const client *), unsigned accepts)
{
    client cl;
    int first = client_setup(&cl, name, argc, argv, accepts);
    int rc = 2;
    if (first >= 0 && first != argc - 1) {
        fprintf(stderr, "haechi %s: expected one campaign ID\n", name);
    } else if (first >= 0 && !is_plain_id(argv[first])) {
        fprintf(stderr, "haechi %s: \"%s\" is not a campaign id (a-z, 0-9 and hyphens)\n", name,
                argv[first]);
    } else if (first >= 0) {
        char path[160];
        snprintf(path, sizeof path, "/api/v1/campaigns/%s%s%s", argv[first], suffix,
                 cl.catch_up ? "?catch_up=true" : "");
        rc = call(&cl, method, path, NULL, 0, show);
        if (rc == 0 && show == show_status && !cl.json)
            show_releases_of(&cl, argv[first]);
    }
    client_release(&cl);
    return rc;
}

static int run_status(int argc, char **argv)
{
    return run_on_id(argc, argv, "status", "GET", "", show_status, 0);
}

static int run_pause(int argc, char **argv)
{
    return run_on_id(argc, argv, "pause", "POST", "/pause", show_changed, 0);
}

static int run_resume(int argc, char **argv)
{
    return run_on_id(argc, argv, "resume", "POST", "/resume", show_changed, FLAG_CATCH_UP);
}

static int run_cancel(int argc, char **argv)
{
    return run_on_id(argc, argv, "cancel", "POST", "/cancel", show_changed, 0);
}

/* ---- dead letters and sending by hand --------------------------------------------- */

static void show_dead(json_t *answer, const client *cl)
{
    json_t *list = json_object_get(answer, "dead"), *d;
    size_t i;
    (void)cl;
    if (!json_array_size(list)) {
        printf("no dead letters\n");
        return;
    }
    printf("%-20s %-10s %-40s %-8s %s\n", "ID", "CHANNEL", "ITEM", "ATTEMPTS", "REASON");
    json_array_foreach(list, i, d)
    {
        printf("%-20s %-10s %-40s %-8s %s\n", str(d, "id"), str(d, "channel"), str(d, "item"),
               str(d, "attempts"), str(d, "reason"));
    }
}

static void show_requeued(json_t *answer, const client *cl)
{
    (void)cl;
    printf("requeued %lld\n", (long long)json_integer_value(json_object_get(answer, "requeued")));
}

static int run_dead(int argc, char **argv)
{
    client cl;
    int first = client_setup(&cl, "dead", argc, argv, FLAG_ALL);
    int rc = 2;
    const char *sub = first >= 0 && first < argc ? argv[first] : NULL;
    if (first < 0) {
        /* reported */
    } else if (sub && strcmp(sub, "list") == 0 && argc - first <= 2 && !cl.all) {
        char path[96];
        snprintf(path, sizeof path, "/api/v1/dead%s%s", argc - first == 2 ? "?channel=" : "",
                 argc - first == 2 ? argv[first + 1] : "");
        rc = call(&cl, "GET", path, NULL, 0, show_dead);
    } else if (sub && strcmp(sub, "retry") == 0 &&
               ((cl.all && argc - first <= 2) || (!cl.all && argc - first == 2))) {
        json_t *body =
            cl.all ? json_pack("{s:b}", "all", 1) : json_pack("{s:s}", "id", argv[first + 1]);
        if (cl.all && argc - first == 2)
            json_object_set_new(body, "channel", json_string(argv[first + 1]));
        char *text = json_dumps(body, JSON_COMPACT);
        rc = call(&cl, "POST", "/api/v1/dead/retry", text, strlen(text), show_requeued);
        free(text);
        json_decref(body);
    } else {
        fprintf(stderr, "haechi dead: expected `dead list [CHANNEL]`, `dead retry ID` or "
                        "`dead retry --all [CHANNEL]`\n");
    }
    client_release(&cl);
    return rc;
}

static void show_sent_now(json_t *answer, const client *cl)
{
    json_t *chans = json_object_get(answer, "queued"), *ch;
    size_t i;
    (void)cl;
    printf("%s:%s queued now on", str(answer, "id"), str(answer, "release"));
    json_array_foreach(chans, i, ch) printf("%s%s", i ? ", " : " ", json_string_value(ch));
    putchar('\n');
}

static int run_release(int argc, char **argv)
{
    client cl;
    int first = client_setup(&cl, "release", argc, argv, FLAG_NOW);
    int rc = 2;
    char id[80] = "", rel[80] = "";
    if (first < 0) {
        /* reported */
    } else if (first != argc - 1 || !cl.now ||
               sscanf(argv[first], "%64[a-z0-9-]:%64[a-z0-9-]", id, rel) != 2) {
        fprintf(stderr, "haechi release: expected `release CAMPAIGN:RELEASE --now`\n");
    } else {
        char path[200];
        snprintf(path, sizeof path, "/api/v1/campaigns/%s/releases/%s/send", id, rel);
        rc = call(&cl, "POST", path, "{}", 2, show_sent_now);
    }
    client_release(&cl);
    return rc;
}

#define COMMON_HELP                                                                                \
    "\n"                                                                                           \
    "  --url URL      the server (default: $HAECHI_URL, else the config's client.url,\n"           \
    "                 else its listen address)\n"                                                  \
    "  --token TOKEN  a bearer token (default: $HAECHI_TOKEN, else the config's)\n"                \
    "  --config PATH  the config file (default: $HAECHI_CONFIG, else\n"                            \
    "                 /etc/haechi/haechi.json)\n"                                                  \
    "  --json         print the server's JSON answer as it is\n"                                   \
    "\n"                                                                                           \
    "Exit status: 0 success; 1 the server refused or could not be reached;\n"                      \
    "2 a usage error. The reason is one line on stderr.\n"

#define CLIENT_VERB(name_, synopsis_, usage_)                                                      \
    const verb verb_##name_ = {                                                                    \
        .name = #name_,                                                                            \
        .run = run_##name_,                                                                        \
        .synopsis = synopsis_,                                                                     \
        .help = usage_,                                                                            \
    }

CLIENT_VERB(
    submit, "send a campaign file to the server (--replace for a new version)",
    "usage: haechi submit [--replace] [options] FILE\n"
    "\n"
    "Sends the campaign FILE to the server, which validates and stores it as\n"
    "version 1 and prints the next releases. A campaign id that already exists\n"
    "is refused (409) unless --replace, which stores a new version. An invalid\n"
    "campaign prints every error as `haechi validate` does; nothing is stored.\n" COMMON_HELP);
CLIENT_VERB(list, "list campaigns and their status",
            "usage: haechi list [--limit N] [options]\n\nLists every campaign with its status "
            "and version, in the order they were\nfirst submitted (the server's pages followed "
            "to the end), or the first N.\n" COMMON_HELP);
CLIENT_VERB(status, "show one campaign and its next releases",
            "usage: haechi status [options] ID\n\nShows a campaign: status, version, "
            "window and its next releases.\n" COMMON_HELP);
CLIENT_VERB(pause, "hold a campaign's releases",
            "usage: haechi pause [options] ID\n\nHolds a campaign's releases until it is "
            "resumed.\n" COMMON_HELP);
CLIENT_VERB(resume, "let a paused campaign release again",
            "usage: haechi resume [--catch-up] [options] ID\n\nLets a paused campaign release "
            "again. Releases that came due while it was\npaused are skipped, unless "
            "--catch-up: then they are sent now, marked late.\n" COMMON_HELP);
CLIENT_VERB(dead, "list dead letters, or send them again",
            "usage: haechi dead list [CHANNEL] [options]\n"
            "       haechi dead retry ID [options]\n"
            "       haechi dead retry --all [CHANNEL] [options]\n\n"
            "Dead letters are work items that failed for good (a permanent failure, or\n"
            "engine.max_attempts failures); each keeps its last reason. `retry` puts\n"
            "them back on their channel's queue as a first attempt.\n" COMMON_HELP);
CLIENT_VERB(
    release, "send an expired release by hand",
    "usage: haechi release CAMPAIGN:RELEASE --now [options]\n\n"
    "A release that came due while no scheduler ran, and later than its expiry,\n"
    "is not sent but marked expired. This sends its latest expired firing now.\n" COMMON_HELP);
CLIENT_VERB(cancel, "cancel a campaign for good",
            "usage: haechi cancel [options] ID\n\nCancels a campaign for good: its "
            "releases are dropped.\n" COMMON_HELP);
