/*
 * test_x_wire.c - the X adapter in process, on a real outbound client,
 * against the X stand-in (build/fakes/fake-x, started here on loopback),
 * without Redis: the paths the daemon reaches only when the worker says
 * so (an earlier attempt's outcome is unknown) or later (insights), and
 * the auth refusals an operator must be able to act on.
 *
 *   - a post: OK, the stand-in's id, the follower count as reach;
 *   - maybe_sent and the post is on the account: OK with its id and the
 *     note, nothing posted again (the stand-in shows links as t.co);
 *   - the same text again: FAILED rejected (duplicate); after maybe_sent,
 *     with the look-up failing, OK with the duplicate note;
 *   - an app-only token: FAILED auth naming the fix;
 *   - a 401 after a refresh: FAILED auth; a refused refresh: FAILED auth
 *     naming refresh_token_env, without the token;
 *   - a 429 on the follower count: the post is made (reach 0), and the
 *     reads wait for their reset;
 *   - destroy() while a refresh is in flight: the send is answered
 *     CANCELLED, nothing leaks;
 *   - poll_insights: the stand-in's impressions after 48 minutes.
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "check.h"
#include "clock.h"
#include "outbound.h"
#include "x.h"

#define FAKE_BIN "build/fakes/fake-x"
#define ACCESS "x-wire-access"
#define SEED "x-wire-seed"
#define CLIENT "haechi-wire"
#define DEADLINE_MS 10000

extern char **environ;

static struct event_base *base;
static outbound *ob;
static pid_t fake_pid;
static char fake_url[64], dir[256];

/* ---- the stand-in -------------------------------------------------------------- */

