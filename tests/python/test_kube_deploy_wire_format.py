"""The fake Kubernetes API server deploys the way a real one does: kubectl's server-side apply, rollout
status, events and cascading delete, and the official Python client's apply, read, event and delete calls
all work against it, so Gantry's deployer is tested against answers real clients accept.

Runs the `kube-test-server` binary that `swift build` produced (.build/debug/kube-test-server).
"""
import json
import os

import pytest

from test_kube_wire_format import kubectl, needs_kubectl, running_cluster

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata:
  name: store
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: store
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.0
        ports:
        - {containerPort: 8080, protocol: TCP}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
      imagePullSecrets:
      - name: pull
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: store
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: v1
kind: Secret
metadata:
  name: pull
  namespace: store
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6e319
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: store
spec:
  ingressClassName: nginx
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port: {number: 80}
"""


@pytest.fixture(scope="module")
def cluster():
    with running_cluster("kube-deploy-") as running:
        running["manifest"] = write(running, "deployment.yaml", MANIFEST)
        yield running


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def write(cluster, name, text):
    path = os.path.join(cluster["workdir"], name)
    with open(path, "w") as f:
        f.write(text)
    return path


@needs_kubectl
def test_kubectl_server_side_apply_rollout_events_conflicts_and_delete(cluster):
    applied = ok(kubectl(cluster, "apply", "--server-side", "--field-manager=gantry", "-f", cluster["manifest"]))
    for name in ["namespace/store", "deployment.apps/web", "service/web", "secret/pull", "ingress.networking.k8s.io/web"]:
        assert f"{name} serverside-applied" in applied, applied
    again = kubectl(cluster, "apply", "--server-side", "--field-manager=gantry", "-f", cluster["manifest"])
    assert again.returncode == 0, again.stderr

    deployment = json.loads(ok(kubectl(cluster, "get", "deployment", "web", "-n", "store", "-o", "json", "--show-managed-fields")))
    managers = {(m["manager"], m["operation"]) for m in deployment["metadata"]["managedFields"]}
    assert ("gantry", "Apply") in managers
    gantry = next(m for m in deployment["metadata"]["managedFields"] if m["manager"] == "gantry")
    assert "f:replicas" in gantry["fieldsV1"]["f:spec"]
    assert deployment["metadata"]["generation"] == 1, "an unchanged apply must not bump the generation"
    status = deployment["status"]
    assert status["observedGeneration"] == 1
    assert status["updatedReplicas"] == status["availableReplicas"] == status["readyReplicas"] == 2
    assert {c["type"]: c["reason"] for c in status["conditions"]}["Progressing"] == "NewReplicaSetAvailable"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"

    assert "successfully rolled out" in ok(kubectl(cluster, "rollout", "status", "deployment/web", "-n", "store", "--timeout=20s"))

    pods = json.loads(ok(kubectl(cluster, "get", "pods", "-n", "store", "-l", "app=web", "-o", "json")))["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    assert pods[0]["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    sets = json.loads(ok(kubectl(cluster, "get", "replicasets", "-n", "store", "-o", "json")))["items"]
    assert [s["metadata"]["ownerReferences"][0]["name"] for s in sets] == ["web"]
    assert pods[0]["metadata"]["labels"]["pod-template-hash"] == sets[0]["metadata"]["labels"]["pod-template-hash"]

    secret = json.loads(ok(kubectl(cluster, "get", "secret", "pull", "-n", "store", "-o", "json")))
    assert secret["data"] == {".dockerconfigjson": "eyJhdXRocyI6e319"}

    assert ok(kubectl(cluster, "get", "events", "-n", "store")).count("\n") > 5
    events = json.loads(ok(kubectl(cluster, "get", "events", "-n", "store", "-o", "json")))["items"]
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    for kind, reason in [("Deployment", "ScalingReplicaSet"), ("ReplicaSet", "SuccessfulCreate"), ("Pod", "Scheduled"), ("Pod", "Started")]:
        assert (kind, reason) in reasons, reasons

    scale = write(cluster, "scale.yaml", """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: store}
spec:
  replicas: 3
""")
    conflict = kubectl(cluster, "apply", "--server-side", "--field-manager=ops", "-f", scale)
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower() and ".spec.replicas" in conflict.stderr, conflict.stderr
    ok(kubectl(cluster, "apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", scale))
    deployment = json.loads(ok(kubectl(cluster, "get", "deployment", "web", "-n", "store", "-o", "json", "--show-managed-fields")))
    assert deployment["spec"]["replicas"] == 3 and deployment["status"]["readyReplicas"] == 3
    gantry = next(m for m in deployment["metadata"]["managedFields"] if m["manager"] == "gantry")
    assert "f:replicas" not in gantry["fieldsV1"]["f:spec"]

    ok(kubectl(cluster, "delete", "deployment", "web", "-n", "store", "--timeout=20s"))
    missing = kubectl(cluster, "get", "deployment", "web", "-n", "store")
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    assert json.loads(ok(kubectl(cluster, "get", "pods", "-n", "store", "-o", "json")))["items"] == []
    assert json.loads(ok(kubectl(cluster, "get", "replicasets", "-n", "store", "-o", "json")))["items"] == []


@needs_kubectl
def test_kubectl_rejects_what_the_server_rejects(cluster):
    ok(kubectl(cluster, "apply", "--server-side", "--field-manager=gantry", "-f", cluster["manifest"]))
    invalid = write(cluster, "invalid.yaml", """apiVersion: apps/v1
