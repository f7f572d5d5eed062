"""A course behind a sticky proxy (issue 17): deploy/'s files checked by the tools made for them, and the local
topology (bench/course.py: 2 replicas behind Debian's haproxy with deploy/haproxy.cfg) driven like browsers.

Selected with ``-m course``. Without haproxy the topology tests skip with a message, except in CI (CI=true, or
EMBEDDING_EXPLORER_REQUIRE_BROWSER=1 as .ci/run sets), where .ci/run installs it and a missing one fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bench import course as topology

pytestmark = pytest.mark.course

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("EMBEDDING_EXPLORER_REQUIRE_BROWSER") == "1"
HEALTH = "/_stcore/health"
SCENARIO_SECONDS = 240  # the whole two-replica scenario, kill and comeback included


def need_haproxy() -> str:
    path = topology.haproxy_path()
    if path is None:
        if REQUIRED:
            pytest.fail("no haproxy in CI: .ci/run installs it (apt-get install -y haproxy)")
        pytest.skip("no haproxy: apt-get install -y haproxy (.ci/run installs it)")
    return path


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kubernetes_manifests_validate_and_say_what_the_course_needs():
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install -r requirements-dev.txt")
    docs = {doc["kind"]: doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in documents(path)}
    for doc in docs.values():
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    assert set(docs) == {"Deployment", "Service", "Ingress"}
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == HEALTH
    secret = {e["name"]: e for e in container["env"]}["STREAMLIT_SERVER_COOKIE_SECRET"]
    assert "secretKeyRef" in secret["valueFrom"]  # from a Secret, never a literal in the manifest
    assert container["resources"]["limits"]["memory"]  # the cgroup limit the app reads
    notes = docs["Ingress"]["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # WebSockets held open


def test_compose_runs_n_sticky_replicas_with_the_one_proxy_config():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app, proxy = compose["services"]["app"], compose["services"]["proxy"]
    assert app["deploy"]["replicas"] == "${REPLICAS:-2}"  # a setting
    assert app["deploy"]["resources"]["limits"]["memory"]
    assert app["environment"]["STREAMLIT_SERVER_COOKIE_SECRET"].startswith("${STREAMLIT_SERVER_COOKIE_SECRET:?")
    assert proxy["image"].startswith("haproxy:")
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in proxy["volumes"]  # the file the tests use
    assert (DEPLOY / "haproxy.cfg").resolve() == topology.PROXY_CONFIG


def test_docker_compose_config_accepts_the_compose_file():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` here: its own validation runs where Docker is installed")
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": "test", "REPLICAS": "3"}
    result = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_image_runs_the_app_on_port_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "download.pytorch.org/whl/cpu" in (ROOT / "requirements.txt").read_text()  # torch's CPU wheel
    assert "USER explorer" in text and HEALTH in text
    assert 'streamlit run app.py --server.port "$PORT"' in text
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"}
    packages = {p.parent.name for p in ROOT.glob("*/*.py")} - {"tests", "bench", "deploy", ".venv"}
    assert packages <= allowed, f"the image would miss {packages - allowed}: allow them in .dockerignore"
    assert {"app.py", "requirements.txt", ".streamlit/config.toml"} <= allowed


def test_the_local_proxy_config_is_composes_but_for_its_upstream_line(tmp_path):
    haproxy = need_haproxy()
    text = topology.PROXY_CONFIG.read_text()
    assert len(topology.UPSTREAM.findall(text)) == 1
    local = topology.local_config([41001, 41002])
    kept = [line for line in text.splitlines() if not topology.UPSTREAM.match(line)]
    assert [line for line in local.splitlines() if not line.startswith("    server app")] == kept
    for config, bind in ((text, ":8080"), (local, "127.0.0.1:41000")):  # compose's and the local one both parse
        path = tmp_path / "haproxy.cfg"
        path.write_text(config)
        result = subprocess.run(
            [haproxy, "-c", "-f", str(path)], env={**os.environ, "PROXY_BIND": bind}, capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


def test_two_replicas_behind_the_proxy_keep_every_run_even_when_one_dies():
    need_haproxy()
    with topology.Course(2, env={"EMBEDDING_EXPLORER_NO_UMAP_WARMUP": "1"}) as course:
        asyncio.run(asyncio.wait_for(_scenario(course), SCENARIO_SECONDS))


async def _scenario(course: topology.Course) -> None:
    a, b = topology.Tab(course.proxy), topology.Tab(course.proxy)
    await a.join()
    await b.join()
    assert {a.replica, b.replica} == {"app1", "app2"}, "two sessions on different replicas"
    for _ in range(3):
        await a.step()
    for _ in range(5):
        await b.step()
    # each keeps its own run: its own step count, its own session, its own link
    assert (a.step_shown, b.step_shown) == (3, 5)
    assert a.mismatches == b.mismatches == 0 and a.session_id != b.session_id
    assert (topology.step_in(a.query), topology.step_in(b.query)) == ("3", "5")

    files = topology.Tab(course.proxy, page="export")  # the Export page: a download is a media file of one process
    await files.join()
    url, body, _ = await files.download(".npy")  # the table at its step, made when clicked
    assert url.startswith("/media/") and body.startswith(topology.NPY_MAGIC)
    (other,) = [s for s in course.servers if s is not course.replica(files.replica)]
    with pytest.raises(urllib.error.HTTPError, match="404"):  # it lives in one process: the proxy must be sticky
        urllib.request.urlopen(other.url(url), timeout=10)
    await files.upload("Embedding matrix", "course.npy", topology.npy_bytes(20, 4))  # PUT /_stcore/upload_file/
    assert files.metrics["Imported table"].replace(" ", "") == "20×4"
    await files.close()

    loss = a.loss_caption()
    assert loss and loss.startswith("Step 3: loss ")
    course.kill(a.replica)
    await a.gone()
    back = await a.rejoin()  # the same cookie and address bar, as a reconnecting tab
    assert back.replica == b.replica, "redispatched to the live replica"
    assert back.step_shown == 3 and back.loss_caption() == loss, "back at its step with the same loss"
    await back.step()
    await b.step()
    assert (back.step_shown, b.step_shown) == (4, 6) and back.mismatches == b.mismatches == 0
    await asyncio.gather(back.close(), b.close())
