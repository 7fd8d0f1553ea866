"""Operator scale benchmark: apply N SFTJobs at once against the devcluster.

For each N it reports, for the operator:
  - p50/p99 seconds from "SFTJob created" to "its Job exists and status.phase is set",
  - total seconds from the first create to the last job ready,
  - API writes per SFTJob, counted by the kube-apiserver (apiserver_request_total deltas
    for the kinds only the operator writes), plus Events posted during the run (all sources),
  - the operator's peak RSS (VmHWM),
  - CPU seconds spent by each control-plane process, the operator and this client,
and a baseline measured in the same run: a plain async client that creates the same
ConfigMap + Service + Job per job directly, with the same concurrency. A third run, the
floor, makes the operator's API requests without the operator (the user's SFTJob create,
then ConfigMap, Job, status patch and Event with the operator's identity): floor/baseline is
what the resource model costs the apiserver whoever reconciles it, operator/floor what the
operator adds (its watches and its own CPU).

The SFTJobs (and the baseline Jobs) are created suspended, so no pods run: the benchmark
measures the control plane path the operator adds, not kwok or the scheduler.

The operator runs as the Helm chart deploys it with `watchNamespaces` set to the run's
namespace: its ServiceAccount and the chart's RBAC, with a ServiceAccount token (the
baseline client and this one use the admin certificate).

Everything shares the machine's cores, so a single pair of runs varies by +-20%: each N
runs `--rounds` pairs (baseline, then operator, in fresh namespaces, each pair's objects
deleted before the next) and reports medians; the ratio is the median of the pairs'
ratios, with every pair's ratio listed. Each run starts on an idle control plane: the
controllers' work that a run leaves behind (the baseline's Services get endpoint slices
for a minute after its last create) is not charged to the run after it.

    python bench/operator_scale.py --n 1 100 1000 --rounds 5
Writes bench/results/operator_scale.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client, config, watch
from sftjob_devcluster.cluster import ClusterConfig, DevCluster
from sftjob_devcluster.helm import build_helm
from sftjob_operator.api.identity import GROUP, LABEL_JOB_NAME, PLURAL, VERSION
from sftjob_operator.render import Owner, render_children, service

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "sftjob-operator"
OPERATOR_NAMESPACE = "sftjob-bench"

CONCURRENCY = 50
# Writes only the operator makes (the bench creates SFTJobs; controllers write pods,
# events, leases and job status).
OPERATOR_WRITES = {
    ("POST", "configmaps", ""),
    ("POST", "services", ""),
    ("POST", "serviceaccounts", ""),
    ("POST", "roles", ""),
    ("POST", "rolebindings", ""),
    ("POST", "jobs", ""),
    ("POST", "persistentvolumeclaims", ""),
    ("PATCH", "sftjobs", ""),
    ("PATCH", "sftjobs", "status"),
    ("PUT", "sftjobs", ""),
    ("PUT", "sftjobs", "status"),
    ("PATCH", "jobs", ""),
}
METRIC = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")


def spec(i: int) -> dict[str, Any]:
    return {
        "modelConfig": {"model_name_or_path": "tiny-llama"},
        "scriptArgs": {"dataset_name": "tiny-dataset"},
        "sftConfig": {"max_steps": 2},
        "nodes": 1,
        "gpusPerNode": 1,
        "suspend": True,
    }


def request_counts(cluster: DevCluster) -> Counter[tuple[str, str, str]]:
    text = cluster.kubectl("get", "--raw", "/metrics", timeout=120).stdout
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
        counts[key] += int(float(m["value"]))
    return counts


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def component_pids(cluster: DevCluster) -> dict[str, int]:
    return {
        f.stem: int(json.loads(f.read_text())["pid"])
        for f in sorted((cluster.state_dir / "pids").glob("*.pid"))
    }


class CpuMeter:
    """CPU seconds spent by the control plane (and the operator) between start and stop."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def stop(self) -> dict[str, float]:
        return {
            name: round(cpu_seconds(pid) - self.before[name], 1) for name, pid in self.pids.items()
        }


QUIET_CORES = 0.15
QUIET_SAMPLE_S = 0.5


