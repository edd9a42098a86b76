#!/usr/bin/env bash
# Throwaway services for the test suite: a PostgreSQL server on 127.0.0.1.
#
# Usage: scripts/test-services.sh start|stop|env
#   start  start a throwaway PostgreSQL cluster (or reuse the one already running), create
#          the database burger_recs_test and write its URL to the env file
#   stop   stop the cluster and remove its folder and the env file
#   env    print the env file as `export` lines: eval "$(scripts/test-services.sh env)"
#
# Environment:
#   PGPORT                        the port to listen on (default: 55432, or the next free one)
#   PG_BIN                        the PostgreSQL binaries (default: /usr/lib/postgresql/15/bin)
#   BURGER_RECS_TEST_SERVICES_ENV the env file (default: .local/test-services.env)
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
# (runuser). Messages go to stderr; only `env` writes to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
ENV_FILE="${BURGER_RECS_TEST_SERVICES_ENV:-$ROOT/.local/test-services.env}"
DB_USER="burger"
DB_NAME="burger_recs_test"
DEFAULT_PORT=55432
DIR_PREFIX="burger-recs-pg."

say() { echo ">> test-services: $*" >&2; }
die() {
  echo "test-services: error: $*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# Run a PostgreSQL program as a user the server accepts (postgres when we are root).
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Print one value of the env file (empty when the file or the key is missing).
env_value() {
  [[ -f "$ENV_FILE" ]] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  if [[ -n "${PGPORT:-}" ]]; then
    ! port_in_use "$PGPORT" || die "port $PGPORT (PGPORT) is already in use"
    echo "$PGPORT"
    return
  fi
  local port
  for ((port = DEFAULT_PORT; port < DEFAULT_PORT + 100; port++)); do
    if ! port_in_use "$port"; then
      echo "$port"
      return
    fi
  done
  die "no free port in $DEFAULT_PORT..$((DEFAULT_PORT + 99)); set PGPORT"
}

ensure_binaries() {
  [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] && return
  command -v apt-get >/dev/null || die "no PostgreSQL binaries in $PG_BIN and no apt-get"
  local sudo=()
  if ! is_root; then
    command -v sudo >/dev/null || die "no PostgreSQL binaries in $PG_BIN; install postgresql-15"
    sudo=(sudo)
  fi
  say "no PostgreSQL binaries in $PG_BIN: installing postgresql-15 with apt-get"
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    postgresql-15 >&2
  [[ -x "$PG_BIN/initdb" ]] || die "postgresql-15 is installed but $PG_BIN/initdb is missing"
}

# The cluster folder recorded in the env file, if it is one of ours.
recorded_dir() {
  local dir
  dir="$(env_value BURGER_RECS_TEST_POSTGRES_DIR)"
  if [[ -n "$dir" && "$(basename "$dir")" != "$DIR_PREFIX"* ]]; then
    die "$ENV_FILE names $dir, which this script did not create; remove the file by hand"
  fi
  echo "$dir"
}

# On a failed start: show the server log, stop the server and remove the half-made cluster.
abort_start() {
  local dir="$1"
  local log="$dir/postgres.log"
  [[ -f "$log" ]] || log="$dir/initdb.log"
  [[ -f "$log" ]] && tail -n 20 "$log" >&2
  if is_running "$dir"; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  say "start failed; removed $dir"
  rm -rf -- "$dir"
}

is_running() { [[ -d "$1/data" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$1/data" >/dev/null 2>&1; }

start() {
  local dir
  dir="$(recorded_dir)"
  if [[ -n "$dir" ]] && is_running "$dir"; then
    say "PostgreSQL is already running in $dir; reusing it"
    say "$(grep '^BURGER_RECS_TEST_POSTGRES_URL=' "$ENV_FILE" | sed 's/:[^:@/]*@/:***@/')"
    return
  fi
  if [[ -n "$dir" ]]; then
    say "removing the stale cluster $dir"
    rm -rf -- "$dir"
    rm -f -- "$ENV_FILE"
  fi
  ensure_binaries
  if is_root; then
    command -v runuser >/dev/null || die "running as root needs runuser to start PostgreSQL"
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user"
  fi

  local port password
  port="$(pick_port)"
  password="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  if is_root; then
    # The postgres user must reach the folder, which a root-only TMPDIR would not allow.
    dir="$(mktemp -d "/tmp/${DIR_PREFIX}XXXXXX")"
    chown postgres: "$dir"
  else
    dir="$(mktemp -d "${TMPDIR:-/tmp}/${DIR_PREFIX}XXXXXX")"
  fi
  # shellcheck disable=SC2064 # expand $dir now: it is local to this function
  trap "abort_start '$dir'" EXIT
  say "creating a throwaway cluster in $dir"
  (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
  if is_root; then
    chown postgres: "$dir/pwfile"
  fi
  as_pg "$PG_BIN/initdb" -D "$dir/data" -U "$DB_USER" --pwfile="$dir/pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
    die "initdb failed"
  rm -f -- "$dir/pwfile"

  say "starting PostgreSQL on 127.0.0.1:$port"
  # The socket lives in the cluster folder; fsync is off because the data is thrown away.
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >&2 || die "PostgreSQL did not start"
  local tries=0
  until as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    ((++tries < 60)) || die "PostgreSQL is not ready after 30s"
    sleep 0.5
  done

  say "creating the database $DB_NAME"
  as_pg "$PG_BIN/createdb" -h "$dir" -p "$port" -U "$DB_USER" "$DB_NAME"
  # Prove that the password works over TCP, as the tests will connect.
  PGPASSWORD="$password" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d "$DB_NAME" \
    -qAtc 'SELECT 1' >/dev/null || die "cannot log in as $DB_USER over TCP"

  mkdir -p "$(dirname "$ENV_FILE")"
  {
    echo "BURGER_RECS_TEST_POSTGRES_URL=postgresql://$DB_USER:$password@127.0.0.1:$port/$DB_NAME"
    echo "BURGER_RECS_TEST_POSTGRES_DIR=$dir"
  } >"$ENV_FILE"
  chmod 600 "$ENV_FILE"
  trap - EXIT
  say "wrote $ENV_FILE (BURGER_RECS_TEST_POSTGRES_URL=postgresql://$DB_USER:***@127.0.0.1:$port/$DB_NAME)"
}

stop() {
  local dir
  dir="$(recorded_dir)"
  if [[ -z "$dir" ]]; then
    say "nothing to stop (no $ENV_FILE)"
    rm -f -- "$ENV_FILE"
    return
  fi
  if is_running "$dir"; then
    say "stopping PostgreSQL in $dir"
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  fi
  say "removing $dir and $ENV_FILE"
  rm -rf -- "$dir"
  rm -f -- "$ENV_FILE"
}

print_env() {
  [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: run $0 start first"
  sed -n 's/^\([A-Z_][A-Z0-9_]*=.*\)$/export \1/p' "$ENV_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
