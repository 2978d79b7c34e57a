/*
 * facebook.c - the "facebook" adapter: one post on a Facebook Page's feed
 * through the Graph API with a page access token (CHANNELS.md §2).
 *
 * A send is four steps on the outbound client (post.h): read the page's
 * fan count unless it is cached (reach_read), look for the post on the
 * page when an earlier attempt may have made it (lookup), post it
 * (create), and read the answer (answered). Errors are classified by the
 * Graph error code through graph.c's one table; the usage headers of every
 * answer may hold the next sends back before they call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "facebook.h"
#include "graph.h"
#include "post.h"
#include "sns_text.h"

#define FB_SERVICE "facebook"
#define FB_DEFAULT_URL "https://graph.facebook.com/v24.0"

/* ---- config -------------------------------------------------------------------------- */

static const jfield facebook_fields[] = {
    {.name = "url", .kind = JK_STRING, .min = 1, .max = 511, JF_STORE(facebook_conf, url)},
    {.name = "token_env",
     .kind = JK_STRING,
     .min = 1,
     .max = 127,
     JF_STORE(facebook_conf, token_env)},
    {.name = "token_file",
     .kind = JK_STRING,
     .min = 1,
     .max = 1023,
     JF_STORE(facebook_conf, token_file)},
    {.name = "lookup_minutes",
     .kind = JK_INT,
     .min = 1,
     .max = 10080,
     JF_STORE(facebook_conf, lookup_minutes)},
    {.name = "reach_cache_s", .kind = JK_INT, .max = 86400, JF_STORE(facebook_conf, reach_cache_s)},
    {.name = "page_id",
     .kind = JK_STRING,
     .required = 1,
     .min = 1,
     .max = 63,
     JF_STORE(facebook_conf, page_id)},
    {.name = "usage_threshold",
     .kind = JK_INT,
     .min = 1,
     .max = 100,
     JF_STORE(facebook_conf, usage_threshold)},
    {.name = "usage_backoff_s",
     .kind = JK_INT,
     .min = 1,
     .max = 86400,
     JF_STORE(facebook_conf, usage_backoff_s)},
    {0}};
const jobject facebook_conf_shape = {.fields = facebook_fields};

/* ---- state ---------------------------------------------------------------------------- */

typedef struct fb_state {
    facebook_conf conf;
    post_set posts;
    char *token; /* never logged, never rendered */
    long long reach, reach_read_ms;
    graph_throttle throttle;
    char token_hint[200]; /* where an operator puts a new token */
} fb_state;

/* One send: its text and what it has learnt so far. */
typedef struct fb_send {
    fb_state *s;
    long long reach;
    int refused;               /* a 506 to the post: the look-up decides */
    adapter_outcome duplicate; /* the outcome when the look-up finds nothing */
    char link[2048];
    char message[]; /* the composed text */
} fb_send;

static void conf_defaults(facebook_conf *c)
{
    if (!c->url[0])
        snprintf(c->url, sizeof c->url, "%s", FB_DEFAULT_URL);
    if (c->lookup_minutes <= 0)
        c->lookup_minutes = 10;
    if (c->reach_cache_s <= 0)
        c->reach_cache_s = 300;
    if (c->usage_threshold <= 0)
        c->usage_threshold = 95;
    if (c->usage_backoff_s <= 0)
        c->usage_backoff_s = 60;
}

static void *fb_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    fb_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (conf)
        s->conf = *(const facebook_conf *)conf;
    conf_defaults(&s->conf);
    post_set_init(&s->posts, env);
    s->throttle.threshold = (int)s->conf.usage_threshold;
    s->throttle.backoff_s = s->conf.usage_backoff_s;
    if (graph_token_open("facebook", "page token", s->conf.token_env, s->conf.token_file,
                         env->offline, &s->token, s->token_hint, sizeof s->token_hint, err,
                         errlen) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void fb_destroy(void *state)
{
    fb_state *s = state;
    if (!s)
        return;
    post_set_close(&s->posts);
    free(s->token);
    free(s);
}

/* ---- validate and render ------------------------------------------------------------------ */

static void fb_validate(const json_t *section, const json_t *doc, const char *path, diag_list *errs,
                        diag_list *notes)
{
    sns_text_check(section, doc, "facebook", path, errs, notes);
}

static json_t *fb_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    fb_state *s = state;
    graph_text t;
    if (graph_compose(item->campaign, item->release_id, "facebook", &t) != 0) {
        graph_text_free(&t);
        snprintf(err, errlen, "facebook: the campaign has no text to post");
        return NULL;
    }
    char path[128];
    /* Offline without a config: the approver still sees where it goes. */
    snprintf(path, sizeof path, "/%s/feed", s->conf.page_id[0] ? s->conf.page_id : "{page_id}");
    json_t *body = json_pack("{s:s}", "message", t.text);
    if (body && t.link)
        json_object_set_new(body, "link", json_string(t.link));
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I}}", "network", FB_SERVICE, "method", "POST",
                  "path", path, "body", body, "counts", "message", (json_int_t)t.chars, "limit",
                  (json_int_t)sns_rules_for(FB_SERVICE)->max_length);
    graph_text_free(&t);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

