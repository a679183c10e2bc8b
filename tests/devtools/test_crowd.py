"""Reading wrk's report (the crowd phase of `bench live`)."""

from __future__ import annotations

import pytest

from app.devtools.bench_pages import BenchError
from app.devtools.crowd import parse_wrk

WRK_REPORT = """Running 8s test @ http://127.0.0.1:8101/my
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   160.39ms   56.02ms 414.21ms   71.29%
    Req/Sec   175.57     45.70   282.00     70.00%
  Latency Distribution
     50%  162.86ms
     75%  190.00ms
     90%  230.00ms
     99%    1.20s
  2790 requests in 8.00s, 12.53MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 14
Requests/sec:    348.63
Transfer/sec:      1.57MB
"""


def test_wrk_figures_are_read_in_milliseconds_with_every_failure_counted():
    assert parse_wrk(WRK_REPORT) == {
        "rps": 348.6, "p50_ms": 162.86, "p99_ms": 1200.0, "non_2xx_3xx": 14, "socket_errors": 5,
    }  # fmt: skip


def test_a_clean_run_has_no_failures_and_microseconds_are_converted():
    clean = WRK_REPORT.replace("  Socket errors: connect 0, read 2, write 0, timeout 3\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 14\n", "").replace("162.86ms", "706.00us")
    figures = parse_wrk(clean)
    assert figures["p50_ms"] == 0.71 and figures["non_2xx_3xx"] == 0 and figures["socket_errors"] == 0


def test_a_report_without_a_rate_is_an_error_not_a_zero():
    with pytest.raises(BenchError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
