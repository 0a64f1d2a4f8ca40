"""Scenario options: everything a run depends on besides the seed, drawn from the seed.

`draw_options(rng, ...)` is "swarm testing" as in TigerBeetle's VOPR: cluster size, fault
probabilities, partitions, crashes and Byzantine behaviours all vary by seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum

from gongshi.consensus.errors import InvalidSimulationOptions


class Behaviour(StrEnum):
    """What a Byzantine validator does (honest validators have no entry)."""

    SILENT = "silent"  # sends nothing
    EQUIVOCATE = "equivocate"  # as leader, sends different blocks to two halves
    TWIN = "twin"  # two engines share its key, each honest on its own (Twins)
    BAD_SIGNATURES = "bad-signatures"  # corrupts the signature of what it sends
    FUTURE_SPAM = "future-spam"  # also sends validly signed messages for far-future rounds
    FORK = "fork"  # as leader after a timeout, builds on a QC older than the timeouts report
    WRONG_PARENT = "wrong-parent"  # as leader, builds on another block than its QC certifies
    VOTE_ALL = "vote-all"  # votes for every proposal it sees, ignoring its lock and last vote


BEHAVIOURS = tuple(Behaviour)
# The behaviours the scenario's PRNG draws from; those added later (rule-breaking leaders and
# voters) come from a PRNG of their own, so every scenario drawn before they existed, the
# regression seeds included, replays unchanged unless one of its validators is given one.
FIRST_BEHAVIOURS = (
    Behaviour.SILENT,
    Behaviour.EQUIVOCATE,
    Behaviour.TWIN,
    Behaviour.BAD_SIGNATURES,
    Behaviour.FUTURE_SPAM,
)
LATER_BEHAVIOURS = tuple(kind for kind in BEHAVIOURS if kind not in FIRST_BEHAVIOURS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """From `start_ms` to `end_ms`, nodes only reach nodes of the same group."""

    start_ms: int
    end_ms: int
    groups: tuple[int, ...]  # group of each node id


@dataclass(frozen=True, slots=True, kw_only=True)
class Crash:
    node: int
    at_ms: int
    down_ms: int
    actions_kept: int  # actions of the crashing step carried out before the crash


class Boundary(StrEnum):
    """Where a boundary crash strikes a node, at the change to a given epoch."""

    EPOCH_END = "epoch-end"  # in the step that commits the previous epoch's last block
    FIRST_VOTE = "first-vote"  # in the first step persisting a safety state of the epoch


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundaryCrash:
    """`node` crashes at `boundary` of the change to `epoch` (safety phase only), after
    `actions_kept` actions from the one that triggers it, and restarts `down_ms` later."""

    node: int
    epoch: int
    boundary: Boundary
    actions_kept: int
    down_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconfig:
    """The block at `height` moves validation to `validators` (node ids) at `activation_height`."""

    height: int
    activation_height: int
    validators: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    seed: int
    validators: int
    observers: int = 0
    byzantine: tuple[tuple[int, Behaviour], ...] = ()
    delay_min_ms: int = 1
    delay_max_ms: int = 10
    loss_permille: int = 0
    duplicate_permille: int = 0
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    reconfig: Reconfig | None = None
    # A second change, decided in the epoch the first one starts (e.g. the leaver rejoins).
    second_reconfig: Reconfig | None = None
    boundary_crashes: tuple[BoundaryCrash, ...] = ()
    # The shell: a commit becomes durable `commit_lag_ms` after it is carried out (a crash
    # before loses it). With `epoch_barrier` (the node driver's rule) an epoch's last block
    # is durable at once; without it only the engine's epoch fence keeps votes safe.
    commit_lag_ms: int = 0
    epoch_barrier: bool = True
    timeout_base_ms: int = 40
    backoff_exponent_max: int = 4
    app_delay_max_ms: int = 2
    safety_ms: int = 1000
    liveness_ms: int = 6000
    liveness_blocks: int = 3

    def __post_init__(self) -> None:
        if self.validators < 1 or self.observers < 0:
            raise InvalidSimulationOptions("need at least one validator")
        if any(not 0 <= index < self.validators for index, _ in self.byzantine):
            raise InvalidSimulationOptions("Byzantine indices must name validators")
        if not 0 <= self.delay_min_ms <= self.delay_max_ms:
            raise InvalidSimulationOptions("delays must satisfy 0 <= min <= max")
        if self.commit_lag_ms < 0:
            raise InvalidSimulationOptions("commit lag must be non-negative")
        if self.second_reconfig is not None and self.reconfig is None:
            raise InvalidSimulationOptions("a second validator-set change needs a first")

    @property
    def faults_max(self) -> int:
        return (self.validators - 1) // 3

    @property
    def byzantine_indices(self) -> frozenset[int]:
        return frozenset(index for index, _ in self.byzantine)

    @property
    def twins(self) -> tuple[int, ...]:
        return tuple(index for index, kind in self.byzantine if kind == Behaviour.TWIN)

    @property
    def node_count(self) -> int:
        return self.validators + self.observers + len(self.twins)

    @property
    def reconfigs(self) -> tuple[Reconfig, ...]:
        first = () if self.reconfig is None else (self.reconfig,)
        second = () if self.second_reconfig is None else (self.second_reconfig,)
        return first + second

    def describe(self) -> str:
        byzantine = ",".join(f"{index}:{kind.value}" for index, kind in self.byzantine) or "none"
        text = (
            f"seed={self.seed} validators={self.validators} observers={self.observers} "
            f"byzantine={byzantine} delay_ms={self.delay_min_ms}..{self.delay_max_ms} "
            f"loss={self.loss_permille}/1000 duplicate={self.duplicate_permille}/1000 "
            f"partitions={len(self.partitions)} crashes={len(self.crashes)} "
            f"reconfig={'yes' if self.reconfig else 'no'} timeout_ms={self.timeout_base_ms} "
            f"safety_ms={self.safety_ms} liveness_ms={self.liveness_ms}"
        )
        return text + self._describe_epochs()

    def _describe_epochs(self) -> str:
        """The epoch faults (appended: the fields before keep their place)."""
        text = ""
        for number, change in enumerate(self.reconfigs, start=1):
            members = ",".join(str(node) for node in change.validators)
            text += f" epoch{number}=h{change.height}->h{change.activation_height}:{members}"
        for crash in self.boundary_crashes:
            text += (
                f" crash={crash.node}@epoch{crash.epoch}:{crash.boundary.value}"
                f"+{crash.actions_kept}"
            )
        if self.commit_lag_ms:
            barrier = "barrier" if self.epoch_barrier else "no-barrier"
            text += f" commit_lag_ms={self.commit_lag_ms}:{barrier}"
        return text


def draw_options(
    rng: random.Random,
    seed: int,
    *,
    nodes: int | None = None,
    byzantine: int | None = None,
    behaviours: tuple[Behaviour, ...] = (),
    epoch_faults: bool = True,
    reconfig: bool = False,
) -> SimOptions:
    """Random options for one scenario; `nodes` / `byzantine` pin the cluster size and the
    number of Byzantine validators (which may exceed f, to show the checkers fire).
    `behaviours`, if given, are the only ones drawn (within the fault model; beyond it the
    attack is always Twins). `FIRST_BEHAVIOURS` redraws a seed as it was drawn before the
    later behaviours existed, `epoch_faults=False` as before the epoch faults existed
    (`_draw_epoch_faults`); `reconfig` gives every scenario a validator-set change."""
    validators = nodes if nodes is not None else rng.choice((4, 4, 4, 5, 6, 7))
    faults_max = (validators - 1) // 3
    count = byzantine if byzantine is not None else rng.randint(0, faults_max)
    if not 0 <= count <= validators:
        raise InvalidSimulationOptions("--byzantine must be between 0 and --nodes")
    chosen = rng.sample(range(validators), count)
    honest = [index for index in range(validators) if index not in chosen]
    if count > faults_max:
        return _beyond_fault_model(rng, seed, validators, sorted(chosen), honest)
    drawn = _draw_behaviours(rng, seed, sorted(chosen), behaviours)
    options = _within_fault_model(rng, seed, validators, drawn, honest)
    if not epoch_faults:
        return options
    return _draw_epoch_faults(options, reconfig)


def _draw_behaviours(
    rng: random.Random, seed: int, chosen: list[int], pool: tuple[Behaviour, ...]
) -> tuple[tuple[int, Behaviour], ...]:
    """Each chosen validator's behaviour, uniform over `pool` or, by default, over all."""
    if pool:
        return tuple((index, rng.choice(pool)) for index in chosen)
    first = [(index, rng.choice(FIRST_BEHAVIOURS)) for index in chosen]
    later = random.Random(f"gongshi-sim/later-behaviours/{seed}")  # see FIRST_BEHAVIOURS
    drawn = []
    for index, kind in first:
        # Uniform over all behaviours: keep the first draw, or replace it by a later one.
        pick = later.randrange(len(BEHAVIOURS)) - len(FIRST_BEHAVIOURS)
        drawn.append((index, LATER_BEHAVIOURS[pick] if pick >= 0 else kind))
    return tuple(drawn)


