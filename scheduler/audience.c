/*
 * audience.c - the audience store's calls: FCALLs into the
 * haechi_audience_v1 library (scheduler/audience.lua), loaded the first
 * time a call finds it missing, and their answers parsed into the structs
 * of audience.h.
 */
#include "audience.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fcall.h"
#include "log.h"

/* The library's source, generated from scheduler/audience.lua by the Makefile. */
static const char audience_lua[] =
#include "audience_lua.h"
    ;

/* A status change or a member look-up may meet a commit between finding
 * the version and asking it; each such race costs one more try. */
#define LOCATE_TRIES 3

static void meta_key(const char *prefix, const char *list, char *buf, size_t len)
{
    snprintf(buf, len, "%s:{a:%s}:meta", prefix, list);
}

static void index_key(const char *prefix, char *buf, size_t len)
{
    snprintf(buf, len, "%s:audiences", prefix);
}

static const char *reply_error(redisReply *reply, const char *error)
{
    if (!reply)
        return error ? error : "no answer from redis";
    if (reply->type == REDIS_REPLY_ERROR)
        return reply->str;
    return NULL;
}

static long long reply_int(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

static int is_array(const redisReply *r, size_t min)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= min;
}

static const char *reply_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : "";
}

/* ---- FCALL with one load of the library ------------------------------------ */

static const fcall_library audience_library = {.what = "audience", .source = audience_lua};

/* FCALL NAME NKEYS ARGV...: 0 and FN once, or an rconn refusal. The first
 * call of a process loads this binary's library ahead of it on the link,
 * so that Redis never runs an older one left by an earlier release. */
static int aud_fcall(rconn *r, const char *name, int nkeys, int argc, const char *const *argv,
                     const size_t *lens, rconn_fn *fn, void *arg)
{
    static int library_sent;
    if (!rconn_ready(r))
        return RCONN_DOWN;
    if (!library_sent && fcall_load(r, &audience_library, NULL, NULL) == 0)
        library_sent = 1;
    return fcall_call(r, &audience_library, name, nkeys, argc, argv, lens, fn, arg);
}

/* ---- status names -------------------------------------------------------------- */

static audience_status status_of(const char *name)
{
    int s = audience_status_parse(name);
    return s < 0 ? AUDIENCE_SUPPRESSED : (audience_status)s;
}

/* ---- info ------------------------------------------------------------------------ */

typedef struct info_op {
    audience_info_fn *fn;
    void *arg;
} info_op;

static void fill_info(audience_info *info, const redisReply *rep)
{
    const redisReply *meta = rep->element[1], *vi = rep->element[2], *counts = rep->element[3];
    long long others = 0;
    info->found = 1;
    for (size_t i = 0; i + 1 < meta->elements; i += 2) {
        const char *k = reply_str(meta->element[i]), *v = reply_str(meta->element[i + 1]);
        if (!strcmp(k, "id"))
            snprintf(info->id, sizeof info->id, "%s", v);
        else if (!strcmp(k, "kind"))
            info->kind = strcmp(v, "email") ? AUDIENCE_PHONE : AUDIENCE_EMAIL;
        else if (!strcmp(k, "version"))
            info->version = strtoll(v, NULL, 10);
        else if (!strcmp(k, "updated_at"))
            info->updated_at = strtoll(v, NULL, 10);
        else if (!strcmp(k, "updated_by"))
            snprintf(info->updated_by, sizeof info->updated_by, "%s", v);
    }
    for (size_t i = 0; i + 1 < vi->elements; i += 2) {
        const char *k = reply_str(vi->element[i]), *v = reply_str(vi->element[i + 1]);
        if (!strcmp(k, "members"))
            info->members = strtoll(v, NULL, 10);
        else if (!strcmp(k, "chunks"))
            info->chunks = strtoll(v, NULL, 10);
        else if (!strcmp(k, "fields"))
            info->fields = json_loads(v, 0, NULL);
    }
    for (size_t i = 0; i + 1 < counts->elements; i += 2) {
        int s = audience_status_parse(reply_str(counts->element[i]));
        long long n = reply_int(counts->element[i + 1]);
        if (s > 0) {
            info->counts[s] = n;
            others += n;
        }
    }
    /* Counts kept step by step could drift past the members (a status
     * change racing an import): never a negative audience. */
    info->counts[AUDIENCE_ACTIVE] = info->members > others ? info->members - others : 0;
    if (!json_is_array(info->fields)) {
        json_decref(info->fields);
        info->fields = json_array();
    }
}

