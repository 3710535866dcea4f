/* mock-s3: an in-process S3 server for tests. It verifies SigV4 the way S3 does,
 * records every request in a journal, injects faults on demand and can imitate
 * the quirks of real S3 and its look-alikes (access profiles, proxies that
 * rewrite signed headers, stores that refuse aws-chunked).
 *
 * Several servers can run in one process; nothing is global. Every function
 * taking an ms3_server is thread-safe unless it says otherwise.
 *
 * Errors: a function that can fail returns a bk_code (BK_OK = 0) and, when err
 * is not NULL, fills it with a message; err may always be NULL. Constructors
 * return NULL and fill err. */
#ifndef MOCK_S3_H
#define MOCK_S3_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ms3_server ms3_server;

#define MS3_JOURNAL_MAX_DEFAULT 100000

typedef struct ms3_options {
    const char *listen_host;         /* default "127.0.0.1" */
    uint16_t port;                   /* 0 = ephemeral (default) */
    const char *region;              /* default "us-east-1" */
    const char *data_dir;            /* NULL = objects in memory */
    const char *virtual_host_suffix; /* default "localhost": bucket.localhost:PORT */
    int anonymous;                   /* accept unsigned requests */
    uint64_t min_part_size;          /* default 5 MiB; tests lower it */
    const char *journal_file;        /* JSON lines as requests finish; NULL = none */
    size_t journal_max;              /* entries kept in memory, the oldest dropped first;
                                        0 = MS3_JOURNAL_MAX_DEFAULT (the file keeps all) */
    int64_t clock_offset;            /* seconds added to the real clock (default 0) */
    int64_t max_skew_seconds;        /* default 900 (15 minutes, as S3) */
    unsigned max_connections;        /* default 1024 */
    /* Connections are served by a pool of `threads` threads polling them with
     * epoll (0 = one per CPU, up to 16); a delay fault parks its connection
     * instead of holding a thread. thread_per_connection: one thread per
     * connection instead, which sleeps through its delays. */
    unsigned threads;
    int thread_per_connection;
    /* The /_mock/ admin endpoints over HTTP (and ms3_server_handle); the C API
     * below is not affected. They are open to whoever can connect unless: */
    const char *admin_token; /* every /_mock/ request needs "Authorization: Bearer <token>"
                                (but GET /_mock/ui, the journal page: static, no data) */
    int no_admin;            /* /_mock/ answers 404 */

    /* ---- Credential services, so an AWS SDK's credential chain runs against the
     * mock (all off by default). The credentials they issue are temporary: the S3
     * API accepts them, with their session token, until they expire on the mock's
     * clock (then 400 ExpiredToken). STS answers on the S3 port (POST / with a
     * form body); IMDS and ECS listen on ports of their own. */
    int sts;               /* AssumeRole, AssumeRoleWithWebIdentity */
    int imds;              /* an IMDSv2 listener on imds_host:imds_port */
    int ecs;               /* a container credentials listener on ecs_host:ecs_port */
    uint16_t imds_port;    /* 0 = ephemeral */
    uint16_t ecs_port;     /* 0 = ephemeral */
    const char *imds_host; /* NULL = listen_host */
    const char *ecs_host;  /* NULL = listen_host */
    const char *imds_role; /* the role IMDS and ECS serve (default "mock-s3-role") */
    const char *ecs_path;  /* the path ECS serves (default "/creds") */
    /* The Authorization the ECS endpoint requires (none = no check), or a file
     * read at every call whose first line it is. */
    const char *ecs_token;
    const char *ecs_token_file;
    /* Role ARNs that may be assumed; none = any well-formed role ARN. */
    const char *const *sts_roles;
    size_t n_sts_roles;
    /* Tokens AssumeRoleWithWebIdentity accepts, and a file read at every call
     * whose first line it accepts (as a rotated token file). */
    const char *const *web_identity_tokens;
    size_t n_web_identity_tokens;
    const char *web_identity_token_file;
    /* Seconds the credentials last: STS's without DurationSeconds, IMDS's, ECS's
     * (0 = 3600). */
    int64_t credential_lifetime;

    /* Behaviour presets, comma-separated ("oci", "gcs,no-list"; see
     * ms3_behave_preset_get): every bucket's policy and the proxy mode. NULL or
     * "" = the plain, AWS-like mock. An unknown name fails the start. */
    const char *behave;
} ms3_options;