def _within_fault_model(
    rng: random.Random,
    seed: int,
    validators: int,
    behaviours: tuple[tuple[int, Behaviour], ...],
    honest: list[int],
) -> SimOptions:
    reconfig = _draw_reconfig(rng, validators, honest) if rng.random() < 0.2 and honest else None
    observers = 1 if reconfig is not None else 0
    twins = sum(1 for _, kind in behaviours if kind == Behaviour.TWIN)
    node_count = validators + observers + twins
    safety_ms = rng.randint(400, 1200)
    delay_min_ms = rng.randint(0, 4)
    return SimOptions(
        seed=seed,
        validators=validators,
        observers=observers,
        byzantine=behaviours,
        delay_min_ms=delay_min_ms,
        delay_max_ms=delay_min_ms + rng.randint(2, 30),
        loss_permille=rng.choice((0, 0, 20, 50, 150)),
        duplicate_permille=rng.choice((0, 0, 30, 100)),
        partitions=_draw_partitions(rng, node_count, safety_ms),
        crashes=_draw_crashes(rng, honest, safety_ms),
        reconfig=reconfig,
        timeout_base_ms=rng.choice((30, 40, 60)),
        safety_ms=safety_ms,
    )


def _draw_partitions(rng: random.Random, node_count: int, safety_ms: int) -> tuple[Partition, ...]:
    partitions = []
    for _ in range(rng.choice((0, 0, 1, 2))):
        start_ms = rng.randint(0, safety_ms - 50)
        end_ms = min(safety_ms, start_ms + rng.randint(50, 500))
        groups = tuple(rng.randint(0, 1) for _ in range(node_count))
        partitions.append(Partition(start_ms=start_ms, end_ms=end_ms, groups=groups))
    return tuple(partitions)


