/*
 * store.c - campaign storage on Redis through Lua scripts (one slot each).
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "log.h"

#define AUDIT_MAXLEN "100000"

struct store {
    rconn *redis;
    char prefix[65];
};

/* KEYS meta, versions, history. ARGV id, doc, replace, by, at_ms, title, owner, client. */
static const char submit_lua[] =
    "local cur = redis.call('HGET', KEYS[1], 'version')\n"
    "local status = redis.call('HGET', KEYS[1], 'status')\n"
    "if cur then\n"
    "  if ARGV[3] ~= '1' then return {'conflict', cur, 'exists'} end\n"
    "  if status == 'cancelled' then return {'conflict', cur, status} end\n"
    "end\n"
    "local v = (tonumber(cur) or 0) + 1\n"
    "redis.call('HSET', KEYS[2], v, ARGV[2])\n"
    "redis.call('HSET', KEYS[3], v, cjson.encode({version = v, by = ARGV[4],\n"
    "  at = ARGV[5], client = ARGV[8]}))\n"
    "if not cur then\n"
    "  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'created_at', ARGV[5],\n"
    "             'created_by', ARGV[4])\n"
    "  status = 'scheduled'\n"
    "elseif status == 'finished' then\n"
    "  status = 'scheduled'\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'version', v, 'status', status, 'title', ARGV[6],\n"
    "           'owner', ARGV[7], 'updated_at', ARGV[5], 'updated_by', ARGV[4])\n"
    "return {'ok', tostring(v), status}\n";

/* KEYS meta. ARGV action, by, at_ms. Which status each action leaves from. */
static const char status_lua[] =
    "local status = redis.call('HGET', KEYS[1], 'status')\n"
    "if not status then return {'not-found'} end\n"
    "local moves = {\n"
    "  pause  = {scheduled = 'paused', paused = false},\n"
    "  resume = {paused = 'scheduled', scheduled = false},\n"
    "  cancel = {scheduled = 'cancelled', paused = 'cancelled', cancelled = false},\n"
    "  finish = {scheduled = 'finished', paused = 'finished', finished = false},\n"
    "}\n"
    "local to = moves[ARGV[1]][status]\n"
    "if to == nil then return {'conflict', status} end\n"
    "if to == false then return {'ok', status, '0'} end\n"
    "redis.call('HSET', KEYS[1], 'status', to, 'updated_at', ARGV[3],\n"
    "           'updated_by', ARGV[2])\n"
    "return {'ok', to, '1'}\n";

/* KEYS meta, versions. ARGV version (0 = current). */
static const char get_lua[] = "local meta = redis.call('HGETALL', KEYS[1])\n"
                              "if #meta == 0 then return {'not-found'} end\n"
                              "local v = ARGV[1]\n"
                              "if v == '0' then v = redis.call('HGET', KEYS[1], 'version') end\n"
                              "local doc = redis.call('HGET', KEYS[2], v)\n"
                              "if not doc then return {'not-found', v} end\n"
                              "return {'ok', v, doc, meta}\n";

store *store_new(rconn *redis, const char *prefix)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->redis = redis;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    return s;
}

void store_free(store *s)
{
    free(s);
}

static void campaign_key(const store *s, const char *id, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s:{c:%s}:%s", s->prefix, id, what);
}

/* ---- one pending call ------------------------------------------------------ */

typedef struct op {
    store *s;
    store_fn *fn;
    void *arg;
    char id[65]; /* the campaign asked about, for the reasons of NOT_FOUND and CONFLICT */
    char reason[160];
    /* list: the ids still to be answered, and what has come back */
    json_t *items;
    size_t waiting;
    int failed; /* 1, or RCONN_BUSY when rconn refused a command for being full */
    long long limit;
    char error[160];
} op;

static op *op_new(store *s, store_fn *fn, void *arg)
{
    op *o = calloc(1, sizeof *o);
    if (o) {
        o->s = s;
        o->fn = fn;
        o->arg = arg;
    }
    return o;
}

static op *op_for(store *s, const char *id, store_fn *fn, void *arg)
{
    op *o = op_new(s, fn, arg);
    if (o)
        snprintf(o->id, sizeof o->id, "%s", id);
    return o;
}

