"""Shared behaviour of SCPI instruments (IEEE 488.2 common commands + the SCPI error queue)."""

from __future__ import annotations

import re
from typing import ClassVar

from hilt.errors import (
    ConnectError,
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentTimeout,
    ProtocolError,
)
from hilt.instrument import Instrument

_ERROR_REPLY = re.compile(r'^\s*([-+]?\d+)\s*,\s*"?(.*?)"?\s*$')


class ScpiInstrument(Instrument):
    """An instrument with a SCPI error queue read by ``SYST:ERR?``.

    After every set (``check_errors_after_set``) the queue is read: a SCPI instrument executes a
    setting silently and only the queue says whether it took. That costs one round trip per set;
    a driver with a faster path (``*ESR?`` bits, an OK reply) overrides :meth:`check_errors`.
    """

    error_query: ClassVar[str] = "SYST:ERR?"
    # IEEE 488.2 common queries: an identity (vendor,model,...) then "1"; never the same answer.
    fence: ClassVar[tuple[tuple[str, str], ...] | None] = (("*IDN?", r"[^,]+,[^,]+.*"), ("*OPC?", r"\+?1"))
    check_errors_after_set = True
    max_errors_read: ClassVar[int] = 30

    def check_errors(self, command: str | None = None) -> None:
        """Drain the error queue; raise the first error with its code and meaning."""
        first: tuple[int, str] | None = None
        with self.transaction():
            for _ in range(self.max_errors_read):
                reply = self.transport.query(self.error_query)
                m = _ERROR_REPLY.match(reply)
                if not m:
                    raise ProtocolError("not an error-queue reply", instrument=self.name,
                                        command=self.error_query, reply=reply)
                code = int(m.group(1))
                if code == 0:
                    break
                if first is None:
                    first = (code, m.group(2))
        if first is not None:
            raise InstrumentError(first[0], first[1], instrument=self.name, command=command)

    def on_query_failure(self, command: str, error: InstrumentCommunicationError) -> None:
        """A SCPI instrument answers a query it refuses with silence and an error-queue entry:
        after the timeout, find the stream's place and read the queue, so the error is reported
        for this query (not blamed on the next command) and the query is not asked again."""
        if not isinstance(error, InstrumentTimeout):
            return
        try:
            with self.transaction():
                self.transport.recover()
                self.check_errors(command)
        except (InstrumentTimeout, ConnectError, ProtocolError):
            return  # still silent: the caller's retries (and their recovery) carry on

    def reset(self) -> None:
        """``*RST;*CLS``: the instrument's preset state with an empty error queue."""
        self.write("*RST;*CLS")
        for p in self.parameters.values():
            p.cache = None
