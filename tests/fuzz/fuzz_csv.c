/*
 * fuzz_csv.c - an audience import's pure half on any bytes: the CSV
 * reader, the header row and every data row. Byte 0 picks the size of
 * the reads (and, with its top bit, an e-mail list when the header is not
 * one); the rest is the file. What holds for any file: reads of one size
 * and of another give the same records, lines only go forward, a refusal
 * says why and never shows the member id it refused, an accepted member's
 * id is already normal (normalising it again changes nothing) and its
 * record has one string per column.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "audience.h"

typedef struct src {
    const uint8_t *data;
    size_t len, at, chunk;
} src;

static long src_read(void *arg, char *buf, size_t len)
{
    src *s = arg;
    size_t n = s->len - s->at;
    if (n > len)
        n = len;
    if (n > s->chunk)
        n = s->chunk;
    memcpy(buf, s->data + s->at, n);
    s->at += n;
    return (long)n;
}

static int same_record(int rc, const char **f, long long line, const char *why, int rc2,
                       const char **f2, long long line2, const char *why2)
{
    if (rc != rc2 || line != line2)
        return 0;
    if (rc < 0)
        return strcmp(why, why2) == 0;
    for (int i = 0; i < rc; i++)
        if (strcmp(f[i], f2[i]) != 0)
            return 0;
    return 1;
}

static size_t digits_in(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s >= '0' && *s <= '9';
    return n;
}

static void check_accepted(const audience_layout *l, const char *id, json_t *record,
                           audience_status st)
{
    char again[AUDIENCE_ID_MAX + 1], why[256], masked[300], domestic[32];
    if (!id[0] || !json_is_array(record) || json_array_size(record) != (size_t)(3 + l->ncustom))
        abort();
    for (size_t i = 0; i < json_array_size(record); i++)
        if (!json_is_string(json_array_get(record, i)))
            abort();
    if (strcmp(json_string_value(json_array_get(record, 0)), id) != 0)
        abort();
    if ((int)st < 0 || st >= AUDIENCE_REMOVED)
        abort();
    int rc = l->kind == AUDIENCE_PHONE
                 ? audience_phone_normalize(id, again, sizeof again, why, sizeof why)
                 : audience_email_normalize(id, again, sizeof again, why, sizeof why);
    if (rc != 0 || strcmp(again, id) != 0)
        abort();
    if (l->kind == AUDIENCE_PHONE &&
        (audience_phone_domestic(id, domestic, sizeof domestic) != 0 || domestic[0] != '0'))
        abort();
    audience_mask(id, masked, sizeof masked);
    if (strstr(masked, id) || strlen(masked) < 3)
        abort();
}

static void check_row(const audience_layout *l, const char **f, int n)
{
    char id[AUDIENCE_ID_MAX + 1], why[256];
    json_t *record = NULL;
    audience_status st = AUDIENCE_ACTIVE;
    int rc = audience_row(l, f, n, id, sizeof id, &record, &st, why, sizeof why);
    if (rc == 0) {
        check_accepted(l, id, record, st);
        json_decref(record);
        return;
    }
    if (rc != -1 || record || !why[0] || strlen(why) >= sizeof why)
        abort();
    /* The member id is personal data: a refusal never repeats it. */
    if (n == l->ncols && l->id_col < n && digits_in(f[l->id_col]) >= 8 && strstr(why, f[l->id_col]))
        abort();
}

static const char *const fallback_phone[] = {"phone", "name", "lang", "ward", "status"};
static const char *const fallback_email[] = {"email", "name", "lang", "ward", "status"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    src whole = {data + 1, size - 1, 0, size};
    src pieces = {data + 1, size - 1, 0, 1 + (size_t)(data[0] & 0x1F)};
    csv_reader *a = csv_open(src_read, &whole), *b = csv_open(src_read, &pieces);
    const char *fa[CSV_FIELDS_MAX], *fb[CSV_FIELDS_MAX];
    char wa[256], wb[256];
    long long la, lb, last = 0;
    audience_layout l;
    int have_layout = 0;
    for (;;) {
        int ra = csv_next(a, fa, &la, wa, sizeof wa);
        int rb = csv_next(b, fb, &lb, wb, sizeof wb);
        if (!same_record(ra, fa, la, wa, rb, fb, lb, wb))
            abort();
        if (ra == 0)
            break;
        if (ra < -1 || ra > CSV_FIELDS_MAX || la <= last || (ra < 0 && !wa[0]))
            abort();
        last = la;
        if (ra < 0)
            continue;
        if (!have_layout) {
            char why[256];
            have_layout = 1;
            if (audience_layout_from_header(fa, ra, &l, why, sizeof why) == 0)
                continue;
            if (!why[0])
                abort();
            const char *const *fallback = data[0] & 0x80 ? fallback_email : fallback_phone;
            if (audience_layout_from_header((const char **)fallback, 5, &l, why, sizeof why) != 0)
                abort();
        }
        check_row(&l, fa, ra);
    }
    if (csv_source_failed(a) || csv_source_failed(b))
        abort();
    csv_close(a);
    csv_close(b);
    return 0;
}
