# Sourced, not run: the container images ZmqAspire makes, in one place for eng/setup.sh and
# eng/clean.sh.

# Base images: eng/setup.sh pulls them, or offline builds them locally (debootstrap, and a
# stand-in for Aspire's tunnel base). eng/clean.sh never removes them: offline they cannot be
# pulled again.
BASE=debian:bookworm-slim
TUNNEL_BASE=mcr.microsoft.com/azurelinux/base/core:3.0
BASE_IMAGES=("$BASE" "$TUNNEL_BASE")

# Repositories of the images the project builds, each rebuilt when needed:
#   server, server-<n>, bastion, publisher, puller  the AppHost's containers (DCP tags each
#                                                    build <name>:<hash>)
#   dcptun_developer_ms                              Aspire's container tunnel proxy, built by DCP
#                                                    FROM $TUNNEL_BASE
#   zmqaspire/*                                      eng/build-images.sh (deploy/compose), the
#                                                    deployment tests' peers (zmqaspire/pyrep) and
#                                                    the swarm worker node (zmqaspire/swarm-node,
#                                                    eng/swarm.sh up --nodes)
project_image_repository() {
  case "$1" in
    server|server-[0-9]*|bastion|aspire-ssh-bastion|publisher|puller|dcptun_developer_ms|zmqaspire/*) return 0 ;;
    *) return 1 ;;
  esac
}
