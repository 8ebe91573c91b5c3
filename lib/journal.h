/* journal — the local, fsync'd file that keeps acknowledged events while
 * PostgreSQL is unreachable.
 *
 * Records are single lines (compact JSON, so never a raw newline), appended
 * with write() and made durable with an asynchronous fdatasync on libuv's
 * pool; the append's callback fires once the record is on disk, and only
 * then may the sender be answered. The journal is bounded: an append that
 * would pass max_bytes fails at once with BT_EFULL. For replay, the current
 * file is moved aside (PATH.replay) so new appends go on meanwhile; once
 * every replayed record is committed, bt_journal_replayed() removes it. A
 * torn last line (a crash mid-write, never acknowledged) is skipped.
 * Loop thread only. */
#ifndef BT_JOURNAL_H
#define BT_JOURNAL_H

#include <stddef.h>
#include <uv.h>

#include "err.h"

struct bt_journal;

int bt_journal_open(uv_loop_t *loop, const char *path, size_t max_bytes,
                    struct bt_journal **out) BT_MUST_CHECK;
/* Waits for appends in flight (their callbacks fire), then frees. */
void bt_journal_close(struct bt_journal *j);

typedef void (*bt_journal_cb)(int err, void *ud);
/* CB(0) once LINE is durable, CB(BT_EIO) if the disk refused it. BT_EFULL or
 * BT_EIO returned at once (CB never called) when it cannot be written. */
int bt_journal_append(struct bt_journal *j, const char *line, size_t len, bt_journal_cb cb,
                      void *ud) BT_MUST_CHECK;
/* The journal's path, as opened. */
const char *bt_journal_path(const struct bt_journal *j);
/* Bytes held: the current file plus one being replayed. */
size_t bt_journal_bytes(const struct bt_journal *j);
size_t bt_journal_appends_in_flight(const struct bt_journal *j);

/* Records waiting for replay: moves the current file aside (unless a replay
 * file is already there, from an earlier run or an unfinished replay) and
 * returns its complete lines, NULL-terminated, in *lines (free with
 * bt_journal_lines_free). *n = 0 when there is nothing to replay. */
int bt_journal_take(struct bt_journal *j, char ***lines, size_t *n) BT_MUST_CHECK;
void bt_journal_lines_free(char **lines);
/* Every line bt_journal_take returned is committed: drop the replay file. */
void bt_journal_replayed(struct bt_journal *j);

#endif
