/* What the explain renderers share. Every function here tolerates a config
 * that failed validation: indexes are checked, chains are bounded. */
#ifndef BKCACHE_EXPLAIN_INTERNAL_H
#define BKCACHE_EXPLAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/explain.h"

/* The layer chain ending at `top`, base first, into out (n_layers slots).
 * Returns the length; *broken is set when the walk met an index out of range
 * or a loop (the chain is then what could be followed, top last). */
size_t bk__explain_chain(const bk_cache_config *cfg, int64_t top, int64_t *out, int *broken);

/* The blob entry of a digest, or NULL. */
const bk_explain_blob *bk__explain_find_blob(const bk_explain *e, const char *digest);

/* Blob presence for renderers: 1 present, 0 missing, -1 unknown. */
int bk__explain_blob_state(const bk_explain *e, const char *digest);

/* The newest result of a record (BuildKit keeps the newest on import), or NULL. */
const bk_cache_result *bk__explain_newest_result(const bk_cache_record *r);

/* Time as RFC 3339 in UTC, seconds precision ("2024-05-02T09:00:00Z"). */
void bk__explain_format_unix(int64_t t, char *out, size_t size);

/* A bk_time as Go writes it (nanoseconds trimmed, original offset). */
void bk__explain_format_time(bk_time t, char *out, size_t size);

/* "application/vnd.oci.image.layer.v1.tar+gzip" -> "oci layer tar+gzip" style
 * short names for tight spaces (dot); the full name otherwise. */
const char *bk__explain_media_short(const char *media_type, char *buf, size_t size);

#endif
