"""Label ingest over HTTP: N simulated annotators against `rlhf serve --workers 2` on PostgreSQL.

Each annotator loops: GET /api/v1/projects/{id}/next, then POST /api/v1/labels with the key it
was given. The run prints labels per second, p50/p99 latency per request kind, and checks
that the labels in the database are exactly the acknowledged ones (none lost, none extra).
For scale it also prints this machine's raw rate of single-row committed inserts into the
labels table (one connection, autocommit, no HTTP).

    .venv/bin/python bench/ingest.py [--annotators 64] [--seconds 20] [--comparisons 200000]
        [--cycle two|combined]

`--cycle combined` measures the one-request cycle instead (POST /projects/{id}/labels,
answered with the next pair); the default two-request cycle is the issue's figure.

Everything runs on 127.0.0.1: a fresh database is created and dropped, the server is
started and stopped by the script.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.config import Settings  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from bench.pg_scratch import database_name, fresh_database  # noqa: E402

# ---------------------------------------------------------------- database set-up


def seed(url: str, comparisons: int, annotators: int) -> tuple[int, list[str]]:
    """A project with `comparisons` pairs (labels per comparison 1) and one token per annotator."""
    prompts = max(1, comparisons // 10)
    with psycopg.connect(url, autocommit=False) as conn:
        project_id = conn.execute(
            "INSERT INTO projects (name, guidelines, labels_per_comparison, generation_settings,"
            " training_settings, created_at) VALUES ('bench', '', 1, '{}', '{}', now())"
            " RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO prompts (id, project_id, messages, content_hash, source, created_at)"
            " SELECT g, %s, jsonb_build_array(jsonb_build_object('role', 'user', 'content',"
            " 'Bench question ' || g || ': which answer is more helpful?')),"
            " md5('p' || g) || md5('q' || g), 'bench', now() FROM generate_series(1, %s) g",
            (project_id, prompts),
        )
        conn.execute(
            "INSERT INTO responses (id, prompt_id, text, content_hash, source, created_at)"
            " SELECT 2 * g - 2 + s, 1 + g %% %s,"
            " 'Answer ' || s || ' to pair ' || g || '. ' || repeat('Some plausible text. ', 15),"
            " md5(s || ':' || g) || md5(g || ':' || s), 'bench', now()"
            " FROM generate_series(1, %s) g, generate_series(1, 2) s",
            (prompts, comparisons),
        )
        conn.execute(
            "INSERT INTO comparisons (id, project_id, prompt_id, response_a_id, response_b_id,"
            " pair_hash, priority, source, label_count, created_at)"
            " SELECT g, %s, 1 + g %% %s, 2 * g - 1, 2 * g, md5('c' || g) || md5('d' || g), 0,"
            " 'bench', 0, now() FROM generate_series(1, %s) g",
            (project_id, prompts, comparisons),
        )
        for table in ("prompts", "responses", "comparisons"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        tokens = []
        for i in range(annotators):
            user_id = conn.execute(
                "INSERT INTO users (username, role, is_active, failed_logins, created_at)"
                " VALUES (%s, 'annotator', true, 0, now()) RETURNING id",
                (f"bench{i}",),
            ).fetchone()[0]  # type: ignore[index]
            plain = "rlhf_" + secrets.token_urlsafe(32)
            conn.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at)"
                " VALUES (%s, 'bench', %s, %s, now())",
                (user_id, hashlib.sha256(plain.encode()).hexdigest(), plain[:12]),
            )
            tokens.append(plain)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return project_id, tokens


def raw_insert_rate(url: str, seconds: float) -> float:
    """Single-row INSERTs into labels, each its own committed transaction, one connection."""
    with psycopg.connect(url, autocommit=True) as conn:
        user_id = conn.execute(
            "INSERT INTO users (username, role, is_active, failed_logins, created_at)"
            " VALUES ('rawbench', 'annotator', true, 0, now()) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        ids = [r[0] for r in conn.execute("SELECT id FROM comparisons ORDER BY id LIMIT 200000")]
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and done < len(ids):
            conn.execute(
                "INSERT INTO labels (comparison_id, annotator_id, source, choice, feedback,"
                " flag_harmful, flag_untrue, flag_unhelpful, shown_swapped, time_spent_ms,"
                " idempotency_key, created_at) VALUES (%s, %s, 'human', 'better', '', false,"
                " false, false, false, 1000, %s, now())",
                (ids[done], user_id, f"raw-{done}"),
            )
            done += 1
        elapsed = time.perf_counter() - start
        conn.execute("DELETE FROM labels WHERE annotator_id = %s", (user_id,))
    return done / elapsed


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(
    url: str, workers: int, data_dir: Path, start_timeout: float = 60
) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {
        **os.environ,
        "RLHF_DATABASE_URL": url,
        "RLHF_DATA_DIR": str(data_dir),
        "RLHF_SECRET_KEY": secrets.token_urlsafe(40),
        "RLHF_LOG_LEVEL": "WARNING",
    }
    rlhf = Path(sys.executable).with_name("rlhf")
    proc = subprocess.Popen(
        [str(rlhf), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in sock.recv(200):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        time.sleep(1.0)  # the second worker may answer a little later than the first
        print(f"server pid {proc.pid} on 127.0.0.1:{port}", flush=True)
        yield proc.pid, port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---------------------------------------------------------------- CPU accounting


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database` (other databases excluded:
    the machine may serve other work at the same time)."""
    found = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and cmdline and f" {database} " in f" {cmdline[0]} ":
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            found[proc.pid] = times.user + times.system
    return found


