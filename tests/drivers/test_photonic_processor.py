"""Photonic processor: hilt frames byte by byte, the simulator over TCP, limits, error frames,
what the chip says it is (INFO architecture, ``expect``) and the twin built from it.

The exchanges are written out by hand from docs/protocols/photonic-processor.md: every header
field, every payload and every CRC is a literal below, never bytes made by :mod:`hilt.framing`
(the codec under test), so a codec bug cannot cancel itself out. The CRC-16/CCITT-FALSE values
were computed once with :func:`crc_ccitt_false`, a bitwise implementation written here from the
document's parameters, and :func:`test_frames_here_are_the_documents` checks every literal frame
against it and against the header layout.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hilt.drivers.photonic_processor import PhotonicProcessor
from hilt.errors import ConfigError, InstrumentError, LimitError, ProtocolError
from hilt.instruments.mesh_processor import LocalMeshProcessor, StationMeshProcessor, phases_of
from hilt.instruments.photonic_twin import twin_from_description
from hilt.sims.photonic_processor import SimPhotonicProcessor
from hilt.sims.physics import MZINetwork
from hilt.sims.world import World
from hilt.testing import expected_protocol


def crc_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE as the document gives it: poly 0x1021, init 0xFFFF, MSB first, no
    reflection, xorout 0 (bit by bit; independent of hilt.framing)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def h(text: str) -> bytes:
    """Bytes from hex written with spaces between the fields."""
    return bytes.fromhex(text)


# f32 little-endian, written out: 0.5 = 0x3F000000, 1.0 = 0x3F800000, 1.5 = 0x3FC00000, ...
F0, F05, F1, F15, F2, F3, F4 = "00000000", "0000003f", "0000803f", "0000c03f", "00000040", "00004040", "00008040"
F5, F6, F7, F8, F9, F10, F11 = "0000a040", "0000c040", "0000e040", "00000041", "00001041", "00002041", "00003041"

# INFO reply payload: the document's keys, the architecture ones included (296 = 0x128 bytes).
INFO_JSON = (b'{"vendor":"hilt","model":"PNP","serial":"1","firmware":"1.0","n_ports":4,"n_layers":2,'
             b'"heaters_per_layer":16,"measures_internal":true,"max_batch":2,"mesh":"clements",'
             b'"activation":{"kind":"electro_optic","alpha":0.1,"g":0.25,"phi_b":1.5},'
             b'"detectors":{"kind":"photodiode","n":4,"responsivity":1.0}}')
INFO = json.loads(INFO_JSON)

#            magic ver type seq  length    payload                                        CRC
INFO_REQ = h("a55a 01 01 0001 00000000                                                    64dd")
INFO_REP = h("a55a 01 81 0001 00000128") + INFO_JSON + h("54f9")
# SET_HEATERS layer 1, offset 3, count 2: 0.5 V, 1.5 V
SET_REQ = h(f"a55a 01 10 0002 00000012 0001 00000003 00000002 {F05} {F15}                7060")
SET_REP = h("a55a 01 90 0002 00000000                                                    aeec")
# RUN flags 0, batch 2, n 4: (1, 0, 0, 0) and (0, 1j, 0, 0) as (re, im) f32 pairs
RUN1_REQ = h(f"a55a 01 20 0003 00000047 00 00000002 0004 {F1}{F0} {F0 * 6} {F0 * 2} {F0}{F1} {F0 * 4} 0f33")
RUN1_REP = h(f"a55a 01 a0 0003 00000027 00000002 0004 00 {F0}{F1}{F2}{F3} {F4}{F5}{F6}{F7}       bf50")
# RUN flags 0, batch 1, n 4: (0.5, 0.5, 0.5, 0.5)
RUN2_REQ = h(f"a55a 01 20 0004 00000027 00 00000001 0004 {(F05 + F0) * 4}                     ac64")
RUN2_REP = h(f"a55a 01 a0 0004 00000017 00000001 0004 00 {F8}{F9}{F10}{F11}                  cc44")
SAFE_REQ = h("a55a 01 40 0005 00000000                                                    8856")
SAFE_REP = h("a55a 01 c0 0005 00000000                                                    23af")
# GET_HEATERS layer 1 answered by ERROR code 4 and a message (2 + 27 = 0x1d bytes)
GET1_REQ = h("a55a 01 11 0002 00000002 0001                                               2803")
ERR_REP = h("a55a 01 ff 0002 0000001d 0004") + b"value out of range: layer 9" + h("e982")
# GET_HEATERS layer 0: count 2, 0.5 V, 1.5 V
GET0_REQ = h("a55a 01 11 0003 00000002 0000                                               8043")
GET0_REP = h(f"a55a 01 91 0003 0000000c 00000002 {F05} {F15}                            fec9")
# GET_HEATERS layer 0 again; the reply (count 0) arrives with its CRC's bits flipped
GET0B_REQ = h("a55a 01 11 0004 00000002 0000                                              9907")
GET0B_BAD = h("a55a 01 91 0004 00000004 00000000                                          6944")  # not 96bb
# LIGHT on, 1.0 mW (f32 big-endian, a payload-header scalar); first a late reply to request 1
LIGHT_REQ = h("a55a 01 30 0002 00000005 01 3f800000                                       c018")
LATE_REP = h("a55a 01 81 0001 00000000                                                    cf24")
LIGHT_REP = h("a55a 01 b0 0002 00000000                                                   c01a")
# RUN flags 1 (internal states), batch 1, n 4: (1, 0, 0, 0); reply with 1 state layer
RUNI_REQ = h(f"a55a 01 20 0003 00000027 01 00000001 0004 {F1}{F0} {F0 * 6}                5476")
RUNI_REP = h(f"a55a 01 a0 0003 00000027 00000001 0004 01 {F1}{F2}{F3}{F4} {F5}{F6}{F7}{F8} 3565")
# a reply of the wrong type (SET_HEATERS' 0x90) to GET_HEATERS, request 4
GETW_REQ = h("a55a 01 11 0004 00000002 0000                                               9907")
WRONG_REP = h("a55a 01 90 0004 00000000                                                   6369")

LITERAL_FRAMES = [INFO_REQ, INFO_REP, SET_REQ, SET_REP, RUN1_REQ, RUN1_REP, RUN2_REQ, RUN2_REP, SAFE_REQ,
                  SAFE_REP, GET1_REQ, ERR_REP, GET0_REQ, GET0_REP, GET0B_REQ, LIGHT_REQ, LATE_REP,
                  LIGHT_REP, RUNI_REQ, RUNI_REP, GETW_REQ, WRONG_REP]


def doc_frame(ftype: int, seq: int, payload: bytes) -> bytes:
    """A frame laid out as the document's table says (for INFO replies whose JSON varies)."""
    body = bytes([0x01, ftype]) + seq.to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload
    return b"\xa5\x5a" + body + crc_ccitt_false(body).to_bytes(2, "big")