def _draw_crashes(rng: random.Random, honest: list[int], safety_ms: int) -> tuple[Crash, ...]:
    crashes: list[Crash] = []
    for _ in range(rng.choice((0, 0, 1, 2)) if honest else 0):
        at_ms = rng.randint(0, safety_ms - 20)
        crashes.append(
            Crash(
                node=rng.choice(honest),
                at_ms=at_ms,
                down_ms=rng.randint(20, 400),
                actions_kept=rng.randint(0, 3),
            )
        )
    return tuple(crashes)


def _draw_reconfig(rng: random.Random, validators: int, honest: list[int]) -> Reconfig:
    """Swap one honest validator for the observer node (id `validators`)."""
    leaving = rng.choice(honest)
    members = (*tuple(index for index in range(validators) if index != leaving), validators)
    height = rng.randint(2, 5)
    return Reconfig(height=height, activation_height=height + rng.randint(1, 4), validators=members)


def _beyond_fault_model(
    rng: random.Random, seed: int, validators: int, chosen: list[int], honest: list[int]
) -> SimOptions:
    """More than f Byzantine validators: the strongest attack, Twins with a split brain. Every
    Byzantine key runs two engines; a partition for the whole safety phase puts half of the
    honest validators and one copy of each Byzantine key on each side. Each side then holds
    a quorum of distinct keys whenever the Byzantine keys reach f+1 of it."""
    twin_ids = {key: validators + position for position, key in enumerate(chosen)}
    groups = [0] * (validators + len(chosen))
    shuffled = list(honest)
    rng.shuffle(shuffled)
    for position, index in enumerate(shuffled):
        groups[index] = position % 2
    for twin_id in twin_ids.values():
        groups[twin_id] = 1
    safety_ms = rng.randint(400, 1200)
    return SimOptions(
        seed=seed,
        validators=validators,
        byzantine=tuple((index, Behaviour.TWIN) for index in chosen),
        delay_min_ms=1,
        delay_max_ms=1 + rng.randint(2, 20),
        partitions=(Partition(start_ms=0, end_ms=safety_ms, groups=tuple(groups)),),
        safety_ms=safety_ms,
    )


