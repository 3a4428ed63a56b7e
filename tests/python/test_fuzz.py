"""API fuzzing (issue 7): schemathesis against the served /api/openapi.json with a real token and every check
schemathesis has (`--checks all`: no 5xx, answers that match the document, schema-valid requests accepted,
schema-violating ones refused, 405 with a matching `Allow`, …) in its coverage, fuzzing and stateful phases, over
every operation but the revocation of the very token the run uses, with a fixed seed and a bounded number of examples
(about two minutes on two cores).

Positive-data acceptance is what keeps openapi.yaml honest: every rule the server enforces on a single value must
be in the document, and negative-data rejection that the document claims no rule the server lacks. The rules that no
JSON Schema can state (an ID in a body naming a live resource, unique env names, `from` ≤ `to`, a future `expiresAt`,
a PATCH following the stored provider or kind, a real cursor) are supplied by the hooks at the end of this file,
which schemathesis loads (SCHEMATHESIS_HOOKS=test_fuzz) and which touch schema-valid requests only. Fixtures (projects,
a kubeconfig space on a cluster nobody listens on, cloud spaces and accounts, integrations, an environment with
deployments and a connection, revisions, members, roles) are fed to the generator as dictionaries, so the run reaches
the deploy routes and the stored-state paths, not only 404s; deletes draw spare resources.

Beyond schemathesis' default statuses: 412 for valid and invalid requests alike (an `If-Match` that is not the
resource's current version: stored state, docs/api.md §2), and 502/504 from the live-runtime routes, whose cluster is
never reachable here (§6)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from gantry_process import Gantry, new_token

# A cluster nobody listens on, with a placeholder CA: preflight skips cluster checks, deploys are queued (202) and
# the timeline answers 200 with a Warning header.
KUBECONFIG = """apiVersion: v1
kind: Config
current-context: fuzz
clusters:
- name: fuzz
  cluster:
    server: https://127.0.0.1:9
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==
contexts:
- name: fuzz
  context: {cluster: fuzz, user: u}
users:
- name: u
  user:
    token: fuzz-cluster-token
