/*
 * diag.c - error lists and JSON Pointer paths (RFC 6901).
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void diag_list_init(diag_list *l)
{
    memset(l, 0, sizeof *l);
}

void diag_list_release(diag_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].path);
        free(l->items[i].rule);
        free(l->items[i].message);
    }
    free(l->items);
    diag_list_init(l);
}

/*
 * Messages quote what the user wrote, and check functions may quote a single
 * byte of it. A quote cut short by the buffer, or a lone byte, must not
 * leave invalid UTF-8: the --json and API answers could not be built.
 * A cut message ends in "..." at a character boundary; a stray byte
 * becomes '?'.
 */
static void make_utf8(char *msg, size_t size, int cut)
{
    size_t len = strlen(msg), at = 0, bad;

    if (cut && size >= 4) {
        size_t end = size - 4;
        while (end > 0 && ((unsigned char)msg[end] & 0xC0) == 0x80)
            end--;
        memcpy(msg + end, "...", 4);
        len = end + 3;
    }
    while (at < len && !utf8_valid(msg + at, len - at, &bad)) {
        msg[at + bad] = '?';
        at += bad + 1;
    }
}

void diag_add(diag_list *l, const char *path, const char *rule, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_addv(l, path, rule, fmt, ap);
    va_end(ap);
}

void diag_addv(diag_list *l, const char *path, const char *rule, const char *fmt, va_list ap)
{
    char msg[512];

    if (l->len >= DIAG_MAX) {
        l->dropped++;
        return;
    }
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        diag *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            l->oom = 1;
            return;
        }
        l->items = items;
        l->cap = cap;
    }
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n < 0)
        msg[0] = '\0';
    make_utf8(msg, sizeof msg, n >= (int)sizeof msg);

    diag *d = &l->items[l->len];
    d->path = strdup(path ? path : "");
    d->rule = strdup(rule);
    d->message = strdup(msg);
    if (!d->path || !d->rule || !d->message) {
        free(d->path);
        free(d->rule);
        free(d->message);
        l->oom = 1;
        return;
    }
    l->len++;
}

void diag_print(const diag_list *l, FILE *out)
{
    for (size_t i = 0; i < l->len; i++) {
        const char *path = l->items[i].path[0] ? l->items[i].path : "/";
        fprintf(out, "%s: %s\n", path, l->items[i].message);
    }
    if (l->dropped)
        fprintf(out, "/: %zu more errors not shown (at most %d are listed)\n", l->dropped,
                DIAG_MAX);
    if (l->oom)
        fputs("/: out of memory while listing errors; the list is incomplete\n", out);
}

json_t *diag_to_json(const diag_list *l)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < l->len; i++) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "path", l->items[i].path, "rule", l->items[i].rule,
                              "message", l->items[i].message);
        if (!e || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    if (l->dropped) {
        char msg[128];
        snprintf(msg, sizeof msg, "%zu more errors not shown (at most %d are listed)", l->dropped,
                 DIAG_MAX);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "path", "", "rule",
                                             "too-many-errors", "message", msg));
    }
    return arr;
}

/* ---- jpath ------------------------------------------------------------ */

void jpath_init(jpath *p)
{
    memset(p, 0, sizeof *p);
}

void jpath_release(jpath *p)
{
    free(p->buf);
    jpath_init(p);
}

static int jpath_reserve(jpath *p, size_t extra)
{
    if (p->len + extra + 1 <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < p->len + extra + 1)
        cap *= 2;
    char *buf = realloc(p->buf, cap);
    if (!buf)
        return -1;
    p->buf = buf;
    p->cap = cap;
    return 0;
}

size_t jpath_push_key(jpath *p, const char *key)
{
    size_t mark = p->len;
    size_t klen = strlen(key);

    /* Worst case every byte is escaped to two. */
    if (jpath_reserve(p, 1 + 2 * klen) != 0)
        return mark;
    p->buf[p->len++] = '/';
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '~') {
            p->buf[p->len++] = '~';
            p->buf[p->len++] = '0';
        } else if (key[i] == '/') {
            p->buf[p->len++] = '~';
            p->buf[p->len++] = '1';
        } else {
            p->buf[p->len++] = key[i];
        }
    }
    p->buf[p->len] = '\0';
    return mark;
}

size_t jpath_push_index(jpath *p, size_t index)
{
    size_t mark = p->len;
    if (jpath_reserve(p, 24) != 0)
        return mark;
    int n = snprintf(p->buf + p->len, p->cap - p->len, "/%zu", index);
    if (n > 0)
        p->len += (size_t)n;
    return mark;
}

void jpath_pop(jpath *p, size_t mark)
{
    if (p->buf && mark <= p->len) {
        p->len = mark;
        p->buf[mark] = '\0';
    }
}

void diag_thousands(long long n, char *out, size_t len)
{
    char digits[32];
    int k = snprintf(digits, sizeof digits, "%lld", n);
    const char *d = digits[0] == '-' ? digits + 1 : digits;
    size_t used = 0;
    if (len == 0)
        return;
    if (d != digits && used + 1 < len)
        out[used++] = '-';
    k -= (int)(d - digits);
    for (int i = 0; i < k && used + 1 < len; i++) {
        if (i && (k - i) % 3 == 0) {
            if (used + 2 >= len)
                break;
            out[used++] = ',';
        }
        out[used++] = d[i];
    }
    out[used] = '\0';
}
