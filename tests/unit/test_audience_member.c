/* Members without Redis (audience.h): statuses, phones, e-mail, masks,
 * buckets, the header row and a data row. */
#include <stdlib.h>

#include "audience.h"
#include "check.h"

static const struct {
    const char *in, *out;
} phones_ok[] = {
    {"010-1234-5678", "+821012345678"},    {"01012345678", "+821012345678"},
    {"010 1234 5678", "+821012345678"},    {"(010)1234-5678", "+821012345678"},
    {"+82 10-1234-5678", "+821012345678"}, {"+821012345678", "+821012345678"},
    {"82-10-1234-5678", "+821012345678"},  {"+82 (0)10 1234 5678", "+821012345678"},
    {"010.1234.5678", "+821012345678"},    {"  010-1234-5678\t", "+821012345678"},
    {"010-0000-0001", "+821000000001"}, /* the fake test numbers: middle block 0xxx */
    {"1012345678", "+821012345678"},    /* a spreadsheet dropped the 0 */
    {"011-123-4567", "+82111234567"},      {"016-1234-5678", "+821612345678"},
    {"017-123-4567", "+82171234567"},      {"018 1234 5678", "+821812345678"},
    {"019-123-4567", "+82191234567"},      {"+82 19 123 4567", "+82191234567"},
};

static const struct {
    const char *in, *why;
} phones_bad[] = {
    {"", "empty"},
    {"   ", "empty"},
    {"---", "no digits"},
    {"010-1234-567", "7 digits after 010, 8 needed"},
    {"010-1234-56789", "9 digits after 010, 8 needed"},
    {"010-123-4567", "7 digits after 010, 8 needed"},
    {"+82 10 1234 56789", "9 digits after 010, 8 needed"},
    {"011-12-3456", "6 digits after 011, 7 or 8 needed"},
    {"019-12345-6789", "9 digits after 019, 7 or 8 needed"},
    {"02-123-4567", "not a mobile number: 02 is a landline area code"},
    {"031-123-4567", "not a mobile number: 031 is a landline area code"},
    {"+82 2 1234 5678", "not a mobile number: 02 is a landline area code"},
    {"070-1234-5678", "not a mobile number: 070 is an internet phone prefix"},
    {"080-123-4567", "not a mobile number: 080 is a service number prefix"},
    {"012-123-4567", "not a mobile number: 012 is not a mobile prefix (010, 011, 016-019)"},
    {"010-1234-567O", "a letter at character 13"},
    {"tel:01012345678", "a letter at character 1"},
    {"010/1234/5678", "character 4 is not allowed"},
    {"010-1234+5678", "a '+' at character 9"},
    {"++821012345678", "a '+' at character 2"},
    {"((010))12345678", "parentheses inside parentheses at character 2"},
    {"010)1234-5678", "a ')' without its '(' at character 4"},
    {"(010 1234 5678", "a '(' that is never closed"},
    {"+1 212 555 0100", "not a Korean number: the country code after '+' must be 82"},
    {"5551234567", "10 digits that do not start with 0 or 82"},
    {"8210123456", "6 digits after 010, 8 needed"},
    {"+82", "too few digits for a Korean mobile number"},
    {"0", "too few digits for a Korean mobile number"},
    {"010123456789012345678901234", "27 digits, at most 11 in a Korean mobile number"},
    {"010-１２３４-5678", "character 5 is not allowed"},
};

/* The input's digits, for "WHY never shows the number". */
static void digits_of(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if (*s >= '0' && *s <= '9')
            out[n++] = *s;
    out[n] = '\0';
}