/* ---- the send's steps ------------------------------------------------------------------------- */

static int get(post *p, const char *url, post_step_fn *next)
{
    fb_send *d = post_data(p);
    char auth[1100];
    graph_auth_header(auth, sizeof auth, d->s->token);
    const char *headers[] = {auth, NULL};
    outbound_request rq = {.method = "GET", .url = url, .headers = headers};
    return post_request(p, &rq, next);
}

/* Every answer may say how close the app and the page are to their limits. */
static void note_usage(fb_send *d, const outbound_response *r, graph_usage *u)
{
    graph_usage_read(r, u);
    graph_throttle_note(&d->s->throttle, u, post_now_ms());
}

static const char *hint_for(const fb_state *s, const graph_rule *rule, const graph_error *e)
{
    if (e->code == 190)
        return s->token_hint;
    if (rule->error == ADAPTER_ERR_AUTH)
        return "the page token needs pages_manage_posts and the CREATE_CONTENT task";
    if (e->code == 368)
        return "Facebook blocks posting from this page for now; review the page's quality";
    if (e->code == 1609005)
        return "check that the campaign's link answers";
    return "";
}

/* A Graph error answer to any step (POSTING: to the post itself): the
 * outcome its code says. */
static void lookup(post *p);

static void error_answer(post *p, const outbound_response *r, int posting)
{
    fb_send *d = post_data(p);
    graph_usage u;
    graph_error e;
    adapter_outcome o;
    note_usage(d, r, &u);
    if (!graph_error_parse(r->body, r->body_len, &e)) {
        graph_outcome_unparsed(r, FB_SERVICE, &o);
        post_finish(p, &o);
        return;
    }
    const graph_rule *rule = graph_classify(NULL, &e);
    long long delay = 0;
    if (rule->action == GRAPH_THROTTLE)
        delay = graph_throttle_error(&d->s->throttle, &u, &e, post_now_ms());
    if (rule->action == GRAPH_DUPLICATE && post_item(p)->maybe_sent && posting) {
        post_ok(p, "", d->reach,
                "facebook refused it as a duplicate (Graph 506) after an unknown outcome: "
                "counted as sent, not posted again");
        return;
    }
    graph_outcome(rule, &e, r->status, FB_SERVICE, hint_for(d->s, rule, &e), delay, &o);
    if (rule->action == GRAPH_DUPLICATE && posting) {
        /* The refusal may be to a copy of this item's own post: an
         * attempt whose answer was lost, or a request sent twice on the
         * way. Only this item's text since its window opened counts as
         * its post. */
        d->refused = 1;
        d->duplicate = o;
        lookup(p);
        return;
    }
    post_finish(p, &o);
}

static void answered(post *p, const outbound_response *r)
{
    fb_send *d = post_data(p);
    if (r->status != 200) {
        error_answer(p, r, 1);
        return;
    }
    graph_usage u;
    note_usage(d, r, &u);
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id)
        post_ok(p, id, d->reach, NULL);
    else
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_TIMEOUT, r->status,
                  "facebook: HTTP 200 without a post id (it may have been posted)");
    json_decref(doc);
}

static void create(post *p)
{
    fb_send *d = post_data(p);
    char url[800], auth[1100];
    snprintf(url, sizeof url, "%s/%s/feed", d->s->conf.url, d->s->conf.page_id);
    json_t *body = json_pack("{s:s}", "message", d->message);
    if (body && d->link[0])
        json_object_set_new(body, "link", json_string(d->link));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "facebook: out of memory");
        return;
    }
    graph_auth_header(auth, sizeof auth, d->s->token);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    outbound_request rq = {
        .method = "POST", .url = url, .headers = headers, .body = text, .body_len = strlen(text)};
    post_request(p, &rq, answered);
    free(text);
}

/* The page's recent posts: the same text since the window opened is ours. */
static void lookup_read(post *p, const outbound_response *r)
{
    fb_send *d = post_data(p);
    if (r->status != 200) {
        error_answer(p, r, 0);
        return;
    }
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    size_t i;
    json_t *postj;
    json_array_foreach(json_object_get(doc, "data"), i, postj)
    {
        const char *msg = json_string_value(json_object_get(postj, "message"));
        const char *id = json_string_value(json_object_get(postj, "id"));
        if (msg && id && strcmp(msg, d->message) == 0) {
            post_ok(p, id, d->reach,
                    d->refused ? "facebook refused it as a duplicate (Graph 506) and the same "
                                 "text is on the page since the item's window opened: counted "
                                 "as sent, not posted again"
                               : "found on the account after an unknown outcome; not posted "
                                 "again");
            json_decref(doc);
            return;
        }
    }
    json_decref(doc);
    if (d->refused)
        post_finish(p, &d->duplicate);
    else
        create(p);
}

