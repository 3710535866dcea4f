/* Reads a cache config the way Go's encoding/json decodes it into BuildKit's
 * types (see cacheconfig.h for the rules and the known differences). jansson
 * does the tokenizing; this file maps values onto the C structs with Go's
 * field matching, null and type rules, and tracks the JSON path for errors. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/cacheconfig.h"
#include "cacheconfig_internal.h"
#include "jsonpath.h"

typedef struct reader {
    char path[512];
    size_t plen;
    bk_err *err;
} reader;

/* Appends to the path (cut at the buffer's end) and returns the length to
 * pop back to. Called for every value read: no formatting. */
static size_t path_append(reader *r, const char *s, size_t n)
{
    size_t saved = r->plen, room = sizeof r->path - 1 - r->plen;
    if (n > room)
        n = room;
    memcpy(r->path + r->plen, s, n);
    r->plen += n;
    r->path[r->plen] = '\0';
    return saved;
}

static size_t path_index(reader *r, size_t i)
{
    char text[24];
    size_t n = sizeof text;
    text[--n] = ']';
    do {
        text[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    text[--n] = '[';
    return path_append(r, text + n, sizeof text - n);
}

static size_t path_field(reader *r, const char *name)
{
    size_t saved = path_append(r, ".", 1);
    path_append(r, name, strlen(name));
    return saved;
}

static void path_pop(reader *r, size_t saved)
{
    r->plen = saved;
    r->path[saved] = '\0';
}

static const char *path_str(const reader *r)
{
    if (r->plen == 0)
        return "(top level)";
    return r->path[0] == '.' ? r->path + 1 : r->path;
}

static bk_code fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bk_code fail(reader *r, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bk_err_set(r->err, BK_EINVAL, "%s: %s", path_str(r), msg);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

/* Go matches a key to a field exactly first, then with Unicode simple case
 * folding. For our ASCII field names the only non-ASCII folds are
 * U+017F (ſ) ~ s and U+212A (Kelvin sign) ~ k. */
static bool fold_equal(const char *field, const char *key)
{
    const unsigned char *k = (const unsigned char *)key;
    for (const char *f = field; *f; f++) {
        char lf = (char)(*f | 0x20);
        if (k[0] == 0xC5 && k[1] == 0xBF && lf == 's') {
            k += 2;
            continue;
        }
        if (k[0] == 0xE2 && k[1] == 0x84 && k[2] == 0xAA && lf == 'k') {
            k += 3;
            continue;
        }
        if (*k >= 0x80 || (char)(*k | 0x20) != lf)
            return false;
        /* '|0x20' maps '@'..'_' onto '`'..DEL too; only letters may fold. */
        if (*k != (unsigned char)*f && !((*k | 0x20) >= 'a' && (*k | 0x20) <= 'z'))
            return false;
        k++;
    }
    return *k == '\0';
}

/* Index of the field the key decodes into, or -1 when Go would ignore it. */
static int match_field(const char *const *fields, const char *key)
{
    for (int i = 0; fields[i]; i++)
        if (strcmp(fields[i], key) == 0)
            return i;
    for (int i = 0; fields[i]; i++)
        if (fold_equal(fields[i], key))
            return i;
    return -1;
}

/* ---- scalars ---- */

static bk_code read_string(reader *r, const json_t *v, char **dst)
{
    if (json_is_null(v))
        return BK_OK;
    if (!json_is_string(v))
        return fail(r, "cannot unmarshal %s into a string", type_name(v));
    char *s = strdup(json_string_value(v));
    if (!s)
        return bk_err_set(r->err, BK_ENOMEM, "out of memory");
    free(*dst);
    *dst = s;
    return BK_OK;
}

static bk_code read_int(reader *r, const json_t *v, int64_t *dst)
{
    if (json_is_null(v))
        return BK_OK;
    if (json_is_real(v))
        return fail(r, "cannot unmarshal number %g into an integer", json_real_value(v));
    if (!json_is_integer(v))
        return fail(r, "cannot unmarshal %s into an integer", type_name(v));
    *dst = (int64_t)json_integer_value(v);
    return BK_OK;
}

static bk_code read_time(reader *r, const json_t *v, bk_time *dst)
{
    if (json_is_null(v))
        return BK_OK;
    if (!json_is_string(v))
        return fail(r, "Time.UnmarshalJSON: input is not a JSON string");
    bk_err terr;
    if (bk_time_parse(json_string_value(v), json_string_length(v), dst, &terr) != BK_OK)
        return fail(r, "%s", terr.msg);
    return BK_OK;
}

/* ---- arrays: Go resets the length and decodes element i into the existing
 * element i when there is one (so repeated keys merge), zeroed otherwise. ---- */

typedef bk_code (*elem_fn)(reader *r, const json_t *v, void *elem);
typedef void (*elem_clear_fn)(void *elem);

/* Elements are zeroed, then given Go's zero values where those are not all
 * zero bits (the zero time, a nil slice). */
typedef void (*elem_init_fn)(void *elem);

static bk_code read_array(reader *r, const json_t *v, void **arr, size_t *n, size_t sz, elem_fn fn,
                          elem_clear_fn elem_clear, elem_init_fn init, bool *is_null)
{
    if (json_is_null(v)) {
        for (size_t i = 0; elem_clear && i < *n; i++)
            elem_clear((char *)*arr + i * sz);
        free(*arr);
        *arr = NULL;
        *n = 0;
        if (is_null)
            *is_null = true;
        return BK_OK;
    }
    if (!json_is_array(v))
        return fail(r, "cannot unmarshal %s into an array", type_name(v));
    size_t len = json_array_size(v);
    if (len < *n) {
        for (size_t i = len; elem_clear && i < *n; i++)
            elem_clear((char *)*arr + i * sz);
    } else if (len > *n) {
        void *p = realloc(*arr, len * sz);
        if (!p)
            return bk_err_set(r->err, BK_ENOMEM, "out of memory");
        memset((char *)p + *n * sz, 0, (len - *n) * sz);
        for (size_t i = *n; init && i < len; i++)
            init((char *)p + i * sz);
        *arr = p;
    }
    *n = len;
    if (is_null)
        *is_null = false;
    for (size_t i = 0; i < len; i++) {
        size_t saved = path_index(r, i);
        bk_code rc = fn(r, json_array_get(v, i), (char *)*arr + i * sz);
        if (rc != BK_OK)
            return rc;
        path_pop(r, saved);
    }
    return BK_OK;
}

/* ---- objects ---- */

typedef bk_code (*field_fn)(reader *r, int field, const json_t *v, void *obj);

static bk_code read_object(reader *r, const json_t *v, const char *what, const char *const *fields,
                           field_fn fn, void *obj)
{
    if (json_is_null(v))
        return BK_OK;
    if (!json_is_object(v))
        return fail(r, "cannot unmarshal %s into %s (expected an object)", type_name(v), what);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        int f = match_field(fields, key);
        if (f < 0)
            continue;
        size_t saved = path_field(r, fields[f]);
        bk_code rc = fn(r, f, val, obj);
        if (rc != BK_OK)
            return rc;
        path_pop(r, saved);
    }
    return BK_OK;
}

static const char *const annotation_fields[] = {"mediaType", "diffID", "size", "createdAt", NULL};

static bk_code annotation_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_layer_annotations *a = obj;
    switch (f) {
    case 0:
        return read_string(r, v, &a->media_type);
    case 1:
        return read_string(r, v, &a->diff_id);
    case 2:
        if (read_int(r, v, &a->size) != BK_OK)
            return BK_EINVAL;
        /* Go would take it, and a negative size then becomes 2^64-1 bytes
         * to fetch or an absurd size to check: refused here, once. */
        if (a->size < 0)
            return fail(r, "%lld is negative", (long long)a->size);
        return BK_OK;
    default:
        return read_time(r, v, &a->created_at);
    }
}

static void free_annotations(bk_layer_annotations *a)
{
    if (!a)
        return;
    free(a->media_type);
    free(a->diff_id);
    free(a);
}

static const char *const layer_fields[] = {"blob", "parent", "annotations", NULL};

static bk_code layer_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_cache_layer *l = obj;
    switch (f) {
    case 0:
        return read_string(r, v, &l->blob);
    case 1:
        return read_int(r, v, &l->parent);
    default:
        if (json_is_null(v)) {
            free_annotations(l->annotations);
            l->annotations = NULL;
            return BK_OK;
        }
        if (!l->annotations) {
            if (!json_is_object(v))
                return fail(r, "cannot unmarshal %s into annotations (expected an object)",
                            type_name(v));
            l->annotations = calloc(1, sizeof *l->annotations);
            if (!l->annotations)
                return bk_err_set(r->err, BK_ENOMEM, "out of memory");
            l->annotations->created_at = bk_time_zero();
        }
        return read_object(r, v, "annotations", annotation_fields, annotation_field,
                           l->annotations);
    }
}

