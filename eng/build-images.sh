#!/usr/bin/env bash
# Builds the deployment images zmqaspire/{server,client,bastion}:${ZMQASPIRE_TAG:-local} for
# deploy/compose, offline: .NET is published on the host (self-contained, trimmed, linux-x64)
# into artifacts/images/*, which are the image build contexts, so no image build needs NuGet.
# The images are built from the compose file's build sections, so there is one definition.
# Needs eng/setup.sh (Docker, docker-compose, the local base image).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
SECONDS=0

publish() { # project, output folder, extra properties...
  local project="$1" out="$2"; shift 2
  rm -rf "$out"
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -nologo -v quiet -clp:NoSummary \
    -p:DebugType=none -o "$out" "$@"
}

for app in server client; do
  project="src/ZmqAspire.${app^}"
  out="artifacts/images/$app"
  log="artifacts/images/$app-publish.log"
  mkdir -p artifacts/images
  echo "[images ${SECONDS}s] publishing $project (self-contained, trimmed) to $out"
  # DebugType=none: no .pdb files in the image. Directory.Build.targets suppresses NetMQ's one
  # known, harmless trim warning; any other warning fails the trimmed publish (TreatWarningsAsErrors).
  if ! publish "$project" "$out" -p:PublishTrimmed=true >"$log" 2>&1; then
    cat "$log"
    # Code that is not trim-safe still makes a working image, only a bigger one: say so loudly
    # and publish untrimmed. Any other failure stops here.
    grep -qE 'IL[0-9]{4}' "$log" || exit 1
    echo "[images] WARNING: $project is not trim-safe (trim analysis errors above); publishing it UNTRIMMED"
    publish "$project" "$out" -p:PublishTrimmed=false
  fi
done

echo "[images ${SECONDS}s] building images"
# The compose file insists on a key folder and pin for 'up'; a build needs neither.
ZMQASPIRE_KEY_DIR=/nonexistent ZMQASPIRE_HOST_KEY_FINGERPRINT=unused ZMQASPIRE_CLIENT_KEY_GID=0 \
COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 \
  docker-compose -f deploy/compose/docker-compose.yml build
echo "[images ${SECONDS}s] done"
docker images --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' 'zmqaspire/*' | grep ":${ZMQASPIRE_TAG:-local} "
