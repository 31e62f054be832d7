"""The benchmark's libzmq peer: the server side of the pyzmq modes (docs/benchmarks.md).

Run by the benchmark with Debian's /usr/bin/python3 and python3-zmq (pyzmq 24, libzmq 4.3):
the same sockets and control protocol as the NetMQ server (Server.cs), so a NetMQ client
measures a libzmq peer the same way: a REP echo, a ROUTER echo, a PULL sink with a REP
control socket ("expect N" / "wait MS"). No raw TCP echo (its port is reported as 0).

Usage: python3 pyzmq_server.py [BIND_ADDRESS]   (default 127.0.0.1)
Prints one line "READY {json ports}", then serves until its standard input closes (the
benchmark ended), so no server outlives a benchmark.
"""

import json
import os
import sys
import threading

import zmq

MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # the product server's limit, as Server.cs
POLL_MS = 250

context = zmq.Context()
address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
stop = threading.Event()

# PULL sink state, driven by the control socket.
lock = threading.Lock()
expected = [sys.maxsize]
count = [0]
received_bytes = [0]
done = threading.Event()


def bind(kind, **options):
    socket = context.socket(kind)
    socket.linger = 0
    socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_SIZE)
    for name, value in options.items():
        socket.setsockopt(getattr(zmq, name), value)
    port = socket.bind_to_random_port("tcp://" + address)
    return socket, port


def rep_echo(socket):
    while not stop.is_set():
        if socket.poll(POLL_MS):
            # Echo the very frames back, without copying them into Python objects.
            socket.send_multipart(socket.recv_multipart(copy=False), copy=False)


def router_echo(socket):
    while not stop.is_set():
        if socket.poll(POLL_MS):
            # Identity frame first, then the DEALER's frames: echoed as they came.
            socket.send_multipart(socket.recv_multipart(copy=False), copy=False)


def pull_sink(socket):
    while not stop.is_set():
        if socket.poll(POLL_MS):
            frame = socket.recv(copy=False)
            with lock:
                count[0] += 1
                received_bytes[0] += len(frame.buffer)
                if count[0] == expected[0]:
                    done.set()


def control(socket):
    while not stop.is_set():
        if not socket.poll(POLL_MS):
            continue
        parts = socket.recv_string().split(" ")
        if parts[0] == "expect":
            with lock:
                done.clear()
                count[0] = 0
                received_bytes[0] = 0
                expected[0] = int(parts[1])
            socket.send_string("ok")
        elif parts[0] == "wait":
            finished = done.wait(int(parts[1]) / 1000.0)
            with lock:
                socket.send_string(f"{'done' if finished else 'timeout'} {count[0]} {received_bytes[0]}")
        else:
            socket.send_string("unknown")


def main():
    rep, rep_port = bind(zmq.REP)
    router, router_port = bind(zmq.ROUTER, SNDHWM=100_000, RCVHWM=100_000)
    pull, pull_port = bind(zmq.PULL)
    ctl, ctl_port = bind(zmq.REP)
    for body, socket in ((rep_echo, rep), (router_echo, router), (pull_sink, pull), (control, ctl)):
        threading.Thread(target=body, args=(socket,), daemon=True).start()
    ports = {"Rep": rep_port, "Router": router_port, "Pull": pull_port, "Control": ctl_port, "Tcp": 0}
    print("READY " + json.dumps(ports), flush=True)
    sys.stdin.read()
    stop.set()
    os._exit(0)


if __name__ == "__main__":
    main()
