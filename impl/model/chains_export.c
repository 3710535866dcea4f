/* From a build graph to cache chains: BuildKit's solver/exporter.go ExportTo,
 * run for each export target with one shared memo. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/store.h"
#include "blockhash.h"
#include "chains_internal.h"
#include "sha256.h"

/* The SHA-256 of record keys: the SHA extensions when the CPU has them (no
 * OpenSSL at all, see base/sha256.h), else a digest context and an SHA-256
 * fetched once (the one-shot SHA256() fetches the algorithm again for every
 * key, which costs several times the hashing of "<digest>@<output>"). */
typedef struct key_hasher {
    bool sha_ni;
    EVP_MD_CTX *ctx;
    EVP_MD *sha256;
} key_hasher;

/* `try_sha_ni`: ask the CPU (a CPUID, which a virtual machine may take
 * microseconds to answer: once per walk, not per key). Without the SHA
 * extensions OpenSSL must start: out of memory or no SHA-256 is an error
 * (err may be NULL: record_key then writes "" for every key). */
static bk_code key_hasher_init(key_hasher *k, bool try_sha_ni, bk_err *err)
{
    memset(k, 0, sizeof *k);
    k->sha_ni = try_sha_ni && bk__blockhash_cpu_has_sha_ni();
    if (k->sha_ni)
        return BK_OK;
    if ((k->ctx = EVP_MD_CTX_new()) == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory exporting the graph");
    if ((k->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
        return bk_err_set(err, BK_EIO,
                          "exporting the graph: OpenSSL has no SHA-256 for record keys");
    return BK_OK;
}

static void key_hasher_clear(key_hasher *k)
{
    EVP_MD_CTX_free(k->ctx);
    EVP_MD_free(k->sha256);
    memset(k, 0, sizeof *k);
}

static bool key_hash(key_hasher *k, const char *vertex_digest, const char *at, size_t n,
                     unsigned char md[32])
{
    if (k->sha_ni) {
        bk__sha256 s;
        bk__sha256_start(&s);
        bk__sha256_update(&s, vertex_digest, strlen(vertex_digest));
        bk__sha256_update(&s, at, n);
        bk__sha256_finish(&s, md);
        return true;
    }
    unsigned int md_len = 0;
    return k->ctx != NULL && k->sha256 != NULL &&
           EVP_DigestInit_ex2(k->ctx, k->sha256, NULL) == 1 &&
           EVP_DigestUpdate(k->ctx, vertex_digest, strlen(vertex_digest)) == 1 &&
           EVP_DigestUpdate(k->ctx, at, n) == 1 && EVP_DigestFinal_ex(k->ctx, md, &md_len) == 1 &&
           md_len == SHA256_DIGEST_LENGTH;
}

static void record_key(key_hasher *k, const char *vertex_digest, int64_t output, char *out,
                       size_t out_len)
{
    char at[24];
    int n = snprintf(at, sizeof at, "@%lld", (long long)output);
    unsigned char md[32];
    if (!key_hash(k, vertex_digest, at, (size_t)n, md)) {
        snprintf(out, out_len, "%s", "");
        return;
    }
    char digest[BK_DIGEST_MAX];
    bk_digest_format(md, digest);
    /* rootKey keeps random vertices recognizable so CacheChains.Add skips them. */
    bool random = strncmp(vertex_digest, "random:", 7) == 0;
    snprintf(out, out_len, "%s%s", random ? "random" : "sha256", digest + strlen("sha256"));
}

void bk_chains_record_key(const char *vertex_digest, int64_t output, char *out, size_t out_len)
{
    /* One key at a time (explain asks per vertex): OpenSSL, no CPUID each. */
    key_hasher k;
    (void)key_hasher_init(&k, false, NULL); /* on failure the key is "" */
    record_key(&k, vertex_digest, output, out, out_len);
    key_hasher_clear(&k);
}

typedef struct export_memo {
    bool visited;
    bk_chain_item *rec; /* NULL: nothing exported for this vertex */
} export_memo;

typedef struct exporter {
    const bk_graph *g;
    bk_chains *chains;
    export_memo *memo;
    bk_err *err;
    key_hasher keys; /* the record keys', started once per walk */
} exporter;

/* NOLINTNEXTLINE(misc-no-recursion): as deep as the caller's build graph, no bucket data */
static bk_code export_to(exporter *e, size_t vi, enum bk_export_mode mode)
{
    export_memo *m = &e->memo[vi];
    if (m->visited)
        return BK_OK;
    m->visited = true;
    const bk_graph_vertex *v = &e->g->vertices[vi];

    /* Only vertices with inputs export their result (ExportRoots is off for
     * cache exports). A remote result is taken in every mode; a local one is
     * turned into layers unless the walk is remote-only. */
    bool exported = false;
    if (v->n_inputs > 0 && v->has_result)
        exported = v->remote || mode != BK_EXPORT_REMOTE_ONLY;
    if (exported && mode == BK_EXPORT_MIN)
        mode = BK_EXPORT_REMOTE_ONLY;

    bk_chain_dep *deps = calloc(v->n_inputs ? v->n_inputs : 1, sizeof *deps);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bk_chain_link **links = calloc(v->n_inputs ? v->n_inputs : 1, sizeof *links);
    bk_code rc = BK_OK;
    if (!deps || !links)
        rc = bk_err_set(e->err, BK_ENOMEM, "out of memory exporting %s", v->id);
    bool complete = true;
    for (size_t i = 0; rc == BK_OK && i < v->n_inputs; i++) {
        const bk_graph_input *in = &v->inputs[i];
        links[i] = calloc(in->n_links ? in->n_links : 1, sizeof *links[i]);
        if (!links[i]) {
            rc = bk_err_set(e->err, BK_ENOMEM, "out of memory exporting %s", v->id);
            break;
        }
        size_t n = 0;
        for (size_t j = 0; j < in->n_links && rc == BK_OK; j++) {
            rc = export_to(e, in->links[j].vertex, mode);
            bk_chain_item *src = e->memo[in->links[j].vertex].rec;
            if (rc == BK_OK && src) {
                links[i][n].src = src;
                links[i][n].selector = in->links[j].selector;
                n++;
            }
        }
        deps[i].links = links[i];
        deps[i].n_links = n;
        if (n == 0)
            complete = false; /* an input lost its source: drop this record */
    }
    if (rc == BK_OK && complete) {
        char key[96];
        record_key(&e->keys, v->digest, v->output, key, sizeof key);
        bk_chain_result res = {v->layers, v->n_layers, v->created_at};
        rc = bk_chains_add(e->chains, key, deps, v->n_inputs, exported ? &res : NULL,
                           exported ? 1 : 0, &m->rec, e->err);
    }
    for (size_t i = 0; links && i < v->n_inputs; i++)
        free(links[i]);
    free(links);
    free(deps);
    return rc;
}

bk_code bk_chains_from_graph(const bk_graph *g, enum bk_export_mode mode, bk_chains **out,
                             bk_err *err)
{
    *out = NULL;
    exporter e = {.g = g,
                  .chains = bk_chains_new(),
                  .memo = calloc(g->n_vertices + 1, sizeof(export_memo)),
                  .err = err};
    bk_code rc = BK_OK;
    if (!e.chains || !e.memo)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory exporting the graph");
    else
        rc = key_hasher_init(&e.keys, true, err);
    for (size_t i = 0; rc == BK_OK && i < g->n_targets; i++)
        rc = export_to(&e, g->targets[i], mode);
    free(e.memo);
    key_hasher_clear(&e.keys);
    if (rc != BK_OK) {
        bk_chains_free(e.chains);
        return rc;
    }
    *out = e.chains;
    return BK_OK;
}

static void *scan_store(void *graph)
{
    bk_graph_store_scan(graph);
    return NULL;
}

bk_code bk_chains_config_from_graph(const bk_graph *g, enum bk_export_mode mode,
                                    bk_cache_config **out, bk_err *err)
{
    *out = NULL;
    /* The marshal asks the store for every blob (a filesystem lookup each);
     * the chains never look at it, so the store is looked up on a second
     * thread while they are built. Without that thread the marshal asks. */
    pthread_t scan;
    bool scanning = g->store_dir != NULL && pthread_create(&scan, NULL, scan_store, (void *)g) == 0;
    bk_chains *chains = NULL;
    bk_code rc = bk_chains_from_graph(g, mode, &chains, err);
    if (scanning)
        pthread_join(scan, NULL);
    if (rc == BK_OK)
        /* bk_graph_store_has only reads the graph: its context is not const for the callback. */
        rc = bk_chains_marshal(chains, BK_MARSHAL_ANNOTATIONS, bk_graph_store_has, (void *)g, out,
                               err);
    bk_chains_free(chains);
    return rc;
}
