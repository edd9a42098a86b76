# shellcheck shell=bash
# Helpers shared by the scripts that support a dry run (DRY=1 prints each command instead of
# running it): scripts/cluster.sh, scripts/install-tool.sh, images/python/build.sh.
# Sourced, not run; the sourcing script sets DRY.

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
