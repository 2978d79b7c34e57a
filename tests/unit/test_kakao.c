/*
 * test_kakao.c - the kakao adapter's pure rules: what each header and
 * per-recipient code of the dealer means and how the config remaps them,
 * the config's own checks, the idempotency key, the night block's edges
 * (20:49, 20:50, 07:59, 08:00 KST), batch targets, validate's exact
 * messages and counts, and the request bodies of FriendTalk and AlimTalk.
 * The wire exchange with the dealer's stand-in (and Redis) is the
 * integration tests'.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "kakao.h"
#include "kakao_rules.h"
#include "kakao_text.h"

/* ---- per-recipient codes ----------------------------------------------------------- */

static void test_recipient_codes(void)
{
    static const struct {
        int code;
        kakao_action action;
        const char *reason;
    } rows[] = {
        {0, KAKAO_ACCEPTED, ""},
        {2003, KAKAO_PERMANENT, "not-friend"},
        {3018, KAKAO_PERMANENT, "blocked"},
        {3019, KAKAO_PERMANENT, "not-talk-user"},
        {3008, KAKAO_PERMANENT, "invalid-number"},
        {3022, KAKAO_HOLD, "night-block"},
        {3005, KAKAO_RETRY, "dealer-error"},
        {3000, KAKAO_RETRY, "dealer-error"},
        {9999, KAKAO_RETRY, "dealer-error"},
        {4321, KAKAO_PERMANENT, "code-4321"},
        {-7, KAKAO_PERMANENT, "code--7"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        kakao_verdict v;
        kakao_recipient_verdict(NULL, rows[i].code, &v);
        CHECK_INT(v.action, rows[i].action);
        CHECK_STR(v.reason, rows[i].reason);
        CHECK(v.meaning != NULL);
    }
}

static void test_recipient_overrides(void)
{
    kakao_overrides ov = {.present = 1};
    kakao_verdict v;
    /* Slot 5 is 3005 (kakao_override_codes). */
    CHECK_INT(kakao_override_codes[5], 3005);
    snprintf(ov.code[5], sizeof ov.code[5], "permanent");
    snprintf(ov.other, sizeof ov.other, "retry");
    kakao_recipient_verdict(&ov, 3005, &v);
    CHECK_INT(v.action, KAKAO_PERMANENT);
    CHECK_STR(v.reason, "dealer-error");
    kakao_recipient_verdict(&ov, 3000, &v); /* not overridden */
    CHECK_INT(v.action, KAKAO_RETRY);
    kakao_recipient_verdict(&ov, 5555, &v);
    CHECK_INT(v.action, KAKAO_RETRY);
    CHECK_STR(v.reason, "code-5555");
    kakao_recipient_verdict(&ov, 0, &v); /* 0 is always accepted */
    CHECK_INT(v.action, KAKAO_ACCEPTED);
    CHECK_INT(kakao_action_parse("hold"), KAKAO_HOLD);
    CHECK_INT(kakao_action_parse("later"), -1);
    CHECK_STR(kakao_action_name(KAKAO_RETRY), "retry");
}

/* ---- the config -------------------------------------------------------------------- */

static int load(const char *kakao_section, config *c, diag_list *errs)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"channels\": {\"kakao\": %s}}", kakao_section);
    config_defaults(c);
    c->for_client = 1;
    diag_list_init(errs);
    return config_load_buffer(text, strlen(text), c, errs);
}

static int has_error(const diag_list *errs, const char *path, const char *fragment)
{
    for (size_t i = 0; i < errs->len; i++)
        if (strcmp(errs->items[i].path, path) == 0 && strstr(errs->items[i].message, fragment))
            return 1;
    return 0;
}

