/* Behaviour presets: a store people ask about, played by the mock with the
 * bucket policies and proxy rewrites it already has. One row per preset says
 * what it plays, what the mock then does and which field report it comes
 * from; the --help text and the README are made from the same words. */
#include "behave.h"

#include <stdio.h>
#include <string.h>

#include "mock_s3.h"

typedef struct preset {
    ms3_behave_preset info;
    int refuse_aws_chunked;
    int require_content_md5;
    ms3_access_profile access;
    unsigned proxy;
} preset;

static const preset presets[] = {
    {{"oci", "Oracle OCI Object Storage (S3 compatibility API)",
      "an aws-chunked upload (Content-Encoding: aws-chunked or a STREAMING-* payload hash) gets "
      "501 NotImplemented \"AWS chunked encoding not supported\"",
      "field report 6: BuildKit v0.31's uploads on OCI, moby/buildkit#6969"},
     1,
     0,
     MS3_ACCESS_FULL,
     0},
    {{"gcs", "Google Cloud Storage (XML API, HMAC keys)",
      "Accept-Encoding: X reaches the store as \"X,gzip(gfe)\", rewritten after signing, so a "
      "request that signed Accept-Encoding gets 403 SignatureDoesNotMatch",
      "field report 1: moby/buildkit#3749, fixed by disable_accept_encoding (v0.30)"},
     0,
     0,
     MS3_ACCESS_FULL,
     MS3_PROXY_GFE_ACCEPT_ENCODING},
    {{"object-lock", "a bucket with Object Lock default retention (AWS S3, Backblaze B2)",
      "PutObject and UploadPart without Content-MD5 or an x-amz-checksum-* header or trailer get "
      "400 InvalidRequest \"Content-MD5 OR x-amz-checksum- HTTP header is required for Put "
      "Object requests with Object Lock parameters\"",
      "field report 8: aws/aws-sdk-php#1694, s3tools/s3cmd#1436"},
     0,
     1,
     MS3_ACCESS_FULL,
     0},
    {{"no-list", "credentials without s3:ListBucket (AWS IAM)",
      "a missing key is 403 AccessDenied instead of 404, and ListObjectsV2 is 403 AccessDenied",
      "field report 9: runs-on/runs-on#69 and #55"},
     0,
     0,
     MS3_ACCESS_NO_LIST,
     0},
};

#define N_PRESETS (sizeof(presets) / sizeof(presets[0]))

const ms3_behave_preset *ms3_behave_preset_get(size_t i)
{
    return i < N_PRESETS ? &presets[i].info : NULL;
}

static const preset *find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strlen(presets[i].info.name) == len && strncmp(presets[i].info.name, name, len) == 0)
            return &presets[i];
    return NULL;
}

static bk_code unknown(const char *name, size_t len, bk_err *err)
{
    char known[128] = "";
    for (size_t i = 0; i < N_PRESETS; i++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", presets[i].info.name);
    }
    return bk_err_set(err, BK_EINVAL, "unknown behaviour preset \"%.*s\" (known: %s)",
                      (int)(len < 64 ? len : 64), name, known);
}

bk_code ms3_behave_resolve(const char *names, ms3_bucket_policy *policy, unsigned *proxy,
                           bk_err *err)
{
    memset(policy, 0, sizeof(*policy));
    *proxy = 0;
    for (const char *p = names; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            const preset *ps = find(p, len);
            if (ps == NULL)
                return unknown(p, len, err);
            policy->refuse_aws_chunked |= ps->refuse_aws_chunked;
            policy->require_content_md5 |= ps->require_content_md5;
            if (ps->access != MS3_ACCESS_FULL)
                policy->access = ps->access;
            *proxy |= ps->proxy;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return BK_OK;
}

bk_code ms3__behave_apply(ms3_policies *p, const char *names, bk_err *err)
{
    if (names == NULL || names[0] == '\0')
        return BK_OK;
    ms3_bucket_policy policy;
    unsigned proxy = 0;
    bk_code rc = ms3_behave_resolve(names, &policy, &proxy, err);
    if (rc == BK_OK)
        rc = ms3__policies_set(p, NULL, &policy, err);
    if (rc == BK_OK)
        ms3__policies_set_proxy(p, proxy);
    return rc;
}