static bk_code layer_elem(reader *r, const json_t *v, void *elem)
{
    return read_object(r, v, "a cache layer", layer_fields, layer_field, elem);
}

static void layer_clear(void *elem)
{
    bk__config_layer_clear(elem);
}

static const char *const result_fields[] = {"layer", "createdAt", NULL};

static bk_code result_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_cache_result *res = obj;
    return f == 0 ? read_int(r, v, &res->layer) : read_time(r, v, &res->created_at);
}

static void result_init(void *elem)
{
    ((bk_cache_result *)elem)->created_at = bk_time_zero();
}

static bk_code result_elem(reader *r, const json_t *v, void *elem)
{
    return read_object(r, v, "a cache result", result_fields, result_field, elem);
}

static bk_code int_elem(reader *r, const json_t *v, void *elem)
{
    return read_int(r, v, elem);
}

static const char *const chain_fields[] = {"layers", "createdAt", NULL};

static bk_code chain_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_chained_result *c = obj;
    if (f == 1)
        return read_time(r, v, &c->created_at);
    return read_array(r, v, (void **)&c->layers, &c->n_layers, sizeof(int64_t), int_elem, NULL,
                      NULL, &c->layers_null);
}

static void chain_init(void *elem)
{
    bk_chained_result *c = elem;
    c->created_at = bk_time_zero();
    c->layers_null = true; /* a missing "layers" is Go's nil slice */
}

