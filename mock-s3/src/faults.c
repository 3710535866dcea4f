#include "faults.h"

#include <fnmatch.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

typedef struct rule {
    uint64_t id;
    ms3_fault_rule r; /* strings below are owned copies */
    uint64_t matches;
    uint64_t fired;
    uint64_t rng;
} rule;

struct ms3_faults {
    pthread_mutex_t lock;
    rule *items;
    size_t n, cap;
    uint64_t next_id;
};

static const char *const action_names[] = {
    [MS3_FAULT_ERROR] = "error",
    [MS3_FAULT_DELAY] = "delay",
    [MS3_FAULT_CUT_RESPONSE] = "cut-response",
    [MS3_FAULT_CUT_REQUEST] = "cut-request",
    [MS3_FAULT_ERROR_200] = "error-200",
    [MS3_FAULT_TINY_CHUNKS] = "tiny-chunks",
    [MS3_FAULT_IGNORE_RANGE] = "ignore-range",
    [MS3_FAULT_HEAD_NO_LAST_MODIFIED] = "no-last-modified",
    [MS3_FAULT_HEAD_NO_CONTENT_LENGTH] = "no-content-length",
};

const char *ms3__fault_action_name(ms3_fault_action a)
{
    if (a < MS3_FAULT_ERROR || a > MS3_FAULT_HEAD_NO_CONTENT_LENGTH)
        return "none";
    return action_names[a];
}

int ms3__fault_action_parse(const char *name, ms3_fault_action *out)
{
    for (int a = MS3_FAULT_ERROR; name != NULL && a <= MS3_FAULT_HEAD_NO_CONTENT_LENGTH; a++) {
        if (strcmp(action_names[a], name) == 0) {
            *out = (ms3_fault_action)a;
            return 0;
        }
    }
    return -1;
}

void ms3_fault_rule_init(ms3_fault_rule *r)
{
    memset(r, 0, sizeof(*r));
    r->action = MS3_FAULT_ERROR;
    r->status = 503;
}

ms3_faults *ms3__faults_new(void)
{
    ms3_faults *f = calloc(1, sizeof(*f));
    if (f != NULL) {
        pthread_mutex_init(&f->lock, NULL);
        f->next_id = 1;
    }
    return f;
}

static void rule_clear(rule *r)
{
    free((char *)r->r.method);
    free((char *)r->r.operation);
    free((char *)r->r.bucket);
    free((char *)r->r.key_glob);
    free((char *)r->r.error_code);
    free((char *)r->r.error_message);
}

void ms3__faults_clear(ms3_faults *f)
{
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++)
        rule_clear(&f->items[i]);
    free(f->items);
    f->items = NULL;
    f->n = 0;
    f->cap = 0;
    pthread_mutex_unlock(&f->lock);
}

void ms3__faults_free(ms3_faults *f)
{
    if (f == NULL)
        return;
    ms3__faults_clear(f);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static char *dup_opt(const char *s, int *failed)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

bk_code ms3__faults_add(ms3_faults *f, const ms3_fault_rule *in, uint64_t *id, bk_err *err)
{
    if (in->action < MS3_FAULT_ERROR || in->action > MS3_FAULT_HEAD_NO_CONTENT_LENGTH)
        return bk_err_set(err, BK_EINVAL, "fault rule: unknown action %d", (int)in->action);
    if (in->probability < 0 || in->probability > 1)
        return bk_err_set(err, BK_EINVAL, "fault rule: probability must be in [0, 1]");
    if ((in->action == MS3_FAULT_ERROR || in->action == MS3_FAULT_ERROR_200) && in->status != 0 &&
        (in->status < 200 || in->status > 599))
        return bk_err_set(err, BK_EINVAL, "fault rule: status %d is not an HTTP status",
                          in->status);
    rule r;
    memset(&r, 0, sizeof(r));
    r.r = *in;
    int failed = 0;
    r.r.method = dup_opt(in->method, &failed);
    r.r.operation = dup_opt(in->operation, &failed);
    r.r.bucket = dup_opt(in->bucket, &failed);
    r.r.key_glob = dup_opt(in->key_glob, &failed);
    r.r.error_code = dup_opt(in->error_code, &failed);
    r.r.error_message = dup_opt(in->error_message, &failed);
    if (r.r.status == 0)
        r.r.status = in->action == MS3_FAULT_ERROR_200 ? 500 : 503;
    /* splitmix64 needs a nonzero state to wander; any seed works. */
    r.rng = in->seed ^ 0x9E3779B97F4A7C15ULL;
    if (failed) {
        rule_clear(&r);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    /* The array moves when it grows: under the lock, or a request deciding
     * its faults at the same time would read freed memory. Doubling keeps
     * thousands of rules (one per key in the soak) cheap to add. */
    pthread_mutex_lock(&f->lock);
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        rule *ni = realloc(f->items, cap * sizeof(*ni));
        if (ni == NULL) {
            pthread_mutex_unlock(&f->lock);
            rule_clear(&r);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        f->items = ni;
        f->cap = cap;
    }
    r.id = f->next_id++;
    f->items[f->n++] = r;
    pthread_mutex_unlock(&f->lock);
    if (id != NULL)
        *id = r.id;
    return BK_OK;
}

uint64_t ms3__faults_fired(ms3_faults *f, uint64_t id)
{
    uint64_t n = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].id == id)
            n = f->items[i].fired;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static double next_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(1ULL << 53);
}

