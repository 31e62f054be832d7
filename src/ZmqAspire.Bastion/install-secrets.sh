#!/bin/sh
# Deployments without the AppHost (deploy/compose, Kubernetes) hand the bastion its keys as
# secret files under /run/secrets. A mounted file keeps its host owner and mode, and sshd's
# StrictModes refuses an authorized_keys file not owned by root (or the user), so the files are
# copied to where sshd_config looks, root-owned, the private host key 0600. The forwarding
# target comes from BASTION_PERMIT_OPEN ("host:port ...", as clients ask for it), the one opt-in
# from BASTION_CTR_CIPHERS=yes.
# When the AppHost runs the bastion it copies these files in itself; then there is nothing here
# to do and this script changes nothing.
set -eu
secrets="${BASTION_SECRETS_DIR:-/run/secrets}"
if [ -f "$secrets/ssh_host_ed25519_key" ]; then
  install -d -o root -g root -m 0755 /etc/zmqaspire/keys
  install -o root -g root -m 0600 "$secrets/ssh_host_ed25519_key" /etc/zmqaspire/keys/ssh_host_ed25519_key
fi
if [ -f "$secrets/authorized_keys" ]; then
  install -o root -g root -m 0644 "$secrets/authorized_keys" /etc/zmqaspire/authorized_keys
fi
config=""
if [ -n "${BASTION_PERMIT_OPEN:-}" ]; then
  for target in $BASTION_PERMIT_OPEN; do
    case "$target" in
      *[!A-Za-z0-9.:_-]* | :* | *: | *:*:*) echo "BASTION_PERMIT_OPEN: '$target' is not host:port" >&2; exit 1 ;;
      *:*) ;;
      *) echo "BASTION_PERMIT_OPEN: '$target' is not host:port" >&2; exit 1 ;;
    esac
  done
  config="PermitOpen $BASTION_PERMIT_OPEN
"
fi
# Opt-in for SSH clients without AES-GCM or ChaCha20, such as paramiko before 3.0 (Debian 12's
# python3-paramiko, pyzmq's paramiko tunnels): AES-CTR, still only with the ETM MACs.
if [ "${BASTION_CTR_CIPHERS:-no}" = yes ]; then
  config="${config}Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr
"
fi
[ -z "$config" ] || printf '%s' "$config" > /etc/zmqaspire/sshd_config.d/deployment.conf
if [ ! -f /etc/zmqaspire/keys/ssh_host_ed25519_key ]; then
  echo "bastion: no host key; mount the secret ssh_host_ed25519_key (see docs/deploy.md)" >&2
  exit 1
fi
