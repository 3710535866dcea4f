#include "journal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

struct ms3_journal {
    pthread_mutex_t lock;
    ms3_journal_entry *items;
    size_t n, cap;
    uint64_t next_seq;
    FILE *file;
};

ms3_journal *ms3_journal_new(const char *file, bk_err *err)
{
    ms3_journal *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->next_seq = 1;
    if (file != NULL) {
        j->file = fopen(file, "a");
        if (j->file == NULL) {
            bk_err_set(err, BK_EIO, "cannot open the journal file %s: %s", file, strerror(errno));
            ms3_journal_free(j);
            return NULL;
        }
    }
    return j;
}

static void entry_free(ms3_journal_entry *e)
{
    free(e->bucket);
    free(e->key);
    free(e->query);
    free(e->headers_json);
    free(e->error_message);
}

void ms3_journal_clear(ms3_journal *j)
{
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n; i++)
        entry_free(&j->items[i]);
    j->n = 0;
    pthread_mutex_unlock(&j->lock);
}

void ms3_journal_free(ms3_journal *j)
{
    if (j == NULL)
        return;
    ms3_journal_clear(j);
    free(j->items);
    if (j->file != NULL)
        fclose(j->file);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static json_t *entry_to_json(const ms3_journal_entry *e)
{
    json_t *headers = e->headers_json != NULL ? json_loads(e->headers_json, 0, NULL) : NULL;
    if (headers == NULL)
        headers = json_object();
    return json_pack("{s:I, s:f, s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:s, s:I, s:I, "
                     "s:I, s:i, s:s, s:s, s:f, s:s, s:s}",
                     "seq", (json_int_t)e->seq, "time", e->time, "remote_port", (int)e->remote_port,
                     "method", e->method, "operation", e->operation, "bucket",
                     e->bucket ? e->bucket : "", "key", e->key ? e->key : "", "query",
                     e->query ? e->query : "", "headers", headers, "auth", e->auth, "auth_ok",
                     e->auth_ok, "payload_hash_mode", e->payload_hash_mode, "request_body_size",
                     (json_int_t)e->request_body_size, "decoded_body_size",
                     (json_int_t)e->decoded_body_size, "response_size",
                     (json_int_t)e->response_size, "status", e->status, "error_code", e->error_code,
                     "error_message", e->error_message ? e->error_message : "", "duration",
                     e->duration, "access_key_id", e->access_key_id, "body_sha256", e->body_sha256);
}

char *ms3_journal_entry_json(const ms3_journal_entry *e)
{
    json_t *o = entry_to_json(e);
    if (o == NULL)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

uint64_t ms3_journal_append(ms3_journal *j, ms3_journal_entry *e)
{
    uint64_t seq = 0;
    pthread_mutex_lock(&j->lock);
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        ms3_journal_entry *ni = realloc(j->items, cap * sizeof(*ni));
        if (ni == NULL) {
            pthread_mutex_unlock(&j->lock);
            entry_free(e);
            memset(e, 0, sizeof(*e));
            return 0;
        }
        j->items = ni;
        j->cap = cap;
    }
    e->seq = seq = j->next_seq++;
    j->items[j->n++] = *e;
    pthread_mutex_unlock(&j->lock);
    memset(e, 0, sizeof(*e));
    return seq;
}

void ms3_journal_finish(ms3_journal *j, uint64_t seq, int status, uint64_t response_size,
                        double duration, const char *message)
{
    pthread_mutex_lock(&j->lock);
    /* Entries are in seq order; a reset may have dropped this one. */
    ms3_journal_entry *e = NULL;
    size_t lo = 0, hi = j->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (j->items[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < j->n && j->items[lo].seq == seq)
        e = &j->items[lo];
    if (e != NULL) {
        e->status = status;
        e->response_size = response_size;
        e->duration = duration;
        if (message != NULL && *message) {
            char *m = strdup(message);
            if (m != NULL) {
                free(e->error_message);
                e->error_message = m;
            }
        }
        if (j->file != NULL) {
            char *line = ms3_journal_entry_json(e);
            if (line != NULL) {
                fprintf(j->file, "%s\n", line);
                fflush(j->file);
            }
            free(line);
        }
    }
    pthread_mutex_unlock(&j->lock);
}

static int match(const ms3_journal_entry *e, const ms3_journal_filter *f)
{
    if (f == NULL)
        return 1;
    if (f->method != NULL && strcmp(f->method, e->method) != 0)
        return 0;
    if (f->operation != NULL && strcmp(f->operation, e->operation) != 0)
        return 0;
    if (f->key_prefix != NULL && strncmp(e->key, f->key_prefix, strlen(f->key_prefix)) != 0)
        return 0;
    if (f->bucket != NULL && strcmp(f->bucket, e->bucket) != 0)
        return 0;
    if (f->status != 0 && f->status != e->status)
        return 0;
    if (e->seq <= f->since_seq)
        return 0;
    return 1;
}

static char *dup_s(const char *s)
{
    return strdup(s != NULL ? s : "");
}

size_t ms3_journal_query_j(ms3_journal *j, const ms3_journal_filter *f, ms3_journal_entry **out)
{
    pthread_mutex_lock(&j->lock);
    size_t count = 0;
    for (size_t i = 0; i < j->n; i++)
        count += match(&j->items[i], f);
    *out = calloc(count + 1, sizeof(**out));
    size_t k = 0;
    for (size_t i = 0; *out != NULL && i < j->n; i++) {
        if (!match(&j->items[i], f))
            continue;
        ms3_journal_entry *d = &(*out)[k++];
        *d = j->items[i];
        d->bucket = dup_s(j->items[i].bucket);
        d->key = dup_s(j->items[i].key);
        d->query = dup_s(j->items[i].query);
        d->headers_json = dup_s(j->items[i].headers_json);
        d->error_message = dup_s(j->items[i].error_message);
    }
    pthread_mutex_unlock(&j->lock);
    return *out != NULL ? k : 0;
}

size_t ms3_journal_count_j(ms3_journal *j, const ms3_journal_filter *f)
{
    pthread_mutex_lock(&j->lock);
    size_t count = 0;
    for (size_t i = 0; i < j->n; i++)
        count += match(&j->items[i], f);
    pthread_mutex_unlock(&j->lock);
    return count;
}

char *ms3_journal_json_j(ms3_journal *j, const ms3_journal_filter *f)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; arr != NULL && i < j->n; i++) {
        if (!match(&j->items[i], f))
            continue;
        json_t *o = entry_to_json(&j->items[i]);
        if (o != NULL)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&j->lock);
    char *s = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

void ms3_journal_entries_free(ms3_journal_entry *entries, size_t n)
{
    for (size_t i = 0; entries != NULL && i < n; i++)
        entry_free(&entries[i]);
    free(entries);
}

size_t ms3_journal_query(ms3_server *s, const ms3_journal_filter *f, ms3_journal_entry **out)
{
    return ms3_journal_query_j(s->journal, f, out);
}

size_t ms3_journal_count(ms3_server *s, const ms3_journal_filter *f)
{
    return ms3_journal_count_j(s->journal, f);
}

char *ms3_journal_json(ms3_server *s, const ms3_journal_filter *f)
{
    return ms3_journal_json_j(s->journal, f);
}
