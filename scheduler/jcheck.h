/*
 * jcheck.h - checks a JSON document against a table that describes its
 * shape: which fields an object has, which are required, their types,
 * lengths, ranges and choices. Every problem goes to a diag_list with its
 * JSON Pointer; unknown fields are errors (with a "did you mean" when a
 * known field is close), so that a typo never passes silently.
 *
 * Rules a table cannot say (a cron expression, a time zone) hang off a
 * field as a check function. The campaign and the config are both read
 * through this one walker.
 */
#ifndef HAECHI_JCHECK_H
#define HAECHI_JCHECK_H

#include <jansson.h>
#include <stddef.h>

#include "diag.h"

typedef enum jkind {
    JK_STRING, /* one line: control characters refused */
    JK_TEXT,   /* may hold newlines and tabs */
    JK_BOOL,
    JK_INT,
    JK_OBJECT,
    JK_ARRAY,
    JK_ANY /* any JSON type; the check function decides */
} jkind;

struct jcheck_ctx;
typedef struct jobject jobject;

/*
 * A check runs after the field passed its type/length/choice rules and
 * reports through jcheck_error(); it returns 0 when the value is good.
 */
typedef int (*jcheck_fn)(struct jcheck_ctx *cx, json_t *value, const char *path);

typedef struct jfield {
    const char *name;
    jkind kind;
    unsigned required : 1;
    unsigned unique : 1;        /* arrays: no two equal items */
    long long min, max;         /* chars (strings), items (arrays), value (ints); max 0 = none */
    const char *const *choices; /* strings: the allowed values, NULL-terminated */
    const jobject *object;      /* JK_OBJECT: its fields */
    const struct jfield *item;  /* JK_ARRAY: the shape of each item (name unused) */
    jcheck_fn check;
    /* JF_STORE: where jcheck_store() copies the value in a config struct. */
    unsigned stored : 1;
    size_t offset, size;
} jfield;

/*
 * Marks a field to be copied by jcheck_store() into MEMBER of TYPE, the way
 * nginx's directive tables name their target with offsetof: a JK_STRING or
 * JK_TEXT into a char array (it must fit: set .max below its size), a
 * JK_INT into a long long, a JK_BOOL into an int, a JK_OBJECT into a
 * struct whose first member is an int set to 1 when the object is given
 * (its own JF_STORE fields are relative to that struct).
 */
#define JF_STORE(type, member)                                                                     \
    .stored = 1, .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

struct jobject {
    const jfield *fields; /* terminated by an entry with name NULL */
    size_t min_fields;    /* e.g. a language map needs at least one */
    jcheck_fn check;      /* runs on the whole object after its fields */
    unsigned open : 1;    /* members not listed are left to check */
};

typedef struct jcheck_ctx {
    diag_list *errs;
    jpath path;
    void *user; /* the caller's state for its check functions */
} jcheck_ctx;

void jcheck_init(jcheck_ctx *cx, diag_list *errs, void *user);
void jcheck_release(jcheck_ctx *cx);

/* Walks ROOT, which must be an object shaped like SHAPE. Returns the number
 * of errors it added. */
size_t jcheck_object(jcheck_ctx *cx, json_t *root, const jobject *shape);

/*
 * Copies the JF_STORE fields of OBJ (which passed jcheck_object() against
 * SHAPE) into the struct at BASE. Fields absent from OBJ keep what BASE
 * holds. Returns 0, or -1 when a stored string does not fit its array (a
 * table bug: .max is meant to prevent it).
 */
int jcheck_store(const json_t *obj, const jobject *shape, void *base);

/* Checks VALUE against FIELD at the current path; for check functions of
 * JK_ANY fields that accept more than one shape. Returns 0 when good. */
int jcheck_value(jcheck_ctx *cx, json_t *value, const jfield *field);

void jcheck_error(jcheck_ctx *cx, const char *path, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Edit distance (with transpositions) between two short names, for "did
 * you mean" hints; 99 for names over 32 bytes. */
size_t jcheck_distance(const char *a, const char *b);

/* "a string", "an array", ... for messages. */
const char *jcheck_type_name(const json_t *value);

#endif
