#!/usr/bin/env python3
"""Scale benchmark (issue 16): 500 spaces, 10,000 environments, 50,000 deployments on one kube-test-server serving
500 clusters (TLS on loopback), with Gantry's release build on SQLite and/or PostgreSQL.

    bench/scale.sh [--no-build] [--database sqlite|postgres|both] [--spaces N] [--environments N] [--deployments N] ...
    python3 bench/scale.py --bin-dir DIR [--database sqlite|postgres|both] [--pg-url URL --psql PATH] ...

The dataset: cluster c-i has namespaces ns-0…ns-(K-1) (K = environments / spaces) of Deployments app-0…app-(M-1)
(M = deployments / environments), settled with 1 replica. Through Gantry's API (a server with status sync off, then
stopped): one space per cluster (a kubeconfig whose server is https://127.0.0.1:PORT/clusters/c-i), one environment
per namespace (--envs-per-project environments per project, default 1: 10,000 projects, so the full
`GET /api/projects/stats` answers as many cards as the catalog benchmark's), one deployment per Deployment (same name,
1 replica). Then --stopped-fraction of the Deployments (default 1 %) are scaled to 0 in the clusters, so that "every
status correct" means `stopped` for those and `running` for the rest, not just "not pending".

Measures, per database, in one run on this machine:
  1. cold start: a deployer (`gantry serve`, role all) started on the seeded catalog; the time from its launch until
     every deployment's status is correct, read straight from the database (sqlite3 read-only / psql: one GROUP BY a
     second, far cheaper than 250 API pages), checked row by row at the end (target < 60 s);
  2. steady state, no changes, right after: --steady seconds (default 60) of LIST calls per minute counted by the
     test server (`GET /debug/requests`) and by Gantry's `gantry_kube_list_requests_total` when it has it (target 0),
     and the deployer's CPU from /proc/PID/stat as % of one core (target < 5 %);
  3. change latency: the test server's load generator at --churn changes/s (default 100) over all clusters; --probes
     Deployments (default 200), each scaled to 0 in its cluster (server-side apply of spec.replicas), then
     `GET /api/deployments/{id}` every 50 ms until it reads `stopped`; p50/p99/max (target p99 < 2 s). Probes run
     --probe-concurrency at a time (default 1) and no new one starts after --probe-budget seconds; a probe whose
     Deployment the load generator changed again before Gantry saw the 0 is discarded and replaced;
  4. the deployer's peak RSS (VmHWM) over the whole run (target < 600 MB);
  5. full `GET /api/projects/stats` (every project), median of 5 sequential requests with the deployer running, against
     the catalog benchmark's figure in bench/results/catalog-<db>.md (target < 300 ms, the catalog's own);
  6. PostgreSQL only: two deployer replicas (`--role deployer`, same database): Gantry's `gantry_spaces_leased` must
     add up to the spaces and no space may read `gantry_space_watch_healthy 1` in both; the test server's open
     Deployment watches must be one per cluster; after SIGKILL of one, the time until the survivor holds every space
     (and every cluster has a Deployment watch again) (target < 30 s).
Gantry's own metrics (`gantry_space_watch_healthy{space_id}`, `gantry_space_cache_objects{space_id}`,
`gantry_space_watch_events_total{space_id}`, `gantry_kube_list_requests_total`, `gantry_spaces_leased`) are read from
`/metrics` when present and reported as absent otherwise. Writes bench/results/scale.md.
"""
import argparse, http.client, json, os, random, re, shlex, shutil, signal, ssl, statistics, subprocess, sys, tempfile, threading, time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import REPO, free_port, kubeconfig as bench_kubeconfig, stop, vm_hwm, wait_line, write_results  # noqa: E402

KUBE_TOKEN = "bench-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_note():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# ---------------------------------------------------------------------------------------------------------------------
# HTTP clients: one keep-alive connection per thread
# ---------------------------------------------------------------------------------------------------------------------

class HTTPError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status, self.body = status, body


class Client:
    """Keep-alive connections (one per thread) to one host; JSON in and out; retries once on a dropped connection."""

    def __init__(self, host, port, headers, tls=None):
        self.host, self.port, self.headers, self.tls = host, port, headers, tls
        self.local = threading.local()

    def _conn(self, fresh=False):
        conn = getattr(self.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = (http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=120) if self.tls
                    else http.client.HTTPConnection(self.host, self.port, timeout=120))
            self.local.conn = conn
        return conn

    def request(self, method, path, body=None, content_type="application/json", raw=False):
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": content_type, "Accept": "application/json"}
        for attempt in range(3):
            conn = self._conn(fresh=attempt > 0)
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError, TimeoutError, OSError):
                if attempt == 2:
                    raise
                time.sleep(0.2)
        if response.status >= 300:
            raise HTTPError(response.status, payload)
        return payload if raw else json.loads(payload or b"null")


