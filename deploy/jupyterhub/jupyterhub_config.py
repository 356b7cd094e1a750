"""JupyterHub on one server for a kmslib class: the configuration the classroom test runs, minus its stand-ins.

Install (as root, on a Linux server; the README's "Teaching a class on JupyterHub" walks through it):

    python3 -m venv /opt/kmslib/hub-env
    /opt/kmslib/hub-env/bin/pip install -r deploy/classroom/requirements-hub.txt
    npm install --prefix /opt/kmslib/proxy configurable-http-proxy@5.3.0
    python3 -m venv /opt/kmslib/user-env        # the course's environment, as repo2docker builds it from binder/
    /opt/kmslib/user-env/bin/pip install -r binder/requirements.txt -r deploy/classroom/requirements-user.txt
    /opt/kmslib/hub-env/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Students log in with their accounts on the server (PAM) and get their own Jupyter server, started as their own
Unix user in their home folder, where their work stays between classes. Put HTTPS in front (nginx, Caddy): the hub
listens on loopback only.

Every setting can be changed without editing this file, through the environment variables below; the classroom
test (deploy/classroom/) loads this file and replaces only the login and the spawner (DummyAuthenticator and
SimpleLocalProcessSpawner stand in for PAM and per-user processes) and sets shorter timeouts.
"""

from __future__ import annotations

import os
import sys

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - JupyterHub defines it when it loads this file

env = os.environ.get
USER_ENV = env("KMSLIB_USER_ENV", "/opt/kmslib/user-env")  # the course's Python environment
PROXY = env("KMSLIB_PROXY", "/opt/kmslib/proxy/node_modules/.bin/configurable-http-proxy")
IDLE_TIMEOUT = int(env("KMSLIB_IDLE_TIMEOUT", "3600"))  # seconds without use before a server is stopped
CULL_EVERY = int(env("KMSLIB_CULL_EVERY", "300"))  # how often the culler looks
ACTIVITY_INTERVAL = int(env("KMSLIB_ACTIVITY_INTERVAL", "300"))  # how often activity reaches the hub

# The hub and its proxy: loopback only; a TLS reverse proxy in front serves the students.
c.JupyterHub.bind_url = env("KMSLIB_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.ConfigurableHTTPProxy.command = [PROXY]
c.JupyterHub.last_activity_interval = ACTIVITY_INTERVAL
c.JupyterHub.concurrent_spawn_limit = int(env("KMSLIB_SPAWN_LIMIT", "40"))  # a class arriving at once queues
c.JupyterHub.db_url = env("KMSLIB_HUB_DB", "sqlite:///jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = env("KMSLIB_COOKIE_SECRET", "jupyterhub_cookie_secret")

# Login: the server's own accounts. Replace with your university's (OAuthenticator, LTI) for a real class.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.admin_users = set(filter(None, env("KMSLIB_ADMINS", "").split(",")))
c.Authenticator.allowed_users = set(filter(None, env("KMSLIB_STUDENTS", "").split(",")))

# Each student's server: the course's environment, opening the course.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(USER_ENV, "bin", "jupyterhub-singleuser")]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab/tree/kmslib/notebooks/00_start_here.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(ACTIVITY_INTERVAL)}
# Memory and CPU limits: LocalProcessSpawner records but does not enforce them. To enforce them on one server,
# use SystemdSpawner (pip install jupyterhub-systemdspawner; spawner_class = "systemdspawner.SystemdSpawner"),
# as The Littlest JupyterHub does, or Zero to JupyterHub (deploy/z2jh/config.yaml) on Kubernetes.
c.Spawner.mem_limit = env("KMSLIB_MEM_LIMIT", "1G")
c.Spawner.cpu_limit = float(env("KMSLIB_CPU_LIMIT", "1"))

# The idle culler stops servers nobody used for IDLE_TIMEOUT seconds; work in the home folder stays.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={IDLE_TIMEOUT}",
            f"--cull-every={CULL_EVERY}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
