/* The --cache-to/--cache-from attribute string: buildx's CSV split and
 * BuildKit's reading of every attribute. Byte 0 chooses strict mode and
 * whether $AWS_BUCKET/$AWS_REGION are set; the rest is the string. The
 * environment is simulated: the process's own is never read. */
#include "fuzz_target.h"

#include "bkcache/attrs.h"

static const char *fake_env(void *ctx, const char *name)
{
    int set = *(const int *)ctx;
    if (!set)
        return NULL;
    if (strcmp(name, "AWS_BUCKET") == 0)
        return "env-bucket";
    if (strcmp(name, "AWS_REGION") == 0)
        return "eu-west-1";
    return NULL;
}

BK_FUZZ_TARGET(attrs)
{
    if (size < 1)
        return 0;
    char *s = bk_fuzz_cstr(data + 1, size - 1);
    if (s == NULL)
        return 0;
    int env_set = (data[0] >> 1) & 1;
    bk_attrs_options opts = {0};
    opts.strict = data[0] & 1;
    bk_env env = {fake_env, &env_set};
    opts.env = &env;
    bk_err err;
    bk_s3_attrs a;
    if (bk_s3_attrs_parse(s, &opts, &a, &err) == BK_OK) {
        if (a.layout.n_names < 1 || a.layout.names == NULL || a.client.bucket == NULL ||
            a.client.region == NULL)
            bk_fuzz_fail("parsed attributes without a name, bucket or region");
        char *k = bk_s3cache_layout_manifest_key(&a.layout, a.layout.names[0]);
        free(k);
        k = bk_s3cache_layout_blob_key(&a.layout, "sha256:00");
        free(k);
        bk_s3_attrs_clear(&a);
    }
    char **keys = NULL, **values = NULL;
    long n = bk_attrs_split(s, &keys, &values, &err);
    for (long i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
    free(s);
    return 0;
}
