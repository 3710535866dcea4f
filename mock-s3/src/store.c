#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bkcache/buf.h"

typedef struct obj {
    char *key;
    ms3_objmeta meta;
    ms3_body body;
} obj;

typedef struct bucket {
    char *name;
    int64_t created_ms;
    obj **objs; /* sorted by key, strcmp order = UTF-8 binary order */
    size_t n, cap;
} bucket;

struct ms3_store {
    pthread_mutex_t lock;
    char *dir; /* NULL in memory */
    char *tmp_dir;
    bucket **buckets; /* sorted by name */
    size_t nb;
};

int ms3__valid_bucket_name(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '.')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
        if (c == '.' && i > 0 && name[i - 1] == '.')
            return 0;
    }
    return 1;
}

/* ---- paths (data dir only) */

static void key_hash(const char *key, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 32;
    EVP_Digest(key, strlen(key), md, &len, EVP_sha256(), NULL);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static char *obj_path(const ms3_store *st, const char *bkt, const char *key, const char *ext)
{
    char hex[65];
    key_hash(key, hex);
    bk_buf b = BK_BUF_INIT;
    bk_buf_printf(&b, "%s/buckets/%s/%.2s/%s.%s", st->dir, bkt, hex, hex, ext);
    return bk_buf_steal(&b);
}

static int mkdir_p(const char *path)
{
    char *tmp = strdup(path);
    if (tmp == NULL)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                free(tmp);
                return -1;
            }
            *p = '/';
        }
    }
    int rc = mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(tmp);
    return rc;
}

