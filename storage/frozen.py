"""``Frozen``: what a frozen dataclass gives, without the ``dataclasses`` module.

The records every one-query command builds (sessions, hits, the parsed query) were
frozen dataclasses. Importing ``dataclasses`` loads ``inspect`` and ``ast`` (~10 ms),
and each ``@dataclass`` compiles its methods with ``exec`` (~0.5 ms a class, 27 of them
on ``tether search``'s path): a third of a 110 ms ``tether search`` (issue 18,
bench/cases/cli_startup.py). A ``Frozen`` subclass behaves the same: built with
positional or keyword arguments, read-only (``FrozenInstanceError``), ``==`` and
``hash`` over its fields in order (only with an instance of the same class), the same
``repr``, copy and pickle, ``__match_args__``; and ``dataclasses.fields``,
``replace``, ``asdict``, ``astuple`` and ``is_dataclass`` see a dataclass, its
``__dataclass_fields__`` made (and ``dataclasses`` imported) when first asked for.

A subclass lists its fields, in order, in ``__slots__`` (annotated too, for type
checkers) and writes ``__init__`` with those parameters in that order, setting each
field with ``object.__setattr__``; the defaults are ``__init__``'s. ``replace`` here is
``dataclasses.replace`` for these, without importing ``dataclasses``. A field whose
default is a new object each time (``field(default_factory=dict)``) names its factory in
``_FACTORIES``, and ``__init__`` takes None for it.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar


class _DataclassFields:
    """``__dataclass_fields__`` of a ``Frozen`` class, made when first read: those of
    the frozen dataclass the class stands for (same names, annotations and defaults),
    kept on the class afterwards."""

    def __get__(self, obj: object, cls: type[Frozen]) -> dict[str, Any]:
        from dataclasses import MISSING, field, make_dataclass

        names = cls.__slots__
        init = cls.__init__
        defaults = dict(zip(reversed(names), reversed(init.__defaults__ or ()), strict=False))
        annotations: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            annotations.update(klass.__dict__.get("__annotations__", {}))
        spec = []
        for name in names:
            factory = cls._FACTORIES.get(name, MISSING)
            default = MISSING if factory is not MISSING else defaults.get(name, MISSING)
            made = field(default=default, default_factory=factory)
            spec.append((name, annotations.get(name, "Any"), made))
        fields = make_dataclass(cls.__name__, spec, frozen=True).__dataclass_fields__
        type.__setattr__(cls, "__dataclass_fields__", fields)
        return fields


class Frozen:
    """Base of a read-only record (see the module's docstring)."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    __dataclass_fields__ = _DataclassFields()
    _FACTORIES: ClassVar[dict[str, Any]] = {}
    _values: ClassVar[Any]  # the fields' values as a tuple, from an instance

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        names = cls.__dict__["__slots__"]
        params = cls.__init__.__code__.co_varnames[1 : cls.__init__.__code__.co_argcount]
        if params != names:  # a mistake in the class, seen when it is defined
            raise TypeError(f"{cls.__name__}.__init__ takes {params}, not its fields {names}")
        cls.__match_args__ = names
        get = attrgetter(*names)
        cls._values = staticmethod(get if len(names) > 1 else lambda obj: (get(obj),))

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(self) == self._values(other)

    def __hash__(self) -> int:
        return hash(self._values(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # copy, deepcopy, pickle
        return self.__class__, self._values(self)

    def __replace__(self, **changes: Any) -> Any:  # copy.replace (Python 3.13)
        return replace(self, **changes)


if TYPE_CHECKING:
    F = TypeVar("F", bound=Frozen)


def replace(obj: F, /, **changes: Any) -> F:
    """A copy of ``obj`` with ``changes`` (field names to values), as
    ``dataclasses.replace`` makes it."""
    values = {name: changes.pop(name, getattr(obj, name)) for name in obj.__slots__}
    if changes:
        raise TypeError(f"{obj.__class__.__name__} has no field {next(iter(changes))!r}")
    return obj.__class__(**values)
