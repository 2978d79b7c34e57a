/* UTF-8 validation, counting and positions (utf8.h). */
#include "check.h"
#include "utf8.h"

static const struct {
    const char *name;
    const char *bytes;
    size_t len;
    int valid;
    size_t bad_at;
} cases[] = {
    {"ascii", "hello", 5, 1, 0},
    {"hangul", "\xEC\x9E\xA0\xEC\x8B\x9C", 6, 1, 0},
    {"four-byte emoji", "\xF0\x9F\x98\x80", 4, 1, 0},
    {"lone continuation", "a\x80", 2, 0, 1},
    {"overlong slash", "\xC0\xAF", 2, 0, 0},
    {"overlong three-byte", "\xE0\x80\xAF", 3, 0, 0},
    {"surrogate", "\xED\xA0\x80", 3, 0, 0},
    {"above U+10FFFF", "\xF4\x90\x80\x80", 4, 0, 0},
    {"truncated hangul", "ab\xEC\x9E", 4, 0, 2},
    {"latin-1 e-acute", "caf\xE9", 4, 0, 3},
    {"F5 lead byte", "\xF5\x80\x80\x80", 4, 0, 0},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 99;
        int v = utf8_valid(cases[i].bytes, cases[i].len, &bad);
        char why[128];
        snprintf(why, sizeof why, "valid=%d bad_at=%zu", v, bad);
        check_row(cases[i].name, v == cases[i].valid && (v || bad == cases[i].bad_at), why);
    }
}

static void test_length_counts_code_points(void)
{
    CHECK_INT(utf8_length("잠시 멈춤"), 5);
    CHECK_INT(utf8_length(""), 0);
    CHECK_INT(utf8_length("a\xF0\x9F\x98\x80"
                          "b"),
              3);
}

static void test_position_lines_and_columns(void)
{
    int line, col;
    const char *text = "{\n  \"t\": \"잠시\xFF\"\n}";
    utf8_position(text, 16, &line, &col);
    CHECK_INT(line, 2);
    CHECK_INT(col, 11);
    utf8_position(text, 0, &line, &col);
    CHECK_INT(line, 1);
    CHECK_INT(col, 1);
}

int main(void)
{
    test_table();
    RUN(test_length_counts_code_points);
    RUN(test_position_lines_and_columns);
    return check_exit_status();
}
