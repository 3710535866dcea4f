/* verify: post-hoc checks of a bucket written by anyone, BuildKit included
 * (SPEC 1, 3, 5). From the bucket alone: layout, every named manifest parses
 * strictly and is Go-canonical, its layers are annotated, every referenced
 * blob exists with the annotated size and hashes to its digest. With a mock
 * journal too: no manifest written while a blob it references was still
 * missing, no aws-chunked or checksum trailers, no blob uploaded twice or
 * after a HEAD had found it (recommended: BuildKit uploads per layer entry),
 * SigV4 on every request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "bkcache/attrs.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"
#include "conf.h"

/* Every check of the verify suite and its level (conformance/README.md has
 * what each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_verify_checks[] = {
    {"export", CONF_REQUIRED, NULL},
    {"attributes", CONF_REQUIRED, NULL},
    {"manifests_present", CONF_REQUIRED, NULL},
    {"blob_keys_well_formed", CONF_REQUIRED, NULL},
    {"manifest_parses", CONF_REQUIRED, NULL},
    {"manifest_canonical", CONF_REQUIRED, NULL},
    {"annotations_present", CONF_REQUIRED, NULL},
    {"blobs_exist", CONF_REQUIRED, NULL},
    {"blobs_sha256", CONF_REQUIRED, NULL},
    {"journal", CONF_REQUIRED, NULL},
    {"journal_checks", CONF_REQUIRED, NULL},
    {"journal_manifest_after_blobs", CONF_REQUIRED, NULL},
    {"journal_no_aws_chunked", CONF_REQUIRED, NULL},
    {"journal_no_reupload", CONF_RECOMMENDED,
     "BuildKit 73ed6825 does not upload each distinct blob once: Finalize hands layer "
     "indexes, not blobs, to upload_parallelism workers, so a blob that is two layers is "
     "HEADed and PUT by two workers at once (cache/remotecache/s3/s3.go:249-260, 279-305)"},
    {"journal_sigv4", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

/* The library's one digest rule, the one its manifest validation applies. */
static int is_digest_key(const char *s)
{
    return bk_digest_validate(s, NULL, NULL) == BK_OK;
}

static int hash_sink(void *ud, const void *data, size_t len, bk_err *err)
{
    (void)err;
    EVP_DigestUpdate(ud, data, len);
    return 0;
}

/* Streams an object through SHA-256. */
static int object_sha256(conf_ctx *c, const char *key, char hex[65], uint64_t *size, bk_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_get(c->s3, key, NULL, hash_sink, ctx, &res, err);
    *size = res.size;
    bk_s3_result_clear(&res);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (size_t i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    return rc;
}

typedef struct findings {
    const char *suite;
    char parses[600], canonical[600], annotations[600], exist[600], sha[600];
    size_t manifests, blobs_checked;
} findings;

static void check_manifest(conf_ctx *c, const char *key, const bk_buf *m, const char *blob_root,
                           json_t *checked, findings *f)
{
    bk_err err;
    bk_err_clear(&err);
    bk_cache_config *cfg = NULL;
    if (bk_config_parse(m->data, m->len, &cfg, &err) != BK_OK ||
        bk_config_validate(cfg, BK_VALIDATE_S3, &err) != BK_OK) {
        if (!f->parses[0])
            snprintf(f->parses, sizeof f->parses, "%s: %s", key, err.msg);
    } else {
        bk_buf enc = BK_BUF_INIT;
        if ((bk_config_encode(cfg, &enc, &err) != BK_OK || enc.len != m->len ||
             memcmp(enc.data, m->data, m->len) != 0) &&
            !f->canonical[0]) {
            snprintf(f->canonical, sizeof f->canonical,
                     "%s is not what Go's json.Marshal writes for it", key);
            if (enc.data != NULL)
                conf_detail_bytes(c, f->suite, "manifest_canonical",
                                  "the manifest against Go's json.Marshal of what it decodes to",
                                  enc.data, enc.len, m->data, m->len, 0);
        }
        bk_buf_clear(&enc);
    }
    bk_config_free(cfg);

    json_t *doc = json_loadb(m->data, m->len, JSON_DISABLE_EOF_CHECK, NULL);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(doc, "layers"), i, l)
    {
        const char *blob = json_string_value(json_object_get(l, "blob"));
        json_t *a = json_object_get(l, "annotations");
        const char *mt = json_string_value(json_object_get(a, "mediaType"));
        const char *diff = json_string_value(json_object_get(a, "diffID"));
        json_t *size = json_object_get(a, "size");
        if (!f->annotations[0] &&
            (!json_is_object(a) || mt == NULL || !mt[0] || diff == NULL || !is_digest_key(diff) ||
             !json_is_integer(size) || !json_is_string(json_object_get(a, "createdAt"))))
            snprintf(f->annotations, sizeof f->annotations,
                     "%s: layers[%zu] lacks mediaType, diffID, size or createdAt", key, i);
        if (blob == NULL || !is_digest_key(blob) || json_object_get(checked, blob) != NULL)
            continue;
        json_object_set_new(checked, blob, json_true());
        char bkey[1024];
        snprintf(bkey, sizeof bkey, "%s%s", blob_root, blob);
        bk_s3_result res = BK_S3_RESULT_INIT;
        int st = conf_stat(c, bkey, &res, &err);
        if (st != 1) {
            if (!f->exist[0])
                snprintf(f->exist, sizeof f->exist, "%s references %s: %s", key, bkey,
                         st == 0 ? "missing" : err.msg);
            bk_s3_result_clear(&res);
            continue;
        }
        if (json_is_integer(size) && res.size != (uint64_t)json_integer_value(size) && !f->exist[0])
            snprintf(f->exist, sizeof f->exist, "%s: %llu bytes, annotations say %lld", bkey,
                     (unsigned long long)res.size, (long long)json_integer_value(size));
        bk_s3_result_clear(&res);
        char hex[65];
        uint64_t got = 0;
        f->blobs_checked++;
        if (object_sha256(c, bkey, hex, &got, &err) != BK_OK) {
            if (!f->sha[0])
                snprintf(f->sha, sizeof f->sha, "cannot read %s: %s", bkey, err.msg);
        } else if (strcmp(hex, blob + 7) != 0 && !f->sha[0]) {
            snprintf(f->sha, sizeof f->sha, "%s holds bytes of sha256:%s", bkey, hex);
        }
    }
    json_decref(doc);
}

