/* What the commands that talk to S3 share: the attribute string with its
 * warnings, the progress reporter, sizes on the command line. */
#ifndef BKCACHE_CLI_S3_H
#define BKCACHE_CLI_S3_H

#include <stdint.h>
#include <stdio.h>

#include "bkcache/attrs.h"
#include "bkcache/exporter.h"
#include "bkcache/importer.h"
#include "bkcache/progress.h"

/* Parses ATTRS; prints each warning as "bkcache <cmd>: warning: ..." and an
 * error as one line. Returns 0, or 2 (usage error). */
int bk_cli_parse_attrs(const char *cmd, const char *text, int strict, bk_s3_attrs *out);

/* "plain", "tty", "quiet", or "auto" (tty when stderr is a terminal). -1 when unknown. */
int bk_cli_progress_style(const char *arg, bk_progress_style *out);

/* A byte count: digits with an optional K, M, G suffix (powers of 1024). 0 on success. */
int bk_cli_parse_size(const char *arg, uint64_t *out);

/* One line: blobs uploaded/touched/skipped, bytes, manifests, requests, time. */
void bk_cli_print_export_summary(FILE *out, const bk_export_summary *s, int dry_run);

typedef struct bk_cli_export_args {
    const char *cmd; /* for messages: "export", "push" */
    const bk_s3_attrs *attrs;
    const bk_cache_config *cfg; /* S3 form */
    bk_store *store;
    bk_progress_style style;
    int dry_run;
    uint64_t copy_limit, multipart_threshold, part_size; /* 0 = defaults */
    bk_s3_client *client;                                /* NULL: one is made from the attributes */
    FILE *out;                                           /* progress and summary; NULL = stderr */
    bk_export_summary *summary;                          /* filled when not NULL */
} bk_cli_export_args;

/* Client (given or from the attributes), progress, the export, the summary
 * line. Returns the exit status: 0 exported, 1 failed (error printed), 2 the
 * client could not be configured (error printed). */
int bk_cli_run_export(const bk_cli_export_args *a);

typedef struct bk_cli_import_args {
    const char *cmd; /* "import", "pull" */
    const bk_s3_attrs *attrs;
    bk_store *dest; /* NULL: existence checks only */
    bk_missing_blobs missing;
    bk_progress_style style;
} bk_cli_import_args;

/* The import with a client and progress on stderr; res is filled (clear it
 * with bk_import_result_clear). Exit status as bk_cli_run_export. */
int bk_cli_run_import(const bk_cli_import_args *a, bk_import_result *res);

#endif
