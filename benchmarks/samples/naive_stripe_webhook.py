"""The naive sample: a Stripe webhook handler as the common tutorials write it.

stripe and boto3 imported and clients built at module top, a boto3 resource for the
table, the secret read with boto3 and kept, `stripe.Webhook.construct_event` to check the
signature. It makes the same AWS calls as callpay's stripe_webhook for a
`payment_intent.succeeded` (benchmarks/README.md: same secret read, same reads, one
transaction, the call's sockets, one push each, one receipt job), so the comparison is of
everything around the I/O, not of the I/O.
"""

import json
import os
import time

import boto3
import stripe

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["TABLE_NAME"])
secrets = boto3.client("secretsmanager")
sqs = boto3.client("sqs")
sockets = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_CALLBACK_URL"])
webhook_secret = None


def lambda_handler(event, context):
    global webhook_secret
    if webhook_secret is None:
        value = secrets.get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ID"])
        webhook_secret = json.loads(value["SecretString"])["webhook_secrets"]
    headers = {k.lower(): v for k, v in event["headers"].items()}
    try:
        stripe_event = stripe.Webhook.construct_event(
            event["body"], headers["stripe-signature"], webhook_secret[0]
        )
    except (ValueError, stripe.SignatureVerificationError):
        return {"statusCode": 400, "body": json.dumps({"error": "invalid signature"})}
    intent = stripe_event["data"]["object"]
    request_id = intent["metadata"]["payment_request_id"]
    request = table.get_item(Key={"PK": f"PR#{request_id}", "SK": "PR"}, ConsistentRead=True)[
        "Item"
    ]
    version = int(request["version"])
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    request.update(status="succeeded", version=version + 1, updated_at=now, paid_at=now)
    table.meta.client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table.name, "Item": request,
                     "ConditionExpression": "version = :v",
                     "ExpressionAttributeValues": {":v": version}}},
            {"Put": {"TableName": table.name,
                     "Item": {"PK": f"PR#{request_id}", "SK": f"AUDIT#{version + 1:010d}",
                              "action": "status", "to_status": "succeeded", "at": now}}},
            {"Put": {"TableName": table.name,
                     "Item": {"PK": f"EVENT#{stripe_event['id']}", "SK": "EVENT"},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            # The platform's event, announced in the same transaction (an outbox item; its
            # kind is not the stream's, so no delivery follows from a sample's).
            {"Put": {"TableName": table.name,
                     "Item": {"PK": f"PR#{request_id}",
                              "SK": f"OUTBOX#{version + 1:010d}#payment_request.succeeded",
                              "kind": "sample", "event": json.dumps(
                                  {"type": "payment_request.succeeded", "id": stripe_event["id"],
                                   "data": {"payment_request": request_id}})}}},
        ]
    )  # fmt: skip
    connections = table.query(
        IndexName="by_call",
        KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
        ExpressionAttributeValues={":pk": f"CALL#{request['call_id']}", ":prefix": "CONN#"},
    )["Items"]
    message = json.dumps(
        {"type": "payment_request.updated", "payment_request": {"id": request_id,
                                                                "status": "succeeded"}}
    )  # fmt: skip
    for connection in connections:
        sockets.post_to_connection(ConnectionId=connection["connection_id"], Data=message)
    sqs.send_message(
        QueueUrl=os.environ["RECEIPT_QUEUE_URL"],
        MessageBody=json.dumps({"payment_request_id": request_id}),
    )
    return {"statusCode": 200, "body": json.dumps({"received": True})}
