"""Supply-chain item tracker: create items, hand over custody, attach checkpoint evidence.

Only an item's current custodian may hand it over or attach evidence (a 32-byte hash of an
off-chain document and a short note). Every step is kept, so `history` returns the item's
full chain of custody.
"""

from gongshi.contract import Map, ctx, emit, export, require

NOTE_LENGTH_MAX = 280
HISTORY_MAX = 1000

items = Map(key=str)
steps = Map(key=(str, int))


def record(item_id, entry, step):
    count = entry["steps"]
    require(count < HISTORY_MAX, "item history is full")
    step["height"] = ctx.height
    step["time_ms"] = ctx.timestamp_ms
    step["by"] = ctx.sender
    steps[item_id, count] = step
    entry["steps"] = count + 1
    items[item_id] = entry


def custodian_item(item_id):
    entry = items[item_id]
    require(entry is not None, "unknown item")
    require(entry["custodian"] == ctx.sender, "only the current custodian may do this")
    return entry


@export
def create_item(item_id, description):
    require(isinstance(item_id, str) and len(item_id) in range(1, 65), "item id: 1 to 64 chars")
    require(isinstance(description, str) and len(description) <= NOTE_LENGTH_MAX, "description")
    require(item_id not in items, "item already exists")
    entry = {"custodian": ctx.sender, "description": description, "steps": 0}
    record(item_id, entry, {"kind": "created", "custodian": ctx.sender})
    emit("ItemCreated", item_id=item_id, custodian=ctx.sender)


@export
def hand_over(item_id, to):
    require(isinstance(to, bytes) and len(to) == 20, "recipient must be an address")
    entry = custodian_item(item_id)
    require(to != entry["custodian"], "already the custodian")
    entry["custodian"] = to
    record(item_id, entry, {"kind": "handover", "custodian": to})
    emit("CustodyChanged", item_id=item_id, custodian=to)


@export
def attach_checkpoint(item_id, evidence_hash, note):
    require(isinstance(evidence_hash, bytes) and len(evidence_hash) == 32, "hash: 32 bytes")
    require(isinstance(note, str) and len(note) <= NOTE_LENGTH_MAX, "note too long")
    entry = custodian_item(item_id)
    record(item_id, entry, {"kind": "checkpoint", "evidence": evidence_hash, "note": note})
    emit("Checkpoint", item_id=item_id, evidence=evidence_hash)


@export(read_only=True)
def item(item_id):
    return items[item_id]


@export(read_only=True)
def history(item_id):
    entry = items[item_id]
    require(entry is not None, "unknown item")
    return [steps[item_id, n] for n in range(entry["steps"])]
