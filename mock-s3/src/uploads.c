/* Multipart uploads in progress: the registry, and their files in the data
 * dir (layout in uploads.h). Every change is written before it is answered,
 * JSON through a temp file and a rename, so a mock killed at any point
 * restarts with each upload as it was after some whole request. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkcache/buf.h"
#include "bkcache/sigv4.h"
#include "store.h"
#include "uploads.h"

#define UPLOAD_JSON "upload.json"

/* ---------------------------------------------------------------- freeing */

void ms3__upload_free(ms3_upload *up)
{
    if (up == NULL)
        return;
    for (size_t i = 0; i < up->n; i++)
        ms3__body_clear(&up->parts[i].body);
    free(up->parts);
    free(up->bucket);
    free(up->key);
    ms3__objmeta_clear(&up->meta);
    free(up);
}

static char *upload_dir(const ms3_uploads *u, const char *id)
{
    bk_buf b = BK_BUF_INIT;
    bk_buf_printf(&b, "%s/%s", u->dir, id);
    return bk_buf_steal(&b);
}

/* Unlinks the files of an upload's directory: all of them, and then the
 * directory, when keep is NULL; else those keep does not want. */
static void remove_files(const ms3_uploads *u, const char *id,
                         int (*keep)(const ms3_upload *, const char *), const ms3_upload *up)
{
    char *dir = upload_dir(u, id);
    DIR *d = dir != NULL ? opendir(dir) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || (keep != NULL && keep(up, e->d_name)))
            continue;
        bk_buf p = BK_BUF_INIT;
        bk_buf_printf(&p, "%s/%s", dir, e->d_name);
        if (p.data != NULL)
            unlink(bk_buf_str(&p));
        bk_buf_clear(&p);
    }
    if (d != NULL)
        closedir(d);
    if (dir != NULL && keep == NULL)
        rmdir(dir);
    free(dir);
}

static void remove_upload_dir(const ms3_uploads *u, const char *id)
{
    remove_files(u, id, NULL, NULL);
}

void ms3__upload_discard(ms3_uploads *u, ms3_upload *up)
{
    if (up == NULL)
        return;
    char id[sizeof(up->id)];
    memcpy(id, up->id, sizeof(id));
    ms3__upload_free(up); /* part files are temp files: unlinked here */
    if (u->dir != NULL)
        remove_upload_dir(u, id);
}

/* ---------------------------------------------------------------- persistence */

static int md5_from_hex(const char *hex, unsigned char md5[16])
{
    if (hex == NULL || strlen(hex) != 32)
        return -1;
    for (size_t i = 0; i < 16; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16;
            if (d == 16)
                return -1;
            v = v * 16 + d;
        }
        md5[i] = (unsigned char)v;
    }
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

static json_t *part_json(const ms3_part *p)
{
    char hex[33];
    bk_sigv4_hex(p->md5, 16, hex);
    const char *alg = bk_checksum_alg_name(p->ck_alg);
    json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:I, s:s*, s:s}", "number", p->number, "size",
                          (json_int_t)p->size, "md5", hex, "etag", p->etag, "last_modified_ms",
                          (json_int_t)p->last_modified_ms, "checksum_algorithm",
                          p->ck_alg != BK_CHECKSUM_NONE ? alg : NULL, "checksum", p->ck_value);
    if (o == NULL)
        return NULL;
    if (p->body.kind == MS3_BODY_ZERO)
        json_object_set_new(o, "zero", json_true());
    else
        json_object_set_new(o, "file", json_string(base_name(p->body.path)));
    return o;
}

