/*
 * fake_kakaostory.c - a stand-in for Kakao's Story REST API on
 * kapi.kakao.com, as Kakao Developers documents it (docs/adapters.md,
 * "kakaostory", has the sources):
 *
 *   GET    /v1/api/story/isstoryuser       {"isStoryUser": true}
 *   GET    /v1/api/story/profile           nickName, profileImageURL, ... (no friend count)
 *   GET    /v1/api/story/mystories         the newest stories first (last_id: older ones)
 *   GET    /v1/api/story/mystory?id=       one story
 *   GET    /v1/api/story/linkinfo?url=     the scrap of a link
 *   POST   /v1/api/story/post/note         content (1..2,048), permission A|F|M, enable_share
 *   POST   /v1/api/story/post/link         link_info (JSON text), content, ...
 *   POST   /v1/api/story/post/photo        image_url_list (JSON text), content, ...
 *   POST   /v1/api/story/upload/multi      image files: their paths
 *   DELETE /v1/api/story/delete/mystory?id=
 *
 * Every route needs "Authorization: Bearer T". Errors are Kakao's
 * {"msg": "...", "code": -N} with the HTTP status of Kakao's error-code
 * page: -401 401, -2 400, -10 400 (quota; no Retry-After is documented),
 * -601 400 [status U], -9 400, -9798 503. The messages are ours.
 *
 * Named errors (error:NAME): token-expired, quota, maintenance,
 * not-story-user, invalid, not-enabled, no-permission, blocked, scope,
 * internal, inner-timeout, ended.
 *
 * Options: --posting-ended (the posting routes answer code -9, "the API
 * has ended", as Kakao answers an API it ended; reads still work),
 * --posting-ended-status C (400), --not-story-user (isStoryUser false and
 * -601 on the other routes), --quota-status C (400: Kakao's page; 429 for
 * a proxy that says so), --stories-page N (18: what the SDKs say one read
 * of mystories holds).
 */
#include "fake.h"

#include <event2/http.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONTENT_MAX 2048

static struct {
    int posting_ended, ended_status, not_story_user, quota_status;
    long page;
    json_t *stories; /* oldest first: {id, url, content, created_at, media_type, permission,
                        created_ms, link_info?, images?} */
    unsigned long serial;
} ks = {.ended_status = 400, .quota_status = 400, .page = 18};

/* ---- parameters ------------------------------------------------------------- */

/* The form body of the request being handled. fake_param() misses form
 * values that hold a newline (the core merges them into the query through
 * evhttp_add_header(), which refuses CR and LF), and a post's content
 * often has one; so each handler parses its form body here first. */
static struct evkeyvalq form;

static void form_load(const fake_req *rq)
{
    evhttp_clear_headers(&form);
    if (rq->body_len && !rq->json)
        evhttp_parse_query_str(rq->body, &form);
}

static const char *param(const fake_req *rq, const char *name)
{
    const char *v = evhttp_find_header(&form, name);
    return v ? v : fake_param(rq, name);
}

/* ---- answers ---------------------------------------------------------------- */

static void kakao_error(fake_req *rq, int status, int code, const char *msg)
{
    fake_reply_json(rq, status, json_pack("{s:s,s:i}", "msg", msg, "code", code), NULL);
}

static void bad_param(fake_req *rq, const char *msg)
{
    kakao_error(rq, 400, -2, msg);
}