/* A result that is not OK always says why, so that no caller has to
 * print a bare "?". */
static const char *reason_of(op *o, const store_result *res)
{
    switch (res->code) {
    case STORE_OK: return NULL;
    case STORE_NOT_FOUND:
        snprintf(o->reason, sizeof o->reason, "no campaign \"%s\" in the store", o->id);
        break;
    case STORE_CONFLICT:
        snprintf(o->reason, sizeof o->reason, "campaign \"%s\" is %s", o->id,
                 res->status ? res->status : "in another state");
        break;
    case STORE_UNAVAILABLE: return "redis is unavailable";
    case STORE_BUSY: return "too many commands waiting on redis";
    case STORE_ERROR: return "an answer from redis that the store did not expect";
    }
    return o->reason;
}

static void op_finish(op *o, const store_result *res)
{
    store_result copy = *res;
    if (!copy.error)
        copy.error = reason_of(o, &copy);
    o->fn(&copy, o->arg);
    json_decref(o->items);
    free(o);
}

static void op_fail(op *o, store_code code, const char *why)
{
    store_result res = {.code = code, .error = why};
    op_finish(o, &res);
}

/* Reply checks shared by every script answer: a non-empty array of strings. */
static int script_reply_ok(op *o, redisReply *reply, const char *error)
{
    if (!reply) {
        op_fail(o, STORE_UNAVAILABLE, error);
        return 0;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("store: redis error: %s", reply->str);
        op_fail(o, STORE_ERROR, reply->str);
        return 0;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        op_fail(o, STORE_ERROR, "unexpected reply from redis");
        return 0;
    }
    return 1;
}

static const char *element_str(redisReply *reply, size_t i)
{
    if (i >= reply->elements || reply->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return reply->element[i]->str;
}

/* Returns 0, or rconn's refusal (RCONN_DOWN, RCONN_BUSY): callers tell
 * "unavailable" from "busy". */
static int send_or_drop(store *s, op *o, int argc, const char **argv, const size_t *lens,
                        rconn_fn *cb)
{
    if (!o)
        return RCONN_DOWN;
    int rc = rconn_command(s->redis, cb, o, argc, argv, lens);
    if (rc != 0)
        free(o);
    return rc;
}

/* ---- submit ---------------------------------------------------------------- */

static void submit_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    if (!script_reply_ok(o, reply, error))
        return;
    const char *verdict = element_str(reply, 0);
    const char *version = element_str(reply, 1);
    const char *status = element_str(reply, 2);
    store_result res = {.code = strcmp(verdict, "ok") == 0 ? STORE_OK : STORE_CONFLICT,
                        .version = version ? strtoll(version, NULL, 10) : 0,
                        .status = status};
    op_finish(o, &res);
}

static void index_added(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("store: index update failed: %s", reply ? reply->str : error);
}

int store_submit(store *s, const store_submission *sub, store_fn *fn, void *arg)
{
    char meta[160], versions[160], history[160], index[96], at[24];
    campaign_key(s, sub->id, "meta", meta, sizeof meta);
    campaign_key(s, sub->id, "versions", versions, sizeof versions);
    campaign_key(s, sub->id, "history", history, sizeof history);
    snprintf(index, sizeof index, "%s:campaigns", s->prefix);
    snprintf(at, sizeof at, "%lld", (long long)sub->at_ms);

    /* The index first: a crash after it leaves an id readers skip. */
    const char *zadd[] = {"ZADD", index, "NX", at, sub->id};
    int rc = rconn_command(s->redis, index_added, NULL, 5, zadd, NULL);
    if (rc != 0)
        return rc;

    const char *argv[] = {"EVAL",     submit_lua, "3",
                          meta,       versions,   history,
                          sub->id,    sub->doc,   sub->replace ? "1" : "0",
                          sub->by,    at,         sub->title,
                          sub->owner, sub->client};
    size_t lens[sizeof argv / sizeof argv[0]];
    for (size_t i = 0; i < sizeof argv / sizeof argv[0]; i++)
        lens[i] = strlen(argv[i]);
    return send_or_drop(s, op_for(s, sub->id, fn, arg), (int)(sizeof argv / sizeof argv[0]), argv,
                        lens, submit_reply);
}

/* ---- status ----------------------------------------------------------------- */