static long long mono(void)
{
    return clock_mono_ms();
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int start_fake(void)
{
    const char *tmp = getenv("HAECHI_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/x-wire-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    char port_file[300], log_file[300];
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    snprintf(log_file, sizeof log_file, "%s/log", dir);
    const char *argv[] = {FAKE_BIN, "--listen",    "127.0.0.1:0", "--port-file", port_file,
                          "--log",  log_file,      "--token",     ACCESS,        "--refresh-token",
                          SEED,     "--client-id", CLIENT,        NULL};
    if (posix_spawn(&fake_pid, FAKE_BIN, NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    if (tmp && *tmp) {
        /* tests/run.sh stops what is left here, whatever happens. */
        char pidfile[300];
        snprintf(pidfile, sizeof pidfile, "%s/pids/fake-x-%ld", tmp, (long)fake_pid);
        FILE *f = fopen(pidfile, "w");
        if (f) {
            fprintf(f, "%ld\n", (long)fake_pid);
            fclose(f);
        }
    }
    for (long long end = mono() + DEADLINE_MS; mono() < end; pause_briefly()) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f) {
            int n = fscanf(f, "%d", &port);
            fclose(f);
            if (n == 1 && port > 0) {
                snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%d", port);
                return 0;
            }
        }
    }
    return -1;
}

static void stop_fake(void)
{
    if (fake_pid <= 0)
        return;
    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
    const char *tmp = getenv("HAECHI_TEST_TMP");
    if (tmp && *tmp) {
        char pidfile[300];
        snprintf(pidfile, sizeof pidfile, "%s/pids/fake-x-%ld", tmp, (long)fake_pid);
        unlink(pidfile);
    }
}

/* ---- waiting on the loop ----------------------------------------------------------- */

static int run_until(const int *flag)
{
    for (long long end = mono() + DEADLINE_MS; !*flag && mono() < end;)
        event_base_loop(base, EVLOOP_ONCE);
    return *flag;
}

typedef struct answer {
    int done;
    int status;
    char *body;
} answer;

static void on_http(const outbound_response *r, void *arg)
{
    answer *a = arg;
    a->done = 1;
    a->status = r->status;
    a->body = strdup(r->body ? r->body : "");
}

/* One request to the stand-in (its control API); the body is the caller's to free. */
static answer call(const char *method, const char *path, const char *json)
{
    char url[256], err[256];
    answer a = {0};
    snprintf(url, sizeof url, "%s%s", fake_url, path);
    const char *headers[] = {"Content-Type: application/json", NULL};
    outbound_request rq = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = json,
                           .body_len = json ? strlen(json) : 0};
    if (outbound_http(ob, &rq, on_http, &a, err, sizeof err))
        run_until(&a.done);
    return a;
}

static int control(const char *method, const char *path, const char *json)
{
    answer a = call(method, path, json);
    free(a.body);
    return a.status;
}

static size_t posts_on_the_account(void)
{
    answer a = call("GET", "/_fake/state", NULL);
    json_t *st = json_loads(a.body ? a.body : "", 0, NULL);
    size_t n = json_array_size(json_object_get(st, "posts"));
    json_decref(st);
    free(a.body);
    return n;
}

/* ---- the adapter ----------------------------------------------------------------- */

typedef struct sent {
    int done;
    adapter_outcome o;
} sent;

static void on_sent(const adapter_outcome *o, void *arg)
{
    sent *s = arg;
    s->done = 1;
    s->o = *o;
}

static void *adapter(const char *seed_env)
{
    x_conf c = {.present = 1};
    snprintf(c.url, sizeof c.url, "%s", fake_url);
    snprintf(c.token_url, sizeof c.token_url, "%s/2/oauth2/token", fake_url);
    snprintf(c.client_id, sizeof c.client_id, "%s", CLIENT);
    snprintf(c.token_env, sizeof c.token_env, "HAECHI_TEST_X_WIRE_TOKEN");
    snprintf(c.refresh_token_env, sizeof c.refresh_token_env, "%s", seed_env);
    adapter_env env = {.base = base, .engine_prefix = "wire:{e}:", .http = ob};
    char err[256];
    void *st = adapter_x.ops->create(&env, &c, err, sizeof err);
    if (!st)
        fprintf(stderr, "create: %s\n", err);
    return st;
}

/* A campaign whose X post is TEXT. */
static json_t *campaign_with(const char *text)
{
    return json_pack("{s:s, s:{s:{s:s}}, s:{s:[s], s:{s:s}}}", "id", "wire", "message", "body",
                     "ko", text, "sns", "networks", "x", "text", "ko", text);
}

/* Sends TEXT due DUE_IN_MS from now. */
static adapter_outcome send_due(void *st, const char *text, int maybe_sent, long long due_in_ms)
{
    json_t *doc = campaign_with(text);
    adapter_item item = {.item_id = text,
                         .campaign_id = "wire",
                         .version = 1,
                         .release_id = "r",
                         .channel = "sns",
                         .target = "x",
                         .due_ms = clock_wall_ms() + due_in_ms,
                         .attempt = maybe_sent ? 2 : 1,
                         .maybe_sent = maybe_sent,
                         .campaign = doc};
    sent s = {0};
    if (adapter_x.ops->send(st, &item, on_sent, &s) == HAECHI_OK)
        run_until(&s.done);
    json_decref(doc);
    if (!s.done)
        snprintf(s.o.reason, sizeof s.o.reason, "no answer");
    return s.o;
}

static adapter_outcome send_text(void *st, const char *text, int maybe_sent)
{
    return send_due(st, text, maybe_sent, 0);
}

static int has_no_token(const adapter_outcome *o)
{
    return !strstr(o->reason, "x-wire") && !strstr(o->reason, "xat-") && !strstr(o->reason, "xrt-");
}

/* ---- the cases ---------------------------------------------------------------------- */

static void *st;
static char first_id[128];

#define TEXT "[서울시] 잠시 멈춤에 함께해 주세요 & 손 씻기! https://www.seoul.go.kr/"

static void a_post_is_made(void)
{
    adapter_outcome o = send_text(st, TEXT, 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
    CHECK(o.external_id[0] >= '0' && o.external_id[0] <= '9');
    CHECK_INT(o.reach, 230000);
    CHECK_INT(posts_on_the_account(), 1);
    snprintf(first_id, sizeof first_id, "%s", o.external_id);
}

static void maybe_sent_finds_the_post(void)
{
    adapter_outcome o = send_text(st, TEXT, 1);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
    CHECK_STR(o.external_id, first_id);
    CHECK(strstr(o.reason, "found on the account after an unknown outcome") != NULL);
    CHECK_INT(posts_on_the_account(), 1);
}

/* An hour later: the copy on the account is older than the look-up's
 * window (due - 10 min), so it is another release's. */
static void the_same_text_is_a_duplicate(void)
{
    adapter_outcome o = send_due(st, TEXT, 0, 3600000);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_FAILED));
    CHECK_STR(adapter_error_name(o.error), adapter_error_name(ADAPTER_ERR_REJECTED));
    CHECK_INT(o.remote_code, 403);
    CHECK(strstr(o.reason, "refused as a duplicate (HTTP 403: You are not allowed to create a "
                           "Tweet with duplicate content.)") != NULL);
}

