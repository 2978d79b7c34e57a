/*
 * audience_member.c - the pure half of the audience store (audience.h):
 * member statuses, phone numbers (Korean mobiles to E.164, ITU-T E.164 and
 * the Korean numbering plan's mobile prefixes), e-mail addresses (the RFC
 * 5321 sizes, RFC 5322's dot-atom), masks for logs, index buckets, and a
 * CSV record to a member.
 *
 * No reason given here ever repeats the value it refuses: the value is a
 * person's phone number or address, and reasons end up in reports and logs.
 */
#include "audience.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"
#include "utf8.h"

static const char *const status_names[AUDIENCE_STATUS_COUNT] = {
    "active", "unsubscribed", "blocked", "bounced", "suppressed", "removed",
};

const char *audience_status_name(audience_status s)
{
    if ((int)s < 0 || s >= AUDIENCE_STATUS_COUNT)
        return "unknown";
    return status_names[s];
}

int audience_status_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < AUDIENCE_STATUS_COUNT; i++)
        if (strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

/* S without the blanks around it: [*start, *start + *len). */
static void trim(const char *s, const char **start, size_t *len)
{
    size_t n = strlen(s);
    while (n > 0 && is_blank((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank((unsigned char)s[n - 1]))
        n--;
    *start = s;
    *len = n;
}

/* ---- phone numbers ------------------------------------------------------------------ */

/* National significant numbers with a leading 0 ("010...") that are not
 * mobiles, by what a person would call them. */
static const char *not_mobile_kind(const char *national)
{
    if (strncmp(national, "050", 3) == 0)
        return "a relay number prefix";
    if (national[1] >= '2' && national[1] <= '6')
        return "a landline area code";
    if (strncmp(national, "070", 3) == 0)
        return "an internet phone prefix";
    if (strncmp(national, "080", 3) == 0 || strncmp(national, "060", 3) == 0)
        return "a service number prefix";
    return "not a mobile prefix";
}

/*
 * The digits of IN with the spelling around them checked: a + only first,
 * separators (space, - . and one level of parentheses) anywhere. Returns
 * the number of digits (at most CAP are kept) or -1 with WHY.
 */
static int phone_digits(const char *in, size_t len, char *digits, size_t cap, int *plus, char *why,
                        size_t whylen)
{
    int n = 0, depth = 0, character = 0;
    *plus = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c & 0xC0) != 0x80)
            character++;
        if (c >= '0' && c <= '9') {
            if ((size_t)n < cap)
                digits[n] = (char)c;
            n++;
        } else if (c == '+' && n == 0 && !*plus && depth == 0) {
            *plus = 1;
        } else if (c == '+') {
            errmsg_set(why, whylen, "a '+' at character %d: only one, before the digits",
                       character);
            return -1;
        } else if (c == '(') {
            if (depth++ > 0) {
                errmsg_set(why, whylen, "parentheses inside parentheses at character %d",
                           character);
                return -1;
            }
        } else if (c == ')') {
            if (depth-- == 0) {
                errmsg_set(why, whylen, "a ')' without its '(' at character %d", character);
                return -1;
            }
        } else if (c == ' ' || c == '-' || c == '.' || c == '\t') {
            continue;
        } else if (isalpha(c)) {
            errmsg_set(why, whylen,
                       "a letter at character %d: a phone number is digits, spaces, '-', '.', "
                       "'( )' and a leading '+'",
                       character);
            return -1;
        } else {
            errmsg_set(why, whylen,
                       "character %d is not allowed: a phone number is digits, spaces, '-', '.', "
                       "'( )' and a leading '+'",
                       character);
            return -1;
        }
    }
    if (depth != 0) {
        errmsg_set(why, whylen, "a '(' that is never closed");
        return -1;
    }
    return n;
}

/*
 * The national number with its leading 0 ("01012345678") from the digits
 * of any spelling: +82 / 82 then an optional trunk 0, or the domestic 0
 * (or none: a spreadsheet that took the number for a number dropped it).
 */
