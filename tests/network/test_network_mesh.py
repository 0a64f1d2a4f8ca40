"""Real networks on 127.0.0.1: connect, exchange, restart, partition and heal."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gongshi.errors import ValidationError
from gongshi.network import MessageKind, Network
from gongshi.network.errors import FrameTooLarge, ListenFailed


def test_two_nodes_connect_and_both_send(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1)}
        try:
            await cluster.start(networks)
            await net.wait_until(
                lambda: (
                    networks[0].connected_peers() == (cluster.key(1),)
                    and networks[1].connected_peers() == (cluster.key(0),)
                ),
                "node1 and node2 connected",
            )
            assert networks[0].send(cluster.key(1), MessageKind.CONSENSUS, b"vote from 1")
            assert networks[1].send(cluster.key(0), MessageKind.TX_GOSSIP, b"txs from 2")
            await net.wait_until(
                lambda: cluster.inboxes[0].messages and cluster.inboxes[1].messages, "delivery"
            )
            (at_2,) = cluster.inboxes[1].messages
            (at_1,) = cluster.inboxes[0].messages
            assert (at_2.peer_key, at_2.kind, at_2.body) == (
                cluster.key(0),
                MessageKind.CONSENSUS,
                b"vote from 1",
            )
            assert (at_1.peer_key, at_1.kind, at_1.body) == (
                cluster.key(1),
                MessageKind.TX_GOSSIP,
                b"txs from 2",
            )
            counters = networks[0].counters()
            assert (counters.frames_out, counters.frames_in, counters.connects) == (1, 1, 1)
            assert counters.bytes_out > len(b"vote from 1") and counters.handshake_failures == 0
        finally:
            await cluster.stop_all()

    net.run(main)


def test_gm_suite_nodes_connect(gm_cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {0: gm_cluster.network(0), 1: gm_cluster.network(1)}
        try:
            await gm_cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "gm nodes connected")
            assert networks[1].broadcast(MessageKind.STATUS, b"height 7") == 1
            await net.wait_until(lambda: gm_cluster.inboxes[0].messages, "delivery")
            assert gm_cluster.inboxes[0].bodies() == [b"height 7"]
        finally:
            await gm_cluster.stop_all()

    net.run(main)


def test_four_nodes_form_one_connection_per_pair(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {index: cluster.network(index, seed=index) for index in range(4)}
        try:
            await cluster.start(networks)
            await net.wait_until(
                lambda: all(len(n.connected_peers()) == 3 for n in networks.values()),
                "full mesh",
            )
            for index, network in networks.items():
                assert network.broadcast(MessageKind.CONSENSUS, f"from {index}".encode()) == 3
            await net.wait_until(
                lambda: all(len(cluster.inboxes[i].messages) == 3 for i in range(4)), "delivery"
            )
            for index in range(4):
                senders = sorted(m.peer_key for m in cluster.inboxes[index].messages)
                assert senders == sorted(cluster.key(i) for i in range(4) if i != index)
                bodies = {m.peer_key: m.body for m in cluster.inboxes[index].messages}
                assert all(
                    bodies[cluster.key(i)] == f"from {i}".encode() for i in range(4) if i != index
                )
            # one connection per pair: 6 pairs, each counted once at each end
            assert sum(n.counters().connects for n in networks.values()) == 12
        finally:
            await cluster.stop_all()

    net.run(main)


def test_send_to_an_unconnected_peer_is_counted_not_queued(cluster: Any, net: Any) -> None:
    async def main() -> None:
        network = cluster.network(0)
        try:
            await cluster.start({0: network})
            assert not network.send(cluster.key(2), MessageKind.CONSENSUS, b"x")
            assert network.counters().unsent == 1
            with pytest.raises(FrameTooLarge):
                network.send(cluster.key(2), MessageKind.CONSENSUS, bytes(20 << 20))
        finally:
            await cluster.stop_all()

    net.run(main)


def test_nodes_reconnect_after_a_restart(cluster: Any, net: Any) -> None:
    async def main() -> None:
        first = {0: cluster.network(0), 1: cluster.network(1)}
        try:
            await cluster.start(first)
            await net.wait_until(lambda: first[0].connected_peers(), "connected")
            address = first[1].listen_address
            await first[1].stop()
            await net.wait_until(lambda: not first[0].connected_peers(), "restart noticed")
            restarted: Network = cluster.network(1, listen_address=address, seed=7)
            await restarted.start()
            cluster.running.append(restarted)
            cluster.connect({0: first[0], 1: restarted})
            await net.wait_until(
                lambda: restarted.connected_peers() == (cluster.key(0),), "reconnected"
            )
            assert restarted.send(cluster.key(0), MessageKind.SYNC_REQUEST, b"from height 3")
            await net.wait_until(lambda: cluster.inboxes[0].messages, "delivery after restart")
            assert cluster.inboxes[0].bodies() == [b"from height 3"]
            assert first[0].counters().connects == 2
        finally:
            await cluster.stop_all()

    net.run(main)


def test_partition_refuses_peers_until_healed(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {index: cluster.network(index, seed=index) for index in range(3)}
        try:
            await cluster.start(networks)
            await net.wait_until(
                lambda: all(len(n.connected_peers()) == 2 for n in networks.values()), "mesh"
            )
            isolated = networks[2]
            isolated.partition()
            await net.wait_until(
                lambda: (
                    not isolated.connected_peers()
                    and all(
                        n.connected_peers() == (cluster.key(1 - i),)
                        for i, n in networks.items()
                        if i < 2
                    )
                ),
                "node3 cut off",
            )
            # the others keep trying; node3 refuses (or does not dial) while partitioned
            tried = {i: n.counters().handshake_failures for i, n in networks.items() if i < 2}
            await net.wait_until(
                lambda: (
                    isolated.counters().refused >= 1
                    or any(networks[i].counters().handshake_failures > tried[i] for i in tried)
                    or not _dialled_by_others(cluster, 2)
                ),
                "a refused attempt",
            )
            assert not isolated.connected_peers()
            assert networks[0].send(cluster.key(1), MessageKind.CONSENSUS, b"still talking")
            await net.wait_until(lambda: cluster.inboxes[1].messages, "the majority still talks")
            isolated.heal()
            await net.wait_until(
                lambda: all(len(n.connected_peers()) == 2 for n in networks.values()), "healed"
            )
        finally:
            await cluster.stop_all()

    net.run(main)


def _dialled_by_others(cluster: Any, index: int) -> bool:
    """Whether some other node is the dialler of node `index` (smaller key dials)."""
    return any(cluster.key(other) < cluster.key(index) for other in range(3) if other != index)


def test_timed_partition_heals_itself(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1)}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            networks[0].partition(hold_ms=300)
            await net.wait_until(lambda: not networks[1].connected_peers(), "partitioned")
            await net.wait_until(lambda: networks[1].connected_peers(), "healed by its timer")
        finally:
            await cluster.stop_all()

    net.run(main)


def test_disconnect_with_hold_refuses_one_peer_for_a_while(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {index: cluster.network(index) for index in range(3)}
        try:
            await cluster.start(networks)
            await net.wait_until(
                lambda: all(len(n.connected_peers()) == 2 for n in networks.values()), "mesh"
            )
            networks[0].disconnect(cluster.key(1), hold_ms=400)
            await net.wait_until(
                lambda: networks[0].connected_peers() == (cluster.key(2),), "node2 dropped"
            )
            await net.wait_until(lambda: len(networks[0].connected_peers()) == 2, "hold expired")
        finally:
            await cluster.stop_all()

    net.run(main)


def test_removing_a_peer_from_the_allowed_set_closes_it(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1)}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            address = networks[0].listen_address
            networks[0].set_allowed_peers([cluster.peer(0, address)])
            await net.wait_until(lambda: not networks[1].connected_peers(), "removed peer cut")
            assert not networks[0].connected_peers()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_replacing_the_trust_store_cuts_peers_of_a_dropped_organisation(
    cluster: Any, net: Any
) -> None:
    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1)}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            without_org2 = dataclasses.replace(
                cluster.trust,
                authorities=tuple(a for a in cluster.trust.authorities if a.organisation != "org2"),
            )
            networks[0].set_trust(without_org2)
            await net.wait_until(lambda: not networks[1].connected_peers(), "org2 cut")
        finally:
            await cluster.stop_all()

    net.run(main)


def test_the_node_rejecting_a_message_does_not_stop_delivery(cluster: Any, net: Any) -> None:
    class Picky(net.Inbox):
        async def __call__(self, message: Any) -> None:
            if message.body == b"bad":
                raise ValidationError("undecodable vote")
            await super().__call__(message)

    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1, inbox=Picky())}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            networks[0].send(cluster.key(1), MessageKind.CONSENSUS, b"bad")
            networks[0].send(cluster.key(1), MessageKind.CONSENSUS, b"good")
            await net.wait_until(lambda: cluster.inboxes[1].messages, "delivery")
            assert cluster.inboxes[1].bodies() == [b"good"]
            assert networks[1].failure is None
        finally:
            await cluster.stop_all()

    net.run(main)


def test_a_bug_in_the_handler_is_reported_by_stop(cluster: Any, net: Any) -> None:
    async def broken(message: Any) -> None:
        raise KeyError("bug")

    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1, inbox=broken)}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            networks[0].send(cluster.key(1), MessageKind.CONSENSUS, b"boom")
            await net.wait_until(lambda: networks[1].failure is not None, "failure recorded")
            with pytest.raises(KeyError):
                await networks[1].stop()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_an_address_in_use_is_a_listen_error(cluster: Any, net: Any) -> None:
    async def main() -> None:
        first = cluster.network(0)
        try:
            await cluster.start({0: first})
            second = cluster.network(1, listen_address=first.listen_address)
            with pytest.raises(ListenFailed):
                await second.start()
            await second.stop()
        finally:
            await cluster.stop_all()

    net.run(main)
