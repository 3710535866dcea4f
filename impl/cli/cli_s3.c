#include "cli_s3.h"

#include <stdio.h>
#include <string.h>

#include "bkcache/s3cache.h"
#include "cli_msg.h"

int cli_parse_attrs(const char *cmd, const char *text, int strict, bk_s3_attrs *out)
{
    bk_attrs_options opts = {0};
    opts.strict = strict;
    bk_err err;
    bk_err_clear(&err);
    if (bk_s3_attrs_parse(text, &opts, out, &err) != BK_OK)
        return cli_fail(cmd, "%s", err.msg);
    for (size_t i = 0; i < out->n_warnings; i++)
        cli_warn(cmd, "%s", out->warnings[i]);
    return 0;
}

bk_s3cache *cli_s3_open(const bk_s3_attrs *attrs, const cli_options *o, bk_err *err)
{
    bk_s3cache_tuning tuning = {0};
    if (o != NULL) {
        tuning.multipart_threshold = o->multipart_threshold;
        tuning.part_size = o->part_size;
        tuning.connect_timeout_ms = o->connect_timeout_ms;
        tuning.request_timeout_ms = o->timeout_ms;
        tuning.ca_bundle = o->ca_bundle;
        tuning.insecure = o->insecure;
    }
    return bk_s3cache_open(attrs, &tuning, err);
}

void cli_note_addressing(const char *cmd, bk_s3cache *cache, const cli_options *o)
{
    if (o != NULL && (o->verbose || o->dry_run))
        cli_note(stderr, "%s: addressing: %s", cmd, bk_s3_client_addressing(cache->client));
}

bk_s3cache *cli_s3_cache(const char *cmd, const bk_s3_attrs *attrs, const cli_options *o)
{
    bk_err err;
    bk_err_clear(&err);
    bk_s3cache *cache = cli_s3_open(attrs, o, &err);
    if (cache == NULL)
        cli_fail(cmd, "%s", err.msg);
    else
        cli_note_addressing(cmd, cache, o);
    return cache;
}

/* -v: which source of the chain answered (never the credentials themselves);
 * nothing when no request was signed. */
static void note_credentials(const char *cmd, bk_s3cache *cache, const cli_options *o)
{
    if (o == NULL || !o->verbose || cache == NULL)
        return;
    char source[96];
    bk_s3_client_credentials_source(cache->client, source, sizeof source);
    if (source[0] != '\0')
        cli_note(stderr, "%s: credentials: %s", cmd, source);
}

void cli_progress_emit(void *progress, const bk_progress_event *ev)
{
    if (!bk_progress_shows(progress, ev->kind)) {
        bk_progress_emit(progress, ev); /* counts it; no text to escape */
        return;
    }
    bk_progress_event e = *ev;
    bk_buf digest = BK_BUF_INIT, key = BK_BUF_INIT, message = BK_BUF_INIT;
    if (ev->digest != NULL) {
        cli_escape(&digest, ev->digest);
        e.digest = bk_buf_str(&digest);
    }
    if (ev->key != NULL) {
        cli_escape(&key, ev->key);
        e.key = bk_buf_str(&key);
    }
    if (ev->message != NULL) {
        cli_escape(&message, ev->message);
        e.message = bk_buf_str(&message);
    }
    bk_progress_emit(progress, &e);
    bk_buf_clear(&digest);
    bk_buf_clear(&key);
    bk_buf_clear(&message);
}

void cli_print_export_summary(FILE *out, const bk_export_summary *s, int dry_run)
{
    char bytes[32];
    bk_format_bytes(s->bytes_uploaded, bytes, sizeof bytes);
    fprintf(out,
            "%s: %zu blobs: %zu uploaded (%zu re-uploaded), %zu touched, %zu skipped; %s "
            "uploaded; %zu manifest(s); %zu requests; %.2fs\n",
            dry_run ? "dry run" : "export", s->blobs, s->uploaded, s->reuploaded, s->touched,
            s->skipped, bytes, s->manifests, s->requests, s->seconds);
}

/* The dry run's answer: what the export would do with each blob, and why. */
static void print_plan(const bk_export_plan *plan)
{
    bk_buf text = BK_BUF_INIT;
    if (bk_export_plan_format(plan, &text, NULL) == BK_OK)
        fputs(bk_buf_str(&text), stdout);
    fflush(stdout);
    bk_buf_clear(&text);
}

int cli_run_export(const cli_export_args *a)
{
    bk_err err;
    bk_err_clear(&err);
    FILE *out = a->out != NULL ? a->out : stderr;
    bk_s3cache *own = NULL;
    if (a->cache == NULL && (own = cli_s3_cache(a->cmd, a->attrs, a->opts)) == NULL)
        return CLI_EXIT_USAGE;
    bk_progress *progress = bk_progress_new(out, a->opts->progress);
    bk_export_plan plan = {0};
    bk_export_options o = {0};
    o.cache = a->cache != NULL ? a->cache : own;
    o.store = a->store;
    o.plan = &plan;
    o.listing = a->listing;
    o.copy_limit = a->opts->copy_limit;
    o.multipart_threshold = a->opts->multipart_threshold;
    o.dry_run = a->opts->dry_run;
    o.progress = progress ? cli_progress_emit : NULL;
    o.progress_ud = progress;
    bk_export_summary local;
    bk_export_summary *summary = a->summary != NULL ? a->summary : &local;
    bk_code rc = bk_export_config(&o, a->cfg, summary, &err);
    bk_progress_free(progress);
    note_credentials(a->cmd, o.cache, a->opts);
    bk_s3cache_free(own);
    if (rc == BK_OK && a->opts->dry_run)
        print_plan(&plan);
    bk_export_plan_clear(&plan);
    if (rc != BK_OK) {
        cli_fail(a->cmd, "%s", err.msg);
        return CLI_EXIT_FAILED;
    }
    cli_print_export_summary(out, summary, a->opts->dry_run);
    fflush(out);
    return 0;
}

int cli_run_import(const cli_import_args *a, bk_import_result *res)
{
    bk_err err;
    bk_err_clear(&err);
    memset(res, 0, sizeof *res);
    bk_progress *progress = bk_progress_new(stderr, a->opts->progress);
    bk_import_options o = {0};
    o.cache = a->cache;
    o.dest = a->dest;
    o.missing = a->opts->missing_blobs;
    o.progress = progress ? cli_progress_emit : NULL;
    o.progress_ud = progress;
    bk_code rc = bk_import(&o, res, &err);
    bk_progress_free(progress);
    note_credentials(a->cmd, a->cache, a->opts);
    if (rc != BK_OK) {
        cli_fail(a->cmd, "%s", err.msg);
        return CLI_EXIT_FAILED;
    }
    return 0;
}
