"""An S3 API on loopback for the tests and the benchmarks: moto's server (a
development dependency, requirements-dev.txt) as its own process, spoken to
over real HTTP by boto3 (`invoke publish`) and Litestream (the replica)."""

import contextlib
import sys
from types import SimpleNamespace

from kizuna import ROOT
from kizuna.processes import free_port, server


def environment(port: int) -> dict[str, str]:
    """The AWS variables a writer would set, pointing at the server on `port`."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_EC2_METADATA_DISABLED": "true"}


@contextlib.contextmanager
def local_s3(log=None, buckets: tuple[str, ...] = ()):
    """moto's S3 server on a free 127.0.0.1 port, with `buckets` made, stopped
    by its process id on leaving; yields .env (environment()), .url, .process."""
    port = free_port()
    env = environment(port)
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with server(command, port, cwd=ROOT, log=log) as process:
        if buckets:
            import boto3

            s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                              aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
            for bucket in buckets:
                s3.create_bucket(Bucket=bucket)
        yield SimpleNamespace(env=env, url=env["AWS_ENDPOINT_URL"], process=process)
