/* The store matrix in words: the grid of profiles x operations, the store's
 * answer for every cell that is not ok, one verdict per profile; the same
 * as JSON; and as the runner's results, for its JUnit writer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stores.h"

int stores_cell_ok(const stores_cell *cell)
{
    return cell->outcome == STORES_OK || cell->outcome == STORES_NA;
}

int stores_row_ok(const stores_row *row)
{
    for (int i = 0; i < STORES_N_OPS; i++)
        if (!stores_cell_ok(&row->cells[i]))
            return 0;
    return 1;
}

/* The cell's answer in one line: "501 NotImplemented: message", or what went
 * wrong after the store accepted the request. */
static void answer(const stores_cell *cell, char *out, size_t size)
{
    if (cell->outcome == STORES_REFUSED)
        snprintf(out, size, "%d %s%s%s", cell->status,
                 cell->error_code[0] ? cell->error_code : "(no error code)",
                 cell->detail[0] ? ": " : "", cell->detail);
    else if (cell->outcome == STORES_WRONG && cell->status > 0)
        snprintf(out, size, "accepted (%d), but %s", cell->status, cell->detail);
    else
        snprintf(out, size, "%s", cell->detail);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* ---- verdicts ---- */

#define OPS(x) (1u << (x))

typedef struct category {
    unsigned ops;
    const char *refused; /* what fails when the store refuses */
    const char *wrong;   /* when it accepts and gets it wrong */
} category;

static const category categories[] = {
    {OPS(STORES_HEAD_MISSING), "the existence check fails", "the existence check is wrong"},
    {OPS(STORES_PUT_SMALL) | OPS(STORES_PUT_MULTIPART) | OPS(STORES_PUT_MANIFEST), "uploads fail",
     "uploads are stored wrong"},
    {OPS(STORES_HEAD_PRESENT), "HEAD of a blob fails", "HEAD of a blob is wrong"},
    {OPS(STORES_TOUCH_COPY) | OPS(STORES_TOUCH_PART_COPY), "touch fails", "touch goes wrong"},
    {OPS(STORES_GET_RANGE) | OPS(STORES_GET_BACK), "downloads fail", "downloads come back wrong"},
    {OPS(STORES_LIST), "listing fails", "listing is wrong"},
};

/* A cut answer for a verdict line. */
static void short_answer(const stores_cell *cell, char *out, size_t size)
{
    char full[800];
    if (cell->outcome == STORES_WRONG)
        snprintf(full, sizeof full, "%s", cell->detail);
    else
        answer(cell, full, sizeof full);
    if (strlen(full) > 160) {
        /* Cut at a word (the last space of the first 157 bytes), else
         * before a character, never inside a UTF-8 sequence. */
        size_t cut = 157;
        while (cut > 100 && full[cut] != ' ')
            cut--;
        if (full[cut] != ' ')
            for (cut = 157; ((unsigned char)full[cut] & 0xC0) == 0x80; cut--)
                ;
        memcpy(full + cut, "...", 4);
    }
    snprintf(out, size, "%s", full);
}

/* Every cell the profile sends failed, and how the first one did that is
 * not a HEAD (whose answer has no body to quote). */
static const stores_cell *everything_failed(const stores_row *row)
{
    const stores_cell *first = NULL;
    int sent = 0;
    for (int i = 0; i < STORES_N_OPS; i++) {
        const stores_cell *cell = &row->cells[i];
        if (cell->outcome == STORES_NA)
            continue;
        if (cell->outcome == STORES_OK)
            return NULL;
        sent++;
        int head = i == STORES_HEAD_MISSING || i == STORES_HEAD_PRESENT;
        if (first == NULL || (!head && (first == &row->cells[STORES_HEAD_MISSING] ||
                                        first == &row->cells[STORES_HEAD_PRESENT])))
            first = cell;
    }
    return sent > 1 ? first : NULL;
}

void stores_verdict(const stores_row *row, char *out, size_t size)
{
    int used = snprintf(out, size, "%s: ", row->profile->buildkit);
    const stores_cell *all = everything_failed(row);
    char a[400];
    if (all != NULL) {
        short_answer(all, a, sizeof a);
        snprintf(out + used, size - (size_t)used, "every request fails \xe2\x80\x94 %s", a);
        return;
    }
    int said = 0;
    for (size_t k = 0; k < sizeof categories / sizeof categories[0]; k++) {
        const stores_cell *bad = NULL;
        unsigned failing = 0;
        for (int i = 0; i < STORES_N_OPS; i++)
            if ((categories[k].ops & OPS(i)) && !stores_cell_ok(&row->cells[i])) {
                failing |= OPS(i);
                if (bad == NULL)
                    bad = &row->cells[i];
            }
        if (bad == NULL || (size_t)used >= size)
            continue;
        const char *what =
            bad->outcome == STORES_WRONG ? categories[k].wrong : categories[k].refused;
        if (failing == OPS(STORES_PUT_MULTIPART) && bad->outcome != STORES_WRONG)
            what = "multipart uploads fail";
        short_answer(bad, a, sizeof a);
        used += snprintf(out + used, size - (size_t)used, "%s%s \xe2\x80\x94 %s", said ? "; " : "",
                         what, a);
        said = 1;
    }
    if (!said)
        snprintf(out + used, size - (size_t)used, "ok");
}

/* ---- text ---- */

/* Columns in display width, not bytes (profile names hold an en dash). */
static void pad(FILE *out, const char *s, int width)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xC0) != 0x80;
    fputs(s, out);
    for (; w < width; w++)
        fputc(' ', out);
}

