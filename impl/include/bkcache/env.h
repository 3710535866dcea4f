/* The one environment hook of the library: where AWS_REGION, AWS_BUCKET,
 * AWS_PROFILE, AWS_CA_BUNDLE and the rest are read from. Tests inject a
 * table; NULL (or a NULL get) means the process environment. */
#ifndef BKCACHE_ENV_H
#define BKCACHE_ENV_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_env {
    /* The value of name, NULL when it is not set (set but empty is ""). */
    const char *(*get)(void *ud, const char *name);
    void *ud;
} bk_env;

/* The value as set: NULL only when unset ("" counts, as Go's os.LookupEnv). */
const char *bk_env_lookup(const bk_env *env, const char *name);
/* The value, NULL when unset or empty (as the AWS SDKs read their variables). */
const char *bk_env_get(const bk_env *env, const char *name);

#ifdef __cplusplus
}
#endif

#endif
