/* S3 client lifecycle: configuration, connection pool, credentials and the
 * signer built from them. The request engine is in request.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "bkcache/version.h"
#include "blockhash.h"
#include "s3internal.h"

/* Credentials are fetched again this long before they expire. */
#define CREDS_REFRESH_MARGIN_S 300

struct signer_ref {
    bk_sigv4_signer *signer;
    time_t expires; /* 0 = never */
    int refs;
};

void bk_s3_config_init(bk_s3_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    bk_retry_config_init(&cfg->retry);
    cfg->unsigned_payload = 1; /* the SDK's way over https; http hashes anyway */
    cfg->connect_timeout_ms = 10000;
    cfg->low_speed_time_s = 30;
    cfg->low_speed_limit = 1;
    cfg->request_timeout_ms = BK_S3_DEFAULT_REQUEST_TIMEOUT_MS;
    cfg->multipart_threshold = BK_S3_DEFAULT_MULTIPART_THRESHOLD;
    cfg->part_size = BK_S3_DEFAULT_PART_SIZE;
    cfg->parts_in_flight = BK_S3_DEFAULT_PARTS_IN_FLIGHT;
}

/* ---- curl share locking ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    bk_s3_client *c = ud;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    bk_s3_client *c = ud;
    pthread_mutex_unlock(&c->share_locks[data]);
}

CURL *bk__s3_handle_get(bk_s3_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_idle > 0)
        h = c->idle[--c->n_idle];
    pthread_mutex_unlock(&c->pool_lock);
    if (h == NULL)
        h = curl_easy_init();
    else
        curl_easy_reset(h); /* keeps the handle's live connections */
    if (h != NULL)
        curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    return h;
}

void bk__s3_handle_put(bk_s3_client *c, CURL *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_idle == c->cap_idle) {
        size_t cap = c->cap_idle ? c->cap_idle * 2 : 8;
        CURL **n = realloc(c->idle, cap * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&c->pool_lock);
            curl_easy_cleanup(h);
            return;
        }
        c->idle = n;
        c->cap_idle = cap;
    }
    c->idle[c->n_idle++] = h;
    pthread_mutex_unlock(&c->pool_lock);
}

/* ---- credentials ---- */

static void signer_unref_locked(signer_ref *r)
{
    if (r != NULL && --r->refs == 0) {
        bk_sigv4_signer_free(r->signer);
        free(r);
    }
}

bk_code bk__s3_signer_acquire(bk_s3_client *c, signer_ref **out, bk_sigv4_signer **signer,
                              bk_err *err)
{
    *out = NULL;
    *signer = NULL;
    pthread_mutex_lock(&c->creds_lock);
    time_t now = (time_t)(bk_clock_wall_ns(&c->clock) / BK_NS_PER_SEC);
    signer_ref *cur = c->signer;
    if (cur == NULL || (cur->expires != 0 && cur->expires - now < CREDS_REFRESH_MARGIN_S)) {
        bk_creds creds;
        bk_err ferr;
        bk_err_clear(&ferr);
        bk_code rc = bk_creds_fetch(c->provider, &creds, &ferr);
        if (rc != BK_OK) {
            pthread_mutex_unlock(&c->creds_lock);
            /* No source answered: to the caller, credentials are missing. */
            return bk_err_set(err, rc == BK_ENOTFOUND ? BK_EAUTH : rc, "%s", ferr.msg);
        }
        signer_ref *r = calloc(1, sizeof *r);
        if (r == NULL) {
            bk_creds_clear(&creds);
            pthread_mutex_unlock(&c->creds_lock);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        r->signer = bk_sigv4_signer_new(creds.access_key_id, creds.secret_access_key,
                                        creds.session_token, c->region, "s3", &ferr);
        r->expires = creds.expires;
        r->refs = 1;
        memcpy(c->creds_source, creds.source, sizeof c->creds_source);
        bk_creds_clear(&creds);
        if (r->signer == NULL) {
            free(r);
            pthread_mutex_unlock(&c->creds_lock);
            return bk_err_set(err, ferr.code, "credentials: %s", ferr.msg);
        }
        signer_unref_locked(c->signer);
        c->signer = cur = r;
    }
    cur->refs++;
    *out = cur;
    *signer = cur->signer;
    pthread_mutex_unlock(&c->creds_lock);
    return BK_OK;
}

void bk__s3_signer_release(bk_s3_client *c, signer_ref *ref)
{
    if (ref == NULL)
        return;
    pthread_mutex_lock(&c->creds_lock);
    signer_unref_locked(ref);
    pthread_mutex_unlock(&c->creds_lock);
}

void bk_s3_client_credentials_source(bk_s3_client *c, char *out, size_t size)
{
    pthread_mutex_lock(&c->creds_lock);
    snprintf(out, size, "%s", c->creds_source);
    pthread_mutex_unlock(&c->creds_lock);
}

bk_code bk_s3_client_check_credentials(bk_s3_client *c, bk_err *err)
{
    if (c->cfg.anonymous)
        return BK_OK;
    signer_ref *ref;
    bk_sigv4_signer *s;
    bk_code rc = bk__s3_signer_acquire(c, &ref, &s, err);
    bk__s3_signer_release(c, ref);
    return rc;
}

/* ---- construction ---- */

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

void bk_s3_client_free(bk_s3_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_idle; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    signer_unref_locked(c->signer);
    pthread_mutex_destroy(&c->creds_lock);
    bk_creds_provider_free(c->own_provider);
    bk_retry_state_clear(&c->retry);
    if (c->secret_access_key != NULL)
        memset(c->secret_access_key, 0, strlen(c->secret_access_key));
    free(c->region);
    free(c->bucket);
    free(c->endpoint_url);
    free(c->ca_bundle);
    free(c->user_agent);
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->session_token);
    free(c);
    curl_global_cleanup();
}

