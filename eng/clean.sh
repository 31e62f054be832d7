#!/usr/bin/env bash
# Removes what ZmqAspire left in the container engine: the images the project built (eng/images.sh
# names their repositories: the AppHost's server:<hash>, bastion:<hash>, ..., Aspire's tunnel
# proxy, the zmqaspire/* deployment and test images) with their stopped containers, dangling
# images, and the build cache. Never the base images eng/setup.sh made (offline they cannot be
# pulled again): it checks at the end that they are still there, and that no project image is
# left unless a running container uses it; either failing exits 1.
# Images a running container uses stay (stop the AppHost, or `docker-compose down`, first).
# Everything removed is rebuilt when next needed: eng/build-images.sh, or the AppHost's start.
# Usage: eng/clean.sh
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO_ROOT/eng/images.sh"

usage() { docker system df --format '{{.Type}} {{.Size}}' | paste -sd, - | sed 's/,/, /g'; }
project_images() { # repository:tag of every project image
  docker images --format '{{.Repository}}:{{.Tag}}' | while IFS= read -r ref; do
    if project_image_repository "${ref%:*}"; then echo "$ref"; fi
  done
}
echo "[clean] before: $(usage); $(project_images | wc -l) project image tags"

# Stopped containers of project images (a failed or interrupted run's); running ones stay.
docker ps -a --filter status=exited --filter status=created --format '{{.ID}} {{.Image}}' |
  while read -r id image; do
    if project_image_repository "${image%:*}"; then docker rm "$id" >/dev/null; fi
  done

# Tags one by one, without --force: an image in use by a running container is kept.
kept=0
while IFS= read -r ref; do
  if ! docker image rm "$ref" >/dev/null 2>&1; then
    echo "[clean] kept $ref: a running container uses it"
    kept=$((kept + 1))
  fi
done < <(project_images)

docker image prune -f >/dev/null   # dangling (untagged) images only, never a tagged one
# DOCKER_BUILDKIT=0: the docker CLI's own `builder prune` (the engine's build-cache API, BuildKit's
# cache included), not the buildx plugin's, which eng/setup.sh's shim may stand in for (build only).
if ! out="$(DOCKER_BUILDKIT=0 docker builder prune -af 2>&1)"; then
  echo "$out" >&2
  exit 1
fi

echo "[clean] after:  $(usage); $kept project image tags kept (in use)"

# The checks: the base images are untouched, and every project image left is in use.
status=0
for image in "${BASE_IMAGES[@]}"; do
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "[clean] kept base image $image"
  else
    echo "[clean] ERROR: base image $image is gone (eng/setup.sh makes it again)" >&2
    status=1
  fi
done
left="$(project_images | wc -l)"
if [ "$left" -ne "$kept" ]; then
  echo "[clean] ERROR: $left project image tags left, $kept of them in use:" >&2
  project_images >&2
  status=1
fi
exit $status
