"""Regenerate the README's screenshots of the desktop app (docs/images/*.png).

Each picture is ``hilt gui --screenshot`` on the bundled, simulated ``mzi-lab`` station, taken
after its tab's showcase ran for a while (hilt.gui.showcase): a short training, the heater
calibration, a short training, then the Runs tab on that training's run file. Offscreen: no display needed.

    .venv/bin/python docs/images/make_screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (picture, tab, seconds after connecting)
SHOTS = [
    ("calibration.png", "Calibration", 45.0),
    ("training.png", "Training", 30.0),
    ("runs.png", "Runs", 4.0),  # opens the newest run: the training's
]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        for picture, tab, after in SHOTS:
            # Fresh settings each time: every picture in the default layout.
            env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
                   "HILT_GUI_SETTINGS": str(Path(tmp) / f"{tab}.ini")}
            out = HERE / picture
            cmd = [sys.executable, "-m", "hilt.gui.cli", "gui", "mzi-lab", "--show", tab,
                   "--runs-dir", str(runs), "--screenshot", str(out), "--after", str(after)]
            done = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{picture}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
            print(f"{out.relative_to(HERE.parent.parent)}: {out.stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
