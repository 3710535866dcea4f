/* mock-s3: the standalone server. Reads its options, warns when the admin
 * endpoints are reachable beyond this machine without a token, starts, sets
 * up credentials, buckets, the access profile and the behaviour presets,
 * prints its URLs when ready and runs until SIGTERM or SIGINT. Exit status:
 * 0 after a signal, 1 when the server cannot start, 2 for a usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mock_s3.h"

#define MAX_CREDS 16
#define MAX_BUCKETS 64
#define MAX_LIST 64 /* --sts-role, --web-identity-token */
#define ADMIN_TOKEN_ENV "MOCK_S3_ADMIN_TOKEN"
#define TOKEN_FILE_MAX 4096

/* text in lines of at most `width` columns, every line but the first indented. */
static void print_wrapped(FILE *out, const char *text, int indent, int width)
{
    int col = indent;
    const char *p = text;
    while (*p != '\0') {
        int word = (int)strcspn(p, " ");
        if (col > indent && col + 1 + word > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", word, p);
        col += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void usage(FILE *out)
{
    fputs("usage: mock-s3 [options]\n"
          "An S3 server for tests: verifies SigV4, records every request, injects faults.\n"
          "\n"
          "  --listen HOST:PORT          address to listen on (default 127.0.0.1:0; port 0\n"
          "                              picks a free port, printed on the ready line)\n"
          "  --region REGION             region of the credential scope (default us-east-1)\n"
          "  --access-key ID             access key id; pair with --secret-key (repeatable)\n"
          "  --secret-key SECRET         secret of the preceding --access-key\n"
          "  --session-token TOKEN       session token of the preceding --access-key\n"
          "  --bucket NAME               create this bucket (repeatable)\n"
          "  --data-dir DIR              store objects and multipart uploads in progress\n"
          "                              under DIR (they survive restarts); default: memory\n"
          "  --journal FILE              append one JSON line per finished request (every\n"
          "                              request, headers whole); a FIFO needs its\n"
          "                              reader running before the mock starts\n"
          "  --journal-max N             requests the in-memory journal keeps, the oldest\n"
          "                              dropped first (default 100000); header values\n"
          "                              longer than 2 KiB are cut there, with a marker\n"
          "  --anonymous                 also accept unsigned requests\n"
          "  --virtual-host-suffix S     virtual-host style as BUCKET.S (default localhost)\n"
          "  --clock-offset SECONDS      shift the mock's clock (Last-Modified, skew, expiry)\n"
          "  --min-part-size BYTES       smallest non-last multipart part (default 5242880)\n"
          "  --access-profile P          full, read-only or no-list, for every bucket\n"
          "  --behave NAME               play a store (presets below; repeatable, they add up)\n"
          "  --admin-token TOKEN         every /_mock/ request must carry\n"
          "                              \"Authorization: Bearer TOKEN\" (401 otherwise);\n"
          "                              the journal page /_mock/ui asks for it\n"
          "  --admin-token-file FILE     the same, the token read from FILE (first line);\n"
          "                              or set " ADMIN_TOKEN_ENV " (a token on the\n"
          "                              command line is visible to other local users)\n"
          "  --no-admin                  turn the /_mock/ endpoints off (404)\n"
          "  --threads N                 threads serving the connections, each polling its\n"
          "                              share with epoll (default: one per CPU, up to 16)\n"
          "  --thread-per-connection     a thread for each connection instead\n"
          "  --help                      this text\n"
          "\n"
          "Credential services, for an AWS SDK's credential chain (off by default; the\n"
          "credentials they issue work for S3 until they expire on the mock's clock):\n"
          "  --sts                       STS on the S3 port: AssumeRole (signed) and\n"
          "                              AssumeRoleWithWebIdentity; clients set\n"
          "                              AWS_ENDPOINT_URL_STS to the mock's URL\n"
          "  --sts-role ARN              only this role may be assumed (repeatable;\n"
          "                              default: any well-formed role ARN)\n"
          "  --web-identity-token TOKEN  a token AssumeRoleWithWebIdentity accepts\n"
          "                              (repeatable)\n"
          "  --web-identity-token-file FILE  accept FILE's first line, read at every call\n"
          "  --credential-lifetime SECONDS   lifetime of issued credentials: STS without\n"
          "                              DurationSeconds, IMDS, ECS (default 3600)\n"
          "  --imds-listen HOST:PORT     IMDSv2 on its own port (port 0 picks one); clients\n"
          "                              set AWS_EC2_METADATA_SERVICE_ENDPOINT to it\n"
          "  --imds-role NAME            the role IMDS and ECS serve (default mock-s3-role)\n"
          "  --ecs-listen HOST:PORT      container credentials on their own port; clients\n"
          "                              set AWS_CONTAINER_CREDENTIALS_FULL_URI to it\n"
          "  --ecs-path PATH             the path they are served at (default /creds)\n"
          "  --ecs-token TOKEN           the Authorization the ECS endpoint requires\n"
          "  --ecs-token-file FILE       the same, FILE's first line, read at every call\n"
          "\n"
          "When ready it prints the line `mock-s3 listening on http://HOST:PORT`, then\n"
          "`mock-s3 imds on http://HOST:PORT` and `mock-s3 ecs on http://HOST:PORT/PATH`\n"
          "for the listeners asked for.\n"
          "Open http://HOST:PORT/_mock/ui in a browser to watch the journal live.\n"
          "\n"
          "Admin endpoints: under /_mock/ (journal, faults, clock, age, reset, buckets,\n"
          "credentials, policy, proxy; see mock-s3/README.md) anyone who can connect to\n"
          "the port can add credentials (and then read and write every bucket), reset\n"
          "(with --data-dir that deletes the stored files), inject faults, move the clock\n"
          "and read the journal (every key and access key id). They refuse requests from\n"
          "web pages (an Origin header, a POST that is not application/json, or, with\n"
          "no --admin-token, a Host that is no IP address, localhost or name without\n"
          "dots: a rebound DNS name). On 127.0.0.1 only this machine can reach them;\n"
          "listening anywhere else without --admin-token or --no-admin prints a warning.\n",
          out);
    fputs("\nBehaviour presets (--behave; without one the mock answers as AWS S3 does):\n", out);
    const ms3_behave_preset *b;
    char text[1024];
    for (size_t i = 0; (b = ms3_behave_preset_get(i)) != NULL; i++) {
        snprintf(text, sizeof(text), "%s: %s. From %s.", b->store, b->what, b->source);
        fprintf(out, "  %-13s", b->name);
        print_wrapped(out, text, 15, 80);
    }
}

/* What the command line asks for. */
typedef struct cli {
    ms3_options o;
    char host[256];
    const char *akids[MAX_CREDS], *secrets[MAX_CREDS], *tokens[MAX_CREDS];
    int n_akids, n_secrets;
    const char *buckets[MAX_BUCKETS];
    int n_buckets;
    const char *profile;
    char behave[256]; /* the --behave names, comma-separated */
    const char *admin_token_flag;
    const char *admin_token_file;
    char admin_token[TOKEN_FILE_MAX + 1];
    const char *sts_roles[MAX_LIST], *web_tokens[MAX_LIST];
    size_t n_sts_roles, n_web_tokens;
    char imds_host[256], ecs_host[256];
} cli;

/* Prints "mock-s3: <message> (see --help)"; returns the usage exit status. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mock-s3: %s (see --help)\n", msg);
    return 2;
}

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return *end == '\0' && errno == 0 ? 0 : -1;
}

/* HOST:PORT of a --*-listen flag into host (n bytes) and port. */
static int parse_host_port(const char *flag, const char *v, char *host, size_t n, uint16_t *port)
{
    const char *colon = strrchr(v, ':');
    unsigned long long p = 0;
    if (colon == NULL || colon == v || (size_t)(colon - v) >= n || parse_u64(colon + 1, &p) != 0 ||
        p > 65535)
        return usage_error("%s wants HOST:PORT, got \"%s\"", flag, v);
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static int parse_listen(cli *c, const char *v)
{
    c->o.listen_host = c->host;
    return parse_host_port("--listen", v, c->host, sizeof(c->host), &c->o.port);
}

static int add_to_list(const char *flag, const char **list, size_t *n, const char *v)
{
    if (*n == MAX_LIST)
        return usage_error("at most %d %s", MAX_LIST, flag);
    list[(*n)++] = v;
    return 0;
}

static int add_access_key(cli *c, const char *v)
{
    if (c->n_akids == MAX_CREDS)
        return usage_error("at most %d credentials", MAX_CREDS);
    c->akids[c->n_akids++] = v;
    return 0;
}

static int add_secret_key(cli *c, const char *v)
{
    if (c->n_secrets >= c->n_akids)
        return usage_error("--secret-key must follow its --access-key");
    c->secrets[c->n_secrets++] = v;
    return 0;
}

static int add_session_token(cli *c, const char *v)
{
    if (c->n_akids == 0)
        return usage_error("--session-token must follow its --access-key");
    c->tokens[c->n_akids - 1] = v;
    return 0;
}

static int add_bucket(cli *c, const char *v)
{
    if (c->n_buckets == MAX_BUCKETS)
        return usage_error("at most %d --bucket", MAX_BUCKETS);
    c->buckets[c->n_buckets++] = v;
    return 0;
}

static int add_behave(cli *c, const char *v)
{
    bk_err err;
    ms3_bucket_policy p;
    unsigned proxy;
    if (ms3_behave_resolve(v, &p, &proxy, &err) != BK_OK) {
        fprintf(stderr, "mock-s3: --behave: %s (see --help)\n", err.msg);
        return 2;
    }
    size_t used = strlen(c->behave);
    if (used + strlen(v) + 2 > sizeof(c->behave))
        return usage_error("too many --behave presets");
    snprintf(c->behave + used, sizeof(c->behave) - used, "%s%s", used ? "," : "", v);
    c->o.behave = c->behave;
    return 0;
}

static int parse_clock_offset(cli *c, const char *v)
{
    char *end = NULL;
    errno = 0;
    c->o.clock_offset = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0)
        return usage_error("--clock-offset wants whole seconds, got \"%s\"", v);
    return 0;
}

static int parse_positive(const char *flag, const char *v, unsigned long long *out)
{
    if (parse_u64(v, out) != 0 || *out == 0)
        return usage_error("%s wants a positive whole number, got \"%s\"", flag, v);
    return 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_REGION,
    OPT_ACCESS_KEY,
    OPT_SECRET_KEY,
    OPT_SESSION_TOKEN,
    OPT_BUCKET,
    OPT_DATA_DIR,
    OPT_JOURNAL,
    OPT_JOURNAL_MAX,
    OPT_ANONYMOUS,
    OPT_VHOST_SUFFIX,
    OPT_CLOCK_OFFSET,
    OPT_MIN_PART_SIZE,
    OPT_ACCESS_PROFILE,
    OPT_BEHAVE,
    OPT_ADMIN_TOKEN,
    OPT_ADMIN_TOKEN_FILE,
    OPT_NO_ADMIN,
    OPT_STS,
    OPT_STS_ROLE,
    OPT_WEB_IDENTITY_TOKEN,
    OPT_WEB_IDENTITY_TOKEN_FILE,
    OPT_CREDENTIAL_LIFETIME,
    OPT_IMDS_LISTEN,
    OPT_IMDS_ROLE,
    OPT_ECS_LISTEN,
    OPT_ECS_PATH,
    OPT_ECS_TOKEN,
    OPT_ECS_TOKEN_FILE,
    OPT_THREADS,
    OPT_THREAD_PER_CONNECTION,
};

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"region", required_argument, NULL, OPT_REGION},
    {"access-key", required_argument, NULL, OPT_ACCESS_KEY},
    {"secret-key", required_argument, NULL, OPT_SECRET_KEY},
    {"session-token", required_argument, NULL, OPT_SESSION_TOKEN},
    {"bucket", required_argument, NULL, OPT_BUCKET},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"journal-max", required_argument, NULL, OPT_JOURNAL_MAX},
    {"anonymous", no_argument, NULL, OPT_ANONYMOUS},
    {"virtual-host-suffix", required_argument, NULL, OPT_VHOST_SUFFIX},
    {"clock-offset", required_argument, NULL, OPT_CLOCK_OFFSET},
    {"min-part-size", required_argument, NULL, OPT_MIN_PART_SIZE},
    {"access-profile", required_argument, NULL, OPT_ACCESS_PROFILE},
    {"behave", required_argument, NULL, OPT_BEHAVE},
    {"admin-token", required_argument, NULL, OPT_ADMIN_TOKEN},
    {"admin-token-file", required_argument, NULL, OPT_ADMIN_TOKEN_FILE},
    {"no-admin", no_argument, NULL, OPT_NO_ADMIN},
    {"sts", no_argument, NULL, OPT_STS},
    {"sts-role", required_argument, NULL, OPT_STS_ROLE},
    {"web-identity-token", required_argument, NULL, OPT_WEB_IDENTITY_TOKEN},
    {"web-identity-token-file", required_argument, NULL, OPT_WEB_IDENTITY_TOKEN_FILE},
    {"credential-lifetime", required_argument, NULL, OPT_CREDENTIAL_LIFETIME},
    {"imds-listen", required_argument, NULL, OPT_IMDS_LISTEN},
    {"imds-role", required_argument, NULL, OPT_IMDS_ROLE},
    {"ecs-listen", required_argument, NULL, OPT_ECS_LISTEN},
    {"ecs-path", required_argument, NULL, OPT_ECS_PATH},
    {"ecs-token", required_argument, NULL, OPT_ECS_TOKEN},
    {"ecs-token-file", required_argument, NULL, OPT_ECS_TOKEN_FILE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"thread-per-connection", no_argument, NULL, OPT_THREAD_PER_CONNECTION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option of the credential services; 0, or the exit status of a usage
 * error. */
static int apply_service_option(cli *c, int opt, const char *v)
{
    unsigned long long n = 0;
    switch (opt) {
    case OPT_STS:
        c->o.sts = 1;
        return 0;
    case OPT_STS_ROLE:
        return add_to_list("--sts-role", c->sts_roles, &c->n_sts_roles, v);
    case OPT_WEB_IDENTITY_TOKEN:
        return add_to_list("--web-identity-token", c->web_tokens, &c->n_web_tokens, v);
    case OPT_WEB_IDENTITY_TOKEN_FILE:
        c->o.web_identity_token_file = v;
        return 0;
    case OPT_CREDENTIAL_LIFETIME:
        if (parse_positive("--credential-lifetime", v, &n) != 0)
            return 2;
        if (n > 43200)
            return usage_error("--credential-lifetime is at most 43200 seconds (12 hours), got %s",
                               v);
        c->o.credential_lifetime = (int64_t)n;
        return 0;
    case OPT_IMDS_LISTEN:
        c->o.imds = 1;
        c->o.imds_host = c->imds_host;
        return parse_host_port("--imds-listen", v, c->imds_host, sizeof(c->imds_host),
                               &c->o.imds_port);
    case OPT_IMDS_ROLE:
        c->o.imds_role = v;
        return 0;
    case OPT_ECS_LISTEN:
        c->o.ecs = 1;
        c->o.ecs_host = c->ecs_host;
        return parse_host_port("--ecs-listen", v, c->ecs_host, sizeof(c->ecs_host), &c->o.ecs_port);
    case OPT_ECS_PATH:
        if (v[0] != '/')
            return usage_error("--ecs-path must start with '/', got \"%s\"", v);
        c->o.ecs_path = v;
        return 0;
    case OPT_ECS_TOKEN:
        c->o.ecs_token = v;
        return 0;
    case OPT_ECS_TOKEN_FILE:
        c->o.ecs_token_file = v;
        return 0;
    default:
        return 2;
    }
}

/* One option; 0, or the exit status of a usage error. */
static int apply_option(cli *c, int opt, const char *v)
{
    unsigned long long n = 0;
    switch (opt) {
    case OPT_LISTEN:
        return parse_listen(c, v);
    case OPT_REGION:
        c->o.region = v;
        return 0;
    case OPT_ACCESS_KEY:
        return add_access_key(c, v);
    case OPT_SECRET_KEY:
        return add_secret_key(c, v);
    case OPT_SESSION_TOKEN:
        return add_session_token(c, v);
    case OPT_BUCKET:
        return add_bucket(c, v);
    case OPT_DATA_DIR:
        c->o.data_dir = v;
        return 0;
    case OPT_JOURNAL:
        c->o.journal_file = v;
        return 0;
    case OPT_JOURNAL_MAX:
        if (parse_positive("--journal-max", v, &n) != 0)
            return 2;
        c->o.journal_max = (size_t)n;
        return 0;
    case OPT_ANONYMOUS:
        c->o.anonymous = 1;
        return 0;
    case OPT_VHOST_SUFFIX:
        c->o.virtual_host_suffix = v;
        return 0;
    case OPT_CLOCK_OFFSET:
        return parse_clock_offset(c, v);
    case OPT_MIN_PART_SIZE:
        if (parse_positive("--min-part-size", v, &n) != 0)
            return 2;
        c->o.min_part_size = n;
        return 0;
    case OPT_ACCESS_PROFILE:
        c->profile = v;
        return 0;
    case OPT_BEHAVE:
        return add_behave(c, v);
    case OPT_ADMIN_TOKEN:
        c->admin_token_flag = v;
        return 0;
    case OPT_ADMIN_TOKEN_FILE:
        c->admin_token_file = v;
        return 0;
    case OPT_NO_ADMIN:
        c->o.no_admin = 1;
        return 0;
    case OPT_THREADS:
        if (parse_positive("--threads", v, &n) != 0)
            return 2;
        if (n > 256)
            return usage_error("--threads wants 1 to 256, got %llu", n);
        c->o.threads = (unsigned)n;
        return 0;
    case OPT_THREAD_PER_CONNECTION:
        c->o.thread_per_connection = 1;
        return 0;
    default:
        return apply_service_option(c, opt, v);
    }
}

/* The services' flags go with the service they configure. */
static int check_service_flags(cli *c)
{
    c->o.sts_roles = c->sts_roles;
    c->o.n_sts_roles = c->n_sts_roles;
    c->o.web_identity_tokens = c->web_tokens;
    c->o.n_web_identity_tokens = c->n_web_tokens;
    if (!c->o.sts && (c->n_sts_roles > 0 || c->n_web_tokens > 0 || c->o.web_identity_token_file))
        return usage_error("--sts-role and --web-identity-token(-file) configure STS: add --sts");
    if (!c->o.ecs && (c->o.ecs_path != NULL || c->o.ecs_token != NULL || c->o.ecs_token_file))
        return usage_error("--ecs-path and --ecs-token(-file) configure the ECS endpoint: add "
                           "--ecs-listen");
    if (!c->o.imds && !c->o.ecs && c->o.imds_role != NULL)
        return usage_error("--imds-role names the role IMDS and ECS serve: add --imds-listen or "
                           "--ecs-listen");
    if (!c->o.sts && !c->o.imds && !c->o.ecs && c->o.credential_lifetime != 0)
        return usage_error("--credential-lifetime applies to --sts, --imds-listen and "
                           "--ecs-listen: add one");
    return 0;
}

/* -1: --help was given (printed); 0, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof(*c));
    ms3_options_init(&c->o);
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    opterr = 0; /* the messages below name the option as given */
    int opt;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        const char *given = argv[optind - 1];
        if (opt == 'h') {
            usage(stdout);
            return -1;
        }
        if (opt == ':')
            return usage_error("%s needs a value", given);
        if (opt == '?')
            return usage_error("unknown option \"%s\"", given);
        int rc = apply_option(c, opt, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (c->n_secrets != c->n_akids)
        return usage_error("every --access-key needs a --secret-key");
    return check_service_flags(c);
}

/* The token file's first line. Only a regular file is read (a FIFO would
 * block the start). 0, or the exit status of a usage error. */
static int read_token_file(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "mock-s3: --admin-token-file %s: %s\n", path,
                fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return 2;
    }
    ssize_t got = read(fd, out, n - 1);
    close(fd);
    if (got < 0) {
        fprintf(stderr, "mock-s3: --admin-token-file %s: %s\n", path, strerror(errno));
        return 2;
    }
    out[got] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* --admin-token, --admin-token-file or the environment, at most one of the
 * flags, never with --no-admin, never empty. */
static int resolve_admin_token(cli *c)
{
    if (c->admin_token_flag != NULL && c->admin_token_file != NULL)
        return usage_error("give --admin-token or --admin-token-file, not both");
    const char *env = getenv(ADMIN_TOKEN_ENV);
    if (c->admin_token_flag != NULL) {
        snprintf(c->admin_token, sizeof(c->admin_token), "%s", c->admin_token_flag);
    } else if (c->admin_token_file != NULL) {
        int rc = read_token_file(c->admin_token_file, c->admin_token, sizeof(c->admin_token));
        if (rc != 0)
            return rc;
    } else if (env != NULL) {
        snprintf(c->admin_token, sizeof(c->admin_token), "%s", env);
    } else {
        return 0;
    }
    if (c->o.no_admin)
        return usage_error("--no-admin turns the admin endpoints off: no admin token goes with it");
    if (c->admin_token[0] == '\0')
        return usage_error(
            "the admin token is empty (--admin-token, --admin-token-file or " ADMIN_TOKEN_ENV ")");
    c->o.admin_token = c->admin_token;
    return 0;
}

/* 127.0.0.0/8: only this machine reaches it. */
static int is_loopback(const char *host)
{
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static void warn_exposure(const cli *c)
{
    if (c->o.no_admin || c->o.admin_token != NULL || is_loopback(c->o.listen_host))
        return;
    fprintf(stderr,
            "mock-s3: warning: listening on %s with the /_mock/ admin endpoints open to anyone "
            "who can connect: they add credentials, reset (and delete) the data, inject faults "
            "and show the journal. Set --admin-token (or --admin-token-file, " ADMIN_TOKEN_ENV
            ") or --no-admin.\n",
            c->o.listen_host);
}

/* Credentials, buckets and the access profile; 0 or the exit status. The
 * presets were applied when the server was made (ms3_options.behave). */
static int set_up(ms3_server *s, const cli *c)
{
    bk_err err;
    for (int i = 0; i < c->n_akids; i++) {
        if (ms3_server_add_credentials(s, c->akids[i], c->secrets[i], c->tokens[i], &err) != 0) {
            fprintf(stderr, "mock-s3: --access-key %s: %s\n", c->akids[i], err.msg);
            return 2;
        }
    }
    for (int i = 0; i < c->n_buckets; i++) {
        if (ms3_server_create_bucket(s, c->buckets[i], &err) != 0) {
            fprintf(stderr, "mock-s3: --bucket %s: %s\n", c->buckets[i], err.msg);
            return 2;
        }
    }
    if (c->profile != NULL) {
        /* On top of the presets' policy (validated when parsed). */
        ms3_bucket_policy p, behave;
        unsigned proxy;
        ms3_behave_resolve(c->behave, &behave, &proxy, NULL);
        p = behave;
        if (ms3_access_profile_parse(c->profile, &p.access) != 0 ||
            ms3_server_set_bucket_policy(s, NULL, &p, &err) != 0) {
            fprintf(stderr, "mock-s3: --access-profile must be full, read-only or no-list\n");
            return 2;
        }
        if (behave.access != MS3_ACCESS_FULL && p.access != behave.access) {
            fprintf(stderr, "mock-s3: --access-profile %s contradicts --behave %s\n", c->profile,
                    c->behave);
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc == 0)
        rc = resolve_admin_token(&c);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (c.n_akids == 0 && !c.o.anonymous)
        fprintf(stderr, "mock-s3: no credentials given: every request will be refused "
                        "(use --access-key/--secret-key or --anonymous)\n");
    warn_exposure(&c);

    /* Signals are taken by sigwait below; block them before any server thread exists. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    bk_err err;
    ms3_server *s = ms3_server_start(&c.o, &err);
    if (s == NULL) {
        fprintf(stderr, "mock-s3: %s\n", err.msg);
        return 1;
    }
    rc = set_up(s, &c);
    if (rc != 0) {
        ms3_server_stop(s);
        return rc;
    }
    printf("mock-s3 listening on %s\n", ms3_server_url(s));
    if (*ms3_server_imds_url(s) != '\0')
        printf("mock-s3 imds on %s\n", ms3_server_imds_url(s));
    if (*ms3_server_ecs_url(s) != '\0')
        printf("mock-s3 ecs on %s\n", ms3_server_ecs_url(s));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    ms3_server_stop(s);
    return 0;
}
