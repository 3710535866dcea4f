/* The cache config reader (the S3 manifest and the type=local config blob):
 * parse, validate and, for what parses, a round trip: the encoding of a
 * parsed config must parse again to a config with the same encoding. What
 * validates is also normalized (the import's parse + marshal): that succeeds
 * or refuses with a message, and what it gives validates. */
#include "fuzz_target.h"

#include "bkcache/cacheconfig.h"
#include "bkcache/chains.h"

static void normalize(const bk_cache_config *cfg, unsigned vflags, unsigned mflags)
{
    bk_err err;
    if (bk_config_validate(cfg, vflags, &err) != BK_OK)
        return;
    bk_cache_config *norm = NULL;
    bk_code rc = bk_chains_normalize(cfg, vflags, mflags, &norm, &err);
    if (rc != BK_OK && (rc != BK_EINVAL || err.msg[0] == '\0'))
        bk_fuzz_fail("normalizing a valid config failed without a reason");
    if (rc == BK_OK && bk_config_validate(norm, vflags, &err) != BK_OK)
        bk_fuzz_fail("a normalized config does not pass validation");
    bk_config_free(norm);
}

BK_FUZZ_TARGET(cacheconfig)
{
    bk_err err;
    bk_cache_config *cfg = NULL;
    if (bk_config_parse((const char *)data, size, &cfg, &err) != BK_OK) {
        if (cfg != NULL)
            bk_fuzz_fail("a failed parse returned a config");
        if (err.msg[0] == '\0')
            bk_fuzz_fail("a failed parse without a message");
        return 0;
    }
    normalize(cfg, 0, 0);
    normalize(cfg, BK_VALIDATE_S3, BK_MARSHAL_ANNOTATIONS);
    size_t n = 0;
    const char **blobs = bk_config_blobs(cfg, &n);
    free(blobs);

    bk_buf first = BK_BUF_INIT;
    if (bk_config_encode(cfg, &first, &err) == BK_OK) {
        bk_cache_config *again = NULL;
        if (bk_config_parse(first.data, first.len, &again, &err) != BK_OK)
            bk_fuzz_fail("the encoding of a parsed config does not parse");
        bk_buf second = BK_BUF_INIT;
        if (bk_config_encode(again, &second, &err) != BK_OK)
            bk_fuzz_fail("a re-parsed config does not encode");
        if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)
            bk_fuzz_fail("encode(parse(encode(x))) differs from encode(x)");
        bk_buf_clear(&second);
        bk_config_free(again);
    }
    bk_buf_clear(&first);
    bk_config_free(cfg);
    return 0;
}
