"""The naive sample of a clinician's `$connect`, as the common tutorials write it.

boto3 and PyJWT at module top, a boto3 resource for the table, PyJWT's `PyJWKClient` for
the identity provider's keys and `jwt.decode`. Same I/O as callpay's realtime function
for it (the JWKS, the call and clinic read, the call bound, the connection recorded).
"""

import os
import time

import boto3
import jwt

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["TABLE_NAME"])
jwks = jwt.PyJWKClient(os.environ["JWKS_URL"])


def lambda_handler(event, context):
    query = event["queryStringParameters"]
    token = query["token"]
    try:
        key = jwks.get_signing_key_from_jwt(token)
        jwt.decode(token, key, algorithms=["RS256"], audience=os.environ["JWT_AUDIENCE"],
                   issuer=os.environ["JWT_ISSUER"])  # fmt: skip
    except jwt.PyJWTError:
        return {"statusCode": 401}
    call_id, clinic_id = query["call_id"], query["clinic_id"]
    connection_id = event["requestContext"]["connectionId"]
    table.get_item(Key={"PK": f"CALL#{call_id}", "SK": "CALL"}, ConsistentRead=True)
    table.get_item(Key={"PK": f"CLINIC#{clinic_id}", "SK": "SETTINGS"}, ConsistentRead=True)
    table.put_item(Item={"PK": f"CALL#{call_id}", "SK": "CALL", "clinic_id": clinic_id},
                   ConditionExpression="attribute_not_exists(PK)")  # fmt: skip
    table.put_item(Item={
        "PK": f"CONN#{connection_id}", "SK": "CONN", "connection_id": connection_id,
        "call_id": call_id, "GSI1PK": f"CALL#{call_id}", "GSI1SK": f"CONN#{connection_id}",
        "expires_at": int(time.time()) + 7200,
    })  # fmt: skip
    return {"statusCode": 200}
