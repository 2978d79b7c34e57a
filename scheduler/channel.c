/*
 * channel.c - the channel table (see channel.h).
 */
#include "channel.h"

#include <string.h>

#define CHANNEL_DESC_(id, name_, traits_) [CHANNEL_##id] = {.name = #name_, .traits = (traits_)},
const channel_desc channel_table[CHANNEL_COUNT] = {HAECHI_CHANNELS(CHANNEL_DESC_)};
#undef CHANNEL_DESC_

#define CHANNEL_NAME_(id, name_, traits_) [CHANNEL_##id] = #name_,
const char *const channel_names[CHANNEL_COUNT + 1] = {HAECHI_CHANNELS(CHANNEL_NAME_) NULL};
#undef CHANNEL_NAME_

int channel_from_name(const char *name)
{
    for (int i = 0; i < CHANNEL_COUNT; i++)
        if (strcmp(name, channel_names[i]) == 0)
            return i;
    return -1;
}
