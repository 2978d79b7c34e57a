/*
 * test_kakaostory.c - the kakaostory adapter offline: what each of Kakao's
 * answers means (the classification table), render's exact requests, the
 * composed content, validate's counts and notes, and the answers that need
 * no network (api_posting off, insights). The wire exchange with the
 * stand-in is tests/integration/test_fake_kakaostory.py and the contract
 * suite's.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kakaostory.h"

/* adapters/kakaostory.c, for this test. */
void kakaostory_classify(int http_status, const char *body, size_t len, const char *token_source,
                         long long retry_after_ms, adapter_outcome *o);

static adapter_outcome classify(int status, const char *body)
{
    adapter_outcome o;
    kakaostory_classify(status, body, body ? strlen(body) : 0, "token_env HAECHI_KS_TOKEN", 60000,
                        &o);
    return o;
}

static void test_classification_table(void)
{
    static const struct {
        int http;
        const char *body;
        adapter_status status;
        adapter_error error;
        adapter_scope scope;
        const char *fragment;
    } rows[] = {
        {401, "{\"msg\":\"this access token is already expired\",\"code\":-401}", ADAPTER_FAILED,
         ADAPTER_ERR_AUTH, ADAPTER_SCOPE_ITEM,
         "issue a new user access token and put it in token_env HAECHI_KS_TOKEN"},
        {403, "{\"msg\":\"insufficient scopes\",\"code\":-402}", ADAPTER_FAILED, ADAPTER_ERR_AUTH,
         ADAPTER_SCOPE_ITEM, "Kakao -402"},
        {400, "{\"msg\":\"API limit has been exceeded.\",\"code\":-10}", ADAPTER_AGAIN,
         ADAPTER_ERR_RATE_LIMIT, ADAPTER_SCOPE_CHANNEL, "rate limit: quota exceeded (Kakao -10"},
        {429, "", ADAPTER_AGAIN, ADAPTER_ERR_RATE_LIMIT, ADAPTER_SCOPE_CHANNEL,
         "too many requests"},
        {503, "{\"msg\":\"service is under maintenance\",\"code\":-9798}", ADAPTER_AGAIN,
         ADAPTER_ERR_NETWORK, ADAPTER_SCOPE_ITEM, "maintenance"},
        {503, "{\"msg\":\"x\",\"code\":-9799}", ADAPTER_AGAIN, ADAPTER_ERR_NETWORK,
         ADAPTER_SCOPE_ITEM, "maintenance"},
        {502, "<html>bad gateway</html>", ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, ADAPTER_SCOPE_ITEM,
         "HTTP 502"},
        {400, "{\"msg\":\"internal error\",\"code\":-1}", ADAPTER_AGAIN, ADAPTER_ERR_NETWORK,
         ADAPTER_SCOPE_ITEM, "internal error at Kakao"},
        {400, "{\"msg\":\"content is required\",\"code\":-2}", ADAPTER_FAILED, ADAPTER_ERR_INVALID,
         ADAPTER_SCOPE_ITEM, "bad parameter (Kakao -2: content is required)"},
        {403, "{\"msg\":\"not enabled\",\"code\":-3}", ADAPTER_FAILED, ADAPTER_ERR_INVALID,
         ADAPTER_SCOPE_ITEM, "not enabled for the app"},
        {400, "{\"msg\":\"this user is not a kakaostory user\",\"code\":-601}", ADAPTER_FAILED,
         ADAPTER_ERR_REJECTED, ADAPTER_SCOPE_ITEM, "the account has no Kakao Story"},
        {400, "{\"msg\":\"this API has been terminated\",\"code\":-9}", ADAPTER_DECLINED,
         ADAPTER_ERR_NONE, ADAPTER_SCOPE_ITEM,
         "has ended (Kakao -9: this API has been terminated); post by hand or remove kakaostory "
         "from sns.networks"},
        {400, "{\"msg\":\"timeout\",\"code\":-603}", ADAPTER_AGAIN, ADAPTER_ERR_TIMEOUT,
         ADAPTER_SCOPE_ITEM, "may exist"},
        {403, "{\"msg\":\"restricted\",\"code\":-4}", ADAPTER_FAILED, ADAPTER_ERR_REJECTED,
         ADAPTER_SCOPE_ITEM, "blocked"},
        {400, "{\"msg\":\"what\",\"code\":-777}", ADAPTER_FAILED, ADAPTER_ERR_REJECTED,
         ADAPTER_SCOPE_ITEM, "refused (Kakao -777: what)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        adapter_outcome o = classify(rows[i].http, rows[i].body);
        char title[160];
        snprintf(title, sizeof title, "classify HTTP %d %.60s", rows[i].http, rows[i].body);
        int good = o.status == rows[i].status && o.error == rows[i].error &&
                   o.scope == rows[i].scope && o.remote_code == rows[i].http &&
                   strstr(o.reason, rows[i].fragment) && strncmp(o.reason, "kakaostory: ", 12) == 0;
        check_row(title, good, o.reason);
    }
    adapter_outcome q = classify(400, "{\"msg\":\"q\",\"code\":-10}");
    check_row("classify: a quota answer waits the configured time", q.retry_after_ms == 60000,
              q.reason);
    adapter_outcome t = classify(401, "{\"msg\":\"x\",\"code\":-401}");
    check_row("classify: an auth reason names the config field, never a token",
              strstr(t.reason, "token_env") && !strstr(t.reason, "Bearer"), t.reason);
}

/* ---- an adapter instance, offline --------------------------------------------- */

static void *instance(struct event_base *base, int offline, const kakaostory_conf *c)
{
    adapter_env env = {.base = base, .offline = offline};
    char err[256] = "";
    void *s = adapter_kakaostory.ops->create(&env, c, err, sizeof err);
    if (!s)
        fprintf(stderr, "create: %s\n", err);
    return s;
}

static adapter_item item_of(json_t *campaign)
{
    return (adapter_item){.item_id = "c|r|0|sns|kakaostory",
                          .campaign_id = "c",
                          .release_id = "r",
                          .channel = "sns",
                          .target = "kakaostory",
                          .due_ms = 1584835200000LL,
                          .attempt = 1,
                          .campaign = campaign};
}

static json_t *doc(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fprintf(stderr, "bad test JSON: %s\n", e.text);
    return v;
}

#define CAMPAIGN                                                                                   \
    "{\"message\":{\"body\":{\"ko\":\"본문\"},\"link\":\"https://www.seoul.go.kr/\","            \
    "\"hashtags\":[\"잠시멈춤\",\"서울시\"]},"                                              \
    "\"sns\":{\"networks\":[\"x\",\"kakaostory\"],\"text\":{\"ko\":\"잠시 멈춤에 함께해 "  \
    "주세요.\"}}}"

static void test_render_link_post(void)
{
    struct event_base *base = event_base_new();
    kakaostory_conf c = {.present = 1};
    void *s = instance(base, 1, &c);
    json_t *campaign = doc(CAMPAIGN);
    adapter_item item = item_of(campaign);
    char err[256] = "";
    json_t *got = s ? adapter_kakaostory.ops->render(s, &item, err, sizeof err) : NULL;
    json_t *want =
        doc("[{\"network\":\"kakaostory\",\"method\":\"GET\",\"path\":\"/v1/api/story/linkinfo\","
            "\"query\":{\"url\":\"https://www.seoul.go.kr/\"}},"
            "{\"network\":\"kakaostory\",\"method\":\"POST\",\"path\":\"/v1/api/story/post/link\","
            "\"body\":{\"content\":\"잠시 멈춤에 함께해 주세요.\\n\\nhttps://www.seoul.go.kr/"
            "\\n\\n#잠시멈춤 #서울시\",\"permission\":\"A\","
            "\"link_info\":\"(the answer of GET /v1/api/story/linkinfo)\"},"
            "\"counts\":{\"characters\":53,\"limit\":2048}}]");
    CHECK(got != NULL);
    CHECK(json_equal(got, want));
    if (got && !json_equal(got, want)) {
        char *t = json_dumps(got, JSON_COMPACT);
        fprintf(stderr, "render: %s\n", t);
        free(t);
    }
    json_decref(got);
    json_decref(want);
    json_decref(campaign);
    adapter_kakaostory.ops->destroy(s);
    event_base_free(base);
}

static void test_render_note_post_and_override(void)
{
    struct event_base *base = event_base_new();
    kakaostory_conf c = {.present = 1, .permission = "F", .enable_share = 1, .api_posting = "off"};
    void *s = instance(base, 1, &c);
    json_t *campaign = doc("{\"message\":{\"body\":{\"en\":\"only english\"}},"
                           "\"sns\":{\"text\":{\"ko\":\"공통\"},"
                           "\"kakaostory\":{\"text\":{\"ko\":\"카카오스토리만\"}}}}");
    adapter_item item = item_of(campaign);
    char err[256] = "";
    json_t *got = s ? adapter_kakaostory.ops->render(s, &item, err, sizeof err) : NULL;
    CHECK(json_is_object(got));
    CHECK_STR(json_string_value(json_object_get(got, "path")), "/v1/api/story/post/note");
    json_t *body = json_object_get(got, "body");
    CHECK_STR(json_string_value(json_object_get(body, "content")), "카카오스토리만");
    CHECK_STR(json_string_value(json_object_get(body, "permission")), "F");
    CHECK_STR(json_string_value(json_object_get(body, "enable_share")), "true");
    CHECK(strstr(json_string_value(json_object_get(got, "declined")), "api_posting") != NULL);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(got, "counts"), "characters")), 7);
    json_decref(got);
    json_decref(campaign);
    adapter_kakaostory.ops->destroy(s);
    event_base_free(base);
}

