"""The conformance suite as a pytest base class: one named test per rule.

Why one test per rule: a failure then says "test_source_ids_stable" and why, and an author
can skip a rule explicitly. ``_run.check_connector`` runs the same checks without pytest.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from ..connector import Connector
from . import _checks as c
from ._source import ConformanceSource


class ConnectorConformance:
    """Subclass as ``TestMyConnector(ConnectorConformance)``, set ``connector_class`` and
    override the ``conformance_source`` fixture::

        class TestMyCRM(ConnectorConformance):
            connector_class = MyCRMConnector

            @pytest.fixture
            def conformance_source(self, fake_mycrm):
                return ConformanceSource(
                    options={"token": "tok-secret-1", "base_url": fake_mycrm.base_url},
                    change=lambda: [fake_mycrm.touch("42")],
                    refused_options={"token": "wrong-secret-2", "base_url": fake_mycrm.base_url},
                )

    Set ``incremental = False`` for a connector that ignores ``state`` (its incremental
    checks are then skipped with that reason), ``check_registration = False`` to skip the
    entry-point check (e.g. before the package is installed).
    """

    connector_class: ClassVar[type[Connector]]
    incremental: ClassVar[bool] = True
    check_registration: ClassVar[bool] = True

    @pytest.fixture
    def conformance_source(self) -> ConformanceSource:
        pytest.fail(f"{type(self).__name__} must override the conformance_source fixture")

    def test_metadata(self) -> None:
        c.check_metadata(self.connector_class)

    def test_registered(self) -> None:
        if not self.check_registration:
            pytest.skip("check_registration = False")
        c.check_registered(self.connector_class)

    def test_options_valid(self, conformance_source: ConformanceSource) -> None:
        c.check_options_valid(self.connector_class, conformance_source)

    def test_options_missing_required(self) -> None:
        c.check_options_missing_required(self.connector_class)

    def test_options_all_problems_at_once(self, conformance_source: ConformanceSource) -> None:
        c.check_options_all_problems_at_once(self.connector_class, conformance_source)

    def test_secrets_from_env(self, conformance_source: ConformanceSource) -> None:
        if not any(o.secret and o.name in conformance_source.options
                   for o in self.connector_class.options):
            pytest.skip("no secret option given in the ConformanceSource")
        c.check_secrets_from_env(self.connector_class, conformance_source)

    def test_secrets_not_shown(self, conformance_source: ConformanceSource) -> None:
        c.check_secrets_not_shown(self.connector_class, conformance_source)

    def test_secrets_not_logged(self, conformance_source: ConformanceSource) -> None:
        c.check_secrets_not_logged(self.connector_class, conformance_source)

    def test_secrets_not_in_errors(self, conformance_source: ConformanceSource) -> None:
        if conformance_source.refused_options is None:
            pytest.skip("no refused_options in the ConformanceSource")
        c.check_secrets_not_in_errors(self.connector_class, conformance_source)

    def test_records_shape(self, conformance_source: ConformanceSource) -> None:
        c.check_records_shape(self.connector_class, conformance_source)

    def test_source_ids_unique(self, conformance_source: ConformanceSource) -> None:
        c.check_source_ids_unique(self.connector_class, conformance_source)

    def test_source_ids_stable(self, conformance_source: ConformanceSource) -> None:
        c.check_source_ids_stable(self.connector_class, conformance_source)

    def test_state_json(self, conformance_source: ConformanceSource) -> None:
        c.check_state_json(self.connector_class, conformance_source)

    def test_incremental_unchanged(self, conformance_source: ConformanceSource) -> None:
        if not self.incremental:
            pytest.skip("connector declared not incremental")
        c.check_incremental_unchanged(self.connector_class, conformance_source)

    def test_incremental_changed(self, conformance_source: ConformanceSource) -> None:
        if not self.incremental:
            pytest.skip("connector declared not incremental")
        c.check_incremental_changed(self.connector_class, conformance_source)
