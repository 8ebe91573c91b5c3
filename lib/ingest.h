/* ingest — group commit of accepted deal changes, with the journal as the
 * fallback that keeps the acknowledgement promise while PostgreSQL is away.
 *
 * Changes submitted during one turn of the loop are written together in one
 * pipelined, implicit transaction (every event into the inbox once, merged
 * into its deal); each submitter's callback fires only after COMMIT. When
 * the database is unreachable or the commit's outcome is unknown, the
 * changes are appended to the journal instead and the callback fires once
 * they are on disk; they are replayed when the database is back (the inbox
 * makes a replay of anything already stored harmless). Callbacks fire
 * exactly once, on the loop thread:
 *   0          stored (in the database or the journal): answer 2xx
 *   BT_EFULL   the database is away and the journal is full: answer 503
 *   BT_EIO     neither could take it: answer 503
 *   BT_EINVAL  the database refuses the events themselves: answer 503 (and
 *              look at the log); a journaled record refused like this is set
 *              aside in JOURNAL.rejected so the rest of the replay goes on */
#ifndef BT_INGEST_H
#define BT_INGEST_H

#include <stddef.h>
#include <uv.h>

#include "crm.h"
#include "journal.h"
#include "pg.h"

struct bt_ingest;

struct bt_ingest_opts {
    size_t batch_max;            /* events per transaction */
    void (*on_marked)(void *ud); /* some deal was marked to match */
    void *ud;
};

struct bt_ingest_stats {
    unsigned long long events, duplicates, committed_batches, journaled, replayed, refused;
};

int bt_ingest_new(uv_loop_t *loop, struct bt_pg *pg, struct bt_journal *journal,
                  const struct bt_ingest_opts *opts, struct bt_ingest **out) BT_MUST_CHECK;
/* Writes what is queued (to the database or the journal) and frees once
 * nothing is in flight; DONE(ud) then fires. Close it before the database
 * connection and the journal it uses. */
void bt_ingest_close(struct bt_ingest *in, void (*done)(void *ud), void *ud);

typedef void (*bt_ingest_cb)(int err, void *ud);
/* Takes the changes (CHANGES is left empty). */
void bt_ingest_submit(struct bt_ingest *in, struct bt_changes *changes, bt_ingest_cb cb, void *ud);
/* The database is reachable again: replay the journal. */
void bt_ingest_db_up(struct bt_ingest *in);
/* Nothing queued, in flight or being replayed. */
int bt_ingest_idle(const struct bt_ingest *in);
const struct bt_ingest_stats *bt_ingest_stats(const struct bt_ingest *in);

#endif
