/*
 * kakao_text.c - the kakao section as a dealer request, and its checks
 * (kakao_text.h). Limits: NHN Cloud FriendTalk v2.3 (content at most
 * 1,000 characters, 400 with an image; at most 5 buttons, names at most
 * 14 characters) and AlimTalk v2.2 (template text at most 1,000; ≤1,000
 * recipients a request), CHANNELS.md 4.1-4.2.
 */
#include "kakao_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* ---- reading the section -------------------------------------------------------- */

void kakao_message_read(const json_t *campaign, const json_t *section, kakao_message *m)
{
    memset(m, 0, sizeof *m);
    m->campaign = campaign;
    m->section = section;
    const char *type = json_string_value(json_object_get(section, "type"));
    m->alimtalk = type && strcmp(type, "alimtalk") == 0;
    m->ad = json_is_true(json_object_get(section, "ad"));
    m->fallback = json_is_true(json_object_get(section, "fallback"));
    m->template_code = json_string_value(json_object_get(section, "template_code"));
    m->image = json_string_value(json_object_get(section, "image"));
    m->list = json_string_value(json_object_get(section, "list"));
    m->buttons = json_object_get(section, "buttons");
    m->variables = json_object_get(section, "variables");
    m->member_fields = json_object_get(section, "member_fields");
}

const char *kakao_text(const kakao_message *m, const char *lang)
{
    const char *own = json_string_value(json_object_get(json_object_get(m->section, "text"), lang));
    if (own)
        return own;
    const json_t *body = json_object_get(json_object_get(m->campaign, "message"), "body");
    return json_string_value(json_object_get(body, lang));
}

const char *kakao_lang_for(const kakao_message *m, const char *lang)
{
    if (!m->alimtalk && lang && *lang && kakao_text(m, lang))
        return lang;
    return "ko";
}

const char *kakao_route(const kakao_message *m)
{
    return m->alimtalk ? "/alimtalk/v2.2/appkeys/" : "/friendtalk/v2.3/appkeys/";
}

/* ---- placeholders ---------------------------------------------------------------- */

int kakao_placeholders(const char *text, int (*fn)(const char *name, size_t len, void *arg),
                       void *arg)
{
    for (const char *p = text ? strstr(text, "#{") : NULL; p; p = strstr(p, "#{")) {
        const char *end = strchr(p + 2, '}');
        if (!end)
            return 0;
        int rc = fn(p + 2, (size_t)(end - p - 2), arg);
        if (rc)
            return rc;
        p = end + 1;
    }
    return 0;
}

static int array_index(const json_t *a, const char *name, size_t len)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)a, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strlen(s) == len && memcmp(s, name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* The value of placeholder NAME for MEMBER: the section's variables first,
 * then the member's column named in member_fields. NULL: none. */
static const char *placeholder_value(const kakao_message *m, const json_t *member,
                                     const json_t *fields, const char *name, size_t len,
                                     char *example, size_t exlen)
{
    char key[64];
    if (len >= sizeof key)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    const char *v = json_string_value(json_object_get(m->variables, key));
    if (v)
        return v;
    if (array_index(m->member_fields, name, len) < 0)
        return NULL;
    if (!member) {
        snprintf(example, exlen, "(%s of each member)", key);
        return example;
    }
    if (strcmp(key, "name") == 0)
        return json_string_value(json_array_get(member, 1));
    int i = array_index(fields, name, len);
    return i >= 0 ? json_string_value(json_array_get(member, (size_t)i + 3)) : NULL;
}

typedef struct filling {
    const kakao_message *m;
    const json_t *member, *fields;
    json_t *params; /* templateParameter */
    char *out;      /* the text with placeholders filled (resend content) */
    size_t used, cap;
    char missing[64];
} filling;

static int fill_one(const char *name, size_t len, void *arg)
{
    filling *f = arg;
    char example[96];
    const char *v =
        placeholder_value(f->m, f->member, f->fields, name, len, example, sizeof example);
    if (!v) {
        snprintf(f->missing, sizeof f->missing, "%.*s", (int)(len < 60 ? len : 60), name);
        return 1;
    }
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)len, name);
    json_object_set_new(f->params, key, json_string(v));
    return 0;
}

