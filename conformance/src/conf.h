/* bkcache-conformance: shared state of one run, the check reporter, the
 * target (in-process mock or any S3 endpoint), the adapter under test and the
 * fixture helpers every suite uses. One file per suite (suite_<name>.c). */
#ifndef BKCONF_CONF_H
#define BKCONF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "bkcache/buf.h"
#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"
#include "bkcache/s3.h"
#include "mock_s3.h"

/* WARN: a recommended check failed (a failure only with --strict). */
typedef enum conf_status { CONF_PASS = 0, CONF_FAIL, CONF_SKIP, CONF_WARN } conf_status;

/* required: what BuildKit itself does and what interop with BuildKit needs.
 * recommended: stricter than BuildKit (its bugs, field-report lessons). */
typedef enum conf_level { CONF_REQUIRED = 0, CONF_RECOMMENDED } conf_level;

/* One check as data, in its suite's table next to the code that runs it. A
 * name ending in '*' covers a family ("reject_*": one per fixture). A
 * recommended check says which BuildKit behaviour it goes beyond, as
 * "BuildKit ... does not ..." with file:line at the commit SPEC cites. */
typedef struct conf_check {
    const char *name;
    conf_level level;
    const char *beyond;
} conf_check;

/* ---- what the HTML report shows of a result: detail.c records it while the
 * run goes on (--html), html.c only renders it ---- */

/* A key under the check's prefix after the check, and how it changed since the
 * case's previous result (or since the case began: its prefix was fresh). */
typedef struct conf_key_row {
    char *key; /* relative to the prefix */
    uint64_t size;
    char change; /* '+' new, '-' gone, '~' another size or ETag, ' ' unchanged */
} conf_key_row;

/* Bytes a check compared, expected against got, from a little before the
 * first difference; both excerpts start at the same offset, so they align. */
typedef struct conf_bytes_diff {
    char *what; /* "the manifest against linear.max.expected" */
    char *note; /* "" or how the bytes were compared (ties put in one order) */
    size_t at;  /* the first differing byte */
    size_t from;
    size_t want_len, got_len;
    char *want_excerpt, *got_excerpt;
    char *explain_diff; /* `bkcache explain --diff EXPECTED GOT` of two manifests, or NULL */
} conf_bytes_diff;

typedef struct conf_detail {
    char *prefix;  /* the check's key prefix; "" when it has none */
    int journaled; /* requests come from the mock's journal */
    /* One object per request of the check's case, in order: seq, t (seconds
     * after the first), by ("impl" or "runner"), method, operation, key
     * (relative to prefix when under it), query, status, error_code,
     * error_message, auth, auth_ok, payload_hash_mode, duration, body (bytes
     * received), signed (SignedHeaders), headers (the notable ones). */
    json_t *requests;
    size_t requests_omitted; /* the oldest ones, beyond what a check keeps */
    uint64_t earlier_upto;   /* requests up to this seq came before the case's previous result */
    long earlier_result;     /* that result's index, or -1 */
    int listed;              /* keys holds the listing of prefix */
    conf_key_row *keys;
    size_t n_keys;
    char *list_error;
    long tree_of;     /* an earlier result whose tree and picture these are (same objects), or -1 */
    char *tree;       /* `bkcache explain` of the case's cache, or NULL */
    char *svg;        /* `bkcache explain --format svg`, checked and ready to inline, or NULL */
    char *no_picture; /* why a cache with a manifest has no picture */
    conf_bytes_diff *bytes;
} conf_detail;

typedef struct conf_result {
    char *suite;
    char *check;
    conf_status status;
    conf_level level;
    const char *beyond; /* recommended: what BuildKit does (the check table's text) */
    char *reason;
    double seconds;
    conf_detail *detail; /* --html only */
} conf_result;

/* Optional features an adapter declares through `ADAPTER capabilities`. */
enum {
    CONF_CAP_COPY_LIMIT = 1 << 0,          /* export accepts --copy-limit BYTES */
    CONF_CAP_MULTIPART_THRESHOLD = 1 << 1, /* export accepts --multipart-threshold BYTES */
};

typedef struct conf_suite conf_suite;

typedef struct conf_object {
    char *key;
    uint64_t size;
    char etag[128];
} conf_object;

/* What detail.c carries from one result to the next within a case. */
typedef struct conf_detail_state {
    unsigned case_serial; /* the case the fields below belong to */
    long last;            /* the case's latest result with a detail, or -1 */
    uint64_t last_mark;   /* the journal seq at that result */
    conf_object *keys;    /* the listing at that result */
    size_t n_keys;
    int keys_known;
    char *last_attrs;         /* the case's attributes at that result */
    conf_bytes_diff *pending; /* compared bytes waiting for their check's result */
    char pending_check[192];  /* "suite.check" */
    char dot_file[4200];
} conf_detail_state;

