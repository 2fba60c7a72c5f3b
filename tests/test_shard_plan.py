"""The shard plan: long sequences alone, short ones packed."""

import pytest

from seqfm import shard_plan
from seqfm.errors import InputError


def test_shard_plan_packs_small_sequences():
    """Long sequences make shards of their own, shorter ones are packed in the genome's order
    up to the shard size; every sequence is in exactly one shard, and names are safe and
    unique."""
    sizes = {"chr1": 100, "chr2": 80, "s1": 10, "s2": 20, "s3": 30, "odd/name": 5, "chrM": 16,
             "big": 50, "a/b": 60, "a_b": 70}
    plan = shard_plan.plan_shards(sizes, list(sizes), 50)
    assert plan == [("chr1", ["chr1"]), ("chr2", ["chr2"]), ("s1+1", ["s1", "s2"]),
                    ("s3+1", ["s3", "odd/name"]), ("chrM", ["chrM"]), ("big", ["big"]),
                    ("a_b", ["a/b"]), ("a_b_2", ["a_b"])]
    assert [c for _, cs in plan for c in cs] == list(sizes)
    assert shard_plan.plan_shards(sizes, ["s1", "s2", "s3"], 1000) == [("s1+2", ["s1", "s2", "s3"])]
    with pytest.raises(InputError):
        shard_plan.plan_shards(sizes, ["s1"], 0)
