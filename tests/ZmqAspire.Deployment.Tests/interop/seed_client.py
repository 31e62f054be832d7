#!/usr/bin/python3
"""The seed's REQ client in pyzmq, through an SSH tunnel made by zmq.ssh.tunnel_connection.

Usage: seed_client.py paramiko|openssh USER@HOST:PORT tcp://TARGET:PORT KEYFILE COUNT

Host keys are checked, never accepted blindly:
  paramiko: ~/.ssh/known_hosts (the caller sets HOME). pyzmq's tunnel process would accept an
            unknown key with a warning (WarningPolicy), so that policy is replaced by RejectPolicy.
  openssh:  the caller puts an `ssh` wrapper first on PATH that adds `-F config`, with
            StrictHostKeyChecking yes, a known_hosts file and BatchMode (nothing prompts).
Prints "Received reply N [ REPLY ]" per request, as our client logs it.
"""
import os
import signal
import sys

import paramiko
import zmq
from zmq import ssh

mode, server, target, keyfile, count = sys.argv[1:6]
if mode == "paramiko":
    paramiko.WarningPolicy = paramiko.RejectPolicy

context = zmq.Context()
socket = context.socket(zmq.REQ)
socket.linger = 0
socket.rcvtimeo = 15000
ssh.tunnel_connection(socket, target, server, keyfile=keyfile, paramiko=(mode == "paramiko"), timeout=30)
local = socket.getsockopt_string(zmq.LAST_ENDPOINT)
print("tunnel (%s): %s -> %s via %s" % (mode, local, target, server), flush=True)

try:
    for request in range(int(count)):
        socket.send_string("Hello")
        message = socket.recv()
        print("Received reply %d [ %s ]" % (request, message.decode()), flush=True)
finally:
    socket.close()
    context.term()
    if mode == "openssh":
        # `ssh -f` went to the background on its own; stop the one that carries our forward
        # (its -L names our local port), by pid.
        spec = "127.0.0.1:%s:" % local.rsplit(":", 1)[1]
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    args = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if os.path.basename(args[0]) == "ssh" and any(a.startswith(spec) for a in args):
                os.kill(int(pid), signal.SIGTERM)
