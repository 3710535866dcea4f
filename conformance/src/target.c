/* The target: the in-process mock (journal, faults, clock) or any S3 endpoint
 * reached with the usual AWS environment. The runner's own S3 client seeds
 * and inspects the bucket; adapters get the same endpoint through ATTRS. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bkcache/version.h"
#include "conf.h"

#define MOCK_BUCKET "bkconf"

static void random_hex(char *out, size_t nbytes)
{
    unsigned char raw[16] = {0};
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, raw, nbytes) != (ssize_t)nbytes) {
        /* Fall back to time and pid: the prefix only has to differ between runs. */
        unsigned long long v = (unsigned long long)time(NULL) * 1000003ULL ^ (unsigned)getpid();
        memcpy(raw, &v, sizeof v < nbytes ? sizeof v : nbytes);
    }
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
}

void conf_client_config(const conf_ctx *c, bk_s3_config *cfg)
{
    bk_s3_config_init(cfg);
    cfg->region = c->region;
    cfg->bucket = c->bucket;
    cfg->endpoint_url = c->endpoint[0] ? c->endpoint : NULL;
    cfg->use_path_style = c->path_style;
    if (c->access_key[0] && c->secret_key[0]) {
        cfg->access_key_id = c->access_key;
        cfg->secret_access_key = c->secret_key;
        cfg->session_token = c->session_token[0] ? c->session_token : NULL;
    }
    cfg->retry.base_delay_ms = 100;
}

static bk_code make_client(conf_ctx *c, bk_err *err)
{
    bk_s3_config cfg;
    conf_client_config(c, &cfg);
    if (c->plain_client) {
        cfg.disable_accept_encoding = 1;
        cfg.send_content_md5 = 1;
    }
    /* The runner's own requests (seeding, inspecting) are told apart from the
     * implementation's in the journal and in the HTML report by this. */
    char agent[64];
    snprintf(agent, sizeof agent, "bkcache-conformance/%s", bk_version());
    cfg.user_agent = agent;
    bk_err cerr;
    bk_err_clear(&cerr);
    c->s3 = bk_s3_client_new(&cfg, &cerr);
    return c->s3 != NULL ? BK_OK : bk_err_set(err, cerr.code, "%s", cerr.msg);
}

static void new_run_prefix(conf_ctx *c)
{
    char hex[33];
    random_hex(hex, 6);
    snprintf(c->run_prefix, sizeof c->run_prefix, "bkconf-%s/", hex);
}

bk_code conf_target_start_mock(conf_ctx *c, bk_err *err)
{
    ms3_options o;
    ms3_options_init(&o);
    o.listen_host = "127.0.0.1";
    o.region = "us-east-1";
    /* The credential services the credentials suite reaches through the chain. */
    o.sts = 1;
    o.ecs = 1;
    o.ecs_token = CONF_ECS_TOKEN;
    o.behave = c->behave;
    bk_err merr;
    bk_err_clear(&merr);
    c->mock = ms3_server_start(&o, &merr);
    if (c->mock == NULL)
        return bk_err_set(err, merr.code, "%s", merr.msg);
    char hex[33];
    random_hex(hex, 8);
    snprintf(c->access_key, sizeof c->access_key, "AKIACONF%s", hex);
    random_hex(hex, 16);
    snprintf(c->secret_key, sizeof c->secret_key, "conf/%s+secret", hex);
    c->session_token[0] = '\0';
    if (ms3_server_add_credentials(c->mock, c->access_key, c->secret_key, NULL, &merr) != 0 ||
        ms3_server_create_bucket(c->mock, MOCK_BUCKET, &merr) != 0)
        return bk_err_set(err, merr.code, "%s", merr.msg);
    c->is_mock = 1;
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ms3_server_url(c->mock));
    snprintf(c->region, sizeof c->region, "%s", ms3_server_region(c->mock));
    snprintf(c->bucket, sizeof c->bucket, MOCK_BUCKET);
    c->path_style = 1;
    new_run_prefix(c);
    c->upload_part_copy = 1;
    return make_client(c, err);
}

