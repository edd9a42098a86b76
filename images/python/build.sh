#!/usr/bin/env bash
# Provide the Python 3.11 base image that every Dockerfile of the project builds FROM.
# Run with --help for what it does; images/python/README.md explains why.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: images/python/build.sh [--dry-run] [--force] [IMAGE]

Makes sure the Python 3.11 base image IMAGE exists in the local Docker engine, so every
Dockerfile of the project can build FROM it unchanged.
IMAGE defaults to $PYTHON_IMAGE, else python:3.11.14-slim-bookworm.

  1. If IMAGE is already present locally, say so and exit (fast, idempotent).
  2. Else `docker pull IMAGE` (gives up after $PULL_TIMEOUT seconds, default 60).
  3. Else build a stand-in from Debian packages and import it as IMAGE:
     debootstrap --variant=minbase bookworm with python3, python3-venv (pip and setuptools
     wheels for `python3 -m venv`), python-is-python3, ca-certificates, libgomp1 and tzdata;
     security updates applied; apt lists, docs, man pages, translations and .debs removed;
     apt sources (bookworm, bookworm-updates, bookworm-security) point at the same mirrors so
     later stages can `apt-get install` build tools. Needs root and a few minutes.

Options:
  -n, --dry-run   print the commands instead of running them (also DRY_RUN=1)
  -f, --force     skip step 1: pull or rebuild even if IMAGE is present (also FORCE=1)
  -h, --help      show this help

Environment:
  PYTHON_IMAGE            image name (the first argument wins)
  DEBIAN_MIRROR           Debian mirror for the stand-in; default: the host's apt mirror
                          (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list),
                          else http://deb.debian.org/debian
  DEBIAN_SECURITY_MIRROR  security mirror; default: the host's, else derived from the mirror
  PULL_TIMEOUT            seconds allowed for `docker pull` (default 60)
EOF
}

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

FORCE_BUILD=0
truthy "${FORCE:-}" && FORCE_BUILD=1
image_arg=""
while (($#)); do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    -n | --dry-run) DRY=1 ;;
    -f | --force) FORCE_BUILD=1 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [[ -z $image_arg ]] || die "only one image name may be given (see --help)"
      image_arg=$1
      ;;
  esac
  shift
done

IMAGE=${image_arg:-${PYTHON_IMAGE:-python:3.11.14-slim-bookworm}}
SUITE=bookworm
PULL_TIMEOUT=${PULL_TIMEOUT:-60}
# python3-venv depends on python3-pip-whl and python3-setuptools-whl, so
# `python3 -m venv` gets pip without python3-pip. python-is-python3 is /usr/bin/python.
PACKAGES=python3,python3-venv,python-is-python3,ca-certificates,libgomp1,tzdata
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg



# host_uri SUITE: the first apt URI on this host that serves SUITE (empty if none).
host_uri() {
  local suite=$1 f=/etc/apt/sources.list.d/debian.sources
  if [[ -r $f ]]; then
    awk -v want="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          key = tolower(line); sub(/:.*/, "", key)
          sub(/^[^:]*:[ \t]*/, "", line)
          if (key == "types") types = line
          else if (key == "uris") uris = line
          else if (key == "suites") suites = line
        }
        if ((" " types " ") ~ / deb / && (" " suites " ") ~ (" " want " ")) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f"
  fi
  if [[ -r /etc/apt/sources.list ]]; then
    # deb [options] URI SUITE COMPONENTS...
    sed -E -n 's/^[ \t]*deb[ \t]+(\[[^]]*\][ \t]+)?([^ \t]+)[ \t]+([^ \t]+).*/\2 \3/p' \
      /etc/apt/sources.list | awk -v want="$suite" '$2 == want { print $1; exit }'
  fi
}

# --- 0. Docker ------------------------------------------------------------------------
if ((!DRY)); then
  command -v docker >/dev/null || die "docker is not installed"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "the Docker engine is not reachable (is dockerd running? may you use it?)"
fi

# --- 1. already present? --------------------------------------------------------------
if ((!FORCE_BUILD)); then
  if ((DRY)); then
    run docker image inspect "$IMAGE"
    echo "# if that succeeds: stop here, the image is present"
  elif docker image inspect "$IMAGE" >/dev/null 2>&1; then
    desc=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.description"}}' "$IMAGE")
    if [[ $desc == *debootstrap* ]]; then
      ver=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
      say "$IMAGE is already present (debootstrap stand-in, python $ver): nothing to do"
    else
      say "$IMAGE is already present: nothing to do"
    fi
    exit 0
  fi
fi

# --- 2. pull --------------------------------------------------------------------------
say "pulling $IMAGE (at most ${PULL_TIMEOUT}s)..."
if ((DRY)); then
  run timeout "$PULL_TIMEOUT" docker pull "$IMAGE"
  echo "# if that succeeds: stop here"
else
  status=0
  pull_log=$(timeout "$PULL_TIMEOUT" docker pull "$IMAGE" 2>&1) || status=$?
  if ((status == 0)); then
    say "done: pulled $IMAGE"
    exit 0
  elif ((status == 124)); then
    reason="timed out after ${PULL_TIMEOUT}s"
  else
    reason=$(printf '%s\n' "$pull_log" | grep -v '^[[:space:]]*$' | tail -n 1)
  fi
  say "docker pull: ${reason:-exit status $status}"
fi

