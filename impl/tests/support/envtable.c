#include "envtable.h"

#include <stddef.h>
#include <string.h>

const char *bk_test_env_table_get(void *ud, const char *name)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}
