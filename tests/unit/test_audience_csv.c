/* The streaming CSV reader (audience.h): RFC 4180 records, errors with
 * their lines, resynchronisation, and the same records whatever the reads. */
#include <stdlib.h>

#include "audience.h"
#include "check.h"

/* ---- sources -------------------------------------------------------------------------- */

typedef struct mem_src {
    const char *data;
    size_t len, at, chunk;
    long fail_after; /* -1 after this many bytes (-1: never) */
} mem_src;

static long mem_read(void *arg, char *buf, size_t len)
{
    mem_src *m = arg;
    if (m->fail_after >= 0 && m->at >= (size_t)m->fail_after)
        return -1;
    size_t n = m->len - m->at;
    if (n > len)
        n = len;
    if (n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->data + m->at, n);
    m->at += n;
    return (long)n;
}

static mem_src mem(const char *data, size_t len, size_t chunk)
{
    mem_src m = {data, len, 0, chunk, -1};
    return m;
}

/* What one csv_next() gave, flattened: "rc|line|f1|f2...|why". */
static void next_as_text(csv_reader *r, char *out, size_t cap)
{
    const char *fields[CSV_FIELDS_MAX];
    char why[256];
    long long line = -7;
    int rc = csv_next(r, fields, &line, why, sizeof why);
    int n = snprintf(out, cap, "%d|%lld", rc, line);
    for (int i = 0; i < rc && n >= 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "|%s", fields[i]);
    if (rc < 0 && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "|%s", why);
}

/* Checks that DATA read in chunks of CHUNK gives the records WANT[0..n). */
static void expect_records(const char *data, size_t len, size_t chunk, const char *const *want,
                           int n)
{
    mem_src m = mem(data, len, chunk);
    csv_reader *r = csv_open(mem_read, &m);
    CHECK(r != NULL);
    if (!r)
        return;
    char got[70000];
    for (int i = 0; i < n; i++) {
        next_as_text(r, got, sizeof got);
        if (strcmp(got, want[i]) != 0) {
            check_fail(__FILE__, __LINE__, "record %d (reads of %zu) is \"%s\", want \"%s\"", i,
                       chunk, got, want[i]);
            break;
        }
    }
    next_as_text(r, got, sizeof got);
    CHECK_STR(got, "0|0");
    next_as_text(r, got, sizeof got); /* the end stays the end */
    CHECK_STR(got, "0|0");
    csv_close(r);
}

#define EXPECT(data, ...)                                                                          \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__};                                                 \
        const size_t chunks_[] = {1, 2, 3, 65536};                                                 \
        for (size_t c_ = 0; c_ < sizeof chunks_ / sizeof chunks_[0]; c_++)                         \
            expect_records(data, sizeof(data) - 1, chunks_[c_], want_,                             \
                           (int)(sizeof want_ / sizeof want_[0]));                                 \
    } while (0)

/* ---- records -------------------------------------------------------------------------- */

static void test_plain_records(void)
{
    EXPECT("phone,name\r\n010-0000-0001,시민0001\n010-0000-0002,\n", "2|1|phone|name",
           "2|2|010-0000-0001|시민0001", "2|3|010-0000-0002|");
}

static void test_no_newline_at_end(void)
{
    EXPECT("a,b\nc,d", "2|1|a|b", "2|2|c|d");
    EXPECT("a", "1|1|a");
}

static void test_bom_is_skipped(void)
{
    EXPECT("\xEF\xBB\xBFphone\n1\n", "1|1|phone", "1|2|1");
    EXPECT("\xEF\xBB\xBF", "0|0"); /* just the mark: nothing */
}

static void test_quoted_fields(void)
{
    EXPECT("a,\"x\ny\"\"z\",c\nnext,1\n", "3|1|a|x\ny\"z|c", "2|3|next|1");
    EXPECT("\"a,b\",\"\"\n", "2|1|a,b|");
    EXPECT("\"\"\"\"\n", "1|1|\"");
    EXPECT("\"line\r\nbreak\"\r\nz\r\n", "1|1|line\r\nbreak", "1|3|z");
}

static void test_empty_fields_and_lines(void)
{
    EXPECT(",,\n", "3|1|||");
    EXPECT("a\n\n\r\n\nb\n\n", "1|1|a", "1|5|b");
    EXPECT("\n\n", "0|0");
    EXPECT("", "0|0");
}

static void test_lone_cr_ends_lines(void)
{
    EXPECT("a\rb\r\rc", "1|1|a", "1|2|b", "1|4|c");
}

/* ---- errors and resynchronisation ----------------------------------------------------- */

static void test_unclosed_quote(void)
{
    EXPECT("a\n\"b,c\nd\n", "1|1|a", "-1|2|line 2, column 1: a quote that is never closed");
}

