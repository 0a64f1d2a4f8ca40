"""Rounds and view change: the round timer with its back-off, local timeouts, peers'
timeouts (the f+1 rule) and timeout certificates. `_enter_round` is the only place that
moves the round forward (SPEC.md, engine-internal invariants)."""

from __future__ import annotations

from gongshi.consensus import actions as act
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.events import TimerFired
from gongshi.consensus.messages import Timeout
from gongshi.consensus.quorum import verify_timeout_certificate
from gongshi.consensus.signing import timeout_bytes
from gongshi.consensus.types import TimeoutCertificate


class ViewChange(EngineState):
    """The engine's rounds: entering them, timing them out, certifying the timeouts."""

    def _enter_round(self, round_number: int, *, via_tc: bool) -> None:
        """Move to `round_number` (only forward): arm its timer and propose if leading."""
        if round_number <= self.round:
            return
        self.round = round_number
        self.consecutive_timeouts = self.consecutive_timeouts + 1 if via_tc else 0
        self.retransmissions = 0
        self.sync_requested.clear()
        self.sync_served.clear()
        floor = round_number - 1
        self.votes.prune(floor)
        self.timeouts.prune(floor)
        self.detector.prune(floor - self.config.round_window_max)
        if self.my_index is not None or self.fence is not None:
            self._set_round_timer()
        self._try_propose()

    def _set_round_timer(self) -> None:
        exponent = min(
            self.consecutive_timeouts + self.retransmissions,
            self.config.timeout_backoff_exponent_max,
        )
        delay_ms = self.config.timeout_base_ms << exponent
        self._actions.append(act.SetTimer(epoch=self.epoch, round=self.round, delay_ms=delay_ms))

    def _handle_timer(self, event: TimerFired) -> None:
        if event.epoch != self.epoch or event.round != self.round:
            return
        # Sync is asked and served at most once per round per peer; a round that never ends
        # (the peers have left for the next epoch, or wait for this node there) would stop
        # it for good after one lost message: each expiry of the timer allows it once more.
        self.sync_requested.clear()
        self.sync_served.clear()
        if self.fence is not None:
            self.retransmissions += 1
            self._catch_up()  # a fenced engine may not time out: it would sign
            self._set_round_timer()
            return
        if self.my_index is None:
            return
        self.retransmissions += 1
        if self.later_epoch_seen:
            self._catch_up()
        self._local_timeout(event.round)
        if self.round == event.round:  # a certificate may have moved us on meanwhile
            self._set_round_timer()

    def _local_timeout(self, round_number: int) -> None:
        """Give up on `round_number`: never vote in it again, persist that, tell everyone."""
        assert self.my_index is not None
        self.timed_out_round = max(self.timed_out_round, round_number)
        self.last_voted_round = max(self.last_voted_round, round_number)
        self._persist_safety()
        high_qc_round = self.high_qc_round
        signature = self.signer.sign(
            timeout_bytes(self.config.chain_id, self.epoch, round_number, high_qc_round)
        )
        timeout = Timeout(
            epoch=self.epoch,
            round=round_number,
            voter=self.my_index,
            high_qc=self.high_qc,
            high_tc=self.high_tc,
            signature=signature,
        )
        self._actions.append(act.Broadcast(message=timeout))
        self._collect_timeout(timeout, high_qc_round)

    def _handle_timeout(self, sender: bytes, timeout: Timeout) -> None:
        if timeout.epoch != self.epoch:
            self._handle_other_epoch(sender, timeout.epoch, timeout.high_qc, None)
            return
        if not self._in_window(timeout.round, self.round):
            self._drop("timeout_round_window")
            return
        if not 0 <= timeout.voter < self.validators.size:
            self._drop("timeout_voter")
            return
        high_qc_round = self._justify_round(timeout.high_qc)
        message = timeout_bytes(self.config.chain_id, self.epoch, timeout.round, high_qc_round)
        if high_qc_round >= timeout.round or not self.verifier.verify(
            self._key_of(timeout.voter), message, timeout.signature
        ):
            self._drop("timeout_signature")
            return
        if not self._accept_justify(timeout.high_qc):
            self._drop("timeout_high_qc")
            return
        if timeout.high_tc is not None:
            self._accept_timeout_certificate(timeout.high_tc)
        if timeout.round >= self.round:
            self._collect_timeout(timeout, high_qc_round)

    def _collect_timeout(self, timeout: Timeout, high_qc_round: int) -> None:
        count = self.timeouts.add(timeout, high_qc_round)
        joins = (
            self.my_index is not None
            and count > self.validators.faults_max
            and timeout.round > self.timed_out_round
            and timeout.round >= self.round
        )
        if joins:
            # f+1 timeouts include an honest one: join, so a quorum forms (Bracha).
            self._enter_round(timeout.round, via_tc=True)
            self._local_timeout(timeout.round)
        certificate = self.timeouts.certificate(timeout.round)
        if certificate is not None:
            self._verified.add(certificate)
            self._accept_timeout_certificate(certificate)

    def _accept_timeout_certificate(self, tc: TimeoutCertificate) -> bool:
        if tc.epoch != self.epoch:
            return False
        if tc not in self._verified:
            if not verify_timeout_certificate(
                self.config.chain_id, self.validators, tc, self.verifier
            ):
                self._drop("timeout_certificate")
                return False
            self._remember_verified(tc)
        if self.high_tc is None or tc.round > self.high_tc.round:
            self.high_tc = tc
        self._enter_round(tc.round + 1, via_tc=True)
        return True