typedef struct conf_ctx {
    /* options */
    const char *impl;          /* adapter path; NULL = the bkcache binary beside the runner */
    char native_bin[4096];     /* that bkcache binary */
    char fixtures[4096];       /* the fixtures folder (graphs, config), absolute */
    char fixtures_given[4096]; /* as the user named it (reports show this) */
    int keep;                  /* leave what the run wrote */
    int verbose;               /* adapter output on failures */
    unsigned capabilities;     /* CONF_CAP_* of the adapter */
    int adapter_timeout_s;
    int strict; /* a failed recommended check is a failure, not a warning */

    /* target */
    int is_mock;
    ms3_server *mock;
    char endpoint[1024];
    char region[128];
    char bucket[128];
    int path_style;
    bk_s3_client *s3;    /* the runner's own client, for setup and inspection */
    char run_prefix[64]; /* "bkconf-<random>/" */
    unsigned case_counter;
    int upload_part_copy; /* 1 works, 0 the target answered 501, -1 unknown */
    const char *behave;   /* mock behaviour presets ("oci,no-list"); NULL = plain */
    /* The runner's own client sends what every store preset accepts: no
     * Accept-Encoding (a front end may rewrite a signed one) and Content-MD5
     * (object-lock buckets); for stores, where it seeds and inspects. */
    int plain_client;
    char upload_part_copy_why[256];

    /* credentials handed to adapters (mock: made up here; endpoint: the env's) */
    char access_key[128];
    char secret_key[256];
    char session_token[1024];

    char tmp[4096]; /* scratch folder of this run */

    /* The case the next results belong to (one conf_case_prefix, or a suite
     * before its first): the requests since case_mark are its requests. */
    unsigned case_serial;
    char case_prefix[256];
    uint64_t case_mark;
    char *case_attrs;      /* the last attributes an adapter run of the case got */
    uint64_t journal_seen; /* the highest journal seq seen, where a mark starts looking */
    /* Journal ranges (from, to] of the reporter's own requests (listing the
     * bucket for the HTML report): conf_journal_since leaves them out, so
     * reporting never changes what a check sees. */
    uint64_t *quiet;
    size_t n_quiet, cap_quiet;

    /* --html */
    int details; /* record a conf_detail for every result */
    conf_detail_state detail_state;
    time_t started; /* wall clock at the start of the run */
    double started_mono;

    /* the suites and their check tables (registry.c), for levels */
    const conf_suite *suites;
    size_t n_suites;

    conf_result *results;
    size_t n_results, cap_results;
    /* the check being run (for timing) */
    double check_started;
} conf_ctx;

/* ---- suites and their checks (registry.c) ---- */
typedef void (*conf_suite_fn)(conf_ctx *c);
struct conf_suite {
    const char *name;
    conf_suite_fn fn;
    const char *what;
    const conf_check *checks; /* terminated by a NULL name */
};
const conf_suite *conf_suites(size_t *n);

/* ---- reporting (report.c) ---- */
/* The check's entry in the run's table (c->suites): the exact name, else the
 * family whose '*' prefix matches; NULL when the check has none. */
const conf_check *conf_check_find(const conf_ctx *c, const char *suite, const char *check);
double conf_now(void);
/* A suite begins: the time of its first check, and a case of its own until
 * its first conf_case_prefix. */
void conf_begin(conf_ctx *c);
/* Records and prints one check's outcome. CONF_FAIL of a recommended check
 * becomes CONF_WARN unless c->strict; both then name what BuildKit does. */
