"""The floor of sending one receipt: its bare I/O and nothing else.

The request read, the receipt claimed in the ledger, the clinic read, one SES e-mail (its
text written with an f-string: no templates, no translations), the receipt recorded as
sent: the calls callpay's send_receipt makes for it, through botocore's low-level clients.
"""

import json
import os
import time

import botocore.session

session = botocore.session.get_session()
clients = {}


def client(service):
    if service not in clients:
        clients[service] = session.create_client(service)
    return clients[service]


def lambda_handler(event, context):
    table, db = os.environ["TABLE_NAME"], client("dynamodb")
    for record in event["Records"]:
        request_id = json.loads(record["body"])["payment_request_id"]
        request = db.get_item(TableName=table, ConsistentRead=True,
                              Key={"PK": {"S": f"PR#{request_id}"}, "SK": {"S": "PR"}})["Item"]  # fmt: skip
        key = {"PK": {"S": f"RECEIPT#{request_id}#payment"}, "SK": {"S": "RECEIPT"}}
        db.put_item(TableName=table, ConditionExpression="attribute_not_exists(PK)",
                    Item=key | {"state": {"S": "sending"}})  # fmt: skip
        clinic = db.get_item(
            TableName=table, ConsistentRead=True,
            Key={"PK": {"S": f"CLINIC#{request['clinic_id']['S']}"}, "SK": {"S": "SETTINGS"}},
        )["Item"]  # fmt: skip
        amount = int(request["amount"]["N"]) / 100
        text = (f"Receipt from {clinic.get('legal_name', {}).get('S', '')}\n"
                f"Paid: {amount:.2f} {request['currency']['S'].upper()}\n")  # fmt: skip
        sent = client("ses").send_email(
            Source=os.environ["RECEIPT_SENDER"],
            Destination={"ToAddresses": [request["receipt_email"]["S"]]},
            Message={"Subject": {"Data": "Your receipt"},
                     "Body": {"Text": {"Data": text}, "Html": {"Data": f"<pre>{text}</pre>"}}},
        )  # fmt: skip
        db.update_item(
            TableName=table, Key=key, UpdateExpression="SET #s = :sent, message_id = :id, sent_at = :at",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":sent": {"S": "sent"}, ":id": {"S": sent["MessageId"]},
                                       ":at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ")}},
        )  # fmt: skip
    return {"batchItemFailures": []}
