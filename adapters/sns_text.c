/*
 * sns_text.c - the post of each social network and its limits
 * (sns_text.h).
 */
#include "sns_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>

#include "tweet_length.h"

/*
 * Facebook: 63,206 characters in a post's message. Instagram: a 2,200
 * character caption with at most 30 hashtags and 20 @-tags, and never
 * without an image (CHANNELS.md 3.3). KakaoStory's note content: 2,048
 * characters is an ASSUMPTION (Kakao's documentation we could read names
 * no limit): change it here when Kakao says otherwise.
 */
static const sns_rules rules[] = {
    {.network = "facebook", .max_length = 63206, .link_field = 1},
    {.network = "instagram",
     .max_length = 2200,
     .max_hashtags = 30,
     .max_mentions = 20,
     .needs_image = 1},
    {.network = "x", .max_length = 280, .weighted = 1, .link_in_text = 1},
    {.network = "kakaostory", .max_length = 2048, .link_in_text = 1},
};

static const char *const languages[SNS_LANGS_MAX] = {"ko", "en", "zh", "ja"};

const sns_rules *sns_rules_for(const char *network)
{
    for (size_t i = 0; network && i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].network, network) == 0)
            return &rules[i];
    return NULL;
}

/* ---- composing ---------------------------------------------------------------- */

static const json_t *get(const json_t *obj, const char *key)
{
    return json_object_get(obj, key);
}

static const char *text_in(const json_t *map, const char *lang)
{
    return json_string_value(get(map, lang));
}

size_t sns_post_languages(const json_t *campaign, const char *network,
                          const char *langs[SNS_LANGS_MAX])
{
    const json_t *sns = get(campaign, "sns");
    const json_t *maps[] = {get(get(sns, network), "text"), get(sns, "text"),
                            get(get(campaign, "message"), "body")};
    size_t n = 0;
    for (size_t l = 0; l < SNS_LANGS_MAX; l++) {
        for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++) {
            if (text_in(maps[m], languages[l])) {
                langs[n++] = languages[l];
                break;
            }
        }
    }
    return n;
}

/*
 * Where a post's parts come from, most specific first: a release's own
 * "sns" overlay (a morning and an afternoon post need their own words: X
 * and Facebook refuse the same text twice), then the campaign's section.
 */
typedef struct layers {
    const json_t *section[2];
    char base[2][64];
    size_t n;
} layers;

static void layers_of(const json_t *campaign, const char *release_id, layers *ls)
{
    memset(ls, 0, sizeof *ls);
    size_t i;
    json_t *rel;
    json_array_foreach(get(get(campaign, "schedule"), "releases"), i, rel)
    {
        const json_t *overlay = get(rel, "sns");
        const char *id = json_string_value(get(rel, "id"));
        if (!overlay || !release_id || !id || strcmp(id, release_id) != 0)
            continue;
        ls->section[ls->n] = overlay;
        snprintf(ls->base[ls->n++], sizeof ls->base[0], "/schedule/releases/%zu/sns", i);
        break;
    }
    ls->section[ls->n] = get(campaign, "sns");
    snprintf(ls->base[ls->n++], sizeof ls->base[0], "/sns");
}

/* The words of the post and where they came from. */
static const char *pick_text(const layers *ls, const json_t *campaign, const char *network,
                             const char *lang, char *source, size_t len)
{
    const char *s;
    for (size_t i = 0; i < ls->n; i++) {
        if ((s = text_in(get(get(ls->section[i], network), "text"), lang))) {
            snprintf(source, len, "%s/%s/text/%s", ls->base[i], network, lang);
            return s;
        }
        if ((s = text_in(get(ls->section[i], "text"), lang))) {
            snprintf(source, len, "%s/text/%s", ls->base[i], lang);
            return s;
        }
    }
    snprintf(source, len, "/message/body/%s", lang);
    return text_in(get(get(campaign, "message"), "body"), lang);
}

/* The first of the network's, the section's (each layer's) and the message's KEY. */
static const char *pick_field(const layers *ls, const json_t *campaign, const char *network,
                              const char *key)
{
    const char *s = NULL;
    for (size_t i = 0; i < ls->n && !s; i++) {
        s = network ? json_string_value(get(get(ls->section[i], network), key)) : NULL;
        if (!s)
            s = json_string_value(get(ls->section[i], key));
    }
    if (!s)
        s = json_string_value(get(get(campaign, "message"), key));
    return s;
}

static void append_tags(FILE *out, const json_t *tags)
{
    size_t i;
    json_t *t;
    fputs("\n\n", out);
    json_array_foreach(tags, i, t) fprintf(out, "%s#%s", i ? " " : "", json_string_value(t));
}