void ms3_options_init(ms3_options *o);

/* Starts listening; the port is known when this returns. NULL + err on failure. */
ms3_server *ms3_server_start(const ms3_options *o, bk_err *err);
/* Closes every connection, joins every thread, frees everything. NULL is a no-op. */
void ms3_server_stop(ms3_server *s);
uint16_t ms3_server_port(const ms3_server *s);
const char *ms3_server_url(const ms3_server *s); /* "http://127.0.0.1:PORT" */
const char *ms3_server_region(const ms3_server *s);
/* The credential services' listeners, "" when off or in process:
 * AWS_EC2_METADATA_SERVICE_ENDPOINT takes the IMDS one ("http://127.0.0.1:PORT"),
 * AWS_CONTAINER_CREDENTIALS_FULL_URI the ECS one (with its path). STS is at
 * ms3_server_url (AWS_ENDPOINT_URL_STS). */
const char *ms3_server_imds_url(const ms3_server *s);
const char *ms3_server_ecs_url(const ms3_server *s);
/* One more token AssumeRoleWithWebIdentity accepts (a JWT's "exp" is also held
 * to the mock's clock). */
bk_code ms3_server_add_web_identity_token(ms3_server *s, const char *token, bk_err *err);

/* ---- In-process requests: the whole request path (routing, auth, policies,
 * faults, body ingest including aws-chunked, the operation, the journal)
 * without a socket, for fuzzing and for tests that need no network.
 *
 * A server made by ms3_server_new_inproc has no listener (port 0, url "");
 * everything else is as with ms3_server_start, ms3_server_stop frees it, and
 * ms3_server_handle may be called from several threads. A delay fault is not
 * slept but reported, and a fault that cuts the connection is reported in the
 * response instead of performed. */
ms3_server *ms3_server_new_inproc(const ms3_options *o, bk_err *err);

typedef struct ms3_header {
    const char *name;
    const char *value;
} ms3_header;

/* Which of the server's listeners a request arrives on. */
typedef enum ms3_endpoint {
    MS3_ENDPOINT_S3 = 0, /* S3, the admin endpoints and STS */
    MS3_ENDPOINT_IMDS,   /* options.imds */
    MS3_ENDPOINT_ECS     /* options.ecs */
} ms3_endpoint;

typedef struct ms3_inproc_request {
    const char *method;
    const char *target; /* path?query exactly as on the request line */
    const ms3_header *headers;
    size_t n_headers;
    /* The body after HTTP framing. As on a connection, it is read only when the
     * headers announce one: Content-Length bytes of it (fewer = the client went
     * away mid-body), or all of it with Transfer-Encoding. */
    const void *body;
    size_t body_len;
    size_t feed_piece;     /* the body reaches the server in pieces this big; 0 = whole */
    size_t max_response;   /* response body bytes kept; 0 = 64 MiB */
    ms3_endpoint endpoint; /* BK_EINVAL when that service is off */
} ms3_inproc_request;

typedef enum ms3_inproc_outcome {
    MS3_INPROC_ANSWERED = 0, /* status, headers and body below */
    MS3_INPROC_CUT_REQUEST,  /* a fault closed the connection while the body came in */
    MS3_INPROC_CUT_RESPONSE, /* the response began (status, headers) and was cut */
    MS3_INPROC_CLIENT_GONE,  /* the body was shorter than its Content-Length */
    MS3_INPROC_BAD_REQUEST   /* the HTTP layer refused it (malformed Content-Length) */
} ms3_inproc_outcome;

typedef struct ms3_inproc_response {
    ms3_inproc_outcome outcome;
    int status; /* 0 when nothing was answered */
    char **header_names;
    char **header_values;
    size_t n_headers;        /* Content-Length included, as it would be sent */
    char *body;              /* NUL-terminated; NULL when none */
    size_t body_len;         /* bytes received (HEAD: 0) */
    int body_truncated;      /* longer than max_response */
    int body_before_request; /* answered before the request body was read */
    uint32_t delay_ms;       /* what a delay fault would have waited */
} ms3_inproc_response;

