"""``SimulatedBench.unsafe()``: what the plugin checks at teardown, rule by rule, read from the world.

hilt's own suite has the plugin installed too, so these tests use its ``hilt_station_factory``
fixture with an explicit file, as a lab's test may.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hilt.sims.pytest_plugin import SimulatedBench

EXAMPLE_BENCH = Path(__file__).resolve().parents[2] / "examples" / "lab-scripts" / "bench.yaml"
SMALL_MZI = Path(__file__).with_name("small_mzi_bench.yaml")

PROCESSOR = """
name: processor-bench
world: {seed: 1}
instruments:
  chip:
    driver: photonic_processor
    address: tcp://192.168.1.50:7000
    sim: {n: 4, layers: 2}
"""


def test_a_source_on_a_moving_stage_and_a_live_reference_are_named(hilt_station_factory,
                                                                  tmp_path: Path) -> None:
    # Simulated time at the wall clock's pace: the 10 mm move takes seconds, not milliseconds.
    text = EXAMPLE_BENCH.read_text()
    assert "\n  speed: 50\n" in text
    path = tmp_path / "bench.yaml"
    path.write_text(text.replace("\n  speed: 50\n", "\n  speed: 1\n"))
    st = hilt_station_factory(path)
    bench = SimulatedBench(st)
    st.lockin.amplitude.set(0.5)
    st.synth.output.set(True)
    st.stage.move_to(10.0, 0.0, wait=False)
    assert bench.unsafe() == [
        "lockin.amplitude: 0.5 V, above the minimum 0.004 V",
        "stage: still moving",
        "synth.output: on",
    ]
    st.safe_state()
    assert bench.unsafe() == []
    bench.assert_safe()


def test_heaters_left_on_are_counted_and_the_largest_named(hilt_station_factory) -> None:
    st = hilt_station_factory(SMALL_MZI)
    bench = SimulatedBench(st)
    volts = np.zeros(st.heaters.n_channels)
    volts[[2, 7]] = [1.5, 4.0]
    st.heaters.set_voltages(volts)
    (line,) = bench.unsafe()
    assert line.startswith("heaters.voltages: 2 of 16 not at 0 V (largest 4")
    st.heaters.safe_state()
    assert bench.unsafe() == []


def test_a_photonic_processor_with_light_or_heaters_on(hilt_station_factory, tmp_path: Path) -> None:
    path = tmp_path / "processor.yaml"
    path.write_text(PROCESSOR)
    st = hilt_station_factory(path)
    bench = SimulatedBench(st)
    st.chip.set_light(True, 1.0)
    st.chip.set_heaters(0, np.full(st.chip.heaters_per_layer, 1.25))
    assert bench.unsafe() == ["chip: light on", "chip: heaters not at 0 V (largest 1.25 V)"]
    st.chip.safe_state()
    assert bench.unsafe() == []


def test_published_values_and_the_simulator_of_an_instrument(hilt_station_factory) -> None:
    st = hilt_station_factory(EXAMPLE_BENCH, seed=4, errors="none")
    bench = SimulatedBench(st)
    st.synth.frequency.set(15e9)
    assert bench.published("synth")["frequency"] == 15e9
    assert bench["lockin"].state()["system"] == "thz"
    assert bench.system("thz").output_frequency() == 90e9
    assert (st.world.seed, st.world.errors) == (4, "none")