static int ks_error(fake_req *rq, const char *kind, int status)
{
    static const struct {
        const char *kind;
        int status, code;
        const char *msg;
    } named[] = {
        {"unauthorized", 401, -401, "this access token does not exist"},
        {"expired-token", 401, -401, "this access token is already expired"},
        {"token-expired", 401, -401, "this access token is already expired"},
        {"rate-limit", 0, -10, "API limit has been exceeded."},
        {"quota", 0, -10, "API limit has been exceeded."},
        {"server-error", 0, -1, "internal error"},
        {"internal", 400, -1, "internal error"},
        {"maintenance", 503, -9798, "service is under maintenance"},
        {"not-story-user", 400, -601, "this user is not a kakaostory user"},
        {"invalid", 400, -2, "invalid parameter"},
        {"not-enabled", 403, -3, "this API is not enabled for the app"},
        {"no-permission", 403, -5, "the app has no permission for this API"},
        {"blocked", 403, -4, "the account is restricted"},
        {"scope", 403, -402, "insufficient scopes"},
        {"inner-timeout", 400, -603, "timeout while processing the request"},
        {"ended", 0, -9, "this API has been terminated"},
    };
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        if (strcmp(kind, named[i].kind) != 0)
            continue;
        int st = named[i].status;
        if (strcmp(kind, "rate-limit") == 0 || strcmp(kind, "quota") == 0)
            st = status && status != 429 ? status : ks.quota_status;
        else if (strcmp(kind, "server-error") == 0)
            st = status ? status : 503;
        else if (strcmp(kind, "ended") == 0)
            st = status ? status : ks.ended_status;
        else if (status)
            st = status;
        kakao_error(rq, st, named[i].code, named[i].msg);
        return 0;
    }
    return -1;
}

/* ---- stories ------------------------------------------------------------------- */

static void iso_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* UTF-16 code units, as Kakao's JavaScript SDK measures content; -1 when
 * it is not UTF-8. */
static long utf16_units(const char *s)
{
    long n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c & 0xC0) == 0x80)
            continue;
        if (*c >= 0xF8)
            return -1;
        n += *c >= 0xF0 ? 2 : 1;
    }
    return n;
}

static const char *permission_name(const char *p)
{
    return strcmp(p, "F") == 0 ? "FRIEND" : strcmp(p, "M") == 0 ? "ONLY_ME" : "PUBLIC";
}

static json_t *find_story(const char *id)
{
    size_t i;
    json_t *st;
    json_array_foreach(ks.stories, i, st)
    {
        if (id && strcmp(json_string_value(json_object_get(st, "id")), id) == 0)
            return st;
    }
    return NULL;
}

/* The story as the read routes show it (without our own fields). */
static json_t *story_view(const json_t *st, int detail)
{
    json_t *v = json_pack(
        "{s:O,s:O,s:O,s:O,s:O,s:O,s:i,s:i}", "id", json_object_get(st, "id"), "url",
        json_object_get(st, "url"), "content", json_object_get(st, "content"), "created_at",
        json_object_get(st, "created_at"), "media_type", json_object_get(st, "media_type"),
        "permission", json_object_get(st, "permission"), "comment_count", 0, "like_count", 0);
    if (v && detail) {
        json_object_set_new(v, "likes", json_array());
        json_object_set_new(v, "comments", json_array());
    }
    return v;
}

static int story_user(fake_req *rq)
{
    if (!ks.not_story_user)
        return 1;
    kakao_error(rq, 400, -601, "this user is not a kakaostory user");
    return 0;
}

static int posting_allowed(fake_req *rq)
{
    if (ks.posting_ended) {
        kakao_error(rq, ks.ended_status, -9, "this API has been terminated");
        return 0;
    }
    return story_user(rq);
}

/* The options every post shares; 0 when one is malformed (answered). */
static int post_options(fake_req *rq, const char **permission, int *share)
{
    const char *p = param(rq, "permission"), *e = param(rq, "enable_share");
    if (p && strcmp(p, "A") && strcmp(p, "F") && strcmp(p, "M")) {
        bad_param(rq, "permission must be one of A, F, M");
        return 0;
    }
    if (e && strcmp(e, "true") && strcmp(e, "false")) {
        bad_param(rq, "enable_share must be true or false");
        return 0;
    }
    *permission = p ? p : "A";
    *share = e && strcmp(e, "true") == 0;
    return 1;
}

static int content_ok(fake_req *rq, const char *content, int required)
{
    if (!content) {
        if (required)
            bad_param(rq, "content is required");
        return !required;
    }
    long n = utf16_units(content);
    if (n < 1 || n > CONTENT_MAX) {
        bad_param(rq, n < 0 ? "content is not UTF-8" : "content length should be 1..2048");
        return 0;
    }
    return 1;
}

