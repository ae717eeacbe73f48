#!/usr/bin/env bash
# Builds the container image from ./Dockerfile with buildah (no Docker engine needed) and runs
# it with podman: `check`, then one `once` against a feed served on loopback, asserting that the
# alert was written. Base images come from debootstrap, as no image registry may be reachable:
# a Debian bookworm minbase for the runtime, and the same with gcc plus this machine's Rust
# toolchain for the build stage, passed to the Dockerfile as --build-arg RUST_IMAGE/RUNTIME_IMAGE.
#
#   sudo tools/container-smoke.sh            # needs root, buildah, podman, runc, debootstrap, python3
#   apt-get install buildah podman runc debootstrap
#
# Everything (base root file systems, image storage, podman's configuration) lives in
# $NEWSWATCH_SMOKE_DIR (default /var/tmp/newswatch-container-smoke) and is kept between runs,
# so a second run reuses the base images and the dependency layer. vfs keeps a full copy of
# every layer: expect 20-30 GB there. Remove the directory to start over, or free the build
# cache with CONTAINERS_STORAGE_CONF=$dir/storage.conf podman image prune -f. Nothing is pushed anywhere; the only network used is the Debian mirror
# (debootstrap, apt-get in the runtime stage), crates.io (cargo) and 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

work=${NEWSWATCH_SMOKE_DIR:-/var/tmp/newswatch-container-smoke}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
image=localhost/newswatch:smoke
rust_image=localhost/newswatch-smoke-base/rust:bookworm
runtime_image=localhost/newswatch-smoke-base/debian:bookworm

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'container-smoke: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (buildah and podman run rootful here)"
for command in buildah podman runc debootstrap python3 rustc; do
  command -v "$command" >/dev/null || fail "$command is missing (apt-get install buildah podman runc debootstrap)"
done

mkdir -p "$work"
work=$(cd "$work" && pwd)
# Storage and engine settings of our own, so the machine's are neither needed nor touched:
# vfs (no overlay module needed), cgroupfs and a file event log (no systemd), host network.
cat > "$work/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
# Limits no higher than a sandbox without CAP_SYS_RESOURCE can set (podman's defaults are
# nproc 32768 and nofile 1048576, which runc fails to set there: "error setting rlimits").
cat > "$work/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
export CONTAINERS_STORAGE_CONF=$work/storage.conf CONTAINERS_CONF=$work/containers.conf
buildah=(buildah --storage-driver vfs)

# A bookworm minbase root file system in $1 with the packages $2 (comma-separated), once.
bootstrap() {
  local dir=$1 include=$2
  [ -e "$dir/.complete" ] && return
  rm -rf "$dir"
  say "debootstrap bookworm into $dir${include:+ (with $include)}"
  debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$dir" "$mirror" >"$dir.log" 2>&1 \
    || fail "debootstrap failed; see $dir.log"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  touch "$dir/.complete"
}

# Imports the root file system $1 as the image $2, with the image settings $3... (Dockerfile
# instructions such as "ENV PATH=...").
import() {
  local dir=$1 name=$2; shift 2
  podman image exists "$name" && return
  say "importing $dir as $name"
  local changes=()
  for change in "$@"; do changes+=(--change "$change"); done
  tar --exclude=./.complete -C "$dir" -c . | podman import "${changes[@]}" - "$name" >/dev/null
}

started=$(date +%s)
bootstrap "$work/rootfs-debian" ""
import "$work/rootfs-debian" "$runtime_image" "CMD [\"/bin/bash\"]"

# The build stage's base: what rust:1-slim-bookworm has (a C compiler and a Rust toolchain),
# with this machine's toolchain (no toolchain can be downloaded here), docs left out, and this
# machine's CA bundle, so that cargo's downloads trust what this machine trusts (a proxy's CA,
# say). Only the build stage has them: the runtime image installs Debian's ca-certificates.
bootstrap "$work/rootfs-rust" "ca-certificates,gcc,libc6-dev"
sysroot=$(rustc --print sysroot)
bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
base_key="$(rustc --version) $(sha256sum "$bundle" | cut -d' ' -f1)"
if [ "$(cat "$work/rootfs-rust/usr/local/rust/KEY" 2>/dev/null)" != "$base_key" ]; then
  say "copying the Rust toolchain from $sysroot and the CA bundle $bundle"
  rm -rf "$work/rootfs-rust/usr/local/rust"
  mkdir -p "$work/rootfs-rust/usr/local/rust"
  cp -a "$sysroot/bin" "$sysroot/lib" "$work/rootfs-rust/usr/local/rust/"
  [ -d "$sysroot/libexec" ] && cp -a "$sysroot/libexec" "$work/rootfs-rust/usr/local/rust/"
  cp "$bundle" "$work/rootfs-rust/etc/ssl/certs/ca-certificates.crt"
  echo "$base_key" > "$work/rootfs-rust/usr/local/rust/KEY"
  podman image rm -f "$rust_image" >/dev/null 2>&1 || true
