/*
 * audience_import.c - a CSV file into a new version of an audience list:
 * an asynchronous state machine on one rconn.
 *
 *   INFO     what the list holds now (kind, version, fields)
 *   BEGIN    a staging version is allocated (audience_stage_begin)
 *   CARRY    an append: the members in force are copied in first, a chunk
 *            at a time (replace skips this)
 *   ROWS     the file's rows, checked by audience_row(), staged 1,000 at a
 *            time with at most two calls in flight
 *   COMMIT   the version goes in force, if the list did not change meanwhile
 *
 * An append keeps the list's columns and adds the file's new ones; a file row
 * whose id is already there is a duplicate, but its status column still
 * applies (an append of "phone,status" rows sets statuses).
 *
 * Rows with errors are reported (line and reason) and skipped, the others
 * imported; with strict, any rejected row abandons the import after the
 * whole file was checked (so the report lists every error). An abandoned
 * import commits nothing: the staging keys expire by their TTL and the
 * version in force stays. Memory is two batches and the CSV reader's
 * record, whatever the file's size.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience.h"
#include "log.h"

#define IN_FLIGHT_MAX 2
/* A guess for a source whose size is unknown (a pipe): sizes the index. */
#define EXPECTED_UNKNOWN 1000000

typedef enum { ST_INFO, ST_BEGIN, ST_CARRY, ST_ROWS, ST_COMMIT, ST_DONE } import_state;

/* One stage call's rows: five strings per row in an arena. */
typedef struct batch {
    int busy; /* sent, waiting for its answer */
    int n;
    long long line[AUDIENCE_CHUNK];
    size_t off[AUDIENCE_CHUNK * 5], len[AUDIENCE_CHUNK * 5];
    char *buf;
    size_t used, cap;
    int oom;
    struct audience_import *im;
} batch;

struct audience_import {
    struct event_base *base;
    rconn *r;
    char prefix[96], list[65], by[96];
    audience_import_options opt;
    audience_import_fn *fn;
    void *arg;

    csv_read_fn *read;
    void *src;
    int src_failed;
    char src_error[128];
    csv_reader *csv;
    audience_layout layout;
    char *fields_json;
    /* The new version's custom columns: a replace takes the file's, an
     * append the list's followed by the file's new ones. REMAP[i] is where
     * the file's custom column i goes; carried records get "" for the
     * columns past their CARRY_FIELDS. */
    int nfields, carry_fields, remapped;
    int remap[AUDIENCE_FIELDS_MAX];
    int csv_done;

    import_state state;
    long long version, from, carry_next, carry_chunks;
    unsigned buckets;
    int in_flight;
    int carry_waiting; /* a chunk of the list in force is being read */
    int abandon;       /* strict and a row was rejected: stage no more */
    int finishing;     /* the done callback ran */
    struct event *start, *kick;
    batch batches[IN_FLIGHT_MAX];
    audience_import_result res;
};

static void pump(audience_import *im);

/* ---- small helpers -------------------------------------------------------- */