/* TEXT with every #{name} replaced by its value in PARAMS: new string. */
static char *filled_text(const char *text, const json_t *params)
{
    size_t cap = strlen(text) + 1, used = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v) cap += json_string_length(v);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        const char *end = strncmp(p, "#{", 2) == 0 ? strchr(p + 2, '}') : NULL;
        if (end) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(end - p - 2 < 63 ? end - p - 2 : 63), p + 2);
            const char *val = json_string_value(json_object_get(params, key));
            if (val) {
                size_t n = strlen(val);
                if (used + n < cap) {
                    memcpy(out + used, val, n);
                    used += n;
                }
                p = end + 1;
                continue;
            }
        }
        if (used + 1 < cap)
            out[used++] = *p;
        p++;
    }
    out[used] = '\0';
    return out;
}

/* ---- the request ------------------------------------------------------------------- */

static json_t *buttons_json(const kakao_message *m)
{
    json_t *list = json_array();
    size_t i;
    json_t *b;
    json_array_foreach((json_t *)m->buttons, i, b)
    {
        const char *url = json_string_value(json_object_get(b, "url"));
        json_array_append_new(list, json_pack("{s:I,s:s,s:s,s:s,s:s}", "ordering",
                                              (json_int_t)i + 1, "type", "WL", "name",
                                              json_string_value(json_object_get(b, "name")),
                                              "linkMo", url, "linkPc", url));
    }
    return list;
}

/* The first N characters (code points) of valid UTF-8 TEXT, in OUT. */
static const char *first_chars(const char *text, size_t n, char *out, size_t len)
{
    size_t bytes = 0, chars = 0;
    while (text[bytes] && bytes < len - 1) {
        if (((unsigned char)text[bytes] & 0xC0) != 0x80 && chars++ == n)
            break;
        bytes++;
    }
    /* Never end inside a character when OUT was the limit. */
    while (bytes && ((unsigned char)text[bytes] & 0xC0) == 0x80)
        bytes--;
    memcpy(out, text, bytes);
    out[bytes] = '\0';
    return out;
}

static json_t *resend_json(const kakao_message *m, const kakao_resend *rs, const char *lang,
                           const char *text, char *err, size_t errlen)
{
    if (m->ad && (!rs->unsubscribe_no || !*rs->unsubscribe_no)) {
        snprintf(err, errlen,
                 "resend.unsubscribe_no: an ad's SMS/LMS fallback needs the 080 opt-out number");
        return NULL;
    }
    size_t len = strlen(text) + strlen(KAKAO_AD_MARK) + strlen(KAKAO_AD_OPTOUT) +
                 (rs->unsubscribe_no ? strlen(rs->unsubscribe_no) : 0) + 1;
    char *content = malloc(len);
    if (!content) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The SMS ad format of 정보통신망법 §50: the mark first, the free
     * opt-out number last (CHANNELS.md 4.2, 4.4). */
    if (m->ad)
        snprintf(content, len, "%s%s%s%s", KAKAO_AD_MARK, text, KAKAO_AD_OPTOUT,
                 rs->unsubscribe_no);
    else
        snprintf(content, len, "%s", text);
    json_t *r = json_pack("{s:b,s:s,s:s,s:s}", "isResend", 1, "resendType", rs->type,
                          "resendContent", content, "resendSendNo", rs->send_no ? rs->send_no : "");
    free(content);
    const json_t *headline = json_object_get(json_object_get(m->campaign, "message"), "headline");
    const char *title = json_string_value(json_object_get(headline, lang));
    if (r && strcmp(rs->type, "LMS") == 0 && title) {
        char cut[KAKAO_RESEND_TITLE_MAX * 4 + 1];
        json_object_set_new(
            r, "resendTitle",
            json_string(first_chars(title, KAKAO_RESEND_TITLE_MAX, cut, sizeof cut)));
    }
    if (r && m->ad)
        json_object_set_new(r, "resendUnsubscribeNo", json_string(rs->unsubscribe_no));
    return r;
}

