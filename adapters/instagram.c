/*
 * instagram.c - the "instagram" adapter: one image post on a professional
 * account through the Graph API's content publishing (CHANNELS.md §3).
 *
 * A send is: read the follower count unless cached (reach_read), look for
 * the post when an earlier attempt may have made it (lookup), read the
 * rolling 24-hour publishing quota (quota_read: a full quota holds the
 * item, it is not a failure), make a media container (create), read its
 * status until it is FINISHED (poll), publish it (publish), and read the
 * answer (published). A "not ready" answer to the publish goes back to
 * polling. Errors are classified by code and subcode through one table,
 * graph_instagram_rules (graph.c), in front of the Graph-wide one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "graph.h"
#include "instagram.h"
#include "isotime.h"
#include "post.h"
#include "sns_text.h"

#define IG_SERVICE "instagram"
#define IG_DEFAULT_URL "https://graph.facebook.com/v24.0"

/* ---- config -------------------------------------------------------------------------- */

static const jfield instagram_fields[] = {
    {.name = "url", .kind = JK_STRING, .min = 1, .max = 511, JF_STORE(instagram_conf, url)},
    {.name = "token_env",
     .kind = JK_STRING,
     .min = 1,
     .max = 127,
     JF_STORE(instagram_conf, token_env)},
    {.name = "token_file",
     .kind = JK_STRING,
     .min = 1,
     .max = 1023,
     JF_STORE(instagram_conf, token_file)},
    {.name = "lookup_minutes",
     .kind = JK_INT,
     .min = 1,
     .max = 10080,
     JF_STORE(instagram_conf, lookup_minutes)},
    {.name = "reach_cache_s",
     .kind = JK_INT,
     .max = 86400,
     JF_STORE(instagram_conf, reach_cache_s)},
    {.name = "ig_user_id",
     .kind = JK_STRING,
     .required = 1,
     .min = 1,
     .max = 63,
     JF_STORE(instagram_conf, ig_user_id)},
    {.name = "poll_interval_ms",
     .kind = JK_INT,
     .min = 1,
     .max = 600000,
     JF_STORE(instagram_conf, poll_interval_ms)},
    {.name = "poll_max", .kind = JK_INT, .min = 1, .max = 1000, JF_STORE(instagram_conf, poll_max)},
    {.name = "quota_wait_s",
     .kind = JK_INT,
     .min = 1,
     .max = 86400,
     JF_STORE(instagram_conf, quota_wait_s)},
    {.name = "usage_threshold",
     .kind = JK_INT,
     .min = 1,
     .max = 100,
     JF_STORE(instagram_conf, usage_threshold)},
    {.name = "usage_backoff_s",
     .kind = JK_INT,
     .min = 1,
     .max = 86400,
     JF_STORE(instagram_conf, usage_backoff_s)},
    {0}};
const jobject instagram_conf_shape = {.fields = instagram_fields};

/* ---- state ---------------------------------------------------------------------------- */

typedef struct ig_state {
    instagram_conf conf;
    post_set posts;
    char *token; /* never logged, never rendered */
    long long reach, reach_read_ms;
    graph_throttle throttle;
    char token_hint[200];
} ig_state;

typedef struct ig_send {
    ig_state *s;
    long long reach;
    long long polls;
    int verify;              /* a publish answered an error: the container's status decides */
    int verifying;           /* the container is PUBLISHED: its media is being looked up */
    adapter_outcome refusal; /* that error's outcome, when the container is not published */
    char container[64];
    char image[2048];
    char caption[]; /* the composed text */
} ig_send;

static void conf_defaults(instagram_conf *c)
{
    if (!c->url[0])
        snprintf(c->url, sizeof c->url, "%s", IG_DEFAULT_URL);
    if (c->lookup_minutes <= 0)
        c->lookup_minutes = 10;
    if (c->reach_cache_s <= 0)
        c->reach_cache_s = 300;
    if (c->poll_interval_ms <= 0)
        c->poll_interval_ms = 5000;
    if (c->poll_max <= 0)
        c->poll_max = 60;
    if (c->quota_wait_s <= 0)
        c->quota_wait_s = 3600;
    if (c->usage_threshold <= 0)
        c->usage_threshold = 95;
    if (c->usage_backoff_s <= 0)
        c->usage_backoff_s = 60;
}

