#!/usr/bin/env bash
# Make sure the Redis and PostgreSQL the tests use are running on 127.0.0.1; start them when they
# are installed but stopped, and fail with a message naming the service when one is not installed.
# Also make sure Chromium (with CJK fonts) is installed for the console's browser tests
# (tests/console/browser): installed with apt-get when /usr/bin/chromium is missing.
set -u

wait_for() {  # wait_for NAME CHECK-COMMAND...
  local name=$1; shift
  for _ in $(seq 1 30); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "ensure-services: $name did not come up on 127.0.0.1 within 30 s" >&2
  return 1
}

redis_up() { "$PY" - <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", 6379), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

pg_up() { "$PY" - <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

PY=$(command -v python3)
status=0

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    wait_for Redis redis_up || status=1
  else
    echo "ensure-services: Redis is not installed (need redis-server on 127.0.0.1:6379; apt-get install redis-server)" >&2
    status=1
  fi
fi

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    wait_for PostgreSQL pg_up || status=1
  else
    echo "ensure-services: PostgreSQL is not installed (need a server on 127.0.0.1:5432; apt-get install postgresql)" >&2
    status=1
  fi
fi

apt_install() {  # apt_install PACKAGE...: non-interactive; `apt-get update` only if needed
  local sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  $sudo apt-get update -q >/dev/null 2>&1 &&
    $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1
}

cjk_fonts() { dpkg -s fonts-noto-cjk >/dev/null 2>&1; }  # without them Chinese shows as boxes
if [ ! -x /usr/bin/chromium ] || ! cjk_fonts; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "ensure-services: installing Chromium (chromium fonts-noto-cjk) for the console's browser tests"
    apt_install chromium fonts-noto-cjk
  fi
  if ! cjk_fonts; then
    echo "ensure-services: fonts-noto-cjk is not installed: the console's screenshots will show Chinese as empty boxes (apt-get install fonts-noto-cjk)" >&2
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "ensure-services: Chromium is not installed and could not be (need /usr/bin/chromium for tests/console/browser; apt-get install chromium fonts-noto-cjk)" >&2
    status=1
  fi
fi

[ $status -eq 0 ] && echo "ensure-services: Redis, PostgreSQL and Chromium are ready"
exit $status