static void test_config_overrides_and_checks(void)
{
    config c;
    diag_list errs;
    int rc = load("{\"adapter\": \"kakao\", \"appkey\": \"k\", \"result_codes\": {\"2003\": "
                  "\"retry\", \"3022\": \"permanent\", \"9999\": \"hold\", \"other\": \"retry\"}, "
                  "\"resend\": {\"type\": \"LMS\", \"send_no\": \"0212345678\", "
                  "\"unsubscribe_no\": \"0801234567\"}, \"bitmap_days\": 7}",
                  &c, &errs);
    CHECK_INT(rc, 0);
    const kakao_conf *k = c.channels[CHANNEL_KAKAO].adapter_conf;
    CHECK(k != NULL);
    if (k) {
        /* Every slot's field name is its code: the table and the shape agree. */
        CHECK_INT(kakao_override_codes[0], 2003);
        CHECK_STR(k->result_codes.code[0], "retry");
        CHECK_INT(kakao_override_codes[4], 3022);
        CHECK_STR(k->result_codes.code[4], "permanent");
        CHECK_INT(kakao_override_codes[7], 9999);
        CHECK_STR(k->result_codes.code[7], "hold");
        CHECK_STR(k->result_codes.code[1], "");
        CHECK_STR(k->result_codes.other, "retry");
        CHECK_STR(k->resend.type, "LMS");
        CHECK_STR(k->resend.unsubscribe_no, "0801234567");
        CHECK_INT(k->bitmap_days, 7);
        kakao_verdict v;
        kakao_recipient_verdict(&k->result_codes, 2003, &v);
        CHECK_INT(v.action, KAKAO_RETRY);
        kakao_recipient_verdict(&k->result_codes, 3022, &v);
        CHECK_INT(v.action, KAKAO_PERMANENT);
    }
    diag_list_release(&errs);
    config_release(&c);

    rc = load(
        "{\"adapter\": \"kakao\", \"night_block\": \"25:00-08:00\", \"result_codes\": "
        "{\"3005\": \"later\"}, \"resend\": {\"type\": \"SMS\", \"send_no\": \"02-1234-5678\", "
        "\"unsubscribe_no\": \"0212345678\"}}",
        &c, &errs);
    CHECK(rc != 0);
    CHECK(has_error(&errs, "/channels/kakao/night_block", "HH:MM-HH:MM"));
    CHECK(errs.len >= 4);
    CHECK(has_error(&errs, "/channels/kakao/resend/send_no", "digits only"));
    CHECK(has_error(&errs, "/channels/kakao/resend/unsubscribe_no", "080"));
    diag_list_release(&errs);
    config_release(&c);
}

static void test_create_needs_credentials(void)
{
    const adapter_desc *d = adapter_find("kakao");
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK(d->flags & ADAPTER_FANOUT);
    CHECK_INT(d->limits.batch_max, 1000);
    kakao_conf conf = {.present = 1};
    char err[256] = "";
    adapter_env online = {.engine_prefix = "t:{e}:", .key_prefix = "t"};
    void *s = d->ops->create(&online, &conf, err, sizeof err);
    CHECK(s == NULL);
    CHECK_STR(err, "appkey: required to send through the dealer");
    snprintf(conf.appkey, sizeof conf.appkey, "app");
    snprintf(conf.sender_key, sizeof conf.sender_key, "sender");
    snprintf(conf.secret_env, sizeof conf.secret_env, "HAECHI_TEST_KAKAO_NO_SUCH_VARIABLE");
    s = d->ops->create(&online, &conf, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strncmp(err, "secret_env: ", 12) == 0);
    adapter_env offline = {.offline = 1};
    s = d->ops->create(&offline, &conf, err, sizeof err);
    CHECK(s != NULL);
    d->ops->destroy(s);
}

/* ---- header codes -------------------------------------------------------------------- */

static void test_header_codes(void)
{
    static const struct {
        int code;
        kakao_header_kind kind;
        adapter_error error;
        const char *fragment;
    } rows[] = {
        {0, KAKAO_HEADER_OK, ADAPTER_ERR_NONE, NULL},
        {-1005, KAKAO_HEADER_DUPLICATE, ADAPTER_ERR_NONE, NULL},
        {-1000, KAKAO_HEADER_FAILED, ADAPTER_ERR_AUTH, "check appkey in the config"},
        {-1001, KAKAO_HEADER_FAILED, ADAPTER_ERR_AUTH, "check secret_env HAECHI_KAKAO_SECRET"},
        {-1006, KAKAO_HEADER_FAILED, ADAPTER_ERR_REJECTED, "(dealer -1006 M): check sender_key"},
        {-1027, KAKAO_HEADER_FAILED, ADAPTER_ERR_REJECTED, "profile is blocked (dealer -1027 M)"},
        {-1020, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "template not found (dealer -1020 M)"},
        {-1021, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "(dealer -1021 M): add the placeholder"},
        {-2000, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "dealer -2000 M"},
        {-2001, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "dealer -2001 M"},
        {-2002, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "dealer -2002 M"},
        {-2003, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "dealer -2003 M"},
        {-2004, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "dealer -2004 M"},
        {-2005, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "dealer -2005 M"},
        {-2017, KAKAO_HEADER_FAILED, ADAPTER_ERR_REJECTED, "unknown sender profile"},
        {-2018, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "a button is invalid (dealer -2018 M)"},
        {-3000, KAKAO_HEADER_FAILED, ADAPTER_ERR_INVALID, "linkMo"},
        {-4242, KAKAO_HEADER_FAILED, ADAPTER_ERR_REJECTED, "refused the request (dealer -4242 M)"},
        {4, KAKAO_HEADER_FAILED, ADAPTER_ERR_REJECTED, "(dealer 4 M)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        adapter_outcome o = {0};
        kakao_header_kind k =
            kakao_header_verdict(rows[i].code, "M", "secret_env HAECHI_KAKAO_SECRET", &o);
        CHECK_INT(k, rows[i].kind);
        if (k != KAKAO_HEADER_FAILED)
            continue;
        CHECK_INT(o.status, ADAPTER_FAILED);
        CHECK_INT(o.error, rows[i].error);
        CHECK_INT(o.remote_code, rows[i].code);
        if (!strstr(o.reason, rows[i].fragment))
            check_fail(__FILE__, __LINE__, "code %d: \"%s\" lacks \"%s\"", rows[i].code, o.reason,
                       rows[i].fragment);
    }
}

/* ---- answers ------------------------------------------------------------------------------ */

typedef struct batch3 {
    long long positions[3], accepted[3], failed[3];
    int retry_idx[3];
    char masked[3][64];
    kakao_tally t;
    adapter_outcome o;
} batch3;

static void batch3_init(batch3 *b)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 3; i++) {
        b->positions[i] = 2000 + i;
        snprintf(b->masked[i], sizeof b->masked[i], "+8210****000%d", i);
    }
    b->t = (kakao_tally){.n = 3,
                         .positions = b->positions,
                         .masked = (const char(*)[64])b->masked,
                         .accepted = b->accepted,
                         .failed = b->failed,
                         .retry_idx = b->retry_idx};
}