static void status_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    if (!script_reply_ok(o, reply, error))
        return;
    const char *verdict = element_str(reply, 0);
    store_result res = {.status = element_str(reply, 1)};
    if (strcmp(verdict, "not-found") == 0)
        res.code = STORE_NOT_FOUND;
    else if (strcmp(verdict, "conflict") == 0)
        res.code = STORE_CONFLICT;
    else {
        const char *changed = element_str(reply, 2);
        res.code = STORE_OK;
        res.changed = changed && strcmp(changed, "1") == 0;
    }
    op_finish(o, &res);
}

int store_set_status(store *s, const char *id, const char *action, const char *by, int64_t at_ms,
                     store_fn *fn, void *arg)
{
    char meta[160], at[24];
    campaign_key(s, id, "meta", meta, sizeof meta);
    snprintf(at, sizeof at, "%lld", (long long)at_ms);
    const char *argv[] = {"EVAL", status_lua, "1", meta, action, by, at};
    return send_or_drop(s, op_for(s, id, fn, arg), 7, argv, NULL, status_reply);
}

/* ---- get -------------------------------------------------------------------- */

/* Stored times are epoch milliseconds; answers carry RFC 3339 UTC. */
static json_t *time_value(const char *ms_text)
{
    char buf[40];
    long long ms = strtoll(ms_text, NULL, 10);
    isotime_format_utc(ms / 1000, buf, sizeof buf);
    /* "...:SSZ" -> "...:SS.mmmZ" */
    size_t n = strlen(buf);
    if (n > 1 && buf[n - 1] == 'Z')
        snprintf(buf + n - 1, sizeof buf - (n - 1), ".%03lldZ", ms % 1000);
    return json_string(buf);
}

/* A flat HGETALL array as a JSON object: counts become numbers, times
 * RFC 3339 strings. */
static json_t *meta_object(redisReply *flat)
{
    static const char *const counts[] = {"version", "status"};
    json_t *obj = json_object();
    for (size_t i = 0; obj && i + 1 < flat->elements; i += 2) {
        redisReply *k = flat->element[i], *v = flat->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        json_t *value = NULL;
        size_t klen = strlen(k->str);
        if (strcmp(k->str, "at") == 0 || (klen > 3 && strcmp(k->str + klen - 3, "_at") == 0))
            value = time_value(v->str);
        for (size_t n = 0; !value && n < sizeof counts / sizeof counts[0]; n++)
            if (strcmp(k->str, counts[n]) == 0 && v->str[0] >= '0' && v->str[0] <= '9')
                value = json_integer(strtoll(v->str, NULL, 10));
        json_object_set_new(obj, k->str, value ? value : json_string(v->str));
    }
    return obj;
}

static void get_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    if (!script_reply_ok(o, reply, error))
        return;
    if (strcmp(element_str(reply, 0), "ok") != 0 || reply->elements < 4 ||
        reply->element[3]->type != REDIS_REPLY_ARRAY) {
        store_result res = {.code = STORE_NOT_FOUND};
        op_finish(o, &res);
        return;
    }
    json_t *meta = meta_object(reply->element[3]);
    json_t *doc = json_loads(element_str(reply, 2), 0, NULL);
    if (!meta || !doc) {
        json_decref(meta);
        json_decref(doc);
        op_fail(o, STORE_ERROR, "a stored document could not be read");
        return;
    }
    const char *v = element_str(reply, 1);
    long long version = v ? strtoll(v, NULL, 10) : 0;
    /* The answer describes the version asked for. */
    json_object_set_new(meta, "version", json_integer(version));
    json_object_set_new(meta, "campaign", doc);
    o->items = meta;
    store_result res = {.code = STORE_OK, .version = version, .data = meta};
    op_finish(o, &res);
}

int store_get(store *s, const char *id, long long version, store_fn *fn, void *arg)
{
    char meta[160], versions[160], v[24];
    campaign_key(s, id, "meta", meta, sizeof meta);
    campaign_key(s, id, "versions", versions, sizeof versions);
    snprintf(v, sizeof v, "%lld", version);
    const char *argv[] = {"EVAL", get_lua, "2", meta, versions, v};
    return send_or_drop(s, op_for(s, id, fn, arg), 6, argv, NULL, get_reply);
}

