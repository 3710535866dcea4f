/* Build-graph fixture loader (format: fixtures/README.md, "graphs"). Strict:
 * unknown keys and dangling references are errors, so a typo in a fixture
 * cannot silently change what a test means. */
#include "bkcache/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkcache/fileio.h"
#include "jsonpath.h"
#include "jsontree.h"
#include "strmap.h"

/* What the loader indexes once, so that nothing scans the graph per lookup. */
typedef struct graph_index {
    bk__strmap ids;   /* vertex id -> index */
    bk__strmap blobs; /* blob digest -> 1 + its size in the store, 0 when not there */
    bk__strmap descs; /* "blobs" entries: digest -> index into descs_of */
    bk_descriptor *descs_of;
    size_t n_descs;
    /* The layers written out in full in a result: they own their strings; a
     * layer named by digest or index borrows its "blobs" entry's. */
    bk_descriptor **owned_layers;
    size_t n_owned, cap_owned;
    int algo_fd;   /* the store's blobs/<algo_dir> directory, -1 until opened */
    char algo[32]; /* the algorithm it is for */
} graph_index;

/* A member of the fixture: "<parent's path><name>[index]". Errors name the
 * member they are about; the path is written out only then (writing it for
 * every member was a measurable part of loading a large fixture). */
typedef struct member {
    const struct member *parent; /* NULL for a top-level name */
    const char *name;
    size_t index;
    bool indexed;
} member;

enum { PATH_SIZE = 160 };

/* NOLINTNEXTLINE(misc-no-recursion): three deep at most (vertex, result/input, layer/link) */
static size_t put_path(const member *m, char *out, size_t n)
{
    if (m->parent != NULL)
        n = put_path(m->parent, out, n);
    for (const char *s = m->name; *s != '\0' && n + 1 < PATH_SIZE; s++)
        out[n++] = *s;
    if (!m->indexed)
        return n;
    char digits[24];
    size_t nd = 0;
    size_t i = m->index;
    do {
        digits[nd++] = (char)('0' + i % 10);
        i /= 10;
    } while (i != 0);
    if (n + 1 < PATH_SIZE)
        out[n++] = '[';
    while (nd > 0 && n + 1 < PATH_SIZE)
        out[n++] = digits[--nd];
    if (n + 1 < PATH_SIZE)
        out[n++] = ']';
    return n;
}

/* The member's path, for an error message, in out (PATH_SIZE bytes). */
static const char *path_of(const member *m, char *out)
{
    out[put_path(m, out, 0)] = '\0';
    return out;
}

/* Whether v is there and of that type (the tree's members are never NULL;
 * bk__jt_get's answer may be). */
static bool is_type(bk__jt_type type, const bk__jt *v)
{
    return v != NULL && v->type == type;
}

static bk_code only_keys(const bk__jt *obj, const char *const *allowed, const member *where,
                         bk_err *err)
{
    for (size_t k = 0; k < obj->n; k++) {
        const char *key = obj->u.kids[k].key;
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            char w[PATH_SIZE];
            return bk_err_set(err, BK_EINVAL, "%s: unknown key \"%s\"", path_of(where, w), key);
        }
    }
    return BK_OK;
}

static char *opt_string(const bk__jt *obj, const char *key)
{
    const bk__jt *v = bk__jt_get(obj, key);
    return is_type(BK__JT_STRING, v) ? strdup(v->u.string) : NULL;
}

