/* The in-process control API of mock_s3.h that is not HTTP: credentials,
 * buckets, time, direct object access, the journal, faults, policies. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "server_internal.h"

bk_code ms3_server_add_credentials(ms3_server *s, const char *access_key_id,
                                   const char *secret_access_key, const char *session_token,
                                   bk_err *err)
{
    return ms3__creds_add(s->creds, access_key_id, secret_access_key, session_token, err);
}

bk_code ms3_server_set_credentials_expiry(ms3_server *s, const char *access_key_id,
                                          int64_t expires_unix, bk_err *err)
{
    return ms3__creds_set_expiry(s->creds, access_key_id, expires_unix, err);
}

bk_code ms3_server_set_credentials_profile(ms3_server *s, const char *access_key_id,
                                           ms3_access_profile profile, bk_err *err)
{
    return ms3__creds_set_profile(s->creds, access_key_id, profile, err);
}

bk_code ms3_server_add_web_identity_token(ms3_server *s, const char *token, bk_err *err)
{
    return ms3__services_add_web_identity_token(s->services, token, err);
}

bk_code ms3_server_create_bucket(ms3_server *s, const char *bucket, bk_err *err)
{
    if (bucket == NULL || strcmp(bucket, "_mock") == 0 || !ms3__valid_bucket_name(bucket))
        return bk_err_set(err, BK_EINVAL,
                          "invalid bucket name \"%s\": 3-63 characters of a-z 0-9 . -",
                          bucket != NULL ? bucket : "(null)");
    return ms3__store_create_bucket(s->store, bucket, ms3__clock_now_ms(&s->clock), NULL, err);
}

void ms3_server_reset(ms3_server *s)
{
    ms3__store_clear(s->store);
    ms3__uploads_clear(s->uploads);
    ms3__journal_clear(s->journal);
    ms3__faults_clear(s->faults);
}

void ms3_server_set_clock_offset(ms3_server *s, int64_t seconds)
{
    ms3__clock_set_offset(&s->clock, seconds);
}

int64_t ms3_server_now(ms3_server *s)
{
    return ms3__clock_now(&s->clock);
}

int ms3_server_age_objects(ms3_server *s, const char *bucket, const char *prefix, int64_t seconds)
{
    long n = ms3__store_age(s->store, bucket, prefix, seconds);
    return n < 0 ? -1 : (int)n;
}

static bk_code put_body(ms3_server *s, const char *bucket, const char *key, ms3_body *body,
                        const unsigned char md5[16], int zero_etag, const char *content_type,
                        bk_err *err)
{
    ms3_objmeta meta;
    ms3__objmeta_init(&meta);
    meta.content_type = strdup(content_type != NULL ? content_type : "binary/octet-stream");
    ms3__format_etag(md5, meta.etag);
    if (zero_etag)
        snprintf(meta.etag + 33, sizeof(meta.etag) - 33, "-1\"");
    meta.last_modified_ms = ms3__clock_now_ms(&s->clock);
    bk_err e;
    int rc = ms3__store_put(s->store, bucket, key, body, &meta, NULL, &e);
    if (rc == MS3_STORE_NO_BUCKET)
        return bk_err_set(err, BK_ENOTFOUND, "no bucket \"%s\"", bucket);
    return rc == MS3_STORE_OK ? BK_OK : ms3__err_pass(err, &e);
}

bk_code ms3_server_put_object(ms3_server *s, const char *bucket, const char *key, const void *data,
                              size_t len, const char *content_type, bk_err *err)
{
    if (key == NULL || *key == '\0' || strlen(key) > 1024)
        return bk_err_set(err, BK_EINVAL, "object keys are 1 to 1024 bytes");
    bk_err e;
    ms3_writer *w = ms3__writer_new(ms3__store_tmp_dir(s->store), len, &e);
    if (w == NULL)
        return ms3__err_pass(err, &e);
    bk_code rc = ms3__writer_write(w, data, len, err);
    if (rc != BK_OK) {
        ms3__writer_abort(w);
        return rc;
    }
    ms3_body body;
    rc = ms3__writer_finish(w, &body, err);
    if (rc != BK_OK)
        return rc;
    unsigned char md5[16];
    unsigned int n = 16;
    EVP_Digest(data, len, md5, &n, EVP_md5(), NULL);
    return put_body(s, bucket, key, &body, md5, 0, content_type, err);
}

bk_code ms3_server_put_zero_object(ms3_server *s, const char *bucket, const char *key,
                                   uint64_t size, bk_err *err)
{
    ms3_body body;
    ms3__body_zero(&body, size);
    unsigned char md5[16];
    ms3__zero_md5(size, md5);
    return put_body(s, bucket, key, &body, md5, 1, NULL, err);
}

bk_code ms3_server_stat_object(ms3_server *s, const char *bucket, const char *key,
                               ms3_object_info *info, bk_err *err)
{
    memset(info, 0, sizeof(*info));
    ms3_objmeta m;
    ms3__objmeta_init(&m);
    int rc = ms3__store_stat(s->store, bucket, key, &m);
    if (rc != MS3_STORE_OK)
        return bk_err_set(err, BK_ENOTFOUND, "%s/%s does not exist", bucket, key);
    info->size = m.size;
    snprintf(info->etag, sizeof(info->etag), "%s", m.etag);
    info->last_modified = m.last_modified_ms / 1000;
    snprintf(info->content_type, sizeof(info->content_type), "%s",
             m.content_type ? m.content_type : "");
    info->metadata_json = ms3__objmeta_user_json(&m);
    ms3__objmeta_clear(&m);
    return BK_OK;
}

bk_code ms3_server_read_object(ms3_server *s, const char *bucket, const char *key, size_t max_len,
                               char **data, size_t *len, bk_err *err)
{
    *data = NULL;
    *len = 0;
    ms3_objmeta m;
    ms3__objmeta_init(&m);
    ms3_reader *r = NULL;
    bk_err e;
    int rc = ms3__store_open_object(s->store, bucket, key, &m, &r, &e);
    ms3__objmeta_clear(&m);
    if (rc == MS3_STORE_IO)
        return ms3__err_pass(err, &e);
    if (rc != MS3_STORE_OK)
        return bk_err_set(err, BK_ENOTFOUND, "%s/%s does not exist", bucket, key);
    uint64_t size = ms3__reader_size(r);
    if (size > max_len) {
        ms3__reader_close(r);
        return bk_err_set(err, BK_EINVAL, "%s/%s has %llu bytes, more than %zu", bucket, key,
                          (unsigned long long)size, max_len);
    }
    char *buf = malloc((size_t)size + 1);
    uint64_t pos = 0;
    while (buf != NULL && pos < size) {
        long n = ms3__reader_pread(r, buf + pos, (size_t)(size - pos), pos);
        if (n <= 0)
            break;
        pos += (uint64_t)n;
    }
    ms3__reader_close(r);
    if (buf == NULL || pos != size) {
        free(buf);
        return bk_err_set(err, BK_EIO, "reading %s/%s failed", bucket, key);
    }
    buf[size] = '\0';
    *data = buf;
    *len = (size_t)size;
    return BK_OK;
}

bk_code ms3_server_delete_object(ms3_server *s, const char *bucket, const char *key, bk_err *err)
{
    int rc = ms3__store_delete(s->store, bucket, key);
    if (rc != MS3_STORE_OK)
        return bk_err_set(err, BK_ENOTFOUND, "%s/%s does not exist", bucket, key);
    return BK_OK;
}

size_t ms3_server_object_count(ms3_server *s, const char *bucket)
{
    return ms3__store_count(s->store, bucket);
}

size_t ms3_server_upload_count(ms3_server *s)
{
    return ms3__uploads_count(s->uploads);
}

size_t ms3_journal_query(ms3_server *s, const ms3_journal_filter *f, ms3_journal_entry **out)
{
    return ms3__journal_query(s->journal, f, out);
}

size_t ms3_journal_count(ms3_server *s, const ms3_journal_filter *f)
{
    return ms3__journal_count(s->journal, f);
}

char *ms3_journal_json(ms3_server *s, const ms3_journal_filter *f)
{
    return ms3__journal_json(s->journal, f, NULL);
}

uint64_t ms3_journal_dropped(ms3_server *s)
{
    ms3_journal_stats st;
    ms3__journal_stats_get(s->journal, &st);
    return st.dropped;
}

bk_code ms3_server_add_fault(ms3_server *s, const ms3_fault_rule *r, uint64_t *id, bk_err *err)
{
    return ms3__faults_add(s->faults, r, id, err);
}

void ms3_server_clear_faults(ms3_server *s)
{
    ms3__faults_clear(s->faults);
}

uint64_t ms3_server_fault_fired(ms3_server *s, uint64_t id)
{
    return ms3__faults_fired(s->faults, id);
}

bk_code ms3_server_set_bucket_policy(ms3_server *s, const char *bucket, const ms3_bucket_policy *p,
                                     bk_err *err)
{
    return ms3__policies_set(s->policies, bucket, p, err);
}

void ms3_server_set_proxy_mode(ms3_server *s, unsigned flags)
{
    ms3__policies_set_proxy(s->policies, flags);
}
