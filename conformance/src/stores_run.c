/* One request profile against the store: the S3 operations the cache uses,
 * in the order an export and an import use them, each sent with the
 * profile's request shapes, and each checked twice: that the store accepted
 * it, and that what it stored (or answered) is what was meant. An upload
 * the store refuses is then made with plain requests, so the operations
 * after it still say what they would do. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bkcache/checksum.h"
#include "bkcache/s3.h"
#include "stores.h"

#define SMALL_SIZE 8192
#define COPY_LIMIT (5ULL * 1024 * 1024) /* the lowered copy limit: S3's smallest part */
#define RANGE_MAX ((size_t)64 * 1024 * 1024)

/* One object the profile writes: its key, bytes and how it got there. */
typedef struct object {
    char key[512];
    char path[4200]; /* its bytes in the scratch folder */
    unsigned char *data;
    size_t len;
    char sha256[65];
    int stored;    /* by the profile's upload (1) or plain requests (2); 0 = not there */
    uint64_t held; /* the size the store gave it after the upload */
} object;

typedef struct run {
    conf_ctx *c;
    const stores_profile *p;
    bk_s3_client *up;  /* uploads: the uploader's or transfer manager's shapes */
    bk_s3_client *api; /* HEAD, GET, copies, listing: the s3.Client's shapes */
    object small, big, manifest;
    char missing_key[512];
    char touch_value[64]; /* what the touch wrote, "" when it did not */
    const char *prefix;   /* everything of this profile is under it */
    stores_row *row;
} run;

static const char *const op_names[STORES_N_OPS] = {
    "head_missing",    "put_small", "put_multipart", "head_present", "touch_copy",
    "touch_part_copy", "get_range", "list",          "put_manifest", "get_back",
};

const char *stores_op_name(stores_op op)
{
    return op < STORES_N_OPS ? op_names[op] : "?";
}

/* ---- cells ---- */

static void cell_set(stores_cell *cell, stores_outcome o, int status, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void cell_set(stores_cell *cell, stores_outcome o, int status, const char *code,
                     const char *fmt, ...)
{
    cell->outcome = o;
    cell->status = status;
    snprintf(cell->error_code, sizeof cell->error_code, "%s", code != NULL ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cell->detail, sizeof cell->detail, fmt, ap);
    va_end(ap);
}

/* What the store said besides its code: its message, or that it gave none. */
static const char *no_message(int has_body)
{
    return has_body ? "(no message)" : "(no error body)";
}

/* Where the store's message ends in the client's error text: before the
 * first of the notes the client appends. */
static size_t message_len(const char *msg)
{
    static const char *const notes[] = {" (no error body", " [bucket region ", " (request id "};
    size_t len = strlen(msg);
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
        const char *at = strstr(msg, notes[i]);
        if (at != NULL && (size_t)(at - msg) < len)
            len = (size_t)(at - msg);
    }
    return len;
}

/* The store's answer to a failed call: from the result when it has one, else
 * from the client's message ("... HTTP 501 NotImplemented: message ..."),
 * which every step of a multipart upload reports through. */
static void cell_refused(stores_cell *cell, const bk_s3_result *res, const bk_err *err)
{
    if (res != NULL && res->status >= 300) {
        cell_set(cell, STORES_REFUSED, res->status, res->s3_code, "%s",
                 res->s3_message[0] ? res->s3_message : no_message(res->s3_code[0] != '\0'));
        return;
    }
    /* The last status in the message: a failed part's message may start with
     * what aborting the upload answered. */
    const char *h = NULL;
    for (const char *p = strstr(err->msg, "HTTP "); p != NULL; p = strstr(p + 1, "HTTP "))
        if (p[5] >= '1' && p[5] <= '5') /* not the word in a message ("HTTP header") */
            h = p;
    char *after = NULL;
    long status = h != NULL ? strtol(h + 5, &after, 10) : 0;
    if (status >= 300 && status <= 599 && *after == ' ') {
        char code[64];
        size_t code_len = strcspn(after + 1, ": ");
        snprintf(code, sizeof code, "%.*s", (int)(code_len < 63 ? code_len : 63), after + 1);
        const char *msg = after + 1 + code_len;
        if (strncmp(msg, ": ", 2) == 0)
            msg += 2;
        /* The client writes "error" where the store gave no code. */
        int has_code = strcmp(code, "error") != 0;
        size_t len = message_len(msg);
        if (len > 0)
            cell_set(cell, STORES_REFUSED, (int)status, has_code ? code : "", "%.*s", (int)len,
                     msg);
        else
            cell_set(cell, STORES_REFUSED, (int)status, has_code ? code : "", "%s",
                     no_message(strstr(msg, " (no error body") == NULL));
        return;
    }
    /* No HTTP answer, or one the client could not accept (a wrong range). */
    cell_set(cell, err->code == BK_EPROTO ? STORES_WRONG : STORES_NO_ANSWER, 0, NULL, "%s",
             err->msg);
}