static kakao_answer read_answer(batch3 *b, int status, const char *body, const kakao_overrides *ov)
{
    return kakao_answer_read(status, body, body ? strlen(body) : 0, 30000, ov, "secret_env S",
                             &b->t, &b->o);
}

static void test_answer_per_recipient(void)
{
    batch3 b;
    batch3_init(&b);
    /* The second result comes by its seq only; the third's grouping key is another position's. */
    kakao_answer a = read_answer(
        &b, 200,
        "{\"header\":{\"resultCode\":0,\"resultMessage\":\"SUCCESS\",\"isSuccessful\":true},"
        "\"message\":{\"requestId\":\"20200322090000abcdEFGH\",\"sendResults\":["
        "{\"recipientSeq\":1,\"resultCode\":0,\"recipientGroupingKey\":\"2000\"},"
        "{\"recipientSeq\":2,\"resultCode\":3018,\"resultMessage\":\"blocked\"},"
        "{\"recipientSeq\":9,\"resultCode\":3005,\"recipientGroupingKey\":\"2002\"}]}}",
        NULL);
    CHECK_INT(a, KAKAO_ANSWER_RESULTS);
    CHECK_STR(b.t.request_id, "20200322090000abcdEFGH");
    CHECK_INT(b.t.na, 1);
    CHECK_INT(b.accepted[0], 2000);
    CHECK_INT(b.t.nf, 1);
    CHECK_INT(b.failed[0], 2001);
    CHECK_INT(b.t.nretry, 1);
    CHECK_STR(b.t.retry_reason, "dealer-error");
    CHECK_INT(b.o.nreasons, 1);
    CHECK_STR(b.o.reasons[0].code, "blocked");
    CHECK_INT(b.o.nfailures, 1);
    CHECK_STR(b.o.failures[0].recipient, "+8210****0001");
    CHECK(strstr(b.o.failures[0].reason, "blocked: cannot be sent") != NULL);
    CHECK_INT(kakao_tally_settle(&b.t, 0, 0, 0, NULL, 0, &b.o), 0);
    CHECK_INT(b.o.status, ADAPTER_AGAIN);
    CHECK_INT(b.o.scope, ADAPTER_SCOPE_ITEM);
    CHECK_STR(b.o.reason, "kakao: 1 of 3 recipients to retry (dealer-error)");
    /* On the batch's last attempt for them, the ones to retry are refused instead. */
    CHECK_INT(b.retry_idx[0], 2);
    memset(&b.o, 0, sizeof b.o);
    kakao_tally_give_up(&b.t, 4, &b.o);
    CHECK_INT(b.t.nretry, 0);
    CHECK_INT(b.t.nf, 2);
    CHECK_INT(b.failed[1], 2002);
    CHECK_INT(b.o.nreasons, 1);
    CHECK_STR(b.o.reasons[0].code, "dealer-error");
    CHECK(strstr(b.o.failures[0].reason, "still to retry after 4 attempts") != NULL);
    CHECK_STR(b.o.failures[0].recipient, "+8210****0002");
    CHECK_INT(kakao_tally_settle(&b.t, 0, 0, 0, NULL, 0, &b.o), 0);
    CHECK_INT(b.o.status, ADAPTER_OK);
    CHECK_INT(b.o.accepted, 1);
    CHECK_INT(b.o.rejected, 2);

    /* All settled: the totals over every attempt. */
    batch3_init(&b);
    kakao_overrides ov = {.present = 1};
    snprintf(ov.code[5], sizeof ov.code[5], "permanent"); /* 3005 */
    a = read_answer(&b, 200,
                    "{\"header\":{\"resultCode\":0},\"message\":{\"requestId\":\"R\","
                    "\"sendResults\":[{\"recipientSeq\":1,\"resultCode\":0},{\"recipientSeq\":2,"
                    "\"resultCode\":2003},{\"recipientSeq\":3,\"resultCode\":3005}]}}",
                    &ov);
    CHECK_INT(a, KAKAO_ANSWER_RESULTS);
    adapter_reason_count earlier[] = {{"not-friend", 15}, {"blocked", 3}};
    CHECK_INT(kakao_tally_settle(&b.t, 500, 20, 7, earlier, 2, &b.o), 0);
    CHECK_INT(b.o.status, ADAPTER_OK);
    CHECK_INT(b.o.accepted, 501);
    CHECK_INT(b.o.rejected, 22);
    CHECK_INT(b.o.skipped, 7);
    CHECK_INT(b.o.reach, 501);
    /* This attempt's refusals, then the earlier ones kept, then what they do not cover. */
    CHECK_INT(b.o.nreasons, 4);
    CHECK_STR(b.o.reasons[0].code, "not-friend");
    CHECK_INT(b.o.reasons[0].n, 16);
    CHECK_STR(b.o.reasons[1].code, "dealer-error");
    CHECK_STR(b.o.reasons[2].code, "blocked");
    CHECK_INT(b.o.reasons[2].n, 3);
    CHECK_STR(b.o.reasons[3].code, "refused-earlier");
    CHECK_INT(b.o.reasons[3].n, 2);

    /* A night answer (3022) holds the batch; a missing result is retried. */
    batch3_init(&b);
    a = read_answer(&b, 200,
                    "{\"header\":{\"resultCode\":0},\"message\":{\"requestId\":\"R\","
                    "\"sendResults\":[{\"recipientSeq\":1,\"resultCode\":3022},"
                    "{\"recipientSeq\":2,\"resultCode\":3022}]}}",
                    NULL);
    CHECK_INT(b.t.nhold, 2);
    CHECK_INT(b.t.nretry, 1);
    CHECK_STR(b.t.retry_reason, "no-result");
    CHECK_INT(kakao_tally_settle(&b.t, 0, 0, 0, NULL, 0, &b.o), 1);
}