bk_code conf_target_connect(conf_ctx *c, bk_err *err)
{
    c->is_mock = 0;
    const char *v;
    if ((v = getenv("AWS_ACCESS_KEY_ID")) != NULL)
        snprintf(c->access_key, sizeof c->access_key, "%s", v);
    if ((v = getenv("AWS_SECRET_ACCESS_KEY")) != NULL)
        snprintf(c->secret_key, sizeof c->secret_key, "%s", v);
    if ((v = getenv("AWS_SESSION_TOKEN")) != NULL)
        snprintf(c->session_token, sizeof c->session_token, "%s", v);
    new_run_prefix(c);
    c->upload_part_copy = -1;
    bk_code rc = make_client(c, err);
    if (rc != BK_OK)
        return rc;
    bk_s3_result res = BK_S3_RESULT_INIT;
    rc = bk_s3_head_bucket(c->s3, &res, err);
    bk_s3_result_clear(&res);
    if (rc != BK_OK)
        bk_err_prefix(err, "target bucket %s at %s: ", c->bucket,
                      c->endpoint[0] ? c->endpoint : "AWS");
    return rc;
}

void conf_target_opts_env(conf_target_opts *o)
{
    memset(o, 0, sizeof *o);
    o->endpoint = getenv("BKCACHE_CONFORMANCE_ENDPOINT");
    o->region = getenv("BKCACHE_CONFORMANCE_REGION");
    o->bucket = getenv("BKCACHE_CONFORMANCE_BUCKET");
    const char *vh = getenv("BKCACHE_CONFORMANCE_VIRTUAL_HOST");
    const char *aws = getenv("BKCACHE_CONFORMANCE_AWS");
    o->virtual_host = vh != NULL && strcmp(vh, "1") == 0;
    o->aws = aws != NULL && strcmp(aws, "1") == 0;
}

int conf_target_option(conf_target_opts *o, int ch, const char *arg)
{
    switch (ch) {
    case 'e':
        o->endpoint = arg;
        return 1;
    case 'a':
        o->aws = 1;
        return 1;
    case 'b':
        o->bucket = arg;
        return 1;
    case 'r':
        o->region = arg;
        return 1;
    case 'V':
        o->virtual_host = 1;
        return 1;
    default:
        return 0;
    }
}

bk_code conf_target_open(conf_ctx *c, const conf_target_opts *o, bk_err *err)
{
    if ((o->endpoint == NULL || o->endpoint[0] == '\0') && !o->aws) {
        bk_code rc = conf_target_start_mock(c, err);
        if (rc != BK_OK)
            bk_err_prefix(err, "cannot start the mock: ");
        return rc;
    }
    if (o->bucket == NULL || o->bucket[0] == '\0')
        return bk_err_set(err, BK_EINVAL,
                          "--bucket (or BKCACHE_CONFORMANCE_BUCKET) is required with an endpoint");
    const char *region = o->region != NULL ? o->region : getenv("AWS_REGION");
    snprintf(c->endpoint, sizeof c->endpoint, "%s", o->aws ? "" : o->endpoint);
    snprintf(c->region, sizeof c->region, "%s", region ? region : "us-east-1");
    snprintf(c->bucket, sizeof c->bucket, "%s", o->bucket);
    c->path_style = !o->virtual_host;
    return conf_target_connect(c, err);
}

void conf_target_stop(conf_ctx *c)
{
    free(c->quiet);
    c->quiet = NULL;
    c->n_quiet = c->cap_quiet = 0;
    free(c->case_attrs);
    c->case_attrs = NULL;
    bk_s3_client_free(c->s3);
    c->s3 = NULL;
    ms3_server_stop(c->mock);
    c->mock = NULL;
}

void conf_case_prefix(conf_ctx *c, const char *tag, char *out, size_t size)
{
    snprintf(out, size, "%s%s-%u/", c->run_prefix, tag, ++c->case_counter);
    /* A new case: the results until the next one are about this prefix. */
    c->case_serial++;
    snprintf(c->case_prefix, sizeof c->case_prefix, "%s", out);
    free(c->case_attrs);
    c->case_attrs = NULL;
    c->case_mark = c->details ? conf_journal_mark(c) : 0;
}

char *conf_attrs(const conf_ctx *c, const char *prefix, const char *extra)
{
    bk_buf b = BK_BUF_INIT;
    bk_buf_printf(&b, "type=s3,bucket=%s,region=%s", c->bucket, c->region);
    if (c->endpoint[0])
        bk_buf_printf(&b, ",endpoint_url=%s,use_path_style=%s", c->endpoint,
                      c->path_style ? "true" : "false");
    if (prefix != NULL)
        bk_buf_printf(&b, ",prefix=%s", prefix);
    if (extra != NULL && extra[0])
        bk_buf_printf(&b, ",%s", extra);
    return bk_buf_steal(&b);
}

