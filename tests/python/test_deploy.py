"""The Dockerfile and the Kubernetes manifests (issue 7): the image cannot be built here, so its stages and
user are checked by reading it; both kustomize overlays are rendered offline and checked."""
import os
import re
import shutil
import subprocess

import pytest
import yaml

from gantry_process import REPO


def dockerfile():
    with open(os.path.join(REPO, "Dockerfile")) as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_builds_with_swift_6_and_runs_slim_as_non_root():
    lines = dockerfile()
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) == 2
    assert re.match(r"FROM swift:6[.\d]*-\S+ AS build", stages[0])
    assert re.match(r"FROM debian:\S+-slim AS runtime", stages[1])
    runtime = lines[lines.index(stages[1]):]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("COPY --from=build") for line in runtime)
    healthcheck = " ".join(runtime[[i for i, l in enumerate(runtime) if l.startswith("HEALTHCHECK")][0]:][:2])
    assert "/healthz" in healthcheck
    assert any(line.startswith("ENTRYPOINT") and "gantry" in line for line in runtime)
    assert "EXPOSE 8080" in runtime


def render(overlay):
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is needed to render the overlays (scripts/test.sh installs it)")
    result = subprocess.run(["kubectl", "kustomize", os.path.join(REPO, "deploy", "kubernetes", "overlays", overlay)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def container(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env(c):
    return {e["name"]: e for e in c.get("env", [])}


def check_probes_and_resources(deployment):
    c = container(deployment)
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_single_overlay_runs_one_gantry_on_sqlite_with_a_volume():
    docs = render("single")
    assert all(d["metadata"].get("namespace", "gantry") == "gantry" for d in docs if d["kind"] != "Namespace")
    [deployment] = by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    c = container(deployment)
    assert c["args"] == ["serve", "--role", "all"]
    assert env(c)["GANTRY_DATABASE_URL"]["value"].startswith("sqlite:/var/lib/gantry/")
    [claim] = by_kind(docs, "PersistentVolumeClaim")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert c["volumeMounts"][0]["mountPath"] == "/var/lib/gantry"
    check_probes_and_resources(deployment)
    [binding] = by_kind(docs, "ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == "gantry"


def test_ha_overlay_splits_the_roles_on_postgresql():
    docs = render("ha")
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    config, deployer = deployments["gantry-config"], deployments["gantry-deployer"]
    assert config["spec"]["replicas"] == 3
    assert container(config)["args"] == ["serve", "--role", "config"]
    assert container(deployer)["args"] == ["serve", "--role", "deployer"]
    for deployment, key in ((config, "config.key"), (deployer, "deployer.key")):
        check_probes_and_resources(deployment)
        variables = env(container(deployment))
        assert variables["GANTRY_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "gantry-database"
        assert variables["GANTRY_SECRET_KEY_FILE"]["value"] == f"/etc/gantry/{key}"
        # Each role mounts only its own key: the config role never sees the private one.
        [volume] = deployment["spec"]["template"]["spec"]["volumes"]
        assert [item["key"] for item in volume["secret"]["items"]] == [key]
    budgets = {d["metadata"]["name"]: d for d in by_kind(docs, "PodDisruptionBudget")}
    assert budgets["gantry-config"]["spec"]["minAvailable"] == 2
    assert {s["metadata"]["name"] for s in by_kind(docs, "Secret")} == {"gantry-database", "gantry-keys"}
    [ingress] = by_kind(docs, "Ingress")
    routes = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert routes["/"] == "gantry"
    assert routes["/api/space-discovery/"] == "gantry-deployer"
    assert any("stats" in path and name == "gantry-deployer" for path, name in routes.items())