static void test_answer_header_and_http(void)
{
    batch3 b;
    batch3_init(&b);
    CHECK_INT(read_answer(&b, 200,
                          "{\"header\":{\"resultCode\":-1005,\"resultMessage\":\"dup\","
                          "\"isSuccessful\":false},\"message\":null}",
                          NULL),
              KAKAO_ANSWER_DUPLICATE);
    CHECK_INT(b.t.na, 3);
    CHECK_INT(b.accepted[2], 2002);
    CHECK_INT(kakao_tally_settle(&b.t, 0, 0, 0, NULL, 0, &b.o), 0);
    CHECK_INT(b.o.status, ADAPTER_OK);
    CHECK_INT(b.o.accepted, 3);

    batch3_init(&b);
    CHECK_INT(read_answer(&b, 200,
                          "{\"header\":{\"resultCode\":-1001,\"resultMessage\":\"bad secret\","
                          "\"isSuccessful\":false},\"message\":null}",
                          NULL),
              KAKAO_ANSWER_FINAL);
    CHECK_INT(b.o.status, ADAPTER_FAILED);
    CHECK_INT(b.o.error, ADAPTER_ERR_AUTH);
    CHECK(strstr(b.o.reason, "check secret_env S") != NULL);
    CHECK_INT(b.t.na + b.t.nf, 0);

    batch3_init(&b);
    CHECK_INT(read_answer(&b, 429, "{\"header\":{\"resultCode\":-9999}}", NULL),
              KAKAO_ANSWER_FINAL);
    CHECK_INT(b.o.status, ADAPTER_AGAIN);
    CHECK_INT(b.o.scope, ADAPTER_SCOPE_CHANNEL);
    CHECK_INT(b.o.error, ADAPTER_ERR_RATE_LIMIT);
    CHECK_INT(b.o.retry_after_ms, 30000);

    batch3_init(&b);
    CHECK_INT(read_answer(&b, 503, "oops", NULL), KAKAO_ANSWER_FINAL);
    CHECK_INT(b.o.status, ADAPTER_AGAIN);
    CHECK_INT(b.o.error, ADAPTER_ERR_NETWORK);
    CHECK_INT(b.o.remote_code, 503);

    batch3_init(&b);
    CHECK_INT(read_answer(&b, 404, "no route", NULL), KAKAO_ANSWER_FINAL);
    CHECK_INT(b.o.status, ADAPTER_FAILED);

    batch3_init(&b);
    CHECK_INT(read_answer(&b, 200, "<html>", NULL), KAKAO_ANSWER_FINAL);
    CHECK_INT(b.o.status, ADAPTER_AGAIN);
    CHECK_INT(b.o.error, ADAPTER_ERR_TIMEOUT);
}

