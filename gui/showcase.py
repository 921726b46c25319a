"""What ``hilt gui`` does on its own when it opens the simulated MZI example: once the station is
connected, it starts something worth watching in the chosen tab, so a first look (and the
README's screenshots, ``docs/images/make_screenshots.py``) shows the app at work, not empty forms.

- **Training**: a short in-situ training (2 epochs, batch 32) on the simulated chip, live plots.
- **Calibration**: the mesh heaters' sweep and fit (16 points a heater), left to accept or reject.
- **Runs**: the runs folder, its newest run opened at its last capture.

Everything goes through the panels' own buttons' methods, as a click would; nothing is saved
to the station's calibration.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("hilt.gui")

#: The tabs ``start`` knows what to do in.
SHOWCASE_TABS = ("Training", "Calibration", "Runs")


def start(window: Any, tab: str = "Training", runs_dir: str | Path = "runs") -> None:
    """Show ``tab`` and start its showcase on the window's connected station (a no-op without
    a station: the Station dock already says why it did not connect)."""
    if tab not in SHOWCASE_TABS:
        raise ValueError(f"no showcase for tab {tab!r}; one of {', '.join(SHOWCASE_TABS)}")
    panel = window.tab_widgets[tab]
    window.tabs.setCurrentWidget(panel)
    if window.station is None:
        return
    runs_dir = str(runs_dir)
    if tab == "Training":
        panel.apply_settings({"loop": "insitu", "epochs": 2, "batch_size": 32, "seed": 0,
                              "dataset": "digits", "runs_dir": runs_dir})
        panel.start()
    elif tab == "Calibration":
        panel.apply_settings({"routine": "mzi_heaters", "runs_dir": runs_dir,
                              "options": {"points": 16}})
        panel.run()
    else:
        panel.set_folder(runs_dir)
        newest = sorted(Path(runs_dir).glob("*.h5"), key=lambda p: p.stat().st_mtime)
        if newest and panel.open_run(newest[-1]):
            panel.capture_slider.setValue(panel.capture_slider.maximum())  # its last capture
    log.info("showcase: %s started on %s", tab, window.station.name)
