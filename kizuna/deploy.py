"""`invoke deploy.render`: the nginx and systemd files for a real server,
rendered from deploy/*.j2 and the site's settings into one folder the writer
copies to the server (see README, "Deploying")."""

import base64
import hashlib
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kizuna import CONTENT, ROOT, assets, settings
from kizuna.errors import KizunaError
from kizuna.redirects import moved
from kizuna.comments import read_policy
from kizuna.comments.server import gunicorn_command
from kizuna.comments.replica import config_text as litestream_config, replicate_command

TEMPLATES = ROOT / "deploy"
EARLY_SCRIPT = ROOT / "theme" / "templates" / "partials" / "theme_early.html"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")


@dataclass
class Deployment:
    site_url: str                       # https://essays.example.org
    site_root: str = "/srv/kizuna/www"  # where `invoke publish` puts output/
    listen: str = "80"
    isso_upstream: str = "127.0.0.1:8081"
    cache_dir: str = "/var/cache/nginx/kizuna"
    data_dir: str = "/var/lib/kizuna"
    app_dir: str = "/srv/kizuna/app"
    env_file: str = "/etc/kizuna/isso.env"
    litestream_config: str = "/etc/kizuna/litestream.yml"  # the replica's (kizuna/comments/replica.py)
    conf_dir: str = "/etc/nginx/kizuna"   # where proxy.conf and headers*.conf go
    user: str = "kizuna"
    workers: int = 3
    max_body: str = "64k"
    admin_allow: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    theme_static_dir: str = "theme"
    https: bool | None = None           # None: as site_url says
    # How long nginx keeps a thread read or a count for every reader (kizuna/comments/read_policy.py)
    micro_cache: str = f"{read_policy.FRESH_SECONDS}s"
    access_log: str = "/var/log/nginx/kizuna.access.log"  # readers' addresses in it: the network part only
    publish_schedule: str = field(default_factory=lambda: settings.site_value("KIZUNA_PUBLISH_SCHEDULE", True))


    @property
    def site_origin(self) -> str:
        parts = urlsplit(self.site_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def server_name(self) -> str:
        return urlsplit(self.site_url).hostname or "_"


def inline_script_hashes(template: Path = EARLY_SCRIPT) -> str:
    """CSP hashes of the theme's inline scripts, so they run and nothing else inline does."""
    scripts = re.findall(r"<script>(.*?)</script>", template.read_text(encoding="utf-8"), re.S)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" for script in scripts
    )


def checked_schedule(schedule: str) -> str:
    """KIZUNA_PUBLISH_SCHEDULE as systemd will read it, or a clear error now,
    not a timer that never fires: one line, and (where systemd is) a calendar
    `systemd-analyze calendar` accepts."""
    problem = None
    if not schedule.strip() or "\n" in schedule or "\r" in schedule:
        problem = "is empty or more than one line"
    elif shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "calendar", schedule], capture_output=True, text=True)
        if result.returncode != 0:
            problem = f"is not a systemd calendar ({result.stderr.strip()})"
    if problem:
        raise KizunaError(f"KIZUNA_PUBLISH_SCHEDULE={schedule!r} {problem}: write e.g. hourly, *:0/15 or "
                          "\"*-*-* 06:00\" (man systemd.time, CALENDAR EVENTS)")
    return schedule.strip()


def isso_env(deployment: Deployment) -> list[dict]:
    """isso.env.example's lines: every setting the comment server reads in
    production (the settings table), with this deployment's paths and
    addresses filled in, production's defaults, or empty where the writer
    must choose (secrets, mail)."""
    known = {
        "KIZUNA_ISSO_DB": f"{deployment.data_dir}/comments.db",
        "KIZUNA_ISSO_THREADS": f"{deployment.site_root}/comment-threads.json",
        "KIZUNA_ISSO_HOST": deployment.site_origin,
        "KIZUNA_ISSO_LISTEN": f"http://{deployment.isso_upstream}",
        "KIZUNA_ISSO_PUBLIC_ENDPOINT": f"{deployment.site_origin}/isso",
        "KIZUNA_ISSO_TRUSTED_PROXIES": "127.0.0.1",  # nginx, the only proxy, overwrites X-Forwarded-For
        # The environment wins over site.env, so the file must carry the writer's name, not the table's.
        "KIZUNA_AUTHOR": settings.site_value("KIZUNA_AUTHOR", production=True),
    }
    entries = []
    for setting in settings.SETTINGS:
        if setting.production is None or (setting.group != settings.COMMENTS and setting.name != "KIZUNA_AUTHOR"):
            continue
        required = setting.production if setting.production in (settings.REQUIRED, settings.REQUIRED_FOR_MAIL) else ""
        derived = isinstance(setting.production, settings.Default)
        note = required or (f"empty: {setting.production.words}" if derived else "")
        default = "" if required or derived else setting.production
        entries.append({"name": setting.name, "help": re.sub(r"`", "", setting.help),
                        "required": re.sub(r"`", "", note), "value": known.get(setting.name, default)})
    return entries