/* BK_OK, or BK_EINVAL (no method or target) or BK_ENOMEM. Any request the HTTP
 * layer would pass on is answered, never refused with an error code. Free the
 * response with ms3_inproc_response_clear (also after a failure). */
bk_code ms3_server_handle(ms3_server *s, const ms3_inproc_request *rq, ms3_inproc_response *out,
                          bk_err *err);
void ms3_inproc_response_clear(ms3_inproc_response *resp);
/* Case-insensitive; NULL when absent. */
const char *ms3_inproc_response_header(const ms3_inproc_response *resp, const char *name);

/* Several credentials may be configured. A session token, when given, must be
 * sent as X-Amz-Security-Token (signed). Adding an existing key id replaces it. */
bk_code ms3_server_add_credentials(ms3_server *s, const char *access_key_id,
                                   const char *secret_access_key,
                                   const char *session_token /* NULL = none */, bk_err *err);
/* Requests signed with this key after mock time `expires_unix` get 400 ExpiredToken
 * (when the key has a session token) or 403 ExpiredToken-like AccessDenied otherwise.
 * 0 = never expires. */
bk_code ms3_server_set_credentials_expiry(ms3_server *s, const char *access_key_id,
                                          int64_t expires_unix, bk_err *err);

/* Bucket names follow S3's rules (3-63 chars of a-z 0-9 . -); `_mock` is reserved.
 * Creating an existing bucket is not an error here. */
bk_code ms3_server_create_bucket(ms3_server *s, const char *bucket, bk_err *err);

/* Drops objects, uploads, journal and faults; keeps buckets, credentials and policies.
 * With a data dir the stored objects are deleted from it too. */
void ms3_server_reset(ms3_server *s);

/* Time control: "now" of the mock is the real clock plus the offset. */
void ms3_server_set_clock_offset(ms3_server *s, int64_t seconds);
int64_t ms3_server_now(ms3_server *s); /* unix seconds, mock time */
/* Moves Last-Modified of every object under prefix (NULL or "" = all) `seconds`
 * into the past. Returns the number of objects moved, or -1 + err (no such bucket). */
int ms3_server_age_objects(ms3_server *s, const char *bucket, const char *prefix, int64_t seconds);

/* ---- Direct object access for test setup and assertions (no HTTP, not journaled). */
typedef struct ms3_object_info {
    uint64_t size;
    char etag[80];         /* quoted, as S3 sends it */
    int64_t last_modified; /* unix seconds */
    char content_type[128];
    char *metadata_json; /* {"name":"value"} of x-amz-meta-*, names lower-case; free() it */
} ms3_object_info;

bk_code ms3_server_put_object(ms3_server *s, const char *bucket, const char *key, const void *data,
                              size_t len, const char *content_type /* NULL = binary/octet-stream */,
                              bk_err *err);
/* An object of `size` zero bytes that occupies no memory or disk (for >= 5 GiB copy
 * tests). Its ETag is a multipart-style tag derived from the size, not an MD5. */
bk_code ms3_server_put_zero_object(ms3_server *s, const char *bucket, const char *key,
                                   uint64_t size, bk_err *err);
/* BK_ENOTFOUND when the object does not exist. */
bk_code ms3_server_stat_object(ms3_server *s, const char *bucket, const char *key,
                               ms3_object_info *info, bk_err *err);
/* Reads at most max_len bytes (the object must be no larger, else BK_EINVAL) into a
 * malloc'ed buffer (NUL-terminated for convenience). */
bk_code ms3_server_read_object(ms3_server *s, const char *bucket, const char *key, size_t max_len,
                               char **data, size_t *len, bk_err *err);
bk_code ms3_server_delete_object(ms3_server *s, const char *bucket, const char *key, bk_err *err);
size_t ms3_server_object_count(ms3_server *s, const char *bucket);
size_t ms3_server_upload_count(ms3_server *s); /* multipart uploads in progress */

