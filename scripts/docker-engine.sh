#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io when dockerd is missing,
# start dockerd in the background when none runs, wait until it answers.
#   scripts/docker-engine.sh start   # prints what it did; idempotent
#   scripts/docker-engine.sh stop    # stops only a dockerd that `start` started
set -euo pipefail

state_dir=${BURGER_RECS_STATE_DIR:-.local}
pid_file="$state_dir/dockerd.pid"
log_file="$state_dir/dockerd.log"

usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }

start() {
  if docker info >/dev/null 2>&1; then
    echo "docker engine: already running"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker engine: installing docker.io (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  mkdir -p "$state_dir"
  echo "docker engine: starting dockerd (log: $log_file)"
  nohup dockerd >"$log_file" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "docker engine: ready ($(docker version --format '{{.Server.Version}}'))"
      return 0
    fi
    sleep 1
  done
  echo "docker engine: dockerd did not answer within 60 s; last log lines:" >&2
  tail -n 20 "$log_file" >&2
  return 1
}

stop() {
  if [[ -f "$pid_file" ]]; then
    pid=$(cat "$pid_file")
    if kill "$pid" 2>/dev/null; then
      echo "docker engine: stopping dockerd (pid $pid)"
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
    rm -f "$pid_file"
  else
    echo "docker engine: not started by this script; left alone"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) usage; exit 2 ;;
esac