static bk_code read_descriptor(const bk__jt *o, bk_descriptor *d, const member *where, bk_err *err)
{
    char w[PATH_SIZE];
    static const char *const keys[] = {"digest", "size", "mediaType", "diffID", "createdAt", NULL};
    if (!is_type(BK__JT_OBJECT, o))
        return bk_err_set(err, BK_EINVAL, "%s: a layer descriptor must be an object",
                          path_of(where, w));
    if (only_keys(o, keys, where, err) != BK_OK)
        return BK_EINVAL;
    d->digest = opt_string(o, "digest");
    d->media_type = opt_string(o, "mediaType");
    d->diff_id = opt_string(o, "diffID");
    if (!d->digest)
        return bk_err_set(err, BK_EINVAL, "%s: layer descriptor without \"digest\"",
                          path_of(where, w));
    const bk__jt *size = bk__jt_get(o, "size");
    if (!is_type(BK__JT_INTEGER, size))
        return bk_err_set(err, BK_EINVAL, "%s: layer descriptor without an integer \"size\"",
                          path_of(where, w));
    d->size = size->u.integer;
    if (d->size < 0)
        return bk_err_set(err, BK_EINVAL, "%s.size: %lld is negative", path_of(where, w),
                          (long long)d->size);
    const bk__jt *created = bk__jt_get(o, "createdAt");
    d->created_at = bk_time_zero();
    if (created) {
        bk_err terr;
        if (!is_type(BK__JT_STRING, created) ||
            bk_time_parse(created->u.string, created->n, &d->created_at, &terr) != BK_OK)
            return bk_err_set(err, BK_EINVAL, "%s.createdAt: not an RFC 3339 time",
                              path_of(where, w));
        d->has_created_at = true;
    }
    return BK_OK;
}

static long find_vertex(const bk_graph *g, const char *id)
{
    const graph_index *ix = g->index;
    size_t i;
    return bk__strmap_get(&ix->ids, id, &i) ? (long)i : -1;
}

/* A layer given by digest or by its index in the graph's "blobs": that entry
 * itself, its strings borrowed from the graph's one copy. */
static bk_code blob_ref(const bk_graph *g, const bk__jt *ref, bk_descriptor *d, const member *where,
                        bk_err *err)
{
    char w[PATH_SIZE];
    const graph_index *ix = g->index;
    size_t i;
    if (is_type(BK__JT_INTEGER, ref)) {
        int64_t n = ref->u.integer;
        if (n < 0 || (uint64_t)n >= ix->n_descs)
            return bk_err_set(err, BK_EINVAL, "%s: no graph.blobs[%lld] (have %zu blobs)",
                              path_of(where, w), (long long)n, ix->n_descs);
        i = (size_t)n;
    } else if (!bk__strmap_get(&ix->descs, ref->u.string, &i)) {
        return bk_err_set(err, BK_EINVAL, "%s: no blob \"%.80s\" in graph.blobs", path_of(where, w),
                          ref->u.string);
    }
    *d = ix->descs_of[i];
    return BK_OK;
}

/* A layer written out in full: read into *d, whose strings the graph frees
 * (recorded before reading, so that a half-read one is freed too). */
