/*
 * fake_instagram.c - a stand-in for Instagram content publishing on the
 * Graph API, as shared/CHANNELS.md §3 has it (routes without the /vNN.0
 * prefix: the adapter's url names the base):
 *
 *   POST /:ig/media                      a container (image_url, caption) → {"id"}
 *   POST /:ig/media_publish              creation_id → {"id": media id}
 *   GET  /:ig/content_publishing_limit   {"data":[{"quota_usage","config":{"quota_total","quota_duration"}}]}
 *   GET  /:ig/media                      recent media (id, caption, timestamp)
 *   GET  /:id/insights                   impressions, reach, views
 *   GET  /:id                            the account (followers_count), a container
 *                                        (status_code, status) or a media object
 *
 * A container is IN_PROGRESS for --ready-after-ms (0) on the stand-in
 * clock, then FINISHED; EXPIRED 24 h after it was made unless published;
 * PUBLISHED once published. Publishing one not FINISHED is 9007/2207027
 * (IN_PROGRESS) or -2/2207020 (EXPIRED). At most --quota-total (50)
 * publishes per rolling 24 h: more is 9/2207042; at most 400 containers per
 * rolling 24 h: more is 9 (no subcode). A caption over 2,200 characters is
 * 36004/2207010; an image_url whose host holds "unreachable" is 9004/2207052;
 * one that holds "broken" makes a container whose status is ERROR (its
 * status names 2207052).
 *
 * Named errors (error:NAME faults): spam (4/2207051), restricted
 * (25/2207050), expired-container (-2/2207020), not-ready (9007/2207027),
 * quota (9/2207042), caption (36004/2207010), image (9004/2207052),
 * token-expired (190/463), permission (200), transient (1). "rate-limit" is
 * 4 with X-Business-Use-Case-Usage estimated_time_to_regain_access = the
 * fault's ms in minutes; "server-error" is -1/2207001 with the fault's
 * status (503).
 *
 * Figures of a media object aged A minutes (at most 1,440), F the follower
 * count: impressions = views = F * A / 4800, reach = 70% of it.
 *
 * Options: --ig-user-id ID (17841400000000001), --followers N (280000),
 * --ready-after-ms MS (0), --quota-total N (50), and the usage options of
 * graph_fake.h. GET /_fake/state shows the containers, the media and the
 * time the oldest publish of the window leaves it (quota_frees_ms).
 */
#include "graph_fake.h"

#define DAY_MS 86400000LL
#define CAPTION_MAX 2200
#define CONTAINERS_PER_DAY 400

static struct {
    const char *ig_user_id;
    long followers, ready_after_ms, quota_total;
    json_t *containers; /* {id, image_url, caption, created_ms, published_ms, media_id} */
    json_t *media;      /* oldest first: {id, caption, created_ms, container} */
    graph_fake g;
} ig = {
    .ig_user_id = "17841400000000001",
    .followers = 280000,
    .quota_total = 50,
    .g = {.owner_id = "17841400000000001", .buc_type = "instagram", GRAPH_FAKE_DEFAULTS},
};

static void ig_fail(fake_req *rq, int code, int subcode, const char *message)
{
    graph_fake_error(rq, &ig.g, 400, code, subcode, 0, message);
}

static int ig_error(fake_req *rq, const char *kind, int status)
{
    if (strcmp(kind, "server-error") == 0) {
        graph_fake_usage(rq, &ig.g, -1);
        graph_fake_error(rq, &ig.g, status ? status : 503, -1, 2207001, 1,
                         "An unexpected error has occurred. Please retry your request later.");
        return 0;
    }
    if (graph_fake_common_error(rq, &ig.g, kind, status) == 0)
        return 0;
    if (strcmp(kind, "rate-limit") == 0) {
        graph_fake_usage(rq, &ig.g, graph_fake_regain_min(rq));
        graph_fake_error(rq, &ig.g, 400, 4, 0, 1, "(#4) Application request limit reached");
        return 0;
    }
    graph_fake_usage(rq, &ig.g, -1);
    if (strcmp(kind, "spam") == 0)
        ig_fail(rq, 4, 2207051, "We restrict certain activity to protect our community.");
    else if (strcmp(kind, "restricted") == 0)
        ig_fail(rq, 25, 2207050, "The Instagram account is restricted.");
    else if (strcmp(kind, "expired-container") == 0)
        ig_fail(rq, -2, 2207020, "The media you are trying to access has expired.");
    else if (strcmp(kind, "not-ready") == 0)
        ig_fail(rq, 9007, 2207027, "The media is not ready for publishing, please wait.");
    else if (strcmp(kind, "quota") == 0)
        ig_fail(rq, 9, 2207042, "(#9) The account has reached its daily publishing limit.");
    else if (strcmp(kind, "caption") == 0)
        ig_fail(rq, 36004, 2207010, "The caption was too long.");
    else if (strcmp(kind, "image") == 0)
        ig_fail(rq, 9004, 2207052, "The media could not be fetched from this URI.");
    else
        return -1;
    return 0;
}

