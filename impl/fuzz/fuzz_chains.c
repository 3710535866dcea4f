/* Cache chains built by any sequence of adds (the export path: records
 * merged, links that would close a loop, results whose blobs have
 * conflicting descriptors, random: digests), then marshaled. Checks: the
 * marshaled config encodes and parses back to the same bytes; when it
 * passes validation, normalizing it succeeds or refuses it with a message,
 * and what it gives passes validation too.
 *
 * Input: byte 0 flags (bit 0: annotate layers; bit 1: byte 1 is a mask of
 * the descriptors whose blob is unavailable), then records until the input
 * ends. A record is one byte (digest: bits 0-2; inputs: bits 3-4; results:
 * bits 5-6), per input one byte (links: bits 0-1, 0 is an invalid empty
 * input) and per link one byte (source: the earlier record with that number
 * modulo their count; selector: bits 5-6), per result one byte (layers:
 * bits 0-2; createdAt: bits 3-4) and per layer one byte (descriptor: bits
 * 0-2; descriptors 0 and 5 share a blob digest with different sizes). */
#include "fuzz_target.h"

#include "bkcache/chains.h"

enum { MAX_ITEMS = 4096, MAX_LINKS = 4, MAX_LAYERS = 7, MAX_RESULTS = 3 };

static const char *const digests[] = {
    "sha256:0000000000000000000000000000000000000000000000000000000000000001",
    "sha256:0000000000000000000000000000000000000000000000000000000000000002",
    "sha256:0000000000000000000000000000000000000000000000000000000000000003",
    "sha256:0000000000000000000000000000000000000000000000000000000000000004",
    "sha256:0000000000000000000000000000000000000000000000000000000000000005",
    "sha256:0000000000000000000000000000000000000000000000000000000000000006",
    "sha256:0000000000000000000000000000000000000000000000000000000000000007",
    "random:0000000000000000000000000000000000000000000000000000000000000008",
};

static const char *const selectors[] = {NULL, "", "/src", "/out/app"};

#define BLOB(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static bk_descriptor descriptor(unsigned id)
{
    static const char *const blobs[] = {BLOB("aa"), BLOB("bb"), BLOB("cc"), BLOB("dd"),
                                        BLOB("ee"), BLOB("aa"), BLOB("ff"), BLOB("12")};
    bk_descriptor d = {0};
    d.digest = (char *)blobs[id & 7];
    d.media_type = (char *)(id & 1 ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                   : "application/vnd.oci.image.layer.v1.tar+gzip");
    d.diff_id = (char *)(id == 7 ? "" : BLOB("0d"));
    d.size = (int64_t)(id & 7) + 1;
    d.created_at = bk_time_from_unix(1700000000 + (int64_t)(id & 3), 0, (int32_t)(id & 2) * 30);
    d.has_created_at = (id & 4) != 0;
    return d;
}

static bool available(void *ctx, const bk_descriptor *d)
{
    unsigned mask = *(const unsigned *)ctx;
    for (unsigned id = 0; id < 8; id++) {
        bk_descriptor k = descriptor(id);
        if (strcmp(k.digest, d->digest) == 0 && k.size == d->size)
            return (mask >> id & 1) == 0;
    }
    return true;
}

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static bool next(reader *r, unsigned *b)
{
    if (r->left == 0)
        return false;
    *b = *r->p++;
    r->left--;
    return true;
}

