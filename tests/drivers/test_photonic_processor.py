"""Photonic processor: hilt frames byte by byte, the simulator over TCP, limits, error frames."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from hilt.drivers.photonic_processor import PhotonicProcessor
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.framing import Frame, crc16
from hilt.instruments.mesh_processor import LocalMeshProcessor, StationMeshProcessor, phases_of
from hilt.sims.photonic_processor import SimPhotonicProcessor
from hilt.sims.physics import MZINetwork
from hilt.sims.world import World
from hilt.testing import expected_protocol

INFO = {"vendor": "hilt", "model": "PNP", "serial": "1", "firmware": "1.0", "n_ports": 4, "n_layers": 2,
        "heaters_per_layer": 16, "measures_internal": True, "max_batch": 2}


def info_exchange(seq: int = 1) -> tuple[bytes, bytes]:
    return Frame(0x01, seq).encode(), Frame(0x81, seq, json.dumps(INFO).encode()).encode()


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1
    # The documented example frame: INFO request, sequence 1.
    assert Frame(0x01, 1).encode() == bytes.fromhex("a55a 01 01 0001 00000000") + struct.pack(">H", crc16(bytes.fromhex("0101000100000000")))


def test_protocol_heaters_and_run() -> None:
    volts = np.array([0.5, 1.5], dtype="<f4")
    x = np.array([[1, 0, 0, 0], [0, 1j, 0, 0], [0.5, 0.5, 0.5, 0.5]], dtype="<c8")
    out = np.arange(12, dtype="<f4").reshape(3, 4)
    with expected_protocol(PhotonicProcessor, [
        info_exchange(),
        (Frame(0x10, 2, struct.pack(">HII", 1, 3, 2) + volts.tobytes()).encode(), Frame(0x90, 2).encode()),
        # Three samples with max_batch 2: two RUN frames.
        (Frame(0x20, 3, struct.pack(">BIH", 0, 2, 4) + x[:2].tobytes()).encode(),
         Frame(0xA0, 3, struct.pack(">IHB", 2, 4, 0) + out[:2].tobytes()).encode()),
        (Frame(0x20, 4, struct.pack(">BIH", 0, 1, 4) + x[2:].tobytes()).encode(),
         Frame(0xA0, 4, struct.pack(">IHB", 1, 4, 0) + out[2:].tobytes()).encode()),
        (Frame(0x40, 5).encode(), Frame(0xC0, 5).encode()),
    ], kind="tcp") as chip:
        assert chip.n_ports == 4 and chip.heaters_per_layer == 16
        chip.set_heaters(1, volts, offset=3)
        got, states = chip.run(x)
        np.testing.assert_array_equal(got, out)
        assert states == [] and chip.samples_run == 3
        chip.safe_state()


def test_protocol_error_frame_and_bad_crc() -> None:
    err = struct.pack(">H", 4) + b"value out of range: layer 9"
    bad = bytearray(Frame(0x91, 3, struct.pack(">I", 0)).encode())
    bad[-1] ^= 0xFF
    with expected_protocol(PhotonicProcessor, [
        info_exchange(),
        (Frame(0x11, 2, struct.pack(">H", 1)).encode(), Frame(0xFF, 2, err).encode()),
        (Frame(0x11, 3, struct.pack(">H", 0)).encode(), bytes(bad)),
    ], kind="tcp") as chip:
        with pytest.raises(InstrumentError) as info:
            chip.get_heaters(1)
        assert info.value.code == 4 and "out of range" in info.value.meaning
        # No second try here: the scripted peer takes one connection, and a retry after a bad
        # frame goes out on a fresh one (tests/faults covers that against the simulator).
        chip.query_retries = 0
        with pytest.raises(ProtocolError, match="CRC mismatch"):
            chip.get_heaters(0)


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(PhotonicProcessor, [info_exchange()], kind="tcp") as chip:
        with pytest.raises(LimitError, match="heater 1 of layer 0: 9 V outside"):
            chip.set_heaters(0, [1.0, 9.0])
        with pytest.raises(LimitError, match="layer 2 outside"):
            chip.set_heaters(2, [1.0])
        with pytest.raises(LimitError, match="outside 0..15"):
            chip.set_heaters(0, np.zeros(4), offset=14)
        with pytest.raises(LimitError, match="expected \\(batch, 4\\)"):
            chip.run(np.zeros((2, 3), np.complex64))
        processor = StationMeshProcessor(chip)
        with pytest.raises(LimitError, match="expected phases for 2 meshes"):
            processor.load_phases([])


def test_against_simulator_matches_the_physics(served) -> None:
    world = World(seed=3, errors="dat-0.10")
    sim, address = served(SimPhotonicProcessor, world=world, n=8, layers=2)
    net = MZINetwork.build(8, 2, seed=11)
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.complex64)
    with PhotonicProcessor(address) as chip:
        processor = StationMeshProcessor(chip)
        processor.load_phases(phases_of(net))
        out, states = processor.run(x, internal=True)
        assert out.shape == (5, 8) and len(states) == 1
        assert processor.queries.samples == 5
        # The same chip evaluated in-process, programmed with the same nominal calibration.
        local = LocalMeshProcessor(sim.network)
        local.load_phases(phases_of(net))
        ref, _ = local.run(x)
        np.testing.assert_allclose(out, ref, rtol=2e-3, atol=1e-6 * ref.max())
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            processor.run(x)
        assert info.value.code == 6
    assert not sim.light_on and all(v.max() == 0 for v in sim.volts)  # safe state on exit


def test_garbled_reply_is_a_protocol_error(served) -> None:
    sim, address = served(SimPhotonicProcessor, n=4, layers=1)
    with PhotonicProcessor(address, timeout=0.5) as chip:
        sim.faults.garble = True
        with pytest.raises(ProtocolError, match="bad magic"):
            chip.get_heaters(0)
        sim.faults.garble = False


def test_protocol_bounds_declared_by_the_info_reply() -> None:
    info = INFO | {"v_max": 5.0, "max_input_power": 2.0}
    x = np.array([[1, 0.5, 0, 0]], dtype="<c8")  # sum |a|^2 = 1.25
    out = np.zeros((1, 4), dtype="<f4")
    with expected_protocol(PhotonicProcessor, [
        (Frame(0x01, 1).encode(), Frame(0x81, 1, json.dumps(info).encode()).encode()),
        (Frame(0x20, 2, struct.pack(">BIH", 0, 1, 4) + x.tobytes()).encode(),
         Frame(0xA0, 2, struct.pack(">IHB", 1, 4, 0) + out.tobytes()).encode()),
        (Frame(0x30, 3, struct.pack(">Bf", 0, 1.0)).encode(), Frame(0xB0, 3).encode()),
    ], kind="tcp") as chip:
        assert chip.heater_limit == 5.0 and chip.input_power_limit == 2.0
        with pytest.raises(LimitError, match="6 V outside \\[0, 5\\]"):
            chip.set_heaters(0, [6.0])  # under the driver's v_max 8, over the chip's own 5
        with pytest.raises(LimitError, match="sum \\|a\\|\\^2 = 5, above the limit 2"):
            chip.run(2 * x)
        chip.run(x)
        chip.max_input_power = 1.0  # the user's bound narrows the chip's
        with pytest.raises(LimitError, match="above the limit 1"):
            chip.run(x)
        with pytest.raises(LimitError, match="True or False"):
            chip.set_light("off")
        chip.set_light(False)


def test_default_input_bound_scales_with_the_ports() -> None:
    with expected_protocol(PhotonicProcessor, [info_exchange()], kind="tcp") as chip:
        assert chip.input_power_limit == 10.0 * 4
        with pytest.raises(LimitError, match="sample 0"):
            chip.run(np.full((1, 4), 1e6))


def test_station_processor_refuses_nan_phases_before_any_frame() -> None:
    with expected_protocol(PhotonicProcessor, [info_exchange()], kind="tcp") as chip:
        processor = StationMeshProcessor(chip)
        net = MZINetwork.build(4, 2, seed=1)
        phases = phases_of(net)
        phases[1].theta[0] = np.nan
        with pytest.raises(LimitError, match="mesh 1: heater 0"):
            processor.load_phases(phases)


def test_a_restarted_controller_is_reprogrammed_before_it_measures() -> None:
    """The controller restarts (a fresh simulator on the same port: heaters at 0 V). The link
    reopens by itself, but run() refuses until every layer and the light are set again: a
    measurement of the unprogrammed chip would be a wrong value returned without an error."""
    from hilt.errors import ConnectError
    from hilt.sims.server import serve

    server = serve(SimPhotonicProcessor(World(seed=4), n=4, layers=2))
    x = np.eye(4, dtype=np.complex64)
    try:
        with PhotonicProcessor(server.address, timeout=0.5) as chip:
            volts = [np.full(chip.heaters_per_layer, 1.5), np.full(chip.heaters_per_layer, 2.5)]
            for layer, v in enumerate(volts):
                chip.set_heaters(layer, v)
            chip.set_light(True, 1.0)
            before, _ = chip.run(x)
            port = server.port
            server.stop()
            server = serve(SimPhotonicProcessor(World(seed=4), n=4, layers=2), port=port)  # power-cycled
            with pytest.raises(ConnectError, match="set the light, layer 0, layer 1 again"):
                chip.run(x)
            assert chip.transport.recoveries["reconnect"] == 1
            for layer, v in enumerate(volts):
                chip.set_heaters(layer, v)
            chip.set_light(True, 1.0)
            after, _ = chip.run(x)
            np.testing.assert_allclose(after, before, rtol=1e-6)
    finally:
        server.stop()
