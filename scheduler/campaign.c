/*
 * campaign.c - reads and validates a campaign document.
 *
 * Two passes. The first walks the document against the shape tables below
 * (jcheck): fields, types, lengths, formats. The second checks what needs
 * several fields at once: the window, the releases inside it, the channels
 * they name, duplicates and the firing count. Both passes report every
 * problem; the model is built only when there were none.
 * The format is documented in docs/campaign-format.md and, for editors, in
 * campaigns/campaign.schema.json; keep all three in step.
 */
#include "campaign.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "isotime.h"
#include "jcheck.h"
#include "quiet.h"
#include "utf8.h"

#define MAX_RELEASES 1000

void campaign_limits_default(campaign_limits *lim)
{
    lim->max_bytes = CAMPAIGN_DEFAULT_MAX_BYTES;
    lim->max_occurrences = CAMPAIGN_DEFAULT_MAX_OCCURRENCES;
}

/* ---- field checks -------------------------------------------------------- */

/* What the first pass learnt that the second needs. */
typedef struct vstate {
    const tz *zone;
} vstate;

int campaign_is_slug(const char *s)
{
    if (!*s || *s == '-')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-') {
            if (p[1] == '-' || p[1] == '\0')
                return 0;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) {
            return 0;
        }
    }
    return 1;
}

static int check_slug(jcheck_ctx *cx, json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    if (campaign_is_slug(s))
        return 0;
    jcheck_error(cx, path, "slug",
                 "\"%s\" is not a slug: use lower-case letters a-z, digits and single "
                 "hyphens inside, e.g. \"jamsi-meomchum\"",
                 s);
    return -1;
}

