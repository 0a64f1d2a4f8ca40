"""Receivables: a creditor issues a claim on a debtor, splits it, transfers it; the debtor
settles it. Amounts are `Decimal`s (given and returned as text such as "1250.50").

Each receivable: debtor, creditor, amount, due height, status ("open" or "settled") and the
receivable it was split from, if any.
"""

from gongshi.contract import Decimal, Map, Value, ctx, emit, export, require

receivables = Map(key=int)
next_id = Value(default=1)


def load(receivable_id):
    found = receivables[receivable_id]
    require(found is not None, "unknown receivable")
    return found


def open_for_creditor(receivable_id):
    found = load(receivable_id)
    require(found["status"] == "open", "receivable is settled")
    require(found["creditor"] == ctx.sender, "only the creditor may do this")
    return found


def positive_amount(text):
    require(isinstance(text, str), "amount must be decimal text like '100.25'")
    amount = Decimal(text)
    require(amount > 0, "amount must be positive")
    return amount


def create(debtor, creditor, amount, due_height, parent):
    receivable_id = next_id.get()
    next_id.set(receivable_id + 1)
    receivables[receivable_id] = {
        "debtor": debtor,
        "creditor": creditor,
        "amount": amount,
        "due_height": due_height,
        "status": "open",
        "parent": parent,
    }
    return receivable_id


@export
def issue(debtor, amount, due_height):
    require(isinstance(debtor, bytes) and len(debtor) == 20, "debtor must be an address")
    require(debtor != ctx.sender, "a creditor cannot owe itself")
    require(isinstance(due_height, int) and due_height > ctx.height, "due height has passed")
    value = positive_amount(amount)
    receivable_id = create(debtor, ctx.sender, value, due_height, None)
    emit("Issued", id=receivable_id, debtor=debtor, creditor=ctx.sender, amount=value)
    return receivable_id


@export
def split(receivable_id, amount):
    found = open_for_creditor(receivable_id)
    part = positive_amount(amount)
    require(part < found["amount"], "a split must leave something in the original")
    found["amount"] = found["amount"] - part
    receivables[receivable_id] = found
    new_id = create(found["debtor"], found["creditor"], part, found["due_height"], receivable_id)
    emit("Split", id=receivable_id, new_id=new_id, amount=part)
    return new_id


@export
def transfer(receivable_id, to):
    require(isinstance(to, bytes) and len(to) == 20, "recipient must be an address")
    found = open_for_creditor(receivable_id)
    require(to != found["debtor"], "cannot transfer a receivable to its debtor")
    found["creditor"] = to
    receivables[receivable_id] = found
    emit("Transferred", id=receivable_id, creditor=to)


@export
def settle(receivable_id):
    found = load(receivable_id)
    require(found["status"] == "open", "receivable is already settled")
    require(found["debtor"] == ctx.sender, "only the debtor settles")
    found["status"] = "settled"
    found["settled_height"] = ctx.height
    receivables[receivable_id] = found
    late = ctx.height > found["due_height"]
    emit("Settled", id=receivable_id, amount=found["amount"], late=late)


@export(read_only=True)
def get(receivable_id):
    return load(receivable_id)


@export(read_only=True)
def outstanding(receivable_ids):
    total = Decimal(0)
    for receivable_id in receivable_ids:
        found = load(receivable_id)
        if found["status"] == "open":
            total = total + found["amount"]
    return total
