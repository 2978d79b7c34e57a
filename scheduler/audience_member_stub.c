/*
 * audience_member_stub.c - THROW-AWAY stand-in for aud-pure's
 * audience_member.c, so that the store's branch builds and its tests run.
 * DELETE at merge (the real file replaces it).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "audience.h"

static const char *const status_names[AUDIENCE_STATUS_COUNT] = {
    "active", "unsubscribed", "blocked", "bounced", "suppressed", "removed"};

const char *audience_status_name(audience_status s)
{
    return (unsigned)s < AUDIENCE_STATUS_COUNT ? status_names[s] : "?";
}

int audience_status_parse(const char *name)
{
    for (int i = 0; i < AUDIENCE_STATUS_COUNT; i++)
        if (strcasecmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

int audience_phone_normalize(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
    char d[32];
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (isdigit((unsigned char)*p) && n < sizeof d - 1)
            d[n++] = *p;
        else if (!strchr(" -+().", *p)) {
            snprintf(why, whylen, "not a phone number");
            return -1;
        }
    }
    d[n] = '\0';
    const char *rest = strncmp(d, "82", 2) == 0 ? d + 2 : d[0] == '0' ? d + 1 : NULL;
    if (!rest || rest[0] != '1' || strlen(rest) < 9 || strlen(rest) > 10) {
        snprintf(why, whylen, "not a Korean mobile number");
        return -1;
    }
    snprintf(out, outlen, "+82%s", rest);
    return 0;
}

int audience_phone_domestic(const char *e164, char *out, size_t outlen)
{
    snprintf(out, outlen, "0%s", e164 + 3);
    return 0;
}

int audience_email_normalize(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
    const char *at = strchr(in, '@');
    if (!at || at == in || !strchr(at, '.') || strlen(in) > AUDIENCE_ID_MAX || strchr(in, '"')) {
        snprintf(why, whylen, "not an e-mail address");
        return -1;
    }
    snprintf(out, outlen, "%s", in);
    for (char *p = out + (at - in); *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

void audience_mask(const char *id, char *out, size_t outlen)
{
    size_t n = strlen(id);
    const char *at = strchr(id, '@');
    if (at)
        snprintf(out, outlen, "%c***%s", id[0], at);
    else if (n > 9)
        snprintf(out, outlen, "%.5s****%s", id, id + n - 4);
    else
        snprintf(out, outlen, "****");
}

unsigned audience_bucket(const char *id, unsigned nbuckets)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return nbuckets ? h % nbuckets : 0;
}

unsigned audience_buckets_for(long long expected)
{
    long long b = expected / 100 + 1;
    return b > 1000000 ? 1000000 : (unsigned)b;
}

int audience_layout_from_header(const char **fields, int n, audience_layout *l, char *why,
                                size_t whylen)
{
    memset(l, 0, sizeof *l);
    l->ncols = n;
    l->id_col = l->name_col = l->lang_col = l->status_col = -1;
    for (int i = 0; i < n; i++) {
        const char *f = fields[i];
        if (!strcasecmp(f, "phone") || !strcasecmp(f, "email")) {
            if (l->id_col >= 0) {
                snprintf(why, whylen, "column %d \"%s\": a second id column", i + 1, f);
                return -1;
            }
            l->id_col = i;
            l->kind = strcasecmp(f, "email") ? AUDIENCE_PHONE : AUDIENCE_EMAIL;
        } else if (!strcasecmp(f, "name")) {
            l->name_col = i;
        } else if (!strcasecmp(f, "lang")) {
            l->lang_col = i;
        } else if (!strcasecmp(f, "status")) {
            l->status_col = i;
        } else if (l->ncustom < AUDIENCE_FIELDS_MAX) {
            l->custom_col[l->ncustom] = i;
            snprintf(l->custom[l->ncustom++], 33, "%s", f);
        }
    }
    if (l->id_col < 0) {
        snprintf(why, whylen, "no phone or email column");
        return -1;
    }
    return 0;
}

int audience_row(const audience_layout *l, const char **fields, int n, char *id, size_t idlen,
                 json_t **record, audience_status *status, char *why, size_t whylen)
{
    char w[128];
    if (n != l->ncols) {
        snprintf(why, whylen, "%d columns, the header has %d", n, l->ncols);
        return -1;
    }
    int rc = l->kind == AUDIENCE_PHONE
                 ? audience_phone_normalize(fields[l->id_col], id, idlen, w, sizeof w)
                 : audience_email_normalize(fields[l->id_col], id, idlen, w, sizeof w);
    if (rc) {
        snprintf(why, whylen, "%s: %s", l->kind == AUDIENCE_PHONE ? "phone" : "email", w);
        return -1;
    }
    *status = AUDIENCE_ACTIVE;
    if (l->status_col >= 0 && fields[l->status_col][0]) {
        int s = audience_status_parse(fields[l->status_col]);
        if (s < 0 || s == AUDIENCE_REMOVED) {
            snprintf(why, whylen, "status: not a status");
            return -1;
        }
        *status = (audience_status)s;
    }
    json_t *r = json_array();
    json_array_append_new(r, json_string(id));
    json_array_append_new(r, json_string(l->name_col >= 0 ? fields[l->name_col] : ""));
    json_array_append_new(r, json_string(l->lang_col >= 0 ? fields[l->lang_col] : ""));
    for (int i = 0; i < l->ncustom; i++)
        json_array_append_new(r, json_string(fields[l->custom_col[i]]));
    *record = r;
    return 0;
}
