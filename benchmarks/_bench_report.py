"""``bench_all.py``: the tables, the Done-when targets and the machine summary."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
from typing import Any, TextIO

from _bench_common import BASELINE_LABELS, BASELINE_SHORT, Config, baseline_key

# --- report ----------------------------------------------------------------------------------


def fmt_rate(result: dict[str, Any] | None) -> str:
    if not result:
        return "—"
    if result.get("error") and not result.get("rate"):
        return "failed"
    return f"{result['rate']:.0f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "—"
    value = ours / theirs
    return f"{value:.1f}x" if value < 100 else f"{value:.0f}x"


class Table:
    def __init__(self, header: list[str], markdown: bool) -> None:
        self.header = header
        self.rows: list[list[str]] = []
        self.markdown = markdown

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self, out: TextIO) -> None:
        if self.markdown:
            print("| " + " | ".join(self.header) + " |", file=out)
            print("|" + "---|" * len(self.header), file=out)
            for row in self.rows:
                print("| " + " | ".join(row) + " |", file=out)
        else:
            widths = [max(len(r[i]) for r in [self.header, *self.rows])
                      for i in range(len(self.header))]
            for row in [self.header, *self.rows]:
                print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)),
                      file=out)
        print(file=out)


def best_pynetdicom(row: dict[str, Any], baseline: str) -> float | None:
    """The better of a baseline's two figures (threads, processes): what ratios divide by."""
    figures = (row.get(baseline_key(baseline)), row.get(baseline_key(baseline, processes=True)))
    rates = [r.get("rate") for r in figures if r]
    return max((r for r in rates if r), default=None)


def _failures(result: dict[str, Any] | None) -> str:
    if not result:
        return "—"
    text = str(result.get("failed", 0))
    if result.get("attempts"):
        tries = result["attempts"]
        text += (f" (best of {len(tries)} runs; failed "
                 + ", ".join(str(t["failed"]) for t in tries) + ")")
    return text + (f" ({result['error']})" if result.get("error") else "")


def throughput_table(rows: list[dict[str, Any]], backends: list[str], baselines: list[str],
                     markdown: bool, unit: str) -> Table:
    """One row per scenario: each pynetdicom baseline (threads, and processes if measured),
    aioups on each backend, the ratios against each baseline, pynetdicom's failures."""
    processes = [b for b in baselines
                 if any(baseline_key(b, processes=True) in row for row in rows)]
    header = ["scenario"]
    for b in baselines:
        header += [f"{BASELINE_LABELS[b]} {unit}"]
        header += [f"{BASELINE_LABELS[b]}, process per association {unit}"] * (b in processes)
    header += [f"aioups {k} {unit}" for k in backends]
    header += [f"ratio ({k}) vs {BASELINE_LABELS[b]}" for b in baselines for k in backends]
    for b in baselines:
        header += [f"{BASELINE_LABELS[b]} failures"] + ["… with processes"] * (b in processes)
    table = Table(header, markdown)
    for row in rows:
        ours = [row["aioups"].get(k) for k in backends]
        cells = [row["scenario"]]
        for b in baselines:
            cells += [fmt_rate(row.get(baseline_key(b)))]
            cells += [fmt_rate(row.get(baseline_key(b, processes=True)))] * (b in processes)
        cells += [fmt_rate(o) for o in ours]
        for b in baselines:
            cells += [ratio(o["rate"] if o else None, best_pynetdicom(row, b)) for o in ours]
        for b in baselines:
            cells += [_failures(row.get(baseline_key(b)))]
            cells += [_failures(row.get(baseline_key(b, processes=True)))] * (b in processes)
        table.add(*cells)
    return table