/* A refused HEAD: its answer never has a body, so only the status speaks. */
static void head_refused(stores_cell *cell, const bk_s3_result *res, const bk_err *err)
{
    cell_refused(cell, res, err);
    if (cell->outcome == STORES_REFUSED && res != NULL && res->s3_message[0] == '\0')
        snprintf(cell->detail, sizeof cell->detail, "(a HEAD answer has no body)");
}

/* 8192 -> "8,192" */
static const char *thousands(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* ---- set up ---- */

static void fill(unsigned char *d, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d[i] = (unsigned char)(x >> 24);
    }
}

/* The object's bytes in memory and in a scratch file (uploads read a file). */
static int object_make(run *r, object *o, const char *key, size_t len, uint64_t seed,
                       const char *text)
{
    char dir[4200];
    if (conf_mkdtemp(r->c, "stores", dir, sizeof dir) != 0)
        return -1;
    snprintf(o->path, sizeof o->path, "%s/object", dir);
    snprintf(o->key, sizeof o->key, "%s", key);
    o->len = len;
    o->data = malloc(len ? len : 1);
    if (o->data == NULL)
        return -1;
    if (text != NULL)
        memcpy(o->data, text, len);
    else
        fill(o->data, len, seed);
    conf_sha256_hex(o->data, len, o->sha256);
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): o->data is the run's, object_clear frees it */
    bk_err err;
    return conf_write_file(o->path, o->data, len, &err) == BK_OK ? 0 : -1;
}

/* A blob key as BuildKit writes it: <prefix>blobs/sha256:<hex>. */
static void blob_key(const char *prefix, const char *hex, char *out, size_t size)
{
    snprintf(out, size, "%sblobs/sha256:%s", prefix, hex);
}

static int make_objects(run *r, const char *prefix, unsigned seed)
{
    uint64_t big = r->p->threshold + 1024ULL * 1024 + 4099; /* two or three parts */
    if (object_make(r, &r->small, "", SMALL_SIZE, seed, NULL) != 0 ||
        object_make(r, &r->big, "", (size_t)big, seed + 1000, NULL) != 0)
        return -1;
    blob_key(prefix, r->small.sha256, r->small.key, sizeof r->small.key);
    blob_key(prefix, r->big.sha256, r->big.key, sizeof r->big.key);
    char manifest[1024], key[600];
    int n = snprintf(manifest, sizeof manifest,
                     "{\"layers\":[{\"blob\":\"sha256:%s\",\"parent\":-1},{\"blob\":\"sha256:%s\","
                     "\"parent\":0}],\"records\":[{\"digest\":\"sha256:%s\"}]}\n",
                     r->small.sha256, r->big.sha256, r->small.sha256);
    snprintf(key, sizeof key, "%smanifests/buildkit", prefix);
    if (object_make(r, &r->manifest, key, (size_t)n, 0, manifest) != 0)
        return -1;
    char missing[65];
    conf_sha256_hex(prefix, strlen(prefix), missing);
    blob_key(prefix, missing, r->missing_key, sizeof r->missing_key);
    return 0;
}

/* The profile's client: uploads (1) with its checksums, or the s3.Client's
 * other calls (0). Over https the SDK moves its default checksum into an
 * aws-chunked trailer; the transfer manager's is a trailer everywhere. */
