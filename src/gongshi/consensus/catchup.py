"""Catch-up: asking peers for missing blocks and finality certificates (at most once per
round per request), answering their requests from the tree and the committed window, serving
peers left in an earlier epoch, and reacting to messages of other epochs."""

from __future__ import annotations

from gongshi.consensus import actions as act
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.messages import SyncRequest, SyncResponse
from gongshi.consensus.sync import sync_batch
from gongshi.consensus.types import Justify


class CatchUp(EngineState):
    """Sync requests and responses between the engine and its peers."""

    def _handle_other_epoch(
        self, sender: bytes, epoch: int, justify: Justify, wanted: bytes | None
    ) -> None:
        if epoch < self.epoch:
            self._drop("stale_epoch")
            self._serve_stale_peer(sender, justify)
            return
        if epoch == self.epoch + 1 and justify.epoch == self.epoch:
            self._accept_justify(justify)  # may finish our epoch
        if epoch > self.epoch:
            self._drop("future_epoch")
            self.later_epoch_seen = True
            self._request_sync(sender, wanted)

    def _catch_up(self) -> None:
        """Behind a later epoch (fenced, or peers' messages name one), this epoch's rounds
        may never end: the others have left it, or wait in the next one for this node. Ask a
        validator, a different one at each expiry of the timer, for the committed chain: the
        peers that sent the later epoch's messages may have restarted since and hold no
        committed blocks to serve."""
        peers = [key for key in self.validators.public_keys if key != self.public_key]
        if peers:
            self._request_sync(peers[self.retransmissions % len(peers)], None)

    def _request_missing_certificates(self) -> None:
        """Ask a validator for the committed blocks with their finality certificates. Once
        per round (`_request_sync`), a different validator each round: the one that holds the
        missing certificate (it committed that block) need not have signed anything since,
        and a silent one must not keep this node from ever committing again."""
        peers = [key for key in self.validators.public_keys if key != self.public_key]
        if peers:
            self._request_sync(peers[self.round % len(peers)], None)

    def _serve_stale_peer(self, peer: bytes, justify: Justify) -> None:
        """A peer still in an earlier epoch may lack the finality certificate of that epoch's
        last block, which this node committed; without this node (gone to the next epoch,
        perhaps not even a validator there) the old set may no longer finalise it. Send the
        committed blocks above its high QC's parent."""
        self._serve(peer, max(justify.qc.height - 1, 0))

    def _serve(self, peer: bytes, committed_height: int) -> None:
        """Send `peer` what a sync request from `committed_height` would get, unasked; at
        most once per round per peer and height."""
        key = (peer, committed_height)
        if key in self.sync_served:
            return
        self.sync_served.add(key)
        request = SyncRequest(epoch=self.epoch, committed_height=committed_height, block_hash=None)
        self._handle_sync_request(peer, request)

    def _request_sync(self, peer: bytes, wanted: bytes | None) -> None:
        """Ask `peer` for the chain up to `wanted`, at most once per round per request."""
        key = (peer, wanted, self.committed_height)
        if peer == self.public_key or key in self.sync_requested:
            return
        self.sync_requested.add(key)
        request = SyncRequest(
            epoch=self.epoch, committed_height=self.committed_height, block_hash=wanted
        )
        self._actions.append(act.Send(to=peer, message=request))

    def _handle_sync_request(self, sender: bytes, request: SyncRequest) -> None:
        batch = sync_batch(
            self.committed_blocks,
            self.tree,
            request,
            self.high_qc.qc.block_hash,
            self.config.sync_batch_max,
        )
        if batch:
            self._actions.append(act.Send(to=sender, message=SyncResponse(blocks=batch)))

    def _handle_sync_response(self, sender: bytes, response: SyncResponse) -> None:
        blocks = response.blocks[: self.config.sync_batch_max]
        for synced in blocks:
            if synced.certificate is not None:
                self._accept_commit_certificate(synced.certificate)
            self._handle_proposal(sender, synced.proposal)
        if len(blocks) == self.config.sync_batch_max:
            self._request_sync(sender, None)