static void got_info(redisReply *reply, const char *error, void *arg)
{
    info_op *op = arg;
    audience_info info = {0};
    const char *err = reply_error(reply, error);
    if (!err && !is_array(reply, 1))
        err = "an answer of the wrong shape";
    if (!err && reply_int(reply->element[0]) == 1) {
        if (!is_array(reply, 4) || !is_array(reply->element[1], 0) ||
            !is_array(reply->element[2], 0) || !is_array(reply->element[3], 0))
            err = "an answer of the wrong shape";
        else
            fill_info(&info, reply);
    }
    op->fn(err ? NULL : &info, err, op->arg);
    json_decref(info.fields);
    free(op);
}

int audience_get_info(rconn *r, const char *prefix, const char *list, audience_info_fn *fn,
                      void *arg)
{
    char meta[256];
    info_op *op = calloc(1, sizeof *op);
    if (!op)
        return RCONN_DOWN;
    op->fn = fn;
    op->arg = arg;
    meta_key(prefix, list, meta, sizeof meta);
    const char *argv[] = {meta};
    int rc = aud_fcall(r, "haechi_aud_info", 1, 1, argv, NULL, got_info, op);
    if (rc != 0)
        free(op);
    return rc;
}

json_t *audience_info_json(const audience_info *info)
{
    json_t *counts = json_object();
    for (int s = 0; s < AUDIENCE_STATUS_COUNT; s++)
        json_object_set_new(counts, audience_status_name((audience_status)s),
                            json_integer(info->counts[s]));
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:O, s:I, s:s}", "id", info->id, "kind",
                     info->kind == AUDIENCE_EMAIL ? "email" : "phone", "version",
                     (json_int_t)info->version, "members", (json_int_t)info->members, "chunks",
                     (json_int_t)info->chunks, "counts", counts, "fields",
                     info->fields ? info->fields : json_array(), "updated_at",
                     (json_int_t)info->updated_at, "updated_by", info->updated_by);
}

/* ---- a release's batch ------------------------------------------------------------ */

typedef struct batch_op {
    audience_batch b;
    audience_batch_fn *fn;
    void *arg;
} batch_op;

static const char *fill_batch(audience_batch *b, const redisReply *rep)
{
    if (reply_int(rep->element[0]) == 1) {
        b->version_gone = 1;
        return NULL;
    }
    if (!is_array(rep, 6) || !is_array(rep->element[3], 0) || !is_array(rep->element[5], 0))
        return "an answer of the wrong shape";
    b->sent_before = reply_int(rep->element[1]);
    b->failed_before = reply_int(rep->element[2]);
    const redisReply *by = rep->element[3], *out = rep->element[5];
    for (size_t i = 0; i + 1 < by->elements; i += 2) {
        long long n = reply_int(by->element[i + 1]);
        b->skipped_by[status_of(reply_str(by->element[i]))] += n;
        b->skipped += n;
    }
    b->fields = json_loads(reply_str(rep->element[4]), 0, NULL);
    if (!json_is_array(b->fields)) {
        json_decref(b->fields);
        b->fields = json_array();
    }
    b->members = json_array();
    for (size_t i = 0; i + 1 < out->elements && b->n < AUDIENCE_CHUNK; i += 2) {
        json_t *m = json_loads(reply_str(out->element[i + 1]), 0, NULL);
        if (!json_is_array(m)) {
            json_decref(m);
            return "a stored member is not a JSON array";
        }
        b->position[b->n++] = reply_int(out->element[i]);
        json_array_append_new(b->members, m);
    }
    return NULL;
}

