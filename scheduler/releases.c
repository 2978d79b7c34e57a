/*
 * releases.c - shaping haechi_releases's reply for the API and the CLI.
 */
#include "releases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"

static void set_time(json_t *obj, const char *key, json_int_t ms, const tz *zone)
{
    char buf[64];
    isotime_format_rfc3339((int64_t)(ms / 1000), zone, buf, sizeof buf);
    json_object_set_new(obj, key, json_string(buf));
}

/* The firing object for (rid, due), created on first use. KEY "rid|due". */
static json_t *firing(json_t *index, const char *rid, long long due, const tz *zone)
{
    char key[160];
    snprintf(key, sizeof key, "%s|%lld", rid, due);
    json_t *f = json_object_get(index, key);
    if (!f) {
        f = json_pack("{s:s, s:I, s:{}}", "release", rid, "due_ms", (json_int_t)due, "channels");
        set_time(f, "due", due, zone);
        json_object_set_new(index, key, f);
    }
    return f;
}

/* State records carry epoch ms; answers carry times people can read. */
static long long num(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? (long long)json_number_value(v) : 0;
}

/*
 * A release sent to a list's members, batch by batch: how far it has got,
 * from the counts its batches rolled up ("recipients" is the plan's total
 * at the snapshot). The rate is over the time since the fan-out, up to the
 * last batch's end, so a release that is not moving shows its last rate
 * and an end estimate that is already in the past.
 */
static void add_progress(json_t *rec, const tz *zone)
{
    long long total = num(rec, "recipients");
    if (total <= 0)
        return;
    long long accepted = num(rec, "accepted"), rejected = num(rec, "rejected");
    long long skipped = num(rec, "skipped");
    long long settled = accepted + rejected + skipped;
    const char *state = json_string_value(json_object_get(rec, "state"));
    int running = state && strcmp(state, "sending") == 0;
    long long remaining = running && total > settled ? total - settled : 0;
    json_t *p = json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)total, "accepted",
                          (json_int_t)accepted, "failed", (json_int_t)rejected, "skipped",
                          (json_int_t)skipped, "remaining", (json_int_t)remaining);
    json_t *by = json_object_get(rec, "rejected_by");
    json_object_set_new(p, "failed_by", json_is_object(by) ? json_incref(by) : json_object());
    long long started = num(rec, "started"), at = num(rec, "at");
    if (at > started && settled > 0) {
        double per_s = (double)settled * 1000.0 / (double)(at - started);
        json_object_set_new(p, "rate_per_s", json_real(per_s));
        if (remaining > 0 && per_s > 0)
            set_time(p, "eta", (json_int_t)(at + (long long)((double)remaining / per_s * 1000.0)),
                     zone);
    }
    if (started > 0)
        set_time(p, "started", (json_int_t)started, zone);
    json_object_set_new(rec, "progress", p);
}

static void readable_record(json_t *rec, const tz *zone)
{
    static const char *const times[] = {"at", "fired", "next_attempt", "until_ms"};
    add_progress(rec, zone);
    json_object_del(rec, "started");
    json_object_del(rec, "due");
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        json_t *v = json_object_get(rec, times[i]);
        if (!json_is_number(v))
            continue;
        json_int_t ms = (json_int_t)json_number_value(v);
        const char *name = strcmp(times[i], "until_ms") == 0 ? "until" : times[i];
        if (name != times[i])
            json_object_del(rec, times[i]);
        set_time(rec, name, ms, zone);
    }
}

/* A fanned-out channel's targets sit under its record, "targets": {T: rec};
 * Redis hands fields over in no order, so either may come first. */
static void add_target(json_t *channels, const char *ch, const char *target, json_t *rec)
{
    json_t *parent = json_object_get(channels, ch);
    if (!parent) {
        parent = json_object();
        json_object_set_new(channels, ch, parent);
    }
    json_t *targets = json_object_get(parent, "targets");
    if (!targets) {
        targets = json_object();
        json_object_set_new(parent, "targets", targets);
    }
    json_object_set_new(targets, target, rec);
}

static void set_channel(json_t *channels, const char *ch, json_t *rec)
{
    json_t *targets = json_object_get(json_object_get(channels, ch), "targets");
    if (targets)
        json_object_set(rec, "targets", targets);
    json_object_set_new(channels, ch, rec);
}

static int by_due(const void *a, const void *b)
{
    json_t *fa = *(json_t *const *)a, *fb = *(json_t *const *)b;
    json_int_t da = json_integer_value(json_object_get(fa, "due_ms"));
    json_int_t db = json_integer_value(json_object_get(fb, "due_ms"));
    if (da != db)
        return da < db ? -1 : 1;
    return strcmp(json_string_value(json_object_get(fa, "release")),
                  json_string_value(json_object_get(fb, "release")));
}

static void sort_firings(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        list[i] = json_incref(json_array_get(arr, i));
    qsort(list, n, sizeof *list, by_due);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, list[i]);
    free(list);
}

