"""The API load benchmark reads wrk's report (``wrk --latency``, as Debian's wrk 4.1 prints it):
requests, time, bytes, p50/p99/max, socket errors and non-2xx answers."""

from __future__ import annotations

import pytest
from bench.api_load import STATUS_PATH, LoadResult, parse_wrk

CLEAN = """Running 20s test @ http://127.0.0.1:41234/v6/status/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.61ms    4.02ms 155.10ms   97.12%
    Req/Sec     8.80k   512.33     9.61k    81.00%
  Latency Distribution
     50%    4.90ms
     75%    5.60ms
     90%    6.80ms
     99%   82.50ms
  174194 requests in 20.01s, 3.49GB read
Requests/sec:   8705.35
Transfer/sec:    178.60MB
"""

TROUBLED = """Running 1s test @ http://127.0.0.1:8765/nonexistent
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.83ms    1.03ms  16.18ms   95.48%
    Req/Sec     2.23k   229.89     2.48k    63.64%
  Latency Distribution
     50%  812.00us
     75%    2.00ms
     90%    2.40ms
     99%    1.02s
  2441 requests in 1.10s, 1.21MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 41
Requests/sec:   2220.11
Transfer/sec:      1.10MB
"""


def test_a_clean_run() -> None:
    result = parse_wrk(CLEAN, LoadResult(path=STATUS_PATH, clients=50, seconds=20, gzip=True))
    assert result.requests == 174194
    assert result.seconds == pytest.approx(20.01)
    assert result.rps == pytest.approx(174194 / 20.01)
    assert result.bytes == int(3.49 * 1024**3)
    assert (result.pct(0.5), result.pct(0.99), result.pct(1.0)) == pytest.approx((4.9, 82.5, 155.1))
    assert result.statuses == {200: 174194}
    assert result.errors == 0


def test_errors_non_2xx_and_units() -> None:
    result = parse_wrk(TROUBLED, LoadResult(path=STATUS_PATH, clients=4, seconds=1))
    assert result.statuses == {200: 2400, 0: 41}
    assert result.errors == 5
    assert (result.pct(0.5), result.pct(0.99)) == pytest.approx((0.812, 1020.0))
