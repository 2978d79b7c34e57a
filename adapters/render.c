/*
 * render.c - applies a channel section's overrides to the campaign message.
 */
#include "render.h"

#include <stdio.h>
#include <string.h>

#include "isotime.h"
#include "utf8.h"

/* Fields of a channel section that override the message rather than
 * configure the channel. */
static const char *const override_fields[] = {"text", "link", "hashtags", "image", NULL};

static int is_override(const char *key)
{
    for (size_t i = 0; override_fields[i]; i++)
        if (strcmp(key, override_fields[i]) == 0)
            return 1;
    return 0;
}

static json_t *texts(const json_t *message, const json_t *section)
{
    json_t *out = json_deep_copy(json_object_get(message, "body"));
    json_t *over = json_object_get(section, "text");
    const char *lang;
    json_t *v;
    if (!out)
        out = json_object();
    json_object_foreach(over, lang, v) json_object_set(out, lang, v);
    return out;
}

static json_t *pick(const json_t *section, const json_t *message, const char *key)
{
    json_t *v = json_object_get(section, key);
    if (!v)
        v = json_object_get(message, key);
    return v ? json_deep_copy(v) : json_null();
}

json_t *render_message(const adapter_item *item)
{
    const json_t *message = json_object_get(item->campaign, "message");
    const json_t *section = json_object_get(item->campaign, item->channel);
    json_t *options = json_object();
    const char *key;
    json_t *v;
    char due[64];

    json_object_foreach((json_t *)section, key, v)
    {
        if (!is_override(key))
            json_object_set(options, key, v);
    }
    isotime_format_rfc3339(item->due_ms / 1000, item->zone, due, sizeof due);
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:O, s:o, s:o, s:o, s:o, s:o}", "channel",
                     item->channel, "campaign", item->campaign_id, "version",
                     (json_int_t)item->version, "release", item->release_id, "due", due, "target",
                     item->target, "headline", json_object_get(message, "headline"), "text",
                     texts(message, section), "link", pick(section, message, "link"), "image",
                     pick(section, message, "image"), "hashtags",
                     pick(section, message, "hashtags"), "options", options);
}

void render_summary(const json_t *message, char *buf, size_t len)
{
    const json_t *text = json_object_get(message, "text");
    const char *lang = json_object_get(text, "ko") ? "ko" : NULL;
    const char *s;
    if (!lang) {
        json_t *v;
        const char *k;
        json_object_foreach((json_t *)text, k, v)
        {
            lang = k;
            break;
        }
    }
    s = lang ? json_string_value(json_object_get(text, lang)) : NULL;
    if (!s) {
        snprintf(buf, len, "(no text)");
        return;
    }
    /* First line, cut at about 40 characters on a character boundary. */
    char head[256];
    size_t n = 0, chars = 0;
    while (s[n] && s[n] != '\n' && n < sizeof head - 4 && chars < 40) {
        n++;
        while (s[n] && ((unsigned char)s[n] & 0xC0) == 0x80)
            n++;
        chars++;
    }
    memcpy(head, s, n);
    head[n] = '\0';
    snprintf(buf, len, "%s %zu chars: %s%s", lang, utf8_length(s), head,
             s[n] && s[n] != '\n' ? "…" : "");
}
