/* integrity: what an importer does with a bucket that lies (SPEC 6 step 3;
 * field reports 24, 29). A blob whose bytes do not hash to its key (corrupt
 * or truncated) must never land in the content store under that digest, and
 * no imported result may use it; a missing blob either fails the import with
 * its name or drops the results that need it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SUITE "integrity"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_integrity_checks[] = {
    {"corrupt_blob_refused", CONF_REQUIRED, NULL},
    {"truncated_blob_refused", CONF_REQUIRED, NULL},
    {"missing_blob_handled", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

/* Any result chain of the imported graph that still contains digest. */
static int graph_uses(const char *out, const char *digest)
{
    json_t *g = json_loads(out ? out : "", JSON_DISABLE_EOF_CHECK, NULL);
    int uses = 0;
    size_t i, k, l;
    json_t *rec, *chain, *blob;
    json_array_foreach(json_object_get(g, "records"), i, rec)
    {
        json_array_foreach(json_object_get(rec, "results"), k, chain)
        {
            json_array_foreach(chain, l, blob)
            {
                const char *s = json_string_value(blob);
                if (s != NULL && strcmp(s, digest) == 0)
                    uses = 1;
            }
        }
    }
    int valid = g != NULL;
    json_decref(g);
    return valid ? uses : -1;
}

/* The top blob of the first record with a result: a blob a result needs. */
static int pick_victim(const bk_buf *m, char *digest, size_t size)
{
    json_t *doc = json_loadb(m->data, m->len, 0, NULL);
    json_t *layers = json_object_get(doc, "layers");
    size_t i;
    json_t *rec;
    int found = 0;
    json_array_foreach(json_object_get(doc, "records"), i, rec)
    {
        json_t *res = json_array_get(json_object_get(rec, "layers"), 0);
        if (res == NULL || found)
            continue;
        json_t *l =
            json_array_get(layers, (size_t)json_integer_value(json_object_get(res, "layer")));
        const char *b = json_string_value(json_object_get(l, "blob"));
        if (b != NULL) {
            snprintf(digest, size, "%s", b);
            found = 1;
        }
    }
    json_decref(doc);
    return found;
}

enum damage { CORRUPT, TRUNCATE, DELETE };

static void damaged_case(conf_ctx *c, const char *check, enum damage kind)
{
    char prefix[256], victim[128], key[512], dest[4300], why[1200] = "";
    conf_case_prefix(c, check, prefix, sizeof prefix);
    bk_buf m = BK_BUF_INIT, blob = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    if (conf_golden(c, "linear", "max", &m, &err) != BK_OK ||
        conf_seed(c, prefix, "buildkit", m.data, m.len, &err) != 0 ||
        !pick_victim(&m, victim, sizeof victim)) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg[0] ? err.msg : "no blob to damage");
        goto out;
    }
    snprintf(key, sizeof key, "%sblobs/%s", prefix, victim);
    if (kind == DELETE) {
        if (conf_delete(c, key, &err) != 0) {
            conf_fail(c, SUITE, check, "setup: %s", err.msg);
            goto out;
        }
    } else {
        if (conf_get(c, key, &blob, &err) != 1 || blob.len < 8) {
            conf_fail(c, SUITE, check, "setup: cannot read %s", key);
            goto out;
        }
        size_t len = blob.len;
        if (kind == CORRUPT)
            blob.data[len / 2] ^= 0x5a; /* same size, different bytes */
        else
            len -= len / 3;
        if (conf_put(c, key, blob.data, len, &err) != 0) {
            conf_fail(c, SUITE, check, "setup: %s", err.msg);
            goto out;
        }
    }
    char *attrs = conf_attrs(c, prefix, NULL);
    conf_run r;
    conf_import(c, attrs, NULL, dest, sizeof dest, &r);
    free(attrs);
    char path[4500], hex[65];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dest, victim + 7);
    int stored_bad = conf_file_sha256(path, hex, NULL) == 0 && strcmp(hex, victim + 7) != 0;
    if (r.timed_out || r.exit_code >= 128) {
        conf_fail(c, SUITE, check, "the importer hung or crashed: %s",
                  conf_run_why(&r, why, sizeof why));
    } else if (stored_bad) {
        conf_fail(c, SUITE, check, "the content store holds %s with bytes of sha256:%s", victim,
                  hex);
    } else if (r.exit_code != 0) {
        int named = strstr(r.err, victim) != NULL || strstr(r.err, victim + 7) != NULL;
        if (kind == DELETE && !named)
            conf_fail(c, SUITE, check, "the import failed without naming the missing blob: %s",
                      conf_run_why(&r, why, sizeof why));
        else
            conf_pass(c, SUITE, check, "import refused (exit %d)", r.exit_code);
    } else {
        int uses = graph_uses(r.out, victim);
        if (uses != 0)
            conf_fail(c, SUITE, check, "%s",
                      uses < 0 ? "import --json printed no graph"
                               : "the import succeeded and a result still uses the damaged blob");
        else
            conf_pass(c, SUITE, check, "results needing the blob were dropped");
    }
    conf_run_free(&r);
    conf_rmtree(dest);
out:
    bk_buf_clear(&m);
    bk_buf_clear(&blob);
}

void suite_integrity(conf_ctx *c)
{
    damaged_case(c, "corrupt_blob_refused", CORRUPT);
    damaged_case(c, "truncated_blob_refused", TRUNCATE);
    damaged_case(c, "missing_blob_handled", DELETE);
}
