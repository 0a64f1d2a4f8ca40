"""A regulated fungible token: only listed holders may hold or receive it.

The issuer mints; the contract's admin manages the allow-list of holders; transfers move
tokens only between listed holders. Both roles are addresses fixed by `init`, which the
deployer calls once right after deployment.
"""

from gongshi.contract import Map, Value, ctx, emit, export, require

NAME = "Gongshi Regulated Token"
SYMBOL = "GRT"

balances = Map(key=bytes, default=0)
listed = Map(key=bytes, default=False)
issuer = Value()
admin = Value()
supply = Value(default=0)


@export
def init(issuer_address, admin_address):
    require(admin.get() is None, "already initialised")
    require(isinstance(issuer_address, bytes) and len(issuer_address) == 20, "bad issuer")
    require(isinstance(admin_address, bytes) and len(admin_address) == 20, "bad admin")
    issuer.set(issuer_address)
    admin.set(admin_address)
    emit("Initialised", issuer=issuer_address, admin=admin_address)


def require_amount(amount):
    require(isinstance(amount, int) and not isinstance(amount, bool), "amount must be an int")
    require(amount > 0, "amount must be positive")


@export
def allow(holder):
    require(ctx.sender == admin.get(), "only the admin manages the allow-list")
    require(isinstance(holder, bytes) and len(holder) == 20, "holder must be an address")
    listed[holder] = True
    emit("HolderAllowed", holder=holder)


@export
def disallow(holder):
    require(ctx.sender == admin.get(), "only the admin manages the allow-list")
    del listed[holder]
    emit("HolderDisallowed", holder=holder)


@export
def mint(to, amount):
    require(ctx.sender == issuer.get(), "only the issuer mints")
    require_amount(amount)
    require(listed[to], "recipient is not an allowed holder")
    balances[to] += amount
    supply.set(supply.get() + amount)
    emit("Minted", to=to, amount=amount)


@export
def transfer(to, amount):
    sender = ctx.sender
    require_amount(amount)
    require(listed[sender], "sender is not an allowed holder")
    require(listed[to], "recipient is not an allowed holder")
    balance = balances[sender]
    require(balance >= amount, "insufficient balance")
    balances[sender] = balance - amount
    balances[to] += amount
    emit("Transfer", sender=sender, to=to, amount=amount)


@export(read_only=True)
def balance_of(holder):
    return balances[holder]


@export(read_only=True)
def is_allowed(holder):
    return listed[holder]


@export(read_only=True)
def info():
    return {"name": NAME, "symbol": SYMBOL, "supply": supply.get(), "issuer": issuer.get()}
