/*
 * Each network's post and its limits (sns_text.h): the composition rule,
 * the counts and the exact error and note lines.
 */
#include <stdlib.h>

#include "check.h"
#include "sns_text.h"

static json_t *campaign(const char *sns_json)
{
    json_t *c = json_pack("{s:{s:{s:s, s:s}, s:s, s:s, s:[s, s]}}", "message", "body", "ko", "본문",
                          "en", "Body", "link", "https://www.seoul.go.kr/", "image",
                          "https://www.seoul.go.kr/p.jpg", "hashtags", "잠시멈춤", "서울시");
    json_object_set_new(c, "sns", json_loads(sns_json, 0, NULL));
    return c;
}

static void test_x_text_link_then_hashtags(void)
{
    json_t *c = campaign("{\"networks\": [\"x\"], \"text\": {\"ko\": \"함께해요\"}}");
    sns_post p;
    CHECK_INT(sns_post_compose(c, NULL, "x", "ko", &p), 0);
    CHECK_STR(p.text, "함께해요\n\nhttps://www.seoul.go.kr/\n\n#잠시멈춤 #서울시");
    CHECK_STR(p.source, "/sns/text/ko");
    CHECK_STR(p.tags_source, "/message/hashtags");
    CHECK_INT(p.link_in_text, 1);
    CHECK_INT(p.link_added, 1);
    CHECK_INT(p.tags_added, 2);
    sns_post_release(&p);
    /* English has no sns text: the message's body stands in. */
    CHECK_INT(sns_post_compose(c, NULL, "x", "en", &p), 0);
    CHECK_STR(p.source, "/message/body/en");
    sns_post_release(&p);
    CHECK_INT(sns_post_compose(c, NULL, "x", "ja", &p), -1);
    CHECK_INT(sns_post_compose(c, NULL, "myspace", "ko", &p), -1);
    json_decref(c);
}

static void test_facebook_link_is_its_own_field(void)
{
    json_t *c = campaign("{\"networks\": [\"facebook\"], \"link\": \"https://a.kr/\", "
                         "\"hashtags\": [\"하나\"], \"facebook\": {\"link\": \"https://b.kr/\"}}");
    sns_post p;
    CHECK_INT(sns_post_compose(c, NULL, "facebook", "ko", &p), 0);
    CHECK_STR(p.text, "본문\n\n#하나");
    CHECK_STR(p.link, "https://b.kr/");
    CHECK_INT(p.link_in_text, 0);
    CHECK_STR(p.tags_source, "/sns/hashtags");
    sns_post_release(&p);
    json_decref(c);
}

static void test_instagram_own_image_and_no_link(void)
{
    json_t *c = campaign("{\"networks\": [\"instagram\"], \"image\": \"https://a.kr/s.jpg\", "
                         "\"instagram\": {\"image\": \"https://a.kr/ig.jpg\", "
                         "\"text\": {\"en\": \"Caption\"}}}");
    sns_post p;
    CHECK_INT(sns_post_compose(c, NULL, "instagram", "en", &p), 0);
    CHECK_STR(p.text, "Caption\n\n#잠시멈춤 #서울시");
    CHECK_STR(p.source, "/sns/instagram/text/en");
    CHECK(p.link == NULL);
    CHECK_STR(p.image, "https://a.kr/ig.jpg");
    sns_post_release(&p);
    /* The other networks never take Instagram's image. */
    CHECK_INT(sns_post_compose(c, NULL, "x", "ko", &p), 0);
    CHECK_STR(p.image, "https://a.kr/s.jpg");
    sns_post_release(&p);
    json_decref(c);
}

static void test_link_written_by_the_author_is_not_repeated(void)
{
    json_t *c = campaign("{\"networks\": [\"x\"], \"hashtags\": [], \"text\": {\"ko\": "
                         "\"자세히: https://www.seoul.go.kr/ 참고\"}}");
    sns_post p;
    CHECK_INT(sns_post_compose(c, NULL, "x", "ko", &p), 0);
    CHECK_STR(p.text, "자세히: https://www.seoul.go.kr/ 참고");
    CHECK_INT(p.link_added, 0);
    CHECK_INT(p.tags_added, 0);
    sns_post_release(&p);
    json_decref(c);
}

static void test_languages_in_order(void)
{
    json_t *c = campaign("{\"networks\": [\"x\"], \"x\": {\"text\": {\"ja\": \"日本語\"}}}");
    const char *langs[SNS_LANGS_MAX];
    CHECK_INT(sns_post_languages(c, "x", langs), 3);
    CHECK_STR(langs[0], "ko");
    CHECK_STR(langs[1], "en");
    CHECK_STR(langs[2], "ja");
    CHECK_INT(sns_post_languages(c, "facebook", langs), 2);
    json_decref(c);
}

static void test_counts_hashtags_and_mentions(void)
{
    /* Two tags (#서울, ＃안전); not "#1" (digits), "a#b" (inside a word) or
     * the URL's fragment; one mention, not the e-mail address. */
    const char *t = "#서울 ＃안전 #1 a#b https://a.kr/#top @seoul_city mail@seoul.go.kr";
    sns_counts k;
    sns_text_count(sns_rules_for("instagram"), t, strlen(t), &k);
    CHECK_INT(k.hashtags, 2);
    CHECK_INT(k.mentions, 1);
    CHECK_INT(k.length, (long)sns_text_length(t, strlen(t)));
    CHECK_INT(sns_text_length("\xE1\x84\x80\xE1\x85\xA1", 6), 1); /* NFC: 가 */
    CHECK_INT(sns_text_length("caf\xE9", 4), -1);
}

static void test_check_lines(void)
{
    size_t n = 63207;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    json_t *c = campaign("{\"networks\": [\"facebook\", \"x\"], \"hashtags\": []}");
    json_object_set_new(json_object_get(json_object_get(c, "message"), "body"), "ko",
                        json_string(big));
    diag_list errs, notes;
    diag_list_init(&errs);
    diag_list_init(&notes);
    sns_text_check(json_object_get(c, "sns"), c, "facebook", "/sns", &errs, &notes);
    CHECK_INT(errs.len, 1);
    if (errs.len) {
        CHECK_STR(errs.items[0].path, "/message/body/ko");
        CHECK_STR(errs.items[0].message, "63,207 characters, the limit is 63,206 on facebook");
    }
    CHECK_INT(notes.len, 2);
    if (notes.len == 2) {
        CHECK_STR(notes.items[0].message, "facebook: 63,207/63,206 characters (ko)");
        CHECK_STR(notes.items[1].message, "facebook: 4/63,206 characters (en)");
    }
    /* Every network the section names, when none is given: x adds its
     * link to the English post: "Body\n\n" (6) + 23. */
    diag_list_release(&errs);
    diag_list_release(&notes);
    diag_list_init(&errs);
    diag_list_init(&notes);
    sns_text_check(json_object_get(c, "sns"), c, NULL, "/sns", &errs, &notes);
    CHECK_INT(errs.len, 2);
    CHECK_INT(notes.len, 4);
    if (notes.len == 4)
        CHECK_STR(notes.items[3].message, "x: 29/280 weighted characters (en)");
    diag_list_release(&errs);
    diag_list_release(&notes);
    json_decref(c);
    free(big);
}

int main(void)
{
    RUN(test_x_text_link_then_hashtags);
    RUN(test_facebook_link_is_its_own_field);
    RUN(test_instagram_own_image_and_no_link);
    RUN(test_link_written_by_the_author_is_not_repeated);
    RUN(test_languages_in_order);
    RUN(test_counts_hashtags_and_mentions);
    RUN(test_check_lines);
    return check_exit_status();
}
