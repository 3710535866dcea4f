/* One pass, no recursion: values are pushed on a stack as they are read and a
 * container's members move into one array of the arena when it closes.
 * Bounded by the text: every byte is looked at a constant number of times. */
#include "jsontree.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct jt_block jt_block;
struct jt_block {
    jt_block *next;
    size_t used, cap;
    bk__jt items[];
};

struct bk__jt_doc {
    char *buf; /* the text's copy: strings are decoded in place */
    bk__jt root;
    jt_block *blocks; /* member arrays, newest first */
};

typedef struct parser {
    bk__jt_doc *doc;
    char *p, *end;
    bk__jt *stack; /* values read, their containers not closed yet */
    size_t len, cap;
    size_t *open; /* stack index of each open container, innermost last */
    size_t depth, open_cap;
    const char *key; /* the name of the member being read */
    bool nomem;
} parser;

enum { JT_BLOCK_ITEMS = 4096 };

static bk__jt *arena_alloc(parser *ps, size_t n)
{
    jt_block *b = ps->doc->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > JT_BLOCK_ITEMS ? n : JT_BLOCK_ITEMS;
        b = malloc(sizeof *b + cap * sizeof(bk__jt));
        if (b == NULL) {
            ps->nomem = true;
            return NULL;
        }
        b->next = ps->doc->blocks;
        b->used = 0;
        b->cap = cap;
        ps->doc->blocks = b;
    }
    bk__jt *out = &b->items[b->used];
    b->used += n;
    return out;
}

/* The array of n elements (of size bytes, *cap allocated) with room for one
 * more: itself, or moved by doubling it (first elements at first); NULL when
 * memory ran out, the array and *cap unchanged. */
static void *room_for_one(parser *ps, void *array, size_t n, size_t *cap, size_t size, size_t first)
{
    if (n < *cap)
        return array;
    size_t c = *cap ? *cap * 2 : first;
    void *p = realloc(array, c * size);
    if (p == NULL) {
        ps->nomem = true;
        return NULL;
    }
    *cap = c;
    return p;
}

static bk__jt *push(parser *ps, bk__jt_type type)
{
    bk__jt *s = room_for_one(ps, ps->stack, ps->len, &ps->cap, sizeof *s, 256);
    if (s == NULL)
        return NULL;
    ps->stack = s;
    bk__jt *v = &ps->stack[ps->len++];
    memset(v, 0, sizeof *v);
    v->type = type;
    v->key = ps->key;
    ps->key = NULL;
    return v;
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *put_utf8(char *w, unsigned long cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* A \uXXXX escape (a surrogate pair as two) at s, after the backslash: the
 * code point, or -1 for what jansson refuses (bad hex, a lone surrogate,
 * U+0000). *used: the bytes read. */
static long unicode_escape(const char *s, const char *end, size_t *used)
{
    if (end - s < 5)
        return -1;
    long cp = hex4(s + 1);
    *used = 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - s < 11 || s[5] != '\\' || s[6] != 'u')
            return -1;
        long lo = hex4(s + 7);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *used = 11;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
    }
    return cp <= 0 ? -1 : cp;
}

/* The length of the well-formed UTF-8 sequence at s (its first byte >= 0x80),
 * 0 when it is not one: overlong forms, surrogates and code points beyond
 * U+10FFFF are refused, as jansson does. */
