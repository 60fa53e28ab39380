"""`invoke stage`: the production topology on loopback. nginx (Debian's, with
its own prefix and temp paths under stage/, never /etc/nginx) in front of
gunicorn running Isso, serving a production build, until Ctrl-C."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kizuna import PROD_SETTINGS, ROOT, build
from kizuna.comments import settings as comment_settings
from kizuna.comments.server import gunicorn_command
from kizuna.deploy import Deployment, render
from kizuna.processes import wait_until_listening

STAGE = ROOT / "stage"  # git-ignored


@dataclass
class Stage:
    port: int = 8088
    isso_port: int = 8089
    prefix: Path = STAGE
    workers: int = 3
    https: bool = False  # render as for an HTTPS site (Secure cookies, HSTS), still served over http

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.prefix / "data" / "comments.db"

    @property
    def threads(self) -> Path:
        """The essays open for comments, as the build wrote them."""
        return self.prefix / "www" / "comment-threads.json"


def isso_environment(stage: Stage, base: dict | None = None) -> dict[str, str]:
    """Production settings, checked as production checks them, for loopback.
    Secrets are the local ones from comments/data/secrets.env unless given."""
    environment = dict(os.environ if base is None else base)
    for name, value in comment_settings.development_secrets().items():
        environment.setdefault(name, value)
    environment.update({
        "KIZUNA_ISSO_DB": str(stage.db),
        "KIZUNA_ISSO_THREADS": str(stage.threads),
        "KIZUNA_ISSO_HOST": stage.url,
        "KIZUNA_ISSO_LISTEN": f"http://127.0.0.1:{stage.isso_port}",
        "KIZUNA_ISSO_PUBLIC_ENDPOINT": stage.url + "/isso",
        "KIZUNA_ISSO_TRUSTED_PROXIES": "127.0.0.1",
    })
    # Mail only if the writer configured SMTP; otherwise notices go to the log.
    environment.setdefault("KIZUNA_ISSO_NOTIFY", "smtp" if environment.get("KIZUNA_SMTP_HOST") else "stdout")
    stage.db.parent.mkdir(parents=True, exist_ok=True)
    return comment_settings.production_environment(environment)


def prepare(stage: Stage, extra_env: dict | None = None, base: dict | None = None) -> dict[str, tuple[list[str], dict | None]]:
    """Render the configs and return the two servers to start. Isso's
    environment is `base` (default: this process's) with extra_env on top
    (tests raise the rate limit with it)."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed: ./setup --dev installs it (Debian's nginx)")
    for folder in ("tmp", "cache", "www"):
        (stage.prefix / folder).mkdir(parents=True, exist_ok=True)
    deployment = Deployment(
        site_url=stage.url, site_root=str(stage.prefix / "www"), listen=f"127.0.0.1:{stage.port}",
        isso_upstream=f"127.0.0.1:{stage.isso_port}", cache_dir=str(stage.prefix / "cache"),
        access_log=str(stage.prefix / "access.log"),
        data_dir=str(stage.db.parent), admin_allow=["127.0.0.1"], workers=stage.workers,
        https=stage.https,
    )
    render(deployment, stage.prefix, stage_prefix=stage.prefix)
    # --graceful-timeout under processes.stop's 5 s grace: gunicorn kills a
    # worker that will not stop itself, before stop() kills the master; with
    # both at 5 s the master could die first and leave its workers running.
    gunicorn = gunicorn_command(f"127.0.0.1:{stage.isso_port}", stage.workers, graceful_timeout=3)
    nginx = ["nginx", "-p", str(stage.prefix), "-c", str(stage.prefix / "nginx.conf"), "-g", "daemon off;"]
    environment = isso_environment(stage, {**(os.environ if base is None else base), **(extra_env or {})})
    return {"comments": (gunicorn, environment), "nginx": (nginx, None)}


def build_site(stage: Stage) -> None:
    """A production build addressed to the stage. Comments are baked through
    nginx (/isso/, from the site's origin) as `invoke publish` bakes them, and
    as there, a build that cannot bake them fails. Call it once Isso listens."""
    wait_until_listening(stage.port)  # nginx starts beside Isso; it may not listen yet
    build.build(PROD_SETTINGS, stage.prefix / "www", quiet=True, extra_settings={
        # publishconf.py derives these from KIZUNA_SITEURL; here they follow stage.url.
        "SITEURL": stage.url, "FEED_DOMAIN": stage.url,
        "ISSO_URL": stage.url + "/isso/", "ISSO_BAKE_URL": stage.url + "/isso/",
        "COMMENTS_BAKE_REQUIRED": True,
    })
