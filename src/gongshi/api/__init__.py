"""The node's API: JSON-RPC 2.0 over HTTP and WebSocket, subscriptions, OpenRPC.

    service = ChainService(ledger=ledger, pool=mempool, context=ChainContext(...))
    hub = CommitHub(service, limits)               # hub.publish(block, receipts) per commit
    server = ApiServer(service, hub, host, port, limits)
    await server.start(); ...; await server.stop()

Modules are imported by name (`gongshi.api.service`, `gongshi.api.server`, ...); this package
imports nothing eagerly, so the SDK can use `gongshi.api.wire` without the server's
dependencies. Protocol, methods and error codes: docs/api.md.
"""
