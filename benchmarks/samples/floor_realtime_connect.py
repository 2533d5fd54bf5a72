"""The floor of a clinician's `$connect`: its bare I/O and nothing else.

The identity provider's JWKS fetched with one plain HTTPS GET (urllib3, which botocore
loads anyway) and the RS256 signature checked with `cryptography`, the call and the clinic
read, the call bound to the clinic, the connection recorded: the calls callpay's realtime
function makes for it, through botocore's low-level client.
"""

import base64
import json
import os
import time

import botocore.session
import urllib3
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

session = botocore.session.get_session()
clients = {}
http = urllib3.PoolManager()


def client(service):
    if service not in clients:
        clients[service] = session.create_client(service)
    return clients[service]


def unpadded(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def number(part):
    return int.from_bytes(unpadded(part), "big")


def lambda_handler(event, context):
    query = event["queryStringParameters"]
    header, claims, signature = query["token"].split(".")
    kid = json.loads(unpadded(header))["kid"]
    jwks = json.loads(http.request("GET", os.environ["JWKS_URL"]).data)
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = rsa.RSAPublicNumbers(number(jwk["e"]), number(jwk["n"])).public_key()
    key.verify(unpadded(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(),
               hashes.SHA256())  # fmt: skip
    grant = json.loads(unpadded(claims))
    if grant["exp"] < time.time() or grant["aud"] != os.environ["JWT_AUDIENCE"]:
        return {"statusCode": 401}
    call_id, clinic_id = query["call_id"], query["clinic_id"]
    connection_id = event["requestContext"]["connectionId"]
    table, db = os.environ["TABLE_NAME"], client("dynamodb")
    db.get_item(TableName=table, ConsistentRead=True,
                Key={"PK": {"S": f"CALL#{call_id}"}, "SK": {"S": "CALL"}})  # fmt: skip
    db.get_item(TableName=table, ConsistentRead=True,
                Key={"PK": {"S": f"CLINIC#{clinic_id}"}, "SK": {"S": "SETTINGS"}})  # fmt: skip
    db.put_item(TableName=table, ConditionExpression="attribute_not_exists(PK)",
                Item={"PK": {"S": f"CALL#{call_id}"}, "SK": {"S": "CALL"},
                      "clinic_id": {"S": clinic_id}})  # fmt: skip
    db.put_item(TableName=table, Item={
        "PK": {"S": f"CONN#{connection_id}"}, "SK": {"S": "CONN"},
        "connection_id": {"S": connection_id}, "call_id": {"S": call_id},
        "GSI1PK": {"S": f"CALL#{call_id}"}, "GSI1SK": {"S": f"CONN#{connection_id}"},
        "expires_at": {"N": str(int(time.time()) + 7200)},
    })  # fmt: skip
    return {"statusCode": 200}