static int compose(const layers *ls, const json_t *campaign, const char *network, const char *lang,
                   sns_post *post)
{
    const sns_rules *r = sns_rules_for(network);
    memset(post, 0, sizeof *post);
    if (!r)
        return -1;
    const char *text = pick_text(ls, campaign, network, lang, post->source, sizeof post->source);
    if (!text)
        return -1;
    /* Only Instagram's own section may name an image: it is the one
     * network that needs one. */
    int own_image = strcmp(network, "instagram") == 0;
    post->image = pick_field(ls, campaign, own_image ? network : NULL, "image");
    if (r->link_in_text || r->link_field)
        post->link = pick_field(ls, campaign, network, "link");
    const json_t *tags = NULL;
    for (size_t i = 0; i < ls->n && !tags; i++)
        if ((tags = get(ls->section[i], "hashtags")))
            snprintf(post->tags_source, sizeof post->tags_source, "%s/hashtags", ls->base[i]);
    if (!tags) {
        snprintf(post->tags_source, sizeof post->tags_source, "/message/hashtags");
        tags = get(get(campaign, "message"), "hashtags");
    }

    FILE *out = open_memstream(&post->text, &post->len);
    if (!out)
        return -1;
    fputs(text, out);
    if (post->link && r->link_in_text) {
        post->link_in_text = 1;
        post->link_added = !strstr(text, post->link);
        if (post->link_added)
            fprintf(out, "\n\n%s", post->link);
    }
    if (json_array_size(tags) > 0) {
        append_tags(out, tags);
        post->tags_added = json_array_size(tags);
    }
    if (fclose(out) != 0 || !post->text) {
        sns_post_release(post);
        return -1;
    }
    return 0;
}

int sns_post_compose(const json_t *campaign, const char *release_id, const char *network,
                     const char *lang, sns_post *post)
{
    layers ls;
    layers_of(campaign, release_id, &ls);
    return compose(&ls, campaign, network, lang, post);
}

void sns_post_release(sns_post *post)
{
    free(post->text);
    memset(post, 0, sizeof *post);
}

/* ---- counting ----------------------------------------------------------------- */

static int word_char(uint32_t cp)
{
    return cp == '_' || uc_is_alnum(cp) || uc_is_general_category(cp, UC_CATEGORY_M);
}

/* "#tag": after no word character, at least one word character, not all
 * digits (as twitter-text and Instagram read "#1"). The end, or 0. */
static size_t hashtag_at(const uint32_t *c, size_t n, size_t i)
{
    if ((c[i] != '#' && c[i] != 0xFF03) || (i > 0 && (word_char(c[i - 1]) || c[i - 1] == '&')))
        return 0;
    size_t j = i + 1;
    int letters = 0;
    while (j < n && word_char(c[j])) {
        letters |= !(c[j] >= '0' && c[j] <= '9');
        j++;
    }
    return letters ? j : 0;
}

static int username_char(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_' || cp == '.';
}

/* "@name" after no word character (so an e-mail address is none). */
static size_t mention_at(const uint32_t *c, size_t n, size_t i)
{
    if ((c[i] != '@' && c[i] != 0xFF20) || (i > 0 && word_char(c[i - 1])))
        return 0;
    size_t j = i + 1;
    while (j < n && username_char(c[j]))
        j++;
    return j > i + 1 ? j : 0;
}

/* Hashtags and mentions outside URLs: "https://x.kr/#top" holds none. */
static void count_words(const uint32_t *c, size_t n, sns_counts *out)
{
    for (size_t i = 0; i < n;) {
        size_t end = tweet_url_at(c, n, i);
        if (!end && (end = hashtag_at(c, n, i)) != 0)
            out->hashtags++;
        else if (!end && (end = mention_at(c, n, i)) != 0)
            out->mentions++;
        i = end ? end : i + 1;
    }
}

void sns_text_count(const sns_rules *r, const char *text, size_t len, sns_counts *out)
{
    size_t n;
    uint32_t *c = tweet_nfc(text, len, &n);
    memset(out, 0, sizeof *out);
    out->invalid_char = -1;
    if (!c) {
        out->length = -1;
        return;
    }
    count_words(c, n, out);
    free(c);
    if (r->weighted) {
        tweet_count t;
        out->length = tweet_weighted_length(text, len, &t);
        out->invalid_char = t.invalid_char;
    } else {
        out->length = (long)n;
    }
}

long sns_text_length(const char *utf8, size_t len)
{
    size_t n;
    uint32_t *c = tweet_nfc(utf8, len, &n);
    free(c);
    return c ? (long)n : -1;
}

/* ---- checking ------------------------------------------------------------------ */

/* " (the post adds the link and 4 hashtags to the text)" or "". */
static void added(const sns_post *p, char *buf, size_t len)
{
    int link = p->link_added;
    char tags[32] = "";
    if (p->tags_added)
        snprintf(tags, sizeof tags, "%zu hashtag%s", p->tags_added, p->tags_added == 1 ? "" : "s");
    if (!link && !p->tags_added)
        buf[0] = '\0';
    else
        snprintf(buf, len, " (the post adds %s%s%s to the text)", link ? "the link" : "",
                 link && p->tags_added ? " and " : "", tags);
}

