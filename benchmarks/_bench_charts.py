"""``bench_all.py``: the PNG charts (matplotlib, if installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _bench_common import BASELINE_LABELS, BASELINES, Config, baseline_key, log

#: Line colours of the pynetdicom baselines; aioups' backends take C1, C2, ... in turn.
BASELINE_COLOURS = {"nodelay": "tab:blue", "shipped": "tab:gray"}


def charts(cfg: Config, directory: Path) -> list[Path]:
    """PNG charts (matplotlib, if installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no charts")
        return []
    written = []
    res = cfg.results
    if "echo" in res:
        written.append(_echo_chart(plt, cfg, res["echo"], directory))
    if "fanout" in res:
        written.append(_fanout_chart(plt, res["fanout"], directory))
    if "idle" in res:
        written.append(_idle_chart(plt, res["idle"], directory))
    return written


def _echo_chart(plt: Any, cfg: Config, rows: list[dict[str, Any]], directory: Path) -> Path:
    """C-ECHO rate against associations: each pynetdicom baseline (threads, processes) and
    aioups on each backend."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [r["associations"] for r in rows]
    for baseline in (b for b in BASELINES if b in cfg.baselines):
        for processes, style, per in ((False, "o-", "thread"), (True, "s:", "process")):
            key = baseline_key(baseline, processes)
            pts = [(r["associations"], r[key]["rate"]) for r in rows if r.get(key)]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, color=BASELINE_COLOURS[baseline],
                        label=f"{BASELINE_LABELS[baseline]} ({per} per association)")
    for n, b in enumerate(cfg.backends, start=1):
        ax.plot(xs, [r["aioups"][b]["rate"] for r in rows], "o-", color=f"C{n}",
                label=f"aioups {b}")
    ax.set(xscale="log", yscale="log", xlabel="concurrent associations",
           ylabel="successful C-ECHO / s", title="C-ECHO throughput vs associations")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, directory / "chart_echo_throughput.png")


def _fanout_chart(plt: Any, rows: list[dict[str, Any]], directory: Path) -> Path:
    """Seconds to the last event against subscribers, cold and warm."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [r["subscribers"] for r in rows]
    for impl, style in (("pynetdicom", "s"), ("aioups", "o")):
        for phase, line in (("cold", "-"), ("warm", "--")):
            ys = [((r.get(impl) or {}).get(phase) or {}).get("last_s") for r in rows]
            pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style + line, label=f"{impl} {phase}")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="subscribers",
           ylabel="seconds to the last event", title="Event fan-out time vs subscribers")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, directory / "chart_fanout.png")


def _idle_chart(plt: Any, idle: dict[str, Any], directory: Path) -> Path:
    """Server RSS against idle associations held."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for impl in ("aioups", "pynetdicom"):
        data = idle.get(impl)
        if not data:
            continue
        pts = [(0, data["rss_before_kb"] / 1024)] + [
            (lv["held"], lv["rss_kb"] / 1024) for lv in data["levels"]]
        ax.plot(*zip(*pts, strict=True), "o-", label=impl)
    ax.set(xlabel="idle associations held", ylabel="server RSS (MB)",
           title="Server memory vs idle associations")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, directory / "chart_idle_rss.png")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    log(f"wrote {path}")
    return path