void conf_verify_bucket(conf_ctx *c, const conf_verify_opts *o)
{
    const char *suite = o->suite;
    bk_s3_attrs attrs;
    bk_err err;
    bk_err_clear(&err);
    if (bk_s3_attrs_parse(o->attrs, NULL, &attrs, &err) != BK_OK) {
        conf_fail(c, suite, "attributes", "%s", err.msg);
        return;
    }
    if (c->s3 == NULL) {
        c->s3 = bk_s3cache_client_new(&attrs.client, NULL, &err);
        if (c->s3 == NULL) {
            conf_fail(c, suite, "attributes", "%s", err.msg);
            bk_s3_attrs_clear(&attrs);
            return;
        }
    }
    char manifest_root[1024], blob_root[1024];
    const bk_s3cache_layout *l = &attrs.layout;
    snprintf(manifest_root, sizeof manifest_root, "%s%s", l->prefix, l->manifests_prefix);
    snprintf(blob_root, sizeof blob_root, "%s%s", l->prefix, l->blobs_prefix);

    /* layout: the named manifests exist, blob keys are full digests. */
    findings f;
    memset(&f, 0, sizeof f);
    f.suite = suite;
    char missing[600] = "";
    json_t *checked = json_object();
    for (size_t i = 0; i < l->n_names; i++) {
        char *key = bk_s3cache_layout_manifest_key(l, l->names[i]);
        bk_buf m = BK_BUF_INIT;
        int st = key ? conf_get(c, key, &m, &err) : -1;
        if (st != 1) {
            if (!missing[0])
                snprintf(missing, sizeof missing, "%s: %s", key ? key : l->names[i],
                         st == 0 ? "no such manifest" : err.msg);
        } else {
            f.manifests++;
            check_manifest(c, key, &m, blob_root, checked, &f);
        }
        bk_buf_clear(&m);
        free(key);
    }
    json_decref(checked);
    if (missing[0])
        conf_fail(c, suite, "manifests_present", "%s", missing);
    else
        conf_pass(c, suite, "manifests_present", "%zu manifest(s)", f.manifests);

    conf_object *objs = NULL;
    size_t n = 0;
    if (conf_list(c, blob_root, &objs, &n, &err) != 0) {
        conf_fail(c, suite, "blob_keys_well_formed", "cannot list %s: %s", blob_root, err.msg);
    } else {
        char bad[600] = "";
        int shared = strcmp(l->manifests_prefix, l->blobs_prefix) == 0;
        size_t blobs = 0;
        for (size_t i = 0; i < n && !bad[0]; i++) {
            const char *rest = objs[i].key + strlen(blob_root);
            if (is_digest_key(rest))
                blobs++;
            else if (!shared)
                snprintf(bad, sizeof bad,
                         "%s: not <blobs_prefix>sha256:<64 hex> (the colon belongs in the key)",
                         objs[i].key);
        }
        if (bad[0])
            conf_fail(c, suite, "blob_keys_well_formed", "%s", bad);
        else
            conf_pass(c, suite, "blob_keys_well_formed", "%zu blob keys", blobs);
    }
    conf_objects_free(objs, n);
    if (f.manifests > 0) {
#define REPORT(field, check, ok_text)                                                              \
    do {                                                                                           \
        if (f.field[0])                                                                            \
            conf_fail(c, suite, check, "%s", f.field);                                             \
        else                                                                                       \
            conf_pass(c, suite, check, ok_text);                                                   \
    } while (0)
        REPORT(parses, "manifest_parses", "strict decode and BuildKit's parse rules");
        REPORT(canonical, "manifest_canonical", "byte-identical to Go's encoding");
        REPORT(annotations, "annotations_present", "every layer annotated");
        REPORT(exist, "blobs_exist", "every referenced blob present with its size");
        REPORT(sha, "blobs_sha256", "every referenced blob hashes to its key");
#undef REPORT
    }

    if (o->journal != NULL) {
        json_error_t jerr;
        json_t *entries = json_load_file(o->journal, 0, &jerr);
        if (entries == NULL || !json_is_array(entries)) {
            /* mock-s3 --journal writes JSON lines. */
            json_decref(entries);
            entries = json_array();
            FILE *fp = fopen(o->journal, "r");
            char *line = NULL;
            size_t cap = 0;
            while (fp != NULL && getline(&line, &cap, fp) > 0) {
                json_t *e = json_loads(line, 0, NULL);
                if (e != NULL)
                    json_array_append_new(entries, e);
            }
            free(line);
            if (fp != NULL)
                fclose(fp);
            else
                conf_fail(c, suite, "journal", "cannot read %s", o->journal);
        }
        /* Only requests to this cache's bucket. */
        json_t *mine = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e)
        {
            if (strcmp(conf_jstr(e, "bucket"), attrs.client.bucket) == 0)
                json_array_append(mine, e);
        }
        conf_verify_journal(c, suite, mine, manifest_root, blob_root);
        json_decref(mine);
        json_decref(entries);
    } else {
        conf_skip_needs_mock(c, suite, "journal_checks",
                             "pass --journal FILE (mock-s3 --journal, or GET /_mock/journal)");
    }
    bk_s3_attrs_clear(&attrs);
}

