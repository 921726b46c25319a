"""Train a 3-mesh, 64-port MZI network on digits with the hardware in the loop (Python API).

    .venv/bin/python examples/train_mzi.py            # in silico, deploy, then DAT
    .venv/bin/python examples/train_mzi.py --demo     # the full DAT benchmark table

The processor here is the in-process LocalMeshProcessor; a station-backed processor (a driver
talking to a chip) implements the same MeshProcessor interface and drops in unchanged.
"""

from __future__ import annotations

import argparse
import math

import torch

from hilt.instruments.mesh_processor import LocalMeshProcessor
from hilt.loops import (
    DATSettings,
    LoopControl,
    TrainSettings,
    load_digits,
    run_demo,
    train_dat,
    train_insilico,
)
from hilt.sims.physics import EOActivation, MZINetwork


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", action="store_true", help="run the DAT benchmark (all methods)")
    ap.add_argument("--quick", action="store_true", help="short demo")
    ap.add_argument("--errors", default="dat-0.06", help="error preset of the simulated chip")
    ap.add_argument("--runs", default="runs", help="directory for run files")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.demo:
        run_demo(quick=args.quick, json_path=f"{args.runs}/demo.json", runs_dir=args.runs)
        return

    data = load_digits(seed=0)
    net = MZINetwork.build(64, 3, seed=0)
    net.activation = EOActivation(phi_b=math.pi / 2)
    chip = LocalMeshProcessor(net.with_errors(args.errors, seed=1))

    ins = train_insilico(net.twin(), data, TrainSettings(epochs=8, lr=0.005, progress_bar=True),
                         processor=chip, run_path=f"{args.runs}/example/insilico.h5")
    print(f"in silico: twin {ins.twin_accuracy:.3f}, deployed on the chip {ins.accuracy:.3f}")

    control = LoopControl()  # a GUI thread may call control.pause() / .resume() / .abort()
    dat = train_dat(chip, net.twin(), data,
                    DATSettings(epochs=3, lr=0.005, mode="internal", progress_bar=True),
                    init_state=ins.model_state, run_path=f"{args.runs}/example/dat.h5",
                    control=control,
                    progress=lambda p: p.end_of_epoch and print(
                        f"epoch {p.epoch}: loss {p.loss:.3f}, {p.physical_queries} queries"))
    print(f"DAT: chip accuracy {dat.accuracy:.3f} after {dat.physical_queries} physical queries")


if __name__ == "__main__":
    main()
