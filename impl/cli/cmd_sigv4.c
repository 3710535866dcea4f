/* bkcache sigv4 sign|presign: sign a raw HTTP/1.1 request read from stdin and
 * show the canonical request, string to sign and result, to debug
 * SignatureDoesNotMatch against any S3 implementation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bkcache/httpreq.h"
#include "bkcache/sigv4.h"
#include "cli_io.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cmd.h"

static const char usage_text[] =
    "usage: bkcache sigv4 sign    --access-key AK --secret-key SK --region R --service S\n"
    "                             [--date YYYYMMDDTHHMMSSZ] [--session-token T]\n"
    "                             [--unsigned-payload] < request.txt\n"
    "       bkcache sigv4 presign --access-key AK --secret-key SK --region R --service S\n"
    "                             --expires N [--date ...] [--session-token T] [--https]\n"
    "                             [--verbose] < request.txt\n"
    "\n"
    "Reads a raw HTTP/1.1 request on stdin: request line, headers, blank line,\n"
    "body. Lines end in LF or CRLF; a line starting with a blank continues the\n"
    "previous header; a header given twice is joined with ',' when signed.\n"
    "\n"
    "sign prints three sections, each after its marker line:\n"
    "  --- canonical-request\n"
    "  --- string-to-sign\n"
    "  --- authorization      (the Authorization header value)\n"
    "and, when it had to add headers the request must carry, a fourth:\n"
    "  --- added-headers      ('Name: value' lines)\n"
    "Every header present is signed. The time is the X-Amz-Date header, else\n"
    "--date, else now (an X-Amz-Date header is then added). The payload hash is\n"
    "the X-Amz-Content-SHA256 header, else UNSIGNED-PAYLOAD with\n"
    "--unsigned-payload (added as x-amz-content-sha256 for service s3), else the\n"
    "SHA-256 of the body. --session-token adds X-Amz-Security-Token (signed)\n"
    "unless the request has it. Service s3 uses S3's URI rules (path encoded\n"
    "once, not normalised); any other service the generic rules.\n"
    "\n"
    "presign prints the presigned URL, http://<Host><path>?<query> (https with\n"
    "--https), valid for --expires seconds (1..604800). The request's headers\n"
    "(at least Host) are signed; an X-Amz-Date header only gives the time. For\n"
    "s3 the payload is UNSIGNED-PAYLOAD. --verbose first prints the\n"
    "canonical-request and string-to-sign sections, then '--- url'.\n"
    "\n"
    "Bad input prints one line on stderr and exits with status 2.\n";

typedef struct options {
    int presign;
    const char *access_key, *secret_key, *region, *service, *date, *token;
    int unsigned_payload, https, verbose;
    long expires;
} options;

static void usage(FILE *out)
{
    fputs(usage_text, out);
}

static const struct option sigv4_options[] = {
    {"access-key", required_argument, NULL, 'a'},
    {"secret-key", required_argument, NULL, 's'},
    {"region", required_argument, NULL, 'r'},
    {"service", required_argument, NULL, 'S'},
    {"date", required_argument, NULL, 'd'},
    {"session-token", required_argument, NULL, 't'},
    {"unsigned-payload", no_argument, NULL, 'u'}, /* sign only */
    {"expires", required_argument, NULL, 'e'},    /* presign only */
    {"https", no_argument, NULL, 'H'},            /* presign only */
    {"verbose", no_argument, NULL, 'v'},          /* presign only */
    {NULL, 0, NULL, 0},
};

/* An option of the other subcommand is unknown to this one. */
static int wrong_subcommand(int opt)
{
    const char *name = "?";
    for (const struct option *p = sigv4_options; p->name != NULL; p++)
        if (p->val == opt)
            name = p->name;
    return cli_fail("sigv4", "unknown option '--%s' (see --help)", name);
}

