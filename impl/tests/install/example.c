/* The export and the import of bkcache/bkcache.h's comment, as a program
 * built against the installed headers and libraries (check-install).
 *   example                                  prints the library version
 *   example export DIR ATTRS                 a type=local cache dir to S3
 *   example import DIR ATTRS                 an S3 cache into a content store */
#include <stdio.h>
#include <string.h>

#include "bkcache/bkcache.h"

static int export_dir(bk_s3cache *cache, const char *dir, bk_err *err)
{
    bk_local_cache *local = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    bk_export_summary summary;
    int ok = bk_local_read(dir, NULL, &local, err) == BK_OK &&
             bk_local_to_s3(local, &cfg, err) == BK_OK &&
             (store = bk_store_open(dir, 0, err)) != NULL;
    if (ok) {
        bk_export_options o = {.cache = cache, .store = store};
        ok = bk_export_config(&o, cfg, &summary, err) == BK_OK;
    }
    if (ok)
        printf("%zu blobs: %zu uploaded, %zu touched, %zu skipped\n", summary.blobs,
               summary.uploaded, summary.touched, summary.skipped);
    bk_store_free(store);
    bk_config_free(cfg);
    bk_local_cache_free(local);
    return ok;
}

static int import_dir(bk_s3cache *cache, const char *dir, bk_err *err)
{
    bk_store *dest = bk_store_open(dir, 1, err);
    if (!dest)
        return 0;
    bk_import_options io = {.cache = cache, .dest = dest};
    bk_import_result res = {0};
    int ok = bk_import(&io, &res, err) == BK_OK;
    if (ok)
        printf("%zu blobs, %zu fetched\n", res.blobs, res.fetched);
    bk_import_result_clear(&res);
    bk_store_free(dest);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        printf("bkcache %s\n", bk_version());
        return 0;
    }
    if (argc != 4 || (strcmp(argv[1], "export") != 0 && strcmp(argv[1], "import") != 0)) {
        fprintf(stderr, "usage: example [export|import DIR ATTRS]\n");
        return 2;
    }
    bk_err err;
    bk_err_clear(&err);
    bk_s3_attrs attrs;
    if (bk_s3_attrs_parse(argv[3], NULL, &attrs, &err) != BK_OK) {
        fprintf(stderr, "example: %s\n", err.msg);
        return 2;
    }
    bk_s3cache *cache = bk_s3cache_open(&attrs, NULL, &err);
    int ok = cache != NULL && (strcmp(argv[1], "export") == 0 ? export_dir(cache, argv[2], &err)
                                                              : import_dir(cache, argv[2], &err));
    if (!ok)
        fprintf(stderr, "example: %s\n", err.msg);
    bk_s3cache_free(cache);
    bk_s3_attrs_clear(&attrs);
    return ok ? 0 : 1;
}
