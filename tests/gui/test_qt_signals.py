"""The installed Qt binding survives a long session's worth of signals.

PySide6 6.12.0 on CPython 3.11 drops a reference to ``True`` on every ``Signal.emit``; the process
dies (``bool_dealloc``) after some hundreds of emits, which in the app is a few seconds of live
plotting. pyproject.toml excludes that release; this test keeps any other broken one out. It runs
in a subprocess so that such a crash is a failed test with its message, not a dead test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

EMITS = 100_000

PROGRAM = textwrap.dedent(f"""
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Source(QObject):
        value = Signal(object)
        flag = Signal(bool)

    app = QCoreApplication([])
    source = Source()
    got = [0, 0]
    source.value.connect(lambda v: got.__setitem__(0, got[0] + 1))
    source.flag.connect(lambda v: got.__setitem__(1, got[1] + 1))
    for i in range({EMITS}):
        source.value.emit(i)
        source.flag.emit(i % 2 == 0)
    print(got[0], got[1])
""")


def test_a_hundred_thousand_emits_in_one_process():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the Qt binding crashed (exit {done.returncode}): {done.stderr[-500:]}"
    assert done.stdout.split() == [str(EMITS), str(EMITS)]
