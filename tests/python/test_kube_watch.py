"""The fake Kubernetes API server's watches speak the real wire format (issue 16): `kubectl get -w` and the
official Python client's `watch.Watch().stream` see ADDED, MODIFIED, DELETED and BOOKMARK events, and a too-old
resourceVersion is the 410 the client raises, both against the single-cluster server and against one cluster
of a many-cluster process reached through a kubeconfig whose server URL carries the `/clusters/{id}` path.

Runs the `kube-test-server` binary that `swift build` produced (.build/debug/kube-test-server).
"""
import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from test_kube_wire_format import BINARY, TOKEN, needs_kubectl

WATCHED = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "watched", "namespace": "shop", "labels": {"app": "watched"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "watched"}},
             "template": {"metadata": {"labels": {"app": "watched"}},
                          "spec": {"containers": [{"name": "watched", "image": "registry.example.com/watched:1"}]}}},
}


@contextlib.contextmanager
def running(*flags, cluster_path=""):
    """`kube-test-server` with `flags` and a kubeconfig whose server is the printed URL plus `cluster_path`."""
    if not os.path.exists(BINARY):
        pytest.fail(f"{BINARY} is missing: run `swift build --build-tests` first")
    workdir = tempfile.mkdtemp(prefix="kube-watch-")
    ca = os.path.join(workdir, "ca.crt")
    process = subprocess.Popen([BINARY, "--port", "0", "--token", TOKEN, "--ca-out", ca, "--bookmark-interval", "0.2", *flags],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening https://127.0.0.1:"), line
        base = line.split(" ", 1)[1]
        kubeconfig = os.path.join(workdir, "kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster:
    server: {base}{cluster_path}
    certificate-authority: {ca}
contexts:
- name: fake
  context: {{cluster: fake, user: deployer}}
users:
- name: deployer
  user:
    token: {TOKEN}
""")
        yield {"base": base, "server": base + cluster_path, "kubeconfig": kubeconfig, "ca": ca, "workdir": workdir}
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module", params=["single", "fleet"])
def cluster(request):
    """The single-cluster server, or cluster c-1 of a three-cluster process (its URL ends in /clusters/c-1)."""
    if request.param == "single":
        with running() as cluster:
            yield cluster
    else:
        with running("--clusters", "3", cluster_path="/clusters/c-1") as cluster:
            yield cluster


def python_client(cluster):
    from kubernetes import config
    return config.new_client_from_config(config_file=cluster["kubeconfig"])


def kubectl(cluster, *args):
    return subprocess.run(["kubectl", "--kubeconfig", cluster["kubeconfig"], "--request-timeout=10s", *args],
                          capture_output=True, text=True, timeout=60)


class JSONObjects:
    """The JSON documents a process prints one after another (kubectl -o json -w), read as they come."""

    def __init__(self, process):
        self.queue = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()
        self.decoder, self.buffer = json.JSONDecoder(), ""

    def _read(self, stream):
        for chunk in iter(lambda: stream.read(1), ""):
            self.queue.put(chunk)
        self.queue.put(None)

    def next(self, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            text = self.buffer.lstrip()
            if text:
                try:
                    document, end = self.decoder.raw_decode(text)
                    self.buffer = text[end:]
                    return document
                except json.JSONDecodeError:
                    pass
            chunk = self.queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            if chunk is None:
                raise EOFError(self.buffer)
            self.buffer += chunk


@needs_kubectl
def test_kubectl_watch_sees_added_then_modified(cluster):
    watch = subprocess.Popen(["kubectl", "--kubeconfig", cluster["kubeconfig"], "get", "deployments", "-n", "shop", "-w",
                              "--output-watch-events", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        documents = JSONObjects(watch)
        first = [documents.next() for _ in range(3)]
        assert [(d["type"], d["object"]["metadata"]["name"]) for d in first] == [("ADDED", "web"), ("ADDED", "stuck"), ("ADDED", "idle")]
        assert all(d["object"]["kind"] == "Deployment" for d in first)
        listed = int(first[0]["object"]["metadata"]["resourceVersion"])

        # A change through kubectl itself: a server-side apply that takes the annotation.
        applied = subprocess.run(["kubectl", "--kubeconfig", cluster["kubeconfig"], "apply", "--server-side", "--force-conflicts",
                                  "--field-manager", "watch-test", "-f", "-"], input=json.dumps({
                                      "apiVersion": "apps/v1", "kind": "Deployment",
                                      "metadata": {"name": "web", "namespace": "shop", "annotations": {"watched": "yes"}}}),
                                 capture_output=True, text=True, timeout=60)
        assert applied.returncode == 0, applied.stderr
        modified = documents.next()
        assert modified["type"] == "MODIFIED" and modified["object"]["metadata"]["name"] == "web"
        assert modified["object"]["metadata"]["annotations"]["watched"] == "yes"
        assert int(modified["object"]["metadata"]["resourceVersion"]) > listed
    finally:
        watch.terminate()
        watch.wait(timeout=15)


def test_python_client_streams_added_modified_deleted_and_bookmarks(cluster):
    from kubernetes import client, watch

    api_client = python_client(cluster)
    apps = client.AppsV1Api(api_client)
    listed = apps.list_namespaced_deployment("shop")
    start = listed.metadata.resource_version
    assert int(start) >= max(int(d.metadata.resource_version) for d in listed.items)

    # Changes before the watch opens come from the history; the deletion comes while it streams.
    apply = dict(field_manager="watch-test", force=True, _content_type="application/apply-patch+yaml")
    apps.patch_namespaced_deployment("watched", "shop", WATCHED, **apply)
    apps.patch_namespaced_deployment("watched", "shop", {**WATCHED, "spec": {**WATCHED["spec"], "replicas": 2}}, **apply)

    def delete_soon():
        time.sleep(1)
        apps.delete_namespaced_deployment("watched", "shop")
    deleter = threading.Thread(target=delete_soon)
    deleter.start()

    stream = watch.Watch()
    seen, bookmarks, versions = [], [], []
    for event in stream.stream(apps.list_namespaced_deployment, "shop", resource_version=start, allow_watch_bookmarks=True,
                               timeout_seconds=10):
        if event["type"] == "BOOKMARK":
            bookmarks.append(event["raw_object"])
        else:
            assert isinstance(event["object"], client.V1Deployment)
            seen.append((event["type"], event["object"].metadata.name))
            versions.append(int(event["object"].metadata.resource_version))
        if ("DELETED", "watched") in seen and bookmarks and int(bookmarks[-1]["metadata"]["resourceVersion"]) >= versions[-1]:
            stream.stop()
    deleter.join()

    watched = [kind for kind, name in seen if name == "watched"]
    assert watched[0] == "ADDED" and watched[-1] == "DELETED" and "MODIFIED" in watched
    assert versions == sorted(versions) and versions[0] > int(start)
    assert bookmarks[-1]["kind"] == "Deployment" and bookmarks[-1]["apiVersion"] == "apps/v1"
    assert set(bookmarks[-1]["metadata"]) == {"resourceVersion"}
    # The stream remembers the last resourceVersion it saw, as client-go does, to resume from.
    assert int(stream.resource_version) >= versions[-1]


def test_python_client_watch_with_a_label_selector_and_pods_from_the_controller(cluster):
    from kubernetes import client, watch

    api_client = python_client(cluster)
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    start = core.list_namespaced_pod("shop").metadata.resource_version
    body = {**WATCHED, "metadata": {**WATCHED["metadata"], "name": "selected", "labels": {"app": "selected"}},
            "spec": {**WATCHED["spec"], "selector": {"matchLabels": {"app": "selected"}},
                     "template": {**WATCHED["spec"]["template"], "metadata": {"labels": {"app": "selected"}}}}}
    apps.patch_namespaced_deployment("selected", "shop", body, field_manager="watch-test", force=True,
                                     _content_type="application/apply-patch+yaml")
    events = list(watch.Watch().stream(core.list_namespaced_pod, "shop", resource_version=start, label_selector="app=selected",
                                       timeout_seconds=2))
    assert [e["type"] for e in events] == ["ADDED"]
    assert events[0]["object"].metadata.labels["app"] == "selected"
    assert events[0]["object"].metadata.name.startswith("selected-")


def test_python_client_raises_410_for_a_too_old_resource_version(cluster):
    from kubernetes import client, watch
    from kubernetes.client.rest import ApiException

    apps = client.AppsV1Api(python_client(cluster))
    with pytest.raises(ApiException) as expired:
        for _ in watch.Watch().stream(apps.list_namespaced_deployment, "shop", resource_version="1", timeout_seconds=5):
            pass
    assert expired.value.status == 410
    assert "Expired" in expired.value.reason and "too old resource version" in expired.value.reason


def test_clusters_of_one_process_are_independent():
    from kubernetes import client, config

    with running("--clusters", "3", cluster_path="/clusters/c-0") as fleet:
        def apps(cluster_id):
            path = os.path.join(fleet["workdir"], f"kubeconfig-{cluster_id}")
            with open(fleet["kubeconfig"]) as source, open(path, "w") as target:
                target.write(source.read().replace("/clusters/c-0", f"/clusters/{cluster_id}"))
            return client.AppsV1Api(config.new_client_from_config(config_file=path))

        one, two = apps("c-0"), apps("c-2")
        one.patch_namespaced_deployment("watched", "shop", WATCHED, field_manager="watch-test", force=True,
                                        _content_type="application/apply-patch+yaml")
        assert "watched" in [d.metadata.name for d in one.list_namespaced_deployment("shop").items]
        assert "watched" not in [d.metadata.name for d in two.list_namespaced_deployment("shop").items]
        assert int(one.list_namespaced_deployment("shop").metadata.resource_version) > int(two.list_namespaced_deployment("shop").metadata.resource_version)