def info_reply(info: dict) -> bytes:
    return doc_frame(0x81, 1, json.dumps(info).encode())


def test_frames_here_are_the_documents() -> None:
    """The literals above follow the document: magic, version, length and CRC of each."""
    assert crc_ccitt_false(b"123456789") == 0x29B1  # the catalogue's check value
    for frame in LITERAL_FRAMES:
        assert frame[:3] == b"\xa5\x5a\x01"
        assert int.from_bytes(frame[6:10], "big") == len(frame) - 12
        assert int.from_bytes(frame[-2:], "big") == crc_ccitt_false(frame[2:-2]), frame.hex()
    assert int.from_bytes(GET0B_BAD[-2:], "big") == crc_ccitt_false(GET0B_BAD[2:-2]) ^ 0xFFFF
    assert doc_frame(0x01, 1, b"") == INFO_REQ and doc_frame(0x81, 1, INFO_JSON) == INFO_REP


def test_codec_crc_and_the_documented_example() -> None:
    from hilt.framing import Frame, crc16

    assert crc16(b"123456789") == 0x29B1
    assert crc16(h("0101 0001 00000000")) == 0x64DD
    # The document's example: INFO request, sequence 1.
    assert Frame(0x01, 1).encode() == INFO_REQ


def test_protocol_heaters_and_run() -> None:
    volts = np.array([0.5, 1.5])
    x = np.array([[1, 0, 0, 0], [0, 1j, 0, 0], [0.5, 0.5, 0.5, 0.5]])
    with expected_protocol(PhotonicProcessor, [
        (INFO_REQ, INFO_REP),
        (SET_REQ, SET_REP),
        (RUN1_REQ, RUN1_REP),  # three samples with max_batch 2: two RUN frames
        (RUN2_REQ, RUN2_REP),
        (SAFE_REQ, SAFE_REP),
    ], kind="tcp") as chip:
        assert chip.n_ports == 4 and chip.n_layers == 2 and chip.heaters_per_layer == 16
        chip.set_heaters(1, volts, offset=3)
        got, states = chip.run(x)
        np.testing.assert_array_equal(got, np.arange(12).reshape(3, 4))
        assert states == [] and chip.samples_run == 3
        chip.safe_state()


