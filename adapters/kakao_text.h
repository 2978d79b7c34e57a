/*
 * kakao_text.h - a campaign's kakao section as the dealer's request body
 * (NHN Cloud AlimTalk v2.2 / FriendTalk v2.3 style, the protocol in
 * docs/adapters.md, "kakao"), and the checks `haechi validate` runs on it:
 * lengths in characters (code points), buttons, placeholders supplied,
 * the ad flag and the "(광고)" mark. Pure: no Redis, no HTTP.
 */
#ifndef HAECHI_KAKAO_TEXT_H
#define HAECHI_KAKAO_TEXT_H

#include <jansson.h>
#include <stddef.h>

#include "diag.h"

#define KAKAO_TEXT_MAX 1000      /* FriendTalk content, AlimTalk template text */
#define KAKAO_TEXT_IMAGE_MAX 400 /* FriendTalk content with an image */
#define KAKAO_BUTTONS_MAX 5
#define KAKAO_BUTTON_NAME_MAX 14
#define KAKAO_VARIABLES_MAX 40
#define KAKAO_RESEND_TITLE_MAX 20 /* an LMS title [U]: the headline is cut to it */
#define KAKAO_AD_MARK "(광고)"
#define KAKAO_AD_OPTOUT "\n[무료수신거부] "

/* The section, read once: every pointer borrowed from the documents. */
typedef struct kakao_message {
    const json_t *campaign, *section;
    int alimtalk; /* type "alimtalk"; else FriendTalk */
    int ad;
    int fallback;
    const char *template_code; /* AlimTalk */
    const char *image;         /* FriendTalk */
    const char *list;
    const json_t *buttons, *variables, *member_fields;
} kakao_message;

void kakao_message_read(const json_t *campaign, const json_t *section, kakao_message *m);

/* The text in LANG: the section's own words, else the message body; NULL. */
const char *kakao_text(const kakao_message *m, const char *lang);

/* The language a member reads: LANG when the campaign has a text in it,
 * else "ko". An AlimTalk is always its one registered (ko) template. */
const char *kakao_lang_for(const kakao_message *m, const char *lang);

/* The SMS/LMS fallback the config offers; type NULL: none. */
typedef struct kakao_resend {
    const char *type; /* "SMS" | "LMS" */
    const char *send_no;
    const char *unsubscribe_no;
} kakao_resend;

/*
 * One recipientList entry for NUMBER (domestic digits) and MEMBER (the
 * list's member array [id, name, lang, custom...] with FIELDS its custom
 * column names; NULL for an example), at POSITION. New reference, or NULL
 * with a reason in ERR (a placeholder without a value).
 */
json_t *kakao_recipient(const kakao_message *m, const kakao_resend *rs, const char *number,
                        const json_t *member, const json_t *fields, long long position, char *err,
                        size_t errlen);

/* The request body around RECIPIENTS (stolen); NULL when out of memory. */
json_t *kakao_request(const kakao_message *m, const char *sender_key, const char *grouping_key,
                      json_t *recipients);

/* "/alimtalk/v2.2/appkeys/" or "/friendtalk/v2.3/appkeys/": APPKEY and
 * "/messages" follow. */
const char *kakao_route(const kakao_message *m);

/*
 * Calls FN for each #{name} placeholder of TEXT, in order, with the name
 * (not NUL-terminated) and its length; stops when FN returns nonzero and
 * returns that.
 */
int kakao_placeholders(const char *text, int (*fn)(const char *name, size_t len, void *arg),
                       void *arg);

/* The adapter's validate(): see adapter.h. */
void kakao_validate(const json_t *section, const json_t *campaign, const char *path,
                    diag_list *errs, diag_list *notes);

#endif