static void lookup(post *p)
{
    fb_send *d = post_data(p);
    const adapter_item *item = post_item(p);
    long long since = item->due_ms / 1000 - d->s->conf.lookup_minutes * 60;
    char url[900];
    snprintf(url, sizeof url, "%s/%s/feed?fields=id,message,created_time&since=%lld",
             d->s->conf.url, d->s->conf.page_id, since);
    get(p, url, lookup_read);
}

static void lookup_or_create(post *p)
{
    if (post_item(p)->maybe_sent)
        lookup(p);
    else
        create(p);
}

/* A failed read of the fan count never blocks the post: the reach is 0. */
static void reach_read(post *p, const outbound_response *r)
{
    fb_send *d = post_data(p);
    graph_usage u;
    note_usage(d, r, &u);
    json_t *doc = r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *n = json_object_get(doc, "fan_count");
    if (!json_is_integer(n))
        n = json_object_get(doc, "followers_count");
    if (json_is_integer(n)) {
        d->reach = (long long)json_integer_value(n);
        d->s->reach = d->reach;
        d->s->reach_read_ms = post_now_ms();
    }
    json_decref(doc);
    lookup_or_create(p);
}

/* The first step: held back by the usage headers, or on to the reach. */
static void start(post *p)
{
    fb_send *d = post_data(p);
    fb_state *s = d->s;
    long long now = post_now_ms();
    adapter_outcome held;
    if (graph_throttle_active(&s->throttle, FB_SERVICE, now, &held)) {
        post_finish(p, &held);
        return;
    }
    if (s->reach_read_ms && now - s->reach_read_ms < s->conf.reach_cache_s * 1000) {
        d->reach = s->reach;
        lookup_or_create(p);
        return;
    }
    char url[800];
    snprintf(url, sizeof url, "%s/%s?fields=fan_count,followers_count", s->conf.url,
             s->conf.page_id);
    get(p, url, reach_read);
}

static haechi_status fb_send_item(void *state, const adapter_item *item, adapter_done_fn *done,
                                  void *arg)
{
    fb_state *s = state;
    graph_text t;
    int composed = graph_compose(item->campaign, item->release_id, "facebook", &t) == 0;
    size_t len = composed ? strlen(t.text) : 0;
    post *p = post_new(&s->posts, item, done, arg, sizeof(fb_send) + len + 1);
    if (!p) {
        graph_text_free(&t);
        return HAECHI_ERR;
    }
    fb_send *d = post_data(p);
    d->s = s;
    if (composed)
        memcpy(d->message, t.text, len + 1);
    snprintf(d->link, sizeof d->link, "%s", t.link ? t.link : "");
    graph_text_free(&t);
    if (!composed) {
        post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_INVALID, 0,
                  "facebook: the campaign has no text to post");
        return HAECHI_OK;
    }

    /* Every request starts from the loop: a burst of sends returns at once,
     * and a send cancelled before its turn surely did not reach the service. */
    post_after(p, 0, start);
    return HAECHI_OK;
}

static void fb_cancel(void *state, const char *item_id)
{
    fb_state *s = state;
    post_set_cancel(&s->posts, item_id);
}

static haechi_status fb_poll_insights(void *state, const char *target, const char *external_id,
                                      adapter_insights_fn *done, void *arg)
{
    fb_state *s = state;
    (void)target;
    static const graph_metrics names = {.impressions = "post_impressions",
                                        .reach = "post_impressions_unique",
                                        .clicks = "post_clicks"};
    char url[900];
    snprintf(url, sizeof url,
             "%s/%s/insights?metric=post_impressions,post_impressions_unique,post_clicks",
             s->conf.url, external_id);
    return graph_poll_insights(&s->posts, FB_SERVICE, url, s->token, &names, external_id, done,
                               arg);
}

static const adapter_ops facebook_ops = {
    .create = fb_create,
    .destroy = fb_destroy,
    .validate = fb_validate,
    .render = fb_render,
    .send = fb_send_item,
    .cancel = fb_cancel,
    .poll_insights = fb_poll_insights,
};

const adapter_desc adapter_facebook = {
    .name = "facebook",
    .summary = "posts to a Facebook Page's feed through the Graph API (page token)",
    .flags = ADAPTER_INSIGHTS,
    .limits = {.max_inflight = 4},
    .config_shape = &facebook_conf_shape,
    .config_size = sizeof(facebook_conf),
    .ops = &facebook_ops,
};
