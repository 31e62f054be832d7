"""An asyncssh SSH server whose direct-tcpip channels end each answer with a global request.

Usage: global_request_server.py HOST_KEY AUTHORIZED_KEYS TARGET_HOST TARGET_PORT

Listens on 127.0.0.1 on a port the kernel picks and prints "listening PORT" when it accepts
connections. Logs in any user whose key is in AUTHORIZED_KEYS (OpenSSH format) with the host key
HOST_KEY (an OpenSSH private key file, made by the test, never committed). Accepts a local
forward (direct-tcpip, RFC 4254 section 7.2) to TARGET_HOST:TARGET_PORT only and serves it
itself: for every line the client sends it answers ANSWER (64 B) and, in the same TCP segment, an
SSH_MSG_GLOBAL_REQUEST "keepalive@openssh.com" with want-reply false (RFC 4254 section 4), as a
server that probes its client while a channel is open would. Runs until it is killed; reads no stdin.
"""
import asyncio
import socket
import sys
import warnings

# Debian's asyncssh imports ciphers that python3-cryptography deprecates: keep stderr for real errors.
warnings.filterwarnings("ignore", message=".* has been deprecated", module="asyncssh.crypto")

import asyncssh  # noqa: E402
from asyncssh.constants import MSG_GLOBAL_REQUEST  # noqa: E402
from asyncssh.packet import Boolean, String  # noqa: E402

ANSWER = bytes(range(64))
REQUEST = b"keepalive@openssh.com"


class Answering(asyncssh.SSHTCPSession):
    """One forwarded connection: every line in gets ANSWER and a global request out, in one segment."""

    def __init__(self, conn):
        self._conn = conn
        self._chan = None
        self._pending = b""

    def connection_made(self, chan):
        self._chan = chan

    def data_received(self, data, datatype):
        self._pending += data
        while b"\n" in self._pending:
            _, self._pending = self._pending.split(b"\n", 1)
            self._answer()

    def _answer(self):
        # asyncssh writes each SSH message with its own send(2) as soon as it is made (and
        # sets TCP_NODELAY), so the two would usually leave in two segments. Corking the
        # connection's socket (our server's own socket, Linux TCP_CORK) around both makes them one
        # segment, which the client reads at once: its channel data is then not the last message of
        # its read. asyncssh has no public call for a global request other than its timed
        # keepalive, so this uses the connection's send_packet, an undocumented method of
        # asyncssh 2.10's SSHConnection: our test peer's code, not a change to asyncssh.
        sock = self._conn.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            self._chan.write(ANSWER)
            self._conn.send_packet(MSG_GLOBAL_REQUEST, String(REQUEST), Boolean(False))
        finally:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        print(f"answered {len(ANSWER)} B + global request {REQUEST.decode()}", flush=True)


class Server(asyncssh.SSHServer):
    def __init__(self, target):
        self._target = target
        self._conn = None

    def connection_made(self, conn):
        self._conn = conn

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        if (dest_host, dest_port) != self._target:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, f"only {self._target[0]}:{self._target[1]} is served")
        return Answering(self._conn)


async def main(host_key, authorized_keys, target_host, target_port):
    target = (target_host, int(target_port))
    server = await asyncssh.create_server(
        lambda: Server(target), "127.0.0.1", 0,
        server_host_keys=[host_key], authorized_client_keys=authorized_keys)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