def render(deployment: Deployment, out: Path, stage_prefix: Path | None = None) -> list[Path]:
    """Write the rendered files into `out` and return their paths. With
    stage_prefix, also a whole nginx.conf for running nginx under that prefix."""
    out.mkdir(parents=True, exist_ok=True)
    conf_dir = Path(stage_prefix) if stage_prefix else Path(deployment.conf_dir)
    values = {
        **asdict(deployment),
        "site_origin": deployment.site_origin,
        "https": deployment.https if deployment.https is not None else deployment.site_url.startswith("https://"),
        "server_name": deployment.server_name,
        "script_hashes": inline_script_hashes(),
        "headers_file": conf_dir / "headers.conf",
        "headers_moderation_file": conf_dir / "headers-moderation.conf",
        "headers_search_file": conf_dir / "headers-search.conf",
        "search": False,  # headers.conf.j2: WebAssembly allowed only in headers-search.conf
        "proxy_file": conf_dir / "proxy.conf",
        "read_cache_file": conf_dir / "read-cache.conf",
        "content_named": assets.CONTENT_NAMED,
        "kept_a_year": assets.KEPT_A_YEAR,
        "browser_cache_control": read_policy.BROWSER_CACHE_CONTROL,
        "cdn_cache_control": read_policy.CACHE_CONTROL,
        "brotli": BROTLI_MODULE.exists() or not stage_prefix,
        "brotli_module": BROTLI_MODULE if BROTLI_MODULE.exists() else None,
        "prefix": stage_prefix,
        # Started as root, nginx runs its workers as `nobody`, who cannot read a
        # stage under a private folder (e.g. pytest's /tmp/pytest-of-root, 0700):
        # the stage's workers then run as the user who started it.
        "stage_as_root": bool(stage_prefix) and os.geteuid() == 0,
    }
    values["moved"] = moved(CONTENT)  # an imported blog's old addresses
    values["isso_env"] = isso_env(deployment)
    values["gunicorn"] = shlex.join(gunicorn_command(deployment.isso_upstream, deployment.workers,
                                                     Path(deployment.app_dir) / ".venv" / "bin", access_log=True))
    values["publish_schedule"] = checked_schedule(deployment.publish_schedule)
    values["litestream"] = shlex.join(replicate_command(Path(deployment.litestream_config),
                                                        Path(deployment.app_dir) / ".venv" / "bin"))
    values["invoke"] = shlex.join([str(Path(deployment.app_dir) / ".venv" / "bin" / "invoke")])
    environment = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                              keep_trailing_newline=True)
    names = {
        "nginx-site.conf.j2": "nginx-site.conf",
        "proxy.conf.j2": "proxy.conf",
        "read-cache.conf.j2": "read-cache.conf",
        "headers.conf.j2": "headers.conf",
        "headers-moderation.conf.j2": "headers-moderation.conf",
        "kizuna-isso.service.j2": "kizuna-isso.service",
        "isso.env.example.j2": "isso.env.example",
        "kizuna-publish.service.j2": "kizuna-publish.service",
        "kizuna-publish.timer.j2": "kizuna-publish.timer",
        "kizuna-litestream.service.j2": "kizuna-litestream.service",
    }
    if stage_prefix:
        names["nginx-stage.conf.j2"] = "nginx.conf"
    written = []
    for template, name in names.items():
        path = out / name
        path.write_text(environment.get_template(template).render(values), encoding="utf-8")
        written.append(path)
    # Litestream's config names the settings it reads from its environment (replica.config_text).
    path = out / "litestream.yml"
    path.write_text(litestream_config(f"{deployment.data_dir}/comments.db"), encoding="utf-8")
    written.append(path)
    # The search page's and Pagefind's headers: the same ones, with WebAssembly allowed.
    path = out / "headers-search.conf"
    path.write_text(environment.get_template("headers.conf.j2").render({**values, "search": True}), encoding="utf-8")
    written.append(path)
    return written
