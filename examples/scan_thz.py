"""Sweep the THz synthesizer, read the lock-in, watch it live; the file opens in xarray."""
from hilt import Station
from hilt.gui.scan_plot import LiveScanPlot
from hilt.loops import Axis, scan

with Station.from_yaml("thz-lab") as bench:           # simulated unless the file says otherwise
    bench.synth.power.set("5 dBm"), bench.synth.output.set(True)
    run = scan(bench, Axis("synth.frequency", "12.5 GHz", "18.33 GHz", 59),
               read=["lockin.r", "meter.power"], observers=[LiveScanPlot()])
print(run.to_xarray())
