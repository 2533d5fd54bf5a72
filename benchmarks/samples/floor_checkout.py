"""The floor of checkout ("Pay now"): its bare I/O and nothing else.

The patient token's key read and the token checked with hmac (HS256), the request and
its clinic read, the Stripe keys read, the PaymentIntent read with one plain HTTPS GET
(urllib3, which botocore loads anyway), one transaction (the request with the receipt
address, its audit entry): the calls callpay's request_payment makes for it.
"""

import base64
import hashlib
import hmac
import json
import os
import time

import botocore.session
import urllib3

session = botocore.session.get_session()
clients = {}
http = urllib3.PoolManager()


def client(service, **options):
    if service not in clients:
        clients[service] = session.create_client(service, **options)
    return clients[service]


def secret(variable):
    value = client("secretsmanager").get_secret_value(SecretId=os.environ[variable])
    return json.loads(value["SecretString"])


def unpadded(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def lambda_handler(event, context):
    token = event["headers"]["authorization"].split(" ", 1)[1]
    header, claims, signature = token.split(".")
    key = secret("TOKEN_SECRET_ID")["patient_token_key"].encode()
    expected = hmac.new(key, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    grant = json.loads(unpadded(claims))
    if not hmac.compare_digest(expected, unpadded(signature)) or grant["exp"] < time.time():
        return {"statusCode": 401}
    request_id = event["pathParameters"]["payment_request_id"]
    table, db = os.environ["TABLE_NAME"], client("dynamodb")
    item = db.get_item(TableName=table, ConsistentRead=True,
                       Key={"PK": {"S": f"PR#{request_id}"}, "SK": {"S": "PR"}})["Item"]  # fmt: skip
    clinic = db.get_item(
        TableName=table, ConsistentRead=True,
        Key={"PK": {"S": f"CLINIC#{item['clinic_id']['S']}"}, "SK": {"S": "SETTINGS"}},
    )["Item"]  # fmt: skip
    keys = secret("STRIPE_SECRET_ID")
    intent = json.loads(http.request(
        "GET", f"{os.environ['STRIPE_API_BASE']}/v1/payment_intents/{item['payment_intent_id']['S']}",
        headers={"Authorization": f"Bearer {keys['stripe_api_key']}",
                 "Stripe-Version": "2026-10-28.endive",
                 "Stripe-Account": clinic["stripe_account_id"]["S"]},
    ).data)  # fmt: skip
    body = json.loads(event["body"])
    version = int(item["version"]["N"])
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    item |= {"receipt_email": {"S": body["email"]}, "version": {"N": str(version + 1)}}
    db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item, "ConditionExpression": "version = :v",
                 "ExpressionAttributeValues": {":v": {"N": str(version)}}}},
        {"Put": {"TableName": table, "Item": {
            "PK": {"S": f"PR#{request_id}"}, "SK": {"S": f"AUDIT#{version + 1:010d}"},
            "action": {"S": "checkout"}, "at": {"S": now},
        }}},
    ])  # fmt: skip
    answer = {"client_secret": intent["client_secret"],
              "publishable_key": keys["stripe_publishable_key"],
              "stripe_account": clinic["stripe_account_id"]["S"]}  # fmt: skip
    return {"statusCode": 200, "body": json.dumps(answer)}
