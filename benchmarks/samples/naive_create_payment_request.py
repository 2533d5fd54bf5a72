"""The naive sample of creating a payment request, as the common tutorials write it.

stripe and boto3 at module top, a boto3 resource for the table, the Stripe key read with
boto3 and set as `stripe.api_key`, `stripe.PaymentIntent.create`. Same I/O as callpay's
request_payment for it (the clinic and call read, the key, the intent, one transaction,
the call's sockets and one push each).
"""

import json
import os
import time
import uuid

import boto3
import stripe

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["TABLE_NAME"])
secrets = boto3.client("secretsmanager")
sockets = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_CALLBACK_URL"])
if os.environ.get("STRIPE_API_BASE"):
    stripe.api_base = os.environ["STRIPE_API_BASE"]


def lambda_handler(event, context):
    if not stripe.api_key:
        value = secrets.get_secret_value(SecretId=os.environ["STRIPE_SECRET_ID"])
        stripe.api_key = json.loads(value["SecretString"])["stripe_api_key"]
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    call_id = event["pathParameters"]["call_id"]
    body = json.loads(event["body"])
    clinic = table.get_item(Key={"PK": f"CLINIC#{body['clinic_id']}", "SK": "SETTINGS"},
                            ConsistentRead=True)["Item"]  # fmt: skip
    table.get_item(Key={"PK": f"CALL#{call_id}", "SK": "CALL"}, ConsistentRead=True)
    request_id = f"pr_{uuid.uuid4().hex}"
    intent = stripe.PaymentIntent.create(
        amount=body["amount"], currency=body["currency"], payment_method_types=["card"],
        metadata={"payment_request_id": request_id}, stripe_account=clinic["stripe_account_id"],
        idempotency_key=f"{request_id}:create",
    )  # fmt: skip
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    table.meta.client.transact_write_items(TransactItems=[
        {"Put": {"TableName": table.name, "ConditionExpression": "attribute_not_exists(PK)",
                 "Item": {"PK": f"PR#{request_id}", "SK": "PR", "id": request_id,
                          "call_id": call_id, "status": "requested", "amount": body["amount"],
                          "payment_intent_id": intent.id, "requested_by": claims["sub"],
                          "created_at": now, "GSI1PK": f"CALL#{call_id}",
                          "GSI1SK": f"PR#{now}#{request_id}"}}},
        {"Put": {"TableName": table.name,
                 "Item": {"PK": f"PR#{request_id}", "SK": "AUDIT#0000000001",
                          "to_status": "requested", "at": now}}},
        # The platform's event, in the same transaction (an outbox item; its kind is not
        # the stream's, so no delivery follows from a sample's).
        {"Put": {"TableName": table.name,
                 "Item": {"PK": f"PR#{request_id}",
                          "SK": "OUTBOX#0000000001#payment_request.created", "kind": "sample",
                          "event": json.dumps({"type": "payment_request.created",
                                               "data": {"payment_request": request_id}})}}},
    ])  # fmt: skip
    connections = table.query(
        IndexName="by_call",
        KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
        ExpressionAttributeValues={":pk": f"CALL#{call_id}", ":prefix": "CONN#"},
    )["Items"]
    view = {"id": request_id, "status": "requested", "amount": body["amount"]}
    message = json.dumps({"type": "payment_request.updated", "payment_request": view})
    for connection in connections:
        sockets.post_to_connection(ConnectionId=connection["connection_id"], Data=message)
    return {"statusCode": 201, "body": json.dumps(view)}