fi
import "$work/rootfs-rust" "$rust_image" \
  "ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  "ENV CARGO_HOME=/usr/local/cargo" "CMD [\"/bin/bash\"]"
bases_done=$(date +%s)

say "buildah bud (the Dockerfile, with these base images)"
build_started=$(date +%s)
# --format docker: the OCI format has no HEALTHCHECK. --layers: cache each step's layer.
"${buildah[@]}" bud --isolation chroot --layers --format docker \
  --build-arg RUST_IMAGE="$rust_image" --build-arg RUNTIME_IMAGE="$runtime_image" \
  -t "$image" . 2>&1 | tee "$work/build.log" >&2 \
  || fail "buildah bud failed; see $work/build.log"
build_done=$(date +%s)
size=$(podman image inspect "$image" --format '{{.Size}}')
healthcheck=$(podman image inspect "$image" --format '{{json .Config.Healthcheck}}' 2>/dev/null || true)
user=$(podman image inspect "$image" --format '{{.Config.User}}')
[ "$user" = "10001:10001" ] || fail "the image runs as \"$user\", not 10001:10001"

# A loopback feed with one fresh article, and a config whose database and alerts are in the volume.
smoke=$(mktemp -d "$work/smoke.XXXXXX")
server=""
container=""
cleanup() {
  [ -z "$container" ] || podman rm -f "$container" >/dev/null 2>&1 || true
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$smoke"
}
trap cleanup EXIT
mkdir -p "$smoke/feeds" "$smoke/etc" "$smoke/data"
chown 10001:10001 "$smoke/data"
now=$(date -u -R)
cat > "$smoke/feeds/feed.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Smoke</title><link>http://127.0.0.1/</link>
<item><title>Walrus seen in the harbour</title><link>https://news.example/walrus-$started</link>
<guid>https://news.example/walrus-$started</guid><pubDate>$now</pubDate>
<description>A walrus was seen in the harbour this morning.</description></item>
</channel></rss>
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$smoke/feeds" "$port" >"$smoke/http.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/feed.xml')" 2>/dev/null && break
  sleep 0.1
done
cat > "$smoke/etc/config.toml" <<EOF
[database]
url = "sqlite:///var/lib/newswatch/newswatch.db"

[email]
from = "Newswatch <alerts@newswatch.test>"
transport = "file"
dir = "/var/lib/newswatch/alerts"

[[feeds]]
name = "Smoke"
url = "http://127.0.0.1:$port/feed.xml"

[[watch]]
name = "Walrus"
query = "walrus"
to = ["analyst@example.org"]
EOF
# --health-interval disable: no systemd here to run the HEALTHCHECK's timer (`podman
# healthcheck run` still runs it); the one-shot commands run with no health check at all.
podman_run=(podman run --network host)
run=("${podman_run[@]}" --rm --no-healthcheck
  -v "$smoke/etc/config.toml:/etc/newswatch/config.toml:ro"
  -v "$smoke/data:/var/lib/newswatch" "$image")

say "podman run $image check"
"${run[@]}" check || fail "check failed in the container"
say "podman run $image once"
"${run[@]}" once 2>&1 | tee "$smoke/once.log" >&2 || fail "once failed in the container"
eml=$(find "$smoke/data/alerts" -name '*.eml' 2>/dev/null | head -n 1)
[ -n "$eml" ] || fail "once wrote no alert into the volume"
grep -q '^Subject: .*Walrus' "$eml" || fail "the alert $eml is not about the walrus"
owner=$(stat -c %u:%g "$smoke/data/newswatch.db")
[ "$owner" = "10001:10001" ] || fail "the database is owned by $owner, not 10001:10001"

# The HEALTHCHECK, where the binary has the `healthcheck` subcommand: `run` with [http] listen,
# healthy within a minute, then a clean stop.
health="skipped: this newswatch has no healthcheck subcommand"
if "${run[@]}" help healthcheck >/dev/null 2>&1; then
  say "podman run -d $image run, then podman healthcheck run"
  health_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '\n[http]\nlisten = "127.0.0.1:%s"\n' "$health_port" >> "$smoke/etc/config.toml"
  container=$("${podman_run[@]}" -d --health-interval disable \
    -v "$smoke/etc/config.toml:/etc/newswatch/config.toml:ro" \
    -v "$smoke/data:/var/lib/newswatch" "$image" run)
  healthy=""
  for _ in $(seq 1 60); do
    if podman healthcheck run "$container" >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 1
  done
  [ -n "$healthy" ] || { podman logs "$container" >&2; fail "the container never became healthy"; }
  podman stop -t 60 "$container" >/dev/null
  code=$(podman inspect "$container" --format '{{.State.ExitCode}}')
  [ "$code" = 0 ] || { podman logs "$container" >&2; fail "run exited $code on podman stop"; }
  health="healthy, then exit 0 on podman stop"
fi
finished=$(date +%s)

echo "container-smoke: OK"
echo "  base images (debootstrap + import): $((bases_done - started)) s"
echo "  buildah bud: $((build_done - build_started)) s"
echo "  image $image: $size bytes ($(numfmt --to=iec --suffix=B "$size")), user $user"
echo "  HEALTHCHECK: $healthcheck; $health"
echo "  check, once (and the health check) in containers: $((finished - build_done)) s; alert: $(basename "$eml")"