static void got_batch(redisReply *reply, const char *error, void *arg)
{
    batch_op *op = arg;
    const char *err = reply_error(reply, error);
    if (!err && !is_array(reply, 1))
        err = "an answer of the wrong shape";
    if (!err)
        err = fill_batch(&op->b, reply);
    op->fn(err ? NULL : &op->b, err, op->arg);
    json_decref(op->b.members);
    json_decref(op->b.fields);
    free(op);
}

int audience_read_batch(rconn *r, const char *prefix, const char *list, long long version,
                        long long first, long long count, const char *release,
                        audience_batch_fn *fn, void *arg)
{
    char meta[256], v[24], f[24], n[24];
    if (count > AUDIENCE_CHUNK)
        count = AUDIENCE_CHUNK;
    batch_op *op = calloc(1, sizeof *op);
    if (!op)
        return RCONN_DOWN;
    op->fn = fn;
    op->arg = arg;
    op->b.first = first;
    op->b.count = count;
    meta_key(prefix, list, meta, sizeof meta);
    snprintf(v, sizeof v, "%lld", version);
    snprintf(f, sizeof f, "%lld", first);
    snprintf(n, sizeof n, "%lld", count);
    const char *argv[] = {meta, v, f, n, release};
    int rc = aud_fcall(r, "haechi_aud_read_batch", 1, 5, argv, NULL, got_batch, op);
    if (rc != 0)
        free(op);
    return rc;
}

/* ---- marks ------------------------------------------------------------------------ */

typedef struct done_op {
    audience_done_fn *fn;
    void *arg;
} done_op;

static void got_done(redisReply *reply, const char *error, void *arg)
{
    done_op *op = arg;
    op->fn(reply_error(reply, error), op->arg);
    free(op);
}

int audience_mark(rconn *r, const char *prefix, const char *list, const char *release,
                  const long long *accepted, int na, const long long *failed, int nf,
                  long long ttl_s, audience_done_fn *fn, void *arg)
{
    char meta[256], ttl[24], cna[16], cnf[16];
    int argc = 5 + na + nf, rc = RCONN_DOWN;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    char(*num)[24] = calloc((size_t)(na + nf) + 1, sizeof *num);
    done_op *op = calloc(1, sizeof *op);
    if (!argv || !num || !op)
        goto out;
    op->fn = fn;
    op->arg = arg;
    meta_key(prefix, list, meta, sizeof meta);
    snprintf(ttl, sizeof ttl, "%lld", ttl_s);
    snprintf(cna, sizeof cna, "%d", na);
    snprintf(cnf, sizeof cnf, "%d", nf);
    int k = 0, m = 0;
    argv[k++] = meta;
    argv[k++] = release;
    argv[k++] = ttl;
    argv[k++] = cna;
    for (int i = 0; i < na; i++, m++) {
        snprintf(num[m], sizeof num[m], "%lld", accepted[i]);
        argv[k++] = num[m];
    }
    argv[k++] = cnf;
    for (int i = 0; i < nf; i++, m++) {
        snprintf(num[m], sizeof num[m], "%lld", failed[i]);
        argv[k++] = num[m];
    }
    rc = aud_fcall(r, "haechi_aud_mark", 1, k, argv, NULL, got_done, op);
out:
    if (rc != 0)
        free(op);
    free(argv);
    free(num);
    return rc;
}

/* ---- finding one member: locate the versions, then ask -------------------------- */

typedef struct member_op {
    rconn *r;
    char prefix[96], list[65], meta[256];
    char raw[AUDIENCE_ID_MAX * 3 + 1];
    char id[AUDIENCE_ID_MAX + 1];
    int tries;
    long long v, vb, s, sb; /* as located */
    /* a status change */
    int is_change;
    audience_status status;
    char by[96], reason[256];
    audience_change_fn *change_fn;
    audience_member_fn *member_fn;
    void *arg;
} member_op;

static void member_op_fail(member_op *op, const char *error)
{
    if (op->is_change)
        op->change_fn(NULL, error, op->arg);
    else
        op->member_fn(NULL, error, op->arg);
    free(op);
}

static void located(redisReply *reply, const char *error, void *arg);