static size_t utf8_length(const unsigned char *s, const unsigned char *end)
{
    size_t n;
    unsigned long cp;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* The string starting at the opening quote, decoded in place; NULL when it
 * is not a valid one. *n: its decoded length. */
/* Whether the 8 bytes at p all stand for themselves in a string (printable
 * ASCII other than '"' and '\\'), tested a word at a time: fixture strings
 * are long digests. Each test is exact about whether some byte matches. */
static bool plain_word(const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
    uint64_t control = (v - ones * 0x20) & ~v; /* a byte below 0x20 */
    uint64_t quotes = (quote - ones) & ~quote, backslashes = (backslash - ones) & ~backslash;
    return ((control | quotes | backslashes | v) & highs) == 0;
}

static const char *read_string(parser *ps, size_t *n)
{
    char *start = ++ps->p, *w = start;
    while (ps->p < ps->end) {
        /* A run of bytes that stand for themselves, moved once (not at all
         * before the first escape): most strings are nothing else. */
        const char *run = ps->p;
        while (ps->end - ps->p >= 8 && plain_word(ps->p))
            ps->p += 8;
        while (ps->p < ps->end && (unsigned char)*ps->p >= 0x20 && (unsigned char)*ps->p < 0x80 &&
               *ps->p != '"' && *ps->p != '\\')
            ps->p++;
        if (w != run)
            memmove(w, run, (size_t)(ps->p - run));
        w += ps->p - run;
        if (ps->p == ps->end)
            break;
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            *w = '\0';
            *n = (size_t)(w - start);
            return start;
        }
        if (c < 0x20)
            return NULL;
        if (c >= 0x80) {
            size_t len = utf8_length((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (len == 0)
                return NULL;
            memmove(w, ps->p, len);
            w += len;
            ps->p += len;
            continue;
        }
        if (ps->end - ps->p < 2)
            return NULL;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = ps->p[1] != '\0' ? strchr(from, ps->p[1]) : NULL;
        if (e != NULL) {
            *w++ = to[e - from];
            ps->p += 2;
            continue;
        }
        if (ps->p[1] != 'u')
            return NULL;
        size_t used = 0;
        long cp = unicode_escape(ps->p + 1, ps->end, &used);
        if (cp < 0)
            return NULL;
        w = put_utf8(w, (unsigned long)cp);
        ps->p += 1 + used;
    }
    return NULL;
}

static bool is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number as jansson reads it: an integer (no fraction, no exponent) must
 * fit int64, a real must not overflow a double. */
static bool read_number(parser *ps)
{
    char *start = ps->p;
    bool real = false;
    if (*ps->p == '-')
        ps->p++;
    if (!is_digit(ps->p, ps->end))
        return false;
    if (*ps->p == '0' && is_digit(ps->p + 1, ps->end))
        return false;
    while (is_digit(ps->p, ps->end))
        ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        real = true;
        ps->p++;
        if (!is_digit(ps->p, ps->end))
            return false;
        while (is_digit(ps->p, ps->end))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        real = true;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!is_digit(ps->p, ps->end))
            return false;
        while (is_digit(ps->p, ps->end))
            ps->p++;
    }
    /* strtoll/strtod stop where the grammar above did: the copy ends in a NUL
     * and a number is never followed by more of one. */
    char *stop = NULL;
    errno = 0;
    bk__jt *v = push(ps, real ? BK__JT_REAL : BK__JT_INTEGER);
    if (v == NULL)
        return false;
    if (real) {
        v->u.real = strtod(start, &stop);
        if (errno == ERANGE && isinf(v->u.real))
            return false;
    } else {
        v->u.integer = strtoll(start, &stop, 10);
        if (errno == ERANGE)
            return false;
    }
    return stop == ps->p;
}

static bool read_literal(parser *ps, const char *word, bk__jt_type type)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return push(ps, type) != NULL;
}

/* An object member's name and colon, before its value. */
static bool read_key(parser *ps)
{
    skip_space(ps);
    size_t n;
    if (ps->p >= ps->end || *ps->p != '"' || (ps->key = read_string(ps, &n)) == NULL)
        return false;
    skip_space(ps);
    if (ps->p >= ps->end || *ps->p != ':')
        return false;
    ps->p++;
    return true;
}

static bool open_container(parser *ps, bk__jt_type type)
{
    size_t *o = room_for_one(ps, ps->open, ps->depth, &ps->open_cap, sizeof *o, 16);
    if (o == NULL)
        return false;
    ps->open = o;
    if (push(ps, type) == NULL)
        return false;
    ps->open[ps->depth++] = ps->len - 1;
    ps->p++;
    return true;
}

static bool close_container(parser *ps)
{
    size_t at = ps->open[--ps->depth];
    size_t n = ps->len - at - 1;
    bk__jt *kids = n ? arena_alloc(ps, n) : NULL;
    if (n && kids == NULL)
        return false;
    if (n)
        memcpy(kids, &ps->stack[at + 1], n * sizeof *kids);
    ps->stack[at].n = n;
    ps->stack[at].u.kids = kids;
    ps->len = at + 1;
    ps->p++;
    return true;
}

typedef enum step { STEP_FAILED, STEP_VALUE, STEP_OPENED } step;

/* jansson ends a number or a literal by reading one character past it and
 * putting it back; a NUL byte put back is lost (its stream takes a NUL in
 * its buffer for "refill"), so one NUL right after such a token is skipped
 * ("[1\0]" and "[true\0,2]" load). Only the byte that ended the token: a
 * second NUL, or one after a string or a bracket, still refuses. */
