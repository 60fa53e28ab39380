"""Isso in production, behind gunicorn:

    gunicorn --preload --workers 2 --bind 127.0.0.1:8080 kizuna.comments.wsgi:application

`application` is made on first use (importing this module is harmless): the
environment is checked by settings.production_environment(), which raises
ConfigError naming every missing or unsafe variable (Isso's public default
salt, an empty admin password, …); the checked values go into os.environ,
where comments/isso.cfg's ${VARIABLES} are read from; then Isso is made from
that one config file, and wrapped in the hardening middleware. --preload
makes Isso once, before gunicorn forks, so the workers share Isso's lock.
"""

import os

from kizuna.comments import settings
from kizuna.comments.hardening import Hardening


def hardened_isso(processes: bool):
    """Isso from comments/isso.cfg (its ${VARIABLES} read from os.environ),
    wrapped in the hardening middleware; processes=True for gunicorn workers."""
    from isso import config, make_app

    conf = config.load(config.default_file(), str(settings.CONFIG))
    # threading=False: make_app's threading=True default would win over
    # multiprocessing=True and give each worker a lock of its own.
    isso = make_app(conf, threading=not processes, multiprocessing=processes)
    return Hardening(isso, hosts=conf.getiter("general", "host")), conf


def create_app(base: dict | None = None):
    """The WSGI application, from os.environ (or `base`) checked for production."""
    environment = settings.production_environment(base)
    os.environ.update(environment)
    return hardened_isso(processes=True)[0]


def __getattr__(name):
    if name == "application":
        app = globals()["application"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
