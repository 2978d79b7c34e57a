/*
 * diag.h - validation errors as data: each one a JSON Pointer (RFC 6901)
 * path, a stable rule code and a message for people.
 *
 * The validator, the config loader and the API all report through a
 * diag_list, so that `haechi validate`, a 400 answer and a refused config
 * read the same.
 */
#ifndef HAECHI_DIAG_H
#define HAECHI_DIAG_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* A list stops growing at this many entries and says how many it dropped;
 * a hostile document must not make an unbounded answer. */
#define DIAG_MAX 200

typedef struct diag {
    char *path;    /* JSON Pointer; "" is the whole document */
    char *rule;    /* stable code, e.g. "unknown-field", "range" */
    char *message; /* one line for people */
} diag;

typedef struct diag_list {
    diag *items;
    size_t len, cap;
    size_t dropped;
    int oom;
} diag_list;

void diag_list_init(diag_list *l);
void diag_list_release(diag_list *l);

void diag_add(diag_list *l, const char *path, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void diag_addv(diag_list *l, const char *path, const char *rule, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static inline int diag_any(const diag_list *l)
{
    return l->len > 0 || l->dropped > 0 || l->oom;
}

/* One line per error: "PATH: MESSAGE" ("/" stands for the whole document). */
void diag_print(const diag_list *l, FILE *out);

/* [{"path": ..., "rule": ..., "message": ...}, ...]; new reference or NULL. */
json_t *diag_to_json(const diag_list *l);

/* N as "350,000": counts and limits in messages, as people read them in
 * the services' own docs. OUT is always terminated. */
void diag_thousands(long long n, char *out, size_t len);

/*
 * jpath - a growable JSON Pointer built while walking a document.
 * Push returns the length to pop back to.
 */
typedef struct jpath {
    char *buf;
    size_t len, cap;
} jpath;

void jpath_init(jpath *p);
void jpath_release(jpath *p);
size_t jpath_push_key(jpath *p, const char *key);
size_t jpath_push_index(jpath *p, size_t index);
void jpath_pop(jpath *p, size_t mark);
static inline const char *jpath_str(const jpath *p)
{
    return p->buf ? p->buf : "";
}

#endif
