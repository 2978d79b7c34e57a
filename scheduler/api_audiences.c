/*
 * api_audiences.c - the audience list routes: the lists, one list's counts,
 * its members a chunk at a time (export), one member, and a member's
 * status (the unsubscribe route, providers' callbacks) or removal.
 *
 * Member ids travel URL-encoded in the path, in any spelling the list's
 * kind normalises ("010-1234-5678", "%2B821012345678"). Logs show them
 * masked (audience_mask); the audit entry names the list only.
 */
#include "api_call.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience.h"
#include "log.h"

#define LISTS_PAGE 100
#define LISTS_PAGE_MAX 1000

/* The store's refusals in HTTP terms. */
static void send_audience_error(call *c, const char *error)
{
    if (!strncmp(error, "no such list", 12) || !strcmp(error, "not a member") ||
        !strncmp(error, "nothing imported", 16) || strstr(error, " is gone"))
        api_send_error(c, 404, "not-found", "list %s: %s", c->id, error);
    else if (!strncmp(error, "phone:", 6) || !strncmp(error, "email:", 6))
        api_send_error(c, 400, "bad-request", "the member id is not valid: %s", error);
    else if (!strncmp(error, "ERR", 3)) {
        log_error("api: audience call failed: %s", error);
        api_send_error(c, 500, "internal", "the store answered: %s", error);
    } else
        api_send_unavailable(c, error);
}

/* [id, name, lang, custom...] with the version's FIELDS as an object. */
static json_t *member_json(json_t *record, json_t *fields)
{
    json_t *custom = json_object();
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *v = json_array_get(record, i + 3);
        json_object_set_new(custom, json_string_value(json_array_get(fields, i)) ?: "?",
                            json_string(json_string_value(v) ?: ""));
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "id",
                     json_string_value(json_array_get(record, 0)) ?: "", "name",
                     json_string_value(json_array_get(record, 1)) ?: "", "lang",
                     json_string_value(json_array_get(record, 2)) ?: "", "fields", custom);
}

/* The member id of the path, decoded; NULL after answering 400. Freed by the caller. */
static char *member_id_or_reply(call *c)
{
    size_t len = 0;
    char *id = evhttp_uridecode(c->sub, 0, &len);
    if (!id || len == 0 || len > AUDIENCE_ID_MAX || strlen(id) != len) {
        free(id);
        api_send_error(c, 400, "bad-request",
                       "the member id must be a phone number or an e-mail address of at most %d "
                       "bytes, URL-encoded",
                       AUDIENCE_ID_MAX);
        return NULL;
    }
    return id;
}

/* ---- GET /api/v1/audiences ---------------------------------------------------------- */

typedef struct lists_op {
    call *c;
    json_t *ids, *out;
    size_t next;
    long long total, offset;
} lists_op;

static void lists_op_free(lists_op *op)
{
    json_decref(op->ids);
    json_decref(op->out);
    free(op);
}

static void next_list(lists_op *op);

static void got_list_info(const audience_info *info, const char *error, void *arg)
{
    lists_op *op = arg;
    call *c = op->c;
    if (error) {
        send_audience_error(c, error);
        lists_op_free(op);
        api_call_unref(c);
        return;
    }
    if (info->found)
        json_array_append_new(op->out, audience_info_json(info));
    next_list(op);
}

static void next_list(lists_op *op)
{
    call *c = op->c;
    if (op->next >= json_array_size(op->ids)) {
        long long after = op->offset + (long long)json_array_size(op->ids);
        json_t *body = json_pack("{s:O, s:I, s:I}", "lists", op->out, "total",
                                 (json_int_t)op->total, "offset", (json_int_t)op->offset);
        json_object_set_new(body, "next_offset",
                            after < op->total ? json_integer(after) : json_null());
        api_send_json(c, 200, body);
        lists_op_free(op);
        api_call_unref(c);
        return;
    }
    const char *id =
        json_string_value(json_object_get(json_array_get(op->ids, op->next++), "id")) ?: "";
    int rc = audience_get_info(c->api->redis, c->api->cfg->redis_prefix, id, got_list_info, op);
    if (rc != 0) {
        api_send_refused(c, rc);
        lists_op_free(op);
        api_call_unref(c);
    }
}

static void got_ids(json_t *ids, long long total, const char *error, void *arg)
{
    lists_op *op = arg;
    if (error) {
        send_audience_error(op->c, error);
        call *c = op->c;
        lists_op_free(op);
        api_call_unref(c);
        return;
    }
    op->ids = json_incref(ids);
    op->total = total;
    next_list(op);
}

/* ?offset=N&limit=M: a page of the lists by creation, with their counts. */
void api_handle_audience_list(call *c)
{
    long long offset = 0, limit = LISTS_PAGE;
    if (api_query_whole_or_reply(c, "offset", 0, 1000000000, &offset) < 0 ||
        api_query_whole_or_reply(c, "limit", 1, LISTS_PAGE_MAX, &limit) < 0)
        return;
    lists_op *op = calloc(1, sizeof *op);
    if (!op) {
        api_send_error(c, 500, "internal", "out of memory");
        return;
    }
    op->c = c;
    op->offset = offset;
    op->out = json_array();
    int rc = audience_list_ids(c->api->redis, c->api->cfg->redis_prefix, offset, (int)limit,
                               got_ids, op);
    if (rc != 0)
        lists_op_free(op);
    api_start_fcall(c, rc);
}

/* ---- GET /api/v1/audiences/ID -------------------------------------------------------- */

