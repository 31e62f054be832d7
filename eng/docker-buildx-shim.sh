#!/bin/sh
# A minimal docker CLI plugin named "buildx": it answers the plugin handshake and hands
# `docker buildx build ...` (which `docker build` becomes when buildx is installed) to
# Debian's docker 20.10 client with BuildKit on. Installed by eng/setup.sh only where the
# docker CLI on PATH has no real buildx plugin (see DEVELOPERS.md).
if [ "$1" = "docker-cli-plugin-metadata" ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"ZmqAspire","Version":"v0.0.0-zmqaspire-shim","ShortDescription":"BuildKit builds via the Debian docker client"}'
  exit 0
fi
[ "$1" = "buildx" ] && shift
case "$1" in
  build)
    shift
    DOCKER_BUILDKIT=1 exec /usr/bin/docker build "$@" ;;
  version)
    echo "github.com/docker/buildx v0.0.0-zmqaspire-shim"; exit 0 ;;
  *)
    echo "docker buildx shim: only 'build' is supported (got: $*)" >&2; exit 1 ;;
esac