static int phone_national(const char *d, int n, int plus, char *national, size_t cap, char *why,
                          size_t whylen)
{
    int skip = 0;
    /* No domestic number starts with 8: 82 first is the country code. */
    if (plus || (n >= 2 && d[0] == '8' && d[1] == '2')) {
        if (n < 2 || d[0] != '8' || d[1] != '2') {
            errmsg_set(why, whylen, "not a Korean number: the country code after '+' must be 82");
            return -1;
        }
        skip = 2;
        if (skip < n && d[skip] == '0')
            skip++; /* "+82 (0)10 ...": the trunk 0 some people keep */
    } else if (n > 0 && d[0] == '0') {
        skip = 1;
    } else if (n >= 9 && n <= 10 && d[0] == '1') {
        skip = 0;
    } else {
        errmsg_set(why, whylen,
                   "%d digits that do not start with 0 or 82: not a Korean mobile number", n);
        return -1;
    }
    if ((size_t)(n - skip + 2) > cap) {
        errmsg_set(why, whylen, "%d digits, at most 11 in a Korean mobile number", n);
        return -1;
    }
    national[0] = '0';
    memcpy(national + 1, d + skip, (size_t)(n - skip));
    national[n - skip + 1] = '\0';
    return n - skip + 1;
}

static int phone_check_mobile(const char *national, int len, char *why, size_t whylen)
{
    if (len < 3) {
        errmsg_set(why, whylen, "too few digits for a Korean mobile number");
        return -1;
    }
    char prefix[4] = {national[0], national[1], national[2], '\0'};
    if (national[1] != '1') {
        /* Seoul's area code is the only one of two digits. */
        errmsg_set(why, whylen, "not a mobile number: %.*s is %s", national[1] == '2' ? 2 : 3,
                   national, not_mobile_kind(national));
        return -1;
    }
    int after = len - 3;
    if (strcmp(prefix, "010") == 0) {
        if (after != 8) {
            errmsg_set(why, whylen, "%d digits after 010, 8 needed", after);
            return -1;
        }
        return 0;
    }
    if (strchr("16789", national[2])) {
        if (after != 7 && after != 8) {
            errmsg_set(why, whylen, "%d digits after %s, 7 or 8 needed", after, prefix);
            return -1;
        }
        return 0;
    }
    errmsg_set(why, whylen, "not a mobile number: %s is not a mobile prefix (010, 011, 016-019)",
               prefix);
    return -1;
}

int audience_phone_normalize(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
    const char *s;
    size_t len;
    char digits[24], national[24];
    int plus;
    if (why && whylen)
        why[0] = '\0';
    trim(in ? in : "", &s, &len);
    if (len == 0) {
        errmsg_set(why, whylen, "empty");
        return -1;
    }
    int n = phone_digits(s, len, digits, sizeof digits, &plus, why, whylen);
    if (n < 0)
        return -1;
    if (n == 0) {
        errmsg_set(why, whylen, "no digits");
        return -1;
    }
    if ((size_t)n > sizeof digits - 2) {
        errmsg_set(why, whylen, "%d digits, at most 11 in a Korean mobile number", n);
        return -1;
    }
    int nlen = phone_national(digits, n, plus, national, sizeof national, why, whylen);
    if (nlen < 0 || phone_check_mobile(national, nlen, why, whylen) != 0)
        return -1;
    if ((size_t)nlen + 3 > outlen) {
        errmsg_set(why, whylen, "no room for the number");
        return -1;
    }
    snprintf(out, outlen, "+82%s", national + 1);
    return 0;
}

int audience_phone_domestic(const char *e164, char *out, size_t outlen)
{
    if (!e164 || strncmp(e164, "+82", 3) != 0)
        return -1;
    size_t n = strlen(e164 + 3);
    if (n == 0 || n > 12 || strspn(e164 + 3, "0123456789") != n || n + 2 > outlen)
        return -1;
    out[0] = '0';
    memcpy(out + 1, e164 + 3, n + 1);
    return 0;
}

/* ---- e-mail addresses --------------------------------------------------------------- */

#define EMAIL_LOCAL_MAX 64
#define EMAIL_DOMAIN_MAX 253
#define EMAIL_MAX 254
#define EMAIL_LABEL_MAX 63

static int is_atext(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int email_local_ok(const char *s, size_t n, char *why, size_t whylen)
{
    if (n == 0) {
        errmsg_set(why, whylen, "nothing before the '@'");
        return -1;
    }
    if (n > EMAIL_LOCAL_MAX) {
        errmsg_set(why, whylen, "the part before the '@' is %zu bytes, at most %d", n,
                   EMAIL_LOCAL_MAX);
        return -1;
    }
    if (s[0] == '"') {
        errmsg_set(why, whylen, "a quoted part before the '@' is not accepted");
        return -1;
    }
    if (s[0] == '.' || s[n - 1] == '.') {
        errmsg_set(why, whylen, "the part before the '@' starts or ends with a dot");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' && s[i + 1] == '.') {
            errmsg_set(why, whylen, "two dots in a row before the '@'");
            return -1;
        }
        if (c != '.' && !is_atext(c)) {
            errmsg_set(why, whylen, "character %zu before the '@' is not allowed (%s)", i + 1,
                       c >= 0x80  ? "non-ASCII"
                       : c == ' ' ? "a space"
                                  : "not a letter, digit or !#$%&'*+-/=?^_`{|}~");
            return -1;
        }
    }
    return 0;
}