static bk_s3_client *profile_client(run *r, int uploads, bk_err *err)
{
    const stores_profile *p = r->p;
    bk_s3_config cfg;
    conf_client_config(r->c, &cfg);
    cfg.unsigned_payload = 1; /* over https only */
    cfg.disable_accept_encoding = p->unsigned_gzip;
    cfg.accept_encoding_gzip = p->unsigned_gzip;
    cfg.metadata_underscores = strchr(p->touch_meta, '_') != NULL;
    cfg.part_size = p->part_size;
    cfg.multipart_threshold = p->threshold;
    int https = r->c->endpoint[0] == '\0' || strncmp(r->c->endpoint, "https://", 8) == 0;
    if (p->checksum == STORES_CK_SDK_DEFAULT) {
        cfg.checksum_algorithm = BK_CHECKSUM_CRC32;
        cfg.checksum_trailer = https;
    } else if (p->checksum == STORES_CK_TRANSFER_TRAILER && uploads) {
        cfg.checksum_algorithm = BK_CHECKSUM_CRC32;
        cfg.checksum_trailer = 1;
        cfg.checksum_declared = 1;
    }
    return bk_s3_client_new(&cfg, err);
}

/* ---- checks after acceptance ---- */

/* Whether stored bytes start like an aws-chunked body ("2000\r\n" or
 * "2000;chunk-signature=..."). */
static int looks_chunked(const unsigned char *d, size_t n)
{
    size_t i = 0;
    while (i < n && i < 16 && ((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
        i++;
    return i > 0 && i + 1 < n && (d[i] == ';' || (d[i] == '\r' && d[i + 1] == '\n'));
}

/* Why the store holds `got` bytes for an object of o->len: with the first
 * bytes it holds, the aws-chunked framing is recognised. */
static void explain_size(run *r, const object *o, uint64_t got, stores_cell *cell)
{
    char a[32], b[32];
    bk_buf head = BK_BUF_INIT;
    bk_s3_range range = {0, 63, 1};
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    int framed = bk_s3_get_to_buf(r->c->s3, o->key, &range, 64, &head, &res, &err) == BK_OK &&
                 looks_chunked((const unsigned char *)head.data, head.len);
    cell_set(cell, STORES_WRONG, 200, NULL, "stored %s bytes for a %s-byte %s%s",
             thousands(got, a, sizeof a), thousands(o->len, b, sizeof b),
             o == &r->manifest ? "manifest" : "blob",
             framed ? ": the store kept the aws-chunked framing" : "");
    bk_s3_result_clear(&res);
    bk_buf_clear(&head);
}

/* After an accepted upload: a HEAD (plain request) must show its size. */
static void check_stored(run *r, object *o, stores_cell *cell)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    if (bk_s3_head(r->c->s3, o->key, &res, &err) != BK_OK) {
        cell_set(cell, STORES_WRONG, 200, NULL, "accepted, but a HEAD of %s then answered: %s",
                 o->key, err.msg);
    } else if (!res.has_size || res.size != o->len) {
        explain_size(r, o, res.size, cell);
    }
    o->held = res.has_size ? res.size : o->len;
    bk_s3_result_clear(&res);
}

/* After a touch: the object still has the size it was stored with (which
 * put_* judged). */
static void check_unchanged(run *r, const object *o, stores_cell *cell)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    char a[32], b[32];
    if (bk_s3_head(r->c->s3, o->key, &res, &err) != BK_OK)
        cell_set(cell, STORES_WRONG, 200, NULL, "accepted, but a HEAD of %s then answered: %s",
                 o->key, err.msg);
    else if (!res.has_size || res.size != o->held)
        cell_set(cell, STORES_WRONG, 200, NULL, "the copy changed the size from %s to %s bytes",
                 thousands(o->held, a, sizeof a), thousands(res.size, b, sizeof b));
    bk_s3_result_clear(&res);
}

/* ---- the operations ---- */

static void op_head_missing(run *r, stores_cell *cell)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    bk_code rc = bk_s3_head(r->api, r->missing_key, &res, &err);
    if (rc == BK_OK)
        cell_set(cell, STORES_WRONG, res.status, NULL,
                 "a key never written answered %d: BuildKit would take the blob as present",
                 res.status);
    else if (!bk_s3_result_is_not_found(&res))
        head_refused(cell, &res, &err);
    if (cell->outcome == STORES_REFUSED && cell->status == 403)
        snprintf(cell->detail, sizeof cell->detail,
                 "a missing key answered 403, not 404: BuildKit takes only 404 as missing "
                 "(S3 answers 403 when the credentials lack s3:ListBucket)");
    bk_s3_result_clear(&res);
}

/* An upload through the profile's client; a refused one is made with plain
 * requests so that the operations after it can run. */