static void *ig_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    ig_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (conf)
        s->conf = *(const instagram_conf *)conf;
    conf_defaults(&s->conf);
    post_set_init(&s->posts, env);
    s->throttle.threshold = (int)s->conf.usage_threshold;
    s->throttle.backoff_s = s->conf.usage_backoff_s;
    if (graph_token_open("instagram", "token", s->conf.token_env, s->conf.token_file, env->offline,
                         &s->token, s->token_hint, sizeof s->token_hint, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void ig_destroy(void *state)
{
    ig_state *s = state;
    if (!s)
        return;
    post_set_close(&s->posts);
    free(s->token);
    free(s);
}

/* ---- validate and render ------------------------------------------------------------------ */

static void ig_validate(const json_t *section, const json_t *doc, const char *path, diag_list *errs,
                        diag_list *notes)
{
    sns_text_check(section, doc, "instagram", path, errs, notes);
}

static json_t *ig_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    ig_state *s = state;
    graph_text t;
    if (graph_compose(item->campaign, item->release_id, "instagram", &t) != 0) {
        graph_text_free(&t);
        snprintf(err, errlen, "instagram: the campaign has no text to post");
        return NULL;
    }
    const sns_rules *rules = sns_rules_for(IG_SERVICE);
    char media[128], publish[128];
    /* Offline without a config: the approver still sees where it goes. */
    const char *user = s->conf.ig_user_id[0] ? s->conf.ig_user_id : "{ig_user_id}";
    snprintf(media, sizeof media, "/%s/media", user);
    snprintf(publish, sizeof publish, "/%s/media_publish", user);
    json_t *out = json_pack(
        "[{s:s, s:s, s:s, s:{s:s?, s:s}, s:{s:I, s:I, s:I, s:I}}, {s:s, s:s, s:s, s:{s:s}}]",
        "network", IG_SERVICE, "method", "POST", "path", media, "body", "image_url", t.image,
        "caption", t.text, "counts", "caption", (json_int_t)t.chars, "limit",
        (json_int_t)rules->max_length, "hashtags", (json_int_t)t.hashtags, "hashtag_limit",
        (json_int_t)rules->max_hashtags, "network", IG_SERVICE, "method", "POST", "path", publish,
        "query", "creation_id", "<the container's id>");
    graph_text_free(&t);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

/* ---- the send's steps ------------------------------------------------------------------------- */

static void poll(post *p);

static int request(post *p, const char *method, const char *url, const char *body,
                   post_step_fn *next)
{
    ig_send *d = post_data(p);
    char auth[1100];
    graph_auth_header(auth, sizeof auth, d->s->token);
    const char *headers[] = {auth, body ? "Content-Type: application/json" : NULL, NULL};
    outbound_request rq = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body ? strlen(body) : 0};
    return post_request(p, &rq, next);
}

static void note_usage(ig_send *d, const outbound_response *r, graph_usage *u)
{
    graph_usage_read(r, u);
    graph_throttle_note(&d->s->throttle, u, post_now_ms());
}

static void verify_publish(post *p);

/* Ends the send with O, unless O answers a publish: the refusal may be to
 * a second copy of a publish that went out (a request sent twice on the
 * way). The container's status says which. */
static void end(post *p, const adapter_outcome *o)
{
    ig_send *d = post_data(p);
    if (!d->verify) {
        post_finish(p, o);
        return;
    }
    d->verify = 0;
    d->refusal = *o;
    verify_publish(p);
}

/* "instagram: publishing quota 50/50 in 24 h; waiting until 2020-03-05 10:00 KST (Thu)" */
static void hold_for_quota(post *p, long long used, long long total, const char *why)
{
    ig_send *d = post_data(p);
    long long wait_ms = d->s->conf.quota_wait_s * 1000;
    char until[64];
    isotime_format_human((post_now_ms() + wait_ms) / 1000, post_item(p)->zone, until, sizeof until);
    /* Scope ITEM: the quota is Instagram's alone; the sns channel's other
     * networks go on. */
    adapter_outcome o = {.status = ADAPTER_AGAIN,
                         .error = ADAPTER_ERR_RATE_LIMIT,
                         .scope = ADAPTER_SCOPE_ITEM,
                         .retry_after_ms = wait_ms,
                         .hold = 1};
    if (used >= 0)
        snprintf(o.reason, sizeof o.reason,
                 "instagram: publishing quota %lld/%lld in 24 h; waiting until %s", used, total,
                 until);
    else
        snprintf(o.reason, sizeof o.reason, "instagram: %.120s; waiting until %s", why, until);
    end(p, &o);
}

static void error_outcome(post *p, const graph_rule *rule, const graph_error *e, int status,
                          const graph_usage *u)
{
    ig_send *d = post_data(p);
    adapter_outcome o;
    if (rule->action == GRAPH_HOLD) {
        char why[160];
        snprintf(why, sizeof why, "%s (Graph %d/%d)", rule->meaning, e->code, e->subcode);
        hold_for_quota(p, -1, 0, why);
        return;
    }
    long long delay = 0;
    if (rule->action == GRAPH_THROTTLE)
        delay = graph_throttle_error(&d->s->throttle, u, e, post_now_ms());
    graph_outcome(rule, e, status, IG_SERVICE,
                  e->code == 190 ? d->s->token_hint
                  : rule->action == GRAPH_ALERT
                      ? "people must look at the account before it posts again"
                      : "",
                  delay, &o);
    end(p, &o);
}

/* A Graph error answer to any step. Returns the rule, NULL when the send
 * has ended with an unparsed answer. */
static const graph_rule *error_answer(post *p, const outbound_response *r, graph_error *e,
                                      graph_usage *u)
{
    ig_send *d = post_data(p);
    note_usage(d, r, u);
    if (!graph_error_parse(r->body, r->body_len, e)) {
        adapter_outcome o;
        graph_outcome_unparsed(r, IG_SERVICE, &o);
        post_finish(p, &o);
        return NULL;
    }
    return graph_classify(graph_instagram_rules, e);
}

static void fail_answer(post *p, const outbound_response *r)
{
    graph_error e;
    graph_usage u;
    const graph_rule *rule = error_answer(p, r, &e, &u);
    if (rule)
        error_outcome(p, rule, &e, r->status, &u);
}

static json_t *body_json(const outbound_response *r)
{
    return json_loadb(r->body, r->body_len, 0, NULL);
}

static void published(post *p, const outbound_response *r)
{
    ig_send *d = post_data(p);
    if (r->status != 200) {
        graph_error e;
        graph_usage u;
        const graph_rule *rule = error_answer(p, r, &e, &u);
        if (rule && rule->action == GRAPH_NOT_READY && d->polls < d->s->conf.poll_max) {
            d->polls++;
            post_after(p, d->s->conf.poll_interval_ms, poll);
        } else if (rule) {
            d->verify = 1;
            error_outcome(p, rule, &e, r->status, &u);
        }
        return;
    }
    graph_usage u;
    note_usage(d, r, &u);
    json_t *doc = body_json(r);
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id)
        post_ok(p, id, d->reach, NULL);
    else
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_TIMEOUT, r->status,
                  "instagram: HTTP 200 without a media id (it may have been published)");
    json_decref(doc);
}