static void test_quote_inside_unquoted(void)
{
    EXPECT("ab\"c,d\nx,y\n",
           "-1|1|line 1, column 3: a quote inside a field that does not start with one (quote "
           "the whole field and double the quote)",
           "2|2|x|y");
}

static void test_text_after_closing_quote(void)
{
    EXPECT("\"a\"b,c\nok\n",
           "-1|1|line 1, column 4: text after a closing quote (a comma or the end of the line "
           "must follow it)",
           "1|2|ok");
}

static void test_invalid_utf8(void)
{
    EXPECT("ok\nab,c\xE9"
           "d\nnext\n",
           "1|1|ok", "-1|2|line 2, column 5: invalid UTF-8", "1|3|next");
    EXPECT("홍길동,\xFF\nz\n", "-1|1|line 1, column 5: invalid UTF-8", "1|2|z");
    /* a sequence cut by the line break: the next line is not lost */
    EXPECT("a\xEC\nb\n", "-1|1|line 1, column 2: invalid UTF-8", "1|2|b");
    EXPECT("a\xEC\x9E", "-1|1|line 1, column 2: invalid UTF-8 at the end");
    EXPECT("\xC0\xAF\n", "-1|1|line 1, column 1: invalid UTF-8");     /* overlong */
    EXPECT("\xED\xA0\x80\n", "-1|1|line 1, column 1: invalid UTF-8"); /* surrogate */
    EXPECT("x\x80y\nz\n", "-1|1|line 1, column 2: invalid UTF-8", "1|2|z");
    /* inside a quoted field, on its second line */
    EXPECT("\"a\nb\xFF\"\nz\n", "-1|1|line 2, column 2: invalid UTF-8", "1|3|z");
}

static void test_nul_byte(void)
{
    EXPECT("a\0b\nc\n", "-1|1|line 1, column 2: a NUL byte", "1|2|c");
}

static void test_field_limit(void)
{
    char data[300], want[300];
    size_t n = 0, w = 0;
    w += (size_t)snprintf(want + w, sizeof want - w, "%d|1", CSV_FIELDS_MAX);
    for (int i = 0; i < CSV_FIELDS_MAX; i++) {
        n += (size_t)snprintf(data + n, sizeof data - n, "%s%d", i ? "," : "", i % 10);
        w += (size_t)snprintf(want + w, sizeof want - w, "|%d", i % 10);
    }
    n += (size_t)snprintf(data + n, sizeof data - n, "\n");
    size_t first = n;
    memcpy(data + n, data, first - 1);
    n += first - 1;
    n += (size_t)snprintf(data + n, sizeof data - n, ",x\nlast\n");
    const char *const records[] = {want, "-1|2|line 2: over 40 fields", "1|3|last"};
    expect_records(data, n, 1, records, 3);
    expect_records(data, n, 65536, records, 3);
}

static char big[2 * CSV_RECORD_MAX + 100];
static char want_big[CSV_RECORD_MAX + 100];

static void test_record_limit(void)
{
    /* CSV_RECORD_MAX bytes of record: yes; one more: no, and on to the next line */
    memset(big, 'x', CSV_RECORD_MAX);
    big[CSV_RECORD_MAX] = '\n';
    memset(big + CSV_RECORD_MAX + 1, 'y', CSV_RECORD_MAX + 1);
    memcpy(big + 2 * CSV_RECORD_MAX + 2, "\nok\n", 4);
    size_t len = 2 * CSV_RECORD_MAX + 6;
    memcpy(want_big, "1|1|", 4);
    memset(want_big + 4, 'x', CSV_RECORD_MAX);
    want_big[CSV_RECORD_MAX + 4] = '\0';
    const char *const records[] = {want_big, "-1|2|line 2: a record over 65536 bytes", "1|3|ok"};
    expect_records(big, len, 1, records, 3);
    expect_records(big, len, 65536, records, 3);
    expect_records(big, len, 4096 + 3, records, 3);
}

static void test_read_error(void)
{
    const char *data = "a,b\nc,d\ne,f\n";
    mem_src m = mem(data, strlen(data), 5);
    m.fail_after = 5;
    csv_reader *r = csv_open(mem_read, &m);
    char got[256];
    next_as_text(r, got, sizeof got);
    CHECK_STR(got, "2|1|a|b");
    CHECK_INT(csv_source_failed(r), 0);
    next_as_text(r, got, sizeof got);
    CHECK_STR(got, "-1|2|reading the input failed at line 2");
    CHECK_INT(csv_source_failed(r), 1);
    next_as_text(r, got, sizeof got);
    CHECK_STR(got, "0|0");
    csv_close(r);
}

