"""Isso for `invoke serve`: the very application production runs (Isso plus
the hardening middleware, so a bad request gets a 4xx here too, not Isso's
500), on werkzeug's threaded server, configured by the environment that
kizuna.comments.settings.development_environment() prepared."""

from urllib.parse import urlsplit

from werkzeug.serving import run_simple

from kizuna.comments.wsgi import hardened_isso


def main() -> None:
    app, conf = hardened_isso(processes=False)
    listen = urlsplit(conf.get("server", "listen"))
    run_simple(listen.hostname, listen.port, app, threaded=True)


if __name__ == "__main__":
    main()