static void document_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        op_fail(o, reply ? STORE_ERROR : STORE_UNAVAILABLE, reply ? reply->str : error);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        store_result res = {.code = STORE_NOT_FOUND};
        op_finish(o, &res);
        return;
    }
    o->items = json_loads(reply->str, 0, NULL);
    if (!o->items) {
        op_fail(o, STORE_ERROR, "a stored document could not be read");
        return;
    }
    store_result res = {.code = STORE_OK, .data = o->items};
    op_finish(o, &res);
}

int store_document(store *s, const char *id, long long version, store_fn *fn, void *arg)
{
    char versions[160], v[24];
    campaign_key(s, id, "versions", versions, sizeof versions);
    snprintf(v, sizeof v, "%lld", version);
    const char *argv[] = {"HGET", versions, v};
    return send_or_drop(s, op_for(s, id, fn, arg), 3, argv, NULL, document_reply);
}

/* ---- list ------------------------------------------------------------------- */

/* KEYS index. ARGV after (an id, '' for the start), limit. The page after
 * AFTER in the index's order (first submission, then id); ids are never
 * removed from the index, so a cursor stays valid while campaigns are
 * added. Returns {total, ids...} or {'no-cursor'}. */
static const char list_lua[] = "local start = 0\n"
                               "if ARGV[1] ~= '' then\n"
                               "  local r = redis.call('ZRANK', KEYS[1], ARGV[1])\n"
                               "  if not r then return {'no-cursor'} end\n"
                               "  start = r + 1\n"
                               "end\n"
                               "local out = {tostring(redis.call('ZCARD', KEYS[1]))}\n"
                               "local ids = redis.call('ZRANGE', KEYS[1], start,\n"
                               "  start + tonumber(ARGV[2]) - 1)\n"
                               "for _, id in ipairs(ids) do out[#out + 1] = id end\n"
                               "return out\n";

/* Why a reply is a failure: Redis's error text, or the link's. */
static const char *failure_text(redisReply *reply, const char *error)
{
    if (reply && reply->type == REDIS_REPLY_ERROR)
        return reply->str;
    if (reply)
        return "unexpected reply from redis";
    return error ? error : "connection to redis lost";
}

static void list_done_if_complete(op *o)
{
    if (o->waiting > 0)
        return;
    if (o->failed) {
        op_fail(o, o->failed == RCONN_BUSY ? STORE_BUSY : STORE_UNAVAILABLE, o->error);
        return;
    }
    store_result res = {.code = STORE_OK, .data = o->items};
    op_finish(o, &res);
}

static void list_meta_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    o->waiting--;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (!o->failed)
            snprintf(o->error, sizeof o->error, "%s", failure_text(reply, error));
        o->failed = 1;
    } else if (reply->elements > 0) {
        /* An id without meta is a submission that never completed: skip it. */
        json_t *meta = meta_object(reply);
        if (meta)
            json_array_append_new(json_object_get(o->items, "campaigns"), meta);
    }
    list_done_if_complete(o);
}

static void list_index_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        op_fail(o, reply ? STORE_ERROR : STORE_UNAVAILABLE, failure_text(reply, error));
        return;
    }
    if (strcmp(reply->element[0]->str, "no-cursor") == 0) {
        store_result res = {.code = STORE_NOT_FOUND, .error = "the cursor names no campaign"};
        op_finish(o, &res);
        return;
    }
    size_t n = reply->elements - 1;
    long long total = strtoll(reply->element[0]->str, NULL, 10);
    const char *last = n ? reply->element[n]->str : NULL;
    /* A full page may be the last one; the next read then answers none. */
    o->items = json_pack("{s:[], s:I, s:o}", "campaigns", "total", (json_int_t)total, "next_cursor",
                         last && (long long)n == o->limit ? json_string(last) : json_null());
    /* The answers come back in order on one connection, so the page keeps
     * the index's order. */
    for (size_t i = 1; o->items && i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            continue;
        char meta[160];
        campaign_key(o->s, reply->element[i]->str, "meta", meta, sizeof meta);
        const char *argv[] = {"HGETALL", meta};
        int rc = rconn_command(o->s->redis, list_meta_reply, o, 2, argv, NULL);
        if (rc != 0) {
            o->failed = rc;
            snprintf(o->error, sizeof o->error, "%s", rconn_refusal(o->s->redis, rc));
            break;
        }
        o->waiting++;
    }
    if (!o->items)
        o->failed = 1;
    list_done_if_complete(o);
}