/* Writes the upload's JSON (caller holds the lock or owns the upload). */
static int persist(const ms3_uploads *u, const ms3_upload *up, bk_err *err)
{
    if (u->dir == NULL)
        return 0;
    char *meta = ms3__objmeta_to_json(up->key, &up->meta, 0);
    json_t *parts = json_array();
    for (size_t i = 0; parts != NULL && i < up->n; i++) {
        json_t *pj = part_json(&up->parts[i]);
        if (pj == NULL || json_array_append_new(parts, pj) != 0) {
            json_decref(parts);
            parts = NULL;
        }
    }
    json_t *o = NULL;
    if (meta == NULL || parts == NULL) {
        json_decref(parts);
    } else {
        /* "o" hands parts over, also when packing fails. */
        const char *alg = up->ck_alg != BK_CHECKSUM_NONE ? bk_checksum_alg_name(up->ck_alg) : NULL;
        o = json_pack("{s:s, s:s, s:s, s:I, s:s*, s:s, s:o}", "id", up->id, "bucket", up->bucket,
                      "key", up->key, "initiated_ms", (json_int_t)up->initiated_ms,
                      "checksum_algorithm", alg, "meta", meta, "parts", parts);
    }
    free(meta);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory writing upload %s", up->id);
        return -1;
    }
    bk_buf path = BK_BUF_INIT;
    bk_buf_printf(&path, "%s/%s/" UPLOAD_JSON, u->dir, up->id);
    int rc = bk_buf_check(&path, err) == BK_OK
                 ? ms3__write_file_atomic(bk_buf_str(&path), text, err)
                 : -1;
    bk_buf_clear(&path);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- loading */

