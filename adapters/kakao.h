/*
 * kakao.h - the "kakao" adapter: KakaoTalk messages to the members of an
 * audience list (scheduler/audience.h) through a dealer's BizMessage API in
 * the style of NHN Cloud's AlimTalk v2.2 and FriendTalk v2.3, in batches
 * of at most 1,000 recipients a request. docs/adapters.md ("kakao") has the
 * protocol, the facts and their sources, and the assumptions ([U]) the
 * config can override.
 */
#ifndef HAECHI_KAKAO_H
#define HAECHI_KAKAO_H

#include "adapter.h"
#include "kakao_rules.h"

/* The SMS/LMS fallback a message may ask for ("fallback": true). */
typedef struct kakao_resend_conf {
    int present;
    char type[4];            /* "SMS" or "LMS" */
    char send_no[16];        /* the registered sender number */
    char unsubscribe_no[16]; /* the 080 opt-out number an ad's fallback must carry */
} kakao_resend_conf;

typedef struct kakao_conf {
    int present;            /* first member: set by jcheck_store when the section is given */
    char url[512];          /* the dealer's base; default https://api-alimtalk.cloud.toast.com */
    char appkey[128];       /* in the path of every request */
    char secret_env[128];   /* X-Secret-Key: an environment variable ... */
    char secret_file[1024]; /* ... or a file only its owner may read */
    char sender_key[64];    /* the channel's sender profile key (40 characters at NHN) */
    char night_block[16];   /* "20:50-08:00" (Asia/Seoul) unless set */
    kakao_resend_conf resend;
    kakao_overrides result_codes;
    long long bitmap_days;        /* TTL of a release's sent/fail bitmaps; default 14 */
    char idempotency[4];          /* "on" (default) or "off": the X-NC-API-IDEMPOTENCY-KEY header */
    long long recipient_attempts; /* a recipient still to retry on this attempt of its batch is
                                     refused for good (default 4) */
} kakao_conf;

extern const jobject kakao_conf_shape;
extern const adapter_desc adapter_kakao;

#endif