/* The same send's copy (libcurl re-sends a request whose reused connection
 * died without an answer; the stand-in stored the first): X's duplicate
 * refusal, then the look-up finds it. Either way one post. */
static void a_resent_post_is_found_not_refused(void)
{
    size_t before = posts_on_the_account();
    CHECK_INT(control("POST", "/_fake/faults",
                      "{\"fault\": \"drop-after-store\", \"route\": \"/2/tweets\"}"),
              200);
    adapter_outcome o = send_text(st, "다시 보낸 글 시험 https://www.seoul.go.kr/", 0);
    CHECK_INT(posts_on_the_account(), before + 1);
    if (o.status == ADAPTER_OK)
        CHECK(strstr(o.reason, "found on the account since the due time") != NULL);
    else
        CHECK_STR(adapter_error_name(o.error), adapter_error_name(ADAPTER_ERR_TIMEOUT));
    /* The next attempt, told the outcome is unknown, finds it. */
    o = send_text(st, "다시 보낸 글 시험 https://www.seoul.go.kr/", 1);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
    CHECK_INT(posts_on_the_account(), before + 1);
}

/* maybe_sent, the look-up failing before and after X's duplicate refusal:
 * the refusal itself says the earlier attempt was posted. */
static void a_duplicate_after_maybe_sent_counts_as_sent(void)
{
    CHECK_INT(control("POST", "/_fake/faults",
                      "{\"fault\": \"server-error\", \"count\": 2, \"route\": "
                      "\"/2/users/:id/tweets\"}"),
              200);
    adapter_outcome o = send_text(st, TEXT, 1);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
    CHECK(strstr(o.reason, "refused as a duplicate after an unknown outcome") != NULL);
    CHECK_INT(posts_on_the_account(), 1);
}

static void an_app_only_token_names_the_fix(void)
{
    CHECK_INT(control("POST", "/_fake/faults",
                      "{\"fault\": \"error:unsupported-auth\", \"route\": \"/2/tweets\"}"),
              200);
    adapter_outcome o = send_text(st, "app-only 시험", 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_FAILED));
    CHECK_STR(adapter_error_name(o.error), adapter_error_name(ADAPTER_ERR_AUTH));
    CHECK(strstr(o.reason, "an app-only token was configured; X needs a user token") != NULL);
}

static void a_401_after_a_refresh_is_final(void)
{
    CHECK_INT(control("POST", "/_fake/faults",
                      "{\"fault\": \"error:expired-token\", \"count\": 2, \"route\": "
                      "\"/2/tweets\"}"),
              200);
    adapter_outcome o = send_text(st, "401 시험", 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_FAILED));
    CHECK_STR(adapter_error_name(o.error), adapter_error_name(ADAPTER_ERR_AUTH));
    CHECK(strstr(o.reason, "refused again right after a refresh") != NULL);
    CHECK(has_no_token(&o));
    /* The refresh in between worked: the next post goes out. */
    o = send_text(st, "401 다음 시험", 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
}

static void a_refused_refresh_names_the_config_field(void)
{
    setenv("HAECHI_TEST_X_WIRE_BAD", "x-wire-dead-refresh", 1);
    setenv("HAECHI_TEST_X_WIRE_TOKEN", "x-wire-unknown-access", 1);
    void *bad = adapter("HAECHI_TEST_X_WIRE_BAD");
    CHECK(bad != NULL);
    if (!bad)
        return;
    adapter_outcome o = send_text(bad, "refused 시험", 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_FAILED));
    CHECK_STR(adapter_error_name(o.error), adapter_error_name(ADAPTER_ERR_AUTH));
    CHECK(strstr(o.reason, "the refresh token was refused") != NULL);
    CHECK(strstr(o.reason, "refresh_token_env (HAECHI_TEST_X_WIRE_BAD)") != NULL);
    CHECK(has_no_token(&o));
    adapter_x.ops->destroy(bad);
    setenv("HAECHI_TEST_X_WIRE_TOKEN", ACCESS, 1);
}

static size_t requests_to(const char *path)
{
    answer a = call("GET", "/_fake/requests", NULL);
    json_t *log = json_loads(a.body ? a.body : "", 0, NULL);
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(log, i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        n += p && strcmp(p, path) == 0;
    }
    json_decref(log);
    free(a.body);
    return n;
}

