/* A read-only JSON tree for the graph fixture loader, built in one pass over
 * a private copy of the text: strings decoded in place, each container's
 * members in one array. It accepts exactly what jansson's json_loadb(text,
 * len, 0) accepts (an object or array at the top; RFC 8259 with UTF-8
 * checked, no \u0000, integers within int64, reals within double, nesting at
 * most JSON_PARSER_MAX_DEPTH), so a caller can leave the wording of a syntax
 * error to jansson and parse large fixtures at a fraction of its cost (no
 * hash table and no allocation per value). Private to the model layer. */
#ifndef BKCACHE_JSONTREE_H
#define BKCACHE_JSONTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum bk__jt_type {
    BK__JT_NULL,
    BK__JT_FALSE,
    BK__JT_TRUE,
    BK__JT_INTEGER,
    BK__JT_REAL,
    BK__JT_STRING,
    BK__JT_ARRAY,
    BK__JT_OBJECT,
} bk__jt_type;

typedef struct bk__jt bk__jt;
struct bk__jt {
    bk__jt_type type;
    const char *key; /* the member's name (NUL-terminated) inside an object */
    size_t n;        /* STRING: its length; ARRAY, OBJECT: number of members */
    union {
        int64_t integer;
        double real;
        const char *string; /* NUL-terminated, no NUL inside */
        const bk__jt *kids; /* ARRAY, OBJECT: the members, in document order */
    } u;
};

typedef struct bk__jt_doc bk__jt_doc;

/* The tree of text[0..len), or NULL when the text is not JSON jansson would
 * accept or memory ran out (*nomem tells which). */
bk__jt_doc *bk__jt_parse(const char *text, size_t len, bool *nomem);
const bk__jt *bk__jt_root(const bk__jt_doc *doc);
void bk__jt_free(bk__jt_doc *doc);

/* The member of an object named key (the last one, as jansson keeps the last
 * of duplicate names), or NULL; NULL for anything but an object. */
const bk__jt *bk__jt_get(const bk__jt *obj, const char *key);

#endif