/* ---- idempotency, targets -------------------------------------------------------------- */

static void test_idempotency_key(void)
{
    long long all[] = {0, 1, 2, 5, 999}, fewer[] = {0, 1, 2, 5};
    char a[65], b[65], c[65], d[65], e[65];
    kakao_idempotency_key("camp|rel|1584835200000|kakao|v1:0", 0, all, 5, a);
    kakao_idempotency_key("camp|rel|1584835200000|kakao|v1:0", 0, all, 5, b);
    kakao_idempotency_key("camp|rel|1584835200000|kakao|v1:0", 0, fewer, 4, c);
    kakao_idempotency_key("camp|rel|1584835200000|kakao|v1:0", 1, all, 5, d);
    kakao_idempotency_key("camp|rel|1584835200000|kakao|v1:1000", 0, all, 5, e);
    CHECK_INT(strlen(a), 64);
    CHECK_INT(strspn(a, "0123456789abcdef"), 64);
    CHECK_STR(a, b);     /* a retry of the same recipients is recognised */
    CHECK(strcmp(a, c)); /* a retry of fewer is not */
    CHECK(strcmp(a, d)); /* nor one after an answer that asked to retry */
    CHECK(strcmp(a, e)); /* nor another batch */
    /* {12, 3} and {1, 23} must not hash alike. */
    long long x[] = {12, 3}, y[] = {1, 23};
    kakao_idempotency_key("i", 0, x, 2, a);
    kakao_idempotency_key("i", 0, y, 2, b);
    CHECK(strcmp(a, b));
}

static void test_targets_and_release_key(void)
{
    char t[64], key[200];
    long long v = 0, f = 0;
    CHECK_INT(kakao_target_format(3, 349000, t, sizeof t), 0);
    CHECK_STR(t, "v3:349000");
    CHECK_INT(kakao_target_parse(t, &v, &f), 0);
    CHECK_INT(v, 3);
    CHECK_INT(f, 349000);
    CHECK_INT(kakao_target_parse("all", &v, &f), -1);
    CHECK_INT(kakao_target_parse("v0:0", &v, &f), -1);
    CHECK_INT(kakao_target_parse("v1:", &v, &f), -1);
    CHECK_INT(kakao_target_parse("v1:1x", &v, &f), -1);
    CHECK_INT(kakao_target_parse("b0001", &v, &f), -1);
    kakao_release_key("jamsi-meomchum", "morning-post", 1584835200000LL, key, sizeof key);
    CHECK_STR(key, "jamsi-meomchum:morning-post:1584835200000");
}

/* ---- the night block ------------------------------------------------------------------- */

static int64_t kst_ms(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 - 9 * 3600) * 1000LL;
}

static void test_night_block_edges(void)
{
    char why[128], err[128];
    quiet_hours q;
    const tz *seoul = tz_get("Asia/Seoul", err, sizeof err);
    CHECK(seoul != NULL);
    if (!seoul)
        return;
    CHECK_INT(kakao_night_parse("20:50-08:00", &q, why, sizeof why), 0);
    int64_t until = 0;
    CHECK_INT(kakao_night_hold(&q, seoul, kst_ms(2020, 3, 22, 20, 49), &until), 0);
    CHECK_INT(kakao_night_hold(&q, seoul, kst_ms(2020, 3, 22, 20, 49) + 59999, &until), 0);
    CHECK_INT(kakao_night_hold(&q, seoul, kst_ms(2020, 3, 22, 20, 50), &until), 1);
    CHECK_INT(until, kst_ms(2020, 3, 23, 8, 0));
    CHECK_INT(kakao_night_hold(&q, seoul, kst_ms(2020, 3, 23, 7, 59), &until), 1);
    CHECK_INT(until, kst_ms(2020, 3, 23, 8, 0));
    CHECK_INT(kakao_night_hold(&q, seoul, kst_ms(2020, 3, 23, 8, 0), &until), 0);
    /* A 3022 answer by day: the dealer's clock said night; wait for the next 08:00. */
    CHECK_INT(kakao_night_end_after(&q, seoul, kst_ms(2020, 3, 23, 12, 0)),
              kst_ms(2020, 3, 24, 8, 0));
    CHECK_INT(kakao_night_end_after(&q, seoul, kst_ms(2020, 3, 23, 2, 0)),
              kst_ms(2020, 3, 23, 8, 0));
    CHECK_INT(kakao_night_parse("20:50-20:50", &q, why, sizeof why), -1);
    CHECK_INT(kakao_night_parse("8:00-20:00", &q, why, sizeof why), -1);
    CHECK_INT(kakao_night_parse("20:60-08:00", &q, why, sizeof why), -1);
}