def test_protocol_error_frame_get_heaters_and_bad_crc() -> None:
    with expected_protocol(PhotonicProcessor, [
        (INFO_REQ, INFO_REP),
        (GET1_REQ, ERR_REP),
        (GET0_REQ, GET0_REP),
        (GET0B_REQ, GET0B_BAD),
    ], kind="tcp") as chip:
        with pytest.raises(InstrumentError) as info:
            chip.get_heaters(1)
        assert info.value.code == 4 and info.value.meaning == "value out of range: layer 9"
        np.testing.assert_array_equal(chip.get_heaters(0), [0.5, 1.5])
        # No second try here: the scripted peer takes one connection, and a retry after a bad
        # frame goes out on a fresh one (tests/faults covers that against the simulator).
        chip.query_retries = 0
        with pytest.raises(ProtocolError, match="CRC mismatch"):
            chip.get_heaters(0)


def test_protocol_late_reply_light_and_internal_states() -> None:
    """A late reply (sequence 1) before the LIGHT reply is dropped by its sequence number; RUN
    with flag bit 0 returns the outputs, then the intensities after the first mesh."""
    with expected_protocol(PhotonicProcessor, [
        (INFO_REQ, INFO_REP),
        (LIGHT_REQ, LATE_REP + LIGHT_REP),
        (RUNI_REQ, RUNI_REP),
        (GETW_REQ, WRONG_REP),
    ], kind="tcp") as chip:
        chip.set_light(True, 1.0)
        out, states = chip.run(np.array([[1, 0, 0, 0]]), internal=True)
        np.testing.assert_array_equal(out, [[1, 2, 3, 4]])
        assert len(states) == 1
        np.testing.assert_array_equal(states[0], [[5, 6, 7, 8]])
        chip.query_retries = 0
        with pytest.raises(ProtocolError, match="reply type 0x90 to request 0x11"):
            chip.get_heaters(0)


def test_describe_reads_the_architecture_from_info() -> None:
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, INFO_REP)], kind="tcp") as chip:
        assert chip.describe() == {
            "mesh": "clements", "n_ports": 4, "n_layers": 2, "heaters_per_layer": 16,
            "measures_internal": True,
            "activation": {"kind": "electro_optic", "alpha": 0.1, "g": 0.25, "phi_b": 1.5},
            "detectors": {"kind": "photodiode", "n": 4, "responsivity": 1.0}}
        chip.describe()["activation"]["g"] = 9.0  # a copy: the chip's description stays
        assert chip.describe()["activation"]["g"] == 0.25
        assert chip.snapshot_parameters()["mesh"] == "clements"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("mesh", 5, "mesh 5 is not a mesh type"),
    ("mesh", "", "mesh '' is not a mesh type"),
    ("measures_internal", "yes", "measures_internal 'yes' is not true or false"),
    ("activation", "electro_optic", "activation 'electro_optic' is not an object with a kind"),
    ("activation", {"alpha": 0.1}, "is not an object with a kind"),
    ("activation", {"kind": "electro_optic", "g": "0.25"}, "g is not"),
    ("activation", {"kind": "electro_optic", "g": True}, "g is not"),
    ("detectors", {"kind": "photodiode", "n": 3}, "detectors.n 3 is not the number of ports"),
    ("n_layers", 2.0, "n_layers 2.0 is not an integer"),
])
def test_a_malformed_architecture_is_a_protocol_error(key: str, value: object, message: str) -> None:
    reply = info_reply(INFO | {key: value})
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(".", r"\.")):
        with expected_protocol(PhotonicProcessor, [(INFO_REQ, reply)], kind="tcp"):
            pass


def test_an_older_controller_without_architecture_keys_still_connects() -> None:
    old = {k: v for k, v in INFO.items() if k not in ("mesh", "activation", "detectors", "measures_internal")}
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, info_reply(old))], kind="tcp") as chip:
        desc = chip.describe()
        assert desc["mesh"] is None and desc["activation"] is None and desc["measures_internal"] is False
        with pytest.raises(ConfigError, match="photonic_processor: cannot build a twin: the processor "
                                              "does not report its mesh type"):
            twin_from_description(desc, seed=0, name=chip.name)
    # The station file says what the controller does not.
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, info_reply(old))], kind="tcp",
                           expect={"mesh": "reck", "activation": "electro_optic"}) as chip:
        desc = chip.describe()
        assert desc["mesh"] == "reck" and desc["activation"] == {"kind": "electro_optic"}
        twin = twin_from_description(desc, seed=0)
        assert twin.meshes[0].kind == "reck" and twin.activation.g == pytest.approx(0.05 * np.pi)


