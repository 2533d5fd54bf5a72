"""The naive sample of sending one receipt, as the common tutorials write it.

boto3 and jinja2 at module top, a boto3 resource for the table, the e-mail rendered from
a Jinja template, SES through boto3. Same I/O as callpay's send_receipt for it (the
request read, the receipt claimed, the clinic read, one e-mail, the receipt marked sent).
"""

import json
import os
import time

import boto3
from jinja2 import Environment

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["TABLE_NAME"])
ses = boto3.client("ses")
templates = Environment(autoescape=True)
HTML = templates.from_string(
    "<h1>Receipt from {{ clinic.legal_name }}</h1>"
    "<p>Paid: {{ '%.2f' % (request.amount / 100) }} {{ request.currency | upper }}</p>"
)
TEXT = Environment().from_string(
    "Receipt from {{ clinic.legal_name }}\nPaid: {{ '%.2f' % (request.amount / 100) }}"
    " {{ request.currency | upper }}\n"
)


def lambda_handler(event, context):
    for record in event["Records"]:
        request_id = json.loads(record["body"])["payment_request_id"]
        request = table.get_item(Key={"PK": f"PR#{request_id}", "SK": "PR"},
                                 ConsistentRead=True)["Item"]  # fmt: skip
        key = {"PK": f"RECEIPT#{request_id}#payment", "SK": "RECEIPT"}
        table.put_item(Item=key | {"state": "sending"},
                       ConditionExpression="attribute_not_exists(PK)")  # fmt: skip
        clinic = table.get_item(Key={"PK": f"CLINIC#{request['clinic_id']}", "SK": "SETTINGS"},
                                ConsistentRead=True)["Item"]  # fmt: skip
        sent = ses.send_email(
            Source=os.environ["RECEIPT_SENDER"],
            Destination={"ToAddresses": [request["receipt_email"]]},
            Message={"Subject": {"Data": "Your receipt"},
                     "Body": {"Text": {"Data": TEXT.render(request=request, clinic=clinic)},
                              "Html": {"Data": HTML.render(request=request, clinic=clinic)}}},
        )  # fmt: skip
        table.update_item(
            Key=key, UpdateExpression="SET #s = :sent, message_id = :id, sent_at = :at",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":sent": "sent", ":id": sent["MessageId"],
                                       ":at": time.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )  # fmt: skip
    return {"batchItemFailures": []}