static bk_code chain_elem(reader *r, const json_t *v, void *elem)
{
    return read_object(r, v, "a chained result", chain_fields, chain_field, elem);
}

static void chain_clear(void *elem)
{
    bk_chained_result *c = elem;
    free(c->layers);
    memset(c, 0, sizeof *c);
}

static const char *const input_fields[] = {"selector", "link", NULL};

static bk_code input_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_cache_input *in = obj;
    return f == 0 ? read_string(r, v, &in->selector) : read_int(r, v, &in->link);
}

static bk_code input_elem(reader *r, const json_t *v, void *elem)
{
    return read_object(r, v, "a cache input", input_fields, input_field, elem);
}

static void input_clear(void *elem)
{
    bk_cache_input *in = elem;
    free(in->selector);
    memset(in, 0, sizeof *in);
}

static void input_list_init(void *elem)
{
    ((bk_input_list *)elem)->is_null = true;
}

static bk_code input_list_elem(reader *r, const json_t *v, void *elem)
{
    bk_input_list *l = elem;
    return read_array(r, v, (void **)&l->links, &l->n_links, sizeof(bk_cache_input), input_elem,
                      input_clear, NULL, &l->is_null);
}

static void input_list_clear(void *elem)
{
    bk_input_list *l = elem;
    for (size_t i = 0; i < l->n_links; i++)
        input_clear(&l->links[i]);
    free(l->links);
    memset(l, 0, sizeof *l);
}

static void result_clear(void *elem)
{
    (void)elem;
}

static const char *const record_fields[] = {"layers", "chains", "digest", "inputs", NULL};

static bk_code record_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_cache_record *rec = obj;
    switch (f) {
    case 0:
        return read_array(r, v, (void **)&rec->results, &rec->n_results, sizeof(bk_cache_result),
                          result_elem, result_clear, result_init, NULL);
    case 1:
        return read_array(r, v, (void **)&rec->chains, &rec->n_chains, sizeof(bk_chained_result),
                          chain_elem, chain_clear, chain_init, NULL);
    case 2:
        return read_string(r, v, &rec->digest);
    default:
        return read_array(r, v, (void **)&rec->inputs, &rec->n_inputs, sizeof(bk_input_list),
                          input_list_elem, input_list_clear, input_list_init, NULL);
    }
}

