/* The table-driven shape walker (jcheck.h) and JSON Pointers (diag.h). */
#include "check.h"
#include "jcheck.h"

static const char *const colours[] = {"red", "green", NULL};
static const jfield tag_item = {.kind = JK_STRING, .min = 1, .max = 5};
static const jfield inner_fields[] = {{.name = "n", .kind = JK_INT, .min = 1, .max = 10}, {0}};
static const jobject inner = {.fields = inner_fields};
static const jfield outer_fields[] = {
    {.name = "title", .kind = JK_STRING, .required = 1, .min = 1, .max = 8},
    {.name = "body", .kind = JK_TEXT, .max = 100},
    {.name = "colour", .kind = JK_STRING, .choices = colours},
    {.name = "tags", .kind = JK_ARRAY, .max = 3, .unique = 1, .item = &tag_item},
    {.name = "inner", .kind = JK_OBJECT, .object = &inner},
    {.name = "a/b~c", .kind = JK_BOOL},
    {0}};
static const jobject outer = {.fields = outer_fields};

/* Runs the walker over TEXT; returns the errors as "path|rule|message" lines. */
static void walk(const char *text, char *out, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    diag_list errs;
    jcheck_ctx cx;
    size_t used = 0;

    out[0] = '\0';
    if (!doc) {
        snprintf(out, len, "bad test JSON: %s", jerr.text);
        return;
    }
    diag_list_init(&errs);
    jcheck_init(&cx, &errs, NULL);
    jcheck_object(&cx, doc, &outer);
    for (size_t i = 0; i < errs.len && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s|%s|%s\n", errs.items[i].path,
                         errs.items[i].rule, errs.items[i].message);
        if (n > 0)
            used += (size_t)n;
    }
    jcheck_release(&cx);
    diag_list_release(&errs);
    json_decref(doc);
}

static const struct {
    const char *name, *doc, *want;
} cases[] = {
    {"valid", "{\"title\":\"ok\",\"tags\":[\"a\",\"b\"],\"inner\":{\"n\":3}}", ""},
    {"missing required", "{}", "/title|required|required field is missing\n"},
    {"typo suggests", "{\"title\":\"x\",\"titel\":\"y\"}",
     "/titel|unknown-field|unknown field (did you mean \"title\"?)\n"},
    {"unknown lists fields", "{\"title\":\"x\",\"zzzzzzzz\":1}",
     "/zzzzzzzz|unknown-field|unknown field; known here: title, body, colour, tags, inner, "
     "a/b~c\n"},
    {"wrong type", "{\"title\":5}", "/title|type|must be a string, not an integer\n"},
    {"real is not int", "{\"title\":\"x\",\"inner\":{\"n\":1.5}}",
     "/inner/n|type|must be an integer, not a number with a fraction\n"},
    {"int range", "{\"title\":\"x\",\"inner\":{\"n\":11}}",
     "/inner/n|range|11 is out of range 1-10\n"},
    {"too long counts characters", "{\"title\":\"잠시멈춤잠시멈춤x\"}",
     "/title|length|is 9 characters, over the limit of 8\n"},
    {"hangul within limit", "{\"title\":\"잠시멈춤잠시멈춤\"}", ""},
    {"empty string", "{\"title\":\"\"}", "/title|length|must not be empty\n"},
    {"control char in one-line field", "{\"title\":\"a\\nb\"}",
     "/title|control-character|must not contain control character U+000A (this field is a "
     "single line)\n"},
    {"newline allowed in text", "{\"title\":\"x\",\"body\":\"a\\nb\"}", ""},
    {"enum", "{\"title\":\"x\",\"colour\":\"blue\"}",
     "/colour|enum|\"blue\" is not one of: red, green\n"},
    {"array item path", "{\"title\":\"x\",\"tags\":[\"ok\",\"toolong\"]}",
     "/tags/1|length|is 7 characters, over the limit of 5\n"},
    {"unique items", "{\"title\":\"x\",\"tags\":[\"a\",\"a\"]}",
     "/tags/1|unique|repeats item 0 of the same list\n"},
    {"array too long", "{\"title\":\"x\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}",
     "/tags|length|has 4 items, over the limit of 3\n"},
    {"pointer escapes", "{\"title\":\"x\",\"a/b~c\":1}",
     "/a~1b~0c|type|must be a boolean (true or false), not an integer\n"},
    {"every error reported", "{\"titel\":1,\"colour\":2}",
     "/titel|unknown-field|unknown field (did you mean \"title\"?)\n"
     "/colour|type|must be a string, not an integer\n"
     "/title|required|required field is missing\n"},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[2048], why[4200];
        walk(cases[i].doc, got, sizeof got);
        snprintf(why, sizeof why, "got:\n%swant:\n%s", got, cases[i].want);
        check_row(cases[i].name, strcmp(got, cases[i].want) == 0, why);
    }
}

static void test_root_must_be_object(void)
{
    json_t *doc = json_array();
    diag_list errs;
    jcheck_ctx cx;
    diag_list_init(&errs);
    jcheck_init(&cx, &errs, NULL);
    CHECK_INT(jcheck_object(&cx, doc, &outer), 1);
    CHECK_STR(errs.items[0].path, "");
    CHECK_STR(errs.items[0].message, "must be an object, not an array");
    jcheck_release(&cx);
    diag_list_release(&errs);
    json_decref(doc);
}

static void test_diag_list_is_bounded(void)
{
    diag_list errs;
    diag_list_init(&errs);
    for (int i = 0; i < DIAG_MAX + 50; i++)
        diag_add(&errs, "/x", "rule", "error %d", i);
    CHECK_INT(errs.len, DIAG_MAX);
    CHECK_INT(errs.dropped, 50);
    json_t *j = diag_to_json(&errs);
    CHECK_INT(json_array_size(j), DIAG_MAX + 1);
    json_decref(j);
    diag_list_release(&errs);
}

typedef struct stored {
    char name[8];
    long long count;
    int on;
    int untouched;
} stored;

static void test_store(void)
{
    static const jfield fields[] = {
        {.name = "name", .kind = JK_STRING, .max = 7, JF_STORE(stored, name)},
        {.name = "count", .kind = JK_INT, JF_STORE(stored, count)},
        {.name = "on", .kind = JK_BOOL, JF_STORE(stored, on)},
        {.name = "other", .kind = JK_INT},
        {0}};
    static const jobject shape = {.fields = fields};
    stored s = {.untouched = 7, .count = 99};
    json_t *doc = json_loads("{\"name\":\"seoul\",\"on\":true,\"other\":3}", 0, NULL);
    CHECK_INT(jcheck_store(doc, &shape, &s), 0);
    CHECK_STR(s.name, "seoul");
    CHECK_INT(s.on, 1);
    CHECK_INT(s.count, 99); /* absent: kept */
    CHECK_INT(s.untouched, 7);
    json_decref(doc);
    /* A string longer than its array is refused, never cut. */
    doc = json_loads("{\"name\":\"much too long\"}", 0, NULL);
    CHECK_INT(jcheck_store(doc, &shape, &s), -1);
    CHECK_STR(s.name, "seoul");
    json_decref(doc);
}

int main(void)
{
    test_table();
    RUN(test_root_must_be_object);
    RUN(test_diag_list_is_bounded);
    RUN(test_store);
    return check_exit_status();
}