int ms3__write_file_atomic(const char *path, const char *text, bk_err *err)
{
    bk_buf tmp = BK_BUF_INIT;
    bk_buf_printf(&tmp, "%s.tmp", path);
    if (bk_buf_check(&tmp, err) != BK_OK)
        return -1;
    FILE *f = fopen(bk_buf_str(&tmp), "w");
    int rc = 0;
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        if (f == NULL)
            bk_err_set(err, BK_EIO, "cannot write %s: %s", bk_buf_str(&tmp), strerror(errno));
        else
            bk_err_set(err, BK_EIO, "cannot write %s", bk_buf_str(&tmp));
        rc = -1;
    } else if (rename(bk_buf_str(&tmp), path) != 0) {
        bk_err_set(err, BK_EIO, "rename to %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(bk_buf_str(&tmp));
    bk_buf_clear(&tmp);
    return rc;
}

/* The meta JSON, with where a completed upload's part files are: "part_files":
 * {"dir": <name beside the meta>, "sizes": [...], "zero": [0|1, ...]}. */
static char *meta_json(const obj *o)
{
    char *json = ms3__objmeta_to_json(o->key, &o->meta, o->body.kind == MS3_BODY_ZERO);
    const char *dir = ms3__body_parts_dir(&o->body);
    if (json == NULL || dir == NULL)
        return json;
    json_t *root = json_loads(json, 0, NULL);
    free(json);
    json_t *sizes = json_array(), *zero = json_array();
    for (size_t i = 0; i < ms3__body_part_count(&o->body); i++) {
        json_array_append_new(sizes, json_integer((json_int_t)ms3__body_part_size(&o->body, i)));
        json_array_append_new(zero, json_integer(ms3__body_part_is_zero(&o->body, i)));
    }
    const char *slash = strrchr(dir, '/');
    json_t *files = json_pack("{s:s, s:o, s:o}", "dir", slash != NULL ? slash + 1 : dir, "sizes",
                              sizes, "zero", zero);
    json = NULL;
    if (root != NULL && files != NULL && json_object_set_new(root, "part_files", files) == 0)
        json = json_dumps(root, JSON_COMPACT);
    else
        json_decref(files);
    json_decref(root);
    return json;
}

static int persist_meta(ms3_store *st, const char *bkt, const obj *o, bk_err *err)
{
    if (st->dir == NULL)
        return 0;
    char *json = meta_json(o);
    char *path = obj_path(st, bkt, o->key, "meta");
    int rc = -1;
    if (json == NULL || path == NULL)
        bk_err_set(err, BK_ENOMEM, "cannot encode the metadata of %s", o->key);
    else
        rc = ms3__write_file_atomic(path, json, err);
    free(json);
    free(path);
    return rc;
}

/* ---- index */

static void obj_free(obj *o)
{
    if (o == NULL)
        return;
    free(o->key);
    ms3__objmeta_clear(&o->meta);
    ms3__body_clear(&o->body);
    free(o);
}

static bucket *find_bucket(ms3_store *st, const char *name)
{
    for (size_t i = 0; i < st->nb; i++)
        if (strcmp(st->buckets[i]->name, name) == 0)
            return st->buckets[i];
    return NULL;
}

/* Index of the first object whose key is >= key. */
static size_t lower_bound(const bucket *b, const char *key)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(b->objs[mid]->key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static obj *find_obj(const bucket *b, const char *key, size_t *pos)
{
    size_t i = lower_bound(b, key);
    if (pos != NULL)
        *pos = i;
    return i < b->n && strcmp(b->objs[i]->key, key) == 0 ? b->objs[i] : NULL;
}

/* Inserts or replaces; returns the replaced object (caller frees) or NULL. */
static int index_put(bucket *b, obj *o, obj **replaced)
{
    size_t pos;
    obj *old = find_obj(b, o->key, &pos);
    *replaced = old;
    if (old != NULL) {
        b->objs[pos] = o;
        return 0;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        obj **no = realloc(b->objs, cap * sizeof(*no));
        if (no == NULL)
            return -1;
        b->objs = no;
        b->cap = cap;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    memmove(b->objs + pos + 1, b->objs + pos, (b->n - pos) * sizeof(*b->objs));
    b->objs[pos] = o;
    b->n++;
    return 0;
}

static bucket *add_bucket(ms3_store *st, const char *name, int64_t created_ms)
{
    bucket *b = calloc(1, sizeof(*b));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bucket **nb = realloc(st->buckets, (st->nb + 1) * sizeof(*nb));
    if (b == NULL || nb == NULL || (b->name = strdup(name)) == NULL) {
        free(b);
        if (nb != NULL)
            st->buckets = nb;
        return NULL;
    }
    st->buckets = nb;
    size_t pos = 0;
    while (pos < st->nb && strcmp(st->buckets[pos]->name, name) < 0)
        pos++;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    memmove(st->buckets + pos + 1, st->buckets + pos, (st->nb - pos) * sizeof(*nb));
    st->buckets[pos] = b;
    st->nb++;
    b->created_ms = created_ms;
    return b;
}

static void bucket_free(bucket *b)
{
    for (size_t i = 0; i < b->n; i++)
        obj_free(b->objs[i]);
    free(b->objs);
    free(b->name);
    free(b);
}

/* ---- loading a data dir */

static void clean_dir(const char *path);

static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    bk_buf b = BK_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (size_t)16 * 1024 * 1024)
        bk_buf_append(&b, chunk, n);
    fclose(f);
    return bk_buf_steal(&b);
}

/* The body of a completed upload a previous run stored: the "part_files" of
 * its meta JSON (text), in the directory beside meta_path. 0, 1 when the meta
 * names no part files (the body is one file), or -1 when they are not all
 * there. */
static int load_part_files(const char *text, const char *meta_path, ms3_body *body)
{
    json_t *root = json_loads(text, 0, NULL);
    json_t *sizes = NULL, *zero = NULL;
    const char *dir = NULL;
    int rc = -1;
    if (root != NULL && json_object_get(root, "part_files") == NULL) {
        json_decref(root);
        return 1;
    }
    if (root == NULL ||
        json_unpack(json_object_get(root, "part_files"), "{s:s, s:o, s:o}", "dir", &dir, "sizes",
                    &sizes, "zero", &zero) != 0 ||
        !json_is_array(sizes) || !json_is_array(zero) ||
        json_array_size(sizes) != json_array_size(zero) || json_array_size(sizes) > 10000 ||
        strchr(dir, '/') != NULL || dir[0] == '.') {
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(sizes);
    uint64_t *sz = calloc(n ? n : 1, sizeof(*sz));
    int *zr = calloc(n ? n : 1, sizeof(*zr));
    int ok = sz != NULL && zr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        json_int_t v = json_integer_value(json_array_get(sizes, i));
        ok = json_is_integer(json_array_get(sizes, i)) && v >= 0;
        sz[i] = (uint64_t)v;
        zr[i] = json_is_true(json_array_get(zero, i)) ||
                json_integer_value(json_array_get(zero, i)) != 0;
    }
    bk_buf path = BK_BUF_INIT;
    const char *slash = strrchr(meta_path, '/');
    bk_buf_printf(&path, "%.*s/%s", (int)(slash - meta_path), meta_path, dir);
    bk_err err;
    if (ok && path.data != NULL &&
        ms3__body_load_parts(body, bk_buf_str(&path), sz, zr, n, &err) == BK_OK)
        rc = 0;
    bk_buf_clear(&path);
    free(sz);
    free(zr);
    json_decref(root);
    return rc;
}

static void load_object(ms3_store *st, bucket *b, const char *meta_path)
{
    char *text = read_small_file(meta_path);
    if (text == NULL)
        return;
    obj *o = calloc(1, sizeof(*o));
    int zero = 0;
    if (o == NULL || ms3__objmeta_from_json(text, &o->key, &o->meta, &zero) != 0) {
        free(o);
        free(text);
        return;
    }
    /* The file name must be the hash of the key it claims, or it is not ours. */
    char *expect = obj_path(st, b->name, o->key, "meta");
    int ok = expect != NULL && strcmp(expect, meta_path) == 0;
    free(expect);
    int parts = ok && !zero ? load_part_files(text, meta_path, &o->body) : 1;
    if (ok && zero) {
        ms3__body_zero(&o->body, o->meta.size);
    } else if (ok && parts <= 0) {
        ok = parts == 0 && o->body.size == o->meta.size;
        char *stale = obj_path(st, b->name, o->key, "obj"); /* replaced, then stopped */
        if (ok && stale != NULL)
            unlink(stale);
        free(stale);
    } else if (ok) {
        o->body.kind = MS3_BODY_FILE;
        o->body.size = o->meta.size;
        o->body.path = obj_path(st, b->name, o->key, "obj");
        struct stat sb;
        ok = o->body.path != NULL && stat(o->body.path, &sb) == 0 &&
             (uint64_t)sb.st_size == o->meta.size;
    }
    free(text);
    obj *replaced = NULL;
    if (!ok || index_put(b, o, &replaced) != 0) {
        obj_free(o);
        return;
    }
    obj_free(replaced);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes a directory of part files and what it holds. */
static void remove_parts_dir(const char *path)
{
    clean_dir(path);
    rmdir(path);
}

/* Calls fn with the path of each entry of the bucket's fan-out directories
 * (DIR/buckets/<bucket>/<xx>/...). */
static void visit_fan_out(const char *path, void (*fn)(void *ud, const char *entry), void *ud)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        bk_buf sub = BK_BUF_INIT;
        bk_buf_printf(&sub, "%s/%s", path, e->d_name);
        DIR *sd = opendir(bk_buf_str(&sub));
        struct dirent *f;
        while (sd != NULL && (f = readdir(sd)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            bk_buf ep = BK_BUF_INIT;
            bk_buf_printf(&ep, "%s/%s", bk_buf_str(&sub), f->d_name);
            if (ep.data != NULL)
                fn(ud, bk_buf_str(&ep));
            bk_buf_clear(&ep);
        }
        if (sd != NULL)
            closedir(sd);
        bk_buf_clear(&sub);
    }
    closedir(d);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

typedef struct loading {
    ms3_store *st;
    bucket *b;
} loading;

static void load_entry(void *ud, const char *entry)
{
    loading *l = ud;
    if (has_suffix(entry, ".meta"))
        load_object(l->st, l->b, entry);
}

typedef struct sweeping {
    char **claimed; /* sorted */
    size_t n;
} sweeping;

static void sweep_entry(void *ud, const char *entry)
{
    const sweeping *sw = ud;
    const char *slash = strrchr(entry, '/');
    if (strstr(slash != NULL ? slash : entry, ".parts-") != NULL &&
        bsearch(&entry, sw->claimed, sw->n, sizeof(*sw->claimed), cmp_str) == NULL)
        remove_parts_dir(entry);
}

/* Part directories no loaded object names: the mock stopped between linking
 * a completed upload's parts and writing its meta, or between deleting an
 * object's meta and its parts. */
static void sweep_part_dirs(const bucket *b, const char *path)
{
    sweeping sw = {calloc(b->n + 1, sizeof(char *)), 0};
    if (sw.claimed == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        if (ms3__body_parts_dir(&b->objs[i]->body) != NULL)
            sw.claimed[sw.n++] = (char *)ms3__body_parts_dir(&b->objs[i]->body);
    qsort(sw.claimed, sw.n, sizeof(*sw.claimed), cmp_str);
    visit_fan_out(path, sweep_entry, &sw);
    free(sw.claimed);
}

static void load_bucket(ms3_store *st, const char *name, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return;
    bucket *b = add_bucket(st, name, (int64_t)sb.st_mtime * 1000);
    if (b == NULL)
        return;
    loading l = {st, b};
    visit_fan_out(path, load_entry, &l);
    sweep_part_dirs(b, path);
}

static void clean_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        bk_buf p = BK_BUF_INIT;
        bk_buf_printf(&p, "%s/%s", path, e->d_name);
        unlink(bk_buf_str(&p));
        bk_buf_clear(&p);
    }
    closedir(d);
}

static int load_dir(ms3_store *st, bk_err *err)
{
    bk_buf p = BK_BUF_INIT;
    bk_buf_printf(&p, "%s/buckets", st->dir);
    if (mkdir_p(bk_buf_str(&p)) != 0 || mkdir_p(st->tmp_dir) != 0) {
        bk_err_set(err, BK_EIO, "cannot create the data dir %s: %s", st->dir, strerror(errno));
        bk_buf_clear(&p);
        return -1;
    }
    /* Leftovers of uploads that were in flight when the last run stopped. */
    clean_dir(st->tmp_dir);
    DIR *d = opendir(bk_buf_str(&p));
    if (d == NULL) {
        bk_err_set(err, BK_EIO, "cannot read %s: %s", bk_buf_str(&p), strerror(errno));
        bk_buf_clear(&p);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ms3__valid_bucket_name(e->d_name))
            continue;
        bk_buf bp = BK_BUF_INIT;
        bk_buf_printf(&bp, "%s/%s", bk_buf_str(&p), e->d_name);
        load_bucket(st, e->d_name, bk_buf_str(&bp));
        bk_buf_clear(&bp);
    }
    closedir(d);
    bk_buf_clear(&p);
    return 0;
}

