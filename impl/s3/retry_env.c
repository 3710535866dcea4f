/* The retry settings the SDK reads from outside the program: the variables
 * AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, else the profile's retry_mode and
 * max_attempts (aws-sdk-go-v2 config: env_config.go, shared_config.go), with
 * the SDK's messages for values it refuses. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/creds.h"
#include "bkcache/retry.h"

/* Go's strconv.ParseInt(s, 10, 64): an optional sign and decimal digits. */
static int parse_go_int(const char *s, long long *out, const char **why)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
        *why = "invalid syntax";
        return -1;
    }
    errno = 0;
    *out = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        *why = "value out of range";
        return -1;
    }
    return 0;
}

static bk_code parse_mode(const char *value, bk_retry_mode *mode)
{
    if (strcmp(value, "standard") == 0)
        *mode = BK_RETRY_STANDARD;
    else if (strcmp(value, "adaptive") == 0)
        *mode = BK_RETRY_ADAPTIVE;
    else
        return BK_EINVAL;
    return BK_OK;
}

/* AWS_RETRY_MODE, else the profile's retry_mode; *found 0 when neither.
 * Both are checked, the variable first, as the SDK loads both. */
static bk_code mode_from_env(const bk_env *env, bk_retry_mode *mode, int *found, bk_err *err)
{
    const char *v = bk_env_get(env, "AWS_RETRY_MODE");
    char *from_profile = bk_creds_profile_retry_mode(env, NULL);
    bk_retry_mode m_env = BK_RETRY_STANDARD, m_profile = BK_RETRY_STANDARD;
    bk_code rc = BK_OK;
    if (v != NULL && parse_mode(v, &m_env) != BK_OK)
        rc = bk_err_set(
            err, BK_EINVAL,
            "invalid AWS_RETRY_MODE value, unknown RetryMode, %s (standard or adaptive)", v);
    else if (from_profile != NULL && parse_mode(from_profile, &m_profile) != BK_OK)
        rc = bk_err_set(err, BK_EINVAL,
                        "failed to load retry_mode from shared config, unknown RetryMode, %s "
                        "(profile %s; standard or adaptive)",
                        from_profile, bk_creds_profile_name(env));
    *found = rc == BK_OK && (v != NULL || from_profile != NULL);
    *mode = v != NULL ? m_env : m_profile;
    free(from_profile);
    return rc;
}

/* AWS_MAX_ATTEMPTS, else the profile's max_attempts; 0 is unset, as in the
 * SDK; a negative count or one beyond an int is refused. */
static bk_code attempts_from_env(const bk_env *env, int *attempts, bk_err *err)
{
    const char *v = bk_env_get(env, "AWS_MAX_ATTEMPTS");
    char *from_profile = bk_creds_profile_max_attempts(env, NULL);
    long long n_env = 0, n_profile = 0;
    const char *why = NULL;
    bk_code rc = BK_OK;
    *attempts = 0;
    if (v != NULL && parse_go_int(v, &n_env, &why) != 0)
        rc = bk_err_set(err, BK_EINVAL,
                        "invalid value AWS_MAX_ATTEMPTS=%s, strconv.ParseInt: parsing \"%s\": %s",
                        v, v, why);
    else if (from_profile != NULL && parse_go_int(from_profile, &n_profile, &why) != 0)
        rc = bk_err_set(err, BK_EINVAL,
                        "failed to load max_attempts from shared config, invalid value "
                        "max_attempts=%s, expect integer (profile %s)",
                        from_profile, bk_creds_profile_name(env));
    if (rc == BK_OK) {
        int use_env = n_env != 0;
        long long n = use_env ? n_env : n_profile;
        if (n < 0 || n > INT_MAX)
            rc = bk_err_set(err, BK_EINVAL,
                            "invalid value %s=%lld: the number of attempts must be a positive "
                            "integer",
                            use_env ? "AWS_MAX_ATTEMPTS" : "max_attempts", n);
        else
            *attempts = (int)n;
    }
    free(from_profile);
    return rc;
}

bk_code bk_retry_config_from_env(bk_retry_config *c, const bk_env *env, int keep_mode,
                                 int keep_max_attempts, bk_err *err)
{
    bk_retry_mode mode = BK_RETRY_STANDARD;
    int mode_found = 0, attempts = 0;
    bk_code rc = mode_from_env(env, &mode, &mode_found, err);
    if (rc == BK_OK)
        rc = attempts_from_env(env, &attempts, err);
    if (rc != BK_OK)
        return rc;
    if (!keep_mode && mode_found)
        c->mode = mode;
    if (!keep_max_attempts && attempts > 0)
        c->max_attempts = attempts;
    return BK_OK;
}