static void publish(post *p)
{
    ig_send *d = post_data(p);
    char url[900];
    snprintf(url, sizeof url, "%s/%s/media_publish?creation_id=%s", d->s->conf.url,
             d->s->conf.ig_user_id, d->container);
    request(p, "POST", url, NULL, published);
}

static void status_read(post *p, const outbound_response *r)
{
    ig_send *d = post_data(p);
    if (r->status != 200) {
        fail_answer(p, r);
        return;
    }
    json_t *doc = body_json(r);
    const char *code = json_string_value(json_object_get(doc, "status_code"));
    const char *status = json_string_value(json_object_get(doc, "status"));
    char detail[160];
    snprintf(detail, sizeof detail, "%s", status ? status : "");
    if (!code) {
        json_decref(doc);
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, r->status,
                  "instagram: container %s: no status_code in the answer", d->container);
        return;
    }
    if (strcmp(code, "FINISHED") == 0) {
        json_decref(doc);
        publish(p);
    } else if (strcmp(code, "IN_PROGRESS") == 0) {
        json_decref(doc);
        if (d->polls++ < d->s->conf.poll_max)
            post_after(p, d->s->conf.poll_interval_ms, poll);
        else
            post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_TIMEOUT, r->status,
                      "instagram: container %s still IN_PROGRESS after %lld status reads",
                      d->container, d->polls);
    } else if (strcmp(code, "EXPIRED") == 0) {
        json_decref(doc);
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_REJECTED, r->status,
                  "instagram: container %s EXPIRED (not published within 24 h); a new one on "
                  "the next attempt",
                  d->container);
    } else if (strcmp(code, "PUBLISHED") == 0) {
        json_decref(doc);
        post_ok(p, d->container, d->reach,
                "the container was already published: its id stands for the media");
    } else {
        json_decref(doc);
        /* ERROR: status holds the subcode that says why. */
        const char *digits = strstr(detail, "2207");
        int subcode = digits ? (int)strtol(digits, NULL, 10) : 0;
        const graph_rule *rule = graph_rule_by_subcode(graph_instagram_rules, subcode);
        if (!rule) {
            post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_INVALID, r->status,
                      "instagram: container %s %s: %.120s", d->container, code, detail);
            return;
        }
        graph_error e = {.code = rule->code_lo, .subcode = subcode};
        snprintf(e.message, sizeof e.message, "container %.40s: %.120s", d->container, detail);
        graph_usage u = {.regain_minutes = -1};
        error_outcome(p, rule, &e, r->status, &u);
    }
}