static int locate(member_op *op)
{
    const char *argv[] = {op->meta};
    return aud_fcall(op->r, "haechi_aud_locate", 1, 1, argv, NULL, located, op);
}

/* A "moved" refusal: the list changed between locate and the call. */
static int retry_if_moved(member_op *op, const char *err)
{
    if (!err || strncmp(err, "moved", 5) != 0 || ++op->tries >= LOCATE_TRIES)
        return 0;
    if (locate(op) != 0)
        member_op_fail(op, "connection to redis lost");
    return 1;
}

static void got_change(redisReply *reply, const char *error, void *arg)
{
    member_op *op = arg;
    const char *err = reply_error(reply, error);
    if (retry_if_moved(op, err))
        return;
    if (!err && !is_array(reply, 2))
        err = "an answer of the wrong shape";
    if (err) {
        member_op_fail(op, err);
        return;
    }
    audience_change ch = {.changed = reply_int(reply->element[0]) == 1,
                          .old = status_of(reply_str(reply->element[1])),
                          .now = op->status};
    snprintf(ch.id, sizeof ch.id, "%s", op->id);
    op->change_fn(&ch, NULL, op->arg);
    free(op);
}

static void fill_status(audience_member *m, const char *overlay)
{
    json_t *o = overlay[0] ? json_loads(overlay, 0, NULL) : NULL;
    m->status = AUDIENCE_ACTIVE;
    if (json_is_object(o)) {
        m->status = status_of(json_string_value(json_object_get(o, "s")) ?: "");
        m->status_at = json_integer_value(json_object_get(o, "at"));
        if (!m->status_at)
            m->status_at = (int64_t)json_real_value(json_object_get(o, "at"));
        snprintf(m->status_by, sizeof m->status_by, "%s",
                 json_string_value(json_object_get(o, "by")) ?: "");
        snprintf(m->reason, sizeof m->reason, "%s",
                 json_string_value(json_object_get(o, "reason")) ?: "");
    }
    json_decref(o);
}

static void got_member(redisReply *reply, const char *error, void *arg)
{
    member_op *op = arg;
    const char *err = reply_error(reply, error);
    audience_member m = {0};
    if (retry_if_moved(op, err))
        return;
    if (!err && !is_array(reply, 2))
        err = "an answer of the wrong shape";
    if (!err) {
        snprintf(m.id, sizeof m.id, "%s", op->id);
        m.version = op->v;
        if (reply_int(reply->element[0]) == 1 && is_array(reply, 5)) {
            m.found = 1;
            m.fields = json_loads(reply_str(reply->element[4]), 0, NULL);
            m.position = reply_int(reply->element[1]);
            m.record = json_loads(reply_str(reply->element[2]), 0, NULL);
            fill_status(&m, reply_str(reply->element[3]));
        } else {
            fill_status(&m, reply_str(reply->element[1]));
        }
    }
    op->member_fn(err ? NULL : &m, err, op->arg);
    json_decref(m.record);
    json_decref(m.fields);
    free(op);
}

static void located(redisReply *reply, const char *error, void *arg)
{
    member_op *op = arg;
    const char *err = reply_error(reply, error);
    char why[160], msg[256];
    if (!err && !is_array(reply, 6))
        err = "an answer of the wrong shape";
    if (!err && reply_int(reply->element[0]) == 0) {
        snprintf(msg, sizeof msg, "no such list: %s", op->list);
        err = msg;
    }
    if (err) {
        member_op_fail(op, err);
        return;
    }
    int email = !strcmp(reply_str(reply->element[1]), "email");
    int bad = email ? audience_email_normalize(op->raw, op->id, sizeof op->id, why, sizeof why)
                    : audience_phone_normalize(op->raw, op->id, sizeof op->id, why, sizeof why);
    if (bad) {
        snprintf(msg, sizeof msg, "%s: %s", email ? "email" : "phone", why);
        member_op_fail(op, msg);
        return;
    }
    op->v = reply_int(reply->element[2]);
    op->vb = reply_int(reply->element[3]);
    op->s = reply_int(reply->element[4]);
    op->sb = reply_int(reply->element[5]);
    char v[24], vb[16], s[24], sb[16], at[24];
    snprintf(v, sizeof v, "%lld", op->v);
    snprintf(vb, sizeof vb, "%u", audience_bucket(op->id, (unsigned)op->vb));
    snprintf(s, sizeof s, "%lld", op->s);
    snprintf(sb, sizeof sb, "%u", audience_bucket(op->id, (unsigned)op->sb));
    snprintf(at, sizeof at, "%lld", (long long)clock_wall_ms());
    int rc;
    if (op->is_change) {
        const char *argv[] = {
            op->meta, op->id, audience_status_name(op->status), op->by, at, op->reason, v, vb,
            s,        sb};
        rc = aud_fcall(op->r, "haechi_aud_set_status", 1, 10, argv, NULL, got_change, op);
    } else {
        const char *argv[] = {op->meta, op->id, v, vb};
        rc = aud_fcall(op->r, "haechi_aud_member", 1, 4, argv, NULL, got_member, op);
    }
    if (rc != 0)
        member_op_fail(op, "connection to redis lost");
}

