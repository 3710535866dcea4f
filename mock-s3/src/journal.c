/* The journal (journal.h): a ring of the newest entries in memory, a file
 * of every entry, and the entries dropped from the ring before their line
 * was written. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bkcache/buf.h"

/* ---------------------------------------------------------------- headers */

typedef struct header_pair {
    const char *name, *value;
} header_pair;

struct ms3_journal_headers {
    size_t n;
    size_t bytes;        /* of the names and values */
    header_pair pairs[]; /* then the text they point into */
};

/* What the journal keeps of one request's headers in memory: a value longer
 * than VALUE_MAX bytes keeps its start and says how long it was, and past
 * HEADERS_MAX bytes of JSON the remaining headers are only counted. */
enum { VALUE_MAX = 2048, HEADERS_MAX = 16384 };

/* An Authorization that is not SigV4 (a bearer token, an ECS token, SigV2):
 * its scheme word at most, never the credentials. */
static void redact_credentials(const char *value, char *out, size_t n)
{
    const char *space = strchr(value, ' ');
    size_t scheme = space != NULL ? (size_t)(space - value) + 1 : 0;
    if (scheme > 32)
        scheme = 0;
    snprintf(out, n, "%.*s(redacted)", (int)scheme, value);
}

/* The value as kept: a SigV4 signature shortened (enough of it to tell
 * requests apart), other credentials and session and IMDS tokens redacted. */
static const char *kept_value(const char *name, const char *value, char shortened[VALUE_MAX])
{
    if (strcasecmp(name, "Authorization") == 0) {
        const char *sig = strstr(value, "Signature=");
        if (sig != NULL)
            snprintf(shortened, VALUE_MAX, "%.*sSignature=%.8s...", (int)(sig - value), value,
                     sig + 10);
        else
            redact_credentials(value, shortened, VALUE_MAX);
        return shortened;
    }
    if (strcasecmp(name, "X-Amz-Security-Token") == 0 ||
        strcasecmp(name, "X-aws-ec2-metadata-token") == 0)
        return "(redacted)";
    return value;
}

/* Room a kept value may need: its own length, or that of what replaces it. */
static size_t kept_room(const char *name, const char *value)
{
    size_t len = strlen(value);
    if (strcasecmp(name, "Authorization") == 0)
        return len + 48 < VALUE_MAX ? len + 48 : VALUE_MAX; /* "(redacted)" may be longer */
    return len + 16;
}

ms3_journal_headers *ms3__journal_headers_new(const bk_sigv4_header *h, size_t n)
{
    size_t room = 0;
    for (size_t i = 0; i < n; i++)
        room += strlen(h[i].name) + kept_room(h[i].name, h[i].value) + 2;
    ms3_journal_headers *jh = malloc(sizeof(*jh) + n * sizeof(header_pair) + room);
    if (jh == NULL)
        return NULL;
    jh->n = n;
    char *text = (char *)&jh->pairs[n], *p = text;
    char shortened[VALUE_MAX];
    for (size_t i = 0; i < n; i++) {
        const char *v = kept_value(h[i].name, h[i].value, shortened);
        size_t ln = strlen(h[i].name) + 1, lv = strlen(v) + 1;
        jh->pairs[i].name = memcpy(p, h[i].name, ln);
        jh->pairs[i].value = memcpy(p + ln, v, lv);
        p += ln + lv;
    }
    jh->bytes = (size_t)(p - text);
    return jh;
}

void ms3__journal_headers_free(ms3_journal_headers *h)
{
    free(h);
}

/* Appends up to max bytes of s as JSON string content: runs of plain ASCII in
 * one copy, every other byte as \u00XX (header bytes are not promised to be
 * UTF-8). */
static void append_json_escaped(bk_buf *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + strnlen(s, max);
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        bk_buf_append(b, run, (size_t)(p - run));
        if (p == end)
            break;
        bk_buf_printf(b, "\\u%04x", *p);
        p++;
    }
}