static void poll(post *p)
{
    ig_send *d = post_data(p);
    char url[900];
    snprintf(url, sizeof url, "%s/%s?fields=status_code,status", d->s->conf.url, d->container);
    request(p, "GET", url, NULL, status_read);
}

static void container_made(post *p, const outbound_response *r)
{
    ig_send *d = post_data(p);
    if (r->status != 200) {
        fail_answer(p, r);
        return;
    }
    graph_usage u;
    note_usage(d, r, &u);
    json_t *doc = body_json(r);
    const char *id = json_string_value(json_object_get(doc, "id"));
    snprintf(d->container, sizeof d->container, "%s", id ? id : "");
    json_decref(doc);
    if (!d->container[0]) {
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, r->status,
                  "instagram: HTTP 200 without a container id");
        return;
    }
    poll(p); /* images are usually ready at once */
}

static void create(post *p)
{
    ig_send *d = post_data(p);
    char url[800];
    snprintf(url, sizeof url, "%s/%s/media", d->s->conf.url, d->s->conf.ig_user_id);
    json_t *body = json_pack("{s:s, s:s}", "image_url", d->image, "caption", d->caption);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "instagram: out of memory");
        return;
    }
    request(p, "POST", url, text, container_made);
    free(text);
}

/* The rolling 24-hour quota: a full one holds the item until it frees. */
static void quota_read(post *p, const outbound_response *r)
{
    if (r->status != 200) {
        fail_answer(p, r);
        return;
    }
    json_t *doc = body_json(r);
    json_t *entry = json_array_get(json_object_get(doc, "data"), 0);
    json_t *used = json_object_get(entry, "quota_usage");
    json_t *total = json_object_get(json_object_get(entry, "config"), "quota_total");
    long long u = json_is_integer(used) ? (long long)json_integer_value(used) : -1;
    long long t = json_is_integer(total) ? (long long)json_integer_value(total) : -1;
    json_decref(doc);
    if (u >= 0 && t >= 0 && u >= t) {
        hold_for_quota(p, u, t, NULL);
        return;
    }
    create(p);
}

static void quota(post *p)
{
    ig_send *d = post_data(p);
    char url[800];
    snprintf(url, sizeof url, "%s/%s/content_publishing_limit?fields=quota_usage,config",
             d->s->conf.url, d->s->conf.ig_user_id);
    request(p, "GET", url, NULL, quota_read);
}

static void lookup_read(post *p, const outbound_response *r)
{
    ig_send *d = post_data(p);
    if (r->status != 200) {
        fail_answer(p, r);
        return;
    }
    long long since = post_item(p)->due_ms / 1000 - d->s->conf.lookup_minutes * 60;
    json_t *doc = body_json(r);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "data"), i, m)
    {
        const char *caption = json_string_value(json_object_get(m, "caption"));
        const char *id = json_string_value(json_object_get(m, "id"));
        long long at = graph_time_parse(json_string_value(json_object_get(m, "timestamp")));
        if (caption && id && strcmp(caption, d->caption) == 0 && (at < 0 || at >= since)) {
            post_ok(p, id, d->reach,
                    d->verifying ? "the publish answered an error, but the container is "
                                   "PUBLISHED and its media is on the account: sent once"
                                 : "found on the account after an unknown outcome; not posted "
                                   "again");
            json_decref(doc);
            return;
        }
    }
    json_decref(doc);
    if (d->verifying)
        post_ok(p, d->container, d->reach,
                "the publish answered an error, but the container is PUBLISHED: its id stands "
                "for the media");
    else
        quota(p);
}

static void list_media(post *p);

static void verify_read(post *p, const outbound_response *r)
{
    ig_send *d = post_data(p);
    json_t *doc = r->status == 200 ? body_json(r) : NULL;
    const char *code = json_string_value(json_object_get(doc, "status_code"));
    int done = code && strcmp(code, "PUBLISHED") == 0;
    json_decref(doc);
    if (!done) {
        post_finish(p, &d->refusal);
        return;
    }
    d->verifying = 1;
    list_media(p);
}

static void verify_publish(post *p)
{
    ig_send *d = post_data(p);
    char url[900];
    snprintf(url, sizeof url, "%s/%s?fields=status_code", d->s->conf.url, d->container);
    request(p, "GET", url, NULL, verify_read);
}

