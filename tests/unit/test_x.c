/*
 * test_x.c - the X adapter's rules without a network (adapters/x_rules.h):
 * rate-limit headers into delays, answers into classes, the look-up's
 * text comparison; and render()'s exact request for the example campaign.
 */
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "campaign.h"
#include "check.h"
#include "config.h"
#include "fileio.h"
#include "x.h"
#include "x_rules.h"

/* Headers as "name: value" pairs, NULL-terminated. */
static const char *lookup_header(const void *ctx, const char *name)
{
    const char *const *h = ctx;
    for (; h[0]; h += 2)
        if (strcasecmp(h[0], name) == 0)
            return h[1];
    return NULL;
}

static x_limits limits_of(const char *const *headers)
{
    x_limits l;
    x_limits_read(&l, lookup_header, headers);
    return l;
}

#define NOW_MS 1700000000000LL /* 1700000000 s */

static void headers_are_read(void)
{
    const char *h[] = {"x-rate-limit-limit",
                       "100",
                       "X-Rate-Limit-Remaining",
                       "0",
                       "x-rate-limit-reset",
                       "1700000600",
                       "x-user-limit-24hour-limit",
                       "17",
                       "x-user-limit-24hour-remaining",
                       "5",
                       "x-user-limit-24hour-reset",
                       "1700080000",
                       NULL};
    x_limits l = limits_of(h);
    CHECK_INT(l.limit, 100);
    CHECK_INT(l.remaining, 0);
    CHECK_INT(l.reset_s, 1700000600);
    CHECK_INT(l.day_limit, 17);
    CHECK_INT(l.day_remaining, 5);
    CHECK_INT(l.day_reset_s, 1700080000);
    const char *junk[] = {"x-rate-limit-remaining", "-3", "x-rate-limit-reset", "soon", NULL};
    l = limits_of(junk);
    CHECK_INT(l.remaining, -1);
    CHECK_INT(l.reset_s, -1);
    CHECK_INT(l.limit, -1);
}

static void a_429_waits_for_the_exhausted_window(void)
{
    /* The 15-minute window ran out: its reset, 600 s away. */
    const char *window[] = {"x-rate-limit-remaining",
                            "0",
                            "x-rate-limit-reset",
                            "1700000600",
                            "x-user-limit-24hour-remaining",
                            "12",
                            "x-user-limit-24hour-reset",
                            "1700050000",
                            NULL};
    CHECK_INT(x_limits_wait_ms(&(x_limits){0}, NOW_MS) >= 1000, 1);
    x_limits l = limits_of(window);
    CHECK_INT(x_limits_wait_ms(&l, NOW_MS), 600000);
    /* The 24-hour cap ran out while the window still had room: its reset. */
    const char *day[] = {"x-rate-limit-remaining",
                         "40",
                         "x-rate-limit-reset",
                         "1700000600",
                         "x-user-limit-24hour-remaining",
                         "0",
                         "x-user-limit-24hour-reset",
                         "1700050000",
                         NULL};
    l = limits_of(day);
    CHECK_INT(x_limits_wait_ms(&l, NOW_MS), 50000000);
    /* No headers: one whole window. A reset already past: one second. */
    const char *none[] = {NULL};
    l = limits_of(none);
    CHECK_INT(x_limits_wait_ms(&l, NOW_MS), X_WINDOW_MS);
    const char *past[] = {"x-rate-limit-remaining", "0", "x-rate-limit-reset", "1699999990", NULL};
    l = limits_of(past);
    CHECK_INT(x_limits_wait_ms(&l, NOW_MS), 1000);
    /* A reset years away is capped at a day. */
    const char *far[] = {"x-rate-limit-remaining", "0", "x-rate-limit-reset", "1900000000", NULL};
    l = limits_of(far);
    CHECK_INT(x_limits_wait_ms(&l, NOW_MS), X_DAY_MS);
}

static void a_used_up_window_holds_the_next_sends(void)
{
    const char *room[] = {"x-rate-limit-remaining", "3", "x-rate-limit-reset", "1700000600", NULL};
    x_limits l = limits_of(room);
    CHECK_INT(x_limits_hold_ms(&l, NOW_MS), 0);
    const char *last[] = {"x-rate-limit-remaining", "0", "x-rate-limit-reset", "1700000120", NULL};
    l = limits_of(last);
    CHECK_INT(x_limits_hold_ms(&l, NOW_MS), 120000);
    /* Both used up: the later reset. */
    const char *both[] = {"x-rate-limit-remaining",
                          "0",
                          "x-rate-limit-reset",
                          "1700000120",
                          "x-user-limit-24hour-remaining",
                          "0",
                          "x-user-limit-24hour-reset",
                          "1700003600",
                          NULL};
    l = limits_of(both);
    CHECK_INT(x_limits_hold_ms(&l, NOW_MS), 3600000);
}

