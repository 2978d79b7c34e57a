/*
 * preview.h - what each channel's configured adapter would send, offline:
 * the payloads of `haechi preview` and of `haechi rehearse`'s output. The
 * adapters are created with an offline environment (no Redis, no files,
 * no connections) and only their render() is called.
 */
#ifndef HAECHI_PREVIEW_H
#define HAECHI_PREVIEW_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "campaign.h"
#include "config.h"

typedef struct preview preview;

/* One adapter instance per channel that C uses, as CFG configures them.
 * NULL with a reason in ERR ("/channels/kakao: ..."). */
preview *preview_new(struct event_base *base, const config *cfg, const campaign *c, char *err,
                     size_t errlen);
void preview_free(preview *p);

/* The name of the adapter serving channel CH. */
const char *preview_adapter(const preview *p, int ch);

/* The payload CH's adapter would send for release RELEASE_ID due at DUE_MS.
 * New reference, or NULL with a reason in ERR. */
json_t *preview_render(preview *p, const campaign *c, const char *release_id, int ch,
                       int64_t due_ms, char *err, size_t errlen);

#endif