static member_op *member_op_new(rconn *r, const char *prefix, const char *list, const char *id)
{
    member_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->r = r;
    snprintf(op->prefix, sizeof op->prefix, "%s", prefix);
    snprintf(op->list, sizeof op->list, "%s", list);
    snprintf(op->raw, sizeof op->raw, "%s", id);
    meta_key(prefix, list, op->meta, sizeof op->meta);
    return op;
}

int audience_member_get(rconn *r, const char *prefix, const char *list, const char *id,
                        audience_member_fn *fn, void *arg)
{
    member_op *op = member_op_new(r, prefix, list, id);
    if (!op)
        return RCONN_DOWN;
    op->member_fn = fn;
    op->arg = arg;
    int rc = locate(op);
    if (rc != 0)
        free(op);
    return rc;
}

int audience_set_status(rconn *r, const char *prefix, const char *list, const char *id,
                        audience_status s, const char *by, const char *reason,
                        audience_change_fn *fn, void *arg)
{
    member_op *op = member_op_new(r, prefix, list, id);
    if (!op)
        return RCONN_DOWN;
    op->is_change = 1;
    op->status = s;
    snprintf(op->by, sizeof op->by, "%s", by ? by : "");
    snprintf(op->reason, sizeof op->reason, "%s", reason ? reason : "");
    op->change_fn = fn;
    op->arg = arg;
    int rc = locate(op);
    if (rc != 0)
        free(op);
    return rc;
}

/* ---- export ------------------------------------------------------------------------ */

typedef struct page_op {
    audience_page p;
    audience_page_fn *fn;
    void *arg;
} page_op;

static const char *fill_page(audience_page *p, const redisReply *rep)
{
    if (!is_array(rep, 6) || !is_array(rep->element[5], 0))
        return "an answer of the wrong shape";
    p->version = reply_int(rep->element[0]);
    p->chunks = reply_int(rep->element[1]);
    p->members = reply_int(rep->element[2]);
    p->fields = json_loads(reply_str(rep->element[3]), 0, NULL);
    p->records = json_array();
    const char *text = rep->element[4]->type == REDIS_REPLY_STRING ? rep->element[4]->str : "";
    const redisReply *st = rep->element[5];
    for (const char *line = text; *line && p->n < AUDIENCE_CHUNK;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        json_t *m = json_loadb(line, len, 0, NULL);
        if (!json_is_array(m)) {
            json_decref(m);
            return "a stored member is not a JSON array";
        }
        json_array_append_new(p->records, m);
        p->status[p->n] =
            (size_t)p->n < st->elements ? status_of(reply_str(st->element[p->n])) : AUDIENCE_ACTIVE;
        p->n++;
        line += len + (end ? 1 : 0);
    }
    return NULL;
}

static void got_page(redisReply *reply, const char *error, void *arg)
{
    page_op *op = arg;
    const char *err = reply_error(reply, error);
    if (!err)
        err = fill_page(&op->p, reply);
    op->fn(err ? NULL : &op->p, err, op->arg);
    json_decref(op->p.fields);
    json_decref(op->p.records);
    free(op);
}