int conf_journal_no_trailers(json_t *entries, char *why, size_t why_size, size_t *uploads)
{
    size_t i;
    json_t *e;
    *uploads = 0;
    json_array_foreach(entries, i, e)
    {
        const char *op = conf_jstr(e, "operation");
        if (strcmp(op, "PutObject") != 0 && strcmp(op, "UploadPart") != 0 &&
            strcmp(op, "CreateMultipartUpload") != 0)
            continue;
        (*uploads)++;
        const char *ce = conf_jheader(e, "content-encoding");
        const char *mode = conf_jstr(e, "payload_hash_mode");
        const char *bad = NULL;
        if (ce != NULL && strstr(ce, "aws-chunked") != NULL)
            bad = "Content-Encoding: aws-chunked";
        else if (strncmp(mode, "STREAMING-", 10) == 0)
            bad = mode;
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(e, "headers"), name, v)
        {
            if (bad == NULL && (strcasecmp(name, "x-amz-trailer") == 0 ||
                                strcasecmp(name, "x-amz-sdk-checksum-algorithm") == 0 ||
                                strcasecmp(name, "x-amz-checksum-algorithm") == 0 ||
                                strcasecmp(name, "x-amz-decoded-content-length") == 0 ||
                                strncasecmp(name, "x-amz-checksum-", 15) == 0))
                bad = name;
        }
        if (bad != NULL) {
            snprintf(why, why_size, "%s %s carries %s", op, conf_jstr(e, "key"), bad);
            return 0;
        }
    }
    return 1;
}

static int seq_order(const void *a, const void *b)
{
    long long x = json_integer_value(json_object_get(*(json_t *const *)a, "seq"));
    long long y = json_integer_value(json_object_get(*(json_t *const *)b, "seq"));
    return x < y ? -1 : x > y;
}

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* When a request started and ended, on the mock's clock (time is its arrival,
 * duration how long until its response was complete). */
static double started(json_t *e)
{
    return json_number_value(json_object_get(e, "time"));
}