kind: Deployment
metadata: {name: Bad_Name, namespace: store}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: y}}
    spec:
      containers: [{name: x, image: ""}]
""")
    result = kubectl(cluster, "apply", "--server-side", "--field-manager=gantry", "--validate=false", "-f", invalid)
    assert result.returncode != 0
    assert "is invalid" in result.stderr and "metadata.name" in result.stderr, result.stderr


def python_client(cluster):
    from kubernetes import config
    return config.new_client_from_config(config_file=cluster["kubeconfig"])


def test_python_client_applies_reads_events_and_deletes(cluster):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api_client = python_client(cluster)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.patch_namespace("py", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "py"}},
                         field_manager="gantry", force=True, _content_type="application/apply-patch+yaml")
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "py", "labels": {"app": "api"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}},
                              "spec": {"containers": [{"name": "api", "image": "registry.example.com/api:1"}]}}},
    }
    created = apps.patch_namespaced_deployment("api", "py", body, field_manager="gantry", force=True,
                                               _content_type="application/apply-patch+yaml")
    assert created.metadata.managed_fields[0].manager == "gantry"
    assert created.metadata.managed_fields[0].operation == "Apply"

    body["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/does-not-exist:2"
    apps.patch_namespaced_deployment("api", "py", body, field_manager="gantry", force=True, _content_type="application/apply-patch+yaml")
    deployment = apps.read_namespaced_deployment("api", "py")
    assert deployment.metadata.generation == 2 and deployment.status.observed_generation == 2
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    progressing = next(c for c in deployment.status.conditions if c.type == "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "ReplicaSetUpdated")
    assert deployment.status.updated_replicas == 1 and deployment.status.available_replicas == 1

    pods = core.list_namespaced_pod("py", label_selector="app=api").items
    stuck = [p for p in pods if p.status.phase == "Pending"]
    assert len(pods) == 2 and len(stuck) == 1
    waiting = stuck[0].status.container_statuses[0].state.waiting
    assert waiting.reason == "ImagePullBackOff"
    assert waiting.message == 'Back-off pulling image "registry.example.com/does-not-exist:2"'

    failed = core.list_namespaced_event("py", field_selector=f"involvedObject.name={stuck[0].metadata.name}").items
    assert any(e.reason == "Failed" and e.type == "Warning" and "not found" in e.message for e in failed)
    assert all(e.involved_object.name == stuck[0].metadata.name for e in failed)
    new_events = client.EventsV1Api(api_client).list_namespaced_event("py", field_selector="regarding.kind=Deployment").items
    assert any(e.reason == "ScalingReplicaSet" and e.regarding.name == "api" and e.note for e in new_events)

    with pytest.raises(ApiException) as conflict:
        apps.patch_namespaced_deployment("api", "py", {**body, "spec": {**body["spec"], "replicas": 5}}, field_manager="other",
                                         _content_type="application/apply-patch+yaml")
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"

    apps.delete_namespaced_deployment("api", "py", propagation_policy="Background")
    assert core.list_namespaced_pod("py").items == []
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("api", "py")
    assert missing.value.status == 404


def test_python_client_sees_a_crash_loop(cluster):
    from kubernetes import client

    api_client = python_client(cluster)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.patch_namespace("loop", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "loop"}},
                         field_manager="gantry", _content_type="application/apply-patch+yaml")
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "job", "namespace": "loop"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "job"}},
                 "template": {"metadata": {"labels": {"app": "job"}},
                              "spec": {"containers": [{"name": "job", "image": "registry.example.com/crashloop:1"}]}}},
    }
    apps.patch_namespaced_deployment("job", "loop", body, field_manager="gantry", _content_type="application/apply-patch+yaml")
    pod = core.list_namespaced_pod("loop", label_selector="app=job").items[0]
    status = pod.status.container_statuses[0]
    assert pod.status.phase == "Running"
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.last_state.terminated.exit_code == 1
    progressing = next(c for c in apps.read_namespaced_deployment("job", "loop").status.conditions if c.type == "Progressing")
    assert progressing.reason == "ReplicaSetUpdated"
    backoffs = core.list_namespaced_event("loop", field_selector="involvedObject.kind=Pod").items
    assert any(e.reason == "BackOff" and e.type == "Warning" for e in backoffs)

    with pytest.raises(client.rest.ApiException) as invalid:
        apps.patch_namespaced_deployment("job", "loop", {**body, "spec": {**body["spec"], "template": {
            "metadata": {"labels": {"app": "job"}}, "spec": {"containers": []}}}},
            field_manager="gantry", force=True, _content_type="application/apply-patch+yaml")
    assert invalid.value.status == 422 and json.loads(invalid.value.body)["reason"] == "Invalid"
