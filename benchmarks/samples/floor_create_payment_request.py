"""The floor of creating a payment request: its bare I/O and nothing else.

The clinic and the call read, the Stripe key read, the PaymentIntent created with one
plain HTTPS POST (urllib3, which botocore loads anyway), one transaction (the request
and its audit entry), the call's sockets, one push each: the calls callpay's
request_payment makes for it, through botocore's low-level clients.
"""

import json
import os
import time
import uuid
from urllib.parse import urlencode

import botocore.session
import urllib3

session = botocore.session.get_session()
clients = {}
http = urllib3.PoolManager()


def client(service, **options):
    if service not in clients:
        clients[service] = session.create_client(service, **options)
    return clients[service]


def lambda_handler(event, context):
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    call_id = event["pathParameters"]["call_id"]
    body = json.loads(event["body"])
    table, db = os.environ["TABLE_NAME"], client("dynamodb")
    clinic = db.get_item(
        TableName=table, ConsistentRead=True,
        Key={"PK": {"S": f"CLINIC#{body['clinic_id']}"}, "SK": {"S": "SETTINGS"}},
    )["Item"]  # fmt: skip
    db.get_item(TableName=table, ConsistentRead=True,
                Key={"PK": {"S": f"CALL#{call_id}"}, "SK": {"S": "CALL"}})  # fmt: skip
    keys = client("secretsmanager").get_secret_value(SecretId=os.environ["STRIPE_SECRET_ID"])
    api_key = json.loads(keys["SecretString"])["stripe_api_key"]
    request_id = f"pr_{uuid.uuid4().hex}"
    intent = json.loads(http.request(
        "POST", f"{os.environ['STRIPE_API_BASE']}/v1/payment_intents",
        body=urlencode({"amount": body["amount"], "currency": body["currency"],
                        "payment_method_types[0]": "card", "capture_method": "automatic",
                        "metadata[payment_request_id]": request_id}),
        headers={"Authorization": f"Bearer {api_key}", "Stripe-Version": "2026-10-28.endive",
                 "Stripe-Account": clinic["stripe_account_id"]["S"],
                 "Idempotency-Key": f"{request_id}:create",
                 "Content-Type": "application/x-www-form-urlencoded"},
    ).data)  # fmt: skip
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(PK)", "Item": {
            "PK": {"S": f"PR#{request_id}"}, "SK": {"S": "PR"}, "id": {"S": request_id},
            "call_id": {"S": call_id}, "status": {"S": "requested"},
            "amount": {"N": str(body["amount"])}, "payment_intent_id": {"S": intent["id"]},
            "requested_by": {"S": claims["sub"]}, "created_at": {"S": now},
            "GSI1PK": {"S": f"CALL#{call_id}"}, "GSI1SK": {"S": f"PR#{now}#{request_id}"},
        }}},
        {"Put": {"TableName": table, "Item": {
            "PK": {"S": f"PR#{request_id}"}, "SK": {"S": "AUDIT#0000000001"},
            "to_status": {"S": "requested"}, "at": {"S": now},
        }}},
        # The platform's event, in the same transaction (an outbox item; its kind is not
        # the stream's, so no delivery follows from a sample's).
        {"Put": {"TableName": table, "Item": {
            "PK": {"S": f"PR#{request_id}"}, "SK": {"S": "OUTBOX#0000000001#payment_request.created"},
            "kind": {"S": "sample"}, "event": {"S": json.dumps(
                {"type": "payment_request.created", "data": {"payment_request": request_id}})},
        }}},
    ])  # fmt: skip
    connections = db.query(
        TableName=table, IndexName="by_call",
        KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{call_id}"}, ":prefix": {"S": "CONN#"}},
    )["Items"]  # fmt: skip
    view = {"id": request_id, "status": "requested", "amount": body["amount"]}
    message = json.dumps({"type": "payment_request.updated", "payment_request": view})
    sockets = client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_CALLBACK_URL"])
    for connection in connections:
        sockets.post_to_connection(ConnectionId=connection["connection_id"]["S"], Data=message)
    return {"statusCode": 201, "body": json.dumps(view)}