static bk_code check_config(const bk_s3_config *cfg, bk_err *err)
{
    if (cfg->retry.max_attempts < 1)
        return bk_err_set(err, BK_EINVAL, "retry_max_attempts must be a positive integer");
    if (cfg->retry.mode != BK_RETRY_STANDARD && cfg->retry.mode != BK_RETRY_ADAPTIVE)
        return bk_err_set(err, BK_EINVAL, "retry_mode must be standard or adaptive");
    if (cfg->parts_in_flight < 1)
        return bk_err_set(err, BK_EINVAL, "parts in flight must be at least 1");
    if (cfg->part_size < 1)
        return bk_err_set(err, BK_EINVAL, "part size must be positive");
    if (cfg->multipart_threshold < 1)
        return bk_err_set(err, BK_EINVAL, "multipart threshold must be positive");
    bk_checksum_alg a = cfg->checksum_algorithm;
    if (a != BK_CHECKSUM_NONE && a != BK_CHECKSUM_CRC32 && a != BK_CHECKSUM_CRC32C &&
        a != BK_CHECKSUM_SHA256)
        return bk_err_set(err, BK_EINVAL, "checksum algorithm must be CRC32, CRC32C or SHA256");
    if (a == BK_CHECKSUM_NONE && (cfg->checksum_trailer || cfg->checksum_declared))
        return bk_err_set(err, BK_EINVAL,
                          "a checksum trailer or declaration needs a checksum algorithm");
    if (cfg->accept_encoding_gzip && !cfg->disable_accept_encoding)
        return bk_err_set(err, BK_EINVAL,
                          "an unsigned Accept-Encoding: gzip needs disable_accept_encoding "
                          "(else the signed identity is sent too)");
    return BK_OK;
}

/* The CA bundle as the SDKs find it: the configuration's (an explicit
 * option), else AWS_CA_BUNDLE, else the profile's ca_bundle; NULL = the
 * system's. *source says which, for messages. */
static char *ca_bundle_of(const bk_s3_config *cfg, char *source, size_t size)
{
    if (cfg->ca_bundle != NULL && cfg->ca_bundle[0] != '\0') {
        snprintf(source, size, "the configuration");
        return strdup(cfg->ca_bundle);
    }
    const char *v = bk_env_get(cfg->env, "AWS_CA_BUNDLE");
    if (v != NULL) {
        snprintf(source, size, "AWS_CA_BUNDLE");
        return strdup(v);
    }
    char *p = bk_creds_profile_ca_bundle(cfg->env, NULL);
    if (p != NULL)
        snprintf(source, size, "ca_bundle of profile %s", bk_creds_profile_name(cfg->env));
    return p;
}

/* The client's own copies of the configuration's strings, with the SDK's
 * fallbacks from the environment for what the configuration leaves unset. */