static double ended(json_t *e)
{
    return started(e) + json_number_value(json_object_get(e, "duration"));
}

/* Per blob key, in seq order: the end and seq of the last successful write
 * (PutObject, CompleteMultipartUpload) and of the first HEAD/GET that found
 * the blob. */
static void note_blob_request(json_t *history, json_t *e, int ok_status)
{
    const char *op = conf_jstr(e, "operation");
    int write = strcmp(op, "PutObject") == 0 || strcmp(op, "CompleteMultipartUpload") == 0;
    int found = strcmp(op, "HeadObject") == 0 || strcmp(op, "GetObject") == 0;
    if (!ok_status || (!write && !found))
        return;
    json_t *h = json_object_get(history, conf_jstr(e, "key"));
    if (h == NULL) {
        h = json_object();
        json_object_set_new(history, conf_jstr(e, "key"), h);
    }
    if (write) {
        json_object_set_new(h, "write_end", json_real(ended(e)));
        json_object_set_new(h, "write_seq", json_integer(conf_jint(e, "seq")));
    } else if (json_object_get(h, "found_end") == NULL) {
        json_object_set_new(h, "found_end", json_real(ended(e)));
        json_object_set_new(h, "found_seq", json_integer(conf_jint(e, "seq")));
    }
}

/* An upload of a blob the journal already shows, and which case it is: two
 * uploads at once (BuildKit's per-layer workers on a blob that is two
 * layers), or an upload after a HEAD had found the blob. Fills why, or leaves
 * it empty when the upload is the blob's first. */
static void describe_reupload(json_t *history, json_t *e, char *why, size_t why_size)
{
    json_t *h = json_object_get(history, conf_jstr(e, "key"));
    json_t *write_end = json_object_get(h, "write_end"),
           *found_end = json_object_get(h, "found_end");
    long long seq = conf_jint(e, "seq");
    const char *op = conf_jstr(e, "operation"), *key = conf_jstr(e, "key");
    int overlapped = write_end != NULL && started(e) < json_real_value(write_end);
    int after_found = found_end != NULL && json_real_value(found_end) <= started(e);
    if (overlapped)
        snprintf(why, why_size,
                 "request %lld (%s %s): uploaded twice: the second upload started before the "
                 "first (request %lld) finished",
                 seq, op, key, (long long)json_integer_value(json_object_get(h, "write_seq")));
    else if (after_found)
        snprintf(why, why_size,
                 "request %lld (%s %s): uploaded although a HEAD had already found it (request "
                 "%lld)",
                 seq, op, key, (long long)json_integer_value(json_object_get(h, "found_seq")));
    else if (write_end != NULL)
        snprintf(why, why_size,
                 "request %lld (%s %s): uploaded twice: the first upload (request %lld) had "
                 "finished, but no HEAD found it in between",
                 seq, op, key, (long long)json_integer_value(json_object_get(h, "write_seq")));
}