char *ms3__journal_headers_json(const ms3_journal_headers *h, int bounded)
{
    bk_buf b = BK_BUF_INIT;
    bk_buf_putc(&b, '{');
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->pairs[i].name, *value = h->pairs[i].value;
        if (i > 0)
            bk_buf_putc(&b, ',');
        if (bounded && b.len > HEADERS_MAX) {
            bk_buf_printf(&b, "\"(truncated)\":\"%zu more headers not recorded\"", h->n - i);
            break;
        }
        bk_buf_putc(&b, '"');
        append_json_escaped(&b, name, (size_t)-1);
        bk_buf_puts(&b, "\":\"");
        size_t len = strlen(value);
        if (bounded && len > VALUE_MAX) {
            append_json_escaped(&b, value, VALUE_MAX);
            bk_buf_printf(&b, "...(truncated, %zu bytes)", len);
        } else {
            append_json_escaped(&b, value, len);
        }
        bk_buf_putc(&b, '"');
    }
    bk_buf_putc(&b, '}');
    return bk_buf_steal(&b);
}

/* ---------------------------------------------------------------- journal */

typedef struct slot {
    ms3_journal_entry e; /* headers_json NULL while h stands for it */
    ms3_journal_headers *h;
    int finished; /* its line was written (or there is no file) */
} slot;

struct ms3_journal {
    pthread_mutex_t lock;
    slot *ring; /* entries in seq order from head, n of cap; grows up to max */
    size_t head, n, cap, max;
    uint64_t dropped;
    uint64_t next_seq;
    FILE *file;
    slot *pending; /* left the ring before their request finished (with a file) */
    size_t n_pending;
};

/* The journal may be a regular file, a terminal or a FIFO someone reads
 * (tail -f through mkfifo). Opening a FIFO for writing blocks until a reader
 * comes, so it is opened non-blocking: without a reader the mock refuses to
 * start instead of hanging before it listens. Writes then block again, so a
 * slow reader slows the mock rather than losing journal lines. */
static bk_code journal_open_file(ms3_journal *j, const char *file, bk_err *err)
{
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENXIO)
        return bk_err_set(err, BK_EINVAL,
                          "the journal %s is a FIFO nobody reads: start its reader first "
                          "(e.g. cat %s) or give a regular file",
                          file, file);
    if (fd < 0)
        return bk_err_set(err, BK_EIO, "cannot open the journal file %s: %s", file,
                          strerror(errno));
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
        (j->file = fdopen(fd, "a")) == NULL) {
        bk_err_set(err, BK_EIO, "cannot open the journal file %s: %s", file, strerror(errno));
        close(fd);
        return BK_EIO;
    }
    return BK_OK;
}

ms3_journal *ms3__journal_new(const char *file, size_t max, bk_err *err)
{
    ms3_journal *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->next_seq = 1;
    j->max = max != 0 ? max : MS3_JOURNAL_MAX_DEFAULT;
    if (file != NULL && journal_open_file(j, file, err) != BK_OK) {
        ms3__journal_free(j);
        return NULL;
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
    free(e->fault);
    free(e->auth_detail_json);
}

static void slot_free(slot *s)
{
    entry_free(&s->e);
    ms3__journal_headers_free(s->h);
}

/* The entry's headers as memory shows them (malloc'ed). */
static char *slot_headers_json(const slot *s)
{
    if (s->h != NULL)
        return ms3__journal_headers_json(s->h, 1);
    return strdup(s->e.headers_json != NULL ? s->e.headers_json : "{}");
}

/* Once the file needs no more than memory shows, headers bigger than that
 * are kept as their bounded JSON, so an entry in memory stays small. */
static void compact(slot *s)
{
    if (s->h == NULL || !s->finished || s->h->bytes <= HEADERS_MAX)
        return;
    char *json = ms3__journal_headers_json(s->h, 1);
    if (json == NULL)
        return;
    free(s->e.headers_json);
    s->e.headers_json = json;
    ms3__journal_headers_free(s->h);
    s->h = NULL;
}

static slot *at(const ms3_journal *j, size_t i)
{
    return &j->ring[(j->head + i) % j->cap];
}

/* An entry leaves the ring (dropped or cleared). Its line is still owed to the
 * file unless its request finished: keep it aside until then. */
static void retire(ms3_journal *j, slot *s)
{
    if (j->file != NULL && !s->finished) {
        slot *np = realloc(j->pending, (j->n_pending + 1) * sizeof(*np));
        if (np != NULL) {
            j->pending = np;
            j->pending[j->n_pending++] = *s;
            return;
        }
    }
    slot_free(s);
}

void ms3__journal_clear(ms3_journal *j)
{
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n; i++)
        retire(j, at(j, i));
    j->head = 0;
    j->n = 0;
    j->dropped = 0;
    pthread_mutex_unlock(&j->lock);
}

