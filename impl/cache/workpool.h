/* Runs n independent items on up to `workers` threads, like Go's errgroup
 * over a channel of indexes: items are taken in order, the first failure
 * stops workers from taking new items, and its error is the result.
 * Private to libbkcache's cache layer (not installed). */
#ifndef BKCACHE_WORKPOOL_H
#define BKCACHE_WORKPOOL_H

#include <stddef.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Processes item `index`; returns BK_OK or a code with err filled. Called
 * concurrently from several threads: ctx must be safe for that. */
typedef bk_code (*bk_work_fn)(void *ctx, size_t index, bk_err *err);

/* BK_OK when every item succeeded, else the first failure's code and error.
 * When no thread can be started the items run on the calling thread. */
bk_code bk__workpool_run(size_t n, int workers, bk_work_fn fn, void *ctx, bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