/* The link is not added twice when the text holds it already. */
static void test_compose_keeps_one_link(void)
{
    struct event_base *base = event_base_new();
    kakaostory_conf c = {.present = 1};
    void *s = instance(base, 1, &c);
    json_t *campaign = doc("{\"message\":{\"body\":{\"ko\":\"자세히 https://a.example/x 보기\"},"
                           "\"link\":\"https://a.example/x\"},\"sns\":{}}");
    adapter_item item = item_of(campaign);
    char err[256] = "";
    json_t *got = s ? adapter_kakaostory.ops->render(s, &item, err, sizeof err) : NULL;
    json_t *post = json_array_get(got, 1);
    CHECK_STR(json_string_value(json_object_get(json_object_get(post, "body"), "content")),
              "자세히 https://a.example/x 보기");
    json_decref(got);
    json_decref(campaign);
    adapter_kakaostory.ops->destroy(s);
    event_base_free(base);
}

static int has_message(const diag_list *l, const char *fragment)
{
    for (size_t i = 0; i < l->len; i++)
        if (strstr(l->items[i].message, fragment))
            return 1;
    return 0;
}

static void test_validate_counts_and_notes(void)
{
    char *big = malloc(2049 * 3 + 64);
    size_t used = (size_t)snprintf(big, 64, "{\"sns\":{\"text\":{\"ko\":\"");
    for (int i = 0; i < 2049; i++) {
        memcpy(big + used, "가", 3);
        used += 3;
    }
    snprintf(big + used, 64, "\"}},\"message\":{\"body\":{\"ko\":\"b\"}}}");
    json_t *over = doc(big);
    free(big);
    diag_list errs, notes;
    diag_list_init(&errs);
    diag_list_init(&notes);
    adapter_kakaostory.ops->validate(json_object_get(over, "sns"), over, "/sns", &errs, &notes);
    CHECK_INT(errs.len, 1);
    CHECK(has_message(&errs, "2,049 characters, the limit is 2,048"));
    CHECK(has_message(&notes, "2,049/2,048"));
    CHECK(has_message(&notes, "2023-11-15"));
    diag_list_release(&errs);
    diag_list_release(&notes);
    json_decref(over);

    json_t *elsewhere =
        doc("{\"sns\":{\"networks\":[\"x\"]},\"message\":{\"body\":{\"ko\":\"b\"}}}");
    diag_list_init(&errs);
    diag_list_init(&notes);
    adapter_kakaostory.ops->validate(json_object_get(elsewhere, "sns"), elsewhere, "/sns", &errs,
                                     &notes);
    CHECK_INT(errs.len + notes.len, 0); /* not a network of the section: nothing to say */
    diag_list_release(&errs);
    diag_list_release(&notes);
    json_decref(elsewhere);
}

