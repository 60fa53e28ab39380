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

import contextlib
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
    if not processes:
        isso = make_app(conf, threading=True, multiprocessing=False)
    else:
        with _purge_before_fork():
            isso = make_app(conf, threading=False, multiprocessing=True)
    return Hardening(isso, hosts=conf.getiter("general", "host")), conf


@contextlib.contextmanager
def _purge_before_fork():
    """Isso purges old pending comments in a thread it starts while it is made.
    Under gunicorn --preload that thread runs in the master while the workers
    are forked, and a worker forked while it held a SQLite lock inherits
    SQLite's record of that lock: it then answers every new comment with
    "database is locked" (a 500, after 5 s) until restarted. Found by
    tests/test_stage.py: now and then after the SIGKILL-and-restart test, where
    the database had just been left mid-write, and every time when the purge
    is made slow on purpose (test_workers_forked_during_a_slow_purge_…). So the
    purge runs here, in the master's own thread, before any fork. Isso's
    thread would purge again only after sleeping purge-after (30 days); a
    gunicorn master purges at each start instead."""
    from isso import core

    threaded = core.ThreadedMixin.__dict__["purge"]

    def purge_now(self, delta):
        with self.lock:
            self.db.comments.purge(delta)

    core.ThreadedMixin.purge = purge_now
    try:
        yield
    finally:
        core.ThreadedMixin.purge = threaded


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
