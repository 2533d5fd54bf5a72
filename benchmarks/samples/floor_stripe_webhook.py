"""The floor: the bare I/O of a `payment_intent.succeeded` delivery, and nothing else.

botocore's low-level clients (no boto3, no resources), the signature checked with hmac,
the same AWS calls as callpay's stripe_webhook: the webhook secret, the request read,
one transaction (the request, its audit entry, the event's dedupe record), the call's
sockets, one push each, one receipt job. No validation, no logging, no error handling:
what no handler can do without.
"""

import hashlib
import hmac
import json
import os
import time

import botocore.session

session = botocore.session.get_session()
clients = {}


def client(service, **options):
    if service not in clients:
        clients[service] = session.create_client(service, **options)
    return clients[service]


def lambda_handler(event, context):
    secret = client("secretsmanager").get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ID"])
    secrets = json.loads(secret["SecretString"])["webhook_secrets"]
    body = event["body"].encode()
    header = dict(item.split("=", 1) for item in event["headers"]["stripe-signature"].split(","))
    signed = header["t"].encode() + b"." + body
    expected = hmac.new(secrets[0].encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header["v1"]):
        return {"statusCode": 400}
    stripe_event = json.loads(body)
    request_id = stripe_event["data"]["object"]["metadata"]["payment_request_id"]
    table = os.environ["TABLE_NAME"]
    db = client("dynamodb")
    item = db.get_item(
        TableName=table, Key={"PK": {"S": f"PR#{request_id}"}, "SK": {"S": "PR"}},
        ConsistentRead=True,
    )["Item"]  # fmt: skip
    version = int(item["version"]["N"])
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    item |= {"status": {"S": "succeeded"}, "version": {"N": str(version + 1)},
             "updated_at": {"S": now}, "paid_at": {"S": now}}  # fmt: skip
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": item, "ConditionExpression": "version = :v",
                     "ExpressionAttributeValues": {":v": {"N": str(version)}}}},
            {"Put": {"TableName": table,
                     "Item": {"PK": {"S": f"PR#{request_id}"},
                              "SK": {"S": f"AUDIT#{version + 1:010d}"},
                              "to_status": {"S": "succeeded"}, "at": {"S": now}}}},
            {"Put": {"TableName": table,
                     "Item": {"PK": {"S": f"EVENT#{stripe_event['id']}"}, "SK": {"S": "EVENT"}},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            # The platform's event, announced in the same transaction (an outbox item; its
            # kind is not the stream's, so no delivery follows from a sample's).
            {"Put": {"TableName": table,
                     "Item": {"PK": {"S": f"PR#{request_id}"},
                              "SK": {"S": f"OUTBOX#{version + 1:010d}#payment_request.succeeded"},
                              "kind": {"S": "sample"}, "event": {"S": json.dumps(
                                  {"type": "payment_request.succeeded", "id": stripe_event["id"],
                                   "data": {"payment_request": request_id}})}}}},
        ]
    )  # fmt: skip
    connections = db.query(
        TableName=table, IndexName="by_call",
        KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{item['call_id']['S']}"},
                                   ":prefix": {"S": "CONN#"}},
    )["Items"]  # fmt: skip
    message = json.dumps({"type": "payment_request.updated",
                          "payment_request": {"id": request_id, "status": "succeeded"}})  # fmt: skip
    sockets = client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_CALLBACK_URL"])
    for connection in connections:
        sockets.post_to_connection(ConnectionId=connection["connection_id"]["S"], Data=message)
    client("sqs").send_message(
        QueueUrl=os.environ["RECEIPT_QUEUE_URL"],
        MessageBody=json.dumps({"payment_request_id": request_id}),
    )
    return {"statusCode": 200, "body": '{"received": true}'}
