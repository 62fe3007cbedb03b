#!/usr/bin/env bash
# Fuzzes the GraphQL API with schemathesis, anonymously and as the administrator, on
# the built debug binary (cargo build -p gateway --bin extranet) with SQLite in a
# temporary data directory. Fails on any 5xx, any answer that is not a GraphQL
# response, and any GraphQL error without `extensions.code` or with `INTERNAL`
# (hooks.py), and if the server is not running at the end.
#
#     tests/schemathesis/run.sh                  # 10 cases per operation and run
#     EXTRANET_FUZZ_EXAMPLES=100 tests/schemathesis/run.sh
#
# Schemathesis is installed, pinned, into target/schemathesis-venv on first use. It
# reads the schema from schema.graphql, which the server serves exactly (the gateway's
# schema test holds them equal): the endpoint's own introspection would not do, since
# the standard introspection query nests deeper than the API allows.
set -euo pipefail
cd "$(dirname "$0")/../.."
workspace=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
examples=${EXTRANET_FUZZ_EXAMPLES:-10}
binary=${EXTRANET_BIN:-$workspace/target/debug/extranet}
venv=$workspace/target/schemathesis-venv

if [ ! -x "$binary" ]; then
    echo "no extranet binary at $binary; build it first: cargo build -p gateway --bin extranet" >&2
    exit 1
fi
if [ "$("$venv/bin/st" --version 2>/dev/null)" != "st, version $SCHEMATHESIS_VERSION" ]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

data_dir=$(mktemp -d "${TMPDIR:-/tmp}/extranet-fuzz-XXXXXX")
server=""
stop() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$data_dir"
}
trap stop EXIT

# The binary's settings, and none inherited from the shell's.
for name in $(compgen -e); do
    case $name in EXTRANET_*) unset "$name" ;; esac
done
export EXTRANET_DATA_DIR=$data_dir EXTRANET_LISTEN=127.0.0.1:0 RUST_LOG=${RUST_LOG:-info}
admin_password='correct horse battery staple'

account=$(cd "$data_dir" && EXTRANET_ADMIN_PASSWORD=$admin_password "$binary" create-account \
    --name Acme --admin-email admin@acme.test --admin-first-name Ada --admin-last-name Admin \
    | sed -n 's/^account //p')

(cd "$data_dir" && exec "$binary" serve >"$data_dir/stdout.log" 2>"$data_dir/extranet.log") &
server=$!
# It prints `listening on <url>` once it serves (migrations and catching up first).
url=""
for _ in $(seq 1 300); do
    url=$(sed -n 's|^listening on \(http://[^ ]*\).*|\1|p' "$data_dir/stdout.log")
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$data_dir/extranet.log" >&2; exit 1; }
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "extranet serve did not say it listens within 30 s" >&2
    cat "$data_dir/extranet.log" >&2
    exit 1
fi
endpoint=${url%/}/graphql

token=$(python3 - "$endpoint" "$account" "$admin_password" <<'EOF'
import json, sys, urllib.request
endpoint, account, password = sys.argv[1:]
query = "mutation($input: LoginInput!) { login(input: $input) { token } }"
variables = {"input": {"accountId": account, "email": "admin@acme.test", "password": password}}
request = urllib.request.Request(
    endpoint,
    data=json.dumps({"query": query, "variables": variables}).encode(),
    headers={"Content-Type": "application/json"},
)
answer = json.load(urllib.request.urlopen(request, timeout=60))
print(answer["data"]["login"]["token"])
EOF
)

# Run from the data directory, where schemathesis keeps its .hypothesis database.
fuzz() {
    (cd "$data_dir" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$workspace/tests/schemathesis" \
        "$venv/bin/st" run "$workspace/schema.graphql" --url "$endpoint" \
        --checks every_error_has_a_code --max-examples "$examples" \
        --request-timeout 40 "$@")
}

failed=0
echo "== anonymous, $examples cases per operation"
fuzz || failed=1
# Logging out would end the session the rest of the run is meant to use.
echo "== as the administrator, $examples cases per operation"
fuzz --header "Authorization: Bearer $token" --exclude-name Mutation.logout || failed=1

if ! kill -0 "$server" 2>/dev/null; then
    echo "the server stopped during the run:" >&2
    cat "$data_dir/extranet.log" >&2
    failed=1
fi
if grep -q "panicked" "$data_dir/extranet.log"; then
    echo "the server panicked:" >&2
    grep -A5 "panicked" "$data_dir/extranet.log" >&2
    failed=1
fi
exit "$failed"
