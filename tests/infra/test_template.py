"""What the synthesized template must guarantee, checked with aws_cdk.assertions."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match

from etl_lib.platform import GLUE_VERSION, PYTHON_VERSION
from infra import assets
from infra.assets import wheel_name
from infra.pipeline import hosting
from tests.infra.conftest import ARTIFACTS, Synth, installed_urls, staged_asset

pytestmark = pytest.mark.xdist_group("infra")

OUR_FUNCTIONS = ("upload", "status", "download", "events", "converter")


def function_id(synth: Synth, name: str) -> str:
    return synth.logical_id(getattr(synth.stack.functions, name))


def statements_of_role(synth: Synth, role_logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_synth_is_offline_and_reasonably_fast(synth: Synth) -> None:
    assert synth.template_path.is_file()
    # Dummy account and region from context: nothing was resolved against AWS.
    assert synth.stack.account == "111111111111"
    assert synth.stack.region == "eu-west-1"
    assert not (synth.outdir / "cdk.context.json").exists()
    print(f"synth took {synth.seconds:.1f}s")


# --- API -----------------------------------------------------------------------------------


def test_every_route_exists(synth: Synth) -> None:
    resources = synth.resources("AWS::ApiGateway::Resource")
    paths = {logical: r["Properties"]["PathPart"] for logical, r in resources.items()}
    routes = set()
    for method in synth.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            continue
        parent = props["ResourceId"]
        parts: list[str] = []
        while isinstance(parent, dict) and "Ref" in parent:
            logical = parent["Ref"]
            parts.insert(0, paths[logical])
            parent = resources[logical]["Properties"]["ParentId"]
        routes.add(f"{props['HttpMethod']} /{'/'.join(parts)}")
    assert routes == {
        "POST /jobs",
        "POST /jobs/source",
        "GET /jobs",
        "GET /jobs/{job_id}",
        "GET /jobs/{job_id}/download",
        "GET /jobs/{job_id}/report",
        "DELETE /jobs/{job_id}",
        "GET /jobs/{job_id}/upload/parts",
        "POST /jobs/{job_id}/upload/parts/{part_number}",
        "POST /jobs/{job_id}/upload/complete",
    }
    from lambdas.routes import ROUTES

    assert routes == {f"{r.method} {r.resource}" for r in ROUTES}  # built from the one route table


def test_each_route_reaches_the_function_of_the_route_table(synth: Synth) -> None:
    from lambdas.routes import ROUTES

    resources = synth.resources("AWS::ApiGateway::Resource")
    by_path: dict[str, str] = {}
    for logical in resources:
        parts: list[str] = []
        current: str | None = logical
        while current in resources:
            parts.insert(0, resources[current]["Properties"]["PathPart"])
            parent = resources[current]["Properties"]["ParentId"]
            current = parent.get("Ref") if isinstance(parent, dict) else None
        by_path["/" + "/".join(parts)] = logical
    methods = synth.resources("AWS::ApiGateway::Method").values()
    for route in ROUTES:
        (method,) = [
            m["Properties"]
            for m in methods
            if m["Properties"]["HttpMethod"] == route.method
            and m["Properties"]["ResourceId"] == {"Ref": by_path[route.resource]}
        ]
        assert function_id(synth, route.function) in str(method["Integration"]["Uri"]), route
        expected = {f"method.request.path.{p}": True for p in route.parameters}
        expected |= {f"method.request.querystring.{q}": False for q in route.query}
        assert method.get("RequestParameters", {}) == expected, route


def test_cognito_authorizer_on_every_method_but_preflight(synth: Synth) -> None:
    (authorizer_id, authorizer), *others = synth.resources("AWS::ApiGateway::Authorizer").items()
    assert not others
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    user_pool = synth.logical_id(synth.stack.api.user_pool)
    assert authorizer["Properties"]["ProviderARNs"] == [{"Fn::GetAtt": [user_pool, "Arn"]}]
    methods = synth.resources("AWS::ApiGateway::Method").values()
    preflight = [m for m in methods if m["Properties"]["HttpMethod"] == "OPTIONS"]
    secured = [m for m in methods if m["Properties"]["HttpMethod"] != "OPTIONS"]
    assert len(secured) == 10
    assert preflight, "CORS preflight methods exist"
    for method in secured:
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}
    for method in preflight:
        assert method["Properties"]["AuthorizationType"] == "NONE"
        assert method["Properties"]["Integration"]["Type"] == "MOCK"


def test_requests_are_validated(synth: Synth) -> None:
    methods = synth.resources("AWS::ApiGateway::Method").values()
    for method in methods:
        if method["Properties"]["HttpMethod"] != "OPTIONS":
            assert "RequestValidatorId" in method["Properties"]
    post = next(m for m in methods if m["Properties"]["HttpMethod"] == "POST")
    assert "application/json" in post["Properties"]["RequestModels"]
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Model",
        {"Schema": Match.object_like({"required": ["filename", "size"], "type": "object"})},
    )


def test_browsers_may_send_the_idempotency_key_header(synth: Synth) -> None:
    preflight = [
        m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert preflight
    for method in preflight:
        (response,) = method["Integration"]["IntegrationResponses"]
        allowed = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Headers"]
        assert "Idempotency-Key" in allowed.strip("'").split(",")


def test_the_api_gateway_request_model_is_the_handlers_pydantic_model(synth: Synth) -> None:
    """Generated, not hand-written: engine values, the name limit and the name rule agree."""
    from infra.pipeline.api import draft4
    from lambdas.common.models import CreateJobRequest, CreateSourceJobRequest, PartUploadRequest

    # One model per request body, by its fields: POST /jobs's, POST /jobs/source's and a part's checksum.
    models = {
        tuple(m["Properties"]["Schema"]["required"]): m["Properties"]["Schema"]
        for m in synth.resources("AWS::ApiGateway::Model").values()
    }
    assert set(models) == {("filename", "size"), ("checksum_sha256",), ("source",)}
    assert models[("source",)] == {
        "$schema": "http://json-schema.org/draft-04/schema#",
        **draft4(CreateSourceJobRequest.model_json_schema()),
    }
    part_schema = models[("checksum_sha256",)]
    assert part_schema == {
        "$schema": "http://json-schema.org/draft-04/schema#",
        **draft4(PartUploadRequest.model_json_schema()),
    }
    assert part_schema["additionalProperties"] is False
    schema = models[("filename", "size")]
    expected = draft4(CreateJobRequest.model_json_schema())
    del expected["properties"]["size"]["maximum"]  # left to the handler's 413 (see create_job_schema)
    assert schema == {"$schema": "http://json-schema.org/draft-04/schema#", **expected}
    pydantic_schema = CreateJobRequest.model_json_schema()["properties"]
    assert schema["properties"]["engine"]["enum"] == pydantic_schema["engine"]["enum"] == ["auto", "spark"]
    assert schema["properties"]["filename"]["maxLength"] == pydantic_schema["filename"]["maxLength"] == 255
    assert schema["properties"]["filename"]["pattern"] == pydantic_schema["filename"]["pattern"]
    assert schema["properties"]["options"]["additionalProperties"] is False
    # A draft-4 validator (as API Gateway runs) refuses what the handler refuses.
    import jsonschema

    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    assert validator.is_valid({"filename": "sales.parquet", "size": 10, "options": {"format": "json"}})
    for refused in (
        {"filename": "sales.parquet", "size": 10, "engine": "local"},
        {"filename": "x" * 256, "size": 10},
        {"filename": "\u202egnp.exe", "size": 10},
        {"filename": "..", "size": 10},
        {"filename": "a.parquet", "size": 0},
        {"filename": "a.parquet", "size": 10, "owner": "someone"},
    ):
        assert not validator.is_valid(refused), refused
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )


def test_stage_is_traced_throttled_and_logged(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [Match.object_like({"ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40, "LoggingLevel": "ERROR"})]
            ),
        },
    )


def test_user_pool_and_spa_client(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"Policies": {"PasswordPolicy": Match.object_like({"MinimumLength": 12, "RequireSymbols": True})}},
    )
    (client,) = synth.template.find_resources("AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["GenerateSecret"] is False
    # What the app uses (SRP sign-in, token refresh) and nothing else: no password flow, no
    # OAuth grant, no callback URL (CDK's defaults add the code and implicit grants, every
    # scope, and https://example.com).
    assert sorted(props["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert props.get("AllowedOAuthFlowsUserPoolClient") in (None, False)
    for absent in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs"):
        assert absent not in props, absent


# --- Lambdas -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OUR_FUNCTIONS)
def test_functions_are_traced_python313_with_log_retention(synth: Synth, name: str) -> None:
    function = synth.raw["Resources"][function_id(synth, name)]["Properties"]
    assert function["Runtime"] == f"python{PYTHON_VERSION}"
    assert function["Handler"] == f"lambdas.{name}.handler.handler"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert any("AWSLambdaPowertoolsPythonV3" in str(layer) for layer in function["Layers"])
    log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.raw["Resources"][log_group]["Properties"]["RetentionInDays"] == 30
    env = function["Environment"]["Variables"]
    for variable in ("INPUT_BUCKET", "OUTPUT_BUCKET", "JOBS_TABLE", "GLUE_JOB_NAME", "POWERTOOLS_SERVICE_NAME"):
        assert variable in env
    assert env["MAX_UPLOAD_BYTES"] == str(1024**4)
    assert env["MULTIPART_THRESHOLD_BYTES"] == str(100 * 1024**2)
    assert env["MIN_PART_BYTES"] == str(16 * 1024**2)
    assert env["SMALL_FILE_THRESHOLD_BYTES"] == str(64 * 1024**2)  # the runtime's one default
    # Job records expire with their outputs (the output bucket's lifecycle rule, 30 days).
    assert env["JOB_RETENTION_DAYS"] == "30"
    assert env["MAX_ACTIVE_JOBS_PER_USER"] == "10"
    # Nothing sets a variable the runtime does not read: every name is one of its constants.
    from etl_lib.jobs import env as names

    assert set(env) <= {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    assert "JOBS_OWNER_INDEX" not in env
    assert "UPLOAD_PREFIX" not in env


@pytest.mark.parametrize("name", ["events", "converter"])
def test_asynchronous_functions_have_dead_letter_queues(synth: Synth, name: str) -> None:
    function = synth.raw["Resources"][function_id(synth, name)]["Properties"]
    queue = function["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    assert synth.raw["Resources"][queue]["Type"] == "AWS::SQS::Queue"
    synth.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": function_id(synth, name)}, "MaximumRetryAttempts": 2},
    )


def test_events_function_routes_small_files_to_the_converter(synth: Synth) -> None:
    env = synth.raw["Resources"][function_id(synth, "events")]["Properties"]["Environment"]["Variables"]
    assert env["CONVERTER_FUNCTION_NAME"] == {"Ref": function_id(synth, "converter")}
    statements = statements_of_role(synth, synth.logical_id(synth.stack.functions.events.role))
    invoke = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert invoke
    assert all(
        function_id(synth, "converter") in str(r) and "*" not in str(r) for s in invoke for r in as_list(s["Resource"])
    )


def test_no_policy_grants_wildcard_actions(synth: Synth) -> None:
    for logical, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in as_list(statement["Action"]):
                assert action != "*", logical
                assert not action.endswith(":*"), (logical, action)


def test_upload_function_is_least_privilege(synth: Synth) -> None:
    statements = statements_of_role(synth, synth.logical_id(synth.stack.functions.upload.role))
    granted = {(a, str(r)) for s in statements for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    table = synth.logical_id(synth.stack.jobs.table)
    input_bucket = synth.logical_id(synth.stack.storage.input_bucket)
    actions = {a for a, _ in granted}
    assert actions == {
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "s3:PutObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    # Deletes only on the idempotency table, never on job records; updates there and on the
    # jobs table (a multipart upload's job kept alive while parts are signed).
    idempotency = synth.logical_id(synth.stack.idempotency.table)
    assert [r for a, r in granted if a == "dynamodb:DeleteItem"] == [str({"Fn::GetAtt": [idempotency, "Arn"]})]
    assert sorted(r for a, r in granted if a == "dynamodb:UpdateItem") == sorted(
        [str({"Fn::GetAtt": [table, "Arn"]}), str({"Fn::GetAtt": [idempotency, "Arn"]})]
    )
    for action in ("s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"):
        resources = [r for a, r in granted if a == action]
        assert len(resources) == 1, action
        assert input_bucket in resources[0]
        assert "inputs/*" in resources[0]
    # Reads and puts on both tables: on the jobs table, the new job and the caller's places item
    # (one transaction) and the jobs in it (fair use).
    for action in ("dynamodb:GetItem", "dynamodb:PutItem"):
        assert sorted(r for a, r in granted if a == action) == sorted(
            [str({"Fn::GetAtt": [table, "Arn"]}), str({"Fn::GetAtt": [idempotency, "Arn"]})]
        ), action
    # Query only on the owner index (the caller's unfinished jobs, on a first creation).
    (query,) = [r for a, r in granted if a == "dynamodb:Query"]
    assert table in query
    assert "/index/by_owner" in query
    # Only X-Ray (no resource-level permissions) gets Resource "*".
    assert {a for a, r in granted if r == "*"} == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_each_function_gets_only_its_own_actions(synth: Synth) -> None:
    expected = {
        "upload": {
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "s3:PutObject",
            "s3:ListMultipartUploadParts",
            "s3:AbortMultipartUpload",
        },
        "status": {
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",  # deleting a job aborts its multipart upload
            "s3:ListBucket",
            "s3:GetObject",  # the run report only
            "glue:DeleteTable",  # the job's output table (tests/infra/test_output_catalog.py)
        },
        # ListBucket: a job's output under the layout before outputs had a folder is a 404.
        "download": {"dynamodb:GetItem", "s3:GetObject", "s3:ListBucket"},
        "events": {
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "s3:GetObject",
            "s3:PutObject",  # an ended Glue run's cost, into its report.json only
            "glue:StartJobRun",
            "glue:GetJobRun",
            "lambda:InvokeFunction",
            "s3:ListBucket",
        },
        "converter": {
            # Its runs' data permissions are the run role's, scoped to each job per run.
            "sts:AssumeRole",
            "events:PutEvents",  # its on-failure destination (the default event bus)
        },
    }
    dlq = {"sqs:SendMessage"}
    xray = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    for name, actions in expected.items():
        role = synth.logical_id(getattr(synth.stack.functions, name).role)
        granted = {a for s in statements_of_role(synth, role) for a in as_list(s["Action"])}
        allowed = actions | xray | (dlq if name in ("events", "converter") else set())
        assert granted == allowed, name


def test_glue_start_is_scoped_to_this_job(synth: Synth) -> None:
    role = synth.logical_id(synth.stack.functions.events.role)
    glue = [s for s in statements_of_role(synth, role) if "glue:StartJobRun" in as_list(s["Action"])]
    assert len(glue) == 1
    assert str(glue[0]["Resource"]).endswith(":job/parquet-json-etl-dev-parquet-to-json")


# --- Storage and table ---------------------------------------------------------------------


def test_every_bucket_is_private_encrypted_and_tls_only(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 6  # access logs, input, output, site, CDN logs, Glue artifacts
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in synth.resources("AWS::S3::BucketPolicy").values()}
    for logical, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical
        deny_plain_http = [
            s
            for s in policies[logical]["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert deny_plain_http, f"{logical} accepts plain HTTP"
        if logical != synth.logical_id(synth.stack.storage.access_logs):
            assert "LoggingConfiguration" in props, f"{logical} has no server access logs"


def test_data_buckets_expire_and_abort_multipart_uploads(synth: Synth) -> None:
    for bucket, days in ((synth.stack.storage.input_bucket, 7), (synth.stack.storage.output_bucket, 30)):
        rules = synth.raw["Resources"][synth.logical_id(bucket)]["Properties"]["LifecycleConfiguration"]["Rules"]
        assert len(rules) == 1
        assert rules[0]["ExpirationInDays"] == days
        assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
        assert rules[0]["Status"] == "Enabled"


def test_input_bucket_sends_events_to_eventbridge_and_allows_browser_uploads(synth: Synth) -> None:
    props = synth.raw["Resources"][synth.logical_id(synth.stack.storage.input_bucket)]["Properties"]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    (rule,) = props["CorsConfiguration"]["CorsRules"]
    # POST forms and multipart parts (PUT), whose ETag the browser's uploader must read.
    assert rule["AllowedMethods"] == ["POST", "PUT"]
    assert rule["ExposedHeaders"] == ["ETag"]
    assert rule["AllowedHeaders"] == ["*"]  # x-amz-checksum-sha256 among them
    distribution = synth.logical_id(synth.stack.hosting.distribution)
    assert distribution in str(rule["AllowedOrigins"])
    output = synth.raw["Resources"][synth.logical_id(synth.stack.storage.output_bucket)]["Properties"]
    assert output["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"] == ["GET", "HEAD"]


def test_jobs_table(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})],
        },
    )


def test_idempotency_table_is_what_powertools_expects(synth: Synth) -> None:
    import inspect

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from infra.pipeline.jobs_table import IDEMPOTENCY_KEY, IDEMPOTENCY_TTL

    defaults = inspect.signature(DynamoDBPersistenceLayer).parameters
    assert (defaults["key_attr"].default, defaults["expiry_attr"].default) == (IDEMPOTENCY_KEY, IDEMPOTENCY_TTL)
    table = synth.raw["Resources"][synth.logical_id(synth.stack.idempotency.table)]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    env = synth.raw["Resources"][function_id(synth, "upload")]["Properties"]["Environment"]["Variables"]
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": synth.logical_id(synth.stack.idempotency.table)}


def test_the_tables_indexes_are_the_dynamodb_adapters(synth: Synth) -> None:
    """The table is built for etl_lib's DynamoJobStore: the indexes the adapter creates in
    the tests (on moto) are the ones the stack declares, key for key."""
    from etl_lib.jobs.aws import DynamoJobStore

    table = synth.raw["Resources"][synth.logical_id(synth.stack.jobs.table)]["Properties"]
    assert table["GlobalSecondaryIndexes"] == DynamoJobStore.indexes()
    declared = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    keys = {key["AttributeName"] for index in DynamoJobStore.indexes() for key in index["KeySchema"]}
    assert declared == dict.fromkeys(keys | {"job_id"}, "S")


# --- Glue and EventBridge ------------------------------------------------------------------


def test_glue_job(synth: Synth) -> None:
    job = synth.raw["Resources"][synth.logical_id(synth.stack.etl.job)]["Properties"]
    assert job["GlueVersion"] == GLUE_VERSION
    assert job["Command"]["Name"] == "glueetl"
    assert "glue/scripts/parquet_to_json.py" in str(job["Command"]["ScriptLocation"])
    # Glue Auto Scaling: the job's NumberOfWorkers is the ceiling of every run, each started
    # with the workers its input needs (etl_lib.jobs.sizing).
    assert job["WorkerType"] == "G.1X"
    assert job["NumberOfWorkers"] == synth.stack.config.glue_number_of_workers == 10
    assert job["DefaultArguments"]["--enable-auto-scaling"] == "true"
    # Without etl:vpc=true, no connection: the job runs in Glue's own network.
    assert "Connections" not in job
    assert job["Timeout"] == 60
    assert job["MaxRetries"] == 0
    # Over MaxConcurrentRuns a run waits for a slot instead of failing RUN_NOT_STARTED.
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 10}
    assert job["JobRunQueuingEnabled"] is True
    security = synth.raw["Resources"][synth.logical_id(synth.stack.etl.security_configuration)]["Properties"]
    assert job["SecurityConfiguration"] == security["Name"]
    encryption = security["EncryptionConfiguration"]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    assert encryption["S3Encryptions"] == [{"S3EncryptionMode": "SSE-S3"}]

    args = job["DefaultArguments"]
    artifacts = synth.logical_id(synth.stack.artifacts.bucket)
    assert {"Ref": artifacts} in args["--additional-python-modules"]["Fn::Join"][1]
    urls = installed_urls(synth, args["--additional-python-modules"])
    # Wheel files in the artifacts bucket only, the project's first: no `name==version` for
    # pip to look up, and no index to look it up in.
    assert urls[0] == f"s3://{ARTIFACTS}/glue/wheels/{wheel_name()}"
    assert all(url.startswith(f"s3://{ARTIFACTS}/glue/wheels/") and url.endswith(".whl") for url in urls)
    assert not [url for url in urls if "==" in url]
    assert args["--python-modules-installer-option"].split() == ["--no-index", "--no-deps"]
    table = synth.logical_id(synth.stack.jobs.table)
    input_bucket = synth.logical_id(synth.stack.storage.input_bucket)
    output_bucket = synth.logical_id(synth.stack.storage.output_bucket)
    assert args["--jobs_store"] == {"Fn::Join": ["", ["dynamodb:", {"Ref": table}]]}
    assert args["--input_store"] == {"Fn::Join": ["", ["s3://", {"Ref": input_bucket}]]}
    assert args["--output_store"] == {"Fn::Join": ["", ["s3://", {"Ref": output_bucket}]]}
    assert args["--job-bookmark-option"] == "job-bookmark-disable"
    # The conversion's own deadline ends a run five minutes inside the job's timeout.
    timeout_seconds = job["Timeout"] * 60
    assert int(args["--max_run_seconds"]) == timeout_seconds - 300
    # The run publishes its end metrics where the dashboard and the role's condition expect.
    assert args["--metrics_namespace"] == "ParquetJsonEtl"


@pytest.mark.parametrize("name", ["events", "converter"])
def test_the_functions_size_and_price_runs_with_the_deployments_settings(synth: Synth, name: str) -> None:
    """The events Lambda sizes each Glue run, and both price the runs they account, with exactly
    infra/config.py's bounds and prices, read back by the runtime's settings."""
    from etl_lib.jobs.settings import Settings

    env = synth.raw["Resources"][function_id(synth, name)]["Properties"]["Environment"]["Variables"]
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    names = {"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "JOBS_TABLE": "t", "IDEMPOTENCY_TABLE": "k"}
    settings = Settings.from_env({**plain, **names})
    assert settings.glue_sizing == synth.stack.config.glue_sizing
    assert settings.prices == synth.stack.config.prices


def test_glue_job_arguments_are_the_scripts_arguments() -> None:
    """Every store argument the job passes is one glue_jobs/parquet_to_json.py declares."""
    import importlib.util

    from infra.assets import GLUE_SCRIPT

    spec = importlib.util.spec_from_file_location("parquet_to_json", GLUE_SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {"jobs_store", "input_store", "output_store"} <= set(module.ARGUMENTS)
    assert "metrics_namespace" in module.OPTIONAL_ARGUMENTS
    # ...and every argument the events Lambda starts a run with.
    from etl_lib.jobs.settings import Settings

    started_with = Settings(input_bucket="i", output_bucket="o", jobs_table="t", idempotency_table="k").run_arguments()
    assert {name.removeprefix("--") for name in started_with} <= {*module.ARGUMENTS, *module.OPTIONAL_ARGUMENTS}


def test_object_created_rule_targets_the_events_function(synth: Synth) -> None:
    rule = synth.raw["Resources"][synth.logical_id(synth.stack.etl.object_created_rule)]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": synth.logical_id(synth.stack.storage.input_bucket)}]},
            "object": {"key": [{"prefix": "inputs/"}]},
        },
    }
    # No filter on detail.reason: an object made by a presigned POST ("PostObject") and one
    # made by a multipart upload ("CompleteMultipartUpload") drive their job alike.
    assert "reason" not in rule["EventPattern"]["detail"]
    assert_targets_events_function(synth, rule)


def test_job_state_change_rule_targets_the_events_function(synth: Synth) -> None:
    rule = synth.raw["Resources"][synth.logical_id(synth.stack.etl.job_state_rule)]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": ["parquet-json-etl-dev-parquet-to-json"]},
    }
    assert_targets_events_function(synth, rule)


def test_converter_failures_reach_the_events_function(synth: Synth) -> None:
    """A converter run that failed every attempt goes, via the default bus, to the events Lambda."""
    converter = function_id(synth, "converter")
    (config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": converter}
    ]
    on_failure = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert ":event-bus/default" in str(on_failure)
    assert config["MaximumRetryAttempts"] == 2
    rule_id = synth.logical_id(synth.stack.etl.converter_failure_rule)
    rule = synth.raw["Resources"][rule_id]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["lambda"],
        "detail-type": ["Lambda Function Invocation Result - Failure"],
        "resources": [{"prefix": {"Fn::GetAtt": [converter, "Arn"]}}],
    }
    assert_targets_events_function(synth, rule)


def assert_targets_events_function(synth: Synth, rule: dict[str, Any]) -> None:
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id(synth, "events"), "Arn"]}
    dlq = synth.logical_id(synth.stack.etl.events_dlq)
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function_id(synth, "events"), "Arn"]},
        },
    )


def test_scheduled_validation_runs_the_notebook_on_glue_6(synth: Synth) -> None:
    validation = synth.stack.validation
    job = synth.raw["Resources"][synth.logical_id(validation.job)]["Properties"]
    assert (job["GlueVersion"], job["Command"]["Name"], job["Command"]["PythonVersion"]) == (
        GLUE_VERSION,
        "glueetl",
        "3",
    )
    assert "glue/scripts/validate_notebook.py" in json.dumps(job["Command"]["ScriptLocation"])
    assert job["SecurityConfiguration"]
    args = job["DefaultArguments"]
    modules = installed_urls(synth, args["--additional-python-modules"])
    assert modules[0].endswith(f"/glue/wheels/{assets.wheel_name()}")
    assert any(url.endswith("/glue/wheels/papermill-2.7.0-py3-none-any.whl") for url in modules)
    assert any(url.endswith("/glue/wheels/ipykernel-7.4.0-py3-none-any.whl") for url in modules)
    assert "glue/notebooks/03-validate-output.ipynb" in json.dumps(args["--extra-files"])
    assert args["--JOBS_TABLE"] == {"Ref": synth.logical_id(synth.stack.jobs.table)}
    assert args["--OUTPUT_BUCKET"] == {"Ref": synth.logical_id(synth.stack.storage.output_bucket)}
    assert args["--INPUT_BUCKET"] == {"Ref": synth.logical_id(synth.stack.storage.input_bucket)}
    assert (args["--MAX_JOBS"], args["--REPORTS_PREFIX"]) == ("50", "validation/")
    trigger = synth.raw["Resources"][synth.logical_id(validation.trigger)]["Properties"]
    assert trigger["Type"] == "SCHEDULED"
    assert trigger["Schedule"] == "cron(0 3 * * ? *)"
    assert trigger["StartOnCreation"] is True
    assert trigger["Actions"] == [{"JobName": job["Name"]}]


def test_glue_jobs_get_glue_6_arguments_and_the_spark_ui(synth: Synth) -> None:
    artifacts = synth.logical_id(synth.stack.artifacts.bucket)
    for job in (synth.stack.etl.job, synth.stack.validation.job):
        args = synth.raw["Resources"][synth.logical_id(job)]["Properties"]["DefaultArguments"]
        assert not [name for name in args if "continuous" in name], "continuous logging is for Glue 4.0 and older"
        assert args["--enable-spark-ui"] == "true"
        assert args["--spark-event-logs-path"] == {"Fn::Join": ["", ["s3://", {"Ref": artifacts}, "/glue/spark-ui/"]]}
        assert (args["--enable-metrics"], args["--enable-observability-metrics"]) == ("true", "true")
    rules = synth.raw["Resources"][artifacts]["Properties"]["LifecycleConfiguration"]["Rules"]
    spark_ui = next(rule for rule in rules if rule.get("Prefix") == "glue/spark-ui/")
    assert (spark_ui["Status"], spark_ui["ExpirationInDays"]) == ("Enabled", 30)


# --- Hosting and monitoring ----------------------------------------------------------------


def test_the_site_is_served_under_the_web_apps_content_security_policy_with_the_deployments_origins(
    synth: Synth,
) -> None:
    """Every directive of frontend/csp.json (the policy the browser tests run under, on `etl
    up`), plus the API, Cognito and S3 in connect-src; nothing inline, nothing evaluated."""
    resources = synth.raw["Resources"]
    distribution = resources[synth.logical_id(synth.stack.hosting.distribution)]["Properties"]
    policy_ref = distribution["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    headers = resources[policy_ref["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    joined = json.dumps(csp)  # a Fn::Join around the API's id: compared as text
    directives = json.loads(hosting.CSP_FILE.read_text())
    for name, sources in directives.items():
        if name != "$comment":
            assert f"{name} {' '.join(sources)}" in joined
    connect = joined[joined.index("connect-src") :].split(";")[0]
    assert synth.logical_id(synth.stack.api.rest_api) in connect
    assert "https://cognito-idp." in connect
    assert "https://*.s3." in connect
    assert "unsafe-inline" not in joined and "unsafe-eval" not in joined
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 365 * 24 * 3600
    assert headers["ContentTypeOptions"]["Override"] is True


def test_site_is_served_through_cloudfront_with_origin_access_control(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    synth.template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "index.html",
                    "Origins": [Match.object_like({"OriginAccessControlId": Match.any_value()})],
                    "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https"}),
                    "Logging": Match.any_value(),
                }
            )
        },
    )


def test_runtime_config_is_generated_from_the_stack(synth: Synth) -> None:
    site = synth.logical_id(synth.stack.hosting.bucket)
    deployments = [
        d
        for d in synth.resources("Custom::CDKBucketDeployment").values()
        if d["Properties"]["DestinationBucketName"] == {"Ref": site}
    ]
    (deployment,) = deployments
    markers = str(deployment["Properties"]["SourceMarkers"])
    for construct in (
        synth.stack.api.rest_api,
        synth.stack.api.user_pool,
        synth.stack.api.user_pool_client,
    ):
        assert synth.logical_id(construct) in markers
    assert len(deployment["Properties"]["SourceObjectKeys"]) == 2  # the app + config.json


def test_runtime_config_has_the_shape_the_web_app_parses(synth: Synth) -> None:
    """frontend/src/lib/config.ts: {"apiBaseUrl", "auth": {"region", "userPoolId", "userPoolClientId",
    "selfSignUp"}}."""
    site = synth.logical_id(synth.stack.hosting.bucket)
    (deployment,) = [
        d
        for d in synth.resources("Custom::CDKBucketDeployment").values()
        if d["Properties"]["DestinationBucketName"] == {"Ref": site}
    ]
    asset_key = deployment["Properties"]["SourceObjectKeys"][1].removesuffix(".zip")
    text = (synth.outdir / f"asset.{asset_key}" / "config.json").read_text()
    # Deploy-time values are markers the BucketDeployment replaces with JSON strings.
    config = json.loads(re.sub(r"<<marker:0xbaba:\d+>>", '"deploy-time"', text))
    assert set(config) == {"apiBaseUrl", "auth"}
    assert set(config["auth"]) == {"region", "userPoolId", "userPoolClientId", "selfSignUp"}
    assert config["auth"]["region"] == "eu-west-1"


def test_alarms_notify_an_encrypted_topic(synth: Synth) -> None:
    topic = synth.logical_id(synth.stack.monitoring.topic)
    key = synth.logical_id(synth.stack.key)
    assert synth.raw["Resources"][topic]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    alarms = synth.resources("AWS::CloudWatch::Alarm").values()
    assert len(alarms) >= 14
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like({"detail": Match.object_like({"state": ["FAILED", "TIMEOUT", "ERROR"]})}),
            "Targets": [Match.object_like({"Arn": {"Ref": topic}})],
        },
    )


def test_dashboard_covers_jobs_api_lambdas_and_glue(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for title in ("Jobs", "Job duration", "API errors", "API latency", "Lambda errors", "Lambda throttles", "Glue"):
        assert f'"title":"{title}' in body, title
    for metric in ("JobsCreated", "UploadsRunning", "JobsSucceeded", "JobsFailed", "JobDurationMs", "5XXError"):
        assert metric in body, metric


def test_the_dashboard_and_alarms_read_only_series_the_code_publishes(synth: Synth) -> None:
    """Each of our namespace's series graphed or alarmed on is in etl_lib.jobs.metrics'
    catalogue, which the handlers are tested to publish
    (tests/lambdas/test_converter_routing.py::test_the_handlers_publish_the_catalogues_series_and_no_other)."""
    from etl_lib.jobs.metrics import CATALOGUE, DEFAULT_NAMESPACE, Metric

    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    graphed = {
        Metric(name, service)
        for name, service in re.findall(rf'\["{DEFAULT_NAMESPACE}","(\w+)"(?:,"service","([\w-]+)")?', body)
    }
    alarmed = {
        Metric(a["Properties"]["MetricName"], next((d["Value"] for d in a["Properties"].get("Dimensions", [])), ""))
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == DEFAULT_NAMESPACE
    }
    assert len(graphed) >= 5 and len(alarmed) >= 2  # the parsing found them: the check below can fail
    assert (graphed | alarmed) <= CATALOGUE, (graphed | alarmed) - CATALOGUE


# --- IAM guards across the whole template --------------------------------------------------


def _statements(synth: Synth, resource_type: str, document: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in synth.raw["Resources"].items():
        if resource["Type"] == resource_type:
            for statement in resource["Properties"][document]["Statement"]:
                found.append((logical_id, statement))
    return found


def test_every_role_a_service_assumes_is_guarded_by_this_account_as_its_source(synth: Synth) -> None:
    """The confused deputy: a service acting for another account cannot assume our roles.
    CDK's own roles (Lambda service roles, the site deployment) included."""
    trusts = [
        (role, s)
        for role, s in _statements(synth, "AWS::IAM::Role", "AssumeRolePolicyDocument")
        if "Service" in s["Principal"]
    ]
    assert len(trusts) >= 8  # every function, Glue role and the API's logging role
    unguarded = [
        role
        for role, s in trusts
        if s.get("Condition", {}).get("StringEqualsIfExists", {}).get("aws:SourceAccount") != synth.stack.account
    ]
    assert unguarded == []


