/*
 * tweet_length.c - twitter-text v3's weighted length (tweet_length.h).
 *
 * The walk follows parseTweet: at each code point a URL is tried first,
 * then an emoji sequence, then the code point's own weight. The URL rules
 * are a subset of twitter-text's extractor, enough for what campaigns
 * hold: a scheme URL or a bare domain ending in a TLD of the list below,
 * an optional port, a path with balanced parentheses and a query, and the
 * trailing punctuation of a sentence left out.
 */
#include "tweet_length.h"

#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

#define SCALE 100
#define DEFAULT_WEIGHT 200

/* ---- weights ---------------------------------------------------------------- */

typedef struct range {
    uint32_t lo, hi;
} range;

static const range light[] = {
    {0x0000, 0x10FF}, {0x2000, 0x200D}, {0x2010, 0x201F}, {0x2032, 0x2037}};

static int in_ranges(const range *r, size_t n, uint32_t cp)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return 1;
    return 0;
}

static int weight(uint32_t cp)
{
    return in_ranges(light, sizeof light / sizeof light[0], cp) ? 100 : DEFAULT_WEIGHT;
}

static int invalid_char(uint32_t cp)
{
    return cp == 0xFFFE || cp == 0xFEFF || cp == 0xFFFF || (cp >= 0x202A && cp <= 0x202E);
}

/* ---- URLs ------------------------------------------------------------------- */

/* Every delegated two-letter country code, then the generic TLDs a public
 * body's posts are likely to name. Sorted: looked up with bsearch. */
static const char *const tlds[] = {
    "ac",      "academy", "ad",   "ae",    "aero",   "af",   "ag",     "ai",   "al",   "am",
    "ao",      "app",     "aq",   "ar",    "art",    "as",   "asia",   "at",   "au",   "aw",
    "ax",      "az",      "ba",   "bb",    "bd",     "be",   "bf",     "bg",   "bh",   "bi",
    "biz",     "bj",      "blog", "bm",    "bn",     "bo",   "br",     "bs",   "bt",   "busan",
    "bw",      "by",      "bz",   "ca",    "cat",    "cc",   "cd",     "cf",   "cg",   "ch",
    "ci",      "ck",      "cl",   "cloud", "cm",     "cn",   "co",     "com",  "coop", "cr",
    "cu",      "cv",      "cw",   "cx",    "cy",     "cz",   "de",     "dev",  "dj",   "dk",
    "dm",      "do",      "dz",   "ec",    "edu",    "ee",   "eg",     "er",   "es",   "et",
    "eu",      "fi",      "fj",   "fk",    "fm",     "fo",   "fr",     "ga",   "gb",   "gd",
    "ge",      "gf",      "gg",   "gh",    "gi",     "gl",   "gm",     "gn",   "gov",  "gp",
    "gq",      "gr",      "gs",   "gt",    "gu",     "gw",   "gy",     "hk",   "hm",   "hn",
    "hr",      "ht",      "hu",   "id",    "ie",     "il",   "im",     "in",   "info", "int",
    "io",      "iq",      "ir",   "is",    "it",     "je",   "jm",     "jo",   "jobs", "jp",
    "ke",      "kg",      "kh",   "ki",    "kim",    "km",   "kn",     "kp",   "kr",   "kw",
    "ky",      "kz",      "la",   "lb",    "lc",     "li",   "link",   "lk",   "live", "lr",
    "ls",      "lt",      "lu",   "lv",    "ly",     "ma",   "mc",     "md",   "me",   "mg",
    "mh",      "mil",     "mk",   "ml",    "mm",     "mn",   "mo",     "mobi", "mp",   "mq",
    "mr",      "ms",      "mt",   "mu",    "museum", "mv",   "mw",     "mx",   "my",   "mz",
    "na",      "name",    "nc",   "ne",    "net",    "news", "nf",     "ng",   "ni",   "nl",
    "no",      "np",      "nr",   "nu",    "nz",     "om",   "online", "org",  "pa",   "page",
    "pe",      "pf",      "pg",   "ph",    "pk",     "pl",   "pm",     "pn",   "post", "pr",
    "pro",     "ps",      "pt",   "pw",    "py",     "qa",   "re",     "ro",   "rs",   "ru",
    "rw",      "sa",      "sb",   "sc",    "sd",     "se",   "seoul",  "sg",   "sh",   "shop",
    "si",      "site",    "sk",   "sl",    "sm",     "sn",   "so",     "sr",   "ss",   "st",
    "store",   "su",      "sv",   "sx",    "sy",     "sz",   "tc",     "td",   "tech", "tel",
    "tf",      "tg",      "th",   "tj",    "tk",     "tl",   "tm",     "tn",   "to",   "top",
    "tr",      "travel",  "tt",   "tv",    "tw",     "tz",   "ua",     "ug",   "uk",   "us",
    "uy",      "uz",      "va",   "vc",    "ve",     "vg",   "vi",     "vn",   "vu",   "wf",
    "website", "ws",      "xyz",  "ye",    "yt",     "za",   "zm",     "zw",
};