static void test_phone_table(void)
{
    char out[32], why[200], name[96];
    for (size_t i = 0; i < sizeof phones_ok / sizeof phones_ok[0]; i++) {
        int rc = audience_phone_normalize(phones_ok[i].in, out, sizeof out, why, sizeof why);
        snprintf(name, sizeof name, "phone accepts \"%s\"", phones_ok[i].in);
        check_row(name, rc == 0 && strcmp(out, phones_ok[i].out) == 0, rc ? why : out);
    }
    for (size_t i = 0; i < sizeof phones_bad / sizeof phones_bad[0]; i++) {
        char digits[64];
        out[0] = '\0';
        int rc = audience_phone_normalize(phones_bad[i].in, out, sizeof out, why, sizeof why);
        digits_of(phones_bad[i].in, digits, sizeof digits);
        snprintf(name, sizeof name, "phone refuses \"%s\"", phones_bad[i].in);
        int leaks = strlen(digits) >= 7 && strstr(why, digits) != NULL;
        check_row(name, rc == -1 && strstr(why, phones_bad[i].why) != NULL && !leaks,
                  rc == 0 ? out : why);
    }
}

static void test_phone_exact_reasons(void)
{
    char out[32], why[200];
    CHECK_INT(audience_phone_normalize("010-1234-567", out, sizeof out, why, sizeof why), -1);
    CHECK_STR(why, "7 digits after 010, 8 needed");
    CHECK_INT(audience_phone_normalize("02-3456-7890", out, sizeof out, why, sizeof why), -1);
    CHECK_STR(why, "not a mobile number: 02 is a landline area code");
    CHECK(strstr(why, "3456") == NULL);
    CHECK_INT(audience_phone_normalize("010-9876-543x", out, sizeof out, why, sizeof why), -1);
    CHECK(strstr(why, "9876") == NULL && strstr(why, "543") == NULL);
    CHECK(strstr(why, "character 13") != NULL);
}

static void test_phone_small_buffers(void)
{
    char out[13], why[8];
    /* "+821012345678" needs 14 bytes. */
    CHECK_INT(audience_phone_normalize("010-1234-5678", out, sizeof out, why, sizeof why), -1);
    CHECK(strlen(why) < sizeof why);
    CHECK_INT(audience_phone_normalize("x", out, sizeof out, NULL, 0), -1);
}

static void test_phone_idempotent(void)
{
    char once[32], twice[32], why[200];
    for (size_t i = 0; i < sizeof phones_ok / sizeof phones_ok[0]; i++) {
        CHECK_INT(audience_phone_normalize(phones_ok[i].in, once, sizeof once, why, sizeof why), 0);
        CHECK_INT(audience_phone_normalize(once, twice, sizeof twice, why, sizeof why), 0);
        CHECK_STR(twice, once);
    }
}

static void test_phone_domestic(void)
{
    char out[16], back[32], why[200];
    CHECK_INT(audience_phone_domestic("+821012345678", out, sizeof out), 0);
    CHECK_STR(out, "01012345678");
    CHECK_INT(audience_phone_normalize(out, back, sizeof back, why, sizeof why), 0);
    CHECK_STR(back, "+821012345678");
    CHECK_INT(audience_phone_domestic("+82111234567", out, sizeof out), 0);
    CHECK_STR(out, "0111234567");
    CHECK_INT(audience_phone_domestic("+12125550100", out, sizeof out), -1);
    CHECK_INT(audience_phone_domestic("+82", out, sizeof out), -1);
    CHECK_INT(audience_phone_domestic("+8210-1234", out, sizeof out), -1);
    CHECK_INT(audience_phone_domestic("+821012345678", out, 11), -1); /* needs 12 */
    CHECK_INT(audience_phone_domestic(NULL, out, sizeof out), -1);
}

static const struct {
    const char *in, *out;
} emails_ok[] = {
    {"hong.gildong@example.com", "hong.gildong@example.com"},
    {"Hong.GilDong@Example.COM", "Hong.GilDong@example.com"},
    {" a@b.kr ", "a@b.kr"},
    {"user+tag@mail.example.co.kr", "user+tag@mail.example.co.kr"},
    {"o'brien!#$%&*=?^_`{|}~-@x-y.example", "o'brien!#$%&*=?^_`{|}~-@x-y.example"},
    {"a@1.2.com", "a@1.2.com"},
};

