"""The Helm chart (helm/datapool), the plain manifests and the compose file
(deploy/), rendered and checked offline.

Renderer: `helm template` when `helm` is on PATH; else deploy/render-chart.sh
(Go's text/template + sprig + sigs.k8s.io/yaml, Helm's engine rules; see
deploy/chart-render/main.go for what it leaves out). Each manifest is then
parsed (PyYAML) and
- checked against the Kubernetes API types (k8s_schema: Debian's
  python3-kubernetes), so that a misspelt field, a number where the API
  wants a string or a missing required field fails here, not at install;
- checked for what the chart promises: one replica by default (three:
  started together, told their peers), non-root, read-only
  root, probes on grpc.health.v1, the ports, the ReadWriteMany shared claim,
  the read-only input, Secrets for token and TLS, nvidia.com/gpu only with
  values-gpu.yaml.
The rendered pod's environment and probe commands are also run: the real
server started with the env the pod would get (paths mapped to test
folders), and the probe's health check run against it, plaintext and TLS.

Run: /usr/bin/python3 -m unittest tests/python/test_helm_chart.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "yaml", "kubernetes", "grpc")

import grpc  # noqa: E402
import yaml  # noqa: E402

import k8s_schema  # noqa: E402
from pki import make_pki  # noqa: E402
from server_harness import (RunningServer, cli_binary, health_check,  # noqa: E402
                            server_binary)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(REPO, "helm", "datapool")
GPU_VALUES = os.path.join(CHART, "values-gpu.yaml")
DEPLOY = os.path.join(REPO, "deploy")
RENDER = os.path.join(DEPLOY, "render-chart.sh")
PLAIN = os.path.join(DEPLOY, "kubernetes", "datapool.yaml")
COMPOSE = os.path.join(DEPLOY, "compose.yaml")
EXAMPLE_VALUES = os.path.join(DEPLOY, "examples", "values-production.yaml")
GRPC_PORT = 50051
METRICS_PORT = 9464
UID = 10001


class RenderError(Exception):
    pass


def renderer():
    """`helm template` where Helm is installed, else deploy/render-chart.sh."""
    helm = shutil.which("helm")
    return [helm, "template"] if helm else [RENDER]


def render(*args, name="datapool"):
    """The chart's manifests as a list of dicts (`args`: -f FILE, --set)."""
    cmd = renderer()
    if cmd[0] == RENDER:
        cmd = cmd + ["--name", name] + list(args) + [CHART]
    else:  # helm template NAME CHART [flags]
        cmd = cmd + [name, CHART] + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    assert len(found) == 1, "%d %s in %s" % (
        len(found), kind, [d["kind"] for d in docs])
    return found[0]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


