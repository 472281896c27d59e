"""The generated Kubernetes manifests (include_k8s): schema-valid, and wired to the server they deploy.

Every manifest is checked with kubernetes-validate, which ships the API's JSON schemas (offline), in
strict mode (an unknown or misspelt field fails). The contract checks read the rendered project itself:
its serve.yaml, Dockerfile and export code, and the server's own settings check runs on the
Deployment's arguments.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from conftest import copy_template
from copier import run_copy

# The oldest Kubernetes the manifests are meant for (autoscaling/v2 and policy/v1 are GA well before)
# and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
VARIANTS = ("server", "vllm")
PORT = 8000

# `vllm serve` flags documented for the image the manifests pin (vllm/vllm-openai:v0.18.0), from
# https://docs.vllm.ai/en/v0.18.0/cli/serve/ (the frontend's and the engine's arguments). A flag the
# Deployment passes must be one of these; extend the list from that page when the manifests need more.
VLLM_SERVE_FLAGS = {
    # frontend
    "--host", "--port", "--uvicorn-log-level", "--disable-uvicorn-access-log", "--api-key",
    "--chat-template", "--root-path", "--enable-log-requests", "--disable-log-stats",
    # engine
    "--served-model-name", "--tokenizer", "--dtype", "--max-model-len", "--gpu-memory-utilization",
    "--tensor-parallel-size", "--max-num-seqs", "--quantization", "--enable-prefix-caching",
    "--generation-config", "--seed", "--shutdown-timeout",
}  # fmt: skip

RENDERED: dict[str, dict[str, object]] = {
    "defaults": {"project_name": "K8s Check"},
    "long-name-no-docker": {
        "project_name": "Acme Search",
        "package_name": "acme_search_assistant_for_internal_docs1",  # the longest allowed: 40
        "include_docker": False,
    },
}
NOT_RENDERED: dict[str, dict[str, object]] = {
    "k8s-off": {"include_k8s": False},
    "serving-off": {"include_serving": False},
    "serving-off-k8s-forced": {"include_serving": False, "include_k8s": True},
}


@pytest.fixture(scope="module")
def template(tmp_path_factory, default_gitconfig) -> Path:
    return copy_template(tmp_path_factory.mktemp("k8s-template") / "llm-scaffold")


def render(template: Path, dest: Path, answers: dict[str, object]) -> Path:
    run_copy(str(template), dest, data=answers, defaults=True, unsafe=True, quiet=True, skip_tasks=True)
    return dest


@pytest.fixture(scope="module")
def projects(template, tmp_path_factory) -> dict[str, Path]:
    """One render per answer set that has manifests, shared by the tests below."""
    return {combo: render(template, tmp_path_factory.mktemp(combo) / "project", a) for combo, a in RENDERED.items()}


@pytest.fixture(params=list(RENDERED))
def project(request, projects) -> Path:
    return projects[request.param]


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization(folder: Path) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def resources(folder: Path) -> list[dict]:
    """The objects a kustomization lists, following its folders (../common), as written (no kustomize)."""
    found = []
    for entry in kustomization(folder)["resources"]:
        path = (folder / entry).resolve()
        found += resources(path) if path.is_dir() else load_all(path)
    return found


def variant(project: Path, name: str) -> dict[str, dict]:
    """A variant's objects by kind (one of each)."""
    objects = resources(project / "deploy" / "k8s" / name)
    by_kind = {obj["kind"]: obj for obj in objects}
    assert len(by_kind) == len(objects), [obj["kind"] for obj in objects]
    return by_kind


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in args, from the container's own env."""
    return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], value)


def plain_env(spec: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in spec.get("env", []) if "value" in item}


def secret_env(spec: dict) -> dict[str, dict]:
    return {item["name"]: item["valueFrom"]["secretKeyRef"] for item in spec.get("env", []) if "valueFrom" in item}


def serve_config(project: Path) -> dict:
    """The serve.yaml the pods read (the ConfigMap's file)."""
    return yaml.safe_load((project / "deploy" / "k8s" / "server" / "serve.yaml").read_text())


@pytest.mark.parametrize("combo", list(NOT_RENDERED))
def test_no_manifests_without_serving_or_k8s(template, tmp_path, combo):
    answers = NOT_RENDERED[combo]
    project = render(template, tmp_path / "project", answers)
    assert not (project / "deploy").exists()
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    if not answers.get("include_serving", True):  # the question is not asked, so not recorded
        assert "include_k8s" not in recorded


