/*
 * registry.c - adapters by name. A new channel adapter adds one line here.
 */
#include <stdio.h>
#include <string.h>

#include "adapter.h"

extern const adapter_desc adapter_log;
extern const adapter_desc adapter_log_insights;
extern const adapter_desc adapter_sns;
extern const adapter_desc adapter_facebook;
extern const adapter_desc adapter_instagram;
extern const adapter_desc adapter_x;
extern const adapter_desc adapter_kakaostory;
extern const adapter_desc adapter_kakao;

static const adapter_desc *const adapters[] = {
    &adapter_log, &adapter_log_insights, &adapter_sns,   &adapter_facebook, &adapter_instagram,
    &adapter_x,   &adapter_kakaostory,   &adapter_kakao,
};

const adapter_desc *adapter_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        if (strcmp(adapters[i]->name, name) == 0)
            return adapters[i];
    return NULL;
}

const adapter_desc *adapter_at(size_t i)
{
    return i < sizeof adapters / sizeof adapters[0] ? adapters[i] : NULL;
}

void adapter_names(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", adapters[i]->name);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}
