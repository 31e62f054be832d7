#!/usr/bin/env bash
# Brings the Docker Swarm deployment (deploy/swarm/stack.yml) up and down on this machine.
#
# Usage: eng/swarm.sh up [--nodes N] [KEY_DIR] | down | status
#   up      makes or keeps the keys (deploy/compose/make-keys.sh, KEY_DIR defaults to
#           ~/.zmqaspire/compose), starts a single-node swarm if this engine is in none
#           (`docker swarm init --advertise-addr 127.0.0.1`, marked on the node so that `down`
#           knows it made it), and deploys the stack; returns once every service has converged.
#           --nodes N (N >= 2; needs an engine in no swarm): a swarm of this engine as the
#           manager and N-1 worker nodes on this machine (eng/swarm-nodes.sh: Docker-in-Docker
#           containers on a network of their own), and the stack with deploy/swarm/multinode.yml:
#           the server's tasks on the workers, the bastion and the client on the manager.
#   down    removes the stack and waits until its containers, networks and secrets are gone (on
#           every node); removes the worker nodes --nodes made (containers, volumes, network);
#           leaves the swarm (and removes docker_gwbridge) only when `up` made it.
#   status  docker stack services, and docker node ls when there are workers.
# Settings (environment): ZMQASPIRE_STACK (stack name, default zmqaspire), ZMQASPIRE_SSH_PORT
# (2222), ZMQASPIRE_SERVER_REPLICAS (3), ZMQASPIRE_REMOTE_ENDPOINTS (the client's lanes),
# ZMQASPIRE_SERVER_WORK_TIME, ZMQASPIRE_REQUEST_COUNT, ZMQASPIRE_REQUEST_INTERVAL, ZMQASPIRE_TAG.
# Needs the images from eng/build-images.sh; there is no registry, so the stack runs the local
# tags as they are (--resolve-image never): on one node only, or on nodes that hold the same tags.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="${ZMQASPIRE_STACK:-zmqaspire}"
made_label=zmqaspire.swarm=made-by-eng-swarm-sh
. "$REPO_ROOT/eng/swarm-nodes.sh"

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# Waits until nothing of the stack is left: `docker stack rm` returns before the engine has
# removed the tasks' containers and the networks.
wait_gone() {
  local label="label=com.docker.stack.namespace=$stack" i
  for i in $(seq 1 120); do
    if [ -z "$(docker ps -aq --filter "$label")" ] && [ -z "$(docker network ls -q --filter "$label")" ] \
       && { [ "$(swarm_state)" != active ] || [ -z "$(docker secret ls -q --filter "$label")" ]; } \
       && [ -z "$(workers_have "$label")" ]; then
      return 0
    fi
    sleep 1
  done
  echo "swarm: stack $stack still has containers, networks or secrets after 120 s" >&2
  return 1
}

up() {
  local nodes=1 image
  if [ "${1:-}" = --nodes ]; then
    nodes="${2:?--nodes needs a number}"; shift 2
    [[ "$nodes" =~ ^[1-9]$ ]] || { echo "swarm: --nodes takes 1 to 9, not '$nodes'" >&2; exit 2; }
  fi
  local keys="${1:-$HOME/.zmqaspire/compose}"
  local files=(-c "$REPO_ROOT/deploy/swarm/stack.yml")
  for image in server client bastion; do
    docker image inspect "zmqaspire/$image:${ZMQASPIRE_TAG:-local}" >/dev/null 2>&1 \
      || { echo "swarm: image zmqaspire/$image:${ZMQASPIRE_TAG:-local} missing; run eng/build-images.sh" >&2; exit 1; }
  done
  "$REPO_ROOT/deploy/compose/make-keys.sh" "$keys" >/dev/null
  # compose.env: the key folder and the host key pin, which the stack file interpolates.
  set -a; . "$keys/compose.env"; set +a
  if [ "$nodes" -gt 1 ]; then
    # A swarm of several nodes is made here, whole: on an engine in no swarm only.
    [ "$(swarm_state)" = inactive ] \
      || { echo "swarm: --nodes $nodes makes its own swarm, but this engine's swarm state is '$(swarm_state)' (eng/swarm.sh down?)" >&2; exit 1; }
    make_multinode_swarm "$((nodes - 1))" "zmqaspire/server:${ZMQASPIRE_TAG:-local}"
    files+=(-c "$REPO_ROOT/deploy/swarm/multinode.yml")
  fi
  case "$(swarm_state)" in
    active) ;;
    inactive)
      docker swarm init --advertise-addr 127.0.0.1 >/dev/null
      docker node update --label-add "$made_label" "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
      echo "swarm: started a single-node swarm (advertise 127.0.0.1); 'eng/swarm.sh down' leaves it" ;;
    *) echo "swarm: this engine's swarm state is '$(swarm_state)'; fix it first (docker swarm leave --force?)" >&2; exit 1 ;;
  esac
  # --detach=false waits until every service has converged (tasks running and healthy); its
  # progress bars are left out (--quiet). On failure, say what the tasks say.
  SECONDS=0
  if ! timeout "${ZMQASPIRE_SWARM_TIMEOUT:-300}" docker stack deploy --resolve-image never --detach=false --quiet \
       "${files[@]}" "$stack"; then
    echo "swarm: stack $stack did not converge; its tasks:" >&2
    docker stack ps --no-trunc "$stack" >&2 || true
    exit 1
  fi
  docker stack services "$stack"
  echo "swarm: stack $stack deployed and converged in ${SECONDS} s"
  echo "swarm: SSH on port ${ZMQASPIRE_SSH_PORT:-2222} of the node that runs the bastion (every interface); host key ${ZMQASPIRE_HOST_KEY_FINGERPRINT}"
}

down() {
  if [ "$(swarm_state)" != active ]; then
    # Worker nodes of a run of `up --nodes` that failed before or while making the swarm.
    remove_workers
    remove_node_network
    echo "swarm: this engine is in no swarm; nothing to remove"
    return 0
  fi
  docker stack rm --detach=false "$stack" >/dev/null 2>&1 || true
  wait_gone
  remove_workers
  if [ "$(docker node inspect "$(docker info --format '{{.Swarm.NodeID}}')" --format '{{index .Spec.Labels "zmqaspire.swarm"}}')" = "${made_label#*=}" ]; then
    docker swarm leave --force >/dev/null
    # The bridge that joined this node's overlay networks to the host; swarm leave keeps it.
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
    remove_node_network
    echo "swarm: stack $stack removed; left the swarm that eng/swarm.sh up made"
  else
    echo "swarm: stack $stack removed; the swarm was not made by eng/swarm.sh, so it stays"
  fi
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status)
    docker stack services "$stack"
    if [ -n "$(worker_containers)" ]; then docker node ls; fi ;;
  *) echo "usage: $0 up [--nodes N] [KEY_DIR] | down | status" >&2; exit 2 ;;
esac
