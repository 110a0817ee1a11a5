"""The ledger's hash chain on its own: canonical JSON, links, and what verification reports."""
from services.exchange.domain.ledger import GENESIS, Link, canonical, entry_hash, verify


def _chain(n: int) -> list[Link]:
    links, prev = [], GENESIS
    for seq in range(1, n + 1):
        entry = {"seq": seq, "recipient": "cardiology", "patient": "p-1", "note": "café"}
        digest = entry_hash(entry, prev)
        links.append(Link(seq, canonical(entry), prev, digest))
        prev = digest
    return links


def test_canonical_json_ignores_key_order_and_whitespace():
    assert canonical({"b": 1, "a": [1, 2]}) == canonical({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'
    assert entry_hash({"b": 1, "a": 2}, GENESIS) == entry_hash({"a": 2, "b": 1}, GENESIS)


def test_an_intact_chain_with_its_head_is_valid():
    links = _chain(3)
    verdict = verify(links, (3, links[-1].hash))
    assert verdict.valid and verdict.entries == 3 and verdict.head == links[-1].hash


def test_an_empty_ledger_is_valid_only_with_an_empty_head():
    assert verify([], None).valid
    assert not verify([], (1, "f" * 64)).valid


def test_a_changed_byte_a_removed_entry_and_a_removed_tail_are_each_reported():
    links = _chain(3)
    edited = [links[0], Link(2, links[1].entry_text.replace("café", "cafe"), links[1].prev_hash, links[1].hash),
              links[2]]
    assert [p["problem"] for p in verify(edited, (3, links[-1].hash)).problems] == ["altered"]
    gap = [links[0], links[2]]
    assert [p["problem"] for p in verify(gap, (3, links[-1].hash)).problems] == ["missing", "broken-link"]
    assert [p["problem"] for p in verify(links[:2], (3, links[-1].hash)).problems] == ["head-mismatch"]


def test_verifying_after_a_checkpoint_hashes_only_the_entries_after_it():
    from services.exchange.domain.ledger import Checkpoint
    links = _chain(5)
    start = Checkpoint(3, links[2].hash)
    verdict = verify(links[3:], (5, links[-1].hash), start, stored_at_start=links[2].hash)
    assert verdict.valid and (verdict.checked, verdict.entries, verdict.after) == (2, 5, 3)
    assert verdict.head == links[-1].hash


def test_a_chain_rewritten_up_to_the_checkpoint_is_reported_at_the_checkpoint():
    from services.exchange.domain.ledger import Checkpoint
    links = _chain(5)
    verdict = verify(links[3:], (5, links[-1].hash), Checkpoint(3, "a" * 64), stored_at_start=links[2].hash)
    assert [(p["seq"], p["problem"]) for p in verdict.problems] == [(3, "altered"), (4, "broken-link")]


def test_a_checkpoint_past_the_end_of_the_ledger_is_reported_missing():
    from services.exchange.domain.ledger import Checkpoint
    links = _chain(2)
    verdict = verify([], (2, links[-1].hash), Checkpoint(7, "a" * 64), stored_at_start=None)
    assert [p["problem"] for p in verdict.problems] == ["missing", "head-mismatch"]
