/*
 * graph.c - the Graph API's error object, its classification, its usage
 * headers and the insights read, shared by facebook.c and instagram.c
 * (graph.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#include "config.h"
#include "sns_text.h"
#include "tz.h"

/* ---- the error object ----------------------------------------------------------------- */

static void copy_string(char *to, size_t len, const json_t *v)
{
    snprintf(to, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int graph_error_parse(const char *body, size_t len, graph_error *e)
{
    memset(e, 0, sizeof *e);
    json_t *doc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *err = json_object_get(doc, "error");
    json_t *code = json_object_get(err, "code");
    if (!json_is_integer(code)) {
        json_decref(doc);
        return 0;
    }
    e->code = (int)json_integer_value(code);
    json_t *sub = json_object_get(err, "error_subcode");
    e->subcode = json_is_integer(sub) ? (int)json_integer_value(sub) : 0;
    e->is_transient = json_is_true(json_object_get(err, "is_transient"));
    copy_string(e->message, sizeof e->message, json_object_get(err, "message"));
    copy_string(e->type, sizeof e->type, json_object_get(err, "type"));
    copy_string(e->fbtrace_id, sizeof e->fbtrace_id, json_object_get(err, "fbtrace_id"));
    json_decref(doc);
    return 1;
}

/* ---- the one table of Graph-wide codes (CHANNELS.md §2.4) -------------------------------- */

#define ONE(c) c, c

const graph_rule graph_rules[] = {
    {ONE(1), 0, GRAPH_RETRY, ADAPTER_ERR_NETWORK, "unknown API error (possibly downtime)"},
    {ONE(2), 0, GRAPH_RETRY, ADAPTER_ERR_NETWORK, "temporary service error"},
    {ONE(4), 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT, "application request limit reached"},
    {ONE(17), 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT, "user request limit reached"},
    {ONE(32), 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT, "page request limit reached"},
    {ONE(341), 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT, "application limit reached"},
    {ONE(613), 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT, "custom rate limit exceeded"},
    {ONE(80001), 0, GRAPH_THROTTLE, ADAPTER_ERR_RATE_LIMIT,
     "page business-use-case rate limit reached"},
    {ONE(368), 0, GRAPH_ALERT, ADAPTER_ERR_REJECTED,
     "temporarily blocked for a policy violation; not retried"},
    {ONE(506), 0, GRAPH_DUPLICATE, ADAPTER_ERR_REJECTED, "duplicate post"},
    {ONE(190), 0, GRAPH_FAIL, ADAPTER_ERR_AUTH, "access token refused"},
    {ONE(10), 0, GRAPH_FAIL, ADAPTER_ERR_AUTH, "permission missing"},
    {200, 299, 0, GRAPH_FAIL, ADAPTER_ERR_AUTH, "permission missing"},
    {ONE(100), 0, GRAPH_FAIL, ADAPTER_ERR_INVALID, "invalid parameter"},
    {ONE(1609005), 0, GRAPH_FAIL, ADAPTER_ERR_INVALID,
     "the link could not be fetched for its preview"},
    {0, 0, 0, GRAPH_FAIL, ADAPTER_ERR_NONE, NULL},
};

/* ---- the one table of Instagram's codes (CHANNELS.md §3.4) ----------------------------- */

const graph_rule graph_instagram_rules[] = {
    {ONE(-2), 2207003, GRAPH_RETRY, ADAPTER_ERR_NETWORK, "the image download timed out"},
    {ONE(-2), 2207020, GRAPH_RECREATE, ADAPTER_ERR_REJECTED,
     "the container expired; a new one on the next attempt"},
    {ONE(-1), 2207001, GRAPH_RETRY, ADAPTER_ERR_NETWORK, "Instagram server error"},
    {ONE(-1), 2207032, GRAPH_RECREATE, ADAPTER_ERR_NETWORK, "creating the media failed"},
    {ONE(4), 2207051, GRAPH_ALERT, ADAPTER_ERR_REJECTED, "the action is suspected to be spam"},
    {ONE(9), 2207042, GRAPH_HOLD, ADAPTER_ERR_RATE_LIMIT, "the daily publishing limit is reached"},
    {ONE(9), 0, GRAPH_HOLD, ADAPTER_ERR_RATE_LIMIT, "a rolling 24-hour limit is reached"},
    {ONE(24), 2207006, GRAPH_RECREATE, ADAPTER_ERR_REJECTED, "the media was not found"},
    {ONE(24), 2207008, GRAPH_RECREATE, ADAPTER_ERR_REJECTED,
     "the media builder was not found or expired"},
    {ONE(25), 2207050, GRAPH_ALERT, ADAPTER_ERR_REJECTED, "the account is restricted"},
    {ONE(100), 2207023, GRAPH_FAIL, ADAPTER_ERR_INVALID, "unsupported media type"},
    {ONE(100), 2207028, GRAPH_FAIL, ADAPTER_ERR_INVALID, "a carousel needs 2 to 10 items"},
    {ONE(100), 2207040, GRAPH_FAIL, ADAPTER_ERR_INVALID, "more than 20 @-tags"},
    {ONE(9004), 2207052, GRAPH_FAIL, ADAPTER_ERR_INVALID, "the image URL could not be fetched"},
    {ONE(9007), 0, GRAPH_NOT_READY, ADAPTER_ERR_NETWORK, "the media is not ready for publishing"},
    {ONE(36000), 2207004, GRAPH_FAIL, ADAPTER_ERR_INVALID, "the image is over 8 MiB"},
    {ONE(36001), 2207005, GRAPH_FAIL, ADAPTER_ERR_INVALID, "unsupported image format"},
    {ONE(36003), 2207009, GRAPH_FAIL, ADAPTER_ERR_INVALID,
     "the image's aspect ratio is outside 4:5 to 1.91:1"},
    {ONE(36004), 2207010, GRAPH_FAIL, ADAPTER_ERR_INVALID, "the caption is too long"},
    {0, 0, 0, GRAPH_FAIL, ADAPTER_ERR_NONE, NULL},
};

static const graph_rule transient_rule = {
    0, 0, 0, GRAPH_RETRY, ADAPTER_ERR_NETWORK, "transient error"};
static const graph_rule unlisted_rule = {
    0, 0, 0, GRAPH_FAIL, ADAPTER_ERR_REJECTED, "refused (a code haechi does not list)"};

static const graph_rule *find(const graph_rule *table, const graph_error *e)
{
    for (const graph_rule *r = table; r && r->meaning; r++)
        if (e->code >= r->code_lo && e->code <= r->code_hi &&
            (r->subcode == 0 || r->subcode == e->subcode))
            return r;
    return NULL;
}

const graph_rule *graph_classify(const graph_rule *table, const graph_error *e)
{
    const graph_rule *r = find(table, e);
    if (!r)
        r = find(graph_rules, e);
    if (r)
        return r;
    return e->is_transient ? &transient_rule : &unlisted_rule;
}

const graph_rule *graph_rule_by_subcode(const graph_rule *table, int subcode)
{
    for (const graph_rule *r = table; subcode && r && r->meaning; r++)
        if (r->subcode == subcode)
            return r;
    return NULL;
}

const char *graph_token_meaning(int subcode)
{
    switch (subcode) {
    case 458: return "the app is not installed for the user";
    case 459: return "the user must log in to Facebook to clear a checkpoint";
    case 460: return "the user changed the password";
    case 463: return "expired";
    case 464: return "the user is unconfirmed";
    case 467: return "invalid";
    default: return "";
    }
}

/* ---- usage headers -------------------------------------------------------------------- */

/* Graph has been seen to write these with single quotes ({'call_count' : 85}). */
static json_t *load_header(const char *v)
{
    if (!v || !*v)
        return NULL;
    char *s = strdup(v);
    if (!s)
        return NULL;
    for (char *c = s; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_t *doc = json_loads(s, 0, NULL);
    free(s);
    return doc;
}

static void note_figures(const json_t *o, const char *header, graph_usage *u)
{
    static const char *const fields[] = {"call_count", "total_time", "total_cputime"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const json_t *v = json_object_get(o, fields[i]);
        if (!json_is_number(v))
            continue;
        /* A percentage; a service's nonsense (1e300, -5) must not become
         * undefined behaviour on the cast: anything past 1000 is just "over". */
        double raw = json_number_value(v);
        int pct = raw <= 0 ? 0 : raw >= 1000 ? 1000 : (int)raw;
        u->seen = 1;
        if (pct > u->max_percent || !u->which[0]) {
            if (pct >= u->max_percent)
                u->max_percent = pct;
            snprintf(u->which, sizeof u->which, "%s %s", header, fields[i]);
        }
    }
}

void graph_usage_parse(const char *app_usage, const char *page_usage, const char *buc_usage,
                       graph_usage *u)
{
    memset(u, 0, sizeof *u);
    u->regain_minutes = -1;
    json_t *app = load_header(app_usage);
    json_t *page = load_header(page_usage);
    json_t *buc = load_header(buc_usage);
    note_figures(app, "X-App-Usage", u);
    note_figures(page, "X-Page-Usage", u);
    const char *id;
    json_t *list;
    json_object_foreach(buc, id, list)
    {
        size_t i;
        json_t *entry;
        json_array_foreach(list, i, entry)
        {
            note_figures(entry, "X-Business-Use-Case-Usage", u);
            json_t *eta = json_object_get(entry, "estimated_time_to_regain_access");
            /* Minutes; a week at most, so that the wait in ms cannot overflow. */
            if (json_is_integer(eta) && json_integer_value(eta) > u->regain_minutes)
                u->regain_minutes =
                    json_integer_value(eta) > 7 * 24 * 60 ? 7 * 24 * 60 : json_integer_value(eta);
        }
    }
    json_decref(app);
    json_decref(page);
    json_decref(buc);
}

void graph_usage_read(const outbound_response *r, graph_usage *u)
{
    graph_usage_parse(outbound_header(r, "X-App-Usage"), outbound_header(r, "X-Page-Usage"),
                      outbound_header(r, "X-Business-Use-Case-Usage"), u);
}

static long long wait_ms(const graph_throttle *t, const graph_usage *u)
{
    if (u && u->regain_minutes > 0)
        return u->regain_minutes * 60000;
    return (t->backoff_s > 0 ? t->backoff_s : 60) * 1000;
}

static void hold_until(graph_throttle *t, long long until_ms)
{
    if (until_ms > t->until_ms)
        t->until_ms = until_ms;
}

int graph_throttle_note(graph_throttle *t, const graph_usage *u, long long now_ms)
{
    int threshold = t->threshold > 0 ? t->threshold : 95;
    if (!u->seen && u->regain_minutes <= 0)
        return 0;
    if (u->max_percent < threshold && u->regain_minutes <= 0)
        return 0;
    hold_until(t, now_ms + wait_ms(t, u));
    if (u->max_percent >= threshold)
        snprintf(t->why, sizeof t->why, "%s at %d%% (the threshold is %d%%)", u->which,
                 u->max_percent, threshold);
    else
        snprintf(t->why, sizeof t->why, "access regained in %lld minutes (X-Business-Use-Case)",
                 u->regain_minutes);
    return 1;
}

long long graph_throttle_error(graph_throttle *t, const graph_usage *u, const graph_error *e,
                               long long now_ms)
{
    long long delay = wait_ms(t, u);
    hold_until(t, now_ms + delay);
    snprintf(t->why, sizeof t->why, "Graph error %d: %.120s", e->code, e->message);
    return delay;
}

int graph_throttle_active(const graph_throttle *t, const char *service, long long now_ms,
                          adapter_outcome *o)
{
    if (t->until_ms <= now_ms)
        return 0;
    memset(o, 0, sizeof *o);
    o->status = ADAPTER_AGAIN;
    o->error = ADAPTER_ERR_RATE_LIMIT;
    o->scope = ADAPTER_SCOPE_CHANNEL;
    o->retry_after_ms = t->until_ms - now_ms;
    snprintf(o->reason, sizeof o->reason,
             "%.24s: rate limited: holding back %lld s without calling: %.150s", service,
             (long long)((o->retry_after_ms + 999) / 1000), t->why);
    return 1;
}

/* ---- outcomes --------------------------------------------------------------------------- */

void graph_outcome(const graph_rule *rule, const graph_error *e, int status, const char *service,
                   const char *hint, long long delay_ms, adapter_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->remote_code = status;
    o->error = rule->error;
    o->scope = ADAPTER_SCOPE_ITEM;
    switch (rule->action) {
    case GRAPH_RETRY:
    case GRAPH_RECREATE:
    case GRAPH_NOT_READY: o->status = ADAPTER_AGAIN; break;
    case GRAPH_THROTTLE:
        o->status = ADAPTER_AGAIN;
        o->scope = ADAPTER_SCOPE_CHANNEL;
        o->retry_after_ms = delay_ms;
        break;
    case GRAPH_HOLD:
        /* The item waits; the channel's other targets (networks) do not. */
        o->status = ADAPTER_AGAIN;
        o->hold = 1;
        o->retry_after_ms = delay_ms;
        break;
    case GRAPH_DUPLICATE:
    case GRAPH_FAIL:
    case GRAPH_ALERT: o->status = ADAPTER_FAILED; break;
    }
    char sub[16] = "";
    if (e->subcode)
        snprintf(sub, sizeof sub, "/%d", e->subcode);
    const char *token = e->code == 190 ? graph_token_meaning(e->subcode) : "";
    snprintf(o->reason, sizeof o->reason, "%.16s: %s%s%s%s (Graph %d%s)%s%.90s; %.80s", service,
             rule->action == GRAPH_ALERT      ? "alert: "
             : rule->action == GRAPH_THROTTLE ? "rate limited: "
                                              : "",
             rule->meaning, *token ? ": " : "", token, e->code, sub, hint && *hint ? ": " : "",
             hint ? hint : "", e->message[0] ? e->message : "no message");
}

void graph_outcome_unparsed(const outbound_response *r, const char *service, adapter_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->remote_code = r->status;
    o->scope = ADAPTER_SCOPE_ITEM;
    if (r->status >= 500 || r->status == 429) {
        o->status = ADAPTER_AGAIN;
        o->error = r->status == 429 ? ADAPTER_ERR_RATE_LIMIT : ADAPTER_ERR_NETWORK;
        long long d = outbound_delay_ms(r, NULL, post_now_ms());
        o->retry_after_ms = d > 0 ? d : 0;
    } else {
        o->status = ADAPTER_FAILED;
        o->error = ADAPTER_ERR_REJECTED;
    }
    snprintf(o->reason, sizeof o->reason, "%.24s: HTTP %d without a Graph error object: %.120s",
             service, r->status, r->body ? r->body : "");
}

/* ---- helpers ------------------------------------------------------------------------------ */

long long graph_time_parse(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return -1;
    const char *z = s + n;
    long long off = 0;
    if (*z == '+' || *z == '-') {
        int oh, om;
        if (sscanf(z + 1, "%2d:%2d", &oh, &om) != 2 && sscanf(z + 1, "%2d%2d", &oh, &om) != 2)
            return -1;
        off = (oh * 3600LL + om * 60LL) * (*z == '-' ? -1 : 1);
    } else if (*z != 'Z' && *z != '\0') {
        return -1;
    }
    long long days = tz_days_from_civil(y, mo, d);
    return days * 86400 + h * 3600LL + mi * 60LL + sec - off;
}

size_t graph_urlencode(char *buf, size_t len, size_t used, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; c && *c; c++) {
        int plain = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                    (*c >= '0' && *c <= '9') || strchr("-._~", *c);
        if (used + (plain ? 1 : 3) >= len)
            return len;
        if (plain) {
            buf[used++] = (char)*c;
        } else {
            buf[used++] = '%';
            buf[used++] = hex[*c >> 4];
            buf[used++] = hex[*c & 15];
        }
    }
    if (used < len)
        buf[used] = '\0';
    return used;
}

void graph_auth_header(char *buf, size_t len, const char *token)
{
    snprintf(buf, len, "Authorization: Bearer %s", token ? token : "");
}

/* ---- insights ------------------------------------------------------------------------------ */

typedef struct insights_call {
    adapter_insights_fn *done;
    void *arg;
    graph_metrics names;
    adapter_insights fig;
    char service[24];
} insights_call;

/* post.c answers a send's done(); an insights read answers its own kind. */
static void insights_answered(const adapter_outcome *o, void *arg)
{
    insights_call *c = arg;
    c->done(o->status == ADAPTER_OK ? &c->fig : NULL, o, c->arg);
    free(c);
}

static long long metric_value(const json_t *data, const char *name)
{
    size_t i;
    json_t *m;
    if (!name)
        return -1;
    json_array_foreach((json_t *)data, i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (!n || strcmp(n, name) != 0)
            continue;
        json_t *values = json_object_get(m, "values");
        json_t *last = json_array_get(values, json_array_size(values) - 1);
        json_t *v = json_object_get(last, "value");
        return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    }
    return -1;
}

static void insights_read(post *p, const outbound_response *r)
{
    insights_call *c = *(insights_call **)post_data(p);
    graph_error e;
    if (r->status != 200) {
        adapter_outcome o;
        if (graph_error_parse(r->body, r->body_len, &e))
            graph_outcome(graph_classify(NULL, &e), &e, r->status, c->service, "insights", 0, &o);
        else
            graph_outcome_unparsed(r, c->service, &o);
        post_finish(p, &o);
        return;
    }
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *data = json_object_get(doc, "data");
    if (!json_is_array(data)) {
        json_decref(doc);
        post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_INTERNAL, r->status,
                  "%s: insights answer without data", c->service);
        return;
    }
    c->fig.impressions = metric_value(data, c->names.impressions);
    c->fig.reach = metric_value(data, c->names.reach);
    c->fig.clicks = metric_value(data, c->names.clicks);
    c->fig.opens = -1;
    json_decref(doc);
    /* Not post_ok(): an insights read is no post, and notes no audience. */
    adapter_outcome o = {.status = ADAPTER_OK};
    post_finish(p, &o);
}

haechi_status graph_poll_insights(post_set *set, const char *service, const char *url,
                                  const char *token, const graph_metrics *names,
                                  const char *external_id, adapter_insights_fn *done, void *arg)
{
    insights_call *c = calloc(1, sizeof *c);
    if (!c)
        return HAECHI_ERR;
    c->done = done;
    c->arg = arg;
    c->names = *names;
    snprintf(c->service, sizeof c->service, "%s", service);
    char id[160];
    snprintf(id, sizeof id, "insights|%s", external_id);
    adapter_item item = {.item_id = id, .channel = service, .target = service, .attempt = 1};
    post *p = post_new(set, &item, insights_answered, c, sizeof c);
    if (!p) {
        free(c);
        return HAECHI_ERR;
    }
    *(insights_call **)post_data(p) = c;
    char auth[1100];
    graph_auth_header(auth, sizeof auth, token);
    const char *headers[] = {auth, NULL};
    outbound_request rq = {.method = "GET", .url = url, .headers = headers};
    post_request(p, &rq, insights_read); /* a failure to start has answered already */
    return HAECHI_OK;
}

/* ---- the post's text ------------------------------------------------------------------------ */

int graph_compose(const json_t *doc, const char *release_id, const char *network, graph_text *out)
{
    const char *langs[SNS_LANGS_MAX];
    sns_post sp;
    memset(out, 0, sizeof *out);
    /* One post per network: the first language that has a text, the city's first. */
    if (sns_post_languages(doc, network, langs) == 0 ||
        sns_post_compose(doc, release_id, network, langs[0], &sp) != 0)
        return -1;
    out->text = sp.text;
    sp.text = NULL;
    out->link = sp.link;
    out->image = sp.image;
    sns_post_release(&sp);
    sns_counts k;
    sns_text_count(sns_rules_for(network), out->text, strlen(out->text), &k);
    out->chars = k.length > 0 ? (size_t)k.length : 0;
    out->hashtags = k.hashtags > 0 ? (size_t)k.hashtags : 0;
    return 0;
}

void graph_text_free(graph_text *t)
{
    free(t->text);
    t->text = NULL;
}

int graph_token_open(const char *service, const char *what, const char *token_env,
                     const char *token_file, int offline, char **token, char *hint, size_t hintlen,
                     char *err, size_t errlen)
{
    if (token_env[0])
        snprintf(hint, hintlen, "issue a new %s and set the environment variable %s (token_env)",
                 what, token_env);
    else
        snprintf(hint, hintlen, "issue a new %s and put it in %.120s (token_file)", what,
                 token_file);
    if (offline)
        return 0;
    char why[256];
    *token = config_secret(token_env, token_file, why, sizeof why);
    if (!*token) {
        snprintf(err, errlen, "%s: %s: %s", service, what, why);
        return -1;
    }
    return 0;
}
