#!/usr/bin/env bash
# batond --check-config: the example passes; a broken config fails with every
# error located (FILE:LINE:COL: PATH: message) and no secret shown; usage
# errors exit 2.
set -euo pipefail

src=${BATON_SOURCE_DIR:?}
batond=${BATON_BIN_DIR:?}/batond
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
    "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
    if [[ $got -ne $want ]]; then
        fail "$* exited $got, not $want"
        sed 's/^/  stdout: /' "$tmp/out" >&2
        sed 's/^/  stderr: /' "$tmp/err" >&2
    fi
}

unset BATON_DATABASE BATON_CONFIG

# The example config checks.
run 0 "$batond" --config "$src/config/batond.yaml" --check-config
grep -qx "configuration OK" "$tmp/out" || fail "no \"configuration OK\" on stdout"
[[ ! -s $tmp/err ]] || fail "the example's check wrote to stderr"

# So does the short form, and $BATON_CONFIG stands in for --config.
run 0 "$batond" -c "$src/config/batond.yaml" --check-config
BATON_CONFIG="$src/config/batond.yaml" run 0 "$batond" --check-config
grep -qx "configuration OK" "$tmp/out" || fail "BATON_CONFIG was not used"

# A broken config: every error, located, and no secret in sight.
printf 'pipedrive-S3CR3T-from-a-file\n' >"$tmp/pipedrive-password"
cat >"$tmp/broken.yaml" <<'YAML'
listen: localhost:8080
database: "host=/run/postgresql password=S3CR3T-db oops"
admin_token: S3CR3T
sources:
  pipedrive:
    username: baton
    password: pipedrive-S3CR3T
    password_file: pipedrive-password
  generic:
    secret: not-whsec-S3CR3T
  hubspot:
    client_secret: {S3CR3T: yes}
channels:
  teams:
    targets:
      emea: {url: "ftp://teams.example.com/S3CR3T"}
push:
  timeout: 5 seconds
log_level: loud
YAML
run 1 "$batond" --config "$tmp/broken.yaml" --check-config
[[ ! -s $tmp/out ]] || fail "a failed check wrote to stdout"
for loc in 1:9 2:11 3:14 8:5 10:13 12:20 16:19 18:12 19:12; do
    grep -q "^$tmp/broken.yaml:$loc: " "$tmp/err" || fail "no error at $loc"
done
grep -q "^$tmp/broken.yaml:11:3: public_url: " "$tmp/err" || fail "no public_url error"
[[ $(wc -l <"$tmp/err") -eq 10 ]] || fail "expected 10 errors, got $(wc -l <"$tmp/err")"
if grep -q S3CR3T "$tmp/err"; then
    fail "a secret shows in the errors"
    grep S3CR3T "$tmp/err" >&2
fi
# errors come in file order
sort -t: -k2,2n -k3,3n -s "$tmp/err" | cmp -s - "$tmp/err" || fail "errors are not in file order"

# An unreadable config is a failure, not a usage error.
run 1 "$batond" --config "$tmp/no-such-file.yaml" --check-config
grep -q "no-such-file.yaml" "$tmp/err" || fail "the missing file is not named"

# Without --check-config, a good config still cannot run the unwired daemon.
run 1 "$batond" --config "$src/config/batond.yaml"

# Usage errors.
run 2 "$batond" --check-config
run 2 "$batond" --config
run 2 "$batond" --bogus --config "$src/config/batond.yaml"
run 2 "$batond" --config "$src/config/batond.yaml" extra
BATON_CONFIG= run 2 "$batond" --check-config

# Help and version.
run 0 "$batond" --help
grep -q -- "--check-config" "$tmp/out" || fail "--help does not mention --check-config"
run 0 "$batond" --version
grep -q "^batond [0-9]" "$tmp/out" || fail "--version prints no version"

if [[ $fails -ne 0 ]]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "check_config: all checks passed"