static void list_media(post *p)
{
    ig_send *d = post_data(p);
    char url[800];
    snprintf(url, sizeof url, "%s/%s/media?fields=id,caption,timestamp", d->s->conf.url,
             d->s->conf.ig_user_id);
    request(p, "GET", url, NULL, lookup_read);
}

static void lookup_or_quota(post *p)
{
    if (post_item(p)->maybe_sent)
        list_media(p);
    else
        quota(p);
}

/* A failed read of the follower count never blocks the post: reach 0. */
static void reach_read(post *p, const outbound_response *r)
{
    ig_send *d = post_data(p);
    graph_usage u;
    note_usage(d, r, &u);
    json_t *doc = r->status == 200 ? body_json(r) : NULL;
    json_t *n = json_object_get(doc, "followers_count");
    if (json_is_integer(n)) {
        d->reach = (long long)json_integer_value(n);
        d->s->reach = d->reach;
        d->s->reach_read_ms = post_now_ms();
    }
    json_decref(doc);
    lookup_or_quota(p);
}

/* The first step: held back by the usage headers, or on to the reach. */
static void start(post *p)
{
    ig_send *d = post_data(p);
    ig_state *s = d->s;
    long long now = post_now_ms();
    adapter_outcome held;
    if (graph_throttle_active(&s->throttle, IG_SERVICE, now, &held)) {
        post_finish(p, &held);
        return;
    }
    if (s->reach_read_ms && now - s->reach_read_ms < s->conf.reach_cache_s * 1000) {
        d->reach = s->reach;
        lookup_or_quota(p);
        return;
    }
    char url[800];
    snprintf(url, sizeof url, "%s/%s?fields=followers_count", s->conf.url, s->conf.ig_user_id);
    request(p, "GET", url, NULL, reach_read);
}

static haechi_status ig_send_item(void *state, const adapter_item *item, adapter_done_fn *done,
                                  void *arg)
{
    ig_state *s = state;
    graph_text t;
    int composed = graph_compose(item->campaign, item->release_id, "instagram", &t) == 0;
    size_t len = composed ? strlen(t.text) : 0;
    post *p = post_new(&s->posts, item, done, arg, sizeof(ig_send) + len + 1);
    if (!p) {
        graph_text_free(&t);
        return HAECHI_ERR;
    }
    ig_send *d = post_data(p);
    d->s = s;
    if (composed)
        memcpy(d->caption, t.text, len + 1);
    snprintf(d->image, sizeof d->image, "%s", t.image ? t.image : "");
    graph_text_free(&t);
    if (!composed) {
        post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_INVALID, 0,
                  "instagram: the campaign has no text to post");
        return HAECHI_OK;
    }
    if (!d->image[0]) {
        post_fail(p, ADAPTER_DECLINED, ADAPTER_ERR_NONE, 0,
                  "instagram cannot post text without an image");
        return HAECHI_OK;
    }
    /* Every request starts from the loop: a burst of sends returns at once,
     * and a send cancelled before its turn surely did not reach the service. */
    post_after(p, 0, start);
    return HAECHI_OK;
}

static void ig_cancel(void *state, const char *item_id)
{
    ig_state *s = state;
    post_set_cancel(&s->posts, item_id);
}

/* impressions and reach: the metrics the IG Media insights edge documents
 * for image posts (views replaces impressions for media from July 2024 on;
 * the stand-in answers both names). */
static haechi_status ig_poll_insights(void *state, const char *target, const char *external_id,
                                      adapter_insights_fn *done, void *arg)
{
    ig_state *s = state;
    (void)target;
    static const graph_metrics names = {.impressions = "impressions", .reach = "reach"};
    char url[900];
    snprintf(url, sizeof url, "%s/%s/insights?metric=impressions,reach", s->conf.url, external_id);
    return graph_poll_insights(&s->posts, IG_SERVICE, url, s->token, &names, external_id, done,
                               arg);
}

static const adapter_ops instagram_ops = {
    .create = ig_create,
    .destroy = ig_destroy,
    .validate = ig_validate,
    .render = ig_render,
    .send = ig_send_item,
    .cancel = ig_cancel,
    .poll_insights = ig_poll_insights,
};

const adapter_desc adapter_instagram = {
    .name = "instagram",
    .summary = "publishes an image post on an Instagram professional account (Graph API)",
    .flags = ADAPTER_INSIGHTS,
    .limits = {.max_inflight = 4},
    .config_shape = &instagram_conf_shape,
    .config_size = sizeof(instagram_conf),
    .ops = &instagram_ops,
};
