"""Per-call overhead of a hilt parameter get/set against a raw client sending the same bytes.

Each simulator runs in its own process (``hilt sim serve``), so client and server do not share a
GIL. For every transport, blocks of calls alternate (ABBA) between hilt and the raw client, and
the medians of the blocks' per-call times are compared.

    .venv/bin/python bench/transport_bench.py [--calls 100] [--rounds 41]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pyvisa
import serial


def serve(model: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    # Server on the last core, this client on the first: where each lands otherwise changes the
    # round-trip time by 2x from one block to the next (same core: a context switch per reply).
    cpus = sorted(os.sched_getaffinity(0))
    pin = ["taskset", "-c", str(cpus[-1])] if len(cpus) > 1 and shutil.which("taskset") else []
    proc = subprocess.Popen([*pin, sys.executable, "-m", "hilt.gui.cli", "sim", "serve", model, *extra],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def per_call(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def compare(name: str, hilt_fn: Callable[[], Any], raw_fn: Callable[[], Any], calls: int, rounds: int) -> dict[str, Any]:
    """Blocks of ``calls`` calls, hilt and raw alternating in ABBA order over ``rounds`` rounds;
    the medians of the per-call block times, so that a slow spell of the shared machine lands on
    both sides."""
    for fn in (hilt_fn, raw_fn):  # warm up both paths
        per_call(fn, 50)
    h, r = [], []
    for k in range(rounds):
        order = ((hilt_fn, h), (raw_fn, r)) if k % 2 == 0 else ((raw_fn, r), (hilt_fn, h))
        for fn, out in order:
            out.append(per_call(fn, calls))
    hm, rm = statistics.median(h), statistics.median(r)
    return {"case": name, "hilt_us": hm * 1e6, "raw_us": rm * 1e6, "overhead": hm / rm - 1}


def bench_visa(calls: int, rounds: int, tcp: bool = False) -> list[dict[str, Any]]:
    from hilt.drivers.keysight_e8257d import KeysightE8257D

    proc, address = serve("keysight_e8257d")
    try:
        hilt_address = address
        if tcp:
            host_port = address.split("::")[1] + ":" + address.split("::")[2]
            hilt_address = f"tcp://{host_port}"
        synth = KeysightE8257D(hilt_address, visa_library="@py") if not tcp else KeysightE8257D(hilt_address)
        synth.connect()
        if tcp:
            # The raw peer of hilt's tcp:// transport: a plain socket and a readline.
            host, port = hilt_address[len("tcp://"):].rsplit(":", 1)
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            label = "raw TCP (tcp://, socket)"

            def readline() -> bytes:
                data = sock.recv(4096)
                while not data.endswith(b"\n"):
                    data += sock.recv(4096)
                return data

            def raw_get() -> float:
                sock.sendall(b":FREQ:CW?\n")
                return float(readline())

            def raw_set() -> None:
                sock.sendall(b":FREQ:CW 10000000000.000\n")
                sock.sendall(b"SYST:ERR?\n")
                readline()
        else:
            rm = pyvisa.ResourceManager("@py")
            res = rm.open_resource(address, read_termination="\n", write_termination="", timeout=2000)
            raw_sock = rm.visalib.sessions[res.session].interface
            raw_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as hilt does: compare code, not Nagle
            label = "VISA socket (pyvisa-py)"

            def raw_get() -> float:
                res.write_raw(b":FREQ:CW?\n")
                return float(res.read_raw())

            def raw_set() -> None:
                res.write_raw(b":FREQ:CW 10000000000.000\n")
                res.write_raw(b"SYST:ERR?\n")
                res.read_raw()

        out = [compare(f"{label}: get", synth.frequency.get, raw_get, calls, rounds),
               compare(f"{label}: set (+ SYST:ERR?)", lambda: synth.frequency.set(10e9), raw_set, calls, rounds)]
        synth.close()
        if tcp:
            sock.close()
        else:
            res.close()
        return out
    finally:
        proc.terminate()
        proc.wait()


def bench_serial(calls: int, rounds: int, pty: bool) -> list[dict[str, Any]]:
    from hilt.drivers.keithley_2400 import Keithley2400

    proc, address = serve("keithley_2400", *(["--pty"] if pty else []))
    try:
        k = Keithley2400(address)
        k.connect()
        port = serial.serial_for_url(address, baudrate=9600, timeout=2)
        sock = getattr(port, "_socket", None)
        if sock is not None:  # the same Nagle setting hilt uses, so only hilt's own code differs
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        label = "serial pty (pyserial)" if pty else "serial socket:// (pyserial)"

        def raw_get() -> float:
            port.write(b":SOUR:VOLT?\r")
            return float(port.read_until(b"\r"))

        def raw_set() -> None:
            port.write(b":SENS:CURR:PROT 0.001\r")
            port.write(b"SYST:ERR?\r")
            port.read_until(b"\r")

        out = [compare(f"{label}: get", k.voltage.get, raw_get, calls, rounds),
               compare(f"{label}: set (+ SYST:ERR?)", lambda: k.compliance.set(0.001), raw_set, calls, rounds)]
        k.close()
        port.close()
        return out
    finally:
        proc.terminate()
        proc.wait()


def own_cost() -> dict[str, float]:
    """hilt's own CPU per call, with a transport that answers from memory (no wire, no peer)."""
    from hilt.drivers.keysight_e8257d import KeysightE8257D
    from hilt.transport import Transport

    class Canned(Transport):
        kind = "canned"

        def _open(self) -> None:
            self.last = b""

        def _close(self) -> None:
            pass

        def _send(self, data: bytes) -> None:
            self.last = data

        def _recv_until(self, terminator: bytes) -> bytes:
            return b'+0,"No error"\n' if self.last.startswith(b"SYST") else b"+1.00000000E+10\n"

        def _discard_input(self) -> None:
            pass

    synth = KeysightE8257D("canned", transport=Canned("canned", name="canned"))
    synth.connect()
    out = {}
    for name, fn in (("get", synth.frequency.get), ("set", lambda: synth.frequency.set(1e10))):
        per_call(fn, 2000)
        out[name] = min(per_call(fn, 20000) for _ in range(5)) * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=100, help="calls per timed block")
    ap.add_argument("--rounds", type=int, default=41, help="alternating blocks per side")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[0]})
    own = own_cost()
    rows = []
    rows += bench_visa(args.calls, args.rounds)
    rows += bench_visa(args.calls, args.rounds, tcp=True)
    rows += bench_serial(args.calls, args.rounds, pty=False)
    rows += bench_serial(args.calls, args.rounds, pty=True)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"hilt's own CPU per call (canned transport, best of 5 x 20000): get {own['get']:.1f} us, "
          f"set with error-queue check {own['set']:.1f} us")
    print("| case | hilt (us/call) | raw (us/call) | hilt overhead |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['hilt_us']:.0f} | {r['raw_us']:.0f} | {100 * r['overhead']:+.1f}% |")


if __name__ == "__main__":
    main()
