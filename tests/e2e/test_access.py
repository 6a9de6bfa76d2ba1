"""Access control on real processes: ``scale up`` prints one write token, and writes need it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import running_cluster

pytestmark = pytest.mark.slow


def test_scale_up_prints_one_token_that_authorises_writes(tmp_path: Path) -> None:
    with running_cluster(tmp_path, "sqlite", split=False) as c:
        log = c.logs["up"].read_text()
        assert len([line for line in log.splitlines() if line.startswith("API token:")]) == 1, log
        assert c.printed_tokens("up") == [c.token]
        with c.anonymous as anon:
            refused = anon.patch("/v6/scheduler/", json={"is_paused": True})
            assert refused.status_code == 401, refused.text
            assert refused.headers["WWW-Authenticate"] == "Token"
            assert anon.get("/v6/scheduler/").json()["is_paused"] is False  # reads are open
            bad = anon.patch(
                "/v6/scheduler/", json={"is_paused": True}, headers={"Authorization": "Token wrong"}
            )
            assert bad.status_code == 401
        with c.client as authorised:
            allowed = authorised.patch("/v6/scheduler/", json={"is_paused": True})
            assert allowed.status_code == 200, allowed.text
            assert authorised.get("/v6/scheduler/").json()["is_paused"] is True


def test_split_processes_use_a_token_from_the_cli_and_refuse_a_read_only_one(tmp_path: Path) -> None:
    with running_cluster(tmp_path, "sqlite", split=True) as c:
        read_only = c.create_token("--read-only")
        with c.anonymous as anon:
            assert anon.patch("/v6/scheduler/", json={"is_paused": True}).status_code == 401
            forbidden = anon.patch(
                "/v6/scheduler/", json={"is_paused": True}, headers={"Authorization": f"Token {read_only}"}
            )
            assert forbidden.status_code == 403, forbidden.text
        with c.client as authorised:
            assert authorised.patch("/v6/scheduler/", json={"is_paused": True}).status_code == 200