static bk_code own_layer(const bk_graph *g, const bk__jt *o, bk_descriptor *d, const member *where,
                         bk_err *err)
{
    graph_index *ix = g->index;
    if (ix->n_owned == ix->cap_owned) {
        size_t cap = ix->cap_owned ? ix->cap_owned * 2 : 64;
        bk_descriptor **grown = realloc(ix->owned_layers, cap * sizeof(bk_descriptor *));
        if (grown == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        ix->owned_layers = grown;
        ix->cap_owned = cap;
    }
    ix->owned_layers[ix->n_owned++] = d;
    return read_descriptor(o, d, where, err);
}

/* The optional "blobs": each layer descriptor once, for results that name
 * their layers by digest. */
static bk_code read_blobs(const bk__jt *blobs, graph_index *ix, bk_err *err)
{
    if (!blobs)
        return BK_OK;
    if (!is_type(BK__JT_ARRAY, blobs))
        return bk_err_set(err, BK_EINVAL, "graph.blobs: must be an array of layer descriptors");
    ix->descs_of = calloc(blobs->n + 1, sizeof *ix->descs_of);
    if (!ix->descs_of)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < blobs->n; i++) {
        const member m = {NULL, "graph.blobs", i, true};
        bk_descriptor *d = &ix->descs_of[ix->n_descs++];
        bk_code rc = read_descriptor(&blobs->u.kids[i], d, &m, err);
        if (rc != BK_OK)
            return rc;
        size_t seen;
        if (bk__strmap_get(&ix->descs, d->digest, &seen)) {
            char w[PATH_SIZE];
            return bk_err_set(err, BK_EINVAL, "%s: blob %.80s is already graph.blobs[%zu]",
                              path_of(&m, w), d->digest, seen);
        }
        char *key = strdup(d->digest);
        if (!key || !bk__strmap_put(&ix->descs, key, i)) {
            free(key);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
    }
    return BK_OK;
}

static bk_code read_result(const bk_graph *g, const bk__jt *res, bk_graph_vertex *v,
                           const member *where, bk_err *err)
{
    char w[PATH_SIZE];
    static const char *const keys[] = {"remote", "createdAt", "layers", NULL};
    if (!is_type(BK__JT_OBJECT, res) || only_keys(res, keys, where, err) != BK_OK)
        return bk_err_set(err, BK_EINVAL,
                          "%s: result must be an object with remote, createdAt, "
                          "layers",
                          path_of(where, w));
    v->has_result = true;
    v->remote = is_type(BK__JT_TRUE, bk__jt_get(res, "remote"));
    v->created_at = bk_time_zero();
    const bk__jt *created = bk__jt_get(res, "createdAt");
    bk_err terr;
    if (!is_type(BK__JT_STRING, created) ||
        bk_time_parse(created->u.string, created->n, &v->created_at, &terr) != BK_OK)
        return bk_err_set(err, BK_EINVAL, "%s.createdAt: missing or not an RFC 3339 time",
                          path_of(where, w));
    const bk__jt *layers = bk__jt_get(res, "layers");
    if (!is_type(BK__JT_ARRAY, layers))
        return bk_err_set(err, BK_EINVAL, "%s.layers: must be an array", path_of(where, w));
    v->n_layers = layers->n;
    v->layers = calloc(v->n_layers ? v->n_layers : 1, sizeof *v->layers);
    if (!v->layers)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n_layers; i++) {
        const member m = {where, ".layers", i, true};
        const bk__jt *l = &layers->u.kids[i];
        bk_code rc = is_type(BK__JT_STRING, l) || is_type(BK__JT_INTEGER, l)
                         ? blob_ref(g, l, &v->layers[i], &m, err)
                         : own_layer(g, l, &v->layers[i], &m, err);
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

static bk_code read_inputs(const bk_graph *g, const bk__jt *inputs, bk_graph_vertex *v,
                           const member *where, bk_err *err)
{
    char w[PATH_SIZE];
    static const char *const keys[] = {"vertex", "selector", NULL};
    if (!inputs)
        return BK_OK;
    if (!is_type(BK__JT_ARRAY, inputs))
        return bk_err_set(err, BK_EINVAL, "%s.inputs: must be an array of arrays",
                          path_of(where, w));
    v->n_inputs = inputs->n;
    v->inputs = calloc(v->n_inputs ? v->n_inputs : 1, sizeof *v->inputs);
    if (!v->inputs)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n_inputs; i++) {
        const bk__jt *in = &inputs->u.kids[i];
        if (!is_type(BK__JT_ARRAY, in) || in->n == 0)
            return bk_err_set(err, BK_EINVAL, "%s.inputs[%zu]: must be a non-empty array of links",
                              path_of(where, w), i);
        bk_graph_input *gi = &v->inputs[i];
        gi->n_links = in->n;
        gi->links = calloc(gi->n_links, sizeof *gi->links);
        if (!gi->links)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        for (size_t j = 0; j < gi->n_links; j++) {
            const bk__jt *l = &in->u.kids[j];
            const member in_m = {where, ".inputs", i, true};
            const member m = {&in_m, "", j, true};
            if (!is_type(BK__JT_OBJECT, l) || only_keys(l, keys, &m, err) != BK_OK)
                return bk_err_set(err, BK_EINVAL, "%s: a link is {\"vertex\": id, \"selector\"?}",
                                  path_of(&m, w));
            const bk__jt *target = bk__jt_get(l, "vertex");
            long idx = is_type(BK__JT_STRING, target) ? find_vertex(g, target->u.string) : -1;
            if (idx < 0)
                return bk_err_set(err, BK_EINVAL, "%s.vertex: no vertex with that id",
                                  path_of(&m, w));
            gi->links[j].vertex = (size_t)idx;
            gi->links[j].selector = opt_string(l, "selector");
        }
    }
    return BK_OK;
}

static bk_code read_graph(const bk__jt *root, const char *base_dir, bk_graph *g, bk_err *err)
{
    static const char *const top_keys[] = {"description", "store",   "blobs",
                                           "vertices",    "targets", NULL};
    static const char *const vertex_keys[] = {"id", "digest", "output", "inputs", "result", NULL};
    static const member top = {NULL, "graph", 0, false};
    if (!is_type(BK__JT_OBJECT, root) || only_keys(root, top_keys, &top, err) != BK_OK)
        return bk_err_set(err, BK_EINVAL,
                          "graph: expected an object with description, store, blobs, "
                          "vertices, targets");
    g->description = opt_string(root, "description");
    const bk__jt *store = bk__jt_get(root, "store");
    if (is_type(BK__JT_STRING, store)) {
        const char *s = store->u.string;
        size_t n = strlen(s) + (base_dir ? strlen(base_dir) : 0) + 2;
        g->store_dir = malloc(n);
        if (!g->store_dir)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        if (base_dir && s[0] != '/')
            snprintf(g->store_dir, n, "%s/%s", base_dir, s);
        else
            snprintf(g->store_dir, n, "%s", s);
    }
    bk_code rc = read_blobs(bk__jt_get(root, "blobs"), g->index, err);
    if (rc != BK_OK)
        return rc;
    const bk__jt *vertices = bk__jt_get(root, "vertices");
    if (!is_type(BK__JT_ARRAY, vertices))
        return bk_err_set(err, BK_EINVAL, "graph.vertices: must be an array");
    g->n_vertices = vertices->n;
    g->vertices = calloc(g->n_vertices ? g->n_vertices : 1, sizeof *g->vertices);
    if (!g->vertices)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    /* Ids first, so links may point forward. */
    for (size_t i = 0; i < g->n_vertices; i++) {
        const bk__jt *v = &vertices->u.kids[i];
        const member m = {NULL, "vertices", i, true};
        char w[PATH_SIZE];
        if (!is_type(BK__JT_OBJECT, v) || only_keys(v, vertex_keys, &m, err) != BK_OK)
            return bk_err_set(err, BK_EINVAL,
                              "%s: expected an object with id, digest, output, "
                              "inputs, result",
                              path_of(&m, w));
        g->vertices[i].id = opt_string(v, "id");
        g->vertices[i].digest = opt_string(v, "digest");
        if (!g->vertices[i].id || !g->vertices[i].digest)
            return bk_err_set(err, BK_EINVAL, "%s: \"id\" and \"digest\" are required",
                              path_of(&m, w));
        if (find_vertex(g, g->vertices[i].id) >= 0)
            return bk_err_set(err, BK_EINVAL, "%s: duplicate id \"%s\"", path_of(&m, w),
                              g->vertices[i].id);
        char *key = strdup(g->vertices[i].id);
        graph_index *ix = g->index;
        if (!key || !bk__strmap_put(&ix->ids, key, i)) {
            free(key);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        const bk__jt *out = bk__jt_get(v, "output");
        if (out && !is_type(BK__JT_INTEGER, out))
            return bk_err_set(err, BK_EINVAL, "%s.output: must be an integer", path_of(&m, w));
        g->vertices[i].output = out ? out->u.integer : 0;
    }
    for (size_t i = 0; i < g->n_vertices; i++) {
        const bk__jt *v = &vertices->u.kids[i];
        const member m = {NULL, "vertices", i, true};
        rc = read_inputs(g, bk__jt_get(v, "inputs"), &g->vertices[i], &m, err);
        const bk__jt *res = bk__jt_get(v, "result");
        if (rc == BK_OK && res && !is_type(BK__JT_NULL, res)) {
            const member res_m = {&m, ".result", 0, false};
            rc = read_result(g, res, &g->vertices[i], &res_m, err);
        }
        if (rc != BK_OK)
            return rc;
    }
    const bk__jt *targets = bk__jt_get(root, "targets");
    if (!is_type(BK__JT_ARRAY, targets) || targets->n == 0)
        return bk_err_set(err, BK_EINVAL, "graph.targets: must be a non-empty array of ids");
    g->n_targets = targets->n;
    g->targets = calloc(g->n_targets, sizeof *g->targets);
    if (!g->targets)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->n_targets; i++) {
        const bk__jt *t = &targets->u.kids[i];
        long idx = is_type(BK__JT_STRING, t) ? find_vertex(g, t->u.string) : -1;
        if (idx < 0)
            return bk_err_set(err, BK_EINVAL, "graph.targets[%zu]: no vertex with that id", i);
        g->targets[i] = (size_t)idx;
    }
    return BK_OK;
}

/* Text the tree refused: jansson's account of why, as the other readers of
 * JSON fixtures give it (position, or the path of a number out of range). */
static bk_code syntax_error(const char *json, size_t len, bk_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (root != NULL) { /* the two readers disagree: still refused, never half-read */
        json_decref(root);
        return bk_err_set(err, BK_EINVAL, "graph: invalid JSON");
    }
    char msg[640];
    if (bk__json_range_error(json, len, &jerr, msg, sizeof msg))
        return bk_err_set(err, BK_EINVAL, "%s", msg);
    return bk_err_set(err, BK_EINVAL, "graph: invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
}

bk_code bk_graph_parse(const char *json, size_t len, const char *base_dir, bk_graph **out,
                       bk_err *err)
{
    *out = NULL;
    bool nomem = false;
    bk__jt_doc *doc = bk__jt_parse(json, len, &nomem);
    if (doc == NULL)
        return nomem ? bk_err_set(err, BK_ENOMEM, "out of memory reading the graph")
                     : syntax_error(json, len, err);
    bk_graph *g = calloc(1, sizeof *g);
    if (g)
        g->index = calloc(1, sizeof(graph_index));
    if (g && g->index)
        ((graph_index *)g->index)->algo_fd = -1;
    bk_code rc = g && g->index ? read_graph(bk__jt_root(doc), base_dir, g, err)
                               : bk_err_set(err, BK_ENOMEM, "out of memory");
    bk__jt_free(doc);
    if (rc != BK_OK) {
        bk_graph_free(g);
        return rc;
    }
    *out = g;
    return BK_OK;
}

bk_code bk_graph_load(const char *path, bk_graph **out, bk_err *err)
{
    *out = NULL;
    FILE *f = NULL;
    bk_code rc = bk_fopen_regular(path, "graph", &f, err);
    if (rc != BK_OK)
        return rc;
    /* Read at the file's size, straight into one buffer (no copy per chunk,
     * no doubling past it); a file that grows meanwhile still reads whole. */
    struct stat st;
    size_t cap = fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 8192;
    size_t len = 0, n;
    char *data = malloc(cap);
    while (data != NULL && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        char *p = len == cap ? realloc(data, cap * 2) : data;
        if (p == NULL)
            free(data);
        else if (len == cap)
            cap *= 2;
        data = p;
    }
    if (data == NULL) {
        fclose(f);
        return bk_err_set(err, BK_ENOMEM, "out of memory reading %s", path);
    }
    fclose(f);
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    rc = bk_graph_parse(data, len, slash ? dir : ".", out, err);
    if (rc != BK_OK)
        bk_err_prefix(err, "%s: ", path);
    free(dir);
    free(data);
    return rc;
}

void bk_graph_free(bk_graph *g)
{
    if (!g)
        return;
    graph_index *ix = g->index;
    for (size_t i = 0; ix != NULL && i < ix->n_owned; i++)
        bk_descriptor_clear(ix->owned_layers[i]);
    for (size_t i = 0; i < g->n_vertices; i++) {
        bk_graph_vertex *v = &g->vertices[i];
        free(v->id);
        free(v->digest);
        for (size_t j = 0; v->inputs && j < v->n_inputs; j++) {
            for (size_t k = 0; v->inputs[j].links && k < v->inputs[j].n_links; k++)
                free(v->inputs[j].links[k].selector);
            free(v->inputs[j].links);
        }
        free(v->inputs);
        /* A loaded graph frees its layers' strings with owned_layers and the
         * "blobs" entries; in one built by hand every layer owns its own. */
        for (size_t j = 0; ix == NULL && v->layers && j < v->n_layers; j++)
            bk_descriptor_clear(&v->layers[j]);
        free(v->layers);
    }
    free(g->vertices);
    free(g->targets);
    free(g->store_dir);
    free(g->description);
    if (ix) {
        free(ix->owned_layers);
        bk__strmap_clear(&ix->ids);
        bk__strmap_clear(&ix->blobs);
        bk__strmap_clear(&ix->descs);
        if (ix->algo_fd >= 0)
            close(ix->algo_fd);
        for (size_t i = 0; i < ix->n_descs; i++)
            bk_descriptor_clear(&ix->descs_of[i]);
        free(ix->descs_of);
        free(ix);
    }
    free(g);
}

/* The colon of a digest that names a file of the store ("algo:hex", neither
 * part empty nor leaving its directory), NULL for any other. */
static const char *store_colon(const char *digest)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    if (!colon || colon == digest || !colon[1] || strchr(colon + 1, '/') ||
        memchr(digest, '/', (size_t)(colon - digest)) || strstr(digest, ".."))
        return NULL;
    return colon;
}

char *bk_store_blob_path(const char *store_dir, const char *digest)
{
    const char *colon = store_colon(digest);
    if (!colon)
        return NULL;
    size_t n = strlen(store_dir) + strlen(digest) + 16;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/blobs/%.*s/%s", store_dir, (int)(colon - digest), digest, colon + 1);
    return p;
}

/* The store's directory for the digest's algorithm, opened once for the
 * graph (a blob is then one lookup in it, not a walk of its whole path);
 * -1 when it cannot be opened. */
static int algo_dir(const bk_graph *g, graph_index *ix, const char *digest, const char *colon)
{
    size_t n = (size_t)(colon - digest);
    if (n >= sizeof ix->algo)
        return -1;
    if (ix->algo_fd >= 0 && strlen(ix->algo) == n && memcmp(ix->algo, digest, n) == 0)
        return ix->algo_fd;
    if (ix->algo_fd >= 0)
        close(ix->algo_fd);
    ix->algo[0] = '\0';
    size_t len = strlen(g->store_dir) + n + 16;
    char *dir = malloc(len);
    if (dir)
        snprintf(dir, len, "%s/blobs/%.*s", g->store_dir, (int)n, digest);
    ix->algo_fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    if (ix->algo_fd >= 0) {
        memcpy(ix->algo, digest, n);
        ix->algo[n] = '\0';
    }
    return ix->algo_fd;
}

/* 1 + the size of the blob's regular file in the store, 0 when there is none. */
static size_t stat_blob(const bk_graph *g, graph_index *ix, const char *digest)
{
    const char *colon = store_colon(digest);
    if (!colon)
        return 0;
    struct stat st;
    int dir = ix ? algo_dir(g, ix, digest, colon) : -1;
    bool ok;
    if (dir >= 0) {
        ok = fstatat(dir, colon + 1, &st, 0) == 0 && S_ISREG(st.st_mode);
    } else {
        char *path = bk_store_blob_path(g->store_dir, digest);
        ok = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
    }
    return ok ? (size_t)st.st_size + 1 : 0;
}

/* 1 + the size of the digest's blob in the store, 0 when there is none;
 * each digest is looked up in the store once per loaded graph. */
static size_t store_lookup(const bk_graph *g, graph_index *ix, const char *digest)
{
    size_t found;
    if (ix && digest && bk__strmap_get(&ix->blobs, digest, &found))
        return found;
    found = stat_blob(g, ix, digest);
    char *key = ix && digest ? strdup(digest) : NULL;
    if (key && !bk__strmap_put(&ix->blobs, key, found))
        free(key); /* not remembered: asked again next time */
    return found;
}

bool bk_graph_store_has(void *graph, const bk_descriptor *d)
{
    const bk_graph *g = graph;
    if (!g || !g->store_dir)
        return true;
    /* g->index is NULL in a graph not made by the loader */
    size_t found = store_lookup(g, g->index, d->digest);
    return found != 0 && d->size >= 0 && found - 1 == (size_t)d->size;
}

void bk_graph_store_scan(bk_graph *g)
{
    graph_index *ix = g ? g->index : NULL;
    if (!ix || !g->store_dir)
        return;
    /* Every layer is a "blobs" entry or written out in full. */
    for (size_t i = 0; i < ix->n_descs; i++)
        store_lookup(g, ix, ix->descs_of[i].digest);
    for (size_t i = 0; i < ix->n_owned; i++)
        store_lookup(g, ix, ix->owned_layers[i]->digest);
}