/* ---- Journal: append-only; entries are copied out so callers never race the server. */
typedef struct ms3_journal_entry {
    uint64_t seq;
    double time; /* unix seconds (mock clock) when the request arrived */
    uint16_t remote_port;
    char method[16];
    char operation[40]; /* S3 API name: "PutObject", ...; the credential services'
                           "STS.AssumeRole", "IMDS.GetToken", ...; "Admin" never appears */
    char *bucket;
    char *key;
    char *query;        /* raw query string without '?'; STS: its form parameters
                           but the token and policies */
    char *headers_json; /* JSON object of request headers, signature shortened */
    char auth[40];      /* "header","presigned","streaming-signed",
                           "streaming-unsigned-trailer","streaming-signed-trailer",
                           "anonymous","token" (IMDS, ECS, web identity),"none" */
    int auth_ok;
    char payload_hash_mode[48]; /* "UNSIGNED-PAYLOAD", "STREAMING-...", "sha256", "" */
    uint64_t request_body_size; /* bytes received on the wire */
    uint64_t response_size;     /* bytes of response body sent */
    int status;
    char error_code[48];
    double duration;
    /* Additions beyond the agreed core. */
    char access_key_id[64];
    uint64_t decoded_body_size; /* payload after aws-chunked decoding */
    char body_sha256[65];       /* hex of the decoded payload, "" when none was stored */
    char *error_message;        /* "" when none */
    char *fault; /* the fault rules that fired on it ("rule 2: delay 300 ms; rule 3: error 503
                    SlowDown"), "" when none */
    char *auth_detail_json; /* JSON object: why the signature was refused beyond the error,
                               on SignatureDoesNotMatch the mock's canonical_request and
                               string_to_sign (session tokens redacted); "{}" otherwise */
} ms3_journal_entry;

typedef struct ms3_journal_filter {
    const char *method;
    const char *operation;
    const char *key_prefix;
    int status;         /* 0 = any */
    uint64_t since_seq; /* entries with seq > since_seq */
    const char *bucket; /* NULL = any (addition) */
    size_t limit;       /* only the newest `limit` matching entries; 0 = all */
} ms3_journal_filter;

/* Copies matching entries into a newly allocated array; free with ms3_journal_entries_free.
 * f may be NULL (everything). */
size_t ms3_journal_query(ms3_server *s, const ms3_journal_filter *f, ms3_journal_entry **out);
void ms3_journal_entries_free(ms3_journal_entry *entries, size_t n);
size_t ms3_journal_count(ms3_server *s, const ms3_journal_filter *f);
/* The journal as the JSON array GET /_mock/journal returns (malloc'ed). */
char *ms3_journal_json(ms3_server *s, const ms3_journal_filter *f);
/* Entries dropped from memory to stay within journal_max since the journal
 * was last cleared (GET /_mock/journal says it in X-Mock-Journal-Dropped). */
uint64_t ms3_journal_dropped(ms3_server *s);

/* ---- Faults. A rule matches requests by method, operation, bucket and key glob
 * (fnmatch, NULL = any) and decides by occurrence which matches it fires on:
 *   nth: only the nth match (1-based); every_nth: matches n, 2n, 3n...;
 *   first_n: the first N matches; probability (0 < p <= 1) with a seeded generator.
 * All conditions set must hold; none set = every match. max_fires bounds the total
 * (0 = unbounded). Rules are evaluated in order: delays add up, and the first rule of
 * any other kind that fires is the one applied (later ones are not evaluated). */
typedef enum ms3_fault_action {
    MS3_FAULT_ERROR = 1,             /* S3 error: status + code (+ message); body discarded */
    MS3_FAULT_DELAY,                 /* wait delay_ms, then answer normally */
    MS3_FAULT_CUT_RESPONSE,          /* close the connection after cut_after bytes of body */
    MS3_FAULT_CUT_REQUEST,           /* close after receiving cut_after bytes of request body */
    MS3_FAULT_ERROR_200,             /* 200 OK whose body is an <Error> (nothing is changed) */
    MS3_FAULT_TINY_CHUNKS,           /* GET body sent in tiny odd-sized pieces */
    MS3_FAULT_IGNORE_RANGE,          /* GET ignores Range: 200 with the whole object */
    MS3_FAULT_HEAD_NO_LAST_MODIFIED, /* HEAD/GET answer without Last-Modified */
    MS3_FAULT_HEAD_NO_CONTENT_LENGTH /* HEAD answer without Content-Length */
} ms3_fault_action;

