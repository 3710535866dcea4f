"""bkcache benchmark: ours against real peers, in one invocation.
Run it through tools/bench (which installs the peers); see BENCHMARKS.md."""

import argparse
import datetime
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchdata  # noqa: E402
import benchlib as bl  # noqa: E402
from benchreport import Results  # noqa: E402

MiB = 1024 * 1024
SECTIONS = ("cold", "warm", "touch", "import", "mock", "memory", "scale", "manifest")
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TOUCH_AGE = 25 * 3600  # past the default touch_refresh of 24h
WARM_PAIRS = 3  # warm exports per mode and run (see section_warm_and_touch)


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args, root, tmp):
        self.a = args
        self.root = root
        self.tmp = tmp
        self.bin = args.bin_dir
        self.bkcache = os.path.join(self.bin, "bkcache")
        self.work = os.path.join(tmp, "work")
        os.makedirs(self.work)
        self.aws_env = bl.aws_env(self.work)
        self.res = None
        self.data = {}

    # -- data ------------------------------------------------------------------

    def dataset(self, name):
        if name in self.data:
            return self.data[name]
        a = self.a
        if name == "cold":
            sizes = [a.large_size] * a.large_count + [a.small_size] * a.small_count
            seed = 1
        elif name == "warm":
            sizes = [a.warm_size] * a.warm_count
            seed = 2
        elif name.startswith("scale-"):
            sizes = [a.scale_size] * int(name.split("-", 1)[1])
            seed = 4
        else:  # memory: one big blob
            sizes = [a.memory_size]
            seed = 3
        log("generating %s data: %d blobs, %.1f MiB" % (name, len(sizes), sum(sizes) / MiB))
        d = benchdata.make_dataset(os.path.join(self.tmp, "data-" + name), sizes, seed)
        self.data[name] = d
        return d

    # -- clients ---------------------------------------------------------------

    def export(self, url, graph, extra="", args=(), rss=False):
        argv = [self.bkcache, "export", "--graph", graph, "--progress", "quiet"]
        argv += list(args)
        argv += ["--cache-to", bl.cache_attrs(url, "mode=max" + ("," + extra if extra else ""))]
        return bl.timed(argv, self.work, "bkcache export", rss=rss)

    def exporter_seconds(self):
        """The exporter's own time (existence checks, uploads, manifests), from
        the summary line of the last `bkcache export`: the command minus
        loading the graph fixture and computing its cache chains."""
        with open(os.path.join(self.work, "client.out")) as f:
            for line in f:
                m = re.search(r"requests; ([0-9.]+)s$", line.strip())
                if line.startswith("export:") and m:
                    return float(m.group(1))
        raise bl.BenchError("no export summary line in the output of bkcache export")

    def import_(self, url, dest, rss=False):
        argv = [self.bkcache, "import", "--progress", "quiet", "--dest", dest]
        argv += ["--cache-from", bl.cache_attrs(url)]
        return bl.timed(argv, self.work, "bkcache import", rss=rss)

    def aws_up(self, url, src, prefix, rss=False):
        argv = [bl.AWS, "--endpoint-url", url, "s3", "cp", "--only-show-errors"]
        if os.path.isdir(src):
            argv.append("--recursive")
        argv += [src, "s3://%s/%s" % (bl.BUCKET, prefix)]
        return bl.timed(argv, self.work, "aws s3 cp", env=self.aws_env, rss=rss)

    def aws_down(self, url, prefix, dest):
        argv = [bl.AWS, "--endpoint-url", url, "s3", "cp", "--only-show-errors", "--recursive"]
        argv += ["s3://%s/%s" % (bl.BUCKET, prefix), dest]
        return bl.timed(argv, self.work, "aws s3 cp (down)", env=self.aws_env)

    def s3cmd_up(self, url, src_dir, prefix):
        cfg = bl.s3cmd_config(self.work, url)
        argv = [bl.S3CMD, "-c", cfg, "--no-progress", "--quiet", "put", "--recursive"]
        argv += [src_dir.rstrip("/") + "/", "s3://%s/%s" % (bl.BUCKET, prefix)]
        return bl.timed(argv, self.work, "s3cmd put", env=dict(os.environ, HOME=self.work))

    def curl_loop(self, url, blobs, blob_dir, prefix):
        """One curl process per blob, sequentially, signing with libcurl's own
        SigV4; the payload hash is the digest we already know (curl 7.88 does
        not compute x-amz-content-sha256 itself)."""
        script = os.path.join(self.work, "curl-loop.sh")
        with open(script, "w") as f:
            f.write("set -e\n")
            for digest, _ in blobs:
                hexd = digest.split(":", 1)[1]
                f.write(
                    "curl -sSf -o /dev/null %s -H 'x-amz-content-sha256: %s' -T %s %s/%s/%s%s\n"
                    % (
                        " ".join("'%s'" % x for x in bl.curl_sigv4_args()),
                        hexd,
                        os.path.join(blob_dir, hexd),
                        url,
                        bl.BUCKET,
                        prefix,
                        hexd,
                    )
                )
        return bl.timed(["sh", script], self.work, "curl loop")

    def curl_seq(self, url, blobs, blob_dir, prefix):
        """The same uploads from one curl process, one after another on one
        kept-alive connection: the transfer cost without 232 process starts."""
        cfg = os.path.join(self.work, "curl-seq.cfg")
        sig = bl.curl_sigv4_args()
        with open(cfg, "w") as f:
            for n, (digest, _) in enumerate(blobs):
                hexd = digest.split(":", 1)[1]
                if n:
                    f.write("next\n")
                f.write('aws-sigv4 = "%s"\nuser = "%s"\n' % (sig[1], sig[3]))
                f.write('header = "x-amz-content-sha256: %s"\n' % hexd)
                f.write('upload-file = "%s"\n' % os.path.join(blob_dir, hexd))
                f.write('url = "%s/%s/%s%s"\noutput = "/dev/null"\nfail\n'
                        % (url, bl.BUCKET, prefix, hexd))
        return bl.timed(["curl", "-sS", "-K", cfg], self.work, "curl -K (sequential)")

    def sha256sum(self, blob_dir, tool=("sha256sum",)):
        files = sorted(glob.glob(os.path.join(blob_dir, "*")))
        return bl.timed(list(tool) + files, self.work, tool[0])

    # -- sections --------------------------------------------------------------

    def mock_kinds(self):
        return [k for k in self.a.mocks.split(",") if k]

    def start_mock(self, kind, name=None, rss=False):
        data_dir = None
        if kind == "disk":
            data_dir = tempfile.mkdtemp(prefix="mockdata-", dir=self.tmp)
        mock = bl.start_mock(self.bin, self.work, name or "mock-" + kind, data_dir, rss=rss)
        mock.data_dir = data_dir
        return mock

    def stop_mock(self, mock):
        """Stops it, removes its data directory; returns its peak RSS (KiB) if measured."""
        peak = mock.stop()
        if mock.data_dir:
            shutil.rmtree(mock.data_dir, ignore_errors=True)
        return peak

    def count_requests(self, mock):
        return len(mock.journal())

    def section_cold(self):
        d = self.dataset("cold")
        r = self.res
        for kind in self.mock_kinds():
            mock = self.start_mock(kind)
            peers_here = kind == self.mock_kinds()[0]
            for i in range(self.a.runs):
                log("cold export, %s mock, run %d/%d" % (kind, i + 1, self.a.runs))
                mock.reset()
                mock_cpu = mock.cpu_seconds()
                run = self.export(mock.url, d["graph"])
                r.add("cold.%s.ours" % kind, "s", run.seconds, cpu=run.cpu,
                      requests=self.count_requests(mock))
                r.add("cold.%s.mock_cpu" % kind, "s", mock.cpu_seconds() - mock_cpu)
                mock.reset()
                run = self.aws_up(mock.url, d["blob_dir"], "peer-aws/")
                r.add("cold.%s.aws" % kind, "s", run.seconds, cpu=run.cpu,
                      requests=self.count_requests(mock))
                # What S3 semantics make a server compute over an upload: one
                # MD5 (the ETag) and one SHA-256 (x-amz-content-sha256) pass.
                sha = self.sha256sum(d["blob_dir"], ("openssl", "dgst", "-sha256"))
                md5 = self.sha256sum(d["blob_dir"], ("openssl", "dgst", "-md5"))
                r.add("cold.%s.sha256_md5.cpu" % kind, "s", sha.cpu + md5.cpu)
                if not peers_here:
                    continue
                mock.reset()
                run = self.export(mock.url, d["graph"], args=["--multipart-threshold", "5G"])
                r.add("cold.%s.ours_single_put" % kind, "s", run.seconds, cpu=run.cpu,
                      requests=self.count_requests(mock))
                mock.reset()
                run = self.s3cmd_up(mock.url, d["blob_dir"], "peer-s3cmd/")
                r.add("cold.%s.s3cmd" % kind, "s", run.seconds, cpu=run.cpu)
                mock.reset()
                run = self.curl_loop(mock.url, d["blobs"], d["blob_dir"], "peer-curl/")
                r.add("cold.%s.curl_loop" % kind, "s", run.seconds, cpu=run.cpu,
                      requests=self.count_requests(mock))
                mock.reset()
                curl = self.curl_seq(mock.url, d["blobs"], d["blob_dir"], "peer-curl/")
                r.add("cold.%s.curl" % kind, "s", curl.seconds, cpu=curl.cpu,
                      requests=self.count_requests(mock))
                sha = self.sha256sum(d["blob_dir"])
                r.add("cold.sha256sum", "s", sha.seconds, cpu=sha.cpu)
                r.add("cold.%s.floor" % kind, "s", sha.seconds + curl.seconds)
                # One pass of the hash ours uses (OpenSSL's sha256), in CPU
                # seconds: the unit of "hash each byte once".
                ossl = self.sha256sum(d["blob_dir"], ("openssl", "dgst", "-sha256"))
                r.add("cold.openssl_sha256.cpu", "s", ossl.cpu)
                for name in ("ours", "ours_single_put"):
                    s = r.series["cold.%s.%s" % (kind, name)]
                    r.add("cold.%s.%s.cpu" % (kind, name), "s", s["cpu"][-1])
            self.stop_mock(mock)
        gib = "%.2f GiB in %d blobs" % (d["bytes"] / (1024 * MiB), len(d["blobs"]))
        kinds = self.mock_kinds()
        for kind in kinds:
            where = "%s mock" % ("in-memory" if kind == "mem" else "--data-dir")
            r.row("cold", "Cold export, %s, %s" % (gib, where), "cold.%s.ours" % kind,
                  "cold.%s.aws" % kind, "aws s3 cp --recursive", "base/ours",
                  "≥ 2× faster than aws", ("ratio>=", 2))
        for kind in kinds:
            where = "in-memory" if kind == "mem" else "--data-dir"
            memory = kind == "mem"
            r.row("cold", "Mock CPU receiving the cold export, %s (multipart ≥ 16 MiB)" % where,
                  "cold.%s.mock_cpu" % kind, "cold.%s.sha256_md5.cpu" % kind,
                  "CPU of one openssl sha256 + md5 pass", "ours/base",
                  "≤ 1.3× one sha256 + md5 pass" if memory else "—",
                  ("ratio<=", 1.3) if memory else None)
        k = kinds[0]
        r.row("cold", "Cold export vs s3cmd", "cold.%s.ours" % k, "cold.%s.s3cmd" % k,
              "s3cmd put --recursive")
        r.row("cold", "Cold export vs curl -T loop", "cold.%s.ours" % k,
              "cold.%s.curl_loop" % k, "one curl --aws-sigv4 -T per blob")
        r.row("cold", "Cold export vs sha256 floor + curl", "cold.%s.ours" % k,
              "cold.%s.floor" % k, "sha256sum + curl -K (sequential)", "ours/base",
              "≤ 2× floor + curl", ("ratio<=", 2))
        r.row("cold", "Cold export, one PUT per blob (hash once)", "cold.%s.ours_single_put" % k,
              "cold.%s.floor" % k, "sha256sum + curl -K (sequential)", "ours/base",
              "≤ 2× floor + curl", ("ratio<=", 2))
        r.row("cold", "(floor) curl -K, sequential, one process", "cold.%s.curl" % k,
              "cold.sha256sum", "sha256sum", "ours/base")
        r.row("cold", "Client CPU of a cold export (default: multipart ≥ 16 MiB)",
              "cold.%s.ours.cpu" % k, "cold.openssl_sha256.cpu", "CPU of one openssl sha256 pass",
              "ours/base", "hash once: ≤ 1.2 passes", ("ratio<=", 1.2))
        r.row("cold", "Client CPU of a cold export, one PUT per blob", "cold.%s.ours_single_put.cpu" % k,
              "cold.openssl_sha256.cpu", "CPU of one openssl sha256 pass", "ours/base",
              "hash once: ≤ 1.2 passes", ("ratio<=", 1.2))

    def section_warm_and_touch(self, do_warm, do_touch):
        d = self.dataset("warm")
        r = self.res
        mock = self.start_mock("mem", "mock-warm")
        mock.reset()
        self.export(mock.url, d["graph"])
        list_attr = "existence_check=list"
        for i in range(self.a.runs):
            log("warm/touch runs, run %d/%d" % (i + 1, self.a.runs))
            # A warm export is a ~20 ms command: each run pairs the two modes
            # WARM_PAIRS times, back to back, so that the median ratio is one
            # of WARM_PAIRS x runs pairs rather than of a handful.
            for _ in range(WARM_PAIRS if do_warm else 0):
                for mode, extra in (("head", ""), ("list", list_attr)):
                    mock.clear_journal()
                    run = self.export(mock.url, d["graph"], extra)
                    r.add("warm.%s" % mode, "s", run.seconds, cpu=run.cpu)
                    r.add("warm.%s.exporter" % mode, "s", self.exporter_seconds())
                    r.add("warm.%s.requests" % mode, "requests", self.count_requests(mock))
            for mode, extra in (("head", ""), ("list", list_attr)):
                if do_touch:
                    mock.admin("POST", "/age", {"prefix": "blobs/", "seconds": TOUCH_AGE})
                    mock.clear_journal()
                    run = self.export(mock.url, d["graph"], extra)
                    r.add("touch.%s" % mode, "s", run.seconds, cpu=run.cpu)
                    r.add("touch.%s.requests" % mode, "requests", self.count_requests(mock))
        mock.stop()
        n = len(d["blobs"])
        if do_warm:
            r.row("warm", "Warm re-export, %d blobs: list vs HEAD" % n, "warm.list", "warm.head",
                  "existence_check=head (default)", "base/ours", "≥ 3× faster than HEAD",
                  ("ratio>=", 3))
            r.row("warm", "Warm re-export, exporter only (no fixture loading): list vs HEAD",
                  "warm.list.exporter", "warm.head.exporter", "existence_check=head (default)",
                  "base/ours", "≥ 3× faster than HEAD", ("ratio>=", 3))
            r.row("warm", "Warm re-export requests, list mode", "warm.list.requests",
                  target="≤ 3 + names = 4", check=("ours<=", 4))
            r.row("warm", "Warm re-export requests, HEAD mode", "warm.head.requests",
                  target="%d: HEAD per blob + manifest" % (n + 1), check=("ours<=", n + 1))
        if do_touch:
            r.row("touch", "Touch run, %d blobs, HEAD mode" % n, "touch.head",
                  "warm.head" if do_warm else None, "warm re-export, HEAD mode", "ours/base")
            r.row("touch", "Touch run, list mode", "touch.list", "touch.head",
                  "touch run, HEAD mode", "base/ours")
            r.row("touch", "Touch run requests, HEAD mode", "touch.head.requests",
                  target="%d: HEAD + copy per blob + manifest" % (2 * n + 1),
                  check=("ours<=", 2 * n + 1))
            r.row("touch", "Touch run requests, list mode", "touch.list.requests",
                  target="≤ %d: list + copy per blob + manifest" % (n + 3), check=("ours<=", n + 3))

    def section_import(self):
        d = self.dataset("cold")
        r = self.res
        for kind in self.mock_kinds():
            mock = self.start_mock(kind)
            mock.reset()
            self.export(mock.url, d["graph"])
            for i in range(self.a.runs):
                log("import, %s mock, run %d/%d" % (kind, i + 1, self.a.runs))
                dest = os.path.join(self.tmp, "import-dest")
                shutil.rmtree(dest, ignore_errors=True)
                run = self.import_(mock.url, dest)
                got = len(os.listdir(os.path.join(dest, "blobs", "sha256")))
                if got != len(d["blobs"]):
                    raise bl.BenchError("import fetched %d blobs, expected %d" % (got, len(d["blobs"])))
                r.add("import.%s.ours" % kind, "s", run.seconds, cpu=run.cpu)
                shutil.rmtree(dest, ignore_errors=True)
                run = self.aws_down(mock.url, "blobs/", dest)
                r.add("import.%s.aws" % kind, "s", run.seconds, cpu=run.cpu)
                shutil.rmtree(dest, ignore_errors=True)
            self.stop_mock(mock)
        for kind in self.mock_kinds():
            where = "in-memory" if kind == "mem" else "--data-dir"
            r.row("import", "Import (download + verify) %.2f GiB, %s mock"
                  % (d["bytes"] / (1024 * MiB), where), "import.%s.ours" % kind,
                  "import.%s.aws" % kind, "aws s3 cp --recursive (down)", "base/ours",
                  "≥ 2.5× faster than aws", ("ratio>=", 2.5))

    def _curl_config(self, url, op, n, prefix, body):
        path = os.path.join(self.work, "load-%s.cfg" % op)
        with open(path, "w") as f:
            for i in range(n):
                key = "%s/bench/%s%d" % (url, prefix, i if op == "put" else 0)
                f.write('url = "%s"\noutput = "/dev/null"\n' % key)
                if op == "put":
                    f.write('upload-file = "%s"\n' % body)
        return path

    def drive(self, server, op, conc, n, prefix, body, body_sha):
        """curl --parallel over `conc` kept-alive connections; returns req/s."""
        cfg = self._curl_config(server.url, op, n, prefix, body)
        argv = ["curl", "-sS", "--no-progress-meter", "--parallel", "--parallel-max", str(conc)]
        argv += bl.curl_sigv4_args()
        argv += ["-w", "%{http_code} %{num_connects}\\n", "-K", cfg]
        if op == "head":
            argv += ["-I", "-H", "x-amz-content-sha256: " + EMPTY_SHA]
        else:
            argv += ["-H", "x-amz-content-sha256: " + body_sha]
        cpu0 = server.cpu_seconds()
        run = bl.timed(argv, self.work, "curl --parallel")
        run.server_cpu = server.cpu_seconds() - cpu0
        with open(os.path.join(self.work, "client.out")) as f:
            lines = [ln.split() for ln in f if ln.strip()]
        ok = sum(1 for ln in lines if ln[0] == "200")
        conns = sum(int(ln[1]) for ln in lines if len(ln) > 1)
        if ok != n:
            raise bl.BenchError("%s %s: %d of %d requests answered 200" % (server.name, op, ok, n))
        if conns > conc:
            raise bl.BenchError("%s %s: %d connections for %d (no keep-alive?)"
                                % (server.name, op, conns, conc))
        return n / run.seconds, run

    def section_mock(self):
        r = self.res
        body = os.path.join(self.work, "body-4k")
        with open(body, "wb") as f:
            f.write(os.urandom(4096))
        import hashlib
        with open(body, "rb") as f:
            body_sha = hashlib.sha256(f.read()).hexdigest()
        mock = self.start_mock("mem", "mock-load")
        peer = bl.start_s3rver(self.root, self.work)
        servers = ((mock, "mock", self.a.mock_requests), (peer, "s3rver", self.a.peer_requests))
        for srv, _, _ in servers:
            self.drive(srv, "put", 1, 1, "seed", body, body_sha)  # the object HEAD asks for
            os.replace(os.path.join(self.work, "client.out"), os.path.join(self.work, "seed.out"))
        for i in range(self.a.runs):
            log("mock throughput, run %d/%d" % (i + 1, self.a.runs))
            for conc in (1, 4, 16):
                for op in ("head", "put"):
                    for srv, label, n in servers:
                        prefix = "seed" if op == "head" else "r%d-c%d-" % (i, conc)
                        rate, run = self.drive(srv, op, conc, n, prefix, body, body_sha)
                        r.add("mock.%s.%s.c%d" % (label, op, conc), "req/s", rate,
                              driver_cpu=run.cpu, seconds=run.seconds)
                        r.add("mock.%s.%s.c%d.cpu_us" % (label, op, conc), "µs",
                              run.server_cpu / n * 1e6)
            mock.clear_journal()
        mock.stop()
        peer.stop()
        for op, name in (("head", "signed HEAD"), ("put", "signed 4 KiB PUT")):
            for conc in (1, 4, 16):
                target = conc == 16
                r.row("mock", "Mock %s rate, %d connection%s" % (name, conc, "s" if conc > 1 else ""),
                      "mock.mock.%s.c%d" % (op, conc), "mock.s3rver.%s.c%d" % (op, conc),
                      "s3rver", "ours/base", "≥ 10× s3rver" if target else "",
                      ("ratio>=", 10) if target else None)
        for op, name in (("head", "signed HEAD"), ("put", "signed 4 KiB PUT")):
            r.row("mock", "Server CPU per %s, 16 connections" % name,
                  "mock.mock.%s.c16.cpu_us" % op, "mock.s3rver.%s.c16.cpu_us" % op, "s3rver",
                  "base/ours", "≥ 30× less than s3rver", ("ratio>=", 30))

    def section_manifest(self):
        """Parse + marshal of a large manifest (`bkcache normalize`: BuildKit's
        import rules, then the marshal an export does), at n records and at a
        tenth of that: linear work costs about 10 times as much for 10 times
        the records, quadratic work 100 times."""
        r = self.res
        n = self.a.manifest_records
        sizes = {}
        for label, count in (("big", n), ("small", max(1, n // 10))):
            path = os.path.join(self.work, "manifest-%s.json" % label)
            sizes[label] = benchdata.write_manifest(path, count)
        for i in range(self.a.runs):
            log("manifest parse + marshal, run %d/%d" % (i + 1, self.a.runs))
            for label in ("big", "small"):
                path = os.path.join(self.work, "manifest-%s.json" % label)
                run = bl.timed([self.bkcache, "normalize", path], self.work, "bkcache normalize")
                r.add("manifest.%s" % label, "s", run.seconds, cpu=run.cpu)
        r.row("manifest", "Normalize a manifest of %d records (%.1f MB): parse + marshal"
              % (n, sizes["big"] / 1e6), "manifest.big", "manifest.small",
              "the same at %d records" % max(1, n // 10), "ours/base",
              "≤ 15× for 10× the records (linear)", ("ratio<=", 15))

    def section_memory(self):
        d = self.dataset("memory")
        r = self.res
        (digest, size), = d["blobs"]
        path = os.path.join(d["blob_dir"], digest.split(":", 1)[1])
        for i in range(self.a.runs):
            log("memory, run %d/%d" % (i + 1, self.a.runs))
            mock = self.start_mock("disk", "mock-rss", rss=True)
            run = self.export(mock.url, d["graph"], rss=True)
            rss = self.stop_mock(mock)
            r.add("memory.export.rss", "MiB", run.rss_kib / 1024, seconds=run.seconds)
            r.add("memory.mock.rss", "MiB", rss / 1024)
            mock = self.start_mock("disk", "mock-rss")
            run = self.aws_up(mock.url, path, "peer-aws/big", rss=True)
            self.stop_mock(mock)
            r.add("memory.aws.rss", "MiB", run.rss_kib / 1024, seconds=run.seconds)
            peer = bl.start_s3rver(self.root, self.work, "s3rver-rss", rss=True)
            self.export(peer.url, d["graph"])
            r.add("memory.s3rver.rss", "MiB", peer.stop() / 1024)
        gib = "%.2f GiB" % (size / (1024 * MiB))
        r.row("memory", "Peak RSS, bkcache export of one %s blob" % gib, "memory.export.rss",
              "memory.aws.rss", "aws s3 cp of the same file", "ours/base", "≤ 64 MiB",
              ("ours<=", 64))
        r.row("memory", "Peak RSS, mock-s3 --data-dir receiving it", "memory.mock.rss",
              "memory.s3rver.rss", "s3rver receiving it", "ours/base", "≤ 64 MiB",
              ("ours<=", 64))


    def section_scale(self):
        """Export and import of many small blobs, one record each, at three
        sizes a decade apart: time per size (10 times the blobs should cost
        about 10 times as much) and the client's peak RSS (flat in blob size,
        linear in their number: the bytes per blob)."""
        r = self.res
        counts = self.a.scale_counts
        for n in counts:
            d = self.dataset("scale-%d" % n)
            mock = self.start_mock("mem", "mock-scale")
            dest = os.path.join(self.tmp, "scale-dest")
            for i in range(self.a.runs):
                log("scale, %d blobs, run %d/%d" % (n, i + 1, self.a.runs))
                mock.reset()
                run = self.export(mock.url, d["graph"], rss=True)
                r.add("scale.%d.export" % n, "s", run.seconds, cpu=run.cpu)
                r.add("scale.%d.export.rss" % n, "MiB", run.rss_kib / 1024)
                shutil.rmtree(dest, ignore_errors=True)
                run = self.import_(mock.url, dest, rss=True)
                got = len(os.listdir(os.path.join(dest, "blobs", "sha256")))
                if got != n:
                    raise bl.BenchError("import fetched %d blobs, expected %d" % (got, n))
                r.add("scale.%d.import" % n, "s", run.seconds, cpu=run.cpu)
                r.add("scale.%d.import.rss" % n, "MiB", run.rss_kib / 1024)
                shutil.rmtree(dest, ignore_errors=True)
            self.stop_mock(mock)
            shutil.rmtree(os.path.dirname(d["graph"]), ignore_errors=True)
            del self.data["scale-%d" % n]
        small, big = counts[0], counts[-1]
        for op in ("export", "import"):
            for a, b in zip(r.runs("scale.%d.%s.rss" % (small, op)),
                            r.runs("scale.%d.%s.rss" % (big, op))):
                r.add("scale.%s.bytes_per_blob" % op, "bytes", (b - a) * MiB / (big - small))
        kib = self.a.scale_size // 1024
        for op in ("export", "import"):
            for i, n in enumerate(counts):
                label = "Scale: %s of %d blobs of %d KiB (%d records)" % (op, n, kib, n)
                if i == 0:
                    r.row("scale", label, "scale.%d.%s" % (n, op))
                    continue
                prev = counts[i - 1]
                r.row("scale", label, "scale.%d.%s" % (n, op), "scale.%d.%s" % (prev, op),
                      "%d blobs" % prev, "ours/base",
                      "≤ %d× (linear: %d×)" % (round(1.2 * n / prev), round(n / prev)),
                      ("ratio<=", 1.2 * n / prev))
            for n in counts:
                r.row("scale", "Scale: peak RSS of the %s, %d blobs" % (op, n),
                      "scale.%d.%s.rss" % (n, op))
            r.row("scale", "Scale: RSS per blob of the %s (%d → %d blobs)" % (op, small, big),
                  "scale.%s.bytes_per_blob" % op)


def git_commit(root):
    try:
        out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def first_line(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return ((p.stdout or p.stderr).strip().splitlines() or [""])[0]
    except (OSError, subprocess.TimeoutExpired):
        return None


def build_type(bin_dir):
    cache = os.path.join(os.path.dirname(os.path.abspath(bin_dir)), "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def update_doc(path, table, command, meta):
    begin, end = "<!-- bench:table:begin -->", "<!-- bench:table:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise bl.BenchError("%s has no %s ... %s markers" % (path, begin, end))
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    block = ("%s\nRun of %s, commit %s, %s build, scale %s, %d runs per figure, load average "
             "%s at the start and %s at the end, on %d cores. Command: `%s`.\n\n%s%s"
             % (begin, meta["date"], meta["commit"], meta["build_type"], meta["scale"],
                meta["runs"], meta["loadavg_start"], meta["loadavg_end"], meta["nproc"], command,
                table, end))
    with open(path, "w") as f:
        f.write(head + block + tail)


def parse_args(root):
    env = os.environ.get
    scale = float(env("BENCH_SCALE", "1"))
    p = argparse.ArgumentParser(prog="tools/bench", description=__doc__)
    p.add_argument("--bin-dir", default=env("BK_BIN_DIR", os.path.join(root, "build", "bin")))
    p.add_argument("--out-dir", default=os.path.join(root, "build", "bench"))
    p.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "5")))
    p.add_argument("--scale", type=float, default=scale,
                   help="multiplies the number of 32 MiB blobs (32), the memory "
                   "test's blob (2 GiB), the scale series' blob counts (1k, 10k, 100k) "
                   "and the manifest's records (100000) "
                   "(BENCH_SCALE, default 1)")
    p.add_argument("--sections", default=env("BENCH_SECTIONS", ",".join(SECTIONS)))
    p.add_argument("--mocks", default=env("BENCH_MOCKS", "mem,disk"),
                   help="mock flavours for cold export and import: mem, disk")
    p.add_argument("--mock-requests", type=int, default=int(env("BENCH_MOCK_REQUESTS", "5000")))
    p.add_argument("--peer-requests", type=int, default=int(env("BENCH_PEER_REQUESTS", "400")))
    p.add_argument("--update-doc", metavar="FILE", help="replace the table in FILE (BENCHMARKS.md)")
    a = p.parse_args()
    # Scaling changes how many large blobs there are, not their size, so that a
    # quick run still takes the same paths (32 MiB is multipart by default).
    a.large_count, a.small_count = max(1, round(32 * a.scale)), 200
    a.large_size = 32 * MiB
    a.small_size = 64 * 1024
    a.warm_count, a.warm_size = 1000, 4096
    a.memory_size = max(8 * MiB, int(2048 * MiB * a.scale))
    # The scale series: blobs of 4 KiB, a decade apart (1k, 10k, 100k at scale 1).
    a.scale_size = 4096
    a.scale_counts = [max(100, round(n * a.scale)) for n in (1000, 10000, 100000)]
    a.manifest_records = max(1000, int(100000 * a.scale))
    bad = [s for s in a.sections.split(",") if s and s not in SECTIONS]
    if bad:
        p.error("unknown section(s) %s; choose from %s" % (",".join(bad), ",".join(SECTIONS)))
    if a.runs < 1:
        p.error("--runs must be at least 1")
    return a


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    a = parse_args(root)
    for b in ("bkcache", "mock-s3"):
        if not os.access(os.path.join(a.bin_dir, b), os.X_OK):
            log("%s/%s not found: build first (cmake -S . -B build && cmake --build build) "
                "or pass --bin-dir" % (a.bin_dir, b))
            return 2
    if a.runs < 5:
        log("note: %d runs; the published table uses at least 5" % a.runs)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sections = [s for s in a.sections.split(",") if s]
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(root),
        "scale": a.scale,
        "runs": a.runs,
        "sections": sections,
        "sizes": {"large": [a.large_count, a.large_size], "small": [a.small_count, a.small_size],
                  "warm": [a.warm_count, a.warm_size], "memory": a.memory_size,
                  "scale": [a.scale_counts, a.scale_size],
                  "manifest_records": a.manifest_records},
        "build_type": build_type(a.bin_dir),
        "nproc": os.cpu_count(),
        "loadavg_start": "%.2f" % os.getloadavg()[0],
        "peers": {
            "aws": first_line([bl.AWS, "--version"]),
            "s3cmd": first_line([bl.S3CMD, "--version"]),
            "curl": first_line(["curl", "--version"]),
            "node": first_line(["node", "--version"]),
        },
        "argv": sys.argv[1:],
    }
    os.makedirs(a.out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bkcache-bench-", dir=os.environ.get("BENCH_TMP"))
    bench = Bench(a, root, tmp)
    bench.res = res = Results(meta)
    json_path = os.path.join(a.out_dir, "results.json")
    md_path = os.path.join(a.out_dir, "results.md")
    try:
        if "cold" in sections:
            bench.section_cold()
        if "warm" in sections or "touch" in sections:
            bench.section_warm_and_touch("warm" in sections, "touch" in sections)
        if "import" in sections:
            bench.section_import()
        if "mock" in sections:
            bench.section_mock()
        if "memory" in sections:
            bench.section_memory()
        if "scale" in sections:
            bench.section_scale()
        if "manifest" in sections:
            bench.section_manifest()
    except bl.BenchError as e:
        log("failed: %s" % e)
        return 1
    finally:
        bl.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        meta["loadavg_end"] = "%.2f" % os.getloadavg()[0]
        if res.series:
            res.write(json_path, md_path)
    print(res.table())
    log("raw runs: %s; table: %s" % (json_path, md_path))
    if a.update_doc:
        # The command as a reader would type it: no local paths.
        command = "tools/bench"
        if a.runs != 5:
            command += " --runs %d" % a.runs
        if a.sections != ",".join(SECTIONS):
            command += " --sections %s" % a.sections
        if a.scale != 1:
            command = "BENCH_SCALE=%g %s" % (a.scale, command)
        update_doc(a.update_doc, res.table(), command, meta)
        log("updated %s" % a.update_doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