json_t *releases_to_json(redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 6)
        return NULL;
    redisReply *fires = reply->element[0], *upcoming = reply->element[1];
    redisReply *status = reply->element[2], *tzname = reply->element[3];
    redisReply *rels = reply->element[4];
    char why[128];
    const tz *zone =
        tz_get(tzname->type == REDIS_REPLY_STRING ? tzname->str : "UTC", why, sizeof why);
    if (!zone)
        zone = tz_get("UTC", why, sizeof why);

    json_t *index = json_object(), *counts = json_object();
    for (size_t i = 0; fires->type == REDIS_REPLY_ARRAY && i + 1 < fires->elements; i += 2) {
        char rid[80], ch[32], target[64] = "";
        long long due;
        if (sscanf(fires->element[i]->str, "%79[^|]|%lld|%31[^|]|%63s", rid, &due, ch, target) < 3)
            continue;
        json_t *rec = json_loads(fires->element[i + 1]->str, 0, NULL);
        if (!rec)
            continue;
        json_t *f = firing(index, rid, due, zone);
        json_t *fired = json_object_get(rec, "fired");
        if (json_is_number(fired) && !json_object_get(f, "fired")) {
            set_time(f, "fired", (json_int_t)json_number_value(fired), zone);
            json_object_set_new(f, "late_ms",
                                json_integer((json_int_t)json_number_value(fired) - due));
        }
        readable_record(rec, zone);
        if (target[0]) {
            add_target(json_object_get(f, "channels"), ch, target, rec);
            continue;
        }
        const char *state = json_string_value(json_object_get(rec, "state"));
        if (state) {
            json_t *n = json_object_get(counts, state);
            json_object_set_new(counts, state, json_integer(json_integer_value(n) + 1));
        }
        set_channel(json_object_get(f, "channels"), ch, rec);
    }
    /* Upcoming firings: their channels are the release's, all scheduled. */
    for (size_t i = 0; upcoming->type == REDIS_REPLY_ARRAY && i + 1 < upcoming->elements; i += 2) {
        const char *rid = upcoming->element[i]->str;
        long long due = strtoll(upcoming->element[i + 1]->str, NULL, 10);
        json_t *f = firing(index, rid, due, zone);
        for (size_t r = 0; rels->type == REDIS_REPLY_ARRAY && r + 1 < rels->elements; r += 2) {
            if (strcmp(rels->element[r]->str, rid) != 0)
                continue;
            char list[512];
            snprintf(list, sizeof list, "%s", rels->element[r + 1]->str);
            for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                char *colon = strchr(tok, ':');
                if (colon)
                    *colon = '\0';
                if (!json_object_get(json_object_get(f, "channels"), tok)) {
                    json_object_set_new(json_object_get(f, "channels"), tok,
                                        json_pack("{s:s}", "state", "scheduled"));
                    json_t *n = json_object_get(counts, "scheduled");
                    json_object_set_new(counts, "scheduled",
                                        json_integer(json_integer_value(n) + 1));
                }
            }
        }
    }

    json_t *arr = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(index, key, v) json_array_append(arr, v);
    sort_firings(arr);
    json_decref(index);
    redisReply *cursor = reply->element[5];
    int last = cursor->type != REDIS_REPLY_STRING || strcmp(cursor->str, "0") == 0;
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "status",
                     status->type == REDIS_REPLY_STRING ? status->str : "", "timezone",
                     tz_name(zone), "releases", arr, "counts", counts, "next_cursor",
                     last ? json_null() : json_string(cursor->str));
}

static void firing_key(json_t *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s|%lld", json_string_value(json_object_get(f, "release")),
             (long long)json_integer_value(json_object_get(f, "due_ms")));
}

/* Channel CH's record REC from a later page into CHANNELS. A fanned-out
 * channel's record and its targets may come on different pages: a record
 * that holds nothing but "targets" is a placeholder (add_target). */
static void merge_channel(json_t *channels, const char *ch, json_t *rec)
{
    json_t *have = json_object_get(channels, ch);
    json_t *targets = json_object_get(rec, "targets");
    if (!have) {
        json_object_set(channels, ch, rec);
        return;
    }
    json_t *kept = json_object_get(have, "targets");
    if (json_object_size(rec) > (targets ? 1u : 0u)) {
        /* REC is the channel's own record: it takes the targets seen so far. */
        json_incref(kept);
        json_object_set(channels, ch, rec);
        if (kept && targets)
            json_object_update(targets, kept);
        else if (kept)
            json_object_set(rec, "targets", kept);
        json_decref(kept);
        return;
    }
    if (!targets)
        return;
    if (kept)
        json_object_update(kept, targets);
    else
        json_object_set(have, "targets", targets);
}

void releases_merge(json_t *into, json_t *page)
{
    json_t *all = json_object_get(into, "releases"), *counts = json_object_get(into, "counts");
    json_t *f, *n, *index = json_object();
    size_t i;
    const char *key;
    char k[160];
    json_array_foreach(all, i, f)
    {
        firing_key(f, k, sizeof k);
        json_object_set(index, k, f);
    }
    /* The deliveries of one firing may come on different pages. */
    json_array_foreach(json_object_get(page, "releases"), i, f)
    {
        firing_key(f, k, sizeof k);
        json_t *g = json_object_get(index, k);
        const char *ch;
        json_t *rec;
        if (g)
            json_object_foreach(json_object_get(f, "channels"), ch, rec)
                merge_channel(json_object_get(g, "channels"), ch, rec);
        else
            json_array_append(all, f);
    }
    json_object_foreach(json_object_get(page, "counts"), key, n) json_object_set_new(
        counts, key,
        json_integer(json_integer_value(json_object_get(counts, key)) + json_integer_value(n)));
    json_object_set(into, "next_cursor", json_object_get(page, "next_cursor"));
    json_decref(index);
    sort_firings(all);
}