def gantry_client(port, token):
    return Client("127.0.0.1", port, {"Authorization": f"Bearer {token}"})


def parallel(function, items, workers):
    """function(item) for every item on `workers` threads; the results in order; the first error stops the run."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


# ---------------------------------------------------------------------------------------------------------------------
# Gantry processes and metrics
# ---------------------------------------------------------------------------------------------------------------------

class Gantry:
    def __init__(self, bin_dir, work, name, database, token, flags=(), key_file=None):
        self.port = free_port()
        self.log_path = os.path.join(work, f"{name}.log")
        args = [os.path.join(bin_dir, "gantry"), "serve", "--port", str(self.port), "--database", database, "--rate-limit", "0", *flags]
        if key_file:
            args += ["--secret-key-file", key_file]
        self.started = time.time()
        self.process = subprocess.Popen(args, env={**os.environ, "GANTRY_BOOTSTRAP_TOKEN": token},
                                        stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        self.api = gantry_client(self.port, token)
        self.name = name

    def wait_ready(self, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited with {self.process.returncode}; see the end of {self.log_path}:\n" + tail(self.log_path))
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
                return self
            except Exception:
                time.sleep(0.1)
        sys.exit(f"{self.name} not ready within {timeout} s")

    def metrics(self):
        """{name: [(labels dict, value)]} from /metrics; {} when it does not answer."""
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10).read().decode()
        except Exception:
            return {}
        return parse_metrics(text)

    def cpu_seconds(self):
        fields = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)

    def rss_peak_kb(self):
        return vm_hwm(self.pid)


def tail(path, lines=30):
    try:
        return "".join(open(path, errors="replace").readlines()[-lines:])
    except OSError:
        return ""


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    metrics = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        metrics.setdefault(match.group(1), []).append((dict(LABEL.findall(match.group(2) or "")), value))
    return metrics


def metric_total(metrics, name):
    """The sum over a metric's series; None when the metric is absent."""
    return sum(v for _, v in metrics[name]) if name in metrics else None


def metric_by(metrics, name, label):
    return {labels.get(label): v for labels, v in metrics.get(name, [])}


# ---------------------------------------------------------------------------------------------------------------------
# The test server
# ---------------------------------------------------------------------------------------------------------------------

class Kube:
    def __init__(self, bin_dir, work, clusters, namespaces, per_namespace, bookmark_interval):
        self.ca = os.path.join(work, "ca.crt")
        # Bookmarks as often as a real API server's watch cache sends them (about once a minute per watch), not the
        # test server's default of one a second, which at 1,500 watches is 1,500 events a second no cluster sends.
        args = [os.path.join(bin_dir, "kube-test-server"), "--clusters", str(clusters), "--namespaces", str(namespaces),
                "--deployments-per-namespace", str(per_namespace), "--ca-out", self.ca, "--token", KUBE_TOKEN,
                "--bookmark-interval", str(bookmark_interval)]
        self.started = time.time()
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.base = wait_line(self.process, "listening ", timeout=1800).split(" ", 1)[1]
        self.build_seconds = time.time() - self.started
        host, port = self.base.replace("https://", "").rstrip("/").split(":")
        self.client = Client(host, int(port), {"Authorization": f"Bearer {KUBE_TOKEN}"}, tls=ssl.create_default_context(cafile=self.ca))
        self.pid = self.process.pid

    def counters(self):
        """`GET /debug/requests`; None when this test server has no such route."""
        try:
            return self.client.request("GET", "/debug/requests")
        except HTTPError:
            return None

    def set_churn(self, per_second):
        self.client.request("POST", f"/debug/churn?perSecond={per_second}", b"")

    def deployment_path(self, cluster, namespace, name):
        return f"/clusters/c-{cluster}/apis/apps/v1/namespaces/ns-{namespace}/deployments/app-{name}"

    def scale(self, cluster, namespace, name, replicas):
        body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{name}", "namespace": f"ns-{namespace}"},
                "spec": {"replicas": replicas}}
        self.client.request("PATCH", self.deployment_path(cluster, namespace, name) + "?fieldManager=scale-bench&force=true",
                            json.dumps(body).encode(), content_type="application/apply-patch+yaml")

    def replicas(self, cluster, namespace, name):
        return self.client.request("GET", self.deployment_path(cluster, namespace, name)).get("spec", {}).get("replicas", 1)