static void skip_lookahead_nul(parser *ps)
{
    if (ps->p < ps->end && *ps->p == '\0')
        ps->p++;
}

/* One value; or a container opened, its first member (and name) next. */
static step read_value(parser *ps)
{
    skip_space(ps);
    /* jansson counts every value's depth, a scalar's too */
    if (ps->p >= ps->end || ps->depth >= JSON_PARSER_MAX_DEPTH)
        return STEP_FAILED;
    size_t n;
    bool ok;
    char first = *ps->p;
    switch (first) {
    case '{':
    case '[': {
        bool object = *ps->p == '{';
        if (!open_container(ps, object ? BK__JT_OBJECT : BK__JT_ARRAY))
            return STEP_FAILED;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']'))
            return close_container(ps) ? STEP_VALUE : STEP_FAILED;
        return !object || read_key(ps) ? STEP_OPENED : STEP_FAILED;
    }
    case '"': {
        const char *s = read_string(ps, &n);
        bk__jt *v = s ? push(ps, BK__JT_STRING) : NULL;
        if (v != NULL) {
            v->u.string = s;
            v->n = n;
        }
        ok = v != NULL;
        break;
    }
    case 't':
        ok = read_literal(ps, "true", BK__JT_TRUE);
        break;
    case 'f':
        ok = read_literal(ps, "false", BK__JT_FALSE);
        break;
    case 'n':
        ok = read_literal(ps, "null", BK__JT_NULL);
        break;
    default:
        ok = read_number(ps);
        break;
    }
    if (ok && first != '"')
        skip_lookahead_nul(ps);
    return ok ? STEP_VALUE : STEP_FAILED;
}

/* What follows a value in its container: the next member or the end of it. */
static step read_after_value(parser *ps)
{
    skip_space(ps);
    if (ps->p >= ps->end)
        return STEP_FAILED;
    bool object = ps->stack[ps->open[ps->depth - 1]].type == BK__JT_OBJECT;
    if (*ps->p == (object ? '}' : ']'))
        return close_container(ps) ? STEP_VALUE : STEP_FAILED;
    if (*ps->p != ',')
        return STEP_FAILED;
    ps->p++;
    return !object || read_key(ps) ? STEP_OPENED : STEP_FAILED;
}

static bool read_document(parser *ps)
{
    skip_space(ps);
    if (ps->p >= ps->end || (*ps->p != '{' && *ps->p != '['))
        return false;
    step s = read_value(ps);
    while (s != STEP_FAILED && (s == STEP_OPENED || ps->depth > 0))
        s = s == STEP_OPENED ? read_value(ps) : read_after_value(ps);
    if (s == STEP_FAILED)
        return false;
    skip_space(ps);
    return ps->p == ps->end;
}

bk__jt_doc *bk__jt_parse(const char *text, size_t len, bool *nomem)
{
    *nomem = true;
    bk__jt_doc *doc = calloc(1, sizeof *doc);
    if (doc == NULL || (doc->buf = malloc(len + 1)) == NULL) {
        free(doc);
        return NULL;
    }
    memcpy(doc->buf, text, len);
    doc->buf[len] = '\0';
    parser ps = {.doc = doc, .p = doc->buf, .end = doc->buf + len};
    bool ok = read_document(&ps);
    if (ok)
        doc->root = ps.stack[0];
    *nomem = ps.nomem;
    free(ps.stack);
    free(ps.open);
    if (!ok) {
        bk__jt_free(doc);
        return NULL;
    }
    return doc;
}

const bk__jt *bk__jt_root(const bk__jt_doc *doc)
{
    return &doc->root;
}

void bk__jt_free(bk__jt_doc *doc)
{
    if (doc == NULL)
        return;
    while (doc->blocks != NULL) {
        jt_block *next = doc->blocks->next;
        free(doc->blocks);
        doc->blocks = next;
    }
    free(doc->buf);
    free(doc);
}

const bk__jt *bk__jt_get(const bk__jt *obj, const char *key)
{
    const bk__jt *found = NULL;
    for (size_t i = 0; obj != NULL && obj->type == BK__JT_OBJECT && i < obj->n; i++)
        if (strcmp(obj->u.kids[i].key, key) == 0)
            found = &obj->u.kids[i];
    return found;
}