static int by_name(const void *key, const void *item)
{
    return strcmp(key, *(const char *const *)item);
}

static int is_tld(const uint32_t *c, size_t from, size_t to)
{
    char name[16];
    if (to - from >= sizeof name)
        return 0;
    for (size_t i = from; i < to; i++)
        name[i - from] = (char)(c[i] | 0x20); /* ASCII letters only reach here */
    name[to - from] = '\0';
    return bsearch(name, tlds, sizeof tlds / sizeof tlds[0], sizeof tlds[0], by_name) != NULL;
}

static int ascii_alpha(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}

static int ascii_alnum(uint32_t cp)
{
    return ascii_alpha(cp) || (cp >= '0' && cp <= '9');
}

/* What a domain label of a scheme URL may hold beyond ASCII: letters of
 * any script, not the punctuation, spaces and symbols around them. */
static int unicode_label_char(uint32_t cp)
{
    return cp >= 0xC0 && !(cp >= 0x2000 && cp <= 0x2BFF) && !(cp >= 0x3000 && cp <= 0x303F) &&
           !(cp >= 0xFE00 && cp <= 0xFE6F) && !(cp >= 0xFF00 && cp <= 0xFF20) &&
           !(cp >= 0xFF3B && cp <= 0xFF40) && !(cp >= 0xFF5B && cp <= 0xFF65) && cp < 0x1F000 &&
           !invalid_char(cp) && cp != 0xD7 && cp != 0xF7;
}

static int label_char(uint32_t cp, int unicode)
{
    return ascii_alnum(cp) || cp == '-' || cp == '_' || (unicode && unicode_label_char(cp));
}

#define MAX_LABELS 32

typedef struct labels {
    size_t start[MAX_LABELS], end[MAX_LABELS];
    size_t n;
} labels;

static void read_labels(const uint32_t *c, size_t n, size_t i, int unicode, labels *l)
{
    l->n = 0;
    while (i < n && l->n < MAX_LABELS) {
        size_t j = i;
        while (j < n && label_char(c[j], unicode))
            j++;
        if (j == i)
            break;
        l->start[l->n] = i;
        l->end[l->n] = j;
        l->n++;
        if (j + 1 >= n || c[j] != '.')
            break;
        i = j + 1;
    }
}

/* What may follow a TLD: anything that cannot continue a host name. */
static int tld_boundary(const uint32_t *c, size_t n, size_t i)
{
    return i >= n || !(ascii_alnum(c[i]) || c[i] == '@' || c[i] == '+' || c[i] == '-');
}

static int label_ok(const uint32_t *c, size_t from, size_t to, int allow_underscore)
{
    if (c[from] == '-' || c[from] == '_' || c[to - 1] == '-' || c[to - 1] == '_')
        return 0;
    for (size_t i = from; !allow_underscore && i < to; i++)
        if (c[i] == '_')
            return 0;
    return 1;
}