void ms3__journal_free(ms3_journal *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->n; i++)
        slot_free(at(j, i));
    for (size_t i = 0; i < j->n_pending; i++)
        slot_free(&j->pending[i]);
    free(j->ring);
    free(j->pending);
    if (j->file != NULL)
        fclose(j->file);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

void ms3__journal_stats_get(ms3_journal *j, ms3_journal_stats *out)
{
    pthread_mutex_lock(&j->lock);
    out->entries = j->n;
    out->max = j->max;
    out->dropped = j->dropped;
    pthread_mutex_unlock(&j->lock);
}

static json_t *entry_to_json(const ms3_journal_entry *e)
{
    json_t *headers = e->headers_json != NULL ? json_loads(e->headers_json, 0, NULL) : NULL;
    if (headers == NULL)
        headers = json_object();
    json_t *auth_detail =
        e->auth_detail_json != NULL ? json_loads(e->auth_detail_json, 0, NULL) : NULL;
    if (auth_detail == NULL)
        auth_detail = json_object();
    return json_pack("{s:I, s:f, s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:s, s:I, s:I, "
                     "s:I, s:i, s:s, s:s, s:f, s:s, s:s, s:s, s:o}",
                     "seq", (json_int_t)e->seq, "time", e->time, "remote_port", (int)e->remote_port,
                     "method", e->method, "operation", e->operation, "bucket",
                     e->bucket ? e->bucket : "", "key", e->key ? e->key : "", "query",
                     e->query ? e->query : "", "headers", headers, "auth", e->auth, "auth_ok",
                     e->auth_ok, "payload_hash_mode", e->payload_hash_mode, "request_body_size",
                     (json_int_t)e->request_body_size, "decoded_body_size",
                     (json_int_t)e->decoded_body_size, "response_size",
                     (json_int_t)e->response_size, "status", e->status, "error_code", e->error_code,
                     "error_message", e->error_message ? e->error_message : "", "duration",
                     e->duration, "access_key_id", e->access_key_id, "body_sha256", e->body_sha256,
                     "fault", e->fault ? e->fault : "", "auth_detail", auth_detail);
}

char *ms3__journal_entry_json(const ms3_journal_entry *e)
{
    json_t *o = entry_to_json(e);
    if (o == NULL)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Room for one more entry: the ring grows (doubling, up to max) or drops
 * its oldest entry. 0, or -1 when out of memory. */
static int make_room(ms3_journal *j)
{
    if (j->n < j->cap)
        return 0;
    if (j->cap < j->max) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        if (cap > j->max)
            cap = j->max;
        slot *nr = malloc(cap * sizeof(*nr));
        if (nr == NULL)
            return -1;
        for (size_t i = 0; j->cap > 0 && i < j->n; i++) /* n <= cap: none at first */
            nr[i] = *at(j, i);
        free(j->ring);
        j->ring = nr;
        j->cap = cap;
        j->head = 0;
        return 0;
    }
    retire(j, at(j, 0));
    j->head = (j->head + 1) % j->cap;
    j->n--;
    j->dropped++;
    return 0;
}

uint64_t ms3__journal_append(ms3_journal *j, ms3_journal_entry *e, ms3_journal_headers *headers)
{
    uint64_t seq = 0;
    if (headers != NULL) {
        free(e->headers_json);
        e->headers_json = NULL;
    }
    pthread_mutex_lock(&j->lock);
    if (make_room(j) == 0) {
        e->seq = seq = j->next_seq++;
        slot *s = &j->ring[(j->head + j->n) % j->cap];
        s->e = *e;
        s->h = headers;
        s->finished = j->file == NULL;
        compact(s);
        j->n++;
    } else {
        entry_free(e);
        ms3__journal_headers_free(headers);
    }
    pthread_mutex_unlock(&j->lock);
    memset(e, 0, sizeof(*e));
    return seq;
}