static const struct {
    const char *in, *why;
} emails_bad[] = {
    {"", "empty"},
    {"hong.example.com", "no '@'"},
    {"a@b@example.com", "more than one '@'"},
    {"@example.com", "nothing before the '@'"},
    {"hong@", "nothing after the '@'"},
    {".hong@example.com", "starts or ends with a dot"},
    {"hong.@example.com", "starts or ends with a dot"},
    {"hong..gd@example.com", "two dots in a row"},
    {"\"hong\"@example.com", "a quoted part before the '@' is not accepted"},
    {"hong gd@example.com", "character 5 before the '@' is not allowed (a space)"},
    {"홍길동@example.com", "character 1 before the '@' is not allowed (non-ASCII)"},
    {"hong@example", "the domain has no dot"},
    {"hong@example.123", "the top-level domain is all digits"},
    {"hong@1.2.3.4", "the top-level domain is all digits"},
    {"hong@-example.com", "domain label 1 starts or ends with '-'"},
    {"hong@example-.com", "domain label 1 starts or ends with '-'"},
    {"hong@example..com", "domain label 2 is empty"},
    {"hong@example.com.", "domain label 3 is empty"},
    {"hong@exa_mple.com", "domain label 1: a character that is not allowed"},
    {"hong@예시.kr", "domain label 1: non-ASCII"},
    {"hong@[127.0.0.1]", "domain label 1: a character that is not allowed"},
};

static void test_email_table(void)
{
    char out[300], why[200], name[96];
    for (size_t i = 0; i < sizeof emails_ok / sizeof emails_ok[0]; i++) {
        int rc = audience_email_normalize(emails_ok[i].in, out, sizeof out, why, sizeof why);
        snprintf(name, sizeof name, "email accepts \"%s\"", emails_ok[i].in);
        check_row(name, rc == 0 && strcmp(out, emails_ok[i].out) == 0, rc ? why : out);
    }
    for (size_t i = 0; i < sizeof emails_bad / sizeof emails_bad[0]; i++) {
        int rc = audience_email_normalize(emails_bad[i].in, out, sizeof out, why, sizeof why);
        snprintf(name, sizeof name, "email refuses \"%s\"", emails_bad[i].in);
        int leaks = strlen(emails_bad[i].in) > 5 && strstr(why, emails_bad[i].in) != NULL;
        check_row(name, rc == -1 && strstr(why, emails_bad[i].why) != NULL && !leaks, why);
    }
}

static void repeat(char *out, char c, size_t n)
{
    memset(out, c, n);
    out[n] = '\0';
}

static void test_email_sizes(void)
{
    char addr[400], out[400], why[200], label[80];
    /* local part: 64 yes, 65 no */
    repeat(addr, 'a', 64);
    memcpy(addr + 64, "@example.com", 13);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), 0);
    repeat(addr, 'a', 65);
    memcpy(addr + 65, "@example.com", 13);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), -1);
    CHECK_STR(why, "the part before the '@' is 65 bytes, at most 64");
    /* a label: 63 yes, 64 no */
    repeat(label, 'b', 63);
    snprintf(addr, sizeof addr, "a@%s.com", label);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), 0);
    repeat(label, 'b', 64);
    snprintf(addr, sizeof addr, "a@%s.com", label);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), -1);
    CHECK_STR(why, "domain label 1 is 64 bytes, at most 63");
    /* the whole: 254 yes (a 64-byte local part, a 189-byte domain), 255 no */
    repeat(label, 'c', 60);
    repeat(addr, 'd', 64);
    snprintf(addr + 64, sizeof addr - 64, "@%s.%s.%s.abcdef", label, label, label);
    CHECK_INT(strlen(addr), 254);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), 0);
    snprintf(addr + 64, sizeof addr - 64, "@%s.%s.%s.abcdefg", label, label, label);
    CHECK_INT(strlen(addr), 255);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), -1);
    CHECK_STR(why, "255 bytes, at most 254");
    /* the domain alone: over 253 */
    repeat(label, 'f', 63);
    snprintf(addr, sizeof addr, "a@%s.%s.%s.%s.com", label, label, label, label);
    CHECK_INT(audience_email_normalize(addr, out, sizeof out, why, sizeof why), -1);
    CHECK(strstr(why, "at most 25") != NULL);
}

