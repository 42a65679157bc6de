import os
import uuid

from safepoint import ids
from safepoint.ids import new_id


def test_ids_are_version_4_uuids_written_as_uuid_writes_them() -> None:
    made = [new_id() for _ in range(3 * ids.BATCH)]

    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert len(set(made)) == len(made)


def test_every_variant_digit_is_made() -> None:
    # The fourth group starts with 8, 9, a or b: the two variant bits, two random ones.
    assert {new_id()[19] for _ in range(4 * ids.BATCH)} == set("89ab")


def test_a_forked_child_never_gives_out_its_parents_next_ids() -> None:
    new_id()  # the parent now holds ids made but not given out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its first ids, then leave at once
        os.close(read)
        os.write(write, " ".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)

    parent = {new_id() for _ in range(ids.BATCH)}
    assert len(child) == 10
    assert not child & parent
