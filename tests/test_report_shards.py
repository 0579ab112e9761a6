"""``--conformance-shard K/N``: shards are disjoint, complete and stable.

The shard of a test is a SHA-256 of its normalized id, so it is the same in
every process and on every machine (unlike ``hash()``), whether the suites
are run from a checkout or with ``--pyargs``, with or without pytest-xdist.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch  # noqa: F401  (imported once: in-process runs drop modules they import)

import conformance
from conformance.node_ids import case_of, normalized_id
from conformance.sharding import parse_shard, shard_of

ROOT = Path(conformance.__file__).resolve().parent.parent

MANY = """
import pytest

@pytest.mark.parametrize("i", range(60))
def test_many(i):
    pass

@pytest.mark.parametrize("j", range(25))
def test_more(device, j):
    pass
"""


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", *args)
    return [line for line in result.outlines if "::" in line]


def test_shards_of_a_suite_partition_it(pytester):
    pytester.makepyfile(test_many=MANY)
    full = collected(pytester, "--device", "cpu,meta")
    assert len(full) == 60 + 50
    shards = [collected(pytester, "--device", "cpu,meta", f"--conformance-shard={k}/4")
              for k in range(1, 5)]  # fmt: skip
    union = [test for shard in shards for test in shard]
    assert sorted(union) == sorted(full)  # nothing lost, nothing twice
    assert all(12 <= len(shard) <= 45 for shard in shards)  # roughly even


def test_shards_under_xdist_run_each_test_once(pytester):
    pytester.makepyfile(test_many=MANY)
    passed = []
    for k in (1, 2):
        result = pytester.runpytest(
            "-n", "2", "-p", "no:cacheprovider", "--device", "cpu", f"--conformance-shard={k}/2"
        )
        passed.append(result.parseoutcomes()["passed"])
    # Every worker deselects the same tests: each shard runs its own, once.
    assert sum(passed) == 85
    assert passed[0] == len(collected(pytester, "--device", "cpu", "--conformance-shard=1/2"))


def test_the_real_suites_split_into_shards_without_loss_or_overlap():
    def ids(*args: str) -> list[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "conformance", "--collect-only", "-q",
             "-p", "no:cacheprovider", "--device", "cpu,cuda,meta", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return [line for line in result.stdout.splitlines() if "::" in line]

    full = ids()
    shards = [ids(f"--conformance-shard={k}/3") for k in (1, 2, 3)]
    union = [test for shard in shards for test in shard]
    assert len(union) == len(set(union)) == len(full)
    assert set(union) == set(full)


def test_shard_depends_on_the_normalized_id_only():
    checkout = "conformance/test_linear.py::test_linear_matches_affine[cpu-float32]"
    installed = (
        "../.tox/conformance/lib/python3.11/site-packages/conformance/test_linear.py"
        "::test_linear_matches_affine[cpu-float32]"
    )
    assert normalized_id(checkout) == normalized_id(installed)
    assert all(shard_of(checkout, n) == shard_of(installed, n) for n in range(1, 20))
    # Fixed values (1 + first 8 bytes of the SHA-256, mod N): a change here would
    # move tests between the shards of CI runs whose databases are cached per shard.
    assert [shard_of(checkout, n) for n in (2, 3, 4, 7)] == [1, 1, 3, 3]


def test_shard_of_is_stable_across_processes():
    code = "from conformance.sharding import shard_of; print(shard_of('test_a::test_b[x]', 1000))"
    values = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert values == {str(shard_of("test_a::test_b[x]", 1000))}


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_a_usage_error(pytester, text):
    pytester.makepyfile(test_many=MANY)
    result = pytester.runpytest(f"--conformance-shard={text}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--conformance-shard=*expected K/N with 1 <= K <= N*"])


def test_parse_shard():
    assert parse_shard(" 2 / 5 ") == (2, 5)


def test_case_of_takes_the_device_out():
    assert case_of("test_x::test_y[cuda:1-float32-add]", "cuda:1") == "test_x::test_y[float32-add]"
    assert case_of("test_x::test_y", None) == "test_x::test_y"