static void a_limited_read_never_blocks_the_post(void)
{
    void *fresh = adapter("HAECHI_TEST_X_WIRE_SEED");
    CHECK(fresh != NULL);
    if (!fresh)
        return;
    size_t reads = requests_to("/2/users/me");
    CHECK_INT(control("POST", "/_fake/faults",
                      "{\"fault\": \"rate-limit\", \"route\": \"/2/users/me\", \"ms\": 60000}"),
              200);
    adapter_outcome o = send_text(fresh, "읽기 한도 시험 1", 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
    CHECK_INT(o.reach, 0);
    o = send_text(fresh, "읽기 한도 시험 2", 0);
    CHECK_STR(adapter_status_name(o.status), adapter_status_name(ADAPTER_OK));
    /* The second send did not read again before the reads' reset. */
    CHECK_INT(requests_to("/2/users/me"), reads + 1);
    adapter_x.ops->destroy(fresh);
}

static void destroy_during_a_refresh(void)
{
    setenv("HAECHI_TEST_X_WIRE_TOKEN", "x-wire-unknown-access", 1);
    void *mid = adapter("HAECHI_TEST_X_WIRE_SEED");
    setenv("HAECHI_TEST_X_WIRE_TOKEN", ACCESS, 1);
    CHECK(mid != NULL);
    if (!mid)
        return;
    CHECK_INT(control("POST", "/_fake/faults",
                      "{\"fault\": \"slow\", \"ms\": 3000, \"route\": \"/2/oauth2/token\"}"),
              200);
    size_t reads = requests_to("/2/users/me");
    json_t *doc = campaign_with("refresh 중 종료");
    adapter_item item = {.item_id = "mid",
                         .campaign_id = "wire",
                         .release_id = "r",
                         .channel = "sns",
                         .target = "x",
                         .due_ms = clock_wall_ms(),
                         .attempt = 1,
                         .campaign = doc};
    sent s = {0};
    CHECK(adapter_x.ops->send(mid, &item, on_sent, &s) == HAECHI_OK);
    /* Until the follower count met its 401 and the (slow) refresh is on its way. */
    for (long long end = mono() + DEADLINE_MS; mono() < end && requests_to("/2/users/me") == reads;)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    for (long long end = mono() + 300; mono() < end;)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CHECK(!s.done);
    adapter_x.ops->destroy(mid);
    CHECK(s.done);
    CHECK_STR(adapter_status_name(s.o.status), adapter_status_name(ADAPTER_CANCELLED));
    json_decref(doc);
}

typedef struct polled {
    int done;
    int have;
    adapter_insights fig;
} polled;

static void on_insights(const adapter_insights *fig, const adapter_outcome *o, void *arg)
{
    polled *p = arg;
    (void)o;
    p->done = 1;
    p->have = fig != NULL;
    if (fig)
        p->fig = *fig;
}

static void insights_come_from_the_post(void)
{
    /* The stand-in's figures: impressions = followers x minutes / 4800. */
    CHECK_INT(control("POST", "/_fake/clock", "{\"advance_ms\": 2880000}"), 200);
    polled p = {0};
    CHECK(adapter_x.ops->poll_insights(st, "x", first_id, on_insights, &p) == HAECHI_OK);
    run_until(&p.done);
    CHECK(p.have);
    CHECK_INT(p.fig.impressions, 230000LL * 48 / 4800);
}

int main(void)
{
    setenv("HAECHI_TEST_X_WIRE_TOKEN", ACCESS, 1);
    setenv("HAECHI_TEST_X_WIRE_SEED", SEED, 1);
    char err[256];
    base = event_base_new();
    ob = base ? outbound_new(base, NULL, err, sizeof err) : NULL;
    int up = ob && start_fake() == 0;
    CHECK(up);
    check_report("the X stand-in and an outbound client start");
    st = up ? adapter("HAECHI_TEST_X_WIRE_SEED") : NULL;
    if (st) {
        RUN(a_post_is_made);
        RUN(maybe_sent_finds_the_post);
        RUN(the_same_text_is_a_duplicate);
        RUN(a_duplicate_after_maybe_sent_counts_as_sent);
        RUN(a_resent_post_is_found_not_refused);
        RUN(an_app_only_token_names_the_fix);
        RUN(a_401_after_a_refresh_is_final);
        RUN(a_refused_refresh_names_the_config_field);
        RUN(a_limited_read_never_blocks_the_post);
        RUN(destroy_during_a_refresh);
        RUN(insights_come_from_the_post);
        adapter_x.ops->destroy(st);
    }
    stop_fake();
    if (ob)
        outbound_free(ob);
    if (base)
        event_base_free(base);
    return check_exit_status();
}