@dataclass
class CpuWindow:
    """CPU seconds each party used while the load was measured: independent of other load
    on the machine, so it tells what the same run costs on an idle one."""

    server: float = 0.0
    database: float = 0.0
    client: float = 0.0


# ---------------------------------------------------------------- client


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less than the server."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.auth = f"Authorization: Bearer {token}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + self.auth
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.writer.write(head + b"\r\n" + (body or b""))
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected here")
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"next": [], "label": [], "label+next": []}
    )
    acknowledged: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)
    empty: int = 0
    busy: int = 0


def _label_body(pair: dict[str, object]) -> bytes:
    comparison_id = int(pair["comparison_id"])  # type: ignore[call-overload]
    return orjson.dumps(
        {
            "comparison_id": comparison_id,
            "idempotency_key": pair["idempotency_key"],
            "choice": ("better", "worse", "same")[comparison_id % 3],
            "time_spent_ms": 1500,
        }
    )


async def annotator(
    port: int, token: str, project_id: int, stop_at: float, measure_from: float, tally: Tally
) -> None:
    """The issue's cycle: GET next, then POST the label."""
    conn = HttpConnection(port, token)
    clock = time.perf_counter
    try:
        while clock() < stop_at:
            t0 = clock()
            status, body = await conn.request("GET", f"/api/v1/projects/{project_id}/next")
            t1 = clock()
            if status in (204, 503):
                await _pause(tally, status)
                continue
            if status != 200:
                tally.errors[f"next {status}"] = tally.errors.get(f"next {status}", 0) + 1
                continue
            pair = orjson.loads(body)
            status, body = await conn.request("POST", "/api/v1/labels", _label_body(pair))
            t2 = clock()
            if status in (200, 201):
                # Every acknowledged label counts, including those of the warm-up.
                tally.acknowledged.add(pair["idempotency_key"])
            else:
                tally.errors[f"label {status}"] = tally.errors.get(f"label {status}", 0) + 1
            if t0 >= measure_from:
                tally.latencies["next"].append(t1 - t0)
                tally.latencies["label"].append(t2 - t1)
    finally:
        await conn.close()


async def combined_annotator(
    port: int, token: str, project_id: int, stop_at: float, measure_from: float, tally: Tally
) -> None:
    """The one-request cycle: POST /projects/{id}/labels answers with the next pair."""
    conn = HttpConnection(port, token)
    clock = time.perf_counter
    pair = None
    try:
        while clock() < stop_at:
            if pair is None:
                status, body = await conn.request("GET", f"/api/v1/projects/{project_id}/next")
                if status != 200:
                    await _pause(tally, status)
                    continue
                pair = orjson.loads(body)
            t0 = clock()
            path = f"/api/v1/projects/{project_id}/labels"
            status, body = await conn.request("POST", path, _label_body(pair))
            t1 = clock()
            if status in (200, 201):
                tally.acknowledged.add(pair["idempotency_key"])
                pair = orjson.loads(body)["next"]
            elif status == 503:
                await _pause(tally, status)  # retried with the same key
                continue
            else:
                tally.errors[f"label {status}"] = tally.errors.get(f"label {status}", 0) + 1
                pair = None
            if t0 >= measure_from:
                tally.latencies["label+next"].append(t1 - t0)
    finally:
        await conn.close()