static int email_domain_ok(const char *s, size_t n, char *why, size_t whylen)
{
    if (n == 0) {
        errmsg_set(why, whylen, "nothing after the '@'");
        return -1;
    }
    if (n > EMAIL_DOMAIN_MAX) {
        errmsg_set(why, whylen, "the domain is %zu bytes, at most %d", n, EMAIL_DOMAIN_MAX);
        return -1;
    }
    int label = 0, dots = 0;
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        int all_digits = 1;
        label++;
        while (i < n && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!isalnum(c) && c != '-') {
                errmsg_set(why, whylen, "domain label %d: %s; labels are letters, digits and '-'",
                           label,
                           c >= 0x80 ? "non-ASCII (write it as xn--...)"
                                     : "a character that is not allowed");
                return -1;
            }
            if (!isdigit(c))
                all_digits = 0;
            i++;
        }
        size_t len = i - start;
        if (len == 0) {
            errmsg_set(why, whylen, "domain label %d is empty", label);
            return -1;
        }
        if (len > EMAIL_LABEL_MAX) {
            errmsg_set(why, whylen, "domain label %d is %zu bytes, at most %d", label, len,
                       EMAIL_LABEL_MAX);
            return -1;
        }
        if (s[start] == '-' || s[i - 1] == '-') {
            errmsg_set(why, whylen, "domain label %d starts or ends with '-'", label);
            return -1;
        }
        if (i == n) {
            if (dots == 0) {
                errmsg_set(why, whylen, "the domain has no dot");
                return -1;
            }
            if (all_digits) {
                errmsg_set(why, whylen, "the top-level domain is all digits");
                return -1;
            }
            break;
        }
        dots++;
        i++;
    }
    return 0;
}

int audience_email_normalize(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
    const char *s;
    size_t len;
    if (why && whylen)
        why[0] = '\0';
    trim(in ? in : "", &s, &len);
    if (len == 0) {
        errmsg_set(why, whylen, "empty");
        return -1;
    }
    if (len > EMAIL_MAX) {
        errmsg_set(why, whylen, "%zu bytes, at most %d", len, EMAIL_MAX);
        return -1;
    }
    const char *at = memchr(s, '@', len);
    if (!at) {
        errmsg_set(why, whylen, "no '@'");
        return -1;
    }
    if (memchr(at + 1, '@', len - (size_t)(at - s) - 1)) {
        errmsg_set(why, whylen, "more than one '@'");
        return -1;
    }
    size_t nlocal = (size_t)(at - s), ndomain = len - nlocal - 1;
    /* The checks read one byte past the local part: give them a copy. */
    char local[EMAIL_MAX + 1];
    memcpy(local, s, nlocal);
    local[nlocal] = '\0';
    if (email_local_ok(local, nlocal, why, whylen) != 0 ||
        email_domain_ok(at + 1, ndomain, why, whylen) != 0)
        return -1;
    if (len + 1 > outlen) {
        errmsg_set(why, whylen, "no room for the address");
        return -1;
    }
    memcpy(out, s, nlocal + 1);
    for (size_t i = 0; i < ndomain; i++)
        out[nlocal + 1 + i] = (char)tolower((unsigned char)at[1 + i]);
    out[len] = '\0';
    return 0;
}

/* ---- masks, buckets --------------------------------------------------------------- */

/* Appends up to N bytes of S to OUT (of OUTLEN), never splitting a
 * character; *AT is where the text ends. */
static void put(char *out, size_t outlen, size_t *at, const char *s, size_t n)
{
    while (n > 0 && *at + 1 < outlen) {
        size_t k = 1;
        while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
            k++;
        if (*at + k + 1 > outlen)
            break;
        memcpy(out + *at, s, k);
        *at += k;
        s += k;
        n -= k;
    }
    out[*at] = '\0';
}