def wait_until_quiet(pids: dict[str, int], timeout: float = 180.0) -> float:
    """Wait until the control plane is idle (below QUIET_CORES for two samples in a row);
    returns the seconds waited. A run's objects keep the controllers busy after its last
    create (the endpoint slices of 1000 Services, 1000 Job status updates): without this,
    that work would land in the next run's measurement."""
    start = time.monotonic()
    quiet = 0
    before = sum(cpu_seconds(pid) for pid in pids.values())
    while quiet < 2 and time.monotonic() - start < timeout:
        time.sleep(QUIET_SAMPLE_S)
        now = sum(cpu_seconds(pid) for pid in pids.values())
        quiet = quiet + 1 if (now - before) / QUIET_SAMPLE_S < QUIET_CORES else 0
        before = now
    return round(time.monotonic() - start, 1)


def delete_namespaces(cluster: DevCluster, *names: str) -> None:
    """Delete and wait until they are gone: removing thousands of objects takes the
    controllers tens of seconds of CPU, which must not land in the next measurement."""
    cluster.kubectl("delete", "namespace", *names, "--timeout=600s", timeout=660)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timings(latencies: list[float], total: float) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(latencies), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
        "total_s": round(total, 3),
    }


RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def chart_identity_kubeconfig(cluster: DevCluster, watched: str, path: Path) -> Path:
    """The operator's identity as the Helm chart installs it with `watchNamespaces:
    [watched]`: its ServiceAccount with the chart's RBAC, authenticated by a ServiceAccount
    token (as in a pod), so the run pays for least-privilege RBAC and token
    authentication, not an admin certificate."""
    rendered = subprocess.run(
        [
            str(build_helm()),
            "template",
            "bench",
            str(CHART),
            "--namespace",
            OPERATOR_NAMESPACE,
            "--set-json",
            f"watchNamespaces={json.dumps([watched])}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in RBAC_KINDS]
    cluster.kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(docs)
    )
    (account,) = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
    kubeconfig = cluster.service_account_kubeconfig(account, OPERATOR_NAMESPACE, path, "6h")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the binding reaches the authorizer via an informer
        can = cluster.kubectl(
            "--kubeconfig", str(kubeconfig), "auth", "can-i", "create", "jobs.batch",
            "-n", watched, check=False,
        )  # fmt: skip
        if can.stdout.strip() == "yes":
            return kubeconfig
        time.sleep(0.5)
    raise RuntimeError("the chart's RBAC did not take effect within 60 s")


class Operator:
    def __init__(self, cluster: DevCluster, log: Path, namespace: str, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.log = log
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = Path(sys.executable).with_name("sftjob-operator")
        port = 18000 + os.getpid() % 1000
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(exe),
                    "--namespace",
                    self.namespace,
                    "--liveness",
                    f"http://127.0.0.1:{port}/healthz",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"operator did not become live; see {self.log}")

    def peak_rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


async def api_client(cluster: DevCluster, kubeconfig: Path | None = None) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=str(kubeconfig or cluster.kubeconfig), client_configuration=cfg
    )
    cfg.connection_pool_maxsize = CONCURRENCY * 2
    return client.ApiClient(cfg)


