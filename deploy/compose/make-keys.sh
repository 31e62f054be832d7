#!/usr/bin/env bash
# Makes (or keeps) the keys of a Docker Compose deployment, outside the repository, and writes
# the env file that docker-compose reads with --env-file. Keys are never put in an image: the
# compose file mounts them into the containers as secrets.
#
# Usage: [ZMQASPIRE_CURVE=yes] deploy/compose/make-keys.sh [--rotate-host-key | --rotate-client-key | --finish-rotation] [DIR]
#   DIR defaults to ~/.zmqaspire/compose (created 0700). Existing keys are kept, so the pinned
#   host key fingerprint stays the same across runs. See docs/deploy.md, "Rotating keys".
#   ZMQASPIRE_CURVE=yes also makes the server's CurveZMQ certificate (docs/deploy.md, "CurveZMQ").
set -euo pipefail
action=keep
case "${1:-}" in
  --rotate-host-key | --rotate-client-key | --finish-rotation) action="${1#--}"; shift ;;
  -*) echo "usage: $0 [--rotate-host-key | --rotate-client-key | --finish-rotation] [DIR]" >&2; exit 2 ;;
esac
dir="${1:-$HOME/.zmqaspire/compose}"
mkdir -p "$dir" && chmod 0700 "$dir" && dir="$(cd "$dir" && pwd)"
host="$dir/ssh_host_ed25519_key"
client="$dir/client_ed25519_key"
# The uid/gid the client image runs as (src/ZmqAspire.Client/Dockerfile).
client_uid=10001

keygen() { rm -f "$1" "$1.pub"; ssh-keygen -q -t ed25519 -N '' -C "$2" -f "$1" </dev/null; }
retire() { mv -f "$1" "$1.old"; mv -f "$1.pub" "$1.pub.old"; }

case "$action" in
  rotate-host-key) retire "$host"; keygen "$host" zmqaspire-bastion-host-key ;;
  rotate-client-key) retire "$client"; keygen "$client" zmqaspire-client ;;
  finish-rotation) rm -f "$dir"/*.old ;;
esac
[ -f "$host" ] && [ -f "$host.pub" ] || keygen "$host" zmqaspire-bastion-host-key
[ -f "$client" ] && [ -f "$client.pub" ] || keygen "$client" zmqaspire-client
chmod 0600 "$host"

# The client container runs as uid 10001 and must read its key. As root, give the key to that
# uid (0400); otherwise make it group-readable (0640) and add our group to the container
# (group_add). The 0700 folder keeps it from anyone else on this machine either way.
if [ "$(id -u)" -eq 0 ]; then
  chown "$client_uid:$client_uid" "$client"; chmod 0400 "$client"; key_gid=$client_uid
else
  chmod 0640 "$client"; key_gid="$(id -g)"
fi

# CurveZMQ (docs/security.md, docker-compose.curve.yml): with ZMQASPIRE_CURVE=yes, make (or keep)
# the server's CURVE certificate with pyzmq's zmq.auth (python3-zmq), in ZeroMQ's zcert format,
# readable by the server's uid the way the client key is; its public key goes to compose.env.
curve="$dir/curve_server.key"
if [ "${ZMQASPIRE_CURVE:-no}" = yes ] && [ ! -f "${curve}_secret" ]; then
  rm -f "$curve"
  ( umask 077; /usr/bin/python3 -c 'import sys, zmq.auth; zmq.auth.create_certificates(sys.argv[1], "curve_server")' "$dir" )
fi
curve_line=""
if [ -f "${curve}_secret" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    chown "$client_uid:$client_uid" "${curve}_secret"; chmod 0400 "${curve}_secret"
  else
    chmod 0640 "${curve}_secret"
  fi
  # Single quotes: a Z85 key may hold '$' or '#', which Compose v2 would otherwise interpret.
  curve_line="ZMQASPIRE_CURVE_SERVER_KEY='$(/usr/bin/python3 -c 'import sys, zmq.auth; print(zmq.auth.load_certificate(sys.argv[1])[0].decode())' "$curve")'"
fi

# During a rotation both keys are accepted: the old and new client keys are authorized, and
# clients pin both host keys (new first), so containers can be recreated in any order.
cat "$client.pub" $( [ -f "$client.pub.old" ] && echo "$client.pub.old" ) > "$dir/authorized_keys"
chmod 0644 "$dir/authorized_keys"
pin="$(ssh-keygen -lf "$host.pub" | awk '{ print $2 }')"
[ -f "$host.pub.old" ] && pin="$pin,$(ssh-keygen -lf "$host.pub.old" | awk '{ print $2 }')"

cat > "$dir/compose.env" <<ENV
# Written by deploy/compose/make-keys.sh; pass with: docker-compose --env-file $dir/compose.env ...
ZMQASPIRE_KEY_DIR=$dir
ZMQASPIRE_HOST_KEY_FINGERPRINT=$pin
ZMQASPIRE_CLIENT_KEY_GID=$key_gid
$curve_line
ENV
echo "keys in $dir (host key $pin)"
echo "next: docker-compose --env-file $dir/compose.env -f deploy/compose/docker-compose.yml up -d"
