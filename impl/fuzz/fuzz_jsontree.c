/* The graph loader's JSON tree (impl/model/jsontree.c) against jansson, the
 * parser whose verdicts it promises to repeat. Properties: the tree accepts
 * exactly the texts json_loadb(text, len, 0) accepts, and for an accepted
 * text every value is the same (types, integers, reals bit for bit, strings
 * byte for byte, arrays in order, an object's members by name with the last
 * of duplicate names winning, as many distinct names as jansson keeps).
 *
 * Input: the text itself, any bytes. */
#include "fuzz_target.h"

#include <jansson.h>
#include <stdbool.h>

#include "jsontree.h"

static bool same_value(const bk__jt *ours, const json_t *theirs, int depth);

/* NOLINTNEXTLINE(misc-no-recursion): depth at most JSON_PARSER_MAX_DEPTH */
static bool same_members(const bk__jt *ours, const json_t *theirs, int depth)
{
    size_t distinct = 0;
    for (size_t i = 0; i < ours->n; i++) {
        const bk__jt *kid = &ours->u.kids[i];
        const bk__jt *last = bk__jt_get(ours, kid->key);
        if (last == kid)
            distinct++;
        const json_t *their_kid = json_object_get(theirs, kid->key);
        if (last == NULL || their_kid == NULL || !same_value(last, their_kid, depth + 1))
            return false;
    }
    return distinct == json_object_size(theirs);
}

/* NOLINTNEXTLINE(misc-no-recursion): depth at most JSON_PARSER_MAX_DEPTH */
static bool same_value(const bk__jt *ours, const json_t *theirs, int depth)
{
    if (depth > 4096)
        return false;
    switch (ours->type) {
    case BK__JT_NULL:
        return json_is_null(theirs);
    case BK__JT_FALSE:
        return json_is_false(theirs);
    case BK__JT_TRUE:
        return json_is_true(theirs);
    case BK__JT_INTEGER:
        return json_is_integer(theirs) && ours->u.integer == json_integer_value(theirs);
    case BK__JT_REAL: {
        /* bit for bit: -0.0 and 0.0 must not pass as the same */
        double real = json_real_value(theirs);
        uint64_t a = 0, b = 0;
        memcpy(&a, &ours->u.real, sizeof a);
        memcpy(&b, &real, sizeof b);
        return json_is_real(theirs) && a == b;
    }
    case BK__JT_STRING:
        return json_is_string(theirs) && ours->n == json_string_length(theirs) &&
               memcmp(ours->u.string, json_string_value(theirs), ours->n) == 0 &&
               ours->u.string[ours->n] == '\0';
    case BK__JT_ARRAY:
        if (!json_is_array(theirs) || ours->n != json_array_size(theirs))
            return false;
        for (size_t i = 0; i < ours->n; i++)
            if (!same_value(&ours->u.kids[i], json_array_get(theirs, i), depth + 1))
                return false;
        return true;
    case BK__JT_OBJECT:
        return json_is_object(theirs) && same_members(ours, theirs, depth);
    }
    return false;
}

BK_FUZZ_TARGET(jsontree)
{
    bool nomem = false;
    bk__jt_doc *doc = bk__jt_parse((const char *)data, size, &nomem);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, 0, &jerr);
    if (doc == NULL && nomem) {
        json_decref(root);
        return 0;
    }
    if ((doc != NULL) != (root != NULL))
        bk_fuzz_fail(doc != NULL ? "the JSON tree accepts a text jansson refuses"
                                 : "the JSON tree refuses a text jansson accepts");
    if (doc != NULL && !same_value(bk__jt_root(doc), root, 0))
        bk_fuzz_fail("the JSON tree and jansson read different values");
    bk__jt_free(doc);
    json_decref(root);
    return 0;
}
