/* `bkcache-conformance stores`: the store compatibility matrix. Reads the
 * options, opens the target (an endpoint, or the in-process mock playing
 * --behave presets), runs each request profile under its own prefix and
 * prints the matrix as text or JSON, and JUnit when asked. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stores.h"

static void usage(FILE *out)
{
    fputs("usage: bkcache-conformance stores [--endpoint URL --bucket B [--region R] "
          "[--virtual-host]\n"
          "                                  | --aws --bucket B [--region R] | --behave NAME...]\n"
          "                                  [--profile NAME]... [--json] [--junit FILE] [--keep]\n"
          "       bkcache-conformance stores --list-profiles\n"
          "\n"
          "Which BuildKit releases can keep their cache in this store? Every request profile\n"
          "(the request shapes of a BuildKit release range) runs the S3 operations the cache\n"
          "uses under a fresh prefix, and each is checked twice: that the store accepts it\n"
          "and that what it stored is what was meant.\n"
          "\n"
          "  --endpoint URL   the store (env BKCACHE_CONFORMANCE_ENDPOINT); credentials from\n"
          "                   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or\n"
          "                   the usual AWS chain (profile, web identity, IMDS, ...)\n"
          "  --aws            real AWS S3 (no endpoint; env BKCACHE_CONFORMANCE_AWS=1)\n"
          "  --bucket B       an existing bucket (env BKCACHE_CONFORMANCE_BUCKET)\n"
          "  --region R       its region (env BKCACHE_CONFORMANCE_REGION, else AWS_REGION)\n"
          "  --virtual-host   virtual-host style addressing\n"
          "  --behave NAME    without an endpoint: the in-process mock plays this store\n"
          "                   (oci, gcs, object-lock, no-list; repeatable; see mock-s3 --help)\n"
          "  --profile NAME   run only these profiles (repeatable; default all)\n"
          "  --json           print the matrix as JSON instead of text\n"
          "  --junit FILE     also write JUnit XML: one test case per profile x operation\n"
          "  --keep           leave the objects written (else each profile deletes its own)\n"
          "  --list-profiles  print what each profile sends and the BuildKit commits it comes\n"
          "                   from, and exit\n"
          "\n"
          "Profiles: v0.11, v0.12\xe2\x80\x93v0.25, v0.26.0\xe2\x80\x93v0.26.1, "
          "v0.26.2\xe2\x80\x93v0.30, v0.31, v0.32+ (an ASCII '-'\n"
          "may stand for the dash). Operations: head_missing, put_small, put_multipart,\n"
          "head_present, touch_copy, touch_part_copy, get_range, list, put_manifest, get_back.\n"
          "Each cell is ok, n/a (the release does not send it), or the store's answer\n"
          "(status, error code, message) or what went wrong after it accepted.\n"
          "Exit status: 0 every profile ok, 1 some profile fails on this store, 2 usage or\n"
          "setup error.\n",
          out);
}

typedef struct stores_opts {
    conf_target_opts target;
    char behave[256];
    const stores_profile *only[16];
    size_t n_only;
    int json;
    const char *junit;
} stores_opts;

/* 0, 1 after --help or --list-profiles, or the exit status 2 with the reason
 * printed. */