# ---------------------------------------------------------------------------------------------------------------------
# The catalog, read straight from the database
# ---------------------------------------------------------------------------------------------------------------------

class Catalog:
    def __init__(self, database, psql=None):
        self.database, self.psql = database, psql

    def query(self, sql):
        """Rows as tuples of strings."""
        if self.database.startswith("sqlite:"):
            import sqlite3
            con = sqlite3.connect(f"file:{self.database[len('sqlite:'):]}?mode=ro", uri=True, timeout=30)
            try:
                return [tuple(str(c) for c in row) for row in con.execute(sql).fetchall()]
            finally:
                con.close()
        out = subprocess.run([self.psql, "-X", "-q", "-tA", "-F", "\t", "-d", self.database, "-c", sql],
                             capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(f"psql: {out.stderr.strip()}")
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]

    def status_counts(self):
        return {status: int(n) for status, n in self.query("SELECT status, COUNT(*) FROM deployments WHERE deleted_at IS NULL GROUP BY status")}

    def statuses(self):
        return dict(self.query("SELECT id, status FROM deployments WHERE deleted_at IS NULL"))


# ---------------------------------------------------------------------------------------------------------------------
# One database, end to end
# ---------------------------------------------------------------------------------------------------------------------

def seed(api, kube, args, shape):
    """Spaces, projects, environments and deployments through the API; answers {deployment id: (cluster, ns, app)}."""
    spaces, per_cluster, per_namespace = shape
    workers = args.seed_concurrency
    t0 = time.time()

    def space(i):
        return api.request("POST", "/api/spaces", {"name": f"cluster-{i}", "provider": "kubeconfig",
                                                   "kubeconfig": bench_kubeconfig(f"{kube.base}/clusters/c-{i}", kube.ca)})["data"]["id"]
    space_ids = parallel(space, range(spaces), workers)
    log(f"  {len(space_ids)} spaces in {time.time() - t0:.1f} s")

    environments = spaces * per_cluster
    projects = -(-environments // args.envs_per_project)
    t1 = time.time()
    project_ids = parallel(lambda p: api.request("POST", "/api/projects", {"name": f"scale-{p:05d}"})["data"]["id"], range(projects), workers)
    log(f"  {len(project_ids)} projects in {time.time() - t1:.1f} s")

    t1 = time.time()

    def environment(g):
        cluster, namespace = divmod(g, per_cluster)
        project = project_ids[g // args.envs_per_project]
        return api.request("POST", f"/api/projects/{project}/environments",
                           {"name": f"env-{g % args.envs_per_project}", "spaceId": space_ids[cluster], "namespace": f"ns-{namespace}"})["data"]["id"]
    environment_ids = parallel(environment, range(environments), workers)
    log(f"  {len(environment_ids)} environments in {time.time() - t1:.1f} s")

    t1 = time.time()
    done = [0]

    def deployment(k):
        g, app = divmod(k, per_namespace)
        deployment_id = api.request("POST", f"/api/environments/{environment_ids[g]}/deployments",
                                    {"name": f"app-{app}", "image": f"registry.example.com/scale/app-{app}:1.0", "replicas": 1})["data"]["id"]
        done[0] += 1
        if done[0] % 10000 == 0:
            log(f"  … {done[0]} deployments ({time.time() - t1:.0f} s)")
        return deployment_id, (g // per_cluster, g % per_cluster, app)
    deployments = dict(parallel(deployment, range(environments * per_namespace), workers))
    log(f"  {len(deployments)} deployments in {time.time() - t1:.1f} s")
    return deployments, projects, time.time() - t0


def wait_until(predicate, timeout, every=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


def pct(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def run_database(db, args, bin_dir):
    spaces, environments, deployments_total = args.spaces, args.environments, args.deployments
    if environments % spaces or deployments_total % environments:
        sys.exit("--environments must be a multiple of --spaces and --deployments a multiple of --environments")
    per_cluster, per_namespace = environments // spaces, deployments_total // environments
    work = tempfile.mkdtemp(prefix=f"gantry-scale-{db}-")
    processes, result = [], {"db": db, "rows": [], "notes": []}
    rows, notes = result["rows"], result["notes"]

    def row(measure, value, target="", met=None):
        verdict = "" if met is None else ("met" if met else "**missed**")
        rows.append((measure, value, f"{target}: {verdict}" if target and met is not None else target or verdict))
        log(f"{measure}: {value}   [{target}{': ' + verdict if verdict else ''}]")

    token = "gnt_" + "".join(random.SystemRandom().choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(40))
    try:
        log(f"[{db}] kube-test-server: {spaces} clusters × {per_cluster} namespaces × {per_namespace} Deployments")
        kube = Kube(bin_dir, work, spaces, per_cluster, per_namespace, args.bookmark_interval)
        processes.append(kube.process)
        counters_available = kube.counters() is not None
        log(f"  listening {kube.base} after {kube.build_seconds:.1f} s; /debug/requests {'answers' if counters_available else 'absent'}")

        if db == "sqlite":
            database, key_file = f"sqlite:{work}/gantry.db", None
        else:
            database = args.pg_url
            key_file = os.path.join(work, "gantry.key")
            with open(key_file, "w") as f:
                subprocess.run([os.path.join(bin_dir, "gantry"), "keygen"], stdout=f, check=True)
            os.chmod(key_file, 0o600)
        catalog = Catalog(database, args.psql)

        log(f"[{db}] seeding through the API (status sync off)")
        seeder = Gantry(bin_dir, work, "gantry-seed", database, token, ["--sync-interval", "0"], key_file).wait_ready()
        processes.append(seeder.process)
        deployments, projects, seed_seconds = seed(seeder.api, kube, args, (spaces, per_cluster, per_namespace))
        stop([seeder.process])
        processes.remove(seeder.process)
        if db == "postgres":
            catalog.query("VACUUM ANALYZE")
        notes.append(f"seeded through the API in {seed_seconds:.0f} s ({args.seed_concurrency} client threads): {spaces} spaces, "
                     f"{projects} projects, {environments} environments, {len(deployments)} deployments")

        # Some Deployments at 0 replicas before the deployer starts: those must read `stopped`, the others `running`.
        rng = random.Random(16)
        ids = sorted(deployments)
        stopped = set(rng.sample(ids, max(1, round(len(ids) * args.stopped_fraction)) if args.stopped_fraction > 0 else 0))
        parallel(lambda d: kube.scale(*deployments[d], 0), sorted(stopped), 8)
        expected = {d: ("stopped" if d in stopped else "running") for d in ids}
        want_running, want_stopped = len(ids) - len(stopped), len(stopped)
        log(f"  {len(stopped)} Deployments scaled to 0 in their clusters before the cold start")

        # (1) Cold start.
        before = kube.counters()
        log(f"[{db}] cold start: the deployer (role all) on the seeded catalog")
        deployer = Gantry(bin_dir, work, "gantry-deployer", database, token, args.deployer_flags, key_file)
        processes.append(deployer.process)
        progress = []

        def all_correct():
            if deployer.process.poll() is not None:
                sys.exit(f"the deployer exited with {deployer.process.returncode}:\n" + tail(deployer.log_path))
            counts = catalog.status_counts()
            if not progress or progress[-1][1] != counts:
                progress.append((time.time() - deployer.started, counts))
            return counts.get("running", 0) == want_running and counts.get("stopped", 0) == want_stopped
        ok = wait_until(all_correct, args.cold_timeout, every=0.5)
        cold = time.time() - deployer.started
        deployer.wait_ready(30)
        wrong = {d: s for d, s in catalog.statuses().items() if expected.get(d) != s}
        ok = ok and not wrong
        last = progress[-1][1] if progress else {}
        row(f"cold start → every status correct ({len(ids)} deployments: {want_running} running, {want_stopped} stopped)",
            f"{cold:.1f} s" if ok else f"not within {args.cold_timeout:.0f} s ({len(wrong)} wrong: {last})", "< 60 s", ok and cold < 60)
        if not ok:
            notes.append(f"cold start: status counts at the end {last}")
        shown = progress if len(progress) <= 10 else progress[:: len(progress) // 8] + progress[-1:]
        notes.append("cold start, status counts as they changed: " + "; ".join(f"{t:.1f} s {counts}" for t, counts in shown))
        after = kube.counters()
        if before and after:
            notes.append(f"cold start: the test server served {after['list'] - before['list']} LISTs "
                         f"({ {k: v - before['listByResource'].get(k, 0) for k, v in after['listByResource'].items()} }), "
                         f"{after['watch'] - before['watch']} WATCHes, {after['get'] - before['get']} GETs")
        metrics = deployer.metrics()
        present = [m for m in ("gantry_space_watch_healthy", "gantry_space_cache_objects", "gantry_space_watch_events_total",
                               "gantry_kube_list_requests_total", "gantry_spaces_leased") if m in metrics]
        notes.append(f"Gantry metrics present: {', '.join(present) or 'none of the watch-cache metrics'}")
        if "gantry_space_watch_healthy" in metrics:
            # The gauge is refreshed once a second: a space whose lists ended just before the last status was written
            # shows on the next refresh.
            def healthy_count():
                return sum(1 for v in metric_by(deployer.metrics(), "gantry_space_watch_healthy", "space_id").values() if v == 1)
            wait_until(lambda: healthy_count() == spaces, 3, every=0.5)
            healthy = healthy_count()
            row("spaces with a healthy watch after the cold start (gauge read within 3 s)", f"{healthy} of {spaces}", f"{spaces}", healthy == spaces)
        if "gantry_space_cache_objects" in metrics:
            notes.append(f"objects cached: {metric_total(metrics, 'gantry_space_cache_objects'):.0f}")

        # (2) Steady state, no changes.
        log(f"[{db}] steady state: {args.steady} s with no changes")
        time.sleep(args.settle)
        k0, m0, c0, t0 = kube.counters(), metric_total(deployer.metrics(), "gantry_kube_list_requests_total"), deployer.cpu_seconds(), time.time()
        time.sleep(args.steady)
        k1, m1, c1, t1 = kube.counters(), metric_total(deployer.metrics(), "gantry_kube_list_requests_total"), deployer.cpu_seconds(), time.time()
        minutes = (t1 - t0) / 60
        if k0 and k1:
            lists = (k1["list"] - k0["list"]) / minutes
            row("steady state: LIST calls / min (test server)", f"{lists:,.0f} (WATCHes opened {(k1['watch'] - k0['watch']) / minutes:,.0f}/min, "
                f"GETs {(k1['get'] - k0['get']) / minutes:,.0f}/min)", "0", lists == 0)
        else:
            row("steady state: LIST calls / min (test server)", "n/a (no /debug/requests on this test server)")
        if m0 is not None and m1 is not None:
            row("steady state: `gantry_kube_list_requests_total` / min", f"{(m1 - m0) / minutes:,.0f}", "0", m1 == m0)
        else:
            row("steady state: `gantry_kube_list_requests_total` / min", "n/a (metric absent)")
        cpu = (c1 - c0) / (t1 - t0) * 100
        row("steady state: deployer CPU, % of one core", f"{cpu:.1f} %", "< 5 %", cpu < 5)

        # (3) Change latency under churn.
        log(f"[{db}] change latency: churn {args.churn}/s, {args.probes} probes, {args.probe_concurrency} at a time")
        kc0 = kube.counters()
        kube.set_churn(args.churn)
        time.sleep(args.churn_warmup)
        m_churn0 = deployer.metrics()
        candidates = [d for d in ids if d not in stopped]
        rng.shuffle(candidates)
        latencies, discarded, timeouts = [], [0], [0]
        lock = threading.Lock()
        budget_end = time.time() + args.probe_budget
        picked = iter(candidates)

        def probe(_):
            while time.time() < budget_end:
                with lock:
                    if len(latencies) >= args.probes:
                        return
                    deployment = next(picked, None)
                if deployment is None:  # a small run used every Deployment up
                    return
                where = deployments[deployment]
                kube.scale(*where, 0)
                sent = time.time()
                next_cluster_check = sent + 2
                while True:
                    status = deployer.api.request("GET", f"/api/deployments/{deployment}")["data"]["status"]
                    now = time.time()
                    if status == "stopped":
                        with lock:
                            if len(latencies) < args.probes:
                                latencies.append(now - sent)
                        break
                    if now > sent + args.probe_timeout:
                        with lock:
                            timeouts[0] += 1
                            latencies.append(float("inf"))
                        break
                    if now >= next_cluster_check:
                        next_cluster_check = now + 2
                        if kube.replicas(*where) != 0:  # the load generator changed it again: not a fair probe
                            with lock:
                                discarded[0] += 1
                            break
                    time.sleep(0.05)
        probe_start = time.time()
        parallel(probe, range(args.probe_concurrency), args.probe_concurrency)
        probe_seconds = time.time() - probe_start
        m_churn1 = deployer.metrics()
        kube.set_churn(0)
        kc1 = kube.counters()
        finite = [x for x in latencies if x != float("inf")]
        if latencies:
            p50, p99, worst = pct(latencies, 50), pct(latencies, 99), max(latencies)
            fmt = lambda x: "timeout" if x == float("inf") else f"{x:.2f} s"
            row(f"change → `GET /deployments/{{id}}` reads it, p99 ({len(latencies)} probes, {args.churn}/s churn)",
                f"p50 {fmt(p50)}, p99 {fmt(p99)}, max {fmt(worst)}", "p99 < 2 s", p99 < 2)
        else:
            row("change latency", "no probe finished", "p99 < 2 s", False)
        notes.append(f"probes: {len(latencies)} in {probe_seconds:.0f} s, {args.probe_concurrency} at a time, {timeouts[0]} timed out "
                     f"(> {args.probe_timeout:.0f} s), {discarded[0]} discarded (the load generator changed the Deployment again first)"
                     + (f"; mean {statistics.mean(finite):.2f} s" if finite else ""))
        if kc0 and kc1:
            minutes = (time.time() - probe_start + args.churn_warmup) / 60
            notes.append(f"under churn: {(kc1['list'] - kc0['list']) / minutes:,.0f} LISTs/min at the test server, "
                         f"{(kc1['patch'] - kc0['patch'])} PATCHes (probes), {kc1['openDeploymentWatches']} Deployment watches open")
        events = metric_total(m_churn1, "gantry_space_watch_events_total")
        if events is not None and metric_total(m_churn0, "gantry_space_watch_events_total") is not None:
            notes.append(f"watch events received during the probes: {events - metric_total(m_churn0, 'gantry_space_watch_events_total'):,.0f}")

        # (5) Full project stats.
        samples = []
        for _ in range(args.stats_runs):
            t = time.time()
            body = deployer.api.request("GET", "/api/projects/stats", raw=True)
            samples.append((time.time() - t) * 1000)
        cards = len(json.loads(body)["data"])
        median = statistics.median(samples)
        catalog_figure = catalog_stats_figure(db)
        row(f"full `GET /api/projects/stats` ({cards} cards), median of {args.stats_runs}, deployer running",
            f"{median:.0f} ms" + (f" (catalog benchmark: {catalog_figure})" if catalog_figure else ""), "< 300 ms", median < 300)
        notes.append("full stats samples (ms): " + ", ".join(f"{x:.0f}" for x in samples))

        # (4) Peak RSS.
        rss = deployer.rss_peak_kb() / 1024
        row("deployer peak RSS (VmHWM)", f"{rss:.0f} MB", "< 600 MB", rss < 600)
        kube_rss = vm_hwm(kube.pid) / 1024
        notes.append(f"kube-test-server peak RSS {kube_rss:.0f} MB")
        stop([deployer.process])
        processes.remove(deployer.process)

        # (6) Two deployer replicas on PostgreSQL.
        if db == "postgres" and not args.no_replicas:
            replicas_test(args, bin_dir, work, database, token, key_file, kube, spaces, processes, row, notes)
        result["load"] = load_note()
        return result
    finally:
        stop([p for p in processes if p.poll() is None])
        shutil.rmtree(work, ignore_errors=True)


def replicas_test(args, bin_dir, work, database, token, key_file, kube, spaces, processes, row, notes):
    log("[postgres] two deployer replicas (--role deployer)")
    flags = ["--role", "deployer", *args.deployer_flags]
    a = Gantry(bin_dir, work, "gantry-replica-a", database, token, flags, key_file)
    b = Gantry(bin_dir, work, "gantry-replica-b", database, token, flags, key_file)
    processes += [a.process, b.process]
    a.wait_ready(), b.wait_ready()
    has_lease_metric = "gantry_spaces_leased" in a.metrics()

    def split():
        ma, mb = a.metrics(), b.metrics()
        la, lb = metric_total(ma, "gantry_spaces_leased"), metric_total(mb, "gantry_spaces_leased")
        ha = {s for s, v in metric_by(ma, "gantry_space_watch_healthy", "space_id").items() if v == 1}
        hb = {s for s, v in metric_by(mb, "gantry_space_watch_healthy", "space_id").items() if v == 1}
        return la, lb, ha, hb

    if not has_lease_metric:
        time.sleep(min(args.replica_timeout, 30))
        counters = kube.counters() or {}
        row("two replicas: spaces held by each (`gantry_spaces_leased`)", "n/a (metric absent)", f"sum = {spaces}, no space in both", False)
        row("two replicas: Deployment watches open at the test server", f"{counters.get('openDeploymentWatches', 'n/a')} "
            f"on {counters.get('clustersWatchingDeployments', 'n/a')} clusters", f"{spaces} on {spaces}", False)
        row("SIGKILL of one replica → the survivor holds every space", "n/a (no leases)", "< 30 s", False)
        return
    t0 = time.time()
    def shared():
        # Both replicas hold some (when there are two spaces or more) and together every space.
        la, lb, ha, hb = state = split()
        if la is None or lb is None or la + lb != spaces or (spaces > 1 and (la == 0 or lb == 0)):
            return None
        return state
    settled = wait_until(shared, args.replica_timeout, every=1.0)
    took_split = time.time() - t0
    # Every space's watches listed (a replica lists at most 8 collections at once), so the watch count below is final.
    all_healthy = wait_until(lambda: (lambda st: len(st[2] | st[3]) == spaces)(split()), args.replica_timeout, every=1.0)
    took_healthy = time.time() - t0
    time.sleep(3)  # still so a few seconds later: no space changes hands back and forth
    la, lb, ha, hb = split()
    both = ha & hb
    counters = kube.counters() or {}
    stable = bool(settled) and la + lb == spaces
    row("two replicas: spaces held (`gantry_spaces_leased` A + B); spaces healthy in both",
        f"{la:.0f} + {lb:.0f} = {la + lb:.0f}" + (f" {took_split:.0f} s after both were ready" if settled else f" (not shared within {args.replica_timeout:.0f} s)")
        + f"; {len(both)} in both ({len(ha)} + {len(hb)} healthy"
        + (f", all {spaces} {took_healthy:.0f} s after both were ready)" if all_healthy else ")"),
        f"sum = {spaces}, none in both", stable and not both)
    row("two replicas: Deployment watches open at the test server", f"{counters.get('openDeploymentWatches', 'n/a')} on "
        f"{counters.get('clustersWatchingDeployments', 'n/a')} clusters", f"one per cluster ({spaces})",
        counters.get("openDeploymentWatches") == spaces and counters.get("clustersWatchingDeployments") == spaces)
    victim, survivor = (a, b) if la >= lb else (b, a)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    killed = time.time()
    took = wait_until(lambda: metric_total(survivor.metrics(), "gantry_spaces_leased") == spaces and time.time() - killed, args.replica_timeout,
                      every=0.25)
    # Watched again: the survivor's caches of the taken spaces listed and watching (healthy), and the test server sees
    # one Deployments watch per cluster.
    def watched_again():
        healthy = {s for s, v in metric_by(survivor.metrics(), "gantry_space_watch_healthy", "space_id").items() if v == 1}
        counters = kube.counters() or {}
        done = len(healthy) == spaces and counters.get("clustersWatchingDeployments") == spaces
        return time.time() - killed if done else None
    watched = wait_until(watched_again, args.replica_timeout, every=0.25)
    row(f"SIGKILL of the replica holding {max(la, lb):.0f} spaces → the survivor holds all {spaces}",
        f"{took:.1f} s" if took else f"not within {args.replica_timeout:.0f} s", "< 30 s", bool(took) and took < 30)
    row(f"SIGKILL → every space watched again (healthy in the survivor, a Deployments watch on each cluster)",
        f"{watched:.1f} s" if watched else f"not within {args.replica_timeout:.0f} s", "< 30 s", bool(watched) and watched < 30)


def catalog_stats_figure(db):
    path = os.path.join(REPO, "bench", "results", f"catalog-{db}.md")
    try:
        for line in open(path):
            if line.startswith("| `GET /api/projects/stats` (all"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                return f"{cells[1]} for {cells[0].split('(all ')[1].split(' ')[0]} cards"
    except OSError:
        pass
    return None


def build_commit(bin_dir):
    """The commit of the tree the binaries were built in (a worktree's, when --bin-dir is inside one), and whether
    that tree had uncommitted changes to tracked files."""
    tree = bin_dir
    while tree != "/" and not os.path.exists(os.path.join(tree, ".git")):
        tree = os.path.dirname(tree)
    tree = tree if tree != "/" else REPO
    git = lambda *a: subprocess.run(["git", "-C", tree, *a], capture_output=True, text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{git('rev-parse', '--short', 'HEAD')} in {tree}" + (" (with uncommitted changes)" if dirty else "")


def command_line(argv):
    """The options as bench/scale.sh took them: without --bin-dir, --pg-url and --psql, which it adds."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--bin-dir", "--pg-url", "--psql"):
            skip = True
        elif not arg.startswith(("--bin-dir=", "--pg-url=", "--psql=")):
            out.append(arg)
    return shlex.join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--pg-url", help="postgres://… of an empty database (bench/scale.sh starts one)")
    ap.add_argument("--psql", default="psql")
    ap.add_argument("--spaces", type=int, default=500)
    ap.add_argument("--environments", type=int, default=10_000)
    ap.add_argument("--deployments", type=int, default=50_000)
    ap.add_argument("--envs-per-project", type=int, default=1, help="environments per project (default 1: as many projects as environments)")
    ap.add_argument("--stopped-fraction", type=float, default=0.01, help="Deployments scaled to 0 before the cold start")
    ap.add_argument("--seed-concurrency", type=int, default=8)
    ap.add_argument("--cold-timeout", type=float, default=900)
    ap.add_argument("--settle", type=float, default=5, help="seconds between the cold start and the steady-state window")
    ap.add_argument("--steady", type=float, default=60)
    ap.add_argument("--churn", type=float, default=100)
    ap.add_argument("--bookmark-interval", type=float, default=60, help="seconds between the test server's watch bookmarks")
    ap.add_argument("--churn-warmup", type=float, default=5)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--probe-concurrency", type=int, default=1)
    ap.add_argument("--probe-timeout", type=float, default=120)
    ap.add_argument("--probe-budget", type=float, default=900, help="no new probe starts after this many seconds")
    ap.add_argument("--stats-runs", type=int, default=5)
    ap.add_argument("--replica-timeout", type=float, default=120)
    ap.add_argument("--no-replicas", action="store_true", help="skip the two-replica test on PostgreSQL")
    ap.add_argument("--deployer-args", action="append", default=[],
                    help="extra arguments for every deployer's `gantry serve`, split like a shell line "
                         "(e.g. --deployer-args '--sync-interval 10 --watch-clusters false'); repeatable")
    ap.add_argument("--results", default="scale.md", help="file name under bench/results/")
    args = ap.parse_args()
    args.deployer_flags = [flag for line in args.deployer_args for flag in shlex.split(line)]
    dbs = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if "postgres" in dbs and not args.pg_url:
        sys.exit("--pg-url is needed for PostgreSQL (bench/scale.sh starts a throwaway cluster)")
    bin_dir = os.path.abspath(args.bin_dir)
    load_before = load_note()
    results = [run_database(db, args, bin_dir) for db in dbs]

    lines = ["# Scale benchmark", "", "Produced by `bench/scale.sh`; do not edit by hand.", "",
             f"- **date**: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; **binaries built from**: {build_commit(bin_dir)}",
             f"- **machine**: {os.cpu_count()} CPUs shared by the bench client, Gantry and kube-test-server ({os.path.basename(bin_dir)} build, "
             f"{args.spaces} clusters, TLS on loopback); loadavg before {load_before}",
             f"- **dataset**: {args.spaces} spaces (one cluster each), {args.environments} environments ({args.environments // args.spaces} namespaces "
             f"per cluster), {args.deployments} deployments ({args.deployments // args.environments} per namespace), "
             f"{args.envs_per_project} environment(s) per project; {args.stopped_fraction * 100:g} % of the Deployments at 0 replicas",
             f"- **command**: `bench/scale.sh --no-build {command_line(sys.argv[1:])}`",
             f"- **deployer**: `{' '.join(['gantry serve --rate-limit 0', *args.deployer_flags])}` (role all; PostgreSQL replicas `--role deployer`)",
             "- **reference**: Argo CD's published scale test, 50,000 applications across 500 clusters", ""]
    for result in results:
        lines += [f"## {result['db']}", "", "| measure | value | target |", "|---|---|---|"]
        lines += [f"| {m} | {v} | {t} |" for m, v, t in result["rows"]]
        lines += [""] + [f"- {n}" for n in result["notes"]] + [f"- loadavg after: {result.get('load', '?')}", ""]
    write_results(args.results, lines)


if __name__ == "__main__":
    main()
