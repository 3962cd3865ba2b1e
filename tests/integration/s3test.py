"""A real S3-compatible server (s3proxy, tests/services/s3proxy.sh) as a pytest fixture, read
independently with boto3 (the AWS SDK for Python).

    def test_x(s3):
        s3.endpoint, .region, .access_key, .secret_key     # for the sink's store.url, s3.region, ...
        b = s3.bucket("orders")             # creates a bucket of the test's own, returns its name
        s3.client.put_object(Bucket=b, Key="k", Body=b"v")  # any boto3 call
        s3.keys(b, "topics/")               # every key under a prefix (all pages)
        s3.get(b, "k")                      # an object's bytes
        s3.uploads(b)                       # the incomplete multipart uploads [(key, upload id)]
        s3.uploading(b)                     # how many, cheaply (the server's directory): for polling
        s3.stop(); s3.start()               # an outage: the same port, buckets and objects after it
        s3.kill(); s3.start()               # a crash (SIGKILL) and a restart

The server is stopped and its directory removed when the test ends, whatever happened."""
import os
from pathlib import Path

import pytest

from scriptservice import ScriptService


class S3Server(ScriptService):
    # Closed with SIGKILL: its directory goes with it, and the JVM's orderly stop took 3.5 s a test.
    NAME, PREFIX, CLOSE = "s3proxy", "sluice-s3proxy.", "kill"

    endpoint = property(lambda self: self.env["S3_ENDPOINT"])  # http://127.0.0.1:<port>
    port = property(lambda self: int(self.env["S3_PORT"]))
    region = property(lambda self: self.env["S3_REGION"])
    access_key = property(lambda self: self.env["S3_ACCESS_KEY_ID"])
    secret_key = property(lambda self: self.env["S3_SECRET_ACCESS_KEY"])
    data = property(lambda self: Path(self.env["S3_DATA"]))  # bucket = directory, key = path
    log = property(lambda self: Path(self.env["S3_LOG"]))

    _client = None

    @property
    def client(self):
        """A boto3 S3 client for this server: path-style, SigV4, few retries and short timeouts so
        that a call while the server is stopped fails quickly instead of hanging the test."""
        if self._client is None:
            import boto3
            from botocore.config import Config
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint, region_name=self.region,
                aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                              connect_timeout=5, read_timeout=60,
                              retries={"max_attempts": 2, "mode": "standard"},
                              request_checksum_calculation="when_required",
                              response_checksum_validation="when_required"))
        return self._client

    def bucket(self, name):
        """Creates bucket `name` (S3's rules: 3-63 characters, lower case, digits, '-', '.')."""
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket, prefix=""):
        """Every key under `prefix`, in S3's (lexicographic) order."""
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                           Prefix=prefix):
            out.extend(o["Key"] for o in page.get("Contents", []))
        return out

    def get(self, bucket, key):
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def uploads(self, bucket):
        """The multipart uploads begun and neither completed nor aborted: [(key, upload id)]."""
        out = []
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            out.extend((u["Key"], u["UploadId"]) for u in page.get("Uploads", []))
        return out

    def uploading(self, bucket):
        """The multipart uploads in flight, counted without a request: s3proxy's filesystem
        backend keeps a stub file per upload (.s3proxy-mpu-stub-<upload id> in the bucket's
        directory) from its initiation to its completion or abort. A test that must act while an
        upload is in flight polls this every millisecond; a ListMultipartUploads request takes
        longer than some uploads do."""
        try:
            return sum(1 for n in os.listdir(self.data / bucket)
                       if n.startswith(".s3proxy-mpu-stub-"))
        except FileNotFoundError:
            return 0

    def kill(self):
        self.run("kill", self.dir, timeout=60)


@pytest.fixture
def s3():
    """A fresh s3proxy of the test's own (about 3 s to start), no bucket yet."""
    s = S3Server()
    yield s
    s.close()
