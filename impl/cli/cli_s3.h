/* What the commands that talk to S3 share: the attribute string with its
 * warnings, the S3 cache with the network options, the export and import
 * runners with their progress and summary lines. */
#ifndef BKCACHE_CLI_S3_H
#define BKCACHE_CLI_S3_H

#include <stdint.h>
#include <stdio.h>

#include "bkcache/attrs.h"
#include "bkcache/exporter.h"
#include "bkcache/importer.h"
#include "bkcache/progress.h"
#include "bkcache/s3cache.h"
#include "cli_opts.h"

/* Parses ATTRS; prints each warning as "bkcache <cmd>: warning: ..." and an
 * error as one line. Returns 0, or the usage exit status. */
int cli_parse_attrs(const char *cmd, const char *text, int strict, bk_s3_attrs *out);

/* The S3 cache of the attributes, its client with the limits and TLS
 * settings of the options (NULL: the defaults). NULL after printing the
 * error. */
bk_s3cache *cli_s3_cache(const char *cmd, const bk_s3_attrs *attrs, const cli_options *o);
/* cli_s3_cache's two halves: the cache without a word (NULL, err filled),
 * and the -v / dry-run note of the addressing its client uses. */
bk_s3cache *cli_s3_open(const bk_s3_attrs *attrs, const cli_options *o, bk_err *err);
void cli_note_addressing(const char *cmd, bk_s3cache *cache, const cli_options *o);

/* bk_progress_emit with what the event echoes (keys, digests, messages from
 * the user or a server) escaped as cli_msg.h does. progress is a bk_progress. */
void cli_progress_emit(void *progress, const bk_progress_event *ev);

/* One line: blobs uploaded/touched/skipped, bytes, manifests, requests, time. */
void cli_print_export_summary(FILE *out, const bk_export_summary *s, int dry_run);

typedef struct cli_export_args {
    const char *cmd; /* for messages: "export", "push" */
    const bk_s3_attrs *attrs;
    const cli_options *opts;    /* progress, dry run, sizes, network */
    const bk_cache_config *cfg; /* S3 form */
    bk_store *store;
    bk_s3cache *cache;          /* NULL: one is opened from the attributes */
    bk_export_listing *listing; /* existence_check=list, started on cache; NULL: listed in turn */
    FILE *out;                  /* progress and summary; NULL = stderr */
    bk_export_summary *summary; /* filled when not NULL */
} cli_export_args;

/* The S3 cache (given or from the attributes), progress, the export, the
 * summary line; a dry run prints its plan on stdout. Returns the exit status:
 * 0 exported, 1 failed (error printed), 2 the client could not be configured
 * (error printed). */
int cli_run_export(const cli_export_args *a);

typedef struct cli_import_args {
    const char *cmd; /* "import", "pull" */
    const bk_s3_attrs *attrs;
    const cli_options *opts; /* progress, missing blobs */
    bk_s3cache *cache;       /* cli_s3_cache's, opened before anything is written */
    bk_store *dest;          /* NULL: existence checks only */
} cli_import_args;

/* The import with progress on stderr; res is filled (clear it with
 * bk_import_result_clear). Returns 0, or 1 after printing the error. */
int cli_run_import(const cli_import_args *a, bk_import_result *res);

#endif