# --- epoch faults ---------------------------------------------------------------------------
# Drawn from a PRNG of their own (as the later behaviours), after everything else, so that a
# seed's other options are those it always had.
RECONFIG_SHARE = 0.25  # scenarios without a change drawn before that get one
REJOIN_SHARE = 0.4  # scenarios whose set changes back (the leaver rejoins, the joiner leaves)
BOUNDARY_CRASH_SHARE = 0.6
NO_BARRIER_SHARE = 0.5  # of the scenarios with lagging commits and a change
CHANGE_KINDS = ("replace", "replace", "add", "remove")


def _draw_epoch_faults(options: SimOptions, reconfig: bool) -> SimOptions:
    """Validator-set changes (add, remove, replace; the leaver may be Byzantine; the set
    may change back), crashes at the epoch boundary, and a shell whose commits become durable
    late, with or without the barrier at the epoch's end."""
    rng = random.Random(f"gongshi-sim/epoch-faults/{options.seed}")
    lag_ms = rng.randint(5, 60) if rng.random() < 0.5 else 0
    if options.reconfig is None and not reconfig and rng.random() >= RECONFIG_SHARE:
        return replace(options, commit_lag_ms=lag_ms)
    first, second = _draw_changes(rng, options)
    partitions = options.partitions
    if options.observers == 0:  # the joiner: node id `validators`, before any twin
        partitions = tuple(
            _with_observer_group(rng, item, options.validators) for item in partitions
        )
    crashes = _draw_boundary_crashes(rng, options, (first, second) if second else (first,))
    return replace(
        options,
        observers=max(options.observers, 1),
        partitions=partitions,
        reconfig=first,
        second_reconfig=second,
        boundary_crashes=crashes,
        commit_lag_ms=lag_ms,
        epoch_barrier=not (lag_ms and rng.random() < NO_BARRIER_SHARE),
    )


def _with_observer_group(rng: random.Random, partition: Partition, position: int) -> Partition:
    groups = partition.groups
    group = rng.randint(0, 1)
    return replace(partition, groups=(*groups[:position], group, *groups[position:]))


def _draw_changes(rng: random.Random, options: SimOptions) -> tuple[Reconfig, Reconfig | None]:
    """The first change (its heights kept if the scenario had one) and maybe a change back."""
    everyone = tuple(range(options.validators))
    joiner = options.validators
    byzantine = options.byzantine_indices
    if options.reconfig is not None:
        height, activation = options.reconfig.height, options.reconfig.activation_height
    else:
        height = rng.randint(2, 5)
        activation = height + rng.randint(1, 4)
    kind = rng.choice(CHANGE_KINDS)
    leaver = rng.choice(everyone)
    members = _members(kind, everyone, leaver, joiner)
    if not members or not _within_faults(members, byzantine):
        # Replacing a Byzantine validator (or any, if none) always stays within the model.
        leaver = min(byzantine) if byzantine else leaver
        members = _members("replace", everyone, leaver, joiner)
    first = Reconfig(height=height, activation_height=activation, validators=members)
    if rng.random() >= REJOIN_SHARE:
        return first, None
    second_height = activation + rng.randint(0, 2)
    second = Reconfig(
        height=second_height,
        activation_height=second_height + rng.randint(1, 3),
        validators=everyone,
    )
    return first, second


def _members(kind: str, everyone: tuple[int, ...], leaver: int, joiner: int) -> tuple[int, ...]:
    staying = tuple(index for index in everyone if index != leaver)
    if kind == "add":
        return (*everyone, joiner)
    if kind == "remove":
        return staying
    return (*staying, joiner)


def _within_faults(members: tuple[int, ...], byzantine: frozenset[int]) -> bool:
    return sum(1 for index in members if index in byzantine) <= (len(members) - 1) // 3


def _draw_boundary_crashes(
    rng: random.Random, options: SimOptions, changes: tuple[Reconfig, ...]
) -> tuple[BoundaryCrash, ...]:
    """Honest validators of either side of a boundary crash as it is crossed."""
    if rng.random() >= BOUNDARY_CRASH_SHARE:
        return ()
    crashes = []
    for _ in range(rng.randint(1, 2)):
        epoch = rng.randint(1, len(changes))
        before = changes[epoch - 2].validators if epoch > 1 else tuple(range(options.validators))
        candidates = sorted({*before, *changes[epoch - 1].validators} - options.byzantine_indices)
        crashes.append(
            BoundaryCrash(
                node=rng.choice(candidates),
                epoch=epoch,
                boundary=rng.choice(tuple(Boundary)),
                actions_kept=rng.randint(0, 3),
                down_ms=rng.randint(20, 300),
            )
        )
    return tuple(crashes)