static int parse(conf_ctx *c, stores_opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        CONF_TARGET_LONGOPTS,
        {"behave", required_argument, NULL, 'B'},
        {"profile", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"junit", required_argument, NULL, 'J'},
        {"keep", no_argument, NULL, 'k'},
        {"list-profiles", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    conf_target_opts_env(&o->target);
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (conf_target_option(&o->target, ch, optarg))
            continue;
        size_t used = strlen(o->behave);
        switch (ch) {
        case 'B':
            snprintf(o->behave + used, sizeof o->behave - used, "%s%s", used ? "," : "", optarg);
            break;
        case 'p':
            if (o->n_only == sizeof o->only / sizeof o->only[0] ||
                (o->only[o->n_only] = stores_profile_find(optarg)) == NULL) {
                fprintf(stderr,
                        "bkcache-conformance stores: unknown --profile \"%s\" (see "
                        "stores --help)\n",
                        optarg);
                return 2;
            }
            o->n_only++;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'J':
            o->junit = optarg;
            break;
        case 'k':
            c->keep = 1;
            break;
        case 'L':
            stores_print_profiles(stdout);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    int endpoint = (o->target.endpoint != NULL && o->target.endpoint[0]) || o->target.aws;
    if (endpoint && o->behave[0]) {
        fprintf(stderr, "bkcache-conformance stores: --behave makes the in-process mock play a "
                        "store; it goes without --endpoint or --aws\n");
        return 2;
    }
    ms3_bucket_policy p;
    unsigned proxy;
    bk_err err;
    if (ms3_behave_resolve(o->behave, &p, &proxy, &err) != BK_OK) {
        fprintf(stderr, "bkcache-conformance stores: --behave: %s\n", err.msg);
        return 2;
    }
    return 0;
}

/* "v0.26.0–v0.26.1" -> "v0.26.0-v0.26.1", "v0.32+" -> "v0.32plus": a key
 * prefix of letters, digits, '.' and '-' (a store's quirks with other
 * characters in keys are not what a profile tests). */
static void slug(const char *name, char *out, size_t size)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < size; p++) {
        if (*p == '+') {
            memcpy(out + o, "plus", 4);
            o += 4;
        } else if (*p >= 0x80) {
            if ((*p & 0xC0) == 0xC0)
                out[o++] = '-';
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

static void print_target(const conf_ctx *c, const char *behave)
{
    if (c->is_mock)
        printf("# target: in-process mock at %s playing %s (bucket %s, region %s, prefix %s)\n",
               c->endpoint, behave[0] ? behave : "AWS S3 (no preset)", c->bucket, c->region,
               c->run_prefix);
    else
        printf("# target: %s (bucket %s, region %s, prefix %s)\n",
               c->endpoint[0] ? c->endpoint : "AWS S3", c->bucket, c->region, c->run_prefix);
    fflush(stdout);
}

/* Every selected profile, one after the other; rows must hold them all. */
static size_t run_profiles(conf_ctx *c, const stores_opts *o, stores_row *rows)
{
    size_t n_all = 0, n = 0;
    const stores_profile *all = stores_profiles(&n_all);
    for (size_t i = 0; i < n_all; i++) {
        int wanted = o->n_only == 0;
        for (size_t k = 0; k < o->n_only; k++)
            wanted |= o->only[k] == &all[i];
        if (!wanted)
            continue;
        char prefix[256], name[64];
        slug(all[i].name, name, sizeof name);
        snprintf(prefix, sizeof prefix, "%s%s/", c->run_prefix, name);
        double t = conf_now();
        stores_run_profile(c, &all[i], prefix, &rows[n]);
        if (!o->json) {
            printf("# %s: %.1f s\n", all[i].name, conf_now() - t);
            fflush(stdout);
        }
        n++;
    }
    return n;
}

static int report(conf_ctx *c, const stores_opts *o, const stores_row *rows, size_t n)
{
    if (o->json) {
        char *text = stores_json(rows, n);
        if (text == NULL)
            return 2;
        printf("%s\n", text);
        free(text);
    } else {
        printf("\n");
        stores_print_text(stdout, rows, n);
    }
    int status = 0;
    for (size_t i = 0; i < n; i++)
        if (!stores_row_ok(&rows[i]))
            status = 1;
    if (o->junit != NULL) {
        stores_record_results(c, rows, n);
        bk_err err;
        if (conf_write_junit(c, o->junit, &err) != BK_OK) {
            fprintf(stderr, "bkcache-conformance stores: %s\n", err.msg);
            status = 2;
        }
    }
    return status;
}

int conf_stores_command(conf_ctx *c, int argc, char **argv)
{
    stores_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse(c, &o, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (conf_make_tmp(c) != 0) {
        fprintf(stderr, "bkcache-conformance stores: cannot create a scratch folder\n");
        return 2;
    }
    c->behave = o.behave[0] ? o.behave : NULL;
    c->plain_client = 1;
    bk_err err;
    bk_err_clear(&err);
    int status = 2;
    stores_row *rows = NULL;
    size_t n_all = 0;
    stores_profiles(&n_all);
    if (conf_target_open(c, &o.target, &err) != BK_OK) {
        fprintf(stderr, "bkcache-conformance stores: %s\n", err.msg);
    } else if ((rows = calloc(n_all, sizeof *rows)) != NULL) {
        if (!o.json)
            print_target(c, o.behave);
        size_t n = run_profiles(c, &o, rows);
        status = report(c, &o, rows, n);
    }
    free(rows);
    conf_target_stop(c);
    if (!c->keep)
        conf_rmtree(c->tmp);
    return status;
}
