#include "bkcache/progress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bk_progress {
    FILE *out;
    bk_progress_style style;
    pthread_mutex_t lock;
    uint64_t planned, planned_bytes;
    uint64_t finished, finished_bytes;
    int line_open; /* a TTY status line is on screen */
};

void bk_format_bytes(uint64_t n, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%llu B", (unsigned long long)n);
    else
        snprintf(out, size, "%.1f %s", v, units[u]);
}

bk_progress *bk_progress_new(FILE *out, bk_progress_style style)
{
    bk_progress *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->out = out;
    p->style = style;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void bk_progress_finish(bk_progress *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->line_open) {
        fputc('\n', p->out);
        p->line_open = 0;
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void bk_progress_free(bk_progress *p)
{
    if (p == NULL)
        return;
    bk_progress_finish(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* One finished line of text, for every style but quiet (warnings always). */
static void format_line(const bk_progress_event *ev, char *line, size_t size)
{
    char bytes[32], rate[48] = "";
    bk_format_bytes(ev->size, bytes, sizeof bytes);
    if (ev->seconds > 0.05 && ev->size >= (uint64_t)1024 * 1024) {
        char r[32];
        bk_format_bytes((uint64_t)((double)ev->size / ev->seconds), r, sizeof r);
        snprintf(rate, sizeof rate, " at %s/s", r);
    }
    switch (ev->kind) {
    case BK_PROGRESS_PLAN:
        snprintf(line, size, "checking %llu blobs (%s)", (unsigned long long)ev->count, bytes);
        break;
    case BK_PROGRESS_BLOB_SKIP:
        snprintf(line, size, "skip  %s (present, fresh)", ev->digest);
        break;
    case BK_PROGRESS_BLOB_TOUCH:
        snprintf(line, size, "touch %s (%s)", ev->digest, bytes);
        break;
    case BK_PROGRESS_BLOB_START:
        snprintf(line, size, "writing layer %s", ev->digest);
        break;
    case BK_PROGRESS_BLOB_REUPLOAD:
        snprintf(line, size, "writing layer %s (%s)", ev->digest, ev->message ? ev->message : "");
        break;
    case BK_PROGRESS_BLOB_DONE:
        snprintf(line, size, "done  %s (%s in %.2fs%s)", ev->digest, bytes, ev->seconds, rate);
        break;
    case BK_PROGRESS_BLOB_FETCH:
        snprintf(line, size, "fetching layer %s", ev->digest);
        break;
    case BK_PROGRESS_BLOB_FETCHED:
        snprintf(line, size, "fetched %s (%s in %.2fs%s, verified)", ev->digest, bytes, ev->seconds,
                 rate);
        break;
    case BK_PROGRESS_MANIFEST:
        snprintf(line, size, "manifest %s (%s)", ev->key, bytes);
        break;
    case BK_PROGRESS_WARNING:
        snprintf(line, size, "warning: %s", ev->message ? ev->message : "");
        break;
    }
}

int bk_progress_shows(const bk_progress *p, bk_progress_kind kind)
{
    return p != NULL && (p->style != BK_PROGRESS_QUIET || kind == BK_PROGRESS_WARNING);
}

void bk_progress_emit(void *reporter, const bk_progress_event *ev)
{
    bk_progress *p = reporter;
    if (p == NULL)
        return;
    char line[1200] = "";
    if (bk_progress_shows(p, ev->kind))
        format_line(ev, line, sizeof line);
    pthread_mutex_lock(&p->lock);
    if (ev->kind == BK_PROGRESS_PLAN) {
        p->planned += ev->count;
        p->planned_bytes += ev->size;
    }
    int finishes = ev->kind == BK_PROGRESS_BLOB_SKIP || ev->kind == BK_PROGRESS_BLOB_TOUCH ||
                   ev->kind == BK_PROGRESS_BLOB_DONE || ev->kind == BK_PROGRESS_BLOB_FETCHED;
    if (finishes) {
        p->finished++;
        p->finished_bytes += ev->size;
    }
    switch (p->style) {
    case BK_PROGRESS_QUIET:
        if (ev->kind == BK_PROGRESS_WARNING)
            fprintf(p->out, "%s\n", line);
        break;
    case BK_PROGRESS_PLAIN:
        fprintf(p->out, "%s\n", line);
        break;
    case BK_PROGRESS_TTY: {
        /* Start lines are implied by the status line; everything else scrolls above it. */
        if (ev->kind != BK_PROGRESS_BLOB_START && ev->kind != BK_PROGRESS_BLOB_FETCH)
            fprintf(p->out, "\r\033[K%s\n", line);
        char done[32], total[32];
        bk_format_bytes(p->finished_bytes, done, sizeof done);
        bk_format_bytes(p->planned_bytes, total, sizeof total);
        fprintf(p->out, "\r\033[K[%llu/%llu blobs] %s / %s", (unsigned long long)p->finished,
                (unsigned long long)p->planned, done, total);
        p->line_open = 1;
        break;
    }
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}
