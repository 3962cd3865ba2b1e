/* Values and schemas: constructors, structs by schema, maps, copy/equal, schema owners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "value.h"

static void test_constructors(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 4096);
    sluice_value_t *v = value_int(&a, SLUICE_TYPE_INT64, INT64_MIN);
    assert_int_equal(v->type, SLUICE_TYPE_INT64);
    assert_true(value_as_int(v) == INT64_MIN);
    v = value_int(&a, SLUICE_TYPE_INT8, -5);
    assert_int_equal(v->type, SLUICE_TYPE_INT8);
    assert_true(value_as_float(v) == -5.0);
    v = value_float(&a, SLUICE_TYPE_FLOAT32, 0.1);
    assert_true(v->u.f == (double)0.1f); /* a float32 holds float precision only */
    v = value_float(&a, SLUICE_TYPE_FLOAT64, 2.5);
    assert_int_equal(value_as_int(v), 2);
    v = value_bool(&a, 7);
    assert_int_equal(v->u.b, 1);
    char src[] = "abc\0def";
    v = value_string(&a, src, 7);
    assert_int_equal(v->u.s.len, 7);
    assert_memory_equal(v->u.s.ptr, src, 7);
    assert_int_equal(v->u.s.ptr[7], '\0'); /* copies are NUL-terminated */
    assert_ptr_not_equal(v->u.s.ptr, src);
    v = value_bytes(&a, "\x00\xff", 2);
    assert_int_equal(v->type, SLUICE_TYPE_BYTES);
    assert_int_equal((unsigned char)v->u.s.ptr[1], 0xff);
    const char *log = "xyzNOT-TERMINATED";
    v = value_string_ref(&a, log, 3);
    assert_ptr_equal(v->u.s.ptr, log); /* no copy */
    assert_int_equal(v->u.s.len, 3);
    assert_int_equal(value_null(&a)->type, SLUICE_TYPE_NULL);
    arena_free(&a);
}

static void test_struct_by_schema(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    arena_t a;
    arena_init(&a, 4096);
    sluice_schema_t *st = schema_struct(&o, "com.example.Reading");
    sluice_schema_t *i32 = schema_new(&o, SLUICE_TYPE_INT32);
    sluice_schema_t *str = schema_new(&o, SLUICE_TYPE_STRING);
    str->optional = 1;
    assert_int_equal(schema_add_field(st, "id", i32), SLUICE_OK);
    assert_int_equal(schema_add_field(st, "name", str), SLUICE_OK);
    assert_int_equal(schema_add_field(st, "id", str), SLUICE_ERR_INVALID); /* duplicate */
    assert_int_equal(schema_field_index(st, "name"), 1);
    assert_int_equal(schema_field_index(st, "nope"), -1);

    sluice_value_t *v = value_struct(&a, st);
    assert_int_equal(v->type, SLUICE_TYPE_STRUCT);
    assert_int_equal(v->u.m.len, 2);
    assert_int_equal(value_get(v, "id")->type, SLUICE_TYPE_NULL); /* fields start as NULL */
    assert_int_equal(value_put(&a, v, "id", value_int(&a, SLUICE_TYPE_INT32, 7)), SLUICE_OK);
    assert_int_equal(value_put(&a, v, "unknown", value_int(&a, SLUICE_TYPE_INT32, 1)),
                     SLUICE_ERR_INVALID);
    /* a value of another type than the field's schema is refused */
    assert_int_equal(value_put(&a, v, "id", value_bool(&a, 1)), SLUICE_ERR_INVALID);
    assert_int_equal(value_as_int(value_get(v, "id")), 7);
    assert_string_equal(v->u.m.items[0].name, "id");
    assert_null(value_get(v, "unknown"));

    /* no schema → a schemaless MAP */
    sluice_value_t *m = value_struct(&a, NULL);
    assert_int_equal(m->type, SLUICE_TYPE_MAP);
    arena_free(&a);
    schema_owner_free(&o);
}

static void test_map_put_replace_order(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 256); /* small blocks: growth moves the arrays */
    sluice_value_t *m = value_map(&a, NULL);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(value_put(&a, m, key, value_int(&a, SLUICE_TYPE_INT64, i)), SLUICE_OK);
    }
    assert_int_equal(value_put(&a, m, "k3", value_int(&a, SLUICE_TYPE_INT64, 333)), SLUICE_OK);
    assert_int_equal(m->u.m.len, 50); /* replaced, not added */
    assert_int_equal(value_as_int(value_get(m, "k3")), 333);
    for (int i = 0; i < 50; i++) { /* insertion order kept */
        snprintf(key, sizeof key, "k%d", i);
        assert_string_equal(m->u.m.items[i].name, key);
    }
    /* value_map_put with a key that references unterminated bytes: name becomes a C string */
    const char raw[] = "keyXXX";
    assert_int_equal(value_map_put(&a, m, value_string_ref(&a, raw, 3), value_bool(&a, 1)),
                     SLUICE_OK);
    assert_string_equal(m->u.m.items[50].name, "key");
    assert_int_equal(value_get(m, "key")->type, SLUICE_TYPE_BOOLEAN);
    /* non-string keys */
    sluice_value_t *im = value_map(&a, NULL);
    assert_int_equal(
        value_map_put(&a, im, value_int(&a, SLUICE_TYPE_INT32, 1), value_string(&a, "a", 1)),
        SLUICE_OK);
    assert_int_equal(
        value_map_put(&a, im, value_int(&a, SLUICE_TYPE_INT32, 1), value_string(&a, "b", 1)),
        SLUICE_OK);
    assert_int_equal(im->u.m.len, 1);
    assert_null(im->u.m.items[0].name);
    assert_memory_equal(im->u.m.items[0].value->u.s.ptr, "b", 1);
    /* put on a non-container fails */
    assert_int_equal(value_put(&a, value_null(&a), "x", value_null(&a)), SLUICE_ERR_INVALID);
    arena_free(&a);
}

