"""When a tray's QR ticket is looked for, and the reading itself."""
from __future__ import annotations

import numpy as np

from detectors.tickets import TicketReader
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.params import PipelineParams
from edge.pipeline.tray import State, TrayTracker


class TicketReading:
    """A few tries per tray, on still frames a stride apart: a try costs 20-50 ms, and a ticketless
    tray must not make its camera fall behind (see ``PipelineParams.ticket_stride``)."""

    def __init__(self, params: PipelineParams):
        self.params = params
        self.reader = TicketReader()

    def due(self, tray: CheckedTray, tracker: TrayTracker, frame_no: int) -> bool:
        """The tray is still, without a ticket yet, with tries left, and this is a stride frame."""
        return (tray.ticket is None and tray.ticket_tries < self.params.ticket_tries
                and tracker.state in (State.ARRIVING, State.RESTING) and tracker.still_frames > 0
                and frame_no % self.params.ticket_stride == 0)

    def read(self, tray: CheckedTray, img: np.ndarray, zone_box: tuple[int, int, int, int]) -> None:
        """One try; every other one (and the last) with the slower rescue pass."""
        tray.ticket_tries += 1
        last = tray.ticket_tries == self.params.ticket_tries
        tray.ticket = self.reader.read(img, zone_box, rescue=tray.ticket_tries % 2 == 0 or last)
