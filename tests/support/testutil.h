/* Helpers shared by Baton's tests: cmocka's headers in the right order, and
 * reading files from the source tree and the vendor fixtures. */
#ifndef BT_TESTUTIL_H
#define BT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* $BATON_SOURCE_DIR/REL or $BATON_FIXTURES/REL: new strings (free()). */
char *bt_test_source_path(const char *rel);
char *bt_test_fixture_path(const char *rel);
/* The whole file, NUL-terminated; *len gets its length. Fails the test
 * when it cannot be read. */
char *bt_test_read_file(const char *path, size_t *len);
/* A fixture's bytes without a final newline, as the vectors sign them. */
char *bt_test_read_fixture(const char *rel, size_t *len);

#endif
