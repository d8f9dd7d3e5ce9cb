#!/usr/bin/env python3
"""pguard benchmark driver (stdlib only).  Run it through bench/run.

Every supervisor runs from a private temporary directory TMP (given by
bench/run): its configuration, its service directories, the jobs' start
files and pguard's home all live there.  Nothing system-wide is touched.

This process makes itself a child subreaper, so every job orphaned by a
killed supervisor is reparented here and reaped: no zombie is left behind.
Cleanup (kill every process whose command line, executable or working
directory is inside TMP, then reap) runs after every scenario, on error and
on Ctrl-C.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time

PEERS = ["pguard", "floor", "supervisord", "runit", "s6", "daemontools"]

# ---------------------------------------------------------------------------
# processes


def log(*args):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *args, file=sys.stderr,
          flush=True)


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        log("warning: cannot become a subreaper; orphans go to PID 1")


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def ancestors():
    result = set()
    pid = os.getpid()
    while pid > 1:
        result.add(pid)
        stat = read("/proc/%d/stat" % pid)
        if not stat:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return result


def proc_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid_of(pid):
    stat = read("/proc/%d/stat" % pid)
    if not stat:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def is_zombie(pid):
    stat = read("/proc/%d/stat" % pid)
    return stat is None or stat.rsplit(")", 1)[1].split()[0] == "Z"


def belongs(pid, tmp):
    """A process of this run: command line, executable or cwd in TMP."""
    cmdline = read("/proc/%d/cmdline" % pid, "rb")
    if cmdline and tmp.encode() in cmdline:
        return True
    for link in ("exe", "cwd"):
        try:
            if os.readlink("/proc/%d/%s" % (pid, link)).startswith(tmp):
                return True
        except OSError:
            pass
    return False


def ours(tmp):
    mine = ancestors()
    return [p for p in proc_pids()
            if p not in mine and belongs(p, tmp) and not is_zombie(p)]


def kill_everything(tmp, groups=()):
    """SIGKILL the supervisors' groups, then everything of TMP, until none
    is left; reap what becomes our child."""
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    quiet = 0
    for _ in range(400):
        pids = ours(tmp)
        if not pids:
            quiet += 1
            if quiet >= 3:
                break
        else:
            quiet = 0
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        reap()
        time.sleep(0.05)
    reap()
    left = ours(tmp)
    if left:
        log("warning: processes still alive:", left)
    return not left


def smaps(pids):
    """Sum of Pss and Rss (kB) from /proc/PID/smaps_rollup."""
    pss = rss = 0
    for pid in pids:
        text = read("/proc/%d/smaps_rollup" % pid) or ""
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss, rss


def cpu_and_switches(pids):
    """(utime+stime in clock ticks, voluntary+nonvoluntary switches)."""
    ticks = switches = 0
    for pid in pids:
        stat = read("/proc/%d/stat" % pid)
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        status = read("/proc/%d/status" % pid) or ""
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches",
                                "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    return ticks, switches


def children(pid):
    return [p for p in proc_pids() if ppid_of(p) == pid]


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# start files


def start_lines(path):
    text = read(path) or ""
    lines = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            lines.append((int(parts[0]), float(parts[1])))
    return lines


def wait_starts(path, n, timeout, stall=None, partial=False):
    """Start lines once N distinct jobs have started.  Gives up after
    TIMEOUT seconds, or STALL seconds without a new line; then raises, or
    with PARTIAL returns what there is."""
    deadline = time.monotonic() + timeout
    seen, last_change = -1, time.monotonic()
    while True:
        lines = start_lines(path)
        started = len({pid for pid, _ in lines})
        if started >= n:
            return lines
        now = time.monotonic()
        if started != seen:
            seen, last_change = started, now
        if now > deadline or (stall and now - last_change > stall):
            if partial:
                return lines
            raise RuntimeError("%s: %d of %d jobs started after %ds"
                               % (path, started, n, timeout))
        time.sleep(0.01 if n <= 100 else 0.05)


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# supervisors


class Peer:
    name = ""
    max_jobs = 100000

    def __init__(self, bench, n, tag):
        self.bench = bench
        self.n = n
        self.dir = os.path.join(bench.tmp, "%s-%s" % (self.name, tag))
        os.makedirs(self.dir)
        self.out = os.path.join(self.dir, "starts")
        self.proc = None
        self.logf = open(os.path.join(self.dir, "supervisor.log"), "wb")

    def job_names(self):
        return ["job%d" % i for i in range(self.n)]

    def env(self):
        env = dict(os.environ)
        env["BENCH_OUT"] = self.out
        return env

    def popen(self, argv, **kw):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     env=self.env(), start_new_session=True,
                                     **kw)
        return self.proc

    def groups(self):
        return [self.proc.pid] if self.proc else []

    def first_job_status_dir(self):
        return None

    def stop(self):
        kill_everything(self.bench.tmp, self.groups())
        self.logf.close()

    # service directories for runit, s6 and daemontools: ./run is the job.
    def make_service_dirs(self):
        self.svdir = os.path.join(self.dir, "sv")
        os.makedirs(self.svdir)
        for name in self.job_names():
            d = os.path.join(self.svdir, name)
            os.makedirs(d)
            os.symlink(self.bench.job, os.path.join(d, "run"))

    def root_and_children(self, comm):
        if not self.proc:
            return []
        pids = [self.proc.pid]
        for c in children(self.proc.pid):
            if (read("/proc/%d/comm" % c) or "").strip() == comm:
                pids.append(c)
        return pids


class Floor(Peer):
    name = "floor"
    max_jobs = 1

    def launch(self):
        self.popen([self.bench.floor, self.bench.job, self.out])

    def supervisor_pids(self):
        return [self.proc.pid]

    def status_argv(self):
        return None


class Pguard(Peer):
    name = "pguard"

    def setup(self):
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, mode=0o700)
        os.chmod(self.home, 0o700)
        registry = {}
        for name in self.job_names():
            registry[name] = {"argv": [self.bench.job, self.out],
                              "restart_cooldown": 0,
                              "max_restarts": 2147483647}
        with open(os.path.join(self.home, "registry.json"), "w") as f:
            json.dump(registry, f, indent=1)

    def cli(self, *args):
        return [self.bench.pguard, "--home", self.home] + list(args)

    def launch(self):
        # The user's command: start everything; the CLI auto-starts the
        # watcher (detached) and returns once all are running.
        env = self.env()
        env.pop("PGUARD_HOME", None)
        env.pop("PGUARD_NO_WATCHER", None)
        t = time.time()
        r = subprocess.run(self.cli("start", "--all"), env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        self.cli_seconds = time.time() - t
        if r.returncode != 0:
            log("pguard start --all exited %d: %s" %
                (r.returncode, r.stderr.decode()[-2000:]))
        self.watcher = self.watcher_pid()

    def watcher_pid(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = read(os.path.join(self.home, "watcher", "pid"))
            if text and text.strip().isdigit():
                pid = int(text)
                if os.path.exists("/proc/%d" % pid):
                    return pid
            time.sleep(0.01)
        raise RuntimeError("no pguard watcher")

    def groups(self):
        return []

    def supervisor_pids(self):
        return [self.watcher]

    def status_argv(self):
        return self.cli("status")

    def first_job_status_dir(self):
        return os.path.join(self.home, "state", "job0")


class Supervisord(Peer):
    name = "supervisord"

    def setup(self):
        d = self.dir
        self.conf = os.path.join(d, "supervisord.conf")
        lines = [
            "[unix_http_server]", "file=%s/supervisor.sock" % d, "",
            "[supervisord]", "logfile=%s/supervisord.log" % d,
            "pidfile=%s/supervisord.pid" % d, "childlogdir=%s" % d,
            "nodaemon=true", "minfds=%d" % (4 * self.n + 1024),
            "loglevel=warn", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = "
            "supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", "serverurl=unix://%s/supervisor.sock" % d, "",
        ]
        for name in self.job_names():
            lines += ["[program:%s]" % name,
                      "command=%s %s" % (self.bench.job, self.out),
                      "autostart=true", "autorestart=true", "startsecs=0",
                      "startretries=1000000", "stdout_logfile=NONE",
                      "stderr_logfile=NONE", ""]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))

    def launch(self):
        self.popen(["supervisord", "-n", "-c", self.conf])

    def supervisor_pids(self):
        return [self.proc.pid]

    def status_argv(self):
        return ["supervisorctl", "-c", self.conf, "status"]


class Runit(Peer):
    name = "runit"

    def setup(self):
        self.make_service_dirs()

    def launch(self):
        self.popen(["runsvdir", self.svdir])

    def supervisor_pids(self):
        return self.root_and_children("runsv")

    def status_argv(self):
        return ["sv", "status"] + [os.path.join(self.svdir, n)
                                   for n in self.job_names()]


class S6(Peer):
    name = "s6"

    def setup(self):
        self.make_service_dirs()
        # Without readiness notification s6-supervise waits 1 s after every
        # death; with it, it restarts at once a job that was ready >= 1 s.
        for name in self.job_names():
            with open(os.path.join(self.svdir, name, "notification-fd"),
                      "w") as f:
                f.write("3\n")
            # no death tally: one file write less per restart
            with open(os.path.join(self.svdir, name, "max-death-tally"),
                      "w") as f:
                f.write("0\n")

    def env(self):
        env = Peer.env(self)
        env["BENCH_NOTIFY_FD"] = "3"
        return env

    def launch(self):
        self.popen(["s6-svscan", "-c", str(self.n + 100), self.svdir])

    def supervisor_pids(self):
        return self.root_and_children("s6-supervise")

    def status_argv(self):
        # s6-svstat takes one service directory: loop over all of them.
        return ["sh", "-c", 'for d in "$0"/*; do s6-svstat "$d"; done',
                self.svdir]


class Daemontools(Peer):
    name = "daemontools"

    def setup(self):
        self.make_service_dirs()

    def launch(self):
        self.popen(["svscan", self.svdir])

    def supervisor_pids(self):
        return self.root_and_children("supervise")

    def status_argv(self):
        return ["svstat"] + [os.path.join(self.svdir, n)
                             for n in self.job_names()]


CLASSES = {c.name: c for c in (Pguard, Floor, Supervisord, Runit, S6,
                               Daemontools)}


# ---------------------------------------------------------------------------
# the run


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = args.tmp
        b = os.path.join(self.tmp, "bin")
        self.job = os.path.join(b, "job")
        self.floor = os.path.join(b, "floor")
        self.probe = os.path.join(b, "probe")
        self.pguard = args.pguard
        self.quick = args.quick
        self.kills = args.kills or (8 if self.quick else 60)
        self.idle_s = args.idle or (10 if self.quick else 60)
        self.peers = [p for p in PEERS if p in args.peers.split(",")]
        self.results = {p: {} for p in self.peers}
        self.samples = {}
        self.errors = []
        self.loads = []
        self.counter = 0

    def new(self, peer, n, tag):
        self.counter += 1
        load = (read("/proc/loadavg") or "0").split()[0]
        self.loads.append([tag, peer, float(load)])
        obj = CLASSES[peer](self, n, "%s-%d" % (tag, self.counter))
        if hasattr(obj, "setup"):
            obj.setup()
        return obj

    def record(self, peer, key, value):
        self.results[peer][key] = value
        log("%-12s %-22s %s" % (peer, key, value))

    def guarded(self, what, peer, fn):
        try:
            fn()
        except Exception as e:  # a peer failing must not stop the others
            msg = "%s/%s: %s: %s" % (what, peer, type(e).__name__, e)
            log("ERROR", msg)
            self.errors.append(msg)

    # (a) restart latency, (b) death -> status, (c) memory at 1 job.
    # Every supervisor runs its one job at the same time, and the kills go
    # round-robin in ROUNDS chunks, so that the load other users put on the
    # machine falls on all of them alike.
    def scenario_restart_all(self):
        rounds = 2 if self.quick else 6
        per = -(-self.kills // rounds)
        live = {}
        restart = {}
        status = {}
        try:
            for peer in self.peers:
                def up(peer=peer):
                    p = self.new(peer, 1, "restart")
                    live[peer] = p
                    p.launch()
                    wait_starts(p.out, 1, 30)
                self.guarded("restart", peer, up)
            time.sleep(1.0)
            for peer, p in live.items():
                pss, rss = smaps(p.supervisor_pids())
                self.record(peer, "pss_1", pss)
                self.record(peer, "rss_1", rss)
                restart[peer], status[peer] = [], []
            for r in range(rounds):
                n = min(per, self.kills - r * per)
                if n <= 0:
                    break
                self.loads.append(["restart-round-%d" % r, "all",
                                   float((read("/proc/loadavg") or "0")
                                         .split()[0])])
                for peer in list(live):
                    def kill_round(peer=peer):
                        p = live[peer]
                        argv = [self.probe, p.out, str(n), "1.6"]
                        if p.first_job_status_dir():
                            argv.append(p.first_job_status_dir())
                        res = subprocess.run(argv, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE,
                                             timeout=n * 15 + 30)
                        for line in res.stdout.decode().splitlines():
                            _, rns, sns, _ = line.split()
                            restart[peer].append(int(rns) / 1e6)
                            if int(sns) >= 0:
                                status[peer].append(int(sns) / 1e6)
                        if res.returncode != 0:
                            del live[peer]
                            raise RuntimeError("probe: " +
                                               res.stderr.decode().strip())
                    self.guarded("restart", peer, kill_round)
            for peer in restart:
                lat = restart[peer]
                if not lat:
                    continue
                self.samples[peer + ".restart_ms"] = lat
                self.record(peer, "restart_p50_ms",
                            round(percentile(lat, 50), 3))
                self.record(peer, "restart_p95_ms",
                            round(percentile(lat, 95), 3))
                self.record(peer, "restart_max_ms", round(max(lat), 3))
                self.record(peer, "restart_n", len(lat))
                if status[peer]:
                    st = status[peer]
                    self.samples[peer + ".status_ms"] = st
                    self.record(peer, "status_p50_ms",
                                round(percentile(st, 50), 3))
                    self.record(peer, "status_p95_ms",
                                round(percentile(st, 95), 3))
        finally:
            groups = []
            for p in live.values():
                groups += p.groups()
            kill_everything(self.tmp, groups)

    def hyperfine(self, peer, argv, key, runs):
        out = os.path.join(self.tmp, "hf-%s-%s.json" % (peer, key))
        cmd = " ".join(shlex.quote(a) for a in argv)
        r = subprocess.run(["hyperfine", "-N", "-i", "--warmup", "3",
                            "--runs", str(runs), "--style", "none",
                            "--export-json", out, cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=900)
        if r.returncode != 0:
            raise RuntimeError("hyperfine: " + r.stderr.decode()[-500:])
        with open(out) as f:
            res = json.load(f)["results"][0]
        # also check the command's own output once (it must list the jobs)
        self.record(peer, key, round(res["median"] * 1000, 2))
        self.record(peer, key + "_mean", round(res["mean"] * 1000, 2))

    # (c) memory at 100, (d) idle CPU and switches, (e) status at 100
    def scenario_100(self, peer):
        if peer == "floor":
            return
        n = 100
        p = self.new(peer, n, "n100")
        try:
            p.launch()
            wait_starts(p.out, n, 60)
            time.sleep(2.0)
            pids = p.supervisor_pids()
            self.record(peer, "procs_100", len(pids))
            pss, rss = smaps(pids)
            self.record(peer, "pss_100", pss)
            self.record(peer, "rss_100", rss)
            t0, s0 = cpu_and_switches(pids)
            time.sleep(self.idle_s)
            pids2 = p.supervisor_pids()
            t1, s1 = cpu_and_switches(pids2)
            if sorted(pids) != sorted(pids2):
                log("warning: %s supervisor set changed during idle" % peer)
            hz = os.sysconf("SC_CLK_TCK")
            self.record(peer, "idle_cpu_ms", round((t1 - t0) * 1000.0 / hz, 1))
            self.record(peer, "idle_switches", s1 - s0)
            self.record(peer, "idle_s", self.idle_s)
            argv = p.status_argv()
            if argv:
                self.check_status_output(peer, argv, n)
                self.hyperfine(peer, argv, "status_100_ms",
                               10 if self.quick else 30)
        finally:
            p.stop()

    def check_status_output(self, peer, argv, n):
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        text = r.stdout.decode(errors="replace")
        running = len(re.findall(r"running|RUNNING|^run:|: up |^up \(pid", text,
                                 re.M))
        self.record(peer, "status_lines_running_%d" % n, running)
        if running < n:
            log("warning: %s status shows %d running of %d:\n%s"
                % (peer, running, n, text[:600]))

    # (f) bring-up of 1000, (c) memory at 1000, (e) status at 1000
    def scenario_1000(self, peer, first, bringups):
        if peer == "floor":
            return
        n = 1000
        p = self.new(peer, n, "n1000")
        try:
            t0 = time.time()
            p.launch()
            lines = wait_starts(p.out, n, 120)
            last = max(ts for _, ts in lines[:n])
            bringups.setdefault(peer, []).append((last - t0) * 1000)
            log("%-12s bring-up of 1000: %.1f ms" % (peer, (last - t0) * 1000))
            if hasattr(p, "cli_seconds"):
                bringups.setdefault(peer + ".cli", []).append(
                    p.cli_seconds * 1000)
            if not first:
                return
            time.sleep(3.0)
            pids = p.supervisor_pids()
            self.record(peer, "procs_1000", len(pids))
            pss, rss = smaps(pids)
            self.record(peer, "pss_1000", pss)
            self.record(peer, "rss_1000", rss)
            argv = p.status_argv()
            if argv:
                self.check_status_output(peer, argv, n)
                self.hyperfine(peer, argv, "status_1000_ms",
                               5 if self.quick else 20)
        finally:
            p.stop()

    # (g) 10,000 jobs on one pguard watcher
    def scenario_10000(self):
        n = self.args.big
        peer = "pguard"
        p = self.new(peer, n, "n%d" % n)
        try:
            t0 = time.time()
            p.launch()
            lines = wait_starts(p.out, n, 600, stall=30, partial=True)
            last = max(ts for _, ts in lines[:n])
            self.record(peer, "big_n", n)
            self.record(peer, "big_started", len({pid for pid, _ in lines}))
            self.record(peer, "bringup_big_ms", round((last - t0) * 1000, 1))
            time.sleep(3.0)
            w = p.watcher
            alive = sum(1 for pid, _ in lines
                        if os.path.exists("/proc/%d" % pid)
                        and not is_zombie(pid))
            self.record(peer, "big_alive", alive)
            pss, rss = smaps([w])
            self.record(peer, "pss_big", pss)
            self.record(peer, "rss_big", rss)
            self.record(peer, "big_watcher_fds",
                        len(os.listdir("/proc/%d/fd" % w)))
            r = subprocess.run(p.cli("status"), stdout=subprocess.PIPE,
                               timeout=300)
            running = sum(1 for l in r.stdout.decode().splitlines()
                          if " running " in l)
            self.record(peer, "big_status_running", running)
            failed = sum(1 for l in r.stdout.decode().splitlines()
                         if " failed " in l)
            self.record(peer, "big_status_failed", failed)
            log_text = read(os.path.join(p.home, "watcher", "log")) or ""
            self.record(peer, "big_watcher_log_emfile",
                        log_text.count("Too many open files"))
            t0, s0 = cpu_and_switches([w])
            time.sleep(min(self.idle_s, 10))
            t1, s1 = cpu_and_switches([w])
            self.record(peer, "big_idle_switches", s1 - s0)
            self.hyperfine(peer, p.cli("status"), "status_big_ms", 5)
            self.big_restarts(p, 5 if self.quick else 20)
        finally:
            p.stop()

    def big_restarts(self, p, kills):
        """Restart latency of one job while 10,000 are supervised."""
        pidfile = os.path.join(p.home, "state", "job0", "pid")
        lat = []
        for _ in range(kills):
            pid = int(read(pidfile))
            before = len(start_lines(p.out))
            time.sleep(1.6)
            t0 = time.time()
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                lines = start_lines(p.out)
                if len(lines) > before:
                    lat.append((lines[before][1] - t0) * 1000)
                    break
                time.sleep(0.002)
            while (read(pidfile) or "").strip() == str(pid):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.002)
        if lat:
            self.samples["pguard.big_restart_ms"] = lat
            self.record("pguard", "big_restart_p50_ms",
                        round(percentile(lat, 50), 3))
            self.record("pguard", "big_restart_p95_ms",
                        round(percentile(lat, 95), 3))

    def run(self):
        only = set(self.args.only.split(",")) if self.args.only else None

        def want(s):
            return only is None or s in only

        if want("restart"):
            log("== (a)(b) restart latency, %d kills, memory at 1 job" %
                self.kills)
            self.scenario_restart_all()
        if want("100"):
            log("== (c)(d)(e) 100 jobs: memory, idle %ds, status" %
                self.idle_s)
            for peer in self.peers:
                self.guarded("n100", peer, lambda: self.scenario_100(peer))
        if want("1000"):
            rounds = 1 if self.quick else 3
            log("== (c)(e)(f) 1000 jobs: bring-up (%d rounds), memory, "
                "status" % rounds)
            bringups = {}
            for r in range(rounds):
                for peer in self.peers:
                    self.guarded("n1000", peer,
                                 lambda: self.scenario_1000(peer, r == 0,
                                                            bringups))
            for key, values in bringups.items():
                peer, _, cli = key.partition(".")
                name = "bringup_1000_cli_ms" if cli else "bringup_1000_ms"
                self.samples[peer + "." + name] = values
                self.record(peer, name, round(percentile(values, 50), 1))
                if not cli:
                    self.record(peer, "bringup_1000_min_ms",
                                round(min(values), 1))
        if want("big") and "pguard" in self.peers and self.args.big > 0:
            log("== (g) %d jobs on one pguard watcher" % self.args.big)
            self.guarded("big", "pguard", self.scenario_10000)


def machine():
    cpu = ""
    for line in (read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = ""
    for line in (read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal"):
            mem = "%d MiB" % (int(line.split()[1]) // 1024)
    versions = {}
    for pkg in ("supervisor", "runit", "s6", "daemontools", "hyperfine"):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        versions[pkg] = r.stdout.decode() or "missing"
    return {"kernel": platform.release(), "cpu": cpu,
            "cores": os.cpu_count(), "memory": mem,
            "load_at_start": (read("/proc/loadavg") or "").split()[:3],
            "versions": versions}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--pguard", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--kills", type=int, default=0)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--big", type=int, default=10000)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--only", default="")
    ap.add_argument("--out", required=True, help="results JSON")
    ap.add_argument("--cleanup-only", action="store_true")
    args = ap.parse_args()
    args.tmp = os.path.realpath(args.tmp)
    become_subreaper()
    if args.cleanup_only:
        sys.exit(0 if kill_everything(args.tmp) else 1)

    def on_term(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    bench = Bench(args)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    t = time.time()
    try:
        bench.run()
    finally:
        kill_everything(args.tmp)
        doc = {"started": started, "seconds": round(time.time() - t),
               "quick": args.quick, "kills": bench.kills,
               "idle_s": bench.idle_s, "machine": machine(),
               "results": bench.results, "samples": bench.samples,
               "errors": bench.errors, "loads": bench.loads}
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        log("results written to", args.out)


if __name__ == "__main__":
    main()
