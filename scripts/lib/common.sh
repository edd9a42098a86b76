# shellcheck shell=bash
# Helpers shared by scripts/cluster.sh, scripts/install-tool.sh and images/python/build.sh:
# messages, and the dry run (DRY=1, from DRY_RUN or the script's --dry-run) that prints each
# command instead of running it. Sourced, not run.

# say MESSAGE: progress for a person.
say() { printf '>> %s\n' "$*"; }

# die MESSAGE: the error, named by the script, then exit 1.
die() {
  printf '%s: error: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# truthy VALUE: whether VALUE means yes (1, y, yes, true, on).
truthy() { [[ ${1:-} =~ ^(1|y|yes|true|on)$ ]]; }

# quote ARGS...: the arguments as a shell would need them typed, single-quoting only
# where needed.
quote() {
  local arg sep=""
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      printf '%s%s' "$sep" "$arg"
    else
      printf "%s'%s'" "$sep" "${arg//\'/\'\\\'\'}"
    fi
    sep=" "
  done
}

# run CMD...: run it, or print it in a dry run.
run() {
  if ((DRY)); then
    printf '+ %s\n' "$(quote "$@")"
  else
    "$@"
  fi
}

# write_file PATH < content: write stdin to PATH, or print what would be written.
write_file() {
  if ((DRY)); then
    printf "+ cat > %s <<'EOF'\n" "$(quote "$1")"
    cat
    printf 'EOF\n'
  else
    cat >"$1"
  fi
}

# DRY: 1 in a dry run; DRY_RUN sets it here, a script's --dry-run later.
DRY=0
if truthy "${DRY_RUN:-}"; then DRY=1; fi
