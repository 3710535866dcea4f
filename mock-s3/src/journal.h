/* The request journal: the newest `max` entries in memory (older ones are
 * dropped and counted), copied out on query, and optionally every entry as a
 * JSON line in a file as its request finishes. The file misses nothing: an
 * entry dropped from memory (or cleared by a reset) before its request
 * finished is kept aside until its line is written.
 *
 * A request costs the journal a copy of its headers, not their JSON: entries
 * are formatted when the journal is read or its file written. */
#ifndef MS3_JOURNAL_H
#define MS3_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"
#include "bkcache/sigv4.h"
#include "mock_s3.h"

typedef struct ms3_journal ms3_journal;

/* A request's headers as the journal keeps them: copied into one block, the
 * signature shortened and a session token redacted at once. NULL when out
 * of memory. */
typedef struct ms3_journal_headers ms3_journal_headers;
ms3_journal_headers *ms3__journal_headers_new(const bk_sigv4_header *h, size_t n);
void ms3__journal_headers_free(ms3_journal_headers *h);
/* As a JSON object (malloc'ed). bounded: what memory shows, a value longer
 * than 2 KiB cut with "...(truncated, N bytes)" and past 16 KiB of JSON the
 * remaining headers only counted; else whole, as the file gets them. */
char *ms3__journal_headers_json(const ms3_journal_headers *h, int bounded);

/* max: entries kept in memory (0 = MS3_JOURNAL_MAX_DEFAULT). */
ms3_journal *ms3__journal_new(const char *file /* NULL = none */, size_t max, bk_err *err);
void ms3__journal_free(ms3_journal *j);
/* Takes ownership of the entry's strings and of headers (the request's
 * headers, which stand for e->headers_json; NULL = e->headers_json as it is);
 * assigns and returns seq (0 when out of memory). The entry is visible to
 * queries at once; the file line is written by ms3__journal_finish. */
uint64_t ms3__journal_append(ms3_journal *j, ms3_journal_entry *e, ms3_journal_headers *headers);
/* Completes an entry once its exchange ended (response bytes, duration, a status
 * of 0 when the connection was cut before a response; message may be NULL) and
 * writes its line to the journal file. */
void ms3__journal_finish(ms3_journal *j, uint64_t seq, int status, uint64_t response_size,
                         double duration, const char *message);
/* Drops every entry and zeroes the dropped count. */
void ms3__journal_clear(ms3_journal *j);

typedef struct ms3_journal_stats {
    size_t entries;   /* in memory now */
    size_t max;       /* kept at most */
    uint64_t dropped; /* the oldest, dropped to stay within max since the last clear */
} ms3_journal_stats;
void ms3__journal_stats_get(ms3_journal *j, ms3_journal_stats *out);

size_t ms3__journal_query(ms3_journal *j, const ms3_journal_filter *f, ms3_journal_entry **out);
size_t ms3__journal_count(ms3_journal *j, const ms3_journal_filter *f);
/* dropped (may be NULL) gets the dropped count, consistent with the array. */
char *ms3__journal_json(ms3_journal *j, const ms3_journal_filter *f, uint64_t *dropped);
/* One entry as a JSON object text (malloc'ed). */
char *ms3__journal_entry_json(const ms3_journal_entry *e);

#endif
