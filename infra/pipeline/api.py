"""REST API with a Cognito user pool authorizer on every route (CORS preflight aside)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.common.models import IDEMPOTENCY_HEADER
from lambdas.routes import ROUTES

# JSON Schema keywords API Gateway's draft-4 validator knows, and their CDK property names.
_DRAFT4_KEYWORDS = {
    "type": "type",
    "title": "title",
    "description": "description",
    "properties": "properties",
    "required": "required",
    "additionalProperties": "additional_properties",
    "enum": "enum",
    "default": "default",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "items": "items",
}


def draft4(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pydantic (JSON Schema 2020-12) schema as API Gateway models take it: draft 4, with
    ``$ref``s to ``$defs`` inlined and keywords draft 4 lacks (``examples``) dropped."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        target = draft4(defs[schema["$ref"].removeprefix("#/$defs/")], defs)
        return {**target, **draft4({k: v for k, v in schema.items() if k != "$ref"}, defs)}
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _DRAFT4_KEYWORDS:
            continue
        if key == "properties":
            value = {name: draft4(sub, defs) for name, sub in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            value = draft4(value, defs)
        converted[key] = value
    return converted


def request_schema(model_name: str) -> dict[str, Any]:
    """A route's body (``Route.body``), generated from the handler's pydantic model so the
    two cannot drift.

    POST /jobs's size maximum is left to the handler, which answers 413 with the deployment's
    limit and a clear message where API Gateway would say only "Invalid request body".
    """
    from lambdas.common import models

    schema = draft4(getattr(models, model_name).model_json_schema())
    if model_name == "CreateJobRequest":
        schema["properties"]["size"].pop("maximum", None)
    return schema


def to_cdk(schema: dict[str, Any], *, version: apigw.JsonSchemaVersion | None = None) -> apigw.JsonSchema:
    """The draft-4 dict as CDK's JsonSchema (which renders it back in the template)."""
    values: dict[str, Any] = {"schema": version} if version is not None else {}
    for key, value in schema.items():
        if key == "type":
            value = apigw.JsonSchemaType(value.upper())
        elif key == "properties":
            value = {name: to_cdk(sub) for name, sub in value.items()}
        elif isinstance(value, dict):
            value = to_cdk(value)
        values[_DRAFT4_KEYWORDS[key]] = value
    return apigw.JsonSchema(**values)


MFA = {"OFF": cognito.Mfa.OFF, "OPTIONAL": cognito.Mfa.OPTIONAL, "REQUIRED": cognito.Mfa.REQUIRED}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        upload: lambda_.IFunction,
        status: lambda_.IFunction,
        download: lambda_.IFunction,
        allowed_origins: list[str],
        throttle_rate: float,
        throttle_burst: int,
        log_retention: logs.RetentionDays,
        mfa: str,
        self_sign_up: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"{name_prefix}-users",
            self_sign_up_enabled=self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=MFA[mfa],
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False) if mfa != "OFF" else None,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            removal_policy=removal_policy,
        )
        # A public SPA client: no secret; SRP so the password never leaves the browser. The app
        # signs in through the Cognito API (Amplify's Authenticator), never the hosted UI, so
        # OAuth is off: CDK's defaults would enable the code and implicit grants for every
        # scope, with https://example.com as their callback URL.
        self.user_pool_client = self.user_pool.add_client(
            "WebClient",
            generate_secret=False,
            disable_o_auth=True,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])

        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{name_prefix}-api",
            description="Parquet to JSON jobs",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logs need the account-level CloudWatch role.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies may carry user data: keep them out of logs
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=allowed_origins,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", IDEMPOTENCY_HEADER],
                max_age=Duration.hours(1),
            ),
            default_method_options=apigw.MethodOptions(
                authorizer=authorizer,
                authorization_type=apigw.AuthorizationType.COGNITO,
            ),
        )
        # Error responses produced by API Gateway itself (401 from the authorizer, 400 from
        # validation, 429 from throttling) need CORS headers too, or the browser hides them.
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.rest_api.add_gateway_response(
                f"Gateway{response_type.response_type}",
                type=response_type,
                # A static header can name one origin only: the web app's (the first).
                response_headers={"Access-Control-Allow-Origin": f"'{allowed_origins[0]}'"}
                if allowed_origins
                else None,
            )

        validate_body = apigw.RequestValidator(
            self,
            "BodyValidator",
            rest_api=self.rest_api,
            validate_request_body=True,
            validate_request_parameters=True,
        )
        validate_params = apigw.RequestValidator(
            self,
            "ParamsValidator",
            rest_api=self.rest_api,
            validate_request_body=False,
            validate_request_parameters=True,
        )
        # One model per request body (CreateJob for CreateJobRequest...).
        models = {
            name: self.rest_api.add_model(
                name.removesuffix("Request"),
                content_type="application/json",
                schema=to_cdk(request_schema(name), version=apigw.JsonSchemaVersion.DRAFT4),
            )
            for name in dict.fromkeys(route.body for route in ROUTES if route.body)
        }

        # Every route of the API's one route table, on the function that serves it.
        functions = {"upload": upload, "status": status, "download": download}
        for route in ROUTES:
            parameters = {f"method.request.path.{name}": True for name in route.parameters}
            parameters.update({f"method.request.querystring.{name}": False for name in route.query})
            self.rest_api.root.resource_for_path(route.resource).add_method(
                route.method,
                apigw.LambdaIntegration(functions[route.function]),
                request_validator=validate_body if route.body else validate_params,
                request_models={"application/json": models[route.body]} if route.body else None,
                request_parameters=parameters or None,
            )

    @property
    def url(self) -> str:
        return self.rest_api.url