async def _pause(tally: Tally, status: int) -> None:
    if status == 204:
        tally.empty += 1
    elif status == 503:
        tally.busy += 1
    else:
        tally.errors[f"next {status}"] = tally.errors.get(f"next {status}", 0) + 1
    await asyncio.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    server_pid: int,
    port: int,
    tokens: list[str],
    project_id: int,
    seconds: float,
    warmup: float,
    database: str,
    combined: bool = False,
) -> tuple[Tally, CpuWindow]:
    tally = Tally()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    parent = psutil.Process(server_pid)
    servers = [parent, *parent.children(recursive=True)]
    me = psutil.Process()

    async def account() -> CpuWindow:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        pg_before = backend_cpu(database)
        before = (cpu_seconds(servers), cpu_seconds([me]))
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        pg_after = backend_cpu(database)
        return CpuWindow(
            server=cpu_seconds(servers) - before[0],
            database=sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items()),
            client=cpu_seconds([me]) - before[1],
        )

    accounting = asyncio.ensure_future(account())
    loop = combined_annotator if combined else annotator
    await asyncio.gather(*(loop(port, t, project_id, stop_at, measure_from, tally) for t in tokens))
    return tally, await accounting


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--comparisons", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    parser.add_argument(
        "--cycle",
        choices=("two", "combined"),
        default="two",
        help="two: GET next + POST label, the issue's figure (default); combined: one"
        " POST /projects/{id}/labels per label, answered with the next pair",
    )
    args = parser.parse_args()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    with tempfile.TemporaryDirectory(prefix="rlhf-bench-") as tmp, fresh_database() as url:
        data_dir = Path(tmp)
        engine = make_engine(Settings(database_url=url, data_dir=data_dir))
        upgrade(engine)
        engine.dispose()
        t0 = time.perf_counter()
        project_id, tokens = seed(url, args.comparisons, args.annotators)
        print(
            f"seeded {args.comparisons} comparisons, {args.annotators} annotators"
            f" in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        with server(url, args.workers, data_dir) as (server_pid, port):
            tally, cpu = asyncio.run(
                drive(
                    server_pid,
                    port,
                    tokens,
                    project_id,
                    args.seconds,
                    args.warmup,
                    database_name(url),
                    args.cycle == "combined",
                )
            )
        seconds = args.seconds
        with psycopg.connect(url) as conn:
            stored = {r[0] for r in conn.execute("SELECT idempotency_key FROM labels")}
            bumped = conn.execute(
                "SELECT coalesce(sum(label_count), 0) FROM comparisons"
            ).fetchone()
            duplicates = conn.execute(
                "SELECT count(*) FROM (SELECT comparison_id FROM labels GROUP BY comparison_id"
                " HAVING count(*) > 1) d"
            ).fetchone()
        raw = raw_insert_rate(url, args.raw_seconds)

    combined = args.cycle == "combined"
    kinds = ("label+next",) if combined else ("next", "label")
    measured = len(tally.latencies[kinds[0]])
    lost = tally.acknowledged - stored
    extra = stored - tally.acknowledged
    print(
        f"annotators {args.annotators}, server workers {args.workers}, PostgreSQL,"
        f" {seconds:.0f} s measured after {args.warmup:.0f} s warm-up"
    )
    print(
        "cycle: POST /projects/{id}/labels answered with the next pair (one request a label;"
        " NOT the issue's two-request figure)"
        if combined
        else "cycle: GET /projects/{id}/next + POST /labels (two requests a label)"
    )
    print(f"labels/s            {measured / seconds:8.1f}")
    for kind in kinds:
        values = tally.latencies[kind]
        print(
            f"{kind:<10} p50 {percentile(values, 0.50) * 1000:6.1f} ms"
            f"   p99 {percentile(values, 0.99) * 1000:6.1f} ms"
            f"   mean {statistics.fmean(values) * 1000 if values else float('nan'):6.1f} ms"
            f"   n {len(values)}"
        )
    print(
        f"acknowledged {len(tally.acknowledged)}, in database {len(stored)},"
        f" lost {len(lost)}, unacknowledged extra {len(extra)},"
        f" label_count sum {bumped[0] if bumped else '?'},"
        f" comparisons with >1 label {duplicates[0] if duplicates else '?'}"
    )
    print(
        f"errors {tally.errors or 'none'}, empty-queue answers {tally.empty},"
        f" busy (503, retried) answers {tally.busy}"
    )
    if measured:
        per_label = {k: v * 1000 / measured for k, v in vars(cpu).items()}
        total = sum(per_label.values())
        print(
            f"CPU per label: server {per_label['server']:.2f} ms, database backends"
            f" {per_label['database']:.2f} ms, client {per_label['client']:.2f} ms,"
            f" total {total:.2f} ms -> {os.cpu_count()} idle cores would carry"
            f" ~{os.cpu_count() * 1000 / total:.0f} labels/s"
        )
        busy = sum(vars(cpu).values()) / seconds
        print(
            f"CPU used by this run: {busy:.2f} cores of {os.cpu_count()} (the rest went elsewhere)"
        )
    print(f"raw single-row committed INSERT into labels (1 connection): {raw:8.1f} rows/s")
    ok = not lost and not extra and not tally.errors
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
