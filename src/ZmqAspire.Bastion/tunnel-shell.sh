#!/bin/sh
# The tunnel user's login shell. The bastion exists to relay local forwards, yet OpenSSH clients
# that tunnel "the pyzmq way" (zmq.ssh.tunnel_connection without paramiko runs
# `ssh -f -S none -L ... user@bastion sleep <timeout>`) need one session channel whose command
# holds the connection, and so the forward, open. So the one command allowed is exactly
# "sleep <seconds>" (1-86400, digits only). Nothing else is run: no shell, no other command, no
# compound command ("sleep 5; id" is not "sleep 5"). sshd starts this as `tunnel-shell -c CMD`
# for a command and with no arguments for a shell; pty, subsystem, agent and X11 requests are
# refused by sshd_config before this runs.
set -u
max_seconds=86400
# One line in the bastion's log: start-sshd relays this FIFO to the container's output. Opened
# read-write so that a write never blocks, even if nothing were reading.
session_log=/run/zmqaspire/session-log
from=${SSH_CLIENT:-unknown}
from=${from%% *}

log() {
  { printf 'tunnel-shell: %s (user %s from %s)\n' "$1" "${USER:-?}" "$from" 1<>"$session_log"; } 2>/dev/null || true
}

refuse() {
  log "refused $1"
  printf 'bastion: %s refused: this bastion only forwards TCP; the one command allowed is "sleep <seconds>" (1-%s), which holds a forward open as pyzmq'"'"'s tunnel_connection asks\n' "$1" "$max_seconds" >&2
  exit 126
}

if [ "$#" -ne 2 ] || [ "$1" != "-c" ]; then
  refuse "a login shell"
fi

# Printable characters only, and short, so the log line cannot be forged or flooded.
shown=$(printf '%s' "$2" | tr -c '[:print:]' '?' | cut -c1-80)
case "$2" in
  "sleep "*) seconds=${2#sleep } ;;
  *) refuse "the command '$shown'" ;;
esac
case "$seconds" in
  "" | *[!0-9]*) refuse "the command '$shown'" ;;
esac
if [ "${#seconds}" -gt 5 ] || [ "$seconds" -lt 1 ] || [ "$seconds" -gt "$max_seconds" ]; then
  refuse "the command '$shown' (seconds out of 1-$max_seconds)"
fi

log "sleep $seconds: holding the session open for its forwards"
exec /bin/sleep "$seconds"