static int valid_upload_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((ms3_upload *)NULL)->id))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int load_part(const char *dir, json_t *pj, ms3_part *p)
{
    memset(p, 0, sizeof(*p));
    json_int_t number = 0, size = -1, modified = 0;
    const char *md5 = NULL, *etag = NULL, *alg = NULL, *ck = "", *file = NULL;
    int zero = 0;
    if (json_unpack(pj, "{s:I, s:I, s:s, s:s, s:I, s?s, s?s, s?s, s?b}", "number", &number, "size",
                    &size, "md5", &md5, "etag", &etag, "last_modified_ms", &modified,
                    "checksum_algorithm", &alg, "checksum", &ck, "file", &file, "zero",
                    &zero) != 0 ||
        number < 1 || number > 10000 || size < 0 || md5_from_hex(md5, p->md5) != 0 ||
        strlen(etag) >= sizeof(p->etag) || strlen(ck) >= sizeof(p->ck_value) ||
        (alg != NULL && !bk_checksum_alg_from_name(alg, &p->ck_alg)))
        return -1;
    p->number = (int)number;
    p->size = (uint64_t)size;
    p->last_modified_ms = modified;
    snprintf(p->etag, sizeof(p->etag), "%s", etag);
    snprintf(p->ck_value, sizeof(p->ck_value), "%s", ck);
    if (zero) {
        ms3__body_zero(&p->body, p->size);
        return 0;
    }
    if (file == NULL || strchr(file, '/') != NULL || file[0] == '.')
        return -1;
    bk_buf path = BK_BUF_INIT;
    bk_buf_printf(&path, "%s/%s", dir, file);
    struct stat st;
    if (path.data == NULL || stat(bk_buf_str(&path), &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != p->size) {
        bk_buf_clear(&path);
        return -1;
    }
    p->body.kind = MS3_BODY_FILE;
    p->body.size = p->size;
    p->body.path = bk_buf_steal(&path);
    p->body.is_temp = 1; /* unlinked when the part is replaced or the upload is over */
    return 0;
}

/* One upload directory: its JSON and the part files it names. NULL when the
 * directory holds no complete upload. */
static ms3_upload *load_upload(const ms3_uploads *u, const char *id)
{
    char *dir = upload_dir(u, id);
    bk_buf path = BK_BUF_INIT;
    bk_buf_printf(&path, "%s/" UPLOAD_JSON, dir != NULL ? dir : "");
    json_t *o =
        dir != NULL && path.data != NULL ? json_load_file(bk_buf_str(&path), 0, NULL) : NULL;
    bk_buf_clear(&path);
    ms3_upload *up = o != NULL ? calloc(1, sizeof(*up)) : NULL;
    const char *bucket = NULL, *key = NULL, *alg = NULL, *meta = NULL, *json_id = NULL;
    json_int_t initiated = 0;
    json_t *parts = NULL;
    int ok = up != NULL &&
             json_unpack(o, "{s:s, s:s, s:s, s:I, s?s, s:s, s:o}", "id", &json_id, "bucket",
                         &bucket, "key", &key, "initiated_ms", &initiated, "checksum_algorithm",
                         &alg, "meta", &meta, "parts", &parts) == 0 &&
             strcmp(json_id, id) == 0 && json_is_array(parts) &&
             (alg == NULL || bk_checksum_alg_from_name(alg, &up->ck_alg));
    if (ok) {
        char *meta_key = NULL;
        int zero_body = 0;
        snprintf(up->id, sizeof(up->id), "%s", id);
        up->bucket = strdup(bucket);
        up->key = strdup(key);
        up->initiated_ms = initiated;
        ok = up->bucket != NULL && up->key != NULL &&
             ms3__objmeta_from_json(meta, &meta_key, &up->meta, &zero_body) == 0;
        free(meta_key);
    }
    size_t n_parts = ok ? json_array_size(parts) : 0;
    if (ok && n_parts > 0) {
        up->parts = calloc(n_parts, sizeof(*up->parts));
        ok = up->parts != NULL;
    }
    for (size_t i = 0; ok && i < n_parts; i++) {
        /* A part that does not check out is dropped, as if its request failed. */
        if (load_part(dir, json_array_get(parts, i), &up->parts[up->n]) == 0)
            up->n++;
    }
    json_decref(o);
    free(dir);
    if (!ok) {
        ms3__upload_free(up);
        return NULL;
    }
    return up;
}

/* What an upload's directory keeps: its JSON and the part files it names. The
 * rest is what a stopped mock left: a part renamed in before its JSON was
 * written, a JSON temp file. */
static int named_by_upload(const ms3_upload *up, const char *name)
{
    if (strcmp(name, UPLOAD_JSON) == 0)
        return 1;
    for (size_t i = 0; i < up->n; i++)
        if (up->parts[i].body.kind == MS3_BODY_FILE &&
            strcmp(base_name(up->parts[i].body.path), name) == 0)
            return 1;
    return 0;
}

static int load_all(ms3_uploads *u, bk_err *err)
{
    if (mkdir(u->dir, 0755) != 0 && errno != EEXIST) {
        bk_err_set(err, BK_EIO, "cannot create %s: %s", u->dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(u->dir);
    if (d == NULL) {
        bk_err_set(err, BK_EIO, "cannot read %s: %s", u->dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !valid_upload_id(e->d_name))
            continue;
        ms3_upload *up = load_upload(u, e->d_name);
        if (up == NULL) {
            remove_upload_dir(u, e->d_name); /* created, never described */
            continue;
        }
        remove_files(u, up->id, named_by_upload, up);
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        ms3_upload **ni = realloc(u->items, (u->n + 1) * sizeof(*ni));
        if (ni == NULL) {
            ms3__upload_free(up);
            bk_err_set(err, BK_ENOMEM, "out of memory loading uploads");
            rc = -1;
            break;
        }
        u->items = ni;
        u->items[u->n++] = up;
    }
    closedir(d);
    return rc;
}

/* ---------------------------------------------------------------- registry */

ms3_uploads *ms3__uploads_new(const char *data_dir, bk_err *err)
{
    ms3_uploads *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&u->lock, NULL);
    if (data_dir != NULL) {
        bk_buf b = BK_BUF_INIT;
        bk_buf_printf(&b, "%s/uploads", data_dir);
        u->dir = bk_buf_steal(&b);
        if (u->dir == NULL) {
            bk_err_set(err, BK_ENOMEM, "out of memory");
            ms3__uploads_free(u);
            return NULL;
        }
        if (load_all(u, err) != 0) {
            ms3__uploads_free(u);
            return NULL;
        }
    }
    return u;
}

void ms3__uploads_clear(ms3_uploads *u)
{
    pthread_mutex_lock(&u->lock);
    for (size_t i = 0; i < u->n; i++)
        ms3__upload_discard(u, u->items[i]);
    free(u->items);
    u->items = NULL;
    u->n = 0;
    pthread_mutex_unlock(&u->lock);
}

void ms3__uploads_free(ms3_uploads *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n; i++) {
        ms3_upload *up = u->items[i];
        if (u->dir != NULL) /* the files stay for the next run */
            for (size_t k = 0; k < up->n; k++)
                up->parts[k].body.is_temp = 0;
        ms3__upload_free(up);
    }
    free(u->items);
    free(u->dir);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

size_t ms3__uploads_count(ms3_uploads *u)
{
    pthread_mutex_lock(&u->lock);
    size_t n = u->n;
    pthread_mutex_unlock(&u->lock);
    return n;
}

ms3_upload *ms3__uploads_find(ms3_uploads *u, const char *id, const char *bucket, const char *key,
                              size_t *pos)
{
    for (size_t i = 0; i < u->n; i++) {
        ms3_upload *up = u->items[i];
        if (strcmp(up->id, id) == 0 && strcmp(up->bucket, bucket) == 0 &&
            strcmp(up->key, key) == 0) {
            if (pos != NULL)
                *pos = i;
            return up;
        }
    }
    return NULL;
}

int ms3__uploads_exists(ms3_uploads *u, const char *id, const char *bucket, const char *key)
{
    pthread_mutex_lock(&u->lock);
    int found = ms3__uploads_find(u, id, bucket, key, NULL) != NULL;
    pthread_mutex_unlock(&u->lock);
    return found;
}

int ms3__uploads_add(ms3_uploads *u, ms3_upload *up, bk_err *err)
{
    if (u->dir != NULL) {
        char *dir = upload_dir(u, up->id);
        int made = dir != NULL && (mkdir(dir, 0755) == 0 || errno == EEXIST);
        free(dir);
        if (!made) {
            bk_err_set(err, BK_EIO, "cannot create the directory of upload %s", up->id);
            return -1;
        }
    }
    pthread_mutex_lock(&u->lock);
    int rc = persist(u, up, err);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    ms3_upload **ni = rc == 0 ? realloc(u->items, (u->n + 1) * sizeof(*ni)) : NULL;
    if (ni != NULL) {
        u->items = ni;
        u->items[u->n++] = up;
    } else if (rc == 0) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        rc = -1;
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}

ms3_upload *ms3__uploads_take(ms3_uploads *u, size_t pos)
{
    ms3_upload *up = u->items[pos];
    u->items[pos] = u->items[--u->n];
    return up;
}

/* Moves a finished part body (a temp file) into the upload's directory. */
static int adopt_part_file(const ms3_uploads *u, const ms3_upload *up, ms3_part *p,
                           uint64_t request_id, bk_err *err)
{
    if (u->dir == NULL || p->body.kind == MS3_BODY_ZERO)
        return 0;
    if (p->body.kind != MS3_BODY_FILE) {
        bk_err_set(err, BK_EINVAL, "part %d of upload %s is not in a file", p->number, up->id);
        return -1;
    }
    bk_buf path = BK_BUF_INIT;
    bk_buf_printf(&path, "%s/%s/%d-%016llx.part", u->dir, up->id, p->number,
                  (unsigned long long)request_id);
    if (bk_buf_check(&path, err) != BK_OK)
        return -1;
    if (rename(p->body.path, bk_buf_str(&path)) != 0) {
        bk_err_set(err, BK_EIO, "cannot move part %d into upload %s: %s", p->number, up->id,
                   strerror(errno));
        bk_buf_clear(&path);
        return -1;
    }
    free(p->body.path);
    p->body.path = bk_buf_steal(&path);
    p->body.is_temp = 1;
    return 0;
}

int ms3__uploads_put_part(ms3_uploads *u, ms3_upload *up, ms3_part *p, uint64_t request_id,
                          bk_err *err)
{
    if (adopt_part_file(u, up, p, request_id, err) != 0) {
        ms3__body_clear(&p->body);
        return -1;
    }
    size_t i = 0;
    while (i < up->n && up->parts[i].number < p->number)
        i++;
    if (i < up->n && up->parts[i].number == p->number) {
        ms3__body_clear(&up->parts[i].body);
        up->parts[i] = *p;
    } else {
        ms3_part *np = realloc(up->parts, (up->n + 1) * sizeof(*np));
        if (np == NULL) {
            ms3__body_clear(&p->body);
            bk_err_set(err, BK_ENOMEM, "out of memory");
            return -1;
        }
        up->parts = np;
        memmove(np + i + 1, np + i, (up->n - i) * sizeof(*np));
        np[i] = *p;
        up->n++;
    }
    /* On failure the part stays in memory but not on disk: after a restart it is
     * gone, as the InternalError the client gets says. */
    return persist(u, up, err);
}
