/*
 * test_releases.c - releases_merge: later pages of a campaign's releases
 * folded into the first, as `haechi status` and rehearse do.
 */
#include <jansson.h>

#include "check.h"
#include "releases.h"

static json_t *page(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    if (!v)
        fprintf(stderr, "bad test JSON: %s\n", err.text);
    return v;
}

static const char *state_at(json_t *all, size_t i, const char *ch)
{
    json_t *f = json_array_get(json_object_get(all, "releases"), i);
    return json_string_value(
        json_object_get(json_object_get(json_object_get(f, "channels"), ch), "state"));
}

/* Firings new to the first page are added in due order; counts add up. */
static void test_merge_orders_and_counts(void)
{
    json_t *all = page("{\"releases\":[{\"release\":\"b\",\"due_ms\":2000,\"channels\":"
                       "{\"sns\":{\"state\":\"sent\"}}}],\"counts\":{\"sent\":1},"
                       "\"next_cursor\":\"17\"}");
    json_t *more = page("{\"releases\":[{\"release\":\"a\",\"due_ms\":1000,\"channels\":"
                        "{\"sns\":{\"state\":\"dead\"}}},{\"release\":\"b\",\"due_ms\":2000,"
                        "\"channels\":{\"alert\":{\"state\":\"sent\"}}}],"
                        "\"counts\":{\"sent\":1,\"dead\":1},\"next_cursor\":null}");
    releases_merge(all, more);
    json_decref(more);
    CHECK_INT(json_array_size(json_object_get(all, "releases")), 2);
    CHECK_STR(state_at(all, 0, "sns"), "dead");   /* a, due first */
    CHECK_STR(state_at(all, 1, "sns"), "sent");   /* b keeps its sns ... */
    CHECK_STR(state_at(all, 1, "alert"), "sent"); /* ... and gains alert */
    CHECK_INT(json_integer_value(json_object_get(json_object_get(all, "counts"), "sent")), 2);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(all, "counts"), "dead")), 1);
    CHECK(json_is_null(json_object_get(all, "next_cursor")));
    json_decref(all);
}

/* A fanned-out channel: its targets on one page, its own record on the
 * next (or the other way round); nothing is lost either way. */
static void test_merge_split_targets(void)
{
    const char *placeholder = "{\"releases\":[{\"release\":\"r\",\"due_ms\":5,\"channels\":"
                              "{\"sns\":{\"targets\":{\"x\":{\"state\":\"sent\"}}}}}],"
                              "\"counts\":{},\"next_cursor\":\"9\"}";
    const char *own =
        "{\"releases\":[{\"release\":\"r\",\"due_ms\":5,\"channels\":"
        "{\"sns\":{\"state\":\"partial\",\"targets\":{\"y\":{\"state\":\"dead\"}}}}}],"
        "\"counts\":{\"partial\":1},\"next_cursor\":null}";
    for (int order = 0; order < 2; order++) {
        json_t *all = page(order ? own : placeholder), *more = page(order ? placeholder : own);
        releases_merge(all, more);
        json_decref(more);
        json_t *sns = json_object_get(
            json_object_get(json_array_get(json_object_get(all, "releases"), 0), "channels"),
            "sns");
        json_t *targets = json_object_get(sns, "targets");
        CHECK_INT(json_array_size(json_object_get(all, "releases")), 1);
        CHECK_STR(json_string_value(json_object_get(sns, "state")), "partial");
        CHECK_INT(json_object_size(targets), 2);
        CHECK_STR(json_string_value(json_object_get(json_object_get(targets, "x"), "state")),
                  "sent");
        CHECK_STR(json_string_value(json_object_get(json_object_get(targets, "y"), "state")),
                  "dead");
        json_decref(all);
    }
}

int main(void)
{
    RUN(test_merge_orders_and_counts);
    RUN(test_merge_split_targets);
    return check_exit_status();
}