def report(cfg: Config, markdown: bool, out: TextIO) -> None:
    res = cfg.results
    head = "###" if markdown else "=="
    single = BASELINE_LABELS[cfg.single_baseline]  # the pynetdicom of idle and fanout
    print(f"# {cfg.machine_summary or machine()['summary']}", file=out)
    print(file=out)
    if "echo" in res:
        print(f"{head} C-ECHO (associations x echoes each; echoes/s)", file=out)
        throughput_table(res["echo"], cfg.backends, cfg.baselines, markdown, "/s").render(out)
    if "create" in res:
        print(f"{head} N-CREATE against a UPS SCP (workitems/s)", file=out)
        throughput_table(res["create"], cfg.backends, cfg.baselines, markdown, "/s").render(out)
    if "nget" in res:
        print(f"{head} N-GET over one association (pynetdicom: 1 outstanding; /s)", file=out)
        throughput_table(res["nget"], cfg.backends, cfg.baselines, markdown, "/s").render(out)
    if "idle" in res:
        print(f"{head} Idle associations held by one server process ({single})", file=out)
        idle_table(res["idle"], markdown).render(out)
    if "fanout" in res:
        print(f"{head} Event fan-out (seconds from the response to the last subscriber's "
              f"event; {single})", file=out)
        fanout_table(res["fanout"], markdown).render(out)
    print(f"{head} Done-when targets (issue #6)", file=out)
    targets_table(cfg, markdown).render(out)


def _idle_row(table: Table, name: str, level: dict[str, Any], label: str,
              per_association: bool = True) -> None:
    check = level["probe"]
    table.add(name, label, level["server_sockets"], level["open_s"],
              f"{level['rss_kb'] / 1024:.1f}",
              (level["kb_per_association"] or "—") if per_association else "—",
              level["threads"], f"{level['cpu_idle_pct']:.0f}",
              f"ok, {check['associate_ms']:.0f} + {check['echo_ms']:.0f} ms" if check["ok"]
              else "FAILED")


def idle_table(idle: dict[str, Any], markdown: bool) -> Table:
    table = Table(["server", "associations held", "server sockets", "open time s",
                   "server RSS MB", "KB / association", "threads", "idle CPU %",
                   "fresh association + C-ECHO (connect+associate, echo)"], markdown)
    for impl in ("aioups", "pynetdicom"):
        data = idle.get(impl)
        if not data:
            continue
        name = f"{impl} ({data['backend']})"
        table.add(name, 0, "—", "—", f"{data['rss_before_kb'] / 1024:.1f}", "—",
                  data["threads_before"], f"{data['cpu_idle_before_pct']:.0f}", "—")
        for level in data["levels"]:
            label = f"{level['held']} of {level['target']}"
            if level["failed"]:
                label += f" ({level['failed']} failed)"
            if level["timed_out"]:
                label += " (time limit)"
            _idle_row(table, name, level, label)
        if "rss_after_release_kb" in data:
            check = data["probe_after_release"]
            table.add(name, "0 (all released)", "—", data["release_s"],
                      f"{data['rss_after_release_kb'] / 1024:.1f}", "—",
                      data["threads_after"], "—", "ok" if check["ok"] else "FAILED")
        if "second_round" in data and data["levels"]:
            level = data["second_round"]
            growth = (level["rss_kb"] - data["levels"][-1]["rss_kb"]) / 1024
            _idle_row(table, name, level, f"{level['held']} again (RSS {growth:+.1f} MB vs the "
                      "first time)", per_association=False)
    return table


def _seconds(phase: dict[str, Any] | None) -> str:
    if not phase:
        return "—"
    if phase.get("last_s") is None:
        return phase.get("error", "failed")
    return f"{phase['last_s']:.3f}"


def fanout_table(rows: list[dict[str, Any]], markdown: bool) -> Table:
    table = Table(["subscribers", "pynetdicom cold", "pynetdicom warm", "aioups cold",
                   "aioups warm", "ratio cold", "ratio warm"], markdown)
    for row in rows:
        theirs, ours = row.get("pynetdicom", {}), row.get("aioups", {})
        ratios = []
        for phase in ("cold", "warm"):
            t = (theirs.get(phase) or {}).get("last_s")
            o = (ours.get(phase) or {}).get("last_s")
            ratios.append(ratio(t, max(o, 1e-4)) if t and o is not None else "—")
        table.add(row["subscribers"], _seconds(theirs.get("cold")),
                  _seconds(theirs.get("warm")), _seconds(ours.get("cold")),
                  _seconds(ours.get("warm")), *ratios)
    return table


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