def test_k8s_defaults_to_on_with_serving(projects):
    recorded = yaml.safe_load((projects["defaults"] / ".copier-answers.yml").read_text())
    assert recorded["include_serving"] is True and recorded["include_k8s"] is True


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_schema_valid(project, version):
    deploy = project / "deploy" / "k8s"
    listed = set()
    for folder in (deploy / "common", *(deploy / name for name in VARIANTS)):
        for entry in kustomization(folder)["resources"]:
            if not (folder / entry).is_dir():
                listed.add((folder / entry).resolve())
    files = {path.resolve() for path in deploy.rglob("*.yaml")}
    not_objects = {path for path in files if path.name == "kustomization.yaml" or path.name == "serve.yaml"}
    assert files - not_objects == listed  # every manifest is applied by some kustomization
    for path in sorted(listed):
        for doc in load_all(path):
            kubernetes_validate.validate(doc, version, strict=True)  # raises, naming the field


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its built-in kustomize) is not installed")
@pytest.mark.parametrize("name", VARIANTS)
def test_kustomize_builds_valid_manifests(project, name):
    built = subprocess.run(
        ["kubectl", "kustomize", str(project / "deploy" / "k8s" / name)], capture_output=True, text=True, check=True
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(built) if doc]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)
    kinds = sorted(doc["kind"] for doc in docs)
    extra = ["ConfigMap"] if name == "server" else []
    expected = ["Deployment", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]
    assert kinds == sorted(expected + extra)
    if name == "server":  # the generated ConfigMap's hashed name is the one the pods mount, with serve.yaml in it
        config = next(doc for doc in docs if doc["kind"] == "ConfigMap")
        deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["serve-config"]["configMap"]["name"] == config["metadata"]["name"]
        assert yaml.safe_load(config["data"]["serve.yaml"]) == serve_config(project)
        image = container(deployment)["image"]
        assert image == f"registry.example.com/{project_name(project)}:serve"


def project_name(project: Path) -> str:
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    return package.replace("_", "-")


def test_names_are_valid_kubernetes_names(project):
    for name in VARIANTS:
        for obj in variant(project, name).values():
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", obj["metadata"]["name"])


