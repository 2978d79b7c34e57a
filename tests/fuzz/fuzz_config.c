/*
 * fuzz_config.c - config_load_buffer() on any bytes. Secrets named by
 * environment variables or files resolve to nothing here, which is itself
 * an error path worth reaching.
 */
#include "fuzz.h"

#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config cfg;
    diag_list errs;
    config_defaults(&cfg);
    diag_list_init(&errs);
    int rc = config_load_buffer((const char *)data, size, &cfg, &errs);
    if (rc != 0 && !diag_any(&errs))
        abort(); /* a refusal carries at least one error */
    diag_list_release(&errs);
    config_release(&cfg);
    return 0;
}