static int collect(void *ud, const bk_s3_object *obj)
{
    void **st = ud;
    conf_object **arr = st[0];
    size_t *n = st[1], *cap = st[2];
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        conf_object *na = realloc(*arr, nc * sizeof *na);
        if (na == NULL)
            return 1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[*n].key = strdup(obj->key);
    (*arr)[*n].size = obj->size;
    snprintf((*arr)[*n].etag, sizeof(*arr)[*n].etag, "%s", obj->etag);
    (*n)++;
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const conf_object *)a)->key, ((const conf_object *)b)->key);
}

bk_code conf_list(conf_ctx *c, const char *prefix, conf_object **out, size_t *n, bk_err *err)
{
    conf_object *arr = NULL;
    size_t cnt = 0, cap = 0;
    void *st[3] = {&arr, &cnt, &cap};
    bk_s3_list_params p = {0};
    p.prefix = prefix;
    bk_code rc = bk_s3_list_each(c->s3, &p, collect, st, err);
    if (rc != BK_OK) {
        conf_objects_free(arr, cnt);
        return rc;
    }
    if (cnt > 1)
        qsort(arr, cnt, sizeof *arr, by_key);
    *out = arr;
    *n = cnt;
    return BK_OK;
}

void conf_objects_free(conf_object *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(o[i].key);
    free(o);
}

int conf_stat(conf_ctx *c, const char *key, bk_s3_result *res, bk_err *err)
{
    bk_code rc = bk_s3_head(c->s3, key, res, err);
    if (rc == BK_OK)
        return 1;
    if (bk_s3_result_is_not_found(res))
        return 0;
    return -1;
}

int conf_get(conf_ctx *c, const char *key, bk_buf *out, bk_err *err)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_get_to_buf(c->s3, key, NULL, 256u << 20, out, &res, err);
    int missing = rc != BK_OK && bk_s3_result_is_not_found(&res);
    bk_s3_result_clear(&res);
    return rc == BK_OK ? 1 : missing ? 0 : -1;
}

bk_code conf_put(conf_ctx *c, const char *key, const void *data, size_t len, bk_err *err)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_put_mem(c->s3, key, data, len, NULL, &res, err);
    bk_s3_result_clear(&res);
    return rc;
}

bk_code conf_delete(conf_ctx *c, const char *key, bk_err *err)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_delete(c->s3, key, &res, err);
    bk_s3_result_clear(&res);
    return rc;
}

bk_code conf_set_marker(conf_ctx *c, const char *key, const char *name, const char *value,
                        bk_err *err)
{
    bk_s3_meta meta = {(char *)name, (char *)value};
    bk_s3_copy_options o = {0};
    o.directive = BK_S3_METADATA_REPLACE;
    o.meta = &meta;
    o.n_meta = 1;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_copy(c->s3, key, key, &o, &res, err);
    bk_s3_result_clear(&res);
    return rc;
}

long conf_delete_prefix(conf_ctx *c, const char *prefix, bk_err *err)
{
    conf_object *objs = NULL;
    size_t n = 0;
    if (conf_list(c, prefix, &objs, &n, err) != 0)
        return -1;
    long deleted = 0;
    if (n > 0) {
        const char **keys = calloc(n, sizeof *keys);
        if (keys == NULL) {
            conf_objects_free(objs, n);
            return bk_err_set(err, BK_ENOMEM, "out of memory"), -1;
        }
        for (size_t i = 0; i < n; i++)
            keys[i] = objs[i].key;
        bk_s3_delete_report rep = {0};
        bk_err derr;
        bk_err_clear(&derr);
        if (bk_s3_delete_many(c->s3, keys, n, &rep, &derr) == BK_OK) {
            deleted = (long)rep.deleted;
        } else {
            /* Some stores lack DeleteObjects: one DeleteObject per key then. */
            for (size_t i = 0; i < n; i++)
                if (conf_delete(c, keys[i], err) == 0)
                    deleted++;
        }
        bk_s3_delete_report_clear(&rep);
        free(keys);
    }
    conf_objects_free(objs, n);
    return deleted;
}