/* The error classification table: bodies as CHANNELS.md 1.5 gives them. */
static const struct {
    int status;
    const char *body;
    x_class want;
    const char *msg; /* a fragment of the service's words */
} ANSWERS[] = {
    {201, "{\"data\":{\"id\":\"1767000000000000001\",\"text\":\"hi\"}}", X_CREATED, "HTTP 201"},
    {429,
     "{\"title\":\"Too Many Requests\",\"detail\":\"Too Many Requests\",\"type\":\"about:blank\","
     "\"status\":429}",
     X_RATE_LIMITED, "Too Many Requests"},
    {429, "{\"errors\":[{\"code\":88,\"message\":\"Rate limit exceeded\"}]}", X_RATE_LIMITED,
     "Rate limit exceeded"},
    {429,
     "{\"title\":\"UsageCapExceeded\",\"detail\":\"Usage cap exceeded: Monthly product cap\","
     "\"type\":\"https://api.x.com/2/problems/usage-capped\",\"status\":429}",
     X_USAGE_CAPPED, "Monthly product cap"},
    {401,
     "{\"title\":\"Unauthorized\",\"type\":\"about:blank\",\"status\":401,\"detail\":"
     "\"Unauthorized\"}",
     X_UNAUTHORIZED, "Unauthorized"},
    {403,
     "{\"title\":\"Unsupported Authentication\",\"detail\":\"Authenticating with OAuth 2.0 "
     "Application-Only is forbidden for this endpoint.\",\"type\":"
     "\"https://api.twitter.com/2/problems/unsupported-authentication\",\"status\":403}",
     X_APP_ONLY, "Application-Only"},
    {403,
     "{\"detail\":\"You are not allowed to create a Tweet with duplicate content.\",\"type\":"
     "\"about:blank\",\"title\":\"Forbidden\",\"status\":403}",
     X_DUPLICATE, "duplicate content"},
    {403, "{\"errors\":[{\"code\":187,\"message\":\"Status is a duplicate.\"}]}", X_DUPLICATE,
     "Status is a duplicate"},
    {403,
     "{\"detail\":\"You are not permitted to perform this action.\",\"title\":\"Forbidden\","
     "\"type\":\"about:blank\",\"status\":403}",
     X_FORBIDDEN, "not permitted"},
    {400,
     "{\"errors\":[{\"message\":\"$.text: is too long\",\"parameters\":{\"text\":[\"x\"]}}],"
     "\"title\":\"Invalid Request\",\"detail\":\"One or more parameters to your request was "
     "invalid.\",\"type\":\"https://api.twitter.com/2/problems/invalid-request\"}",
     X_INVALID, "$.text: is too long"},
    {503, "{\"title\":\"Service Unavailable\",\"detail\":\"Service Unavailable\"}", X_SERVER,
     "Service Unavailable"},
    {500, NULL, X_SERVER, "HTTP 500"},
    {404, "{\"title\":\"Not Found Error\",\"detail\":\"Could not find the post\"}", X_OTHER,
     "Could not find"},
};

static void answers_are_classified(void)
{
    for (size_t i = 0; i < sizeof ANSWERS / sizeof ANSWERS[0]; i++) {
        char msg[200], title[160];
        json_t *body = ANSWERS[i].body ? json_loads(ANSWERS[i].body, 0, NULL) : NULL;
        x_class c = x_classify(ANSWERS[i].status, body, msg, sizeof msg);
        CHECK_STR(x_class_name(c), x_class_name(ANSWERS[i].want));
        CHECK(strstr(msg, ANSWERS[i].msg) != NULL);
        json_decref(body);
        snprintf(title, sizeof title, "x answer %d \"%s\" is %s", ANSWERS[i].status, ANSWERS[i].msg,
                 x_class_name(ANSWERS[i].want));
        check_report(title);
    }
}

static void several_errors_are_joined(void)
{
    char msg[200];
    json_t *b = json_loads("{\"errors\":[{\"message\":\"one\"},{\"message\":\"two\"}]}", 0, NULL);
    CHECK_INT(x_classify(400, b, msg, sizeof msg), X_INVALID);
    CHECK_STR(msg, "one; two");
    json_decref(b);
}

static void the_lookup_sees_past_t_co_links(void)
{
    const char *ours = "[서울시] 잠시 멈춤에 함께해 주세요 & 손 씻기!\n\nhttps://www.seoul.go.kr/";
    CHECK(x_text_matches(ours, "[서울시] 잠시 멈춤에 함께해 주세요 &amp; 손 씻기!\n\n"
                               "https://t.co/AbCdEf1234"));
    CHECK(x_text_matches("visit seoul.go.kr now", "visit https://t.co/Zz9 now"));
    CHECK(x_text_matches("end of sentence.", "end of sentence."));
    CHECK(!x_text_matches(ours, "[서울시] 잠시 멈춤에 함께해 주세요 & 손 씻기?"));
    CHECK(!x_text_matches("a different post https://a.co", "another post https://t.co/x"));
    char *n = x_text_normalise("  two\n\nlines  https://t.co/x  &lt;b&gt; ");
    CHECK_STR(n, "two lines <b>");
    free(n);
}