static void test_array_copy_equal(void **state)
{
    (void)state;
    arena_t a, b;
    arena_init(&a, 512);
    arena_init(&b, 512);
    sluice_value_t *arr = value_array(&a, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(value_append(&a, arr, value_int(&a, SLUICE_TYPE_INT64, i)), SLUICE_OK);
    sluice_value_t *m = value_map(&a, NULL);
    value_put(&a, m, "list", arr);
    value_put(&a, m, "s", value_string_ref(&a, "hello!", 5));
    value_put(&a, m, "f", value_float(&a, SLUICE_TYPE_FLOAT64, 1.5));
    sluice_value_t *c = value_copy(&b, m);
    arena_free(&a); /* the copy must not depend on the original arena */
    arena_init(&a, 512);
    sluice_value_t *m2 = value_map(&a, NULL);
    value_put(&a, m2, "f", value_float(&a, SLUICE_TYPE_FLOAT64, 1.5));
    value_put(&a, m2, "s", value_string(&a, "hello", 5));
    sluice_value_t *arr2 = value_array(&a, NULL);
    for (int i = 0; i < 100; i++)
        value_append(&a, arr2, value_int(&a, SLUICE_TYPE_INT64, i));
    value_put(&a, m2, "list", arr2);
    assert_true(value_equal(c, m2)); /* maps compare regardless of key order */
    assert_string_equal(value_get(c, "s")->u.s.ptr, "hello"); /* copy of a ref is terminated */
    value_append(&a, arr2, value_int(&a, SLUICE_TYPE_INT64, 100));
    assert_false(value_equal(c, m2));
    assert_false(
        value_equal(value_int(&a, SLUICE_TYPE_INT32, 1), value_int(&a, SLUICE_TYPE_INT64, 1)));
    assert_false(value_equal(value_string(&a, "ab", 2), value_bytes(&a, "ab", 2)));
    arena_free(&a);
    arena_free(&b);
}

static void test_schema_params_equal_owner(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    sluice_schema_t *d1 = schema_new(&o, SLUICE_TYPE_BYTES);
    schema_set_name(d1, SLUICE_LOGICAL_DECIMAL);
    schema_set_param(d1, "scale", "2");
    schema_set_param(d1, "connect.decimal.precision", "10");
    schema_set_param(d1, "scale", "3"); /* replaces */
    assert_string_equal(schema_param(d1, "scale"), "3");
    assert_int_equal(d1->nparams, 2);
    sluice_schema_t *d2 = schema_new(&o, SLUICE_TYPE_BYTES);
    schema_set_name(d2, SLUICE_LOGICAL_DECIMAL);
    schema_set_param(d2, "connect.decimal.precision", "10");
    schema_set_param(d2, "scale", "3");
    assert_true(schema_equal(d1, d2)); /* parameter order does not matter */
    schema_set_doc(d2, "money");
    assert_false(schema_equal(d1, d2));
    sluice_schema_t *arr1 = schema_array(&o, d1), *arr2 = schema_array(&o, d2);
    assert_false(schema_equal(arr1, arr2));
    schema_set_doc(d2, NULL);
    assert_true(schema_equal(arr1, arr2));
    sluice_schema_t *mp = schema_map(&o, schema_new(&o, SLUICE_TYPE_STRING), d1);
    assert_ptr_equal(mp->values, d1);
    assert_true(schema_is_logical(d1, SLUICE_LOGICAL_DECIMAL));
    assert_string_equal(schema_type_name(SLUICE_TYPE_FLOAT64), "double");
    assert_string_equal(schema_type_name(SLUICE_TYPE_FLOAT32), "float");
    assert_string_equal(schema_type_name(SLUICE_TYPE_STRUCT), "struct");
    /* everything above is freed here: valgrind reports any leak */
    schema_owner_free(&o);
    assert_null(o.head);
}

static void test_schema_copy_to_arena(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    arena_t a;
    arena_init(&a, 1024);
    sluice_schema_t *st = schema_struct(&o, "x");
    sluice_schema_t *ts = schema_new(&o, SLUICE_TYPE_INT64);
    schema_set_name(ts, SLUICE_LOGICAL_TIMESTAMP);
    schema_add_field(st, "at", ts);
    schema_add_field(st, "tags", schema_array(&o, schema_new(&o, SLUICE_TYPE_STRING)));
    sluice_schema_t *c = schema_copy_to_arena(&a, st);
    assert_true(schema_equal(st, c));
    schema_owner_free(&o);
    assert_string_equal(c->fields[0].schema->name, SLUICE_LOGICAL_TIMESTAMP);
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructors),
        cmocka_unit_test(test_struct_by_schema),
        cmocka_unit_test(test_map_put_replace_order),
        cmocka_unit_test(test_array_copy_equal),
        cmocka_unit_test(test_schema_params_equal_owner),
        cmocka_unit_test(test_schema_copy_to_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