static void test_email_idempotent(void)
{
    char once[300], twice[300], why[200];
    for (size_t i = 0; i < sizeof emails_ok / sizeof emails_ok[0]; i++) {
        CHECK_INT(audience_email_normalize(emails_ok[i].in, once, sizeof once, why, sizeof why), 0);
        CHECK_INT(audience_email_normalize(once, twice, sizeof twice, why, sizeof why), 0);
        CHECK_STR(twice, once);
    }
}

static void test_mask(void)
{
    char out[64];
    audience_mask("+821012345678", out, sizeof out);
    CHECK_STR(out, "+8210****5678");
    audience_mask("+82111234567", out, sizeof out);
    CHECK_STR(out, "+8211***4567");
    audience_mask("hong.gildong@example.com", out, sizeof out);
    CHECK_STR(out, "h***@example.com");
    audience_mask("member-42", out, sizeof out);
    CHECK_STR(out, "m***");
    audience_mask("홍길동", out, sizeof out);
    CHECK_STR(out, "홍***"); /* a whole character, never half of one */
    audience_mask("", out, sizeof out);
    CHECK_STR(out, "***");
    audience_mask(NULL, out, sizeof out);
    CHECK_STR(out, "***");
    audience_mask("@example.com", out, sizeof out);
    CHECK_STR(out, "@***");
    audience_mask("+821012345678", out, 6); /* truncated, still terminated */
    CHECK_STR(out, "+8210");
    char tiny[3];
    audience_mask("홍길동", tiny, sizeof tiny); /* no room for the first character */
    CHECK_STR(tiny, "**");                      /* never half a character */
}

static void test_bucket(void)
{
    /* FNV-1a 32: the Lua library computes the same, so pin the values. */
    CHECK_INT(audience_bucket("", 1u << 31), 2166136261u % (1u << 31));
    CHECK_INT(audience_bucket("a", 0xFFFFFFFFu), 0xE40C292Cu);
    CHECK_INT(audience_bucket("foobar", 0xFFFFFFFFu), 0xBF9CF968u);
    CHECK_INT(audience_bucket("+821012345678", 0), 0);
    CHECK_INT(audience_bucket("+821012345678", 1), 0);
    unsigned b = audience_bucket("+821012345678", 100);
    CHECK(b < 100);
    CHECK_INT(audience_bucket("+821012345678", 100), b);
    /* spread: 10,000 fake numbers over 100 buckets, none empty or crowded */
    int count[100] = {0};
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "+8210%04d%04d", i / 10000, i % 10000);
        count[audience_bucket(id, 100)]++;
    }
    for (int i = 0; i < 100; i++)
        CHECK(count[i] > 50 && count[i] < 150);
}

static void test_buckets_for(void)
{
    CHECK_INT(audience_buckets_for(-5), 1);
    CHECK_INT(audience_buckets_for(0), 1);
    CHECK_INT(audience_buckets_for(1), 1);
    CHECK_INT(audience_buckets_for(100), 1);
    CHECK_INT(audience_buckets_for(101), 2);
    CHECK_INT(audience_buckets_for(350000), 3500);
    CHECK_INT(audience_buckets_for(10000000), 100000);
    CHECK_INT(audience_buckets_for(1LL << 40), 1 << 20);
}

static void test_status_names(void)
{
    for (int s = 0; s < AUDIENCE_STATUS_COUNT; s++)
        CHECK_INT(audience_status_parse(audience_status_name((audience_status)s)), s);
    CHECK_STR(audience_status_name(AUDIENCE_ACTIVE), "active");
    CHECK_STR(audience_status_name(AUDIENCE_SUPPRESSED), "suppressed");
    CHECK_STR(audience_status_name(AUDIENCE_REMOVED), "removed");
    CHECK_INT(audience_status_parse("Active"), -1);
    CHECK_INT(audience_status_parse(""), -1);
    CHECK_INT(audience_status_parse(NULL), -1);
    CHECK_STR(audience_status_name(AUDIENCE_STATUS_COUNT), "unknown");
}

/* ---- the header row ----------------------------------------------------------------- */

