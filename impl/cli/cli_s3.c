#include "cli_s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/s3cache.h"

int bk_cli_parse_attrs(const char *cmd, const char *text, int strict, bk_s3_attrs *out)
{
    bk_attrs_options opts = {0};
    opts.strict = strict;
    bk_err err;
    bk_err_clear(&err);
    if (bk_s3_attrs_parse(text, &opts, out, &err) != BK_OK) {
        fprintf(stderr, "bkcache %s: %s\n", cmd, err.msg);
        return 2;
    }
    for (size_t i = 0; i < out->n_warnings; i++)
        fprintf(stderr, "bkcache %s: warning: %s\n", cmd, out->warnings[i]);
    return 0;
}

int bk_cli_progress_style(const char *arg, bk_progress_style *out)
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

int bk_cli_parse_size(const char *arg, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg)
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
    *out = (uint64_t)v * mult;
    return 0;
}

void bk_cli_print_export_summary(FILE *out, const bk_export_summary *s, int dry_run)
{
    char bytes[32];
    bk_format_bytes(s->bytes_uploaded, bytes, sizeof bytes);
    fprintf(out,
            "%s: %zu blobs: %zu uploaded (%zu re-uploaded), %zu touched, %zu skipped; %s "
            "uploaded; %zu manifest(s); %zu requests; %.2fs\n",
            dry_run ? "dry run" : "export", s->blobs, s->uploaded, s->reuploaded, s->touched,
            s->skipped, bytes, s->manifests, s->requests, s->seconds);
}

int bk_cli_run_export(const bk_cli_export_args *a)
{
    bk_err err;
    bk_err_clear(&err);
    FILE *out = a->out != NULL ? a->out : stderr;
    bk_s3_client *own = NULL;
    if (a->client == NULL) {
        bk_s3cache_tuning tuning = {0};
        tuning.multipart_threshold = a->multipart_threshold;
        tuning.part_size = a->part_size;
        own = bk_s3cache_client_new(a->attrs, &tuning, &err);
        if (own == NULL) {
            fprintf(stderr, "bkcache %s: %s\n", a->cmd, err.msg);
            return 2;
        }
    }
    bk_progress *progress = bk_progress_new(out, a->style);
    bk_export_options o = {0};
    o.attrs = a->attrs;
    o.client = a->client != NULL ? a->client : own;
    o.store = a->store;
    o.copy_limit = a->copy_limit;
    o.multipart_threshold = a->multipart_threshold;
    o.dry_run = a->dry_run;
    o.progress = progress ? bk_progress_emit : NULL;
    o.progress_ud = progress;
    bk_export_summary local;
    bk_export_summary *summary = a->summary != NULL ? a->summary : &local;
    bk_code rc = bk_export_config(&o, a->cfg, summary, &err);
    bk_progress_free(progress);
    bk_s3_client_free(own);
    if (rc != BK_OK) {
        fprintf(stderr, "bkcache %s: %s\n", a->cmd, err.msg);
        return 1;
    }
    bk_cli_print_export_summary(out, summary, a->dry_run);
    fflush(out);
    return 0;
}

int bk_cli_run_import(const bk_cli_import_args *a, bk_import_result *res)
{
    bk_err err;
    bk_err_clear(&err);
    memset(res, 0, sizeof *res);
    bk_s3_client *client = bk_s3cache_client_new(a->attrs, NULL, &err);
    if (client == NULL) {
        fprintf(stderr, "bkcache %s: %s\n", a->cmd, err.msg);
        return 2;
    }
    bk_progress *progress = bk_progress_new(stderr, a->style);
    bk_import_options o = {0};
    o.attrs = a->attrs;
    o.client = client;
    o.dest = a->dest;
    o.missing = a->missing;
    o.progress = progress ? bk_progress_emit : NULL;
    o.progress_ud = progress;
    bk_code rc = bk_import(&o, res, &err);
    bk_progress_free(progress);
    bk_s3_client_free(client);
    if (rc != BK_OK) {
        fprintf(stderr, "bkcache %s: %s\n", a->cmd, err.msg);
        return 1;
    }
    return 0;
}