static void op_upload(run *r, object *o, stores_cell *cell)
{
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    bk_code rc = fd < 0 ? bk_err_set(&err, BK_EIO, "cannot open %s", o->path)
                        : bk_s3_upload_fd(r->up, o->key, fd, 0, o->len, NULL, &res, &err);
    if (rc == BK_OK) {
        o->stored = 1;
        check_stored(r, o, cell);
    } else {
        cell_refused(cell, &res, &err);
        bk_s3_result_clear(&res);
        if (fd >= 0 && o != &r->manifest &&
            bk_s3_upload_fd(r->c->s3, o->key, fd, 0, o->len, NULL, &res, &err) == BK_OK) {
            o->stored = 2;
            o->held = o->len;
        }
    }
    bk_s3_result_clear(&res);
    if (fd >= 0)
        close(fd);
}

/* The operation needs the object; 0 (cell set) when it is not there. */
static int need(const object *o, stores_cell *cell)
{
    if (o->stored)
        return 1;
    cell_set(cell, STORES_NOT_RUN, 0, NULL,
             "not run: %s could not be stored, not even with "
             "plain requests",
             o->key);
    return 0;
}

static void op_head_present(run *r, stores_cell *cell)
{
    if (!need(&r->small, cell))
        return;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    char a[32], b[32];
    if (bk_s3_head(r->api, r->small.key, &res, &err) != BK_OK)
        head_refused(cell, &res, &err);
    else if (!res.has_size || res.size != r->small.len)
        cell_set(cell, STORES_WRONG, res.status, NULL, "Content-Length %s for a %s-byte blob",
                 res.has_size ? thousands(res.size, a, sizeof a) : "missing",
                 thousands(r->small.len, b, sizeof b));
    else if (!res.has_last_modified)
        cell_set(cell, STORES_WRONG, res.status, NULL,
                 "no Last-Modified: BuildKit takes the blob as missing and uploads it again");
    else if (llabs((long long)(res.last_modified - time(NULL))) > 86400)
        cell_set(cell, STORES_WRONG, res.status, NULL,
                 "Last-Modified is %lld hours from this machine's clock: touch_refresh "
                 "decides by it",
                 (long long)(res.last_modified - time(NULL)) / 3600);
    bk_s3_result_clear(&res);
}

/* touch: CopyObject onto itself, REPLACE, the profile's metadata key. */
static void op_touch_copy(run *r, stores_cell *cell)
{
    if (!need(&r->small, cell))
        return;
    char value[64], a[32], b[32];
    snprintf(value, sizeof value, "%lld", (long long)time(NULL));
    bk_s3_meta meta = {(char *)r->p->touch_meta, value};
    bk_s3_copy_options o = {0};
    o.directive = BK_S3_METADATA_REPLACE;
    o.meta = &meta;
    o.n_meta = 1;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    if (bk_s3_copy(r->api, r->small.key, r->small.key, &o, &res, &err) != BK_OK) {
        cell_refused(cell, &res, &err);
        bk_s3_result_clear(&res);
        return;
    }
    snprintf(r->touch_value, sizeof r->touch_value, "%s", value);
    bk_s3_result_clear(&res);
    if (bk_s3_head(r->c->s3, r->small.key, &res, &err) != BK_OK) {
        cell_set(cell, STORES_WRONG, 200, NULL, "accepted, but a HEAD then answered: %s", err.msg);
    } else {
        const char *got = bk_s3_result_meta(&res, r->p->touch_meta);
        if (got == NULL)
            cell_set(cell, STORES_WRONG, 200, NULL, "metadata %s dropped", r->p->touch_meta);
        else if (strcmp(got, value) != 0)
            cell_set(cell, STORES_WRONG, 200, NULL,
                     "metadata %s came back as \"%.60s\", not "
                     "\"%s\"",
                     r->p->touch_meta, got, value);
        else if (res.size != r->small.held)
            cell_set(cell, STORES_WRONG, 200, NULL, "the copy changed the size from %s to %s bytes",
                     thousands(r->small.held, a, sizeof a), thousands(res.size, b, sizeof b));
    }
    bk_s3_result_clear(&res);
}

/* touch of a blob at the copy limit: multipart, UploadPartCopy ranges (the
 * limit lowered to 5 MiB so the blob needs two), no metadata (as BuildKit). */
