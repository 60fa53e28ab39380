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

from kizuna.comments import feed, isso_rules, settings, store
from kizuna.comments.hardening import Hardening


def hardened_isso(processes: bool):
    """Isso from comments/isso.cfg (its ${VARIABLES} read from os.environ),
    with Kizuna's rules installed inside it (isso_rules) and the hardening
    middleware in front; processes=True for gunicorn workers."""
    from isso import config

    # Readers' e-mail addresses live in the database: nothing this process
    # creates (database, journal, logs) is readable by other local users.
    os.umask(0o077)
    conf = config.load(config.default_file(), str(settings.CONFIG))
    feed.with_base(conf)  # each thread's Atom feed links to the site (kizuna/comments/feed.py)
    rules = isso_rules.Rules.from_environment(os.environ)
    db = conf.get("general", "dbpath")
    # Before the database is opened: a restore from the replica refuses to
    # run while this is held (and this waits for one that runs).
    store.hold_server_lock(db)
    _private(db)
    if not processes:
        isso = _made(conf, core_mixin="ThreadedMixin")
    else:
        with _purge_before_fork():
            isso = _made(conf, core_mixin="ProcessMixin")
    store.use_wal(db)  # once Isso has made its tables; before gunicorn forks
    confirmations = isso_rules.install(isso, rules)
    return Hardening(_wrapped(isso), isso=isso, rules=rules, confirmations=confirmations), conf


def _private(db: str) -> None:
    """A database made before the umask above (0644, as Isso's default left
    it) is made private too, with its WAL, WAL index, journal and lock file."""
    for path in (db, *store.sidecars(db), store.lock_file(db)):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o600)


def _made(conf, core_mixin: str):
    """An Isso object as isso.make_app makes it (threads or processes; for
    processes, threading must be off, or each worker gets a lock of its own).
    Made here rather than by make_app so that Kizuna's rules can reach it."""
    from isso import Isso, core

    app_class = type("App", (Isso, getattr(core, core_mixin)), {})
    return app_class(conf)


def _wrapped(isso):
    """The WSGI layers isso.make_app puts around Isso, less the demo page,
    the profiler and its HTTP check of the site."""
    from functools import partial, reduce
    from os.path import dirname, join

    import isso as isso_package
    from isso import ProxyFixCustom, local_manager, wsgi
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    static = dirname(isso_package.__file__)
    layers = [
        local_manager.make_middleware,
        partial(SharedDataMiddleware, exports={"/js": join(static, "js/"), "/css": join(static, "css/"),
                                               "/img": join(static, "img/")}),
        partial(wsgi.CORSMiddleware, origin=wsgi.origin(isso.conf.getiter("general", "host")),
                allowed=("Origin", "Referer", "Content-Type"), exposed=("X-Set-Cookie", "Date")),
        wsgi.SubURI,
        ProxyFixCustom,
    ]
    return reduce(lambda app, layer: layer(app), layers, isso)


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
