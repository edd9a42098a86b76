#!/usr/bin/env bash
# Install one pinned cluster tool (kind, kubectl, kustomize) into a bin folder, checksum
# verified: kubebuilder's LOCALBIN pattern. Run with --help.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/install-tool.sh [--dry-run] NAME VERSION [BIN_DIR]

Installs NAME (kind, kubectl or kustomize) at VERSION as BIN_DIR/NAME-VERSION, and points
BIN_DIR/NAME at it. Does nothing when BIN_DIR/NAME-VERSION exists. BIN_DIR defaults to bin.

The download must match its SHA-256 sum in scripts/tools.sha256. When that file has no sum
for the tool, version and platform, the download is checked against the checksum file its
publisher ships next to it, and the line to record is printed.

Options:
  -n, --dry-run   print the commands instead of running them (also DRY_RUN=1)
  -h, --help      show this help

Environment:
  REQUIRE_PINNED_CHECKSUMS=1   fail when scripts/tools.sha256 has no sum for the download
USAGE
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUMS_FILE="${TOOLS_SHA256:-$ROOT/scripts/tools.sha256}"

# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

args=()
while (($#)); do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    -n | --dry-run) DRY=1 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) args+=("$1") ;;
  esac
  shift
done
((${#args[@]} == 2 || ${#args[@]} == 3)) || die "expected NAME VERSION [BIN_DIR] (see --help)"
NAME=${args[0]}
VERSION=${args[1]}
BIN_DIR=${args[2]:-bin}


sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

os=$(uname -s | tr '[:upper:]' '[:lower:]')
case $(uname -m) in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "unsupported machine $(uname -m)" ;;
esac
platform="$os-$arch"

# Where each tool's release lives, and the checksum file its publisher ships beside it.
member="" # the binary inside an archive, when the download is one
case $NAME in
  kind)
    file="kind-$os-$arch"
    url="https://github.com/kubernetes-sigs/kind/releases/download/$VERSION/$file"
    sums_url="$url.sha256sum"
    ;;
  kubectl)
    file="kubectl"
    url="https://dl.k8s.io/release/$VERSION/bin/$os/$arch/kubectl"
    sums_url="$url.sha256"
    ;;
  kustomize)
    file="kustomize_${VERSION}_${os}_${arch}.tar.gz"
    url="https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2F$VERSION/$file"
    sums_url="https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2F$VERSION/checksums.txt"
    member="kustomize"
    ;;
  *) die "unknown tool $NAME: kind, kubectl or kustomize" ;;
esac

dest="$BIN_DIR/$NAME-$VERSION"
if [[ -x $dest ]]; then
  say "$NAME $VERSION: already in $BIN_DIR"
  exit 0
fi

pinned=$(awk -v t="$NAME" -v v="$VERSION" -v p="$platform" \
  '!/^#/ && $1 == t && $2 == v && $3 == p { print $4; exit }' "$SUMS_FILE")
if [[ -z $pinned ]] && truthy "${REQUIRE_PINNED_CHECKSUMS:-}"; then
  die "no SHA-256 for $NAME $VERSION $platform in scripts/tools.sha256 (REQUIRE_PINNED_CHECKSUMS=1)"
fi

say "installing $NAME $VERSION ($platform) into $BIN_DIR"
if ((DRY)); then
  tmp=TMP
  echo "# TMP is a new temporary folder (mktemp -d), removed at the end"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
run mkdir -p "$BIN_DIR"
run curl -fsSL --retry 3 -o "$tmp/$file" "$url"
if [[ -n $pinned ]]; then
  expected=$pinned
  from="scripts/tools.sha256"
else
  run curl -fsSL --retry 3 -o "$tmp/published.sha256" "$sums_url"
  from="$sums_url"
  if ((DRY)); then
    expected='<the sum listed there>'
  else
    # kubectl's file holds the sum alone; kind's and kustomize's hold "SUM  NAME" lines.
    expected=$(awk -v f="$file" 'NF == 1 || $2 == f || $2 == "*" f { print $1; exit }' \
      "$tmp/published.sha256")
    [[ -n $expected ]] || die "$sums_url lists no sum for $file"
  fi
fi
if ((DRY)); then
  printf '# the SHA-256 of %s must be %s (from %s)\n' "$tmp/$file" "$expected" "$from"
else
  actual=$(sha256_of "$tmp/$file")
  [[ $actual == "$expected" ]] ||
    die "checksum mismatch for $url: got $actual, expected $expected (from $from)"
  say "checksum verified against $from"
  if [[ -z $pinned ]]; then
    say "no pinned sum yet: record it by adding this line to scripts/tools.sha256:"
    printf '%s %s %s %s\n' "$NAME" "$VERSION" "$platform" "$actual"
  fi
fi
binary="$tmp/$file"
if [[ -n $member ]]; then
  run tar -xzf "$tmp/$file" -C "$tmp" "$member"
  binary="$tmp/$member"
fi
run install -m 0755 "$binary" "$dest"
run ln -sfn "$NAME-$VERSION" "$BIN_DIR/$NAME"
((DRY)) || say "installed $dest ($BIN_DIR/$NAME points to it)"