static const char *grid_word(const stores_cell *cell, char *buf, size_t size)
{
    switch (cell->outcome) {
    case STORES_OK:
        return "ok";
    case STORES_NA:
        return "n/a";
    case STORES_REFUSED:
        snprintf(buf, size, "%d", cell->status);
        return buf;
    case STORES_WRONG:
        return "wrong";
    case STORES_NOT_RUN:
        return "not run";
    default:
        return "no answer";
    }
}

enum { NAME_W = 17, CELL_W = 10 };

static void print_grid(FILE *out, const stores_row *rows, size_t n)
{
    /* Two header lines: "head_missing" over "head" and "missing". */
    for (int line = 0; line < 2; line++) {
        pad(out, line == 0 ? "profile" : "", NAME_W);
        for (int i = 0; i < STORES_N_OPS; i++) {
            const char *name = stores_op_name((stores_op)i);
            const char *us = strchr(name, '_');
            char part[32];
            if (line == 0)
                snprintf(part, sizeof part, "%.*s", (int)(us ? us - name : (long)strlen(name)),
                         name);
            else
                snprintf(part, sizeof part, "%s", us ? us + 1 : "");
            pad(out, part, i + 1 < STORES_N_OPS ? CELL_W : 0);
        }
        fputc('\n', out);
    }
    for (size_t r = 0; r < n; r++) {
        pad(out, rows[r].profile->name, NAME_W);
        for (int i = 0; i < STORES_N_OPS; i++) {
            char buf[16];
            pad(out, grid_word(&rows[r].cells[i], buf, sizeof buf),
                i + 1 < STORES_N_OPS ? CELL_W : 0);
        }
        fputc('\n', out);
    }
}

void stores_print_text(FILE *out, const stores_row *rows, size_t n)
{
    print_grid(out, rows, n);
    int any = 0;
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < STORES_N_OPS; i++) {
            const stores_cell *cell = &rows[r].cells[i];
            if (stores_cell_ok(cell))
                continue;
            char a[1024];
            answer(cell, a, sizeof a);
            fprintf(out, "%s%s %s: %s\n", any ? "" : "\n", rows[r].profile->name,
                    stores_op_name((stores_op)i), a);
            any = 1;
        }
    fputc('\n', out);
    for (size_t r = 0; r < n; r++) {
        char v[2048];
        stores_verdict(&rows[r], v, sizeof v);
        fprintf(out, "%s\n", v);
    }
}

static const char *checksum_words(stores_checksum ck)
{
    switch (ck) {
    case STORES_CK_SDK_DEFAULT:
        return "CRC32 on PutObject and UploadPart (a header over http, an aws-chunked trailer "
               "over https), none declared on CreateMultipartUpload";
    case STORES_CK_TRANSFER_TRAILER:
        return "CRC32 on every upload in an aws-chunked unsigned trailer "
               "(STREAMING-UNSIGNED-PAYLOAD-TRAILER), declared";
    default:
        return "none (only where an operation requires one)";
    }
}

void stores_print_profiles(FILE *out)
{
    size_t n = 0;
    const stores_profile *p = stores_profiles(&n);
    for (size_t i = 0; i < n; i++) {
        fprintf(out,
                "%s (%s)\n"
                "  uploads:    %s, %llu MiB parts, multipart from %llu bytes\n"
                "  checksums:  %s\n"
                "  touch:      CopyObject onto itself, REPLACE, x-amz-meta-%s%s\n"
                "  reads:      %s\n"
                "  Accept-Encoding: %s\n"
                "  source:     %s\n",
                p[i].name, p[i].buildkit, p[i].uploader, (unsigned long long)(p[i].part_size >> 20),
                (unsigned long long)p[i].threshold, checksum_words(p[i].checksum), p[i].touch_meta,
                p[i].part_copy_touch ? "; UploadPartCopy at the copy limit" : "",
                p[i].range_get ? "Range: bytes=N- from an offset" : "whole objects",
                p[i].unsigned_gzip ? "none signed; Go's transport adds an unsigned gzip"
                                   : "signed (identity)",
                p[i].source);
    }
}

/* ---- JSON ---- */

char *stores_json(const stores_row *rows, size_t n)
{
    json_t *profiles = json_array();
    for (size_t r = 0; r < n; r++) {
        json_t *ops = json_array();
        for (int i = 0; i < STORES_N_OPS; i++) {
            const stores_cell *cell = &rows[r].cells[i];
            json_array_append_new(
                ops, json_pack("{s:s,s:b,s:i,s:s,s:s}", "operation", stores_op_name((stores_op)i),
                               "ok", stores_cell_ok(cell), "status", cell->status, "error_code",
                               cell->error_code, "detail", cell->detail));
        }
        json_array_append_new(profiles,
                              json_pack("{s:s,s:s,s:b,s:o}", "name", rows[r].profile->name,
                                        "buildkit", rows[r].profile->buildkit, "ok",
                                        stores_row_ok(&rows[r]), "operations", ops));
    }
    json_t *doc = json_pack("{s:o}", "profiles", profiles);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}

/* ---- JUnit ---- */

void stores_record_results(conf_ctx *c, const stores_row *rows, size_t n)
{
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < STORES_N_OPS; i++) {
            const stores_cell *cell = &rows[r].cells[i];
            char a[1024];
            answer(cell, a, sizeof a);
            conf_status st = cell->outcome == STORES_OK   ? CONF_PASS
                             : cell->outcome == STORES_NA ? CONF_SKIP
                                                          : CONF_FAIL;
            conf_result_add(c, rows[r].profile->name, stores_op_name((stores_op)i), st,
                            CONF_REQUIRED, NULL, a, cell->seconds);
        }
}
