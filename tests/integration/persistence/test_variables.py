import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sql_writes import writes
from sqlalchemy import insert

from safepoint.core.state import InstanceState
from safepoint.errors import BadUserRequest, PersistenceError
from safepoint.persistence import tables
from safepoint.persistence.store import Store
from safepoint.persistence.variables import deserialize, serialize

NewState = Callable[..., InstanceState]

AWARE = datetime(2026, 11, 24, 10, 15, 30, 250000, tzinfo=timezone(timedelta(hours=1)))

TYPED_VALUES: list[tuple[object, str]] = [
    (None, "Null"),
    (True, "Boolean"),
    (False, "Boolean"),
    (0, "Integer"),
    (2**31 - 1, "Integer"),
    (-(2**31), "Integer"),
    (2**31, "Long"),
    (-(2**63), "Long"),
    (1.5, "Double"),
    (-0.0, "Double"),
    (1e300, "Double"),
    ("", "String"),
    ("grüße, 世界\n", "String"),
    (AWARE, "Date"),
    ({"a": [1, 2.5, None, True, "x", {"b": {}}]}, "Json"),
    ([], "Json"),
    ([{"deep": [[2**70]]}], "Json"),
]


@pytest.mark.parametrize(("value", "type_name"), TYPED_VALUES)
def test_values_keep_their_camunda_type_and_value(value: object, type_name: str) -> None:
    stored_type, text = serialize(value)

    assert stored_type == type_name
    restored = deserialize(stored_type, text)
    assert restored == value
    assert type(restored) is type(value)


def test_dates_come_back_in_utc() -> None:
    restored = deserialize(*serialize(AWARE))

    assert restored == AWARE
    assert isinstance(restored, datetime) and restored.tzinfo is UTC


def test_special_floats_survive() -> None:
    """Read back as stored: NaN or an infinity stored before they were refused stays."""
    assert deserialize(*serialize(math.inf)) == math.inf
    assert math.isnan(float(str(deserialize(*serialize(math.nan)))))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (object(), "variable 'v' has type object, which cannot be stored; use None, bool"),
        ((1, 2), "variable 'v' has type tuple, which cannot be stored; use a list"),
        ({1, 2}, "variable 'v' has type set, which cannot be stored; use a list"),
        (b"raw", "has type bytes, which cannot be stored; use a base64-encoded string"),
        (Decimal("1.10"), "has type Decimal, which cannot be stored; use a float"),
        (date(2026, 1, 1), "has type date, which cannot be stored; use a timezone-aware"),
        (datetime(2026, 1, 1), "variable 'v' holds a naive datetime"),
        (2**63, "outside the 64-bit Long range"),
        ({"when": AWARE}, "has type datetime at v['when'], which cannot be stored"),
        ([1, (2,)], "has type tuple at v[1], which cannot be stored; use a list"),
        ({1: "a"}, "has a key of type int at v, which JSON cannot keep"),
        ([math.nan], "which JSON cannot represent"),
    ],
)
def test_values_that_cannot_be_stored_are_refused_with_a_hint(value: object, message: str) -> None:
    with pytest.raises(BadUserRequest, match=message.replace("(", r"\(").replace("[", r"\[")):
        serialize(value, name="v")


def test_an_unknown_stored_type_is_a_persistence_error() -> None:
    with pytest.raises(PersistenceError, match="unknown variable type 'Object'"):
        deserialize("Object", "rO0AB...")


def test_every_type_survives_the_database(store: Store, new_state: NewState) -> None:
    state = new_state("pi-1")
    state.variables["pi-1"] = {f"v{index}": value for index, (value, _) in enumerate(TYPED_VALUES)}
    with store.unit_of_work() as uow:
        uow.insert_instance(state)

    with store.unit_of_work() as uow:
        loaded = uow.load_instance("pi-1")
        assert uow.variables("pi-1") == state.variables["pi-1"]
        assert uow.variables("pi-1", "review:ai-1") == {"local": 2.5}
        assert uow.variables("pi-1", "no-such-scope") == {}

    assert loaded is not None
    assert loaded.variables == state.variables


def test_a_list_mutated_in_place_is_saved_without_being_set_again(
    store: Store, new_state: NewState, statements: list[str]
) -> None:
    # Camunda scenario 61: a delegate mutates a deserialized object without setVariable.
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        items = state.variables["pi-1"]["items"]
        assert isinstance(items, list)
        items.append("added")
        items[1]["sku"] = "B"
        statements.clear()
        uow.save_instance(state)
        assert writes(statements) == [("UPDATE", "process_instances"), ("UPDATE", "variables")]

    with store.unit_of_work() as uow:
        assert uow.variables("pi-1")["items"] == [1, {"sku": "B"}, "added"]


def test_new_changed_and_removed_variables_are_written(store: Store, new_state: NewState) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        root = state.variables["pi-1"]
        root["amount"] = 2**40  # Integer -> Long: same number text would differ in type
        root["approved"] = None
        del root["customer"]
        root["due"] = AWARE
        state.variables["sub:ai-9"] = {"counter": 1}
        uow.save_instance(state)
        root["counter"] = 2  # a second save in the same unit of work diffs against the first
        uow.save_instance(state)

    with store.unit_of_work() as uow:
        assert uow.variables("pi-1") == {
            "amount": 2**40,
            "approved": None,
            "counter": 2,
            "due": AWARE,
            "items": [1, {"sku": "A"}],
        }
        assert uow.variables("pi-1", "sub:ai-9") == {"counter": 1}


def test_a_variable_of_a_refused_type_fails_the_save_and_nothing_is_written(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with pytest.raises(BadUserRequest, match="variable 'blob' has type bytes"):
        with store.unit_of_work() as uow:
            state = uow.load_instance("pi-1")
            assert state is not None
            state.variables["pi-1"]["amount"] = 11
            state.variables["pi-1"]["blob"] = b"\x00"
            uow.save_instance(state)

    with store.unit_of_work() as uow:
        assert uow.variables("pi-1")["amount"] == 10
        instance = uow.process_instance("pi-1")
        assert instance is not None and instance.revision == 1


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_new_nan_or_infinity_is_refused_as_json_cannot_carry_it(
    store: Store, new_state: NewState, value: float
) -> None:
    """A stored NaN could never be read over the REST API or sent to a worker again."""
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with pytest.raises(BadUserRequest, match=f"variable 'ratio' holds {value}, which JSON cannot"):
        with store.unit_of_work() as uow:
            state = uow.load_instance("pi-1")
            assert state is not None
            state.variables["pi-1"]["ratio"] = value
            uow.save_instance(state)


def test_a_nan_stored_before_it_was_refused_does_not_block_the_instance(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))
    with store.engine.begin() as connection:  # as an older Safepoint stored it
        connection.execute(
            insert(tables.variables).values(
                process_instance_id="pi-1",
                scope_id="pi-1",
                name="ratio",
                type_name="Double",
                text_value="nan",
            )
        )

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        state.variables["pi-1"]["amount"] = 11
        uow.save_instance(state)

    with store.unit_of_work() as uow:
        stored = uow.variables("pi-1")
        assert stored["amount"] == 11 and math.isnan(float(str(stored["ratio"])))
