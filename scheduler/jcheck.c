/*
 * jcheck.c - the table-driven JSON shape walker (see jcheck.h).
 */
#include "jcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

void jcheck_init(jcheck_ctx *cx, diag_list *errs, void *user)
{
    cx->errs = errs;
    cx->user = user;
    jpath_init(&cx->path);
}

void jcheck_release(jcheck_ctx *cx)
{
    jpath_release(&cx->path);
}

void jcheck_error(jcheck_ctx *cx, const char *path, const char *rule, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_addv(cx->errs, path, rule, fmt, ap);
    va_end(ap);
}

const char *jcheck_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static const char *kind_name(jkind kind)
{
    switch (kind) {
    case JK_STRING:
    case JK_TEXT: return "a string";
    case JK_BOOL: return "a boolean (true or false)";
    case JK_INT: return "an integer";
    case JK_OBJECT: return "an object";
    case JK_ARRAY: return "an array";
    case JK_ANY: return "a value";
    }
    return "a value";
}

static int kind_matches(jkind kind, const json_t *v)
{
    switch (kind) {
    case JK_STRING:
    case JK_TEXT: return json_is_string(v);
    case JK_BOOL: return json_is_boolean(v);
    case JK_INT: return json_is_integer(v);
    case JK_OBJECT: return json_is_object(v);
    case JK_ARRAY: return json_is_array(v);
    case JK_ANY: return 1;
    }
    return 0;
}

/* Edit distance with transpositions, capped: only small distances matter. */
size_t jcheck_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t d[33][33];

    if (la > 32 || lb > 32)
        return 99;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

static const jfield *closest_field(const jobject *shape, const char *key)
{
    const jfield *best = NULL;
    size_t best_d = 3;
    for (const jfield *f = shape->fields; f->name; f++) {
        size_t d = jcheck_distance(key, f->name);
        if (d < best_d) {
            best = f;
            best_d = d;
        }
    }
    return best;
}

static void list_names(const jobject *shape, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const jfield *f = shape->fields; f->name && used < len; f++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", f->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void list_choices(const char *const *choices, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices[i] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", choices[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int check_string(jcheck_ctx *cx, const json_t *v, const jfield *f)
{
    const char *path = jpath_str(&cx->path);
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);

    if (strlen(s) != bytes) {
        jcheck_error(cx, path, "control-character", "must not contain a NUL character");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int allowed = f->kind == JK_TEXT && (*p == '\n' || *p == '\t' || *p == '\r');
        if ((*p < 0x20 || *p == 0x7F) && !allowed) {
            jcheck_error(cx, path, "control-character",
                         "must not contain control character U+%04X%s", *p,
                         f->kind == JK_STRING ? " (this field is a single line)" : "");
            return -1;
        }
    }
    size_t chars = utf8_length(s);
    if (f->min > 0 && chars < (size_t)f->min) {
        if (f->min == 1)
            jcheck_error(cx, path, "length", "must not be empty");
        else
            jcheck_error(cx, path, "length", "is %zu characters, under the minimum of %lld", chars,
                         f->min);
        return -1;
    }
    if (f->max > 0 && chars > (size_t)f->max) {
        jcheck_error(cx, path, "length", "is %zu characters, over the limit of %lld", chars,
                     f->max);
        return -1;
    }
    if (f->choices) {
        for (size_t i = 0; f->choices[i]; i++)
            if (strcmp(s, f->choices[i]) == 0)
                return 0;
        char list[512];
        list_choices(f->choices, list, sizeof list);
        jcheck_error(cx, path, "enum", "\"%s\" is not one of: %s", s, list);
        return -1;
    }
    return 0;
}

static int check_int(jcheck_ctx *cx, const json_t *v, const jfield *f)
{
    long long n = json_integer_value(v);
    if (n < f->min || (f->max != 0 && n > f->max)) {
        jcheck_error(cx, jpath_str(&cx->path), "range", "%lld is out of range %lld-%lld", n, f->min,
                     f->max);
        return -1;
    }
    return 0;
}

static int check_value(jcheck_ctx *cx, json_t *v, const jfield *f);

static int check_array(jcheck_ctx *cx, json_t *v, const jfield *f)
{
    const char *path = jpath_str(&cx->path);
    size_t n = json_array_size(v);
    int bad = 0;

    if (f->min > 0 && n < (size_t)f->min) {
        if (f->min == 1)
            jcheck_error(cx, path, "length", "must not be empty");
        else
            jcheck_error(cx, path, "length", "has %zu items, under the minimum of %lld", n, f->min);
        return -1;
    }
    if (f->max > 0 && n > (size_t)f->max) {
        jcheck_error(cx, path, "length", "has %zu items, over the limit of %lld", n, f->max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mark = jpath_push_index(&cx->path, i);
        json_t *item = json_array_get(v, i);
        if (check_value(cx, item, f->item) != 0) {
            bad = 1;
        } else if (f->unique) {
            for (size_t j = 0; j < i; j++) {
                if (json_equal(item, json_array_get(v, j))) {
                    jcheck_error(cx, jpath_str(&cx->path), "unique",
                                 "repeats item %zu of the same list", j);
                    bad = 1;
                    break;
                }
            }
        }
        jpath_pop(&cx->path, mark);
    }
    return bad ? -1 : 0;
}

static int check_object(jcheck_ctx *cx, json_t *obj, const jobject *shape)
{
    size_t before = cx->errs->len + cx->errs->dropped;
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        const jfield *f = shape->fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f->name && shape->open)
            continue;
        size_t mark = jpath_push_key(&cx->path, key);
        if (!f->name) {
            const jfield *near = closest_field(shape, key);
            if (near) {
                jcheck_error(cx, jpath_str(&cx->path), "unknown-field",
                             "unknown field (did you mean \"%s\"?)", near->name);
            } else {
                char list[512];
                list_names(shape, list, sizeof list);
                jcheck_error(cx, jpath_str(&cx->path), "unknown-field",
                             "unknown field; known here: %s", list);
            }
        } else {
            check_value(cx, v, f);
        }
        jpath_pop(&cx->path, mark);
    }
    int missing = 0;
    for (const jfield *f = shape->fields; f->name; f++) {
        if (!f->required || json_object_get(obj, f->name))
            continue;
        size_t mark = jpath_push_key(&cx->path, f->name);
        jcheck_error(cx, jpath_str(&cx->path), "required", "required field is missing");
        jpath_pop(&cx->path, mark);
        missing = 1;
    }
    /* A missing required field already says what to add. */
    if (!missing && shape->min_fields > 0 && json_object_size(obj) < shape->min_fields) {
        char list[512];
        list_names(shape, list, sizeof list);
        jcheck_error(cx, jpath_str(&cx->path), "length", "needs at least one of: %s", list);
    }
    if (cx->errs->len + cx->errs->dropped != before)
        return -1;
    if (shape->check)
        return shape->check(cx, obj, jpath_str(&cx->path));
    return 0;
}

