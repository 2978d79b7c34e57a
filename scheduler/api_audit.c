/*
 * api_audit.c - the audit buffer and the anonymous limits (api_audit.h).
 */
#include "api_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define BUFFER_MAX 1000
#define IN_FLIGHT_MAX 64
#define FLUSH_EVERY_MS 500
#define LOST_LOG_INTERVAL_MS 10000
/* Per minute: each anonymous client, and all of them together. */
#define ANON_WINDOW_MS 60000
#define ANON_PER_CLIENT 30
#define ANON_TOTAL 300
#define ANON_CLIENTS 64

typedef struct anon_client {
    char host[48];
    int n;
} anon_client;

struct api_audit {
    store *st;
    rconn *redis;
    struct event *timer;
    audit_entry ring[BUFFER_MAX];
    size_t head, len;
    int in_flight;
    unsigned long lost, lost_unlogged;
    int64_t lost_logged_ms;
    int64_t anon_window_ms;
    int anon_n;
    anon_client clients[ANON_CLIENTS];
    unsigned long suppressed, suppressed_window;
};

typedef struct sending {
    api_audit *au;
    audit_entry e;
} sending;

static void note_lost(api_audit *au)
{
    int64_t now = clock_mono_ms();
    au->lost++;
    au->lost_unlogged++;
    if (now - au->lost_logged_ms < LOST_LOG_INTERVAL_MS && au->lost_logged_ms)
        return;
    log_error("audit: %lu entr%s lost: Redis is unavailable and the local buffer of %d is full",
              au->lost_unlogged, au->lost_unlogged == 1 ? "y" : "ies", BUFFER_MAX);
    au->lost_logged_ms = now;
    au->lost_unlogged = 0;
}

static void push_back(api_audit *au, const audit_entry *e)
{
    if (au->len == BUFFER_MAX) {
        note_lost(au);
        return;
    }
    au->ring[(au->head + au->len++) % BUFFER_MAX] = *e;
}

/* A failed entry goes back to the front: it is older than what waits. */
static void push_front(api_audit *au, const audit_entry *e)
{
    if (au->len == BUFFER_MAX) {
        note_lost(au);
        return;
    }
    au->head = (au->head + BUFFER_MAX - 1) % BUFFER_MAX;
    au->ring[au->head] = *e;
    au->len++;
}

static void pump(api_audit *au);

static void sent(int stored, void *arg)
{
    sending *s = arg;
    api_audit *au = s->au;
    au->in_flight--;
    if (!stored)
        push_front(au, &s->e);
    free(s);
    if (stored)
        pump(au);
}

static void pump(api_audit *au)
{
    while (au->len && au->in_flight < IN_FLIGHT_MAX && rconn_ready(au->redis)) {
        sending *s = malloc(sizeof *s);
        if (!s)
            return;
        s->au = au;
        s->e = au->ring[au->head];
        const audit_entry *e = &s->e;
        if (store_audit_send(au->st, e->who, e->role, e->action, e->target, e->status, e->client,
                             e->at_ms, sent, s) != 0) {
            free(s);
            return;
        }
        au->head = (au->head + 1) % BUFFER_MAX;
        au->len--;
        au->in_flight++;
    }
}

/* ---- anonymous refusals ------------------------------------------------------ */

static void client_host(const char *client, char *buf, size_t len)
{
    const char *colon = strrchr(client, ':');
    size_t n = colon ? (size_t)(colon - client) : strlen(client);
    snprintf(buf, len, "%.*s", (int)n, client);
}

/* A new window: what the last one suppressed becomes one entry. */
static void roll_window(api_audit *au, int64_t now)
{
    if (now - au->anon_window_ms < ANON_WINDOW_MS)
        return;
    if (au->suppressed_window) {
        audit_entry e = {.status = 401, .at_ms = clock_wall_ms()};
        snprintf(e.who, sizeof e.who, "-");
        snprintf(e.role, sizeof e.role, "-");
        snprintf(e.action, sizeof e.action, "suppressed");
        snprintf(e.target, sizeof e.target, "%lu anonymous refusals", au->suppressed_window);
        snprintf(e.client, sizeof e.client, "-");
        push_back(au, &e);
    }
    au->anon_window_ms = now;
    au->anon_n = 0;
    au->suppressed_window = 0;
    memset(au->clients, 0, sizeof au->clients);
}

/* 1 when this anonymous entry may be written. */
static int anon_allowed(api_audit *au, const char *client)
{
    char host[48];
    anon_client *slot = NULL;
    roll_window(au, clock_mono_ms());
    client_host(client, host, sizeof host);
    for (int i = 0; i < ANON_CLIENTS && !slot; i++)
        if (!au->clients[i].host[0] || strcmp(au->clients[i].host, host) == 0)
            slot = &au->clients[i];
    /* Every slot taken: the new client shares the total only. */
    if (au->anon_n >= ANON_TOTAL || (slot && slot->n >= ANON_PER_CLIENT) ||
        (!slot && au->anon_n >= ANON_TOTAL / 2)) {
        au->suppressed++;
        au->suppressed_window++;
        return 0;
    }
    if (slot) {
        snprintf(slot->host, sizeof slot->host, "%s", host);
        slot->n++;
    }
    au->anon_n++;
    return 1;
}

void api_audit_add(api_audit *au, const audit_entry *e)
{
    if (strcmp(e->who, "-") == 0 && !anon_allowed(au, e->client))
        return;
    push_back(au, e);
    pump(au);
}

/* ---- set-up ---------------------------------------------------------------- */

static void tick(evutil_socket_t fd, short what, void *arg)
{
    api_audit *au = arg;
    (void)fd;
    (void)what;
    roll_window(au, clock_mono_ms());
    pump(au);
}

api_audit *api_audit_new(struct event_base *base, store *st, rconn *redis)
{
    api_audit *au = calloc(1, sizeof *au);
    if (!au)
        return NULL;
    au->st = st;
    au->redis = redis;
    au->anon_window_ms = clock_mono_ms();
    au->timer = event_new(base, -1, EV_PERSIST, tick, au);
    struct timeval tv = {FLUSH_EVERY_MS / 1000, (FLUSH_EVERY_MS % 1000) * 1000};
    if (!au->timer || event_add(au->timer, &tv) != 0) {
        if (au->timer)
            event_free(au->timer);
        free(au);
        return NULL;
    }
    return au;
}

void api_audit_free(api_audit *au)
{
    if (!au)
        return;
    if (au->len || au->lost)
        log_error("audit: %zu entr%s still buffered at exit and %lu lost: not stored", au->len,
                  au->len == 1 ? "y" : "ies", au->lost);
    event_free(au->timer);
    free(au);
}

json_t *api_audit_stats(const api_audit *au)
{
    return json_pack("{s:I, s:I, s:I}", "buffered", (json_int_t)au->len, "lost",
                     (json_int_t)au->lost, "suppressed", (json_int_t)au->suppressed);
}