async def bounded(coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def run(coro: Any) -> Any:
        async with sem:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


async def run_operator(
    cluster: DevCluster, api: client.ApiClient, ns: str, n: int
) -> dict[str, Any]:
    created: dict[str, float] = {}
    job_seen: dict[str, float] = {}
    phase_seen: dict[str, float] = {}
    done = asyncio.Event()

    def check() -> None:
        if len(created) == n and all(k in job_seen and k in phase_seen for k in created):
            done.set()

    async def watch_forever(list_fn: Any, args: tuple[Any, ...], on_object: Any) -> None:
        """A watch that resumes when the server or the client ends the stream."""
        rv: str | None = None
        while not done.is_set():
            kwargs: dict[str, Any] = {"timeout_seconds": 300}
            if rv:
                kwargs["resource_version"] = rv
            try:
                async with watch.Watch().stream(list_fn, *args, **kwargs) as stream:
                    async for event in stream:
                        obj = event["object"]
                        rv = obj["metadata"]["resourceVersion"]
                        on_object(obj)
            except client.ApiException as exc:
                if exc.status == 410:
                    rv = None
                else:
                    raise

    def on_job(obj: Any) -> None:
        job_seen.setdefault(obj["metadata"]["labels"][LABEL_JOB_NAME], time.monotonic())
        check()

    def on_sftjob(obj: Any) -> None:
        if (obj.get("status") or {}).get("phase"):
            phase_seen.setdefault(obj["metadata"]["name"], time.monotonic())
            check()

    custom_api = client.CustomObjectsApi(api)

    # Jobs as plain dicts too: typed models would cost this client (on the same cores as
    # everything measured) several times the CPU of reading the events.
    async def watch_jobs() -> None:
        await watch_forever(
            custom_api.list_namespaced_custom_object, ("batch", "v1", ns, "jobs"), on_job
        )

    async def watch_sftjobs() -> None:
        await watch_forever(
            custom_api.list_namespaced_custom_object, (GROUP, VERSION, ns, PLURAL), on_sftjob
        )

    watchers = [asyncio.create_task(watch_jobs()), asyncio.create_task(watch_sftjobs())]
    await asyncio.sleep(1)  # let both watches start
    custom = client.CustomObjectsApi(api)

    async def create(i: int) -> None:
        name = f"s{i}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SFTJob",
            "metadata": {"name": name},
            "spec": spec(i),
        }
        start = time.monotonic()
        await custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
        created[name] = start

    t0 = time.monotonic()
    await bounded([create(i) for i in range(n)])
    check()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    except TimeoutError:
        missing_job = sorted(set(created) - set(job_seen))
        missing_phase = sorted(set(created) - set(phase_seen))
        dead = [t.exception() for t in watchers if t.done() and not t.cancelled()]
        raise RuntimeError(
            f"not ready after 600s: {len(missing_job)} without a Job {missing_job[:5]}, "
            f"{len(missing_phase)} without a phase {missing_phase[:5]}; watcher errors: {dead}"
        ) from None
    for task in watchers:
        task.cancel()
    latencies = [max(job_seen[k], phase_seen[k]) - created[k] for k in created]
    total = max(max(job_seen[k], phase_seen[k]) for k in created) - t0
    return timings(latencies, total)


async def run_baseline(api: client.ApiClient, ns: str, n: int) -> dict[str, Any]:
    core = client.CoreV1Api(api)
    batch = client.BatchV1Api(api)
    latencies: list[float] = []

    async def create(i: int) -> None:
        body = {
            "metadata": {"name": f"b{i}", "namespace": ns, "uid": "baseline"},
            "spec": spec(i),
        }
        children = {
            c["kind"]: c for c in render_children(body, {"model_name_or_path": "tiny-llama"})
        }
        # The baseline: ConfigMap + headless Service + Job, whatever the node count.
        children["Service"] = service.service(Owner.from_body(body))
        for child in children.values():
            child["metadata"].pop("ownerReferences", None)
        start = time.monotonic()
        await core.create_namespaced_config_map(ns, children["ConfigMap"])
        await core.create_namespaced_service(ns, children["Service"])
        await batch.create_namespaced_job(ns, children["Job"])
        latencies.append(time.monotonic() - start)

    t0 = time.monotonic()
    await bounded([create(i) for i in range(n)])
    return timings(latencies, time.monotonic() - t0)


async def run_floor(
    user: client.ApiClient,
    controller: client.ApiClient,
    ns: str,
    n: int,
    status: dict[str, Any],
    event: dict[str, Any],
) -> dict[str, Any]:
    """The API requests of the operator's run without the operator: the user creates the
    SFTJob, then a plain client with the operator's identity makes the operator's writes
    (ConfigMap, Job, one status patch, one Event) in sequence. This is what any controller
    of this resource pays the apiserver; the operator adds its watches and its own CPU."""
    # Plain dicts for bodies, as the operator sends them: the typed signatures want models.
    custom: Any = client.CustomObjectsApi(user)
    core: Any = client.CoreV1Api(controller)
    batch: Any = client.BatchV1Api(controller)
    status_api: Any = client.CustomObjectsApi(controller)
    latencies: list[float] = []

    async def create(i: int) -> None:
        name = f"f{i}"
        sftjob = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SFTJob",
            "metadata": {"name": name},
            "spec": spec(i),
        }
        start = time.monotonic()
        created = await custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, sftjob)
        children = {
            c["kind"]: c for c in render_children(created, {"model_name_or_path": "tiny-llama"})
        }
        await core.create_namespaced_config_map(ns, children["ConfigMap"])
        await batch.create_namespaced_job(ns, children["Job"])
        await status_api.patch_namespaced_custom_object_status(
            GROUP, VERSION, ns, PLURAL, name, {"status": status},
            _content_type="application/merge-patch+json",
        )  # fmt: skip
        involved = {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "SFTJob", "name": name,
            "namespace": ns, "uid": created["metadata"]["uid"],
        }  # fmt: skip
        await core.create_namespaced_event(
            ns, {**event, "metadata": {"generateName": f"{name}."}, "involvedObject": involved}
        )
        latencies.append(time.monotonic() - start)

    t0 = time.monotonic()
    await bounded([create(i) for i in range(n)])
    return timings(latencies, time.monotonic() - t0)


