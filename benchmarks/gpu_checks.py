"""GPU checks: device auto-pick, CUDA training in fp32 and bf16, GPU -> CPU loading.

Run where CUDA exists (a few minutes at most on one GPU):

    python benchmarks/gpu_checks.py [--out benchmarks/results/parallel_gpu.md]

Without CUDA it prints "skipped: no CUDA" and exits 0; the CPU side of the same
features is covered by tests/test_parallel.py. With CUDA it checks

1. ``device="auto"`` picks CUDA, and the module, its buffers and the
   augmentation generator all live there;
2. training on CUDA in float32 and with ``precision="bf16-mixed"`` gives finite
   losses and embeddings, the bf16 projections are bfloat16, the weights stay
   float32, and the two runs reach similar losses;
3. a model trained on the GPU, saved with ``save`` and pickled with joblib,
   loads in a process that sees no GPU (``CUDA_VISIBLE_DEVICES=""``) and gives
   the GPU's embeddings there;
4. the speed of bf16-mixed against fp32 training (median of repeats, after a
   warm-up), on a model large enough for the GPU to matter.

It writes the figures to ``--out`` and exits 1 if any check fails.
``--dry-run-on-cpu`` runs the same steps on the CPU with a small model (to
test this script without a GPU; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

from rince_sklearn import RobustContrastiveEmbedder

SMALL = dict(
    embedding_dim=32,
    projection_dim=32,
    encoder_kwargs={"hidden_dims": (256, 256)},
    batch_size=256,
    max_epochs=3,
    random_state=0,
)
LARGE = dict(
    embedding_dim=256,
    projection_dim=256,
    encoder_kwargs={"hidden_dims": (4096, 4096, 4096)},
    batch_size=4096,
    max_epochs=2,
    random_state=0,
)

CPU_LOADER = """
import json, sys, joblib, numpy as np, torch
from rince_sklearn import RobustContrastiveEmbedder
folder = sys.argv[1]
X = np.load(folder + "/X.npy")
expected = np.load(folder + "/Z_gpu.npy")
out = {"cuda_visible": torch.cuda.is_available()}
loaded = RobustContrastiveEmbedder.load(folder + "/model.pt")
out["save_load_device"] = str(loaded.device_)
out["save_load_max_abs_diff"] = float(np.abs(loaded.transform(X) - expected).max())
try:
    pickled = joblib.load(folder + "/model.joblib")
    out["pickle_max_abs_diff"] = float(
        np.abs(pickled.transform(X) - expected).max())
