"""The seed's REP server in pyzmq, as a peer that knows nothing of ZmqAspire.

Like the seed it takes one frame with recv() and answers with send(): a request of more than
one frame (such as a trace envelope) would leave RCVMORE set and make send() fail (EFSM), so
this server stops answering any client that sends one.
"""
import os
import time

import zmq

port = os.environ.get("PORT", "5557")
work_seconds = float(os.environ.get("WORK_SECONDS", "0.05"))

context = zmq.Context()
socket = context.socket(zmq.REP)
socket.bind("tcp://*:%s" % port)
print("pyzmq %s REP server on tcp://*:%s" % (zmq.pyzmq_version(), port), flush=True)

while True:
    message = socket.recv()
    print("Received request:", message.decode(errors="replace"), flush=True)
    time.sleep(work_seconds)
    socket.send_string("World from %s" % port)