def test_shared_objects_point_at_the_server_pods(project):
    for name in VARIANTS:
        objects = variant(project, name)
        deployment = objects["Deployment"]
        pods = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pods.items()
        assert objects["Service"]["spec"]["selector"].items() <= pods.items()
        assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= pods.items()
        target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
        ports = {port["name"]: port["containerPort"] for port in container(deployment)["ports"]}
        assert ports == {"http": PORT}
        assert objects["Service"]["spec"]["ports"][0]["targetPort"] == "http"
        claims = [
            v["persistentVolumeClaim"]
            for v in deployment["spec"]["template"]["spec"]["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert claims == [{"claimName": objects["PersistentVolumeClaim"]["metadata"]["name"], "readOnly": True}]
    # both variants are the same Deployment behind the same Service: applying one replaces the other
    assert variant(project, "server")["Deployment"]["metadata"] == variant(project, "vllm")["Deployment"]["metadata"]
    assert variant(project, "server")["Service"] == variant(project, "vllm")["Service"]


def check_probes_and_shutdown(spec: dict, pod: dict, drain_timeout: float) -> None:
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    pre_stop = spec["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # the pod is killed only after the preStop pause and a full drain
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + drain_timeout
    live = spec["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] > drain_timeout  # a drain does not look dead


def test_server_deployment_contract(project):
    objects = variant(project, "server")
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    spec = container(objects["Deployment"])
    serve = serve_config(project)
    env = plain_env(spec)
    args = dict(expand(arg, env).split("=", 1) for arg in spec["args"])
    assert args == {"artifact": env["ARTIFACT_VERSION"], "serve.host": "0.0.0.0", "serve.port": str(PORT)}
    secret = secret_env(spec)
    assert set(secret) == {serve["serve"]["api_key_env"]}  # the variable the server reads its key from
    assert serve["serve"]["api_key_env"] == "LLM_API_KEY"
    check_probes_and_shutdown(spec, pod, serve["serve"]["drain_timeout"])
    assert "memory" in spec["resources"]["limits"] and "cpu" in spec["resources"]["requests"]  # the HPA's 100%

    # serve.yaml: the ConfigMap the kustomization generates, over the file the server's Hydra config reads
    generator = kustomization(project / "deploy" / "k8s" / "server")["configMapGenerator"]
    assert generator == [{"name": f"{project_name(project)}-serve", "files": ["serve.yaml"]}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in spec["volumeMounts"]}
    assert volumes["serve-config"]["configMap"]["name"] == generator[0]["name"]
    assert mounts["serve-config"] == {
        "name": "serve-config",
        "mountPath": "/app/configs/serve.yaml",
        "subPath": "serve.yaml",
        "readOnly": True,
    }
    assert mounts["artifacts"]["mountPath"] == "/app/artifacts" and mounts["artifacts"]["readOnly"]
    assert serve == yaml.safe_load((project / "configs" / "serve.yaml").read_text())  # generated as a copy
    paths = yaml.safe_load((project / "configs" / "paths" / "default.yaml").read_text())
    assert paths["artifacts_dir"] == "${paths.root_dir}/artifacts" and paths["root_dir"] == "${project_root:}"
    images = kustomization(project / "deploy" / "k8s" / "server")["images"]
    assert [image["name"] for image in images] == [spec["image"].split(":")[0]]


def test_deployment_paths_match_the_image(projects):
    """/app/configs and /app/artifacts are where the Dockerfile's serve image looks (PROJECT_ROOT, src/)."""
    dockerfile = (projects["defaults"] / "Dockerfile").read_text()
    serve_stage = dockerfile[dockerfile.index("AS serve") :]
    assert "WORKDIR /app\n" in dockerfile and "COPY configs/ configs/" in dockerfile
    assert "PYTHONPATH=/app/src" in dockerfile and "PROJECT_ROOT=/app" in dockerfile
    package = yaml.safe_load((projects["defaults"] / ".copier-answers.yml").read_text())["package_name"]
    assert f'ENTRYPOINT ["python", "-m", "{package}.serve"]' in serve_stage
    assert "EXPOSE 8000" in serve_stage


def test_server_accepts_the_deployment_settings(project, tmp_path):
    """The server's own settings check, on the ConfigMap's serve.yaml and the Deployment's arguments."""
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    spec = container(variant(project, "server")["Deployment"])
    overrides = [expand(arg, plain_env(spec)) for arg in spec["args"]]
    configs = tmp_path / "configs"
    shutil.copytree(project / "configs", configs)
    shutil.copy(project / "deploy" / "k8s" / "server" / "serve.yaml", configs / "serve.yaml")
    script = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        f"from {package}.serving.settings import settings_from\n"
        "with initialize_config_dir(config_dir=sys.argv[1], version_base='1.3'):\n"
        "    cfg = compose(config_name='serve', overrides=sys.argv[2:])\n"
        "settings = settings_from(cfg.serve)\n"
        "print(cfg.artifact, settings.host, settings.port, settings.api_key is not None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    env.pop("LLM_API_KEY", None)
    command = [sys.executable, "-c", script, str(configs), *overrides]
    with_key = subprocess.run(command, capture_output=True, text=True, env={**env, "LLM_API_KEY": "k"})
    assert with_key.returncode == 0, with_key.stderr
    assert with_key.stdout.split() == ["v1", "0.0.0.0", str(PORT), "True"]
    without_key = subprocess.run(command, capture_output=True, text=True, env=env)
    assert without_key.returncode != 0 and "without an API key" in without_key.stderr


def vllm_arguments(args: list[str]) -> tuple[str, dict[str, str | None]]:
    """`vllm serve MODEL --flag value --switch ...` as (MODEL, {flag: value or None})."""
    model, *rest = args
    assert not model.startswith("-")
    flags: dict[str, str | None] = {}
    for index, token in enumerate(rest):
        if token.startswith("--"):
            name, _, inline = token.partition("=")
            following = rest[index + 1] if index + 1 < len(rest) else None
            flags[name] = inline or (following if following is not None and not following.startswith("--") else None)
        else:
            assert index > 0 and rest[index - 1].startswith("--"), f"stray argument {token!r}"
    return model, flags


def test_vllm_deployment_contract(project):
    objects = variant(project, "vllm")
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    spec = container(objects["Deployment"])
    assert spec["command"] == ["vllm", "serve"]
    assert re.fullmatch(r"vllm/vllm-openai:v0\.18\.0", spec["image"])  # the version VLLM_SERVE_FLAGS comes from
    env = plain_env(spec)
    model, flags = vllm_arguments([expand(arg, env) for arg in spec["args"]])
    assert set(flags) <= VLLM_SERVE_FLAGS, set(flags) - VLLM_SERVE_FLAGS
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    assert flags["--host"] == "0.0.0.0" and flags["--port"] == str(PORT)
    assert flags["--served-model-name"] == package
    assert "--api-key" not in flags  # the key is never on the command line

    # the same Secret as our server, in the variable vLLM reads its key from
    server_secret = secret_env(container(variant(project, "server")["Deployment"]))
    assert secret_env(spec) == {"VLLM_API_KEY": server_secret["LLM_API_KEY"]}

    # the model: the Hugging Face folder (export format=hf) of an artifact version on the artifacts volume
    hf_source = ast.parse((project / "src" / package / "export" / "hf_directory.py").read_text())
    hf_folder = next(
        node.value.value
        for node in hf_source.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "HF_FOLDER"
    )
    mounts = {m["name"]: m for m in spec["volumeMounts"]}
    assert mounts["artifacts"] == {"name": "artifacts", "mountPath": "/app/artifacts", "readOnly": True}
    assert model == f"/app/artifacts/{env['ARTIFACT_VERSION']}/{hf_folder}"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert spec["resources"]["limits"]["nvidia.com/gpu"] == 1
    check_probes_and_shutdown(spec, pod, float(flags["--shutdown-timeout"]))