except Exception as exc:  # report, do not hide
    out["pickle_error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


class RecordDtype(Callback):
    """Record the dtype of the projections that reach the loss."""

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        net.history.record_batch("projection_dtype", str(kwargs["y_pred"].dtype))


def data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Gaussian clusters: enough structure for the loss to fall."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, d))
    return (centres[rng.integers(0, 10, n)] + 0.5 * rng.normal(size=(n, d))).astype(
        np.float32
    )


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed_fit(params: dict, X: np.ndarray, precision: str) -> float:
    est = RobustContrastiveEmbedder(precision=precision, **params)
    synchronize()
    start = time.perf_counter()
    est.fit(X)
    synchronize()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "parallel_gpu.md")
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dry-run-on-cpu", action="store_true")
    args = parser.parse_args()
    large, n_large, expected = LARGE, 65536, "cuda"
    if args.dry_run_on_cpu:
        large = {**SMALL, "max_epochs": 1}
        n_large, expected, args.repeats = 2048, "cpu", 1
        args.out = os.devnull
    elif not torch.cuda.is_available():
        print("skipped: no CUDA (torch.cuda.is_available() is False)")
        return 0
    name = torch.cuda.get_device_name(0) if expected == "cuda" else "none (dry run)"
    results: dict[str, object] = {"gpu": name}
    failures: list[str] = []

    def check(name: str, ok: bool, detail: object = "") -> None:
        results[name] = {"ok": bool(ok), "detail": detail}
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)
        if not ok:
            failures.append(name)

    # 1. auto-pick and placement
    X = data(4096, 64)
    fp32 = RobustContrastiveEmbedder(callbacks=[RecordDtype()], **SMALL).fit(X)
    module = fp32.net_.module_
    places = {t.device.type for t in [*module.parameters(), *module.buffers()]}
    check(
        f"device auto picks {expected}, everything on it",
        fp32.device_.type == expected
        and places == {expected}
        and fp32.net_.augment_rng_.device.type == expected,
        f"device_={fp32.device_}, tensors on {sorted(places)}",
    )

    # 2. fp32 and bf16-mixed training on CUDA
    bf16 = RobustContrastiveEmbedder(
        precision="bf16-mixed", callbacks=[RecordDtype()], **SMALL
    ).fit(X)
    loss32 = [float(v) for v in fp32.history_[:, "train_loss"]]
    loss16 = [float(v) for v in bf16.history_[:, "train_loss"]]
    dtypes16 = set(bf16.history_[-1, "batches", :, "projection_dtype"])
    dtypes32 = set(fp32.history_[-1, "batches", :, "projection_dtype"])
    Z16 = bf16.transform(X)
    check(
        "bf16-mixed autocasts the forward passes, weights stay float32",
        dtypes16 == {"torch.bfloat16"}
        and dtypes32 == {"torch.float32"}
        and {p.dtype for p in bf16.net_.module_.parameters()} == {torch.float32},
        f"projections {sorted(dtypes16)} (fp32 run: {sorted(dtypes32)})",
    )
    check(
        "fp32 and bf16 training finite and close",
        all(np.isfinite(loss32 + loss16))
        and np.isfinite(Z16).all()
        and abs(loss16[-1] - loss32[-1]) < 0.1,
        f"final loss fp32 {loss32[-1]:.4f}, bf16 {loss16[-1]:.4f}",
    )

    # 3. trained on GPU, loaded where no GPU is visible (a model without the
    # callback above, which lives in __main__ and would not unpickle elsewhere)
    plain = RobustContrastiveEmbedder(**SMALL).fit(X)
    with tempfile.TemporaryDirectory() as folder:
        import joblib

        Z_gpu = plain.transform(X[:512])
        np.save(f"{folder}/X.npy", X[:512])
        np.save(f"{folder}/Z_gpu.npy", Z_gpu)
        plain.save(f"{folder}/model.pt")
        joblib.dump(plain, f"{folder}/model.joblib")
        proc = subprocess.run(
            [sys.executable, "-c", CPU_LOADER, folder],
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
            capture_output=True,
            text=True,
            timeout=300,
        )
    if proc.returncode != 0:
        check("GPU model loads on CPU", False, proc.stderr[-2000:])
    else:
        cpu = json.loads(proc.stdout.strip().splitlines()[-1])
        check(
            "save() on GPU, load() in a CPU-only process",
            not cpu["cuda_visible"]
            and cpu["save_load_device"] == "cpu"
            and cpu["save_load_max_abs_diff"] < 1e-3,
            cpu,
        )
        check(
            "joblib pickle on GPU, unpickle in a CPU-only process",
            cpu.get("pickle_max_abs_diff", 1.0) < 1e-3,
            cpu,
        )

    # 4. speed: bf16-mixed against fp32 on a larger model
    X_large = data(n_large, 512, seed=1)
    timed_fit({**large, "max_epochs": 1}, X_large[:8192], "32")  # warm-up
    timed_fit({**large, "max_epochs": 1}, X_large[:8192], "bf16-mixed")
    times: dict[str, list[float]] = {"32": [], "bf16-mixed": []}
    for _ in range(args.repeats):
        for precision in times:
            times[precision].append(timed_fit(large, X_large, precision))
    t32, t16 = (statistics.median(times[p]) for p in ("32", "bf16-mixed"))
    samples = large["max_epochs"] * len(X_large)
    results["speed"] = {
        "fp32_s": times["32"],
        "bf16_s": times["bf16-mixed"],
        "fp32_samples_per_s": samples / t32,
        "bf16_samples_per_s": samples / t16,
        "bf16_speedup": t32 / t16,
    }
    print(f"bf16-mixed speedup over fp32: {t32 / t16:.2f}x", flush=True)

    lines = [
        "# GPU checks",
        "",
        "Command: `python benchmarks/gpu_checks.py`",
        "",
        f"GPU: {results['gpu']}, torch {torch.__version__}.",
        "",
        "| check | result | detail |",
        "| --- | --- | --- |",
    ]
    for name, value in results.items():
        if isinstance(value, dict) and "ok" in value:
            lines.append(
                f"| {name} | {'ok' if value['ok'] else 'FAIL'} | {value['detail']} |"
            )
    lines += [
        "",
        f"Speed, MLP {large['encoder_kwargs']['hidden_dims']}, batch "
        f"{large['batch_size']}, {len(X_large)} x 512 inputs, "
        f"{large['max_epochs']} epochs, median of {args.repeats}: fp32 "
        f"{samples / t32:.0f} samples/s, bf16-mixed {samples / t16:.0f} "
        f"samples/s, **bf16 / fp32 speedup {t32 / t16:.2f}x**.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    if failures:
        print(f"FAILED: {failures}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
