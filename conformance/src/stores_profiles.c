/* The request profiles: what each BuildKit release range sends to S3, as
 * data, each with the moby/buildkit commits its shapes come from (the
 * field-report commit table; cache/remotecache/s3/s3.go at those commits).
 * Every profile signs uploads with UNSIGNED-PAYLOAD over https and with the
 * payload's SHA-256 over http, as aws-sdk-go-v2 does, and signs
 * Accept-Encoding: identity unless it has unsigned_gzip. */
#include <string.h>

#include "stores.h"

#define MIB (1024ULL * 1024ULL)

static const stores_profile profiles[] = {
    {"v0.11", "BuildKit v0.11",
     "09c5a7c0e moby/buildkit#2824 (v0.11.0): manager.Uploader, 5 MiB parts; touch by "
     "CopyObject onto itself with REPLACE and x-amz-meta-updated_at; whole-object GETs",
     "manager.Uploader", 5 * MIB, 5 * MIB + 1, "updated_at", 0, 0, STORES_CK_NONE, 0},
    {"v0.12\xe2\x80\x93v0.25", "BuildKit v0.12\xe2\x80\x93v0.25",
     "f3512a696 moby/buildkit#3444 (v0.12.0): touch metadata updated-at; 6c40a3e0c "
     "moby/buildkit#5266 (v0.16.0): touch by UploadPartCopy at the copy limit; 914c55370 "
     "moby/buildkit#5597 (v0.20.0): reads from an offset with Range: bytes=N-",
     "manager.Uploader", 5 * MIB, 5 * MIB + 1, "updated-at", 1, 1, STORES_CK_NONE, 0},
    {"v0.26.0\xe2\x80\x93v0.26.1", "BuildKit v0.26.0\xe2\x80\x93v0.26.1",
     "a1ff6799f moby/buildkit#6328 (v0.26.0): aws-sdk-go-v2 service/s3 v1.87.1 vendored, its "
     "default flexible checksums (WhenSupported): CRC32 on PutObject and UploadPart, none "
     "declared on "
     "CreateMultipartUpload; reported in moby/buildkit#6357, fixed by ccf4af8dd "
     "moby/buildkit#6373 (v0.26.2)",
     "manager.Uploader", 5 * MIB, 5 * MIB + 1, "updated-at", 1, 1, STORES_CK_SDK_DEFAULT, 0},
    {"v0.26.2\xe2\x80\x93v0.30", "BuildKit v0.26.2\xe2\x80\x93v0.30",
     "ccf4af8dd moby/buildkit#6373 (v0.26.2): RequestChecksumCalculation=WhenRequired; "
     "dc552cb6e moby/buildkit#6642 (v0.30.0): disable_accept_encoding=true (no signed "
     "Accept-Encoding; Go's transport adds an unsigned gzip)",
     "manager.Uploader", 5 * MIB, 5 * MIB + 1, "updated-at", 1, 1, STORES_CK_NONE, 1},
    {"v0.31", "BuildKit v0.31",
     "41ec37ec8 moby/buildkit#6845 (v0.31.0): transfermanager, 8 MiB parts, multipart from "
     "16 MiB, its default CRC32 on every upload: Content-Encoding: aws-chunked, "
     "STREAMING-UNSIGNED-PAYLOAD-TRAILER, x-amz-trailer: x-amz-checksum-crc32, "
     "x-amz-decoded-content-length (moby/buildkit#6969)",
     "transfermanager", 8 * MIB, 16 * MIB, "updated-at", 1, 1, STORES_CK_TRANSFER_TRAILER, 1},
    {"v0.32+", "BuildKit v0.32+",
     "e89fccf34 moby/buildkit#6970 (v0.32.0): the transfer manager also WhenRequired: no "
     "checksum, no aws-chunked (as at 73ed6825)",
     "transfermanager", 8 * MIB, 16 * MIB, "updated-at", 1, 1, STORES_CK_NONE, 1},
};

const stores_profile *stores_profiles(size_t *n)
{
    *n = sizeof profiles / sizeof profiles[0];
    return profiles;
}

/* Equal, an ASCII '-' in `given` standing for the en dash of a range. */
static int name_matches(const char *want, const char *given)
{
    static const char dash[] = "\xe2\x80\x93";
    while (*want != '\0') {
        if (strncmp(want, dash, 3) == 0 && *given == '-') {
            want += 3;
            given++;
        } else if (*want == *given) {
            want++;
            given++;
        } else {
            return 0;
        }
    }
    return *given == '\0';
}

const stores_profile *stores_profile_find(const char *name)
{
    size_t n = 0;
    const stores_profile *p = stores_profiles(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0 || name_matches(p[i].name, name))
            return &p[i];
    return NULL;
}
