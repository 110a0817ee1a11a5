"""The bench's load generator: wrk's Lua script sends the request asked for and its figures are read back."""
import os
import time
import shutil
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import load
from tests.support.servers import serving_thread

BODY = '{"patient": "p-1", "note": "a \\"quoted\\" ñ\\n"}'.encode()


def test_the_wrk_figures_are_read_from_the_scripts_last_line():
    result = load.parse_wrk("x", "Running 1s test\nPHR-BENCH 1200 2000000 200 3 1500 9000\n")
    assert (result.requests, result.errors, result.seconds) == (1000, 203, 2.0)
    assert result.rps == 500
    assert (result.percentile(0.5), result.percentile(0.99)) == (1.5, 9.0)


def test_a_lua_string_carries_any_bytes_unchanged():
    assert load._lua('a"b\\c\né') == '"a\\034b\\092c\\010\\195\\169"'


class _Strict(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        good = body == BODY and self.headers["Authorization"] == "Bearer t-1"
        self.send_response(200 if good else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed; the bench falls back to Python threads")
def test_wrk_sends_the_method_headers_and_body_and_counts_other_statuses_as_errors():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Strict)
    serving_thread(server).start()
    url = f"http://127.0.0.1:{server.server_port}/decide"
    try:
        ok = load.run_wrk("ok", url, {"Authorization": "Bearer t-1"}, 2, 1, 0, 200, "POST", BODY)
        refused = load.run_wrk("bad", url, {"Authorization": "Bearer other"}, 2, 1, 0, 200, "POST", BODY)
    finally:
        server.shutdown()
    assert ok.requests > 0 and ok.errors == 0
    assert refused.requests == 0 and refused.errors > 0


def test_the_cpu_of_a_process_and_its_children_is_read_from_proc():
    if not os.path.isdir("/proc"):
        pytest.skip("no /proc on this system; the bench leaves the CPU column empty")
    before = load.cpu_seconds([os.getpid()])
    spent = time.process_time()
    while time.process_time() - spent < 0.05:  # five clock ticks of /proc's 100 a second
        sum(i * i for i in range(10_000))
    assert load.cpu_seconds([os.getpid()]) > before >= 0
    assert load.cpu_seconds([]) is None


def test_a_process_named_twice_or_as_a_child_of_another_root_is_counted_once():
    if not os.path.isdir("/proc"):
        pytest.skip("no /proc on this system; the bench leaves the CPU column empty")
    child = subprocess.Popen([sys.executable, "-c", "sum(i * i for i in range(3_000_000)); print(); input()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # done computing; it now waits
        alone = load.cpu_seconds([child.pid])
        assert alone > 0.05
        # A server and its workers all serve the port: listening_pids may return them all.
        both = load.cpu_seconds([os.getpid(), child.pid, child.pid])
        assert both - load.cpu_seconds([os.getpid()]) < alone + 0.05
    finally:
        child.communicate(b"\n", timeout=10)
