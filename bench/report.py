#!/usr/bin/env python3
"""Markdown results table from a bench/results/*.json file.

    python3 bench/report.py RESULTS.json

Each peer cell is "value (pguard/peer ratio)"; lower is better everywhere.
"""

import json
import sys

PEERS = ["pguard", "floor", "supervisord", "runit", "s6", "daemontools"]


def mib(kb):
    return None if kb is None else kb / 1024.0


def fmt(v, digits):
    if v is None:
        return "–"
    if isinstance(v, float):
        return ("%." + str(digits) + "f") % v
    return str(v)


ROWS = [
    # label, key, scale, digits, target text, target check
    ("(a) restart p50, ms", "restart_p50_ms", None, 3, "≤ 1.3",
     lambda v: v <= 1.3),
    ("(a) restart p95, ms", "restart_p95_ms", None, 3, "≤ 2.5",
     lambda v: v <= 2.5),
    ("(a) restart max, ms", "restart_max_ms", None, 2, "", None),
    ("(b) death → status p50, ms", "status_p50_ms", None, 3, "≤ 1",
     lambda v: v <= 1.0),
    ("(b) death → status p95, ms", "status_p95_ms", None, 3, "", None),
    ("(c) PSS, 1 job, MiB", "pss_1", mib, 2, "", None),
    ("(c) PSS, 100 jobs, MiB", "pss_100", mib, 2, "", None),
    ("(c) PSS, 1000 jobs, MiB", "pss_1000", mib, 2, "≤ 6",
     lambda v: v <= 6 * 1024),
    ("(c) RSS, 1 job, MiB", "rss_1", mib, 2, "", None),
    ("(c) RSS, 100 jobs, MiB", "rss_100", mib, 2, "", None),
    ("(c) RSS, 1000 jobs, MiB", "rss_1000", mib, 2, "", None),
    ("supervisor processes, 1000 jobs", "procs_1000", None, 0, "", None),
    ("(d) idle CPU, ms (100 jobs)", "idle_cpu_ms", None, 1, "", None),
    ("(d) idle context switches (100 jobs)", "idle_switches", None, 0, "0",
     lambda v: v == 0),
    ("(e) status, 100 jobs, ms", "status_100_ms", None, 2, "≤ 2.5",
     lambda v: v <= 2.5),
    ("(e) status, 1000 jobs, ms", "status_1000_ms", None, 2, "≤ 12",
     lambda v: v <= 12),
    ("(f) bring-up of 1000 jobs (median), ms", "bringup_1000_ms", None, 1,
     "≤ 700", lambda v: v <= 700),
    ("(f) bring-up of 1000 jobs (best), ms", "bringup_1000_min_ms", None, 1,
     "", None),
]


def table(doc):
    res = doc["results"]
    peers = [p for p in PEERS if p in res]
    out = []
    head = ["measurement", "target"] + peers + ["pguard meets?"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for label, key, scale, digits, target, check in ROWS:
        pg = res.get("pguard", {}).get(key)
        cells = [label, target]
        for p in peers:
            v = res.get(p, {}).get(key)
            if v is None:
                cells.append("–")
                continue
            text = fmt(scale(v) if scale else v, digits)
            if p != "pguard" and pg is not None and v:
                text += " (%.2g×)" % (pg / v)
            cells.append(text)
        if check and pg is not None:
            cells.append("yes" if check(pg) else "**no**")
        elif check:
            cells.append("not measured")
        else:
            cells.append("")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def big(doc):
    r = doc["results"].get("pguard", {})
    if "big_n" not in r:
        return ""
    n = r["big_n"]
    lines = ["", "(g) %d jobs on one pguard watcher:" % n, ""]
    lines.append("| measurement | value |")
    lines.append("|---|---|")
    rows = [
        ("jobs started (distinct start lines)", r.get("big_started")),
        ("jobs alive (of %d)" % n, r.get("big_alive")),
        ("`pguard status` lines `failed`", r.get("big_status_failed")),
        ("watcher/log lines 'Too many open files'",
         r.get("big_watcher_log_emfile")),
        ("`pguard status` lines `running`", r.get("big_status_running")),
        ("watcher PSS, MiB", fmt(mib(r.get("pss_big")), 2)),
        ("watcher RSS, MiB", fmt(mib(r.get("rss_big")), 2)),
        ("watcher open fds", r.get("big_watcher_fds")),
        ("bring-up (`start --all` → last start line), ms",
         r.get("bringup_big_ms")),
        ("`pguard status` wall time (hyperfine median), ms",
         r.get("status_big_ms")),
        ("idle context switches over 10 s", r.get("big_idle_switches")),
        ("restart p50 / p95 of one job, ms", "%s / %s" % (
            r.get("big_restart_p50_ms"), r.get("big_restart_p95_ms"))),
    ]
    for k, v in rows:
        lines.append("| %s | %s |" % (k, v))
    return "\n".join(lines)


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    m = doc["machine"]
    print("Run of %s (%ss, %s): %s, %s cores, %s, kernel %s, load at start %s"
          % (doc["started"], doc["seconds"],
             "quick" if doc["quick"] else "full", m["cpu"], m["cores"],
             m["memory"], m["kernel"], " ".join(m["load_at_start"])))
    print("Peers: " + ", ".join("%s %s" % kv for kv in
                                sorted(m["versions"].items())))
    print("Restart: %d kills spaced 1.6 s; idle window %d s."
          % (doc["kills"], doc["idle_s"]))
    loads = [l[2] for l in doc.get("loads", [])]
    if loads:
        print("1-min load average when each scenario started: %.2f to %.2f "
              "(2 cores; other sessions share the machine)"
              % (min(loads), max(loads)))
    print()
    print(table(doc))
    print(big(doc))
    if doc["errors"]:
        print()
        print("Errors:")
        for e in doc["errors"]:
            print("- " + e)


if __name__ == "__main__":
    main()