static int layout(const char *const *cells, int n, audience_layout *l, char *why, size_t len)
{
    return audience_layout_from_header((const char **)cells, n, l, why, len);
}

static void test_layout_basic(void)
{
    const char *h[] = {"Phone", " name ", "LANG", "district", "Status", "Home_Town2"};
    audience_layout l;
    char why[200];
    CHECK_INT(layout(h, 6, &l, why, sizeof why), 0);
    CHECK_INT(l.kind, AUDIENCE_PHONE);
    CHECK_INT(l.ncols, 6);
    CHECK_INT(l.id_col, 0);
    CHECK_INT(l.name_col, 1);
    CHECK_INT(l.lang_col, 2);
    CHECK_INT(l.status_col, 4);
    CHECK_INT(l.ncustom, 2);
    CHECK_STR(l.custom[0], "district");
    CHECK_INT(l.custom_col[0], 3);
    CHECK_STR(l.custom[1], "home_town2");
    CHECK_INT(l.custom_col[1], 5);

    const char *e[] = {"language", "EMAIL"};
    CHECK_INT(layout(e, 2, &l, why, sizeof why), 0);
    CHECK_INT(l.kind, AUDIENCE_EMAIL);
    CHECK_INT(l.id_col, 1);
    CHECK_INT(l.lang_col, 0);
    CHECK_INT(l.name_col, -1);
    CHECK_INT(l.status_col, -1);
    CHECK_INT(l.ncustom, 0);

    const char *m[] = {"mobile"};
    CHECK_INT(layout(m, 1, &l, why, sizeof why), 0);
    CHECK_INT(l.kind, AUDIENCE_PHONE);
}

static const struct {
    const char *cells[4];
    int n;
    const char *why;
} layouts_bad[] = {
    {{"name", "lang"}, 2, "no \"phone\" or \"email\" column: one of them is the member id"},
    {{"phone", "name", "Phone"}, 3, "column 3 \"Phone\" appears twice (first in column 1)"},
    {{"phone", "email"}, 2, "column 2 \"email\": the member id is already column 1 \"phone\""},
    {{"mobile", "phone"}, 2, "column 2 \"phone\": the member id is already column 1 \"mobile\""},
    {{"phone", "lang", "language"}, 3, "column 3 \"language\": lang is already column 2 \"lang\""},
    {{"phone", "ward", "WARD"}, 3, "column 3 \"WARD\" appears twice (first in column 2)"},
    {{"phone", ""}, 2, "column 2 has no name"},
    {{"phone", "  "}, 2, "column 2 has no name"},
    {{"phone", "home town"}, 2, "column 2 \"home town\": a custom column's name is 1-32 of a-z"},
    {{"phone", "구"}, 2, "column 2 \"구\": a custom column's name is 1-32 of a-z"},
    {{"phone", "abcdefghijabcdefghijabcdefghijabc"}, 2, "a custom column's name is 1-32"},
    {{"phone", "a\"b"}, 2, "column 2 \"a?b\""},
    {{"x"}, 0, "no header row"},
};

static void test_layout_refusals(void)
{
    for (size_t i = 0; i < sizeof layouts_bad / sizeof layouts_bad[0]; i++) {
        audience_layout l;
        char why[200], name[96];
        int rc = layout(layouts_bad[i].cells, layouts_bad[i].n, &l, why, sizeof why);
        snprintf(name, sizeof name, "layout refuses %s", layouts_bad[i].why);
        check_row(name, rc == -1 && strstr(why, layouts_bad[i].why) != NULL, why);
    }
}

static void test_layout_custom_limit(void)
{
    const char *cells[AUDIENCE_FIELDS_MAX + 2];
    char names[AUDIENCE_FIELDS_MAX + 2][16];
    audience_layout l;
    char why[200];
    cells[0] = "phone";
    for (int i = 1; i < AUDIENCE_FIELDS_MAX + 2; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        cells[i] = names[i];
    }
    CHECK_INT(layout(cells, AUDIENCE_FIELDS_MAX + 1, &l, why, sizeof why), 0);
    CHECK_INT(l.ncustom, AUDIENCE_FIELDS_MAX);
    CHECK_INT(layout(cells, AUDIENCE_FIELDS_MAX + 2, &l, why, sizeof why), -1);
    CHECK_STR(why, "column 34 \"f33\": over 32 custom columns");
}

