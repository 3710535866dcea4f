/* An environment for the library's bk_env hook made of a table the test
 * owns: name, value, name, value, ..., NULL. Nothing of the process's own
 * environment shows through. */
#ifndef BK_TEST_ENVTABLE_H
#define BK_TEST_ENVTABLE_H

/* bk_env's get over a NULL-terminated name/value array passed as ud. */
const char *bk_test_env_table_get(void *ud, const char *name);

#endif
