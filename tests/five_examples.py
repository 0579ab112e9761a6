"""How many planted layer faults a quick ``check_layer(..., max_examples=5)`` catches.

A census, not a test (it takes about two minutes): every layer class that the
``test_faults_*.py`` modules plant -- a subclass of a kind's torch class, or
of ``test_faults_dropout``'s ``_Dropout`` -- goes through
``conformance.check_layer(kind, cls, max_examples=5, dtypes=["float32"])``
on the CPU, and the script prints whether some check failed. Classes that
the fault modules keep as *correct* re-implementations (``Unfolded*``,
``ChecksIndicesFirst``) should pass; classes that break only on a second
device (``BrokenOffReference``) pass on one CPU by design; a class that
breaks the constructor contract is refused before any check runs.
``tests/test_canonical_examples.py`` holds the ten-fault version as a test.

    python tests/five_examples.py            # from the repository root
"""

from __future__ import annotations

import importlib
import inspect
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = (
    "test_faults_linear",
    "test_faults_registry",
    "test_faults_arguments",
    "test_faults_dropout",
    "test_faults_conv",
    "test_faults_batch_norm",
    "test_faults_norms_embeddings",
    "test_faults_historical",
)


def main() -> int:
    sys.path.insert(0, str(HERE))
    warnings.filterwarnings("ignore")
    from device_faults import BrokenOffReference
    from torch import nn

    import conformance
    from conformance.api import ConformanceError

    kinds = [
        (nn.Linear, "linear"),
        (nn.Conv1d, "conv1d"),
        (nn.Conv2d, "conv2d"),
        (nn.BatchNorm1d, "batch_norm1d"),
        (nn.BatchNorm2d, "batch_norm2d"),
        (nn.LayerNorm, "layer_norm"),
        (nn.Embedding, "embedding"),
    ]
    counts = {"caught": 0, "passed": 0, "refused": 0}
    for name in MODULES:
        module = importlib.import_module(name)
        bases = [(getattr(module, "_Dropout", nn.Dropout), "dropout"), *kinds]
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name:
                continue
            kind = next((k for base, k in bases if issubclass(cls, base) and cls is not base), None)
            if kind is None:
                continue
            device_only = (
                " (breaks on a second device only)" if issubclass(cls, BrokenOffReference) else ""
            )
            try:
                conformance.check_layer(kind, cls, max_examples=5, dtypes=["float32"])
            except ConformanceError as e:
                outcome, note = "caught", f"{len(e.failures)} checks failed"
            except ValueError as e:  # the contract check refuses it before any check runs
                outcome, note = "refused", str(e).split(":")[0]
            else:
                outcome, note = "passed", "no check failed" + device_only
            counts[outcome] += 1
            print(f"{outcome:8} {name}.{cls_name} [{kind}]: {note}", flush=True)
    print(", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