async def written_by_operator(
    api: client.ApiClient, ns: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The status and the first Event the operator wrote for SFTJob s0, for the floor run."""
    got = await client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "s0"
    )
    status = {k: v for k, v in got["status"].items() if k != "kopf"}
    core: Any = client.CoreV1Api(api)
    events = await core.list_namespaced_event(
        ns, field_selector="involvedObject.name=s0", _preload_content=False
    )
    items = json.loads(await events.read())["items"]
    keep = ("type", "reason", "message", "source", "reportingComponent")
    event = {k: items[0][k] for k in keep if k in items[0]} if items else {}
    return status, event


async def measure(cluster: DevCluster, n: int, log_dir: Path, round_: int) -> dict[str, Any]:
    api = await api_client(cluster)
    try:
        stamp = f"{n}-{round_}-{int(time.time())}"
        for ns in (f"bench-base-{stamp}", f"bench-op-{stamp}", f"bench-floor-{stamp}"):
            cluster.kubectl("create", "namespace", ns)
            cluster.wait_for_service_account(ns)
        wait_until_quiet(component_pids(cluster))
        meter = CpuMeter({**component_pids(cluster), "bench-client": os.getpid()})
        baseline = await run_baseline(api, f"bench-base-{stamp}", n)
        baseline["cpu_s"] = meter.stop()
        baseline["busy_after_s"] = wait_until_quiet(component_pids(cluster))

        # Watching only its namespace keeps leftovers of earlier runs out of the counts.
        log = log_dir / f"operator-{n}-{round_}.log"
        kubeconfig = chart_identity_kubeconfig(
            cluster, f"bench-op-{stamp}", log_dir / "operator.kubeconfig"
        )
        operator = Operator(cluster, log, f"bench-op-{stamp}", kubeconfig)
        operator.start()
        try:
            # Jobs arrive at a running operator: let it finish starting (its watches
            # established) rather than measure its start-up.
            assert operator.proc is not None
            start_settle = wait_until_quiet(
                {**component_pids(cluster), "operator": operator.proc.pid}
            )
            before = request_counts(cluster)
            meter = CpuMeter(
                {
                    **component_pids(cluster),
                    "operator": operator.proc.pid,
                    "bench-client": os.getpid(),
                }
            )
            result = await run_operator(cluster, api, f"bench-op-{stamp}", n)
            result["cpu_s"] = meter.stop()
            result["start_settle_s"] = start_settle
            await asyncio.sleep(2)  # let trailing writes of this burst land
            after = request_counts(cluster)
            rss = operator.peak_rss_mib()
        finally:
            operator.stop()
        status, event = await written_by_operator(api, f"bench-op-{stamp}")
        floor_kubeconfig = chart_identity_kubeconfig(
            cluster, f"bench-floor-{stamp}", log_dir / "floor.kubeconfig"
        )
        controller = await api_client(cluster, floor_kubeconfig)
        try:
            wait_until_quiet(component_pids(cluster))
            meter = CpuMeter({**component_pids(cluster), "bench-client": os.getpid()})
            floor = await run_floor(api, controller, f"bench-floor-{stamp}", n, status, event)
            floor["cpu_s"] = meter.stop()
        finally:
            await controller.close()
        delta = {k: after[k] - before[k] for k in after if after[k] - before[k] > 0}
        writes = {
            f"{verb} {res}{'/' + sub if sub else ''}": v
            for (verb, res, sub), v in sorted(delta.items())
            if (verb, res, sub) in OPERATOR_WRITES
        }
        events = delta.get(("POST", "events", ""), 0) + delta.get(("CREATE", "events", ""), 0)
        per_job = sum(writes.values()) / n
        delete_namespaces(
            cluster, f"bench-base-{stamp}", f"bench-op-{stamp}", f"bench-floor-{stamp}"
        )
        return {
            "n": n,
            "operator": result,
            "baseline": baseline,
            "floor": floor,
            "total_ratio_vs_baseline": round(result["total_s"] / baseline["total_s"], 2),
            "floor_ratio_vs_baseline": round(floor["total_s"] / baseline["total_s"], 2),
            "total_ratio_vs_floor": round(result["total_s"] / floor["total_s"], 2),
            "api_writes_per_sftjob": round(per_job, 2),
            "api_writes_by_kind": writes,
            "events_posted_all_sources_per_sftjob": round(events / n, 2),
            "operator_peak_rss_mib": round(rss, 1),
        }
    finally:
        await api.close()


def summarize(n: int, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds. Each round is a pair (the baseline, then the operator, back
    to back), so the ratio is the median of the rounds' ratios; the ratio of the median
    totals is reported too."""

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[side][key] for r in rounds), 3)

    def side(name: str) -> dict[str, Any]:
        cpu = rounds[0][name]["cpu_s"]
        return {
            **{key: median(name, key) for key in ("p50_s", "p99_s", "total_s")},
            "cpu_s": {
                proc: round(statistics.median(r[name]["cpu_s"][proc] for r in rounds), 1)
                for proc in cpu
            },
        }

    operator, baseline, floor = side("operator"), side("baseline"), side("floor")
    return {
        "n": n,
        "rounds": len(rounds),
        "operator": operator,
        "baseline": baseline,
        "floor": floor,
        "total_ratio_vs_baseline": round(
            statistics.median(r["total_ratio_vs_baseline"] for r in rounds), 2
        ),
        "floor_ratio_vs_baseline": round(
            statistics.median(r["floor_ratio_vs_baseline"] for r in rounds), 2
        ),
        "total_ratio_vs_floor": round(
            statistics.median(r["total_ratio_vs_floor"] for r in rounds), 2
        ),
        "total_ratio_per_round": [r["total_ratio_vs_baseline"] for r in rounds],
        "baseline_busy_after_s": [r["baseline"]["busy_after_s"] for r in rounds],
        "ratio_of_median_totals": round(operator["total_s"] / baseline["total_s"], 2),
        "api_writes_per_sftjob": statistics.median(r["api_writes_per_sftjob"] for r in rounds),
        "api_writes_by_kind": rounds[-1]["api_writes_by_kind"],
        "events_posted_all_sources_per_sftjob": statistics.median(
            r["events_posted_all_sources_per_sftjob"] for r in rounds
        ),
        "operator_peak_rss_mib": max(r["operator_peak_rss_mib"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument(
        "--rounds", type=int, default=5, help="baseline/operator pairs per N; medians reported"
    )
    parser.add_argument("--cluster", default="bench-operator", help="devcluster name (kept)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "operator_scale.json"
    )
    args = parser.parse_args()
    cluster = DevCluster(ClusterConfig(name=args.cluster)).up()
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}")
    log_dir = cluster.state_dir / "bench-logs"
    log_dir.mkdir(exist_ok=True)
    runs = []
    for n in args.n:
        rounds = []
        for round_ in range(args.rounds):
            sample = asyncio.run(measure(cluster, n, log_dir, round_))
            print(json.dumps(sample), flush=True)
            rounds.append(sample)
        run = summarize(n, rounds)
        print(json.dumps(run, indent=2), flush=True)
        runs.append(run)
    result = {
        "benchmark": "operator_scale",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), {platform.python_implementation()} {platform.python_version()}",
        "cluster": "sftjob-devcluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) on loopback",
        "setup": f"SFTJobs created suspended (1 node x 1 GPU), concurrency {CONCURRENCY}; "
        "baseline: same ConfigMap+Service+Job created directly; floor: the operator's "
        "requests from a plain client, no operator; "
        f"{args.rounds} rounds of baseline, operator, floor per N; medians, and the median "
        "of the rounds' ratios",
        "targets": {
            "total_ratio_vs_baseline": "<= 1.5 at N=1000",
            "api_writes_per_sftjob": "<= 3",
            "operator_peak_rss_mib": "< 200 at N=1000",
        },
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
