#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: Debian's server, a new cluster in DIR owned by an
# unprivileged user (`postgres` when run as root, else the caller), listening on a free loopback
# port with password authentication, and a `handoff` database. Nothing system-wide is started
# or changed besides installing the package when it is missing.
#   url=$(bash tests/postgres.sh start target/pg)   # prints postgres://handoff:…@127.0.0.1:PORT/handoff
#   bash tests/postgres.sh stop target/pg
# The tests' cluster skips fsync (fast, and nothing there claims to survive a power cut); the
# benchmarks' (`start DIR durable`) keeps PostgreSQL's defaults: every commit flushed to disk.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR [durable]} dir=$(realpath -m "${2:?the cluster directory}")
mode=${3:-fast}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(bindir)" ]; then
  # No default cluster: the package would otherwise create and start one system-wide.
  $SUDO mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 postgresql >/dev/null
fi
bin=$(bindir)

# The cluster's owner: PostgreSQL refuses to run as root.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  printf '%s\n' "$password" >"$dir.pw"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir.pw"
  as_owner "$bin/initdb" -D "$dir/data" -U handoff --pwfile="$dir.pw" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 || { cat "$dir.initdb.log" >&2; exit 1; }
  rm -f "$dir.pw"
  # A free port: the kernel picks one, and the cluster takes it at once.
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Its socket directory is its own (not /run/postgresql); -w waits until it accepts connections.
  options="-h 127.0.0.1 -p $port -k $dir -c max_connections=200"
  [ "$mode" = durable ] || options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$options" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U handoff handoff
  echo "postgres://handoff:$password@127.0.0.1:$port/handoff"
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
*)
  echo "usage: postgres.sh start|stop DIR" >&2
  exit 2
  ;;
esac
