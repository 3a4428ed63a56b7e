"""The fake Kubernetes API server speaks the real wire format: kubectl and the official Python client
read it through a kubeconfig, over TLS with the test cluster's CA (issue 4).

Runs the `kube-test-server` binary that `swift build` produced (.build/debug/kube-test-server).
"""
import contextlib
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from gantry_process import REPO
BINARY = os.path.join(REPO, ".build", "debug", "kube-test-server")
TOKEN = "wire-format-token"


@contextlib.contextmanager
def running_cluster(prefix):
    """`kube-test-server` on a free port with a kubeconfig for it (and one with a wrong token) in a new folder
    named from `prefix`; yields {server, kubeconfig, bad_kubeconfig, ca, workdir}."""
    if not os.path.exists(BINARY):
        pytest.fail(f"{BINARY} is missing: run `swift build --build-tests` first")
    workdir = tempfile.mkdtemp(prefix=prefix)
    ca = os.path.join(workdir, "ca.crt")
    process = subprocess.Popen([BINARY, "--port", "0", "--token", TOKEN, "--ca-out", ca],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening https://127.0.0.1:"), line
        server = line.split(" ", 1)[1]
        kubeconfig = os.path.join(workdir, "kubeconfig")

        def write(token):
            path = os.path.join(workdir, f"kubeconfig-{token}")
            with open(path, "w") as f:
                f.write(f"""apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster:
    server: {server}
    certificate-authority: {ca}
contexts:
- name: fake
  context: {{cluster: fake, user: deployer}}
users:
- name: deployer
  user:
    token: {token}
""")
            return path

        shutil.copy(write(TOKEN), kubeconfig)
        yield {"server": server, "kubeconfig": kubeconfig, "bad_kubeconfig": write("wrong-token"), "ca": ca, "workdir": workdir}
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    with running_cluster("kube-wire-") as running:
        yield running


def kubectl(cluster, *args, kubeconfig=None):
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig or cluster["kubeconfig"], "--request-timeout=10s", *args],
                          capture_output=True, text=True, timeout=60)


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@needs_kubectl
def test_kubectl_lists_namespaces(cluster):
    result = kubectl(cluster, "get", "namespaces", "-o", "json")
    assert result.returncode == 0, result.stderr
    names = [item["metadata"]["name"] for item in json.loads(result.stdout)["items"]]
    assert names == ["default", "shop", "kube-system"]


@needs_kubectl
def test_kubectl_lists_deployments_pods_and_ingressclasses(cluster):
    deployments = kubectl(cluster, "get", "deployments", "-n", "shop", "-o", "json")
    assert deployments.returncode == 0, deployments.stderr
    items = json.loads(deployments.stdout)["items"]
    assert [d["metadata"]["name"] for d in items] == ["web", "stuck", "idle"]
    assert items[0]["status"]["readyReplicas"] == 3

    pods = kubectl(cluster, "get", "pods", "-n", "shop", "-o", "name")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split() == ["pod/web-1", "pod/web-2", "pod/job-1"]

    classes = kubectl(cluster, "get", "ingressclasses", "-o", "json")
    assert classes.returncode == 0, classes.stderr
    assert [c["spec"]["controller"] for c in json.loads(classes.stdout)["items"]] == ["k8s.io/ingress-nginx", "traefik.io/ingress-controller"]


@needs_kubectl
def test_kubectl_follows_pages(cluster):
    result = kubectl(cluster, "get", "pods", "-n", "shop", "-o", "name", "--chunk-size=1")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 3


@needs_kubectl
def test_kubectl_reports_unauthorized_and_not_found(cluster):
    refused = kubectl(cluster, "get", "namespaces", kubeconfig=cluster["bad_kubeconfig"])
    assert refused.returncode != 0
    assert "Unauthorized" in refused.stderr
    missing = kubectl(cluster, "get", "namespace", "nowhere")
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr and "nowhere" in missing.stderr


@needs_kubectl
def test_kubectl_reads_version(cluster):
    result = kubectl(cluster, "get", "--raw", "/version")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gitVersion"] == "v1.32.0"


def test_python_client_deserializes_lists(cluster):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=cluster["kubeconfig"])
    core = client.CoreV1Api(api_client)
    assert [n.metadata.name for n in core.list_namespace().items] == ["default", "shop", "kube-system"]
    assert core.read_namespace("shop").status.phase == "Active"

    pods = core.list_namespaced_pod("shop", field_selector="status.phase!=Succeeded,status.phase!=Failed").items
    assert [p.metadata.name for p in pods] == ["web-1", "web-2"]
    assert pods[0].spec.init_containers[0].resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert pods[1].spec.init_containers[0].restart_policy == "Always"
    assert pods[1].spec.overhead == {"cpu": "10m", "memory": "32Mi"}

    deployments = client.AppsV1Api(api_client).list_namespaced_deployment("shop", limit=2)
    assert [d.metadata.name for d in deployments.items] == ["web", "stuck"]
    assert deployments.metadata._continue
    stuck = deployments.items[1]
    assert [(c.type, c.status, c.reason) for c in stuck.status.conditions][1] == ("Progressing", "False", "ProgressDeadlineExceeded")

    classes = client.NetworkingV1Api(api_client).list_ingress_class().items
    assert classes[0].metadata.annotations["ingressclass.kubernetes.io/is-default-class"] == "true"


def test_python_client_sees_status_errors(cluster):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(config.new_client_from_config(config_file=cluster["kubeconfig"]))
    with pytest.raises(ApiException) as missing:
        core.read_namespace("nowhere")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["reason"] == "NotFound"
