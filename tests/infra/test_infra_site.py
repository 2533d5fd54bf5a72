"""The static site in the template: a private TLS-only bucket read by CloudFront through
an origin access control, the Content-Security-Policy, config.json, and the pay page's
address given to request_payment."""

from __future__ import annotations

from typing import Any

from infra import site_policy
from tests.infra.conftest import Synthesized
from tests.infra.test_infra_resources import functions_by_service


def flat(value: Any) -> str:
    """A CloudFormation string with its references written as ${LogicalId}."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flat(part) for part in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected {value}")


def one(synthesized: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = synthesized.of_type(resource_type).items()
    return found


def test_the_bucket_is_private_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    bucket = synthesized.logical_id(synthesized.stack.site.bucket)
    properties = synthesized.resources[bucket]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    _, policy = one(synthesized, "AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (tls,) = [s for s in statements if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Principal"] == {"AWS": "*"} and tls["Action"] == "s3:*"


def test_cloudfront_alone_reads_the_bucket_through_an_origin_access_control(
    synthesized: Synthesized,
) -> None:
    control_id, control = one(synthesized, "AWS::CloudFront::OriginAccessControl")
    config = control["Properties"]["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"],
            config["SigningProtocol"]) == ("s3", "always", "sigv4")  # fmt: skip
    distribution_id, distribution = one(synthesized, "AWS::CloudFront::Distribution")
    origins = distribution["Properties"]["DistributionConfig"]["Origins"]
    (s3_origin,) = [o for o in origins if "S3OriginConfig" in o]
    assert s3_origin["OriginAccessControlId"] == {"Fn::GetAtt": [control_id, "Id"]}
    assert s3_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    _, policy = one(synthesized, "AWS::S3::BucketPolicy")
    (allow,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    source = flat(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source.endswith(f":distribution/${{{distribution_id}}}")


def test_every_answer_carries_the_strict_content_security_policy(
    synthesized: Synthesized,
) -> None:
    websocket = synthesized.logical_id(synthesized.stack.realtime.api)
    _, policy = one(synthesized, "AWS::CloudFront::ResponseHeadersPolicy")
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    csp = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert csp["Override"] is True
    expected = site_policy.content_security_policy(
        {"api": "'self'",
         "websocket": f"wss://${{{websocket}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}",
         **site_policy.STRIPE_SOURCES}
    )  # fmt: skip
    assert flat(csp["ContentSecurityPolicy"]) == expected
    assert expected == (
        "default-src 'none'; script-src 'self' https://js.stripe.com https://*.js.stripe.com; "
        "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; "
        f"connect-src 'self' wss://${{{websocket}}}.execute-api.${{AWS::Region}}."
        "${AWS::URLSuffix} https://api.stripe.com; img-src 'self' https://*.stripe.com; "
        "style-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    assert "unsafe" not in expected
    headers = config["SecurityHeadersConfig"]
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 365 * 24 * 3600
    # The module is imported by integrators' pages: CORS for reading, never credentials.
    cors = config["CorsConfig"]
    assert cors["AccessControlAllowCredentials"] is False
    assert cors["AccessControlAllowMethods"]["Items"] == ["GET", "HEAD"]


def test_the_pay_page_calls_the_patient_routes_on_its_own_origin(
    synthesized: Synthesized,
) -> None:
    http_api = synthesized.logical_id(synthesized.stack.http_api.api)
    _, distribution = one(synthesized, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviors) == {"/calls/*", "/payment-requests/*"}
    (api_origin,) = [o for o in config["Origins"] if "CustomOriginConfig" in o]
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert f"${{{http_api}.ApiEndpoint}}" in flat(
        api_origin["DomainName"]["Fn::Select"][1]["Fn::Split"][1]
    )
    for behavior in behaviors.values():
        assert behavior["TargetOriginId"] == api_origin["Id"]
        # CachingDisabled and AllViewerExceptHostHeader (AWS's managed policies).
        assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
        assert behavior["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
        assert "DELETE" in behavior["AllowedMethods"] and "POST" in behavior["AllowedMethods"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (association,) = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"


def test_the_files_and_config_json_are_deployed_and_the_cache_invalidated(
    synthesized: Synthesized,
) -> None:
    bucket = synthesized.logical_id(synthesized.stack.site.bucket)
    distribution_id, _ = one(synthesized, "AWS::CloudFront::Distribution")
    _, deployment = one(synthesized, "Custom::CDKBucketDeployment")
    properties = deployment["Properties"]
    assert properties["DestinationBucketName"] == {"Ref": bucket}
    assert properties["DistributionId"] == {"Ref": distribution_id}
    assert properties["DistributionPaths"] == ["/*"]
    assert properties["Prune"] is True
    # Two sources: frontend/ as files, and config.json made from the stack's addresses.
    assert len(properties["SourceObjectKeys"]) == 2
    markers = {
        key: flat(value) for source in properties["SourceMarkers"] for key, value in source.items()
    }
    websocket = synthesized.logical_id(synthesized.stack.realtime.api)
    assert any(f"${{{distribution_id}.DomainName}}" in value for value in markers.values())
    assert any(f"${{{websocket}}}" in value for value in markers.values())


def test_the_frontend_asset_ships_the_module_page_and_catalogs_not_the_sources(
    synthesized: Synthesized,
) -> None:
    assets = [path for path in synthesized.outdir.glob("asset.*") if (path / "callpay.js").exists()]
    (asset,) = assets
    shipped = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}
    assert {"callpay.js", "pay/index.html", "pay/pay.js", "i18n/index.json",
            "i18n/ar.json"} <= shipped  # fmt: skip
    assert not [name for name in shipped if name.endswith((".po", ".pot"))]


def test_request_payment_and_the_mailer_link_the_pay_page(synthesized: Synthesized) -> None:
    """Patient access links it, and pay-later link e-mails (made by request_payment, sent
    by send_receipt) link it for one request, working PAY_LINK_HOURS."""
    distribution_id, _ = one(synthesized, "AWS::CloudFront::Distribution")
    linking = {"request_payment", "send_receipt"}
    for service, (_, properties) in functions_by_service(synthesized).items():
        variables = properties["Environment"]["Variables"]
        if service in linking:
            page = flat(variables["PATIENT_PAGE_URL"])
            assert page == f"https://${{{distribution_id}.DomainName}}/pay/"
        else:
            assert "PATIENT_PAGE_URL" not in variables
        assert ("PAY_LINK_HOURS" in variables) is (service == "request_payment")
    _, request_payment = functions_by_service(synthesized)["request_payment"]
    assert request_payment["Environment"]["Variables"]["PAY_LINK_HOURS"] == "72"