# --- 3. build a stand-in with debootstrap ---------------------------------------------
MIRROR=${DEBIAN_MIRROR:-}
if [[ -z $MIRROR ]]; then
  MIRROR=$(host_uri "$SUITE")
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-}
if [[ -z $SECURITY_MIRROR ]]; then
  SECURITY_MIRROR=$(host_uri "$SUITE-security")
fi
if [[ -z $SECURITY_MIRROR ]]; then
  if [[ $MIRROR == */debian ]]; then
    SECURITY_MIRROR=$MIRROR-security
  else
    SECURITY_MIRROR=http://deb.debian.org/debian-security
  fi
fi
SECURITY_MIRROR=${SECURITY_MIRROR%/}

say "pull failed: building a stand-in with debootstrap from $MIRROR (takes a few minutes)..."
start=$SECONDS

if ((!DRY)); then
  ((EUID == 0)) || die "debootstrap needs root: run this script as root (or with sudo)"
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "debootstrap is not installed"
    say "installing debootstrap..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
fi

if ((DRY)); then
  work=${TMPDIR:-/tmp}/python-image.XXXXXX
  # shellcheck disable=SC2016 # printed, not run
  printf '+ work=$(mktemp -d %s)\n' "$(quote "$work")"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/python-image.XXXXXX")
fi
rootfs=$work/rootfs

# Remove the work directory on every exit, unmounting whatever is still mounted in it first
# (a failed debootstrap can leave /proc or /sys mounted inside the target).
cleanup() {
  local mnt
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v d="$work/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -rf --one-file-system "$work"
}
if ((!DRY)); then
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi

# 3a. the minimal Debian system with Python
say "debootstrap $SUITE: $PACKAGES"
if ((DRY)); then
  run debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR"
elif ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
  >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [[ -r $rootfs/debootstrap/debootstrap.log ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (see above)"
fi

# 3b. apt sources for later Dockerfile stages, and the slim image's dpkg/apt settings
run rm -f "$rootfs/etc/apt/sources.list"
write_file "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: $KEYRING
EOF
# Like debian:bookworm-slim: packages installed later skip docs, man pages and translations.
write_file "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
write_file "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
write_file "$rootfs/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF

# 3c. security and point-release updates (debootstrap only reads the bookworm suite)
say "applying $SUITE-updates and $SUITE-security..."
run mount -t proc proc "$rootfs/proc"
if ((DRY)); then
  run chroot "$rootfs" apt-get update -qq
  run chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq \
    -o Dpkg::Options::=--force-confold dist-upgrade
else
  {
    chroot "$rootfs" apt-get update -qq &&
      chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq \
        -o Dpkg::Options::=--force-confold dist-upgrade
  } >"$work/upgrade.log" 2>&1 || {
    tail -n 30 "$work/upgrade.log" >&2
    die "updating the stand-in failed (see above)"
  }
fi
run umount "$rootfs/proc"

# 3d. the Python version, for the label and the summary
if ((DRY)); then
  run chroot "$rootfs" python3 -c 'import platform; print(platform.python_version())'
  py_version='<python3 version>'
else
  py_version=$(chroot "$rootfs" python3 -c 'import platform; print(platform.python_version())')
fi

# 3e. slim it down: apt lists and caches, docs (license files kept), man pages,
# translations (C.UTF-8 is built into libc), logs, device nodes (Docker provides /dev)
# and the host's resolv.conf and hostname that debootstrap copied in.
say "removing apt lists, caches, docs, man pages and translations..."
# existing PATH...: those of the paths that exist (all of them in a dry run), NUL-separated
existing() {
  local path
  for path in "$@"; do
    if ((DRY)) || [[ -e $path ]]; then printf '%s\0' "$path"; fi
  done
}
run find "$rootfs/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
run find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
run find "$rootfs/var/cache/debconf" -name '*-old' -delete
mapfile -d '' caches < <(existing "$rootfs"/{var/lib/apt/lists,var/cache/apt,var/log,tmp,var/tmp})
((${#caches[@]} == 0)) || run find "${caches[@]}" -mindepth 1 -not -type d -not -name lock -delete
mapfile -d '' trees < <(existing "$rootfs"/{dev,usr/share/{man,info,locale,lintian,groff}})
((${#trees[@]} == 0)) || run find "${trees[@]}" -mindepth 1 -delete
run rm -rf "$rootfs/debootstrap"
run truncate -s 0 "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"

# 3f. import it under the image name
say "importing $IMAGE (python $py_version)..."
changes=(
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change 'ENV LANG=C.UTF-8'
  --change 'CMD ["python3"]'
  --change "LABEL org.opencontainers.image.description=\"Python $py_version on Debian $SUITE: a stand-in for python:3.11-slim-bookworm built with debootstrap (images/python/build.sh) because the image could not be pulled\""
  --change "LABEL org.opencontainers.image.version=\"$py_version\""
  --change 'LABEL org.opencontainers.image.base.name="debian:bookworm (debootstrap)"'
  --message "debootstrap $SUITE stand-in for $IMAGE"
)
if ((DRY)); then
  printf '+ tar --numeric-owner --one-file-system -C %s -c . | docker import %s\n' \
    "$(quote "$rootfs")" "$(quote "${changes[@]}" - "$IMAGE")"
  run rm -rf "$work"
  exit 0
fi
tar --numeric-owner --one-file-system -C "$rootfs" -c . |
  docker import "${changes[@]}" - "$IMAGE" >/dev/null

size=$(docker image ls --format '{{.Size}}' "$IMAGE" | head -n 1)
say "done: $IMAGE $size python $py_version ($((SECONDS - start))s)"
