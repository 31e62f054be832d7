"""Runs a command on a real pseudo-terminal and types a passphrase at its prompt, as a person would.

Usage: type_passphrase.py PROMPT READY -- COMMAND [ARG ...]; the passphrase comes from the
PASSPHRASE environment variable (never the command line). Waits for PROMPT, types the passphrase
and Enter (a carriage return, as a terminal sends), waits for a line with READY, then sends SIGTERM and waits
for the end. Prints one JSON object: what the terminal showed after the prompt, and the exit status.
"""
import json
import os
import signal
import sys

import pexpect

prompt, ready, separator, *command = sys.argv[1:]
assert separator == "--", "usage: type_passphrase.py PROMPT READY -- COMMAND [ARG ...]"
child = pexpect.spawn(command[0], command[1:], encoding="utf-8", timeout=60)
result = {"prompted": False, "ready": False}
try:
    child.expect_exact(prompt)
    result["prompted"] = True
    child.send(os.environ["PASSPHRASE"] + "\r")
    child.expect_exact(ready)
    shown = child.before + child.after
    child.expect_exact("\r\n")  # the rest of that line
    result["ready"] = True
    result["shown"] = shown + child.before
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
except (pexpect.TIMEOUT, pexpect.EOF) as error:
    result["error"] = type(error).__name__
    result["shown"] = str(child.before)
    child.terminate(force=True)
child.close()
result["exitstatus"] = child.exitstatus
result["signalstatus"] = child.signalstatus
print(json.dumps(result))
