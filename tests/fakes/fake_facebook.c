/*
 * fake_facebook.c - a stand-in for the Graph API's Page feed, as
 * shared/CHANNELS.md §2 has it (routes without the /vNN.0 prefix: the
 * adapter's url names the base):
 *
 *   POST /:page/feed        a Page post (message, link); {"id":"PAGE_POST"}
 *   GET  /:page/feed        recent posts (fields=id,message,created_time, since=<unix>)
 *   GET  /:id/insights      post_impressions, post_impressions_unique, post_clicks
 *   GET  /:id               the Page (fan_count, followers_count) or one post
 *
 * Tokens: a page token given with --token, as a Bearer header or the
 * access_token parameter; an unknown one gets 190/467, an expired one
 * 190/463. A post needs message or link (100); the same message again
 * within --duplicate-window-s (3,600) is 506. Every answer carries the
 * usage headers once enough calls were made (graph_fake.h).
 *
 * Named errors (error:NAME faults): policy (368), duplicate (506),
 * throttle (80001 with X-Business-Use-Case-Usage
 * estimated_time_to_regain_access = the fault's ms in minutes),
 * throttle-page (32), throttle-custom (613), throttle-app (4), permission
 * (200), invalid (100), link (1609005), token-expired (190/463),
 * transient (1, is_transient). "rate-limit" is 80001 too; "server-error" is
 * code 2, is_transient, with the fault's status (503).
 *
 * Figures of a post aged A minutes (at most 1,440), F the fan count:
 * post_impressions = F * A / 4800, post_impressions_unique = 60% of it,
 * post_clicks = 2% of it.
 *
 * Options: --page-id ID (104000000000001), --fan-count N (360000),
 * --followers N (fan count + 2%), --duplicate-window-s S (3600), and the
 * usage options of graph_fake.h.
 */
#include "graph_fake.h"

static struct {
    const char *page_id;
    long fans, followers, dup_window_s;
    json_t *posts; /* oldest first: {id, message, link, created_ms} */
    graph_fake g;
} fb = {
    .page_id = "104000000000001",
    .fans = 360000,
    .followers = -1,
    .dup_window_s = 3600,
    .g = {.owner_id = "104000000000001", .buc_type = "pages", GRAPH_FAKE_DEFAULTS},
};

static void throttle(fake_req *rq, int code, const char *message)
{
    long regain = code == 80001 ? graph_fake_regain_min(rq) : -1;
    graph_fake_usage(rq, &fb.g, regain);
    graph_fake_error(rq, &fb.g, 400, code, 0, 1, message);
}

static void no_object(fake_req *rq, const char *id)
{
    char msg[200];
    snprintf(msg, sizeof msg,
             "Unsupported get request. Object with ID '%.60s' does not exist, cannot be loaded "
             "due to missing permissions, or does not support this operation.",
             id);
    graph_fake_error(rq, &fb.g, 400, 100, 33, 0, msg);
}

static int fb_error(fake_req *rq, const char *kind, int status)
{
    if (graph_fake_common_error(rq, &fb.g, kind, status) == 0)
        return 0;
    if (strcmp(kind, "throttle") == 0 || strcmp(kind, "rate-limit") == 0) {
        throttle(rq, 80001,
                 "(#80001) There have been too many calls to this Page account. Wait a bit and "
                 "try again.");
        return 0;
    }
    if (strcmp(kind, "throttle-page") == 0) {
        throttle(rq, 32, "(#32) Page request limit reached");
        return 0;
    }
    if (strcmp(kind, "throttle-custom") == 0) {
        throttle(rq, 613, "(#613) Calls to this api have exceeded the rate limit.");
        return 0;
    }
    if (strcmp(kind, "throttle-app") == 0) {
        throttle(rq, 4, "(#4) Application request limit reached");
        return 0;
    }
    graph_fake_usage(rq, &fb.g, -1);
    if (strcmp(kind, "policy") == 0)
        graph_fake_error(rq, &fb.g, 400, 368, 1390008, 0,
                         "(#368) The action attempted has been deemed abusive or is otherwise "
                         "disallowed");
    else if (strcmp(kind, "duplicate") == 0)
        graph_fake_error(rq, &fb.g, 400, 506, 0, 0, "(#506) Duplicate status message");
    else if (strcmp(kind, "invalid") == 0)
        graph_fake_error(rq, &fb.g, 400, 100, 0, 0, "(#100) Invalid parameter");
    else if (strcmp(kind, "link") == 0)
        graph_fake_error(rq, &fb.g, 400, 1609005, 0, 0, "Error Posting Link");
    else
        return -1;
    return 0;
}