static void got_info(const audience_info *info, const char *error, void *arg)
{
    call *c = arg;
    if (error)
        send_audience_error(c, error);
    else if (!info->found)
        api_send_error(c, 404, "not-found", "no such list: %s", c->id);
    else
        api_send_json(c, 200, audience_info_json(info));
    api_call_unref(c);
}

void api_handle_audience_get(call *c)
{
    api_start_fcall(
        c, audience_get_info(c->api->redis, c->api->cfg->redis_prefix, c->id, got_info, c));
}

/* ---- GET /api/v1/audiences/ID/members?page=N ------------------------------------------ */

static void got_page(const audience_page *p, const char *error, void *arg)
{
    call *c = arg;
    if (error) {
        send_audience_error(c, error);
    } else if (p->chunk > 0 && p->chunk >= p->chunks) {
        api_send_error(c, 404, "not-found", "list %s has %lld page%s of members; no page %lld",
                       c->id, p->chunks, p->chunks == 1 ? "" : "s", p->chunk);
    } else {
        json_t *members = json_array();
        for (int i = 0; i < p->n; i++) {
            json_t *m = member_json(json_array_get(p->records, (size_t)i), p->fields);
            json_object_set_new(m, "status", json_string(audience_status_name(p->status[i])));
            json_array_append_new(members, m);
        }
        json_t *body = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "id", c->id, "version",
                                 (json_int_t)p->version, "page", (json_int_t)p->chunk, "pages",
                                 (json_int_t)p->chunks, "members_total", (json_int_t)p->members,
                                 "members", members);
        json_object_set_new(body, "next_page",
                            p->chunk + 1 < p->chunks ? json_integer(p->chunk + 1) : json_null());
        api_send_json(c, 200, body);
    }
    api_call_unref(c);
}

/* ?page=N (from 0) of the version in force, or of ?version=V while it is kept. */
void api_handle_audience_members(call *c)
{
    long long page = 0, version = 0;
    if (api_query_whole_or_reply(c, "page", 0, 100000000, &page) < 0 ||
        api_query_whole_or_reply(c, "version", 1, 1000000000000LL, &version) < 0)
        return;
    api_start_fcall(c, audience_export_page(c->api->redis, c->api->cfg->redis_prefix, c->id,
                                            version, page, got_page, c));
}

/* ---- GET /api/v1/audiences/ID/members/MEMBER ------------------------------------------- */

static void got_member(const audience_member *m, const char *error, void *arg)
{
    call *c = arg;
    char masked[AUDIENCE_ID_MAX + 1];
    if (error) {
        send_audience_error(c, error);
    } else if (!m->found) {
        audience_mask(m->id, masked, sizeof masked);
        api_send_error(c, 404, "not-found", "list %s has no member %s", c->id, masked);
    } else {
        json_t *body = member_json(m->record, m->fields);
        json_object_set_new(body, "list", json_string(c->id));
        json_object_set_new(body, "version", json_integer(m->version));
        json_object_set_new(body, "position", json_integer(m->position));
        json_object_set_new(body, "status", json_string(audience_status_name(m->status)));
        if (m->status_at) {
            json_object_set_new(body, "status_at_ms", json_integer(m->status_at));
            json_object_set_new(body, "status_by", json_string(m->status_by));
            json_object_set_new(body, "reason", json_string(m->reason));
        }
        api_send_json(c, 200, body);
    }
    api_call_unref(c);
}

void api_handle_audience_member(call *c)
{
    char *id = member_id_or_reply(c);
    if (!id)
        return;
    api_start_fcall(
        c, audience_member_get(c->api->redis, c->api->cfg->redis_prefix, c->id, id, got_member, c));
    free(id);
}

/* ---- PUT .../members/MEMBER/status, DELETE .../members/MEMBER ---------------------------- */

static void changed(const audience_change *ch, const char *error, void *arg)
{
    call *c = arg;
    if (error) {
        send_audience_error(c, error);
    } else {
        char masked[AUDIENCE_ID_MAX + 1];
        const char *now = audience_status_name(ch->now);
        audience_mask(ch->id, masked, sizeof masked);
        if (ch->changed)
            log_info("api: list %s member %s: %s -> %s (by %s)", c->id, masked,
                     audience_status_name(ch->old), now, c->who ? c->who->name : "-");
        api_send_json(c, 200,
                      json_pack("{s:s, s:s, s:s, s:s, s:b}", "list", c->id, "id", ch->id, "status",
                                now, "previous", audience_status_name(ch->old), "changed",
                                ch->changed));
    }
    api_call_unref(c);
}

static const char *const settable[] = {"active",  "unsubscribed", "blocked",
                                       "bounced", "suppressed",   NULL};
static const jfield status_fields[] = {
    {.name = "status", .kind = JK_STRING, .required = 1, .choices = settable},
    {.name = "reason", .kind = JK_STRING, .max = 200},
    {0}};
static const jobject status_shape = {.fields = status_fields};

static void set_status(call *c, audience_status s, const char *reason)
{
    char *id = member_id_or_reply(c);
    if (!id)
        return;
    api_start_fcall(c, audience_set_status(c->api->redis, c->api->cfg->redis_prefix, c->id, id, s,
                                           c->who ? c->who->name : "-", reason, changed, c));
    free(id);
}

void api_handle_audience_status(call *c)
{
    json_t *body = api_checked_body_or_reply(c, &status_shape);
    if (!body)
        return;
    int s = audience_status_parse(json_string_value(json_object_get(body, "status")));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    set_status(c, (audience_status)s, reason ? reason : "");
    json_decref(body);
}

void api_handle_audience_remove(call *c)
{
    set_status(c, AUDIENCE_REMOVED, "removed through the API");
}
