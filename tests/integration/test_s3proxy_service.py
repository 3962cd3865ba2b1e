"""The s3 fixture's server itself (tests/services/s3proxy.sh), with no sluice involved: what the s3
sink's tests rely on — objects with the seed's key layout, multipart uploads (and that an unfinished
one is listed, so "none left" means something), signatures checked, libcurl's SigV4 accepted, and
the data kept across a stop or a crash of the server."""
import hashlib
import subprocess

import botocore.exceptions
import pytest

from sluicetest import CANARY


def test_objects_round_trip_with_the_seed_layout(s3):
    b = s3.bucket("seed-layout")
    keys = [f"topics/orders/year=2026/month=12/day=07/hour={h:02d}/orders+0+{o:010d}.json"
            for h in (9, 10) for o in (0, 1000)]
    for i, k in enumerate(keys):
        s3.client.put_object(Bucket=b, Key=k, Body=f'{{"n":{i}}}\n'.encode())
    s3.client.put_object(Bucket=b, Key="elsewhere/x", Body=b"")
    assert s3.keys(b, "topics/orders/") == sorted(keys)
    assert [s3.get(b, k) for k in keys] == [f'{{"n":{i}}}\n'.encode() for i in range(4)]
    # what the server stores is a file per object under its data directory
    assert (s3.data / b / keys[0]).read_bytes() == b'{"n":0}\n'
    assert s3.secret_key.find(CANARY) >= 0  # a leak of it in sluice's output fails the session


def test_multipart_upload_complete_abort_and_listed_while_unfinished(s3):
    b = s3.bucket("multipart")
    part = 5 << 20  # S3's smallest part but the last
    bodies = [bytes([0x41 + i]) * part for i in range(2)] + [b"tail" * 100]
    up = s3.client.create_multipart_upload(Bucket=b, Key="big.avro")["UploadId"]
    etags = [s3.client.upload_part(Bucket=b, Key="big.avro", UploadId=up, PartNumber=n + 1,
                                   Body=body)["ETag"] for n, body in enumerate(bodies)]
    # unfinished: listed, and not yet an object
    assert s3.uploads(b) == [("big.avro", up)]
    assert s3.uploading(b) == 1
    assert s3.keys(b) == []
    s3.client.complete_multipart_upload(
        Bucket=b, Key="big.avro", UploadId=up,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n + 1} for n, e in enumerate(etags)]})
    assert s3.uploads(b) == [] and s3.uploading(b) == 0
    got = s3.get(b, "big.avro")
    assert len(got) == 2 * part + 400
    assert hashlib.sha256(got).digest() == hashlib.sha256(b"".join(bodies)).digest()
    # S3's multipart ETag: "<md5 of the parts' md5s>-<number of parts>"
    assert s3.client.head_object(Bucket=b, Key="big.avro")["ETag"].strip('"').endswith("-3")

    up2 = s3.client.create_multipart_upload(Bucket=b, Key="aborted")["UploadId"]
    s3.client.upload_part(Bucket=b, Key="aborted", UploadId=up2, PartNumber=1, Body=b"x" * 100)
    assert s3.uploads(b) == [("aborted", up2)]
    s3.client.abort_multipart_upload(Bucket=b, Key="aborted", UploadId=up2)
    assert s3.uploads(b) == []
    assert s3.keys(b) == ["big.avro"]


def _curl(s3, *args, secret=None):
    """curl with libcurl's own SigV4 (the s3 sink's signing); returns (status, body)."""
    r = subprocess.run(
        ["curl", "-s", "--max-time", "20", "-w", "\n%{http_code}",
         "--aws-sigv4", f"aws:amz:{s3.region}:s3",
         "-u", f"{s3.access_key}:{secret or s3.secret_key}",
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", *args],
        capture_output=True, text=True, timeout=30)
    body, _, status = r.stdout.rpartition("\n")
    return int(status), body


def test_signatures_are_checked_and_libcurl_sigv4_is_accepted(s3, tmp):
    b = s3.bucket("signed")
    f = tmp / "obj.json"
    f.write_bytes(b'{"id":1}\n')
    status, body = _curl(s3, "-T", str(f), f"{s3.endpoint}/{b}/topics/t/obj.json")
    assert status == 200, body
    assert s3.get(b, "topics/t/obj.json") == b'{"id":1}\n'

    # a wrong secret, an unknown identity, no signature: refused, nothing written
    status, body = _curl(s3, "-T", str(f), f"{s3.endpoint}/{b}/wrong", secret="not-the-secret")
    assert status == 403 and "SignatureDoesNotMatch" in body, body
    import boto3
    other = boto3.client("s3", endpoint_url=s3.endpoint, region_name=s3.region,
                         aws_access_key_id="someone-else", aws_secret_access_key="x" * 20,
                         config=botocore.config.Config(s3={"addressing_style": "path"}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.list_objects_v2(Bucket=b)
    assert e.value.response["Error"]["Code"] in ("InvalidAccessKeyId", "AccessDenied")
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                        f"{s3.endpoint}/{b}/topics/t/obj.json"], capture_output=True, text=True,
                       timeout=30)
    assert r.stdout == "403"
    assert s3.keys(b) == ["topics/t/obj.json"]

    # a missing bucket is its own error (the sink names it)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.client.put_object(Bucket="no-such-bucket", Key="k", Body=b"v")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"


def test_stop_and_start_keep_the_port_and_the_data(s3):
    b = s3.bucket("outage")
    s3.client.put_object(Bucket=b, Key="before", Body=b"1")
    up = s3.client.create_multipart_upload(Bucket=b, Key="pending")["UploadId"]
    endpoint = s3.endpoint

    s3.stop()
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        s3.client.list_objects_v2(Bucket=b)
    s3.start()
    assert s3.endpoint == endpoint
    assert s3.get(b, "before") == b"1"
    assert s3.uploads(b) == [("pending", up)]  # an unfinished upload outlives the server too

    s3.client.put_object(Bucket=b, Key="after", Body=b"2")
    s3.kill()
    s3.start()
    assert s3.keys(b) == ["after", "before"]
    assert s3.get(b, "after") == b"2"
