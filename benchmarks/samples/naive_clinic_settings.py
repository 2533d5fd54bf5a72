"""The naive sample of a clinic's settings, as the common tutorials write the clinic
function: stripe and boto3 at module top (the same module links Stripe accounts), a boto3
resource for the table. Same I/O as callpay's clinic_admin for it (one read)."""

import json
import os

import boto3
import stripe  # noqa: F401 - the clinic module's other routes link Stripe accounts

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["TABLE_NAME"])


def lambda_handler(event, context):
    clinic_id = event["pathParameters"]["clinic_id"]
    item = table.get_item(Key={"PK": f"CLINIC#{clinic_id}", "SK": "SETTINGS"},
                          ConsistentRead=True)["Item"]  # fmt: skip
    return {"statusCode": 200, "body": json.dumps(item, default=str)}
