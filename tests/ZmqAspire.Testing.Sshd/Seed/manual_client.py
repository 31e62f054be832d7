#!/usr/bin/python3
"""The seed's first client: a plain REQ connected to the local end of a forward made by hand with
`ssh -L 127.0.0.1:5557:server:5556 user@host -N` (the port comes from the environment)."""
import os

import zmq

context = zmq.Context()
socket = context.socket(zmq.REQ)
socket.connect("tcp://127.0.0.1:%s" % os.environ.get("SEED_LOCAL_PORT", "5557"))

for request in range(9):
    print("Sending request %s ..." % request, flush=True)
    socket.send(b"Hello")
    message = socket.recv()
    print("Received reply %s [ %s ]" % (request, message.decode()), flush=True)