/* ---- the state machine --------------------------------------------------------------- */

static json_t *find(json_t *list, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            return o;
    }
    return NULL;
}

static long long ms_of(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static const char *container_status(const json_t *c, int64_t now)
{
    if (strstr(json_string_value(json_object_get(c, "image_url")), "broken"))
        return "ERROR";
    if (ms_of(c, "published_ms"))
        return "PUBLISHED";
    if (now >= ms_of(c, "created_ms") + DAY_MS)
        return "EXPIRED";
    if (now < ms_of(c, "created_ms") + ig.ready_after_ms)
        return "IN_PROGRESS";
    return "FINISHED";
}

/* Publishes in the rolling 24 hours before NOW, and when the oldest of
 * them leaves the window. */
static long publishes_in_window(int64_t now, long long *frees_ms)
{
    size_t i;
    json_t *m;
    long n = 0;
    *frees_ms = 0;
    json_array_foreach(ig.media, i, m)
    {
        long long at = ms_of(m, "created_ms");
        if (now - at < DAY_MS) {
            if (!n)
                *frees_ms = at + DAY_MS;
            n++;
        }
    }
    return n;
}

static long containers_in_window(int64_t now)
{
    size_t i;
    json_t *c;
    long n = 0;
    json_array_foreach(ig.containers, i, c) n += now - ms_of(c, "created_ms") < DAY_MS;
    return n;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int own_account(fake_req *rq)
{
    if (strcmp(rq->params[0], ig.ig_user_id) == 0)
        return 1;
    char msg[200];
    snprintf(msg, sizeof msg,
             "Unsupported request. Object with ID '%.60s' does not exist, cannot be loaded due "
             "to missing permissions, or does not support this operation.",
             rq->params[0]);
    graph_fake_error(rq, &ig.g, 400, 100, 33, 0, msg);
    return 0;
}

static void create_container(fake_req *rq)
{
    const char *image = fake_param(rq, "image_url");
    const char *caption = fake_param(rq, "caption");
    graph_fake_usage(rq, &ig.g, -1);
    if (!own_account(rq))
        return;
    if (!image || !*image) {
        ig_fail(rq, 100, 0, "(#100) The parameter image_url is required.");
        return;
    }
    if (caption && utf8_chars(caption) > CAPTION_MAX) {
        ig_fail(rq, 36004, 2207010, "The caption was too long.");
        return;
    }
    if (strstr(image, "unreachable")) {
        ig_fail(rq, 9004, 2207052, "The media could not be fetched from this URI.");
        return;
    }
    if (containers_in_window(rq->now_ms) >= CONTAINERS_PER_DAY) {
        ig_fail(rq, 9, 0, "(#9) The account has created too many containers in 24 hours.");
        return;
    }
    char id[32];
    fake_new_id(rq->f, id, sizeof id);
    json_array_append_new(ig.containers,
                          json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "id", id, "image_url", image,
                                    "caption", caption ? caption : "", "created_ms",
                                    (json_int_t)rq->now_ms, "published_ms", (json_int_t)0,
                                    "media_id", ""));
    fake_reply_json(rq, 200, json_pack("{s:s}", "id", id), NULL);
}

static void publish(fake_req *rq)
{
    const char *creation = fake_param(rq, "creation_id");
    graph_fake_usage(rq, &ig.g, -1);
    if (!own_account(rq))
        return;
    json_t *c = creation ? find(ig.containers, creation) : NULL;
    if (!c) {
        ig_fail(rq, 24, 2207006, "The media with the given id was not found.");
        return;
    }
    const char *st = container_status(c, rq->now_ms);
    if (strcmp(st, "IN_PROGRESS") == 0) {
        ig_fail(rq, 9007, 2207027, "The media is not ready for publishing, please wait.");
        return;
    }
    if (strcmp(st, "ERROR") == 0) {
        ig_fail(rq, 9004, 2207052, "The media could not be fetched from this URI.");
        return;
    }
    if (strcmp(st, "EXPIRED") == 0) {
        ig_fail(rq, -2, 2207020, "The media you are trying to access has expired.");
        return;
    }
    if (strcmp(st, "PUBLISHED") == 0) {
        ig_fail(rq, 24, 2207008, "The media builder with the given id has been used.");
        return;
    }
    long long frees;
    if (publishes_in_window(rq->now_ms, &frees) >= ig.quota_total) {
        ig_fail(rq, 9, 2207042, "(#9) The account has reached its daily publishing limit.");
        return;
    }
    char id[32];
    fake_new_id(rq->f, id, sizeof id);
    json_object_set_new(c, "published_ms", json_integer(rq->now_ms));
    json_object_set_new(c, "media_id", json_string(id));
    json_array_append_new(ig.media, json_pack("{s:s,s:O,s:I,s:s}", "id", id, "caption",
                                              json_object_get(c, "caption"), "created_ms",
                                              (json_int_t)rq->now_ms, "container", creation));
    fake_reply_json(rq, 200, json_pack("{s:s}", "id", id), NULL);
}

static void publishing_limit(fake_req *rq)
{
    graph_fake_usage(rq, &ig.g, -1);
    if (!own_account(rq))
        return;
    long long frees;
    long used = publishes_in_window(rq->now_ms, &frees);
    json_t *entry = json_pack("{s:i}", "quota_usage", (int)used);
    if (graph_fake_lists(rq, "fields", "config"))
        json_object_set_new(
            entry, "config",
            json_pack("{s:i,s:i}", "quota_total", (int)ig.quota_total, "quota_duration", 86400));
    fake_reply_json(rq, 200, json_pack("{s:[o]}", "data", entry), NULL);
}

static json_t *media_view(const json_t *m)
{
    char at[80];
    graph_fake_time(ms_of(m, "created_ms"), at, sizeof at);
    return json_pack("{s:O,s:O,s:s,s:s}", "id", json_object_get(m, "id"), "caption",
                     json_object_get(m, "caption"), "timestamp", at, "media_type", "IMAGE");
}

static void list_media(fake_req *rq)
{
    graph_fake_usage(rq, &ig.g, -1);
    if (!own_account(rq))
        return;
    json_t *data = json_array();
    for (size_t i = json_array_size(ig.media); i-- > 0 && json_array_size(data) < 25;)
        json_array_append_new(data, media_view(json_array_get(ig.media, i)));
    fake_reply_json(rq, 200, json_pack("{s:o,s:{}}", "data", data, "paging"), NULL);
}

static void read_object(fake_req *rq)
{
    const char *id = rq->params[0];
    graph_fake_usage(rq, &ig.g, -1);
    if (strcmp(id, ig.ig_user_id) == 0) {
        json_t *u = json_pack("{s:s,s:s}", "id", id, "username", "seoul_official");
        if (graph_fake_lists(rq, "fields", "followers_count"))
            json_object_set_new(u, "followers_count", json_integer(ig.followers));
        if (graph_fake_lists(rq, "fields", "media_count"))
            json_object_set_new(u, "media_count",
                                json_integer((json_int_t)json_array_size(ig.media)));
        fake_reply_json(rq, 200, u, NULL);
        return;
    }
    json_t *c = find(ig.containers, id);
    if (c) {
        const char *st = container_status(c, rq->now_ms);
        json_t *v = json_pack("{s:s,s:s}", "status_code", st, "id", id);
        if (graph_fake_lists(rq, "fields", "status"))
            json_object_set_new(v, "status",
                                json_string(strcmp(st, "ERROR") == 0
                                                ? "Error: the media could not be processed "
                                                  "(2207052)"
                                                : st));
        fake_reply_json(rq, 200, v, NULL);
        return;
    }
    json_t *m = find(ig.media, id);
    if (m) {
        fake_reply_json(rq, 200, media_view(m), NULL);
        return;
    }
    own_account(rq); /* answers the unknown-object error */
}

static void insights(fake_req *rq)
{
    static const char *const known[] = {"impressions", "reach", "views"};
    graph_fake_usage(rq, &ig.g, -1);
    json_t *m = find(ig.media, rq->params[0]);
    if (!m) {
        own_account(rq);
        return;
    }
    long long imp = graph_fake_impressions(ig.followers, rq->now_ms - ms_of(m, "created_ms"));
    long long values[] = {imp, imp * 7 / 10, imp};
    json_t *data = json_array();
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (graph_fake_lists(rq, "metric", known[i]))
            json_array_append_new(data, graph_fake_metric(rq->params[0], known[i], values[i]));
    if (json_array_size(data) == 0) {
        json_decref(data);
        ig_fail(rq, 100, 0,
                "(#100) metric[0] must be one of the following values: impressions, reach, views");
        return;
    }
    fake_reply_json(rq, 200, json_pack("{s:o}", "data", data), NULL);
}

/* ---- the service --------------------------------------------------------------------- */

static int ig_option(const char *name, const char *v)
{
    int used = graph_fake_option(&ig.g, name, v);
    if (used)
        return used;
    if (strcmp(name, "--ig-user-id") == 0 && v && *v) {
        ig.ig_user_id = v;
        ig.g.owner_id = v;
        return 2;
    }
    if (strcmp(name, "--followers") == 0)
        return graph_fake_number(v, 0, &ig.followers);
    if (strcmp(name, "--ready-after-ms") == 0)
        return graph_fake_number(v, 0, &ig.ready_after_ms);
    if (strcmp(name, "--quota-total") == 0)
        return graph_fake_number(v, 0, &ig.quota_total);
    return 0;
}

static int ig_init(fake *f)
{
    (void)f;
    ig.containers = json_array();
    ig.media = json_array();
    return ig.containers && ig.media ? 0 : -1;
}

static void ig_reset(fake *f)
{
    (void)f;
    json_array_clear(ig.containers);
    json_array_clear(ig.media);
    ig.g.calls = 0;
}

static json_t *ig_state(fake *f)
{
    long long frees;
    long used = publishes_in_window(fake_now_ms(f), &frees);
    json_t *containers = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(ig.containers, i, c)
    {
        json_t *v = json_deep_copy(c);
        json_object_set_new(v, "status_code", json_string(container_status(c, fake_now_ms(f))));
        json_array_append_new(containers, v);
    }
    return json_pack("{s:o,s:O,s:{s:s,s:i},s:{s:i,s:i,s:I},s:i}", "containers", containers, "media",
                     ig.media, "user", "id", ig.ig_user_id, "followers", (int)ig.followers, "quota",
                     "usage", (int)used, "total", (int)ig.quota_total, "frees_ms",
                     (json_int_t)frees, "calls", (int)ig.g.calls);
}

static void ig_release(fake *f)
{
    (void)f;
    json_decref(ig.containers);
    json_decref(ig.media);
}

static const fake_route routes[] = {
    {"POST", "/:ig/media", create_container, 0},
    {"POST", "/:ig/media_publish", publish, 0},
    {"GET", "/:ig/content_publishing_limit", publishing_limit, 0},
    {"GET", "/:ig/media", list_media, 0},
    {"GET", "/:id/insights", insights, 0},
    {"GET", "/:id", read_object, 0},
    {0},
};

static const fake_service service = {
    .name = "instagram",
    .routes = routes,
    .error = ig_error,
    .option = ig_option,
    .init = ig_init,
    .state = ig_state,
    .reset = ig_reset,
    .release = ig_release,
};

int main(int argc, char **argv)
{
    return fake_main(argc, argv, &service);
}
