"""A crowd on the signed-in dashboard, made by wrk (a maintained C load generator: a Python one
would spend the CPU it is meant to measure), beside a bare FastAPI app in the same run."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
from typing import Any

from app.devtools.bench_pages import BenchError

WRK_HINT = "the crowd phase needs wrk (Debian: apt-get install wrk); --crowd-seconds 0 leaves it out"
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(WRK_HINT)
    return path


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests a second, p50/p99 latency, non-2xx/3xx answers and socket errors from wrk's report."""

    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if not found:
            raise BenchError(f"wrk printed no {percent}% latency:\n{output}")
        return round(float(found[1]) * _UNITS_MS[found[2]], 2)

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not rate:
        raise BenchError(f"wrk printed no request rate:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": round(float(rate[1]), 1),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx_3xx": int(bad[1]) if bad else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }


def run_wrk(url: str, *, connections: int, seconds: float, cookie: str | None = None) -> dict[str, Any]:
    command = [wrk_path(), "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def check_signed_in(host: str, port: int, path: str, cookie: str) -> None:
    """wrk counts a redirect to the sign-in page as a success: make sure the page itself answers."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"{path} answered {response.status} for the bench's signed-in citizen")


def crowd(page: tuple[str, int, str, str], bare: tuple[str, int], *, seconds: float) -> dict[str, Any]:
    """At 16 and at 64 connections: the page's figures, the bare app's, and the page's share."""
    host, port, path, cookie = page
    check_signed_in(host, port, path, cookie)
    out: dict[str, Any] = {}
    for connections in (16, 64):
        run_wrk(f"http://{host}:{port}{path}", connections=connections, seconds=1, cookie=cookie)  # warm
        mine = run_wrk(f"http://{host}:{port}{path}", connections=connections, seconds=seconds, cookie=cookie)
        ceiling = run_wrk(f"http://{bare[0]}:{bare[1]}/", connections=connections, seconds=seconds)
        out[f"c{connections}"] = {
            "page": mine,
            "bare_app": ceiling,
            "page_share_of_bare_percent": round(100 * mine["rps"] / ceiling["rps"], 1) if ceiling["rps"] else None,
        }
    return out


def crowd_lines(figures: dict[str, Any]) -> list[str]:
    """The crowd's figures as a small table for people."""
    lines = [f"{'connections':>12} {'/my req/s':>10} {'bare req/s':>11} {'share':>7} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"]
    for key, row in figures.items():
        page = row["page"]
        lines.append(
            f"{key[1:]:>12} {page['rps']:>10} {row['bare_app']['rps']:>11} {row['page_share_of_bare_percent']:>6}% "
            f"{page['p50_ms']:>8} {page['p99_ms']:>8} {page['non_2xx_3xx'] + page['socket_errors']:>8}"
        )
    return lines