static void op_touch_part_copy(run *r, stores_cell *cell)
{
    if (!r->p->part_copy_touch) {
        cell_set(cell, STORES_NA, 0, NULL,
                 "not sent: %s touches by CopyObject only "
                 "(UploadPartCopy from v0.16)",
                 r->p->buildkit);
        return;
    }
    if (!need(&r->big, cell))
        return;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    if (bk_s3_copy_any_size(r->api, r->big.key, r->big.key, r->big.len, COPY_LIMIT, NULL, &res,
                            &err) != BK_OK)
        cell_refused(cell, &res, &err);
    else
        check_unchanged(r, &r->big, cell);
    bk_s3_result_clear(&res);
}

static void op_get_range(run *r, stores_cell *cell)
{
    if (!r->p->range_get) {
        cell_set(cell, STORES_NA, 0, NULL, "not sent: %s reads whole objects (Range from v0.20)",
                 r->p->buildkit);
        return;
    }
    if (!need(&r->big, cell))
        return;
    uint64_t first = r->big.len / 2 + 1;
    bk_s3_range range = {first, 0, 0};
    bk_buf got = BK_BUF_INIT;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    if (bk_s3_get_to_buf(r->api, r->big.key, &range, RANGE_MAX, &got, &res, &err) != BK_OK)
        cell_refused(cell, &res, &err);
    else if (res.status != 206)
        cell_set(cell, STORES_WRONG, res.status, NULL,
                 "answered %d with the whole object to Range: bytes=%llu-: the store ignores "
                 "Range (BuildKit would read the blob's first bytes as if from the offset)",
                 res.status, (unsigned long long)first);
    else if (got.len != r->big.len - first || memcmp(got.data, r->big.data + first, got.len) != 0)
        cell_set(cell, STORES_WRONG, 206, NULL, "bytes %llu- came back as %zu other bytes",
                 (unsigned long long)first, got.len);
    bk_s3_result_clear(&res);
    bk_buf_clear(&got);
}

typedef struct listed {
    const object *want[2];
    uint64_t size[2];
    int seen[2];
} listed;

static int on_listed(void *ud, const bk_s3_object *obj)
{
    listed *l = ud;
    for (int i = 0; i < 2; i++)
        if (strcmp(obj->key, l->want[i]->key) == 0) {
            l->seen[i] = 1;
            l->size[i] = obj->size;
        }
    return 0;
}

static void op_list(run *r, stores_cell *cell)
{
    const char *prefix = r->prefix;
    listed l = {{&r->small, &r->big}, {0, 0}, {0, 0}};
    char a[32], b[32];
    bk_s3_list_params p = {0};
    p.prefix = prefix;
    bk_err err;
    if (bk_s3_list_each(r->api, &p, on_listed, &l, &err) != BK_OK) {
        cell_refused(cell, NULL, &err);
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (!l.want[i]->stored)
            continue;
        if (!l.seen[i])
            cell_set(cell, STORES_WRONG, 200, NULL, "ListObjectsV2 of %s does not list %s", prefix,
                     l.want[i]->key);
        else if (l.size[i] != l.want[i]->len)
            cell_set(cell, STORES_WRONG, 200, NULL, "ListObjectsV2 lists %s with %s bytes, not %s",
                     l.want[i]->key, thousands(l.size[i], a, sizeof a),
                     thousands(l.want[i]->len, b, sizeof b));
        if (cell->outcome != STORES_OK)
            return;
    }
}

/* The manifest, then the same PUT with If-None-Match: * (not a BuildKit
 * request: it only says whether the store could refuse the overwrite). */
static void op_put_manifest(run *r, stores_cell *cell)
{
    op_upload(r, &r->manifest, cell);
    if (cell->outcome != STORES_OK)
        return;
    bk_s3_put_options o = {0};
    o.if_none_match = 1;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    bk_code rc =
        bk_s3_put_mem(r->c->s3, r->manifest.key, r->manifest.data, r->manifest.len, &o, &res, &err);
    if (rc == BK_OK)
        snprintf(cell->detail, sizeof cell->detail,
                 "If-None-Match: * ignored: the existing manifest was overwritten");
    else if (res.status == 412)
        snprintf(cell->detail, sizeof cell->detail,
                 "If-None-Match: * supported (412 for the existing manifest)");
    else
        snprintf(cell->detail, sizeof cell->detail, "If-None-Match: * not supported: %d %s",
                 res.status, res.s3_code);
    bk_s3_result_clear(&res);
}

