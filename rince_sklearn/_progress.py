"""Progress of a whole fit: one bar over all epochs, the loss, an ETA.

:class:`FitProgress` is the skorch callback behind ``verbose=1``. It replaces
skorch's per-epoch ``ProgressBar`` and ``PrintLog`` table, which restart at
every epoch, show no time left for the fit, and write carriage returns that
turn a captured log into unreadable lines.

On a terminal, one line is redrawn in place (at most ten times a second) with
the fraction of the fit done, the running mean loss of the current epoch, the
time elapsed and the time left; every finished epoch leaves one line behind.
The time left is the median duration of the last few epochs times the epochs
left (the current epoch counted by its batches), so it follows a change of
load on the machine within a few epochs instead of averaging over the whole
fit.
When the output is not a terminal (a log file, a notebook, a CI job) only the
per-epoch lines are written, as plain lines without carriage returns.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import deque
from typing import Any, TextIO

from skorch.callbacks import Callback

__all__ = ["FitProgress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """Format a duration as ``12.3s``, ``4m05s`` or ``2h03m``.

    Examples
    --------
    >>> format_seconds(12.34), format_seconds(245), format_seconds(7380)
    ('12.3s', '4m05s', '2h03m')
    """
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class FitProgress(Callback):
    """Report the progress of a fit over all its epochs.

    Parameters
    ----------
    epochs : int, default=None
        Epochs in this run of training; None reads ``net.max_epochs``
        (``partial_fit`` sets 1: one pass per call).
    stream : file-like, default=None
        Where to write; None writes to ``sys.stdout`` as it is when training
        starts.
    width : int, default=20
        Characters of the bar.
    recent : int, default=5
        Finished epochs whose median duration gives the time left.

    Examples
    --------
    >>> import io
    >>> from rince_sklearn._progress import FitProgress
    >>> FitProgress(stream=io.StringIO()).initialize().epochs is None
    True
    """

    def __init__(
        self,
        epochs: int | None = None,
        stream: TextIO | None = None,
        width: int = 20,
        recent: int = 5,
    ) -> None:
        self.epochs = epochs
        self.stream = stream
        self.width = width
        self.recent = recent

    # -- state, reset at the start of every training run --------------------------
    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Start the clock; read the number of epochs and the output's kind."""
        self.stream_ = self.stream if self.stream is not None else sys.stdout
        isatty = getattr(self.stream_, "isatty", None)
        self.interactive_ = bool(isatty()) if callable(isatty) else False
        self.total_epochs_ = int(self.epochs or net.max_epochs)
        self.first_epoch_ = len(net.history)  # epochs trained before this run
        self.epochs_done_ = 0
        self.batches_per_epoch_: int | None = None
        self.start_ = time.perf_counter()
        self.last_draw_ = 0.0
        self.epoch_start_ = self.start_
        self.recent_epochs_: deque[float] = deque(maxlen=self.recent)

    def on_epoch_begin(self, net: Any, dataset_train: Any = None, **kwargs: Any):
        """Reset the epoch's running loss; count its batches once known."""
        self.batch_count_ = 0
        self.loss_sum_ = 0.0
        self.epoch_start_ = time.perf_counter()
        if dataset_train is not None and self.batches_per_epoch_ is None:
            self.batches_per_epoch_ = net.batches_per_epoch(dataset_train)

    def on_batch_end(
        self, net: Any, batch: Any = None, training: bool = False, **kwargs: Any
    ):
        """Add the batch's loss to the epoch's mean; redraw the bar on a tty."""
        if not training or kwargs.get("loss") is None:
            return
        self.batch_count_ += 1
        self.loss_sum_ += net.history[-1, "batches", -1, "train_loss"]
        if not self.interactive_:
            return
        now = time.perf_counter()
        if now - self.last_draw_ < 0.1:
            return
        self.last_draw_ = now
        done = self._fraction_done()
        bar = "#" * int(done * self.width)
        self.stream_.write(
            f"\r[{bar:<{self.width}}] {100 * done:3.0f}%  "
            f"epoch {self._epoch_label(self.epochs_done_ + 1)}  "
            f"loss {self.loss_sum_ / self.batch_count_:.4f}  "
            f"{self._times(done)}"
        )
        self.stream_.flush()

    def on_epoch_end(self, net: Any, **kwargs: Any):
        """Write one line for the finished epoch: its loss, time and the ETA."""
        self.epochs_done_ += 1
        self.recent_epochs_.append(time.perf_counter() - self.epoch_start_)
        done = self.epochs_done_ / self.total_epochs_
        record = net.history[-1]
        loss = record.get("train_loss", float("nan"))
        valid = record.get("valid_score")
        held_out = f"valid_score {valid:.4f}  " if valid is not None else ""
        line = (
            f"epoch {self._epoch_label(self.epochs_done_)}  train_loss {loss:.4f}  "
            f"{held_out}{record.get('dur', 0.0):.1f}s/epoch  {self._times(done)}"
        )
        if self.interactive_:
            line = "\r" + line + " " * 8  # over the bar's longer line
        self.stream_.write(line + "\n")
        self.stream_.flush()

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Let go of the output stream (a fitted net must stay picklable)."""
        self.stream_ = None

    def __getstate__(self) -> dict[str, Any]:
        # streams such as sys.stdout cannot be pickled; one is set again at the
        # start of every training run
        state = self.__dict__.copy()
        state.pop("stream_", None)
        return state

    # -- helpers -----------------------------------------------------------------
    def _epoch_label(self, epoch: int) -> str:
        """``epoch/total``, counting the epochs of earlier runs (``partial_fit``)."""
        return f"{self.first_epoch_ + epoch}/{self.first_epoch_ + self.total_epochs_}"

    def _fraction_done(self) -> float:
        batches = self.batches_per_epoch_ or 1
        within = min(self.batch_count_ / batches, 1.0)
        return min((self.epochs_done_ + within) / self.total_epochs_, 1.0)

    def _times(self, done: float) -> str:
        now = time.perf_counter()
        elapsed = now - self.start_
        if self.recent_epochs_:
            # the recent pace: a fit that slows down (or speeds up) when the
            # machine's load changes gets an ETA of the new pace
            epochs_left = max(self.total_epochs_ * (1 - done), 0.0)
            left = statistics.median(self.recent_epochs_) * epochs_left
        elif done > 0:
            left = elapsed * (1 - done) / done  # within the first epoch
        else:
            return f"elapsed {format_seconds(elapsed)}  ETA ?"
        return f"elapsed {format_seconds(elapsed)}  ETA {format_seconds(left)}"
