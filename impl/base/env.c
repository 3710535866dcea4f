#include "bkcache/env.h"

#include <stdlib.h>

const char *bk_env_lookup(const bk_env *env, const char *name)
{
    if (env != NULL && env->get != NULL)
        return env->get(env->ud, name);
    return getenv(name);
}

const char *bk_env_get(const bk_env *env, const char *name)
{
    const char *v = bk_env_lookup(env, name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}
