/* The request journal: append-only, copied out on query, optionally mirrored to a
 * JSON-lines file as requests finish. */
#ifndef MS3_JOURNAL_H
#define MS3_JOURNAL_H

#include "bkcache/error.h"
#include "mock_s3.h"

typedef struct ms3_journal ms3_journal;

ms3_journal *ms3_journal_new(const char *file /* NULL = none */, bk_err *err);
void ms3_journal_free(ms3_journal *j);
/* Takes ownership of the entry's strings; assigns and returns seq. The entry is
 * visible to queries at once; the file line is written by ms3_journal_finish. */
uint64_t ms3_journal_append(ms3_journal *j, ms3_journal_entry *e);
/* Completes an entry once its exchange ended (response bytes, duration, a status
 * of 0 when the connection was cut before a response; message may be NULL) and
 * writes its line to the journal file. */
void ms3_journal_finish(ms3_journal *j, uint64_t seq, int status, uint64_t response_size,
                        double duration, const char *message);
void ms3_journal_clear(ms3_journal *j);
size_t ms3_journal_query_j(ms3_journal *j, const ms3_journal_filter *f, ms3_journal_entry **out);
size_t ms3_journal_count_j(ms3_journal *j, const ms3_journal_filter *f);
char *ms3_journal_json_j(ms3_journal *j, const ms3_journal_filter *f);
/* One entry as a JSON object text (malloc'ed). */
char *ms3_journal_entry_json(const ms3_journal_entry *e);

#endif