static void check_length(const sns_rules *r, const sns_post *p, const sns_counts *k,
                         diag_list *errs)
{
    char n[32], max[32], why[96];
    if (k->length <= r->max_length)
        return;
    diag_thousands(k->length, n, sizeof n);
    diag_thousands(r->max_length, max, sizeof max);
    added(p, why, sizeof why);
    if (r->weighted)
        diag_add(errs, p->source, "weighted-length", "%s weighted characters, the limit is %s%s", n,
                 max, why);
    else
        diag_add(errs, p->source, "length", "%s characters, the limit is %s on %s%s", n, max,
                 r->network, why);
}

static void check_words(const sns_rules *r, const sns_post *p, const sns_counts *k, diag_list *errs)
{
    if (r->max_hashtags && k->hashtags > r->max_hashtags) {
        long in_text = k->hashtags - (long)p->tags_added;
        diag_add(errs, p->source, "hashtags",
                 "%ld hashtags, the limit is %ld on %s (%ld in the text, %zu from %s)", k->hashtags,
                 r->max_hashtags, r->network, in_text < 0 ? 0 : in_text, p->tags_added,
                 p->tags_source);
    }
    if (r->max_mentions && k->mentions > r->max_mentions)
        diag_add(errs, p->source, "mentions", "%ld @-mentions, the limit is %ld on %s", k->mentions,
                 r->max_mentions, r->network);
    if (k->invalid_char >= 0)
        diag_add(errs, p->source, "invalid-character",
                 "holds U+%04lX, a character %s does not accept in a post", k->invalid_char,
                 r->network);
}

static void note_counts(const sns_rules *r, const sns_counts *k, const char *lang, const char *path,
                        diag_list *notes)
{
    char n[32], max[32];
    diag_thousands(k->length, n, sizeof n);
    diag_thousands(r->max_length, max, sizeof max);
    if (r->weighted)
        diag_add(notes, path, "length", "%s: %s/%s weighted characters (%s)", r->network, n, max,
                 lang);
    else if (r->max_hashtags)
        diag_add(notes, path, "length",
                 "%s: %s/%s characters, %ld/%ld hashtags, %ld/%ld "
                 "@-mentions (%s)",
                 r->network, n, max, k->hashtags, r->max_hashtags, k->mentions, r->max_mentions,
                 lang);
    else
        diag_add(notes, path, "length", "%s: %s/%s characters (%s)", r->network, n, max, lang);
}

static void check_image(const sns_rules *r, const layers *ls, const json_t *campaign,
                        diag_list *errs)
{
    if (!r->needs_image || pick_field(ls, campaign, r->network, "image"))
        return;
    const char *path = ls->base[ls->n - 1];
    char where[160];
    snprintf(where, sizeof where, "%s/image", path);
    diag_add(errs, where, "required",
             "%s cannot post text alone: give an image in %s/%s/image, %s/image or "
             "/message/image",
             r->network, path, r->network, path);
}

/* NOTES is NULL for a release's overlay: the summary counts the campaign's posts. */
static void check_network(const layers *ls, const json_t *campaign, const char *network,
                          diag_list *errs, diag_list *notes)
{
    const sns_rules *r = sns_rules_for(network);
    const char *langs[SNS_LANGS_MAX];
    if (!r)
        return;
    if (ls->n == 1)
        check_image(r, ls, campaign, errs);
    size_t nl = sns_post_languages(campaign, network, langs);
    for (size_t l = 0; l < nl; l++) {
        sns_post p;
        sns_counts k;
        if (compose(ls, campaign, network, langs[l], &p) != 0)
            continue;
        sns_text_count(r, p.text, p.len, &k);
        if (k.length >= 0) {
            check_length(r, &p, &k, errs);
            check_words(r, &p, &k, errs);
            if (notes)
                note_counts(r, &k, langs[l], ls->base[ls->n - 1], notes);
        }
        sns_post_release(&p);
    }
}

static void check_networks(const layers *ls, const json_t *campaign, const char *network,
                           diag_list *errs, diag_list *notes)
{
    if (network) {
        check_network(ls, campaign, network, errs, notes);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(get(ls->section[ls->n - 1], "networks"), i, v)
        check_network(ls, campaign, json_string_value(v), errs, notes);
}

void sns_text_check(const json_t *section, const json_t *campaign, const char *network,
                    const char *path, diag_list *errs, diag_list *notes)
{
    layers ls = {.section = {section}, .n = 1};
    snprintf(ls.base[0], sizeof ls.base[0], "%s", path);
    check_networks(&ls, campaign, network, errs, notes);
    /* Each release's own words are posts too. */
    size_t i;
    json_t *rel;
    json_array_foreach(get(get(campaign, "schedule"), "releases"), i, rel)
    {
        const json_t *overlay = get(rel, "sns");
        if (!overlay)
            continue;
        layers two = {.section = {overlay, section}, .n = 2};
        snprintf(two.base[0], sizeof two.base[0], "/schedule/releases/%zu/sns", i);
        snprintf(two.base[1], sizeof two.base[1], "%s", path);
        check_networks(&two, campaign, network, errs, NULL);
    }
}
