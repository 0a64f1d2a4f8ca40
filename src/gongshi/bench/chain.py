"""`gongshi bench chain`: a real local network under load, measured against the machine.

1. The **ceiling**: signature verifications per second with one process per core, × cores
   ÷ nodes (`gongshi.bench.ceiling`), measured before anything else runs.
2. A fresh network (`prepare_network`, with `--clients` client identities in genesis) in a
   temporary directory (or `--out/network`), one node process each, as `gongshi up` runs them.
3. The **load generator**, a separate process (`gongshi.bench.loadgen`): pre-signs, offers
   the rate over the nodes' APIs, records submit and receipt times; with `--max` it steps the
   rate (`gongshi.bench.chain_steps`).
4. Meanwhile this process samples each node's CPU time and resident memory (psutil) and
   draws a progress bar on stderr; then it writes the table, a JSON file and a PNG plot.

Every process it starts is stopped in a `finally` (SIGINT, bounded wait, SIGKILL), on Ctrl-C
and on errors alike. Wall-clock reads are fine here: this is a measuring tool at the edge.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
import httpx
import psutil

from gongshi.bench.ceiling import Ceiling, measure_ceiling
from gongshi.bench.chain_report import (
    StepSummary,
    UsageSample,
    plot,
    render_table,
    step_json,
    summarize_step,
)
from gongshi.bench.chain_steps import DEFAULT_GROWTH, StepOutcome
from gongshi.bench.errors import (
    BenchError,
    BenchOptionError,
    LoadGeneratorFailed,
    NetworkNotReady,
    NodeExited,
)
from gongshi.bench.loadgen import LoadPlan
from gongshi.bench.options import json_option, suite_option, write_json
from gongshi.errors import GongshiError
from gongshi.node.localnet import (
    LocalNetwork,
    child_environment,
    free_base_port,
    prepare_network,
)

logger = logging.getLogger(__name__)

SAMPLE_EVERY_S = 0.5
READY_TIMEOUT_S = 90.0
LOADGEN_STOP_S = 10.0
PORTS_PER_NODE = 10
DEFAULT_P99_BOUND_S = 2.0
START_FRACTION = 0.25  # --max starts at this fraction of the ceiling
RESULT_NAME = "bench-chain-{suite}"
MACHINE = "machine"  # the usage row of the whole machine (every process, ours or not)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBenchOptions:
    nodes: int
    suite: str
    duration_s: float
    rate: float | None  # None: --max
    clients: int
    p99_bound_s: float
    start_rate: float | None
    steps_max: int
    drain_s: float
    ceiling_seconds: float
    out: Path | None
    base_port: int | None

    @property
    def search(self) -> bool:
        return self.rate is None

    def check(self) -> None:
        if self.clients < self.nodes:
            raise BenchOptionError(f"--clients ({self.clients}) must be at least --nodes")
        if self.duration_s < 2:
            raise BenchOptionError("--duration must be at least 2 s (warm-up and tail drop)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBenchResult:
    options: ChainBenchOptions
    ceiling: Ceiling
    senders: int
    steps: tuple[StepSummary, ...]
    highest_sustained: float | None
    machine_load: tuple[float, float, float]  # load average when the run started

    def headline(self) -> StepSummary | None:
        """The step the run is reported by: the highest sustained one with --max, else the
        only one."""
        if not self.steps:
            return None
        if self.options.search and self.highest_sustained is not None:
            return next(s for s in self.steps if s.rate == self.highest_sustained)
        return self.steps[-1]

    def to_json_dict(self) -> dict[str, Any]:
        headline = self.headline()
        return {
            "benchmark": "chain",
            "suite": self.options.suite,
            "nodes": self.options.nodes,
            "senders": self.senders,
            "mode": "max" if self.options.search else "rate",
            "duration_s": self.options.duration_s,
            "p99_bound_s": self.options.p99_bound_s,
            "machine": {"cores": self.ceiling.cores, "load_average": list(self.machine_load)},
            "ceiling": self.ceiling.to_json_dict(),
            "result": None
            if headline is None
            else {
                "offered_tps": headline.rate,
                "committed_tps": round(headline.committed_tps, 2),
                "ratio_of_ceiling": round(headline.ratio(self.ceiling), 4),
                "highest_sustained_tps": self.highest_sustained,
                "latency_s": step_json(headline, self.ceiling)["latency_s"],
                "rss_peak_mb": {
                    p.name: round(p.rss_peak_mb, 1)
                    for p in self.steps[-1].processes
                    if p.name not in ("loadgen", MACHINE)
                },
            },
            "steps": [step_json(step, self.ceiling) for step in self.steps],
        }


# --- processes ---------------------------------------------------------------------------


def wait_ready(network: LocalNetwork, urls: list[str]) -> None:
    """Every node has committed a block (so peers are connected and consensus runs)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    body = {"jsonrpc": "2.0", "id": 1, "method": "chain_info"}
    with httpx.Client(timeout=2.0) as http:
        while True:
            exited = network.exited()
            if exited:
                raise NodeExited(f"node(s) exited while starting: {exited}; see their node.log")
            heights = []
            for url in urls:
                try:
                    heights.append(int(http.post(url, json=body).json()["result"]["height"]))
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    heights.append(-1)
            if min(heights) >= 1:
                return
            if time.monotonic() > deadline:
                raise NetworkNotReady(f"nodes not committing after {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.3)


class UsageMonitor:
    """CPU time and resident memory of named processes, sampled on demand."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.samples: dict[str, list[UsageSample]] = {name: [] for name in [*pids, MACHINE]}
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}

    def sample(self) -> None:
        now = time.monotonic()
        for name, process in self._processes.items():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss = process.memory_info().rss
            except psutil.Error:
                continue  # it ended: its samples so far stand
            self.samples[name].append(UsageSample(at=now, cpu_s=times.user + times.system, rss=rss))
        # The whole machine (other users included): busy CPU seconds over all cores.
        machine = psutil.cpu_times()
        idle = machine.idle + sum(
            getattr(machine, name, 0.0) for name in ("iowait", "guest", "guest_nice")
        )  # guest time is already in user time (Linux)
        busy = sum(machine) - idle
        self.samples[MACHINE].append(UsageSample(at=now, cpu_s=busy, rss=0))

    def peaks(self) -> dict[str, int | None]:
        """The kernel's peak resident size (VmHWM) where it has one: it sees between samples."""
        peaks: dict[str, int | None] = {MACHINE: None}
        peaks.update((name, _vm_hwm(process.pid)) for name, process in self._processes.items())
        return peaks


def _vm_hwm(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _read_lines(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for raw in stream:
        lines.put(raw.decode("utf-8", "replace"))
    lines.put(None)


class Progress:
    """The progress bar of the current step, on stderr (hidden when not a terminal)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._step = -1

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "signing":
            self.close()
            click.echo(f"step {event['step']}: signing at {event['rate']:,.0f} tx/s ...", err=True)
        elif kind == "progress":
            self._progress(event)
        elif kind == "step":
            self.close()
            p99 = event.get("p99_s")
            click.echo(
                f"step {event['step']}: offered {event['rate']:,.0f} tx/s, committed "
                f"{event['committed_tps']:,.1f} tx/s, p99 "
                f"{'∞' if p99 is None else f'{p99:.2f} s'}"
                f"{', sustained' if event.get('sustained') else ''}",
                err=True,
            )
        elif kind == "error":
            click.echo(f"load generator: {event.get('message')}", err=True)

    def _progress(self, event: dict[str, Any]) -> None:
        if event["step"] != self._step:
            self.close()
            self._step = event["step"]
            length = max(1, int(float(event["duration"]) * 10))
            self._bar = click.progressbar(
                length=length,
                label=f"step {self._step} at {event['rate']:,.0f} tx/s",
                file=sys.stderr,
                show_eta=False,
            )
            self._bar.__enter__()
        done = min(self._bar.length, int(float(event["elapsed"]) * 10))
        self._bar.update(done - self._bar.pos, f"sent {event['sent']} open {event['open']}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(LOADGEN_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_loadgen(
    plan_path: Path, log_path: Path, network: LocalNetwork, monitor_pids: dict[str, int]
) -> tuple[dict[str, list[UsageSample]], dict[str, int | None]]:
    """Run the load generator to its end, sampling usage and drawing progress meanwhile."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gongshi.bench.loadgen", str(plan_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=child_environment(),
        )
    progress = Progress()
    try:
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        monitor = UsageMonitor({**monitor_pids, "loadgen": process.pid})
        peaks: dict[str, int | None] = {}
        finished = False
        while not finished:
            monitor.sample()
            peaks = monitor.peaks()
            exited = network.exited()
            if exited:
                raise NodeExited(f"node(s) exited under load: {exited}; see their node.log")
            deadline = time.monotonic() + SAMPLE_EVERY_S
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    line = lines.get(timeout=remaining)
                except queue.Empty:
                    break
                if line is None:
                    finished = True
                    break
                with contextlib.suppress(ValueError):
                    progress.on_event(json.loads(line))
        process.wait()
    finally:
        progress.close()
        _stop_process(process)
    if process.returncode != 0:
        raise LoadGeneratorFailed(
            f"the load generator exited with code {process.returncode}; see {log_path}"
        )
    return monitor.samples, peaks


# --- the run -----------------------------------------------------------------------------


@contextlib.contextmanager
def network_directory(out: Path | None) -> Iterator[Path]:
    """`out/network` (kept) or a temporary directory (removed afterwards, unless the
    benchmark failed: then its logs are wanted)."""
    if out is not None:
        yield out / "network"
        return
    temporary = Path(tempfile.mkdtemp(prefix="gongshi-bench-chain-"))
    keep = False
    try:
        yield temporary / "network"
    except GongshiError:
        keep = True  # its node.log and loadgen.log say what went wrong
        click.echo(f"kept {temporary} for its logs", err=True)
        raise
    finally:
        if not keep:
            shutil.rmtree(temporary, ignore_errors=True)


def load_plan(
    options: ChainBenchOptions, directory: Path, urls: list[str], start_rate: float
) -> LoadPlan:
    return LoadPlan(
        network_dir=str(directory),
        api_urls=tuple(urls),
        result_path=str(directory / "loadgen-result.json"),
        rate=start_rate,
        duration_s=options.duration_s,
        drain_s=options.drain_s,
        search=options.search,
        p99_bound_s=options.p99_bound_s,
        growth=DEFAULT_GROWTH,
        steps_max=options.steps_max,
        run_tag=secrets.token_hex(8),  # document hashes never repeat an earlier run's
    )


def read_result(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise LoadGeneratorFailed(f"no usable load-generator result in {path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise LoadGeneratorFailed(f"the load-generator result {path} has no steps")
    return document


def highest_sustained(steps: tuple[StepSummary, ...], p99_bound_s: float) -> float | None:
    outcomes = [
        StepOutcome(
            rate=s.rate,
            committed_tps=s.committed_tps,
            p99_s=s.latency.p99 if s.latency else math.inf,
        )
        for s in steps
    ]
    return max((o.rate for o in outcomes if o.sustained(p99_bound_s)), default=None)


def run_chain_bench(options: ChainBenchOptions) -> ChainBenchResult:
    options.check()
    load = os.getloadavg()
    click.echo(
        f"measuring the ceiling: {options.suite} verify/s, one process per core ...", err=True
    )
    ceiling = measure_ceiling(options.suite, nodes=options.nodes, seconds=options.ceiling_seconds)
    start_rate = options.rate or options.start_rate or START_FRACTION * ceiling.tps
    with network_directory(options.out) as directory:
        click.echo(f"creating a {options.nodes}-node network in {directory} ...", err=True)
        genesis, _ = prepare_network(
            directory,
            nodes=options.nodes,
            suite=options.suite,
            base_port=options.base_port or free_base_port(options.nodes),
            force=True,
            extra_clients=math.ceil(options.clients / options.nodes) - 1,
        )
        network = LocalNetwork(directory, genesis)
        urls = [f"http://{info.config.api.listen_address}/" for info in network.nodes]
        plan = load_plan(options, directory, urls, start_rate)
        plan_path = directory / "loadgen-plan.json"
        plan_path.write_text(plan.to_json())
        try:
            network.start_all()
            wait_ready(network, urls)
            click.echo("network committing; starting the load generator", err=True)
            samples, peaks = run_loadgen(
                plan_path, directory / "loadgen.log", network, network.pids()
            )
        finally:
            network.stop_all()
        document = read_result(Path(plan.result_path))
    steps = tuple(summarize_step(record, samples, peaks) for record in document["steps"])
    return ChainBenchResult(
        options=options,
        ceiling=ceiling,
        senders=int(document["senders"]),
        steps=steps,
        highest_sustained=highest_sustained(steps, options.p99_bound_s) if options.search else None,
        machine_load=load,
    )


def output_files(options: ChainBenchOptions, json_path: Path | None) -> tuple[Path, Path]:
    """Where the JSON and the PNG go; their folder is made now, so a run never ends in an
    unwritable place."""
    stem = RESULT_NAME.format(suite=options.suite)
    json_file = json_path or (options.out or Path.cwd()) / f"{stem}.json"
    try:
        json_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BenchOptionError(f"cannot create {json_file.parent}: {error.strerror}") from None
    return json_file, json_file.with_suffix(".png")


def write_outputs(result: ChainBenchResult, json_file: Path, png_file: Path) -> None:
    try:
        write_json(json_file, result.to_json_dict())
        plot(list(result.steps), title_of(result), png_file)
    except OSError as error:
        raise BenchError(f"cannot write the results: {error}") from None


def title_of(result: ChainBenchResult) -> str:
    options = result.options
    mode = "--max" if options.search else f"--rate {options.rate:g}"
    if options.search and options.p99_bound_s != DEFAULT_P99_BOUND_S:
        mode += f" --p99-bound {options.p99_bound_s:g}"
    return (
        f"gongshi bench chain --nodes {options.nodes} --suite {options.suite} "
        f"--duration {options.duration_s:g} {mode} --clients {options.clients} "
        f"({result.senders} senders, "
        f"{result.ceiling.cores} cores)"
    )


@click.command("chain")
@click.option(
    "--nodes",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Node processes (one organisation each).",
)
@suite_option(default="intl", allow_all=False)
@click.option(
    "--duration",
    type=click.FloatRange(min=2, max=3600),
    default=20.0,
    show_default=True,
    help="Seconds of load (of each step, with --max).",
)
@click.option("--rate", type=click.FloatRange(min=0.1), default=None, help="Offered tx/s.")
@click.option("--max", "search", is_flag=True, help="Step the rate up to find the highest.")
@click.option(
    "--clients",
    type=click.IntRange(1, 4096),
    default=64,
    show_default=True,
    help="Client identities signing, rounded up to a multiple of --nodes (each may have "
    "64 pending transactions).",
)
@click.option(
    "--p99-bound",
    type=click.FloatRange(min=0.01),
    default=DEFAULT_P99_BOUND_S,
    show_default=True,
    help="--max: a step is sustained only if its p99 latency (s) stays under this.",
)
@click.option(
    "--start-rate",
    type=click.FloatRange(min=0.1),
    default=None,
    help="--max: the first step's rate [default: 25% of the ceiling].",
)
@click.option(
    "--steps-max",
    type=click.IntRange(1, 64),
    default=16,
    show_default=True,
    help="--max: most steps.",
)
@click.option(
    "--drain",
    type=click.FloatRange(min=0, max=600),
    default=None,
    help="Seconds to wait for receipts after the load [default: 15, with --max p99 bound + 3].",
)
@click.option(
    "--ceiling-seconds",
    type=click.FloatRange(min=0.1, max=60),
    default=2.0,
    show_default=True,
    help="Duration of the verification-ceiling measurement.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the network in OUT/network and write results to OUT [default: results in "
    "the current directory, network in a temporary one].",
)
@click.option("--base-port", type=int, default=None, help="First port [default: a free one].")
@json_option
def chain_command(
    nodes: int,
    suite_choice: str,
    duration: float,
    rate: float | None,
    search: bool,
    clients: int,
    p99_bound: float,
    start_rate: float | None,
    steps_max: int,
    drain: float | None,
    ceiling_seconds: float,
    out: Path | None,
    base_port: int | None,
    json_path: Path | None,
) -> None:
    """Committed tx/s and latency of a local NODES-node network against this machine's
    verification ceiling; --rate R offers R tx/s, --max searches the highest sustained."""
    if (rate is None) == (not search):
        raise BenchOptionError("give exactly one of --rate R and --max")
    options = ChainBenchOptions(
        nodes=nodes,
        suite=suite_choice,
        duration_s=duration,
        rate=rate,
        clients=clients,
        p99_bound_s=p99_bound,
        start_rate=start_rate,
        steps_max=steps_max,
        drain_s=drain if drain is not None else (p99_bound + 3.0 if search else 15.0),
        ceiling_seconds=ceiling_seconds,
        out=out,
        base_port=base_port,
    )
    json_file, png_file = output_files(options, json_path)
    result = run_chain_bench(options)
    write_outputs(result, json_file, png_file)
    table = render_table(
        list(result.steps),
        result.ceiling,
        title_of(result),
        result.highest_sustained,
        focus=result.headline(),
    )
    click.echo(table)
    click.echo(f"\nwrote {json_file} and {png_file}")
