/* match — the compiled matcher: which assets a deal should get now.
 *
 * Built once per motion (bt_matcher_new), then read-only: any number of
 * bt_match() calls may use it while the motion it holds a reference to lives.
 * Rules (see config/motion.md): a play matches when all its conditions hold;
 * matching plays rank by most conditions, then higher priority, then file
 * order; their `send` assets are taken in that order, skipping assets
 * already chosen for the deal and repeats, up to max_assets_per_change.
 * Nothing is chosen for a deal in a won or lost stage. Plays are indexed by
 * stage so a motion of thousands of plays matches in microseconds. */
#ifndef BT_MATCH_H
#define BT_MATCH_H

#include <stddef.h>

#include "deal.h"
#include "err.h"
#include "motion.h"

struct bt_matcher;

int bt_matcher_new(struct bt_motion *m, struct bt_matcher **out) BT_MUST_CHECK;
void bt_matcher_free(struct bt_matcher *mt); /* NULL-safe; drops its motion reference */
const struct bt_motion *bt_matcher_motion(const struct bt_matcher *mt);

enum bt_match_status {
    BT_MATCH_OK,           /* picks holds what to send (possibly nothing) */
    BT_MATCH_OUTCOME,      /* the deal is in a won or lost stage: nothing */
    BT_MATCH_NO_STAGE,     /* the deal has no stage yet */
    BT_MATCH_UNKNOWN_STAGE /* a stage the motion does not list: only stage-free plays */
};

struct bt_pick {
    const struct bt_asset *asset;
    const struct bt_play *play; /* the play that chose it */
};

struct bt_match_result {
    enum bt_match_status status;
    const char *competitor; /* the deal's competitor folded to a motion id, or NULL */
    struct bt_pick *picks;  /* chosen assets, best first */
    size_t n_picks;
    const struct bt_play **matched; /* every play whose conditions held, ranked */
    size_t n_matched;
    /* assets of any matched play left out as already chosen, once each, in
     * ranked order (also those below the plays that filled the picks) */
    const struct bt_asset **skipped;
    size_t n_skipped;
};

/* Matches DEAL (Baton field names; `competitor` may be any alias) given the
 * asset ids ALREADY chosen for it. RES must be freed with
 * bt_match_result_free even on error. */
int bt_match(const struct bt_matcher *mt, const struct bt_fields *deal, const char *const *already,
             size_t n_already, struct bt_match_result *res) BT_MUST_CHECK;
void bt_match_result_free(struct bt_match_result *res);

/* Whether play P's conditions hold for DEAL (1) or not (0). WHY_FIELD may
 * be NULL; otherwise on 0 *why_field (owned by the motion) names the field
 * of the first condition that failed. The reference semantics that
 * bt_match's index must agree with: for explain and for checking the index. */
int bt_play_holds(const struct bt_motion *m, const struct bt_play *p, const struct bt_fields *deal,
                  const char **why_field);

/* The ranking order of plays: negative when A ranks before B (more
 * conditions, then higher priority, then earlier in the file). */
int bt_play_rank_cmp(const struct bt_play *a, const struct bt_play *b);

/* "ok", "outcome", "no_stage", "unknown_stage": a static string. */
const char *bt_match_status_name(enum bt_match_status st);

#endif
