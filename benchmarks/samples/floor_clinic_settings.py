"""The floor of reading a clinic's settings: one DynamoDB read through botocore's low-level
client, its attributes as JSON. The call callpay's clinic_admin makes for it."""

import json
import os

import botocore.session

session = botocore.session.get_session()
clients = {}


def lambda_handler(event, context):
    if "dynamodb" not in clients:
        clients["dynamodb"] = session.create_client("dynamodb")
    clinic_id = event["pathParameters"]["clinic_id"]
    item = clients["dynamodb"].get_item(
        TableName=os.environ["TABLE_NAME"], ConsistentRead=True,
        Key={"PK": {"S": f"CLINIC#{clinic_id}"}, "SK": {"S": "SETTINGS"}},
    )["Item"]  # fmt: skip
    settings = {name: next(iter(value.values())) for name, value in item.items()}
    return {"statusCode": 200, "body": json.dumps(settings, default=str)}