#: A Done-when target: (target, measured, met for each baseline of the run; None: unknown).
Target = tuple[str, str, dict[str, bool | None]]


def rate_target(cfg: Config, name: str, row: dict[str, Any] | None) -> Target | None:
    """aioups' rate against each baseline's (the better of its threads and processes): met when
    the first backend's ratio is at least 20."""
    if row is None:
        return None
    parts, met = [], {}
    for baseline in cfg.baselines:
        theirs = best_pynetdicom(row, baseline)
        values = {b: r["rate"] / theirs for b, r in row["aioups"].items()
                  if theirs and r.get("rate")}
        met[baseline] = values.get(cfg.backends[0], 0) >= 20 if values else None
        if values:
            parts.append(f"{BASELINE_SHORT[baseline]}: "
                         + ", ".join(f"{b} {v:.1f}x" for b, v in values.items()))
    return name, "; ".join(parts) or "not measured", met


def targets(cfg: Config) -> list[Target]:
    """(target, measured, met per baseline) for each Done-when target that this run measured.
    The absolute targets (fan-out, idle associations) are met or not whatever the baseline."""
    res = cfg.results
    out: list[Target | None] = []

    def absolute(name: str, measured: str, met: bool) -> None:
        out.append((name, measured, dict.fromkeys(cfg.baselines, met)))

    if "echo" in res and not cfg.quick:
        out.append(rate_target(cfg, "C-ECHO 1x2000 >= 20x",
                               _find(res["echo"], associations=1, per=2000)))
        out.append(rate_target(cfg, "C-ECHO 50x200 >= 20x",
                               _find(res["echo"], associations=50, per=200)))
    if "create" in res and not cfg.quick:
        out.append(rate_target(cfg, "N-CREATE 20x100 in memory >= 20x",
                               _find(res["create"], associations=20, per=100, store="memory",
                                     charset=None)))
    if "fanout" in res:
        row = _find(res["fanout"], subscribers=max(cfg.fanout))
        ours = (row or {}).get("aioups", {})
        cold, warm = (ours.get(p, {}).get("last_s") for p in ("cold", "warm"))
        if cold is not None and max(cfg.fanout) >= 1000:
            absolute(f"fan-out to {max(cfg.fanout)} < 1 s",
                     f"cold {cold:.3f} s, warm {warm if warm is None else f'{warm:.3f}'} s",
                     cold < 1.0)
    if "idle" in res:
        levels = res["idle"]["aioups"]["levels"]
        if levels:
            top = levels[-1]
            absolute(f"{max(cfg.idle_levels)} idle associations, new ones served",
                     f"{top['held']} held, fresh association "
                     f"{'ok' if top['probe']['ok'] else 'FAILED'}",
                     top["held"] >= max(cfg.idle_levels) and top["probe"]["ok"])
            per = top["kb_per_association"]
            absolute("RSS per association < 30 KB", f"{per} KB", per is not None and per < 30)
    return [t for t in out if t is not None]


def targets_table(cfg: Config, markdown: bool) -> Table:
    table = Table(["target", "measured"] + [f"met ({BASELINE_SHORT[b]})" for b in cfg.baselines],
                  markdown)
    for name, measured, met in targets(cfg):
        table.add(name, measured, *("—" if met.get(b) is None else ("yes" if met[b] else "NO")
                                    for b in cfg.baselines))
    return table


# --- machine ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                   cpu)
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name in ("aioups", "pynetdicom", "pydicom", "anyio", "uvloop", "trio"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    summary = (f"{platform.python_implementation()} {platform.python_version()}, "
               f"{platform.machine()} {platform.system()} {platform.release()}, {cpu}, "
               f"{os.cpu_count()} CPUs, {mem_gib:.0f} GiB; "
               + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return {"summary": summary, "cpu": cpu, "cpus": os.cpu_count(), "mem_gib": round(mem_gib, 1),
            "python": platform.python_version(), "versions": versions}