/* ---- posts ------------------------------------------------------------------ */

static int duplicate_of_recent(const char *message, int64_t now)
{
    size_t i;
    json_t *p;
    json_array_foreach(fb.posts, i, p)
    {
        int64_t at = json_integer_value(json_object_get(p, "created_ms"));
        const char *m = json_string_value(json_object_get(p, "message"));
        if (now - at < fb.dup_window_s * 1000 && m && strcmp(m, message) == 0)
            return 1;
    }
    return 0;
}

static void post_feed(fake_req *rq)
{
    const char *message = fake_param(rq, "message");
    const char *link = fake_param(rq, "link");
    graph_fake_usage(rq, &fb.g, -1);
    if (strcmp(rq->params[0], fb.page_id) != 0) {
        no_object(rq, rq->params[0]);
        return;
    }
    if ((!message || !*message) && (!link || !*link)) {
        graph_fake_error(rq, &fb.g, 400, 100, 0, 0, "(#100) Missing message or attachment");
        return;
    }
    if (message && *message && duplicate_of_recent(message, rq->now_ms)) {
        graph_fake_error(rq, &fb.g, 400, 506, 0, 0, "(#506) Duplicate status message");
        return;
    }
    char serial[32], id[96];
    fake_new_id(rq->f, serial, sizeof serial);
    snprintf(id, sizeof id, "%s_%s", fb.page_id, serial);
    json_array_append_new(fb.posts, json_pack("{s:s,s:s,s:s,s:I}", "id", id, "message",
                                              message ? message : "", "link", link ? link : "",
                                              "created_ms", (json_int_t)rq->now_ms));
    fake_reply_json(rq, 200, json_pack("{s:s}", "id", id), NULL);
}

static json_t *post_view(const fake_req *rq, const json_t *p)
{
    char at[80];
    graph_fake_time(json_integer_value(json_object_get(p, "created_ms")), at, sizeof at);
    json_t *v = json_pack("{s:O}", "id", json_object_get(p, "id"));
    const char *fields = fake_param(rq, "fields");
    if (!fields || graph_fake_lists(rq, "fields", "message"))
        json_object_set(v, "message", json_object_get(p, "message"));
    if (!fields || graph_fake_lists(rq, "fields", "created_time"))
        json_object_set_new(v, "created_time", json_string(at));
    return v;
}

static void read_feed(fake_req *rq)
{
    const char *since = fake_param(rq, "since");
    char *end = NULL;
    long long from = since ? strtoll(since, &end, 10) : 0;
    graph_fake_usage(rq, &fb.g, -1);
    if (strcmp(rq->params[0], fb.page_id) != 0) {
        no_object(rq, rq->params[0]);
        return;
    }
    if (since && (*end || end == since)) {
        graph_fake_error(rq, &fb.g, 400, 100, 0, 0,
                         "(#100) The since parameter must be a unix timestamp");
        return;
    }
    json_t *data = json_array();
    for (size_t i = json_array_size(fb.posts); i-- > 0 && json_array_size(data) < 100;) {
        json_t *p = json_array_get(fb.posts, i);
        if (json_integer_value(json_object_get(p, "created_ms")) >= from * 1000)
            json_array_append_new(data, post_view(rq, p));
    }
    fake_reply_json(rq, 200, json_pack("{s:o,s:{}}", "data", data, "paging"), NULL);
}

static json_t *find_post(const char *id)
{
    size_t i;
    json_t *p;
    json_array_foreach(fb.posts, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "id")), id) == 0)
            return p;
    }
    return NULL;
}

