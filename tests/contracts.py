"""Contract tests written once per base class and run for every registered member (gala's
``PotentialTestBase`` is the model).

A family's contract (``tests/nbody/contract_backends.py``, ``tests/galaxy/contract_components.py``,
``tests/observe/contract_estimators.py``) subclasses :class:`RegistryContract` and names its registry.
Every test method that takes the argument ``name`` is then generated once per registry entry, with the
entry's name as the test id, at collection time: a newly registered backend, component or estimator gets
every check with no edit here or in the test files (tests/test_contracts.py shows this with a throwaway
backend registered by a test).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest


class RegistryContract:
    """Base of the contracts: generates one test per registry entry for every test taking ``name``.

    Subclasses set :attr:`registry` (name -> class) and may override :meth:`variants` (e.g. one variant
    per array module) and :meth:`marks` (e.g. ``gpu``).
    """

    #: The registry whose every entry the contract checks (name -> class).
    registry: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def variants(cls, name: str) -> list[tuple[str, dict[str, Any]]]:
        """(id suffix, settings) of each way ``name`` is checked; one plain variant by default."""
        return [("", {})]

    @classmethod
    def marks(cls, name: str, settings: dict[str, Any]) -> list[pytest.MarkDecorator]:
        """Marks of one variant (none by default)."""
        return []

    @classmethod
    def params(cls) -> list[Any]:
        """One ``pytest.param((name, settings))`` per registry entry and variant, id ``name[-suffix]``."""
        out = []
        for name in cls.registry:
            for suffix, settings in cls.variants(name):
                out.append(pytest.param((name, settings), marks=cls.marks(name, settings),
                                        id=f"{name}-{suffix}" if suffix else name))
        return out

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """pytest calls this for every test function of the class: parametrize ``name`` (and its
        ``settings``) over the registry, read now, at collection."""
        if "name" not in metafunc.fixturenames:
            return
        params = self.params()
        if not params:
            pytest.fail(f"{type(self).__name__}: the registry is empty", pytrace=False)
        metafunc.parametrize("entry", params)

    @pytest.fixture
    def name(self, entry: tuple[str, dict[str, Any]]) -> str:
        """The registry name under test."""
        return entry[0]

    @pytest.fixture
    def settings(self, entry: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        """The variant's settings (e.g. the array module)."""
        return entry[1]

