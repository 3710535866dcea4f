/* What the commands that talk to S3 share: the attribute string with its
 * warnings, the progress reporter, sizes on the command line. */
#ifndef BKCACHE_CLI_S3_H
#define BKCACHE_CLI_S3_H

#include <stdint.h>
#include <stdio.h>

#include "bkcache/attrs.h"
#include "bkcache/exporter.h"
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

#endif
