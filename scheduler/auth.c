/*
 * auth.c - bearer token lookup.
 */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

const config_token *auth_find(const config *cfg, const char *header)
{
    unsigned char digest[32];
    unsigned int len = sizeof digest;
    const config_token *found = NULL;

    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *secret = header + 7;
    while (*secret == ' ')
        secret++;
    if (!*secret || strlen(secret) > 512)
        return NULL;
    if (!EVP_Digest(secret, strlen(secret), digest, &len, EVP_sha256(), NULL))
        return NULL;
    for (size_t i = 0; i < cfg->ntokens; i++) {
        /* No early exit: every token costs the same. */
        if (CRYPTO_memcmp(digest, cfg->tokens[i].digest, sizeof digest) == 0)
            found = &cfg->tokens[i];
    }
    return found;
}

const char *auth_role_for(unsigned perms)
{
    static const char *const order[] = {"viewer", "editor", "approver", "admin"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if ((config_role_perms(order[i]) & perms) == perms)
            return order[i];
    return "admin";
}
