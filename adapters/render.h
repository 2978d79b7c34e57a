/*
 * render.h - the channel-neutral message of a work item: the campaign's
 * message with the channel section's overrides applied. Channel adapters
 * build their wire payloads from it; the log adapter writes it as it is.
 */
#ifndef HAECHI_RENDER_H
#define HAECHI_RENDER_H

#include <jansson.h>
#include <stddef.h>

#include "adapter.h"

/*
 * {"channel","campaign","version","release","due","target","headline",
 *  "text":{lang: ...},"link","image","hashtags","options":{the section's
 *  other fields}}. New reference, or NULL when out of memory.
 */
json_t *render_message(const adapter_item *item);

/* One line for people: "ko 92 chars: [서울시] 코로나19를 멈추기…". */
void render_summary(const json_t *message, char *buf, size_t len);

#endif