static bk_code own_settings(bk_s3_client *c, const bk_s3_config *cfg, bk_err *err)
{
    c->ca_bundle = ca_bundle_of(cfg, c->ca_bundle_source, sizeof c->ca_bundle_source);
    char *env_region = NULL, *env_url = NULL;
    if (cfg->region == NULL || cfg->region[0] == '\0')
        env_region = bk__endpoint_env_region(cfg->env);
    if (cfg->endpoint_url == NULL || cfg->endpoint_url[0] == '\0')
        env_url = bk__endpoint_env_url(cfg->env);
    int failed = dup_opt(&c->region, env_region ? env_region : cfg->region) |
                 dup_opt(&c->bucket, cfg->bucket) |
                 dup_opt(&c->endpoint_url, env_url ? env_url : cfg->endpoint_url) |
                 dup_opt(&c->access_key_id, cfg->access_key_id) |
                 dup_opt(&c->secret_access_key, cfg->secret_access_key) |
                 dup_opt(&c->session_token, cfg->session_token);
    free(env_region);
    free(env_url);
    failed |= c->ca_bundle == NULL && c->ca_bundle_source[0] != '\0';
    char ua[64];
    snprintf(ua, sizeof ua, "bkcache/%s", bk_version());
    failed |= dup_opt(&c->user_agent, cfg->user_agent ? cfg->user_agent : ua);
    if (failed)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    c->cfg.region = c->region;
    c->cfg.bucket = c->bucket;
    c->cfg.endpoint_url = c->endpoint_url;
    c->cfg.ca_bundle = c->ca_bundle;
    c->cfg.user_agent = c->user_agent;
    c->cfg.access_key_id = c->access_key_id;
    c->cfg.secret_access_key = c->secret_access_key;
    c->cfg.session_token = c->session_token;
    if (cfg->send_checksum_trailer) {
        c->cfg.checksum_algorithm = BK_CHECKSUM_CRC32;
        c->cfg.checksum_trailer = 1;
        c->cfg.checksum_declared = 1;
    }
    return BK_OK;
}

static bk_code resolve_endpoint(bk_s3_client *c, int use_path_style, bk_err *err)
{
    if (c->region == NULL || c->region[0] == '\0')
        return bk_err_set(err, BK_EINVAL,
                          "region not set: give the region attribute or set AWS_REGION (use any "
                          "value, e.g. us-east-1, for S3-compatible stores that ignore it)");
    bk_code rc =
        bk__endpoint_resolve(c->region, c->bucket, c->endpoint_url, use_path_style, &c->ep, err);
    if (rc != BK_OK)
        return rc;
    bk_buf url = BK_BUF_INIT;
    bk_buf path = BK_BUF_INIT;
    bk__endpoint_path(&c->ep, NULL, &path);
    bk__endpoint_url(&c->ep, bk_buf_str(&path), NULL, &url);
    s3_copy(c->base_url, sizeof c->base_url, bk_buf_str(&url));
    bk_buf_clear(&url);
    bk_buf_clear(&path);
    /* Over plain http a payload must be hashed: UNSIGNED-PAYLOAD is refused there by S3. */
    if (!c->ep.https)
        c->cfg.unsigned_payload = 0;
    return BK_OK;
}

/* The provider given, or the default chain with the explicit keys; fetched
 * lazily at the first signed request. */
static bk_code set_credentials(bk_s3_client *c, const bk_s3_config *cfg, bk_err *err)
{
    if (cfg->anonymous)
        return BK_OK;
    if (cfg->credentials_provider != NULL) {
        c->provider = cfg->credentials_provider;
        return BK_OK;
    }
    bk_creds_chain_options o = {.access_key_id = cfg->access_key_id,
                                .secret_access_key = cfg->secret_access_key,
                                .session_token = cfg->session_token,
                                .env = cfg->env,
                                .clock = &c->clock,
                                .region = c->region,
                                .ca_bundle = c->ca_bundle};
    bk_err perr;
    bk_err_clear(&perr);
    c->own_provider = bk_creds_provider_chain(&o, &perr);
    if (c->own_provider == NULL)
        return bk_err_set(err, perr.code, "%s", perr.msg);
    c->provider = c->own_provider;
    return BK_OK;
}

/* DNS and TLS sessions shared by every handle of the pool. */
static bk_code share_connections(bk_s3_client *c, bk_err *err)
{
    c->share = curl_share_init();
    if (c->share == NULL)
        return bk_err_set(err, BK_ENOMEM, "curl_share_init failed");
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return BK_OK;
}

static bk_s3_client *client_alloc(const bk_s3_config *cfg, bk_err *err)
{
    /* Reference-counted and thread-safe in the curl versions we build with. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bk_err_set(err, BK_EIO, "curl_global_init failed");
        return NULL;
    }
    bk_s3_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        curl_global_cleanup();
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    pthread_mutex_init(&c->creds_lock, NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    if (cfg->clock != NULL)
        c->clock = *cfg->clock;
    bk_retry_state_init(&c->retry, &cfg->retry, &c->clock);
    c->cfg.clock = &c->clock;
    c->cfg.env = NULL; /* only read while the client is made */
    /* Asked once: a CPUID may cost microseconds in a virtual machine. */
    c->sha_ni = bk__blockhash_cpu_has_sha_ni() != 0;
    return c;
}