/* render() offline: the request X would get for the example's sns item. */
static void render_shows_the_exact_request(void)
{
    char *buf, why[256];
    size_t len;
    int over;
    campaign_limits lim;
    campaign_limits_default(&lim);
    CHECK(file_read_capped("campaigns/jamsi-meomchum.json", lim.max_bytes, &buf, &len, &over, why,
                           sizeof why) == 0);
    diag_list errs;
    diag_list_init(&errs);
    campaign *c = campaign_parse(buf, len, &lim, &errs, NULL);
    diag_list_release(&errs);
    free(buf);
    CHECK(c != NULL);
    if (!c)
        return;
    const adapter_desc *d = adapter_find("x");
    CHECK(d != NULL);
    adapter_env env = {.offline = 1, .engine_prefix = "t:{e}:"};
    char err[256] = "";
    void *st = d ? d->ops->create(&env, NULL, err, sizeof err) : NULL;
    CHECK(st != NULL);
    adapter_item item = {.item_id = "i",
                         .campaign_id = c->id,
                         .release_id = "r",
                         .channel = "sns",
                         .target = "x",
                         .due_ms = c->start * 1000,
                         .attempt = 1,
                         .campaign = c->doc,
                         .zone = c->zone};
    json_t *r = st ? d->ops->render(st, &item, err, sizeof err) : NULL;
    CHECK_STR(json_string_value(json_object_get(r, "network")), "x");
    CHECK_STR(json_string_value(json_object_get(r, "method")), "POST");
    CHECK_STR(json_string_value(json_object_get(r, "path")), "/2/tweets");
    json_t *body = json_object_get(r, "body");
    CHECK_INT(json_object_size(body), 1); /* {"text": ...} and nothing else */
    const char *text = json_string_value(json_object_get(body, "text"));
    CHECK(text && strncmp(text, "[서울시] 코로나19를 멈추기 위해",
                          strlen("[서울시] 코로나19를 멈추기 위해")) == 0);
    CHECK(text && strstr(text, "https://www.seoul.go.kr/") != NULL);
    CHECK(json_object_get(r, "counts") != NULL);
    /* A release with its own words posts them. */
    item.release_id = "afternoon-post";
    json_t *pm = st ? d->ops->render(st, &item, err, sizeof err) : NULL;
    const char *own = json_string_value(json_object_get(json_object_get(pm, "body"), "text"));
    CHECK(own &&
          strncmp(own, "[서울시] 잠시멈춤 실천 셋!", strlen("[서울시] 잠시멈춤 실천 셋!")) == 0);
    json_decref(pm);
    /* Nothing of a credential in what preview prints. */
    char *dump = r ? json_dumps(r, 0) : NULL;
    CHECK(dump && !strstr(dump, "Bearer") && !strstr(dump, "token"));
    free(dump);
    json_decref(r);
    if (st)
        d->ops->destroy(st);
    campaign_free(c);
}

/* A credential the config names but the process cannot read stops the
 * daemon with the field's name; offline (preview) nothing is read. */
static void an_unreadable_secret_names_its_field(void)
{
    x_conf c = {.present = 1};
    snprintf(c.client_id, sizeof c.client_id, "test");
    snprintf(c.refresh_token_env, sizeof c.refresh_token_env, "HAECHI_TEST_X_UNSET");
    unsetenv("HAECHI_TEST_X_UNSET");
    adapter_env env = {.engine_prefix = "t:{e}:"};
    char err[256] = "";
    void *st = adapter_x.ops->create(&env, &c, err, sizeof err);
    CHECK(st == NULL);
    CHECK_STR(err, "refresh_token_env: environment variable HAECHI_TEST_X_UNSET is not set");
    env.offline = 1;
    st = adapter_x.ops->create(&env, &c, err, sizeof err);
    CHECK(st != NULL);
    if (st)
        adapter_x.ops->destroy(st);
}

int main(void)
{
    RUN(headers_are_read);
    RUN(a_429_waits_for_the_exhausted_window);
    RUN(a_used_up_window_holds_the_next_sends);
    answers_are_classified();
    RUN(several_errors_are_joined);
    RUN(the_lookup_sees_past_t_co_links);
    RUN(render_shows_the_exact_request);
    RUN(an_unreadable_secret_names_its_field);
    return check_exit_status();
}