/* The end of the host name starting at I (labels, a TLD last), or 0. Sets
 * *SHORT for a bare "name.cc", which twitter-text does not link alone. */
static size_t domain_end(const uint32_t *c, size_t n, size_t i, int unicode, int *short_cc)
{
    labels l;
    read_labels(c, n, i, unicode, &l);
    for (size_t k = l.n; k-- > 1;) {
        size_t t = l.start[k], e = t;
        while (e < l.end[k] && ascii_alpha(c[e]))
            e++;
        if (e == t || (e != l.end[k] && k + 1 != l.n) || !tld_boundary(c, n, e) || !is_tld(c, t, e))
            continue;
        for (size_t j = 0; j < k; j++)
            if (!label_ok(c, l.start[j], l.end[j], j + 1 < k))
                return 0;
        *short_cc = k == 1 && e - t == 2;
        return e;
    }
    return 0;
}

static int latin_or_cyrillic(uint32_t cp)
{
    return (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) ||
           (cp >= 0x300 && cp <= 0x36F) || (cp >= 0x400 && cp <= 0x4FF) ||
           (cp >= 0x1E00 && cp <= 0x1EFF);
}

static int path_char(uint32_t cp)
{
    return ascii_alnum(cp) || latin_or_cyrillic(cp) || cp == 0x2013 ||
           (cp < 0x80 && strchr("!*';:=+,.$/%#[]-_~@|&", (int)cp) && cp != 0);
}

/* A path may end on these, not on a sentence's '.', ',', '!' or ':'. */
static int path_end_char(uint32_t cp)
{
    return ascii_alnum(cp) || latin_or_cyrillic(cp) ||
           (cp < 0x80 && strchr("+-=_#/", (int)cp) && cp != 0);
}

static int query_char(uint32_t cp)
{
    return ascii_alnum(cp) || (cp < 0x80 && strchr("!?*'@();:&=+$/%#[]-_.,~|", (int)cp) && cp != 0);
}

static int query_end_char(uint32_t cp)
{
    return ascii_alnum(cp) || (cp < 0x80 && strchr("-_&=#/", (int)cp) && cp != 0);
}

/* "(...)" of path characters, one level of nesting: the end, or 0. */
static size_t parens_end(const uint32_t *c, size_t n, size_t i, int depth)
{
    size_t j = i + 1, inner = 0;
    while (j < n) {
        if (c[j] == ')')
            return inner ? j + 1 : 0;
        if (c[j] == '(' && depth == 0) {
            size_t e = parens_end(c, n, j, 1);
            if (!e)
                return 0;
            j = e;
        } else if (path_char(c[j])) {
            j++;
        } else {
            return 0;
        }
        inner++;
    }
    return 0;
}

/* From the '/' at I: the end of the path, leaving trailing punctuation. */
static size_t path_end(const uint32_t *c, size_t n, size_t i)
{
    size_t j = i + 1, end = i + 1;
    while (j < n) {
        if (c[j] == '(') {
            size_t e = parens_end(c, n, j, 0);
            if (!e)
                break;
            j = end = e;
        } else if (path_char(c[j])) {
            if (path_end_char(c[j]))
                end = j + 1;
            j++;
        } else {
            break;
        }
    }
    return end;
}

/* From the '?' at I: the end of the query, or I when nothing can end it. */
static size_t query_end(const uint32_t *c, size_t n, size_t i)
{
    size_t end = i;
    for (size_t j = i + 1; j < n && query_char(c[j]); j++)
        if (query_end_char(c[j]))
            end = j + 1;
    return end;
}

static size_t scheme_end(const uint32_t *c, size_t n, size_t i)
{
    static const char http[] = "http";
    for (size_t k = 0; k < 4; k++)
        if (i + k >= n || (c[i + k] | 0x20) != (uint32_t)http[k])
            return 0;
    size_t j = i + 4;
    if (j < n && (c[j] | 0x20) == 's')
        j++;
    if (j + 3 > n || c[j] != ':' || c[j + 1] != '/' || c[j + 2] != '/')
        return 0;
    return j + 3;
}