static size_t first_char_len(const char *s)
{
    size_t k = s[0] ? 1 : 0;
    while (k > 0 && s[k] && ((unsigned char)s[k] & 0xC0) == 0x80)
        k++;
    return k;
}

void audience_mask(const char *id, char *out, size_t outlen)
{
    size_t at = 0;
    if (!out || outlen == 0)
        return;
    out[0] = '\0';
    if (!id)
        id = "";
    size_t n = strlen(id);
    if (n >= 10 && id[0] == '+' && strspn(id + 1, "0123456789") == n - 1) {
        put(out, outlen, &at, id, 5);
        for (size_t i = 5; i < n - 4; i++)
            put(out, outlen, &at, "*", 1);
        put(out, outlen, &at, id + n - 4, 4);
        return;
    }
    const char *sign = strrchr(id, '@');
    put(out, outlen, &at, id, first_char_len(id));
    put(out, outlen, &at, "***", 3);
    if (sign && sign != id && sign[1])
        put(out, outlen, &at, sign, strlen(sign));
}

unsigned audience_bucket(const char *id, unsigned nbuckets)
{
    /* FNV-1a, 32 bits: the importer and audience.lua compute the same. */
    uint32_t h = 2166136261u;
    if (nbuckets == 0 || !id)
        return 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return (unsigned)(h % nbuckets);
}

unsigned audience_buckets_for(long long expected)
{
    const long long per_bucket = 100, most = 1LL << 20;
    if (expected <= 0)
        return 1;
    long long b = expected / per_bucket + (expected % per_bucket != 0);
    return (unsigned)(b > most ? most : b);
}

/* ---- the header row ----------------------------------------------------------------- */

/* A header cell for a message: at most 40 bytes, whole characters, no
 * control characters (a header is not personal data, but it is input). */
static void shown(const char *s, char *out, size_t outlen)
{
    size_t at = 0, n = strlen(s);
    put(out, outlen, &at, s, n > 40 ? 40 : n);
    for (size_t i = 0; i < at; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7F || out[i] == '"')
            out[i] = '?';
}

/* The header cell trimmed and lowercased into NAME (of 64); 0, or -1 when
 * it is longer than that. */
static int header_name(const char *cell, char *name, size_t cap)
{
    const char *s;
    size_t len;
    trim(cell, &s, &len);
    if (len + 1 > cap)
        return -1;
    for (size_t i = 0; i < len; i++)
        name[i] = (char)tolower((unsigned char)s[i]);
    name[len] = '\0';
    return 0;
}

enum role { ROLE_ID, ROLE_NAME, ROLE_LANG, ROLE_STATUS, ROLE_CUSTOM };

static enum role header_role(const char *name, audience_kind *kind)
{
    if (strcmp(name, "phone") == 0 || strcmp(name, "mobile") == 0) {
        *kind = AUDIENCE_PHONE;
        return ROLE_ID;
    }
    if (strcmp(name, "email") == 0) {
        *kind = AUDIENCE_EMAIL;
        return ROLE_ID;
    }
    if (strcmp(name, "name") == 0)
        return ROLE_NAME;
    if (strcmp(name, "lang") == 0 || strcmp(name, "language") == 0)
        return ROLE_LANG;
    if (strcmp(name, "status") == 0)
        return ROLE_STATUS;
    return ROLE_CUSTOM;
}

static int custom_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 32 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static const char *const role_names[] = {"the member id", "name", "lang", "status"};

