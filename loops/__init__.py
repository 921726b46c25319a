"""hilt.loops: training loops with the hardware in the loop (see docs/adr/0006-training-loops.md).

Every loop is a function of (processor, twin, data, settings) -> LoopResult (+ a run file):
:func:`train_insilico`, :func:`train_pat`, :func:`train_dat`, :func:`train_zeroth_order`;
:func:`train_on_station` runs one on a station's chip and :func:`resume_run` continues such a
run after a crash or an abort; :func:`run_demo` reproduces the DAT paper's MZI benchmark on
digits.
"""

from .core import (
    LoopAborted,
    LoopControl,
    LoopResult,
    PhotonicClassifier,
    Progress,
    TrainSettings,
    evaluate_physical,
    evaluate_twin,
    make_model,
)
from .dat import (
    ComplexLinearCorrection,
    ComplexResidualMLP,
    DATSettings,
    corrected_forward,
    similarity_loss,
    train_dat,
)
from .data import (
    Dataset,
    amplitude_encode,
    int8_encode,
    load_digits,
    load_idx_dataset,
    phase_encode,
    read_idx,
    spike_encode,
)
from .demo import DemoConfig, run_demo
from .head import HEADS, ClassifierHead, accuracy, make_head, task_loss
from .insilico import train_insilico
from .pat import PhysicalForward, physical_forward, substitute, train_pat
from .recording import Recorder, run_context
from .scan import Axis, ScanResult, scan
from .station import resume_run, train_on_station
from .zeroth_order import ZOSettings, train_zeroth_order

__all__ = [
    "Axis", "ScanResult", "scan",
    "HEADS", "ClassifierHead", "ComplexLinearCorrection", "ComplexResidualMLP", "DATSettings",
    "Dataset", "DemoConfig", "LoopAborted", "LoopControl", "LoopResult", "PhotonicClassifier",
    "PhysicalForward", "Progress", "Recorder", "TrainSettings", "ZOSettings", "accuracy",
    "amplitude_encode", "corrected_forward", "evaluate_physical", "evaluate_twin",
    "int8_encode", "load_digits", "load_idx_dataset", "make_head", "make_model", "phase_encode",
    "physical_forward", "read_idx", "resume_run", "run_context", "run_demo",
    "similarity_loss", "spike_encode", "substitute", "task_loss", "train_dat",
    "train_insilico", "train_pat", "train_on_station", "train_zeroth_order",
]
# Also public, imported on use (they pull in more): hilt.loops.sweep (hilt sweep: load_study,
# run_study, gather), hilt.loops.calibration (run_calibration),
# hilt.loops.ann2snn (convert, calibrate_layerwise), hilt.loops.diffractive (run_diffractive_demo).
