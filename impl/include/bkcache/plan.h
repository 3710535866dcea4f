/* The export plan: for every distinct blob of a config, what the exporter
 * does with it and why. The decision is one pure function of what the
 * existence check found (presence, size, Last-Modified), the descriptor's
 * size, the time and the policy (touch_refresh), so it is tested without a
 * server. The exporter builds the whole plan before it writes anything, then
 * executes it; a dry run stops at the plan (and `bkcache export --dry-run`
 * prints it). */
#ifndef BKCACHE_PLAN_H
#define BKCACHE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/attrs.h"
#include "bkcache/buf.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_blob_action {
    BK_BLOB_SKIP = 0, /* present with the right size and fresh: nothing to do */
    BK_BLOB_TOUCH,    /* present, right size, older than touch_refresh: CopyObject onto itself */
    BK_BLOB_UPLOAD,   /* absent: uploaded */
    BK_BLOB_REUPLOAD, /* present with another size, or none: not trusted, uploaded again */
} bk_blob_action;

typedef enum bk_blob_reason {
    BK_REASON_FRESH = 0,    /* skip: modified within touch_refresh */
    BK_REASON_STALE,        /* touch: modified longer than touch_refresh ago */
    BK_REASON_AGE_UNKNOWN,  /* touch: no Last-Modified, so refreshed rather than trusted */
    BK_REASON_ABSENT,       /* upload: 404 NoSuchKey / NotFound, or not listed */
    BK_REASON_SIZE_DIFFERS, /* re-upload: the object's size is not the descriptor's */
    BK_REASON_SIZE_UNKNOWN, /* re-upload: the object has no size to vouch for it */
} bk_blob_reason;

/* What the existence check found for one blob. */
typedef struct bk_blob_remote {
    int present;
    int has_size;
    uint64_t size;
    int has_mtime;
    int64_t mtime_s; /* Last-Modified, seconds since the epoch */
} bk_blob_remote;

typedef struct bk_blob_decision {
    bk_blob_action action;
    bk_blob_reason reason;
    int64_t age_ns; /* now - Last-Modified, when the object has one */
} bk_blob_decision;

/* The decision for a blob of `size` bytes (its descriptor's) at wall time
 * now_ns: absent -> upload; present without a size or with another size ->
 * re-upload; present without Last-Modified, or modified more than
 * policy->touch_refresh_ns ago -> touch; otherwise skip. */
bk_blob_decision bk_plan_decide(const bk_blob_remote *remote, uint64_t size, int64_t now_ns,
                                const bk_s3cache_policy *policy);

/* "skip", "touch", "upload", "re-upload". */
const char *bk_blob_action_name(bk_blob_action action);

typedef struct bk_plan_blob {
    char *digest;
    char *key;
    uint64_t size; /* the descriptor's */
    bk_blob_remote remote;
    bk_blob_decision decision;
} bk_plan_blob;

typedef struct bk_export_plan {
    bk_plan_blob *blobs; /* one per distinct blob, in the config's order */
    size_t n_blobs;
    char **manifest_keys; /* one per name, written last */
    size_t n_manifests;
    uint64_t manifest_size;   /* bytes of the encoded config */
    int manifest_if_match;    /* the manifest writes are conditional */
    int64_t touch_refresh_ns; /* the policy the decisions used */
    int64_t now_ns;           /* and the time */
} bk_export_plan;

/* The decision's reason in words ("absent", "present with 9 bytes, expected
 * 4096", "last modified 25h0m0s ago, touch_refresh 24h0m0s", ...). */
void bk_plan_reason_text(const bk_export_plan *plan, const bk_plan_blob *blob, char *out,
                         size_t size);

/* Counts of each action. */
size_t bk_export_plan_count(const bk_export_plan *plan, bk_blob_action action);

/* Appends the plan as text: a header line, one line per blob
 * ("upload    blobs/sha256:...  2048 bytes  absent"), one per manifest. */
bk_code bk_export_plan_format(const bk_export_plan *plan, bk_buf *out, bk_err *err);

void bk_export_plan_clear(bk_export_plan *plan);

#ifdef __cplusplus
}
#endif

#endif
