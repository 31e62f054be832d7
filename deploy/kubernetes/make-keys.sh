#!/usr/bin/env bash
# Makes (or keeps) the keys for deploy/kubernetes in deploy/kubernetes/keys/ (or DIR), where
# kustomization.yaml's secretGenerator and configMapGenerator read them; git ignores the folder.
# The keys are those of deploy/compose/make-keys.sh (same files, same rotation options), plus
# host-key-pin.env with the client's pin.
# Usage: deploy/kubernetes/make-keys.sh [--rotate-host-key | --rotate-client-key | --finish-rotation] [DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
args=()
case "${1:-}" in -*) args+=("$1"); shift ;; esac
dir="${1:-$here/keys}"
"$here/../compose/make-keys.sh" "${args[@]}" "$dir" >/dev/null
# The client runs as uid 10001 with fsGroup 10001 and reads the key from the Secret, which gets
# its own owner and mode (client.yaml): the file's here only need to be readable by kubectl.
pin="$(sed -n 's/^ZMQASPIRE_HOST_KEY_FINGERPRINT=//p' "$dir/compose.env")"
printf 'ZMQASPIRE_HOST_KEY_FINGERPRINT=%s\n' "$pin" > "$dir/host-key-pin.env"
echo "keys in $dir (host key $pin)"
echo "next: kubectl apply -k $here"