/* The slot of seq, in the ring (binary search: seq order) or set aside. */
static slot *find_slot(ms3_journal *j, uint64_t seq, int *in_pending, size_t *pending_pos)
{
    size_t lo = 0, hi = j->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(j, mid)->e.seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    *in_pending = 0;
    if (lo < j->n && at(j, lo)->e.seq == seq)
        return at(j, lo);
    for (size_t i = 0; i < j->n_pending; i++) {
        if (j->pending[i].e.seq == seq) {
            *in_pending = 1;
            *pending_pos = i;
            return &j->pending[i];
        }
    }
    return NULL;
}

/* The entry as JSON, its headers as memory shows them (bounded) or whole. */
static json_t *slot_to_json(slot *s, int bounded)
{
    char *saved = s->e.headers_json;
    char *headers = s->h != NULL ? ms3__journal_headers_json(s->h, bounded) : NULL;
    if (headers != NULL)
        s->e.headers_json = headers;
    json_t *o = entry_to_json(&s->e);
    s->e.headers_json = saved;
    free(headers);
    return o;
}

/* The entry's line, its headers whole. */
static void write_line(ms3_journal *j, slot *s)
{
    json_t *o = slot_to_json(s, 0);
    char *line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (line != NULL) {
        fprintf(j->file, "%s\n", line);
        fflush(j->file);
    }
    free(line);
    s->finished = 1;
    compact(s);
}

void ms3__journal_finish(ms3_journal *j, uint64_t seq, int status, uint64_t response_size,
                         double duration, const char *message)
{
    pthread_mutex_lock(&j->lock);
    int in_pending = 0;
    size_t pos = 0;
    slot *s = find_slot(j, seq, &in_pending, &pos);
    if (s != NULL) {
        ms3_journal_entry *e = &s->e;
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
        if (j->file != NULL && !s->finished)
            write_line(j, s);
        if (in_pending) {
            slot_free(s);
            j->pending[pos] = j->pending[--j->n_pending];
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

/* How many matching entries to pass over so that at most f->limit remain
 * (the newest). Under the lock. */
static size_t skip_for_limit(ms3_journal *j, const ms3_journal_filter *f, size_t *count)
{
    *count = 0;
    for (size_t i = 0; i < j->n; i++)
        *count += match(&at(j, i)->e, f);
    size_t skip = f != NULL && f->limit > 0 && *count > f->limit ? *count - f->limit : 0;
    *count -= skip;
    return skip;
}

size_t ms3__journal_query(ms3_journal *j, const ms3_journal_filter *f, ms3_journal_entry **out)
{
    pthread_mutex_lock(&j->lock);
    size_t count;
    size_t skip = skip_for_limit(j, f, &count);
    *out = calloc(count + 1, sizeof(**out));
    size_t k = 0;
    for (size_t i = 0; *out != NULL && i < j->n; i++) {
        const ms3_journal_entry *src = &at(j, i)->e;
        if (!match(src, f))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        ms3_journal_entry *d = &(*out)[k++];
        *d = *src;
        d->bucket = dup_s(src->bucket);
        d->key = dup_s(src->key);
        d->query = dup_s(src->query);
        d->headers_json = slot_headers_json(at(j, i));
        d->error_message = dup_s(src->error_message);
        d->fault = dup_s(src->fault);
        d->auth_detail_json =
            src->auth_detail_json != NULL ? strdup(src->auth_detail_json) : strdup("{}");
    }
    pthread_mutex_unlock(&j->lock);
    return *out != NULL ? k : 0;
}

size_t ms3__journal_count(ms3_journal *j, const ms3_journal_filter *f)
{
    pthread_mutex_lock(&j->lock);
    size_t count;
    skip_for_limit(j, f, &count);
    pthread_mutex_unlock(&j->lock);
    return count;
}

char *ms3__journal_json(ms3_journal *j, const ms3_journal_filter *f, uint64_t *dropped)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&j->lock);
    if (dropped != NULL)
        *dropped = j->dropped;
    size_t count;
    size_t skip = skip_for_limit(j, f, &count);
    for (size_t i = 0; arr != NULL && i < j->n; i++) {
        slot *s = at(j, i);
        if (!match(&s->e, f))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        json_t *o = slot_to_json(s, 1);
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
