/* The timer (timer.h): a binary heap of callbacks by due time, and a thread
 * that sleeps until the earliest. */
#include "timer.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct pending {
    uint64_t due_ns; /* CLOCK_MONOTONIC */
    uint64_t order;  /* equal times run in the order they were added */
    ms3_timer_fn fn;
    void *ud;
} pending;

struct ms3_timer {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    pthread_t thread;
    int started;
    int stopping;
    pending *heap;
    size_t n, cap;
    uint64_t added;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int before(const pending *a, const pending *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static void sift_up(pending *h, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&h[i], &h[parent]))
            break;
        pending tmp = h[i];
        h[i] = h[parent];
        h[parent] = tmp;
        i = parent;
    }
}

static void sift_down(pending *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[l], &h[m]))
            m = l;
        if (r < n && before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        pending tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static pending pop(ms3_timer *t)
{
    pending top = t->heap[0];
    t->heap[0] = t->heap[--t->n];
    sift_down(t->heap, t->n, 0);
    return top;
}

/* Runs the earliest callback, without the lock (a callback may add). */
static void run_first(ms3_timer *t)
{
    pending p = pop(t);
    pthread_mutex_unlock(&t->lock);
    p.fn(p.ud);
    pthread_mutex_lock(&t->lock);
}

static void *run(void *arg)
{
    ms3_timer *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        if (t->n == 0) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        uint64_t due = t->heap[0].due_ns;
        if (due <= now_ns()) {
            run_first(t);
            continue;
        }
        struct timespec until = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
        pthread_cond_timedwait(&t->cond, &t->lock, &until);
    }
    while (t->n > 0)
        run_first(t);
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

ms3_timer *ms3__timer_new(void)
{
    ms3_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->lock, NULL);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        ms3__timer_free(t);
        return NULL;
    }
    t->started = 1;
    return t;
}

int ms3__timer_add(ms3_timer *t, uint64_t us, ms3_timer_fn fn, void *ud)
{
    pthread_mutex_lock(&t->lock);
    int rc = -1;
    if (!t->stopping && t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        pending *nh = realloc(t->heap, cap * sizeof(*nh));
        if (nh != NULL) {
            t->heap = nh;
            t->cap = cap;
        }
    }
    if (!t->stopping && t->n < t->cap) {
        t->heap[t->n] = (pending){now_ns() + us * 1000u, t->added++, fn, ud};
        sift_up(t->heap, t->n++);
        pthread_cond_signal(&t->cond);
        rc = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void ms3__timer_stop(ms3_timer *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    int was_stopping = t->stopping;
    t->stopping = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    if (t->started && !was_stopping)
        pthread_join(t->thread, NULL);
}

void ms3__timer_free(ms3_timer *t)
{
    if (t == NULL)
        return;
    ms3__timer_stop(t);
    free(t->heap);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
