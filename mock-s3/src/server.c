/* The HTTP layer: libmicrohttpd on a few threads, each polling its share of
 * the connections with epoll (or, as an option, a thread per connection),
 * request bodies streamed through the ingest pipeline as they arrive, memory
 * responses handed over as they are and object bodies produced by a reader
 * callback (so faults can cut or dribble them), and one journal entry per
 * finished request.
 *
 * A thread of the pool serves many connections, so nothing may sleep on it:
 * a delay fault, or the pause between two pieces of a tiny-chunks response,
 * suspends its connection and the server's timer resumes it when the time
 * is up; other connections go on meanwhile, as with a thread each. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "behave.h"
#include "request.h"
#include "server_internal.h"
#include "timer.h"

/* Bodies read from an object go out in pieces of this size. */
enum { READ_BLOCK = 64 * 1024 };
/* A connection's memory (request line, headers, the read and write buffers).
 * libmicrohttpd zeroes all of it between two requests on a kept-alive
 * connection, so it costs every request: 64 KiB holds any S3 request's
 * headers and reads bodies in 32 KiB pieces. */
enum { CONNECTION_MEMORY = 64 * 1024 };
/* The pause between two pieces of a tiny-chunks response, so they leave as
 * separate segments. */
enum { TINY_CHUNK_PAUSE_US = 200 };

/* A request and the connection that carries it. */
typedef struct exchange {
    ms3_req *r;
    struct MHD_Connection *conn;
    int waited;     /* the delay fault was waited out */
    uint64_t paced; /* tiny chunks: the paused-for position + 1 (0 = none yet) */
} exchange;

static int pooled(const ms3_server *s)
{
    return s->timer != NULL;
}

static void resume(void *ud)
{
    MHD_resume_connection(((exchange *)ud)->conn);
}

/* Suspends the connection until `us` have passed (pool only). Whatever
 * happens it is resumed: by the timer, or at once when the server stops. */
static void park(exchange *x, uint64_t us)
{
    MHD_suspend_connection(x->conn);
    if (ms3__timer_add(x->r->srv->timer, us, resume, x) != 0)
        MHD_resume_connection(x->conn);
}

/* ---------------------------------------------------------------- MHD callbacks */

/* MHD's reader protocol on top of ms3__req_read_response. */
static ssize_t body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    exchange *x = cls;
    ms3_req *r = x->r;
    int paced = r->fault.action == MS3_FAULT_TINY_CHUNKS && pos > 0;
    if (paced && pooled(r->srv) && x->paced != pos + 1) {
        x->paced = pos + 1;
        park(x, TINY_CHUNK_PAUSE_US);
        return 0; /* called again at the same position once resumed */
    }
    long n = ms3__req_read_response(r, pos, buf, max, !pooled(r->srv));
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

/* The MHD response: a memory body handed over as it is (no copy, no
 * buffer), else a reader with a buffer no larger than the body needs. */
static struct MHD_Response *make_response(exchange *x)
{
    ms3_req *r = x->r;
    size_t whole_len = 0;
    const char *whole = ms3__req_response_whole(r, &whole_len);
    if (whole != NULL)
        return MHD_create_response_from_buffer(whole_len, (void *)whole, MHD_RESPMEM_PERSISTENT);
    int64_t length = ms3__req_response_length(r);
    size_t block = READ_BLOCK;
    if (ms3__req_response_bodyless(r))
        block = 1; /* HEAD announces a length but sends nothing */
    else if (length >= 0 && (uint64_t)length < READ_BLOCK)
        block = (size_t)length;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        length < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)length, block, body_reader, x, NULL);
    if (resp != NULL && length < 0)
        MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    return resp;
}

/* Answers: after the delay fault's wait (parked on a pool, slept with a
 * thread per connection). */
static enum MHD_Result respond(exchange *x)
{
    ms3_req *r = x->r;
    if (pooled(r->srv) && r->fault.delay_ms > 0 && !x->waited) {
        x->waited = 1;
        park(x, (uint64_t)r->fault.delay_ms * 1000);
        return MHD_YES; /* called again once resumed */
    }
    ms3__req_respond(r, !pooled(r->srv));
    struct MHD_Response *resp = make_response(x);
    if (resp == NULL)
        return MHD_NO;
    for (size_t i = 0; i < r->resp.n_headers; i++)
        MHD_add_response_header(resp, r->resp.headers[i].name, r->resp.headers[i].value);
    enum MHD_Result rc = MHD_queue_response(x->conn, (unsigned)r->resp.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    uint16_t remote_port = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            remote_port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
        else if (sa->sa_family == AF_INET6)
            remote_port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    }
    exchange *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->conn = conn;
    x->r = ms3__req_new(cls, uri, remote_port);
    if (x->r == NULL) {
        free(x);
        return NULL;
    }
    return x;
}