/* twitter-text starts no URL inside a word, a cashtag, a hashtag or a
 * mention; a bare domain not after '-', '_', '.' or '/' either. */
static int url_may_start(const uint32_t *c, size_t i, int bare)
{
    if (i == 0)
        return 1;
    uint32_t p = c[i - 1];
    if (ascii_alnum(p) || p == '@' || p == 0xFF20 || p == '$' || p == '#' || p == 0xFF03 ||
        (p >= 0x202A && p <= 0x202E))
        return 0;
    return !bare || !(p == '-' || p == '_' || p == '.' || p == '/');
}

size_t tweet_url_at(const uint32_t *c, size_t n, size_t i)
{
    size_t host = scheme_end(c, n, i);
    int bare = host == 0, short_cc = 0;
    if (bare)
        host = i;
    if (!url_may_start(c, i, bare))
        return 0;
    size_t j = domain_end(c, n, host, !bare, &short_cc);
    if (!j)
        return 0;
    size_t after_host = j;
    if (j + 1 < n && c[j] == ':' && c[j + 1] >= '0' && c[j + 1] <= '9') {
        j++;
        while (j < n && c[j] >= '0' && c[j] <= '9')
            j++;
    }
    if (j < n && c[j] == '/')
        j = path_end(c, n, j);
    if (j < n && c[j] == '?')
        j = query_end(c, n, j);
    if (bare && short_cc && j == after_host)
        return 0;
    return j;
}

/* ---- emoji -------------------------------------------------------------------- */

/* Extended_Pictographic (Unicode emoji-data), merged into ranges. */
static const range pictographic[] = {
    {0x00A9, 0x00A9},   {0x00AE, 0x00AE},   {0x203C, 0x203C},   {0x2049, 0x2049},
    {0x2122, 0x2122},   {0x2139, 0x2139},   {0x2194, 0x2199},   {0x21A9, 0x21AA},
    {0x231A, 0x231B},   {0x2328, 0x2328},   {0x2388, 0x2388},   {0x23CF, 0x23CF},
    {0x23E9, 0x23F3},   {0x23F8, 0x23FA},   {0x24C2, 0x24C2},   {0x25AA, 0x25AB},
    {0x25B6, 0x25B6},   {0x25C0, 0x25C0},   {0x25FB, 0x25FE},   {0x2600, 0x2605},
    {0x2607, 0x2612},   {0x2614, 0x2685},   {0x2690, 0x2705},   {0x2708, 0x2712},
    {0x2714, 0x2714},   {0x2716, 0x2716},   {0x271D, 0x271D},   {0x2721, 0x2721},
    {0x2728, 0x2728},   {0x2733, 0x2734},   {0x2744, 0x2744},   {0x2747, 0x2747},
    {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},   {0x2757, 0x2757},
    {0x2763, 0x2767},   {0x2795, 0x2797},   {0x27A1, 0x27A1},   {0x27B0, 0x27B0},
    {0x27BF, 0x27BF},   {0x2934, 0x2935},   {0x2B05, 0x2B07},   {0x2B1B, 0x2B1C},
    {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x3030, 0x3030},   {0x303D, 0x303D},
    {0x3297, 0x3297},   {0x3299, 0x3299},   {0x1F000, 0x1F0FF}, {0x1F10D, 0x1F10F},
    {0x1F12F, 0x1F12F}, {0x1F16C, 0x1F171}, {0x1F17E, 0x1F17F}, {0x1F18E, 0x1F18E},
    {0x1F191, 0x1F19A}, {0x1F1AD, 0x1F1E5}, {0x1F201, 0x1F20F}, {0x1F21A, 0x1F21A},
    {0x1F22F, 0x1F22F}, {0x1F232, 0x1F23A}, {0x1F23C, 0x1F23F}, {0x1F249, 0x1F3FA},
    {0x1F400, 0x1F53D}, {0x1F546, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F774, 0x1F77F},
    {0x1F7D5, 0x1F7FF}, {0x1F80C, 0x1F80F}, {0x1F848, 0x1F84F}, {0x1F85A, 0x1F85F},
    {0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8FF}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945},
    {0x1F947, 0x1FAFF}, {0x1FC00, 0x1FFFD},
};

