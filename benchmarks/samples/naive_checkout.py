"""The naive sample of checkout ("Pay now"), as the common tutorials write it.

stripe, PyJWT and boto3 at module top, a boto3 resource for the table, the secrets read
with boto3 and kept, `jwt.decode` for the patient's token, `stripe.PaymentIntent.retrieve`.
Same I/O as callpay's request_payment for it.
"""

import json
import os
import time

import boto3
import jwt
import stripe

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["TABLE_NAME"])
secrets = boto3.client("secretsmanager")
if os.environ.get("STRIPE_API_BASE"):
    stripe.api_base = os.environ["STRIPE_API_BASE"]
kept = {}


def secret(variable):
    if variable not in kept:
        value = secrets.get_secret_value(SecretId=os.environ[variable])
        kept[variable] = json.loads(value["SecretString"])
    return kept[variable]


def lambda_handler(event, context):
    token = event["headers"]["authorization"].split(" ", 1)[1]
    try:
        jwt.decode(token, secret("TOKEN_SECRET_ID")["patient_token_key"], algorithms=["HS256"],
                   audience="callpay:patient", issuer="callpay")  # fmt: skip
    except jwt.PyJWTError:
        return {"statusCode": 401}
    request_id = event["pathParameters"]["payment_request_id"]
    request = table.get_item(Key={"PK": f"PR#{request_id}", "SK": "PR"}, ConsistentRead=True)[
        "Item"
    ]
    clinic = table.get_item(Key={"PK": f"CLINIC#{request['clinic_id']}", "SK": "SETTINGS"},
                            ConsistentRead=True)["Item"]  # fmt: skip
    keys = secret("STRIPE_SECRET_ID")
    stripe.api_key = keys["stripe_api_key"]
    intent = stripe.PaymentIntent.retrieve(
        request["payment_intent_id"], stripe_account=clinic["stripe_account_id"]
    )
    body = json.loads(event["body"])
    version = int(request["version"])
    request.update(receipt_email=body["email"], version=version + 1)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    table.meta.client.transact_write_items(TransactItems=[
        {"Put": {"TableName": table.name, "Item": request, "ConditionExpression": "version = :v",
                 "ExpressionAttributeValues": {":v": version}}},
        {"Put": {"TableName": table.name,
                 "Item": {"PK": f"PR#{request_id}", "SK": f"AUDIT#{version + 1:010d}",
                          "action": "checkout", "at": now}}},
    ])  # fmt: skip
    answer = {"client_secret": intent.client_secret,
              "publishable_key": keys["stripe_publishable_key"],
              "stripe_account": clinic["stripe_account_id"]}  # fmt: skip
    return {"statusCode": 200, "body": json.dumps(answer)}
