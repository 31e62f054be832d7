#!/usr/bin/env bash
# Prepares a machine to run ZmqAspire: a container engine, a `docker build` that Aspire's
# DCP can drive, the base images our Dockerfiles and Aspire's container tunnel need, and the
# tools the tests use as real peers (OpenSSH sshd, pyzmq, paramiko, asyncssh).
#
# Idempotent: every step checks first and is skipped when already done, so a second run
# takes a few seconds. Works offline apart from Debian's package mirror: when no container
# registry answers, the base images are built locally with debootstrap.
#
# Usage: eng/setup.sh [--with-browser]   (--with-browser also installs Debian's chromium for
#                                         the dashboard browser tests; Playwright for .NET comes
#                                         from NuGet and drives /usr/bin/chromium, so no browser
#                                         is ever downloaded)
set -euo pipefail

WITH_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) WITH_BROWSER=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${ZMQASPIRE_STATE_DIR:-/var/lib/zmqaspire}"
SECONDS=0
step() { printf '\n[setup %3ss] %s\n' "$SECONDS" "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------
# docker-compose and python3-pexpect: the compose deployment's tests (pyzmq's OpenSSH tunnel mode
# drives ssh through pexpect). socat: the benchmark's plain TCP relay mode (the floor for any forwarder).
# tshark: the security tests capture the bastion -> server leg. libnss3-tools (certutil): step 6
# trusts the development certificate in the browsers' NSS databases too. python3-asyncssh: an SSH
# server other than sshd for the tunnelling tests (HoldWatchTests: a global request while a channel is open).
packages=(docker.io docker-compose openssh-server openssh-client debootstrap python3-zmq python3-paramiko
          python3-pexpect python3-asyncssh tshark iproute2 procps ca-certificates socat libnss3-tools)
[ "$WITH_BROWSER" -eq 1 ] && packages+=(chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing Debian packages: ${missing[*]} (first run only, about a minute)"
  sudo_if_needed apt-get update -q
  sudo_if_needed apt-get install -y -q --no-install-recommends "${missing[@]}" \
    | grep -E '^(Setting up|Unpacking) ' | sed 's/^/  /' || true
  for p in "${missing[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || { echo "failed to install $p" >&2; exit 1; }
  done
else
  step "Debian packages present"
fi

# ---------------------------------------------------------------------------------------
# 2. Container engine
# ---------------------------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  step "container engine running"
else
  step "starting dockerd (log: /var/log/zmqaspire-dockerd.log)"
  # No init system on these machines: run the daemon in the background, detached from
  # this shell so it outlives the script, and with no descriptor of ours but stdio: a lock
  # the caller holds (e.g. `flock LOCK eng/test.sh`) would otherwise stay held by dockerd
  # after the caller ends, and the next `flock LOCK` would wait for ever.
  sudo_if_needed bash -c 'for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null
    nohup setsid /usr/sbin/dockerd >/var/log/zmqaspire-dockerd.log 2>&1 </dev/null &'
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/zmqaspire-dockerd.log" >&2; exit 1; }
fi

# ---------------------------------------------------------------------------------------
# 3. `docker build --progress=...` for Aspire's DCP
# ---------------------------------------------------------------------------------------
# DCP builds Dockerfiles with `docker build --progress ...`, which needs BuildKit through the
# buildx CLI plugin. Where the installed CLI has no buildx, install a small plugin that hands
# `buildx build` to Debian's docker 20.10 client, which drives the engine's built-in BuildKit.
if docker buildx version >/dev/null 2>&1; then
  step "docker buildx available"
else
  step "installing the buildx shim (routes 'docker build' to Debian's BuildKit client)"
  plugin_dir=/usr/local/lib/docker/cli-plugins
  sudo_if_needed mkdir -p "$plugin_dir"
  sudo_if_needed install -m 0755 "$REPO_ROOT/eng/docker-buildx-shim.sh" "$plugin_dir/docker-buildx"
  docker buildx version >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 4. Base images
# ---------------------------------------------------------------------------------------
# Our Dockerfiles use the public debian:bookworm-slim; Aspire's container tunnel proxy builds
# FROM mcr.microsoft.com/azurelinux/base/core:3.0. Pull them when a registry answers, else
# build an equivalent Debian root file system locally and tag it under both names.
. "$REPO_ROOT/eng/images.sh" # BASE, TUNNEL_BASE
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
if ! have_image "$BASE"; then
  if timeout 20 docker pull -q "$BASE" >/dev/null 2>&1; then
    step "pulled $BASE"
  else
    step "no registry reachable: building $BASE with debootstrap (about 75 s)"
    rootfs="$(mktemp -d /tmp/zmqaspire-rootfs.XXXXXX)"
    trap 'sudo_if_needed rm -rf "$rootfs"' EXIT
    sudo_if_needed debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
      | grep -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)' \
      | awk '{ n++; if (n % 25 == 1 || /Base system/) print "  " $0 }'
    # Keep the image like the official one: no apt caches, security updates enabled.
    echo "deb http://deb.debian.org/debian-security bookworm-security main" \
      | sudo_if_needed tee -a "$rootfs/etc/apt/sources.list" >/dev/null
    sudo_if_needed rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    sudo_if_needed tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
    sudo_if_needed rm -rf "$rootfs"
  fi
else
  step "$BASE present"
fi
if ! have_image "$TUNNEL_BASE"; then
  if timeout 20 docker pull -q "$TUNNEL_BASE" >/dev/null 2>&1; then
    step "pulled $TUNNEL_BASE"
  else
    step "building a local stand-in for $TUNNEL_BASE (Aspire's container tunnel base)"
    DOCKER_BUILDKIT=1 docker build -q -t "$TUNNEL_BASE" -f "$REPO_ROOT/eng/tunnel-base.Dockerfile" "$REPO_ROOT/eng" >/dev/null
  fi
fi

# ---------------------------------------------------------------------------------------
# 5. Browser for the dashboard tests (optional; the package itself came with step 1)
# ---------------------------------------------------------------------------------------
if [ "$WITH_BROWSER" -eq 1 ]; then
  # tests/ZmqAspire.Dashboard.Tests launches this binary through Playwright (ExecutablePath).
  chromium --version >/dev/null 2>&1 || { echo "chromium is installed but does not run" >&2; exit 1; }
  step "browser: $(chromium --version 2>/dev/null)"
fi

# ---------------------------------------------------------------------------------------
# 6. The ASP.NET Core development certificate, trusted (docs/security.md)
# ---------------------------------------------------------------------------------------
# The AppHost warns, and the dashboard shows a red banner on every page, when no trusted
# development certificate exists; `aspire run` trusts one itself and reports partial trust when
# OpenSSL cannot see it. So trust it here, the way .NET does on Linux: `dotnet dev-certs https
# --trust` adds it to .NET's root store, to ~/.aspnet/dev-certs/trust for OpenSSL (read through
# SSL_CERT_DIR, set below) and to the NSS databases of Chromium and Firefox. Chromium's database
# is made first when missing, so a browser started later trusts the certificate as well.
step "development certificate"
"$REPO_ROOT/eng/dev-certs.sh"

# ---------------------------------------------------------------------------------------
# 7. The Aspire CLI (`aspire run`, README), a local tool pinned in dotnet-tools.json
# ---------------------------------------------------------------------------------------
(cd "$REPO_ROOT" && dotnet tool restore >/dev/null)
step "Aspire CLI: dotnet aspire $(cd "$REPO_ROOT" && dotnet aspire --version 2>/dev/null | cut -d+ -f1)"

step "setup done"
