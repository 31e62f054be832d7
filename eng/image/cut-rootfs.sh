#!/bin/sh
# Cuts the root file system of a .NET image (src/ZmqAspire.{Server,Client,PatternDemo}/Dockerfile)
# out of the Debian slim stage it runs in. One recipe for the three images, so they cannot drift
# apart (they did: the pattern demo once shipped without OpenSSL).
#
# Usage, in a Dockerfile's rootfs stage after installing libssl3 and COPY . /app/:
#   sh /app/cut-rootfs.sh /app/ZmqAspire.Server
# and then in the final stage, FROM scratch:  COPY --from=rootfs /rootfs/ /
#
# /rootfs then holds: the app folder (without this script: it does not ship); the shared
# libraries the app, its native libraries (*.so beside it), OpenSSL and bash link to, found with
# ldd; bash (the HEALTHCHECK's probe: there is no curl); /etc/passwd and /etc/group for the
# unprivileged uid 10001 the images run as; /tmp (1777, HOME). No package manager, shell
# utilities or setuid binaries end up in the image.
#
# MSBuild puts this script into the publish folder (the image's build context) for projects that
# set ZmqAspireRootfsImage (Directory.Build.targets): the context is all a build sees (DCP and
# docker-compose build from the publish folder), and no buildx-only feature is needed.
set -eu

entry="${1:?usage: cut-rootfs.sh /app/ENTRY-BINARY}"
app="$(dirname "$entry")"
[ -x "$entry" ] || { echo "cut-rootfs: $entry is not an executable" >&2; exit 1; }

# .NET's cryptography (SSH in the client, the random numbers of CurveZMQ's keys and nonces) loads
# OpenSSL with dlopen(), which ldd cannot see, so it is named. Without it a CURVE server aborts at
# its first handshake, so a stage that did not install it fails here rather than at run time.
# linux-x64 only, like the publish (RuntimeIdentifier).
libssl=/usr/lib/x86_64-linux-gnu/libssl.so.3
[ -e "$libssl" ] || {
  echo "cut-rootfs: $libssl is missing: install libssl3 in the stage first" >&2; exit 1; }

# A library the entry binary needs but ldd does not find would make an image that cannot start.
# The runtime's optional LTTng provider (libcoreclrtraceptprovider.so) is the one exception: its
# liblttng-ust is loaded only if present, and is not.
if ldd "$entry" | grep -q 'not found'; then
  ldd "$entry" >&2; echo "cut-rootfs: $entry needs a library this stage lacks" >&2; exit 1
fi

mkdir -p /rootfs/tmp /rootfs/etc /rootfs/bin
chmod 1777 /rootfs/tmp
# ldd prints "name => /path (addr)" per library and "/path (addr)" for the dynamic loader; a
# plain "not a dynamic executable" (managed .dll, static .so) prints neither, hence 2>/dev/null.
# Libraries under the app folder come with it.
ldd /bin/bash "$entry" "$app"/*.so "$libssl" 2>/dev/null \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*[^:]$/ { print $1 }' \
  | { sort -u; echo "$libssl"; } \
  | while read -r lib; do
      case "$lib" in "$app"/*) ;; *) cp -L --parents "$lib" /rootfs/ ;; esac
    done
cp /bin/bash /rootfs/bin/bash
echo 'zmq:x:10001:10001::/tmp:/bin/false' > /rootfs/etc/passwd
echo 'zmq:x:10001:' > /rootfs/etc/group

rm -f "$app/cut-rootfs.sh"
mkdir -p "/rootfs$(dirname "$app")"
mv "$app" "/rootfs$app"