static void store(fake_req *rq, const char *type, const char *content, const char *permission,
                  int share, json_t *extra)
{
    char id[64], url[128], at[32], serial[24];
    fake_new_id(rq->f, serial, sizeof serial);
    snprintf(id, sizeof id, "_HAECHI.%s", serial);
    snprintf(url, sizeof url, "https://story.kakao.com/_haechi/%s", serial);
    iso_time(rq->now_ms, at, sizeof at);
    json_t *st = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "id", id, "url", url, "content",
                           content ? content : "", "created_at", at, "media_type", type,
                           "permission", permission_name(permission), "enable_share", share,
                           "created_ms", (json_int_t)rq->now_ms);
    if (extra)
        json_object_update(st, extra);
    json_decref(extra);
    json_array_append_new(ks.stories, st);
    fake_reply_json(rq, 200, json_pack("{s:s}", "id", id), NULL);
}

/* ---- routes ------------------------------------------------------------------------- */

static void is_story_user(fake_req *rq)
{
    fake_reply_json(rq, 200, json_pack("{s:b}", "isStoryUser", !ks.not_story_user), NULL);
}

static void profile(fake_req *rq)
{
    if (!story_user(rq))
        return;
    fake_reply_json(rq, 200,
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "nickName", "서울특별시",
                              "profileImageURL", "https://k.kakaocdn.net/haechi/profile.jpg",
                              "thumbnailURL", "https://k.kakaocdn.net/haechi/thumb.jpg",
                              "bgImageURL", "https://k.kakaocdn.net/haechi/bg.jpg", "permalink",
                              "https://story.kakao.com/_haechi", "birthday", "0101", "birthdayType",
                              "SOLAR"),
                    NULL);
}

static void my_stories(fake_req *rq)
{
    form_load(rq);
    if (!story_user(rq))
        return;
    const char *last = param(rq, "last_id");
    json_t *out = json_array();
    size_t i = json_array_size(ks.stories);
    int skipping = last != NULL;
    while (i-- > 0 && (long)json_array_size(out) < ks.page) {
        json_t *st = json_array_get(ks.stories, i);
        if (skipping) {
            skipping = strcmp(json_string_value(json_object_get(st, "id")), last) != 0;
            continue;
        }
        json_array_append_new(out, story_view(st, 0));
    }
    fake_reply_json(rq, 200, out, NULL);
}

static void my_story(fake_req *rq)
{
    form_load(rq);
    if (!story_user(rq))
        return;
    const char *id = param(rq, "id");
    json_t *st = find_story(id);
    if (!id)
        bad_param(rq, "id is required");
    else if (!st)
        bad_param(rq, "no such story");
    else
        fake_reply_json(rq, 200, story_view(st, 1), NULL);
}

static void link_info(fake_req *rq)
{
    form_load(rq);
    const char *url = param(rq, "url");
    if (!story_user(rq))
        return;
    if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
        bad_param(rq, "url is required (http or https)");
        return;
    }
    const char *host = url + (url[4] == 's' ? 8 : 7);
    size_t hostlen = strcspn(host, "/?#");
    fake_reply_json(rq, 200,
                    json_pack("{s:s,s:s,s:s#,s:s,s:[s],s:s,s:s,s:s}", "url", url, "requested_url",
                              url, "host", host, (int)hostlen, "title", "서울특별시", "image",
                              "https://k.kakaocdn.net/haechi/scrap.jpg", "description",
                              "서울특별시 누리집", "section", "", "type", "website"),
                    NULL);
}

static void post_note(fake_req *rq)
{
    form_load(rq);
    const char *content = param(rq, "content"), *permission;
    int share;
    if (!posting_allowed(rq) || !content_ok(rq, content, 1) ||
        !post_options(rq, &permission, &share))
        return;
    store(rq, "NOTE", content, permission, share, NULL);
}

static void post_link(fake_req *rq)
{
    form_load(rq);
    const char *content = param(rq, "content"), *info = param(rq, "link_info");
    const char *permission;
    int share;
    if (!posting_allowed(rq) || !content_ok(rq, content, 0) ||
        !post_options(rq, &permission, &share))
        return;
    json_t *li = info ? json_loads(info, 0, NULL) : NULL;
    if (!json_is_object(li) || !json_is_string(json_object_get(li, "url"))) {
        json_decref(li);
        bad_param(rq, "link_info must be the JSON answer of linkinfo");
        return;
    }
    store(rq, "NOTE", content, permission, share, json_pack("{s:o}", "link_info", li));
}

