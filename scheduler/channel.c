/*
 * channel.c - channel names.
 */
#include "channel.h"

#include <string.h>

const char *const channel_names[CHANNEL_COUNT + 1] = {
    [CHANNEL_SNS] = "sns",       [CHANNEL_KAKAO] = "kakao",
    [CHANNEL_BANNER] = "banner", [CHANNEL_NEWSLETTER] = "newsletter",
    [CHANNEL_ALERT] = "alert",   [CHANNEL_COUNT] = NULL,
};

int channel_from_name(const char *name)
{
    for (int i = 0; i < CHANNEL_COUNT; i++)
        if (strcmp(name, channel_names[i]) == 0)
            return i;
    return -1;
}
