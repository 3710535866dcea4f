#include "workpool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct pool {
    size_t n;
    size_t next;
    bk_work_fn fn;
    void *ctx;
    pthread_mutex_t lock;
    int failed;
    bk_err first_err;
} pool;

static void *work(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        if (p->failed || p->next >= p->n) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        size_t index = p->next++;
        pthread_mutex_unlock(&p->lock);
        bk_err err;
        bk_err_clear(&err);
        bk_code rc = p->fn(p->ctx, index, &err);
        if (rc != BK_OK) {
            if (err.code == BK_OK)
                err.code = rc;
            pthread_mutex_lock(&p->lock);
            if (!p->failed) {
                p->failed = 1;
                p->first_err = err;
            }
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
    }
}

bk_code bk__workpool_run(size_t n, int workers, bk_work_fn fn, void *ctx, bk_err *err)
{
    pool p = {0};
    p.n = n;
    p.fn = fn;
    p.ctx = ctx;
    bk_err_clear(&p.first_err);
    pthread_mutex_init(&p.lock, NULL);
    if (workers < 1)
        workers = 1;
    if ((size_t)workers > n)
        workers = (int)n;
    pthread_t *threads = calloc((size_t)(workers > 0 ? workers : 1), sizeof *threads);
    int started = 0;
    while (threads != NULL && started < workers &&
           pthread_create(&threads[started], NULL, work, &p) == 0)
        started++;
    if (started == 0)
        work(&p);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    pthread_mutex_destroy(&p.lock);
    if (p.failed) {
        if (err != NULL)
            *err = p.first_err;
        return p.first_err.code;
    }
    return BK_OK;
}
