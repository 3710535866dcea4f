/* BK_TEST_UNIT
 * The store matrix's pure parts: the profile table (every profile names the
 * commits it comes from, the names are found, an ASCII '-' stands
 * for the dash), the verdict lines, and the JSON's exact shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "stores.h"

static void test_profiles_table(void **state)
{
    (void)state;
    static const char *const names[] = {
        "v0.11",
        "v0.12\xe2\x80\x93v0.25",
        "v0.26.0\xe2\x80\x93v0.26.1",
        "v0.26.2\xe2\x80\x93v0.30",
        "v0.31",
        "v0.32+",
    };
    size_t n = 0;
    const stores_profile *p = stores_profiles(&n);
    assert_int_equal(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(p[i].name, names[i]);
        assert_ptr_equal(stores_profile_find(names[i]), &p[i]);
        /* A source starts with the commit: nine hex digits and a space. */
        assert_true(strlen(p[i].source) > 10);
        assert_int_equal(strspn(p[i].source, "0123456789abcdef"), 9);
        assert_int_equal(p[i].source[9], ' ');
        assert_true(p[i].threshold > p[i].part_size - 1);
    }
    assert_ptr_equal(stores_profile_find("v0.26.0-v0.26.1"), &p[2]);
    assert_ptr_equal(stores_profile_find("v0.12-v0.25"), &p[1]);
    assert_null(stores_profile_find("v0.26"));
    assert_null(stores_profile_find("v0.11-"));
    assert_null(stores_profile_find(""));
    /* Facts of the issue, from the table. */
    assert_string_equal(p[0].touch_meta, "updated_at");
    assert_string_equal(p[1].touch_meta, "updated-at");
    assert_false(p[0].part_copy_touch);
    assert_true(p[1].part_copy_touch);
    assert_int_equal(p[2].checksum, STORES_CK_SDK_DEFAULT);
    assert_int_equal(p[3].checksum, STORES_CK_NONE);
    assert_true(p[3].unsigned_gzip);
    assert_false(p[2].unsigned_gzip);
    assert_int_equal(p[4].checksum, STORES_CK_TRANSFER_TRAILER);
    assert_int_equal(p[4].part_size, 8 * 1024 * 1024);
    assert_int_equal(p[4].threshold, 16 * 1024 * 1024);
    assert_int_equal(p[5].checksum, STORES_CK_NONE);
}

static stores_row row_of(const char *name)
{
    stores_row row;
    memset(&row, 0, sizeof row);
    row.profile = stores_profile_find(name);
    assert_non_null(row.profile);
    return row;
}

static void refuse(stores_cell *cell, int status, const char *code, const char *msg)
{
    cell->outcome = STORES_REFUSED;
    cell->status = status;
    snprintf(cell->error_code, sizeof cell->error_code, "%s", code);
    snprintf(cell->detail, sizeof cell->detail, "%s", msg);
}

static void test_verdicts(void **state)
{
    (void)state;
    char v[2048];
    stores_row ok = row_of("v0.32+");
    ok.cells[STORES_TOUCH_PART_COPY].outcome = STORES_NA;
    assert_true(stores_row_ok(&ok));
    stores_verdict(&ok, v, sizeof v);
    assert_string_equal(v, "BuildKit v0.32+: ok");

    stores_row oci = row_of("v0.31");
    refuse(&oci.cells[STORES_PUT_SMALL], 501, "NotImplemented", "aws-chunked");
    refuse(&oci.cells[STORES_PUT_MULTIPART], 501, "NotImplemented", "aws-chunked");
    refuse(&oci.cells[STORES_PUT_MANIFEST], 501, "NotImplemented", "aws-chunked");
    assert_false(stores_row_ok(&oci));
    stores_verdict(&oci, v, sizeof v);
    assert_string_equal(v, "BuildKit v0.31: uploads fail \xe2\x80\x94 501 NotImplemented: "
                           "aws-chunked");

    stores_row mp = row_of("v0.26.0-v0.26.1");
    refuse(&mp.cells[STORES_PUT_MULTIPART], 400, "InvalidPart", "parts");
    stores_verdict(&mp, v, sizeof v);
    assert_string_equal(v, "BuildKit v0.26.0\xe2\x80\x93v0.26.1: multipart uploads fail "
                           "\xe2\x80\x94 400 InvalidPart: parts");

    /* What went wrong after acceptance is said as such, category by category. */
    stores_row meta = row_of("v0.11");
    meta.cells[STORES_TOUCH_COPY].outcome = STORES_WRONG;
    meta.cells[STORES_TOUCH_COPY].status = 200;
    snprintf(meta.cells[STORES_TOUCH_COPY].detail, sizeof meta.cells[0].detail,
             "metadata updated_at dropped");
    refuse(&meta.cells[STORES_LIST], 403, "AccessDenied", "Access Denied");
    stores_verdict(&meta, v, sizeof v);
    assert_string_equal(v, "BuildKit v0.11: touch goes wrong \xe2\x80\x94 metadata updated_at "
                           "dropped; listing fails \xe2\x80\x94 403 AccessDenied: Access Denied");

    /* Every request refused: said once, with the first answer that has a body. */
    stores_row all = row_of("v0.11");
    for (int i = 0; i < STORES_N_OPS; i++)
        refuse(&all.cells[i], 403, i == STORES_HEAD_MISSING ? "" : "SignatureDoesNotMatch",
               i == STORES_HEAD_MISSING ? "(no error body)" : "signature");
    stores_verdict(&all, v, sizeof v);
    assert_string_equal(v, "BuildKit v0.11: every request fails \xe2\x80\x94 403 "
                           "SignatureDoesNotMatch: signature");
}

static void test_json_shape(void **state)
{
    (void)state;
    stores_row rows[2] = {row_of("v0.31"), row_of("v0.32+")};
    refuse(&rows[0].cells[STORES_PUT_SMALL], 501, "NotImplemented", "aws-chunked");
    rows[1].cells[STORES_TOUCH_PART_COPY].outcome = STORES_NA;
    char *text = stores_json(rows, 2);
    assert_non_null(text);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 1);
    json_t *profiles = json_object_get(doc, "profiles");
    assert_int_equal(json_array_size(profiles), 2);
    json_t *p0 = json_array_get(profiles, 0);
    assert_int_equal(json_object_size(p0), 4);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "v0.31");
    assert_string_equal(json_string_value(json_object_get(p0, "buildkit")), "BuildKit v0.31");
    assert_true(json_is_false(json_object_get(p0, "ok")));
    json_t *ops = json_object_get(p0, "operations");
    assert_int_equal(json_array_size(ops), STORES_N_OPS);
    json_t *put = json_array_get(ops, STORES_PUT_SMALL);
    assert_int_equal(json_object_size(put), 5);
    assert_string_equal(json_string_value(json_object_get(put, "operation")), "put_small");
    assert_true(json_is_false(json_object_get(put, "ok")));
    assert_int_equal(json_integer_value(json_object_get(put, "status")), 501);
    assert_string_equal(json_string_value(json_object_get(put, "error_code")), "NotImplemented");
    assert_string_equal(json_string_value(json_object_get(put, "detail")), "aws-chunked");
    json_t *p1 = json_array_get(profiles, 1);
    assert_true(json_is_true(json_object_get(p1, "ok")));
    json_t *na = json_array_get(json_object_get(p1, "operations"), STORES_TOUCH_PART_COPY);
    assert_true(json_is_true(json_object_get(na, "ok")));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles_table),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_json_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
