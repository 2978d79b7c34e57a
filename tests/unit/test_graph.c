/*
 * test_graph.c - the Graph API's error classification (graph.c's tables,
 * one row per code), its usage headers and hold-back, the reasons people
 * read, and the exact payloads the facebook and instagram adapters render.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "facebook.h"
#include "graph.h"
#include "instagram.h"

/* ---- classification: one row per code ------------------------------------------ */

static const struct {
    int code, subcode, transient;
    graph_action action;
    adapter_error error;
} FB_ROWS[] = {
    {1, 0, 0, GRAPH_RETRY, ADAPTER_ERR_NETWORK},
    {2, 0, 1, GRAPH_RETRY, ADAPTER_ERR_NETWORK},
    {4, 0, 1, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT},
    {17, 0, 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT},
    {32, 0, 1, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT},
    {341, 0, 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT},
    {613, 0, 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT},
    {80001, 0, 1, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT},
    /* never retried, even when Graph calls it transient */
    {368, 1390008, 1, GRAPH_ALERT, ADAPTER_ERR_REJECTED},
    {506, 0, 0, GRAPH_DUPLICATE, ADAPTER_ERR_REJECTED},
    {190, 463, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {190, 467, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {10, 0, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {200, 0, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {250, 0, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {299, 0, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {100, 33, 0, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {1609005, 0, 0, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    /* unlisted: transient retries, otherwise refused */
    {12345, 0, 1, GRAPH_RETRY, ADAPTER_ERR_NETWORK},
    {12345, 0, 0, GRAPH_FAIL, ADAPTER_ERR_REJECTED},
    {300, 0, 0, GRAPH_FAIL, ADAPTER_ERR_REJECTED},
};

static const struct {
    int code, subcode;
    graph_action action;
    adapter_error error;
} IG_ROWS[] = {
    {-2, 2207003, GRAPH_RETRY, ADAPTER_ERR_NETWORK},
    {-2, 2207020, GRAPH_RECREATE, ADAPTER_ERR_REJECTED},
    {-1, 2207001, GRAPH_RETRY, ADAPTER_ERR_NETWORK},
    {-1, 2207032, GRAPH_RECREATE, ADAPTER_ERR_NETWORK},
    {4, 2207051, GRAPH_ALERT, ADAPTER_ERR_REJECTED},
    {4, 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT}, /* Graph's row, behind Instagram's */
    {9, 2207042, GRAPH_HOLD, ADAPTER_ERR_RATE_LIMIT},
    {24, 2207006, GRAPH_RECREATE, ADAPTER_ERR_REJECTED},
    {24, 2207008, GRAPH_RECREATE, ADAPTER_ERR_REJECTED},
    {25, 2207050, GRAPH_ALERT, ADAPTER_ERR_REJECTED},
    {100, 2207023, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {100, 2207028, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {100, 2207040, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {9004, 2207052, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {9007, 2207027, GRAPH_NOT_READY, ADAPTER_ERR_NETWORK},
    {36000, 2207004, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {36001, 2207005, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {36003, 2207009, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {36004, 2207010, GRAPH_FAIL, ADAPTER_ERR_INVALID},
    {190, 463, GRAPH_FAIL, ADAPTER_ERR_AUTH},
    {506, 0, GRAPH_DUPLICATE, ADAPTER_ERR_REJECTED},
};

static void classification_rows(void)
{
    char title[128], why[128];
    for (size_t i = 0; i < sizeof FB_ROWS / sizeof FB_ROWS[0]; i++) {
        graph_error e = {.code = FB_ROWS[i].code,
                         .subcode = FB_ROWS[i].subcode,
                         .is_transient = FB_ROWS[i].transient};
        const graph_rule *r = graph_classify(NULL, &e);
        snprintf(title, sizeof title, "graph: code %d/%d%s classifies as action %d, %s", e.code,
                 e.subcode, e.is_transient ? " (transient)" : "", FB_ROWS[i].action,
                 adapter_error_name(FB_ROWS[i].error));
        snprintf(why, sizeof why, "got action %d, %s", r->action, adapter_error_name(r->error));
        check_row(title, r->action == FB_ROWS[i].action && r->error == FB_ROWS[i].error, why);
    }
    for (size_t i = 0; i < sizeof IG_ROWS / sizeof IG_ROWS[0]; i++) {
        graph_error e = {.code = IG_ROWS[i].code, .subcode = IG_ROWS[i].subcode};
        const graph_rule *r = graph_classify(graph_instagram_rules, &e);
        snprintf(title, sizeof title, "instagram: code %d/%d classifies as action %d, %s", e.code,
                 e.subcode, IG_ROWS[i].action, adapter_error_name(IG_ROWS[i].error));
        snprintf(why, sizeof why, "got action %d, %s", r->action, adapter_error_name(r->error));
        check_row(title, r->action == IG_ROWS[i].action && r->error == IG_ROWS[i].error, why);
    }
}

static void test_container_status_subcode(void)
{
    const graph_rule *r = graph_rule_by_subcode(graph_instagram_rules, 2207052);
    CHECK(r && r->code_lo == 9004 && r->action == GRAPH_FAIL);
    CHECK(graph_rule_by_subcode(graph_instagram_rules, 0) == NULL);
    CHECK(graph_rule_by_subcode(graph_instagram_rules, 1234567) == NULL);
}

/* ---- the error object ------------------------------------------------------------- */

static void test_error_object_parsed(void)
{
    const char *body = "{\"error\":{\"message\":\"(#32) Page request limit reached\","
                       "\"type\":\"OAuthException\",\"code\":32,\"error_subcode\":0,"
                       "\"is_transient\":true,\"fbtrace_id\":\"AbCdEf123\"}}";
    graph_error e;
    CHECK_INT(graph_error_parse(body, strlen(body), &e), 1);
    CHECK_INT(e.code, 32);
    CHECK_INT(e.subcode, 0);
    CHECK_INT(e.is_transient, 1);
    CHECK_STR(e.message, "(#32) Page request limit reached");
    CHECK_STR(e.type, "OAuthException");
    CHECK_STR(e.fbtrace_id, "AbCdEf123");
    CHECK_INT(graph_error_parse("{\"id\":\"1_2\"}", 12, &e), 0);
    CHECK_INT(graph_error_parse("<html>", 6, &e), 0);
    CHECK_INT(graph_error_parse("", 0, &e), 0);
}

static void test_token_reason_names_the_field(void)
{
    graph_error e = {.code = 190, .subcode = 463};
    snprintf(e.message, sizeof e.message, "Error validating access token: Session has expired");
    adapter_outcome o;
    graph_outcome(graph_classify(NULL, &e), &e, 400, "facebook",
                  "issue a new page token and set the environment variable FB_TOKEN (token_env)", 0,
                  &o);
    CHECK_INT(o.status, ADAPTER_FAILED);
    CHECK_INT(o.error, ADAPTER_ERR_AUTH);
    CHECK_INT(o.remote_code, 400);
    CHECK(strstr(o.reason, "facebook: access token refused: expired (Graph 190/463)") != NULL);
    CHECK(strstr(o.reason, "token_env") != NULL);
    CHECK_STR(graph_token_meaning(467), "invalid");
    CHECK(strlen(graph_token_meaning(458)) > 0 && strlen(graph_token_meaning(459)) > 0 &&
          strlen(graph_token_meaning(460)) > 0 && strlen(graph_token_meaning(464)) > 0);
}

static void test_throttle_outcome_holds_the_channel(void)
{
    graph_error e = {.code = 80001};
    adapter_outcome o;
    graph_outcome(graph_classify(NULL, &e), &e, 400, "facebook", "", 120000, &o);
    CHECK_INT(o.status, ADAPTER_AGAIN);
    CHECK_INT(o.error, ADAPTER_ERR_RATE_LIMIT);
    CHECK_INT(o.scope, ADAPTER_SCOPE_CHANNEL);
    CHECK_INT(o.retry_after_ms, 120000);
    CHECK_INT(o.hold, 0);
    CHECK(strstr(o.reason, "facebook: rate limited: page business-use-case rate limit reached "
                           "(Graph 80001)") != NULL);
    graph_error q = {.code = 9, .subcode = 2207042};
    graph_outcome(graph_classify(graph_instagram_rules, &q), &q, 400, "instagram", "", 3600000, &o);
    CHECK_INT(o.status, ADAPTER_AGAIN);
    CHECK_INT(o.hold, 1);
    CHECK_INT(o.scope, ADAPTER_SCOPE_ITEM);
    CHECK_INT(o.retry_after_ms, 3600000);
    graph_error p = {.code = 368};
    graph_outcome(graph_classify(NULL, &p), &p, 400, "facebook", "", 0, &o);
    CHECK_INT(o.status, ADAPTER_FAILED);
    CHECK(strstr(o.reason, "alert: ") && strstr(o.reason, "Graph 368"));
}

/* ---- usage headers -------------------------------------------------------------------- */

static void test_usage_headers(void)
{
    graph_usage u;
    graph_usage_parse("{\"call_count\":28,\"total_time\":25,\"total_cputime\":25}",
                      "{'call_count' : 85, 'total_cputime' : 56, 'total_time' : 60}", NULL, &u);
    CHECK_INT(u.seen, 1);
    CHECK_INT(u.max_percent, 85);
    CHECK_STR(u.which, "X-Page-Usage call_count");
    CHECK_INT(u.regain_minutes, -1);
    graph_usage_parse(NULL, NULL,
                      "{\"104\":[{\"type\":\"pages\",\"call_count\":12,\"total_cputime\":97,"
                      "\"total_time\":3,\"estimated_time_to_regain_access\":7}]}",
                      &u);
    CHECK_INT(u.max_percent, 97);
    CHECK_STR(u.which, "X-Business-Use-Case-Usage total_cputime");
    CHECK_INT(u.regain_minutes, 7);
    graph_usage_parse(NULL, NULL, NULL, &u);
    CHECK_INT(u.seen, 0);
    graph_usage_parse("not json", NULL, NULL, &u);
    CHECK_INT(u.seen, 0);
}

static void test_hold_back(void)
{
    graph_throttle t = {.threshold = 95, .backoff_s = 60};
    graph_usage u;
    adapter_outcome o;
    long long now = 1584835200000LL;
    graph_usage_parse("{\"call_count\":94,\"total_time\":1,\"total_cputime\":1}", NULL, NULL, &u);
    CHECK_INT(graph_throttle_note(&t, &u, now), 0);
    CHECK_INT(graph_throttle_active(&t, "facebook", now, &o), 0);
    graph_usage_parse("{\"call_count\":95,\"total_time\":1,\"total_cputime\":1}", NULL, NULL, &u);
    CHECK_INT(graph_throttle_note(&t, &u, now), 1);
    CHECK_INT(graph_throttle_active(&t, "facebook", now + 1000, &o), 1);
    CHECK_INT(o.status, ADAPTER_AGAIN);
    CHECK_INT(o.scope, ADAPTER_SCOPE_CHANNEL);
    CHECK_INT(o.error, ADAPTER_ERR_RATE_LIMIT);
    CHECK_INT(o.retry_after_ms, 59000);
    CHECK(strstr(o.reason, "X-App-Usage call_count at 95%") != NULL);
    CHECK_INT(graph_throttle_active(&t, "facebook", now + 60000, &o), 0);
    /* The BUC's own wait, in minutes, wins over the backoff. */
    graph_usage_parse(NULL, NULL,
                      "{\"1\":[{\"type\":\"pages\",\"call_count\":100,\"total_cputime\":1,"
                      "\"total_time\":1,\"estimated_time_to_regain_access\":5}]}",
                      &u);
    graph_throttle_note(&t, &u, now);
    CHECK_INT(graph_throttle_active(&t, "facebook", now, &o), 1);
    CHECK_INT(o.retry_after_ms, 300000);
    /* A throttling error without headers waits the configured backoff. */
    graph_throttle t2 = {.backoff_s = 30};
    graph_error e = {.code = 613};
    graph_usage none;
    graph_usage_parse(NULL, NULL, NULL, &none);
    CHECK_INT(graph_throttle_error(&t2, &none, &e, now), 30000);
    CHECK_INT(graph_throttle_active(&t2, "facebook", now, &o), 1);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void test_times_and_urls(void)
{
    CHECK_INT(graph_time_parse("2020-03-22T00:00:00+0000"), 1584835200);
    CHECK_INT(graph_time_parse("2020-03-22T09:00:00+09:00"), 1584835200);
    CHECK_INT(graph_time_parse("2020-03-22T00:00:00Z"), 1584835200);
    CHECK_INT(graph_time_parse("yesterday"), -1);
    CHECK_INT(graph_time_parse(NULL), -1);
    char buf[64];
    size_t n = graph_urlencode(buf, sizeof buf, 0, "a b/c~");
    CHECK_STR(buf, "a%20b%2Fc~");
    CHECK_INT(n, 10);
    CHECK_INT(graph_urlencode(buf, 4, 0, "abcdef"), 4);
}

/* ---- render: the exact payloads ------------------------------------------------------------ */

static json_t *campaign_doc(int with_image)
{
    json_t *doc = json_pack("{s:{s:{s:s},s:s,s:[s,s]},s:{s:[s,s],s:{s:s}}}", "message", "body",
                            "ko", "본문", "link", "https://www.seoul.go.kr/", "hashtags",
                            "잠시멈춤", "서울시", "sns", "networks", "facebook", "instagram",
                            "text", "ko", "[서울시] 잠시 멈춤에 함께해 주세요.");
    if (with_image)
        json_object_set_new(json_object_get(doc, "sns"), "image",
                            json_string("https://www.seoul.go.kr/poster.png"));
    return doc;
}

static adapter_item item_of(json_t *doc)
{
    return (adapter_item){.item_id = "c|r|1|sns",
                          .campaign_id = "c",
                          .release_id = "r",
                          .channel = "sns",
                          .target = "facebook",
                          .attempt = 1,
                          .campaign = doc};
}

static void test_facebook_render(void)
{
    facebook_conf conf = {.present = 1, .page_id = "104000000000001"};
    adapter_env env = {.offline = 1};
    char err[256] = "";
    void *s = adapter_facebook.ops->create(&env, &conf, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    json_t *doc = campaign_doc(0);
    adapter_item item = item_of(doc);
    json_t *r = adapter_facebook.ops->render(s, &item, err, sizeof err);
    char *text = r ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    CHECK_STR(text, "{\"body\":{\"link\":\"https://www.seoul.go.kr/\",\"message\":\"[서울시] 잠시 "
                    "멈춤에 함께해 주세요.\\n\\n#잠시멈춤 #서울시\"},\"counts\":{\"limit\":63206,"
                    "\"message\":33},\"method\":\"POST\",\"network\":\"facebook\",\"path\":"
                    "\"/104000000000001/feed\"}");
    free(text);
    json_decref(r);
    json_decref(doc);
    adapter_facebook.ops->destroy(s);
}

static void test_instagram_render(void)
{
    instagram_conf conf = {.present = 1, .ig_user_id = "17841400000000001"};
    adapter_env env = {.offline = 1};
    char err[256] = "";
    void *s = adapter_instagram.ops->create(&env, &conf, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    json_t *doc = campaign_doc(1);
    adapter_item item = item_of(doc);
    json_t *r = adapter_instagram.ops->render(s, &item, err, sizeof err);
    CHECK(json_is_array(r) && json_array_size(r) == 2);
    json_t *create = json_array_get(r, 0), *publish = json_array_get(r, 1);
    CHECK_STR(json_string_value(json_object_get(create, "path")), "/17841400000000001/media");
    CHECK_STR(json_string_value(json_object_get(json_object_get(create, "body"), "image_url")),
              "https://www.seoul.go.kr/poster.png");
    CHECK_STR(json_string_value(json_object_get(json_object_get(create, "body"), "caption")),
              "[서울시] 잠시 멈춤에 함께해 주세요.\n\n#잠시멈춤 #서울시");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(create, "counts"), "hashtags")),
              2);
    CHECK_STR(json_string_value(json_object_get(publish, "path")),
              "/17841400000000001/media_publish");
    json_decref(r);
    json_decref(doc);
    adapter_instagram.ops->destroy(s);
}

int main(void)
{
    classification_rows();
    RUN(test_container_status_subcode);
    RUN(test_error_object_parsed);
    RUN(test_token_reason_names_the_field);
    RUN(test_throttle_outcome_holds_the_channel);
    RUN(test_usage_headers);
    RUN(test_hold_back);
    RUN(test_times_and_urls);
    RUN(test_facebook_render);
    RUN(test_instagram_render);
    return check_exit_status();
}