static int check_url(jcheck_ctx *cx, json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    const char *host;

    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else {
        jcheck_error(cx, path, "url",
                     "\"%s\" is not a web address: it must start with "
                     "https:// or http://",
                     s);
        return -1;
    }
    if (*host == '\0' || *host == '/' || *host == '?' || *host == '#') {
        jcheck_error(cx, path, "url", "\"%s\" has no host name", s);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\' || *p == '`' ||
            *p == '{' || *p == '}' || *p == '|' || *p == '^') {
            jcheck_error(cx, path, "url",
                         "\"%s\" contains '%c', which a web address may not hold unencoded", s,
                         *p <= ' ' ? ' ' : *p);
            return -1;
        }
    }
    return 0;
}

static int check_hashtag(jcheck_ctx *cx, json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* Korean and Japanese input methods type the full-width forms. */
        if (*p == '#' || (p[0] == 0xEF && p[1] == 0xBC && p[2] == 0x83) /* U+FF03 */) {
            jcheck_error(cx, path, "hashtag", "\"%s\" must be written without '#'", s);
            return -1;
        }
        if ((*p < 0x80 && !isalnum(*p) && *p != '_') ||
            (p[0] == 0xC2 && p[1] == 0xA0) /* U+00A0 no-break space */ ||
            (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) /* U+3000 ideographic space */) {
            jcheck_error(cx, path, "hashtag",
                         "\"%s\" may hold only letters, digits and '_' (no spaces or "
                         "punctuation)",
                         s);
            return -1;
        }
    }
    return 0;
}

/* Abbreviations people write for the zones they mean. */
static const struct {
    const char *abbrev, *zone;
} zone_abbrevs[] = {
    {"KST", "Asia/Seoul"},       {"JST", "Asia/Tokyo"},          {"HKT", "Asia/Hong_Kong"},
    {"SGT", "Asia/Singapore"},   {"PST", "America/Los_Angeles"}, {"PDT", "America/Los_Angeles"},
    {"EDT", "America/New_York"}, {"CEST", "Europe/Berlin"},
};

typedef struct zone_guess {
    const char *wrong;
    char best[64];
    size_t distance;
} zone_guess;

static void consider_zone(const char *name, void *arg)
{
    zone_guess *g = arg;
    size_t d = jcheck_distance(g->wrong, name);
    if (d < g->distance) {
        g->distance = d;
        snprintf(g->best, sizeof g->best, "%s", name);
    }
}

static int check_timezone(jcheck_ctx *cx, json_t *v, const char *path)
{
    vstate *st = cx->user;
    char why[256];
    const char *name = json_string_value(v);
    const tz *zone = tz_get(name, why, sizeof why);
    if (!zone) {
        for (size_t i = 0; i < sizeof zone_abbrevs / sizeof zone_abbrevs[0]; i++) {
            if (strcasecmp(name, zone_abbrevs[i].abbrev) == 0) {
                jcheck_error(cx, path, "timezone",
                             "%s; %s is an abbreviation: write the IANA name \"%s\"", why, name,
                             zone_abbrevs[i].zone);
                return -1;
            }
        }
        zone_guess g = {.wrong = name, .distance = 4};
        tz_each_name(consider_zone, &g);
        if (g.best[0])
            jcheck_error(cx, path, "timezone", "%s; did you mean \"%s\"?", why, g.best);
        else
            jcheck_error(cx, path, "timezone", "%s; use an IANA name such as \"Asia/Seoul\"", why);
        return -1;
    }
    st->zone = zone;
    return 0;
}

static int check_datetime(jcheck_ctx *cx, json_t *v, const char *path)
{
    isotime t;
    char why[256];
    if (isotime_parse(json_string_value(v), &t, why, sizeof why) != 0) {
        jcheck_error(cx, path, "datetime", "%s", why);
        return -1;
    }
    return 0;
}

static int check_at(jcheck_ctx *cx, json_t *v, const char *path)
{
    isotime t;
    char why[256];
    const char *s = json_string_value(v);
    if (isotime_parse(s, &t, why, sizeof why) != 0) {
        jcheck_error(cx, path, "datetime", "%s", why);
        return -1;
    }
    if (t.date_only) {
        jcheck_error(cx, path, "datetime",
                     "\"%s\" has no time of day: a one-shot release needs one, e.g. "
                     "\"%sT09:00\"",
                     s, s);
        return -1;
    }
    return 0;
}

static int check_cron(jcheck_ctx *cx, json_t *v, const char *path)
{
    cron_expr e;
    char why[256];
    if (cron_parse(json_string_value(v), &e, why, sizeof why) != 0) {
        jcheck_error(cx, path, "cron", "%s", why);
        return -1;
    }
    return 0;
}

/* ---- shapes -------------------------------------------------------------- */

#define LANGS(prefix, kind_, max_, ko_required)                                                    \
    static const jfield prefix##_fields[] = {                                                      \
        {.name = "ko", .kind = kind_, .required = ko_required, .min = 1, .max = max_},             \
        {.name = "en", .kind = kind_, .min = 1, .max = max_},                                      \
        {.name = "zh", .kind = kind_, .min = 1, .max = max_},                                      \
        {.name = "ja", .kind = kind_, .min = 1, .max = max_},                                      \
        {0}};                                                                                      \
    static const jobject prefix##_shape = {.fields = prefix##_fields, .min_fields = 1}

LANGS(headline, JK_STRING, 200, 1);
LANGS(body, JK_TEXT, 5000, 1);
LANGS(override, JK_TEXT, 5000, 0);
LANGS(subject, JK_STRING, 150, 1);
LANGS(alt, JK_STRING, 200, 1);
/* 재난문자 are limited to 90 characters, spaces included (CHANNELS.md 5.2). */
LANGS(alert_text, JK_TEXT, 90, 1);

static const jfield hashtag_item = {
    .kind = JK_STRING, .min = 1, .max = 100, .check = check_hashtag};
static const jfield slug_item = {.kind = JK_STRING, .min = 1, .max = 64, .check = check_slug};

static const jfield message_fields[] = {
    {.name = "headline", .kind = JK_OBJECT, .required = 1, .object = &headline_shape},
    {.name = "body", .kind = JK_OBJECT, .required = 1, .object = &body_shape},
    {.name = "link", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {.name = "image", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {.name = "hashtags", .kind = JK_ARRAY, .max = 30, .unique = 1, .item = &hashtag_item},
    {0}};
static const jobject message_shape = {.fields = message_fields};

static const jfield channel_item = {.kind = JK_STRING, .choices = channel_names};

static int check_release(jcheck_ctx *cx, json_t *obj, const char *path)
{
    int has_at = json_object_get(obj, "at") != NULL;
    int has_cron = json_object_get(obj, "cron") != NULL;
    if (has_at == has_cron) {
        jcheck_error(cx, path, "one-of",
                     has_at ? "has both \"at\" and \"cron\": a release is either one-shot "
                              "(\"at\") or repeating (\"cron\")"
                            : "needs \"at\" (a one-shot time) or \"cron\" (a repeating "
                              "schedule)");
        return -1;
    }
    if (json_object_get(obj, "sns")) {
        int posts_sns = 0;
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(obj, "channels"), i, ch) posts_sns |=
            json_is_string(ch) && strcmp(json_string_value(ch), "sns") == 0;
        if (!posts_sns) {
            char where[160];
            snprintf(where, sizeof where, "%s/sns", path);
            jcheck_error(cx, where, "not-posted",
                         "words for sns in a release whose channels do not name \"sns\": add "
                         "it to %s/channels or remove this section",
                         path);
            return -1;
        }
    }
    return 0;
}

/* A release's own words on sns (defined with the sns section below). */
static const jobject sns_overlay_shape;

static const jfield release_fields[] = {
    {.name = "id", .kind = JK_STRING, .min = 1, .max = 64, .check = check_slug},
    {.name = "at", .kind = JK_STRING, .min = 1, .max = 64, .check = check_at},
    {.name = "cron", .kind = JK_STRING, .min = 1, .max = 256, .check = check_cron},
    {.name = "channels",
     .kind = JK_ARRAY,
     .required = 1,
     .min = 1,
     .unique = 1,
     .item = &channel_item},
    {.name = "expires_after",
     .kind = JK_STRING,
     .min = 1,
     .max = 32,
     .check = duration_check_expiry},
    {.name = "note", .kind = JK_TEXT, .max = 500},
    {.name = "sns", .kind = JK_OBJECT, .object = &sns_overlay_shape},
    {0}};
static const jobject release_shape = {.fields = release_fields, .check = check_release};
static const jfield release_item = {.kind = JK_OBJECT, .object = &release_shape};

static const jfield schedule_fields[] = {
    {.name = "timezone",
     .kind = JK_STRING,
     .required = 1,
     .min = 1,
     .max = 64,
     .check = check_timezone},
    {.name = "start",
     .kind = JK_STRING,
     .required = 1,
     .min = 1,
     .max = 64,
     .check = check_datetime},
    {.name = "end", .kind = JK_STRING, .required = 1, .min = 1, .max = 64, .check = check_datetime},
    {.name = "releases",
     .kind = JK_ARRAY,
     .required = 1,
     .min = 1,
     .max = MAX_RELEASES,
     .item = &release_item},
    {0}};
static const jobject schedule_shape = {.fields = schedule_fields};

/* Fields every channel section may carry. */
#define COMMON_CHANNEL_FIELDS                                                                      \
    {.name = "text", .kind = JK_OBJECT, .object = &override_shape},                                \
        {.name = "link", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},            \
        {.name = "expires_after",                                                                  \
         .kind = JK_STRING,                                                                        \
         .min = 1,                                                                                 \
         .max = 32,                                                                                \
         .check = duration_check_expiry},                                                          \
    {                                                                                              \
        .name = "quiet_hours", .kind = JK_ANY, .check = quiet_check                                \
    }

static const char *const network_choices[] = {"facebook", "instagram", "x", "kakaostory", NULL};
static const jfield network_item = {.kind = JK_STRING, .choices = network_choices};

/* One network's own overrides (sns_text.h composes the post from them).
 * Instagram takes an image, not a link: its captions link nowhere. */
static const jfield sns_network_fields[] = {
    {.name = "text", .kind = JK_OBJECT, .object = &override_shape},
    {.name = "link", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {0}};
static const jobject sns_network_shape = {.fields = sns_network_fields};
static const jfield instagram_fields[] = {
    {.name = "text", .kind = JK_OBJECT, .object = &override_shape},
    {.name = "image", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {0}};
static const jobject instagram_shape = {.fields = instagram_fields};

/* Overrides of a network the section does not post to would be ignored
 * without a word. */
static int check_sns(jcheck_ctx *cx, json_t *obj, const char *path)
{
    json_t *networks = json_object_get(obj, "networks");
    int bad = 0;
    for (size_t i = 0; network_choices[i]; i++) {
        const char *name = network_choices[i];
        size_t k;
        json_t *v;
        int listed = 0;
        if (!json_object_get(obj, name))
            continue;
        json_array_foreach(networks, k, v) listed |= strcmp(json_string_value(v), name) == 0;
        if (listed)
            continue;
        char where[96];
        snprintf(where, sizeof where, "%s/%s", path, name);
        jcheck_error(cx, where, "not-posted",
                     "overrides for \"%s\", which %s/networks does not name: add \"%s\" there "
                     "or remove this section",
                     name, path, name);
        bad = 1;
    }
    return bad ? -1 : 0;
}

static const jfield sns_fields[] = {
    COMMON_CHANNEL_FIELDS,
    {.name = "facebook", .kind = JK_OBJECT, .object = &sns_network_shape},
    {.name = "instagram", .kind = JK_OBJECT, .object = &instagram_shape},
    {.name = "x", .kind = JK_OBJECT, .object = &sns_network_shape},
    {.name = "kakaostory", .kind = JK_OBJECT, .object = &sns_network_shape},
    {.name = "networks",
     .kind = JK_ARRAY,
     .required = 1,
     .min = 1,
     .unique = 1,
     .item = &network_item},
    {.name = "hashtags", .kind = JK_ARRAY, .max = 30, .unique = 1, .item = &hashtag_item},
    {.name = "image", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {0}};
static const jobject sns_shape = {.fields = sns_fields, .check = check_sns};

/* What a release may say of its own sns posts: the words, link, image and
 * hashtags, for every network or one (sns_text.h composes them first). */
static const jfield sns_overlay_fields[] = {
    {.name = "text", .kind = JK_OBJECT, .object = &override_shape},
    {.name = "link", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {.name = "image", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {.name = "hashtags", .kind = JK_ARRAY, .max = 30, .unique = 1, .item = &hashtag_item},
    {.name = "facebook", .kind = JK_OBJECT, .object = &sns_network_shape},
    {.name = "instagram", .kind = JK_OBJECT, .object = &instagram_shape},
    {.name = "x", .kind = JK_OBJECT, .object = &sns_network_shape},
    {.name = "kakaostory", .kind = JK_OBJECT, .object = &sns_network_shape},
    {0}};
static const jobject sns_overlay_shape = {.fields = sns_overlay_fields, .min_fields = 1};

static const jfield button_fields[] = {
    {.name = "name", .kind = JK_STRING, .required = 1, .min = 1, .max = 14},
    {.name = "url", .kind = JK_STRING, .required = 1, .min = 1, .max = 500, .check = check_url},
    {0}};
static const jobject button_shape = {.fields = button_fields};
static const jfield button_item = {.kind = JK_OBJECT, .object = &button_shape};

static int check_kakao(jcheck_ctx *cx, json_t *obj, const char *path)
{
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (type && strcmp(type, "alimtalk") == 0 && !json_object_get(obj, "template_code")) {
        char where[256];
        snprintf(where, sizeof where, "%s/template_code", path);
        jcheck_error(cx, where, "required",
                     "required when type is \"alimtalk\": the code of the approved template");
        return -1;
    }
    return 0;
}

/* A template placeholder's or a list column's name: what audience.h's
 * header rules allow a custom column to be called. */
static int is_column_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 32)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int check_column_name(jcheck_ctx *cx, json_t *v, const char *path)
{
    if (is_column_name(json_string_value(v)))
        return 0;
    jcheck_error(cx, path, "column",
                 "\"%s\" is not a list column's name: 1-32 of a-z, 0-9 and _, as in the list's "
                 "CSV header",
                 json_string_value(v));
    return -1;
}

/* AlimTalk template parameters: {"name": "value"}, at most 40. */
#define KAKAO_VARIABLES_MAX 40
static int check_variables(jcheck_ctx *cx, json_t *obj, const char *path)
{
    const char *k;
    json_t *v;
    int bad = 0;
    if (json_object_size(obj) > KAKAO_VARIABLES_MAX) {
        jcheck_error(cx, path, "range", "%zu variables; at most %d", json_object_size(obj),
                     KAKAO_VARIABLES_MAX);
        return -1;
    }
    json_object_foreach(obj, k, v)
    {
        char where[320];
        snprintf(where, sizeof where, "%s/%s", path, k);
        if (!*k || utf8_length(k) > 40 || strchr(k, '}') || strchr(k, '{')) {
            jcheck_error(cx, where, "name",
                         "a template variable's name is 1-40 characters, without braces");
            bad = 1;
        } else if (!json_is_string(v)) {
            jcheck_error(cx, where, "type", "must be a string, not %s", jcheck_type_name(v));
            bad = 1;
        } else if (utf8_length(json_string_value(v)) > 1000) {
            jcheck_error(cx, where, "length", "%zu characters; at most 1,000",
                         utf8_length(json_string_value(v)));
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static const jfield no_fields[] = {{0}};
static const jobject variables_shape = {.fields = no_fields, .open = 1, .check = check_variables};
static const jfield column_item = {
    .kind = JK_STRING, .min = 1, .max = 32, .check = check_column_name};

static const char *const kakao_types[] = {"friendtalk", "alimtalk", NULL};
static const jfield kakao_fields[] = {
    COMMON_CHANNEL_FIELDS,
    {.name = "type", .kind = JK_STRING, .choices = kakao_types},
    {.name = "template_code", .kind = JK_STRING, .min = 1, .max = 20},
    {.name = "ad", .kind = JK_BOOL},
    {.name = "buttons", .kind = JK_ARRAY, .max = 5, .item = &button_item},
    {.name = "list", .kind = JK_STRING, .min = 1, .max = 64, .check = check_slug},
    {.name = "variables", .kind = JK_OBJECT, .object = &variables_shape},
    {.name = "member_fields", .kind = JK_ARRAY, .max = 33, .unique = 1, .item = &column_item},
    {.name = "image", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {.name = "fallback", .kind = JK_BOOL},
    {0}};
static const jobject kakao_shape = {.fields = kakao_fields, .check = check_kakao};

/* IAB fixed sizes (CHANNELS.md 7.1). */
static const char *const banner_sizes[] = {
    "970x250", "300x50",  "320x50", "728x90",   "970x90",   "300x1050",
    "160x600", "300x250", "120x60", "640x1136", "750x1334", "1080x1920",
    "336x280", "300x600", "468x60", "320x100",  NULL};
static const jfield creative_fields[] = {
    {.name = "size", .kind = JK_STRING, .required = 1, .choices = banner_sizes},
    {.name = "image", .kind = JK_STRING, .required = 1, .min = 1, .max = 2048, .check = check_url},
    {.name = "alt", .kind = JK_OBJECT, .required = 1, .object = &alt_shape},
    {.name = "link", .kind = JK_STRING, .min = 1, .max = 2048, .check = check_url},
    {0}};
static const jobject creative_shape = {.fields = creative_fields};
static const jfield creative_item = {.kind = JK_OBJECT, .object = &creative_shape};

static const jfield site_list = {
    .kind = JK_ARRAY, .min = 1, .max = 500, .unique = 1, .item = &slug_item};

static int check_sites(jcheck_ctx *cx, json_t *v, const char *path)
{
    if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0)
        return 0;
    if (json_is_array(v))
        return jcheck_value(cx, v, &site_list);
    jcheck_error(cx, path, "type", "must be \"all\" or a list of site ids, not %s%s%s%s",
                 json_is_string(v) ? "\"" : "",
                 json_is_string(v) ? json_string_value(v) : jcheck_type_name(v),
                 json_is_string(v) ? "\"" : "", "");
    return -1;
}

static const jfield banner_fields[] = {
    COMMON_CHANNEL_FIELDS,
    {.name = "creatives",
     .kind = JK_ARRAY,
     .required = 1,
     .min = 1,
     .max = 44,
     .item = &creative_item},
    {.name = "sites", .kind = JK_ANY, .check = check_sites},
    {.name = "until", .kind = JK_STRING, .min = 1, .max = 64, .check = check_datetime},
    {0}};
static const jobject banner_shape = {.fields = banner_fields};

static const jfield newsletter_fields[] = {
    COMMON_CHANNEL_FIELDS,
    {.name = "list", .kind = JK_STRING, .required = 1, .min = 1, .max = 64, .check = check_slug},
    {.name = "subject", .kind = JK_OBJECT, .required = 1, .object = &subject_shape},
    {0}};
static const jobject newsletter_shape = {.fields = newsletter_fields};

static const char *const alert_levels[] = {"safety", "emergency", "extreme", NULL};
/* OASIS CAP 1.2 <category> values. */
static const char *const cap_categories[] = {"Geo",   "Met",    "Safety", "Security",  "Rescue",
                                             "Fire",  "Health", "Env",    "Transport", "Infra",
                                             "CBRNE", "Other",  NULL};
static const jfield area_item = {.kind = JK_STRING, .min = 1, .max = 100};
static const jfield alert_fields[] = {
    {.name = "level", .kind = JK_STRING, .required = 1, .choices = alert_levels},
    {.name = "areas",
     .kind = JK_ARRAY,
     .required = 1,
     .min = 1,
     .max = 50,
     .unique = 1,
     .item = &area_item},
    {.name = "text", .kind = JK_OBJECT, .required = 1, .object = &alert_text_shape},
    {.name = "category", .kind = JK_STRING, .choices = cap_categories},
    {.name = "expires_after",
     .kind = JK_STRING,
     .min = 1,
     .max = 32,
     .check = duration_check_expiry},
    {.name = "quiet_hours", .kind = JK_ANY, .check = quiet_refuse_check},
    {0}};
static const jobject alert_shape = {.fields = alert_fields};

static const jfield campaign_fields[] = {
    {.name = "$schema", .kind = JK_STRING, .min = 1, .max = 2048},
    {.name = "id", .kind = JK_STRING, .required = 1, .min = 1, .max = 64, .check = check_slug},
    {.name = "title", .kind = JK_STRING, .required = 1, .min = 1, .max = 200},
    {.name = "owner", .kind = JK_STRING, .required = 1, .min = 1, .max = 100},
    {.name = "message", .kind = JK_OBJECT, .required = 1, .object = &message_shape},
    {.name = "schedule", .kind = JK_OBJECT, .required = 1, .object = &schedule_shape},
/* One section per channel of the channel table, shaped by NAME_shape. */
#define CHANNEL_SECTION_(id, name_, traits_)                                                       \
    {.name = #name_, .kind = JK_OBJECT, .object = &name_##_shape},
    HAECHI_CHANNELS(CHANNEL_SECTION_)
#undef CHANNEL_SECTION_
        {0}};
static const jobject campaign_shape = {.fields = campaign_fields};

/* ---- second pass: rules across fields ------------------------------------ */

typedef struct window {
    int ok;
    int64_t start, end;
} window;

static void human(const campaign *c, int64_t t, char *buf, size_t len)
{
    isotime_format_human(t, c->zone, buf, len);
}

/* An end given as a bare date means the whole of that day. */
static int64_t window_end(const isotime *t, const tz *zone)
{
    if (!t->date_only)
        return isotime_instant(t, zone, NULL);
    isotime next = *t;
    next.wall += 86400;
    return isotime_instant(&next, zone, NULL) - 1;
}

static window check_window(campaign *c, json_t *sched, diag_list *errs)
{
    window w = {0};
    isotime s, e;
    char why[256];
    const char *start = json_string_value(json_object_get(sched, "start"));
    const char *end = json_string_value(json_object_get(sched, "end"));

    if (!start || !end || isotime_parse(start, &s, why, sizeof why) != 0 ||
        isotime_parse(end, &e, why, sizeof why) != 0)
        return w;
    w.start = isotime_instant(&s, c->zone, NULL);
    w.end = window_end(&e, c->zone);
    /* The scheduler reads a negative due time as "nothing armed", so a
     * firing before the epoch would never be sent: refuse it here, where
     * the author sees why. */
    if (w.start < 0) {
        char a[64];
        human(c, w.start, a, sizeof a);
        diag_add(errs, "/schedule/start", "range",
                 "the window starts at %s, before 1970-01-01T00:00:00Z, the earliest time haechi "
                 "schedules",
                 a);
        return w;
    }
    if (w.end < w.start) {
        char a[64], b[64];
        human(c, w.end, a, sizeof a);
        human(c, w.start, b, sizeof b);
        diag_add(errs, "/schedule/end", "order", "the window ends at %s, before it starts at %s", a,
                 b);
        return w;
    }
    w.ok = 1;
    return w;
}

/* Reads release I of the document into R; 0 when every part of it parsed
 * (the first pass has already reported any part that did not). */
static int read_release(json_t *item, size_t i, const campaign *c, release *r)
{
    char why[256];
    json_t *id = json_object_get(item, "id");
    json_t *at = json_object_get(item, "at");
    json_t *cron = json_object_get(item, "cron");
    json_t *channels = json_object_get(item, "channels");
    json_t *expiry = json_object_get(item, "expires_after");
    size_t k;
    json_t *ch;

    memset(r, 0, sizeof *r);
    if ((id && !json_is_string(id)) || (at && !json_is_string(at)) ||
        (cron && !json_is_string(cron)) || !json_is_array(channels) ||
        (expiry && !json_is_string(expiry)) || (!at == !cron))
        return -1;
    if (id)
        snprintf(r->id, sizeof r->id, "%s", json_string_value(id));
    else
        snprintf(r->id, sizeof r->id, "r%zu", i + 1);
    if (at) {
        isotime t;
        if (isotime_parse(json_string_value(at), &t, why, sizeof why) != 0 || t.date_only)
            return -1;
        r->kind = RELEASE_AT;
        r->at = isotime_instant(&t, c->zone, NULL);
    } else {
        if (cron_parse(json_string_value(cron), &r->cron, why, sizeof why) != 0)
            return -1;
        r->kind = RELEASE_CRON;
    }
    json_array_foreach(channels, k, ch)
    {
        int id_ = json_is_string(ch) ? channel_from_name(json_string_value(ch)) : -1;
        if (id_ < 0)
            return -1;
        r->channels |= 1u << id_;
    }
    if (expiry &&
        duration_parse(json_string_value(expiry), &r->expires_after, why, sizeof why) != 0)
        return -1;
    return 0;
}

static void check_channels_configured(const campaign *c, json_t *item, size_t i, diag_list *errs)
{
    json_t *channels = json_object_get(item, "channels");
    size_t k;
    json_t *ch;
    json_array_foreach(channels, k, ch)
    {
        int id = channel_from_name(json_string_value(ch));
        if (c->channels & (1u << id))
            continue;
        char path[96];
        snprintf(path, sizeof path, "/schedule/releases/%zu/channels/%zu", i, k);
        diag_add(errs, path, "channel-not-configured",
                 "\"%s\" is not configured: add a \"%s\" section to the campaign or remove "
                 "it from this release",
                 channel_names[id], channel_names[id]);
    }
}

/* Every firing of every release, to find two releases that would send the
 * same channel at the same instant. */
typedef struct firing {
    int64_t at;
    size_t release;
} firing;

typedef struct firings {
    firing *items;
    size_t len, cap;
    int overflow; /* over the limit: the count is reported, not the overlaps */
} firings;

static void firings_add(firings *f, int64_t at, size_t rel, size_t limit)
{
    if (f->overflow)
        return;
    if (f->len > limit) {
        f->overflow = 1;
        return;
    }
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        firing *items = realloc(f->items, cap * sizeof *items);
        if (!items) {
            f->overflow = 1;
            return;
        }
        f->items = items;
        f->cap = cap;
    }
    f->items[f->len++] = (firing){at, rel};
}

/* Counts the firings of release I inside W (up to limit + 1), notes the
 * first and last, and adds each to ALL. */
static size_t count_firings(const campaign *c, const release *rs, size_t i, const window *w,
                            size_t limit, int64_t *first, int64_t *last, firings *all)
{
    const release *r = &rs[i];
    if (r->kind == RELEASE_AT) {
        if (r->at < w->start || r->at > w->end)
            return 0;
        *first = *last = r->at;
        firings_add(all, r->at, i, limit);
        return 1;
    }
    size_t n = 0;
    int64_t t = w->start - 1, next;
    while (n <= limit && cron_next(&r->cron, c->zone, t, w->end, &next) == 0) {
        if (n == 0)
            *first = next;
        *last = next;
        firings_add(all, next, i, limit);
        t = next;
        n++;
    }
    return n;
}

static int by_instant(const void *a, const void *b)
{
    const firing *fa = a, *fb = b;
    if (fa->at != fb->at)
        return fa->at < fb->at ? -1 : 1;
    return fa->release < fb->release ? -1 : fa->release > fb->release;
}

/*
 * Two releases that fire at the same instant on a shared channel would send
 * that channel the same message twice: whatever their schedules look like
 * (an `at` on a cron's firing, "0 9 * * *" beside "0 9 * * 0-6"). Reported
 * once per later release, at its first such instant.
 */
static void check_overlaps(const campaign *c, const release *rs, size_t n, firings *all,
                           diag_list *errs)
{
    unsigned char *reported = calloc(n ? n : 1, 1);
    if (!reported || all->overflow) {
        free(reported);
        return;
    }
    /* With no firing the array is NULL, which qsort may not be given. */
    if (all->len > 1)
        qsort(all->items, all->len, sizeof *all->items, by_instant);
    for (size_t a = 0; a < all->len; a++) {
        for (size_t b = a + 1; b < all->len && all->items[b].at == all->items[a].at; b++) {
            size_t early = all->items[a].release, late = all->items[b].release;
            unsigned shared = rs[early].channels & rs[late].channels;
            if (early == late || !shared || reported[late])
                continue;
            char path[64], when[64], names[128];
            snprintf(path, sizeof path, "/schedule/releases/%zu", late);
            human(c, all->items[a].at, when, sizeof when);
            campaign_channel_list(shared, names, sizeof names);
            diag_add(errs, path, "duplicate",
                     "fires at %s on %s, as /schedule/releases/%zu does: that channel would "
                     "get the same message twice",
                     when, names, early);
            reported[late] = 1;
        }
    }
    free(reported);
}

static void check_releases(campaign *c, json_t *list, const window *w, const campaign_limits *lim,
                           diag_list *errs)
{
    size_t n = json_array_size(list);
    release *rs = calloc(n ? n : 1, sizeof *rs);
    unsigned char *usable = calloc(n ? n : 1, 1);
    size_t total = 0;
    int have_any = 0, capped = 0;
    firings all = {0};

    if (!rs || !usable) {
        diag_add(errs, "/schedule/releases", "internal", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(list, i);
        char path[64];
        snprintf(path, sizeof path, "/schedule/releases/%zu", i);
        if (!json_is_object(item) || read_release(item, i, c, &rs[i]) != 0)
            continue;
        usable[i] = 1;
        check_channels_configured(c, item, i, errs);

        for (size_t j = 0; j < i; j++) {
            if (!usable[j])
                continue;
            if (strcmp(rs[i].id, rs[j].id) == 0) {
                char idpath[80];
                snprintf(idpath, sizeof idpath, "%s%s", path,
                         json_object_get(item, "id") ? "/id" : "");
                diag_add(errs, idpath, "duplicate",
                         "release id \"%s\" is already used by /schedule/releases/%zu%s", rs[i].id,
                         j,
                         json_object_get(item, "id") ? ""
                                                     : " (releases without an id are "
                                                       "named r1, r2, ... by position)");
            }
        }
        if (!w->ok)
            continue;

        int64_t first = 0, last = 0;
        rs[i].occurrences = count_firings(c, rs, i, w, lim->max_occurrences, &first, &last, &all);
        if (rs[i].occurrences > lim->max_occurrences)
            capped = 1;
        if (rs[i].occurrences == 0) {
            char a[64], b[64], sub[96];
            human(c, w->start, a, sizeof a);
            human(c, w->end, b, sizeof b);
            if (rs[i].kind == RELEASE_AT) {
                char t[64];
                human(c, rs[i].at, t, sizeof t);
                snprintf(sub, sizeof sub, "%s/at", path);
                diag_add(errs, sub, "window", "%s is outside the campaign window %s to %s", t, a,
                         b);
            } else {
                snprintf(sub, sizeof sub, "%s/cron", path);
                diag_add(errs, sub, "window", "never fires inside the campaign window %s to %s", a,
                         b);
            }
            continue;
        }
        total += rs[i].occurrences;
        if (!have_any || first < c->first)
            c->first = first;
        if (!have_any || last > c->last)
            c->last = last;
        have_any = 1;
    }
    if (w->ok)
        check_overlaps(c, rs, n, &all, errs);
    if (w->ok && total > lim->max_occurrences)
        diag_add(errs, "/schedule/releases", "too-many-firings",
                 "the releases fire %s%zu times in the window, over the limit of %zu "
                 "(limits.max_occurrences in the config)",
                 capped ? "more than " : "", capped ? lim->max_occurrences : total,
                 lim->max_occurrences);
    c->occurrences = total;
    if (!diag_any(errs)) {
        c->releases = rs;
        c->nreleases = n;
        rs = NULL;
    }
done:
    free(all.items);
    free(rs);
    free(usable);
}

static void check_banner_until(campaign *c, json_t *banner, const window *w, diag_list *errs)
{
    json_t *until = json_object_get(banner, "until");
    isotime t;
    char why[256];

    if (!json_is_string(until) || !w->ok ||
        isotime_parse(json_string_value(until), &t, why, sizeof why) != 0)
        return;
    int64_t at = window_end(&t, c->zone);
    char u[64], a[64], b[64];
    human(c, at, u, sizeof u);
    human(c, w->start, a, sizeof a);
    human(c, w->end, b, sizeof b);
    if (at <= w->start)
        diag_add(errs, "/banner/until", "window",
                 "%s is not after the campaign window opens at %s: the banners would "
                 "never be shown",
                 u, a);
    else if (at > w->end)
        diag_add(errs, "/banner/until", "window", "%s is outside the campaign window %s to %s", u,
                 a, b);
}

static void warn_unused_channels(const campaign *c, diag_list *warns)
{
    unsigned used = 0;
    for (size_t i = 0; i < c->nreleases; i++)
        used |= c->releases[i].channels;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        if ((c->channels & (1u << ch)) && !(used & (1u << ch))) {
            char path[32];
            snprintf(path, sizeof path, "/%s", channel_names[ch]);
            diag_add(warns, path, "unused-channel",
                     "is configured but no release names \"%s\"; nothing will be sent on it",
                     channel_names[ch]);
        }
    }
}

static void check_across_fields(campaign *c, const campaign_limits *lim, diag_list *errs)
{
    json_t *sched = json_object_get(c->doc, "schedule");
    window w = {0};

    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (json_object_get(c->doc, channel_names[ch]))
            c->channels |= 1u << ch;
    if (c->zone)
        w = check_window(c, sched, errs);
    if (w.ok) {
        c->start = w.start;
        c->end = w.end;
        check_banner_until(c, json_object_get(c->doc, "banner"), &w, errs);
    }
    if (c->zone)
        check_releases(c, json_object_get(sched, "releases"), &w, lim, errs);
}

/* ---- entry points --------------------------------------------------------- */

static json_t *load_json(const char *buf, size_t len, const campaign_limits *lim, diag_list *errs)
{
    size_t bad, skip = 0;
    json_error_t jerr;

    if (len > lim->max_bytes) {
        diag_add(errs, "", "size",
                 "the document is %zu bytes, over the limit of %zu bytes "
                 "(limits.max_campaign_bytes in the config)",
                 len, lim->max_bytes);
        return NULL;
    }
    /* Windows editors may start a UTF-8 file with a byte order mark; RFC 8259
     * section 8.1 lets a parser ignore it, and the document is stored
     * re-serialised, so it goes no further. Lines and columns below are
     * counted without it, as editors show them. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    if (!utf8_valid(buf + skip, len - skip, &bad)) {
        int line, col;
        utf8_position(buf + skip, bad, &line, &col);
        diag_add(errs, "", "utf8",
                 "invalid UTF-8 at line %d, column %d (byte offset %zu, byte 0x%02X); save "
                 "the file as UTF-8",
                 line, col, bad + skip, (unsigned char)buf[bad + skip]);
        return NULL;
    }
    size_t i = skip;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    if (i == len) {
        diag_add(errs, "", "json",
                 "the document is empty: a campaign is one JSON object, "
                 "{ ... }");
        return NULL;
    }
    json_t *doc = json_loadb(buf + skip, len - skip, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        diag_add(errs, "", "json", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return NULL;
    }
    return doc;
}

/* The two passes over C->doc; frees C and returns NULL when invalid. */
static campaign *validate(campaign *c, const campaign_limits *lim, diag_list *errs,
                          diag_list *warns)
{
    campaign_limits defaults;
    vstate st = {0};
    jcheck_ctx cx;

    if (!lim) {
        campaign_limits_default(&defaults);
        lim = &defaults;
    }
    jcheck_init(&cx, errs, &st);
    jcheck_object(&cx, c->doc, &campaign_shape);
    jcheck_release(&cx);
    if (!json_is_object(c->doc))
        goto invalid;

    c->zone = st.zone;
    check_across_fields(c, lim, errs);
    if (diag_any(errs))
        goto invalid;

    snprintf(c->id, sizeof c->id, "%s", json_string_value(json_object_get(c->doc, "id")));
    if (warns)
        warn_unused_channels(c, warns);
    return c;

invalid:
    campaign_free(c);
    return NULL;
}

campaign *campaign_parse(const char *buf, size_t len, const campaign_limits *lim, diag_list *errs,
                         diag_list *warns)
{
    campaign_limits defaults;
    if (!lim) {
        campaign_limits_default(&defaults);
        lim = &defaults;
    }
    campaign *c = calloc(1, sizeof *c);
    if (!c) {
        diag_add(errs, "", "internal", "out of memory");
        return NULL;
    }
    c->doc = load_json(buf, len, lim, errs);
    if (!c->doc) {
        campaign_free(c);
        return NULL;
    }
    return validate(c, lim, errs, warns);
}

campaign *campaign_from_json(json_t *doc, diag_list *errs)
{
    /* Limits were the submission's business; the firings are counted all. */
    campaign_limits lim = {.max_bytes = SIZE_MAX, .max_occurrences = SIZE_MAX / 4};
    campaign *c = calloc(1, sizeof *c);
    if (!c) {
        diag_add(errs, "", "internal", "out of memory");
        return NULL;
    }
    c->doc = json_incref(doc);
    return validate(c, &lim, errs, NULL);
}

void campaign_free(campaign *c)
{
    if (!c)
        return;
    json_decref(c->doc);
    free(c->releases);
    free(c);
}

size_t campaign_next_firings(const campaign *c, int64_t after, campaign_firing *out, size_t max)
{
    size_t n = 0;
    /* Merge the releases' own sequences: each step takes the earliest
     * pending firing of any release. Small MAX only (API answers). */
    int64_t cursor = after;
    while (n < max) {
        int64_t best = 0;
        size_t best_r = 0;
        int found = 0;
        for (size_t r = 0; r < c->nreleases; r++) {
            const release *rel = &c->releases[r];
            int64_t t;
            if (rel->kind == RELEASE_AT) {
                if (rel->at <= cursor || rel->at < c->start || rel->at > c->end)
                    continue;
                t = rel->at;
            } else {
                int64_t from = cursor < c->start - 1 ? c->start - 1 : cursor;
                if (cron_next(&rel->cron, c->zone, from, c->end, &t) != 0)
                    continue;
            }
            if (!found || t < best) {
                best = t;
                best_r = r;
                found = 1;
            }
        }
        if (!found)
            break;
        /* Every release firing at this same instant, in release order. */
        for (size_t r = best_r; r < c->nreleases && n < max; r++) {
            const release *rel = &c->releases[r];
            int64_t t;
            int fires;
            if (rel->kind == RELEASE_AT)
                fires = rel->at == best;
            else {
                int64_t from = cursor < c->start - 1 ? c->start - 1 : cursor;
                fires = cron_next(&rel->cron, c->zone, from, c->end, &t) == 0 && t == best;
            }
            if (fires) {
                out[n].at = best;
                out[n].release = r;
                n++;
            }
        }
        cursor = best;
    }
    return n;
}

void campaign_channel_list(unsigned channels, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int ch = 0; ch < CHANNEL_COUNT && used < len; ch++) {
        if (!(channels & (1u << ch)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", channel_names[ch]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}