int audience_export_page(rconn *r, const char *prefix, const char *list, long long version,
                         long long chunk, audience_page_fn *fn, void *arg)
{
    char meta[256], v[24], n[24];
    page_op *op = calloc(1, sizeof *op);
    if (!op)
        return RCONN_DOWN;
    op->fn = fn;
    op->arg = arg;
    op->p.chunk = chunk;
    meta_key(prefix, list, meta, sizeof meta);
    snprintf(v, sizeof v, "%lld", version);
    snprintf(n, sizeof n, "%lld", chunk);
    const char *argv[] = {meta, v, n};
    int rc = aud_fcall(r, "haechi_aud_export", 1, 3, argv, NULL, got_page, op);
    if (rc != 0)
        free(op);
    return rc;
}

/* ---- the index ---------------------------------------------------------------------- */

typedef struct ids_op {
    audience_ids_fn *fn;
    void *arg;
} ids_op;

static void got_ids(redisReply *reply, const char *error, void *arg)
{
    ids_op *op = arg;
    const char *err = reply_error(reply, error);
    json_t *ids = NULL;
    long long total = 0;
    if (!err && (!is_array(reply, 2) || !is_array(reply->element[1], 0)))
        err = "an answer of the wrong shape";
    if (!err) {
        const redisReply *page = reply->element[1];
        total = reply_int(reply->element[0]);
        ids = json_array();
        for (size_t i = 0; i + 1 < page->elements; i += 2)
            json_array_append_new(
                ids, json_pack("{s:s, s:I}", "id", reply_str(page->element[i]), "created_at",
                               (json_int_t)strtoll(reply_str(page->element[i + 1]), NULL, 10)));
    }
    op->fn(ids, total, err, op->arg);
    json_decref(ids);
    free(op);
}

int audience_list_ids(rconn *r, const char *prefix, long long offset, int count,
                      audience_ids_fn *fn, void *arg)
{
    char key[160], start[24], n[24];
    index_key(prefix, key, sizeof key);
    snprintf(start, sizeof start, "%lld", offset);
    snprintf(n, sizeof n, "%d", count > 0 ? count : 1);
    ids_op *op = calloc(1, sizeof *op);
    if (!op)
        return RCONN_DOWN;
    op->fn = fn;
    op->arg = arg;
    const char *argv[] = {key, start, n};
    int rc = aud_fcall(r, "haechi_aud_lists", 1, 3, argv, NULL, got_ids, op);
    if (rc != 0)
        free(op);
    return rc;
}

/* ---- staging ---------------------------------------------------------------------- */

typedef struct stage_op {
    audience_begun_fn *begun;
    audience_staged_fn *staged;
    audience_committed_fn *committed;
    void *arg;
} stage_op;

static void got_begun(redisReply *reply, const char *error, void *arg)
{
    stage_op *op = arg;
    const char *err = reply_error(reply, error);
    if (!err && !is_array(reply, 2))
        err = "an answer of the wrong shape";
    op->begun(err ? 0 : reply_int(reply->element[0]), err ? 0 : reply_int(reply->element[1]), err,
              op->arg);
    free(op);
}

int audience_stage_begin(rconn *r, const char *prefix, const char *list, audience_kind kind,
                         unsigned buckets, const char *fields_json, const char *by,
                         audience_begun_fn *fn, void *arg)
{
    char meta[256], index[160], nb[16], now[24], ttl[24];
    stage_op *op = calloc(1, sizeof *op);
    if (!op)
        return RCONN_DOWN;
    op->begun = fn;
    op->arg = arg;
    meta_key(prefix, list, meta, sizeof meta);
    index_key(prefix, index, sizeof index);
    snprintf(nb, sizeof nb, "%u", buckets ? buckets : 1);
    snprintf(now, sizeof now, "%lld", (long long)clock_wall_ms());
    snprintf(ttl, sizeof ttl, "%d", AUDIENCE_STAGING_TTL_S);
    const char *argv[] = {meta, index,       list, kind == AUDIENCE_EMAIL ? "email" : "phone",
                          nb,   fields_json, now,  by,
                          ttl};
    int rc = aud_fcall(r, "haechi_aud_begin", 2, 9, argv, NULL, got_begun, op);
    if (rc != 0)
        free(op);
    return rc;
}

static void got_staged(redisReply *reply, const char *error, void *arg)
{
    stage_op *op = arg;
    const char *err = reply_error(reply, error);
    long long rows[AUDIENCE_CHUNK], lines[AUDIENCE_CHUNK];
    audience_staged s = {.dup_row = rows, .dup_line = lines};
    if (!err && (!is_array(reply, 3) || !is_array(reply->element[2], 0)))
        err = "an answer of the wrong shape";
    if (!err) {
        const redisReply *d = reply->element[2];
        s.members = reply_int(reply->element[0]);
        s.skipped = reply_int(reply->element[1]);
        for (size_t i = 0; i + 1 < d->elements && s.ndup < AUDIENCE_CHUNK; i += 2) {
            rows[s.ndup] = reply_int(d->element[i]) - 1;
            lines[s.ndup++] = reply_int(d->element[i + 1]);
        }
    }
    op->staged(err ? NULL : &s, err, op->arg);
    free(op);
}

int audience_stage_rows(rconn *r, const char *prefix, const char *list, long long version, int n,
                        const char *const *rows, const size_t *lens, audience_staged_fn *fn,
                        void *arg)
{
    char meta[256], v[24], ttl[24], cn[16];
    int argc = 4 + 5 * n, rc = RCONN_DOWN;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *alen = calloc((size_t)argc, sizeof *alen);
    stage_op *op = calloc(1, sizeof *op);
    if (!argv || !alen || !op)
        goto out;
    op->staged = fn;
    op->arg = arg;
    meta_key(prefix, list, meta, sizeof meta);
    snprintf(v, sizeof v, "%lld", version);
    snprintf(ttl, sizeof ttl, "%d", AUDIENCE_STAGING_TTL_S);
    snprintf(cn, sizeof cn, "%d", n);
    const char *head[] = {meta, v, ttl, cn};
    for (int i = 0; i < 4; i++) {
        argv[i] = head[i];
        alen[i] = strlen(head[i]);
    }
    for (int i = 0; i < 5 * n; i++) {
        argv[4 + i] = rows[i];
        alen[4 + i] = lens ? lens[i] : strlen(rows[i]);
    }
    rc = aud_fcall(r, "haechi_aud_stage", 1, argc, argv, alen, got_staged, op);
out:
    if (rc != 0)
        free(op);
    free(argv);
    free(alen);
    return rc;
}

static void got_committed(redisReply *reply, const char *error, void *arg)
{
    stage_op *op = arg;
    const char *err = reply_error(reply, error);
    if (!err && !is_array(reply, 2))
        err = "an answer of the wrong shape";
    op->committed(err ? 0 : reply_int(reply->element[0]), err ? 0 : reply_int(reply->element[1]),
                  err, op->arg);
    free(op);
}

int audience_stage_commit(rconn *r, const char *prefix, const char *list, long long version,
                          long long from, long long keep_old_s, const char *by,
                          audience_committed_fn *fn, void *arg)
{
    char meta[256], index[160], v[24], f[24], keep[24], now[24];
    stage_op *op = calloc(1, sizeof *op);
    if (!op)
        return RCONN_DOWN;
    op->committed = fn;
    op->arg = arg;
    meta_key(prefix, list, meta, sizeof meta);
    index_key(prefix, index, sizeof index);
    snprintf(v, sizeof v, "%lld", version);
    snprintf(f, sizeof f, "%lld", from);
    snprintf(keep, sizeof keep, "%lld", keep_old_s);
    snprintf(now, sizeof now, "%lld", (long long)clock_wall_ms());
    const char *argv[] = {meta, index, v, f, keep, now, by, list};
    int rc = aud_fcall(r, "haechi_aud_commit", 2, 8, argv, NULL, got_committed, op);
    if (rc != 0)
        free(op);
    return rc;
}
