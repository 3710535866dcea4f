/* The credential providers' tests: a mock with its credential services on
 * loopback, an injected environment, a scratch directory for token and
 * shared files, and one signed request through a client built on the chain. */
#ifndef BK_TEST_CREDS_FX_H
#define BK_TEST_CREDS_FX_H

#include "bkcache/env.h"
#include "bkcache/s3.h"
#include "mock_s3.h"

#define CFX_BUCKET "creds"
#define CFX_MAX_VARS 24

typedef struct creds_fx {
    ms3_server *mock;
    char dir[64]; /* scratch directory, removed by creds_fx_stop */
    const char *vars[2 * CFX_MAX_VARS + 1];
    size_t n_vars;
    bk_env env; /* reads vars only; AWS_EC2_METADATA_DISABLED=true unless set */
    bk_err err; /* the last failure of creds_fx_request */
    char source[96];
} creds_fx;

/* Starts the mock with o (ms3_options_init'ed by the caller and given the
 * services it wants), a bucket CFX_BUCKET, and the scratch directory. */
int creds_fx_start(creds_fx *f, const ms3_options *o);
void creds_fx_stop(creds_fx *f);
/* Adds NAME=VALUE to the environment (both borrowed; value may point into f). */
void creds_fx_setenv(creds_fx *f, const char *name, const char *value);
/* Writes DIR/leaf with text; returns the path (static storage per call site: copy it). */
const char *creds_fx_write(creds_fx *f, const char *leaf, const char *text, char *path,
                           size_t size);
/* A client on the default chain with f's environment, then one PutObject of
 * key: BK_OK with f->source set, or the code with f->err. */
bk_code creds_fx_request(creds_fx *f, const char *key);
/* Journal entries with this operation ("STS.AssumeRole", "PutObject", ...). */
size_t creds_fx_count(creds_fx *f, const char *operation);
/* The access key id of the newest entry of operation ("" when none); out[64]. */
void creds_fx_last_key(creds_fx *f, const char *operation, char *out);

#endif