void conf_verify_journal(conf_ctx *c, const char *suite, json_t *entries, const char *manifest_root,
                         const char *blob_root)
{
    size_t n = json_array_size(entries);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (sorted == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(entries, i);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    qsort(sorted, n, sizeof *sorted, seq_order);

    /* Keys of blobs known present so far, and of blobs written at some point. */
    json_t *present = json_object(), *written_at = json_object(), *history = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *key = conf_jstr(sorted[i], "key"), *op = conf_jstr(sorted[i], "operation");
        if (starts_with(key, blob_root) && conf_is_write_op(op) &&
            conf_jint(sorted[i], "status") == 200 && json_object_get(written_at, key) == NULL)
            json_object_set_new(written_at, key, json_integer(conf_jint(sorted[i], "seq")));
    }
    char order[800] = "", reupload[800] = "", sig[800] = "";
    size_t manifest_writes = 0, blob_uploads = 0;
    bk_err err;
    bk_err_clear(&err);
    for (size_t i = 0; i < n; i++) {
        json_t *e = sorted[i];
        const char *key = conf_jstr(e, "key"), *op = conf_jstr(e, "operation");
        int ok_status = conf_jint(e, "status") == 200 || conf_jint(e, "status") == 206;
        const char *authz = conf_jheader(e, "authorization");
        if (!sig[0] && (!json_is_true(json_object_get(e, "auth_ok")) ||
                        (authz != NULL && strncmp(authz, "AWS4-HMAC-SHA256 ", 17) != 0) ||
                        (authz == NULL && strcmp(conf_jstr(e, "auth"), "presigned") != 0)))
            snprintf(sig, sizeof sig, "request %lld (%s %s): auth %s%s", conf_jint(e, "seq"), op,
                     key, conf_jstr(e, "auth"),
                     json_is_true(json_object_get(e, "auth_ok")) ? "" : " refused");
        if (starts_with(key, blob_root)) {
            int upload = strcmp(op, "PutObject") == 0 || strcmp(op, "CreateMultipartUpload") == 0;
            if (upload) {
                blob_uploads++;
                if (!reupload[0])
                    describe_reupload(history, e, reupload, sizeof reupload);
            }
            if (ok_status &&
                (strcmp(op, "HeadObject") == 0 || strcmp(op, "GetObject") == 0 ||
                 strcmp(op, "PutObject") == 0 || strcmp(op, "CompleteMultipartUpload") == 0))
                json_object_set_new(present, key, json_true());
            note_blob_request(history, e, ok_status);
            continue;
        }
        if (!starts_with(key, manifest_root) || !ok_status ||
            (strcmp(op, "PutObject") != 0 && strcmp(op, "CompleteMultipartUpload") != 0))
            continue;
        manifest_writes++;
        if (order[0])
            continue;
        /* The manifest as stored now names the blobs; each one written later
         * in the journal must have been present when this write happened. */
        bk_buf m = BK_BUF_INIT;
        if (c->s3 != NULL && conf_get(c, key, &m, &err) == 1) {
            char **digests = NULL;
            size_t nd = 0;
            conf_manifest_blobs(m.data, m.len, &digests, &nd);
            for (size_t d = 0; d < nd && !order[0]; d++) {
                char bkey[1024];
                snprintf(bkey, sizeof bkey, "%s%s", blob_root, digests[d]);
                json_t *w = json_object_get(written_at, bkey);
                if (w != NULL && json_integer_value(w) > conf_jint(e, "seq") &&
                    json_object_get(present, bkey) == NULL)
                    snprintf(order, sizeof order,
                             "manifest %s written (request %lld) before its blob %s (request "
                             "%lld)",
                             key, conf_jint(e, "seq"), bkey, (long long)json_integer_value(w));
            }
            conf_strings_free(digests, nd);
        }
        bk_buf_clear(&m);
    }
    char why[800];
    size_t uploads = 0;
    if (order[0])
        conf_fail(c, suite, "journal_manifest_after_blobs", "%s", order);
    else if (manifest_writes == 0)
        conf_fail(c, suite, "journal_manifest_after_blobs", "no manifest write in the journal");
    else
        conf_pass(c, suite, "journal_manifest_after_blobs", "%zu manifest write(s)",
                  manifest_writes);
    if (!conf_journal_no_trailers(entries, why, sizeof why, &uploads))
        conf_fail(c, suite, "journal_no_aws_chunked", "%s", why);
    else
        conf_pass(c, suite, "journal_no_aws_chunked", "%zu uploads", uploads);
    if (reupload[0])
        conf_fail(c, suite, "journal_no_reupload", "%s", reupload); /* recommended: a WARN */
    else
        conf_pass(c, suite, "journal_no_reupload", "%zu blob uploads, none of a present blob",
                  blob_uploads);
    if (sig[0])
        conf_fail(c, suite, "journal_sigv4", "%s", sig);
    else
        conf_pass(c, suite, "journal_sigv4", "%zu requests", n);
    json_decref(present);
    json_decref(written_at);
    json_decref(history);
    free(sorted);
}

/* The verify checks over an export made by the implementation under test:
 * an export then a re-export, so a re-upload shows in the journal. */
void suite_verify(conf_ctx *c)
{
    char prefix[256];
    conf_case_prefix(c, "verify", prefix, sizeof prefix);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "diamond", .prefix = prefix, .extra = "mode=max,name=a;b"};
    if (!conf_export_ok(c, "verify", "export", &o))
        return;
    if (!conf_export_ok(c, "verify", "export", &o)) /* the re-export */
        return;
    char *attrs = conf_attrs(c, prefix, "name=a;b");
    conf_verify_opts vo = {attrs, NULL, "verify"};
    char path[4300];
    if (c->is_mock) {
        /* The journal through a file, as a user would hand it over. */
        snprintf(path, sizeof path, "%s/journal.json", c->tmp);
        json_t *entries = conf_journal_since(c, mark);
        if (json_dump_file(entries, path, JSON_COMPACT) == 0)
            vo.journal = path;
        json_decref(entries);
    }
    conf_verify_bucket(c, &vo);
    free(attrs);
}
