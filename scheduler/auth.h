/*
 * auth.h - bearer tokens (RFC 6750) checked against the config's tokens.
 */
#ifndef HAECHI_AUTH_H
#define HAECHI_AUTH_H

#include "config.h"

/*
 * The token whose secret is in HEADER ("Bearer SECRET"), or NULL. Every
 * configured token is compared, in constant time on digests, so neither
 * the answer's timing nor which token matched leaks a secret's bytes.
 */
const config_token *auth_find(const config *cfg, const char *header);

/* The weakest role that has all of PERMS, for messages ("editor"). */
const char *auth_role_for(unsigned perms);

#endif