/* One fired rule, appended to the decision's `fired` ("rule 3: error 503
 * SlowDown"), cut short rather than overflowing. */
static void note_fired(ms3_fault_decision *out, uint64_t id, const ms3_fault_rule *r,
                       const char *code)
{
    size_t len = strlen(out->fired);
    char *p = out->fired + len;
    size_t room = sizeof(out->fired) - len;
    int n = snprintf(p, room, "%srule %llu: %s", len ? "; " : "", (unsigned long long)id,
                     ms3__fault_action_name(r->action));
    if (n < 0 || (size_t)n >= room)
        return;
    p += n;
    room -= (size_t)n;
    if (r->action == MS3_FAULT_DELAY)
        snprintf(p, room, " %u ms", r->delay_ms);
    else if (r->action == MS3_FAULT_ERROR || r->action == MS3_FAULT_ERROR_200)
        snprintf(p, room, " %d %s", r->status, code);
    else if (r->action == MS3_FAULT_CUT_REQUEST || r->action == MS3_FAULT_CUT_RESPONSE)
        snprintf(p, room, " after %llu bytes", (unsigned long long)r->cut_after);
    if (r->action != MS3_FAULT_DELAY && r->delay_ms > 0) {
        len = strlen(out->fired);
        snprintf(out->fired + len, sizeof(out->fired) - len, " after %u ms", r->delay_ms);
    }
}

static int matches(const ms3_fault_rule *r, const char *method, const char *op, const char *bucket,
                   const char *key)
{
    if (r->method != NULL && strcasecmp(r->method, method) != 0)
        return 0;
    if (r->operation != NULL && strcmp(r->operation, op) != 0)
        return 0;
    if (r->bucket != NULL && (bucket == NULL || strcmp(r->bucket, bucket) != 0))
        return 0;
    if (r->key_glob != NULL && fnmatch(r->key_glob, key != NULL ? key : "", 0) != 0)
        return 0;
    return 1;
}

void ms3__faults_decide(ms3_faults *f, const char *method, const char *op, const char *bucket,
                        const char *key, ms3_fault_decision *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++) {
        rule *r = &f->items[i];
        int is_delay = r->r.action == MS3_FAULT_DELAY;
        if (!is_delay && out->action != 0)
            break;
        if (!matches(&r->r, method, op, bucket, key))
            continue;
        uint64_t m = ++r->matches;
        int fire = 1;
        if (r->r.nth && m != r->r.nth)
            fire = 0;
        if (r->r.every_nth && m % r->r.every_nth != 0)
            fire = 0;
        if (r->r.first_n && m > r->r.first_n)
            fire = 0;
        if (r->r.probability > 0 && next_uniform(&r->rng) >= r->r.probability)
            fire = 0;
        if (r->r.max_fires && r->fired >= r->r.max_fires)
            fire = 0;
        if (!fire)
            continue;
        r->fired++;
        out->delay_ms += r->r.delay_ms;
        const char *code =
            r->r.error_code != NULL ? r->r.error_code : ms3__error_code_for_status(r->r.status);
        note_fired(out, r->id, &r->r, code);
        if (is_delay)
            continue;
        out->action = r->r.action;
        out->status = r->r.status;
        out->cut_after = r->r.cut_after;
        snprintf(out->error_code, sizeof(out->error_code), "%s", code);
        snprintf(out->error_message, sizeof(out->error_message), "%s",
                 r->r.error_message != NULL ? r->r.error_message : "");
    }
    pthread_mutex_unlock(&f->lock);
}

char *ms3__faults_json(ms3_faults *f)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; arr != NULL && i < f->n; i++) {
        const rule *r = &f->items[i];
        json_t *o = json_pack(
            "{s:I, s:s, s:s*, s:s*, s:s*, s:s*, s:I, s:I, s:I, s:f, s:I, s:I, s:i, s:s*, "
            "s:s*, s:I, s:I, s:I, s:I}",
            "id", (json_int_t)r->id, "action", ms3__fault_action_name(r->r.action), "method",
            r->r.method, "operation", r->r.operation, "bucket", r->r.bucket, "key", r->r.key_glob,
            "nth", (json_int_t)r->r.nth, "every_nth", (json_int_t)r->r.every_nth, "first_n",
            (json_int_t)r->r.first_n, "probability", r->r.probability, "seed",
            (json_int_t)r->r.seed, "max_fires", (json_int_t)r->r.max_fires, "status", r->r.status,
            "error_code", r->r.error_code, "error_message", r->r.error_message, "delay_ms",
            (json_int_t)r->r.delay_ms, "cut_after", (json_int_t)r->r.cut_after, "matches",
            (json_int_t)r->matches, "fired", (json_int_t)r->fired);
        if (o != NULL)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&f->lock);
    char *s = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}