static void test_null_arguments(void)
{
    const char *fields[CSV_FIELDS_MAX];
    CHECK(csv_open(NULL, NULL) == NULL);
    CHECK_INT(csv_next(NULL, fields, NULL, NULL, 0), 0);
    CHECK_INT(csv_source_failed(NULL), 0);
    csv_close(NULL);
}

/* ---- any reads, the same records ------------------------------------------------------ */

static const char mixed[] = "\xEF\xBB\xBF"
                            "phone,name,lang,memo\r\n"
                            "010-0000-0001,시민0001,ko,\"여러\r\n줄\"\r\n"
                            "\r\n"
                            "010-0000-0002,\"a \"\"quoted\"\" name\",en,\n"
                            "010-0000-0003,bad\"quote,ko,x\n"
                            "010-0000-0004,caf\xE9,ko,x\n"
                            "\"010-0000-0005\"x,y,ko,z\r"
                            "010-0000-0006,,,\r\n"
                            "\"unclosed,at,the,end\n";

static void test_reads_of_any_size_agree(void)
{
    char whole[512], piece[512];
    const size_t sizes[] = {1, 2, 5, 13, 64, sizeof mixed};
    mem_src ref = mem(mixed, sizeof mixed - 1, sizeof mixed);
    csv_reader *a = csv_open(mem_read, &ref);
    mem_src m[sizeof sizes / sizeof sizes[0]];
    csv_reader *r[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        m[i] = mem(mixed, sizeof mixed - 1, sizes[i]);
        r[i] = csv_open(mem_read, &m[i]);
    }
    int records = 0, errors = 0;
    for (;;) {
        next_as_text(a, whole, sizeof whole);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            next_as_text(r[i], piece, sizeof piece);
            CHECK_STR(piece, whole);
        }
        if (whole[0] == '0')
            break;
        records++;
        errors += whole[0] == '-';
    }
    CHECK_INT(records, 8);
    CHECK_INT(errors, 4);
    csv_close(a);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        csv_close(r[i]);
}

/* ---- many records, one buffer --------------------------------------------------------- */

typedef struct gen_src {
    long next, total;
    char line[128];
    size_t len, at;
} gen_src;

/* Makes each record when the reader asks for it: nothing holds the file. */
static long gen_read(void *arg, char *buf, size_t len)
{
    gen_src *g = arg;
    if (g->at == g->len) {
        if (g->next > g->total)
            return 0;
        if (g->next == 0)
            g->len = (size_t)snprintf(g->line, sizeof g->line, "phone,name,lang,district\r\n");
        else
            g->len = (size_t)snprintf(g->line, sizeof g->line,
                                      "010-%04ld-%04ld,\"시민%04ld\",ko,강남구\r\n",
                                      (g->next - 1) / 10000, (g->next - 1) % 10000, g->next);
        g->next++;
        g->at = 0;
    }
    size_t n = g->len - g->at < len ? g->len - g->at : len;
    memcpy(buf, g->line + g->at, n);
    g->at += n;
    return (long)n;
}

static void test_100000_records_streamed(void)
{
    gen_src g = {.total = 100000};
    csv_reader *r = csv_open(gen_read, &g);
    const char *fields[CSV_FIELDS_MAX];
    char why[256], last_phone[32] = "";
    long long line = 0, last_line = 0, rows = 0;
    int rc;
    while ((rc = csv_next(r, fields, &line, why, sizeof why)) != 0) {
        if (rc != 4) {
            check_fail(__FILE__, __LINE__, "line %lld: %d fields (%s)", line, rc, why);
            break;
        }
        last_line = line;
        if (line > 1) {
            rows++;
            snprintf(last_phone, sizeof last_phone, "%s", fields[0]);
        }
    }
    CHECK_INT(rows, 100000);
    CHECK_INT(last_line, 100001);
    CHECK_STR(last_phone, "010-0009-9999");
    csv_close(r);
}

int main(void)
{
    RUN(test_plain_records);
    RUN(test_no_newline_at_end);
    RUN(test_bom_is_skipped);
    RUN(test_quoted_fields);
    RUN(test_empty_fields_and_lines);
    RUN(test_lone_cr_ends_lines);
    RUN(test_unclosed_quote);
    RUN(test_quote_inside_unquoted);
    RUN(test_text_after_closing_quote);
    RUN(test_invalid_utf8);
    RUN(test_nul_byte);
    RUN(test_field_limit);
    RUN(test_record_limit);
    RUN(test_read_error);
    RUN(test_null_arguments);
    RUN(test_reads_of_any_size_agree);
    RUN(test_100000_records_streamed);
    return check_exit_status();
}
