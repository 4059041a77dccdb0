"""The order the freee sandbox lists invoices in (issue 14): freee documents none, so a caller looking for one
invoice pages through every result. The chaos suite lists oldest first or shuffled to make sure it does."""

from __future__ import annotations

import pytest

from sandbox.freee import create_freee_sandbox
from tests.integration.freee_world import World


def listed(world: World, **params: object) -> list[int]:
    ids: list[int] = []
    offset = 0
    while True:
        page = world.get("/iv/invoices", offset=offset, limit=7, **params).json()["invoices"]
        ids += [i["id"] for i in page]
        if len(page) < 7:
            return ids
        offset += 7


def test_newest_first_is_the_default():
    world = World()
    partner = world.partner()
    made = [world.invoice(partner["id"])["id"] for _ in range(20)]
    assert listed(world) == sorted(made, reverse=True)


def test_oldest_first_lists_in_creation_order():
    world = World(invoice_order="oldest_first")
    partner = world.partner()
    made = [world.invoice(partner["id"])["id"] for _ in range(20)]
    assert listed(world) == made


def test_shuffled_is_one_fixed_order_per_seed_the_same_on_every_page():
    world = World(invoice_order="shuffled", invoice_order_seed=7)
    partner = world.partner()
    made = [world.invoice(partner["id"])["id"] for _ in range(40)]
    first = listed(world)
    assert sorted(first) == made  # every invoice once across the pages
    assert first not in (made, made[::-1])
    assert listed(world) == first  # paging again gives the same order
    other = World(invoice_order="shuffled", invoice_order_seed=8)
    theirs = other.partner()
    for _ in range(40):
        other.invoice(theirs["id"])
    assert listed(other) != first
    newer = world.invoice(partner["id"])["id"]  # a new invoice lands somewhere; the others keep their order
    assert [i for i in listed(world) if i != newer] == first


def test_an_unknown_order_is_refused():
    with pytest.raises(ValueError, match="invoice_order"):
        create_freee_sandbox(invoice_order="by_amount")