static bk_code record_elem(reader *r, const json_t *v, void *elem)
{
    return read_object(r, v, "a cache record", record_fields, record_field, elem);
}

static void record_clear(void *elem)
{
    bk__config_record_clear(elem);
}
static const char *const config_fields[] = {"layers", "records", NULL};

static bk_code config_field(reader *r, int f, const json_t *v, void *obj)
{
    bk_cache_config *cfg = obj;
    if (f == 0)
        return read_array(r, v, (void **)&cfg->layers, &cfg->n_layers, sizeof(bk_cache_layer),
                          layer_elem, layer_clear, NULL, NULL);
    return read_array(r, v, (void **)&cfg->records, &cfg->n_records, sizeof(bk_cache_record),
                      record_elem, record_clear, NULL, NULL);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(s[i]))
            return false;
    return true;
}

static bk_code parse_text(const char *json, size_t len, bk_cache_config *cfg, bk_err *err)
{
    size_t i = 0;
    while (i < len && is_space(json[i]))
        i++;
    if (i == len)
        return bk_err_set(err, BK_EINVAL, "unexpected end of JSON input (empty cache config)");
    if (json[i] == 'n' && len - i >= 4 && memcmp(json + i, "null", 4) == 0) {
        /* Go decodes a top-level null into an empty config. */
        size_t rest = i + 4;
        if (rest < len && !is_space(json[rest]) && json[rest] != '{' && json[rest] != '[' &&
            json[rest] != '"')
            return bk_err_set(err, BK_EINVAL, "invalid character after top-level value 'null'");
        if (!only_space(json + rest, len - rest))
            return bk_err_set(err, BK_EINVAL, "unexpected data after JSON object");
        return BK_OK;
    }
    if (json[i] != '{' && json[i] != '[') {
        const char *what = json[i] == '"'                                           ? "string"
                           : (json[i] == 't' || json[i] == 'f')                     ? "bool"
                           : (json[i] == '-' || (json[i] >= '0' && json[i] <= '9')) ? "number"
                                                                                    : NULL;
        if (what)
            return bk_err_set(err, BK_EINVAL,
                              "cannot unmarshal %s into a cache config (expected an object)", what);
        return bk_err_set(err, BK_EINVAL, "invalid character '%c' looking for beginning of value",
                          json[i]);
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DISABLE_EOF_CHECK, &jerr);
    char msg[640];
    if (!root && bk__json_range_error(json, len, &jerr, msg, sizeof msg))
        return bk_err_set(err, BK_EINVAL, "%s", msg);
    if (!root)
        return bk_err_set(err, BK_EINVAL, "invalid JSON at line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    bk_code rc = BK_OK;
    size_t used = (size_t)jerr.position;
    if (used > len || !only_space(json + used, len - used)) {
        rc = bk_err_set(err, BK_EINVAL, "unexpected data after JSON object");
    } else if (json_is_array(root)) {
        rc = bk_err_set(err, BK_EINVAL,
                        "cannot unmarshal array into a cache config (expected an "
                        "object)");
    } else {
        reader r = {.err = err};
        rc = read_object(&r, root, "a cache config", config_fields, config_field, cfg);
    }
    json_decref(root);
    return rc;
}

bk_code bk_config_parse(const char *json, size_t len, bk_cache_config **out, bk_err *err)
{
    *out = NULL;
    bk_cache_config *cfg = bk_config_new();
    if (!cfg)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    char *clean = NULL;
    if (!bk_utf8_valid(json, len)) {
        /* Go turns each invalid byte inside a string into U+FFFD; outside a
         * string it is a syntax error either way. */
        clean = bk_utf8_sanitize(json, len, &len);
        if (!clean) {
            bk_config_free(cfg);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        json = clean;
    }
    bk_code rc = parse_text(json, len, cfg, err);
    free(clean);
    if (rc != BK_OK) {
        bk_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return BK_OK;
}
