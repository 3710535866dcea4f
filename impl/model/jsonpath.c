/* The path of the value at a byte offset of JSON text, found by walking the
 * text before it (which jansson has already read as valid JSON). */
#include "jsonpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct frame {
    bool object;
    size_t index;    /* arrays: the element being read */
    const char *key; /* objects: the last key read */
    size_t key_len;
    bool want_key; /* objects: a key comes next */
} frame;

typedef struct walk {
    frame *stack;
    size_t depth, cap;
} walk;

static bool push(walk *w, bool object)
{
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        frame *s = realloc(w->stack, cap * sizeof *s);
        if (!s)
            return false;
        w->stack = s;
        w->cap = cap;
    }
    w->stack[w->depth++] = (frame){object, 0, NULL, 0, object};
    return true;
}

/* The end of the string token starting at s[i] == '"'. */
static size_t string_end(const char *s, size_t len, size_t i)
{
    for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i < len ? i + 1 : len;
}

static bool delimiter(char c)
{
    return c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r';
}

/* Walks text up to the token that ends at end; its start in *tok. */
static bool walk_to(walk *w, const char *s, size_t len, size_t end, size_t *tok)
{
    size_t i = 0;
    while (i < len && i < end) {
        char c = s[i];
        frame *top = w->depth ? &w->stack[w->depth - 1] : NULL;
        if (c == '{' || c == '[') {
            if (!push(w, c == '{'))
                return false;
            i++;
        } else if (c == '}' || c == ']') {
            w->depth -= w->depth ? 1 : 0;
            i++;
        } else if (c == ',') {
            if (top && top->object)
                top->want_key = true;
            else if (top)
                top->index++;
            i++;
        } else if (c == '"') {
            size_t e = string_end(s, len, i);
            if (top && top->object && top->want_key) {
                top->key = s + i + 1;
                top->key_len = e - i >= 2 ? e - i - 2 : 0;
                top->want_key = false;
            }
            *tok = i;
            i = e;
        } else if (delimiter(c)) {
            i++;
        } else {
            *tok = i;
            while (i < len && !delimiter(s[i]))
                i++;
        }
    }
    return true;
}

bool bk__json_range_error(const char *text, size_t len, const json_error_t *e, char *msg,
                          size_t msg_len)
{
    const char *type = strncmp(e->text, "too big", 7) == 0                 ? "int64"
                       : strncmp(e->text, "real number overflow", 20) == 0 ? "float64"
                                                                           : NULL;
    if (!type || e->position < 0 || (size_t)e->position > len)
        return false;
    walk w = {0};
    size_t tok = 0, end = (size_t)e->position;
    if (!walk_to(&w, text, len, end, &tok)) {
        free(w.stack);
        return false;
    }
    char path[512];
    size_t n = 0;
    path[0] = '\0';
    for (size_t d = 0; d < w.depth && n + 1 < sizeof path; d++) {
        const frame *f = &w.stack[d];
        int k = f->object ? snprintf(path + n, sizeof path - n, ".%.*s", (int)f->key_len, f->key)
                          : snprintf(path + n, sizeof path - n, "[%zu]", f->index);
        n = k > 0 && (size_t)k < sizeof path - n ? n + (size_t)k : sizeof path - 1;
    }
    free(w.stack);
    const char *p = path[0] == '.' ? path + 1 : path;
    snprintf(msg, msg_len, "%s: number %.*s is out of range (%s)", *p ? p : "(top level)",
             (int)(end > tok && end - tok < 64 ? end - tok : 64), text + tok, type);
    return true;
}