#define VS16 0xFE0F
#define ZWJ 0x200D
#define KEYCAP 0x20E3
#define TAG_END 0xE007F

static int regional_indicator(uint32_t cp)
{
    return cp >= 0x1F1E6 && cp <= 0x1F1FF;
}

/* One pictograph with what may decorate it (VS16, a skin tone, a tag
 * sequence): its end, or 0. (c) and (R) are text unless VS16 follows:
 * they weigh 1 alone and must not become 2. */
static size_t pictograph_end(const uint32_t *c, size_t n, size_t i)
{
    if (!in_ranges(pictographic, sizeof pictographic / sizeof pictographic[0], c[i]))
        return 0;
    size_t j = i + 1;
    if (c[i] < 0x2000 && (j >= n || c[j] != VS16))
        return 0;
    if (j < n && c[j] == VS16)
        j++;
    if (j < n && c[j] >= 0x1F3FB && c[j] <= 0x1F3FF)
        j++;
    size_t tags = j;
    while (j < n && c[j] >= 0xE0020 && c[j] <= 0xE007E)
        j++;
    if (j > tags && j < n && c[j] == TAG_END)
        j++;
    else
        j = tags;
    return j;
}

static size_t emoji_at(const uint32_t *c, size_t n, size_t i)
{
    if ((c[i] >= '0' && c[i] <= '9') || c[i] == '#' || c[i] == '*') {
        size_t j = i + 1;
        if (j < n && c[j] == VS16)
            j++;
        return j < n && c[j] == KEYCAP ? j + 1 : 0;
    }
    if (regional_indicator(c[i]) && i + 1 < n && regional_indicator(c[i + 1]))
        return i + 2;
    size_t j = pictograph_end(c, n, i), k;
    if (!j)
        return 0;
    while (j + 1 < n && c[j] == ZWJ && (k = pictograph_end(c, n, j + 1)) != 0)
        j = k;
    return j;
}

/* ---- the count ------------------------------------------------------------------ */

uint32_t *tweet_nfc(const char *utf8, size_t len, size_t *n)
{
    size_t nlen = 0;
    *n = 0;
    if (u8_check((const uint8_t *)utf8, len) != NULL)
        return NULL;
    if (len == 0)
        return calloc(1, sizeof(uint32_t));
    uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)utf8, len, NULL, &nlen);
    if (!nfc)
        return NULL;
    uint32_t *cps = u8_to_u32(nfc, nlen, NULL, n);
    free(nfc);
    return cps;
}

long tweet_weighted_length(const char *utf8, size_t len, tweet_count *count)
{
    tweet_count t = {.invalid_char = -1};
    size_t n;
    uint32_t *c = tweet_nfc(utf8, len, &n);
    if (!c)
        return -1;
    long sum = 0;
    for (size_t i = 0; i < n;) {
        size_t end;
        if ((end = tweet_url_at(c, n, i)) != 0) {
            sum += TWEET_URL_WEIGHTED * SCALE;
            t.urls++;
        } else if ((end = emoji_at(c, n, i)) != 0) {
            sum += DEFAULT_WEIGHT;
            t.emoji++;
        } else {
            if (invalid_char(c[i]) && t.invalid_char < 0)
                t.invalid_char = (long)c[i];
            sum += weight(c[i]);
            end = i + 1;
        }
        i = end;
    }
    free(c);
    t.weighted = sum / SCALE;
    t.valid = t.weighted > 0 && t.weighted <= TWEET_MAX_WEIGHTED && t.invalid_char < 0;
    if (count)
        *count = t;
    return t.weighted;
}