/* ---- validate ----------------------------------------------------------------------------- */

/* A string of N copies of the UTF-8 character C. */
static char *repeat(const char *c, int n)
{
    size_t len = strlen(c);
    char *s = malloc(len * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(s + len * (size_t)i, c, len);
    s[len * (size_t)n] = '\0';
    return s;
}

typedef struct verdict {
    diag_list errs, notes;
} verdict;

static void validate_doc(json_t *doc, verdict *v)
{
    diag_list_init(&v->errs);
    diag_list_init(&v->notes);
    kakao_validate(json_object_get(doc, "kakao"), doc, "/kakao", &v->errs, &v->notes);
}

static void verdict_release(verdict *v)
{
    diag_list_release(&v->errs);
    diag_list_release(&v->notes);
}

static json_t *campaign_with(const char *ko, json_t *kakao)
{
    return json_pack("{s:{s:{s:s}},s:o}", "message", "body", "ko", ko, "kakao", kakao);
}

static void test_validate_friendtalk_lengths(void)
{
    verdict v;
    char *text = repeat("가", 1000);
    json_t *doc = campaign_with(text, json_pack("{s:s}", "list", "seoul-friends"));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 0);
    CHECK_INT(v.notes.len, 1);
    if (v.notes.len)
        CHECK_STR(v.notes.items[0].message,
                  "friendtalk 1,000/1,000 characters (ko), 0/5 buttons, list seoul-friends");
    verdict_release(&v);
    json_decref(doc);
    free(text);

    text = repeat("가", 1001);
    doc = campaign_with(text, json_pack("{s:s}", "list", "seoul-friends"));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 1);
    if (v.errs.len) {
        CHECK_STR(v.errs.items[0].path, "/message/body/ko");
        CHECK_STR(v.errs.items[0].message,
                  "1,001 characters; a FriendTalk takes at most 1,000 (400 with an image)");
    }
    verdict_release(&v);
    json_decref(doc);
    free(text);

    text = repeat("a", 401);
    doc = campaign_with("x", json_pack("{s:s,s:s,s:{s:s}}", "list", "l", "image",
                                       "https://e.example/i.png", "text", "ko", text));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 1);
    if (v.errs.len) {
        CHECK_STR(v.errs.items[0].path, "/kakao/text/ko");
        CHECK_STR(v.errs.items[0].message,
                  "401 characters; a FriendTalk with an image takes at most 400");
    }
    CHECK(v.notes.len == 1 && strstr(v.notes.items[0].message, "401/400 characters (ko)"));
    verdict_release(&v);
    json_decref(doc);
    free(text);
}

static void test_validate_alimtalk(void)
{
    verdict v;
    char *text = repeat("나", 1001);
    json_t *doc = campaign_with(text, json_pack("{s:s,s:s,s:s,s:b}", "list", "l", "type",
                                                "alimtalk", "template_code", "HEAT_01", "ad", 1));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 2);
    CHECK(has_error(&v.errs, "/kakao/ad",
                    "AlimTalk carries information only: an advertising message must go as type "
                    "friendtalk"));
    CHECK(has_error(&v.errs, "/message/body/ko",
                    "1,001 characters; an AlimTalk template text takes at most 1,000"));
    verdict_release(&v);
    json_decref(doc);
    free(text);

    doc = campaign_with("#{name}님, #{district} 무더위쉼터 #{count}곳이 #{until}까지 열립니다.",
                        json_pack("{s:s,s:s,s:s,s:{s:s},s:[s,s]}", "list", "l", "type", "alimtalk",
                                  "template_code", "HEAT_01", "variables", "count", "12",
                                  "member_fields", "name", "district"));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 1);
    if (v.errs.len) {
        CHECK_STR(v.errs.items[0].path, "/kakao/variables");
        CHECK_STR(v.errs.items[0].message,
                  "#{until} in the template text has no value: add \"until\" to variables, or "
                  "name a list column \"until\" in member_fields");
    }
    CHECK(v.notes.len == 1);
    if (v.notes.len)
        CHECK_STR(v.notes.items[0].message,
                  "alimtalk HEAT_01: 55/1,000 characters (ko), 4 placeholders (1 from variables, "
                  "2 from member_fields), 0/5 buttons, list l");
    verdict_release(&v);
    json_decref(doc);
}

