"""verbose=1: progress over the whole fit, plain lines when not on a terminal."""

import copy
import io
import pickle
import re

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn._progress import FitProgress, format_seconds

PARAMS = dict(
    embedding_dim=8,
    projection_dim=8,
    encoder_kwargs={"hidden_dims": (32,)},
    batch_size=32,
    max_epochs=4,
    random_state=0,
)

EPOCH_LINE = re.compile(
    r"^epoch (\d+)/(\d+)  train_loss (-?\d+\.\d{4})  \d+\.\ds/epoch  "
    r"elapsed \S+  ETA (\S+)$"
)


@pytest.fixture(scope="module")
def X():
    data, _ = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(data).astype(np.float32)


def test_captured_output_is_plain_lines_with_epochs_loss_and_eta(X, capsys):
    est = RobustContrastiveEmbedder(verbose=1, **PARAMS).fit(X)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert len(lines) == PARAMS["max_epochs"]  # one line per epoch, no table
    for epoch, line in enumerate(lines, start=1):
        match = EPOCH_LINE.match(line)
        assert match, line
        assert (int(match[1]), int(match[2])) == (epoch, PARAMS["max_epochs"])
        # the epoch's mean loss, as the history records it
        assert float(match[3]) == pytest.approx(
            est.history_[epoch - 1, "train_loss"], abs=1e-4
        )
    assert EPOCH_LINE.match(lines[-1])[4] == "0.0s"  # nothing left at the end


def test_captured_file_descriptor_has_no_carriage_returns(X, capfd):
    RobustContrastiveEmbedder(verbose=1, **PARAMS).fit(X)
    out, err = capfd.readouterr()
    assert "\r" not in out + err
    assert out.count("ETA") == PARAMS["max_epochs"]


def test_partial_fit_counts_passes(X, capsys):
    est = RobustContrastiveEmbedder(verbose=1, **PARAMS)
    est.partial_fit(X)
    est.partial_fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/1", "2/2"]


def test_a_verbose_fit_pickles_and_copies(X, capsys):
    # the callback's stream (sys.stdout) must not travel with the fitted net:
    # joblib workers send fitted estimators back by pickling them
    est = RobustContrastiveEmbedder(verbose=1, **PARAMS).fit(X)
    for copied in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        np.testing.assert_array_equal(copied.transform(X), est.transform(X))
    capsys.readouterr()
    copied.partial_fit(X)  # and it reports again, on this process's stdout
    assert capsys.readouterr().out.startswith("epoch 5/5  train_loss")


def test_silent_by_default(X, capsys):
    RobustContrastiveEmbedder(**PARAMS).fit(X)
    assert capsys.readouterr().out == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True

    def __deepcopy__(self, memo):  # the estimator copies its callbacks
        return self


def test_a_terminal_gets_one_bar_over_all_epochs(X, monkeypatch):
    stream = FakeTerminal()
    clock = iter(np.arange(0.0, 1e4, 0.25))  # every redraw is due
    monkeypatch.setattr(
        "rince_sklearn._progress.time.perf_counter", lambda: float(next(clock))
    )
    est = RobustContrastiveEmbedder(
        callbacks=[("bar", FitProgress(stream=stream))], **PARAMS
    ).fit(X)
    text = stream.getvalue()
    bars = re.findall(r"\r\[([# ]{20})\] +(\d+)%  epoch (\d+)/4  loss (\S+)", text)
    n_batches = len(X) // PARAMS["batch_size"]  # 5 full batches per epoch
    assert len(bars) == PARAMS["max_epochs"] * n_batches
    percents = [int(p) for _, p, _, _ in bars]
    assert percents == sorted(percents) and percents[-1] == 100  # one bar
    assert [int(e) for _, _, e, _ in bars[:n_batches]] == [1] * n_batches
    # the bar's loss is the running mean of the epoch's batch losses
    batch_losses = est.history_[0, "batches", :, "train_loss"]
    assert float(bars[n_batches - 1][3]) == pytest.approx(
        np.mean(batch_losses), abs=1e-4
    )
    assert text.count("\n") == PARAMS["max_epochs"]  # one line left per epoch


def test_format_seconds():
    assert format_seconds(0.04) == "0.0s"
    assert format_seconds(59.9) == "59.9s"
    assert format_seconds(60) == "1m00s"
    assert format_seconds(3599) == "59m59s"
    assert format_seconds(3600 * 25 + 60) == "25h01m"


def test_the_eta_follows_the_recent_pace(monkeypatch):
    """Epochs that slow down (the machine got busy) give the ETA of the new pace.

    Four epochs of 1 s, then epochs of 10 s: after three slow epochs the ETA
    is 10 s per epoch left, where the mean over the whole fit would say 5.
    """
    now = {"t": 0.0}
    monkeypatch.setattr("rince_sklearn._progress.time.perf_counter", lambda: now["t"])

    class Net:  # what FitProgress reads of a skorch net
        max_epochs = 12
        history: list = []

    net, stream = Net(), io.StringIO()
    progress = FitProgress(stream=stream, recent=3)
    progress.on_train_begin(net)
    for epoch in range(12):
        progress.on_epoch_begin(net)
        now["t"] += 1.0 if epoch < 4 else 10.0
        net.history = [{"train_loss": 1.0, "dur": 1.0}] * (epoch + 1)
        progress.on_epoch_end(net)
    etas = re.findall(r"ETA (\S+)", stream.getvalue())
    assert etas[4] == "7.0s"  # epoch 5: median of 1, 1, 10 s times 7 left
    assert etas[6] == "50.0s"  # epoch 7: three slow epochs, 10 s times 5 left
    assert etas[7] == "40.0s"  # epoch 8: 10 s times 4 epochs left
    assert etas[-1] == "0.0s"


def test_validation_fraction_records_and_prints_a_held_out_score(X, capsys):
    """As skorch prints valid_loss: the label-free score of held-out rows."""
    params = {**PARAMS, "max_epochs": 4}
    est = RobustContrastiveEmbedder(
        validation_fraction=0.25, validation_every=2, verbose=1, **params
    ).fit(X)
    scores = [row.get("valid_score") for row in est.history_]
    assert [s is not None for s in scores] == [False, True, False, True]
    assert all(0.0 <= s <= 1.0 for s in scores if s is not None)
    out = capsys.readouterr().out
    assert out.count("valid_score") == 2
    # the held-out rows are not trained on, and the model keeps no data
    assert dict(est.net_.callbacks_)["validation"].source is None
    n_valid = round(0.25 * len(X))
    assert est.history_[0, "batches", 0, "train_batch_size"] <= len(X) - n_valid


def test_validation_fraction_that_leaves_too_few_rows_is_refused():
    X = np.random.default_rng(0).normal(size=(3, 4))
    with pytest.raises(ValueError, match="validation_fraction"):
        RobustContrastiveEmbedder(validation_fraction=0.5, max_epochs=1).fit(X)
