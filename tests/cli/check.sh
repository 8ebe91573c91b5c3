#!/usr/bin/env bash
# baton check: the example motion passes with a one-line summary; a broken
# motion fails with every error located (FILE:LINE:COL: PATH: message) and a
# count; usage errors exit 2.
set -euo pipefail

src=${BATON_SOURCE_DIR:?}
baton=${BATON_BIN_DIR:?}/baton
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run EXPECTED_STATUS CMD...: runs CMD with stdout and stderr captured
run() {
    local want=$1 got=0
    shift
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || got=$?
    if [[ $got -ne $want ]]; then
        fail "$* exited $got, not $want"
        sed 's/^/  stdout: /' "$tmp/out" >&2
        sed 's/^/  stderr: /' "$tmp/err" >&2
    fi
}

# The example motion is valid: one summary line on stdout, nothing on stderr.
example=$src/config/motion.example.yaml
run 0 "$baton" check "$example"
grep -qx "$example: OK — Mid-market new business: 7 stages, 5 competitors, 12 assets, 15 plays, 3 reps" \
    "$tmp/out" || fail "unexpected summary: $(cat "$tmp/out")"
[[ $(wc -l <"$tmp/out") -eq 1 ]] || fail "the summary is not one line"
[[ ! -s $tmp/err ]] || fail "a valid motion wrote to stderr"

# "--" ends options; "-" reads standard input.
run 0 "$baton" check -- "$example"
"$baton" check - <"$example" >"$tmp/out" 2>"$tmp/err" || fail "check - exited $?"
grep -q "^<stdin>: OK — Mid-market new business" "$tmp/out" || fail "stdin was not read"

# Every good test motion passes too.
for f in "$src"/tests/data/motion/good/*; do
    run 0 "$baton" check "$f"
done

# A broken motion: every error on stderr, located and sorted, then a count.
cat >"$tmp/broken.yaml" <<'YAML'
format: 1
name: Broken
stages:
  - {id: demo}
  - {id: closedwon, outcome: won}
  - {id: closedlost, outcome: lost}
assets:
  - {id: bc-acme, kind: battlecard, title: Acme, url: "cms.example.com/acme"}
plays:
  - {id: p0, send: [bc-acme]}
  - {id: p1, send: [bc-acme]}
  - {id: p2, send: [bc-acme]}
  - {id: p3, send: [bc-acmee], when: {stage: [closedwon]}}
routing:
  default: {channel: teams, to: "https://example.webhook.office.com/x?sig=abc"}
YAML
run 1 "$baton" check "$tmp/broken.yaml"
[[ ! -s $tmp/out ]] || fail "an invalid motion wrote to stdout"
b=$tmp/broken.yaml
want=(
    "$b:8:55: assets[0].url: \"cms.example.com/acme\" must be an absolute http:// or https:// URL"
    "$b:13:21: plays[3].send[0]: unknown asset \"bc-acmee\" — did you mean \"bc-acme\"?"
    "$b:13:46: plays[3].when.stage: names only won or lost stages"
    "$b:15:33: routing.default.to: looks like a URL or a secret"
    "$b: 4 errors; the motion is not valid"
)
[[ $(wc -l <"$tmp/err") -eq ${#want[@]} ]] || fail "expected ${#want[@]} lines on stderr"
for i in "${!want[@]}"; do
    line=$(sed -n "$((i + 1))p" "$tmp/err")
    [[ $line == "${want[$i]}"* ]] || fail "stderr line $((i + 1)): \"$line\" is not \"${want[$i]}...\""
done
grep -q "sig=abc" "$tmp/err" && fail "the secret was echoed"
grep -q "channels.teams.targets" "$tmp/err" || fail "no hint to define the target in the config"

# YAML syntax errors and unreadable files are failures too, not usage errors.
printf 'format: 1\nstages: [\n' >"$tmp/syntax.yaml"
run 1 "$baton" check "$tmp/syntax.yaml"
grep -q "^$tmp/syntax.yaml:[0-9]*:[0-9]*: YAML syntax error" "$tmp/err" || fail "no syntax error"
grep -q "1 error;" "$tmp/err" || fail "no count for one error"
run 1 "$baton" check "$tmp/does-not-exist.yaml"
grep -q "cannot open" "$tmp/err" || fail "no \"cannot open\""

# Usage: no file, two files, an unknown option.
run 2 "$baton" check
grep -q "usage: baton check FILE" "$tmp/err" || fail "no usage after a missing FILE"
run 2 "$baton" check "$example" "$example"
run 2 "$baton" check --strict "$example"
grep -q "unknown option" "$tmp/err" || fail "no word on the unknown option"

# --help and -h print usage on stdout and succeed.
run 0 "$baton" check --help
grep -q "usage: baton check FILE" "$tmp/out" || fail "--help printed no usage"
run 0 "$baton" check -h

if [[ $fails -ne 0 ]]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "ok"