/* ---- a data row ----------------------------------------------------------------------- */

static audience_layout row_layout(void)
{
    const char *h[] = {"phone", "name", "lang", "district", "status"};
    audience_layout l;
    char why[200];
    if (layout(h, 5, &l, why, sizeof why) != 0)
        abort();
    return l;
}

static int row(const audience_layout *l, const char *const *cells, int n, char *id, json_t **record,
               audience_status *st, char *why)
{
    return audience_row(l, (const char **)cells, n, id, AUDIENCE_ID_MAX + 1, record, st, why, 200);
}

static void test_row_ok(void)
{
    audience_layout l = row_layout();
    char id[AUDIENCE_ID_MAX + 1], why[200];
    json_t *rec;
    audience_status st;
    const char *cells[] = {"010-0000-0001", "시민0001", "KO", "강남구", ""};
    CHECK_INT(row(&l, cells, 5, id, &rec, &st, why), 0);
    CHECK_STR(id, "+821000000001");
    CHECK_INT(st, AUDIENCE_ACTIVE);
    char *dump = json_dumps(rec, JSON_COMPACT);
    CHECK_STR(dump, "[\"+821000000001\",\"시민0001\",\"ko\",\"강남구\"]");
    free(dump);
    json_decref(rec);

    const char *cells2[] = {"+82 10 0000 0002", "", "zh-hant-tw", "", " Unsubscribed "};
    CHECK_INT(row(&l, cells2, 5, id, &rec, &st, why), 0);
    CHECK_INT(st, AUDIENCE_UNSUBSCRIBED);
    dump = json_dumps(rec, JSON_COMPACT);
    CHECK_STR(dump, "[\"+821000000002\",\"\",\"zh-Hant-TW\",\"\"]");
    free(dump);
    json_decref(rec);

    const char *statuses[] = {"active", "BLOCKED", "bounced", "suppressed"};
    const audience_status want[] = {AUDIENCE_ACTIVE, AUDIENCE_BLOCKED, AUDIENCE_BOUNCED,
                                    AUDIENCE_SUPPRESSED};
    for (int i = 0; i < 4; i++) {
        const char *c[] = {"01000000003", "", "", "", statuses[i]};
        CHECK_INT(row(&l, c, 5, id, &rec, &st, why), 0);
        CHECK_INT(st, want[i]);
        json_decref(rec);
    }
}

static void test_row_email(void)
{
    const char *h[] = {"email", "name"};
    audience_layout l;
    char id[AUDIENCE_ID_MAX + 1], why[200];
    json_t *rec;
    audience_status st;
    CHECK_INT(layout(h, 2, &l, why, sizeof why), 0);
    const char *cells[] = {"Hong@Example.COM", "홍길동"};
    CHECK_INT(row(&l, cells, 2, id, &rec, &st, why), 0);
    CHECK_STR(id, "Hong@example.com");
    CHECK_STR(json_string_value(json_array_get(rec, 2)), "");
    json_decref(rec);
    const char *bad[] = {"hong@example", "홍길동"};
    CHECK_INT(row(&l, bad, 2, id, &rec, &st, why), -1);
    CHECK_STR(why, "email: the domain has no dot");
    CHECK(rec == NULL);
}

static char long_text[4200];