/* A credential service's listener: the request is marked with its endpoint. */
static void *on_service_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const ms3_listener *l = cls;
    exchange *x = on_uri(l->srv, uri, conn);
    if (x != NULL)
        x->r->endpoint = l->endpoint;
    return x;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                      const char *value)
{
    (void)kind;
    ms3__req_add_header(cls, name, value); /* a failure is answered by ms3__req_begin */
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    exchange *x = *con_cls;
    if (x == NULL)
        return MHD_NO;
    ms3_req *r = x->r;
    if (!r->started) {
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, r);
        ms3__req_begin(r, method);
        if (ms3__req_decided(r))
            return respond(x); /* before the body: Expect: 100-continue gets the verdict */
        return MHD_YES;
    }
    if (r->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0 && !ms3__req_decided(r)) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return ms3__req_feed(r, upload_data, n) == 0 ? MHD_YES : MHD_NO;
    }
    /* The body is in, or the request was decided before it and waited out
     * its delay while the body came (what is left of it is dropped). */
    *upload_data_size = 0;
    if (!ms3__req_decided(r) && ms3__req_end_body(r) != 0)
        return MHD_NO;
    return respond(x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    exchange *x = *con_cls;
    if (x == NULL)
        return;
    int aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    char why[96] = "";
    if (aborted)
        snprintf(why, sizeof(why), "connection closed before the exchange completed (%d)",
                 (int)toe);
    ms3__req_complete(x->r, aborted, why);
    free(x);
    *con_cls = NULL;
}

static void quiet_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

/* ---------------------------------------------------------------- lifecycle */

/* A pool thread per CPU: the handlers never block on the network. */
static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
}

void ms3_options_init(ms3_options *o)
{
    memset(o, 0, sizeof(*o));
    o->listen_host = "127.0.0.1";
    o->region = "us-east-1";
    o->virtual_host_suffix = "localhost";
    o->min_part_size = UINT64_C(5) * 1024 * 1024;
    o->max_skew_seconds = 900;
    o->max_connections = 1024;
}

static char *dup_default(const char *s, const char *def)
{
    return strdup(s != NULL ? s : def);
}

ms3_server *ms3__server_create(const ms3_options *opts, bk_err *err)
{
    ms3_options defaults;
    ms3_options_init(&defaults);
    const ms3_options *o = opts != NULL ? opts : &defaults;
    ms3_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    ms3__sleeper_init(&s->sleeper);
    s->listen_host = dup_default(o->listen_host, "127.0.0.1");
    s->region = dup_default(o->region, "us-east-1");
    s->vhost_suffix = dup_default(o->virtual_host_suffix, "localhost");
    s->anonymous = o->anonymous;
    s->min_part_size = o->min_part_size ? o->min_part_size : UINT64_C(5) * 1024 * 1024;
    s->digests = bk_md5sha256_choose();
    s->max_skew_seconds = o->max_skew_seconds > 0 ? o->max_skew_seconds : 900;
    s->max_connections = o->max_connections ? o->max_connections : 1024;
    s->no_admin = o->no_admin;
    if (o->admin_token != NULL && (s->admin_token = strdup(o->admin_token)) == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        ms3_server_stop(s);
        return NULL;
    }
    ms3__clock_init(&s->clock, o->clock_offset);
    s->creds = ms3__creds_new();
    s->faults = ms3__faults_new();
    s->policies = ms3__policies_new();
    if (s->listen_host == NULL || s->region == NULL || s->vhost_suffix == NULL ||
        s->creds == NULL || s->faults == NULL || s->policies == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        ms3_server_stop(s);
        return NULL;
    }
    if (ms3__behave_apply(s->policies, o->behave, err) != BK_OK) {
        ms3_server_stop(s);
        return NULL;
    }
    s->journal = ms3__journal_new(o->journal_file, o->journal_max, err);
    if (s->journal == NULL) {
        ms3_server_stop(s);
        return NULL;
    }
    s->store = ms3__store_open(o->data_dir, err);
    if (s->store == NULL) {
        ms3_server_stop(s);
        return NULL;
    }
    s->uploads = ms3__uploads_new(ms3__store_data_dir(s->store), err);
    if (s->uploads == NULL) {
        ms3_server_stop(s);
        return NULL;
    }
    s->services = ms3__services_new(o, err);
    if (s->services == NULL) {
        ms3_server_stop(s);
        return NULL;
    }
    s->imds_listener = (ms3_listener){s, MS3_ENDPOINT_IMDS, NULL, ""};
    s->ecs_listener = (ms3_listener){s, MS3_ENDPOINT_ECS, NULL, ""};
    return s;
}

