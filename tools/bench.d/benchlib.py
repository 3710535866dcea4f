"""Processes of the benchmark: the servers it starts (mock-s3, s3rver), timed
runs of clients, and the environment of each peer. Everything binds
127.0.0.1; every process started here is stopped by stop_all()."""

import json
import os
import re
import resource
import select
import signal
import subprocess
import time
import urllib.request

AK = "AKBENCHEXAMPLE"
SK = "bench/secret/example"
REGION = "us-east-1"
BUCKET = "bench"
AWS = "/usr/bin/aws"
S3CMD = "/usr/bin/s3cmd"
TIME = "/usr/bin/time"

_live = []  # every server still running


class BenchError(Exception):
    pass


def stop_all():
    while _live:
        _live[-1].stop()


def process_cpu_clock(pid):
    """The clock id of another process's CPU time (what clock_getcpuclockid(3)
    returns on Linux: CPUCLOCK_SCHED of the whole thread group). The kernel
    sums every live thread's runtime and what exited threads left behind, in
    nanoseconds; Python has no clock_getcpuclockid, so the id is built as
    glibc builds it."""
    return ((~pid) << 3) | 2


class Server:
    """A server process that prints `... listening on http://HOST:PORT` when
    ready. With rss=True it runs under `/usr/bin/time -v`, and stop() returns
    its peak RSS in KiB."""

    def __init__(self, name, argv, workdir, rss=False, env=None, stdin_pipe=False):
        self.name = name
        self.rss_file = os.path.join(workdir, "%s.time" % name) if rss else None
        if rss:
            argv = [TIME, "-v", "-o", self.rss_file] + argv
        self.log = open(os.path.join(workdir, "%s.log" % name), "wb")
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            env=env,
        )
        _live.append(self)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode(errors="replace") if ready else ""
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m is None:
            self.stop()
            raise BenchError("%s did not start: %r (log: %s)" % (name, line, self.log.name))
        self.url = m.group(1)

    def _target_pid(self):
        """The server itself: under /usr/bin/time it is time's only child."""
        if self.rss_file is None:
            return self.proc.pid
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        try:
            with open(path) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def cpu_seconds(self):
        """CPU the server has used so far, all threads (those that have exited
        included), to the nanosecond: the process's CPU-time clock, the clock
        clock_getcpuclockid(3) names, read from outside. /proc/PID/stat counts
        in 10 ms ticks, and /proc/PID/sched and /proc/PID/schedstat cover the
        main thread only."""
        pid = self._target_pid()
        return time.clock_gettime(process_cpu_clock(pid))

    def stop(self):
        peak = None
        if self.proc.poll() is None:
            pid = self._target_pid()
            try:
                os.kill(pid if pid is not None else self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.stdout.close()
        self.log.close()
        if self in _live:
            _live.remove(self)
        if self.rss_file and os.path.exists(self.rss_file):
            peak = parse_time_v(self.rss_file)
        return peak

    # -- mock-s3 admin endpoints --------------------------------------------

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_mock" + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"null")

    def reset(self):
        self.admin("POST", "/reset", {})

    def journal(self):
        return self.admin("GET", "/journal")

    def clear_journal(self):
        self.admin("DELETE", "/journal")


def start_mock(bin_dir, workdir, name, data_dir=None, rss=False):
    argv = [
        os.path.join(bin_dir, "mock-s3"),
        "--listen", "127.0.0.1:0",
        "--region", REGION,
        "--access-key", AK,
        "--secret-key", SK,
        "--bucket", BUCKET,
    ]
    if data_dir:
        os.makedirs(data_dir, exist_ok=True)
        argv += ["--data-dir", data_dir]
    return Server(name, argv, workdir, rss=rss)


def start_s3rver(root, workdir, name="s3rver", rss=False):
    """s3rver from tools/interop/node_modules. stdin stays a pipe so it also
    stops when this process dies without cleaning up."""
    env = dict(os.environ, BK_BENCH_NODE_MODULES=os.path.join(root, "tools/interop/node_modules"))
    argv = [
        "node", "--openssl-legacy-provider",
        os.path.join(root, "tools/bench.d/s3rver.js"),
        "--bucket", BUCKET, "--access-key", AK, "--secret-key", SK,
    ]
    return Server(name, argv, workdir, rss=rss, env=env, stdin_pipe=True)


def parse_time_v(path):
    """Maximum resident set size (KiB) from a `/usr/bin/time -v` report."""
    with open(path) as f:
        for line in f:
            if "Maximum resident set size" in line:
                return int(line.rsplit(":", 1)[1])
    return None


class Run:
    """The outcome of one timed client run."""

    def __init__(self, seconds, cpu, rss_kib=None):
        self.seconds = seconds
        self.cpu = cpu  # user+sys seconds of the client and its children
        self.rss_kib = rss_kib


def _children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv, workdir, label, env=None, rss=False, shell=False):
    """Runs argv to completion; a failure stops the benchmark (a wrong result
    timed is worse than no result)."""
    rss_file = os.path.join(workdir, "client.time") if rss else None
    if rss:
        argv = [TIME, "-v", "-o", rss_file] + argv
    out = os.path.join(workdir, "client.out")
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    with open(out, "wb") as f:
        rc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, env=env, shell=shell).returncode
    seconds = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if rc != 0:
        with open(out, "rb") as f:
            tail = f.read()[-3000:].decode(errors="replace")
        raise BenchError("%s exited %d:\n%s" % (label, rc, tail))
    return Run(seconds, cpu, parse_time_v(rss_file) if rss else None)


def cache_attrs(url, extra=""):
    attrs = (
        "type=s3,bucket=%s,region=%s,endpoint_url=%s,use_path_style=true,"
        "access_key_id=%s,secret_access_key=%s" % (BUCKET, REGION, url, AK, SK)
    )
    return attrs + ("," + extra if extra else "")


def aws_env(workdir):
    """Debian's awscli against a loopback endpoint: path-style addressing, our
    keys, no profile, no instance metadata lookups."""
    cfg = os.path.join(workdir, "aws-config")
    with open(cfg, "w") as f:
        f.write("[default]\nregion = %s\ns3 =\n    addressing_style = path\n" % REGION)
    env = dict(os.environ)
    env.update(
        {
            "AWS_CONFIG_FILE": cfg,
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(workdir, "no-such-credentials"),
            "AWS_ACCESS_KEY_ID": AK,
            "AWS_SECRET_ACCESS_KEY": SK,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
    )
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.pop(k, None)
    return env


def s3cmd_config(workdir, url):
    hostport = url.split("://", 1)[1]
    path = os.path.join(workdir, "s3cmd.cfg")
    with open(path, "w") as f:
        f.write(
            "[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"
            "use_https = False\nsignature_v2 = False\nbucket_location = %s\n"
            % (AK, SK, hostport, hostport, REGION)
        )
    return path


def curl_sigv4_args():
    return ["--aws-sigv4", "aws:amz:%s:s3" % REGION, "--user", "%s:%s" % (AK, SK)]
