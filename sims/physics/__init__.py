"""Differentiable physics of hilt's simulated world and of the training loops' digital twins.

Every physical system here is a torch ``nn.Module`` with trainable parameters. ``.twin()``
returns the error-free model sharing those parameters; ``.with_errors(levels, seed)`` returns
the physical device, whose systematic errors are drawn once from the seed and frozen.
See docs/adr/0004-physics-and-twins.md.
"""

from .detection import Photodetectors
from .diffraction import (
    SETUPS,
    SPEED_OF_LIGHT,
    THZ_0P4,
    VEROBLACKPLUS_0P4THZ,
    VISIBLE_SLM_532,
    ComplexMask,
    DetectorArray,
    DiffractiveSetup,
    DiffractiveStack,
    HeightMask,
    Mask,
    Material,
    PhaseMask,
    Propagator,
    asm_propagate,
    choose_padding,
    fft_friendly,
    max_walk,
    plain_transfer_function,
    transfer_function,
)
from .errors import (
    PRESETS,
    DetectorErrors,
    DiffractiveErrors,
    ErrorLevels,
    MZIErrors,
    NeuronErrors,
    draw_detector_errors,
    draw_diffractive_errors,
    draw_mzi_errors,
    draw_neuron_errors,
    error_levels,
)
from .int8 import (
    Int8Conv2d,
    Int8Linear,
    Int8Sequential,
    dequantize,
    int8_conv2d,
    int8_matmul,
    quantize,
    quantize_multiplier,
    requantize,
    requantize_float,
    rounding_right_shift,
    wrap_int32,
)
from .mzi import (
    EOActivation,
    HeaterModel,
    MeshLayout,
    MZIMesh,
    MZINetwork,
    decompose,
    haar_unitary,
    mesh_layout,
    mzi_matrix,
)
from .spiking import (
    SpikingLayer,
    SpikingNetwork,
    first_spike_times,
    latency_encode,
    rate_encode,
    spike,
    spike_counts,
)

__all__ = [
    "SETUPS", "SPEED_OF_LIGHT", "THZ_0P4", "VEROBLACKPLUS_0P4THZ", "VISIBLE_SLM_532",
    "ComplexMask", "DetectorArray", "DiffractiveSetup", "DiffractiveStack", "HeightMask", "Mask",
    "Material", "PhaseMask", "Propagator", "asm_propagate", "choose_padding", "fft_friendly",
    "max_walk", "plain_transfer_function", "transfer_function",
    "PRESETS", "DetectorErrors", "DiffractiveErrors", "ErrorLevels", "MZIErrors", "NeuronErrors",
    "draw_detector_errors", "draw_diffractive_errors", "draw_mzi_errors", "draw_neuron_errors",
    "error_levels",
    "Int8Conv2d", "Int8Linear", "Int8Sequential", "dequantize", "int8_conv2d", "int8_matmul",
    "quantize", "quantize_multiplier", "requantize", "requantize_float", "rounding_right_shift",
    "wrap_int32",
    "EOActivation", "HeaterModel", "MeshLayout", "MZIMesh", "MZINetwork", "decompose",
    "haar_unitary", "mesh_layout", "mzi_matrix",
    "Photodetectors",
    "SpikingLayer", "SpikingNetwork", "first_spike_times", "latency_encode", "rate_encode",
    "spike", "spike_counts",
]
