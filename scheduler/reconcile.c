/*
 * reconcile.c - brings the engine's copy of each campaign in line with the
 * store's, after whatever came between a campaign being stored and armed
 * (a crash, Redis going away mid-submission, a status change whose engine
 * half never ran).
 *
 * The store is the truth: a version the engine has not armed is armed; a
 * status the engine does not have is applied; a campaign the engine found
 * finished is marked finished in the store. One campaign at a time, so a
 * pass never floods Redis.
 *
 * A pass walks the whole index, a page (PAGE campaigns) at a time, with a
 * cursor: every campaign is looked at once per pass, however many there
 * are, and no more than one page is held in memory.
 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define PASS_INTERVAL_S 60
#define PAGE 500
/* Between pages: lets the claims and the API's calls in between. */
#define PAGE_GAP_US 50000

struct reconciler {
    engine *e;
    store *st;
    struct event *timer;
    struct event *page_timer;
    json_t *metas;   /* the store's campaigns, this page */
    size_t next;     /* index into metas */
    char cursor[80]; /* the next page starts after this id; "" when this is the last */
    int running;
    long long fixed;
};

static void step(reconciler *r);

static void pass_done(reconciler *r)
{
    json_decref(r->metas);
    r->metas = NULL;
    r->running = 0;
}

/* The page is done: the next one after a short gap, or the pass is over. */
static void page_done(reconciler *r)
{
    json_decref(r->metas);
    r->metas = NULL;
    if (!r->cursor[0]) {
        r->running = 0;
        return;
    }
    struct timeval gap = {0, PAGE_GAP_US};
    evtimer_add(r->page_timer, &gap);
}

static void after_fix(redisReply *reply, const char *error, void *arg)
{
    reconciler *r = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("reconcile: a fix did not apply: %s", reply ? reply->str : error);
    step(r);
}

static void after_store_fix(const store_result *res, void *arg)
{
    (void)res;
    step(arg);
}

static void got_document(const store_result *res, void *arg)
{
    reconciler *r = arg;
    json_t *meta = json_array_get(r->metas, r->next - 1);
    if (res->code != STORE_OK) {
        step(r);
        return;
    }
    diag_list errs;
    diag_list_init(&errs);
    campaign *c = campaign_from_json(json_object_get(res->data, "campaign"), &errs);
    diag_list_release(&errs);
    if (c && engine_arm(r->e, c, json_integer_value(json_object_get(meta, "version")),
                        json_string_value(json_object_get(meta, "status")), clock_wall_ms(),
                        after_fix, r) == 0) {
        log_info("reconcile: armed %s version %lld", c->id,
                 (long long)json_integer_value(json_object_get(meta, "version")));
        r->fixed++;
        campaign_free(c);
        return;
    }
    campaign_free(c);
    step(r);
}

/* Which engine action makes the engine's status match the store's. */
static const char *action_for(const char *stored, const char *armed)
{
    if (strcmp(stored, armed) == 0)
        return NULL;
    if (strcmp(stored, "paused") == 0 && strcmp(armed, "scheduled") == 0)
        return "pause";
    if (strcmp(stored, "scheduled") == 0 && strcmp(armed, "paused") == 0)
        return "resume";
    if (strcmp(stored, "cancelled") == 0)
        return "cancel";
    return NULL;
}

static void got_engine_view(redisReply *reply, const char *error, void *arg)
{
    reconciler *r = arg;
    json_t *meta = json_array_get(r->metas, r->next - 1);
    const char *id = json_string_value(json_object_get(meta, "id"));
    const char *stored = json_string_value(json_object_get(meta, "status"));
    long long version = json_integer_value(json_object_get(meta, "version"));
    (void)error;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || !id || !stored) {
        pass_done(r); /* Redis went away: the next pass tries again */
        return;
    }
    redisReply *v = reply->element[0], *s = reply->element[1];
    long long armed = v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;
    const char *engine_status = s->type == REDIS_REPLY_STRING ? s->str : "";

    if (armed != version && strcmp(stored, "cancelled") != 0 && strcmp(stored, "finished") != 0) {
        if (store_get(r->st, id, version, got_document, r) != 0)
            pass_done(r);
        return;
    }
    if (strcmp(engine_status, "finished") == 0 && strcmp(stored, "scheduled") == 0) {
        r->fixed++;
        if (store_set_status(r->st, id, "finish", "reconcile", clock_wall_ms(), after_store_fix,
                             r) != 0)
            pass_done(r);
        return;
    }
    const char *action = engine_status[0] ? action_for(stored, engine_status) : NULL;
    if (action) {
        log_info("reconcile: %s is %s in the store, %s in the engine: applying %s", id, stored,
                 engine_status, action);
        r->fixed++;
        if (engine_set_status(r->e, id, action, 0, after_fix, r) != 0)
            pass_done(r);
        return;
    }
    step(r);
}

static void step(reconciler *r)
{
    if (r->next >= json_array_size(r->metas)) {
        page_done(r);
        return;
    }
    json_t *meta = json_array_get(r->metas, r->next++);
    const char *id = json_string_value(json_object_get(meta, "id"));
    if (!id || engine_campaign_view(r->e, id, got_engine_view, r) != 0)
        pass_done(r);
}

static void listed(const store_result *res, void *arg)
{
    reconciler *r = arg;
    if (res->code != STORE_OK) {
        log_warn("reconcile: cannot list campaigns: %s", res->error);
        r->running = 0;
        return;
    }
    const char *next = json_string_value(json_object_get(res->data, "next_cursor"));
    snprintf(r->cursor, sizeof r->cursor, "%s", next ? next : "");
    r->metas = json_incref(json_object_get(res->data, "campaigns"));
    r->next = 0;
    step(r);
}

static void next_page(reconciler *r)
{
    if (store_list(r->st, r->cursor, PAGE, listed, r) != 0)
        r->running = 0;
}

static void page_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    next_page(arg);
}

void reconcile_now(reconciler *r)
{
    if (r->running)
        return;
    r->running = 1;
    r->cursor[0] = '\0';
    next_page(r);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    reconciler *r = arg;
    struct timeval next = {PASS_INTERVAL_S, 0};
    (void)fd;
    (void)what;
    reconcile_now(r);
    evtimer_add(r->timer, &next);
}

reconciler *reconcile_new(struct event_base *base, engine *e, store *st)
{
    reconciler *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->e = e;
    r->st = st;
    r->timer = evtimer_new(base, timer_cb, r);
    r->page_timer = evtimer_new(base, page_cb, r);
    if (!r->timer || !r->page_timer) {
        reconcile_free(r);
        return NULL;
    }
    /* The first pass a second after start, when Redis is likely there. */
    struct timeval first = {1, 0};
    evtimer_add(r->timer, &first);
    return r;
}

void reconcile_free(reconciler *r)
{
    if (!r)
        return;
    if (r->timer)
        event_free(r->timer);
    if (r->page_timer)
        event_free(r->page_timer);
    json_decref(r->metas);
    free(r);
}

long long reconcile_fixed(const reconciler *r)
{
    return r->fixed;
}