static int on_option(void *ud, int opt, const char *arg)
{
    options *o = ud;
    int presign_only = opt == 'e' || opt == 'H' || opt == 'v';
    if ((opt == 'u' && o->presign) || (presign_only && !o->presign))
        return wrong_subcommand(opt);
    char *end = NULL;
    switch (opt) {
    case 'a':
        o->access_key = arg;
        break;
    case 's':
        o->secret_key = arg;
        break;
    case 'r':
        o->region = arg;
        break;
    case 'S':
        o->service = arg;
        break;
    case 'd':
        o->date = arg;
        break;
    case 't':
        o->token = arg;
        break;
    case 'u':
        o->unsigned_payload = 1;
        break;
    case 'H':
        o->https = 1;
        break;
    case 'v':
        o->verbose = 1;
        break;
    default: /* 'e' */
        o->expires = strtol(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || o->expires < 1 || o->expires > BK_SIGV4_MAX_EXPIRES)
            return cli_fail("sigv4", "--expires must be a number of seconds in 1..604800, got '%s'",
                            arg);
        break;
    }
    return 0;
}

/* argv[0] is "sign" or "presign". */
static int parse_options(int argc, char **argv, int presign, options *o)
{
    memset(o, 0, sizeof *o);
    o->presign = presign;
    o->expires = -1;
    const cli_command cmd = {.name = "sigv4",
                             .own = sigv4_options,
                             .on_own = on_option,
                             .ud = o,
                             .usage = usage,
                             .operands = CLI_ANY_OPERANDS};
    cli_options shared = {0};
    int first = 0;
    int status = cli_parse(&cmd, argc, argv, &shared, &first);
    if (status != CLI_CONTINUE)
        return status;
    if (first != argc)
        return cli_fail("sigv4", "unexpected argument '%s' (the request is read from stdin)",
                        argv[first]);
    const char *missing = o->access_key == NULL          ? "--access-key"
                          : o->secret_key == NULL        ? "--secret-key"
                          : o->region == NULL            ? "--region"
                          : o->service == NULL           ? "--service"
                          : o->presign && o->expires < 0 ? "--expires"
                                                         : NULL;
    if (missing != NULL)
        return cli_fail("sigv4", "missing required option %s", missing);
    return CLI_CONTINUE;
}

/* Adds a header to the request and to the list the user must send. */
static int add_header(bk_httpreq *r, bk_buf *added, const char *name, const char *value)
{
    bk_err err = {0};
    if (bk_httpreq_add_header(r, name, value, &err) != BK_OK)
        return cli_fail("sigv4", "%s", err.msg);
    bk_buf_printf(added, "%s: %s\n", name, value);
    return 0;
}