"""
IMAGE = "ghcr.io/acme/checkout:1.4.2"
CREDENTIALS = {
    "aws": {"accessKeyId": "AKIAFUZZ", "secretAccessKey": "fuzz-secret"},
    "gcp": {"serviceAccountJson": '{"type": "service_account"}'},
    "azure": {"tenantId": "t", "clientId": "c", "clientSecret": "s", "subscriptionId": "sub"},
}
CLOUD_CONFIGS = {
    "aws": {"clusterName": "fuzz", "region": "eu-west-1"},
    "gcp": {"clusterName": "fuzz", "region": "europe-west1"},
    "azure": {"clusterName": "fuzz", "resourceGroup": "fuzz"},
}
# Per run: coverage (boundary values of every keyword), fuzzing (random data) and stateful (links inferred from the
# document) phases; bounded so the whole test stays within about three minutes on two busy cores.
MAX_EXAMPLES = 12


def create_fixtures(server):
    def ok(method, path, body=None):
        status, payload = server.call(method, "/api" + path, body)
        assert 200 <= status < 300, f"{method} {path} → {status} {payload}"
        return payload["data"]

    accounts = {provider: ok("POST", "/cloud-accounts", {"name": f"fuzz-{provider}", "provider": provider, "credentials": creds})["id"]
                for provider, creds in CREDENTIALS.items()}
    space = ok("POST", "/spaces", {"name": "fuzz-cluster", "provider": "kubeconfig", "kubeconfig": KUBECONFIG})["id"]
    cloud_spaces = {provider: ok("POST", "/spaces", {"name": f"fuzz-{provider}", "provider": provider, "cloudAccountId": accounts[provider],
                                                     "config": CLOUD_CONFIGS[provider]})["id"] for provider in CLOUD_CONFIGS}
    integrations = {kind: ok("POST", "/integrations", {"name": f"fuzz-{kind}", "kind": kind, "registry": "registry.example.com",
                                                       "credentials": {"username": "u", "password": "p"}})["id"] for kind in ("ecr", "generic")}
    project = ok("POST", "/projects", {"name": "fuzz"})["id"]
    spare_project = ok("POST", "/projects", {"name": "fuzz-spare"})["id"]
    environment = ok("POST", f"/projects/{project}/environments", {"name": "prod", "spaceId": space, "namespace": "fuzz",
                                                                   "registryIntegrationId": integrations["generic"]})["id"]
    admin = ok("GET", "/me")["user"]["id"]
    deployments = [ok("POST", f"/environments/{environment}/deployments",
                      {"name": name, "image": IMAGE, "port": 8080, "env": [{"name": "MODE", "value": "fuzz"}]})["id"]
                   for name in ("web", "api", "worker")]
    connection = ok("POST", f"/environments/{environment}/connections",
                    {"fromDeploymentId": deployments[0], "toDeploymentId": deployments[1], "injectedVar": "API_URL"})["id"]
    for _ in range(2):
        ok("POST", f"/deployments/{deployments[0]}/deploy", {})
    status, payload = server.call("GET", f"/api/deployments/{deployments[0]}/revisions?limit=1")
    assert status == 200 and payload["nextCursor"], payload
    revision_cursors = [payload["nextCursor"]]
    spare_account = ok("POST", "/cloud-accounts", {"name": "fuzz-spare", "provider": "aws", "credentials": CREDENTIALS["aws"]})["id"]
    user = ok("POST", "/users", {"email": "fuzz@example.com", "name": "Fuzz"})["id"]
    spare_user = ok("POST", "/users", {"email": "spare@example.com", "name": "Spare"})["id"]
    spare_role = ok("POST", "/roles", {"name": "spare", "policies": []})["id"]
    role = ok("POST", "/roles", {"name": "fuzz", "policies": ["projects:read"]})["id"]
    assignment = ok("POST", "/assignments", {"userId": user, "roleId": role, "scope": f"project:{project}"})["id"]
    token = ok("POST", f"/users/{user}/tokens", {"name": "fuzz"})["id"]
    # Cursors are opaque: only a nextCursor the server wrote is valid, so the generator draws from real ones.
    cursors = []
    for path in ("/projects", "/spaces", "/cloud-accounts", f"/environments/{environment}/deployments", "/users", "/roles"):
        status, payload = server.call("GET", "/api" + path + "?limit=1")
        assert status == 200 and payload["nextCursor"], (path, payload)
        cursors.append(payload["nextCursor"])
    return {
        "image": IMAGE, "kubeconfig": KUBECONFIG, "context": "fuzz", "credentials": CREDENTIALS, "cloudConfigs": CLOUD_CONFIGS,
        "cloudAccounts": accounts, "accountProviders": {v: k for k, v in accounts.items()},
        "spaces": {"kubeconfig": space, **cloud_spaces}, "spaceProviders": {space: "kubeconfig", **{v: k for k, v in cloud_spaces.items()}},
        "integration": integrations["generic"], "integrationKinds": {v: k for k, v in integrations.items()},
        "project": project, "environment": environment, "connectionEnds": [deployments[1], deployments[0]],
        "base": server.base, "token": server.token, "admin": admin,
        "ids": {"projectID": [project, spare_project], "envID": [environment], "spaceID": [space, *cloud_spaces.values()],
                "cloudAccountID": list(accounts.values()), "integrationID": list(integrations.values()), "deploymentID": deployments,
                "connectionID": [connection], "userID": [user], "roleID": [role, "role_viewer"], "assignmentID": [assignment],
                "tokenID": [token]},
        "cursors": cursors, "revisionCursors": revision_cursors,
        # Deletes draw from these, so that the resources the other operations use stay alive.
        "deletable": {"deleteProject": ("projectID", spare_project), "deleteDeployment": ("deploymentID", deployments[2]),
                      "deleteUser": ("userID", spare_user), "deleteRole": ("roleID", spare_role),
                      "deleteSpace": ("spaceID", cloud_spaces["gcp"]),
                      "deleteCloudAccount": ("cloudAccountID", spare_account), "deleteIntegration": ("integrationID", integrations["ecr"])},
    }


def write_config(work, fixtures):
    lines = ['[checks.positive_data_acceptance]', 'expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]',
             '[checks.negative_data_rejection]',
             'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428", "429", "5xx"]',
             '[dictionaries]', f'cursors = {{ values = {json.dumps(fixtures["cursors"])} }}',
             f'revisionCursors = {{ values = {json.dumps(fixtures["revisionCursors"])} }}']
    for name, values in fixtures["ids"].items():
        lines.append(f'{name} = {{ values = {json.dumps(values)} }}')
    lines.append('[parameters]')
    lines.append('"query.cursor" = { dictionary = "cursors" }')
    for name in fixtures["ids"]:
        # Mostly real resources (the stored-state paths), sometimes generated IDs (404).
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.8 }}')
    for operation, (name, value) in fixtures["deletable"].items():
        lines += ['[[operations]]', f'include-operation-id = "{operation}"', f'parameters = {{ "path.{name}" = "{value}" }}']
    # The live-runtime routes answer 502/504 when the cluster cannot be reached (docs/api.md §6): here it never can.
    lines += ['[[operations]]', 'include-operation-id = ["getEnvironmentStats", "getClusterDiscovery", "getEnvironmentCost", '
              '"listSpaceNamespaces", "createSpaceNamespace"]', 'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502", "504"]']
    lines += ['[[operations]]', 'include-operation-id = "listRevisions"', 'parameters = { "query.cursor" = { dictionary = "revisionCursors" } }']
    path = os.path.join(work, "schemathesis.toml")
    with open(path, "w") as config:
        config.write("\n".join(lines) + "\n")
    return path


def test_schemathesis_finds_no_server_error_and_no_schema_violation():
    work = tempfile.mkdtemp(prefix="gantry-fuzz-")
    token = new_token()
    server = Gantry(f"sqlite:{work}/g.db", token, work, ["--cluster-timeout", "2"]).wait_ready()
    try:
        fixtures = create_fixtures(server)
        with open(os.path.join(work, "fixtures.json"), "w") as out:
            json.dump(fixtures, out)
        config = write_config(work, fixtures)
        schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "test_fuzz", "GANTRY_FUZZ_FIXTURES": os.path.join(work, "fixtures.json"),
               "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH", "")])}
        started = time.monotonic()
        document = os.environ.get("GANTRY_FUZZ_DOCUMENT", server.base + "/api/openapi.json")  # a local file while editing it
        # One worker: with two threads, Hypothesis's `ast.parse` of its own strategies sometimes fails inside CPython 3.11
        # ("AST constructor recursion depth mismatch", python/cpython#106905), a failure of the tool, not of Gantry.
        result = subprocess.run([schemathesis, "--config-file", config, "run", document,
                                 "--url", server.base + "/api", "-H", f"Authorization: Bearer {token}", "--checks", "all",
                                 "--max-examples", str(MAX_EXAMPLES), "--seed", "42",
                                 "--exclude-operation-id", "revokeToken", "--no-color", "--workers", "1"],
                                capture_output=True, text=True, timeout=600, env=env, cwd=work)
        elapsed = time.monotonic() - started
        with open(os.path.join(work, "schemathesis.txt"), "w") as out:  # the whole report, kept when the test fails
            out.write(result.stdout + result.stderr)
        summary = result.stdout[-6000:] + result.stderr[-2000:] + f"\n(full report: {work}/schemathesis.txt)"
        assert result.returncode == 0, summary
        tail = summary.split("SUMMARY")[-1].lower()
        assert "passed" in summary and "failed" not in tail.replace("0 failed", ""), summary
        print(f"schemathesis: {elapsed:.0f} s")
    finally:
        assert server.stop() == 0
    with open(os.path.join(work, f"gantry-{server.port}.log")) as log:
        assert token not in log.read()
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# Hooks, loaded by the schemathesis process only (SCHEMATHESIS_HOOKS=test_fuzz with GANTRY_FUZZ_FIXTURES set).
# ---------------------------------------------------------------------------------------------------------------
if os.environ.get("GANTRY_FUZZ_FIXTURES") and os.environ.get("SCHEMATHESIS_HOOKS") == "test_fuzz":
    import datetime
    import re
    import urllib.request

    import schemathesis as st
    from schemathesis import GenerationMode

    FIXTURES = json.load(open(os.environ["GANTRY_FUZZ_FIXTURES"]))
    ULID = "[0-9a-hjkmnp-tv-z]{26}"
    # Rules.isImageReference (GantryCore): what deploying accepts (else 422); the catalog accepts any image without spaces.
    _LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    _PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
    _COMP = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
    _FIRST = r"[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*"
    IMAGE_REFERENCE = re.compile(
        rf"(?:(?:{_LABEL}(?:\.{_LABEL})+(?::{_PORT})?|{_LABEL}:{_PORT}|{_FIRST})/(?:{_COMP}/)*)?{_COMP}"
        rf"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{{32,128}})?")

    def _positive(case):
        meta = case.meta
        if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
            return False
        return all(info.mode == GenerationMode.POSITIVE for info in (getattr(meta, "components", None) or {}).values())

    def _time(value):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)

    _STORED = {}

    def _stored(path, field):
        """A field of a stored resource (the stateful phase makes its own), read once."""
        if (path, field) not in _STORED:
            request = urllib.request.Request(FIXTURES["base"] + "/api" + path, headers={"Authorization": f"Bearer {FIXTURES['token']}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    _STORED[(path, field)] = json.load(response)["data"].get(field)
            except Exception:
                _STORED[(path, field)] = None
        return _STORED[(path, field)]

    def _lenient_spelling(value):
        """The body with an explicit null of an optional field left out, and 3.0 read as 3."""
        if isinstance(value, dict):
            return {key: _lenient_spelling(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [_lenient_spelling(item) for item in value]
        if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
            return int(value)
        return value

    def _deployment_body(body, stored_port=None):
        image = body.get("image")
        if isinstance(image, str) and not IMAGE_REFERENCE.fullmatch(image.strip(" \t")):
            # Keep stored images deployable, so that a later deploy's 422 is a finding, not the generator's doing.
            body["image"] = FIXTURES["image"]
        names = set()
        if isinstance(body.get("env"), list):
            unique = []
            for variable in body["env"]:
                if isinstance(variable, dict) and variable.get("name") not in names:
                    names.add(variable.get("name"))
                    unique.append(variable)
            body["env"] = unique
        if isinstance(body.get("secretEnv"), dict):
            body["secretEnv"] = {name: value for name, value in body["secretEnv"].items() if name not in names}
        if isinstance(body.get("ingress"), dict) and body.get("port", stored_port) is None:
            body["port"] = 8080


    @st.hook
    def filter_case(ctx, case):
        # JSON Schema calls 3.0 an integer: a "negative" body that is only negative by that spelling (or by an explicit
        # null, which the server refuses on its own) is left to the other cases.
        meta = case.meta
        if meta is None or meta.generation.mode != GenerationMode.NEGATIVE:
            return True
        if not isinstance(case.body, (dict, list)):
            return True
        components = getattr(meta, "components", None) or {}
        if any(location.value != "body" and info.mode == GenerationMode.NEGATIVE for location, info in components.items()):
            return True
        lenient = _lenient_spelling(case.body)
        if lenient == case.body:
            return True
        return not any(body.is_valid(lenient) for body in case.operation.body)

    @st.hook
    def map_case(ctx, case):
        if not _positive(case):
            return case
        operation = case.operation.definition.raw.get("operationId")
        path = case.path_parameters or {}
        query = case.query or {}
        cursors = FIXTURES["revisionCursors"] if operation == "listRevisions" else FIXTURES["cursors"]
        if "cursor" in query and query["cursor"] not in cursors:
            # Only a nextCursor the server wrote is a cursor (the coverage phase does not draw from dictionaries).
            query["cursor"] = cursors[len(str(query["cursor"])) % len(cursors)]
        if operation in ("listAuditLogs", "exportAuditLogs") and "from" in query and "to" in query:
            start, end = _time(query["from"]), _time(query["to"])
            if start and end and start > end:
                query["from"], query["to"] = query["to"], query["from"]
        body = case.body if isinstance(case.body, dict) else None
        if body is None:
            return case
        if operation in ("createToken", "createUserToken") and "expiresAt" in body:
            expires = _time(body["expiresAt"])
            if expires is None or expires <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5):
                body["expiresAt"] = "2099-01-01T00:00:00Z"
        elif operation in ("createEnvironment", "updateEnvironment"):
            if "spaceId" in body:
                body["spaceId"] = FIXTURES["spaces"]["kubeconfig"]
            if isinstance(body.get("registryIntegrationId"), str):
                body["registryIntegrationId"] = FIXTURES["integration"]
        elif operation == "createSpace":
            provider = body.get("provider")
            if provider == "kubeconfig":
                body["kubeconfig"] = FIXTURES["kubeconfig"]
                if "context" in body:
                    body["context"] = FIXTURES["context"]
            elif provider in FIXTURES["cloudAccounts"]:
                body["cloudAccountId"] = FIXTURES["cloudAccounts"][provider]
                allowed = {"aws": {"clusterName", "region"}, "gcp": {"clusterName", "region", "projectId"},
                           "azure": {"clusterName", "resourceGroup", "subscriptionId"}}[provider]
                if isinstance(body.get("config"), dict):
                    body["config"] = {**FIXTURES["cloudConfigs"][provider],
                                      **{key: value for key, value in body["config"].items() if key in allowed}}
        elif operation == "updateSpace":
            provider = _stored(f"/spaces/{path.get('spaceID')}", "provider")
            if provider == "kubeconfig":
                body.pop("config", None)
                if "kubeconfig" in body:
                    body["kubeconfig"] = FIXTURES["kubeconfig"]
                    if "context" in body:
                        body["context"] = FIXTURES["context"]
            elif provider is not None:
                body.pop("kubeconfig", None)
                body.pop("context", None)
                if isinstance(body.get("config"), dict):
                    body["config"] = dict(FIXTURES["cloudConfigs"][provider])
        elif operation == "updateCloudAccount" and "credentials" in body:
            provider = _stored(f"/cloud-accounts/{path.get('cloudAccountID')}", "provider")
            if provider is not None:
                body["credentials"] = dict(FIXTURES["credentials"][provider])
        elif operation == "createIntegration" and isinstance(body.get("cloudAccountId"), str):
            body["cloudAccountId"] = FIXTURES["cloudAccounts"]["aws"]
        elif operation == "updateIntegration" and isinstance(body.get("cloudAccountId"), str):
            if _stored(f"/integrations/{path.get('integrationID')}", "kind") not in ("ecr", "gar", "acr"):
                body.pop("cloudAccountId")
            else:
                body["cloudAccountId"] = FIXTURES["cloudAccounts"]["aws"]
        elif operation == "createDeployment":
            _deployment_body(body)
        elif operation == "updateDeployment":
            _deployment_body(body, stored_port=8080)
        elif operation == "createConnection":
            body["fromDeploymentId"], body["toDeploymentId"] = FIXTURES["connectionEnds"]
        elif operation == "cloneEnvironment":
            # Only live deployments of the source can be chosen, and overrides name copies (docs/api.md §8).
            if "spaceId" in body:
                body["spaceId"] = FIXTURES["spaces"]["kubeconfig"]
            names = ["api", "web"]
            if isinstance(body.get("deploymentIds"), list):
                body["deploymentIds"] = FIXTURES["connectionEnds"][:min(len(body["deploymentIds"]), 2)]
                names = names[:len(body["deploymentIds"])]
            if isinstance(body.get("overrides"), dict):
                body["overrides"] = dict(zip(names, body["overrides"].values()))
        elif operation == "createAssignment":
            body["userId"] = FIXTURES["admin"]
            if re.fullmatch(f"role_{ULID}", body.get("roleId", "")):
                body["roleId"] = "role_viewer"
            scope = body.get("scope", "")
            if scope.startswith("project:"):
                body["scope"] = "project:" + FIXTURES["project"]
            elif scope.startswith("environment:"):
                body["scope"] = "environment:" + FIXTURES["environment"]
        return case

    @st.hook
    def before_call(ctx, case, **kwargs):
        # The stateful phase fills fields from earlier answers after map_case ran (a new project's ID into a space's
        # config, an account of another provider into a space): the stored-state rules are applied again right before
        # the call, to positive cases only, as map_case applies them.
        map_case(ctx, case)
