"""Smoke test of the noisy-views benchmark harness (benchmarks/noisy_views.py)."""

import csv

import pytest

from conftest import load_benchmark

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def noisy_views():
    yield from load_benchmark("noisy_views")


def test_small_grid_on_wine_writes_csv_table_and_plot(noisy_views, tmp_path):
    argv = [
        "grid",
        "--modalities",
        "tabular",
        "--tabular",
        "wine",
        "--seeds",
        "0",
        "--etas",
        "0",
        "0.8",
        "--qs",
        "1",
        "--lams",
        "0.01",
        "--epochs",
        "3",
        "--name",
        "nv_test",
        "--out-dir",
        str(tmp_path),
    ]
    noisy_views.main(argv)
    with (tmp_path / "nv_test.csv").open() as f:
        rows = list(csv.DictReader(f))
    # probes on the raw columns and on the untrained encoder, then
    # 2 etas x (InfoNCE + 1 setting) x 1 seed
    assert len(rows) == 6
    raw, untrained = rows.pop(0), rows.pop(0)
    assert raw["loss"] == "raw" and float(raw["test_acc"]) > 0.8  # wine is easy
    assert untrained["loss"] == "untrained"
    assert {(r["loss"], float(r["eta"])) for r in rows} == {
        ("infonce", 0.0),
        ("infonce", 0.8),
        ("rince", 0.0),
        ("rince", 0.8),
    }
    for row in rows:
        assert 0.0 <= float(row["val_acc"]) <= 1.0
        assert 0.0 <= float(row["test_acc"]) <= 1.0
    # wine has 3 balanced-ish classes: any trained embedding beats chance
    assert max(float(r["test_acc"]) for r in rows) > 0.5
    md = (tmp_path / "nv_test.md").read_text()
    assert "python benchmarks/noisy_views.py grid" in md
    assert "| tabular | wine | 3 | InfoNCE |" in md
    assert "best RINCE" in md
    assert "linear probe on the raw input" in md
    assert (tmp_path / "nv_test.png").stat().st_size > 1000

    # resuming skips every row that is already there
    noisy_views.main([*argv, "--resume"])
    with (tmp_path / "nv_test.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 6


def test_best_rince_is_chosen_on_validation_not_test(noisy_views):
    base = {"modality": "tabular", "dataset": "d", "epochs": 1, "crop_scale": ""}
    base |= {"temperature": 0.5, "eta": 0.8, "seed": 0, "fit_seconds": 1.0}
    rows = [
        {
            **base,
            "loss": "infonce",
            "q": "",
            "lam": "",
            "val_acc": 0.5,
            "test_acc": 0.5,
        },
        # the better setting on validation is the worse one on test
        {
            **base,
            "loss": "rince",
            "q": 1.0,
            "lam": 0.01,
            "val_acc": 0.9,
            "test_acc": 0.6,
        },
        {
            **base,
            "loss": "rince",
            "q": 0.5,
            "lam": 0.01,
            "val_acc": 0.7,
            "test_acc": 0.8,
        },
    ]
    df = noisy_views._frame(rows)
    assert noisy_views.best_rince(df) == "RINCE q=1.0 lam=0.01"
    table = "\n".join(noisy_views.grid_tables(df))
    # the best-RINCE column reports the chosen setting's test accuracy, 60.0
    assert "| 0.8 | 50.0 | 80.0 | 60.0 | 60.0 | q=1.0 lam=0.01 |" in table


def test_table_cells_show_a_dash_where_a_setting_did_not_run(noisy_views):
    # a setting run at one eta only leaves the other etas' cells empty
    assert noisy_views._pm([]) == "-"
    assert noisy_views._pm([0.8]) == "80.0"
    assert noisy_views._pm([0.8, 0.9]) == "85.0 ± 7.1"


def test_longest_only_drops_learning_curve_rows(noisy_views):
    rows = [
        {"modality": "image", "dataset": "f", "epochs": "20", "loss": "infonce"},
        {"modality": "image", "dataset": "f", "epochs": "80", "loss": "infonce"},
        {"modality": "image", "dataset": "f", "epochs": "0", "loss": "raw"},
        {"modality": "tabular", "dataset": "d", "epochs": "200", "loss": "infonce"},
    ]
    kept = noisy_views._longest_runs(rows)
    assert [(r["dataset"], r["epochs"]) for r in kept] == [
        ("f", "80"),
        ("f", "0"),
        ("d", "200"),
    ]


def test_report_refuses_to_overwrite_one_of_its_inputs(noisy_views, tmp_path):
    source = tmp_path / "merged.csv"
    source.write_text(",".join(noisy_views.FIELDS) + "\n")
    before = source.read_text()
    argv = ["report", "--inputs", str(source), "--name", "merged"]
    with pytest.raises(ValueError, match="would overwrite the input"):
        noisy_views.main([*argv, "--out-dir", str(tmp_path)])
    assert source.read_text() == before
