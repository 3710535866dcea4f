/* Object metadata (objmeta.h): what S3 keeps beside the bytes, from the
 * request headers to the JSON of the data dir. */
#include "objmeta.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "uri.h"

void ms3__objmeta_init(ms3_objmeta *m)
{
    memset(m, 0, sizeof(*m));
}

static void free_pairs(ms3_pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

void ms3__objmeta_clear(ms3_objmeta *m)
{
    if (m == NULL)
        return;
    free(m->content_type);
    free_pairs(m->user, m->n_user);
    free_pairs(m->headers, m->n_headers);
    free(m->checksum_algo);
    free(m->checksum_value);
    memset(m, 0, sizeof(*m));
}

static char *dup_or_null(const char *s, int *failed)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

static int add_pair(ms3_pair **arr, size_t *n, const char *name, const char *value)
{
    ms3_pair *na = realloc(*arr, (*n + 1) * sizeof(*na));
    if (na == NULL)
        return -1;
    *arr = na;
    na[*n].name = strdup(name);
    na[*n].value = strdup(value);
    if (na[*n].name == NULL || na[*n].value == NULL) {
        free(na[*n].name);
        free(na[*n].value);
        return -1;
    }
    (*n)++;
    return 0;
}

int ms3__objmeta_copy(ms3_objmeta *dst, const ms3_objmeta *src)
{
    int failed = 0;
    ms3__objmeta_init(dst);
    dst->size = src->size;
    memcpy(dst->etag, src->etag, sizeof(dst->etag));
    dst->last_modified_ms = src->last_modified_ms;
    dst->parts_count = src->parts_count;
    dst->content_type = dup_or_null(src->content_type, &failed);
    dst->checksum_algo = dup_or_null(src->checksum_algo, &failed);
    dst->checksum_value = dup_or_null(src->checksum_value, &failed);
    for (size_t i = 0; i < src->n_user && !failed; i++)
        failed = add_pair(&dst->user, &dst->n_user, src->user[i].name, src->user[i].value);
    for (size_t i = 0; i < src->n_headers && !failed; i++)
        failed =
            add_pair(&dst->headers, &dst->n_headers, src->headers[i].name, src->headers[i].value);
    if (failed) {
        ms3__objmeta_clear(dst);
        return -1;
    }
    return 0;
}

int ms3__objmeta_add_user(ms3_objmeta *m, const char *name, const char *value)
{
    /* Repeated x-amz-meta-* headers are joined with "," by S3. */
    for (size_t i = 0; i < m->n_user; i++) {
        if (strcmp(m->user[i].name, name) == 0) {
            size_t n = strlen(m->user[i].value) + strlen(value) + 2;
            char *joined = malloc(n);
            if (joined == NULL)
                return -1;
            snprintf(joined, n, "%s,%s", m->user[i].value, value);
            free(m->user[i].value);
            m->user[i].value = joined;
            return 0;
        }
    }
    return add_pair(&m->user, &m->n_user, name, value);
}

int ms3__objmeta_add_header(ms3_objmeta *m, const char *name, const char *value)
{
    return add_pair(&m->headers, &m->n_headers, name, value);
}

const char *ms3__objmeta_header(const ms3_objmeta *m, const char *name)
{
    for (size_t i = 0; i < m->n_headers; i++)
        if (strcasecmp(m->headers[i].name, name) == 0)
            return m->headers[i].value;
    return NULL;
}

static json_t *pairs_json(const ms3_pair *p, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < n; i++) {
        json_t *v = json_string(p[i].value);
        if (v == NULL || json_object_set_new(o, p[i].name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

char *ms3__objmeta_user_json(const ms3_objmeta *m)
{
    json_t *o = pairs_json(m->user, m->n_user);
    if (o == NULL)
        return strdup("{}");
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

char *ms3__objmeta_to_json(const char *key, const ms3_objmeta *m, int zero_body)
{
    json_t *user = pairs_json(m->user, m->n_user);
    json_t *headers = pairs_json(m->headers, m->n_headers);
    json_t *o =
        json_pack("{s:s, s:I, s:s, s:I, s:s*, s:o*, s:o*, s:s*, s:s*, s:i, s:b}", "key", key,
                  "size", (json_int_t)m->size, "etag", m->etag, "last_modified_ms",
                  (json_int_t)m->last_modified_ms, "content_type", m->content_type, "user", user,
                  "headers", headers, "checksum_algo", m->checksum_algo, "checksum_value",
                  m->checksum_value, "parts_count", m->parts_count, "zero", zero_body);
    if (o == NULL)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int pairs_from_json(json_t *o, ms3_pair **arr, size_t *n)
{
    if (o == NULL)
        return 0;
    if (!json_is_object(o))
        return -1;
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v)
    {
        if (!json_is_string(v) || add_pair(arr, n, name, json_string_value(v)) != 0)
            return -1;
    }
    return 0;
}

int ms3__objmeta_from_json(const char *text, char **key, ms3_objmeta *m, int *zero_body)
{
    ms3__objmeta_init(m);
    *key = NULL;
    json_t *o = json_loads(text, 0, NULL);
    if (o == NULL)
        return -1;
    const char *k = NULL, *etag = NULL, *ct = NULL, *ca = NULL, *cv = NULL;
    json_int_t size = 0, lm = 0;
    int parts = 0, zero = 0;
    json_t *user = NULL, *headers = NULL;
    int rc = -1;
    if (json_unpack(o, "{s:s, s:I, s:s, s:I, s?s, s?o, s?o, s?s, s?s, s?i, s?b}", "key", &k, "size",
                    &size, "etag", &etag, "last_modified_ms", &lm, "content_type", &ct, "user",
                    &user, "headers", &headers, "checksum_algo", &ca, "checksum_value", &cv,
                    "parts_count", &parts, "zero", &zero) != 0 ||
        size < 0 || strlen(etag) >= sizeof(m->etag))
        goto done;
    m->size = (uint64_t)size;
    memcpy(m->etag, etag, strlen(etag) + 1); /* length checked above */
    m->last_modified_ms = lm;
    m->parts_count = parts;
    int failed = 0;
    m->content_type = dup_or_null(ct, &failed);
    m->checksum_algo = dup_or_null(ca, &failed);
    m->checksum_value = dup_or_null(cv, &failed);
    *key = strdup(k);
    if (failed || *key == NULL || pairs_from_json(user, &m->user, &m->n_user) != 0 ||
        pairs_from_json(headers, &m->headers, &m->n_headers) != 0)
        goto done;
    *zero_body = zero;
    rc = 0;
done:
    json_decref(o);
    if (rc != 0) {
        ms3__objmeta_clear(m);
        free(*key);
        *key = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- from requests */

/* Representation headers S3 stores with an object and returns on GET/HEAD. */
static const char *const stored_headers[] = {"Content-Encoding",
                                             "Content-Disposition",
                                             "Content-Language",
                                             "Cache-Control",
                                             "Expires",
                                             "x-amz-website-redirect-location",
                                             "x-amz-storage-class"};

void ms3__format_etag(const unsigned char md5[16], char out[80])
{
    out[0] = '"';
    bk_sigv4_hex(md5, 16, out + 1); /* 16 snprintf calls were a PUT's largest formatting cost */
    out[33] = '"';
    out[34] = '\0';
}

/* Case-insensitive; NULL when absent. */
static const char *find_header(const bk_sigv4_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

/* Content-Encoding without aws-chunked (transport framing, not part of what
 * the object is) into out; "" when nothing is left. */
static void without_aws_chunked(const char *v, char *out, size_t n)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", v);
    out[0] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (strcasecmp(tok, "aws-chunked") == 0 || *tok == '\0')
            continue;
        if (out[0])
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, tok, n - strlen(out) - 1);
    }
}

int ms3__objmeta_from_headers(ms3_objmeta *meta, const bk_sigv4_header *h, size_t n)
{
    const char *ct = find_header(h, n, "Content-Type");
    meta->content_type = strdup(ct != NULL && *ct ? ct : "binary/octet-stream");
    if (meta->content_type == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name;
        if (strncasecmp(name, "x-amz-meta-", 11) == 0 && name[11] != '\0') {
            char lower[256];
            snprintf(lower, sizeof(lower), "%s", name + 11);
            for (char *p = lower; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (ms3__objmeta_add_user(meta, lower, h[i].value) != 0)
                return -1;
        }
    }
    for (size_t i = 0; i < sizeof(stored_headers) / sizeof(stored_headers[0]); i++) {
        const char *v = find_header(h, n, stored_headers[i]);
        if (v == NULL)
            continue;
        char cleaned[256];
        if (strcasecmp(stored_headers[i], "Content-Encoding") == 0) {
            without_aws_chunked(v, cleaned, sizeof(cleaned));
            if (cleaned[0] == '\0')
                continue;
            v = cleaned;
        }
        if (ms3__objmeta_add_header(meta, stored_headers[i], v) != 0)
            return -1;
    }
    return 0;
}

/* "/bucket/key?versionId=x", URL-encoded or not, leading slash optional. */
int ms3__parse_copy_source(const char *value, char **bucket, char **key)
{
    *bucket = *key = NULL;
    if (value == NULL)
        return -1;
    const char *v = value[0] == '/' ? value + 1 : value;
    const char *q = strstr(v, "?versionId=");
    size_t len = q != NULL ? (size_t)(q - v) : strlen(v);
    /* Decoding twice would corrupt keys containing '%': decode once, as S3 does. */
    char *decoded = ms3__url_decode(v, len, 0);
    if (decoded == NULL) {
        decoded = strndup(v, len); /* a raw '%' that is not an escape: take it as is */
        if (decoded == NULL)
            return -1;
    }
    char *slash = strchr(decoded, '/');
    if (slash == NULL || slash == decoded || slash[1] == '\0') {
        free(decoded);
        return -1;
    }
    *slash = '\0';
    *bucket = strdup(decoded);
    *key = strdup(slash + 1);
    free(decoded);
    if (*bucket == NULL || *key == NULL) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return -1;
    }
    return 0;
}