static const struct {
    const char *cells[5];
    int n;
    const char *why;
} rows_bad[] = {
    {{"010-9876-5432", "a", "ko", "x"}, 4, "4 cells, the header has 5"},
    {{"010-9876-543", "a", "ko", "x", ""}, 5, "phone: 7 digits after 010, 8 needed"},
    {{"02-9876-5432", "a", "ko", "x", ""}, 5, "phone: not a mobile number: 02 is a landline"},
    {{"", "a", "ko", "x", ""}, 5, "phone: empty"},
    {{"010-9876-5432", "a\x01", "ko", "x", ""}, 5, "name: a control character (character 2)"},
    {{"010-9876-5432", "a\xC2\x85", "ko", "x", ""}, 5, "name: a control character"},
    {{"010-9876-5432", "caf\xE9", "ko", "x", ""}, 5, "name: not UTF-8 at byte 4"},
    {{"010-9876-5432", "a", "korean", "x", ""}, 5, "lang: the language is 2 or 3 letters"},
    {{"010-9876-5432", "a", "ko_KR", "x", ""}, 5, "lang: character 3 is not a letter"},
    {{"010-9876-5432", "a", "en-", "x", ""}, 5, "lang: part 2 is 0 characters, 1-8 needed"},
    {{"010-9876-5432", "a", "en-abcdefghi", "x", ""}, 5, "lang: part 2 is 9 characters"},
    {{"010-9876-5432", "a", "1a", "x", ""}, 5, "lang: the language is 2 or 3 letters"},
    {{"010-9876-5432", "a", "ko", "a\nb", ""}, 5, "district: a control character (character 2)"},
    {{"010-9876-5432", "a", "ko", "x", "gone"}, 5, "status: not one of active, unsubscribed"},
    {{"010-9876-5432", "a", "ko", "x", "removed"}, 5, "status: not one of active"},
};

static void test_row_refusals(void)
{
    audience_layout l = row_layout();
    for (size_t i = 0; i < sizeof rows_bad / sizeof rows_bad[0]; i++) {
        char id[AUDIENCE_ID_MAX + 1], why[200], name[128];
        json_t *rec = (json_t *)1;
        audience_status st;
        int rc = row(&l, rows_bad[i].cells, rows_bad[i].n, id, &rec, &st, why);
        snprintf(name, sizeof name, "row refuses: %s", rows_bad[i].why);
        check_row(name,
                  rc == -1 && rec == NULL && strstr(why, rows_bad[i].why) != NULL &&
                      strstr(why, "9876") == NULL,
                  why);
    }
}

static void test_row_lengths(void)
{
    audience_layout l = row_layout();
    char id[AUDIENCE_ID_MAX + 1], why[200];
    json_t *rec;
    audience_status st;
    /* name: 100 characters of three bytes yes, 101 no */
    for (int i = 0; i < 101; i++)
        memcpy(long_text + 3 * i, "홍", 3);
    long_text[300] = '\0';
    const char *c100[] = {"010-0000-0001", long_text, "", "", ""};
    CHECK_INT(row(&l, c100, 5, id, &rec, &st, why), 0);
    json_decref(rec);
    memcpy(long_text + 300, "홍", 3);
    long_text[303] = '\0';
    const char *c101[] = {"010-0000-0001", long_text, "", "", ""};
    CHECK_INT(row(&l, c101, 5, id, &rec, &st, why), -1);
    CHECK_STR(why, "name: 101 characters, at most 100");
    /* custom: 1,000 yes, 1,001 no */
    memset(long_text, 'x', 1001);
    long_text[1000] = '\0';
    const char *d1000[] = {"010-0000-0001", "", "", long_text, ""};
    CHECK_INT(row(&l, d1000, 5, id, &rec, &st, why), 0);
    json_decref(rec);
    long_text[1000] = 'x';
    long_text[1001] = '\0';
    const char *d1001[] = {"010-0000-0001", "", "", long_text, ""};
    CHECK_INT(row(&l, d1001, 5, id, &rec, &st, why), -1);
    CHECK_STR(why, "district: 1001 characters, at most 1000");
}

int main(void)
{
    test_phone_table();
    RUN(test_phone_exact_reasons);
    RUN(test_phone_small_buffers);
    RUN(test_phone_idempotent);
    RUN(test_phone_domestic);
    test_email_table();
    RUN(test_email_sizes);
    RUN(test_email_idempotent);
    RUN(test_mask);
    RUN(test_bucket);
    RUN(test_buckets_for);
    RUN(test_status_names);
    RUN(test_layout_basic);
    test_layout_refusals();
    RUN(test_layout_custom_limit);
    RUN(test_row_ok);
    RUN(test_row_email);
    test_row_refusals();
    RUN(test_row_lengths);
    return check_exit_status();
}
