/* Progress of an export or import: the pipelines emit events, a reporter turns
 * them into plain lines (CI logs), a live status line (a terminal), or nothing.
 * The plain lines follow BuildKit's wording where it has one
 * ("writing layer sha256:..."). Reporters are thread-safe: workers emit
 * concurrently. Nothing secret is ever part of an event. */
#ifndef BKCACHE_PROGRESS_H
#define BKCACHE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_progress_kind {
    BK_PROGRESS_PLAN,          /* count = blobs to check, size = their bytes */
    BK_PROGRESS_BLOB_SKIP,     /* present and fresh: nothing to do */
    BK_PROGRESS_BLOB_TOUCH,    /* present but older than touch_refresh: refreshed */
    BK_PROGRESS_BLOB_START,    /* absent: upload starts */
    BK_PROGRESS_BLOB_REUPLOAD, /* present with the wrong size: uploaded again */
    BK_PROGRESS_BLOB_DONE,     /* upload finished; size, seconds */
    BK_PROGRESS_BLOB_FETCH,    /* import: download starts */
    BK_PROGRESS_BLOB_FETCHED,  /* import: downloaded and verified; size, seconds */
    BK_PROGRESS_MANIFEST,      /* manifest written or read (key, size) */
    BK_PROGRESS_WARNING,       /* message */
} bk_progress_kind;

typedef struct bk_progress_event {
    bk_progress_kind kind;
    const char *digest;  /* blob digest, when about a blob */
    const char *key;     /* object key */
    uint64_t size;       /* bytes */
    uint64_t count;      /* PLAN: number of blobs */
    double seconds;      /* DONE/FETCHED: time taken */
    const char *message; /* WARNING / REUPLOAD text */
} bk_progress_event;

typedef void (*bk_progress_fn)(void *ud, const bk_progress_event *ev);

typedef enum bk_progress_style {
    BK_PROGRESS_PLAIN = 0, /* one line per event */
    BK_PROGRESS_TTY,       /* a live status line, redrawn; finished blobs scroll above it */
    BK_PROGRESS_QUIET,     /* warnings only */
} bk_progress_style;

typedef struct bk_progress bk_progress;

/* Writes to out (borrowed; stderr usually). */
bk_progress *bk_progress_new(FILE *out, bk_progress_style style);
void bk_progress_free(bk_progress *p);
/* The bk_progress_fn to hand to a pipeline, with the reporter as ud. */
void bk_progress_emit(void *reporter, const bk_progress_event *ev);
/* Whether an event of this kind writes anything (quiet: warnings only), so
 * that a caller spends no work on the text of events nobody sees. */
int bk_progress_shows(const bk_progress *p, bk_progress_kind kind);
/* Ends a live line, if any. */
void bk_progress_finish(bk_progress *p);

/* "1.5 MiB", "532 B": human sizes for messages. */
void bk_format_bytes(uint64_t n, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
