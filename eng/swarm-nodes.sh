# Sourced by eng/swarm.sh, not run: worker nodes for a swarm of several nodes on one machine.
# Each worker is a Docker-in-Docker container (deploy/swarm/node: Debian's docker.io on the local
# base image), on a user-defined bridge network of its own whose gateway address is where this
# engine, the manager, listens and advertises. The swarm's ports (2377/tcp to the manager,
# 7946/tcp+udp gossip, 4789/udp VXLAN) pass between the host and the containers on that bridge;
# it is --internal, so the workers reach nothing beyond this host.
# Needs: made_label (eng/swarm.sh), REPO_ROOT.

node_network="${ZMQASPIRE_SWARM_NODE_NETWORK:-zmqaspire-swarm-nodes}"
node_image="zmqaspire/swarm-node:${ZMQASPIRE_TAG:-local}"
node_label=zmqaspire.swarm.node

# Worker containers (names), made by make_multinode_swarm.
worker_containers() { docker ps -a --filter "label=$node_label" --format '{{.Names}}'; }

# Prints what of a filter (a label=... of docker ps) the workers' engines still run, if anything.
workers_have() {
  local worker
  for worker in $(docker ps --filter "label=$node_label" --format '{{.Names}}'); do
    docker exec "$worker" docker ps -aq --filter "$1" 2>/dev/null || true
  done
}

# make_multinode_swarm WORKERS IMAGE...: the node network, `swarm init` on its gateway address,
# WORKERS worker containers that load IMAGE... (there is no registry) and join, ready.
make_multinode_swarm() {
  local workers="$1" gateway token i worker address; shift
  local images=("$@")
  SECONDS=0
  if ! docker image inspect "$node_image" >/dev/null 2>&1; then
    echo "swarm: building $node_image (deploy/swarm/node; apt installs docker.io, about 1.5 min)"
    DOCKER_BUILDKIT=1 docker build -q -t "$node_image" "$REPO_ROOT/deploy/swarm/node" >/dev/null
    echo "swarm: built $node_image in ${SECONDS} s"
    SECONDS=0
  fi
  docker network create --driver bridge --internal --label "$made_label" "$node_network" >/dev/null
  gateway="$(docker network inspect "$node_network" --format '{{(index .IPAM.Config 0).Gateway}}')"
  # Listen on the node network only (not on every interface, as the default 0.0.0.0:2377 would).
  docker swarm init --advertise-addr "$gateway" --listen-addr "$gateway:2377" >/dev/null
  docker node update --label-add "$made_label" "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
  token="$(docker swarm join-token -q worker)"
  for i in $(seq 1 "$workers"); do
    worker="zmqaspire-swarm-worker-$i"
    docker volume create --label "$made_label" --label "$node_label=$worker" "$worker" >/dev/null
    # Not --privileged: this Docker (20.10) gives a privileged container every capability the
    # kernel knows, and runc fails ("unable to apply caps") where the host's bounding set lacks
    # one (CAP_SYS_RESOURCE on this project's machines). So: every capability this host has, no
    # seccomp or AppArmor profile, /proc and /sys not masked, a cgroup namespace of its own; the
    # node's start script remounts sysfs and its cgroups read-write.
    docker run -d --init --name "$worker" --hostname "$worker" --network "$node_network" \
      --label "$made_label" --label "$node_label=$worker" \
      --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
      --security-opt apparmor=unconfined --security-opt systempaths=unconfined --cgroupns private \
      --mount "type=volume,src=$worker,dst=/var/lib/docker" "$node_image" >/dev/null
  done
  for i in $(seq 1 "$workers"); do
    worker="zmqaspire-swarm-worker-$i"
    wait_for "$worker's dockerd" 60 docker exec "$worker" docker info --format '{{.ID}}'
    docker save "${images[@]}" | docker exec -i "$worker" docker load -q >/dev/null
    address="$(docker inspect "$worker" --format "{{(index .NetworkSettings.Networks \"$node_network\").IPAddress}}")"
    docker exec "$worker" docker swarm join --token "$token" --advertise-addr "$address" \
      --listen-addr "$address:2377" "$gateway:2377" >/dev/null
  done
  wait_for "$workers worker node(s) ready" 60 workers_ready "$workers"
  echo "swarm: started a swarm of $((workers + 1)) nodes in ${SECONDS} s: this engine (manager, $gateway) and $workers worker(s) on network $node_network; 'eng/swarm.sh down' removes them"
}

workers_ready() {
  [ "$(docker node ls --filter role=worker --format '{{.Status}}' | grep -c '^Ready$')" -eq "$1" ]
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds, or fails the script after SECONDS.
wait_for() {
  local what="$1" seconds="$2" i; shift 2
  for i in $(seq 1 "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "swarm: $what: not after $seconds s" >&2
  return 1
}

# Removes the worker nodes: each leaves the swarm, its container and volume (its engine's images
# and containers) go. Then, outside any swarm, the node network.
remove_workers() {
  local worker
  for worker in $(worker_containers); do
    docker exec "$worker" docker swarm leave --force >/dev/null 2>&1 || true
    docker rm -f "$worker" >/dev/null
    docker volume rm "$worker" >/dev/null 2>&1 || true
  done
  # A worker that left is Down on the manager until removed.
  if [ "$(swarm_state)" = active ]; then
    docker node ls --filter role=worker -q | xargs -r docker node rm --force >/dev/null 2>&1 || true
  fi
}

remove_node_network() {
  if docker network inspect "$node_network" >/dev/null 2>&1; then
    docker network rm "$node_network" >/dev/null
  fi
}
