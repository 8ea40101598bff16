#!/usr/bin/env python3
"""Parsing and reporting for bench/run. Standard library only.

    parse.py record METRICS SERVER ROUND wrk|ab TEST FILE   parse a tool's output, append its figures
    parse.py set METRICS SERVER ROUND NAME VALUE            append one figure ("fail" for a failure)
    parse.py report METRICS OUTDIR RESULTS_MD RATIOS_JSON   print the table, write results.md and ratios
    parse.py readme SUMMARY_MD README_MD                    put the summary between README's bench markers
    parse.py tree DIR COUNT PATHS_FILE                      write COUNT files of 1-8 KiB under DIR, list their URL paths

METRICS is a JSON-lines file: one {"server", "round", "metric", "value"}
object per line; a value of null records a failed measurement.
"""

import datetime
import json
import os
import re
import statistics
import sys

# ---------------------------------------------------------------- parsing

_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS_S[m.group(2)]


def parse_wrk(text):
    """Figures from `wrk --latency` output."""
    out = {}
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if not m:
        raise ValueError("no Requests/sec line in wrk output")
    out["rps"] = float(m.group(1))
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+)(B|KB|MB|GB|TB) read", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
        out["read_bytes"] = float(m.group(3)) * 1024 ** ("B KB MB GB TB".split().index(m.group(4)))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            out[f"p{pct}_ms"] = _seconds(m.group(1)) * 1e3
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    for i, kind in enumerate(("connect", "read", "write", "timeout")):
        out[f"err_{kind}"] = int(m.group(i + 1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    return out


def parse_ab(text):
    """Figures from `ab` output (a run that aborted has no Requests per second)."""
    out = {}
    m = re.search(r"^Requests per second:\s+([\d.]+)", text, re.M)
    if not m:
        raise ValueError("no 'Requests per second' line in ab output")
    out["rps"] = float(m.group(1))
    for key, label in (("complete", "Complete requests"), ("failed", "Failed requests"),
                       ("non2xx", "Non-2xx responses"), ("keepalive", "Keep-Alive requests")):
        m = re.search(rf"^{label}:\s+(\d+)", text, re.M)
        out[key] = int(m.group(1)) if m else 0
    m = re.search(r"^\s+99%\s+(\d+)", text, re.M)
    if m:
        out["p99_ms"] = float(m.group(1))
    return out


def append(path, server, rnd, metric, value):
    with open(path, "a") as f:
        f.write(json.dumps({"server": server, "round": int(rnd), "metric": metric, "value": value}) + "\n")


def cmd_record(args):
    path, server, rnd, kind, test, file = args
    with open(file, errors="replace") as f:
        text = f.read()
    try:
        figures = (parse_wrk if kind == "wrk" else parse_ab)(text)
    except ValueError as e:
        print(f"parse.py: {file}: {e}", file=sys.stderr)
        append(path, server, rnd, f"{test}.rps", None)
        append(path, server, rnd, f"{test}.aborted", 1)
        return 1
    for key, value in figures.items():
        append(path, server, rnd, f"{test}.{key}", value)
    return 0


def cmd_set(args):
    path, server, rnd, name, value = args
    append(path, server, rnd, name, None if value in ("fail", "", "nan") else float(value))
    return 0


# ---------------------------------------------------------------- report

HIGHER, LOWER = "higher", "lower"

# (metric, label, better, format, ratio?). Ratios are computed on CPU per
# request (or per MiB) and memory: requests/s on two cores measure the client
# (wrk on one core saturates near 130k req/s), so those rows carry no ratio.
# MiB/s rows keep theirs, as the download goals are stated in MiB/s.
CPU = "CPU µs/req"
MAIN_METRICS = [
    ("ka.cpu_us", f"1 KiB keep-alive, {{conns}} conns: {CPU}", LOWER, "{:.2f}", True),
    ("ka.rps", "  req/s (client-bound)", HIGHER, "{:,.0f}", False),
    ("ka.p99_ms", "  p99 latency (ms)", LOWER, "{:.2f}", False),
    ("close.cpu_us", f"1 KiB Connection: close, {{conns}} conns: {CPU}", LOWER, "{:.2f}", True),
    ("close.rps", "  req/s (wrk)", HIGHER, "{:,.0f}", False),
    ("abclose.rps", "  req/s (ab, no -k)", HIGHER, "{:,.0f}", False),
    ("c1.cpu_us", f"1 KiB keep-alive, 1 conn: {CPU}", LOWER, "{:.2f}", True),
    ("c1.rps", "  req/s", HIGHER, "{:,.0f}", False),
    ("c1000.cpu_us", f"1 KiB keep-alive, {{many}} conns: {CPU}", LOWER, "{:.2f}", True),
    ("c1000.rps", "  req/s (wrk)", HIGHER, "{:,.0f}", False),
    ("c1000.p99_ms", "  p99 latency (ms)", LOWER, "{:.2f}", False),
    ("abc1000.rps", "  req/s (ab -k)", HIGHER, "{:,.0f}", False),
    ("cmax.cpu_us", f"1 KiB keep-alive, {{conns_max}} conns: {CPU}", LOWER, "{:.2f}", True),
    ("cmax.rps", "  req/s", HIGHER, "{:,.0f}", False),
    ("files.cpu_us", f"{{files_n}} files of 1-8 KiB, random: {CPU}", LOWER, "{:.2f}", True),
    ("files.rps", "  req/s", HIGHER, "{:,.0f}", False),
    ("listing.cpu_us", f"{{list_n}}-entry listing, {{list_conns}} conns: {CPU}", LOWER, "{:,.0f}", True),
    ("listing.rps", "  listings/s", HIGHER, "{:,.1f}", False),
    ("listing.kib", "  KiB per listing (headers + HTML)", LOWER, "{:,.0f}", False),
    ("log.cpu_us", f"1 KiB keep-alive, access log on: {CPU}", LOWER, "{:.2f}", True),
    ("log.overhead", "  access log on ÷ off, CPU", LOWER, "{:.3f}", True),
    ("dl.cpu_ms_mib", "256 MiB, 1 download: CPU ms/MiB", LOWER, "{:.3f}", True),
    ("dl.mibs", "  MiB/s (curl)", HIGHER, "{:,.0f}", True),
    ("dl8.cpu_ms_mib", "256 MiB, {dl_par} at once: CPU ms/MiB", LOWER, "{:.3f}", True),
    ("dl8.mibs", "  MiB/s, all together", HIGHER, "{:,.0f}", True),
    ("big1.cpu_ms_mib", "{big_gib} GiB (sparse), 1 download: CPU ms/MiB", LOWER, "{:.3f}", True),
    ("big1.mibs", "  MiB/s", HIGHER, "{:,.0f}", True),
    ("big8.cpu_ms_mib", "{big_gib} GiB (sparse), {dl_par} at once: CPU ms/MiB", LOWER, "{:.3f}", True),
    ("big8.mibs", "  MiB/s, all together", HIGHER, "{:,.0f}", True),
    ("dl.peak_rss_mib", "Peak RSS during the downloads (MiB)", LOWER, "{:.1f}", True),
    ("rest.rss_mib", "RSS at rest (MiB)", LOWER, "{:.1f}", True),
    ("idle.rss_mib", "RSS with {idle_n} idle conns (MiB)", LOWER, "{:.1f}", True),
    ("idle.kib_per_conn", "RSS per idle conn (KiB)", LOWER, "{:.2f}", True),
    ("idle.fresh_ms", "Fresh request with {idle_n} idle conns (ms)", LOWER, "{:.2f}", True),
]

# Columns in this order (those measured); "floor" is the fixed-response
# responder, shown for reference and never a peer.
SERVER_ORDER = ["rawserve", "floor", "nginx", "lighttpd", "h2o", "caddy"]
FLOOR = "floor"

EXTRA_METRICS = [
    ("idle2k.fresh_ms", "Fresh request with {idle2_n} idle conns, --threads 2 unpinned (ms)", "{:.2f}"),
    ("idle2k.rss_mib", "RSS with {idle2_n} idle conns, --threads 2 unpinned (MiB)", "{:.1f}"),
    ("idle2k.held", "Connections held by the server (of {idle2_n})", "{:.0f}"),
]

# Sums over rounds, per server: (label, [metrics])
CHECKS = [
    ("wrk non-2xx/3xx (ka / close / c1000)", ["ka.non2xx", "close.non2xx", "c1000.non2xx"]),
    ("wrk non-2xx/3xx (c1 / cmax / files / listing / log)",
     ["c1.non2xx", "cmax.non2xx", "files.non2xx", "listing.non2xx", "log.non2xx"]),
    ("wrk socket errors connect/read/write/timeout, cmax", ["cmax.err_connect", "cmax.err_read", "cmax.err_write", "cmax.err_timeout"]),
    ("wrk socket errors connect/read/write/timeout, files", ["files.err_connect", "files.err_read", "files.err_write", "files.err_timeout"]),
    ("wrk socket errors connect/read/write/timeout, listing", ["listing.err_connect", "listing.err_read", "listing.err_write", "listing.err_timeout"]),
    ("downloads failed: 256 MiB × {dl_par} / {big_gib} GiB × 1 / × {dl_par}", ["dl8.failed", "big1.failed", "big8.failed"]),
    ("access-log lines written (log row)", ["log.lines"]),
    ("wrk socket errors connect/read/write/timeout, ka", ["ka.err_connect", "ka.err_read", "ka.err_write", "ka.err_timeout"]),
    ("wrk socket errors connect/read/write/timeout, close", ["close.err_connect", "close.err_read", "close.err_write", "close.err_timeout"]),
    ("wrk socket errors connect/read/write/timeout, c1000", ["c1000.err_connect", "c1000.err_read", "c1000.err_write", "c1000.err_timeout"]),
    ("ab failed / non-2xx, close (of {ab_close_n} per round)", ["abclose.failed", "abclose.non2xx"]),
    ("ab failed / non-2xx / keep-alive reqs, c1000 (of {ab_ka_n} per round)", ["abc1000.failed", "abc1000.non2xx", "abc1000.keepalive"]),
    ("ab runs aborted (close / c1000)", ["abclose.aborted", "abc1000.aborted"]),
    ("downloads failed (of {dl_count} per round)", ["dl.failed"]),
    ("idle: opened / failed by client", ["idle.opened", "idle.failed"]),
    ("idle: held by server (fds) / still open at end / answered", ["idle.held", "idle.alive", "idle.answered"]),
    ("idle: fresh requests failed (of {fresh_count} per round)", ["idle.fresh_failed"]),
]


# Server and helper logs summarised in results.md: (name, path under bench/out).
LOGS = [
    ("rawserve", "logs/rawserve.log"),
    ("rawserve --threads 2", "logs/rawserve-t2.log"),
    ("nginx", "nginx/error.log"),
    ("lighttpd", "lighttpd/error.log"),
    ("h2o", "h2o/error.log"),
    ("caddy", "logs/caddy.log"),
    ("floor", "logs/floor.log"),
    ("rawserve, access log on", "logs/rawserve-log.log"),
    ("idle_conns.py", "logs/idle_conns.log"),
]


def log_summary(outdir, limit=12):
    """Distinct log messages (timestamps and ids stripped) with counts."""
    parts = []
    for name, rel in LOGS:
        try:
            with open(os.path.join(outdir, rel), errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            continue
        counts = {}
        for line in lines:
            msg = re.sub(r"^\[?\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d\S*:?\s*", "", line.strip())
            msg = re.sub(r"\b\d+#\d+: (\*\d+ )?", "", msg)
            msg = re.sub(r"(PID = |pid )\d+", r"\1N", msg)
            msg = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", msg)
            if msg:
                counts[msg] = counts.get(msg, 0) + 1
        if not counts:
            parts.append(f"- {name}: (empty)")
            continue
        parts.append(f"- {name}: {len(lines)} lines")
        for msg, n in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]:
            quoted = msg.replace("`", "'")
            parts.append(f"  - {n} × `{quoted}`")
        if len(counts) > limit:
            parts.append(f"  - … {len(counts) - limit} more distinct messages")
    return "\n".join(parts)


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def read_meta(outdir):
    meta = {}
    try:
        with open(os.path.join(outdir, "meta.env")) as f:
            for line in f:
                key, sep, value = line.rstrip("\n").partition("=")
                if sep:
                    meta[key] = value
    except FileNotFoundError:
        pass
    return meta


def ratio_text(ratio):
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def fmt(value, pattern):
    if value is None:
        return "fail"
    return pattern.format(value)


def report(rows, meta, outdir, md_path, ratios_path):
    present = {r["server"] for r in rows}
    servers = [s for s in SERVER_ORDER if s in present]
    servers += sorted(s for s in present if s not in servers and not s.endswith("-t2"))
    main = "rawserve"
    peers = [s for s in servers if s not in (main, FLOOR)]
    values = {}  # (server, metric) -> [values per round]
    for r in rows:
        values.setdefault((r["server"], r["metric"]), []).append(r["value"])
    # Derived, per round: CPU per request with the access log on ÷ off, and
    # the size of a listing (wrk's bytes read ÷ requests).
    for (server, metric), vals in list(values.items()):
        if metric == "listing.read_bytes":
            reqs = values.get((server, "listing.requests"), [])
            values[(server, "listing.kib")] = [
                (b / n / 1024 if b is not None and n else None) for b, n in zip(vals, reqs)]
        if metric == "log.cpu_us":
            off = values.get((server, "ka.cpu_us"), [])
            values[(server, "log.overhead")] = [
                (on / o if on is not None and o else None) for on, o in zip(vals, off)]

    def median(server, metric):
        vals = [v for v in values.get((server, metric), []) if v is not None]
        return statistics.median(vals) if vals else None

    def wrong_answers(server, metric):
        """Non-2xx/3xx answers wrk counted in the run a metric comes from."""
        test = metric.split(".")[0]
        return int(sum(v for v in values.get((server, f"{test}.non2xx"), []) if v))

    def failures(server, metric):
        return sum(1 for v in values.get((server, metric), []) if v is None)

    def total(server, metric):
        # Counters are only recorded when their run happened; "aborted" only
        # when it is 1, so a missing one counts as 0.
        if (server, metric) not in values and not metric.endswith(".aborted"):
            return None
        return int(sum(v for v in values.get((server, metric), []) if v is not None))

    subst = {k: meta.get(k.upper(), "?") for k in
             ("idle_n", "idle2_n", "ab_close_n", "ab_ka_n", "dl_count", "fresh_count", "conns", "many",
              "conns_max", "files_n", "list_n", "dl_par", "big_gib", "list_conns")}
    for k, v in list(subst.items()):
        try:
            subst[k] = f"{int(v):,}"
        except ValueError:
            pass

    lines = []
    head = ["Metric", "better"] + servers + ["best peer", "ratio", "÷ floor"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(servers) + 3)) + "|")
    ratios = []
    section = ""
    for metric, label, better, pattern, has_ratio in MAIN_METRICS:
        if not any((s, metric) in values for s in servers):
            continue  # a workload left out by WORKLOADS
        label = label.format(**subst)
        if label.startswith("  "):
            label = f"↳ {label.strip()}"  # a sub-row of the row above
            full_label = f"{section}, {label[2:]}"
        else:
            section = label.split(":")[0]
            full_label = label
        cells = []
        for s in servers:
            v = median(s, metric)
            cell = fmt(v, pattern) if (s, metric) in values else "–"
            n_fail = failures(s, metric)
            if n_fail and v is not None:
                cell += f" ({n_fail} fail)"
            if wrong_answers(s, metric):
                cell += f" ({wrong_answers(s, metric):,} non-2xx)"
            cells.append(cell)
        # A peer that answered errors did less work: it is shown, never the best.
        peer_vals = [(median(p, metric), p) for p in peers
                     if median(p, metric) is not None and not wrong_answers(p, metric)]
        mine = median(main, metric)
        ratio = None
        best = None
        if peer_vals:
            best = (max if better == HIGHER else min)(peer_vals)
            if mine is not None:
                if better == HIGHER:
                    ratio = mine / best[0] if best[0] else None
                else:
                    ratio = best[0] / mine if mine else None
        best_cell = f"{best[1]} {fmt(best[0], pattern)}" if best else "n/a"
        if not has_ratio:
            ratio = None
            ratio_cell = "–"
        else:
            ratio_cell = f"**{ratio_text(ratio)}**" if ratio is not None else "n/a"
        floor_v = median(FLOOR, metric)
        floor_cell = (f"{mine / floor_v:.2f}×" if has_ratio and better == LOWER and mine and floor_v
                      else "–")
        lines.append("| " + " | ".join([label, better] + cells + [best_cell, ratio_cell, floor_cell]) + " |")
        if ratio is not None:
            ratios.append({"metric": metric, "label": full_label, "ratio": ratio, "better": better})
    table = "\n".join(lines)

    extra_lines = ["| Metric (rawserve only) | value |", "|---|---:|"]
    for metric, label, pattern in EXTRA_METRICS:
        v = median("rawserve-t2", metric)
        if ("rawserve-t2", metric) in values:
            extra_lines.append(f"| {label.format(**subst)} | {fmt(v, pattern)} |")
    extra = "\n".join(extra_lines) if len(extra_lines) > 2 else ""

    check_lines = ["| Check (sum over rounds) | " + " | ".join(servers) + " |",
                   "|---|" + "|".join(["---:"] * len(servers)) + "|"]
    for label, metrics in CHECKS:
        cells = []
        for s in servers:
            parts = [total(s, m) for m in metrics]
            cells.append(" / ".join("–" if p is None else f"{p:,}" for p in parts))
        if all(set(c) <= set("– /") for c in cells):
            continue  # a workload left out by WORKLOADS
        check_lines.append(f"| {label.format(**subst)} | " + " | ".join(cells) + " |")
    checks = "\n".join(check_lines)

    rounds = sorted({r["round"] for r in rows})
    per_round = ["| Metric | server | " + " | ".join(f"round {n}" for n in rounds) + " |",
                 "|---|---|" + "|".join(["---:"] * len(rounds)) + "|"]
    for metric, label, _better, pattern, _has_ratio in MAIN_METRICS:
        for s in servers:
            by_round = {r["round"]: r["value"] for r in rows if r["server"] == s and r["metric"] == metric}
            per_round.append(f"| {metric} | {s} | " + " | ".join(
                fmt(by_round[n], pattern) if n in by_round else "" for n in rounds) + " |")
    per_round = "\n".join(per_round)

    header_note = ("Medians over rounds. **ratio** = best peer ÷ rawserve for server CPU per request "
                   "(or per MiB), latency and memory, rawserve ÷ best peer for MiB/s, so **≥ 1.00 "
                   "always means rawserve wins**; requests/s rows carry no ratio, as on two cores "
                   "they measure the client. **÷ floor** = rawserve's CPU ÷ the floor responder's "
                   "(a fixed 1 KiB from memory, one recv + one send per request). "
                   "The floor is not a peer.")

    print()
    print(header_note)
    print()
    print(table)
    if extra:
        print()
        print(extra)
    print()
    print(checks)
    print()

    with open(ratios_path, "w") as f:
        json.dump(ratios, f, indent=1)

    # What the top-level README shows (spliced in by `parse.py readme`).
    summary = [
        f"Measured by `bench/run` on {meta.get('DATE', '?')}: {meta.get('NPROC', '?')} cores "
        f"({meta.get('CPU', '?')}), {meta.get('KERNEL', '?')}, {meta.get('ROUNDS', '?')} "
        f"round{'' if meta.get('ROUNDS') == '1' else 's'} of "
        f"{meta.get('DURATION', '?')} s, load average before {meta.get('LOAD_BEFORE', '?')}. "
        "Each server on one core with one worker, the load generator on the other.",
    ]
    caveats = []
    try:
        if int(meta.get("ROUNDS", "3")) < 3:
            caveats.append(f"a reduced run ({meta.get('ROUNDS')} round: one value per row, not a median)")
    except ValueError:
        pass
    try:
        if float(meta.get("LOAD_BEFORE", "0").split()[0]) > 0.5:
            caveats.append("other work was running on the machine (load average above)")
    except ValueError:
        pass
    if caveats:
        summary[-1] += " **Indicative only:** " + "; ".join(caveats) + "; rerun `bench/run` on a quiet machine for figures to quote."
    summary += [
        "",
        header_note,
        "",
        table,
    ]
    if extra:
        summary += ["", extra]
    summary += ["", "![rawserve / best peer, per metric](bench/ratios.svg)", "",
                "Checks, every round's figures, exact commands and configs: "
                "[bench/results.md](bench/results.md); method and profile: [bench/README.md](bench/README.md)."]
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write("\n".join(summary) + "\n")

    def section_file(name):
        try:
            with open(os.path.join(outdir, name)) as f:
                return f.read().rstrip("\n")
        except FileNotFoundError:
            return "(missing)"

    # Client commands differ between servers only by port: show them once.
    commands = []
    for line in section_file("commands.log").splitlines():
        line = re.sub(r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:$PORT/", line)
        line = re.sub(r"(idle_conns\.py 127\.0\.0\.1) \d+ ", r"\1 $PORT ", line)
        if line not in commands:
            commands.append(line)

    md = []
    md.append("# rawserve benchmark results")
    md.append("")
    md.append("Generated by `bench/run` — do not edit by hand; rerun it instead. "
              "See `bench/README.md` for the method.")
    md.append("")
    md.append(f"- Date: {meta.get('DATE', datetime.datetime.now().isoformat(timespec='seconds'))}")
    md.append(f"- Machine: {meta.get('NPROC', '?')} CPUs ({meta.get('CPU', '?')}), "
              f"kernel {meta.get('KERNEL', '?')}, {meta.get('MEM', '?')} RAM")
    md.append(f"- rawserve: {meta.get('RAWSERVE_REV', '?')}")
    md.append(f"- Peers: {meta.get('NGINX_VERSION', '?')}; {meta.get('LIGHTTPD_VERSION', '?')}; "
              f"{meta.get('H2O_VERSION', '?')}; {meta.get('CADDY_VERSION', '?')}")
    md.append(f"- Clients: {meta.get('WRK_VERSION', '?')}; {meta.get('AB_VERSION', '?')}; {meta.get('CURL_VERSION', '?')}")
    md.append(f"- Settings: ROUNDS={meta.get('ROUNDS')} DURATION={meta.get('DURATION')}s "
              f"CONNS={meta.get('CONNS')} MANY={meta.get('MANY')} IDLE_N={meta.get('IDLE_N')} "
              f"IDLE_MIX={meta.get('IDLE_MIX')} IDLE2_N={meta.get('IDLE2_N')} "
              f"AB_CLOSE_N={meta.get('AB_CLOSE_N')} AB_KA_N={meta.get('AB_KA_N')} "
              f"DL_COUNT={meta.get('DL_COUNT')} FRESH_COUNT={meta.get('FRESH_COUNT')} "
              f"WORKLOADS='{meta.get('WORKLOADS')}' FILES_N={meta.get('FILES_N')} LIST_N={meta.get('LIST_N')} "
              f"BIG_GIB={meta.get('BIG_GIB')} DL_PAR={meta.get('DL_PAR')} CONNS_MAX={meta.get('CONNS_MAX')}")
    md.append(f"- Open-file limit: {meta.get('NOFILE', '?')}; server on CPU {meta.get('SERVER_CPU', '?')}, "
              f"clients on CPU {meta.get('CLIENT_CPU', '?')}; listen backlogs: {meta.get('BACKLOGS', '?')}")
    md.append(f"- Load average (1/5/15 min) before the run: {meta.get('LOAD_BEFORE', '?')}; after: "
              f"{meta.get('LOAD_AFTER', '?')} (other work on the machine shows here)")
    md.append(f"- Run time: {meta.get('ELAPSED', '?')} s")
    md.append("")
    md.append("## Results")
    md.append("")
    md.append(header_note)
    md.append("")
    md.append(table)
    md.append("")
    md.append("![ratios](ratios.svg)")
    md.append("")
    if extra:
        md.append("### rawserve with --threads 2, unpinned")
        md.append("")
        md.append(extra)
        md.append("")
    md.append("## Checks (errors, failures, timeouts)")
    md.append("")
    md.append("wrk counts only completed requests and lists errors separately; ab's "
              "\"Failed requests\" counts connect, receive, length and exception failures.")
    md.append("")
    md.append(checks)
    md.append("")
    md.append("## Server logs")
    md.append("")
    md.append("Distinct messages in each log over the whole run (rawserve runs with RUST_LOG=warn). "
              "lighttpd allows at most `server.max-fds` ÷ 2 connections, and says so here when "
              "the idle test reaches that limit.")
    md.append("")
    md.append(log_summary(outdir))
    md.append("")
    md.append("## Per round")
    md.append("")
    md.append(per_round)
    md.append("")
    md.append("## Commands")
    md.append("")
    md.append("Run from the repository root, each server alone and restarted for each phase "
              "(request rates, download, idle connections); the clients then ran against it with "
              f"`$PORT` = its port ({meta.get('PORTS', '?')}). In the configs, `$B` is the "
              "repository's `bench/out` directory.")
    md.append("")
    md.append("```sh")
    md.extend(c.replace(outdir, "$B") for c in commands)
    md.append("```")
    md.append("")
    md.append("### nginx.conf")
    md.append("")
    md.append("```nginx")
    md.append(section_file("nginx/nginx.conf").replace(outdir, "$B"))
    md.append("```")
    md.append("")
    md.append("### lighttpd.conf")
    md.append("")
    md.append("```")
    md.append(section_file("lighttpd/lighttpd.conf").replace(outdir, "$B"))
    md.append("```")
    md.append("")
    md.append("### h2o.conf")
    md.append("")
    md.append("```yaml")
    md.append(section_file("h2o/h2o.conf").replace(outdir, "$B"))
    md.append("```")
    md.append("")
    md.append("### Caddyfile")
    md.append("")
    md.append("```")
    md.append(section_file("caddy/Caddyfile").replace(outdir, "$B"))
    md.append("```")
    md.append("")
    with open(md_path, "w") as f:
        f.write("\n".join(md))
    return 0


def cmd_report(args):
    metrics, outdir, md_path, ratios_path = args
    return report(load(metrics), read_meta(outdir), os.path.abspath(outdir), md_path, ratios_path)


README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def cmd_readme(args):
    """Replaces what stands between the bench markers in README with SUMMARY."""
    summary_path, readme_path = args
    with open(summary_path) as f:
        summary = f.read().rstrip("\n")
    with open(readme_path) as f:
        readme = f.read()
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        print(f"{readme_path}: no {README_START} … {README_END} section", file=sys.stderr)
        return 1
    readme = readme[: start + len(README_START)] + "\n" + summary + "\n" + readme[end:]
    with open(readme_path, "w") as f:
        f.write(readme)
    return 0


def cmd_tree(args):
    """COUNT files of 1-8 KiB (random bytes, sizes from a fixed seed) in
    directories of 1,000 under DIR; their URL paths, shuffled, to PATHS_FILE."""
    import random
    root, count, paths_file = args[0], int(args[1]), args[2]
    rng = random.Random(14)
    docroot = os.path.dirname(os.path.abspath(root))
    paths = []
    for i in range(count):
        d = os.path.join(root, f"d{i // 1000:03d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"f{i:06d}.bin")
        with open(path, "wb") as f:
            f.write(rng.randbytes(rng.randint(1024, 8192)))
        paths.append("/" + os.path.relpath(path, docroot))
    rng.shuffle(paths)
    with open(paths_file, "w") as f:
        f.write("\n".join(paths) + "\n")
    return 0


def main(argv):
    commands = {"record": (cmd_record, 6), "set": (cmd_set, 5), "report": (cmd_report, 4), "readme": (cmd_readme, 2),
                "tree": (cmd_tree, 3)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = commands[argv[1]]
    return fn(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