void conf_probe_upload_part_copy(conf_ctx *c)
{
    if (c->upload_part_copy >= 0)
        return;
    c->upload_part_copy = 1;
    char key[256], dst[256];
    snprintf(key, sizeof key, "%sprobe/source", c->run_prefix);
    snprintf(dst, sizeof dst, "%sprobe/copy", c->run_prefix);
    bk_err err;
    bk_err_clear(&err);
    if (conf_put(c, key, "probe", 5, &err) != 0)
        return;
    char *upload_id = NULL;
    if (bk_s3_multipart_create(c->s3, dst, NULL, &upload_id, &err) != BK_OK) {
        if (strstr(err.msg, "501") != NULL || strstr(err.msg, "NotImplemented") != NULL) {
            c->upload_part_copy = 0;
            snprintf(c->upload_part_copy_why, sizeof c->upload_part_copy_why,
                     "the target does not implement multipart uploads (%.180s)", err.msg);
        }
        conf_delete(c, key, &err);
        return;
    }
    bk_s3_part part;
    memset(&part, 0, sizeof part);
    if (bk_s3_multipart_upload_part_copy(c->s3, dst, upload_id, 1, NULL, key, 0, 4, &part, &err) !=
        BK_OK) {
        if (strstr(err.msg, "501") != NULL || strstr(err.msg, "NotImplemented") != NULL) {
            c->upload_part_copy = 0;
            snprintf(c->upload_part_copy_why, sizeof c->upload_part_copy_why,
                     "the target does not implement UploadPartCopy (%.180s)", err.msg);
        }
    }
    bk_err aerr;
    bk_s3_multipart_abort(c->s3, dst, upload_id, &aerr);
    free(upload_id);
    conf_delete(c, key, &err);
}

uint64_t conf_journal_mark(conf_ctx *c)
{
    if (c->mock == NULL)
        return 0;
    /* Sequence numbers only grow (a reset keeps counting): only entries after
     * the last one seen need copying. */
    ms3_journal_filter f = {0};
    f.since_seq = c->journal_seen;
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(c->mock, &f, &e);
    if (n > 0 && e[n - 1].seq > c->journal_seen)
        c->journal_seen = e[n - 1].seq;
    ms3_journal_entries_free(e, n);
    return c->journal_seen;
}

static int quiet(const conf_ctx *c, uint64_t seq)
{
    for (size_t i = 0; i < c->n_quiet; i++)
        if (seq > c->quiet[2 * i] && seq <= c->quiet[2 * i + 1])
            return 1;
    return 0;
}

json_t *conf_journal_since(conf_ctx *c, uint64_t mark)
{
    if (c->mock == NULL)
        return json_array();
    ms3_journal_filter f = {0};
    f.since_seq = mark;
    f.bucket = c->bucket;
    char *text = ms3_journal_json(c->mock, &f);
    json_t *arr = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (arr == NULL || !json_is_array(arr)) {
        json_decref(arr);
        return json_array();
    }
    for (size_t i = json_array_size(arr); c->n_quiet > 0 && i-- > 0;)
        if (quiet(c, (uint64_t)conf_jint(json_array_get(arr, i), "seq")))
            json_array_remove(arr, i);
    return arr;
}

size_t conf_journal_count_op(conf_ctx *c, uint64_t mark, const char *operation)
{
    if (c->mock == NULL)
        return 0;
    ms3_journal_filter f = {0};
    f.since_seq = mark;
    f.operation = operation;
    f.status = 200;
    return ms3_journal_count(c->mock, &f);
}

void conf_journal_quiet(conf_ctx *c, uint64_t from, uint64_t to)
{
    if (to <= from)
        return;
    if (c->n_quiet == c->cap_quiet) {
        size_t cap = c->cap_quiet ? c->cap_quiet * 2 : 64;
        uint64_t *q = realloc(c->quiet, 2 * cap * sizeof *q);
        if (q == NULL)
            return;
        c->quiet = q;
        c->cap_quiet = cap;
    }
    c->quiet[2 * c->n_quiet] = from;
    c->quiet[2 * c->n_quiet + 1] = to;
    c->n_quiet++;
}

const char *conf_jstr(json_t *entry, const char *field)
{
    const char *s = json_string_value(json_object_get(entry, field));
    return s != NULL ? s : "";
}

long long conf_jint(json_t *entry, const char *field)
{
    return (long long)json_integer_value(json_object_get(entry, field));
}

const char *conf_jheader(json_t *entry, const char *name)
{
    json_t *h = json_object_get(entry, "headers");
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        if (strcasecmp(k, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

int conf_is_write_op(const char *op)
{
    static const char *const writes[] = {"PutObject",  "CreateMultipartUpload",
                                         "UploadPart", "UploadPartCopy",
                                         "CopyObject", "CompleteMultipartUpload"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (strcmp(op, writes[i]) == 0)
            return 1;
    return 0;
}
