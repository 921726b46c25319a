"""A plug-in package made on the fly for the plug-in tests (tests/ is on sys.path: its
conftest.py is there)."""

from __future__ import annotations

from pathlib import Path

ENTRY_POINTS = """\
[hilt.routines]
lab_dark_level = lab_plugin:dark_level

[hilt.drivers]
lab_broken_meter = lab_plugin_broken:Meter
"""


def install_fake_plugin(folder: Path) -> Path:
    """A distribution 'lab-plugin 0.3' on a path folder, found by importlib.metadata as pip's
    installs are: a dist-info folder with METADATA and entry_points.txt, and its modules."""
    dist = folder / "lab_plugin-0.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-plugin\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (folder / "lab_plugin.py").write_text(
        '"""A lab\'s own routine."""\n\n'
        "def dark_level(station, *, out_dir='runs', progress=None, abort=None, repeats=3):\n"
        '    """Read the dark level (a lab plug-in)."""\n'
        "    return repeats\n")
    (folder / "lab_plugin_broken.py").write_text("import a_vendor_sdk_that_is_not_installed\n")
    return folder
