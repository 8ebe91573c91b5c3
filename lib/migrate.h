/* migrate — brings a database's schema up to date from the numbered SQL files
 * in a schema directory (NNNN_name.sql), and tells whether it is.
 *
 * Blocking libpq on a connection the caller owns: for the `baton` command and
 * the daemon's start-up only, never on the event loop. Each file runs once, in
 * a transaction of its own, and is recorded in schema_migrations (created
 * here); a file must therefore not contain BEGIN/COMMIT. Concurrent runs on
 * one database are serialized by an advisory lock. No callbacks. */
#ifndef BT_MIGRATE_H
#define BT_MIGRATE_H

#include <libpq-fe.h>
#include <stdio.h>

#include "diag.h"
#include "err.h"

/* The schema directory to use when none is given: the installed one
 * (BATON_SCHEMA_DIR, fixed at build time) when it exists, else "schema"
 * relative to the working directory, as in a source tree. Static string. */
const char *bt_migrate_default_dir(void);

/* Applies, in order of their numbers, the migrations in SCHEMA_DIR that the
 * database has not recorded. Writes one line per file applied to LOG (may be
 * NULL), and a warning there for any applied file whose content has changed
 * since. Returns the number of files applied (0: already up to date), or
 * BT_EIO (unreadable directory or file), BT_EINVAL (two files with one
 * number) or BT_EDB; details go to diags. A file that fails is rolled back
 * and nothing after it runs; the files before it stay applied. */
int bt_migrate_apply(PGconn *conn, const char *schema_dir, FILE *log,
                     struct bt_diags *diags) BT_MUST_CHECK;

/* The highest migration the database has recorded (*current, 0 when it has
 * none, or not even the table) and the highest in SCHEMA_DIR (*latest).
 * The schema is behind when *current < *latest. Returns 0; BT_EDB
 * (PQerrorMessage(conn) says why); or BT_EIO / BT_EINVAL when SCHEMA_DIR
 * cannot be read or holds two files with one number, *current being set
 * all the same. */
int bt_migrate_status(PGconn *conn, const char *schema_dir, int *current,
                      int *latest) BT_MUST_CHECK;

/* The check a program makes before using the database: 0 when the schema is
 * at least at the newest migration in SCHEMA_DIR. Otherwise BT_ESCHEMA with
 * "database schema is at version 1, this WHO needs 2: run baton migrate"
 * (or "the database has no Baton schema: run baton migrate") in diags;
 * BT_EDB; or BT_EIO / BT_EINVAL when SCHEMA_DIR cannot be read (the
 * database having a schema at all was still checked first). */
int bt_migrate_check(PGconn *conn, const char *schema_dir, const char *who,
                     struct bt_diags *diags) BT_MUST_CHECK;

#endif