/* A libmicrohttpd daemon on host:port whose requests start with
 * uri_cb(cls); *bound gets the port. NULL + err when it cannot listen. */
static struct MHD_Daemon *listen_on(ms3_server *s, const char *host, uint16_t port,
                                    void *(*uri_cb)(void *, const char *, struct MHD_Connection *),
                                    void *cls, uint16_t *bound, bk_err *err)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        bk_err_set(err, BK_EINVAL, "listen address \"%s\" is not an IPv4 address", host);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    unsigned pool = 0;
    if (pooled(s)) {
        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
        flags |=
            MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_AUTO;
        pool = s->threads;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, s, MHD_OPTION_THREAD_POOL_SIZE, pool,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, uri_cb, cls,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_EXTERNAL_LOGGER, quiet_logger,
        NULL, MHD_OPTION_END);
    if (d == NULL) {
        bk_err_set(err, BK_EIO, "cannot listen on %s:%u (address in use or not permitted)", host,
                   (unsigned)port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound = info != NULL ? info->port : port;
    return d;
}

/* The IMDS or ECS listener when its service is on (host NULL = the S3
 * one's); BK_OK when off. */
static bk_code start_service_listener(ms3_server *s, ms3_listener *l, int on, const char *host,
                                      uint16_t port, const char *path, bk_err *err)
{
    if (!on)
        return BK_OK;
    if (host == NULL)
        host = s->listen_host;
    uint16_t bound = 0;
    bk_err e;
    l->daemon = listen_on(s, host, port, on_service_uri, l, &bound, &e);
    if (l->daemon == NULL)
        return bk_err_set(err, e.code, "%s listener: %s",
                          l->endpoint == MS3_ENDPOINT_IMDS ? "IMDS" : "ECS", e.msg);
    snprintf(l->url, sizeof(l->url), "http://%s:%u%s", host, (unsigned)bound, path);
    return BK_OK;
}

ms3_server *ms3_server_start(const ms3_options *opts, bk_err *err)
{
    ms3_options defaults;
    ms3_options_init(&defaults);
    const ms3_options *o = opts != NULL ? opts : &defaults;
    ms3_server *s = ms3__server_create(o, err);
    if (s == NULL)
        return NULL;
    if (!o->thread_per_connection && (s->timer = ms3__timer_new()) == NULL) {
        bk_err_set(err, BK_ENOMEM, "cannot start the timer thread");
        ms3_server_stop(s);
        return NULL;
    }
    s->threads = o->threads != 0 ? o->threads : default_threads();
    s->daemon = listen_on(s, s->listen_host, o->port, on_uri, s, &s->port, err);
    if (s->daemon == NULL ||
        start_service_listener(s, &s->imds_listener, o->imds, o->imds_host, o->imds_port, "",
                               err) != BK_OK ||
        start_service_listener(s, &s->ecs_listener, o->ecs, o->ecs_host, o->ecs_port,
                               ms3__services_ecs_path(s->services), err) != BK_OK) {
        ms3_server_stop(s);
        return NULL;
    }
    snprintf(s->url, sizeof(s->url), "http://%s:%u", s->listen_host, (unsigned)s->port);
    return s;
}

void ms3_server_stop(ms3_server *s)
{
    if (s == NULL)
        return;
    ms3__sleeper_stop(&s->sleeper);
    /* Parked connections resume now; libmicrohttpd must not stop with any. */
    ms3__timer_stop(s->timer);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    if (s->imds_listener.daemon != NULL)
        MHD_stop_daemon(s->imds_listener.daemon);
    if (s->ecs_listener.daemon != NULL)
        MHD_stop_daemon(s->ecs_listener.daemon);
    ms3__timer_free(s->timer);
    ms3__uploads_free(s->uploads);
    ms3__store_close(s->store);
    ms3__journal_free(s->journal);
    ms3__faults_free(s->faults);
    ms3__policies_free(s->policies);
    ms3__creds_free(s->creds);
    ms3__services_free(s->services);
    free(s->listen_host);
    free(s->region);
    free(s->vhost_suffix);
    if (s->admin_token != NULL)
        memset(s->admin_token, 0, strlen(s->admin_token));
    free(s->admin_token);
    ms3__sleeper_clear(&s->sleeper);
    free(s);
}

uint16_t ms3_server_port(const ms3_server *s)
{
    return s->port;
}

const char *ms3_server_url(const ms3_server *s)
{
    return s->url;
}

const char *ms3_server_region(const ms3_server *s)
{
    return s->region;
}

const char *ms3_server_imds_url(const ms3_server *s)
{
    return s->imds_listener.url;
}

const char *ms3_server_ecs_url(const ms3_server *s)
{
    return s->ecs_listener.url;
}