static int check_value(jcheck_ctx *cx, json_t *v, const jfield *f)
{
    int rc = 0;

    if (!kind_matches(f->kind, v)) {
        jcheck_error(cx, jpath_str(&cx->path), "type", "must be %s, not %s", kind_name(f->kind),
                     jcheck_type_name(v));
        return -1;
    }
    switch (f->kind) {
    case JK_STRING:
    case JK_TEXT: rc = check_string(cx, v, f); break;
    case JK_INT: rc = check_int(cx, v, f); break;
    case JK_ARRAY: rc = check_array(cx, v, f); break;
    case JK_OBJECT: rc = check_object(cx, v, f->object); break;
    case JK_BOOL:
    case JK_ANY: break;
    }
    if (rc == 0 && f->check)
        rc = f->check(cx, v, jpath_str(&cx->path));
    return rc;
}

int jcheck_value(jcheck_ctx *cx, json_t *value, const jfield *field)
{
    return check_value(cx, value, field);
}

size_t jcheck_object(jcheck_ctx *cx, json_t *root, const jobject *shape)
{
    size_t before = cx->errs->len + cx->errs->dropped;
    if (!json_is_object(root)) {
        jcheck_error(cx, jpath_str(&cx->path), "type", "must be an object, not %s",
                     jcheck_type_name(root));
    } else {
        check_object(cx, root, shape);
    }
    return cx->errs->len + cx->errs->dropped - before;
}

/* ---- copying into structs ------------------------------------------------ */

static int store_field(const json_t *v, const jfield *f, char *base)
{
    char *to = base + f->offset;
    switch (f->kind) {
    case JK_STRING:
    case JK_TEXT: {
        size_t n = json_string_length(v);
        if (!json_is_string(v) || n >= f->size)
            return -1;
        memcpy(to, json_string_value(v), n + 1);
        return 0;
    }
    case JK_INT: {
        long long i = json_integer_value(v);
        if (f->size != sizeof i)
            return -1;
        memcpy(to, &i, sizeof i);
        return 0;
    }
    case JK_BOOL: {
        int b = json_is_true(v);
        if (f->size != sizeof b)
            return -1;
        memcpy(to, &b, sizeof b);
        return 0;
    }
    case JK_OBJECT: {
        /* A nested section: its struct begins with an int that says it was given. */
        int present = 1;
        if (!f->object || f->size < sizeof present || !json_is_object(v))
            return -1;
        memcpy(to, &present, sizeof present);
        return jcheck_store(v, f->object, to);
    }
    default: return -1;
    }
}

int jcheck_store(const json_t *obj, const jobject *shape, void *base)
{
    for (const jfield *f = shape->fields; f && f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        if (v && f->stored && store_field(v, f, base) != 0)
            return -1;
    }
    return 0;
}
