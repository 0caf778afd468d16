#!/usr/bin/env python
"""Speed and memory of kandisco's KAN against pykan 0.2.8 (the KAN 2.0 reference), side by side.

For every configuration (width x grid x batch x dtype, k=3) and every method

* ``kandisco``     -- ``kandisco.kan.KAN``
* ``pykan``        -- pykan 0.2.8 ``KAN`` as constructed (symbolic branch on, ``save_act=True``)
* ``pykan_speed``  -- the same after ``model.speed()`` (symbolic branch and activation caching off)

it measures, each (configuration, method) in its own fresh process:

(a) forward+backward: median wall time of ``model(x)``, ``loss = y.square().mean()``,
    ``loss.backward()`` over several repeats after 3 warm-up passes;
(b) fit: wall time of a ``steps``-step LBFGS fit on the batch with no grid updates and no
    regularisation (kandisco: ``fit(X, Y, opt="LBFGS", steps, update_grid=False, lamb=0)``; pykan:
    ``fit(dataset, opt="LBFGS", steps, update_grid=False, lamb=0)`` with an 8-point test set, which pykan
    evaluates after every step).  Loss evaluations on the training batch are counted by wrapping
    ``model.forward``.  When a full 50-step pykan fit would take longer than ``--fit-budget`` seconds the
    row runs fewer steps on all methods and the time is scaled to 50 steps (marked ``*``);
(c) peak memory of one forward+backward at the full batch: see MEMORY_NOTE below.

Run: ``.venv/bin/python experiments/bench_kan_speed.py [--quick]``; writes
``experiments/results/kan_speed.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as _dt
import gc
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

os.environ.setdefault("TQDM_DISABLE", "1")  # pykan's fit always opens a progress bar

METHODS = ("kandisco", "pykan", "pykan_speed")
WIDTHS = ([4, 5, 1], [8, 8, 8, 1], [2, [5, 2], 1])
GRIDS = (5, 20)
BATCHES = (1_000, 10_000)
DTYPES = ("float32", "float64")
K = 3
SEED = 0
THREADS = 2
N_TEST_PYKAN = 8
FIT_STEPS = 50
PYKAN_EVALS_PER_STEP = 25  # pykan's LBFGS: max_iter=20, max_eval=25 per step, tolerances 1e-32

TARGET_VS_PYKAN = 5.0
TARGET_VS_PYKAN_SPEED = 2.0

MEMORY_NOTE = (
    "Peak memory = increase of the process's peak resident set size (VmHWM) over its resident set size "
    "(VmRSS) just before one forward+backward pass at the full batch. Every (configuration, method) gets "
    "its own fresh process for this (separate from the timing process), forked from a server that has only "
    "imported torch/pykan/kandisco (no tensor work). In it glibc's mmap threshold is set to 4 KiB "
    "(`mallopt(M_MMAP_THRESHOLD, 4096)`), so every tensor of 4 KiB or more gets fresh pages and gives them "
    "back when freed: nothing can hide in heap memory freed earlier (e.g. by the imports), and nothing "
    "freed stays counted. Then the model and data are built, two forward+backward passes on 16 rows warm up "
    "lazy library state, gradients are cleared, `gc.collect()` runs, the kernel's peak-RSS counter is reset "
    "(`echo 5 > /proc/self/clear_refs`), VmRSS is read, the full-batch pass runs, and VmHWM is read. The "
    "number covers everything alive at the peak: autograd-saved activations, temporaries, gradients, and "
    "whatever the model caches on itself (pykan's `save_act` tensors); kandisco's grids are not "
    "data-initialised in this process (that does not change the pass). As a cross-check, `saved MB` is the "
    "total size of the distinct storages autograd saves for backward during that forward (via "
    "`torch.autograd.graph.saved_tensors_hooks`), independent of the allocator. The RSS number is the "
    "median of 3 such processes; the kernel's per-CPU RSS counters make a single reading uncertain by "
    "roughly +-0.5 MB, so ratios of rows below ~3 MB are noisy (compare `saved MB` there)."
)


# --------------------------------------------------------------------------------------------------
# configurations


def width_str(width) -> str:
    return "[" + ",".join(str(w).replace(" ", "") for w in width) + "]"


def n_in_of(width) -> int:
    w0 = width[0]
    return w0 if isinstance(w0, int) else int(w0[0])


def all_rows(quick: bool):
    rows = []
    for width in WIDTHS:
        for grid in GRIDS:
            for batch in BATCHES:
                for dtype in DTYPES:
                    rows.append(dict(width=width, grid=grid, batch=batch, dtype=dtype))
    if quick:
        rows = [r for r in rows if r["grid"] == 5 and r["batch"] == 1_000 and r["dtype"] == "float32"]
    return rows


def row_key(r) -> str:
    return f"{width_str(r['width'])} G={r['grid']} B={r['batch']} {r['dtype']}"


# --------------------------------------------------------------------------------------------------
# worker side (runs in a fresh forked process per measurement)


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_jiffies() -> tuple[int, int]:
    """(busy jiffies of the whole machine, jiffies used by this process incl. all its threads)."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
        busy = sum(v) - v[3] - (v[4] if len(v) > 4 else 0) - sum(v[8:])  # minus idle, iowait, guest
        with open("/proc/self/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
        return busy, int(st[11]) + int(st[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0, 0


class ForeignLoad:
    """Average number of CPU cores used by *other* processes between start() and stop()."""

    def start(self):
        self.t0, (self.b0, self.s0) = time.perf_counter(), _cpu_jiffies()
        return self

    def stop(self) -> float:
        b1, s1 = _cpu_jiffies()
        dt = time.perf_counter() - self.t0
        return max(0.0, ((b1 - self.b0) - (s1 - self.s0)) / _CLK / max(dt, 1e-9))


def wait_for_idle(threshold: float, max_wait: float, window: float = 0.5) -> float:
    """Sleep until other processes use < ``threshold`` cores over a ``window`` (or ``max_wait`` passes)."""
    t_end = time.perf_counter() + max_wait
    while True:
        fl = ForeignLoad().start()
        time.sleep(window)
        load = fl.stop()
        if load < threshold or time.perf_counter() > t_end:
            return load


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _make_data(torch, n_in: int, batch: int, dtype, seed: int):
    g = torch.Generator().manual_seed(seed)

    def draw(n):
        x = (torch.rand(n, n_in, generator=g, dtype=torch.float64) * 2 - 1)
        y = torch.sin(math.pi * x[:, :1]) + (x[:, 1:] ** 2).mean(dim=1, keepdim=True) if n_in > 1 else torch.sin(math.pi * x)
        y = y + 0.5 * x[:, :1] * x[:, -1:]
        return x.to(dtype), y.to(dtype)

    x, y = draw(batch)
    xt, yt = draw(N_TEST_PYKAN)
    return x, y, xt, yt


def _build(method: str, width, grid: int, dtype):
    import torch

    if method == "kandisco":
        from kandisco.kan import KAN

        torch.set_default_dtype(dtype)
        return KAN(copy.deepcopy(width), grid=grid, k=K, seed=SEED, dtype=dtype)
    from _pykan_compat import make_pykan

    return make_pykan(width, grid=grid, k=K, seed=SEED, dtype=dtype, speed=(method == "pykan_speed"))


def _fwd_bwd(model, x):
    y = model(x)
    loss = y.square().mean()
    loss.backward()
    return y


def _zero(model):
    for p in model.parameters():
        p.grad = None


def _fit(method, model, x, y, xt, yt, steps):
    if method == "kandisco":
        return model.fit(x, y, opt="LBFGS", steps=steps, update_grid=False, lamb=0.0, verbose=False)
    from _pykan_compat import pykan_fit

    return pykan_fit(model, x, y, xt, yt, steps)


def _setup(task):
    import torch

    torch.set_num_threads(THREADS)
    dtype = getattr(torch, task["dtype"])
    os.chdir(tempfile.mkdtemp(prefix="kanbench_"))  # in case anything writes checkpoints/figures
    torch.manual_seed(SEED)
    model = _build(task["method"], task["width"], task["grid"], dtype)
    x, y, xt, yt = _make_data(torch, n_in_of(task["width"]), task["batch"], dtype, SEED)
    return torch, model, x, y, xt, yt


def _small_mmap_threshold(nbytes: int = 4096) -> bool:
    """glibc: serve every allocation >= nbytes by its own mmap, so freed tensors leave RSS at once and
    a new tensor cannot hide in heap memory freed earlier (e.g. by the imports)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_MMAP_THRESHOLD = -3
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(nbytes)))
    except Exception:
        return False


def measure_memory(task: dict) -> dict:
    """(c) peak RSS increase of one full-batch forward+backward, in its own fresh process."""
    mmap_ok = _small_mmap_threshold()
    torch, model, x, y, xt, yt = _setup(task)
    out = dict(n_params=sum(p.numel() for p in model.parameters() if p.requires_grad))
    for _ in range(2):  # lazy library state (thread pools, dispatch caches) at a tiny batch
        _fwd_bwd(model, x[:16])
    _zero(model)
    gc.collect()
    reset_ok = _reset_peak_rss()
    rss0 = _status_kb("VmRSS")
    _fwd_bwd(model, x)
    hwm = _status_kb("VmHWM")
    out["mem_method"] = ("VmHWM-VmRSS after clear_refs" if reset_ok else "VmHWM-VmRSS (no reset)") + (
        ", mmap_threshold=4KiB" if mmap_ok else "")
    out["mem_peak_mb"] = (hwm - rss0) / 1024 if (hwm is not None and rss0 is not None) else float("nan")
    _zero(model)

    saved = {}

    def pack(t):
        try:
            st = t.untyped_storage()
            saved[(st.data_ptr(), st.nbytes())] = st.nbytes()
        except Exception:
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yy = model(x)
        loss = yy.square().mean()
    loss.backward()
    out["saved_mb"] = sum(saved.values()) / 2**20
    out["out_dtype"] = str(yy.dtype).replace("torch.", "")
    return out


def measure(task: dict) -> dict:
    """(a) forward+backward timing and (b) fit for one (configuration, method), in a fresh process."""
    torch, model, x, y, xt, yt = _setup(task)
    method, batch = task["method"], task["batch"]
    out = dict(method=method, threads=torch.get_num_threads())
    if method == "kandisco" and hasattr(model, "initialize_grids"):
        # kandisco's first fit puts the grids on the data range (a one-off; pykan's grids are fixed at
        # construction). Done here, timed separately, so no number below includes it.
        t0 = time.perf_counter()
        with torch.no_grad():
            model.initialize_grids(x)
        out["grid_init_s"] = time.perf_counter() - t0

    # ---- (a) forward+backward timing ----
    warm = []
    for _ in range(3):
        t0 = time.perf_counter()
        _fwd_bwd(model, x)
        warm.append(time.perf_counter() - t0)
        _zero(model)
    est = min(warm)
    reps = int(min(task["max_reps"], max(task["min_reps"], task["time_budget"] / max(est, 1e-6))))
    ts = []
    fl = ForeignLoad().start()
    for _ in range(reps):
        t0 = time.perf_counter()
        _fwd_bwd(model, x)
        ts.append(time.perf_counter() - t0)
        _zero(model)
    out["fb_ms"] = statistics.median(ts) * 1e3
    out["fb_min_ms"] = min(ts) * 1e3
    out["fb_reps"] = reps
    out["fb_foreign_cores"] = fl.stop()

    # ---- (b) fit ----
    steps = task["fit_steps"]
    if steps == "auto":  # decided by the first pykan run of the row; shared with the other methods
        steps = FIT_STEPS
        budget = task["fit_budget"]
        if budget and budget > 0:
            per_step = PYKAN_EVALS_PER_STEP * out["fb_ms"] / 1e3
            steps = int(min(FIT_STEPS, max(task["min_fit_steps"], budget // max(per_step, 1e-9))))
    if steps and steps > 0:
        # warm-up: a 1-step fit of a copy on 64 rows, so that lazy imports on a first fit() (kandisco's
        # first fit imports sympy & co., ~1 s) and first-call paths are not timed (nor scaled to 50 steps)
        _fit(method, _build(method, task["width"], task["grid"], x.dtype), x[:64], y[:64], xt, yt, 1)
        counter = [0]
        orig_forward = model.forward

        def counted(*a, **kw):
            xin = a[0] if a else kw.get("x")
            if torch.is_grad_enabled() and getattr(xin, "shape", (None,))[0] == batch:
                counter[0] += 1
            return orig_forward(*a, **kw)

        model.forward = counted
        fl = ForeignLoad().start()
        t0 = time.perf_counter()
        _fit(method, model, x, y, xt, yt, int(steps))
        out["fit_s"] = time.perf_counter() - t0
        out["fit_foreign_cores"] = fl.stop()
        model.forward = orig_forward
        out["fit_steps"] = int(steps)
        out["fit_s_50"] = out["fit_s"] * FIT_STEPS / int(steps)
        out["fit_evals"] = counter[0]
        out["fit_ms_per_eval"] = out["fit_s"] / counter[0] * 1e3 if counter[0] else float("nan")
        with torch.no_grad():
            out["fit_mse"] = float((model(x) - y).square().mean())
    return out


def profile_kandisco(task: dict) -> str:
    """torch.profiler table (self CPU time) of kandisco forward+backward, plus a cProfile top list."""
    import cProfile
    import io
    import pstats

    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(THREADS)
    dtype = getattr(torch, task["dtype"])
    os.chdir(tempfile.mkdtemp(prefix="kanbench_"))
    model = _build("kandisco", task["width"], task["grid"], dtype)
    x, y, xt, yt = _make_data(torch, n_in_of(task["width"]), task["batch"], dtype, SEED)
    if hasattr(model, "initialize_grids"):
        with torch.no_grad():
            model.initialize_grids(x)
    for _ in range(3):
        _fwd_bwd(model, x)
        _zero(model)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        for _ in range(5):
            _fwd_bwd(model, x)
            _zero(model)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(5):
        _fwd_bwd(model, x)
        _zero(model)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(12)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    txt = table + "\n\ncProfile of 5 forward+backward passes (by tottime):\n" + "\n".join(lines[:30])
    steps = 2
    pr = cProfile.Profile()
    t0 = time.perf_counter()
    pr.enable()
    _fit("kandisco", model, x, y, xt, yt, steps)
    pr.disable()
    dt = time.perf_counter() - t0
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(15)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    return txt + f"\n\ncProfile of a {steps}-step LBFGS fit ({dt:.2f} s under the profiler, by tottime):\n" + "\n".join(lines[:33])


def _child(fn, task, conn):
    try:
        conn.send(("ok", fn(task)))
    except BaseException:  # report, never hang the parent
        conn.send(("err", traceback.format_exc()))
    finally:
        conn.close()


def run_isolated(ctx, fn, task, timeout: float):
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(fn, task, child))
    p.start()
    child.close()
    status, payload = "err", f"timeout after {timeout:.0f} s"
    if parent.poll(timeout):
        try:
            status, payload = parent.recv()
        except EOFError:
            status, payload = "err", "worker died (EOF)"
    p.join(5)
    if p.is_alive():
        p.kill()  # only the child this function started
        p.join()
    if status == "err" and p.exitcode not in (0, None) and "Traceback" not in str(payload):
        payload = f"{payload}; exit code {p.exitcode}"
    return status, payload


# --------------------------------------------------------------------------------------------------
# reporting


def _f(v, fmt="{:.2f}"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return fmt.format(v)


def _ratio(a, b):
    try:
        if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
            return float("nan")
    except TypeError:
        return float("nan")
    return a / b


def _git_state() -> str:
    """The checkout's commit, and whether kandisco/ differs from it (so a table names its code)."""
    import subprocess

    def git(*args):
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    if commit is None:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--", "kandisco")
    return f"commit {commit}" + (" + uncommitted changes in kandisco/" if dirty else "")


def machine_info():
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from _pykan_compat import pykan_version

        pkv = pykan_version()
    except Exception:
        pkv = "not installed"
    mem_gb = float("nan")
    try:
        with open("/proc/meminfo") as f:
            mem_gb = int(f.readline().split()[1]) / 2**20
    except OSError:
        pass
    import hashlib

    h = hashlib.sha1()
    kdir = ROOT / "kandisco" / "kan"
    for fp in sorted([*kdir.rglob("*.py"), *kdir.rglob("*.cpp")]):  # the compiled kernel's source too
        h.update(str(fp.relative_to(kdir)).encode() + b"\0" + fp.read_bytes())
    return dict(
        kandisco_src=h.hexdigest()[:12],
        kandisco_commit=_git_state(),
        date=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        torch=torch.__version__,
        pykan=pkv,
        python=platform.python_version(),
        nproc=os.cpu_count(),
        cpu=cpu,
        mem_gb=round(mem_gb, 1),
        threads=THREADS,
    )


def build_report(args, rows, results, info, profiles, wall_s):
    """Markdown text and CSV records."""
    recs = []
    for r in rows:
        res = results[row_key(r)]
        kd = res.get("kandisco", {})
        for m in METHODS:
            if m not in res:
                continue
            d = res[m]
            rec = dict(
                width=width_str(r["width"]), grid=r["grid"], k=K, batch=r["batch"], dtype=r["dtype"], method=m,
                **{k: d.get(k) for k in ("n_params", "fb_ms", "fb_min_ms", "fb_reps", "fit_steps", "fit_s",
                                         "fit_s_50", "fit_evals", "fit_ms_per_eval", "fit_mse", "mem_peak_mb",
                                         "saved_mb", "mem_method", "threads", "fb_foreign_cores", "fit_foreign_cores",
                                         "idle_before_cores", "attempts", "grid_init_s", "mem_peak_mb_all",
                                         "timing_runs", "fb_ms_all", "fit_s_50_all", "error")},
            )
            rec["fb_ratio_vs_kandisco"] = _ratio(d.get("fb_ms"), kd.get("fb_ms"))
            rec["fit_ratio_vs_kandisco"] = _ratio(d.get("fit_s_50"), kd.get("fit_s_50"))
            rec["fit_per_eval_ratio_vs_kandisco"] = _ratio(d.get("fit_ms_per_eval"), kd.get("fit_ms_per_eval"))
            rec["mem_ratio_vs_kandisco"] = _ratio(d.get("mem_peak_mb"), kd.get("mem_peak_mb"))
            recs.append(rec)

    L = []
    L.append("# KAN speed: kandisco vs pykan 0.2.8\n")
    L.append(f"- command: `{' '.join([Path(sys.executable).name] + sys.argv)}`")
    L.append(f"- date: {info['date']}; total wall time {wall_s / 60:.1f} min")
    L.append(f"- torch {info['torch']}, pykan {info['pykan']}, python {info['python']}; kandisco/kan sources sha1 "
             f"{info['kandisco_src']} ({info.get('kandisco_commit', 'commit unknown')})")
    L.append(f"- machine: nproc={info['nproc']}, {info['cpu']}, {info['mem_gb']} GiB RAM; "
             f"torch.set_num_threads({info['threads']}) for every method")
    L.append(f"- k={K}, seed={SEED}; data x ~ U[-1,1]^n_in (fixed generator), y = sin(pi x0) + mean(x1..^2) + 0.5 x0 x_last")
    L.append("- float64 rows: torch default dtype set to float64 before construction for both (pykan has no dtype argument)")
    L.append("- `pykan` = as constructed (symbolic branch + save_act on); `pykan_speed` = after `model.speed()`")
    L.append(f"- targets: kandisco >= {TARGET_VS_PYKAN:g}x faster than pykan, >= {TARGET_VS_PYKAN_SPEED:g}x faster than "
             "pykan_speed, no more memory. Ratios are pykan time / kandisco time (>1 = kandisco faster).\n")

    # (a)
    L.append(f"Close calls: a row whose fb or fit ratio lies within {args.close_margin:g}x of a target (either side) is "
             f"measured in {args.close_runs} rounds of fresh processes (the methods interleaved, so a slow spell of "
             "the machine hits all of them) and the medians are reported (marked `(median of N)`): between fresh "
             "processes this machine's timings vary by about +-30%.\n")
    L.append("## (a) forward + backward (median ms; loss = mean(y^2))\n")
    L.append("| config | kandisco | pykan | pykan_speed | pykan/kd | pykan_speed/kd | ok |")
    L.append("|---|---:|---:|---:|---:|---:|:-:|")
    fails = {"fb": [], "fit": [], "mem": []}
    for r in rows:
        res = results[row_key(r)]
        kd, pk, ps = (res.get(m, {}) for m in METHODS)
        r1, r2 = _ratio(pk.get("fb_ms"), kd.get("fb_ms")), _ratio(ps.get("fb_ms"), kd.get("fb_ms"))
        ok = _verdict(r1, r2, TARGET_VS_PYKAN, TARGET_VS_PYKAN_SPEED)
        if ok == "FAIL":
            fails["fb"].append(r)
        L.append(f"| {row_key(r)} | {_f(kd.get('fb_ms'))} | {_f(pk.get('fb_ms'))} | {_f(ps.get('fb_ms'))} | "
                 f"{_f(r1, '{:.1f}x')} | {_f(r2, '{:.1f}x')} | {ok}{_runs_note(kd)} |")

    # (b)
    L.append(f"\n## (b) LBFGS fit, {FIT_STEPS} steps, no grid update, lamb=0 (seconds)\n")
    L.append("`*` = pykan would exceed the per-fit budget, so this row ran `steps run` steps on every method and the "
             f"time is scaled to {FIT_STEPS} steps (per-step cost is constant without grid updates). kandisco's one-off "
             "grid initialisation from the data range (its first fit does it; pykan's grids are fixed at construction) "
             "is run right after construction, timed separately and excluded. `evals` = loss "
             "evaluations (forward+backward on the training batch) counted in the run; `ms/eval` normalises for "
             f"different LBFGS settings. pykan also evaluates its {N_TEST_PYKAN}-point test set after every step "
             "(negligible).\n")
    L.append("| config | steps run | kd grid init s (excluded) | kandisco s | pykan s | pykan_speed s | pykan/kd | pykan_speed/kd | evals kd/pk/pks "
             "| ms/eval kd | ms/eval pk | ms/eval pks | final MSE kd/pk/pks | ok |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|:-:|")
    for r in rows:
        res = results[row_key(r)]
        kd, pk, ps = (res.get(m, {}) for m in METHODS)
        steps = next((d.get("fit_steps") for d in (pk, kd, ps) if d.get("fit_steps")), None)
        star = "*" if steps and steps < FIT_STEPS else ""
        r1, r2 = _ratio(pk.get("fit_s_50"), kd.get("fit_s_50")), _ratio(ps.get("fit_s_50"), kd.get("fit_s_50"))
        ok = _verdict(r1, r2, TARGET_VS_PYKAN, TARGET_VS_PYKAN_SPEED)
        if ok == "FAIL":
            fails["fit"].append(r)
        ev = "/".join(str(d.get("fit_evals", "n/a")) for d in (kd, pk, ps))
        mse = "/".join(_f(d.get("fit_mse"), "{:.1e}") for d in (kd, pk, ps))
        L.append(f"| {row_key(r)} | {steps if steps else 'n/a'}{star} | {_f(kd.get('grid_init_s'), '{:.3f}')} | {_f(kd.get('fit_s_50'))} | {_f(pk.get('fit_s_50'))} | "
                 f"{_f(ps.get('fit_s_50'))} | {_f(r1, '{:.1f}x')} | {_f(r2, '{:.1f}x')} | {ev} | "
                 f"{_f(kd.get('fit_ms_per_eval'))} | {_f(pk.get('fit_ms_per_eval'))} | {_f(ps.get('fit_ms_per_eval'))} | "
                 f"{mse} | {ok}{_runs_note(kd)} |")

    # (c)
    L.append("\n## (c) peak memory of one forward+backward (MB)\n")
    L.append(MEMORY_NOTE + "\n")
    L.append("| config | kandisco | pykan | pykan_speed | pykan/kd | pykan_speed/kd | saved MB kd/pk/pks | ok |")
    L.append("|---|---:|---:|---:|---:|---:|---|:-:|")
    for r in rows:
        res = results[row_key(r)]
        kd, pk, ps = (res.get(m, {}) for m in METHODS)
        r1, r2 = _ratio(pk.get("mem_peak_mb"), kd.get("mem_peak_mb")), _ratio(ps.get("mem_peak_mb"), kd.get("mem_peak_mb"))
        ok = _verdict(r1, r2, 1.0, 1.0)
        if ok == "FAIL":
            fails["mem"].append(r)
        sv = "/".join(_f(d.get("saved_mb"), "{:.1f}") for d in (kd, pk, ps))
        L.append(f"| {row_key(r)} | {_f(kd.get('mem_peak_mb'), '{:.1f}')} | {_f(pk.get('mem_peak_mb'), '{:.1f}')} | "
                 f"{_f(ps.get('mem_peak_mb'), '{:.1f}')} | {_f(r1, '{:.2f}x')} | {_f(r2, '{:.2f}x')} | {sv} | {ok} |")

    # contention
    disturbed = [(row_key(r), m, results[row_key(r)][m]["foreign_cores"]) for r in rows for m in METHODS
                 if m in results[row_key(r)] and results[row_key(r)][m].get("foreign_cores", 0.0) >= args.idle_threshold]
    L.append("\n## Machine load\n")
    L.append(f"Before each measurement the runner waits (up to {args.max_wait:g} s) until other processes use < "
             f"{args.idle_threshold:g} cores; the CPU time other processes used during the timed phases is recorded "
             "(`fb_foreign_cores`, `fit_foreign_cores` in the CSV, from /proc/stat minus the worker's own time), and a "
             f"disturbed measurement is repeated up to {args.retries} times, keeping the least disturbed. With 2 "
             "intra-op threads on 2 cores, a competing process slows small ops by 10-50x (OpenMP threads spin-wait on a "
             "preempted partner), so disturbed rows are not comparable.\n")
    if disturbed:
        L.append("Measurements still disturbed (other processes' cores during timing): " +
                 "; ".join(f"{k} / {m}: {c:.2f}" for k, m, c in disturbed) + "\n")
    else:
        L.append("No measurement was disturbed.\n")

    # summary
    L.append("\n## Summary\n")
    for name, label in (("fb", "forward+backward"), ("fit", "fit"), ("mem", "memory")):
        fl = fails[name]
        L.append(f"- {label}: " + ("all rows meet the targets" if not fl else
                                    f"{len(fl)} row(s) miss: " + "; ".join(row_key(r) for r in fl)))
    errs = [(row_key(r), m, results[row_key(r)][m]["error"]) for r in rows for m in METHODS
            if m in results[row_key(r)] and results[row_key(r)][m].get("error")]
    if errs:
        L.append("\n## Errors\n")
        for key, m, e in errs:
            L.append(f"- {key} / {m}:\n\n```\n{e.strip()[-2500:]}\n```")
    if profiles:
        L.append("\n## Profiles of kandisco on rows that miss a speed target\n")
        for key, txt in profiles:
            L.append(f"### {key}\n\n```\n{txt}\n```\n")
    return "\n".join(L) + "\n", recs, fails


def _runs_note(kd: dict) -> str:
    n = kd.get("timing_runs", 1)
    return f" (median of {n})" if n and n > 1 else ""


def _verdict(r1, r2, t1, t2):
    if any(isinstance(v, float) and math.isnan(v) for v in (r1, r2)):
        return "n/a"
    return "pass" if (r1 >= t1 and r2 >= t2) else "FAIL"


# --------------------------------------------------------------------------------------------------


TIMING_FIELDS = ("fb_ms", "fit_s", "fit_s_50", "fit_ms_per_eval")  # evaluations are the same in every run


def close_calls(res: dict, margin: float) -> list[str]:
    """Which verdicts of a row ('fb', 'fit') have a ratio within ``margin``x of its target either way:
    there the machine's run-to-run noise (about +-30% between fresh processes) could flip them."""
    kd, pk, ps = (res.get(m, {}) for m in METHODS)
    close = []
    for name, field in (("fb", "fb_ms"), ("fit", "fit_s_50")):
        for other, target in ((pk, TARGET_VS_PYKAN), (ps, TARGET_VS_PYKAN_SPEED)):
            r = _ratio(other.get(field), kd.get(field))
            if isinstance(r, float) and not math.isnan(r) and target / margin <= r < target * margin:
                close.append(name)
                break
    return close


def merge_timing_runs(first: dict, extra: list[dict]) -> None:
    """Fold more fresh-process runs of one (row, method) into ``first``: medians of the timings."""
    runs = [first] + [d for d in extra if d.get("fit_steps") == first.get("fit_steps")]
    first["timing_runs"] = len(runs)
    first["fit_s_50_all"] = " ".join(f"{d.get('fit_s_50', math.nan):.3g}" for d in runs)
    first["fb_ms_all"] = " ".join(f"{d.get('fb_ms', math.nan):.3g}" for d in runs)
    for field in TIMING_FIELDS:
        vals = [d[field] for d in runs if isinstance(d.get(field), (int, float)) and not math.isnan(d[field])]
        if vals:
            first[field] = statistics.median(vals)
    if "fb_min_ms" in first:
        first["fb_min_ms"] = min(d.get("fb_min_ms", math.inf) for d in runs)


def load_previous(path: str, threshold: float, methods: set) -> dict:
    """Rows of an earlier CSV whose every method was measured undisturbed: {row_key: {method: record}}."""
    by_row: dict = {}
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    for rec in csv.DictReader(lines):
        d = {}
        for k, v in rec.items():
            if v in ("", None):
                continue
            try:
                d[k] = int(v) if k in ("fit_steps", "fit_evals", "fb_reps", "attempts", "n_params", "threads", "timing_runs") else float(v)
            except ValueError:
                d[k] = v
        d["foreign_cores"] = max(d.get("fb_foreign_cores", 0.0), d.get("fit_foreign_cores", 0.0))
        width = rec["width"]
        key = f"{width} G={rec['grid']} B={rec['batch']} {rec['dtype']}"
        by_row.setdefault(key, {})[rec["method"]] = d
    return {k: v for k, v in by_row.items()
            if methods <= set(v) and all(not v[m].get("error") and v[m]["foreign_cores"] < threshold for m in methods)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 rows (grid 5, batch 1000, float32), short budgets")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma list out of " + ",".join(METHODS))
    ap.add_argument("--only", default="", help="run only rows whose label contains this substring, e.g. 'G=20 B=10000'")
    ap.add_argument("--time-budget", type=float, default=None, help="seconds of timed repeats per (row, method)")
    ap.add_argument("--fit-budget", type=float, default=None,
                    help="max seconds for a pykan fit before scaling from fewer steps (0 = always 50 steps)")
    ap.add_argument("--no-fit", action="store_true")
    ap.add_argument("--no-mem", action="store_true")
    ap.add_argument("--mem-repeats", type=int, default=3, help="fresh processes per memory measurement (median kept)")
    ap.add_argument("--profile-failures", type=int, default=3, help="profile kandisco on up to N rows missing a speed target")
    ap.add_argument("--out", default=str(HERE / "results" / "kan_speed"), help="output prefix (.md and .csv)")
    ap.add_argument("--idle-threshold", type=float, default=0.3,
                    help="other processes' CPU use (cores) above which a measurement counts as disturbed")
    ap.add_argument("--max-wait", type=float, default=60.0, help="max seconds to wait for an idle machine before each measurement")
    ap.add_argument("--retries", type=int, default=2, help="re-measure a disturbed (row, method) up to N times; the least disturbed is kept")
    ap.add_argument("--patience-min", type=float, default=25.0,
                    help="after this many minutes stop waiting for idle / retrying (keeps the run bounded)")
    ap.add_argument("--resume", default="",
                    help="CSV of an earlier run: keep its rows whose methods were all undisturbed, re-measure the rest")
    ap.add_argument("--timeout", type=float, default=600.0, help="per-measurement timeout (s)")
    ap.add_argument("--close-margin", type=float, default=1.3,
                    help="a speed verdict whose ratio is within this factor of its target counts as a close call")
    ap.add_argument("--close-runs", type=int, default=3,
                    help="fresh-process runs per method on a close-call row (medians kept; 1 = no re-measurement)")
    args = ap.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            ap.error(f"unknown method {m}")
    time_budget = args.time_budget if args.time_budget is not None else (0.4 if args.quick else 1.2)
    fit_budget = args.fit_budget if args.fit_budget is not None else (2.0 if args.quick else 5.0)
    rows = [r for r in all_rows(args.quick) if args.only in row_key(r)]
    if not rows:
        ap.error("no rows selected")

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "kan", "kandisco.kan", "_pykan_compat"])
    info = machine_info()
    t_start = time.perf_counter()
    print(f"# {len(rows)} rows x {len(methods)} methods; torch {info['torch']}, pykan {info['pykan']}, "
          f"nproc {info['nproc']}, threads {THREADS}", flush=True)

    # pykan first so that it fixes the number of fit steps for the row
    order = [m for m in ("pykan", "pykan_speed", "kandisco") if m in methods]
    results = {}
    kept = load_previous(args.resume, args.idle_threshold, set(methods)) if args.resume else {}
    for i, r in enumerate(rows):
        key = row_key(r)
        if key in kept:
            results[key] = kept[key]
            print(f"[{i + 1}/{len(rows)}] {key:32s} kept from {args.resume}", flush=True)
            continue
        results[key] = {}
        fit_steps = 0 if args.no_fit else ("auto" if "pykan" in order else FIT_STEPS)
        tasks = {}
        for m in order:
            task = dict(r, method=m, time_budget=time_budget, min_reps=3 if args.quick else 5, max_reps=40,
                        fit_steps=fit_steps, fit_budget=fit_budget, min_fit_steps=2)
            tasks[m] = task
            t0 = time.perf_counter()
            status, payload, attempts = None, None, 0
            late = (time.perf_counter() - t_start) > 60 * args.patience_min
            for attempt in range(1 + (0 if late else max(0, args.retries))):
                idle = wait_for_idle(args.idle_threshold, 0.0 if late else args.max_wait)
                st, pl = run_isolated(ctx, measure, task, args.timeout)
                attempts += 1
                if st == "ok":
                    pl["idle_before_cores"] = idle
                    pl["attempts"] = attempts
                    pl["foreign_cores"] = max(pl.get("fb_foreign_cores", 0.0), pl.get("fit_foreign_cores", 0.0))
                if status != "ok" or (st == "ok" and pl["foreign_cores"] < payload["foreign_cores"]):
                    status, payload = st, pl
                if st != "ok" or pl["foreign_cores"] < args.idle_threshold:
                    break
                print(f"    ({key} {m}: other processes used {pl['foreign_cores']:.2f} cores meanwhile; retrying)", flush=True)
            if status == "ok" and not args.no_mem:
                mems = []
                for _ in range(max(1, args.mem_repeats)):
                    st, pl = run_isolated(ctx, measure_memory, task, args.timeout)
                    if st != "ok":
                        payload["error"] = "memory: " + pl
                        break
                    mems.append(pl)
                if mems:
                    payload.update(mems[0])
                    vals = [d["mem_peak_mb"] for d in mems]
                    payload["mem_peak_mb"] = statistics.median(vals)
                    payload["mem_peak_mb_all"] = " ".join(f"{v:.2f}" for v in vals)
            if status == "ok":
                payload["attempts"] = attempts
                payload.setdefault("mem_peak_mb", float("nan"))
                results[key][m] = payload
                if fit_steps == "auto" and payload.get("fit_steps"):
                    fit_steps = payload["fit_steps"]
                d = payload
                print(f"[{i + 1}/{len(rows)}] {key:32s} {m:12s} fb {d['fb_ms']:9.2f} ms  fit50 "
                      f"{d.get('fit_s_50', float('nan')):8.2f} s ({d.get('fit_steps', 0)} st, {d.get('fit_evals', 0)} ev)  "
                      f"mem {d['mem_peak_mb']:7.1f} MB  foreign {d['foreign_cores']:.2f}  [{time.perf_counter() - t0:.1f} s]", flush=True)
            else:
                results[key][m] = {"error": payload}
                print(f"[{i + 1}/{len(rows)}] {key:32s} {m:12s} ERROR: {payload.strip().splitlines()[-1]}", flush=True)
            if fit_steps == "auto" and m == order[0] and status != "ok":
                fit_steps = FIT_STEPS
        close = close_calls(results[key], args.close_margin)
        if close and args.close_runs > 1:
            print(f"    ({key}: {', '.join(close)} within {args.close_margin:g}x of a target; "
                  f"{args.close_runs - 1} more round(s) of all methods, medians kept)", flush=True)
            live = [m for m in order if "error" not in results[key][m]]
            extra: dict[str, list] = {m: [] for m in live}
            for _ in range(args.close_runs - 1):  # rounds interleave the methods: a slow spell hits all
                for m in live:
                    task = dict(tasks[m], fit_steps=results[key][m].get("fit_steps") or 0)
                    wait_for_idle(args.idle_threshold, args.max_wait)
                    st, pl = run_isolated(ctx, measure, task, args.timeout)
                    if st == "ok":
                        extra[m].append(pl)
            for m in live:
                merge_timing_runs(results[key][m], extra[m])
                d = results[key][m]
                print(f"[{i + 1}/{len(rows)}] {key:32s} {m:12s} fb {d['fb_ms']:9.2f} ms  fit50 "
                      f"{d.get('fit_s_50', float('nan')):8.2f} s  (median of {d['timing_runs']}: fit50 {d['fit_s_50_all']})",
                      flush=True)

    _, _, fails = build_report(args, rows, results, info, [], time.perf_counter() - t_start)
    profiles = []
    if args.profile_failures > 0 and "kandisco" in methods:
        slow = fails["fb"] + [r for r in fails["fit"] if r not in fails["fb"]]

        def worst(r):
            res = results[row_key(r)]
            return min(_ratio(res.get("pykan", {}).get("fb_ms"), res["kandisco"].get("fb_ms")) / TARGET_VS_PYKAN,
                       _ratio(res.get("pykan_speed", {}).get("fb_ms"), res["kandisco"].get("fb_ms")) / TARGET_VS_PYKAN_SPEED)

        slow = sorted(slow, key=worst)[: args.profile_failures]
        for r in slow:
            wait_for_idle(args.idle_threshold, args.max_wait)
            status, payload = run_isolated(ctx, profile_kandisco, dict(r), args.timeout)
            profiles.append((row_key(r), payload if status == "ok" else "profile failed:\n" + payload))
            print(f"profiled {row_key(r)}", flush=True)

    wall = time.perf_counter() - t_start
    src_end = machine_info()["kandisco_src"]
    if src_end != info["kandisco_src"]:
        info["kandisco_src"] += f" at start, {src_end} at end (kandisco/kan changed during the run!)"
    md, recs, _ = build_report(args, rows, results, info, profiles, wall)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(md)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        f.write(f"# command: {' '.join([Path(sys.executable).name] + sys.argv)}\n")
        f.write(f"# date: {info['date']}; torch {info['torch']}; pykan {info['pykan']}; python {info['python']}; "
                f"nproc {info['nproc']}; cpu {info['cpu']}; threads {THREADS}; kandisco/kan sha1 {info['kandisco_src']}\n")
        f.write("# times: fb_ms = median forward+backward ms; fit_s_50 = LBFGS fit seconds scaled to 50 steps; "
                "mem_peak_mb = VmHWM increase over VmRSS for one forward+backward (fresh process)\n")
        fields = list(recs[0].keys()) if recs else []
        for rec in recs:
            for k in rec:
                if k not in fields:
                    fields.append(k)
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for rec in recs:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in rec.items()})
    print("\n" + md)
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')} ({wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