json_t *kakao_recipient(const kakao_message *m, const kakao_resend *rs, const char *number,
                        const json_t *member, const json_t *fields, long long position, char *err,
                        size_t errlen)
{
    const char *lang = kakao_lang_for(m, json_string_value(json_array_get(member, 2)));
    const char *text = kakao_text(m, lang);
    char key[32];
    if (!text) {
        snprintf(err, errlen, "the campaign has no text in %s", lang);
        return NULL;
    }
    snprintf(key, sizeof key, "%lld", position);
    json_t *r = json_pack("{s:s}", "recipientNo", number);
    char *resend_text = NULL;
    if (!r)
        goto oom;
    if (m->alimtalk) {
        filling f = {.m = m, .member = member, .fields = fields, .params = json_object()};
        if (kakao_placeholders(text, fill_one, &f) != 0) {
            snprintf(err, errlen,
                     "#{%s} has no value: add it to kakao.variables or name a list column in "
                     "kakao.member_fields",
                     f.missing);
            json_decref(f.params);
            json_decref(r);
            return NULL;
        }
        resend_text = filled_text(text, f.params);
        json_object_set_new(r, "templateParameter", f.params);
    } else {
        json_object_set_new(r, "content", json_string(text));
        if (m->image)
            json_object_set_new(r, "imageUrl", json_string(m->image));
    }
    if (json_array_size(m->buttons))
        json_object_set_new(r, "buttons", buttons_json(m));
    if (m->fallback && rs && rs->type) {
        json_t *re = resend_json(m, rs, lang, resend_text ? resend_text : text, err, errlen);
        if (!re) {
            free(resend_text);
            json_decref(r);
            return NULL;
        }
        json_object_set_new(r, "resendParameter", re);
    }
    free(resend_text);
    json_object_set_new(r, "recipientGroupingKey", json_string(key));
    return r;
oom:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

json_t *kakao_request(const kakao_message *m, const char *sender_key, const char *grouping_key,
                      json_t *recipients)
{
    char group[101];
    snprintf(group, sizeof group, "%s", grouping_key ? grouping_key : "");
    json_t *body = json_pack("{s:s,s:s}", "senderKey", sender_key ? sender_key : "",
                             "senderGroupingKey", group);
    if (!body) {
        json_decref(recipients);
        return NULL;
    }
    if (m->alimtalk)
        json_object_set_new(body, "templateCode",
                            json_string(m->template_code ? m->template_code : ""));
    else /* Explicit: the dealer takes an absent isAd as true. */
        json_object_set_new(body, "isAd", json_boolean(m->ad));
    json_object_set_new(body, "recipientList", recipients);
    return body;
}

/* ---- validate -------------------------------------------------------------------------- */

typedef struct checking {
    const kakao_message *m;
    const char *path;
    diag_list *errs;
    int from_variables, from_members, missing;
} checking;

static int check_one(const char *name, size_t len, void *arg)
{
    checking *c = arg;
    char key[64], where[256];
    snprintf(key, sizeof key, "%.*s", (int)(len < 60 ? len : 60), name);
    if (json_object_get(c->m->variables, key)) {
        c->from_variables++;
        return 0;
    }
    if (array_index(c->m->member_fields, name, len) >= 0) {
        c->from_members++;
        return 0;
    }
    c->missing++;
    snprintf(where, sizeof where, "%s/variables", c->path);
    diag_add(c->errs, where, "variable",
             "#{%s} in the template text has no value: add \"%s\" to variables, or name a list "
             "column \"%s\" in member_fields",
             key, key, key);
    return 0;
}

/* Where the text in LANG comes from, for messages. */
static void text_path(const kakao_message *m, const char *path, const char *lang, char *out,
                      size_t len)
{
    if (json_object_get(json_object_get(m->section, "text"), lang))
        snprintf(out, len, "%s/text/%s", path, lang);
    else
        snprintf(out, len, "/message/body/%s", lang);
}

static void check_ad_mark(const kakao_message *m, const char *where, const char *text,
                          diag_list *errs)
{
    if (strncmp(text, KAKAO_AD_MARK, strlen(KAKAO_AD_MARK)) != 0)
        return;
    if (m->ad)
        diag_add(errs, where, "ad-mark",
                 "starts with \"(광고)\": with ad true Kakao adds the mark itself; remove it from "
                 "the text");
    else
        diag_add(errs, where, "ad-mark",
                 "starts with \"(광고)\" but ad is false: a message that is not advertising must "
                 "not claim to be one; remove the mark, or set ad true and remove it");
}

static void check_buttons(const kakao_message *m, const char *path, diag_list *errs)
{
    char where[256], a[16], b[16];
    size_t n = json_array_size(m->buttons), i;
    json_t *btn;
    if (n > KAKAO_BUTTONS_MAX) {
        snprintf(where, sizeof where, "%s/buttons", path);
        diag_add(errs, where, "buttons", "%zu buttons; Kakao takes at most %d", n,
                 KAKAO_BUTTONS_MAX);
    }
    json_array_foreach((json_t *)m->buttons, i, btn)
    {
        const char *name = json_string_value(json_object_get(btn, "name"));
        size_t len = name ? utf8_length(name) : 0;
        if (len <= KAKAO_BUTTON_NAME_MAX)
            continue;
        snprintf(where, sizeof where, "%s/buttons/%zu/name", path, i);
        diag_thousands((long long)len, a, sizeof a);
        diag_thousands(KAKAO_BUTTON_NAME_MAX, b, sizeof b);
        diag_add(errs, where, "length", "%s characters; a button's name takes at most %s", a, b);
    }
}

/* "99/1,000 characters (ko), 120/1,000 (en)" of the languages checked. */
static void check_lengths(const kakao_message *m, const char *path, diag_list *errs, char *line,
                          size_t linelen)
{
    const json_t *body = json_object_get(json_object_get(m->campaign, "message"), "body");
    const json_t *own = json_object_get(m->section, "text");
    long long limit = m->alimtalk ? KAKAO_TEXT_MAX
                      : m->image  ? KAKAO_TEXT_IMAGE_MAX
                                  : KAKAO_TEXT_MAX;
    char lim[16];
    size_t used = 0;
    diag_thousands(limit, lim, sizeof lim);
    line[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        const json_t *langs = pass == 0 ? body : own;
        const char *lang;
        json_t *v;
        json_object_foreach((json_t *)langs, lang, v)
        {
            if (pass == 1 && json_object_get(body, lang))
                continue; /* counted with the body */
            if (m->alimtalk && strcmp(lang, "ko") != 0)
                continue; /* one registered template: the ko text */
            const char *text = kakao_text(m, lang);
            char where[256], n[16];
            if (!text)
                continue;
            text_path(m, path, lang, where, sizeof where);
            check_ad_mark(m, where, text, errs);
            long long len = (long long)utf8_length(text);
            diag_thousands(len, n, sizeof n);
            if (len > limit) {
                if (m->alimtalk)
                    diag_add(errs, where, "length",
                             "%s characters; an AlimTalk template text takes at most %s", n, lim);
                else if (m->image)
                    diag_add(errs, where, "length",
                             "%s characters; a FriendTalk with an image takes at most %s", n, lim);
                else
                    diag_add(errs, where, "length",
                             "%s characters; a FriendTalk takes at most %s (400 with an image)", n,
                             lim);
            }
            int k = snprintf(line + used, linelen - used,
                             used ? ", %s/%s (%s)" : "%s/%s characters (%s)", n, lim, lang);
            if (k > 0 && (size_t)k < linelen - used)
                used += (size_t)k;
        }
    }
}

void kakao_validate(const json_t *section, const json_t *campaign, const char *path,
                    diag_list *errs, diag_list *notes)
{
    kakao_message m;
    char where[256], lengths[256] = "", extra[160] = "";
    kakao_message_read(campaign, section, &m);
    if (!m.list) {
        snprintf(where, sizeof where, "%s/list", path);
        diag_add(errs, where, "required",
                 "required: the audience list to send to (`haechi audience import LIST FILE.csv` "
                 "makes one)");
    }
    if (m.alimtalk && m.ad) {
        snprintf(where, sizeof where, "%s/ad", path);
        diag_add(errs, where, "alimtalk-ad",
                 "AlimTalk carries information only: an advertising message must go as type "
                 "friendtalk");
    }
    if (m.alimtalk && m.image) {
        snprintf(where, sizeof where, "%s/image", path);
        diag_add(errs, where, "alimtalk-image",
                 "an image goes with a FriendTalk only; an AlimTalk shows its registered template");
    }
    if (json_object_size(m.variables) > KAKAO_VARIABLES_MAX) {
        snprintf(where, sizeof where, "%s/variables", path);
        diag_add(errs, where, "range", "%zu variables; at most %d", json_object_size(m.variables),
                 KAKAO_VARIABLES_MAX);
    }
    check_lengths(&m, path, errs, lengths, sizeof lengths);
    check_buttons(&m, path, errs);
    if (m.alimtalk) {
        checking c = {.m = &m, .path = path, .errs = errs};
        kakao_placeholders(kakao_text(&m, "ko"), check_one, &c);
        snprintf(extra, sizeof extra,
                 ", %d placeholders (%d from variables, %d from member_fields)",
                 c.from_variables + c.from_members + c.missing, c.from_variables, c.from_members);
    }
    if (m.alimtalk)
        diag_add(notes, path, "kakao", "alimtalk %s: %s%s, %zu/%d buttons, list %s",
                 m.template_code ? m.template_code : "(no template_code)",
                 lengths[0] ? lengths : "no text", extra, json_array_size(m.buttons),
                 KAKAO_BUTTONS_MAX, m.list ? m.list : "(none)");
    else
        diag_add(notes, path, "kakao", "friendtalk %s, %zu/%d buttons, list %s",
                 lengths[0] ? lengths : "no text", json_array_size(m.buttons), KAKAO_BUTTONS_MAX,
                 m.list ? m.list : "(none)");
}
