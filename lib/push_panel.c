/* push_panel — Baton's own rep panel. Nothing travels over HTTP: the
 * delivery counts as sent the moment it is recorded, and the pusher's
 * panel hook hands it to the app, which shows it on the rep's open panel
 * (Server-Sent Events). A rep whose panel is closed sees it on the next
 * visit, from the deliveries table. */
#include "push.h"

const struct bt_push_ops bt_push_panel = {
    .name = "panel",
    .build = NULL,
    .classify = NULL,
};
