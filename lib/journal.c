#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

struct bt_journal {
    uv_loop_t *loop;
    char *path, *replay_path;
    int fd;
    /* The file moved aside for replay, kept open until the fdatasyncs
     * queued on it have run (closing it under them would fail them). */
    int retired_fd;
    size_t retired_syncs;
    size_t max_bytes, bytes, replay_bytes;
    size_t in_flight;
    bool needs_nl; /* the file ends in a torn record: start on a new line */
    bool closing;
};

struct sync_req {
    uv_fs_t fs;
    struct bt_journal *j;
    int fd;
    bt_journal_cb cb;
    void *ud;
};

static void fsync_dir(const char *path)
{
    char *copy = bt_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    bt_free(copy);
}

static off_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

int bt_journal_open(uv_loop_t *loop, const char *path, size_t max_bytes, struct bt_journal **out)
{
    struct bt_journal *j;
    int fd;

    *out = NULL;
    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        bt_error("journal: cannot open %s: %s", path, strerror(errno));
        return BT_EIO;
    }
    /* One journal, one process: another batond appending to the file this
     * one moves aside and deletes after a replay would lose its events. */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        bt_error("journal: %s is in use by another batond: give each its own journal.path", path);
        close(fd);
        return BT_EEXIST;
    }
    fsync_dir(path);
    j = bt_calloc(1, sizeof(*j));
    j->loop = loop;
    j->path = bt_strdup(path);
    j->replay_path = bt_asprintf("%s.replay", path);
    j->fd = fd;
    j->retired_fd = -1;
    j->max_bytes = max_bytes;
    j->bytes = (size_t)file_size(path);
    if (j->bytes) {
        char last = '\n';

        if (pread(fd, &last, 1, (off_t)j->bytes - 1) == 1 && last != '\n')
            j->needs_nl = true;
    }
    j->replay_bytes = (size_t)file_size(j->replay_path);
    *out = j;
    return 0;
}

static void maybe_free(struct bt_journal *j)
{
    if (!j->closing || j->in_flight)
        return;
    close(j->fd);
    if (j->retired_fd >= 0)
        close(j->retired_fd);
    bt_free(j->path);
    bt_free(j->replay_path);
    bt_free(j);
}

void bt_journal_close(struct bt_journal *j)
{
    if (!j)
        return;
    j->closing = true;
    maybe_free(j);
}

static void synced(uv_fs_t *fs)
{
    struct sync_req *s = fs->data;
    struct bt_journal *j = s->j;
    int err = fs->result < 0 ? BT_EIO : 0;

    if (err)
        bt_error("journal: fdatasync of %s failed: %s", j->path, uv_strerror((int)fs->result));
    uv_fs_req_cleanup(fs);
    j->in_flight--;
    if (s->fd == j->retired_fd && --j->retired_syncs == 0) {
        close(j->retired_fd);
        j->retired_fd = -1;
    }
    s->cb(err, s->ud);
    bt_free(s);
    maybe_free(j);
}

int bt_journal_append(struct bt_journal *j, const char *line, size_t len, bt_journal_cb cb,
                      void *ud)
{
    struct sync_req *s;
    struct iovec iov[3] = {{"\n", 1}, {(void *)line, len}, {"\n", 1}};
    size_t lead = j->needs_nl ? 1 : 0;
    ssize_t n;

    if (j->closing)
        return BT_EIO;
    if (j->bytes + j->replay_bytes + len + 1 + lead > j->max_bytes)
        return BT_EFULL;
    n = writev(j->fd, iov + 1 - lead, 2 + (int)lead);
    if (n != (ssize_t)(len + 1 + lead)) {
        bt_error("journal: cannot write to %s: %s", j->path,
                 n < 0 ? strerror(errno) : "short write");
        /* A partial line stays behind as a torn record, skipped on replay;
         * the next record starts on a line of its own. */
        if (n > 0) {
            j->bytes += (size_t)n;
            j->needs_nl = true;
        }
        return BT_EIO;
    }
    j->needs_nl = false;
    j->bytes += len + 1 + lead;
    s = bt_calloc(1, sizeof(*s));
    s->j = j;
    s->fd = j->fd;
    s->cb = cb;
    s->ud = ud;
    s->fs.data = s;
    j->in_flight++;
    if (uv_fs_fdatasync(j->loop, &s->fs, j->fd, synced) < 0) {
        j->in_flight--;
        bt_free(s);
        return BT_EIO;
    }
    return 0;
}

const char *bt_journal_path(const struct bt_journal *j)
{
    return j->path;
}

size_t bt_journal_bytes(const struct bt_journal *j)
{
    return j->bytes + j->replay_bytes;
}

size_t bt_journal_appends_in_flight(const struct bt_journal *j)
{
    return j->in_flight;
}

static int read_lines(const char *path, char ***lines, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, count = 0, alloc = 16;
    ssize_t len;
    char **v;

    *lines = NULL;
    *n = 0;
    if (!f)
        return errno == ENOENT ? 0 : BT_EIO;
    v = bt_calloc(alloc, sizeof(char *));
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') {
            bt_warn("journal: skipping a torn last record in %s", path);
            break;
        }
        if (len == 1)
            continue;
        if (count + 1 >= alloc) {
            alloc *= 2;
            v = bt_reallocarray(v, alloc, sizeof(char *));
        }
        v[count++] = bt_strndup(line, (size_t)len - 1);
    }
    v[count] = NULL;
    free(line);
    fclose(f);
    *lines = v;
    *n = count;
    return 0;
}

int bt_journal_take(struct bt_journal *j, char ***lines, size_t *n)
{
    *lines = NULL;
    *n = 0;
    if (access(j->replay_path, F_OK) != 0) {
        int fd;

        if (j->bytes == 0)
            return 0;
        /* Appends in flight still fdatasync the old descriptor, which stays
         * valid until closed: rename, then switch to a new file. */
        if (rename(j->path, j->replay_path) < 0) {
            bt_error("journal: cannot move %s aside: %s", j->path, strerror(errno));
            return BT_EIO;
        }
        fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            bt_error("journal: cannot reopen %s: %s", j->path, strerror(errno));
            /* Undo the move: appends go on to the file they were going to. */
            if (rename(j->replay_path, j->path) < 0)
                bt_error("journal: cannot move %s back: %s", j->replay_path, strerror(errno));
            return BT_EIO;
        }
        if (j->in_flight && j->retired_fd < 0) {
            j->retired_fd = j->fd;
            j->retired_syncs = j->in_flight;
        } else {
            fdatasync(j->fd);
            close(j->fd);
        }
        j->fd = fd;
        fsync_dir(j->path);
        j->replay_bytes = j->bytes;
        j->bytes = 0;
    }
    return read_lines(j->replay_path, lines, n);
}

void bt_journal_lines_free(char **lines)
{
    for (size_t i = 0; lines && lines[i]; i++)
        bt_free(lines[i]);
    bt_free(lines);
}

void bt_journal_replayed(struct bt_journal *j)
{
    if (unlink(j->replay_path) < 0 && errno != ENOENT)
        bt_error("journal: cannot remove %s: %s", j->replay_path, strerror(errno));
    fsync_dir(j->replay_path);
    j->replay_bytes = 0;
}
