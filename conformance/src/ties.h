/* The two ties BuildKit's marshal leaves to Go map order (SPEC 4;
 * cache/remotecache/v1/chains.go:307, utils.go:102-104 and 194-195 at
 * 73ed6825): links of one input with the same link index (same record,
 * different selectors), and layers with the same blob under different
 * parents (the layers swap and every index to them follows). Every other
 * byte of a manifest is fixed. The runner compares manifests up to exactly
 * these ties; the BuildKit-like broken adapter writes them in another order. */
#ifndef BKCONF_TIES_H
#define BKCONF_TIES_H

#include <stddef.h>

#include "bkcache/buf.h"
#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"

/* Puts every tie group in one canonical order (layers by their parent chain's
 * blobs, links by selector), rewriting parent, result and chain indexes.
 * BK_EINVAL when an index is out of range (nothing is changed then). */
bk_code conf_ties_canonicalize(bk_cache_config *cfg, bk_err *err);

/* Rotates every tie group by 1..k-1 places (rand_r(seed)), so each group of
 * distinct members comes out in an order other than the one it had: a valid
 * BuildKit output. *groups (may be NULL) counts the groups reordered. */
bk_code conf_ties_shuffle(bk_cache_config *cfg, unsigned *seed, size_t *groups, bk_err *err);

typedef enum conf_same {
    CONF_DIFFERENT = 0,
    CONF_SAME_BYTES,      /* byte-identical */
    CONF_SAME_UP_TO_TIES, /* identical once both have their ties in one order */
} conf_same;

/* The offset of the first byte where a and b differ (the shorter length when
 * one is a prefix of the other). */
size_t conf_first_difference(const char *a, size_t a_len, const char *b, size_t b_len);

/* What conf_manifest_compare compared: both manifests as given, or their
 * canonical forms (ties in one order) when both are Go's encoding of their
 * own content; `at` is the first differing byte of those. got and want point
 * into the caller's bytes or into canon_*; clear with conf_compared_clear. */
typedef struct conf_compared {
    const char *got, *want;
    size_t got_len, want_len;
    size_t at;
    const char *note; /* "" or " (both with BuildKit's unordered ties put in one order)" */
    bk_buf canon_got, canon_want;
} conf_compared;
conf_same conf_manifest_compared(const char *got, size_t got_len, const char *want, size_t want_len,
                                 conf_compared *out);
void conf_compared_clear(conf_compared *cmp);

/* Compares a manifest with the expected one. A manifest that is not exactly
 * Go's encoding of what it parses to is compared byte for byte (so nothing the
 * parser drops can hide). On CONF_DIFFERENT, why says where the bytes differ. */
conf_same conf_manifest_compare(const char *got, size_t got_len, const char *want, size_t want_len,
                                char *why, size_t why_size);

#endif
