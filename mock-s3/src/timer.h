/* Callbacks at a time to come, run by one thread of their own. A server on
 * a few threads waits this way without holding one: a delay fault parks its
 * connection and the timer resumes it. Stopping runs every pending callback
 * at once and refuses new ones, so nothing stays parked past a stop. */
#ifndef MS3_TIMER_H
#define MS3_TIMER_H

#include <stdint.h>

typedef struct ms3_timer ms3_timer;
typedef void (*ms3_timer_fn)(void *ud);

/* NULL when out of memory or no thread could be started. */
ms3_timer *ms3__timer_new(void);
/* Runs fn(ud) on the timer's thread once `us` microseconds have passed.
 * -1 when the timer is stopping (fn is not called: the caller goes on
 * without waiting). */
int ms3__timer_add(ms3_timer *t, uint64_t us, ms3_timer_fn fn, void *ud);
/* Runs the pending callbacks now, refuses later ones, and joins the thread.
 * NULL is a no-op. */
void ms3__timer_stop(ms3_timer *t);
/* Stops (if needed) and frees. NULL is a no-op. */
void ms3__timer_free(ms3_timer *t);

#endif
