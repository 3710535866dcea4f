/* The credential services' shared state (services.h). */
#include "services.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bkcache/checksum.h"

/* IMDS sessions kept at once; past that the oldest goes (a client that loses
 * its token gets 401 and asks for another, as with a real IMDS). */
enum { IMDS_TOKENS_MAX = 1024, IMDS_TOKEN_BYTES = 42 };
/* A token file's first line is read up to this size (web identity tokens are
 * at most 20000 characters). */
enum { TOKEN_FILE_MAX = 64 * 1024 };

/* A session is kept as the SHA-256 of its token: a lookup hashes the token
 * given once and compares digests in constant time. */
typedef struct imds_token {
    unsigned char digest[32];
    int64_t expires;
} imds_token;

struct ms3_services {
    pthread_mutex_t lock;
    int sts, imds, ecs;
    int64_t lifetime;
    char **roles; /* NULL = any */
    size_t n_roles;
    char **web_tokens;
    size_t n_web_tokens;
    char *web_token_file;
    char *imds_role;
    char *ecs_path;
    char *ecs_token;
    char *ecs_token_file;
    ms3_issued current[3]; /* by ms3_endpoint: what IMDS and ECS serve now */
    imds_token *imds_tokens;
    size_t n_imds_tokens;
};

/* ---------------------------------------------------------------- setup */

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] != NULL)
            memset(list[i], 0, strlen(list[i]));
        free(list[i]);
    }
    free(list);
}

/* A copy of n strings; -1 when out of memory. */
static int copy_list(const char *const *in, size_t n, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (in == NULL || n == 0)
        return 0;
    char **list = calloc(n, sizeof(*list));
    if (list == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        list[i] = strdup(in[i] != NULL ? in[i] : "");
        if (list[i] == NULL) {
            free_list(list, n);
            return -1;
        }
    }
    *out = list;
    *n_out = n;
    return 0;
}

/* A copy of s, or of def when s is NULL; a NULL def stays NULL. -1 when out
 * of memory. */
static int copy_or(const char *s, const char *def, char **out)
{
    const char *v = s != NULL ? s : def;
    *out = v != NULL ? strdup(v) : NULL;
    return v != NULL && *out == NULL ? -1 : 0;
}

