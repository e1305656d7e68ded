"""``to_jsonable``'s JSON view, written by orjson, with per-class plans built from type hints.

``to_jsonable`` walks every object with ``dataclasses.fields`` and ``isinstance`` checks and
costs about eight times the parse itself on a large file. orjson writes dataclasses natively
(field by field in definition order, dates as ISO strings, exactly as ``to_jsonable`` does), so
only what orjson cannot decide is done in Python:

- every ``Decimal`` that reaches orjson is written as money (two decimals) by ``_default``,
  because almost all of them are money;
- the few Decimal fields that are not money (units, quantities, DRG weight) are turned into
  ``str`` beforehand. A model holding such a field, or a model that holds one, becomes a dict
  only when one of them is set; otherwise orjson gets the model object itself;
- anything whose type is not understood here goes through ``to_jsonable`` itself.

``tests/unit/test_parse_json.py`` checks the output equals ``to_jsonable``'s on every fixture
and corpus file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import Any

import orjson

from schemas.serialize import MONEY_FIELDS, money, to_jsonable

#: converts a value, returning the very same object when orjson may write it as it is
Convert = Callable[[Any], Any]

#: values orjson writes exactly as ``to_jsonable`` returns them (Decimals: see ``_default``);
#: dates and naive times as ISO 8601, like ``isoformat``
_NATIVE: tuple[type, ...] = (str, int, bool, float, type(None), dt.date, dt.time)


def _default(obj: Any) -> Any:
    """orjson's hook: a Decimal here is money (the others were converted); else to_jsonable.

    Most amounts already have two decimals (exponent -2, written "123.45"): their ``str`` is the
    money string, at a fraction of the cost of ``quantize``.
    """
    if obj.__class__ is Decimal:
        text = str(obj)
        if text[-3:-2] == "." and "E" not in text:
            return text
        return money(obj)
    return to_jsonable(obj)


@dataclasses.dataclass
class _Plan:
    """How one model class is converted; ``simple``: only optional non-money Decimals."""

    convert: Convert
    simple_fields: tuple[str, ...] = ()


_plans: dict[type, _Plan | None] = {}
_UNPLANNED = _Plan(lambda v: v)
#: empty containers need no converting
_EMPTY_AS_IS = (list, dict, tuple)


def _to_str(v: Any) -> Any:
    return str(v) if v.__class__ is Decimal else to_jsonable(v)


def _dict_values(name: str, value_type: Any) -> Convert | None:
    """``to_jsonable`` converts a dict's values under their own key ("amount" in ``amounts``)."""
    if value_type is Decimal:
        if name == "amounts":
            return None  # every value is money: _default
        return lambda v: {k: money(x) if k in MONEY_FIELDS else str(x) for k, x in v.items()}
    if value_type in _NATIVE:
        return None
    return lambda v: to_jsonable(v, name)


def _list_of(plan: _Plan) -> Convert:
    """A list of models: the list itself when no element needs converting."""
    convert = plan.convert
    if len(plan.simple_fields) == 1:  # e.g. Adjustment.quantity
        getter = attrgetter(plan.simple_fields[0])

        def convert_one(v: list[Any]) -> Any:
            if list(map(getter, v)).count(None) == len(v):  # in C, no Python call per item
                return v
            return [convert(x) for x in v]

        return convert_one
    if plan.simple_fields:
        getters = [attrgetter(f) for f in plan.simple_fields]

        def convert_simple(v: list[Any]) -> Any:
            n = len(v)
            if all(list(map(g, v)).count(None) == n for g in getters):
                return v
            return [convert(x) for x in v]

        return convert_simple

    def convert_each(v: list[Any]) -> Any:
        return [convert(x) for x in v]  # usually some item changes (an 835 line's units)

    return convert_each


def _field(tp: Any, name: str) -> tuple[Convert | None, bool]:
    """(converter of a field annotated ``tp``, whether it is an optional non-money Decimal)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Decimal:
        return (None if name in MONEY_FIELDS else _to_str), False
    if tp in _NATIVE:
        return None, False
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            inner, _ = _field(options[0], name)
            return inner, inner is _to_str
        plans = {o: plan_for(o) for o in options if isinstance(o, type)}

        def by_type(v: Any) -> Any:
            cls = v.__class__
            if cls not in plans:
                return to_jsonable(v, name)
            plan = plans[cls]
            return v if plan is None else plan.convert(v)

        return by_type, False
    if origin is list and len(args) == 1:
        item = args[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            plan = plan_for(item)
            return (None if plan is None else _list_of(plan)), False
        inner, _ = _field(item, name)
        return (None if inner is None else (lambda v: [inner(x) for x in v])), False
    if origin is dict and len(args) == 2 and args[0] is str:
        return _dict_values(name, args[1]), False
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        plan = plan_for(tp)
        return (None if plan is None else plan.convert), False
    return (lambda v: to_jsonable(v, name)), False


def plan_for(cls: type) -> _Plan | None:
    """The plan of one model class; None when orjson can always write its objects as they are."""
    if cls in _plans:
        return _plans[cls]
    _plans[cls] = _Plan(lambda v: to_jsonable(v))  # a recursive model goes through to_jsonable
    hints = typing.get_type_hints(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    patches: list[tuple[int, Convert]] = []
    simple: list[str] = []
    for i, name in enumerate(names):
        field_convert, optional_decimal = _field(hints[name], name)
        if field_convert is not None:
            patches.append((i, field_convert))
            if optional_decimal:
                simple.append(name)
    if not patches:
        _plans[cls] = None
        return None
    get = attrgetter(*names) if len(names) > 1 else (lambda o: (getattr(o, names[0]),))

    def convert(obj: Any) -> Any:
        values = get(obj)
        changed: dict[str, Any] | None = None
        for i, conv in patches:
            v = values[i]
            if v is None or (not v and v.__class__ in _EMPTY_AS_IS):
                continue
            new = conv(v)
            if new is not v:
                if changed is None:
                    changed = dict(zip(names, values, strict=True))
                changed[names[i]] = new
        return obj if changed is None else changed

    all_simple = len(simple) == len(patches)
    plan = _Plan(convert, tuple(simple) if all_simple else ())
    _plans[cls] = plan
    return plan


def jsonable(obj: Any) -> Any:
    """What orjson should write for a model object or a list of them (``to_jsonable``'s view)."""
    cls: type = type(obj)
    plan = _plans.get(cls, _UNPLANNED)
    if plan is _UNPLANNED:
        if isinstance(obj, list | tuple):
            return [jsonable(x) for x in obj]
        plan = plan_for(cls) if dataclasses.is_dataclass(obj) else None
    return obj if plan is None else plan.convert(obj)


def dumps(obj: Any, *, indent: int = -1) -> bytes:
    """``obj`` (a model, or lists and dicts of them) as JSON bytes; ``indent`` >= 0 pretty-prints
    with two spaces per level, the first line unindented and the others shifted ``indent`` levels
    (to nest the output inside a document written piece by piece)."""
    value = jsonable(obj)
    if indent < 0:
        return orjson.dumps(value, default=_default)
    text = orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2)
    return text.replace(b"\n", b"\n" + b"  " * indent) if indent else text
