/* Small steps most checks share: run an export and report why it failed,
 * fetch an object, compare the keys in the bucket with the expected ones,
 * compare an imported graph with the manifest's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int conf_export_ok(conf_ctx *c, const char *suite, const char *check, const conf_export_opts *o)
{
    conf_run r;
    conf_export(c, o, &r);
    int ok = r.exit_code == 0 && !r.timed_out;
    if (!ok) {
        char why[1200];
        conf_fail(c, suite, check, "export of %s failed: %s", o->graph,
                  conf_run_why(&r, why, sizeof why));
    }
    conf_run_free(&r);
    return ok;
}

int conf_get_ok(conf_ctx *c, const char *suite, const char *check, const char *key, bk_buf *out)
{
    bk_err err;
    bk_err_clear(&err);
    int rc = conf_get(c, key, out, &err);
    if (rc == 1)
        return 1;
    if (rc == 0)
        conf_fail(c, suite, check, "%s does not exist", key);
    else
        conf_fail(c, suite, check, "cannot read %s: %s", key, err.msg);
    return 0;
}

void conf_strings_push(char ***arr, size_t *n, const char *s)
{
    char **na = realloc(*arr, (*n + 1) * sizeof *na);
    if (na == NULL)
        return;
    na[*n] = strdup(s);
    *arr = na;
    (*n)++;
}

int conf_expected_blob_keys(const char *manifest, size_t len, const char *blob_prefix, char ***keys,
                            size_t *n)
{
    char **digests = NULL;
    size_t nd = 0;
    *keys = NULL;
    *n = 0;
    if (conf_manifest_blobs(manifest, len, &digests, &nd) != 0)
        return -1;
    for (size_t i = 0; i < nd; i++) {
        char key[1024];
        snprintf(key, sizeof key, "%s%s", blob_prefix, digests[i]);
        conf_strings_push(keys, n, key);
    }
    conf_strings_free(digests, nd);
    return 0;
}

int conf_keys_equal(conf_ctx *c, const char *root, char **expected, size_t n, char *why,
                    size_t why_size)
{
    conf_object *objs = NULL;
    size_t no = 0;
    bk_err err;
    bk_err_clear(&err);
    if (conf_list(c, root, &objs, &no, &err) != 0) {
        snprintf(why, why_size, "cannot list %s: %s", root, err.msg);
        return 0;
    }
    int ok = 1;
    size_t missing = 0, extra = 0;
    char first_missing[512] = "", first_extra[512] = "";
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < no && !found; j++)
            found = strcmp(objs[j].key, expected[i]) == 0;
        if (!found && missing++ == 0)
            snprintf(first_missing, sizeof first_missing, "%s", expected[i]);
    }
    for (size_t j = 0; j < no; j++) {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(objs[j].key, expected[i]) == 0;
        if (!found && extra++ == 0)
            snprintf(first_extra, sizeof first_extra, "%s", objs[j].key);
    }
    if (missing || extra) {
        ok = 0;
        snprintf(why, why_size, "%zu expected key(s) missing%s%s%s, %zu unexpected%s%s%s", missing,
                 missing ? " (first: " : "", first_missing, missing ? ")" : "", extra,
                 extra ? " (first: " : "", first_extra, extra ? ")" : "");
    }
    conf_objects_free(objs, no);
    return ok;
}

/* The first record that differs, to say more than "not equal". */
static void describe_difference(json_t *want, json_t *got, char *why, size_t why_size)
{
    json_t *wr = json_object_get(want, "records"), *gr = json_object_get(got, "records");
    if (json_array_size(wr) != json_array_size(gr)) {
        snprintf(why, why_size, "imported %zu records, the manifest has %zu", json_array_size(gr),
                 json_array_size(wr));
        return;
    }
    for (size_t i = 0; i < json_array_size(wr); i++) {
        json_t *w = json_array_get(wr, i), *g = json_array_get(gr, i);
        if (json_equal(w, g))
            continue;
        char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        char *gs = json_dumps(g, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(why, why_size, "record %zu differs: expected %.300s, imported %.300s", i,
                 ws ? ws : "?", gs ? gs : "?");
        free(ws);
        free(gs);
        return;
    }
    snprintf(why, why_size, "graphs differ");
}

int conf_graph_matches(const char *adapter_out, const char *manifest, size_t len, char *why,
                       size_t why_size)
{
    bk_err err;
    bk_err_clear(&err);
    json_t *got = conf_canonical_graph(adapter_out, &err);
    if (got == NULL) {
        snprintf(why, why_size, "%s", err.msg);
        return 0;
    }
    json_t *want = manifest != NULL ? conf_expected_graph(manifest, len, &err)
                                    : json_pack("{s:[]}", "records");
    if (want == NULL) {
        json_decref(got);
        snprintf(why, why_size, "%s", err.msg);
        return 0;
    }
    int ok = json_equal(want, got);
    if (!ok)
        describe_difference(want, got, why, why_size);
    json_decref(want);
    json_decref(got);
    return ok;
}