ms3_services *ms3__services_new(const ms3_options *o, bk_err *err)
{
    ms3_services *sv = calloc(1, sizeof(*sv));
    if (sv == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&sv->lock, NULL);
    sv->sts = o->sts;
    sv->imds = o->imds;
    sv->ecs = o->ecs;
    sv->lifetime =
        o->credential_lifetime > 0 ? o->credential_lifetime : MS3_DEFAULT_CREDENTIAL_LIFETIME;
    if (copy_list(o->sts_roles, o->n_sts_roles, &sv->roles, &sv->n_roles) != 0 ||
        copy_list(o->web_identity_tokens, o->n_web_identity_tokens, &sv->web_tokens,
                  &sv->n_web_tokens) != 0 ||
        copy_or(o->web_identity_token_file, NULL, &sv->web_token_file) != 0 ||
        copy_or(o->imds_role, MS3_DEFAULT_IMDS_ROLE, &sv->imds_role) != 0 ||
        copy_or(o->ecs_path, MS3_DEFAULT_ECS_PATH, &sv->ecs_path) != 0 ||
        copy_or(o->ecs_token, NULL, &sv->ecs_token) != 0 ||
        copy_or(o->ecs_token_file, NULL, &sv->ecs_token_file) != 0) {
        ms3__services_free(sv);
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    return sv;
}

void ms3__services_free(ms3_services *sv)
{
    if (sv == NULL)
        return;
    free_list(sv->roles, sv->n_roles);
    free_list(sv->web_tokens, sv->n_web_tokens);
    free(sv->web_token_file);
    free(sv->imds_role);
    free(sv->ecs_path);
    if (sv->ecs_token != NULL)
        memset(sv->ecs_token, 0, strlen(sv->ecs_token));
    free(sv->ecs_token);
    free(sv->ecs_token_file);
    for (size_t i = 0; i < sizeof(sv->current) / sizeof(sv->current[0]); i++)
        ms3__issued_clear(&sv->current[i]);
    if (sv->imds_tokens != NULL)
        memset(sv->imds_tokens, 0, sv->n_imds_tokens * sizeof(*sv->imds_tokens));
    free(sv->imds_tokens);
    pthread_mutex_destroy(&sv->lock);
    free(sv);
}

int ms3__services_sts(const ms3_services *sv)
{
    return sv->sts;
}

int ms3__services_imds(const ms3_services *sv)
{
    return sv->imds;
}

int ms3__services_ecs(const ms3_services *sv)
{
    return sv->ecs;
}

int64_t ms3__services_lifetime(const ms3_services *sv)
{
    return sv->lifetime;
}

const char *ms3__services_imds_role(const ms3_services *sv)
{
    return sv->imds_role;
}

const char *ms3__services_ecs_path(const ms3_services *sv)
{
    return sv->ecs_path;
}

/* ---------------------------------------------------------------- credentials */

/* n random characters of alphabet (at most 256 of them) into out (n + 1 bytes). */
static int random_text(const char *alphabet, char *out, size_t n)
{
    unsigned char raw[256];
    size_t k = strlen(alphabet);
    if (n >= sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % k];
    out[n] = '\0';
    memset(raw, 0, sizeof(raw));
    return 0;
}

/* Base64 of `bytes` random bytes into out. */
static int random_base64(size_t bytes, char *out, size_t n)
{
    unsigned char raw[160];
    if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
        return -1;
    size_t len = bk_checksum_base64_encode(raw, bytes, out, n);
    memset(raw, 0, sizeof(raw));
    return len > 0 ? 0 : -1;
}

void ms3__issued_clear(ms3_issued *c)
{
    memset(c, 0, sizeof(*c));
}

bk_code ms3__services_mint(ms3_creds *creds, int64_t now, int64_t seconds, ms3_issued *out,
                           bk_err *err)
{
    static const char upper32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char secret64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(out, 0, sizeof(*out));
    memcpy(out->access_key_id, "ASIA", 4);
    /* Real session tokens are long base64 text with '+', '/' and '=', which a
     * client must encode in a presigned URL: so are these. */
    if (random_text(upper32, out->access_key_id + 4, 16) != 0 ||
        random_text(secret64, out->secret, 40) != 0 ||
        random_base64(144, out->token, sizeof(out->token)) != 0) {
        ms3__issued_clear(out);
        return bk_err_set(err, BK_EIO, "no random bytes for a new credential");
    }
    out->issued = now;
    out->expires = now + seconds;
    bk_code rc = ms3__creds_add_issued(creds, out->access_key_id, out->secret, out->token,
                                       out->expires, now, err);
    if (rc != BK_OK)
        ms3__issued_clear(out);
    return rc;
}

bk_code ms3__services_current(ms3_services *sv, ms3_creds *creds, ms3_endpoint which, int64_t now,
                              ms3_issued *out, bk_err *err)
{
    if ((size_t)which >= sizeof(sv->current) / sizeof(sv->current[0]))
        return bk_err_set(err, BK_EINVAL, "no credentials are served on endpoint %d", (int)which);
    pthread_mutex_lock(&sv->lock);
    ms3_issued *cur = &sv->current[which];
    bk_code rc = BK_OK;
    if (cur->expires == 0 || now >= cur->issued + sv->lifetime / 2 || now < cur->issued)
        rc = ms3__services_mint(creds, now, sv->lifetime, cur, err);
    if (rc == BK_OK)
        *out = *cur;
    pthread_mutex_unlock(&sv->lock);
    return rc;
}

/* ---------------------------------------------------------------- what is accepted */

int ms3__services_role_allowed(const ms3_services *sv, const char *role_arn)
{
    if (sv->n_roles == 0)
        return 1;
    for (size_t i = 0; i < sv->n_roles; i++)
        if (strcmp(sv->roles[i], role_arn) == 0)
            return 1;
    return 0;
}

bk_code ms3__services_add_web_identity_token(ms3_services *sv, const char *token, bk_err *err)
{
    if (token == NULL || *token == '\0')
        return bk_err_set(err, BK_EINVAL, "a web identity token must not be empty");
    char *copy = strdup(token);
    if (copy == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    pthread_mutex_lock(&sv->lock);
    char **grown = realloc(sv->web_tokens, (sv->n_web_tokens + 1) * sizeof(*grown));
    if (grown != NULL) {
        sv->web_tokens = grown;
        sv->web_tokens[sv->n_web_tokens++] = copy;
    }
    pthread_mutex_unlock(&sv->lock);
    if (grown == NULL) {
        free(copy);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    return BK_OK;
}

/* The first line of a regular file (a FIFO would block), at most n - 1 bytes;
 * -1 when it cannot be read. */
static int read_first_line(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    size_t have = 0;
    while (have < n - 1) {
        ssize_t got = read(fd, out + have, n - 1 - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    close(fd);
    out[have] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* 1 when the file's first line is `given` (and not empty). */
static int file_token_matches(const char *path, const char *given)
{
    char *line = malloc(TOKEN_FILE_MAX);
    int match = 0;
    if (line != NULL && read_first_line(path, line, TOKEN_FILE_MAX) == 0 && line[0] != '\0')
        match = ms3__secret_equal(given, line);
    if (line != NULL) {
        memset(line, 0, TOKEN_FILE_MAX);
        free(line);
    }
    return match;
}

int ms3__services_web_identity_accepted(ms3_services *sv, const char *token)
{
    pthread_mutex_lock(&sv->lock);
    int configured = sv->n_web_tokens > 0 || sv->web_token_file != NULL;
    int match = 0;
    for (size_t i = 0; i < sv->n_web_tokens; i++)
        match |= ms3__secret_equal(token, sv->web_tokens[i]);
    pthread_mutex_unlock(&sv->lock);
    if (!match && sv->web_token_file != NULL)
        match = file_token_matches(sv->web_token_file, token);
    return configured ? match : -1;
}

ms3_bearer_check ms3__services_ecs_authorized(ms3_services *sv, const char *given)
{
    if (sv->ecs_token == NULL && sv->ecs_token_file == NULL)
        return MS3_BEARER_OK;
    if (given == NULL || *given == '\0')
        return MS3_BEARER_MISSING;
    if (sv->ecs_token != NULL && ms3__secret_equal(given, sv->ecs_token))
        return MS3_BEARER_OK;
    if (sv->ecs_token_file != NULL && file_token_matches(sv->ecs_token_file, given))
        return MS3_BEARER_OK;
    return MS3_BEARER_WRONG;
}

/* ---------------------------------------------------------------- IMDS sessions */

/* Drops expired sessions, then the oldest while there is no room. Locked. */
static void imds_make_room(ms3_services *sv, int64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < sv->n_imds_tokens; i++)
        if (sv->imds_tokens[i].expires > now)
            sv->imds_tokens[kept++] = sv->imds_tokens[i];
    sv->n_imds_tokens = kept;
    if (kept == IMDS_TOKENS_MAX) {
        memmove(sv->imds_tokens, sv->imds_tokens + 1, (kept - 1) * sizeof(*sv->imds_tokens));
        sv->n_imds_tokens--;
    }
}

static int sha256(const char *s, unsigned char out[32])
{
    unsigned int len = 32;
    return EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

bk_code ms3__services_imds_token_new(ms3_services *sv, int64_t now, int64_t ttl, char *out,
                                     size_t n, bk_err *err)
{
    char token[64];
    imds_token t;
    memset(&t, 0, sizeof(t));
    if (n < sizeof(token) || random_base64(IMDS_TOKEN_BYTES, token, sizeof(token)) != 0 ||
        sha256(token, t.digest) != 0)
        return bk_err_set(err, BK_EIO, "no random bytes for an IMDS token");
    t.expires = now + ttl;
    pthread_mutex_lock(&sv->lock);
    if (sv->imds_tokens == NULL)
        sv->imds_tokens = calloc(IMDS_TOKENS_MAX, sizeof(*sv->imds_tokens));
    int ok = sv->imds_tokens != NULL;
    if (ok) {
        imds_make_room(sv, now);
        sv->imds_tokens[sv->n_imds_tokens++] = t;
    }
    pthread_mutex_unlock(&sv->lock);
    if (ok)
        snprintf(out, n, "%s", token);
    memset(token, 0, sizeof(token));
    return ok ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory");
}

int ms3__services_imds_token_valid(ms3_services *sv, const char *token, int64_t now)
{
    unsigned char d[32];
    if (token == NULL || *token == '\0' || sha256(token, d) != 0)
        return 0;
    pthread_mutex_lock(&sv->lock);
    int valid = 0;
    for (size_t i = 0; i < sv->n_imds_tokens; i++)
        if (sv->imds_tokens[i].expires > now &&
            CRYPTO_memcmp(d, sv->imds_tokens[i].digest, sizeof(d)) == 0)
            valid = 1;
    pthread_mutex_unlock(&sv->lock);
    return valid;
}

/* ---------------------------------------------------------------- formats */

void ms3__services_time(int64_t unix_seconds, char *out, size_t n)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
