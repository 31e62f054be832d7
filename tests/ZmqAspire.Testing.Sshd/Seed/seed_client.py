#!/usr/bin/python3
"""The seed's REQ client, as the blog post wrote it: nine "Hello" requests to a REP server that
only an SSH host can reach, through pyzmq's zmq.ssh.tunnel_connection. Nothing is configured
beyond the call itself; the environment only says where the bastion is, the password (unset:
ssh's default keys log in) and the tunnel mode (unset: pyzmq's default, OpenSSH under pexpect on
Linux; "yes": paramiko).
"""
import os

import zmq
from zmq import ssh

server = os.environ.get("SEED_SSH_SERVER", "tunnel@127.0.0.1:2222")
password = os.environ.get("SEED_SSH_PASSWORD")
paramiko = {"": None, "yes": True}[os.environ.get("SEED_PARAMIKO", "")]

context = zmq.Context()
socket = context.socket(zmq.REQ)
ssh.tunnel_connection(socket, "tcp://server:5556", server, password=password, paramiko=paramiko)

for request in range(9):
    print("Sending request %s ..." % request, flush=True)
    socket.send(b"Hello")
    message = socket.recv()
    print("Received reply %s [ %s ]" % (request, message.decode()), flush=True)
