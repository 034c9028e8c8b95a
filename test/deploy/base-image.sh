#!/usr/bin/env bash
# Makes the local Debian bookworm base image the Dockerfiles start FROM (no registry here): debootstrap
# from Debian's mirror, `docker import`. Cached: the image is reused, the rootfs tarball in /var/cache/pcmc.
set -euo pipefail
IMAGE=${PCMC_BASE_IMAGE:-pcmc-base:bookworm}
# The mirrors this machine's own apt uses (deb822 .sources or one-line sources.list).
apt_uri() { # $1: a suite; prints the first URI apt fetches it from
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk -v s="$1" '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i==s){print u; exit}} /^$/{u=""}' "$f"
  done | head -n1
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$1" '$1=="deb" && $3==s {print $2; exit}' || true # a missing sources.list is fine
}
MIRROR=${PCMC_DEBIAN_MIRROR:-$(apt_uri bookworm | head -n1)}
SECURITY_MIRROR=${PCMC_DEBIAN_SECURITY_MIRROR:-$(apt_uri bookworm-security | head -n1)}
[ -n "$MIRROR" ] || { echo "base-image: no apt source for bookworm found; set PCMC_DEBIAN_MIRROR" >&2; exit 1; }
CACHE=${PCMC_CACHE_DIR:-/var/cache/pcmc}/base-image
TARBALL=$CACHE/bookworm-minbase.tar
log() { echo "base-image: $*" >&2; }

# One maker at a time on this machine (concurrent suites wait, then find the image).
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already present"; echo "$IMAGE"; exit 0
fi
for t in docker debootstrap tar flock; do
  command -v "$t" >/dev/null || { log "MISSING: $t (run: bash test/setup.sh)"; exit 1; }
done

if [ ! -s "$TARBALL" ]; then
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root" "$TARBALL.tmp"' EXIT
  log "debootstrap bookworm (minbase) from $MIRROR"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE/debootstrap.log" >&2; log "FAILED: debootstrap (log $CACHE/debootstrap.log)"; exit 1; }
  # What Debian's own images do: the same suites as a normal install, no cached .debs or lists, no docs.
  cat >"$root/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
${SECURITY_MIRROR:+deb $SECURITY_MIRROR bookworm-security main}
SRC
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CONF
  echo 'path-exclude /usr/share/doc/*' >"$root/etc/dpkg/dpkg.cfg.d/docker-nodoc"
  echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log
  tar --numeric-owner -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$root"; trap - EXIT
fi

log "docker import $TARBALL as $IMAGE"
docker import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$TARBALL" "$IMAGE" >/dev/null
echo "$IMAGE"
