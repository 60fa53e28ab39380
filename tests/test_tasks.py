"""A writer's mistake is told in words and exit code 1, never a traceback:
every task goes through one place that turns KizunaError into a message
(tasks.py, _WriterTask), and the namespace names every task explicitly."""

import os
import socket
from pathlib import Path

import invoke
import pytest

from support import free_port, invoke as run_invoke
from kizuna import ROOT


def told(result, *words):
    """The task failed as a writer's mistake should: exit code 1, no traceback,
    and a message with these words in it."""
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    for word in words:
        assert word in result.stdout, result.stdout


def writer_env(**values):
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIZUNA_")}
    return {**env, **values}


def test_stage_without_nginx_says_how_to_install_it(repo_copy):
    path = os.pathsep.join(folder for folder in os.environ["PATH"].split(os.pathsep)
                           if not (Path(folder) / "nginx").exists())
    result = run_invoke(repo_copy, "stage", "--port", str(free_port()), "--isso-port", str(free_port()),
                        check=False, env=writer_env(PATH=path))
    told(result, "nginx is not installed", "./setup --dev")


def test_publish_without_a_target_says_so_before_building(repo_copy):
    result = run_invoke(repo_copy, "publish", check=False, env=writer_env())
    told(result, "KIZUNA_DEPLOY_TARGET")
    assert not (repo_copy / "output").exists()  # said first, not after a build (which could not bake anyway)


def test_restoring_a_missing_backup(repo_copy):
    result = run_invoke(repo_copy, "comments.restore", "no-such-file.db", check=False, env=writer_env())
    told(result, "no-such-file.db", "no such file", "not touched")


def test_new_without_a_title(repo_copy):
    told(run_invoke(repo_copy, "new", "", check=False), "needs a title")
    assert sorted(p.name for p in (repo_copy / "content").glob("*.md")) == \
        sorted(p.name for p in (ROOT / "content").glob("*.md"))


def test_approving_something_that_is_not_an_id(repo_copy):
    told(run_invoke(repo_copy, "comments.approve", "abc", check=False, env=writer_env()), "Not a comment id: abc")


@pytest.mark.parametrize("site_url", [None, "essays.example.org"])
def test_render_without_a_site_address(site_url, tmp_path):
    given = ["--site-url", site_url] if site_url else []
    result = run_invoke(ROOT, "deploy.render", *given, "--out", str(tmp_path / "rendered"), check=False,
                        env=writer_env())
    told(result, "--site-url https://")
    assert not (tmp_path / "rendered").exists()


# The task, its options (each given a free port), and the option whose port is taken.
BUSY = [
    ("serve", ["--port", "--comments-port"], "--port"),
    ("serve", ["--port", "--comments-port"], "--comments-port"),
    ("reserve", ["--port", "--comments-port"], "--port"),
    ("livereload", ["--port", "--comments-port"], "--comments-port"),
    ("comments.serve", ["--port"], "--port"),
    ("stage", ["--port", "--isso-port"], "--isso-port"),
]


@pytest.mark.parametrize("task, options, taken", BUSY, ids=[f"{t} {o}" for t, _, o in BUSY])
def test_a_busy_port_is_named_with_the_option_to_change_it(repo_copy, task, options, taken):
    ports = {option: free_port() for option in options}
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", ports[taken]))
        other_program.listen()
        result = run_invoke(repo_copy, task, *[str(part) for item in ports.items() for part in item], check=False,
                            env=writer_env())
    told(result, f"Port {ports[taken]} is in use", taken)
    assert not (repo_copy / "comments" / "data" / "comments.db").exists()  # no server was started


def test_every_task_is_named_in_the_namespace_and_fails_the_same_way():
    import tasks

    def all_tasks(collection):
        yield from collection.tasks.values()
        for sub in collection.collections.values():
            yield from all_tasks(sub)

    listed = list(all_tasks(tasks.ns))
    defined = [value for value in vars(tasks).values() if isinstance(value, invoke.Task)]
    assert {id(t) for t in listed} == {id(t) for t in defined}  # nothing defined yet missing, nothing extra
    assert all(isinstance(t, tasks._WriterTask) for t in listed)


def test_a_writer_mistake_from_python_is_an_exit_not_a_traceback(repo_copy):
    import tasks

    with pytest.raises(invoke.Exit) as stopped:
        tasks.new(invoke.Context(), "   ")
    assert stopped.value.code == 1 and "needs a title" in str(stopped.value.message)
