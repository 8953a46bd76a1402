"""Ids as Camunda Run's generator makes them (UUIDs), landing in the partition asked for."""

from __future__ import annotations

import uuid
import zlib

import pytest

from redtask.broker.keys import Keys
from redtask.broker.store_base import new_task_id, partition_task_id


def test_a_task_id_is_a_random_uuid4() -> None:
    ids = {new_task_id() for _ in range(1000)}
    assert len(ids) == 1000
    for task_id in ids:
        assert str(uuid.UUID(task_id)) == task_id
        assert uuid.UUID(task_id).version == 4


@pytest.mark.parametrize("partitions", [1, 2, 3, 4, 7, 16, 1000, 1024])
def test_a_partition_id_is_a_uuid4_of_that_partition(partitions: int) -> None:
    keys = Keys("ns", partitions)
    for partition in {0, 1 % partitions, partitions // 2, partitions - 1}:
        ids = [partition_task_id(partition, partitions) for _ in range(300)]
        assert len(set(ids)) == 300
        for task_id in ids:
            assert keys.partition_of(task_id) == partition
            assert zlib.crc32(task_id.encode()) % partitions == partition
            assert str(uuid.UUID(task_id)) == task_id
            assert uuid.UUID(task_id).version == 4
            assert uuid.UUID(task_id).variant == uuid.RFC_4122


def test_the_highest_crc_values_are_reachable() -> None:
    # the last slot of a partition ends near 2^32 - 1: the correction must still land there
    partitions = 0xFFFFFFFF  # partition 0 has two slots (0 and 2^32 - 1), the others one
    seen = {zlib.crc32(partition_task_id(0, partitions).encode()) for _ in range(64)}
    assert seen == {0, 0xFFFFFFFF}
    assert zlib.crc32(partition_task_id(0xFFFFFFFE, partitions).encode()) == 0xFFFFFFFE