/* One record of the program; false when the input ended inside it. */
static bool add_one(reader *r, bk_chains *c, bk_chain_item **items, size_t *n_items)
{
    unsigned op, b;
    if (!next(r, &op))
        return false;
    bk_chain_link links[3][MAX_LINKS];
    bk_chain_dep deps[3];
    size_t n_deps = (op >> 3) & 3, n_results = ((op >> 5) & 3) % (MAX_RESULTS + 1);
    for (size_t i = 0; i < n_deps; i++) {
        if (!next(r, &b))
            return false;
        deps[i].links = links[i];
        deps[i].n_links = b & 3;
        for (size_t j = 0; j < deps[i].n_links; j++) {
            if (!next(r, &b))
                return false;
            if (*n_items == 0)
                return true; /* nothing to link to yet: the record is skipped */
            links[i][j].src = items[(b & 0x1f) % *n_items];
            links[i][j].selector = selectors[(b >> 5) & 3];
        }
    }
    bk_descriptor layers[MAX_RESULTS][MAX_LAYERS];
    bk_chain_result results[MAX_RESULTS];
    for (size_t i = 0; i < n_results; i++) {
        if (!next(r, &b))
            return false;
        results[i].layers = layers[i];
        results[i].n_layers = b & 7;
        results[i].created_at = bk_time_from_unix(1710000000 + (int64_t)((b >> 3) & 3), 0, 0);
        for (size_t j = 0; j < results[i].n_layers; j++) {
            if (!next(r, &b))
                return false;
            layers[i][j] = descriptor(b);
        }
    }
    bk_err err;
    bk_chain_item *it = NULL;
    bk_code rc = bk_chains_add(c, digests[op & 7], deps, n_deps, results, n_results, &it, &err);
    if (rc != BK_OK && err.msg[0] == '\0')
        bk_fuzz_fail("a refused add without a message");
    if (rc == BK_OK && it && *n_items < MAX_ITEMS)
        items[(*n_items)++] = it;
    return true;
}

static void check_marshaled(const bk_cache_config *cfg, unsigned flags)
{
    bk_err err;
    bk_buf first = BK_BUF_INIT;
    if (bk_config_encode(cfg, &first, &err) != BK_OK) {
        bk_buf_clear(&first);
        return; /* a time outside Go's years cannot come from these inputs */
    }
    bk_cache_config *again = NULL;
    if (bk_config_parse(first.data, first.len, &again, &err) != BK_OK)
        bk_fuzz_fail("a marshaled config does not parse");
    bk_buf second = BK_BUF_INIT;
    if (bk_config_encode(again, &second, &err) != BK_OK || first.len != second.len ||
        memcmp(first.data, second.data, first.len) != 0)
        bk_fuzz_fail("a marshaled config does not encode to the same bytes again");
    unsigned vflags = flags & 1 ? BK_VALIDATE_S3 : 0;
    if (bk_config_validate(again, vflags, &err) == BK_OK) {
        bk_cache_config *norm = NULL;
        bk_code rc =
            bk_chains_normalize(again, vflags, flags & 1 ? BK_MARSHAL_ANNOTATIONS : 0, &norm, &err);
        if (rc != BK_OK && (rc != BK_EINVAL || err.msg[0] == '\0'))
            bk_fuzz_fail("normalizing a valid marshaled config failed without a reason");
        if (rc == BK_OK && bk_config_validate(norm, vflags, &err) != BK_OK)
            bk_fuzz_fail("a normalized config does not pass validation");
        bk_config_free(norm);
    }
    bk_buf_clear(&second);
    bk_buf_clear(&first);
    bk_config_free(again);
}

BK_FUZZ_TARGET(chains)
{
    reader r = {data, size};
    unsigned flags = 0, mask = 0;
    if (!next(&r, &flags) || ((flags & 2) && !next(&r, &mask)))
        return 0;
    bk_chains *c = bk_chains_new();
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bk_chain_item **items = malloc(MAX_ITEMS * sizeof *items);
    if (c == NULL || items == NULL) {
        bk_chains_free(c);
        free(items);
        return 0;
    }
    size_t n_items = 0;
    while (add_one(&r, c, items, &n_items))
        ;
    bk_err err;
    bk_cache_config *cfg = NULL;
    bk_code rc = bk_chains_marshal(c, flags & 1 ? BK_MARSHAL_ANNOTATIONS : 0,
                                   flags & 2 ? available : NULL, &mask, &cfg, &err);
    if (rc == BK_OK)
        check_marshaled(cfg, flags);
    else if (err.msg[0] == '\0')
        bk_fuzz_fail("a failed marshal without a message");
    bk_config_free(cfg);
    bk_chains_free(c);
    free(items);
    return 0;
}