/* GET of one object: its bytes, and the touch's metadata where there was one. */
static int get_one(run *r, const object *o, int want_meta, stores_cell *cell)
{
    bk_buf got = BK_BUF_INIT;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    char a[32], b[32], sha[65];
    int ok = 0;
    if (bk_s3_get_to_buf(r->api, o->key, NULL, RANGE_MAX, &got, &res, &err) != BK_OK) {
        cell_refused(cell, &res, &err);
    } else if (got.len != o->len || memcmp(got.data, o->data, o->len) != 0) {
        conf_sha256_hex(got.data, got.len, sha);
        cell_set(cell, STORES_WRONG, res.status, NULL,
                 "%s came back as %s bytes (sha256 %.12s…) for the %s bytes written%s", o->key,
                 thousands(got.len, a, sizeof a), sha, thousands(o->len, b, sizeof b),
                 looks_chunked((const unsigned char *)got.data, got.len)
                     ? ": the store kept the aws-chunked framing"
                     : "");
    } else if (want_meta && bk_s3_result_meta(&res, r->p->touch_meta) == NULL) {
        cell_set(cell, STORES_WRONG, res.status, NULL, "%s came back without metadata %s", o->key,
                 r->p->touch_meta);
    } else {
        ok = 1;
    }
    bk_s3_result_clear(&res);
    bk_buf_clear(&got);
    return ok;
}

static void op_get_back(run *r, stores_cell *cell)
{
    if (!need(&r->small, cell) || !need(&r->big, cell))
        return;
    if (get_one(r, &r->small, r->touch_value[0] != '\0', cell) && get_one(r, &r->big, 0, cell) &&
        r->manifest.stored)
        get_one(r, &r->manifest, 0, cell);
}

/* ---- the profile ---- */

static void timed(run *r, stores_op op, void (*fn)(run *, stores_cell *))
{
    stores_cell *cell = &r->row->cells[op];
    double t = conf_now();
    fn(r, cell);
    cell->seconds = conf_now() - t;
}

static void op_put_small(run *r, stores_cell *cell)
{
    op_upload(r, &r->small, cell);
}

static void op_put_multipart(run *r, stores_cell *cell)
{
    op_upload(r, &r->big, cell);
}

/* What the profile wrote, by key (a listing may be what the store refuses). */
static void delete_objects(run *r)
{
    const object *objs[] = {&r->small, &r->big, &r->manifest};
    for (size_t i = 0; i < 3; i++) {
        bk_err err;
        if (objs[i]->key[0] && conf_delete(r->c, objs[i]->key, &err) != BK_OK &&
            err.code != BK_ENOTFOUND)
            fprintf(stderr, "bkcache-conformance: cleanup of %s failed: %s\n", objs[i]->key,
                    err.msg);
    }
}

static void object_clear(object *o)
{
    free(o->data);
    o->data = NULL;
}

void stores_run_profile(conf_ctx *c, const stores_profile *p, const char *prefix, stores_row *row)
{
    memset(row, 0, sizeof *row);
    row->profile = p;
    run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.p = p;
    r.row = row;
    r.prefix = prefix;
    bk_err err;
    bk_err_clear(&err);
    size_t n = 0;
    const stores_profile *all = stores_profiles(&n);
    if (make_objects(&r, prefix, (unsigned)(p - all) + 1) != 0 ||
        (r.up = profile_client(&r, 1, &err)) == NULL ||
        (r.api = profile_client(&r, 0, &err)) == NULL) {
        for (int i = 0; i < STORES_N_OPS; i++)
            cell_set(&row->cells[i], STORES_NOT_RUN, 0, NULL, "not run: setting up failed%s%s",
                     err.msg[0] ? ": " : "", err.msg);
    } else {
        timed(&r, STORES_HEAD_MISSING, op_head_missing);
        timed(&r, STORES_PUT_SMALL, op_put_small);
        timed(&r, STORES_PUT_MULTIPART, op_put_multipart);
        timed(&r, STORES_HEAD_PRESENT, op_head_present);
        timed(&r, STORES_TOUCH_COPY, op_touch_copy);
        timed(&r, STORES_TOUCH_PART_COPY, op_touch_part_copy);
        timed(&r, STORES_GET_RANGE, op_get_range);
        timed(&r, STORES_LIST, op_list);
        timed(&r, STORES_PUT_MANIFEST, op_put_manifest);
        timed(&r, STORES_GET_BACK, op_get_back);
    }
    if (!c->keep)
        delete_objects(&r);
    bk_s3_client_free(r.up);
    bk_s3_client_free(r.api);
    object_clear(&r.small);
    object_clear(&r.big);
    object_clear(&r.manifest);
}