@pytest.mark.parametrize(("expect", "message"), [
    ({"n_ports": 32}, "chip: station says n_ports 32, the processor reports 4"),
    ({"n_layers": 3}, "chip: station says n_layers 3, the processor reports 2"),
    ({"mesh": "reck"}, "chip: station says mesh reck, the processor reports clements"),
    ({"measures_internal": False}, "chip: station says measures_internal False, the processor reports True"),
    ({"activation": {"g": 0.5}}, "chip: station says activation.g 0.5, the processor reports 0.25"),
    ({"activation": "saturable_absorber"},
     "chip: station says activation.kind saturable_absorber, the processor reports electro_optic"),
])
def test_expect_that_disagrees_is_refused_on_connect(expect: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        with expected_protocol(PhotonicProcessor, [(INFO_REQ, INFO_REP)], kind="tcp", name="chip",
                               expect=expect):
            pass
    assert str(info.value) == message


def test_expect_that_agrees_connects() -> None:
    expect = {"mesh": "clements", "n_ports": 4, "n_layers": 2, "heaters_per_layer": 16,
              "measures_internal": True, "detectors": "photodiode",
              "activation": {"kind": "electro_optic", "g": 0.25, "phi_b": 1.5}}
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, INFO_REP)], kind="tcp", expect=expect) as chip:
        assert chip.describe()["mesh"] == "clements"


@pytest.mark.parametrize(("expect", "message"), [
    ({"ports": 4}, "expect: unknown field 'ports'"),
    ({"n_ports": "64"}, "expect: n_ports '64' is not a positive integer"),
    ({"n_ports": 0}, "expect: n_ports 0 is not a positive integer"),
    ({"measures_internal": "yes"}, "expect: measures_internal 'yes' is not true or false"),
    ({"activation": {"g": "big"}}, "expect: activation"),
    (["mesh"], "expect must be a mapping"),
])
def test_expect_is_checked_before_anything_is_sent(expect: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PhotonicProcessor("tcp://127.0.0.1:1", name="chip", expect=expect)


def test_a_station_file_that_disagrees_is_refused(tmp_path) -> None:
    from hilt.station import Station

    text = """name: bench
simulate: true
instruments:
  chip:
    driver: photonic_processor
    sim: {n: 4, layers: 2}
    options:
      expect: {mesh: clements, n_ports: 32, n_layers: 2}
"""
    (tmp_path / "bench.yaml").write_text(text)
    with pytest.raises(Exception, match="chip: station says n_ports 32, the processor reports 4"):
        with Station.from_yaml(tmp_path / "bench.yaml"):
            pass
    (tmp_path / "typo.yaml").write_text(text.replace("n_ports: 32", "ports: 4"))
    with pytest.raises(ConfigError, match=r"typo\.yaml:8: .*expect.*unknown field 'ports'"):
        Station.from_yaml(tmp_path / "typo.yaml")


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, INFO_REP)], kind="tcp") as chip:
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
        assert [e.data for e in chip.transport.exchanges if e.direction == "->"] == [INFO_REQ]  # INFO only


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


