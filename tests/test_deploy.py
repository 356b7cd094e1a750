"""deploy/: the Zero to JupyterHub values against the chart's schema, the hub configurations, the nbgitpuller link.

The classroom itself (a real hub, twelve students) is ``make classroom``, run by .ci/run after ``make test``; here
are its parts that need no hub.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml
from traitlets.config import Config

from helpers import ROOT

DEPLOY = ROOT / "deploy"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"kmslib_deploy_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def merged(defaults: Any, values: Any) -> Any:
    """Helm's merge of user values over a chart's defaults: maps merge key by key, anything else replaces."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        result = copy.deepcopy(defaults)
        for key, value in values.items():
            result[key] = merged(defaults.get(key), value) if key in defaults else value
        return result
    return values


def chart_check(values: dict[str, Any]) -> None:
    schema = yaml.safe_load((DEPLOY / "z2jh" / "chart-schema" / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((DEPLOY / "z2jh" / "chart-schema" / "values.yaml").read_text())
    jsonschema.validate(merged(defaults, values), schema)


def test_the_z2jh_values_validate_against_the_charts_schema() -> None:
    values = yaml.safe_load((DEPLOY / "z2jh" / "config.yaml").read_text())
    chart_check(values)
    single = values["singleuser"]
    assert single["memory"] == {"guarantee": "512M", "limit": "1G"}
    assert single["cpu"]["limit"] == 1
    assert single["defaultUrl"].endswith("/notebooks/00_start_here.ipynb")
    assert values["cull"] == {"enabled": True, "timeout": 3600, "every": 300, "users": False}


@pytest.mark.parametrize(
    "mistake",
    [
        {"singleuser": {"memmory": {"limit": "1G"}}},  # a typo: the schema allows no unknown key
        {"singleuser": {"cpu": {"limit": "one"}}},
        {"cull": {"timeout": "an hour"}},
    ],
)
def test_the_schema_check_refuses_a_mistake(mistake: dict[str, Any]) -> None:
    values = merged(yaml.safe_load((DEPLOY / "z2jh" / "config.yaml").read_text()), mistake)
    with pytest.raises(jsonschema.ValidationError):
        chart_check(values)


def run_config(path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Config:
    """Load a jupyterhub_config.py as JupyterHub does: ``get_config`` and ``load_subconfig`` in its namespace."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config()

    def load_subconfig(sub: str) -> None:
        exec(compile(Path(sub).read_text(), sub, "exec"), {"get_config": lambda: config, "__file__": sub})

    namespace = {"get_config": lambda: config, "load_subconfig": load_subconfig, "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return config


def test_the_one_server_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    config = run_config(DEPLOY / "jupyterhub" / "jupyterhub_config.py", {"KMSLIB_ADMINS": "ana,ben"}, monkeypatch)
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8000"  # loopback: TLS in front
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.Authenticator.admin_users == {"ana", "ben"}
    assert config.Spawner.cmd == ["/opt/kmslib/user-env/bin/jupyterhub-singleuser"]
    assert config.Spawner.default_url == "/lab/tree/kmslib/notebooks/00_start_here.ipynb"
    assert config.Spawner.mem_limit == "1G"
    (culler,) = config.JupyterHub.services
    assert culler["command"][-2:] == ["--timeout=3600", "--cull-every=300"]
    assert set(config.JupyterHub.load_roles[0]["scopes"]) == {
        "list:users",
        "read:users:activity",
        "read:servers",
        "delete:servers",
    }


def test_the_classroom_configuration_changes_only_login_spawner_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "KMSLIB_IDLE_TIMEOUT": "90",
        "KMSLIB_HUB_API_PORT": "1234",
        "KMSLIB_PROXY_API_PORT": "1235",
        "KMSLIB_HOMES": "/tmp/homes",
        "KMSLIB_TEST_TOKEN": "t" * 64,
    }
    classroom = run_config(DEPLOY / "classroom" / "jupyterhub_config.py", env, monkeypatch)
    instructor = run_config(DEPLOY / "jupyterhub" / "jupyterhub_config.py", {}, monkeypatch)
    assert classroom.JupyterHub.authenticator_class == "dummy"
    assert classroom.JupyterHub.spawner_class == "simple"
    assert classroom.JupyterHub.services[0]["command"][-2] == "--timeout=90"
    assert classroom.JupyterHub.hub_bind_url == "http://127.0.0.1:1234"
    for section, key in (
        ("Spawner", "cmd"),
        ("Spawner", "default_url"),
        ("Spawner", "mem_limit"),
        ("Spawner", "ip"),
        ("JupyterHub", "bind_url"),
        ("JupyterHub", "concurrent_spawn_limit"),
        ("ConfigurableHTTPProxy", "command"),
    ):
        assert classroom[section][key] == instructor[section][key], (section, key)


def test_the_nbgitpuller_link_pulls_the_course_and_opens_it() -> None:
    helper = load(DEPLOY / "nbgitpuller_link.py")
    url = helper.link("https://hub.example.edu/", "https://github.com/me/kmslib", "spring-2027", "kms")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://hub.example.edu/hub/user-redirect/git-pull"
    assert parse_qs(parts.query) == {
        "repo": ["https://github.com/me/kmslib"],
        "branch": ["spring-2027"],
        "targetpath": ["kms"],
        "urlpath": ["lab/tree/kms/notebooks/00_start_here.ipynb"],
    }


def test_the_classroom_compares_outputs_as_nbval_does() -> None:
    run = load(DEPLOY / "classroom" / "run.py")
    rules = run.sanitizer()
    a = [{"output_type": "stream", "name": "stdout", "text": "token kms:v1:aes-256-gcm:AAAA\n"}]
    b = [
        {"output_type": "stream", "name": "stdout", "text": "token kms:v1:aes-256-gcm:"},
        {"output_type": "stream", "name": "stdout", "text": "BBBB\n"},
    ]
    assert run.comparable(a, rules) == run.comparable(b, rules)  # streams joined, random payloads masked
    c = [{"output_type": "stream", "name": "stdout", "text": "token kms:v2:aes-256-gcm:AAAA\n"}]
    assert run.comparable(a, rules) != run.comparable(c, rules)  # a real difference stays one
    image = [{"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}]
    assert run.comparable(image, rules) == [("data", "<Figure>")]


def test_the_classroom_reports_a_class_in_which_no_cell_ran() -> None:
    run = load(DEPLOY / "classroom" / "run.py")
    assert run._seconds(None, 2) == "none measured"  # every student failed before a cell ran: say so, not crash
    assert run._seconds(3.517, 2) == "3.52 s"