void conf_report(conf_ctx *c, const char *suite, const char *check, conf_status st, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
#define conf_pass(c, s, k, ...) conf_report((c), (s), (k), CONF_PASS, __VA_ARGS__)
#define conf_fail(c, s, k, ...) conf_report((c), (s), (k), CONF_FAIL, __VA_ARGS__)
#define conf_skip(c, s, k, ...) conf_report((c), (s), (k), CONF_SKIP, __VA_ARGS__)
/* Reports `skipped (needs mock)` for a check that needs the request journal. */
void conf_skip_needs_mock(conf_ctx *c, const char *suite, const char *check, const char *what);
typedef struct conf_counts {
    size_t passed, failed, skipped, warned;
} conf_counts;
/* Records an outcome without printing it (reports of their own, e.g. stores). */
conf_result *conf_result_add(conf_ctx *c, const char *suite, const char *check, conf_status st,
                             conf_level level, const char *beyond, const char *reason,
                             double seconds);
conf_counts conf_summary(const conf_ctx *c);
/* 1 when result i is its suite's first (reports list suites in that order). */
int conf_first_of_suite(const conf_ctx *c, size_t i);
bk_code conf_write_junit(const conf_ctx *c, const char *path, bk_err *err);
void conf_results_free(conf_ctx *c);

/* ---- words (words.c) ---- */
const char *conf_level_name(conf_level level); /* "required", "recommended" */
const char *conf_status_word(conf_status st);  /* "PASS", "FAIL", "WARN", "SKIP" */
/* Text or an attribute value in XML or HTML: & < > " ' as references, control
 * characters XML forbids as '?'. NULL writes nothing. */
void conf_markup_escaped(FILE *f, const char *s);

/* ---- details for the HTML report (detail.c) ---- */
/* Records what the report shows of result r (c->details): the case's
 * requests, the keys under its prefix, the explain tree and picture, the
 * compared bytes. Makes requests to the target only to list and explain. */
void conf_detail_record(conf_ctx *c, conf_result *r);
/* The bytes check suite.check compared (manifest: 1 when both are cache
 * configs, for the explain diff), kept for its next result when they differ.
 * A no-op without --html. */
void conf_detail_bytes(conf_ctx *c, const char *suite, const char *check, const char *what,
                       const char *want, size_t want_len, const char *got, size_t got_len,
                       int manifest);
/* Graphviz's SVG as an element to inline in HTML: from <svg> on, without
 * comments and namespace declarations (HTML needs none). NULL and why when
 * it holds anything active (script, handler, style) or a reference out of
 * the file. */
char *conf_svg_inline(const char *svg, const char **why);
void conf_detail_free(conf_detail *d);
void conf_detail_state_clear(conf_ctx *c);

/* ---- the HTML report (html.c) ---- */
bk_code conf_write_html(const conf_ctx *c, const char *path, bk_err *err);
/* The same into an open stream (tests). */
bk_code conf_html_write(const conf_ctx *c, FILE *f, bk_err *err);

/* ---- target (target.c) ---- */
/* Where a run goes: an S3 endpoint (or real AWS) with its bucket and region,
 * else the in-process mock. */
typedef struct conf_target_opts {
    const char *endpoint;
    int aws;
    const char *region; /* NULL: AWS_REGION, else us-east-1 */
    const char *bucket;
    int virtual_host;
} conf_target_opts;
/* Defaults from BKCACHE_CONFORMANCE_ENDPOINT, _AWS, _REGION, _BUCKET, _VIRTUAL_HOST. */
void conf_target_opts_env(conf_target_opts *o);
/* The options both commands take for it (getopt letters e: --endpoint, a:
 * --aws, b: --bucket, r: --region, V: --virtual-host): 1 when ch was one. */
int conf_target_option(conf_target_opts *o, int ch, const char *arg);
/* Their entries of a struct option table (getopt.h). */
/* clang-format off */
#define CONF_TARGET_LONGOPTS                                                                       \
    {"endpoint", required_argument, NULL, 'e'}, {"aws", no_argument, NULL, 'a'},                   \
    {"bucket", required_argument, NULL, 'b'}, {"region", required_argument, NULL, 'r'},            \
    {"virtual-host", no_argument, NULL, 'V'}
/* clang-format on */
/* Connects to the endpoint or starts the mock; err says which failed and why. */
bk_code conf_target_open(conf_ctx *c, const conf_target_opts *o, bk_err *err);
/* The mock plays c->behave (ms3_options.behave) when it is set. */
bk_code conf_target_start_mock(conf_ctx *c, bk_err *err);
bk_code conf_target_connect(conf_ctx *c, bk_err *err);
void conf_target_stop(conf_ctx *c);
/* A client configuration for the target: region, bucket, endpoint,
 * addressing, the run's credentials, short retries (strings borrowed from c). */
void conf_client_config(const conf_ctx *c, bk_s3_config *cfg);
/* A fresh key prefix for one check: "<run prefix><tag>-<n>/". */
void conf_case_prefix(conf_ctx *c, const char *tag, char *out, size_t size);
/* The attribute string for the target, with prefix and extra "k=v,..." (may be NULL). */
char *conf_attrs(const conf_ctx *c, const char *prefix, const char *extra);
/* Deletes every object under prefix; returns the number deleted or -1. */
long conf_delete_prefix(conf_ctx *c, const char *prefix, bk_err *err);

/* Every object under prefix, sorted by key. */
bk_code conf_list(conf_ctx *c, const char *prefix, conf_object **out, size_t *n, bk_err *err);
void conf_objects_free(conf_object *o, size_t n);
/* 1 present, 0 absent, -1 error. */
int conf_stat(conf_ctx *c, const char *key, bk_s3_result *res, bk_err *err);
int conf_get(conf_ctx *c, const char *key, bk_buf *out, bk_err *err);
bk_code conf_put(conf_ctx *c, const char *key, const void *data, size_t len, bk_err *err);
bk_code conf_delete(conf_ctx *c, const char *key, bk_err *err);
/* Self-copy with REPLACE and one metadata pair (a marker the exporter would lose
 * if it re-uploaded or touched the object). */
bk_code conf_set_marker(conf_ctx *c, const char *key, const char *name, const char *value,
                        bk_err *err);
/* Probes UploadPartCopy once (s3rver answers 501) and records the outcome. */
void conf_probe_upload_part_copy(conf_ctx *c);

/* Journal (mock only): the last sequence number, and entries after a mark. */
uint64_t conf_journal_mark(conf_ctx *c);
/* The entries after mark, as the JSON array GET /_mock/journal answers,
 * without the reporter's own requests. */
json_t *conf_journal_since(conf_ctx *c, uint64_t mark);
/* Requests of a credential service ("STS.AssumeRoleWithWebIdentity",
 * "ECS.GetCredentials") answered 200 since mark (they name no bucket). */
size_t conf_journal_count_op(conf_ctx *c, uint64_t mark, const char *operation);
/* The Authorization the mock's container credentials endpoint wants. */
#define CONF_ECS_TOKEN "conformance-container-authorization"
/* Leaves the entries (from, to] out of conf_journal_since from now on. */
void conf_journal_quiet(conf_ctx *c, uint64_t from, uint64_t to);
/* Helpers over journal entries in that JSON form. */
const char *conf_jstr(json_t *entry, const char *field);
long long conf_jint(json_t *entry, const char *field);
/* A request header, name matched case-insensitively; NULL when absent. */
const char *conf_jheader(json_t *entry, const char *name);
/* PutObject, CreateMultipartUpload, UploadPart, UploadPartCopy, Complete..., CopyObject. */
int conf_is_write_op(const char *operation);

/* ---- adapter (adapter.c) ---- */
typedef struct conf_run {
    int exit_code; /* 128+signal, or -1 when it could not start */
    int timed_out;
    char *out;
    char *err;
} conf_run;
void conf_run_free(conf_run *r);
/* Runs argv with the adapter environment plus extra "NAME=value" entries
 * ("NAME=" unsets), a deadline and captured output. */
int conf_spawn(conf_ctx *c, const char *const argv[], const char *const extra_env[], int timeout_s,
               conf_run *r);
void conf_load_capabilities(conf_ctx *c);

typedef struct conf_export_opts {
    const char *graph;      /* graph fixture name ("linear") or a path ending in .json */
    const char *prefix;     /* attrs prefix */
    const char *extra;      /* more attributes, "k=v,k=v" */
    const char *const *env; /* extra environment */
    uint64_t copy_limit;    /* 0 = not passed */
    uint64_t multipart_threshold;
    const char *attrs_override; /* full attribute string instead of building one */
    const char *store;          /* --store; NULL = the graph fixtures' store */
} conf_export_opts;
int conf_export(conf_ctx *c, const conf_export_opts *o, conf_run *r);
/* Import into a fresh dest folder (path written to dest) with --json. */
int conf_import(conf_ctx *c, const char *attrs, const char *const *env, char *dest,
                size_t dest_size, conf_run *r);
/* One line describing a failed run, for reasons. */
const char *conf_run_why(const conf_run *r, char *buf, size_t size);

/* ---- fixtures (fixture.c) ---- */
/* Path of the staged graph (store made absolute) for a fixture name. */
const char *conf_graph_path(conf_ctx *c, const char *name);
const char *conf_store_dir(conf_ctx *c);
/* Names of graph fixtures (NULL-terminated, static). */
const char *const *conf_graph_names(void);
bk_code conf_read_file(const char *path, bk_buf *out, bk_err *err);
bk_code conf_write_file(const char *path, const void *data, size_t len, bk_err *err);
/* <fixtures>/graphs/<graph>.<mode>.expected */
bk_code conf_golden(conf_ctx *c, const char *graph, const char *mode, bk_buf *out, bk_err *err);
/* Distinct blob digests a manifest references (jansson, independent of libbkcache). */
int conf_manifest_blobs(const char *json, size_t len, char ***digests, size_t *n);
void conf_strings_free(char **s, size_t n);
/* Uploads a manifest under name and every blob it references from the store. */
bk_code conf_seed(conf_ctx *c, const char *prefix, const char *name, const char *manifest,
                  size_t len, bk_err *err);
/* The imported graph (records with inputs and result chains) of a manifest,
 * computed independently of libbkcache, canonicalized for comparison. */
json_t *conf_expected_graph(const char *manifest, size_t len, bk_err *err);
/* Canonical form of an adapter's import --json output (NULL on bad JSON). */
json_t *conf_canonical_graph(const char *text, bk_err *err);
/* sha256 hex of a buffer / a file. */
void conf_sha256_hex(const void *data, size_t len, char out[65]);
int conf_file_sha256(const char *path, char out[65], uint64_t *size);
void conf_rmtree(const char *path);
/* A graph of one root and one vertex whose result is a single layer blob,
 * staged with its own store: `size` bytes of deterministic noise (data_seed
 * != 0), or a sparse file of zeros whose digest the caller knows (digest).
 * Fills the graph path, the store folder and the blob digest. */
bk_code conf_single_blob_graph(conf_ctx *c, const char *tag, uint64_t size, unsigned data_seed,
                               const char *digest, char *graph, size_t graph_size, char *store,
                               size_t store_size, char digest_out[80], bk_err *err);
/* The run's scratch folder c->tmp under $TMPDIR (or /tmp); -1 when it cannot be made. */
int conf_make_tmp(conf_ctx *c);
int conf_mkdtemp(conf_ctx *c, const char *tag, char *out, size_t size);

/* ---- helpers shared by suites (helpers.c) ---- */
/* Runs an export; on failure reports FAIL suite.check with the reason and returns 0. */
int conf_export_ok(conf_ctx *c, const char *suite, const char *check, const conf_export_opts *o);
/* Reads an object that must exist; on failure reports FAIL and returns 0. */
int conf_get_ok(conf_ctx *c, const char *suite, const char *check, const char *key, bk_buf *out);
/* Compares the keys under root with the expected ones (any order); 1 when equal,
 * else 0 with a description of the difference in why. */
int conf_keys_equal(conf_ctx *c, const char *root, char **expected, size_t n, char *why,
                    size_t why_size);
/* The blob keys a manifest implies, with blob_prefix (e.g. "P/blobs/"). */
int conf_expected_blob_keys(const char *manifest, size_t len, const char *blob_prefix, char ***keys,
                            size_t *n);
/* Appends a malloc'd copy of s to a string array. */
void conf_strings_push(char ***arr, size_t *n, const char *s);
/* 1 when the adapter import printed a graph equal to the manifest's; else 0 + why. */
int conf_graph_matches(const char *adapter_out, const char *manifest, size_t len, char *why,
                       size_t why_size);

/* ---- suites: the function and the table of checks of each ---- */
void suite_layout(conf_ctx *c);
void suite_manifest(conf_ctx *c);
void suite_modes(conf_ctx *c);
void suite_idempotence(conf_ctx *c);
void suite_touch(conf_ctx *c);
void suite_ordering(conf_ctx *c);
void suite_import(conf_ctx *c);
void suite_integrity(conf_ctx *c);
void suite_wire(conf_ctx *c);
void suite_faults(conf_ctx *c);
void suite_credentials(conf_ctx *c);
void suite_interop(conf_ctx *c);
void suite_verify(conf_ctx *c);
extern const conf_check suite_layout_checks[], suite_manifest_checks[], suite_modes_checks[],
    suite_idempotence_checks[], suite_touch_checks[], suite_ordering_checks[],
    suite_import_checks[], suite_integrity_checks[], suite_wire_checks[], suite_faults_checks[],
    suite_credentials_checks[], suite_interop_checks[], suite_verify_checks[];

/* ---- verify (verify.c) ---- */
typedef struct conf_verify_opts {
    const char *attrs;   /* --cache-from of the bucket to check */
    const char *journal; /* mock journal (JSON array or lines); NULL = none */
    const char *suite;   /* suite name used in check names */
} conf_verify_opts;
/* Post-hoc checks of a bucket written by anyone; reports into c. */
void conf_verify_bucket(conf_ctx *c, const conf_verify_opts *o);
/* Request-level checks over journal entries (JSON array of entries). */
/* 1 when no upload in entries used aws-chunked, trailers or checksum headers. */
int conf_journal_no_trailers(json_t *entries, char *why, size_t why_size, size_t *uploads);
void conf_verify_journal(conf_ctx *c, const char *suite, json_t *entries,
                         const char *manifest_prefix, const char *blob_prefix);

#endif