/* ---- answers without a network ------------------------------------------------------ */

typedef struct seen {
    int n, in_call, during_call, had_figures;
    adapter_outcome o;
} seen;

static void on_done(const adapter_outcome *o, void *arg)
{
    seen *s = arg;
    s->n++;
    s->during_call += s->in_call;
    s->o = *o;
}

static void on_insights(const adapter_insights *fig, const adapter_outcome *o, void *arg)
{
    seen *s = arg;
    s->had_figures = fig != NULL;
    on_done(o, arg);
}

static void test_posting_off_declines_from_the_loop(void)
{
    struct event_base *base = event_base_new();
    kakaostory_conf c = {.present = 1, .api_posting = "off"};
    void *s = instance(base, 0, &c); /* no token needed: nothing is sent */
    json_t *campaign = doc(CAMPAIGN);
    adapter_item item = item_of(campaign);
    seen a = {.in_call = 1};
    CHECK(s != NULL);
    if (s) {
        CHECK(adapter_kakaostory.ops->send(s, &item, on_done, &a) == HAECHI_OK);
        a.in_call = 0;
        event_base_dispatch(base);
        CHECK_INT(a.n, 1);
        CHECK_INT(a.during_call, 0);
        CHECK(a.o.status == ADAPTER_DECLINED);
        CHECK(strstr(a.o.reason, "remove kakaostory from sns.networks") != NULL);
        seen b = {.in_call = 1};
        CHECK(adapter_kakaostory.ops->poll_insights(s, "kakaostory", "_X.1", on_insights, &b) ==
              HAECHI_OK);
        b.in_call = 0;
        event_base_dispatch(base);
        CHECK_INT(b.n, 1);
        CHECK_INT(b.during_call, 0);
        CHECK_INT(b.had_figures, 0);
        CHECK(strstr(b.o.reason, "no impressions") != NULL);
        adapter_kakaostory.ops->destroy(s);
    }
    json_decref(campaign);
    event_base_free(base);
}

static void test_create_needs_a_token(void)
{
    struct event_base *base = event_base_new();
    kakaostory_conf c = {.present = 1};
    adapter_env env = {.base = base};
    char err[256] = "";
    void *s = adapter_kakaostory.ops->create(&env, &c, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "token_env or token_file") != NULL);
    kakaostory_conf e = {.present = 1, .token_env = "HAECHI_TEST_KS_SURELY_UNSET"};
    s = adapter_kakaostory.ops->create(&env, &e, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strncmp(err, "token_env", 9) == 0);
    event_base_free(base);
}

int main(void)
{
    RUN(test_classification_table);
    RUN(test_render_link_post);
    RUN(test_render_note_post_and_override);
    RUN(test_compose_keeps_one_link);
    RUN(test_validate_counts_and_notes);
    RUN(test_posting_off_declines_from_the_loop);
    RUN(test_create_needs_a_token);
    return check_exit_status();
}
