/* What operations return, and how it is released: results, delete reports,
 * list pages (s3.h). Apart from the operations so that the XML readers that
 * fill them need nothing of the request engine. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/s3.h"

void bk_s3_result_clear(bk_s3_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_meta; i++) {
        free(r->meta[i].name);
        free(r->meta[i].value);
    }
    free(r->meta);
    memset(r, 0, sizeof *r);
}

const char *bk_s3_result_meta(const bk_s3_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_meta; i++)
        if (strcasecmp(r->meta[i].name, name) == 0)
            return r->meta[i].value;
    return NULL;
}

int bk_s3_result_is_not_found(const bk_s3_result *r)
{
    return r->status == 404 &&
           (strcmp(r->s3_code, "NoSuchKey") == 0 || strcmp(r->s3_code, "NotFound") == 0);
}

void bk_s3_delete_report_clear(bk_s3_delete_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_failures; i++)
        free(r->failures[i].key);
    free(r->failures);
    memset(r, 0, sizeof *r);
}

void bk_s3_list_page_clear(bk_s3_list_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_objects; i++)
        free(p->objects[i].key);
    free(p->objects);
    for (size_t i = 0; i < p->n_prefixes; i++)
        free(p->common_prefixes[i]);
    free(p->common_prefixes);
    free(p->next_continuation_token);
    memset(p, 0, sizeof *p);
}