class PodChecks:
    """Checks shared by the chart's renders and the plain manifests."""

    def check_schema(self, docs):
        for d in docs:
            errs = k8s_schema.errors(d)
            self.assertFalse(errs, "%s %s: %s" % (d["kind"],
                                                  d["metadata"]["name"],
                                                  errs))

    def check_workload(self, docs):
        """The StatefulSet's pod as the chart promises it; returns
        (statefulset, container)."""
        self.assertEqual(by_kind(docs, "Deployment"), [])
        sts = one(docs, "StatefulSet")
        spec = sts["spec"]
        self.assertEqual(spec["replicas"], 1)
        self.assertEqual(spec["updateStrategy"]["type"], "RollingUpdate")
        self.assertEqual(spec["podManagementPolicy"], "OrderedReady")
        self.assertNotIn("volumeClaimTemplates", spec)
        headless = [s for s in by_kind(docs, "Service")
                    if s["metadata"]["name"] == spec["serviceName"]]
        self.assertEqual(len(headless), 1)
        self.assertEqual(headless[0]["spec"]["clusterIP"], "None")
        labels = spec["template"]["metadata"]["labels"]
        for k, v in spec["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v)

        pod = spec["template"]["spec"]
        self.assertFalse(pod["automountServiceAccountToken"])
        psc = pod["securityContext"]
        self.assertTrue(psc["runAsNonRoot"])
        self.assertEqual(psc["runAsUser"], UID)
        self.assertEqual(psc["fsGroup"], UID)
        self.assertEqual(psc["seccompProfile"]["type"], "RuntimeDefault")
        (c,) = pod["containers"]
        sc = c["securityContext"]
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertTrue(sc["runAsNonRoot"])
        self.assertNotEqual(sc.get("runAsUser", UID), 0)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])

        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports["grpc"], GRPC_PORT)
        env = env_of(c)
        self.assertEqual(env["DATAPOOL_LISTEN"], "0.0.0.0:%d" % GRPC_PORT)
        self.assertEqual(env["DATAPOOL_SHARED_DIR"], "/data/shared")
        self.assertEqual(env["DATAPOOL_INPUT_DIR"], "/data/input")
        grace = int(env["DATAPOOL_SHUTDOWN_GRACE_S"])
        self.assertGreater(pod["terminationGracePeriodSeconds"], grace)

        # Volumes: shared read-write from the RWX claim, input read-only,
        # /tmp an emptyDir (the one other writable place).
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        shared = volumes[mounts["/data/shared"]["name"]]
        self.assertFalse(mounts["/data/shared"].get("readOnly", False))
        claim = shared["persistentVolumeClaim"]["claimName"]
        pvcs = {p["metadata"]["name"]: p
                for p in by_kind(docs, "PersistentVolumeClaim")}
        if claim in pvcs:
            self.assertEqual(pvcs[claim]["spec"]["accessModes"],
                             ["ReadWriteMany"])
        self.assertTrue(mounts["/data/input"]["readOnly"])
        self.assertIn("emptyDir", volumes[mounts["/tmp"]["name"]])
        for path, m in mounts.items():
            if path not in ("/data/shared", "/tmp"):
                self.assertTrue(m.get("readOnly"), "%s is writable" % path)
        return sts, c

    def check_probes(self, c, tls=False):
        # Startup and liveness: health service "liveness" (serving at all);
        # readiness: "" (every pool loaded).
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c[kind]
            service = "" if kind == "readinessProbe" else "liveness"
            if tls:
                self.assertNotIn("grpc", probe)
                cmd = probe["exec"]["command"]
                self.assertEqual(cmd[:2], ["datapool", "health"])
                self.assertIn("--tls-ca", cmd)
                if service:
                    self.assertEqual(cmd[-2:], ["--service", service])
                else:
                    self.assertNotIn("--service", cmd)
            else:
                expected = {"port": GRPC_PORT}
                if service:
                    expected["service"] = service
                self.assertEqual(probe["grpc"], expected)
            self.assertGreaterEqual(probe["timeoutSeconds"], 1)
        startup = c["startupProbe"]
        self.assertGreaterEqual(
            startup["periodSeconds"] * startup["failureThreshold"], 600)

    def check_service(self, docs, metrics=True):
        main = [s for s in by_kind(docs, "Service")
                if s["spec"].get("clusterIP") != "None"]
        self.assertEqual(len(main), 1)
        ports = {p["name"]: p for p in main[0]["spec"]["ports"]}
        self.assertEqual(ports["grpc"]["port"], GRPC_PORT)
        self.assertEqual(ports["grpc"]["targetPort"], "grpc")
        if metrics:
            self.assertEqual(ports["metrics"]["port"], METRICS_PORT)
        else:
            self.assertNotIn("metrics", ports)