static void test_validate_ad_mark_and_buttons(void)
{
    verdict v;
    json_t *doc = campaign_with("(광고) 봄맞이 할인", json_pack("{s:s,s:b}", "list", "l", "ad", 1));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 1);
    CHECK(has_error(&v.errs, "/message/body/ko",
                    "starts with \"(광고)\": with ad true Kakao adds the mark itself"));
    verdict_release(&v);
    json_decref(doc);

    doc = campaign_with("(광고) 봄맞이 할인", json_pack("{s:s,s:b}", "list", "l", "ad", 0));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 1);
    CHECK(has_error(&v.errs, "/message/body/ko",
                    "starts with \"(광고)\" but ad is false: a message that is not advertising "
                    "must not claim to be one"));
    verdict_release(&v);
    json_decref(doc);

    json_t *buttons = json_array();
    for (int i = 0; i < 6; i++)
        json_array_append_new(buttons, json_pack("{s:s,s:s}", "name",
                                                 i == 2 ? "일이삼사오육칠팔구십일이삼사오" : "보기",
                                                 "url", "https://e.example/"));
    doc = campaign_with("안내", json_pack("{s:o}", "buttons", buttons));
    validate_doc(doc, &v);
    CHECK_INT(v.errs.len, 3);
    CHECK(has_error(&v.errs, "/kakao/list", "required: the audience list to send to"));
    CHECK(has_error(&v.errs, "/kakao/buttons", "6 buttons; Kakao takes at most 5"));
    CHECK(has_error(&v.errs, "/kakao/buttons/2/name",
                    "15 characters; a button's name takes at most 14"));
    verdict_release(&v);
    json_decref(doc);
}

/* ---- the bodies ---------------------------------------------------------------------------- */

static int same_json(json_t *got, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    int same = w && json_equal(got, w);
    if (!same) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        check_fail(__FILE__, __LINE__, "got %s", g ? g : "(null)");
        free(g);
    }
    json_decref(w);
    return same;
}

static void test_friendtalk_body(void)
{
    json_t *doc =
        json_pack("{s:{s:{s:s,s:s},s:{s:s,s:s}},s:{s:s,s:b,s:b,s:[{s:s,s:s}]}}", "message",
                  "headline", "ko", "잠시 멈춤", "en", "Pause", "body", "ko", "잠시 멈춰 주세요",
                  "en", "Please pause", "kakao", "list", "seoul-friends", "ad", 1, "fallback", 1,
                  "buttons", "name", "실천수칙 보기", "url", "https://www.seoul.go.kr/");
    kakao_message m;
    kakao_message_read(doc, json_object_get(doc, "kakao"), &m);
    kakao_resend rs = {.type = "SMS", .send_no = "0212345678", .unsubscribe_no = "0801234567"};
    json_t *member = json_pack("[s,s,s]", "+821012345678", "김서울", "en");
    char err[256] = "";
    json_t *one = kakao_recipient(&m, &rs, "01012345678", member, NULL, 41, err, sizeof err);
    CHECK(one != NULL);
    json_t *body = kakao_request(&m, "SENDERKEY", "jamsi-meomchum:morning-post:1584835200000",
                                 json_pack("[o]", one));
    same_json(body,
              "{\"senderKey\":\"SENDERKEY\",\"senderGroupingKey\":\"jamsi-meomchum:morning-post:"
              "1584835200000\",\"isAd\":true,\"recipientList\":[{\"recipientNo\":\"01012345678\","
              "\"content\":\"Please pause\",\"buttons\":[{\"ordering\":1,\"type\":\"WL\",\"name\":"
              "\"실천수칙 보기\",\"linkMo\":\"https://www.seoul.go.kr/\",\"linkPc\":\"https://"
              "www.seoul.go.kr/\"}],\"resendParameter\":{\"isResend\":true,\"resendType\":\"SMS\","
              "\"resendContent\":\"(광고)Please pause\\n[무료수신거부] 0801234567\","
              "\"resendSendNo\":\"0212345678\",\"resendUnsubscribeNo\":\"0801234567\"},"
              "\"recipientGroupingKey\":\"41\"}]}");
    CHECK_STR(kakao_route(&m), "/friendtalk/v2.3/appkeys/");
    json_decref(body);
    /* An LMS fallback carries the headline as its title, cut to 20 characters. */
    rs.type = "LMS";
    json_object_set_new(json_object_get(json_object_get(doc, "message"), "headline"), "en",
                        json_string("Pause for a while: two weeks"));
    one = kakao_recipient(&m, &rs, "01012345678", member, NULL, 41, err, sizeof err);
    CHECK_STR(
        json_string_value(json_object_get(json_object_get(one, "resendParameter"), "resendTitle")),
        "Pause for a while: t");
    json_decref(one);
    rs.type = "SMS";
    /* A language the campaign lacks reads Korean; an ad's fallback needs the 080 number. */
    json_array_set_new(member, 2, json_string("ja"));
    one = kakao_recipient(&m, &rs, "01012345678", member, NULL, 41, err, sizeof err);
    CHECK_STR(json_string_value(json_object_get(one, "content")), "잠시 멈춰 주세요");
    json_decref(one);
    rs.unsubscribe_no = "";
    CHECK(kakao_recipient(&m, &rs, "01012345678", member, NULL, 41, err, sizeof err) == NULL);
    CHECK(strstr(err, "resend.unsubscribe_no") != NULL);
    json_decref(member);
    json_decref(doc);
}

