"""`gongshi bench crypto`: what each suite's primitives cost on this machine.

The measuring functions return plain figures (`SuiteFigures`, `CryptoBenchResult`) so other
benchmarks can reuse them; e.g. the chain benchmark's verification ceiling is
`measure_verify_rate(suite, seconds, threads=cores)`. Wall-clock reads are fine here: this is
a measuring tool at the edge, not deterministic code.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from gongshi.bench.options import json_option, suite_option, write_json
from gongshi.crypto import SUITE_NAMES, Suite, get_suite

SIGNED_MESSAGE_SIZE = 256  # about one transaction body
BULK_HASH_SIZE = 1 << 20
SMALL_HASH_SIZE = 64  # two 32-byte children: one Merkle node
AEAD_MESSAGE_SIZE = 16 << 10
MAX_BATCH = 4096
THREAD_BATCH = 16

# what each suite runs on, for the report
_LIBRARIES: dict[str, tuple[str, ...]] = {
    "gm": ("tongsuopy", "cryptography"),
    "intl": ("PyNaCl", "cryptography"),
}
_PRIMITIVES: dict[str, str] = {
    "gm": "SM2 sign/verify (Tongsuo), SM3 (hashlib), SM4-GCM (Tongsuo)",
    "intl": "Ed25519 (libsodium), SHA-256 (hashlib), AES-256-GCM (OpenSSL)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteFigures:
    """One suite's measured rates; single-threaded unless the name says otherwise."""

    suite: str
    primitives: str
    libraries: dict[str, str]
    sign_per_s: float
    verify_per_s: float
    verify_2_threads_per_s: float
    hash_mb_per_s: float
    small_hash_per_s: float
    aead_encrypt_mb_per_s: float

    @property
    def thread_speedup(self) -> float:
        """2-thread over 1-thread verify rate: about 2 if the library releases the GIL."""
        return self.verify_2_threads_per_s / self.verify_per_s if self.verify_per_s else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CryptoBenchResult:
    seconds_per_measurement: float
    cpu_count: int
    suites: tuple[SuiteFigures, ...]

    def to_json_dict(self) -> dict[str, object]:
        return {
            "seconds_per_measurement": self.seconds_per_measurement,
            "cpu_count": self.cpu_count,
            "suites": [
                {**dataclasses.asdict(figures), "thread_speedup": figures.thread_speedup}
                for figures in self.suites
            ],
        }


def measure_rate(operation: Callable[[], object], seconds: float) -> float:
    """Calls per second of `operation` on this thread, over at least `seconds`."""
    operation()  # warm-up: first-call costs (imports, tables) are not the steady state
    count, batch = 0, 1
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            operation()
        count += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed
        if elapsed < seconds / 20 and batch < MAX_BATCH:
            batch *= 2  # fewer clock reads once calls are known to be quick


def measure_threaded_rate(operation: Callable[[], object], seconds: float, threads: int) -> float:
    """Total calls per second of `operation` run concurrently on `threads` threads."""
    operation()
    barrier = threading.Barrier(threads)
    counts = [0] * threads
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * threads

    def worker(index: int) -> None:
        barrier.wait()
        start = time.perf_counter()
        deadline = start + seconds
        count = 0
        while True:
            for _ in range(THREAD_BATCH):
                operation()
            count += THREAD_BATCH
            now = time.perf_counter()
            if now >= deadline:
                break
        counts[index] = count
        spans[index] = (start, now)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return sum(counts) / elapsed


def measure_verify_rate(suite: Suite, seconds: float, threads: int = 1) -> float:
    """Signature verifications per second of `suite` on `threads` threads."""
    key = suite.generate_private_key()
    message = os.urandom(SIGNED_MESSAGE_SIZE)
    public_key, signature = key.public_key_bytes(), key.sign(message)

    def verify() -> None:
        if not suite.verify(public_key, message, signature):
            raise AssertionError(f"{suite.name} rejected its own signature")

    if threads == 1:
        return measure_rate(verify, seconds)
    return measure_threaded_rate(verify, seconds, threads)


def _library_versions(suite_name: str) -> dict[str, str]:
    versions = {}
    for distribution in _LIBRARIES[suite_name]:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = "unknown"
    return versions


def measure_suite(suite: Suite, seconds: float) -> SuiteFigures:
    key = suite.generate_private_key()
    message = os.urandom(SIGNED_MESSAGE_SIZE)
    bulk, small = os.urandom(BULK_HASH_SIZE), os.urandom(SMALL_HASH_SIZE)
    aead_key, nonce = os.urandom(suite.aead_key_size), os.urandom(suite.aead_nonce_size)
    aead_message = os.urandom(AEAD_MESSAGE_SIZE)
    return SuiteFigures(
        suite=suite.name,
        primitives=_PRIMITIVES.get(suite.name, suite.name),
        libraries=_library_versions(suite.name),
        sign_per_s=measure_rate(lambda: key.sign(message), seconds),
        verify_per_s=measure_verify_rate(suite, seconds),
        verify_2_threads_per_s=measure_verify_rate(suite, seconds, threads=2),
        hash_mb_per_s=measure_rate(lambda: suite.hash(bulk), seconds) * BULK_HASH_SIZE / 1e6,
        small_hash_per_s=measure_rate(lambda: suite.hash(small), seconds),
        aead_encrypt_mb_per_s=measure_rate(
            lambda: suite.aead_encrypt(aead_key, nonce, aead_message), seconds
        )
        * AEAD_MESSAGE_SIZE
        / 1e6,
    )


def run_crypto_bench(suite_names: tuple[str, ...], seconds: float) -> CryptoBenchResult:
    return CryptoBenchResult(
        seconds_per_measurement=seconds,
        cpu_count=os.cpu_count() or 1,
        suites=tuple(measure_suite(get_suite(name), seconds) for name in suite_names),
    )


def render(result: CryptoBenchResult) -> str:
    lines = [
        f"crypto benchmark: {result.seconds_per_measurement:g} s per figure, "
        f"{result.cpu_count} CPUs seen; one thread unless noted",
    ]
    for figures in result.suites:
        libraries = ", ".join(f"{name} {version}" for name, version in figures.libraries.items())
        gil = "releases the GIL" if figures.thread_speedup >= 1.5 else "does not scale"
        lines += [
            "",
            f"suite {figures.suite}: {figures.primitives}",
            f"  libraries             {libraries}",
            f"  sign                  {figures.sign_per_s:12,.0f} /s",
            f"  verify                {figures.verify_per_s:12,.0f} /s",
            f"  verify, 2 threads     {figures.verify_2_threads_per_s:12,.0f} /s"
            f"  ({figures.thread_speedup:.2f}x: {gil})",
            f"  hash, 1 MiB inputs    {figures.hash_mb_per_s:12,.1f} MB/s",
            f"  hash, 64-byte inputs  {figures.small_hash_per_s:12,.0f} /s",
            f"  AEAD encrypt, 16 KiB  {figures.aead_encrypt_mb_per_s:12,.1f} MB/s",
        ]
    return "\n".join(lines)


@click.command("crypto")
@suite_option(default="all", allow_all=True)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.001, max=600),
    default=1.0,
    show_default=True,
    help="Duration of each measurement.",
)
@json_option
def crypto_command(suite_choice: str, seconds: float, json_path: Path | None) -> None:
    """Sign, verify (1 and 2 threads), hash and AEAD speed of each crypto suite."""
    names = SUITE_NAMES if suite_choice == "all" else (suite_choice,)
    result = run_crypto_bench(names, seconds)
    click.echo(render(result))
    write_json(json_path, result.to_json_dict())