class ChartTest(unittest.TestCase, PodChecks):

    @classmethod
    def setUpClass(cls):
        print("renderer: %s" % " ".join(renderer()), file=sys.stderr)
        cls.default = render()
        cls.gpu = render("-f", GPU_VALUES)

    def test_default_values(self):
        docs = self.default
        self.check_schema(docs)
        self.assertEqual(sorted(d["kind"] for d in docs),
                         ["PersistentVolumeClaim", "Service", "Service",
                          "ServiceAccount", "StatefulSet"])
        sts, c = self.check_workload(docs)
        self.check_probes(c)
        self.check_service(docs)
        pvc = one(docs, "PersistentVolumeClaim")
        self.assertEqual(pvc["spec"]["accessModes"], ["ReadWriteMany"])
        self.assertEqual(pvc["metadata"]["annotations"],
                         {"helm.sh/resource-policy": "keep"})
        self.assertEqual(c["image"], "datapool:0.1.0")
        self.assertNotIn("nvidia.com/gpu", c["resources"].get("limits", {}))
        env = env_of(c)
        # /metrics (no authentication, pool names in labels) listens on the
        # pod's address, not on every interface; Kubernetes expands
        # $(POD_IP) only from a variable declared before it.
        self.assertEqual(env["DATAPOOL_METRICS_LISTEN"],
                         "$(POD_IP):%d" % METRICS_PORT)
        names = [e["name"] for e in c["env"]]
        self.assertLess(names.index("POD_IP"),
                        names.index("DATAPOOL_METRICS_LISTEN"))
        pod_ip = c["env"][names.index("POD_IP")]
        self.assertEqual(pod_ip["valueFrom"],
                         {"fieldRef": {"fieldPath": "status.podIP"}})
        self.assertEqual(env["DATAPOOL_DEVICE"], "auto")
        for secret_env in ("DATAPOOL_AUTH_TOKEN_FILE", "DATAPOOL_TLS_CERT",
                           "DATAPOOL_TLS_KEY", "DATAPOOL_TLS_CLIENT_CA"):
            self.assertNotIn(secret_env, env)
        pod = sts["spec"]["template"]["spec"]
        self.assertFalse([v for v in pod["volumes"] if "secret" in v])
        self.assertIn("emptyDir", [v for v in pod["volumes"]
                                   if v["name"] == "input"][0])

    def test_gpu_values(self):
        docs = self.gpu
        self.check_schema(docs)
        sts, c = self.check_workload(docs)
        self.check_probes(c)
        self.assertEqual(c["resources"]["limits"]["nvidia.com/gpu"], 1)
        self.assertEqual(c["image"], "datapool:0.1.0-gpu")
        self.assertEqual(env_of(c)["DATAPOOL_DEVICE"], "cuda")
        tolerations = sts["spec"]["template"]["spec"]["tolerations"]
        self.assertIn("nvidia.com/gpu", [t["key"] for t in tolerations])
        # Only the GPU values ask for a GPU.
        (dc,) = one(self.default, "StatefulSet")["spec"]["template"]["spec"][
            "containers"]
        self.assertNotIn("nvidia.com/gpu", str(dc["resources"]))

    def test_secrets_for_token_and_tls(self):
        docs = render("--set", "auth.enabled=true,auth.existingSecret=tokens,"
                      "tls.enabled=true,tls.existingSecret=server-tls,"
                      "tls.clientCA.enabled=true,"
                      "tls.clientCA.existingSecret=client-ca,"
                      "tls.clientCA.probeClientSecret=probe-tls,"
                      "tls.probeServerName=datapool.example.com")
        self.check_schema(docs)
        sts, c = self.check_workload(docs)
        self.check_probes(c, tls=True)
        pod = sts["spec"]["template"]["spec"]
        secrets = {v["name"]: v["secret"]["secretName"]
                   for v in pod["volumes"] if "secret" in v}
        self.assertEqual(sorted(secrets.values()),
                         ["client-ca", "probe-tls", "server-tls", "tokens"])
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        for name in secrets:
            self.assertTrue(mounts[name]["readOnly"])
        env = env_of(c)
        self.assertEqual(env["DATAPOOL_AUTH_TOKEN_FILE"],
                         mounts["auth"]["mountPath"] + "/tokens")
        self.assertEqual(env["DATAPOOL_TLS_CERT"],
                         mounts["tls"]["mountPath"] + "/tls.crt")
        self.assertEqual(env["DATAPOOL_TLS_KEY"],
                         mounts["tls"]["mountPath"] + "/tls.key")
        self.assertEqual(env["DATAPOOL_TLS_CLIENT_CA"],
                         mounts["client-ca"]["mountPath"] + "/ca.crt")
        # The probe's name resolves to the pod itself.
        self.assertEqual(pod["hostAliases"],
                         [{"ip": "127.0.0.1",
                           "hostnames": ["datapool.example.com"]}])
        cmd = c["readinessProbe"]["exec"]["command"]
        self.assertEqual(cmd[cmd.index("--server") + 1],
                         "datapool.example.com:%d" % GRPC_PORT)

    def test_existing_claims_and_options(self):
        docs = render("--set", "shared.existingClaim=pools,"
                      "input.existingClaim=images,metrics.enabled=false,"
                      "model.existingClaim=models,"
                      "server.model=/models/resnet18.pt")
        self.check_schema(docs)
        self.assertEqual(by_kind(docs, "PersistentVolumeClaim"), [])
        sts, c = self.check_workload(docs)
        self.check_service(docs, metrics=False)
        volumes = {v["name"]: v
                   for v in sts["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["shared"]["persistentVolumeClaim"],
                         {"claimName": "pools"})
        self.assertEqual(volumes["input"]["persistentVolumeClaim"],
                         {"claimName": "images", "readOnly": True})
        env = env_of(c)
        self.assertEqual(env["DATAPOOL_METRICS_LISTEN"], "")
        self.assertEqual(env["DATAPOOL_MODEL"], "/models/resnet18.pt")
        self.assertNotIn("annotations", sts["spec"]["template"]["metadata"])

    def test_rest_gateway(self):
        # Off by default: no port, no listener.
        _, c = self.check_workload(self.default)
        self.assertNotIn("DATAPOOL_HTTP_LISTEN", env_of(c))
        self.assertNotIn("rest", [p["name"] for p in c["ports"]])
        docs = render("--set", "rest.enabled=true,service.restPort=8443")
        self.check_schema(docs)
        _, c = self.check_workload(docs)
        self.check_service(docs)
        self.assertEqual(env_of(c)["DATAPOOL_HTTP_LISTEN"], "0.0.0.0:8443")
        self.assertIn({"name": "rest", "containerPort": 8443,
                       "protocol": "TCP"}, c["ports"])
        main = [s for s in by_kind(docs, "Service")
                if s["spec"].get("clusterIP") != "None"][0]
        rest = [p for p in main["spec"]["ports"] if p["name"] == "rest"]
        self.assertEqual(rest, [{"name": "rest", "port": 8443,
                                 "targetPort": "rest", "protocol": "TCP",
                                 "appProtocol": "http"}])

    def test_example_production_values(self):
        docs = render("-f", EXAMPLE_VALUES)
        self.check_schema(docs)
        sts, c = self.check_workload(docs)
        self.check_probes(c, tls=True)

    def test_misconfigurations_fail_at_render(self):
        for sets, words in (
                ("tls.enabled=true", "tls.existingSecret"),
                ("auth.enabled=true", "auth.existingSecret"),
                ("tls.clientCA.enabled=true", "tls.enabled"),
                ("server.model=/models/m.pt", "model.existingClaim"),
                ("replicas=0", "replicas must be at least 1")):
            with self.assertRaises(RenderError, msg=sets) as cm:
                render("--set", sets)
            self.assertIn(words, str(cm.exception))

    def test_three_replicas(self):
        """replicas: 3 — three pods started together, each told the
        replica count and how to reach the others (its ordinal comes from
        its pod name); the headless Service publishes them before they are
        ready; with TLS they trust the chart's CA."""
        docs = render("--set", "replicas=3", name="dp")
        self.check_schema(docs)
        sts = one(docs, "StatefulSet")
        self.assertEqual(sts["spec"]["replicas"], 3)
        self.assertEqual(sts["spec"]["podManagementPolicy"], "Parallel")
        (c,) = sts["spec"]["template"]["spec"]["containers"]
        env = env_of(c)
        self.assertEqual(env["DATAPOOL_REPLICAS"], "3")
        self.assertEqual(env["DATAPOOL_PEER_DOWN_AFTER_S"], "10")
        # Large DIVERSITY-only selections sharded over the replicas.
        self.assertEqual(env["DATAPOOL_SHARD_SELECT_MIN_CANDIDATES"],
                         "250000")
        self.assertEqual(env["DATAPOOL_PEER_ADDRESS_TEMPLATE"],
                         "dp-datapool-{i}.dp-datapool-headless.default.svc:%d"
                         % GRPC_PORT)
        self.assertNotIn("DATAPOOL_REPLICA_INDEX", env)
        self.assertNotIn("DATAPOOL_PEER_TLS_CA", env)
        headless = [s for s in by_kind(docs, "Service")
                    if s["metadata"]["name"] == sts["spec"]["serviceName"]]
        self.assertTrue(headless[0]["spec"]["publishNotReadyAddresses"])
        self.check_probes(c)
        tls = render("--set", "replicas=3,tls.enabled=true,"
                     "tls.existingSecret=tls,tls.peerServerName=peers.example")
        self.check_schema(tls)
        (c,) = one(tls, "StatefulSet")["spec"]["template"]["spec"][
            "containers"]
        env = env_of(c)
        self.assertEqual(env["DATAPOOL_PEER_TLS_CA"],
                         "/etc/datapool/tls/ca.crt")
        self.assertEqual(env["DATAPOOL_PEER_TLS_SERVER_NAME"], "peers.example")
        # One replica: none of it.
        (dc,) = one(self.default, "StatefulSet")["spec"]["template"]["spec"][
            "containers"]
        self.assertFalse([n for n in env_of(dc) if "PEER" in n or
                          "REPLICA" in n])
        self.assertNotIn("publishNotReadyAddresses", str(self.default))

    def test_plain_manifests_are_the_default_render(self):
        """deploy/kubernetes/datapool.yaml is the chart's default render
        without Helm's bookkeeping (regenerate with
        deploy/kubernetes/generate.sh)."""
        with open(PLAIN) as f:
            plain = [d for d in yaml.safe_load_all(f) if d]
        self.check_schema(plain)
        sts, c = self.check_workload(plain)
        self.check_probes(c)
        self.check_service(plain)
        proc = subprocess.run(
            [sys.executable, os.path.join(DEPLOY, "kubernetes",
                                          "plain_manifests.py")],
            input=yaml.safe_dump_all(self.default), capture_output=True,
            text=True, check=True)
        expected = [d for d in yaml.safe_load_all(proc.stdout) if d]
        self.assertEqual(plain, expected,
                         "deploy/kubernetes/datapool.yaml is stale: run "
                         "deploy/kubernetes/generate.sh")

    def test_compose_file(self):
        with open(COMPOSE) as f:
            compose = yaml.safe_load(f)
        services = compose["services"]
        self.assertEqual(sorted(services), ["datapool", "datapool-gpu"])
        stages = {"datapool": "cpu", "datapool-gpu": "gpu"}
        for name, svc in services.items():
            self.assertEqual(svc["build"]["target"], stages[name])
            self.assertEqual(svc["user"], "%d:%d" % (UID, UID))
            self.assertTrue(svc["read_only"])
            self.assertIn("/tmp", svc["tmpfs"][0])
            self.assertEqual(svc["cap_drop"], ["ALL"])
            self.assertIn("no-new-privileges:true", svc["security_opt"])
            vols = {}
            for v in svc["volumes"]:
                m = re.search(r":(/data/\w+)(:ro)?$", v)
                self.assertTrue(m, v)
                vols[m.group(1)] = m.group(2)
            self.assertEqual(vols, {"/data/shared": None,
                                    "/data/input": ":ro"})
            self.assertEqual(svc["environment"]["DATAPOOL_LISTEN"],
                             "0.0.0.0:%d" % GRPC_PORT)
            ports = [str(p) for p in svc["ports"]]
            self.assertTrue(any(p.endswith(":%d" % GRPC_PORT) for p in ports))
            self.assertTrue(any(p.endswith(":%d" % METRICS_PORT)
                                for p in ports))
            grace = int(svc["environment"].get("DATAPOOL_SHUTDOWN_GRACE_S",
                                               30))
            self.assertGreater(int(svc["stop_grace_period"].rstrip("s")),
                               grace)
            devices = (svc.get("deploy", {}).get("resources", {})
                       .get("reservations", {}).get("devices", []))
            if name == "datapool-gpu":
                self.assertEqual(devices[0]["capabilities"], ["gpu"])
            else:
                self.assertEqual(devices, [])
        # Never both at once (same ports): each behind its own profile.
        self.assertEqual(services["datapool"]["profiles"], ["cpu"])
        self.assertEqual(services["datapool-gpu"]["profiles"], ["gpu"])


def make_tls_secrets(d):
    """Files as the chart's Secrets would hold them: server-tls/ (tls.crt,
    tls.key, ca.crt), client-ca/ca.crt and probe-client/ (tls.crt,
    tls.key), signed by one test CA."""
    make_pki(d)
    layout = {"server-tls": {"tls.crt": "server.pem", "tls.key": "server.key",
                             "ca.crt": "ca.pem"},
              "client-ca": {"ca.crt": "ca.pem"},
              "probe-client": {"tls.crt": "client.pem",
                               "tls.key": "client.key"}}
    for secret, files in layout.items():
        os.makedirs(os.path.join(d, secret))
        for key, src in files.items():
            shutil.copy(os.path.join(d, src), os.path.join(d, secret, key))


class RenderedPodRunsTest(unittest.TestCase):
    """The rendered container's env and probes against the real server:
    mount paths mapped to test folders, the listen addresses to loopback."""

    def run_pod(self, docs, secrets_dir=None):
        sts = one(docs, "StatefulSet")
        pod = sts["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        tmp = tempfile.mkdtemp(prefix="datapool-chart-pod-")
        self.addCleanup(shutil.rmtree, tmp, True)
        volumes = {v["name"]: v for v in pod["volumes"]}
        mapping = {}
        for m in c["volumeMounts"]:
            vol = volumes[m["name"]]
            local = os.path.join(tmp, m["name"])
            if "secret" in vol:
                shutil.copytree(os.path.join(secrets_dir,
                                             vol["secret"]["secretName"]),
                                local)
            else:
                os.makedirs(local)
            mapping[m["mountPath"]] = local

        def local_path(value):
            for mount, local in sorted(mapping.items(), key=lambda x:
                                       -len(x[0])):
                if value == mount or value.startswith(mount + "/"):
                    return local + value[len(mount):]
            return value

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for name, value in env_of(c).items():
            env[name] = local_path(value or "")
        env["DATAPOOL_LISTEN"] = "127.0.0.1:0"
        if env.get("DATAPOOL_METRICS_LISTEN"):
            env["DATAPOOL_METRICS_LISTEN"] = "127.0.0.1:0"
        return c, env, mapping, local_path

    def test_plaintext_pod_env_and_grpc_probe(self):
        c, env, mapping, _ = self.run_pod(render())
        with RunningServer(mapping["/data/shared"], mapping["/data/input"],
                           env=env) as srv:
            # What the kubelet's gRPC probes do: Health/Check of each
            # probe's service ("liveness", or "" for readiness).
            with grpc.insecure_channel(srv.address) as ch:
                for kind in ("startupProbe", "readinessProbe",
                             "livenessProbe"):
                    service = c[kind]["grpc"].get("service", "")
                    self.assertEqual(health_check(ch, service), 1,
                                     srv.describe())
            # The env reached the server: DATAPOOL_METRICS_LISTEN (mapped to
            # loopback) serves /metrics.
            m = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)",
                          srv.stderr_text())
            self.assertTrue(m, srv.describe())
            with urllib.request.urlopen(m.group(1), timeout=10) as r:
                self.assertIn("# TYPE", r.read().decode())

    def test_tls_pod_env_and_exec_probe(self):
        secrets = tempfile.mkdtemp(prefix="datapool-chart-secrets-")
        self.addCleanup(shutil.rmtree, secrets, True)
        make_tls_secrets(secrets)
        with open(os.path.join(secrets, "tokens-file"), "w") as f:
            f.write("a-token\n")
        os.makedirs(os.path.join(secrets, "tokens"))
        shutil.move(os.path.join(secrets, "tokens-file"),
                    os.path.join(secrets, "tokens", "tokens"))
        docs = render("--set", "auth.enabled=true,auth.existingSecret=tokens,"
                      "tls.enabled=true,tls.existingSecret=server-tls,"
                      "tls.clientCA.enabled=true,"
                      "tls.clientCA.existingSecret=client-ca,"
                      "tls.clientCA.probeClientSecret=probe-client")
        c, env, mapping, local_path = self.run_pod(docs, secrets)
        cli = cli_binary()
        with RunningServer(mapping["/data/shared"], mapping["/data/input"],
                           env=env) as srv:
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                cmd = [local_path(a) for a in c[kind]["exec"]["command"]]
                self.assertEqual(cmd[0], "datapool")
                cmd[0] = cli
                i = cmd.index("--server")
                cmd[i + 1] = "localhost:%d" % srv.port
                proc = subprocess.run(cmd, capture_output=True, text=True,
                                      timeout=c[kind]["timeoutSeconds"] + 10)
                self.assertEqual(proc.returncode, 0, "%s: %s%s\n%s" % (
                    cmd, proc.stdout, proc.stderr, srv.describe()))
                self.assertEqual(proc.stdout.strip(), "SERVING")
            # TLS is really on: a plaintext client gets nowhere.
            with grpc.insecure_channel(srv.address) as ch:
                with self.assertRaises(grpc.RpcError):
                    health_check(ch, timeout=3)


if __name__ == "__main__":
    unittest.main()