static int run(const options *o, bk_httpreq *r)
{
    bk_err err = {0};
    const char *host = bk_httpreq_header(r, "Host");
    if (host == NULL || host[0] == '\0')
        return cli_fail("sigv4", "the request has no Host header");
    char amz_date[17];
    const char *date_header = bk_httpreq_header(r, "X-Amz-Date");
    const char *date = date_header != NULL ? date_header : o->date;
    if (date != NULL) {
        time_t ignored;
        if (bk_sigv4_parse_amz_date(date, &ignored, &err) != BK_OK)
            return cli_fail("sigv4", "%s", err.msg);
        snprintf(amz_date, sizeof amz_date, "%s", date);
    } else {
        bk_sigv4_format_amz_date(time(NULL), amz_date);
    }
    bk_sigv4_signer *s =
        bk_sigv4_signer_new(o->access_key, o->secret_key, o->token, o->region, o->service, &err);
    if (s == NULL)
        return cli_fail("sigv4", "%s", err.msg);
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): parse_options requires --service */
    int is_s3 = strcmp(o->service, "s3") == 0;
    bk_buf added = BK_BUF_INIT;
    int rc = 0;
    char body_hash[65];
    bk_sigv4_sha256_hex(r->body, r->body_len, body_hash);
    const char *payload = bk_httpreq_header(r, "X-Amz-Content-SHA256");
    bk_sigv4_result res = {0};

    if (!o->presign) {
        if (date_header == NULL)
            rc = add_header(r, &added, "X-Amz-Date", amz_date);
        if (rc == 0 && o->token != NULL && o->token[0] != '\0' &&
            bk_httpreq_header(r, "X-Amz-Security-Token") == NULL)
            rc = add_header(r, &added, "X-Amz-Security-Token", o->token);
        if (rc == 0 && payload == NULL && o->unsigned_payload) {
            payload = BK_SIGV4_UNSIGNED_PAYLOAD;
            if (is_s3)
                rc = add_header(r, &added, "x-amz-content-sha256", payload);
        } else if (rc == 0 && payload != NULL && o->unsigned_payload &&
                   strcmp(payload, BK_SIGV4_UNSIGNED_PAYLOAD) != 0) {
            rc =
                cli_fail("sigv4", "--unsigned-payload contradicts the X-Amz-Content-SHA256 header");
        }
        if (payload == NULL)
            payload = body_hash;
    } else {
        /* The time travels in the query; a Date-like header is not signed. */
        bk_httpreq_remove_header(r, "X-Amz-Date");
        if (payload == NULL && !is_s3)
            payload = body_hash;
    }
    if (rc == 0) {
        bk_sigv4_request v = {.method = r->method,
                              .raw_path = r->raw_path,
                              .raw_query = r->raw_query,
                              .headers = r->headers,
                              .n_headers = r->n_headers,
                              .payload_hash = payload};
        bk_code brc = o->presign ? bk_sigv4_presign(s, &v, amz_date, o->expires, NULL, &res, &err)
                                 : bk_sigv4_sign(s, &v, amz_date, NULL, &res, &err);
        if (brc != BK_OK)
            rc = cli_fail("sigv4", "%s", err.msg);
    }
    if (rc == 0 && !o->presign) {
        printf("--- canonical-request\n%s\n--- string-to-sign\n%s\n--- authorization\n%s\n",
               res.canonical_request, res.string_to_sign, res.authorization);
        if (added.len > 0)
            printf("--- added-headers\n%s", bk_buf_str(&added));
    } else if (rc == 0) {
        if (o->verbose)
            printf("--- canonical-request\n%s\n--- string-to-sign\n%s\n--- url\n",
                   res.canonical_request, res.string_to_sign);
        /* For S3 the path is printed encoded once, a form every client can send. */
        bk_buf path = BK_BUF_INIT;
        if (!is_s3 || bk_sigv4_canonical_uri(r->raw_path, BK_SIGV4_PATH_S3, &path, &err) != BK_OK) {
            bk_buf_reset(&path);
            bk_buf_puts(&path, r->raw_path);
        }
        printf("%s://%s%s?%s\n", o->https ? "https" : "http", host, bk_buf_str(&path),
               res.presigned_query);
        bk_buf_clear(&path);
    }
    bk_sigv4_result_clear(&res);
    bk_buf_clear(&added);
    bk_sigv4_signer_free(s);
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        rc = cli_fail("sigv4", "cannot write the output");
    return rc;
}

int bk_cmd_sigv4(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    /* --help anywhere wins over the other arguments. */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (strcmp(argv[1], "sign") != 0 && strcmp(argv[1], "presign") != 0)
        return cli_fail("sigv4", "unknown subcommand '%s' (expected sign or presign)", argv[1]);
    options o;
    int status = parse_options(argc - 1, argv + 1, strcmp(argv[1], "presign") == 0, &o);
    if (status != CLI_CONTINUE)
        return status;
    size_t len = 0;
    char *text = NULL;
    status = cli_read_input("sigv4", "-", &text, &len);
    if (status != 0)
        return status;
    bk_httpreq r;
    bk_err err = {0};
    int rc;
    if (bk_httpreq_parse(text, len, &r, &err) != BK_OK) {
        rc = cli_fail("sigv4", "%s", err.msg);
    } else {
        rc = run(&o, &r);
        bk_httpreq_clear(&r);
    }
    free(text);
    return rc;
}
