/* Object bodies: runs of reference-counted memory, a file, or N zero bytes
 * that take no space. Written by a streaming writer, read by positional
 * readers. A body the mock already holds is never copied in memory: a
 * completed multipart upload is the list of its parts' runs, a copied range
 * of a memory body is a slice of the same runs, and with a data dir a
 * completed upload keeps its part files and is read across them. */
#ifndef MS3_BODY_H
#define MS3_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"

typedef enum ms3_body_kind { MS3_BODY_MEM, MS3_BODY_FILE, MS3_BODY_ZERO } ms3_body_kind;
typedef struct ms3_blob ms3_blob;
/* The files of a completed multipart upload with a data dir, read in order as
 * one body. Shared by the body and its readers; see ms3__body_doom. */
typedef struct ms3_fileset ms3_fileset;

/* A run of a memory body: len bytes at off of a shared blob, or len zero
 * bytes when blob is NULL (a zero part inside a completed upload). */
typedef struct ms3_seg {
    ms3_blob *blob;
    uint64_t off;
    uint64_t len;
} ms3_seg;

/* A detached object body (upload part, finished PUT before commit). Owned by one holder. */
typedef struct ms3_body {
    ms3_body_kind kind;
    uint64_t size;
    ms3_seg *segs; /* MEM: the bytes in order, each run holding a reference */
    size_t n_segs;
    char *path;         /* FILE, one file */
    int is_temp;        /* FILE: unlink on free (detached), else owned by the store */
    ms3_fileset *files; /* FILE, path NULL: the parts of a completed upload */
} ms3_body;

void ms3__body_clear(ms3_body *b); /* frees contents; unlinks a detached temp file */
void ms3__body_zero(ms3_body *b, uint64_t size);

/* ---- streaming writer */
typedef struct ms3_writer ms3_writer;
/* tmp_dir NULL = in memory; else a temp file in tmp_dir. size_hint: the
 * length the request announced (0 = unknown). In memory the first run is
 * allocated at that size (at most 1 GiB, since an announcement costs the
 * sender nothing), so a body of the announced length is received without
 * ever growing a buffer; bytes beyond it (or without a hint) go into further
 * runs, never into a reallocated one. */
ms3_writer *ms3__writer_new(const char *tmp_dir, uint64_t size_hint, bk_err *err);
bk_code ms3__writer_write(ms3_writer *w, const void *data, size_t len, bk_err *err);
uint64_t ms3__writer_size(const ms3_writer *w);
/* Bytes of memory the writer holds for the body: the filled runs and the
 * capacity of the run being filled (0 for a temp file). */
uint64_t ms3__writer_reserved(const ms3_writer *w);
/* Finishes the writer into *body (closing and freeing the writer in all cases). */
bk_code ms3__writer_finish(ms3_writer *w, ms3_body *body, bk_err *err);
void ms3__writer_abort(ms3_writer *w);

/* ---- reader over a body or a stored object */
typedef struct ms3_reader ms3_reader;
ms3_reader *ms3__reader_from_body(const ms3_body *b, bk_err *err);
uint64_t ms3__reader_size(const ms3_reader *r);
ms3_body_kind ms3__reader_kind(const ms3_reader *r);
/* Reads up to len bytes at off (across runs); returns bytes read (0 at end),
 * -1 on I/O error. */
long ms3__reader_pread(ms3_reader *r, void *buf, size_t len, uint64_t off);
void ms3__reader_close(ms3_reader *r);

/* [off, off+len) of a reader as a new body; md5 gets the 16-byte MD5 of the
 * range (for a zero source, a stand-in derived from the length). In memory
 * (tmp_dir NULL) the new body shares the source's runs; with a tmp_dir the
 * bytes are copied into a file. */
bk_code ms3__body_from_range(const char *tmp_dir, ms3_reader *r, uint64_t off, uint64_t len,
                             ms3_body *out, unsigned char md5[16], bk_err *err);
/* The parts, in order, as one new body (all zero -> zero; the parts are left
 * as they were). In memory it references the parts' runs; with a tmp_dir it
 * names the part files (and zero parts) in order, copying no byte: the parts
 * must stay where they are until the body is placed (ms3__body_place_parts)
 * or cleared. Parts of any other kind are joined into a new file. */
bk_code ms3__body_concat(const char *tmp_dir, ms3_body *const *parts, size_t n, ms3_body *out,
                         bk_err *err);

/* ---- multipart bodies with a data dir (FILE bodies whose `files` is set) */
/* Hard-links the part files of a concatenated body into a new directory made
 * from dir_template (mkdtemp: it ends in XXXXXX) as 00001, 00002, ... (a zero
 * part has no file), and makes the body own that directory. No byte is
 * copied; the parts' own files are left to their holder. */
bk_code ms3__body_place_parts(ms3_body *b, char *dir_template, bk_err *err);
/* The parts of a placed body: count, and each one's size and whether it is
 * zeros (no file). The directory is ms3__body_parts_dir. */
size_t ms3__body_part_count(const ms3_body *b);
uint64_t ms3__body_part_size(const ms3_body *b, size_t i);
int ms3__body_part_is_zero(const ms3_body *b, size_t i);
const char *ms3__body_parts_dir(const ms3_body *b);
/* A body over the directory a previous run placed: n parts of the given
 * sizes, zero[i] set for a part without a file. Checks that each file is
 * there with its size. */
bk_code ms3__body_load_parts(ms3_body *out, const char *dir, const uint64_t *sizes, const int *zero,
                             size_t n, bk_err *err);
/* The object is gone (deleted, overwritten): its directory and part files are
 * removed when the last holder (the body or a reader still serving a GET)
 * lets go, so a GET in flight is never torn. */
void ms3__body_doom(ms3_body *b);
/* The MD5 stand-in for zero bodies. */
void ms3__zero_md5(uint64_t size, unsigned char md5[16]);

#endif