ms3_store *ms3__store_open(const char *data_dir, bk_err *err)
{
    ms3_store *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&st->lock, NULL);
    if (data_dir != NULL) {
        char *abs = realpath(data_dir, NULL);
        if (abs == NULL && mkdir_p(data_dir) == 0)
            abs = realpath(data_dir, NULL);
        if (abs == NULL) {
            bk_err_set(err, BK_EIO, "data dir %s: %s", data_dir, strerror(errno));
            ms3__store_close(st);
            return NULL;
        }
        st->dir = abs;
        bk_buf t = BK_BUF_INIT;
        bk_buf_printf(&t, "%s/tmp", abs);
        st->tmp_dir = bk_buf_steal(&t);
        if (st->tmp_dir == NULL || load_dir(st, err) != 0) {
            ms3__store_close(st);
            return NULL;
        }
    }
    return st;
}

void ms3__store_close(ms3_store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->nb; i++)
        bucket_free(st->buckets[i]);
    free(st->buckets);
    free(st->dir);
    free(st->tmp_dir);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int ms3__store_is_persistent(const ms3_store *st)
{
    return st->dir != NULL;
}

const char *ms3__store_data_dir(const ms3_store *st)
{
    return st->dir;
}

const char *ms3__store_tmp_dir(const ms3_store *st)
{
    return st->tmp_dir;
}

