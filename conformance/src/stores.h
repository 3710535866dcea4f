/* bkcache-conformance stores: which BuildKit releases can keep their cache in
 * a store. Each request profile is the request shapes of a BuildKit release
 * range (stores_profiles.c, one table); each is run through the S3 operations
 * the cache uses under a fresh prefix (stores_run.c), and the matrix of
 * profiles x operations is printed as text, JSON or JUnit (stores_report.c). */
#ifndef BKCONF_STORES_H
#define BKCONF_STORES_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* How a release sends the checksum of a PutObject or UploadPart body. */
typedef enum stores_checksum {
    STORES_CK_NONE = 0, /* RequestChecksumCalculation=WhenRequired: none */
    /* The SDK's default (WhenSupported) CRC32 on an s3.Client call: nothing
     * declared (no x-amz-sdk-checksum-algorithm, none on
     * CreateMultipartUpload); an x-amz-checksum-crc32 header over http, an
     * aws-chunked trailer over https. */
    STORES_CK_SDK_DEFAULT,
    /* The transfer manager's CRC32 (its ChecksumAlgorithm default): declared
     * everywhere, always in an aws-chunked unsigned trailer. */
    STORES_CK_TRANSFER_TRAILER,
} stores_checksum;

/* One request profile: what a BuildKit release range sends, as data. */
typedef struct stores_profile {
    const char *name;     /* "v0.26.2–v0.30", as issue 20 names it */
    const char *buildkit; /* "BuildKit v0.26.2–v0.30" */
    const char *source;   /* the commits (moby/buildkit) each shape comes from */
    const char *uploader; /* "manager.Uploader" or "transfermanager" */
    uint64_t part_size;
    uint64_t threshold;     /* multipart from this many bytes on */
    const char *touch_meta; /* metadata key of a touch: updated_at, updated-at */
    int part_copy_touch;    /* touch of large blobs by UploadPartCopy (v0.16) */
    int range_get;          /* reads a blob from an offset with Range (v0.20) */
    stores_checksum checksum;
    int unsigned_gzip; /* disable_accept_encoding: no signed Accept-Encoding,
                          Go's transport adds an unsigned gzip (v0.30) */
} stores_profile;

/* The profiles, oldest first; n set to their count. */
const stores_profile *stores_profiles(size_t *n);
/* A profile by name; an ASCII '-' matches the en dash of a range. */
const stores_profile *stores_profile_find(const char *name);

/* The operations, in the order they run (each a column of the matrix). */
typedef enum stores_op {
    STORES_HEAD_MISSING = 0,
    STORES_PUT_SMALL,
    STORES_PUT_MULTIPART,
    STORES_HEAD_PRESENT,
    STORES_TOUCH_COPY,
    STORES_TOUCH_PART_COPY,
    STORES_GET_RANGE,
    STORES_LIST,
    STORES_PUT_MANIFEST,
    STORES_GET_BACK,
    STORES_N_OPS
} stores_op;

const char *stores_op_name(stores_op op); /* "head_missing", ... */

typedef enum stores_outcome {
    STORES_OK = 0,
    STORES_NA,       /* the release range does not send it */
    STORES_REFUSED,  /* the store answered an error */
    STORES_WRONG,    /* accepted, but what it stored or answered is not what was meant */
    STORES_NOT_RUN,  /* what it needs could not be set up */
    STORES_NO_ANSWER /* no HTTP answer (connection, timeout) */
} stores_outcome;

/* One cell of the matrix. */
typedef struct stores_cell {
    stores_outcome outcome;
    int status;          /* the store's HTTP status; 0 when none */
    char error_code[64]; /* the store's error code; "" when none */
    char detail[640];    /* its message, or what went wrong, or why n/a */
    double seconds;
} stores_cell;

typedef struct stores_row {
    const stores_profile *profile;
    stores_cell cells[STORES_N_OPS];
} stores_row;

/* Runs every operation of one profile against the target of c, under
 * prefix, with the scratch files in c->tmp; fills the row. */
void stores_run_profile(conf_ctx *c, const stores_profile *p, const char *prefix, stores_row *row);

/* 1 when the cell does not fail the profile (ok or n/a). */
int stores_cell_ok(const stores_cell *cell);
int stores_row_ok(const stores_row *row);
/* "BuildKit v0.31: uploads fail — 501 NotImplemented: AWS chunked encoding not supported". */
void stores_verdict(const stores_row *row, char *out, size_t size);
/* The profiles as text: what each sends, and where that comes from. */
void stores_print_profiles(FILE *out);
/* The matrix as text: the grid, the answer of every cell that is not ok, the
 * verdicts. */
void stores_print_text(FILE *out, const stores_row *rows, size_t n);
/* {"profiles":[{"name","buildkit","ok","operations":[{"operation","ok",
 * "status","error_code","detail"}]}]} */
char *stores_json(const stores_row *rows, size_t n);
/* One test case per profile x operation, through the runner's JUnit writer. */
void stores_record_results(conf_ctx *c, const stores_row *rows, size_t n);

/* `bkcache-conformance stores ...`: the exit status (0 every profile ok, 1
 * some profile fails on the store, 2 usage or setup error). */
int conf_stores_command(conf_ctx *c, int argc, char **argv);

#endif
