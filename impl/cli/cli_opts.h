/* The CLI's one option layer. The options several commands share are
 * defined here once (name, argument, help line, validation); a command says
 * which groups it takes and adds its own long options. Every command parses
 * with getopt_long through cli_parse, so usage errors look the same
 * everywhere: one line naming the option, status 2. */
#ifndef BKCACHE_CLI_OPTS_H
#define BKCACHE_CLI_OPTS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "bkcache/importer.h"
#include "bkcache/progress.h"

/* The shared option groups a command takes. */
enum {
    CLI_CACHE_TO = 1u << 0,      /* --cache-to ATTRS */
    CLI_CACHE_FROM = 1u << 1,    /* --cache-from ATTRS */
    CLI_STRICT = 1u << 2,        /* --strict */
    CLI_DRY_RUN = 1u << 3,       /* --dry-run */
    CLI_PROGRESS = 1u << 4,      /* --progress MODE */
    CLI_SIZES = 1u << 5,         /* --copy-limit, --multipart-threshold, --part-size SIZE */
    CLI_MISSING_BLOBS = 1u << 6, /* --missing-blobs MODE */
    CLI_NETWORK = 1u << 7,       /* --connect-timeout, --timeout, --ca-bundle, --insecure */
    CLI_VERBOSE = 1u << 8,       /* -v, --verbose */
};

/* The values of the shared options (zero: not given, the library's default). */
typedef struct cli_options {
    const char *attrs; /* --cache-to or --cache-from */
    int strict;
    int dry_run;
    bk_progress_style progress;     /* resolved: auto becomes tty or plain */
    const char *progress_default;   /* set before cli_parse; NULL = "auto" */
    uint64_t copy_limit;            /* bytes */
    uint64_t multipart_threshold;   /* bytes */
    uint64_t part_size;             /* bytes */
    bk_missing_blobs missing_blobs; /* default drop */
    long connect_timeout_ms;
    long timeout_ms;
    const char *ca_bundle;
    int insecure;
    int verbose;
} cli_options;

/* Returns 0, or the exit status (after printing one line) for a bad value. */
typedef int (*cli_own_fn)(void *ud, int opt, const char *arg);

typedef struct cli_command {
    const char *name;         /* "export": messages say "bkcache export: ..." */
    unsigned shared;          /* CLI_* groups */
    const struct option *own; /* the command's own options, {0}-terminated; may be NULL.
                                 Their values must be below CLI_OPT_BASE. */
    const char *own_short;    /* getopt short options, e.g. "o:"; may be NULL */
    cli_own_fn on_own;        /* called for each own option */
    void *ud;                 /* passed to on_own */
    void (*usage)(FILE *out); /* --help on stdout; on stderr after a usage error */
    int operands;             /* how many operands it takes, or CLI_ANY_OPERANDS */
    int needs_attrs;          /* --cache-to / --cache-from must be given */
} cli_command;

#define CLI_OPT_BASE 0x100
#define CLI_CONTINUE (-1)
#define CLI_ANY_OPERANDS (-1) /* the command checks its operands itself */

/* Parses argv (argv[0] is the command's name) into o (zeroed first) and the
 * command's own options. On CLI_CONTINUE the operands are argv[*first..argc);
 * otherwise returns the exit status: 0 after --help, 2 after a usage error
 * (one line printed; the usage when operands or the attributes are missing).
 * Prints the --insecure warning (every run). */
int cli_parse(const cli_command *c, int argc, char **argv, cli_options *o, int *first);

/* The help lines of the shared options in the groups given, in a fixed
 * order (a command may print some groups before its own options). */
void cli_usage_shared(FILE *out, unsigned shared, const char *progress_default);

/* One help line in the same layout: "  --name ARG    text"; a '\n' in text
 * continues it aligned on the next line. */
void cli_usage_line(FILE *out, const char *option, const char *text);

/* "auto" (tty when stderr is a terminal), "plain", "tty", "quiet"; -1 when unknown. */
int cli_progress_style(const char *arg, bk_progress_style *out);

/* A byte count: digits with an optional K, M, G suffix (powers of 1024,
 * optionally followed by "B" or "iB"). 0 on success. */
int cli_parse_size(const char *arg, uint64_t *out);

#endif
