"""hilt: hardware-in-the-loop training of physical neural networks.

The public API is flat: ``from hilt import Station, Instrument, Parameter, ...``.
"""

__version__ = "0.1.0"

from hilt.errors import (  # noqa: E402
    ConfigError,
    ConnectError,
    HiltError,
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    SimulatorError,
    UnitError,
)
from hilt.instrument import Instrument, InstrumentChannel  # noqa: E402
from hilt.parameters import Parameter  # noqa: E402
from hilt.registry import driver_names, load_driver, load_simulator, simulator_names  # noqa: E402
from hilt.runfile import CaptureSpec, RunFileError, RunReader, RunWriter, open_run  # noqa: E402
from hilt.station import Station  # noqa: E402
from hilt.transport import Transport, open_transport  # noqa: E402
from hilt.validators import Bool, Enum, Ints, Numbers, Sequence  # noqa: E402

__all__ = [
    "__version__",
    "Bool", "CaptureSpec", "ConfigError", "ConnectError", "Enum", "HiltError", "Instrument", "InstrumentChannel",
    "InstrumentCommunicationError", "InstrumentError", "InstrumentTimeout", "Ints", "LimitError",
    "Numbers", "Parameter", "ProtocolError", "RunFileError", "RunReader", "RunWriter", "Sequence",
    "SimulatorError", "UnitError", "Station", "Transport",
    "driver_names", "load_driver", "load_simulator", "open_run", "open_transport", "simulator_names",
]
