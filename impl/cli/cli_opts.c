#include "cli_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/s3.h"
#include "cli_io.h"
#include "cli_msg.h"

enum {
    OPT_CACHE_TO = CLI_OPT_BASE,
    OPT_CACHE_FROM,
    OPT_STRICT,
    OPT_DRY_RUN,
    OPT_PROGRESS,
    OPT_COPY_LIMIT,
    OPT_MULTIPART_THRESHOLD,
    OPT_PART_SIZE,
    OPT_MISSING_BLOBS,
    OPT_CONNECT_TIMEOUT,
    OPT_TIMEOUT,
    OPT_CA_BUNDLE,
    OPT_INSECURE,
};

/* The longest a limit in seconds may be: a day. */
#define MAX_SECONDS 86400.0

typedef struct shared_opt {
    unsigned group;
    struct option opt;
    const char *arg;  /* the argument's name in --help, NULL for a switch */
    const char *help; /* NULL: written by help_line() */
} shared_opt;

static const shared_opt shared_opts[] = {
    {CLI_CACHE_TO,
     {"cache-to", required_argument, NULL, OPT_CACHE_TO},
     "ATTRS",
     "type=s3,bucket=...,region=...[,name=a;b][,mode=max]..."},
    {CLI_CACHE_FROM,
     {"cache-from", required_argument, NULL, OPT_CACHE_FROM},
     "ATTRS",
     "type=s3,bucket=...,region=...[,name=a]..."},
    {CLI_STRICT,
     {"strict", no_argument, NULL, OPT_STRICT},
     NULL,
     "bad values BuildKit silently ignores are errors"},
    {CLI_DRY_RUN,
     {"dry-run", no_argument, NULL, OPT_DRY_RUN},
     NULL,
     "check what exists, print the plan, write nothing"},
    {CLI_PROGRESS, {"progress", required_argument, NULL, OPT_PROGRESS}, "MODE", NULL},
    {CLI_MISSING_BLOBS,
     {"missing-blobs", required_argument, NULL, OPT_MISSING_BLOBS},
     "MODE",
     "drop (default: drop the results that need them, warn)\n"
     "or error (fail)"},
    {CLI_SIZES,
     {"copy-limit", required_argument, NULL, OPT_COPY_LIMIT},
     "SIZE",
     "touch by multipart copy at or above SIZE (default 5G)"},
    {CLI_SIZES,
     {"multipart-threshold", required_argument, NULL, OPT_MULTIPART_THRESHOLD},
     "SIZE",
     "multipart uploads at or above SIZE (default 16M)"},
    {CLI_SIZES,
     {"part-size", required_argument, NULL, OPT_PART_SIZE},
     "SIZE",
     "multipart part size (default 8M)"},
    {CLI_NETWORK,
     {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
     "SECONDS",
     NULL},
    {CLI_NETWORK, {"timeout", required_argument, NULL, OPT_TIMEOUT}, "SECONDS", NULL},
    {CLI_NETWORK,
     {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
     "FILE",
     "PEM file of the CAs to trust for https (default:\n"
     "AWS_CA_BUNDLE, the profile's ca_bundle, else\n"
     "the system's)"},
    {CLI_NETWORK,
     {"insecure", no_argument, NULL, OPT_INSECURE},
     NULL,
     "do not verify TLS certificates (test servers only;\n"
     "warns on every run)"},
    {CLI_VERBOSE,
     {"verbose", no_argument, NULL, 'v'},
     NULL,
     "say how the bucket is addressed (path style or\n"
     "virtual host) and why, and which source of the\n"
     "credential chain supplied the credentials"},
};

#define N_SHARED (sizeof shared_opts / sizeof shared_opts[0])
#define HELP_COLUMN 22
#define HELP_TEXT_WIDTH 52 /* 80 columns with the option column */

int cli_progress_style(const char *arg, bk_progress_style *out)
{
    if (arg == NULL || strcmp(arg, "auto") == 0)
        *out = isatty(STDERR_FILENO) ? BK_PROGRESS_TTY : BK_PROGRESS_PLAIN;
    else if (strcmp(arg, "plain") == 0)
        *out = BK_PROGRESS_PLAIN;
    else if (strcmp(arg, "tty") == 0)
        *out = BK_PROGRESS_TTY;
    else if (strcmp(arg, "quiet") == 0)
        *out = BK_PROGRESS_QUIET;
    else
        return -1;
    return 0;
}

int cli_parse_size(const char *arg, uint64_t *out)
{
    char *end = NULL;
    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0)
        return -1;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024;
    else if (*end == 'M' || *end == 'm')
        mult = 1024ULL * 1024;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ULL * 1024 * 1024;
    else if (*end != '\0')
        return -1;
    if (mult != 1 && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

/* Seconds as a decimal number in (0, MAX_SECONDS], to milliseconds rounded up. */
static int parse_seconds(const char *arg, long *ms)
{
    char *end = NULL;
    double v = strtod(arg, &end);
    if (end == arg || *end != '\0' || !(v > 0) || v > MAX_SECONDS)
        return -1;
    double m = v * 1000.0;
    *ms = (long)m;
    if ((double)*ms < m)
        (*ms)++;
    return 0;
}

/* "auto (default), plain, tty or quiet" with the command's default marked. */
static void progress_help(char *buf, size_t size, const char *def)
{
    static const char *const modes[] = {"auto", "plain", "tty", "quiet"};
    size_t n = 0;
    for (size_t i = 0; i < 4 && n < size; i++) {
        const char *sep = i == 0 ? "" : i == 3 ? " or " : ", ";
        int w = snprintf(buf + n, size - n, "%s%s%s", sep, modes[i],
                         strcmp(modes[i], def) == 0 ? " (default)" : "");
        n += w > 0 ? (size_t)w : 0;
    }
}

/* "WHAT after SECONDS (default N)", the default on its own line when the
 * whole does not fit beside the option. */
static void limit_help(char *buf, size_t size, const char *what, long default_ms)
{
    char def[32];
    if (default_ms > 0)
        snprintf(def, sizeof def, "(default %ld)", default_ms / 1000);
    else
        snprintf(def, sizeof def, "(default: no limit)");
    int n = snprintf(buf, size, "%s after SECONDS %s", what, def);
    if (n > HELP_TEXT_WIDTH)
        snprintf(buf, size, "%s after SECONDS\n%s", what, def);
}

/* One option: its name and argument, then its help, continued lines
 * aligned under the first. */
static void help_line(FILE *out, const shared_opt *s, const char *progress_default)
{
    char left[64], text[160];
    snprintf(left, sizeof left, "%s--%s%s%s", s->opt.val == 'v' ? "-v, " : "", s->opt.name,
             s->arg ? " " : "", s->arg ? s->arg : "");
    bk_s3_config defaults;
    bk_s3_config_init(&defaults);
    const char *help = s->help;
    if (s->opt.val == OPT_PROGRESS) {
        progress_help(text, sizeof text, progress_default ? progress_default : "auto");
        help = text;
    } else if (s->opt.val == OPT_CONNECT_TIMEOUT) {
        limit_help(text, sizeof text, "give up connecting", defaults.connect_timeout_ms);
        help = text;
    } else if (s->opt.val == OPT_TIMEOUT) {
        limit_help(text, sizeof text, "give up a request attempt", defaults.request_timeout_ms);
        help = text;
    }
    cli_usage_line(out, left, help);
}

void cli_usage_line(FILE *out, const char *option, const char *text)
{
    if (strlen(option) > HELP_COLUMN)
        fprintf(out, "  %s\n  %-*s  ", option, HELP_COLUMN, "");
    else
        fprintf(out, "  %-*s  ", HELP_COLUMN, option);
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n')
            fprintf(out, "  %-*s  ", HELP_COLUMN, "");
    }
    fputc('\n', out);
}

void cli_usage_shared(FILE *out, unsigned shared, const char *progress_default)
{
    for (size_t i = 0; i < N_SHARED; i++)
        if (shared & shared_opts[i].group)
            help_line(out, &shared_opts[i], progress_default);
}

static const char *shared_name(int opt)
{
    for (size_t i = 0; i < N_SHARED; i++)
        if (shared_opts[i].opt.val == opt)
            return shared_opts[i].opt.name;
    return "?";
}

/* The value of one shared option; 0, or the exit status after one line. */
static int take_shared(const char *cmd, int opt, const char *arg, cli_options *o,
                       const char **progress_arg)
{
    uint64_t size = 0;
    switch (opt) {
    case OPT_CACHE_TO:
    case OPT_CACHE_FROM:
        o->attrs = arg;
        return 0;
    case OPT_STRICT:
        o->strict = 1;
        return 0;
    case OPT_DRY_RUN:
        o->dry_run = 1;
        return 0;
    case OPT_PROGRESS:
        *progress_arg = arg;
        return cli_progress_style(arg, &o->progress) == 0
                   ? 0
                   : cli_fail(cmd, "--progress must be auto, plain, tty or quiet");
    case OPT_MISSING_BLOBS:
        if (strcmp(arg, "drop") == 0)
            o->missing_blobs = BK_MISSING_DROP;
        else if (strcmp(arg, "error") == 0)
            o->missing_blobs = BK_MISSING_ERROR;
        else
            return cli_fail(cmd, "--missing-blobs must be drop or error");
        return 0;
    case OPT_COPY_LIMIT:
    case OPT_MULTIPART_THRESHOLD:
    case OPT_PART_SIZE:
        if (cli_parse_size(arg, &size) != 0 || size == 0)
            return cli_fail(cmd,
                            "--%s: invalid size \"%s\" (a number of bytes, more than 0, with an "
                            "optional K, M or G suffix)",
                            shared_name(opt), arg);
        *(opt == OPT_COPY_LIMIT            ? &o->copy_limit
          : opt == OPT_MULTIPART_THRESHOLD ? &o->multipart_threshold
                                           : &o->part_size) = size;
        return 0;
    case OPT_CONNECT_TIMEOUT:
    case OPT_TIMEOUT:
        if (parse_seconds(arg, opt == OPT_TIMEOUT ? &o->timeout_ms : &o->connect_timeout_ms) != 0)
            return cli_fail(cmd,
                            "%s must be a number of seconds, more than 0 and at most %.0f, "
                            "got \"%s\"",
                            opt == OPT_TIMEOUT ? "--timeout" : "--connect-timeout", MAX_SECONDS,
                            arg);
        return 0;
    case OPT_CA_BUNDLE:
        o->ca_bundle = arg;
        return 0;
    case OPT_INSECURE:
        o->insecure = 1;
        return 0;
    case 'v':
        o->verbose = 1;
        return 0;
    default:
        return cli_fail(cmd, "internal error: option %d has no handler", opt);
    }
}

/* The long options of c: its own, then the shared groups it takes. */
static size_t build_longopts(const cli_command *c, struct option *out, size_t cap)
{
    size_t n = 0;
    for (const struct option *p = c->own; p != NULL && p->name != NULL && n + 2 < cap; p++)
        out[n++] = *p;
    for (size_t i = 0; i < N_SHARED && n + 2 < cap; i++)
        if (c->shared & shared_opts[i].group)
            out[n++] = shared_opts[i].opt;
    out[n++] = (struct option){"help", no_argument, NULL, 'h'};
    out[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}

/* The option getopt could not take, as the user wrote it. */
static const char *offending(char **argv, char shortopt[3])
{
    if (optopt > 0 && optopt < CLI_OPT_BASE && argv[optind - 1][1] != '-') {
        shortopt[0] = '-';
        shortopt[1] = (char)optopt;
        shortopt[2] = '\0';
        return shortopt;
    }
    return argv[optind - 1];
}

/* Checks that come after every option was seen. */
static int finish(const cli_command *c, cli_options *o, const char *progress_arg, int operands)
{
    if ((c->needs_attrs && o->attrs == NULL) ||
        (c->operands != CLI_ANY_OPERANDS && operands != c->operands)) {
        c->usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (o->insecure)
        cli_warn(c->name, "--insecure: TLS certificates are not verified; anyone on the network "
                          "path can read and change what is sent and received");
    if (o->insecure && o->ca_bundle != NULL)
        return cli_fail(c->name, "--ca-bundle and --insecure contradict each other: give one");
    if (o->ca_bundle != NULL && cli_check_regular_file(c->name, "--ca-bundle", o->ca_bundle) != 0)
        return CLI_EXIT_USAGE;
    if (progress_arg == NULL)
        cli_progress_style(o->progress_default, &o->progress);
    return CLI_CONTINUE;
}

int cli_parse(const cli_command *c, int argc, char **argv, cli_options *o, int *first)
{
    const char *progress_default = o->progress_default;
    memset(o, 0, sizeof *o);
    o->progress_default = progress_default;
    o->missing_blobs = BK_MISSING_DROP;
    struct option longopts[64];
    build_longopts(c, longopts, sizeof longopts / sizeof longopts[0]);
    char shortopts[32];
    snprintf(shortopts, sizeof shortopts, ":h%s%s", c->shared & CLI_VERBOSE ? "v" : "",
             c->own_short ? c->own_short : "");
    const char *progress_arg = NULL;
    opterr = 0;
    optind = 1;
    char shortopt[3];
    int opt;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int status = 0;
        if (opt == 'h') {
            c->usage(stdout);
            return 0;
        } else if (opt == ':') {
            return cli_fail(c->name, "option %s needs a value", offending(argv, shortopt));
        } else if (opt == '?') {
            return cli_fail(c->name, "unknown option '%s' (see --help)", offending(argv, shortopt));
        } else if (opt >= CLI_OPT_BASE || (opt == 'v' && (c->shared & CLI_VERBOSE))) {
            status = take_shared(c->name, opt, optarg, o, &progress_arg);
        } else {
            status = c->on_own(c->ud, opt, optarg);
        }
        if (status != 0)
            return status;
    }
    *first = optind;
    return finish(c, o, progress_arg, argc - optind);
}