static void post_photo(fake_req *rq)
{
    form_load(rq);
    const char *content = param(rq, "content"), *list = param(rq, "image_url_list");
    const char *permission;
    int share;
    if (!posting_allowed(rq) || !content_ok(rq, content, 0) ||
        !post_options(rq, &permission, &share))
        return;
    json_t *images = list ? json_loads(list, 0, NULL) : NULL;
    if (!json_is_array(images) || json_array_size(images) == 0) {
        json_decref(images);
        bad_param(rq, "image_url_list must be a JSON array of uploaded paths");
        return;
    }
    if (json_array_size(images) > 5) {
        json_decref(images);
        kakao_error(rq, 400, -606, "too many images");
        return;
    }
    store(rq, "PHOTO", content, permission, share, json_pack("{s:o}", "images", images));
}

static void upload_multi(fake_req *rq)
{
    if (!posting_allowed(rq))
        return;
    if (rq->body_len == 0) {
        bad_param(rq, "file is required");
        return;
    }
    char path[96];
    snprintf(path, sizeof path, "/dn/haechi/%lu/img.jpg", ++ks.serial);
    fake_reply_json(rq, 200, json_pack("[s]", path), NULL);
}

static void delete_story(fake_req *rq)
{
    form_load(rq);
    const char *id = param(rq, "id");
    size_t i;
    json_t *st;
    if (!story_user(rq))
        return;
    json_array_foreach(ks.stories, i, st)
    {
        if (id && strcmp(json_string_value(json_object_get(st, "id")), id) == 0) {
            json_array_remove(ks.stories, i);
            fake_reply_json(rq, 200, json_object(), NULL);
            return;
        }
    }
    bad_param(rq, id ? "no such story" : "id is required");
}

/* ---- the service ------------------------------------------------------------------- */

static int status_option(const char *v, int *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < 100 || n > 599)
        return 0;
    *out = (int)n;
    return 2;
}

static int ks_option(const char *name, const char *v)
{
    if (strcmp(name, "--posting-ended") == 0) {
        ks.posting_ended = 1;
        return 1;
    }
    if (strcmp(name, "--not-story-user") == 0) {
        ks.not_story_user = 1;
        return 1;
    }
    if (strcmp(name, "--posting-ended-status") == 0)
        return status_option(v, &ks.ended_status);
    if (strcmp(name, "--quota-status") == 0)
        return status_option(v, &ks.quota_status);
    if (strcmp(name, "--stories-page") == 0) {
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (!v || *end || n < 1 || n > 1000)
            return 0;
        ks.page = n;
        return 2;
    }
    return 0;
}

static void ks_reset(fake *f)
{
    (void)f;
    if (!form.tqh_last)
        TAILQ_INIT(&form);
    json_decref(ks.stories);
    ks.stories = json_array();
}

static json_t *ks_state(fake *f)
{
    (void)f;
    return json_pack("{s:O,s:b,s:b}", "stories", ks.stories, "posting_ended", ks.posting_ended,
                     "is_story_user", !ks.not_story_user);
}

static void ks_release(fake *f)
{
    (void)f;
    evhttp_clear_headers(&form);
    json_decref(ks.stories);
    ks.stories = NULL;
}

static const fake_route routes[] = {
    {"GET", "/v1/api/story/isstoryuser", is_story_user, 0},
    {"GET", "/v1/api/story/profile", profile, 0},
    {"GET", "/v1/api/story/mystories", my_stories, 0},
    {"GET", "/v1/api/story/mystory", my_story, 0},
    {"GET", "/v1/api/story/linkinfo", link_info, 0},
    {"POST", "/v1/api/story/post/note", post_note, 0},
    {"POST", "/v1/api/story/post/link", post_link, 0},
    {"POST", "/v1/api/story/post/photo", post_photo, 0},
    {"POST", "/v1/api/story/upload/multi", upload_multi, 0},
    {"DELETE", "/v1/api/story/delete/mystory", delete_story, 0},
    {0},
};

static const fake_service service = {
    .name = "kakaostory",
    .routes = routes,
    .error = ks_error,
    .option = ks_option,
    .state = ks_state,
    .reset = ks_reset,
    .release = ks_release,
};

int main(int argc, char **argv)
{
    return fake_main(argc, argv, &service);
}