bk_s3_client *bk_s3_client_new(const bk_s3_config *cfg, bk_err *err)
{
    if (cfg == NULL) {
        bk_err_set(err, BK_EINVAL, "S3 client: no configuration");
        return NULL;
    }
    if (check_config(cfg, err) != BK_OK)
        return NULL;
    bk_s3_client *c = client_alloc(cfg, err);
    if (c == NULL)
        return NULL;
    bk_code rc = own_settings(c, cfg, err);
    if (rc == BK_OK)
        rc = resolve_endpoint(c, cfg->use_path_style, err);
    if (rc == BK_OK)
        rc = set_credentials(c, cfg, err);
    if (rc == BK_OK)
        rc = share_connections(c, err);
    if (rc != BK_OK) {
        bk_s3_client_free(c);
        return NULL;
    }
    return c;
}

const char *bk_s3_client_bucket(const bk_s3_client *c)
{
    return c->bucket;
}

const char *bk_s3_client_region(const bk_s3_client *c)
{
    return c->region;
}

const char *bk_s3_client_base_url(const bk_s3_client *c)
{
    return c->base_url;
}

const char *bk_s3_client_addressing(const bk_s3_client *c)
{
    return c->ep.addressing;
}

void bk__s3_where(const bk_s3_client *c, const char *key, char *out, size_t size)
{
    if (key != NULL)
        snprintf(out, size, "s3://%s/%s", c->bucket, key);
    else
        snprintf(out, size, "s3://%s", c->bucket);
}

/* ---- request helpers ---- */

void bk__s3_request_init(s3_request *rq, const char *op, const char *method, const char *key)
{
    memset(rq, 0, sizeof *rq);
    rq->op = op;
    rq->method = method;
    rq->key = key;
    rq->fd = -1;
}

int bk__s3_request_header(s3_request *rq, const char *name, const char *value)
{
    if (rq->n_headers >= S3_MAX_EXTRA_HEADERS)
        return -1;
    rq->headers[rq->n_headers].name = name;
    rq->headers[rq->n_headers].value = value;
    rq->n_headers++;
    return 0;
}

bk_code bk__s3_add_metadata(bk_s3_client *c, s3_request *rq, const bk_s3_meta *meta, size_t n,
                            bk_err *err)
{
    char where[1200];
    bk__s3_where(c, rq->key, where, sizeof where);
    for (size_t i = 0; i < n; i++) {
        const char *name = meta[i].name;
        size_t len = name ? strlen(name) : 0;
        int ok = len > 0 && len < 128;
        for (size_t j = 0; ok && j < len; j++)
            ok = islower((unsigned char)name[j]) || isdigit((unsigned char)name[j]) ||
                 name[j] == '-' || (name[j] == '_' && c->cfg.metadata_underscores);
        if (!ok)
            return bk_err_set(err, BK_EINVAL,
                              "%s %s: metadata name \"%s\" must match [a-z0-9-]+ (gateways drop "
                              "headers with '_', S3 lower-cases names)",
                              rq->op, where, name ? name : "");
        const char *value = meta[i].value ? meta[i].value : "";
        for (const char *p = value; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                return bk_err_set(err, BK_EINVAL,
                                  "%s %s: metadata \"%s\" has a control character in its value",
                                  rq->op, where, name);
        if (rq->n_name_store >= S3_MAX_EXTRA_HEADERS)
            return bk_err_set(err, BK_EINVAL, "%s %s: too many metadata entries", rq->op, where);
        char *slot = rq->name_store[rq->n_name_store++];
        snprintf(slot, sizeof rq->name_store[0], "x-amz-meta-%s", name);
        if (bk__s3_request_header(rq, slot, value) != 0)
            return bk_err_set(err, BK_EINVAL, "%s %s: too many headers", rq->op, where);
    }
    return BK_OK;
}

unsigned long long bk_s3_client_requests(const bk_s3_client *c)
{
    return atomic_load(&((bk_s3_client *)c)->requests);
}

unsigned long long bk_s3_client_bytes_hashed(const bk_s3_client *c)
{
    return atomic_load(&((bk_s3_client *)c)->bytes_hashed);
}

int bk_s3_client_hashes_payloads(const bk_s3_client *c)
{
    return !c->cfg.anonymous && !c->cfg.send_checksum_trailer &&
           !(c->cfg.unsigned_payload && c->ep.https);
}