typedef struct ms3_fault_rule {
    const char *method;    /* NULL = any */
    const char *operation; /* NULL = any, else an operation name (journal) */
    const char *bucket;    /* NULL = any */
    const char *key_glob;  /* NULL = any */
    uint64_t nth, every_nth, first_n;
    double probability; /* 0 = not used */
    uint64_t seed;
    uint64_t max_fires; /* 0 = unbounded */
    ms3_fault_action action;
    int status;                /* ERROR / ERROR_200: default 503 */
    const char *error_code;    /* default "SlowDown" for 503, "InternalError" for 500 ... */
    const char *error_message; /* NULL = the S3 default text */
    uint32_t delay_ms;         /* DELAY; also applied before any other action */
    uint64_t cut_after;        /* CUT_*: bytes */
} ms3_fault_rule;

void ms3_fault_rule_init(ms3_fault_rule *r);
/* Returns the rule id (>= 1) in *id when id is not NULL. */
bk_code ms3_server_add_fault(ms3_server *s, const ms3_fault_rule *r, uint64_t *id, bk_err *err);
void ms3_server_clear_faults(ms3_server *s);
/* How often the rule fired so far (0 for an unknown id). */
uint64_t ms3_server_fault_fired(ms3_server *s, uint64_t id);

/* ---- Policies and behaviour switches. */
typedef enum ms3_access_profile {
    MS3_ACCESS_FULL = 0,
    MS3_ACCESS_READ_ONLY, /* writes -> 403 AccessDenied */
    MS3_ACCESS_NO_LIST,   /* no s3:ListBucket: missing keys -> 403, listing -> 403 */
} ms3_access_profile;

typedef struct ms3_bucket_policy {
    ms3_access_profile access;
    int require_content_md5;          /* object-lock default retention: PUT/UploadPart need
                                         Content-MD5 or x-amz-checksum-* (400 InvalidRequest) */
    int refuse_aws_chunked;           /* Oracle-style: aws-chunked -> 501 NotImplemented */
    int reject_empty_accept_encoding; /* HCP-style: Accept-Encoding "" -> 400 */
    int require_sse;                  /* writes without x-amz-server-side-encryption -> 403 */
} ms3_bucket_policy;

/* bucket NULL = every existing bucket and the default for buckets created later. */
bk_code ms3_server_set_bucket_policy(ms3_server *s, const char *bucket, const ms3_bucket_policy *p,
                                     bk_err *err);
/* An access profile bound to a credential; both it and the bucket's apply. */
bk_code ms3_server_set_credentials_profile(ms3_server *s, const char *access_key_id,
                                           ms3_access_profile profile, bk_err *err);
const char *ms3_access_profile_name(ms3_access_profile p); /* "full","read-only","no-list" */
int ms3_access_profile_parse(const char *name, ms3_access_profile *out);

/* A proxy in front of the server that rewrites requests after the client signed them. */
enum {
    MS3_PROXY_GFE_ACCEPT_ENCODING = 1,    /* Accept-Encoding: X -> "X,gzip(gfe)" (GCS) */
    MS3_PROXY_DROP_UNDERSCORE_HEADERS = 2 /* drop headers whose name contains '_' (nginx) */
};
void ms3_server_set_proxy_mode(ms3_server *s, unsigned flags);

/* ---- Behaviour presets: stores people ask about, played with the policies
 * and proxy rewrites above (oci, gcs, object-lock, no-list). The plain mock
 * stays AWS-like. Presets combine: their policies and rewrites add up. */
typedef struct ms3_behave_preset {
    const char *name;   /* "oci" */
    const char *store;  /* what it plays */
    const char *what;   /* what the mock then answers */
    const char *source; /* the field report (and issues) it comes from */
} ms3_behave_preset;

/* The i-th preset (0-based); NULL past the last. */
const ms3_behave_preset *ms3_behave_preset_get(size_t i);
/* The bucket policy and proxy flags (MS3_PROXY_*) of comma-separated preset
 * names; BK_EINVAL naming an unknown one and the known ones. */
bk_code ms3_behave_resolve(const char *names, ms3_bucket_policy *policy, unsigned *proxy,
                           bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
