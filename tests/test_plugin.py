"""The pytest plugin works from outside the repository, through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

OUTSIDE_TEST = textwrap.dedent(
    """
    from n2net_privacy.egress import Purpose
    from n2net_privacy.permissions import PermissionService, PermissionStatus
    from n2net_privacy.simulation import Answer


    def test_fixtures_from_the_installed_plugin(
        ios_provider, scripted_user, address_book, egress, ingest_server, gravatar_stand_in
    ):
        scripted_user.push(Answer.DENY)
        assert PermissionService(ios_provider).request("contacts") is PermissionStatus.BLOCKED
        assert len(address_book) == 50
        assert ingest_server.url.startswith("http://127.0.0.1:")
        assert gravatar_stand_in.request_count == 0
        egress.expect_requests(min=0)  # this test sends nothing on purpose
        egress.assert_no_pii()


    def test_assert_no_pii_fails_on_a_leak(egress, address_book, gravatar_stand_in):
        email = next(e for c in address_book for e in c.emails)
        client = egress.client(Purpose.GRAVATAR)
        client.request("GET", gravatar_stand_in.base_url + "x?e=" + email)
        try:
            egress.assert_no_pii()
        except AssertionError as exc:
            assert email not in str(exc)
            assert "pii.email" in str(exc)
        else:
            raise AssertionError("the leak was not caught")
    """
)


def test_plugin_fixtures_work_in_a_foreign_project(tmp_path: Path) -> None:
    (tmp_path / "test_outside.py").write_text(OUTSIDE_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