static void read_object(fake_req *rq)
{
    graph_fake_usage(rq, &fb.g, -1);
    if (strcmp(rq->params[0], fb.page_id) == 0) {
        json_t *page = json_pack("{s:s}", "id", fb.page_id);
        const char *fields = fake_param(rq, "fields");
        if (!fields)
            json_object_set_new(page, "name", json_string("서울특별시"));
        if (graph_fake_lists(rq, "fields", "fan_count"))
            json_object_set_new(page, "fan_count", json_integer(fb.fans));
        if (graph_fake_lists(rq, "fields", "followers_count"))
            json_object_set_new(
                page, "followers_count",
                json_integer(fb.followers >= 0 ? fb.followers : fb.fans + fb.fans / 50));
        fake_reply_json(rq, 200, page, NULL);
        return;
    }
    json_t *p = find_post(rq->params[0]);
    if (!p) {
        no_object(rq, rq->params[0]);
        return;
    }
    fake_reply_json(rq, 200, post_view(rq, p), NULL);
}

static void insights(fake_req *rq)
{
    static const char *const known[] = {"post_impressions", "post_impressions_unique",
                                        "post_clicks"};
    graph_fake_usage(rq, &fb.g, -1);
    json_t *p = find_post(rq->params[0]);
    if (!p) {
        no_object(rq, rq->params[0]);
        return;
    }
    if (!fake_param(rq, "metric")) {
        graph_fake_error(rq, &fb.g, 400, 100, 0, 0,
                         "(#100) The value must be a valid insights metric");
        return;
    }
    long long imp = graph_fake_impressions(
        fb.fans, rq->now_ms - json_integer_value(json_object_get(p, "created_ms")));
    long long values[] = {imp, imp * 6 / 10, imp / 50};
    json_t *data = json_array();
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (graph_fake_lists(rq, "metric", known[i]))
            json_array_append_new(data, graph_fake_metric(rq->params[0], known[i], values[i]));
    if (json_array_size(data) == 0) {
        json_decref(data);
        graph_fake_error(rq, &fb.g, 400, 100, 0, 0,
                         "(#100) The value must be a valid insights metric");
        return;
    }
    fake_reply_json(rq, 200, json_pack("{s:o,s:{}}", "data", data, "paging"), NULL);
}

/* ---- the service --------------------------------------------------------------- */

static int fb_option(const char *name, const char *v)
{
    int used = graph_fake_option(&fb.g, name, v);
    if (used)
        return used;
    if (strcmp(name, "--page-id") == 0 && v && *v) {
        fb.page_id = v;
        fb.g.owner_id = v;
        return 2;
    }
    if (strcmp(name, "--fan-count") == 0)
        return graph_fake_number(v, 0, &fb.fans);
    if (strcmp(name, "--followers") == 0)
        return graph_fake_number(v, 0, &fb.followers);
    if (strcmp(name, "--duplicate-window-s") == 0)
        return graph_fake_number(v, 0, &fb.dup_window_s);
    return 0;
}

static int fb_init(fake *f)
{
    (void)f;
    fb.posts = json_array();
    return fb.posts ? 0 : -1;
}

static void fb_reset(fake *f)
{
    (void)f;
    json_array_clear(fb.posts);
    fb.g.calls = 0;
}

static json_t *fb_state(fake *f)
{
    (void)f;
    return json_pack("{s:O,s:{s:s,s:i},s:i,s:i}", "posts", fb.posts, "page", "id", fb.page_id,
                     "fan_count", (int)fb.fans, "calls", (int)fb.g.calls, "usage_percent",
                     (int)graph_fake_percent(&fb.g));
}

static void fb_release(fake *f)
{
    (void)f;
    json_decref(fb.posts);
}

static const fake_route routes[] = {
    {"POST", "/:page/feed", post_feed, 0},
    {"GET", "/:page/feed", read_feed, 0},
    {"GET", "/:id/insights", insights, 0},
    {"GET", "/:id", read_object, 0},
    {0},
};

static const fake_service service = {
    .name = "facebook",
    .routes = routes,
    .error = fb_error,
    .option = fb_option,
    .init = fb_init,
    .state = fb_state,
    .reset = fb_reset,
    .release = fb_release,
};

int main(int argc, char **argv)
{
    return fake_main(argc, argv, &service);
}