static int header_cell(const char **fields, int col, audience_layout *l, char *why, size_t whylen)
{
    char name[64], was_name[64], show[48], other[48];
    shown(fields[col], show, sizeof show);
    if (header_name(fields[col], name, sizeof name) != 0) {
        errmsg_set(why, whylen, "column %d: a column name of over 32 bytes", col + 1);
        return -1;
    }
    if (name[0] == '\0') {
        errmsg_set(why, whylen, "column %d has no name", col + 1);
        return -1;
    }
    audience_kind kind = AUDIENCE_PHONE;
    enum role role = header_role(name, &kind);
    int *slot[] = {&l->id_col, &l->name_col, &l->lang_col, &l->status_col};
    if (role != ROLE_CUSTOM) {
        int was = *slot[role];
        if (was >= 0) {
            shown(fields[was], other, sizeof other);
            if (header_name(fields[was], was_name, sizeof was_name) == 0 &&
                strcmp(name, was_name) == 0)
                errmsg_set(why, whylen, "column %d \"%s\" appears twice (first in column %d)",
                           col + 1, show, was + 1);
            else
                errmsg_set(why, whylen, "column %d \"%s\": %s is already column %d \"%s\"", col + 1,
                           show, role_names[role], was + 1, other);
            return -1;
        }
        *slot[role] = col;
        if (role == ROLE_ID)
            l->kind = kind;
        return 0;
    }
    if (!custom_name_ok(name)) {
        errmsg_set(why, whylen,
                   "column %d \"%s\": a custom column's name is 1-32 of a-z, 0-9 and _ (or phone, "
                   "email, name, lang, status)",
                   col + 1, show);
        return -1;
    }
    for (int i = 0; i < l->ncustom; i++)
        if (strcmp(l->custom[i], name) == 0) {
            errmsg_set(why, whylen, "column %d \"%s\" appears twice (first in column %d)", col + 1,
                       show, l->custom_col[i] + 1);
            return -1;
        }
    if (l->ncustom == AUDIENCE_FIELDS_MAX) {
        errmsg_set(why, whylen, "column %d \"%s\": over %d custom columns", col + 1, show,
                   AUDIENCE_FIELDS_MAX);
        return -1;
    }
    l->custom_col[l->ncustom] = col;
    memcpy(l->custom[l->ncustom], name, strlen(name) + 1); /* 1-32 bytes: checked */
    l->ncustom++;
    return 0;
}

int audience_layout_from_header(const char **fields, int n, audience_layout *l, char *why,
                                size_t whylen)
{
    memset(l, 0, sizeof *l);
    l->id_col = l->name_col = l->lang_col = l->status_col = -1;
    if (why && whylen)
        why[0] = '\0';
    if (n < 1) {
        errmsg_set(why, whylen, "no header row");
        return -1;
    }
    l->ncols = n;
    for (int col = 0; col < n; col++)
        if (header_cell(fields, col, l, why, whylen) != 0)
            return -1;
    if (l->id_col < 0) {
        errmsg_set(why, whylen, "no \"phone\" or \"email\" column: one of them is the member id");
        return -1;
    }
    return 0;
}

/* ---- a data row ----------------------------------------------------------------------- */

#define NAME_MAX_CHARS 100
#define CUSTOM_MAX_CHARS 1000
#define LANG_MAX 35

/* Valid UTF-8 without control characters (C0, DEL, C1); 0 or -1 with WHY. */
static int cell_text_ok(const char *col, const char *s, size_t n, char *why, size_t whylen)
{
    size_t bad;
    if (!utf8_valid(s, n, &bad)) {
        errmsg_set(why, whylen, "%s: not UTF-8 at byte %zu", col, bad + 1);
        return -1;
    }
    size_t character = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            character++;
        if (c < 0x20 || c == 0x7F || (c == 0xC2 && (unsigned char)s[i + 1] < 0xA0)) {
            errmsg_set(why, whylen, "%s: a control character (character %zu)", col, character);
            return -1;
        }
    }
    return 0;
}

/* Characters of valid UTF-8 S[0..n). */
static size_t chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            k++;
    return k;
}

/*
 * A BCP 47-like tag: a primary language of 2-3 letters, then subtags of
 * 1-8 letters or digits joined by '-'. Written in the registry's case
 * ("ko", "zh-Hant", "en-US") into OUT (of LANG_MAX + 1).
 */
static int lang_normalize(const char *s, size_t n, char *out, char *why, size_t whylen)
{
    if (n > LANG_MAX) {
        errmsg_set(why, whylen, "lang: %zu bytes, at most %d", n, LANG_MAX);
        return -1;
    }
    size_t i = 0;
    int subtag = 0;
    while (i <= n) {
        size_t start = i, alpha = 0, digit = 0;
        while (i < n && s[i] != '-') {
            unsigned char c = (unsigned char)s[i];
            if (isalpha(c) && c < 0x80)
                alpha++;
            else if (isdigit(c))
                digit++;
            else {
                errmsg_set(why, whylen,
                           "lang: character %zu is not a letter, digit or '-' (a tag like ko, en, "
                           "zh-Hant)",
                           i + 1);
                return -1;
            }
            i++;
        }
        size_t len = i - start;
        if (subtag == 0 && (len < 2 || len > 3 || digit)) {
            errmsg_set(why, whylen, "lang: the language is 2 or 3 letters (ko, en)");
            return -1;
        }
        if (len < 1 || len > 8) {
            errmsg_set(why, whylen, "lang: part %d is %zu characters, 1-8 needed", subtag + 1, len);
            return -1;
        }
        for (size_t k = start; k < i; k++) {
            int upper = (subtag > 0 && len == 2 && alpha == 2) ||
                        (subtag > 0 && len == 4 && alpha == 4 && k == start);
            out[k] = (char)(upper ? toupper((unsigned char)s[k]) : tolower((unsigned char)s[k]));
        }
        subtag++;
        if (i == n)
            break;
        out[i++] = '-';
    }
    out[n] = '\0';
    return 0;
}

