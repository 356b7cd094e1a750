"""The classroom test's hub: deploy/jupyterhub/jupyterhub_config.py, with stand-ins for login and spawner only.

- DummyAuthenticator (any name, any password) stands in for PAM or the university's login;
- SimpleLocalProcessSpawner (servers as this user, each student in a folder of their own) stands in for
  per-user processes or KubeSpawner;
- the timeouts are short (through the environment), so that the idle culler acts within the test;
- the test itself is a JupyterHub service with an API token and the scopes of an instructor.

Everything else (the proxy, the hub's REST API, the single-user environment, nbgitpuller, the culler) is the
instructor's configuration, run for real. deploy/classroom/run.py sets the environment variables it reads.
"""

from __future__ import annotations

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - JupyterHub defines it when it loads this file
load_subconfig(os.path.join(os.path.dirname(__file__), "..", "jupyterhub", "jupyterhub_config.py"))  # type: ignore[name-defined]  # noqa: F821

# Ports of the test's choosing (free ones), so that it never collides with a hub already on this machine.
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['KMSLIB_HUB_API_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['KMSLIB_PROXY_API_PORT']}"

# DummyAuthenticator lets anyone in under any name and password: on loopback, in a test, only.
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"instructor"}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(os.environ["KMSLIB_HOMES"], "{username}")
if os.geteuid() == 0:  # CI runs as root, so every student's server does too here; a real hub never does that
    c.Spawner.args = ["--allow-root"]

c.JupyterHub.services.append({"name": "classroom-test", "api_token": os.environ["KMSLIB_TEST_TOKEN"]})
c.JupyterHub.load_roles.append(
    {
        "name": "classroom-test",
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users:activity"],
        "services": ["classroom-test"],
    }
)