bk_code ms3__store_create_bucket(ms3_store *st, const char *name, int64_t now_ms, int *existed,
                                 bk_err *err)
{
    if (existed != NULL)
        *existed = 0;
    if (!ms3__valid_bucket_name(name))
        return bk_err_set(err, BK_EINVAL, "invalid bucket name \"%s\"", name);
    pthread_mutex_lock(&st->lock);
    bk_code rc = BK_OK;
    if (find_bucket(st, name) != NULL) {
        if (existed != NULL)
            *existed = 1;
    } else {
        if (st->dir != NULL) {
            bk_buf p = BK_BUF_INIT;
            bk_buf_printf(&p, "%s/buckets/%s", st->dir, name);
            if (mkdir_p(bk_buf_str(&p)) != 0)
                rc = bk_err_set(err, BK_EIO, "cannot create %s: %s", bk_buf_str(&p),
                                strerror(errno));
            bk_buf_clear(&p);
        }
        if (rc == BK_OK && add_bucket(st, name, now_ms) == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int ms3__store_bucket_exists(ms3_store *st, const char *name)
{
    pthread_mutex_lock(&st->lock);
    int found = find_bucket(st, name) != NULL;
    pthread_mutex_unlock(&st->lock);
    return found;
}

int ms3__store_delete_bucket(ms3_store *st, const char *name)
{
    pthread_mutex_lock(&st->lock);
    int rc = MS3_STORE_NO_BUCKET;
    for (size_t i = 0; i < st->nb; i++) {
        bucket *b = st->buckets[i];
        if (strcmp(b->name, name) != 0)
            continue;
        if (b->n > 0) {
            rc = -1;
            break;
        }
        if (st->dir != NULL) {
            /* Only the two-hex-digit fan-out directories can be left; remove them. */
            bk_buf p = BK_BUF_INIT;
            bk_buf_printf(&p, "%s/buckets/%s", st->dir, name);
            DIR *d = opendir(bk_buf_str(&p));
            struct dirent *e;
            while (d != NULL && (e = readdir(d)) != NULL) {
                if (strlen(e->d_name) == 2 && e->d_name[0] != '.') {
                    bk_buf sub = BK_BUF_INIT;
                    bk_buf_printf(&sub, "%s/%s", bk_buf_str(&p), e->d_name);
                    rmdir(bk_buf_str(&sub));
                    bk_buf_clear(&sub);
                }
            }
            if (d != NULL)
                closedir(d);
            rmdir(bk_buf_str(&p));
            bk_buf_clear(&p);
        }
        bucket_free(b);
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        memmove(st->buckets + i, st->buckets + i + 1, (st->nb - i - 1) * sizeof(*st->buckets));
        st->nb--;
        rc = MS3_STORE_OK;
        break;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

size_t ms3__store_list_buckets(ms3_store *st, ms3_bucket_item **out)
{
    pthread_mutex_lock(&st->lock);
    size_t n = 0;
    *out = calloc(st->nb + 1, sizeof(**out));
    if (*out != NULL) {
        for (size_t i = 0; i < st->nb; i++) {
            (*out)[n].name = strdup(st->buckets[i]->name);
            (*out)[n].created_ms = st->buckets[i]->created_ms;
            if ((*out)[n].name != NULL)
                n++;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return n;
}

void ms3__bucket_items_free(ms3_bucket_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].name);
    free(items);
}

static int lookup(ms3_store *st, const char *bkt, const char *key, obj **o)
{
    bucket *b = find_bucket(st, bkt);
    if (b == NULL)
        return MS3_STORE_NO_BUCKET;
    *o = find_obj(b, key, NULL);
    return *o != NULL ? MS3_STORE_OK : MS3_STORE_NO_KEY;
}

int ms3__store_stat(ms3_store *st, const char *bkt, const char *key, ms3_objmeta *meta)
{
    pthread_mutex_lock(&st->lock);
    obj *o = NULL;
    int rc = lookup(st, bkt, key, &o);
    if (rc == MS3_STORE_OK && ms3__objmeta_copy(meta, &o->meta) != 0)
        rc = MS3_STORE_IO;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int ms3__store_open_object(ms3_store *st, const char *bkt, const char *key, ms3_objmeta *meta,
                           ms3_reader **reader, bk_err *err)
{
    *reader = NULL;
    pthread_mutex_lock(&st->lock);
    obj *o = NULL;
    int rc = lookup(st, bkt, key, &o);
    if (rc == MS3_STORE_OK) {
        *reader = ms3__reader_from_body(&o->body, err);
        if (*reader == NULL || ms3__objmeta_copy(meta, &o->meta) != 0) {
            ms3__reader_close(*reader);
            *reader = NULL;
            rc = MS3_STORE_IO;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* Moves a detached body into its place in the data dir (caller holds the lock). */
static int place_body(ms3_store *st, const char *bkt, const char *key, ms3_body *body, bk_err *err)
{
    if (st->dir == NULL)
        return 0;
    char *path = obj_path(st, bkt, key, "obj");
    if (path == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = mkdir_p(path);
    *slash = '/';
    if (rc != 0) {
        rc =
            bk_err_set(err, BK_EIO, "cannot create the directory of %s: %s", path, strerror(errno));
    } else if (body->kind == MS3_BODY_ZERO) {
        unlink(path);
    } else if (body->kind == MS3_BODY_FILE && body->files != NULL) {
        /* A completed upload: its part files linked beside the meta, under a
         * name of their own, so the object it replaces stays whole until the
         * meta names the new parts. */
        char *dir = obj_path(st, bkt, key, "parts-XXXXXX");
        bk_code placed = dir != NULL ? ms3__body_place_parts(body, dir, err)
                                     : bk_err_set(err, BK_ENOMEM, "out of memory");
        rc = placed == BK_OK ? 0 : -1;
        free(dir);
    } else if (body->kind == MS3_BODY_FILE && body->is_temp) {
        if (rename(body->path, path) != 0) {
            rc = bk_err_set(err, BK_EIO, "rename %s -> %s: %s", body->path, path, strerror(errno));
        } else {
            free(body->path);
            body->path = path;
            body->is_temp = 0;
            path = NULL;
        }
    } else {
        rc = bk_err_set(err, BK_EIO, "internal: body of %s is not a detached file", key);
    }
    free(path);
    return rc;
}

int ms3__etag_list_matches(const char *list, const char *etag)
{
    /* Compare without quotes and weak markers: "abc" == abc == W/"abc". */
    const char *e = etag;
    size_t elen = strlen(e);
    if (elen >= 2 && e[0] == '"' && e[elen - 1] == '"') {
        e++;
        elen -= 2;
    }
    const char *p = list;
    while (p != NULL && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        const char *t = p;
        if (len >= 2 && strncmp(t, "W/", 2) == 0) {
            t += 2;
            len -= 2;
        }
        if (len == 1 && *t == '*')
            return 1;
        if (len >= 2 && t[0] == '"' && t[len - 1] == '"') {
            t++;
            len -= 2;
        }
        if (len == elen && strncmp(t, e, len) == 0)
            return 1;
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

static int check_cond(bucket *b, const char *key, const ms3_put_cond *cond)
{
    if (cond == NULL)
        return MS3_STORE_OK;
    obj *cur = find_obj(b, key, NULL);
    if (cond->if_absent && cur != NULL)
        return MS3_STORE_PRECONDITION;
    if (cond->if_match != NULL) {
        if (cur == NULL)
            return MS3_STORE_NO_KEY;
        if (!ms3__etag_list_matches(cond->if_match, cur->meta.etag))
            return MS3_STORE_PRECONDITION;
    }
    return MS3_STORE_OK;
}

/* After the meta names the new body: the replaced body's files go, unless the
 * new body took their place (a file renamed over the same path). */
static void drop_replaced_files(ms3_body *old, const ms3_body *now)
{
    if (old->files != NULL) {
        ms3__body_doom(old);
    } else if (old->kind == MS3_BODY_FILE && old->path != NULL &&
               (now->path == NULL || strcmp(now->path, old->path) != 0)) {
        unlink(old->path);
    }
}

int ms3__store_put(ms3_store *st, const char *bkt, const char *key, ms3_body *body,
                   ms3_objmeta *meta, const ms3_put_cond *cond, bk_err *err)
{
    obj *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->key = strdup(key)) == NULL) {
        free(o);
        ms3__body_clear(body);
        ms3__objmeta_clear(meta);
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return MS3_STORE_IO;
    }
    o->meta = *meta;
    o->body = *body;
    o->meta.size = body->size;
    ms3__objmeta_init(meta);
    memset(body, 0, sizeof(*body));

    pthread_mutex_lock(&st->lock);
    int rc = MS3_STORE_OK;
    obj *replaced = NULL;
    bucket *b = find_bucket(st, bkt);
    if (b == NULL) {
        rc = MS3_STORE_NO_BUCKET;
    } else if ((rc = check_cond(b, key, cond)) != MS3_STORE_OK) {
        /* precondition failed: nothing changes */
    } else if (place_body(st, bkt, key, &o->body, err) != 0 || persist_meta(st, bkt, o, err) != 0) {
        rc = MS3_STORE_IO;
    } else if (index_put(b, o, &replaced) != 0) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        rc = MS3_STORE_IO;
    }
    if (rc == MS3_STORE_OK && replaced != NULL && st->dir != NULL)
        drop_replaced_files(&replaced->body, &o->body);
    if (rc != MS3_STORE_OK)
        ms3__body_doom(&o->body); /* part files linked for a meta that was not written */
    pthread_mutex_unlock(&st->lock);
    obj_free(replaced);
    if (rc != MS3_STORE_OK)
        obj_free(o);
    return rc;
}

int ms3__store_replace_meta(ms3_store *st, const char *bkt, const char *key, ms3_objmeta *meta,
                            bk_err *err)
{
    pthread_mutex_lock(&st->lock);
    obj *o = NULL;
    int rc = lookup(st, bkt, key, &o);
    if (rc == MS3_STORE_OK) {
        meta->size = o->meta.size;
        ms3__objmeta_clear(&o->meta);
        o->meta = *meta;
        ms3__objmeta_init(meta);
        if (persist_meta(st, bkt, o, err) != 0)
            rc = MS3_STORE_IO;
    }
    pthread_mutex_unlock(&st->lock);
    ms3__objmeta_clear(meta);
    return rc;
}

static void unlink_object_files(ms3_store *st, const char *bkt, obj *o)
{
    if (st->dir == NULL)
        return;
    char *meta_path = obj_path(st, bkt, o->key, "meta");
    if (meta_path != NULL)
        unlink(meta_path);
    free(meta_path);
    if (o->body.kind == MS3_BODY_FILE && o->body.path != NULL)
        unlink(o->body.path);
    ms3__body_doom(&o->body); /* part files: when the last reader is done */
}

int ms3__store_delete(ms3_store *st, const char *bkt, const char *key)
{
    pthread_mutex_lock(&st->lock);
    bucket *b = find_bucket(st, bkt);
    int rc = MS3_STORE_NO_BUCKET;
    obj *o = NULL;
    if (b != NULL) {
        size_t pos;
        o = find_obj(b, key, &pos);
        rc = MS3_STORE_NO_KEY;
        if (o != NULL) {
            unlink_object_files(st, bkt, o);
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
            memmove(b->objs + pos, b->objs + pos + 1, (b->n - pos - 1) * sizeof(*b->objs));
            b->n--;
            rc = MS3_STORE_OK;
        }
    }
    pthread_mutex_unlock(&st->lock);
    obj_free(o);
    return rc;
}

long ms3__store_age(ms3_store *st, const char *bkt, const char *prefix, int64_t seconds)
{
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    pthread_mutex_lock(&st->lock);
    bucket *b = find_bucket(st, bkt);
    long count = -1;
    if (b != NULL) {
        count = 0;
        for (size_t i = plen ? lower_bound(b, prefix) : 0; i < b->n; i++) {
            obj *o = b->objs[i];
            if (plen && strncmp(o->key, prefix, plen) != 0)
                break;
            o->meta.last_modified_ms -= seconds * 1000;
            persist_meta(st, bkt, o, NULL);
            count++;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return count;
}

size_t ms3__store_count(ms3_store *st, const char *bkt)
{
    pthread_mutex_lock(&st->lock);
    bucket *b = find_bucket(st, bkt);
    size_t n = b != NULL ? b->n : 0;
    pthread_mutex_unlock(&st->lock);
    return n;
}

void ms3__store_clear(ms3_store *st)
{
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->nb; i++) {
        bucket *b = st->buckets[i];
        for (size_t j = 0; j < b->n; j++) {
            unlink_object_files(st, b->name, b->objs[j]);
            obj_free(b->objs[j]);
        }
        b->n = 0;
    }
    pthread_mutex_unlock(&st->lock);
}

int ms3__store_scan(ms3_store *st, const char *bkt, const char *prefix, const char *after,
                    int (*cb)(void *ud, const ms3_obj_view *o), void *ud)
{
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    pthread_mutex_lock(&st->lock);
    bucket *b = find_bucket(st, bkt);
    int rc = MS3_STORE_NO_BUCKET;
    if (b != NULL) {
        rc = MS3_STORE_OK;
        size_t i = plen ? lower_bound(b, prefix) : 0;
        if (after != NULL && *after) {
            size_t j = lower_bound(b, after);
            if (j < b->n && strcmp(b->objs[j]->key, after) == 0)
                j++;
            if (j > i)
                i = j;
        }
        for (; i < b->n; i++) {
            obj *o = b->objs[i];
            if (plen && strncmp(o->key, prefix, plen) != 0)
                break;
            ms3_obj_view v = {o->key, &o->meta};
            if (cb(ud, &v) != 0)
                break;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}