int store_list(store *s, const char *after, int limit, store_fn *fn, void *arg)
{
    char index[96], n[16];
    snprintf(index, sizeof index, "%s:campaigns", s->prefix);
    if (limit < 1 || limit > STORE_LIST_MAX)
        limit = STORE_LIST_MAX;
    snprintf(n, sizeof n, "%d", limit);
    op *o = op_new(s, fn, arg);
    if (o)
        o->limit = limit;
    const char *argv[] = {"EVAL", list_lua, "1", index, after ? after : "", n};
    return send_or_drop(s, o, 6, argv, NULL, list_index_reply);
}

/* ---- audit ------------------------------------------------------------------ */

static void audit_added(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_error("audit: entry not stored: %s", reply ? reply->str : error);
}

void store_audit(store *s, const char *who, const char *role, const char *action,
                 const char *target, int http_status, const char *client, int64_t at_ms)
{
    char key[96], status[16], at[24];
    snprintf(key, sizeof key, "%s:audit", s->prefix);
    snprintf(status, sizeof status, "%d", http_status);
    snprintf(at, sizeof at, "%lld", (long long)at_ms);
    const char *argv[] = {"XADD",   key,    "MAXLEN", "~",    AUDIT_MAXLEN, "*",      "at",
                          at,       "who",  who,      "role", role,         "action", action,
                          "target", target, "status", status, "client",     client};
    if (rconn_command(s->redis, audit_added, NULL, (int)(sizeof argv / sizeof argv[0]), argv,
                      NULL) != 0)
        log_error("audit: redis unavailable; not stored: %s %s %s by %s from %s (%s)", action,
                  target, status, who, client, at);
}

typedef struct audit_send {
    void (*done)(int stored, void *arg);
    void *arg;
} audit_send;

static void audit_sent(redisReply *reply, const char *error, void *arg)
{
    audit_send *a = arg;
    (void)error;
    a->done(reply && reply->type != REDIS_REPLY_ERROR, a->arg);
    free(a);
}

int store_audit_send(store *s, const char *who, const char *role, const char *action,
                     const char *target, int http_status, const char *client, int64_t at_ms,
                     void (*done)(int stored, void *arg), void *arg)
{
    char key[96], status[16], at[24];
    audit_send *a = malloc(sizeof *a);
    if (!a)
        return -1;
    a->done = done;
    a->arg = arg;
    snprintf(key, sizeof key, "%s:audit", s->prefix);
    snprintf(status, sizeof status, "%d", http_status);
    snprintf(at, sizeof at, "%lld", (long long)at_ms);
    const char *argv[] = {"XADD",   key,    "MAXLEN", "~",    AUDIT_MAXLEN, "*",      "at",
                          at,       "who",  who,      "role", role,         "action", action,
                          "target", target, "status", status, "client",     client};
    if (rconn_command(s->redis, audit_sent, a, (int)(sizeof argv / sizeof argv[0]), argv, NULL) !=
        0) {
        free(a);
        return -1;
    }
    return 0;
}

static void audit_reply(redisReply *reply, const char *error, void *arg)
{
    op *o = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        op_fail(o, reply ? STORE_ERROR : STORE_UNAVAILABLE, failure_text(reply, error));
        return;
    }
    o->items = json_array();
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *entry = reply->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        json_t *e = meta_object(entry->element[1]);
        if (!e)
            continue;
        json_object_set_new(e, "stream_id", json_string(entry->element[0]->str));
        json_array_append_new(o->items, e);
    }
    store_result res = {.code = STORE_OK, .data = o->items};
    op_finish(o, &res);
}

int store_audit_read(store *s, long count, store_fn *fn, void *arg)
{
    char key[96], n[24];
    snprintf(key, sizeof key, "%s:audit", s->prefix);
    snprintf(n, sizeof n, "%ld", count);
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", n};
    return send_or_drop(s, op_new(s, fn, arg), 6, argv, NULL, audit_reply);
}