static void test_alimtalk_body(void)
{
    json_t *doc = json_pack("{s:{s:{s:s}},s:{s:s,s:s,s:s,s:{s:s},s:[s,s]}}", "message", "body",
                            "ko", "#{name}님, #{district}에 쉼터 #{count}곳", "kakao", "list",
                            "seoul-friends", "type", "alimtalk", "template_code", "HEAT_01",
                            "variables", "count", "12", "member_fields", "name", "district");
    kakao_message m;
    kakao_message_read(doc, json_object_get(doc, "kakao"), &m);
    json_t *fields = json_pack("[s,s]", "age", "district");
    json_t *member = json_pack("[s,s,s,s,s]", "+821012345678", "김서울", "ko", "40", "종로구");
    char err[256] = "";
    json_t *one = kakao_recipient(&m, NULL, "01012345678", member, fields, 7, err, sizeof err);
    CHECK(one != NULL);
    json_t *body = kakao_request(&m, "SENDERKEY", "g", json_pack("[o]", one));
    same_json(body, "{\"senderKey\":\"SENDERKEY\",\"senderGroupingKey\":\"g\",\"templateCode\":"
                    "\"HEAT_01\",\"recipientList\":[{\"recipientNo\":\"01012345678\","
                    "\"templateParameter\":{\"name\":\"김서울\",\"district\":\"종로구\",\"count\":"
                    "\"12\"},\"recipientGroupingKey\":\"7\"}]}");
    CHECK_STR(kakao_route(&m), "/alimtalk/v2.2/appkeys/");
    json_decref(body);
    /* An SMS fallback carries the filled-in text. */
    m.fallback = 1;
    kakao_resend rs = {.type = "LMS", .send_no = "0212345678"};
    one = kakao_recipient(&m, &rs, "01012345678", member, fields, 7, err, sizeof err);
    CHECK_STR(json_string_value(
                  json_object_get(json_object_get(one, "resendParameter"), "resendContent")),
              "김서울님, 종로구에 쉼터 12곳");
    json_decref(one);
    json_decref(member);
    json_decref(fields);
    json_decref(doc);
}

static void test_thousands(void)
{
    char b[32];
    diag_thousands(0, b, sizeof b);
    CHECK_STR(b, "0");
    diag_thousands(999, b, sizeof b);
    CHECK_STR(b, "999");
    diag_thousands(1000, b, sizeof b);
    CHECK_STR(b, "1,000");
    diag_thousands(350000, b, sizeof b);
    CHECK_STR(b, "350,000");
    diag_thousands(10000000, b, sizeof b);
    CHECK_STR(b, "10,000,000");
    diag_thousands(-1234567, b, sizeof b);
    CHECK_STR(b, "-1,234,567");
    char small[6]; /* "12,345" does not fit: cut, and terminated inside */
    diag_thousands(12345, small, sizeof small);
    CHECK_STR(small, "12,34");
}

int main(void)
{
    RUN(test_recipient_codes);
    RUN(test_recipient_overrides);
    RUN(test_config_overrides_and_checks);
    RUN(test_create_needs_credentials);
    RUN(test_header_codes);
    RUN(test_answer_per_recipient);
    RUN(test_answer_header_and_http);
    RUN(test_idempotency_key);
    RUN(test_targets_and_release_key);
    RUN(test_night_block_edges);
    RUN(test_validate_friendtalk_lengths);
    RUN(test_validate_alimtalk);
    RUN(test_validate_ad_mark_and_buttons);
    RUN(test_friendtalk_body);
    RUN(test_alimtalk_body);
    RUN(test_thousands);
    return check_exit_status();
}