static int status_from_cell(const char *s, size_t n, audience_status *status, char *why,
                            size_t whylen)
{
    char name[16];
    *status = AUDIENCE_ACTIVE;
    if (n == 0)
        return 0;
    int st = -1;
    if (n < sizeof name) {
        for (size_t i = 0; i < n; i++)
            name[i] = (char)tolower((unsigned char)s[i]);
        name[n] = '\0';
        st = audience_status_parse(name);
    }
    if (st < 0 || st == AUDIENCE_REMOVED) {
        errmsg_set(
            why, whylen,
            "status: not one of active, unsubscribed, blocked, bounced, suppressed (or empty)");
        return -1;
    }
    *status = (audience_status)st;
    return 0;
}

/* The trimmed cell COL of a row, or "" when the column is absent. */
static void cell(const char **fields, int col, const char **s, size_t *n)
{
    if (col < 0) {
        *s = "";
        *n = 0;
        return;
    }
    trim(fields[col], s, n);
}

static int row_text(json_t *record, const char *what, const char *s, size_t n, size_t most,
                    char *why, size_t whylen)
{
    if (cell_text_ok(what, s, n, why, whylen) != 0)
        return -1;
    size_t k = chars(s, n);
    if (k > most) {
        errmsg_set(why, whylen, "%s: %zu characters, at most %zu", what, k, most);
        return -1;
    }
    if (json_array_append_new(record, json_stringn(s, n)) != 0) {
        errmsg_set(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

static int row_id(const audience_layout *l, const char **fields, char *id, size_t idlen, char *why,
                  size_t whylen)
{
    const char *what = l->kind == AUDIENCE_PHONE ? "phone" : "email";
    char reason[200];
    int rc = l->kind == AUDIENCE_PHONE
                 ? audience_phone_normalize(fields[l->id_col], id, idlen, reason, sizeof reason)
                 : audience_email_normalize(fields[l->id_col], id, idlen, reason, sizeof reason);
    if (rc != 0)
        errmsg_set(why, whylen, "%s: %s", what, reason);
    return rc;
}

int audience_row(const audience_layout *l, const char **fields, int n, char *id, size_t idlen,
                 json_t **record, audience_status *status, char *why, size_t whylen)
{
    const char *s;
    size_t len;
    char lang[LANG_MAX + 1] = "";
    *record = NULL;
    *status = AUDIENCE_ACTIVE;
    if (why && whylen)
        why[0] = '\0';
    if (n != l->ncols) {
        errmsg_set(why, whylen, "%d cells, the header has %d", n, l->ncols);
        return -1;
    }
    if (row_id(l, fields, id, idlen, why, whylen) != 0)
        return -1;
    cell(fields, l->lang_col, &s, &len);
    if (len > 0 && lang_normalize(s, len, lang, why, whylen) != 0)
        return -1;
    cell(fields, l->status_col, &s, &len);
    if (status_from_cell(s, len, status, why, whylen) != 0)
        return -1;
    json_t *rec = json_array();
    if (!rec || json_array_append_new(rec, json_string(id)) != 0) {
        json_decref(rec);
        errmsg_set(why, whylen, "out of memory");
        return -1;
    }
    cell(fields, l->name_col, &s, &len);
    if (row_text(rec, "name", s, len, NAME_MAX_CHARS, why, whylen) != 0 ||
        json_array_append_new(rec, json_string(lang)) != 0)
        goto refused;
    for (int i = 0; i < l->ncustom; i++) {
        cell(fields, l->custom_col[i], &s, &len);
        if (row_text(rec, l->custom[i], s, len, CUSTOM_MAX_CHARS, why, whylen) != 0)
            goto refused;
    }
    *record = rec;
    return 0;
refused:
    if (why && whylen && !why[0])
        errmsg_set(why, whylen, "out of memory");
    json_decref(rec);
    *status = AUDIENCE_ACTIVE;
    return -1;
}