@pytest.mark.parametrize(("mesh", "activation"), [("clements", {}), ("reck", {"g": 0.6, "phi_b": 1.0})])
def test_the_twin_built_from_the_description_is_the_chip_without_its_errors(served, mesh, activation) -> None:
    """A simulated chip without errors measures what the twin built from its own report
    predicts, whatever its mesh type and activation; a twin built without asking (a Clements
    mesh with the default activation) does not, for the Reck chip with another gain."""
    sim, address = served(SimPhotonicProcessor, world=World(seed=5, errors="none"), n=6, layers=2,
                          kind=mesh, activation=activation)
    x = np.random.default_rng(1).normal(size=(7, 6)).astype(np.complex64)
    with PhotonicProcessor(address) as chip:
        desc = chip.describe()
        assert desc["mesh"] == mesh and desc["n_ports"] == 6 and desc["n_layers"] == 2
        assert desc["measures_internal"] is True and desc["detectors"]["kind"] == "photodiode"
        assert desc["activation"]["kind"] == "electro_optic"
        assert desc["activation"]["g"] == activation.get("g", 0.05 * np.pi)
        twin = twin_from_description(desc, seed=2)
        processor = StationMeshProcessor(chip)
        processor.load_phases(phases_of(twin))
        chip.set_light(True, 1.0)
        out, _ = processor.run(x)
    with torch.no_grad():
        predicted = twin(torch.as_tensor(x)).numpy()
        guessed = MZINetwork.build(6, 2, seed=2).twin()(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(out, predicted, rtol=2e-3, atol=1e-5 * predicted.max())
    if mesh == "reck":
        assert np.abs(guessed - out).max() > 0.05 * out.max()


@pytest.mark.parametrize(("change", "message"), [
    ({"mesh": "butterfly"}, "mesh 'butterfly' (known: clements, reck)"),
    ({"mesh": None}, "the processor does not report its mesh type"),
    ({"activation": None}, "the processor does not report its activation"),
    ({"activation": {"kind": "saturable_absorber"}}, "activation 'saturable_absorber' (known: electro_optic, none)"),
    ({"activation": {"kind": "electro_optic", "gain": 1.0}}, "unknown parameter(s) gain (known: alpha, g, phi_b)"),
    ({"detectors": {"kind": "camera"}}, "detectors 'camera' (known: photodiode)"),
    ({"heaters_per_layer": 12}, "12 heaters per layer; a 4-port clements mesh has 16"),
    ({"n_layers": 0}, "n_layers 0 is not a positive integer"),
])
def test_a_description_the_twin_cannot_build_is_refused_in_one_line(change: dict, message: str) -> None:
    desc = {k: INFO[k] for k in ("mesh", "n_ports", "n_layers", "heaters_per_layer", "activation",
                                 "detectors", "measures_internal")} | change
    with pytest.raises(ConfigError) as info:
        twin_from_description(desc, seed=0, name="chip")
    assert str(info.value) == f"chip: cannot build a twin: {message}" or message in str(info.value)
    assert str(info.value).startswith("chip: cannot build a twin: ") and "\n" not in str(info.value)


def test_the_described_twin_is_the_seeded_twin_for_the_default_chip() -> None:
    """For the chip hilt always assumed (Clements, default activation) the described twin is the
    one a seed built before: runs started earlier resume onto the same model."""
    desc = {"mesh": "clements", "n_ports": 4, "n_layers": 2, "activation": {"kind": "electro_optic"}}
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.complex64)
    with torch.no_grad():
        torch.testing.assert_close(twin_from_description(desc, seed=7)(x), MZINetwork.build(4, 2, seed=7).twin()(x))


def test_garbled_reply_is_a_protocol_error(served) -> None:
    sim, address = served(SimPhotonicProcessor, n=4, layers=1)
    with PhotonicProcessor(address, timeout=0.5) as chip:
        sim.faults.garble = True
        with pytest.raises(ProtocolError, match="bad magic"):
            chip.get_heaters(0)
        sim.faults.garble = False


RUNB_REQ = h(f"a55a 01 20 0002 00000027 00 00000001 0004 {F1}{F0}{F05}{F0}{F0 * 4}            70b0")
RUNB_REP = h(f"a55a 01 a0 0002 00000017 00000001 0004 00 {F0 * 4}                           fba2")
LIGHT_OFF_REQ = h("a55a 01 30 0003 00000005 00 3f800000                                   050c")
LIGHT_OFF_REP = h("a55a 01 b0 0003 00000000                                               6a4b")


def test_protocol_bounds_declared_by_the_info_reply() -> None:
    info = INFO | {"v_max": 5.0, "max_input_power": 2.0}
    x = np.array([[1, 0.5, 0, 0]])  # sum |a|^2 = 1.25
    with expected_protocol(PhotonicProcessor, [
        (INFO_REQ, info_reply(info)),
        (RUNB_REQ, RUNB_REP),
        (LIGHT_OFF_REQ, LIGHT_OFF_REP),
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
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, INFO_REP)], kind="tcp") as chip:
        assert chip.input_power_limit == 10.0 * 4
        with pytest.raises(LimitError, match="sample 0"):
            chip.run(np.full((1, 4), 1e6))


def test_station_processor_refuses_nan_phases_before_any_frame() -> None:
    with expected_protocol(PhotonicProcessor, [(INFO_REQ, INFO_REP)], kind="tcp") as chip:
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
