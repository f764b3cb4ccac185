"""PostgreSQL stopped during load: clear 503s, never a 500, and recovery without a restart;
a restart between requests costs the annotator fast lane no failed request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine
from app.migrate import upgrade
from app.models import Role
from harness.processes import free_port, kill_group, rlhf_env, start_server
from tests.factories import make_comparison, make_project, make_token, make_user
from tests.reliability import pg_cluster

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not pg_cluster.available(), reason="PostgreSQL binaries not installed"),
]


@pytest.fixture
def cluster() -> Iterator[pg_cluster.PrivateCluster]:
    private = pg_cluster.PrivateCluster()
    private.init()
    private.start()
    try:
        yield private
    finally:
        private.destroy()


def test_outage_gives_503_then_recovers(cluster: pg_cluster.PrivateCluster, tmp_path: Path) -> None:
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE rlhf"))
    admin.dispose()
    url = cluster.url.rsplit("/", 1)[0] + "/rlhf"
    engine = make_engine(Settings(database_url=url, data_dir=tmp_path))
    upgrade(engine)
    with Session(engine) as session:
        user = make_user(session, role=Role.admin)
        _, token = make_token(session, user)
        project = make_project(session)
        make_comparison(session, project)
        annotator = make_user(session, role=Role.annotator, password=None)
        _, rater_token = make_token(session, annotator)
        session.commit()
        # `next` with a Bearer token is the fast lane's (its own pool of connections).
        lane = (f"/api/v1/projects/{project.id}/next", {"Authorization": f"Bearer {rater_token}"})
    engine.dispose()

    port = free_port()
    server = start_server(rlhf_env(url, tmp_path), port, log=tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[float, str, int, str]] = []
    stop = threading.Event()

    requests = [("/api/v1/me", {"Authorization": f"Bearer {token}"}), ("/healthz", {}), lane]

    def load() -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            while not stop.is_set():
                for path, headers in requests:
                    try:
                        r = client.get(path, headers=headers)
                        results.append((time.monotonic(), path, r.status_code, r.text))
                    except httpx.HTTPError as exc:
                        results.append((time.monotonic(), path, -1, repr(exc)))
                time.sleep(0.02)

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(2)
        cluster.stop()
        down_at = time.monotonic()
        time.sleep(4)
        # Before start(): the database accepts connections before pg_ctl returns.
        restart_at = time.monotonic()
        cluster.start()
        up_at = time.monotonic()
        time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join()
        # A restart while nobody asks: the lane's idle connections all died with it.
        cluster.stop()
        cluster.start()
        lane_after_quiet_restart = _concurrently(base, *lane, times=12)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        kill_group(server)

    statuses = [status for _, _, status, _ in results]
    assert -1 not in statuses, "the server stopped answering during the outage"
    assert 500 not in statuses, [r for r in results if r[2] == 500][:3]
    during = [r for r in results if down_at + 0.5 < r[0] < restart_at]
    assert during and all(status == 503 for _, _, status, _ in during), [
        r for r in during if r[2] != 503
    ][:5]
    assert all("unavailable" in body for _, _, _, body in during)
    after = [r for r in results if r[0] > up_at + 3]
    assert after and all(status == 200 for _, _, status, _ in after)
    assert any(path == lane[0] for _, path, _, _ in after)
    assert lane_after_quiet_restart == [200] * 12
    print(f"outage: {len(during)} requests answered 503, {len(after)} answered 200 after recovery")


def _concurrently(base: str, path: str, headers: dict[str, str], *, times: int) -> list[int]:
    """The statuses of `times` requests sent at once from as many threads."""
    statuses: list[int] = []

    def one() -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            statuses.append(client.get(path, headers=headers).status_code)

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses
