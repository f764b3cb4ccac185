"""Secrets never reach the logs: API tokens, passwords, session cookies, database passwords.

A real server and a real worker run at DEBUG level with their output captured; the test
signs in with a password, calls the API with a token (good, revoked and mistyped), and has
the worker run a job that fails; then it searches every byte of both logs.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.models import Job, Role
from app.queries import jobs as job_queries
from app.queries import users as user_queries
from harness.databases import backend, fresh_database, migrated_engine
from harness.processes import free_port, kill_group, rlhf_env, start_server
from tests.factories import make_comparison, make_project, make_token, make_user

PASSWORD = "a-very-secret-password-7f3a"
DB_PASSWORD = "db-secret-91c2"


def _with_password(url: str) -> str:
    # PostgreSQL here trusts local connections, so a password in the URL is accepted and
    # ignored: enough to check that nothing prints it.
    if backend() != "postgres":
        return url
    return make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)


def _status(engine: Engine, job_id: int) -> str:
    # A short transaction each time: on SQLite an open one would hold the write lock.
    with Session(engine) as session:
        return session.get_one(Job, job_id).status


def test_no_secret_in_server_or_worker_logs(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as plain_url:
        url = _with_password(plain_url)
        engine = migrated_engine(plain_url, tmp_path)
        with Session(engine, expire_on_commit=False) as session, session.begin():
            admin = make_user(session, role=Role.admin, password=PASSWORD)
            _, token = make_token(session, admin)
            revoked_row, revoked = make_token(session, admin)
            user_queries.revoke_token(session, revoked_row)
            project = make_project(session)
            make_comparison(session, project)
            # No labels: the worker fails this job at once, logging why.
            job_id = job_queries.enqueue_job(
                session, project_id=project.id, kind="reward", params={}, max_attempts=1
            ).id
        env = rlhf_env(url, tmp_path, RLHF_LOG_LEVEL="DEBUG", RLHF_WORKER_POLL_S="0.2")
        server_log = tmp_path / "server.log"
        worker_log = tmp_path / "worker.log"
        port = free_port()
        server = start_server(env, port, log=server_log)
        worker = None
        cookie = ""
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                for secret in (token, revoked, token[:-2] + "xx"):
                    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
                    client.get(f"/api/v1/jobs?token={secret}")
                page = client.get("/login")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf
                client.post(
                    "/login",
                    data={
                        "username": admin.username,
                        "password": "wrong" + PASSWORD,
                        "csrf_token": csrf.group(1),
                    },
                )
                signed_in = client.post(
                    "/login",
                    data={
                        "username": admin.username,
                        "password": PASSWORD,
                        "csrf_token": csrf.group(1),
                    },
                    follow_redirects=False,
                )
                assert signed_in.status_code == 303
                cookie = client.cookies["rlhf_session"]
                assert client.get("/api/v1/me").status_code == 200
            with open(worker_log, "wb") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "app", "worker", "--id", "log-test"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                deadline = time.monotonic() + 90
                while _status(engine, job_id) != "failed" and time.monotonic() < deadline:
                    time.sleep(0.3)
                assert _status(engine, job_id) == "failed"
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)
        finally:
            if worker is not None and worker.poll() is None:
                kill_group(worker)
            kill_group(server, signal.SIGTERM)
            engine.dispose()

    server_text = server_log.read_bytes()
    worker_text = worker_log.read_bytes()
    assert b"GET /api/v1/me" in server_text, "DEBUG logging captured no requests"
    assert worker_text, "the worker logged nothing"
    secrets = {
        "token": token,
        "revoked token": revoked,
        "password": PASSWORD,
        "session cookie": cookie,
    }
    if backend() == "postgres":
        secrets["database password"] = DB_PASSWORD
    for name, secret in secrets.items():
        for log_name, text in (("server", server_text), ("worker", worker_text)):
            assert secret.encode() not in text, f"the {name} is in the {log_name} log"
    print(
        f"\nlogs: {len(server_text)} bytes of server log and {len(worker_text)} of worker log "
        f"hold none of {len(secrets)} secrets"
    )