static void report(audience_report_row *rows, int *shown, long long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(audience_report_row *rows, int *shown, long long line, const char *fmt, ...)
{
    va_list ap;
    if (*shown >= AUDIENCE_REPORT_MAX)
        return;
    audience_report_row *row = &rows[(*shown)++];
    row->line = line;
    va_start(ap, fmt);
    vsnprintf(row->why, sizeof row->why, fmt, ap);
    va_end(ap);
}

static void reject(audience_import *im, long long line, const char *why)
{
    im->res.rejected++;
    report(im->res.rejected_shown, &im->res.nrejected_shown, line, "%s", why);
    if (im->opt.strict)
        im->abandon = 1;
}

static void fail(audience_import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(audience_import *im, const char *fmt, ...)
{
    va_list ap;
    if (im->res.error[0])
        return;
    va_start(ap, fmt);
    vsnprintf(im->res.error, sizeof im->res.error, fmt, ap);
    va_end(ap);
    im->abandon = 1;
}

/* Runs pump() from the loop, never from inside a callback's stack. */
static void kick(audience_import *im)
{
    event_active(im->kick, EV_TIMEOUT, 0);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

static long wrapped_read(void *arg, char *buf, size_t len)
{
    audience_import *im = arg;
    if (im->src_failed)
        return -1;
    long n = im->read(im->src, buf, len);
    if (n < 0) {
        im->src_failed = 1;
        snprintf(im->src_error, sizeof im->src_error, "%s",
                 errno ? strerror(errno) : "the source failed");
    }
    return n;
}

/* ---- batches -------------------------------------------------------------- */

static batch *free_batch(audience_import *im)
{
    for (int i = 0; i < IN_FLIGHT_MAX; i++)
        if (!im->batches[i].busy)
            return &im->batches[i];
    return NULL;
}

static void batch_add(batch *b, const char *s, size_t len)
{
    if (b->used + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->used + len + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->used, s, len);
    b->buf[b->used + len] = '\0';
    b->used += len + 1;
}

/* Appends one row (the five strings) to B. */
static void batch_row(batch *b, unsigned buckets, const char *id, long long line,
                      const char *record, size_t record_len, const char *status)
{
    char bucket[16], ln[24];
    const char *parts[5] = {id, bucket, ln, record, status};
    size_t lens[5];
    snprintf(bucket, sizeof bucket, "%u", audience_bucket(id, buckets));
    snprintf(ln, sizeof ln, "%lld", line);
    for (int i = 0; i < 5; i++) {
        lens[i] = i == 3 ? record_len : strlen(parts[i]);
        b->off[b->n * 5 + i] = b->used;
        b->len[b->n * 5 + i] = lens[i];
        batch_add(b, parts[i], lens[i]);
    }
    b->line[b->n++] = line;
}

static void staged(const audience_staged *s, const char *error, void *arg)
{
    batch *b = arg;
    audience_import *im = b->im;
    b->busy = 0;
    im->in_flight--;
    if (error) {
        fail(im, "staging rows failed: %s", error);
    } else {
        im->res.members = s->members;
        for (int i = 0; i < s->ndup; i++) {
            long long line =
                s->dup_row[i] >= 0 && s->dup_row[i] < b->n ? b->line[s->dup_row[i]] : 0;
            im->res.duplicates++;
            if (s->dup_line[i] > 0)
                report(im->res.duplicates_shown, &im->res.nduplicates_shown, line,
                       "duplicate of line %lld", s->dup_line[i]);
            else
                report(im->res.duplicates_shown, &im->res.nduplicates_shown, line,
                       "already in the list");
        }
    }
    b->n = 0;
    b->used = 0;
    im->fn(&im->res, 0, im->arg);
    kick(im);
}

static void batch_send(audience_import *im, batch *b)
{
    const char *rows[AUDIENCE_CHUNK * 5];
    if (b->oom) {
        fail(im, "out of memory");
        return;
    }
    for (int i = 0; i < b->n * 5; i++)
        rows[i] = b->buf + b->off[i];
    int rc = audience_stage_rows(im->r, im->prefix, im->list, im->version, b->n, rows, b->len,
                                 staged, b);
    if (rc != 0) {
        fail(im, "staging rows failed: %s", rconn_refusal(im->r, rc));
        return;
    }
    b->busy = 1;
    im->in_flight++;
}

/* ---- the file's rows -------------------------------------------------------- */

/* RECORD's custom values in the new version's column order; consumes it. */
static json_t *remap_record(audience_import *im, json_t *record)
{
    json_t *out = json_array();
    for (size_t i = 0; i < 3; i++)
        json_array_append(out, json_array_get(record, i));
    for (int i = 0; i < im->nfields; i++)
        json_array_append_new(out, json_string(""));
    for (int i = 0; i < im->layout.ncustom; i++)
        json_array_set(out, (size_t)(3 + im->remap[i]), json_array_get(record, (size_t)(3 + i)));
    json_decref(record);
    return out;
}

/* Reads rows into B until it holds a stage call's worth or the file ends. */
static void fill_from_csv(audience_import *im, batch *b)
{
    const char *fields[CSV_FIELDS_MAX];
    char why[256], id[AUDIENCE_ID_MAX + 1];
    long long line;
    while (b->n < AUDIENCE_CHUNK && !im->csv_done) {
        int n = csv_next(im->csv, fields, &line, why, sizeof why);
        if (im->src_failed) {
            fail(im, "reading the file failed at line %lld: %s", line, im->src_error);
            im->csv_done = 1;
            return;
        }
        if (n == 0) {
            im->csv_done = 1;
            return;
        }
        im->res.rows++;
        if (n < 0) {
            reject(im, line, why);
            continue;
        }
        json_t *record = NULL;
        audience_status status = AUDIENCE_ACTIVE;
        if (audience_row(&im->layout, fields, n, id, sizeof id, &record, &status, why,
                         sizeof why) != 0) {
            reject(im, line, why);
            continue;
        }
        if (!im->abandon) {
            if (im->remapped)
                record = remap_record(im, record);
            char *text = record ? json_dumps(record, JSON_COMPACT) : NULL;
            if (!text) {
                fail(im, "out of memory");
            } else {
                batch_row(b, im->buckets, id, line, text, strlen(text),
                          status == AUDIENCE_ACTIVE ? "" : audience_status_name(status));
                free(text);
            }
        }
        json_decref(record);
    }
}

/* ---- carrying the members in force over (append) ---------------------------------- */

/* A carried record with "" for the columns the file adds. */
static void carry_padded(audience_import *im, batch *b, const char *id, const char *line,
                         size_t len)
{
    json_t *rec = json_loadb(line, len, 0, NULL);
    while (json_is_array(rec) && json_array_size(rec) < (size_t)(3 + im->nfields))
        json_array_append_new(rec, json_string(""));
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    if (text)
        batch_row(b, im->buckets, id, 0, text, strlen(text), "");
    else
        fail(im, "list %s: a stored member is not a JSON array", im->list);
    free(text);
    json_decref(rec);
}

static void got_carry_chunk(redisReply *reply, const char *error, void *arg)
{
    audience_import *im = arg;
    batch *b = free_batch(im);
    im->carry_waiting = 0;
    if (!reply || reply->type != REDIS_REPLY_STRING || !b) {
        fail(im, "reading the list in force failed: %s",
             reply && reply->type == REDIS_REPLY_ERROR ? reply->str
             : error                                   ? error
                                                       : "its version expired");
        kick(im);
        return;
    }
    char id[AUDIENCE_ID_MAX + 1];
    for (const char *line = reply->str; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        /* The id is the record's first string: no quotes in ids. */
        const char *q = line[0] == '[' && line[1] == '"' ? strchr(line + 2, '"') : NULL;
        if (q && (size_t)(q - line - 2) < sizeof id) {
            memcpy(id, line + 2, (size_t)(q - line - 2));
            id[q - line - 2] = '\0';
            if (im->nfields > im->carry_fields)
                carry_padded(im, b, id, line, len);
            else
                batch_row(b, im->buckets, id, 0, line, len, "");
        }
        line += len + (end ? 1 : 0);
    }
    im->carry_next++;
    if (b->n)
        batch_send(im, b);
    kick(im);
}

static void carry_next_chunk(audience_import *im)
{
    char key[300];
    snprintf(key, sizeof key, "%s:{a:%s}:v:%lld:c:%lld", im->prefix, im->list, im->from,
             im->carry_next);
    const char *argv[] = {"GET", key};
    int rc = rconn_command(im->r, got_carry_chunk, im, 2, argv, NULL);
    if (rc != 0)
        fail(im, "reading the list in force failed: %s", rconn_refusal(im->r, rc));
    else
        im->carry_waiting = 1;
}

/* ---- the end ---------------------------------------------------------------------- */

static void finish(audience_import *im)
{
    im->state = ST_DONE;
    if (!im->res.committed && !im->res.error[0])
        snprintf(im->res.error, sizeof im->res.error,
                 "%lld row%s rejected and --strict asks for all or nothing", im->res.rejected,
                 im->res.rejected == 1 ? "" : "s");
    im->finishing = 1;
    im->fn(&im->res, 1, im->arg);
}

static void committed(long long version, long long members, const char *error, void *arg)
{
    audience_import *im = arg;
    if (error) {
        fail(im, "%s", error);
    } else {
        im->res.committed = 1;
        im->res.version = version;
        im->res.members = members;
    }
    finish(im);
}

static void commit(audience_import *im)
{
    im->state = ST_COMMIT;
    int rc = audience_stage_commit(im->r, im->prefix, im->list, im->version, im->from,
                                   im->opt.keep_old_s, im->by, committed, im);
    if (rc != 0) {
        fail(im, "commit failed: %s", rconn_refusal(im->r, rc));
        finish(im);
    }
}

/* ---- the machine ---------------------------------------------------------------------- */

static void pump(audience_import *im)
{
    if (im->state == ST_DONE || im->state == ST_COMMIT || im->state < ST_CARRY)
        return;
    while (!im->res.error[0]) {
        batch *b = free_batch(im);
        if (im->state == ST_CARRY) {
            if (im->carry_next >= im->carry_chunks) {
                im->state = ST_ROWS;
                continue;
            }
            if (!b || im->carry_waiting)
                return;
            carry_next_chunk(im);
            return;
        }
        if (!b || im->csv_done)
            break;
        fill_from_csv(im, b);
        if (b->n && !im->abandon) {
            batch_send(im, b);
        } else {
            b->n = 0;
            b->used = 0;
        }
        if (!im->csv_done)
            im->fn(&im->res, 0, im->arg);
    }
    if (im->in_flight || im->carry_waiting)
        return;
    if (im->res.error[0] || (im->csv_done && im->abandon))
        finish(im);
    else if (im->csv_done)
        commit(im);
}

static void begun(long long version, long long from, const char *error, void *arg)
{
    audience_import *im = arg;
    if (error) {
        fail(im, "%s", error);
        finish(im);
        return;
    }
    im->version = version;
    im->from = from;
    im->state = !im->opt.replace && im->carry_chunks > 0 ? ST_CARRY : ST_ROWS;
    pump(im);
}

static void got_info(const audience_info *info, const char *error, void *arg)
{
    audience_import *im = arg;
    if (error) {
        fail(im, "reading list %s failed: %s", im->list, error);
        finish(im);
        return;
    }
    long long expected = im->opt.expected > 0 ? im->opt.expected : EXPECTED_UNKNOWN;
    json_t *names = json_array();
    if (info->found && info->version && !im->opt.replace) {
        json_array_extend(names, info->fields);
        im->carry_fields = (int)json_array_size(names);
        im->carry_chunks = info->chunks;
        expected += info->members;
    }
    for (int i = 0; i < im->layout.ncustom; i++) {
        size_t k;
        for (k = 0; k < json_array_size(names); k++)
            if (!strcmp(json_string_value(json_array_get(names, k)) ?: "", im->layout.custom[i]))
                break;
        if (k == json_array_size(names))
            json_array_append_new(names, json_string(im->layout.custom[i]));
        im->remap[i] = (int)k;
        if ((int)k != i)
            im->remapped = 1;
    }
    im->nfields = (int)json_array_size(names);
    if (im->nfields != im->layout.ncustom)
        im->remapped = 1;
    if (im->nfields > AUDIENCE_FIELDS_MAX) {
        fail(im, "list %s: the list's columns and the file's new ones make %d, over %d", im->list,
             im->nfields, AUDIENCE_FIELDS_MAX);
        json_decref(names);
        finish(im);
        return;
    }
    im->fields_json = json_dumps(names, JSON_COMPACT);
    json_decref(names);
    if (!im->fields_json) {
        fail(im, "out of memory");
        finish(im);
        return;
    }
    im->buckets = audience_buckets_for(expected);
    im->state = ST_BEGIN;
    int rc = audience_stage_begin(im->r, im->prefix, im->list, im->layout.kind, im->buckets,
                                  im->fields_json, im->by, begun, im);
    if (rc != 0) {
        fail(im, "cannot start the import: %s", rconn_refusal(im->r, rc));
        finish(im);
    }
}

/* The header, then what the list holds. */
static void start_cb(evutil_socket_t fd, short what, void *arg)
{
    audience_import *im = arg;
    const char *fields[CSV_FIELDS_MAX];
    char why[256];
    long long line = 1;
    (void)fd;
    (void)what;
    int n = csv_next(im->csv, fields, &line, why, sizeof why);
    if (im->src_failed) {
        fail(im, "reading the file failed: %s", im->src_error);
    } else if (n == 0) {
        fail(im, "the file is empty: line 1 must be a header (phone or email, name, ...)");
    } else if (n < 0) {
        fail(im, "line %lld (the header): %s", line, why);
    } else if (audience_layout_from_header(fields, n, &im->layout, why, sizeof why) != 0) {
        fail(im, "line %lld (the header): %s", line, why);
    } else {
        int rc = audience_get_info(im->r, im->prefix, im->list, got_info, im);
        if (rc == 0)
            return;
        fail(im, "cannot read list %s: %s", im->list, rconn_refusal(im->r, rc));
    }
    finish(im);
}

audience_import *audience_import_start(struct event_base *base, rconn *r, const char *prefix,
                                       const audience_import_options *opt, csv_read_fn *read,
                                       void *src, audience_import_fn *fn, void *arg)
{
    audience_import *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->base = base;
    im->r = r;
    im->opt = *opt;
    snprintf(im->prefix, sizeof im->prefix, "%s", prefix);
    snprintf(im->list, sizeof im->list, "%s", opt->list);
    snprintf(im->by, sizeof im->by, "%s", opt->by ? opt->by : "-");
    im->opt.list = im->list;
    im->opt.by = im->by;
    if (im->opt.keep_old_s <= 0)
        im->opt.keep_old_s = AUDIENCE_KEEP_OLD_S_DEFAULT;
    im->fn = fn;
    im->arg = arg;
    im->read = read;
    im->src = src;
    for (int i = 0; i < IN_FLIGHT_MAX; i++)
        im->batches[i].im = im;
    im->csv = csv_open(wrapped_read, im);
    im->start = event_new(base, -1, 0, start_cb, im);
    im->kick = event_new(base, -1, 0, kick_cb, im);
    if (!im->csv || !im->start || !im->kick) {
        audience_import_free(im);
        return NULL;
    }
    event_active(im->start, EV_TIMEOUT, 0);
    return im;
}

void audience_import_free(audience_import *im)
{
    if (!im)
        return;
    if (im->start)
        event_free(im->start);
    if (im->kick)
        event_free(im->kick);
    csv_close(im->csv);
    for (int i = 0; i < IN_FLIGHT_MAX; i++)
        free(im->batches[i].buf);
    free(im->fields_json);
    free(im);
}