def test_every_pass_role_names_the_service_the_role_may_be_passed_to(synth: Synth) -> None:
    passing = [
        (policy, s)
        for policy, s in _statements(synth, "AWS::IAM::Policy", "PolicyDocument")
        if "iam:PassRole" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert passing, "the sessions role passes itself to Glue: a PassRole must be found"
    for policy, statement in passing:
        assert statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService"), policy


def _installed_modules(synth: Synth, args: dict[str, Any]) -> dict[str, str]:
    """Name and version of each wheel installed besides the project's, from its file name."""
    _wheel, *urls = installed_urls(synth, args["--additional-python-modules"])
    return dict(assets.wheel_identity(url.rsplit("/", 1)[1]) for url in urls)


@pytest.mark.parametrize("job", ["etl", "validation"])
def test_each_glue_job_installs_exact_pins_of_everything_it_needs_and_resolves_nothing_at_run_time(
    synth: Synth, job: str
) -> None:
    """With --no-deps, whatever is not listed is not installed: every requirement of every
    listed package (as Glue 6.0's Python reads its markers) must be listed, at constraints.txt's pin."""
    from importlib import metadata

    from packaging.requirements import Requirement

    construct = getattr(synth.stack, job).job
    args = synth.raw["Resources"][synth.logical_id(construct)]["Properties"]["DefaultArguments"]
    assert args["--python-modules-installer-option"] == assets.PYTHON_MODULES_INSTALLER_OPTION
    installed = _installed_modules(synth, args)
    roots = assets.NOTEBOOK_MODULES if job == "validation" else ()
    assert installed == assets.runtime_closure(*assets.wheel_requirements(), *roots)
    assert {"pyarrow", "pydantic", "pydantic-core", "numpy"} <= set(installed)
    if job == "validation":
        assert {"papermill", "ipykernel"} <= set(installed)
    missing = []
    for name, version in installed.items():
        assert version == assets.pinned(name)
        for line in metadata.requires(name) or []:
            needed = Requirement(line)
            if needed.marker and not needed.marker.evaluate(assets.GLUE_PYTHON_MARKERS):
                continue
            if re.sub(r"[-_.]+", "-", needed.name).lower() not in installed:
                missing.append(f"{name} needs {needed}")
            elif not needed.specifier.contains(installed[re.sub(r"[-_.]+", "-", needed.name).lower()]):
                missing.append(f"{name} needs {needed}, not the pinned version")
    assert missing == []


def test_the_artifacts_deployment_uploads_exactly_the_wheels_the_jobs_install(synth: Synth) -> None:
    """The staged asset holds the project wheel and one wheel per package of the closure, and
    every URL a job lists is a file of that asset: no run looks for a wheel that is not there."""
    wheels = {path.name for path in (staged_asset(synth) / "wheels").glob("*.whl")}
    assert wheel_name() in wheels
    identities = [assets.wheel_identity(name) for name in wheels - {wheel_name()}]
    assert dict(identities) == assets.wheelhouse_pins()
    assert len(identities) == len(dict(identities)), "one wheel per package"
    for job in (synth.stack.etl.job, synth.stack.validation.job):
        args = synth.raw["Resources"][synth.logical_id(job)]["Properties"]["DefaultArguments"]
        listed = {url.rsplit("/", 1)[1] for url in installed_urls(synth, args["--additional-python-modules"])}
        assert listed <= wheels


def test_a_job_needing_a_package_the_wheelhouse_does_not_stage_fails_synth_naming_it(synth: Synth) -> None:
    """What is staged is decided in one place (assets.wheelhouse_pins): a job listing a root
    outside it would name a wheel that is not in the bucket; synth says so instead."""
    with pytest.raises(assets.WheelhouseError, match=r"no staged wheel for .*\bmoto\b.*wheelhouse_pins"):
        synth.stack.artifacts.module_urls("moto")
